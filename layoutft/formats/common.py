"""Geometry and text shared by the XML writers: region outlines and boxes in page pixels,
text lines with or without OCR word boxes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from layoutft.geometry import fit_polygon
from layoutft.schema import Page, Region

_TOL_PT = 0.01


def outline_px(region: Region, page: Page) -> list[list[float]] | None:
    """The region's outline as ``[[x, y], ...]`` page pixels when it is one ring that is not
    just its box's corners (a mask outline), else None (the region is its box). A ring of at
    most 4 points each within a pixel of a box corner is the box (a rectangular mask's
    outline runs through pixel centres, half a pixel inside the box)."""
    rings = [ring for ring in region.polygon_pt if len(ring) >= 3]
    if len(rings) != 1:
        return None
    ring = rings[0]
    x0, y0, x1, y1 = region.bbox_pt
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    tol = 72.0 / page.dpi + _TOL_PT

    def is_corner(p: Sequence[float]) -> bool:
        return any(abs(p[0] - cx) <= tol and abs(p[1] - cy) <= tol for cx, cy in corners)

    if len(ring) <= 4 and all(is_corner(p) for p in ring):
        return None
    scale = page.dpi / 72.0
    return [[float(p[0]) * scale, float(p[1]) * scale] for p in ring]


def int_box(box: Sequence[float], page: Page) -> tuple[int, int, int, int]:
    """``[x0, y0, x1, y1]`` pixels rounded to whole pixels inside the page image."""
    width, height = max(page.width_px, 1), max(page.height_px, 1)
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    x0, x1 = min(max(x0, 0), width), min(max(x1, 0), width)
    y0, y1 = min(max(y0, 0), height), min(max(y1, 0), height)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def int_points(points: Sequence[Sequence[float]], page: Page) -> list[tuple[int, int]]:
    """Outline points rounded to whole pixels inside the page image, consecutive repeats
    dropped (PAGE wants non-negative integers)."""
    width, height = max(page.width_px, 1), max(page.height_px, 1)
    out: list[tuple[int, int]] = []
    for x, y in points:
        point = (min(max(round(float(x)), 0), width), min(max(round(float(y)), 0), height))
        if not out or out[-1] != point:
            out.append(point)
    return out


def box_points(box: tuple[int, int, int, int]) -> list[tuple[int, int]]:
    """The four corners of a whole-pixel box, clockwise from the top left."""
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def region_points(region: Region, page: Page) -> list[tuple[int, int]]:
    """The region's outline in whole page pixels, its bounding box exactly the region's box
    (``int_box(bbox_px)``): its mask outline fitted to the box
    (:func:`layoutft.geometry.fit_polygon`) when it has one that is not its box (at least 3
    distinct points), else the box's corners. Every writer of region outlines uses this, so
    that the outline read back gives the box."""
    box = int_box(region.bbox_px, page)
    ring = outline_px(region, page)
    if ring is not None:
        points = int_points(fit_polygon(ring, box).tolist(), page)
        if len(points) > 1 and points[0] == points[-1]:
            points.pop()
        if len(set(points)) >= 3:
            return points
    return box_points(box)


@dataclass
class TextWord:
    """A word to write: its text, and box and confidence when OCR gave them."""

    text: str
    box: tuple[int, int, int, int] | None = None
    confidence: float | None = None


@dataclass
class TextLine:
    """A line to write: its words, and a box (the union of the words') when they have
    boxes."""

    words: list[TextWord]
    box: tuple[int, int, int, int] | None = None

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def text_lines(region: Region, page: Page) -> list[TextLine]:
    """The region's text as lines of words: OCR words (``region.words``) grouped by their
    ``line`` with boxes, else ``region.text`` split into lines and words without boxes;
    empty when the region has no text."""
    if region.words:
        grouped: dict[int, list[TextWord]] = {}
        for word in region.words:
            box = int_box(word.bbox_px, page)
            grouped.setdefault(word.line, []).append(TextWord(word.text, box, word.confidence))
        lines = []
        for _, words in sorted(grouped.items()):
            boxes = [w.box for w in words if w.box is not None]
            union = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
            lines.append(TextLine(words, union))
        return lines
    if not region.text:
        return []
    return [
        TextLine([TextWord(w) for w in line.split()])
        for line in region.text.split("\n")
        if line.strip()
    ]


def ordered(page: Page) -> list[Region]:
    """The page's regions in reading order (``order``, then ``id``)."""
    return sorted(page.regions, key=lambda r: (r.order, r.id))


def region_id(region: Region) -> str:
    """The XML id of a region: ``r<id>`` (ids must not start with a digit)."""
    return f"r{region.id}"


def mean(values: Sequence[float]) -> float:
    """The mean of ``values`` (0 for none), finite."""
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else 0.0
