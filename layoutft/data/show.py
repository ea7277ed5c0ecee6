"""Drawing a sample of a COCO dataset's annotations, for a person to check before training.

Boxes (COCO XYWH) and polygons are in pixels of the image files, top-left origin.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.errors import DatasetError


@dataclass
class ShowReport:
    """What :func:`show_coco` did: files written and sampled images that were not found."""

    written: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def sample_images(coco: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` image records (all if fewer) chosen with ``seed``, in their file order."""
    images = coco["images"]
    picks = sorted(random.Random(seed).sample(range(len(images)), min(n, len(images))))
    return [images[i] for i in picks]


def _regions(
    coco: dict[str, Any], image_id: Any
) -> tuple[np.ndarray, list[str], list[list[np.ndarray]]]:
    """Boxes [N,4] XYXY px, class names and polygon lists of one image (RLE masks: none)."""
    names = {c["id"]: str(c["name"]) for c in coco["categories"]}
    boxes, labels, polys = [], [], []
    for ann in coco["annotations"]:
        if ann.get("image_id") != image_id:
            continue
        x, y, w, h = (float(v) for v in ann["bbox"])
        boxes.append([x, y, x + w, y + h])
        labels.append(names.get(ann.get("category_id"), str(ann.get("category_id"))))
        seg = ann.get("segmentation")
        polys.append(
            [np.asarray(p, dtype=np.float64) for p in seg] if isinstance(seg, list) else []
        )
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), labels, polys


def _out_name(file_name: str) -> str:
    """Flat PNG name of an image path (sub-folders joined with ``__``)."""
    return str(Path(file_name).with_suffix(".png")).replace("/", "__").replace("\\", "__")


def show_coco(
    coco: dict[str, Any], images_dir: str | Path, out_dir: str | Path, n: int = 12, seed: int = 0
) -> ShowReport:
    """Draw the annotations of ``n`` sampled images into ``out_dir`` (one PNG per image).

    Images missing from ``images_dir`` are listed in the report and skipped; the others
    are still drawn. Raises :class:`DatasetError` only when none of the sample exists.
    """
    import cv2

    from layoutft.visualize import draw_regions

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = ShowReport()
    for im in sample_images(coco, n, seed):
        path = Path(images_dir) / str(im["file_name"])
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            report.missing.append(str(im["file_name"]))
            continue
        boxes, labels, polys = _regions(coco, im["id"])
        drawn = draw_regions(bgr[:, :, ::-1], boxes, labels, polygons=polys)
        target = out / _out_name(str(im["file_name"]))
        tmp = target.with_name(f".{target.name}.tmp.png")
        cv2.imwrite(str(tmp), np.ascontiguousarray(drawn[:, :, ::-1]))
        os.replace(tmp, target)
        report.written.append(target)
    if report.missing and not report.written:
        raise DatasetError(
            f"show: none of the {len(report.missing)} sampled images is in {images_dir} "
            f"(e.g. {report.missing[0]}); pass the folder the COCO file_names are relative to "
            "with --images"
        )
    return report
