"""Small builders shared by the converter and validator tests: page images, COCO records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image


def make_image(path: Path, width: int = 100, height: int = 100) -> Path:
    """A white RGB image of ``width`` x ``height`` pixels at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), "white").save(path)
    return path


def load(out: Path) -> dict[str, Any]:
    """The ``annotations.json`` a conversion wrote into ``out``."""
    return json.loads((out / "annotations.json").read_text())


def rect(x: float, y: float, w: float, h: float) -> list[list[float]]:
    """COCO polygon segmentation of an XYWH rectangle, clockwise from the top-left."""
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def ann(aid, image_id, cat, bbox, area, seg=None, **extra):  # type: ignore[no-untyped-def]
    """A COCO annotation; ``seg`` defaults to the box's rectangle, ``extra`` adds fields."""
    return {
        "id": aid,
        "image_id": image_id,
        "category_id": cat,
        "bbox": bbox,
        "area": area,
        "segmentation": seg if seg is not None else rect(*bbox),
        "iscrowd": 0,
        **extra,
    }


def cats(*names: str) -> list[dict[str, Any]]:
    """COCO categories numbered from 1 in the order given."""
    return [{"id": i + 1, "name": n, "supercategory": ""} for i, n in enumerate(names)]
