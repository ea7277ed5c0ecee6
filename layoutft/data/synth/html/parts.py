"""HTML building blocks of the synthetic pages: labelled elements, tables, pictures, formulas.

Every annotated element carries ``data-l="<DocLayNet class>"``; elements whose region is
their whole box rather than their text (tables, pictures, ads) also carry ``data-g="box"``.
Sizes are CSS pixels (96 per inch). All randomness comes from the caller's
``random.Random``.
"""

from __future__ import annotations

import base64
import html
import io
import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from layoutft.data.synth.html.text import Words, amount

SERIF = ("Latin Modern Roman", "DejaVu Serif", "DejaVu Serif Condensed")
SANS = ("DejaVu Sans", "Latin Modern Sans", "DejaVu Sans Condensed")
MONO = ("DejaVu Sans Mono", "Latin Modern Mono")
MATH_FONTS = ("Latin Modern Math", "DejaVu Math TeX Gyre")


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def el(
    tag: str,
    content: str,
    label: str | None = None,
    cls: str = "",
    style: str = "",
    box: bool = False,
    extra: str = "",
) -> str:
    """``<tag data-l=label class style>content</tag>``; ``box``: the region is the element box."""
    attrs = []
    if label:
        attrs.append(f'data-l="{label}"')
    if box:
        attrs.append('data-g="box"')
    if cls:
        attrs.append(f'class="{cls}"')
    if style:
        attrs.append(f'style="{style}"')
    if extra:
        attrs.append(extra)
    return f"<{tag} {' '.join(attrs)}>{content}</{tag}>"


def colour(rng: random.Random, light: bool = False, dark: bool = False) -> str:
    """A random CSS colour: ``light`` for backgrounds/bands, ``dark`` for text/rules."""
    h = rng.randrange(360)
    if light:
        return f"hsl({h} {rng.randint(20, 70)}% {rng.randint(86, 96)}%)"
    if dark:
        return f"hsl({h} {rng.randint(30, 80)}% {rng.randint(18, 38)}%)"
    return f"hsl({h} {rng.randint(40, 85)}% {rng.randint(35, 60)}%)"


@dataclass
class Style:
    """One document's typography: fonts (CSS families), body size (px), colours, script."""

    body_font: str
    head_font: str
    mono_font: str
    size: float
    leading: float
    accent: str
    text_colour: str
    justify: bool
    script: str = "latin"
    rtl: bool = False
    extra_fonts: tuple[str, ...] = field(default_factory=tuple)

    def family(self, font: str) -> str:
        fonts = [*self.extra_fonts, font, "DejaVu Sans", "sans-serif"]
        return ", ".join(f'"{f}"' if " " in f else f for f in fonts)


def random_style(rng: random.Random, script: str, extra_fonts: tuple[str, ...] = ()) -> Style:
    serif_body = rng.random() < 0.6
    body = rng.choice(SERIF if serif_body else SANS)
    head = rng.choice(SANS) if rng.random() < 0.6 else body
    return Style(
        body_font=body,
        head_font=head,
        mono_font=rng.choice(MONO),
        size=round(rng.uniform(11.5, 15.0), 1),
        leading=round(rng.uniform(1.2, 1.55), 2),
        accent=colour(rng, dark=rng.random() < 0.5),
        text_colour=rng.choice(("#000", "#111", "#222", "#1a1a2e", "#2b2b2b")),
        justify=rng.random() < 0.6,
        script=script,
        rtl=script in ("arabic", "hebrew"),
        extra_fonts=extra_fonts,
    )


def base_css(s: Style, width: float, height: float) -> str:
    """Page-wide CSS: the page box, fonts, and the classes the parts below use."""
    align = "justify" if s.justify else "start"
    return f"""
html,body{{margin:0;padding:0;background:#fff}}
#page{{position:relative;width:{width}px;height:{height}px;overflow:hidden;background:#fff;
 font-family:{s.family(s.body_font)};font-size:{s.size}px;line-height:{s.leading};
 color:{s.text_colour};direction:{"rtl" if s.rtl else "ltr"}}}
.flow{{position:absolute;overflow:hidden}}
.flow>*{{margin-top:0}}
p{{margin:0 0 {0.6 * s.size:.1f}px 0;text-align:{align}}}
h1,h2,h3,h4{{font-family:{s.family(s.head_font)};
 margin:{0.9 * s.size:.1f}px 0 {0.45 * s.size:.1f}px;
 line-height:1.2;break-after:avoid;break-inside:avoid}}
.li,.cap,.fml,.tbl,.pic,table,figure,h1,h2,h3,.nb{{break-inside:avoid}}
ul.l,ol.l{{list-style:none;margin:0 0 {0.6 * s.size:.1f}px 0;padding:0}}
.li{{margin:0 0 {0.25 * s.size:.1f}px 0;padding-inline-start:1.4em;text-indent:-1.4em}}
.li .mk{{display:inline-block;width:1.4em;text-indent:0}}
.cap{{font-size:0.86em;margin:4px 0 {0.8 * s.size:.1f}px;line-height:1.3}}
.fn{{font-size:0.8em;line-height:1.3;margin:0 0 3px 0}}
.fml{{margin:{0.5 * s.size:.1f}px 0;display:flex;align-items:center;justify-content:center;gap:2em}}
.fml math{{font-family:"{MATH_FONTS[0]}","{MATH_FONTS[1]}",math;font-size:1.1em}}
figure{{margin:{0.4 * s.size:.1f}px 0;padding:0}}
.pic{{display:block;max-width:100%}}
table{{border-collapse:collapse;font-size:0.9em;line-height:1.25;margin:0 0 {0.4 * s.size:.1f}px}}
td,th{{padding:2px 6px}}
td.n,th.n{{text-align:end;font-variant-numeric:tabular-nums;white-space:nowrap}}
pre{{font-family:{s.family(s.mono_font)};font-size:0.82em;line-height:1.35;margin:0 0 8px;
 white-space:pre;direction:ltr;text-align:left}}
"""


def page_html(css: str, body: str, lang: str = "en") -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<style>{css}</style></head><body><div id=page>{body}</div></body></html>"
    )


# -- text blocks ------------------------------------------------------------------------


def paragraph(w: Words, low: int = 2, high: int = 6, style: str = "") -> str:
    return el("p", esc(w.paragraph(low, high)), "Text", style=style)


def heading(w: Words, level: int = 2, number: str = "", label: str = "Section-header") -> str:
    text = (number + " " if number else "") + w.title(2, 6)
    return el(f"h{level}", esc(text), label)


def list_items(
    w: Words, rng: random.Random, n: int, marker: str = "bullet", nested: bool = True
) -> str:
    """A list of ``n`` items, each its own List-item (marker included in its box)."""
    bullet = rng.choice(("•", "–", "▪", "◦", "›", "✓"))
    items = []
    for i in range(n):
        if marker == "bullet":
            mk = bullet
        elif marker == "alpha":
            mk = f"{chr(97 + i % 26)})"
        elif marker == "roman":
            mk = f"({('i', 'ii', 'iii', 'iv', 'v', 'vi', 'vii', 'viii', 'ix', 'x')[i % 10]})"
        else:
            mk = f"{i + 1}."
        text = w.sentence(4, 22) if rng.random() < 0.7 else w.sentence(3, 8)
        items.append(el("li", f'<span class="mk">{esc(mk)}</span>{esc(text)}', "List-item", "li"))
        if nested and rng.random() < 0.12:
            sub = [
                el(
                    "li",
                    f'<span class="mk">{esc("–")}</span>{esc(w.sentence(3, 12))}',
                    "List-item",
                    "li",
                    style="margin-inline-start:1.6em",
                )
                for _ in range(rng.randint(1, 3))
            ]
            items.extend(sub)
    return el("ul", "".join(items), cls="l grp")


def caption(w: Words, prefix: str, n: int) -> str:
    return el("div", f"<b>{esc(prefix)} {n}.</b> {esc(w.sentence(4, 20))}", "Caption", "cap")


def footnote(w: Words, n: int | str) -> str:
    return el("div", f"<sup>{esc(str(n))}</sup> {esc(w.sentence(5, 24))}", "Footnote", "fn")


# -- formulas ---------------------------------------------------------------------------

_GREEK = "αβγδεθλμσφψω"


def _mi(rng: random.Random) -> str:
    return f"<mi>{rng.choice('abcdfghkmnpqrstuvwxyz' + _GREEK)}</mi>"


def _term(rng: random.Random, depth: int = 0) -> str:
    r = rng.random()
    if depth > 1 or r < 0.3:
        base = _mi(rng)
        if rng.random() < 0.4:
            return f"<msub>{base}<mn>{rng.randint(0, 9)}</mn></msub>"
        if rng.random() < 0.3:
            return f"<msup>{base}<mn>{rng.randint(2, 4)}</mn></msup>"
        return base
    if r < 0.5:
        top, bottom = _expr(rng, depth + 1), _expr(rng, depth + 1)
        return f"<mfrac><mrow>{top}</mrow><mrow>{bottom}</mrow></mfrac>"
    if r < 0.62:
        return f"<msqrt>{_expr(rng, depth + 1)}</msqrt>"
    if r < 0.8:
        op = rng.choice("∑∏∫")
        return (
            f"<mrow><munderover><mo>{op}</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow>"
            f"<mi>n</mi></munderover>{_term(rng, depth + 1)}</mrow>"
        )
    return f"<mrow><mo>(</mo>{_expr(rng, depth + 1)}<mo>)</mo></mrow>"


def _expr(rng: random.Random, depth: int = 0) -> str:
    parts = [_term(rng, depth)]
    for _ in range(rng.randint(0, 3 - depth)):
        parts.append(f"<mo>{rng.choice('+−·=≤')}</mo>")
        parts.append(_term(rng, depth))
    return "".join(parts)


def formula(rng: random.Random, number: int | None) -> str:
    """A display formula (MathML, rendered natively), its equation number inside the box."""
    body = f"<mrow>{_mi(rng)}<mo>=</mo>{_expr(rng)}</mrow>"
    math = f'<math display="block">{body}</math>'
    num = f"<span>({number})</span>" if number is not None else ""
    return el("div", math + num, "Formula", "fml")


def inline_math(rng: random.Random) -> str:
    return f"<math>{_term(rng, 1)}</math>"


# -- tables -----------------------------------------------------------------------------


def data_table(
    w: Words, rng: random.Random, rows: int, cols: int, s: Style, width: str = "100%"
) -> str:
    """A data table: header row, text first column, numbers; ruled, zebra or shaded."""
    look = rng.choice(("booktabs", "grid", "zebra", "band", "plain"))
    band = colour(rng, light=True) if look != "band" else s.accent
    head_style = (
        f"background:{s.accent};color:#fff"
        if look == "band"
        else f"background:{band}"
        if look == "grid" and rng.random() < 0.5
        else ""
    )
    border = "1px solid #555" if look == "grid" else "0"
    css = f"width:{width};" + (
        "border-top:1.5px solid #000;border-bottom:1.5px solid #000;" if look == "booktabs" else ""
    )
    head = "".join(
        f'<th class="{"n" if c else ""}" style="border:{border};{head_style}">'
        f"{esc(w.title(1, 2))}</th>"
        for c in range(cols)
    )
    zebra = colour(rng, light=True)
    body = []
    for r in range(rows):
        bg = f"background:{zebra};" if look == "zebra" and r % 2 else ""
        cells = [f'<td style="border:{border};{bg}">{esc(w.title(1, 3))}</td>']
        for _ in range(cols - 1):
            v = rng.choice((f"{rng.uniform(0, 100):.{rng.randint(0, 2)}f}", amount(rng, 4)))
            cells.append(f'<td class="n" style="border:{border};{bg}">{v}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    rule = "border-bottom:1px solid #000" if look == "booktabs" else ""
    return (
        f'<table data-l="Table" data-g="box" class="tbl" style="{css}">'
        f'<thead><tr style="{rule}">{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def statement_table(w: Words, rng: random.Random, s: Style, years: int = 2) -> str:
    """A financial statement: indented row labels, dot leaders, subtotal and total rows,
    a notes column sometimes, borderless/shaded/zebra/coloured header band looks."""
    look = rng.choice(("borderless", "shaded", "zebra", "band"))
    leaders = rng.random() < 0.4
    notes = rng.random() < 0.4
    shade = colour(rng, light=True)
    year = rng.randint(2005, 2030)
    cols = [str(year - i) for i in range(years)]
    head_bg = (
        f"background:{s.accent};color:#fff;"
        if look == "band"
        else (f"background:{shade};" if look == "shaded" else "")
    )
    ths = "".join(f'<th class="n" style="{head_bg}">{c}</th>' for c in cols)
    note_th = f'<th style="{head_bg}">Note</th>' if notes else ""
    rows = [f'<tr><th style="text-align:start;{head_bg}"></th>{note_th}{ths}</tr>']
    k = 0
    for _group in range(rng.randint(2, 4)):
        rows.append(f'<tr><td colspan="{years + 1 + notes}"><b>{esc(w.title(1, 4))}</b></td></tr>')
        for _ in range(rng.randint(2, 6)):
            k += 1
            bg = f"background:{shade};" if look == "zebra" and k % 2 else ""
            indent = rng.choice((1.0, 1.0, 2.0))
            label = esc(w.title(1, 5))
            if leaders:
                label = (
                    f'<span style="display:flex"><span>{label}</span><span style="flex:1;'
                    f'overflow:hidden;white-space:nowrap;opacity:.6">{" ." * 60}</span></span>'
                )
            note = f'<td style="{bg}">{rng.randint(1, 30)}</td>' if notes else ""
            nums = "".join(f'<td class="n" style="{bg}">{amount(rng, 5)}</td>' for _ in cols)
            rows.append(
                f'<tr><td style="padding-inline-start:{indent}em;'
                f'{bg}">{label}</td>{note}{nums}</tr>'
            )
        sub = "".join(
            f'<td class="n" style="border-top:1px solid #000;'
            f'font-weight:bold">{amount(rng, 6, 0.05)}</td>'
            for _ in cols
        )
        rows.append(
            f"<tr><td><b>Total {esc(w.word())}</b></td>{'<td></td>' if notes else ''}{sub}</tr>"
        )
    total = "".join(
        f'<td class="n" style="border-top:1px solid #000;border-bottom:3px double #000;'
        f'font-weight:bold">{amount(rng, 7, 0.05)}</td>'
        for _ in cols
    )
    rows.append(
        f"<tr><td><b>{esc(w.title(1, 3))}</b></td>{'<td></td>' if notes else ''}{total}</tr>"
    )
    return (
        f'<table data-l="Table" data-g="box" class="tbl" style="width:100%">{"".join(rows)}</table>'
    )


# -- pictures ---------------------------------------------------------------------------


def chart_svg(rng: random.Random, width: int, height: int, s: Style) -> str:
    """An inline SVG chart (bars, lines, pie or scatter) with axes and tick labels."""
    kind = rng.choice(("bar", "line", "pie", "scatter"))
    cols = [colour(rng) for _ in range(4)]
    parts = []
    if kind == "pie":
        cx, cy, r = width / 2, height / 2, min(width, height) * 0.4
        vals = [rng.random() + 0.2 for _ in range(rng.randint(3, 6))]
        total, angle = sum(vals), 0.0
        for i, v in enumerate(vals):
            a2 = angle + v / total * 2 * np.pi
            x1, y1 = cx + r * np.cos(angle), cy + r * np.sin(angle)
            x2, y2 = cx + r * np.cos(a2), cy + r * np.sin(a2)
            big = int(a2 - angle > np.pi)
            parts.append(
                f'<path d="M{cx:.1f},{cy:.1f} L{x1:.1f},{y1:.1f} A{r:.1f},{r:.1f} 0 {big} 1 '
                f'{x2:.1f},{y2:.1f} Z" fill="{cols[i % 4]}" stroke="#fff"/>'
            )
            angle = a2
    else:
        x0, y0, x1, y1 = 34, 8, width - 8, height - 22
        parts.append(
            f'<path d="M{x0},{y0} V{y1} H{x1}" stroke="#333" fill="none" stroke-width="1"/>'
        )
        for t in range(5):
            y = y1 - t * (y1 - y0) / 4
            parts.append(
                f'<text x="{x0 - 4}" y="{y + 3:.1f}" font-size="9" '
                f'text-anchor="end">{t * 25}</text>'
            )
        n = rng.randint(4, 12)
        if kind == "bar":
            bw = (x1 - x0) / n
            for i in range(n):
                h = rng.uniform(0.1, 1) * (y1 - y0)
                parts.append(
                    f'<rect x="{x0 + i * bw + bw * 0.15:.1f}" y="{y1 - h:.1f}" '
                    f'width="{bw * 0.7:.1f}" height="{h:.1f}" fill="{cols[0]}"/>'
                )
        else:
            for series in range(rng.randint(1, 3) if kind == "line" else 1):
                pts = [
                    (x0 + (i + 0.5) * (x1 - x0) / n, y1 - rng.uniform(0.05, 0.95) * (y1 - y0))
                    for i in range(n if kind == "line" else n * 4)
                ]
                if kind == "line":
                    d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                    parts.append(
                        f'<polyline points="{d}" fill="none" stroke="{cols[series]}" '
                        f'stroke-width="2"/>'
                    )
                else:
                    pts = [(x0 + rng.uniform(0, 1) * (x1 - x0), y) for _, y in pts]
                    parts.extend(
                        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{cols[0]}"/>'
                        for x, y in pts
                    )
        for i in range(0, n, max(1, n // 6)):
            parts.append(
                f'<text x="{x0 + (i + 0.5) * (x1 - x0) / n:.1f}" y="{y1 + 13}" font-size="9" '
                f'text-anchor="middle">{i + 1}</text>'
            )
    return (
        f'<svg data-l="Picture" data-g="box" class="pic" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">{"".join(parts)}</svg>'
    )


def photo(rng: random.Random, width: int, height: int) -> str:
    """A photo-like raster: a smooth random colour field with noise and a few blobs, as a
    small PNG (data URI) the browser scales up (smoothly) to ``width`` x ``height``."""
    gw, gh = 48, max(8, round(48 * height / max(width, 1)))
    np_rng = np.random.default_rng(rng.randrange(2**32))
    coarse = np_rng.uniform(0, 255, size=(4, 4, 3)).astype(np.uint8)
    img = Image.fromarray(coarse).resize((gw, gh), Image.Resampling.BICUBIC)
    arr = np.asarray(img).astype(np.int16)
    yy, xx = np.mgrid[0:gh, 0:gw]
    for _ in range(rng.randint(1, 4)):
        cx, cy, r = rng.uniform(0, gw), rng.uniform(0, gh), rng.uniform(3, gw / 3)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        arr[mask] = np_rng.integers(0, 255, size=3)
    arr += np_rng.integers(-12, 12, size=arr.shape, dtype=np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    return (
        f'<img data-l="Picture" data-g="box" class="pic" width="{width}" height="{height}" '
        f'src="data:image/png;base64,{data}" style="width:{width}px;height:{height}px">'
    )


def picture(rng: random.Random, width: int, height: int, s: Style) -> str:
    return chart_svg(rng, width, height, s) if rng.random() < 0.55 else photo(rng, width, height)
