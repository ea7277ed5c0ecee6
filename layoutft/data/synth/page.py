"""Composing synthetic pages: page size, margins, columns, running headers and the block flow.

Coordinates are PDF points, top-left origin, y down (PyMuPDF page space).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pymupdf

from layoutft.data.synth import blocks
from layoutft.data.synth.blocks import Region, Theme
from layoutft.data.synth.text import (
    FAMILIES,
    WORDS,
    TextStyle,
    paragraph,
    place_lines,
    sentence,
    wrap,
)

PAGE_SIZES = {"letter": (612.0, 792.0), "a4": (595.0, 842.0)}

# Relative frequency of each block kind in the column flow.
_KINDS = ("paragraph", "heading", "list", "table", "figure")
_WEIGHTS = (10, 3, 2, 2, 2)
_DRAW = {
    "paragraph": blocks.draw_paragraph,
    "heading": blocks.draw_heading,
    "list": blocks.draw_list,
    "table": blocks.draw_table,
    "figure": blocks.draw_figure,
}


@dataclass
class DocStyle:
    """Per-document layout choices: page size (pt), margins (pt), columns, running heads."""

    size: tuple[float, float]
    margins: tuple[float, float, float, float]  # left, top, right, bottom
    columns: int
    gutter: float
    header: str | None
    footer: str | None
    footer_align: str | None
    theme: Theme


def random_style(rng: random.Random) -> DocStyle:
    """Draw the fonts, sizes, margins and column count of one document."""
    family = rng.choice(sorted(FAMILIES))
    regular, bold = FAMILIES[family]
    if rng.random() < 0.3:  # headings in another family, e.g. sans headings over serif text
        bold = FAMILIES[rng.choice(sorted(FAMILIES))][1]
    columns = rng.choices([1, 2, 3], weights=[4, 4, 1.5])[0]
    size = rng.choice([8.0, 9.0, 9.5, 10.0, 11.0, 12.0]) - (0.5 if columns == 3 else 0.0)
    body = TextStyle(regular, size, size * rng.uniform(1.15, 1.45))
    accent = rng.choice([(0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.1, 0.2, 0.5), (0.45, 0.05, 0.1)])
    theme = Theme(
        family=family,
        body=body,
        bold=bold,
        heading_size=size * rng.uniform(1.1, 1.6),
        gap=size * rng.uniform(0.6, 1.6),
        accent=accent,
        bullet=rng.choice(["dot", "dot", "-", "*", "o", "1.", "a)"]),
        table_style=rng.choice(["grid", "rules", "striped"]),
        caption_size=max(6.5, size - rng.choice([0.0, 1.0, 1.5])),
    )
    side = rng.uniform(40, 90)
    return DocStyle(
        size=PAGE_SIZES[rng.choice(["letter", "a4"])],
        margins=(side, rng.uniform(45, 90), side + rng.uniform(-8, 8), rng.uniform(45, 90)),
        columns=columns,
        gutter=rng.uniform(12, 30),
        header=sentence(rng, 2, 5).rstrip(".") if rng.random() < 0.6 else None,
        footer=f"Preprint {rng.randint(1990, 2030)}" if rng.random() < 0.3 else None,
        footer_align=rng.choice([None, "center", "right", "outside"]),
        theme=theme,
    )


def _running(canvas: pymupdf.Shape, rng: random.Random, ds: DocStyle, number: int) -> list[Region]:
    """Running header, footer and page number (alternating sides), in the margins."""
    left, top, right, bottom = ds.margins
    w, h = ds.size
    width = w - left - right
    out = []
    if ds.header:
        side = "right" if number % 2 == 0 else "left"
        out.append(
            blocks.draw_running(canvas, ds.theme, left, top - 28, width, ds.header, "header", side)
        )
    foot_y = h - bottom + 18
    align = ds.footer_align
    if align == "outside":
        align = "left" if number % 2 == 0 else "right"
    if ds.footer and align != "left":
        out.append(
            blocks.draw_running(canvas, ds.theme, left, foot_y, width, ds.footer, "footer", "left")
        )
    if align:
        out.append(
            blocks.draw_running(
                canvas, ds.theme, left, foot_y, width, str(number), "page_number", align
            )
        )
    return out


def _front_matter(
    canvas: pymupdf.Shape, rng: random.Random, ds: DocStyle, y: float
) -> tuple[list[Region], float]:
    """Document title (centred or left), author line and abstract across the full width."""
    left, _, right, _ = ds.margins
    width = ds.size[0] - left - right
    th = ds.theme
    size = th.body.size * rng.uniform(1.6, 2.4)
    title = TextStyle(th.bold, size, size * 1.2, th.accent)
    lines = wrap(sentence(rng, 4, 12).rstrip("."), title.fontname, size, width * 0.9)
    regions: list[Region] = []
    box = place_lines(canvas, lines, title, left, y)
    regions.append(Region("doc_title", box))
    y = box[3] + th.gap * 1.5
    authors = ", ".join(
        f"{rng.choice('ABCDEFGHJKLMNPRS')}. {rng.choice(WORDS).title()}"
        for _ in range(rng.randint(1, 5))
    )
    placed = blocks.text_block(canvas, authors, th.body, left, y, width, y + 100, "author")
    if placed:
        regions += placed[0]
        y = placed[1] + th.gap * 1.5
    if rng.random() < 0.6:
        inset = width * rng.choice([0.0, 0.08])
        text = "Abstract. " + paragraph(rng, 3, 6)
        placed = blocks.text_block(
            canvas, text, th.body, left + inset, y, width - 2 * inset, y + 300, "paragraph"
        )
        if placed:
            regions += placed[0]
            y = placed[1] + th.gap * 2
    return regions, y


def _flow(
    canvas: pymupdf.Shape, rng: random.Random, th: Theme, x: float, y: float, w: float, lim: float
) -> list[Region]:
    """Fill one column from ``y`` to ``lim`` with random blocks (figures/tables get captions)."""
    regions: list[Region] = []
    misses, last = 0, ""
    while y < lim - th.body.size * 2 and misses < 4:
        kind = rng.choices(_KINDS, weights=_WEIGHTS)[0]
        if kind == last == "heading":
            continue
        last = kind
        if kind == "heading":
            y += th.gap  # headings sit further from the block above
        # A table's caption goes above it, a figure's below.
        caption_above = kind == "table" and rng.random() < 0.7
        if caption_above:
            cap = blocks.draw_caption(canvas, rng, th, x, y, w, lim - 60, "Table")
            if cap is None:
                misses += 1
                continue
            regions += cap[0]
            y = cap[1] + th.gap * 0.6
        placed = _DRAW[kind](canvas, rng, th, x, y, w, lim)
        if placed is None:
            misses += 1
            continue
        regions += placed[0]
        y = placed[1] + th.gap
        if kind == "figure" and rng.random() < 0.8:
            cap = blocks.draw_caption(canvas, rng, th, x, y - th.gap * 0.4, w, lim)
            if cap is not None:
                regions += cap[0]
                y = cap[1] + th.gap
    return regions


def compose_page(page: pymupdf.Page, rng: random.Random, ds: DocStyle, index: int) -> list[Region]:
    """Draw one page (``index`` 0-based) of a document; returns every drawn region."""
    left, top, right, bottom = ds.margins
    w, h = ds.size
    width = w - left - right
    # One shape collects all vector drawing and text: a single content-stream write per page.
    canvas = page.new_shape()
    regions = _running(canvas, rng, ds, index + 1)
    y = top
    if index == 0 and rng.random() < 0.8:
        front, y = _front_matter(canvas, rng, ds, y)
        regions += front
    columns = ds.columns if rng.random() < 0.9 else rng.choice([1, 2])
    lim = h - bottom
    if columns > 1 and rng.random() < 0.25:
        # A full-width figure or table across the columns, as in two-column papers.
        draw = blocks.draw_figure if rng.random() < 0.6 else blocks.draw_table
        placed = draw(canvas, rng, ds.theme, left, y, width, min(lim, y + 260))
        if placed is not None:
            regions += placed[0]
            y = placed[1] + ds.theme.gap * 1.5
    col_w = (width - (columns - 1) * ds.gutter) / columns
    for c in range(columns):
        regions += _flow(canvas, rng, ds.theme, left + c * (col_w + ds.gutter), y, col_w, lim)
    canvas.commit()
    return regions
