"""Drawing layout regions on page images (numpy, OpenCV; no torch), with one colour per class
name everywhere: parse visualizations (:mod:`layoutft.parsing.visualize`) and dataset
previews (:mod:`layoutft.data.show`) both draw with it.

Drawing works in pixels of the image being drawn on (top-left origin, x right, y down).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

Color = tuple[int, int, int]

# Fixed colours (RGB) for the usual layout classes, so every figure the project
# draws uses the same colour for "table"; other names hash into _PALETTE.
_KNOWN: dict[str, Color] = {
    "text": (31, 119, 180),
    "title": (214, 39, 40),
    "list": (44, 160, 44),
    "table": (255, 127, 14),
    "figure": (148, 103, 189),
}
_PALETTE: tuple[Color, ...] = (
    (23, 190, 207),
    (188, 189, 34),
    (227, 119, 194),
    (140, 86, 75),
    (127, 127, 127),
    (0, 128, 128),
    (128, 0, 128),
    (0, 0, 180),
    (180, 90, 0),
    (70, 130, 0),
    (200, 0, 90),
    (90, 90, 200),
)


def color_for_label(name: str) -> Color:
    """Stable RGB colour (0-255 ints) of a class name, the same in every run and process.

    The usual layout classes have fixed colours; any other name is hashed with CRC-32
    (not Python's salted ``hash``) into a fixed palette.
    """
    known = _KNOWN.get(name.lower())
    if known is not None:
        return known
    return _PALETTE[zlib.crc32(name.encode("utf-8")) % len(_PALETTE)]


def _as_points(poly: np.ndarray | Sequence[float]) -> np.ndarray:
    """A polygon as int32 [K,1,2] for OpenCV, from a flat [x0,y0,x1,y1,...] or a [K,2] array."""
    arr = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    return np.round(arr).astype(np.int32).reshape(-1, 1, 2)


def draw_regions(
    image: np.ndarray,
    boxes: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[str],
    polygons: Sequence[Sequence[np.ndarray]] | None = None,
    scores: Sequence[float] | np.ndarray | None = None,
    label_colors: Mapping[str, Color] | None = None,
) -> np.ndarray:
    """Return a copy of ``image`` with each region's box (and polygon) outlined and labelled.

    Args:
        image: uint8 [H,W,3] RGB page image (a grayscale [H,W] image is converted to RGB).
        boxes: [N,4] XYXY boxes in pixels of ``image``.
        labels: N class names, written above each box and used to pick its colour.
        polygons: optional, per region a list of polygons (flat ``[x0,y0,...]`` or [K,2] arrays,
            pixels); filled translucently and outlined. Regions with an empty list get none.
        scores: optional N confidences in [0,1], appended to the label text as ``0.93``.
        label_colors: optional ``{name: (r, g, b)}`` overriding :func:`color_for_label`.

    Returns:
        uint8 [H,W,3] RGB image; ``image`` itself is not modified.
    """
    src = np.ascontiguousarray(image, dtype=np.uint8)
    canvas: np.ndarray = cv2.cvtColor(src, cv2.COLOR_GRAY2RGB) if src.ndim == 2 else src.copy()
    box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(labels) != len(box_arr):
        raise ValueError(f"draw_regions: {len(box_arr)} boxes but {len(labels)} labels")
    height, width = canvas.shape[:2]
    thickness = max(1, round(max(height, width) / 600))
    font_scale = max(0.4, max(height, width) / 2000)
    colors = [(label_colors or {}).get(name) or color_for_label(name) for name in labels]

    if polygons is not None:
        overlay = canvas.copy()
        for region_polys, color in zip(polygons, colors, strict=False):
            pts = [_as_points(p) for p in region_polys if np.asarray(p).size >= 6]
            if pts:
                cv2.fillPoly(overlay, pts, color)
        # Translucent fill keeps the page content readable under the mask.
        canvas = cv2.addWeighted(overlay, 0.3, canvas, 0.7, 0)
        for region_polys, color in zip(polygons, colors, strict=False):
            pts = [_as_points(p) for p in region_polys if np.asarray(p).size >= 6]
            if pts:
                cv2.polylines(canvas, pts, True, color, thickness)

    for i, (box, name, color) in enumerate(zip(box_arr, labels, colors, strict=True)):
        x0, y0, x1, y1 = (round(v) for v in box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), color, thickness)
        text = name if scores is None else f"{name} {float(scores[i]):.2f}"
        _draw_tag(canvas, text, (x0, y0), color, font_scale, thickness)
    return canvas


def _draw_tag(
    canvas: np.ndarray, text: str, corner: tuple[int, int], color: Color, scale: float, thick: int
) -> None:
    """Write ``text`` in white on a ``color`` band just above ``corner`` (inside if no room)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    x, y = corner
    top = y - th - base - 2
    if top < 0:
        top = y
    x = min(max(x, 0), max(canvas.shape[1] - tw - 2, 0))
    cv2.rectangle(canvas, (x, top), (x + tw + 2, top + th + base + 2), color, -1)
    cv2.putText(canvas, text, (x + 1, top + th + 1), font, scale, (255, 255, 255), thick)
