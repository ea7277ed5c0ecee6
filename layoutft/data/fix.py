"""Repair what can be repaired safely in a COCO dataset (``layoutft validate --fix``).

Repairs: images whose file is missing or unreadable are dropped with their annotations;
repeated image records (same id) keep the first; annotations pointing to unknown images or
categories, malformed or non-finite ones are dropped; boxes and polygons are clipped to the
image; boxes of zero size after clipping are dropped; repeated annotation ids get new ids;
empty segmentations become the box rectangle; areas are recomputed where geometry changed;
an image's ``labelled_category_ids`` (and LVIS's ``neg_category_ids`` /
``not_exhaustive_category_ids``) lose entries that are not known integer category ids, and
repeats (removing an unknown class from the list changes nothing in training).
Not repaired (still reported by the final validation): size mismatches between the record
and the file (the boxes may be in either size), malformed image or category records.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layoutft.data.coco import LABELLED_FIELDS, num, polygon_area, rect_polygon
from layoutft.data.validate import (
    ValidationReport,
    bbox_of,
    is_number,
    polygons_of,
    read_image_size,
    validate_coco,
)


@dataclass
class FixResult:
    """The repaired dataset, what changed (description -> count), and its new report."""

    coco: dict[str, Any]
    changes: Counter[str]
    report: ValidationReport

    def format(self) -> str:
        """One line per change, e.g. ``clipped boxes to the image: 3``."""
        if not self.changes:
            return "nothing to change"
        return "\n".join(f"{what}: {count}" for what, count in self.changes.items())


def fix_coco(coco: dict[str, Any], images_dir: str | Path | None = None) -> FixResult:
    """Return a repaired copy of ``coco`` (the input is not modified).

    Args:
        coco: COCO dict, boxes XYWH in image pixels.
        images_dir: folder of the images; when given, missing/unreadable files are dropped
            and boxes are clipped to the real image size.
    """
    out = copy.deepcopy(coco)
    changes: Counter[str] = Counter()
    folder = Path(images_dir) if images_dir is not None else None
    sizes = _fix_images(out, folder, changes)
    cat_ids = {c.get("id") for c in out.get("categories") or []}
    _fix_labelled(out.get("images") or [], cat_ids, changes)
    kept: list[dict[str, Any]] = []
    used_ids: set[Any] = set()
    for ann in out.get("annotations") or []:
        reason = _drop_reason(ann, sizes, cat_ids)
        if reason:
            changes[reason] += 1
            continue
        size = sizes[ann["image_id"]]
        if not _fix_geometry(ann, size, changes):
            changes["dropped degenerate boxes"] += 1
            continue
        kept.append(ann)
    next_id = max((a["id"] for a in kept if _is_int(a.get("id"))), default=0) + 1
    for ann in kept:
        if not _is_int(ann.get("id")) or ann["id"] in used_ids:
            ann["id"] = next_id
            next_id += 1
            changes["renumbered repeated or invalid annotation ids"] += 1
        used_ids.add(ann["id"])
    out["annotations"] = kept
    return FixResult(out, changes, validate_coco(out, folder))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fix_images(
    coco: dict[str, Any], folder: Path | None, changes: Counter[str]
) -> dict[Any, tuple[float, float]]:
    """Drop unusable image records; box-clipping size per kept image id."""
    kept: list[dict[str, Any]] = []
    sizes: dict[Any, tuple[float, float]] = {}
    for img in coco.get("images") or []:
        iid = img.get("id")
        if iid in sizes:
            changes["dropped repeated image records"] += 1
            continue
        w, h = img.get("width"), img.get("height")
        size = (float(w), float(h)) if is_number(w) and is_number(h) else None
        if folder is not None:
            try:
                real = read_image_size(folder / str(img.get("file_name")))
            except OSError:
                changes["dropped images with missing or unreadable files"] += 1
                continue
            size = (float(real[0]), float(real[1]))
            if img.get("width") is None or img.get("height") is None:
                img["width"], img["height"] = real
                changes["filled in missing image sizes"] += 1
        if size is None:
            kept.append(img)  # malformed record: left for the report
            continue
        sizes[iid] = size
        kept.append(img)
    coco["images"] = kept
    return sizes


def _fix_labelled(images: list[dict[str, Any]], cat_ids: set[Any], changes: Counter[str]) -> None:
    """Keep the known integer ids of each labelled-classes list, once each, in order; a
    field that is not a list is left for the report (guessing would change its meaning)."""
    for img in images:
        for key in LABELLED_FIELDS:
            value = img.get(key)
            if not isinstance(value, list):
                continue
            kept = list(dict.fromkeys(v for v in value if _is_int(v) and v in cat_ids))
            if kept != value:
                img[key] = kept
                changes[f"removed unknown, invalid or repeated ids from {key}"] += 1


def _drop_reason(
    ann: dict[str, Any], sizes: dict[Any, tuple[float, float]], cat_ids: set[Any]
) -> str | None:
    if ann.get("image_id") not in sizes:
        return "dropped annotations of unknown or dropped images"
    if ann.get("category_id") not in cat_ids:
        return "dropped annotations of unknown categories"
    bbox = bbox_of(ann)
    if bbox is None:
        return "dropped annotations with a malformed bbox"
    polys = polygons_of(ann)
    values = bbox + [v for p in polys or [] for v in p]
    if not all(math.isfinite(v) for v in values):
        return "dropped annotations with non-finite values"
    return None


def _fix_geometry(ann: dict[str, Any], size: tuple[float, float], changes: Counter[str]) -> bool:
    """Clip box and polygons in place; False when the box is degenerate."""
    w_img, h_img = size
    x, y, w, h = bbox_of(ann) or [0.0, 0.0, 0.0, 0.0]
    x0, y0 = min(max(x, 0.0), w_img), min(max(y, 0.0), h_img)
    x1, y1 = min(max(x + w, 0.0), w_img), min(max(y + h, 0.0), h_img)
    changed = False
    if (x0, y0, x1 - x0, y1 - y0) != (x, y, w, h):
        if x1 <= x0 or y1 <= y0:
            return False
        ann["bbox"] = [num(x0), num(y0), num(x1 - x0), num(y1 - y0)]
        changes["clipped boxes to the image"] += 1
        changed = True
    if x1 <= x0 or y1 <= y0:
        return False
    polys = polygons_of(ann)
    if polys is not None:  # RLE is left as is
        clipped = [_clip_polygon(p, w_img, h_img) for p in polys if len(p) >= 6]
        clipped = [p for p in clipped if polygon_area(p) > 0]
        if not clipped:
            ann["segmentation"] = [[num(v) for v in rect_polygon(x0, y0, x1, y1)]]
            changes["replaced empty segmentation by the box rectangle"] += 1
            changed = True
        elif clipped != polys:
            ann["segmentation"] = clipped
            changes["clipped polygons to the image"] += 1
            changed = True
    area = ann.get("area")
    if changed or not (is_number(area) and math.isfinite(area)):
        polys = polygons_of(ann)
        area = sum(polygon_area(p) for p in polys) if polys else (x1 - x0) * (y1 - y0)
        ann["area"] = num(area)
    return True


def _clip_polygon(flat: list[float], w: float, h: float) -> list[float]:
    """Clamp every vertex into the image (enough for the small overshoots annotators make)."""
    return [min(max(v, 0.0), w if i % 2 == 0 else h) for i, v in enumerate(flat)]
