"""Drawing one layout element (paragraph, list, table, figure, ...) onto a PyMuPDF canvas.

Every ``draw_*`` function draws at ``(x, top)`` inside a column ``width`` points wide and
must end above ``limit`` (page points, y down). It returns the element's regions with
their tight ink boxes and the y where the element's ink ends, or ``None`` when it does
not fit (then nothing was drawn).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pymupdf

from layoutft.data.synth.text import (
    ITALIC,
    WORDS,
    TextStyle,
    ink_extent,
    paragraph,
    place_lines,
    sentence,
    text_width,
    wrap,
)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Region:
    """A drawn element: its kind (``paragraph``, ``caption``, ...) and XYXY box in points."""

    kind: str
    box: Box


@dataclass
class Theme:
    """The typographic choices shared by all pages of one document."""

    family: str
    body: TextStyle
    bold: str
    heading_size: float
    gap: float
    accent: tuple[float, float, float]
    bullet: str
    table_style: str
    caption_size: float


@dataclass
class Ink:
    """Running union of drawn extents (points)."""

    box: Box | None = None

    def add(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if self.box is None:
            self.box = (x0, y0, x1, y1)
        else:
            b = self.box
            self.box = (min(b[0], x0), min(b[1], y0), max(b[2], x1), max(b[3], y1))


Placed = tuple[list[Region], float]


def text_block(
    canvas: pymupdf.Shape,
    text: str,
    style: TextStyle,
    x: float,
    top: float,
    width: float,
    limit: float,
    kind: str,
    min_lines: int = 1,
) -> Placed | None:
    """Wrap and draw ``text``; keep only the lines that fit (at least ``min_lines``)."""
    lines = wrap(text, style.fontname, style.size, width)
    if not lines:
        return None
    room = int((limit - top - style.size) // style.pitch) + 1
    if room < min(min_lines, len(lines)) or room < 1:
        return None
    box = place_lines(canvas, lines[:room], style, x, top)
    return [Region(kind, box)], box[3]


def draw_paragraph(
    canvas: pymupdf.Shape, rng: random.Random, th: Theme, x: float, top: float, w: float, lim: float
) -> Placed | None:
    """A body paragraph, truncated at the column end (as if continued elsewhere)."""
    indent = th.body.size * 1.5 if rng.random() < 0.3 else 0.0
    text = paragraph(rng)
    if indent:
        # A first-line indent: the first line is drawn separately, shifted right.
        first = wrap(text, th.body.fontname, th.body.size, w - indent)[0]
        head = text_block(canvas, first, th.body, x + indent, top, w - indent, lim, "paragraph")
        if head is None:
            return None
        rest = text[len(first) :].strip()
        tail = text_block(canvas, rest, th.body, x, top + th.body.pitch, w, lim, "paragraph")
        if tail is None:
            return head
        (r0,), _ = head
        (r1,), end = tail
        ink = Ink(r0.box)
        ink.add(*r1.box)
        assert ink.box is not None
        return [Region("paragraph", ink.box)], end
    return text_block(canvas, text, th.body, x, top, w, lim, "paragraph", min_lines=2)


def draw_heading(
    canvas: pymupdf.Shape, rng: random.Random, th: Theme, x: float, top: float, w: float, lim: float
) -> Placed | None:
    """A numbered or plain section heading in the document's bold face."""
    words = sentence(rng, 2, 6).rstrip(".")
    if rng.random() < 0.3:
        words = f"{rng.randint(1, 9)}.{rng.randint(1, 5)} {words}"
    style = TextStyle(th.bold, th.heading_size, th.heading_size * 1.2, th.accent)
    # Keep room for two body lines below: no heading alone at the foot of a column.
    return text_block(canvas, words, style, x, top, w, lim - th.body.pitch * 2, "heading")


def draw_caption(
    canvas: pymupdf.Shape,
    rng: random.Random,
    th: Theme,
    x: float,
    top: float,
    w: float,
    lim: float,
    label: str = "Figure",
) -> Placed | None:
    """``Figure n: ...`` caption text in a smaller (sometimes italic) face."""
    name = ITALIC[th.family] if rng.random() < 0.3 else th.body.fontname
    size = th.caption_size
    style = TextStyle(name, size, size * 1.25)
    text = f"{label} {rng.randint(1, 12)}: {paragraph(rng, 1, 2)}"
    return text_block(canvas, text, style, x, top, w, lim, "caption", min_lines=99)


def draw_list(
    canvas: pymupdf.Shape, rng: random.Random, th: Theme, x: float, top: float, w: float, lim: float
) -> Placed | None:
    """A bulleted or numbered list; the whole list is one region."""
    st = th.body
    indent = st.size * rng.uniform(1.4, 2.4)
    items = [paragraph(rng, 1, 2) if rng.random() < 0.5 else sentence(rng) for _ in range(6)]
    item_gap = st.pitch * rng.choice([0.0, 0.25, 0.5])
    wrapped = [wrap(item, st.fontname, st.size, w - indent) for item in items[: rng.randint(2, 6)]]
    tops, y = [], top
    for lines in wrapped:
        if y + (len(lines) - 1) * st.pitch + st.size > lim:
            break
        tops.append(y)
        y += len(lines) * st.pitch + item_gap
    if len(tops) < 2:
        return None
    ink = Ink()
    for i, (lines, y) in enumerate(zip(wrapped, tops, strict=False)):
        ink.add(*place_lines(canvas, lines, st, x + indent, y))
        if th.bullet == "dot":
            ink.add(*_dot(canvas, x + indent * 0.3, y + 0.5 * st.size, st.size * 0.18))
            continue
        marker = {"1.": f"{i + 1}.", "a)": f"{chr(97 + i)})"}.get(th.bullet, th.bullet)
        ink.add(*place_lines(canvas, [marker], st, x + indent * 0.2, y))
    assert ink.box is not None
    return [Region("list", ink.box)], ink.box[3]


def _dot(canvas: pymupdf.Shape, cx: float, cy: float, r: float) -> Box:
    """A filled round bullet (the Base-14 encodings have no bullet glyph we can rely on)."""
    canvas.draw_circle((cx, cy), r)
    canvas.finish(color=None, fill=(0, 0, 0))
    return cx - r, cy - r, cx + r, cy + r


def _cell_text(rng: random.Random, row: int, col: int) -> str:
    if row == 0:
        return rng.choice(WORDS).capitalize()
    if col == 0:
        return rng.choice(WORDS)
    return f"{rng.uniform(0, 100):.{rng.choice([1, 2])}f}"


def draw_table(
    canvas: pymupdf.Shape, rng: random.Random, th: Theme, x: float, top: float, w: float, lim: float
) -> Placed | None:
    """A grid (full, rules-only or striped) with a bold header row; one ``table`` region."""
    n_rows, n_cols = rng.randint(3, 12), rng.randint(2, max(2, min(7, int(w // 45))))
    size = max(5.5, th.body.size - rng.choice([0.0, 1.0, 2.0]))
    row_h = size * rng.uniform(1.5, 2.0)
    width = w * rng.choice([1.0, 1.0, 0.8])
    if top + n_rows * row_h > lim:
        n_rows = int((lim - top) // row_h)
        if n_rows < 3:
            return None
    col_w = width / n_cols
    ink = Ink()
    lw = 0.6
    ys = [top + r * row_h for r in range(n_rows + 1)]
    if th.table_style == "striped":
        for r in range(2, n_rows, 2):
            canvas.draw_rect(pymupdf.Rect(x, ys[r], x + width, ys[r + 1]))
        # Stripes first so that the rules stay on top.
        canvas.finish(color=None, fill=(0.92, 0.93, 0.96))
    rules = range(n_rows + 1) if th.table_style == "grid" else (0, 1, n_rows)
    for r in rules:
        canvas.draw_line((x, ys[r]), (x + width, ys[r]))
        ink.add(x, ys[r] - lw / 2, x + width, ys[r] + lw / 2)
    if th.table_style == "grid":
        for c in range(n_cols + 1):
            canvas.draw_line((x + c * col_w, top), (x + c * col_w, ys[-1]))
        ink.add(x - lw / 2, top, x + width + lw / 2, ys[-1])
    canvas.finish(color=(0, 0, 0), width=lw)
    for r in range(n_rows):
        style = TextStyle(th.bold if r == 0 else th.body.fontname, size, size)
        for c in range(n_cols):
            text = _cell_text(rng, r, c)
            while text and text_width(text, style.fontname, size) > col_w - 6:
                text = text[:-1]
            cy = ys[r] + (row_h - 0.75 * size) / 2 - 0.05 * size
            ink.add(*place_lines(canvas, [text], style, x + c * col_w + 3, cy))
    assert ink.box is not None
    return [Region("table", ink.box)], ink.box[3]


def _palette(rng: random.Random, n: int) -> list[tuple[float, float, float]]:
    return [(rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)) for _ in range(n)]


def _plot(shape: pymupdf.Shape, rng: random.Random, r: pymupdf.Rect, ink: Ink) -> None:
    """Axes with bars, a polyline or scattered dots inside ``r``."""
    lw = 0.8
    shape.draw_polyline([(r.x0, r.y0), (r.x0, r.y1), (r.x1, r.y1)])
    shape.finish(color=(0, 0, 0), width=lw, closePath=False)
    ink.add(r.x0 - lw / 2, r.y0, r.x1, r.y1 + lw / 2)
    kind = rng.choice(["bars", "line", "scatter"])
    n = rng.randint(4, 24)
    # Bars of several series would hide each other: one series for bar charts.
    for color in _palette(rng, 1 if kind == "bars" else rng.randint(1, 3)):
        vals = [rng.uniform(0.05, 1.0) for _ in range(n)]
        step = r.width / n
        if kind == "bars":
            for i, v in enumerate(vals):
                shape.draw_rect(
                    pymupdf.Rect(
                        r.x0 + (i + 0.15) * step,
                        r.y1 - v * r.height,
                        r.x0 + (i + 0.85) * step,
                        r.y1,
                    )
                )
            shape.finish(color=None, fill=color)
        elif kind == "line":
            shape.draw_polyline(
                [(r.x0 + (i + 0.5) * step, r.y1 - v * r.height) for i, v in enumerate(vals)]
            )
            shape.finish(color=color, width=1.2, closePath=False)
        else:
            for i, v in enumerate(vals):
                shape.draw_circle((r.x0 + (i + 0.5) * step, r.y1 - v * r.height), 1.8)
            shape.finish(color=None, fill=color)


def _shapes(shape: pymupdf.Shape, rng: random.Random, r: pymupdf.Rect, ink: Ink) -> None:
    """A diagram: coloured boxes and ovals joined by lines, reaching the frame edges."""
    for color in _palette(rng, rng.randint(3, 8)):
        w, h = r.width * rng.uniform(0.1, 0.5), r.height * rng.uniform(0.1, 0.5)
        x0, y0 = rng.uniform(r.x0, r.x1 - w), rng.uniform(r.y0, r.y1 - h)
        box = pymupdf.Rect(x0, y0, x0 + w, y0 + h)
        if rng.random() < 0.5:
            shape.draw_rect(box)
        else:
            shape.draw_oval(box)
        shape.finish(color=None, fill=color)
        ink.add(box.x0, box.y0, box.x1, box.y1)


def _raster(canvas: pymupdf.Shape, rng: random.Random, r: pymupdf.Rect, ink: Ink) -> None:
    """A smooth random RGB picture (gradient plus soft blobs) stretched over ``r``."""
    gw = 64
    gh = max(8, round(gw * r.height / r.width))
    gen = np.random.default_rng(rng.getrandbits(64))
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    img = gen.uniform(40, 220, 3) + (xx[..., None] / gw) * gen.uniform(-80, 80, 3)
    for _ in range(int(gen.integers(2, 6))):
        cx, cy, rad = gen.uniform(0, gw), gen.uniform(0, gh), gen.uniform(4, 20)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rad**2))
        img += blob[..., None] * gen.uniform(-120, 120, 3)
    samples = np.clip(img, 20, 230).astype(np.uint8).tobytes()
    pix = pymupdf.Pixmap(pymupdf.csRGB, gw, gh, samples, 0)
    canvas.page.insert_image(r, pixmap=pix, keep_proportion=False)
    ink.add(r.x0, r.y0, r.x1, r.y1)


def draw_figure(
    canvas: pymupdf.Shape, rng: random.Random, th: Theme, x: float, top: float, w: float, lim: float
) -> Placed | None:
    """A chart, diagram or picture, optionally framed; one ``figure`` region."""
    width = w * rng.choice([1.0, 1.0, 0.85, 0.6])
    height = width * rng.uniform(0.3, 0.85)
    if top + height > lim:
        height = lim - top
        if height < max(50.0, width * 0.25):
            return None
    x0 = x + (w - width) / 2
    r = pymupdf.Rect(x0, top, x0 + width, top + height)
    ink, kind = Ink(), rng.choice(["plot", "plot", "shapes", "raster"])
    if kind == "raster":
        _raster(canvas, rng, r, ink)
    else:
        if kind == "plot" or rng.random() < 0.5:
            lw = 0.7
            canvas.draw_rect(r)
            canvas.finish(color=(0.2, 0.2, 0.2), width=lw)
            ink.add(r.x0 - lw / 2, r.y0 - lw / 2, r.x1 + lw / 2, r.y1 + lw / 2)
        inner = pymupdf.Rect(r.x0 + 6, r.y0 + 6, r.x1 - 6, r.y1 - 6)
        (_plot if kind == "plot" else _shapes)(canvas, rng, inner, ink)
    assert ink.box is not None
    return [Region("figure", ink.box)], ink.box[3]


def draw_running(
    canvas: pymupdf.Shape,
    th: Theme,
    x: float,
    y: float,
    w: float,
    text: str,
    kind: str,
    align: str,
) -> Region:
    """A header/footer/page-number line of small text at baseline-top ``y``."""
    size = max(6.0, th.body.size - 1.5)
    style = TextStyle(th.body.fontname, size, size, (0.3, 0.3, 0.3))
    tw = ink_extent(text, style.fontname, size)[2]
    dx = {"left": 0.0, "center": (w - tw) / 2, "right": w - tw}[align]
    return Region(kind, place_lines(canvas, [text], style, x + dx, y))
