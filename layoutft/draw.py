"""Drawing layout regions on page images (numpy, Pillow; no torch), with one colour per class
name everywhere: parse visualizations (:mod:`layoutft.parsing.visualize`) and dataset
previews (:mod:`layoutft.data.show`) both draw with it.

Drawing works in pixels of the image being drawn on (top-left origin, x right, y down).
Text uses Pillow's built-in scalable font (``ImageFont.load_default(size)``, Pillow >= 10.1).
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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


def _as_points(poly: np.ndarray | Sequence[float]) -> list[tuple[float, float]]:
    """A polygon's vertices as (x, y) pairs, from a flat [x0,y0,x1,y1,...] or a [K,2] array."""
    arr = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    return [(float(x), float(y)) for x, y in np.round(arr)]


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
        labels: N class names, written in white on a tag of the class colour by each box
            (placed by :func:`place_tags`: tags do not overlap where there is room, and stay
            inside the image) and used to pick its colour.
        polygons: optional, per region a list of polygons (flat ``[x0,y0,...]`` or [K,2] arrays,
            pixels); filled translucently and outlined. Regions with an empty list get none.
        scores: optional N confidences in [0,1], appended to the label text as ``0.93``.
        label_colors: optional ``{name: (r, g, b)}`` overriding :func:`color_for_label`.

    Returns:
        uint8 [H,W,3] RGB image; ``image`` itself is not modified.
    """
    src = np.asarray(image, dtype=np.uint8)
    canvas = Image.fromarray(src).convert("RGB")  # a copy; gray becomes RGB
    box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(labels) != len(box_arr):
        raise ValueError(f"draw_regions: {len(box_arr)} boxes but {len(labels)} labels")
    width, height = canvas.size
    thickness = max(1, round(max(height, width) / 600))
    colors = [(label_colors or {}).get(name) or color_for_label(name) for name in labels]

    if polygons is not None:
        shapes = [
            [_as_points(p) for p in region_polys if np.asarray(p).size >= 6]
            for region_polys in polygons
        ]
        overlay = canvas.copy()
        fill = ImageDraw.Draw(overlay)
        for region_shapes, color in zip(shapes, colors, strict=False):
            for points in region_shapes:
                fill.polygon(points, fill=color)
        # Translucent fill keeps the page content readable under the mask.
        canvas = Image.blend(canvas, overlay, 0.3)
        outline = ImageDraw.Draw(canvas)
        for region_shapes, color in zip(shapes, colors, strict=False):
            for points in region_shapes:
                outline.line([*points, points[0]], fill=color, width=thickness, joint="curve")

    draw = ImageDraw.Draw(canvas)
    texts = [
        name if scores is None else f"{name} {float(scores[i]):.2f}"
        for i, name in enumerate(labels)
    ]
    for box, color in zip(box_arr, colors, strict=True):
        x0, y0, x1, y1 = (round(v) for v in box)
        draw.rectangle(
            (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), outline=color, width=thickness
        )
    # Tags after every outline, so no outline is drawn over a tag.
    tags = [label_tag(t, width, height) for t in texts]
    places = place_tags(box_arr, [(tag.width, tag.height) for tag in tags], width, height)
    for text, color, place, tag in zip(texts, colors, places, tags, strict=True):
        tx0, ty0, tx1, ty1 = place
        draw.rectangle((tx0, ty0, tx1 - 1, ty1 - 1), fill=color)
        draw.text(
            (tx0 + 1 - tag.left, ty0 + 1 + tag.ascent),
            text,
            fill=(255, 255, 255),
            font=tag.font,
            anchor="ls",
        )
    return np.array(canvas)  # writable, unlike np.asarray of an image


@dataclasses.dataclass(frozen=True)
class Tag:
    """A label tag's size and text placement: ``width`` x ``height`` pixels; the text is drawn
    with ``font`` at (x0 + 1 - ``left``, y0 + 1 + ``ascent``) on its baseline (anchor "ls"),
    which keeps its ink 1 px inside the tag."""

    width: int
    height: int
    left: int
    ascent: int
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont


def label_tag(text: str, image_width: int, image_height: int) -> Tag:
    """The tag of ``text`` on a ``image_width`` x ``image_height`` image: in the font of
    :func:`label_font_size`, shrunk until the tag fits the image width."""
    size = label_font_size(image_width, image_height)
    while True:
        tag = text_tag(text, size)
        if tag.width <= image_width or size <= 4:
            return dataclasses.replace(tag, width=min(tag.width, image_width))
        size = max(4, int(size * 0.8))


def label_font_size(image_width: int, image_height: int) -> int:
    """Font size (pixels) of labels on an image: 12 up to an 800 px side, then growing with
    it (33 on a 200 dpi A4 page)."""
    return max(12, round(max(image_width, image_height) / 66))


def text_tag(text: str, size: int) -> Tag:
    """The tag of ``text`` in Pillow's built-in font at ``size`` pixels. Every tag of one
    size has the same height (the font's tallest letters and deepest descenders, 1 px
    margins), so tags line up."""
    font = _font(size)
    left, _, right, _ = font.getbbox(text, anchor="ls")
    ascent = -round(font.getbbox("Hd", anchor="ls")[1])
    descent = round(font.getbbox("gy", anchor="ls")[3])
    return Tag(round(right - left) + 2, ascent + descent + 2, round(left), ascent, font)


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` pixels (cached: loading it parses the font)."""
    return ImageFont.load_default(size=size)


Rect = tuple[int, int, int, int]


def place_tags(
    boxes: np.ndarray | Sequence[Sequence[float]],
    sizes: Sequence[tuple[int, int]],
    width: int,
    height: int,
) -> list[Rect]:
    """Where each region's label tag goes: ``(x0, y0, x1, y1)`` pixels, end-exclusive, inside
    the ``width`` x ``height`` image.

    Regions are placed in reading order (top, then left). Each tries, in this order: above its
    box's top-left corner, inside it, below the bottom-left corner, inside the bottom-left,
    and the same at the right edge, then further up and down by whole tag heights; the
    first spot that overlaps no tag placed before wins, else the one overlapping least.
    Every spot is moved inside the image first, so no tag is cut.
    """
    box_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = sorted(range(len(box_arr)), key=lambda i: (box_arr[i][1], box_arr[i][0], i))
    placed: list[Rect] = []
    out: list[Rect] = [(0, 0, 0, 0)] * len(box_arr)
    for i in order:
        tw, th = sizes[i]
        rects = [_inside(x, y, tw, th, width, height) for x, y in _spots(box_arr[i], tw, th)]
        costs = [sum(_overlap(rect, other) for other in placed) for rect in rects]
        out[i] = rects[costs.index(min(costs))]  # the first free spot, else the least covered
        placed.append(out[i])
    return out


def _spots(box: np.ndarray, tw: int, th: int) -> list[tuple[int, int]]:
    """Candidate top-left corners of a ``tw`` x ``th`` tag for an XYXY ``box``."""
    x0, y0, x1, y1 = (round(v) for v in box)
    right = x1 - tw
    spots = [
        (x0, y0 - th),
        (x0, y0),
        (x0, y1),
        (x0, y1 - th),
        (right, y0 - th),
        (right, y0),
        (right, y1),
        (right, y1 - th),
    ]
    for step in range(1, 5):
        spots += [(x0, y0 - th * (step + 1)), (x0, y1 + th * step)]
    return spots


def _inside(x: int, y: int, tw: int, th: int, width: int, height: int) -> Rect:
    """A ``tw`` x ``th`` rectangle at ``(x, y)`` moved inside the image."""
    x = min(max(x, 0), max(width - tw, 0))
    y = min(max(y, 0), max(height - th, 0))
    return x, y, x + tw, y + th


def _overlap(a: Rect, b: Rect) -> int:
    """Area shared by two end-exclusive rectangles."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0
