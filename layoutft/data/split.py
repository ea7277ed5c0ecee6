"""Deterministic train/val/test splits that never put pages of one document in two splits.

The document of an image is, in order: its ``pdf``, ``document`` or ``doc_name`` field; else
the file name with its page suffix and extension removed (:data:`DEFAULT_DOC_PATTERN`:
``doc12_p3.png``, ``doc12-page-003.png``, ``doc12_0003.png`` all give ``doc12``; folders are
kept, so ``a/doc12_p3.png`` and ``b/doc12_p3.png`` are different documents). A custom regex
replaces all of that: it is searched in ``file_name`` and its ``doc`` group (or group 1, or
the whole match) is the document.

Documents are shuffled with ``random.Random(seed)`` (sorted first, so the input order does
not matter) and each goes to the split whose image count is furthest below its target.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from layoutft.errors import DatasetError

DEFAULT_DOC_PATTERN = r"^(?P<doc>.+?)(?:[_-](?:p|pg|page)?[_-]?\d+)?(?:\.[^./]*)?$"
DOC_FIELDS = ("pdf", "document", "doc_name")


def document_key(image: dict[str, Any], pattern: re.Pattern[str] | None = None) -> str:
    """The document an image (COCO record) belongs to (see the module docstring)."""
    name = str(image.get("file_name", ""))
    if pattern is not None:
        match = pattern.search(name)
        if match is None:
            return name
        if "doc" in match.groupdict():
            return str(match.group("doc"))
        return str(match.group(1) if match.re.groups else match.group(0))
    for key in DOC_FIELDS:
        value = image.get(key)
        if value not in (None, ""):
            return f"{key}:{value}"
    path = PurePosixPath(name.replace("\\", "/"))
    match = re.match(DEFAULT_DOC_PATTERN, path.name, re.IGNORECASE)
    stem = match.group("doc") if match else path.name
    return str(path.parent / stem) if str(path.parent) != "." else stem


def parse_ratios(text: str) -> list[float]:
    """``"0.8,0.1,0.1"`` -> normalized ratios; raises DatasetError on bad input."""
    try:
        ratios = [float(part) for part in text.split(",")]
    except ValueError:
        raise DatasetError(f"--ratios {text!r}: expected numbers like 0.8,0.1,0.1") from None
    if any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise DatasetError(f"--ratios {text!r}: ratios must be >= 0 with a positive sum")
    total = sum(ratios)
    return [r / total for r in ratios]


def split_coco(
    coco: dict[str, Any],
    ratios: Sequence[float],
    seed: int = 0,
    names: Sequence[str] = ("train", "val", "test"),
    group_by: str = "document",
    doc_pattern: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Split a COCO dict into several COCO dicts (ids and file names unchanged).

    Args:
        coco: the dataset.
        ratios: fraction of images per split (normalized to sum 1).
        seed: shuffling seed; the same input and seed give the same split.
        names: split names, one per ratio.
        group_by: ``"document"`` (pages of a document stay together) or ``"image"``.
        doc_pattern: regex overriding how the document is found (see module docstring).

    Returns:
        ``{name: coco_subset}`` in the order of ``names``; every other top-level key is copied.
    """
    if len(names) != len(ratios) or not any(r > 0 for r in ratios):
        raise DatasetError(
            f"ratios {list(ratios)} do not fit split names {list(names)} (one positive ratio "
            "per name)"
        )
    if group_by not in ("document", "image"):
        raise DatasetError(f"--group-by {group_by!r}: use 'document' or 'image'")
    try:
        pattern = re.compile(doc_pattern) if doc_pattern else None
    except re.error as exc:
        raise DatasetError(f"--doc-pattern {doc_pattern!r}: invalid regex ({exc})") from None
    groups: dict[str, list[dict[str, Any]]] = {}
    for img in coco.get("images", []):
        key = document_key(img, pattern) if group_by == "document" else f"id:{img.get('id')}"
        groups.setdefault(key, []).append(img)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    total = sum(len(g) for g in groups.values())
    targets = [r * total for r in ratios]
    counts = [0] * len(ratios)
    assigned: list[set[Any]] = [set() for _ in ratios]
    active = [i for i, r in enumerate(ratios) if r > 0]
    for key in order:
        # Furthest below target wins; ties go to the earlier split.
        best = max(active, key=lambda i: (targets[i] - counts[i], -i))
        counts[best] += len(groups[key])
        assigned[best].update(img.get("id") for img in groups[key])
    return {name: _subset(coco, ids) for name, ids in zip(names, assigned, strict=True)}


def _subset(coco: dict[str, Any], image_ids: set[Any]) -> dict[str, Any]:
    out = {k: v for k, v in coco.items() if k not in ("images", "annotations")}
    out["images"] = [img for img in coco.get("images", []) if img.get("id") in image_ids]
    out["annotations"] = [a for a in coco.get("annotations", []) if a.get("image_id") in image_ids]
    return out
