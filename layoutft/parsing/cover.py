"""Every word in a region: text-layer words the detector left outside every region are
grouped into new ``text`` regions marked ``origin: "text-layer"``.

Words are grouped as text is: the PDF text layer's own lines (PyMuPDF ``(block, line)``),
split where a gap wider than :data:`WORD_GAP_LINES` line heights opens (another column),
then lines stacked with at most :data:`LINE_GAP_LINES` line heights between them and
overlapping horizontally become one block (:func:`~layoutft.geometry.linked_groups`). A
block whose box would overlap an existing region by more than :data:`OVERLAP_TOLERANCE` of
its area is split back into its lines (a line is kept whatever its overlap: its words are
outside every region). Works on assembled pages (points). No torch here.
"""

from __future__ import annotations

import numpy as np

from layoutft.geometry import box_area, linked_groups, pairwise_intersection
from layoutft.parsing.reading_order import order_ranks
from layoutft.render.text import Words, text_in_box
from layoutft.schema import Page, Region

COVER_MODES = ("auto", "off")
TEXT_LAYER = "text-layer"
#: a gap between two words of one text-layer line wider than this many line heights
#: splits the line (a column gap; word spaces are ~0.3)
WORD_GAP_LINES = 1.0
#: lines whose vertical gap is at most this many line heights join one block
LINE_GAP_LINES = 1.0
#: a new block may overlap existing regions by at most this share of its own area
OVERLAP_TOLERANCE = 0.1
#: a line piece at most this many line heights from a region's box grows that region
#: (0: never grow)
GROW_LINES = 0.5
#: the score of a text-layer region: below any detection the parse keeps (scores are
#: model confidences; these regions come from no model; see docs/json-format.md)
TEXT_LAYER_SCORE = 0.0


def cover_label(labels: list[str]) -> str:
    """The class of text-layer regions for a model with ``labels``: its ``text`` class
    (``text``, or DocLayNet's ``Text``), else ``"text"``."""
    for name in ("text", "Text"):
        if name in labels:
            return name
    return "text"


def uncovered(words: Words, boxes: np.ndarray) -> np.ndarray:
    """Indices of ``words`` whose centre lies in none of ``boxes`` [N,4] (points)."""
    cx = (words.boxes[:, 0] + words.boxes[:, 2]) / 2
    cy = (words.boxes[:, 1] + words.boxes[:, 3]) / 2
    if len(boxes) == 0:
        return np.arange(len(words))
    inside = (
        (cx[:, None] >= boxes[None, :, 0])
        & (cx[:, None] <= boxes[None, :, 2])
        & (cy[:, None] >= boxes[None, :, 1])
        & (cy[:, None] <= boxes[None, :, 3])
    )
    return np.flatnonzero(~inside.any(axis=1))


def cover_words(page: Page, words: Words | None, label: str = "text") -> Page:
    """``page`` with a new region (``label``, ``origin`` :data:`TEXT_LAYER`, score
    :data:`TEXT_LAYER_SCORE`) per block of text-layer ``words`` (points) outside every region.

    Existing regions keep their ids and boxes; the new ones get the next ids, and the
    reading order is computed again over all regions. A page without words (or none left
    out) is returned unchanged.
    """
    if words is None or len(words) == 0 or page.status != "ok":
        return page
    boxes = np.array([r.bbox_pt for r in page.regions], dtype=np.float64).reshape(-1, 4)
    lost = uncovered(words, boxes)
    if lost.size == 0:
        return page
    px_per_pt = page.dpi / 72.0
    regions = list(page.regions)
    if GROW_LINES > 0:
        lost = _grow(regions, words, lost, px_per_pt)
        boxes = np.array([r.bbox_pt for r in regions], dtype=np.float64).reshape(-1, 4)
    blocks = word_blocks(words, lost, boxes) if lost.size else []
    for box in blocks:
        x0, y0, x1, y1 = (float(v) for v in box)
        regions.append(
            Region(
                id=len(regions),
                label=label,
                score=TEXT_LAYER_SCORE,
                bbox_px=[v * px_per_pt for v in (x0, y0, x1, y1)],
                bbox_pt=[x0, y0, x1, y1],
                polygon_pt=[[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]],
                text=text_in_box(words, box),
                origin=TEXT_LAYER,
            )
        )
    ranks = order_ranks(np.array([r.bbox_pt for r in regions], dtype=np.float64))
    for region, rank in zip(regions, ranks, strict=True):
        region.order = rank
    page.regions = sorted(regions, key=lambda r: r.order)
    return page


def _grow(regions: list[Region], words: Words, lost: np.ndarray, px_per_pt: float) -> np.ndarray:
    """Grow each region to the line pieces of ``lost`` words within GROW_LINES line heights
    of its box (when the grown box overlaps no other region beyond OVERLAP_TOLERANCE of the
    smaller); returns the words still outside every region."""
    boxes = np.array([r.bbox_pt for r in regions], dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return lost
    for piece, height in _line_pieces(words, lost):
        dx = np.maximum(0, np.maximum(boxes[:, 0] - piece[2], piece[0] - boxes[:, 2]))
        dy = np.maximum(0, np.maximum(boxes[:, 1] - piece[3], piece[1] - boxes[:, 3]))
        distance = np.maximum(dx, dy) / max(height, 1e-6)
        j = int(np.argmin(distance))
        if distance[j] > GROW_LINES:
            continue
        grown = _union(np.stack([boxes[j], piece]))
        others = np.delete(boxes, j, axis=0)
        if len(others):
            inter = pairwise_intersection(grown[None], others)[0]
            smaller = np.minimum(box_area(grown[None])[0], box_area(others))
            if (inter > OVERLAP_TOLERANCE * smaller).any():
                continue
        boxes[j] = grown
    for region, box in zip(regions, boxes, strict=True):
        if list(box) != list(region.bbox_pt):
            region.bbox_pt = [float(v) for v in box]
            region.bbox_px = [float(v) * px_per_pt for v in box]
            if region.text is not None:
                region.text = text_in_box(words, box)
    return lost[np.isin(lost, uncovered(words, boxes))]


def word_blocks(words: Words, members: np.ndarray, regions: np.ndarray) -> list[np.ndarray]:
    """Boxes [4] (points) of the blocks the words ``members`` form (see the module
    docstring), none overlapping ``regions`` [N,4] beyond :data:`OVERLAP_TOLERANCE` unless
    it is a single line."""
    lines = _line_pieces(words, members)
    if not lines:
        return []
    boxes = np.array([b for b, _ in lines])
    heights = np.array([h for _, h in lines])
    links = []
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            if _stacked(boxes[i], boxes[j], max(heights[i], heights[j])):
                links.append((i, j))
    out: list[np.ndarray] = []
    for group in linked_groups(len(lines), links):
        box = _union(boxes[group])
        if len(group) > 1 and _overlap_share(box, regions) > OVERLAP_TOLERANCE:
            out.extend(boxes[i] for i in group)
        else:
            out.append(box)
    return out


def _line_pieces(words: Words, members: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(box, line height) of each piece of a text-layer line among ``members``."""
    by_line: dict[tuple[int, int], list[int]] = {}
    for i in members:
        by_line.setdefault((int(words.keys[i, 0]), int(words.keys[i, 1])), []).append(int(i))
    pieces = []
    for ids in by_line.values():
        ids.sort(key=lambda i: float(words.boxes[i, 0]))
        b = words.boxes[ids]
        height = float(np.median(b[:, 3] - b[:, 1]))
        start = 0
        for k in range(1, len(ids) + 1):
            if k == len(ids) or b[k, 0] - b[k - 1, 2] > WORD_GAP_LINES * height:
                pieces.append((_union(b[start:k]), height))
                start = k
    return pieces


def _stacked(a: np.ndarray, b: np.ndarray, line: float) -> bool:
    """Lines ``a`` and ``b`` overlap horizontally and lie at most LINE_GAP_LINES apart."""
    if min(a[2], b[2]) - max(a[0], b[0]) <= 0:
        return False
    gap = max(a[1], b[1]) - min(a[3], b[3])
    return bool(gap <= LINE_GAP_LINES * line)


def _overlap_share(box: np.ndarray, regions: np.ndarray) -> float:
    """The share of ``box``'s area covered by its largest overlap with one of ``regions``."""
    if len(regions) == 0:
        return 0.0
    area = float(box_area(box[None])[0])
    inter = pairwise_intersection(box[None], regions)[0]
    return float(inter.max() / area) if area > 0 else 1.0


def _union(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])
