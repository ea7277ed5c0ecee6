"""DOM rectangles to labelled regions: boxes and mask polygons in image pixels.

Input is what ``collect.js`` returns (CSS px, origin the page's top-left corner, y down);
output regions are in image pixels (CSS px times ``scale``), clipped to the page.

- A ``box`` element (table, picture) gives one region per fragment: its border box.
- A text element gives one region per fragment (the pieces of a paragraph broken across
  columns are separate regions, as DocLayNet and the LaTeX engine draw them); the region's
  box is the union of its text line rects (tight to the glyphs' line boxes, not to padding).
  Its mask is the box, except next to a float (text wrapping around a picture): there each
  line's side facing the float follows the line's text, so the mask is a staircase polygon
  that leaves the float out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class Region:
    """A labelled region in image pixels: ``box`` XYXY, ``polygons`` flat [x0, y0, x1, ...]."""

    label: str
    box: Rect
    polygons: tuple[tuple[float, ...], ...]


def _clip(r: Rect, w: float, h: float) -> Rect | None:
    x0, y0, x1, y1 = max(0.0, r[0]), max(0.0, r[1]), min(w, r[2]), min(h, r[3])
    return (x0, y0, x1, y1) if x1 - x0 > 0.5 and y1 - y0 > 0.5 else None


def _inside(r: Rect, frag: Rect, slack: float = 1.0) -> bool:
    cx, cy = (r[0] + r[2]) / 2, (r[1] + r[3]) / 2
    return frag[0] - slack <= cx <= frag[2] + slack and frag[1] - slack <= cy <= frag[3] + slack


def _lines(rects: list[Rect]) -> list[Rect]:
    """Join rects that share a line (vertical overlap over half the smaller height)."""
    lines: list[list[float]] = []
    for r in sorted(rects, key=lambda r: (r[1], r[0])):
        for line in lines:
            overlap = min(line[3], r[3]) - max(line[1], r[1])
            if overlap > 0.5 * min(line[3] - line[1], r[3] - r[1]):
                line[0], line[1] = min(line[0], r[0]), min(line[1], r[1])
                line[2], line[3] = max(line[2], r[2]), max(line[3], r[3])
                break
        else:
            lines.append(list(r))
    return [(a, b, c, d) for a, b, c, d in sorted(lines, key=lambda x: x[1])]


def _staircase(lines: list[Rect], box: Rect, floats: list[Rect]) -> tuple[float, ...]:
    """Outline of the lines: the full box width, except beside a float, where the lines'
    side facing it ends at the text edge nearest the float (one notch per float)."""
    sides = [[box[0], box[2]] for _ in lines]
    for f in floats:
        beside = [
            i
            for i, ln in enumerate(lines)
            if min(ln[3], f[3]) - max(ln[1], f[1]) > 0 and min(box[2], f[2]) - max(box[0], f[0]) > 0
        ]
        if not beside:
            continue
        if (f[0] + f[2]) / 2 < (box[0] + box[2]) / 2:  # float on the left
            edge = min(lines[i][0] for i in beside)
            for i in beside:
                sides[i][0] = max(sides[i][0], edge)
        else:
            edge = max(lines[i][2] for i in beside)
            for i in beside:
                sides[i][1] = min(sides[i][1], edge)
    bands: list[tuple[float, float, float, float]] = []  # y0, y1, left, right
    for i, ln in enumerate(lines):
        left, right = sides[i]
        y0 = box[1] if i == 0 else bands[-1][1]
        y1 = box[3] if i == len(lines) - 1 else (ln[3] + lines[i + 1][1]) / 2
        if bands and bands[-1][2:] == (left, right):
            bands[-1] = (bands[-1][0], y1, left, right)
        else:
            bands.append((y0, y1, left, right))
    down = [(b[3], y) for b in bands for y in (b[0], b[1])]
    up = [(b[2], y) for b in reversed(bands) for y in (b[1], b[0])]
    return tuple(v for x, y in down + up for v in (x, y))


def regions_of(raw: dict[str, Any], scale_x: float, scale_y: float) -> list[Region]:
    """Regions (image pixels) of the elements ``collect.js`` returned; empty ones dropped."""
    w, h = float(raw["width"]), float(raw["height"])
    floats = [tuple(f) for f in raw["floats"]]
    out: list[Region] = []
    for e in raw["elements"]:
        frags = [c for f in e["frags"] if (c := _clip(tuple(f), w, h)) is not None]
        if e["box"]:
            pieces = [(f, [f]) for f in frags]
        else:
            lines = [c for r in e["lines"] if (c := _clip(tuple(r), w, h)) is not None]
            pieces = [(f, [r for r in lines if _inside(r, f)]) for f in frags]
        for _frag, rects in pieces:
            if not rects:
                continue
            box = (
                min(r[0] for r in rects),
                min(r[1] for r in rects),
                max(r[2] for r in rects),
                max(r[3] for r in rects),
            )
            poly: tuple[float, ...]
            if e["box"]:
                poly = (box[0], box[1], box[2], box[1], box[2], box[3], box[0], box[3])
            else:
                near = [f for f in floats if _clip(_intersect(f, box), w, h) is not None]
                poly = _staircase(_lines(rects), box, near)
            out.append(_scaled(e["label"], box, poly, scale_x, scale_y))
    return out


def _intersect(a: Rect, b: Rect) -> Rect:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _scaled(label: str, box: Rect, poly: tuple[float, ...], sx: float, sy: float) -> Region:
    sbox = (
        round(box[0] * sx, 2),
        round(box[1] * sy, 2),
        round(box[2] * sx, 2),
        round(box[3] * sy, 2),
    )
    spoly = tuple(round(v * (sx if i % 2 == 0 else sy), 2) for i, v in enumerate(poly))
    return Region(label, sbox, (spoly,))
