"""Several COCO datasets as one: for training on a mix (stage 1 data plus new pages, a
public set plus your own).

Categories are matched by name (ids renumbered in first-seen order); image and annotation
ids are renumbered; each image's ``file_name`` becomes its path relative to the merged
file's folder, so the merged file finds every input's images without copying them.

Partial labels (:mod:`layoutft.data.coco`): an image of an input without
``labelled_category_ids`` labels exactly that input's categories, so when the merged set of
categories is larger it gets the field explicitly (merging a table-only set with a fully
labelled one keeps the table pages from teaching "no text here"). Ids in the field (and in
LVIS's ``neg_category_ids``/``not_exhaustive_category_ids``) are renumbered; the field is
left out where it would list every merged category.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layoutft.data.coco import (
    LABELLED_KEY,
    LVIS_NEG_KEY,
    LVIS_NOT_EXHAUSTIVE_KEY,
    labelled_category_ids,
    load_coco,
)
from layoutft.data.loader import default_images_dir
from layoutft.errors import DatasetError


def merge_coco(
    inputs: Sequence[tuple[Path, Path | None]], out: Path
) -> tuple[dict[str, Any], list[int]]:
    """Merge ``(coco file, images folder or None for the default)`` pairs into one COCO
    dict meant to be written at ``out``; returns it and the image count taken from each
    input. Raises DatasetError when an input has no images or an image is missing."""
    if not inputs:
        raise DatasetError("merge: give at least one COCO file")
    merged: dict[str, Any] = {"images": [], "annotations": [], "categories": []}
    names: dict[str, int] = {}
    counts: list[int] = []
    missing: list[str] = []
    labelled: list[set[int] | None] = []  # per merged image, in merged ids (None: leave as is)
    for path, images in inputs:
        coco = load_coco(path)
        root = images if images is not None else default_images_dir(path, coco)
        cat_map = {}
        for cat in coco.get("categories", []):
            name = str(cat["name"])
            if name not in names:
                names[name] = len(names) + 1
                merged["categories"].append({**cat, "id": names[name]})
            cat_map[cat["id"]] = names[name]
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
            merged["images"].append(
                {**img, "id": image_map[img["id"]], "file_name": Path(relative).as_posix()}
            )
            on_image = [a.get("category_id") for a in by_image.get(img["id"], [])]
            labelled.append(_remapped(img, merged["images"][-1], on_image, cat_map))
        for ann in coco.get("annotations", []):
            merged["annotations"].append(
                {
                    **ann,
                    "id": len(merged["annotations"]) + 1,
                    "image_id": image_map[ann["image_id"]],
                    "category_id": cat_map[ann["category_id"]],
                }
            )
        counts.append(len(image_map))
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        shown = ", ".join(missing[:3]) + more
        raise DatasetError(
            f"merge: {len(missing)} images not found ({shown}); pass the images folder as "
            "FILE.json:IMAGES_DIR"
        )
    if not merged["images"]:
        raise DatasetError("merge: the inputs have no images")
    every = set(names.values())
    for img, ids in zip(merged["images"], labelled, strict=True):
        if ids is None:
            continue
        img.pop(LABELLED_KEY, None)
        if ids != every:
            img[LABELLED_KEY] = sorted(ids)
    return merged, counts


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
