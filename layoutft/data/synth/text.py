"""Random words and measured text placement for the synthetic pages.

All lengths are PDF points; y grows downwards (PyMuPDF page space, top-left origin).
Ink extents come from the Base-14 fonts' glyph boxes, so a block's box is the tight
extent of the glyphs actually drawn, not of the font's ascender/descender.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import pymupdf

_WORDS_TEXT = """
layout document region page table figure caption model network detection analysis
method result value sample column section paper study training data feature anchor
proposal pyramid block report image line text list title set evaluation baseline
accuracy precision recall dataset annotation segment object instance mask score
threshold parameter experiment approach system process structure signal response
measure quality estimate variance function model input output layer weight vector
matrix sequence context history theory practice policy market growth rate period
"""
WORDS = tuple(_WORDS_TEXT.split())

#: Body fonts (regular, bold) by family, Base-14 names PyMuPDF knows without embedding.
FAMILIES: dict[str, tuple[str, str]] = {
    "helv": ("helv", "hebo"),
    "tiro": ("tiro", "tibo"),
    "cour": ("cour", "cobo"),
}
ITALIC = {"helv": "heit", "tiro": "tiit", "cour": "coit"}


@lru_cache(maxsize=16)
def font(name: str) -> pymupdf.Font:
    """The PyMuPDF font object of a Base-14 short name (cached: metrics lookups are hot)."""
    return pymupdf.Font(name)


@lru_cache(maxsize=8192)
def _glyph(name: str, char: str) -> tuple[float, float, float, float, float]:
    """(x0, y_low, x1, y_high, advance) of one glyph at size 1, font space (y up)."""
    f = font(name)
    box = f.glyph_bbox(ord(char))
    return box.x0, box.y0, box.x1, box.y1, f.glyph_advance(ord(char))


def sentence(rng: random.Random, low: int = 5, high: int = 16) -> str:
    """One capitalised sentence of ``low..high`` random words ending with a full stop."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    if rng.random() < 0.15:
        words.insert(rng.randrange(1, len(words)), f"{rng.randint(2, 999)}")
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, low: int = 2, high: int = 7) -> str:
    """Several sentences joined by spaces."""
    return " ".join(sentence(rng) for _ in range(rng.randint(low, high)))


def text_width(text: str, fontname: str, size: float) -> float:
    """Advance width of ``text`` in points."""
    return sum(_glyph(fontname, c)[4] for c in text) * size


def wrap(text: str, fontname: str, size: float, width: float) -> list[str]:
    """Greedy line breaking of ``text`` into lines no wider than ``width`` points.

    A single word longer than ``width`` stays on its own (over-long) line; callers pick
    widths far above any word length.
    """
    space = text_width(" ", fontname, size)
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word in text.split():
        w = text_width(word, fontname, size)
        if current and used + space + w > width:
            lines.append(" ".join(current))
            current, used = [], 0.0
        used = w if not current else used + space + w
        current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines


def ink_extent(text: str, fontname: str, size: float) -> tuple[float, float, float, float]:
    """Tight glyph extent of one line drawn with its origin (baseline start) at (0, 0).

    Returns ``(x0, y0, x1, y1)`` in points, y down (so ``y0`` is negative: above the
    baseline). Spaces carry no ink.
    """
    x = 0.0
    xs0, xs1, ys0, ys1 = [], [], [], []
    for c in text:
        gx0, gy0, gx1, gy1, adv = _glyph(fontname, c)
        if not c.isspace() and gx1 > gx0:
            xs0.append(x + gx0 * size)
            xs1.append(x + gx1 * size)
            ys0.append(-gy1 * size)
            ys1.append(-gy0 * size)
        x += adv * size
    if not xs0:
        return 0.0, 0.0, 0.0, 0.0
    return min(xs0), min(ys0), max(xs1), max(ys1)


@dataclass(frozen=True)
class TextStyle:
    """Font, size (pt), line pitch (pt between baselines) and RGB colour (0-1 floats)."""

    fontname: str
    size: float
    pitch: float
    color: tuple[float, float, float] = (0.0, 0.0, 0.0)


def place_lines(
    canvas: pymupdf.Shape, lines: list[str], style: TextStyle, x: float, top: float
) -> tuple[float, float, float, float]:
    """Draw ``lines`` left-aligned with the first line's ink starting near ``top``.

    The first baseline sits one ascent (``0.75 * size``) below ``top``; each next one is
    ``style.pitch`` lower. Returns the tight ink box ``(x0, y0, x1, y1)`` of all lines in
    page points; the caller treats ``y1`` (bottom of the lowest descender) as the block end.
    """
    base0 = top + 0.75 * style.size
    # One insert_text call per block: PyMuPDF puts line i at base0 + i * size * lineheight.
    canvas.insert_text(
        (x, base0),
        "\n".join(lines),
        fontname=style.fontname,
        fontsize=style.size,
        lineheight=style.pitch / style.size,
        color=style.color,
    )
    boxes = [ink_extent(line, style.fontname, style.size) for line in lines]
    inked = [(b, i * style.pitch) for i, b in enumerate(boxes) if b[2] > b[0]]
    x0 = min(b[0] for b, _ in inked) + x
    x1 = max(b[2] for b, _ in inked) + x
    y0 = min(b[1] + dy for b, dy in inked) + base0
    y1 = max(b[3] + dy for b, dy in inked) + base0
    return x0, y0, x1, y1
