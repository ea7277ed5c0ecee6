"""Several COCO datasets as one: for training on a mix (stage 1 data plus new pages, a
public set plus your own, several sources for a new default model).

Categories are matched by name (ids renumbered in first-seen order, or in the order given
as ``categories``); image and annotation ids are renumbered; each image's ``file_name``
becomes its path relative to the merged file's folder, so the merged file finds every
input's images without copying them.

Every merged image records its input in a ``"source"`` field: the name given for that
input, else the ``source`` the image already had (a merged file merged again keeps its
sources), else the input file's stem (``data.json`` -> ``data``), with as many parent
folders as it takes to tell inputs apart (``a/train/annotations``,
``b/train/annotations``). Training can balance the sources
(``LAYOUTFT.DATALOADER.SAMPLER_TRAIN: SourceBalancedSampler``).

Partial labels (:mod:`layoutft.data.coco`): an image of an input without
``labelled_category_ids`` labels exactly that input's categories, so when the merged set of
categories is larger it gets the field explicitly (merging a table-only set with a fully
labelled one keeps the table pages from teaching "no text here"). Ids in the field (and in
LVIS's ``neg_category_ids``/``not_exhaustive_category_ids``) are renumbered; the field is
left out where it would list every merged category.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layoutft.data.coco import (
    LABELLED_KEY,
    LVIS_NEG_KEY,
    LVIS_NOT_EXHAUSTIVE_KEY,
    default_images_dir,
    labelled_category_ids,
    load_coco,
)
from layoutft.errors import DatasetError

#: Image field naming the input dataset an image came from.
SOURCE_KEY = "source"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@dataclass(frozen=True)
class MergeInput:
    """One input: its COCO file, its images folder (None: next to the file, or its
    ``images/``), and the source name of its images (None: see the module doc)."""

    coco: Path
    images: Path | None = None
    name: str | None = None


@dataclass
class MergeResult:
    """The merged COCO dict, per input the image count and source name, and per input the
    category names its images were marked as labelling only (empty: all of them)."""

    coco: dict[str, Any]
    counts: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    partial: list[list[str]] = field(default_factory=list)


def default_names(paths: Sequence[Path]) -> list[str]:
    """Each path without its suffix, shortened to the fewest trailing parts that still tell
    the paths apart (``["a/x.json", "b/y.json"]`` -> ``["x", "y"]``)."""
    parts = [Path(p).with_suffix("").parts for p in paths]
    for k in range(1, max((len(p) for p in parts), default=1) + 1):
        names = ["/".join(p[-k:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    return ["/".join(p) for p in parts]  # the same file twice: one source


def check_source_name(name: str) -> str:
    """``name`` when it is a usable source name (letters, digits, ``._-/``), else DatasetError."""
    if not _NAME.match(name):
        raise DatasetError(
            f"merge: source name {name!r} must start with a letter or digit and hold only "
            "letters, digits and . _ - /"
        )
    return name


def merge_coco(
    inputs: Sequence[MergeInput], out: Path, categories: Sequence[str] | None = None
) -> MergeResult:
    """Merge the inputs into one COCO dict meant to be written at ``out``.

    ``categories``: names taking the first ids in this order (a class no input has is
    still listed, so the model's class list is fixed); other names follow in first-seen
    order. Raises DatasetError when an input has no images or an image is missing.
    """
    if not inputs:
        raise DatasetError("merge: give at least one COCO file")
    names: dict[str, int] = {}
    for name in categories or []:
        names.setdefault(name, len(names) + 1)
    cat_records: dict[int, dict[str, Any]] = {}
    merged: dict[str, Any] = {"images": [], "annotations": [], "categories": []}
    result = MergeResult(merged)
    defaults = default_names([i.coco for i in inputs])
    missing: list[str] = []
    own_cats: list[set[int]] = []
    labelled: list[set[int] | None] = []  # per merged image, in merged ids (None: leave as is)
    for item, default in zip(inputs, defaults, strict=True):
        path = item.coco
        coco = load_coco(path)
        root = item.images if item.images is not None else default_images_dir(path, coco)
        name = check_source_name(item.name) if item.name is not None else default
        cat_map = {}
        for cat in coco.get("categories", []):
            cat_name = str(cat["name"])
            new_id = names.setdefault(cat_name, len(names) + 1)
            cat_records.setdefault(new_id, {**cat, "id": new_id})
            cat_map[cat["id"]] = new_id
        own_cats.append(set(cat_map.values()))
        image_map = {}
        by_image: dict[Any, list[dict[str, Any]]] = {}
        for ann in coco.get("annotations", []):
            by_image.setdefault(ann.get("image_id"), []).append(ann)
        for img in coco.get("images", []):
            source = root / img["file_name"]
            if not source.is_file():
                missing.append(str(source))
            image_map[img["id"]] = len(merged["images"]) + 1
            relative = os.path.relpath(source.resolve(), out.parent.resolve())
            record = {**img, "id": image_map[img["id"]], "file_name": Path(relative).as_posix()}
            if item.name is not None or not isinstance(img.get(SOURCE_KEY), str):
                record[SOURCE_KEY] = name
            merged["images"].append(record)
            on_image = [a.get("category_id") for a in by_image.get(img["id"], [])]
            labelled.append(_remapped(img, record, on_image, cat_map))
        for ann in coco.get("annotations", []):
            merged["annotations"].append(
                {
                    **ann,
                    "id": len(merged["annotations"]) + 1,
                    "image_id": image_map[ann["image_id"]],
                    "category_id": cat_map[ann["category_id"]],
                }
            )
        result.counts.append(len(image_map))
        result.names.append(name)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        shown = ", ".join(missing[:3]) + more
        raise DatasetError(
            f"merge: {len(missing)} images not found ({shown}); pass the images folder as "
            "FILE.json:IMAGES_DIR"
        )
    if not merged["images"]:
        raise DatasetError("merge: the inputs have no images")
    merged["categories"] = [
        cat_records.get(i, {"id": i, "name": n, "supercategory": ""}) for n, i in names.items()
    ]
    every = set(names.values())
    for img, ids in zip(merged["images"], labelled, strict=True):
        if ids is None:
            continue
        img.pop(LABELLED_KEY, None)
        if ids != every:
            img[LABELLED_KEY] = sorted(ids)
    by_id = {i: n for n, i in names.items()}
    result.partial = [[by_id[i] for i in sorted(own)] if own != every else [] for own in own_cats]
    return result


def repeated_inputs(paths: Sequence[Path]) -> list[str]:
    """A warning for each COCO file given more than once (its pages would be merged once
    per time it is given: training would weigh them more without saying so)."""
    counts: dict[str, tuple[Path, int]] = {}
    for path in paths:
        key = os.path.realpath(path)
        first, n = counts.get(key, (path, 0))
        counts[key] = (first, n + 1)
    return [
        f"warning: {first} is given {n} times: its pages are in the merged file {n} times"
        for first, n in counts.values()
        if n > 1
    ]


def _remapped(
    img: dict[str, Any], merged_img: dict[str, Any], on_image: list[Any], cat_map: dict[Any, int]
) -> set[int] | None:
    """The input image ``img``'s labelled classes in merged ids: its input's categories when
    it has no field; None when its field is malformed (kept as it is, for validate to report).
    Renumbers LVIS's fields of ``merged_img``, its merged copy."""
    for key in (LVIS_NEG_KEY, LVIS_NOT_EXHAUSTIVE_KEY):
        if isinstance(img.get(key), list):
            merged_img[key] = [cat_map[c] for c in img[key] if _known(c, cat_map)]
    ids = labelled_category_ids(img, on_image)
    if ids is None:
        return set(cat_map.values())
    if not isinstance(ids, list):
        return None
    return {cat_map[c] for c in ids if _known(c, cat_map)}


def _known(value: Any, cat_map: dict[Any, int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in cat_map
