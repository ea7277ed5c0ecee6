"""The PDF's own text inside layout regions (so OCR can be skipped where a text layer exists).

Words come from PyMuPDF's ``page.get_text("words")``, which reports boxes in the
*unrotated* page, relative to the CropBox; they are converted here to displayed-page
points (top-left origin, after ``/Rotate``), the space of ``Region.bbox_pt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from layoutft.geometry import BoxesLike, PageTransform, as_boxes


@dataclass(frozen=True)
class Words:
    """The words of one page.

    Attributes:
        boxes: float64 [N,4] XYXY in displayed-page points.
        texts: N word strings.
        keys: int64 [N,3] ``(block, line, word)`` numbers from PyMuPDF; words sharing
            ``(block, line)`` are one text line, ``word`` is their order in it.
        dirs: float64 [N,2] unit vector of each word's writing direction in displayed
            points (``(1, 0)``: left to right; ``(0, 1)``: top to bottom); None = ``(1, 0)``.
    """

    boxes: np.ndarray
    texts: list[str]
    keys: np.ndarray
    dirs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)


def page_words(page: Any, transform: PageTransform) -> Words:
    """Words of a PyMuPDF page in displayed points, with their writing directions."""
    import pymupdf

    textpage = page.get_textpage(flags=pymupdf.TEXTFLAGS_WORDS)
    raw = page.get_text("words", textpage=textpage)
    if not raw:
        return Words(np.zeros((0, 4)), [], np.zeros((0, 3), dtype=np.int64), np.zeros((0, 2)))
    # Line directions come from the same text page, so block/line numbers agree.
    line_dirs = {
        (b["number"], i): line["dir"]
        for b in page.get_text("dict", textpage=textpage)["blocks"]
        for i, line in enumerate(b.get("lines", []))
    }
    boxes = transform.unrotated_to_pt([w[:4] for w in raw])
    keys = np.array([w[5:8] for w in raw], dtype=np.int64)
    unrotated = np.array([line_dirs.get((w[5], w[6]), (1.0, 0.0)) for w in raw], dtype=float)
    origin = transform.unrotated_points_to_pt(np.zeros((1, 2)))
    dirs = transform.unrotated_points_to_pt(unrotated) - origin
    return Words(boxes, [str(w[4]) for w in raw], keys, dirs)


def text_in_box(words: Words | None, box_pt: BoxesLike) -> str | None:
    """Text of the words whose centers lie inside ``box_pt`` (displayed points), in reading order.

    Lines are ordered top to bottom (lines side by side on one row, e.g. table cells, left to
    right, joined by a space) and joined by ``\\n``. Returns None when the page has no text
    layer (``words`` None or empty), and ``""`` when the page has text but not in this box.
    """
    if words is None or len(words) == 0:
        return None
    x0, y0, x1, y1 = as_boxes(box_pt)[0]
    cx = (words.boxes[:, 0] + words.boxes[:, 2]) / 2
    cy = (words.boxes[:, 1] + words.boxes[:, 3]) / 2
    inside = np.flatnonzero((cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1))
    if inside.size == 0:
        return ""
    boxes = _reading_frame(words, inside)
    lines: dict[tuple[int, int], list[int]] = {}
    for i in inside:
        lines.setdefault((int(words.keys[i, 0]), int(words.keys[i, 1])), []).append(int(i))
    line_items = []
    for members in lines.values():
        members.sort(key=lambda i: int(words.keys[i, 2]))
        b = boxes[members]
        box = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
        line_items.append((box, " ".join(words.texts[i] for i in members)))
    return "\n".join(" ".join(text for _, text in row) for row in _rows(line_items))


def _reading_frame(words: Words, inside: np.ndarray) -> np.ndarray:
    """Word boxes [N,4] turned so that the region's main writing direction points along +x.

    Text running down a rotated page is then ordered like ordinary left-to-right lines.
    """
    if words.dirs is None:
        return words.boxes
    mean = words.dirs[inside].sum(axis=0)
    axes = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    d = axes[int(np.argmax(axes @ mean))]
    n = np.array([-d[1], d[0]])  # "down" in the reading frame
    corners = [words.boxes[:, [0, 1]], words.boxes[:, [2, 3]]]
    along = [c @ d for c in corners]
    across = [c @ n for c in corners]
    return np.stack(
        [
            np.minimum(*along),
            np.minimum(*across),
            np.maximum(*along),
            np.maximum(*across),
        ],
        axis=1,
    )


def _rows(
    items: list[tuple[tuple[float, float, float, float], str]],
) -> list[list[tuple[tuple[float, float, float, float], str]]]:
    """Group lines into rows (vertical centre inside the row's span), rows top to bottom."""
    rows: list[list[tuple[tuple[float, float, float, float], str]]] = []
    spans: list[tuple[float, float]] = []
    for item in sorted(items, key=lambda it: (it[0][1], it[0][0])):
        (_, top, _, bottom), _text = item
        centre = (top + bottom) / 2
        if rows and spans[-1][0] <= centre <= spans[-1][1]:
            rows[-1].append(item)
            spans[-1] = (min(spans[-1][0], top), max(spans[-1][1], bottom))
        else:
            rows.append([item])
            spans.append((top, bottom))
    return [sorted(row, key=lambda it: it[0][0]) for row in rows]
