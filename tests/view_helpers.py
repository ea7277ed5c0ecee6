"""Tiny parse results with known regions and a page image, for the viewer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from layoutft.schema import Document, Page, Region

HOSTILE = 'end</script><img src=x onerror="alert(1)"><!-- & more'


def region(
    i: int, label: str, score: float, box: list[float], order: int, text: str = ""
) -> Region:
    return Region(i, label, score, box, box, [], text or f"{label} {i}", order)


def page_image(width: int = 400, height: int = 300) -> Image.Image:
    """A page image: white with a blue title bar and a grey table block."""
    image = np.full((height, width, 3), 255, np.uint8)
    image[40:80, 30:370] = (200, 220, 255)
    image[120:260, 30:200] = (120, 120, 120)
    return Image.fromarray(image)


def two_page_tiff(path: Path) -> Path:
    """A two-page TIFF (72 dpi): the page above, then an empty page."""
    blank = Image.new("RGB", (400, 300), "white")
    page_image().save(path, save_all=True, append_images=[blank], dpi=(72, 72))
    return path


def documents(folder: Path) -> list[Document]:
    """Two documents: a TIFF with two pages of known regions (72 dpi, 400 x 300 px) and a
    PDF whose source is missing."""
    source = str(two_page_tiff(folder / "page.tiff"))
    model = {"name": "stand-in", "labels": ["text", "title", "table", "figure"]}
    first = [
        region(0, "title", 0.95, [30, 40, 370, 80], 0, HOSTILE),
        region(1, "table", 0.9, [30, 120, 200, 260], 1),
        region(2, "text", 0.85, [210, 120, 370, 180], 2),
        region(3, "text", 0.6, [210, 190, 370, 260], 3),
        region(4, "figure", 0.75, [300, 270, 380, 295], 4),
    ]
    second = [region(0, "text", 0.99, [20, 20, 380, 280], 0)]
    doc = Document(
        {"path": source, "sha256": None, "page_count": 1},
        model,
        [
            Page(1, 400, 300, 0, 72, 400, 300, "ok", None, first),
            Page(2, 400, 300, 0, 72, 400, 300, "ok", None, second),
        ],
    )
    missing = Document(
        {"path": str(folder / "gone.pdf"), "sha256": None, "page_count": 1},
        model,
        [
            Page(
                1,
                612,
                792,
                0,
                100,
                850,
                1100,
                "ok",
                None,
                [region(0, "text", 0.8, [90, 90, 700, 300], 0)],
            )
        ],
    )
    return [doc, missing]
