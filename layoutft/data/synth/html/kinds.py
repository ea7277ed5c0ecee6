"""Page generators, one per kind of document: HTML + CSS with randomised layout and content.

Each generator takes the document (:class:`Doc`: kind, style, title, page size and its
per-document choices) and a page index and returns the page's full HTML. Content flows
into ``.flow`` boxes that ``collect.js`` prunes to what fits, so generators make a little
more than a page holds. All sizes are CSS px (96 per inch).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from layoutft.data.synth.html import parts as P
from layoutft.data.synth.html.parts import el, esc
from layoutft.data.synth.html.text import SCRIPTS, Words, amount

A4 = (794, 1123)
LETTER = (816, 1056)


@dataclass
class Doc:
    """One document: its kind, typography, title, page size (CSS px) and choices."""

    kind: str
    style: P.Style
    words: Words
    title: str
    size: tuple[int, int]
    pages: int
    opts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    """What a generator fills: absolutely placed parts and CSS beyond the base."""

    doc: Doc
    k: int
    rng: random.Random
    body: list[str] = field(default_factory=list)
    css: list[str] = field(default_factory=list)
    w: Words = field(init=False)

    def __post_init__(self) -> None:
        # the page's own rng with the document's vocabulary: a page never depends on the
        # pages before it, so a resumed run makes the same pages
        self.w = Words(self.rng, self.doc.style.script, self.doc.words.vocab)

    def html(self) -> str:
        s = self.doc.style
        width, height = self.doc.size
        css = P.base_css(s, width, height) + "".join(self.css)
        lang = {"latin": "en", "greek": "el", "cyrillic": "ru", "arabic": "ar", "hebrew": "he"}
        return P.page_html(css, "".join(self.body), lang.get(s.script, "zh"))

    def place(
        self, html: str, x: float, y: float, w: float, h: float | None = None, style: str = ""
    ) -> None:
        hh = f"height:{h:.0f}px;" if h is not None else ""
        self.body.append(
            f'<div style="position:absolute;left:{x:.0f}px;top:{y:.0f}px;width:{w:.0f}px;'
            f'{hh}{style}">{html}</div>'
        )

    def flow(
        self,
        blocks: list[str],
        x: float,
        y: float,
        w: float,
        h: float,
        cols: int = 1,
        gap: float = 24,
        rule: bool = False,
    ) -> None:
        colrule = "column-rule:1px solid #999;" if rule else ""
        self.body.append(
            f'<div class="flow" style="left:{x:.0f}px;top:{y:.0f}px;width:{w:.0f}px;'
            f"height:{h:.0f}px;column-count:{cols};column-gap:{gap:.0f}px;column-fill:auto;"
            f'{colrule}">{"".join(blocks)}</div>'
        )


def _margins(rng: random.Random, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """left, top, right, bottom page margins (CSS px)."""
    m = rng.uniform(0.06, 0.12) * size[0]
    return (
        m,
        rng.uniform(0.05, 0.09) * size[1],
        m * rng.uniform(0.8, 1.2),
        rng.uniform(0.05, 0.09) * size[1],
    )


def _chrome(
    p: Page,
    margins: tuple[float, float, float, float],
    head: str | None,
    number: str | None,
    number_top: bool = False,
) -> None:
    """Running head (Page-header) and page number (Page-footer; Page-header when on top)."""
    left, top, right, bottom = margins
    width = p.doc.size[0] - left - right
    small = f"font-size:{p.doc.style.size * 0.8:.1f}px;line-height:1.2;"
    align = p.rng.choice(("left", "center", "right"))
    if head:
        rule = "border-bottom:0.8px solid #777;padding-bottom:3px;" if p.rng.random() < 0.5 else ""
        inner = el("span", esc(head), "Page-header")
        p.place(inner, left, top * 0.45, width, style=small + rule + f"text-align:{align}")
    if number:
        y = top * 0.45 if number_top else p.doc.size[1] - bottom * 0.6
        side = (
            ("right" if p.k % 2 == 0 else "left")
            if number_top or p.rng.random() < 0.5
            else "center"
        )
        label = "Page-header" if number_top else "Page-footer"
        p.place(el("span", esc(number), label), left, y, width, style=small + f"text-align:{side}")


def _body_blocks(
    p: Page,
    n: int,
    sections: bool = True,
    figures: float = 0.15,
    tables: float = 0.1,
    formulas: float = 0.0,
    lists: float = 0.12,
    fig_width: float = 300,
) -> list[str]:
    """A run of mixed blocks: paragraphs, headings, lists, figures, tables, formulas."""
    rng, w, s = p.rng, p.w, p.doc.style
    blocks: list[str] = []
    sec = rng.randint(1, 9)
    fig = rng.randint(1, 9)
    eq = rng.randint(1, 30)
    numbered = rng.random() < 0.5
    for _ in range(n):
        r = rng.random()
        if sections and r < 0.1:
            sec += 1
            blocks.append(P.heading(w, rng.choice((2, 3)), f"{sec}." if numbered else ""))
        elif r < 0.1 + figures:
            fig += 1
            wd = int(fig_width * rng.uniform(0.6, 1.0))
            pic = P.picture(rng, wd, int(wd * rng.uniform(0.45, 0.8)), s)
            cap = P.caption(w, rng.choice(("Figure", "Fig.", "Exhibit")), fig)
            blocks.append(f"<figure>{pic}{cap}</figure>")
        elif r < 0.1 + figures + tables:
            fig += 1
            cap = P.caption(w, "Table", fig)
            table = P.data_table(w, rng, rng.randint(3, 8), rng.randint(2, 5), s)
            blocks.append(f'<div class="nb">{cap}{table}</div>')
        elif r < 0.1 + figures + tables + formulas:
            eq += 1
            blocks.append(P.formula(rng, eq if rng.random() < 0.7 else None))
        elif r < 0.1 + figures + tables + formulas + lists:
            marker = rng.choice(("bullet", "number", "alpha"))
            blocks.append(P.list_items(w, rng, rng.randint(2, 6), marker))
        else:
            blocks.append(P.paragraph(w, 2, 6))
    return blocks


# -- kinds ------------------------------------------------------------------------------


def report(p: Page) -> None:
    """Annual / financial report: statements with many table looks, charts, key figures."""
    rng, w, s, d = p.rng, p.w, p.doc.style, p.doc
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    width = d.size[0] - left - right
    if p.k == 0 and rng.random() < 0.6:
        p.place(
            el("h1", esc(d.title), "Title", style="font-size:2.4em"), left, d.size[1] * 0.25, width
        )
        p.place(
            el(
                "p",
                esc(w.title(2, 5) + f" {rng.randint(2005, 2030)}"),
                "Text",
                style="font-size:1.4em;color:" + s.accent,
            ),
            left,
            d.size[1] * 0.4,
            width,
        )
        p.place(
            P.picture(rng, int(width * 0.8), int(d.size[1] * 0.3), s), left, d.size[1] * 0.5, width
        )
        return
    _chrome(p, margins, d.opts["head"], str(p.k + d.opts["first_page"]))
    blocks: list[str] = [P.heading(w, 2)]
    for _ in range(rng.randint(3, 6)):
        r = rng.random()
        if r < 0.45:
            blocks.append(P.statement_table(w, rng, s, rng.choice((1, 2, 2, 3))))
            if rng.random() < 0.5:
                blocks.append(P.footnote(w, rng.choice(("*", "a", "1"))))
        elif r < 0.6:  # side-by-side tables
            t1 = P.data_table(w, rng, rng.randint(3, 6), rng.randint(2, 3), s)
            t2 = P.data_table(w, rng, rng.randint(3, 6), rng.randint(2, 3), s)
            blocks.append(
                f'<div class="nb" style="display:flex;gap:20px;align-items:flex-start">'
                f'<div style="flex:1">{t1}</div><div style="flex:1">{t2}</div></div>'
            )
        elif r < 0.75:  # key figures
            cells = "".join(
                f'<div style="flex:1;border-top:3px solid {s.accent};padding-top:4px">'
                + el(
                    "div",
                    f'<b style="font-size:1.6em">{amount(rng, 4, 0)}</b><br>{esc(w.words(2, 5))}',
                    "Text",
                )
                + "</div>"
                for _ in range(rng.randint(2, 4))
            )
            blocks.append(
                f'<div class="nb" style="display:flex;gap:16px;margin:10px 0">{cells}</div>'
            )
        elif r < 0.88:
            blocks.append(
                f"<figure>{P.chart_svg(rng, int(width * 0.6), int(width * 0.3), s)}"
                f"{P.caption(w, 'Chart', rng.randint(1, 20))}</figure>"
            )
        else:
            blocks.extend([P.heading(w, 3), P.paragraph(w)])
        blocks.append(P.paragraph(w, 1, 4))
    cols = d.opts["cols"]
    p.flow(blocks, left, top, width, d.size[1] - top - bottom, cols)


def newspaper(p: Page) -> None:
    """Broadsheet page: masthead, many columns, headlines spanning columns, photos, ads,
    pull quotes, bylines."""
    rng, w, s, d = p.rng, p.w, p.doc.style, p.doc
    left, top, right, bottom = _margins(rng, d.size)
    left, right, top = left * 0.5, right * 0.5, top * 0.6
    width = d.size[0] - left - right
    y = top
    mast = P.SERIF[0] if rng.random() < 0.5 else s.head_font
    if p.k == 0:
        p.place(
            el(
                "div",
                esc(d.title),
                "Title",
                style=f"font-family:'{mast}';font-size:56px;line-height:1;font-weight:bold;text-align:center",
            ),
            left,
            y,
            width,
        )
        y += 66
        date = (
            f"{rng.randint(1, 28)} {w.word()} {rng.randint(1950, 2030)} · No. "
            f"{rng.randint(1, 9999)}"
        )
        p.place(
            el("div", esc(date), "Page-header", style="font-size:11px;text-align:center"),
            left,
            y,
            width,
            style="border-top:2px solid #000;border-bottom:1px solid #000;padding:2px 0",
        )
        y += 26
    else:
        _chrome(p, (left, top, right, bottom), f"{d.title} · {w.title(1, 2)}", str(p.k + 1), True)
        y += 16
    cols = d.opts["cols"]
    gap = 14
    blocks: list[str] = []
    for a in range(rng.randint(3, 5)):
        span = "column-span:all;" if a == 0 or rng.random() < 0.3 else ""
        size = rng.uniform(26, 40) if a == 0 else rng.uniform(17, 24)
        blocks.append(
            el(
                "h2",
                esc(w.title(4, 10)),
                "Section-header",
                style=f"{span}font-size:{size:.0f}px;margin-top:6px",
            )
        )
        blocks.append(
            el(
                "p",
                f"<i>{esc('By ' + w.name())}</i>",
                "Text",
                style="font-size:0.8em;margin:0 0 4px",
            )
        )
        for _ in range(rng.randint(7, 14)):
            r = rng.random()
            if r < 0.12:
                pw = int((width - gap * (cols - 1)) / cols)
                blocks.append(
                    f"<figure>{P.photo(rng, pw, int(pw * rng.uniform(0.6, 1.0)))}"
                    f"{el('div', esc(w.sentence(4, 14)), 'Caption', 'cap')}</figure>"
                )
            elif r < 0.2:
                blocks.append(
                    el(
                        "div",
                        esc("“" + w.sentence(5, 14) + "”"),
                        "Text",
                        "nb",
                        style=f"font-size:1.35em;font-style:italic;border-top:2px solid {s.accent};"
                        f"border-bottom:2px solid {s.accent};padding:6px 0;margin:8px 0;"
                        f"color:{s.accent}",
                    )
                )
            elif r < 0.27:
                blocks.append(_ad(p, int((width - gap * (cols - 1)) / cols)))
            else:
                blocks.append(P.paragraph(w, 1, 4, style="text-indent:1em;margin:0"))
    p.flow(blocks, left, y, width, d.size[1] - y - bottom * 0.6, cols, gap, rule=rng.random() < 0.5)


def _ad(p: Page, width: int) -> str:
    """An advertisement: a framed, coloured box of big type and a picture, one Picture."""
    rng, w, s = p.rng, p.w, p.doc.style
    bg = P.colour(rng, light=rng.random() < 0.6)
    inner = (
        f'<div style="font-size:1.6em;font-weight:bold;line-height:1.1">{esc(w.title(1, 4))}</div>'
        + (
            P.photo(rng, width - 20, int(width * 0.4)).replace('data-l="Picture" data-g="box" ', "")
            if rng.random() < 0.5
            else ""
        )
        + (
            f'<div style="font-size:0.9em">{esc(w.sentence(3, 8))} '
            f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}</div>"
        )
    )
    return el(
        "div",
        inner,
        "Picture",
        "nb",
        box=True,
        style=(
            f"background:{bg};border:2px solid {s.accent};padding:8px;margin:8px 0;"
            f"text-align:center"
        ),
    )


def magazine(p: Page) -> None:
    """Magazine spread page: big headline, standfirst, floated photos the text wraps
    around, pull quotes, two or three columns."""
    rng, w, s, d = p.rng, p.w, p.doc.style, p.doc
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    width = d.size[0] - left - right
    _chrome(p, margins, f"{d.title.upper()} | {w.title(1, 2)}", str(p.k + rng.randint(10, 90)))
    blocks: list[str] = []
    if rng.random() < 0.6:
        blocks.append(
            el(
                "h1",
                esc(w.title(3, 8)),
                "Section-header",
                style=f"column-span:all;font-size:{rng.uniform(30, 46):.0f}px;color:{s.accent}",
            )
        )
        blocks.append(
            el(
                "p",
                esc(w.sentence(10, 25)),
                "Text",
                style="column-span:all;font-size:1.25em;font-style:italic",
            )
        )
    cols = d.opts["cols"]
    colw = (width - 20 * (cols - 1)) / cols
    for _ in range(rng.randint(20, 30)):
        r = rng.random()
        if r < 0.2:
            side = rng.choice(("left", "right"))
            fw = (
                int(colw * rng.uniform(0.45, 0.6))
                if cols > 1
                else int(width * rng.uniform(0.3, 0.45))
            )
            margin = "0 12px 6px 0" if side == "left" else "0 0 6px 12px"
            blocks.append(
                f'<figure style="float:{side};width:{fw}px;margin:{margin}">'
                f"{P.photo(rng, fw, int(fw * rng.uniform(0.7, 1.2)))}"
                f"{el('div', esc(w.sentence(3, 9)), 'Caption', 'cap')}</figure>"
            )
            blocks.append(P.paragraph(w, 4, 8))
        elif r < 0.3:
            blocks.append(
                el(
                    "div",
                    esc("“" + w.sentence(6, 14) + "”"),
                    "Text",
                    "nb",
                    style=f"font-family:'{s.head_font}';font-size:1.5em;line-height:1.2;"
                    f"color:{s.accent};margin:10px 0;text-align:center",
                )
            )
        elif r < 0.4:
            blocks.append(P.heading(w, 3))
        else:
            blocks.append(P.paragraph(w, 2, 6))
    p.flow(blocks, left, top, width, d.size[1] - top - bottom, cols, 20)


def slides(p: Page) -> None:
    """A 16:9 presentation slide: title slide first, then title + bullets/chart/table."""
    rng, w, s, d = p.rng, p.w, p.doc.style, p.doc
    W, H = d.size
    band = d.opts["band"]
    if band:
        p.body.append(
            f'<div style="position:absolute;left:0;top:0;width:{W}px;height:{H * 0.16:.0f}px;'
            f'background:{s.accent}"></div>'
        )
    tcol = "color:#fff;" if band else f"color:{s.accent};"
    if p.k == 0:
        p.place(
            el(
                "div",
                esc(d.title),
                "Title",
                style="font-size:54px;font-weight:bold;line-height:1.1",
            ),
            W * 0.08,
            H * 0.32,
            W * 0.84,
            style="color:" + s.accent,
        )
        p.place(
            el("div", esc(w.name() + " · " + w.title(1, 3)), "Text", style="font-size:26px"),
            W * 0.08,
            H * 0.62,
            W * 0.84,
        )
    else:
        p.place(
            el(
                "div",
                esc(w.title(2, 7)),
                "Section-header",
                style="font-size:38px;font-weight:bold;line-height:1.1",
            ),
            W * 0.06,
            H * 0.04,
            W * 0.88,
            style=tcol,
        )
        items = "".join(
            el(
                "div",
                f'<span class="mk">{esc(d.opts["bullet"])}</span>{esc(w.sentence(3, 12))}',
                "List-item",
                "li",
                style="margin-bottom:12px",
            )
            for _ in range(rng.randint(2, 6))
        )
        body_w = W * 0.88
        if rng.random() < 0.5:
            body_w = W * 0.46
            if rng.random() < 0.6:
                visual = P.chart_svg(rng, int(W * 0.4), int(H * 0.5), s)
            else:
                visual = P.data_table(w, rng, rng.randint(3, 6), rng.randint(2, 4), s)
            p.place(visual, W * 0.54, H * 0.24, W * 0.4)
        p.place(items, W * 0.06, H * 0.24, body_w, style="font-size:26px;line-height:1.25")
    foot = f"{w.title(1, 3)} · {p.k + 1}"
    p.place(
        el("span", esc(foot), "Page-footer"),
        W * 0.06,
        H * 0.92,
        W * 0.88,
        style="font-size:14px;text-align:right;color:#666",
    )


def form(p: Page) -> None:
    """A form: title, shaded section bands, label + entry-box fields (one Text each),
    checkbox options (one List-item each), sometimes a grid of fields as a Table."""
    rng, w, _s, d = p.rng, p.w, p.doc.style, p.doc
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    width = d.size[0] - left - right
    _chrome(p, margins, None, f"{d.opts['code']} ({p.k + 1}/{d.pages})")
    blocks = []
    if p.k == 0:
        blocks.append(el("h1", esc(d.title), "Title", style="font-size:1.7em;text-align:center"))
        blocks.append(P.paragraph(w, 1, 3, style="font-size:0.9em"))
    band = P.colour(rng, light=True)
    box = (
        "border:1px solid #444;height:1.6em"
        if rng.random() < 0.5
        else "border-bottom:1px solid #444;height:1.4em"
    )
    for _ in range(rng.randint(3, 6)):
        blocks.append(
            el(
                "h3",
                esc(f"{rng.randint(1, 9)}. {w.title(2, 5)}"),
                "Section-header",
                style=f"background:{band};padding:3px 6px;margin:12px 0 6px",
            )
        )
        row = []
        for _ in range(rng.randint(2, 6)):
            r = rng.random()
            if r < 0.65:
                fw = rng.choice((98, 48, 31))
                row.append(
                    el(
                        "div",
                        f'<div style="font-size:0.8em">{esc(w.title(1, 4))}</div>'
                        f'<div style="{box}"></div>',
                        "Text",
                        style=(
                            f"display:inline-block;vertical-align:top;width:{fw}%;margin:0 1% "
                            f"8px 0;box-sizing:border-box"
                        ),
                    )
                )
            elif r < 0.85:
                opts = "".join(
                    el(
                        "div",
                        f'<span style="display:inline-block;width:0.8em;height:0.8em;border:1px '
                        f"solid #000;"
                        f'margin-inline-end:6px"></span>{esc(w.title(1, 3))}',
                        "List-item",
                        style="display:inline-block;margin-inline-end:18px",
                    )
                    for _ in range(rng.randint(2, 4))
                )
                row.append(
                    f'<div style="margin:2px 0 '
                    f'8px">{el("span", esc(w.title(1, 4)) + ":", "Text")} {opts}</div>'
                )
            else:
                cols = rng.randint(3, 5)
                head = "".join(
                    f"<th style='border:1px solid #444;background:{band}'>{esc(w.title(1, 2))}</th>"
                    for _ in range(cols)
                )
                rows_ = "".join(
                    "<tr>" + "<td style='border:1px solid #444;height:1.5em'></td>" * cols + "</tr>"
                    for _ in range(rng.randint(2, 5))
                )
                row.append(
                    f'<table data-l="Table" data-g="box" '
                    f'style="width:100%"><tr>{head}</tr>{rows_}</table>'
                )
        blocks.append(f"<div>{''.join(row)}</div>")
    p.flow(blocks, left, top, width, d.size[1] - top - bottom)


def exam(p: Page) -> None:
    """An exam paper: numbered questions (List-item), sub-items and answer options
    (List-item each), formulas and figures sometimes, marks on the right."""
    rng, w, s, d = p.rng, p.w, p.doc.style, p.doc
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    width = d.size[0] - left - right
    _chrome(p, margins, d.opts["head"], f"Page {p.k + 1} of {d.pages}")
    blocks = []
    if p.k == 0:
        blocks.append(el("h1", esc(d.title), "Title", style="text-align:center"))
        blocks.append(
            el(
                "div",
                esc(w.sentence(6, 20)),
                "Text",
                style="border:1px solid #000;padding:6px;margin-bottom:10px",
            )
        )
    q = d.opts["q0"] + p.k * 5
    for _ in range(rng.randint(4, 8)):
        q += 1
        marks = (
            f' <span style="float:right">[{rng.randint(1, 12)}]</span>'
            if rng.random() < 0.5
            else ""
        )
        blocks.append(
            el(
                "div",
                f'<span class="mk"><b>{q}.</b></span>{esc(w.sentence(6, 24))}{marks}',
                "List-item",
                "li",
                style="margin-top:10px",
            )
        )
        r = rng.random()
        if r < 0.2:
            blocks.append(P.formula(rng, None))
        elif r < 0.3:
            blocks.append(
                f'<figure style="margin-inline-start:2em">{P.chart_svg(rng, 260, 160, s)}</figure>'
            )
        sub = rng.random()
        if sub < 0.45:
            marker = rng.choice(("alpha", "roman"))
            opts = P.list_items(w, rng, rng.randint(2, 5), marker, nested=False)
            if rng.random() < 0.4:  # options side by side
                opts = opts.replace(
                    'class="l grp"',
                    'class="l grp" style="display:grid;grid-template-columns:1fr 1fr;'
                    'column-gap:16px"',
                )
            blocks.append(f'<div style="margin-inline-start:1.4em">{opts}</div>')
        elif sub < 0.7:
            lines = "".join(
                '<div style="border-bottom:1px dotted #888;height:1.6em"></div>'
                for _ in range(rng.randint(2, 4))
            )
            blocks.append(lines)
    p.flow(blocks, left, top, width, d.size[1] - top - bottom)


def textbook(p: Page) -> None:
    """A textbook page: numbered headings, formulas, figures, boxed examples, lists,
    marginalia in a side column, footnotes."""
    rng, w, s, d = p.rng, p.w, p.doc.style, p.doc
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    width = d.size[0] - left - right
    _chrome(p, margins, d.opts["head"], str(p.k + d.opts["first_page"]), d.opts["num_top"])
    side = width * 0.24 if d.opts["margin_notes"] else 0
    main_x = left + (side + 16 if side and p.k % 2 == 0 else 0)
    main_w = width - (side + 16 if side else 0)
    blocks = _body_blocks(
        p,
        rng.randint(18, 26),
        figures=0.12,
        tables=0.08,
        formulas=0.15,
        lists=0.12,
        fig_width=main_w * 0.8,
    )
    for i in range(rng.randint(0, 2)):
        box = el(
            "div",
            f"<b>{esc(rng.choice(('Example', 'Key idea', 'Note')))} {i + 1}.</b> "
            f"{esc(w.paragraph(1, 3))}",
            "Text",
            "nb",
            style=(
                f"background:{P.colour(rng, light=True)};border-left:4px solid {s.accent};"
                f"padding:6px 10px;margin:8px 0"
            ),
        )
        blocks.insert(rng.randrange(1, len(blocks)), box)
    notes = rng.randint(0, 2) if rng.random() < 0.5 else 0
    fn_h = 0.0
    if notes:
        fns = "".join(P.footnote(w, i + 1) for i in range(notes))
        fn_h = notes * s.size * 2.6 + 10
        p.place(
            fns,
            main_x,
            d.size[1] - bottom - fn_h,
            main_w,
            style="border-top:0.8px solid #000;padding-top:4px",
        )
    p.flow(blocks, main_x, top, main_w, d.size[1] - top - bottom - fn_h - 8)
    if side:
        sx = left if p.k % 2 else left + width - side
        sx = left if main_x > left else left + width - side
        notes_html = "".join(
            el(
                "div",
                esc(w.sentence(4, 14)),
                "Text",
                style=(
                    f"font-size:0.75em;line-height:1.25;"
                    f"margin-bottom:{rng.randint(30, 200)}px;color:{s.accent}"
                ),
            )
            for _ in range(rng.randint(1, 3))
        )
        p.place(
            notes_html,
            sx,
            top + rng.uniform(0, 200),
            side,
            d.size[1] - top - bottom - 200,
            style="overflow:hidden",
        )


def book(p: Page) -> None:
    """A book page: alternating running heads, page numbers, indented paragraphs, chapter
    openings, footnotes, sometimes marginal notes."""
    rng, w, s, d = p.rng, p.w, p.doc.style, p.doc
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    if p.k % 2:
        left, right = right, left
    margins = (left, top, right, bottom)
    width = d.size[0] - left - right
    chapter = d.opts["chapter"] + p.k // 6
    opening = p.k % 6 == 0 and rng.random() < 0.5
    head = d.title if p.k % 2 else f"{chapter} · {d.opts['chapter_title']}"
    num = str(p.k + d.opts["first_page"])
    _chrome(p, margins, None if opening else head, num, d.opts["num_top"] and not opening)
    blocks = []
    if opening:
        blocks.append(
            el(
                "h1",
                esc(f"{d.opts['word']} {chapter}"),
                "Section-header",
                style="margin-top:80px;font-size:1.2em",
            )
        )
        blocks.append(
            el(
                "h1",
                esc(d.opts["chapter_title"]),
                "Section-header",
                style="font-size:2em;margin-bottom:30px",
            )
        )
    indent = "text-indent:1.5em;margin:0" if d.opts["indent"] else ""
    for _ in range(rng.randint(12, 18)):
        if rng.random() < 0.06:
            blocks.append(el("p", esc("* * *"), "Text", style="text-align:center;margin:10px 0"))
        blocks.append(P.paragraph(w, 2, 7, style=indent))
    notes = rng.randint(1, 2) if rng.random() < 0.35 else 0
    fn_h = 0.0
    if notes:
        fns = "".join(P.footnote(w, i + 1) for i in range(notes))
        fn_h = notes * s.size * 2.6 + 10
        p.place(
            fns,
            left,
            d.size[1] - bottom - fn_h,
            width,
            style="border-top:0.8px solid #000;padding-top:4px",
        )
    if d.opts["marginalia"]:
        mx = d.size[0] - right + 8 if p.k % 2 == 0 else 6
        for _ in range(rng.randint(1, 2)):
            p.place(
                el(
                    "div",
                    esc(w.words(2, 6)),
                    "Text",
                    style="font-size:0.72em;line-height:1.2;font-style:italic",
                ),
                mx,
                top + rng.uniform(20, d.size[1] * 0.6),
                right - 16,
            )
    p.flow(blocks, left, top, width, d.size[1] - top - bottom - fn_h - 8)


def toc(p: Page) -> None:
    """A table of contents (entries with dot leaders and page numbers, one Text each) or an
    index (alphabetical entries in columns, one Text each; letter headings Section-header)."""
    rng, w, _s, d = p.rng, p.w, p.doc.style, p.doc
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    width = d.size[0] - left - right
    _chrome(p, margins, d.title, str(p.k + d.opts["first_page"]))
    blocks = []
    if d.opts["index"]:
        if p.k == 0:
            blocks.append(el("h1", "Index", "Section-header", style="column-span:all"))
        letter = ord("A") + p.k * 3
        for _ in range(rng.randint(6, 9)):
            blocks.append(el("h3", chr(65 + (letter - 65) % 26), "Section-header"))
            letter += 1
            for _ in range(rng.randint(8, 24)):
                pages = ", ".join(str(rng.randint(1, 600)) for _ in range(rng.randint(1, 4)))
                sub = "margin-inline-start:1.2em;" if rng.random() < 0.25 else ""
                blocks.append(
                    el(
                        "div",
                        f"{esc(w.words(1, 3))}, {pages}",
                        "Text",
                        style=f"{sub}font-size:0.9em;line-height:1.25;text-indent:-1em;padding-inline-start:1em",
                    )
                )
        p.flow(blocks, left, top, width, d.size[1] - top - bottom, d.opts["cols"], 24)
        return
    if p.k == 0:
        blocks.append(
            el("h1", esc(rng.choice(("Contents", "Table of Contents"))), "Section-header")
        )
    page_no = rng.randint(1, 20) + p.k * 40
    chap = p.k * 4
    leaders = d.opts["leaders"]
    for _ in range(rng.randint(18, 30)):
        level = 0 if rng.random() < 0.3 else 1
        chap += level == 0
        page_no += rng.randint(1, 12)
        label = f"{chap}" if level == 0 else f"{chap}.{rng.randint(1, 9)}"
        text = f"{label}  {w.title(2, 7)}"
        weight = (
            "font-weight:bold;margin-top:8px;" if level == 0 else f"margin-inline-start:{1.8}em;"
        )
        fill = (
            f'<span style="flex:1;overflow:hidden;white-space:nowrap;margin:0 '
            f'4px">{" ." * 120}</span>'
            if leaders
            else '<span style="flex:1"></span>'
        )
        blocks.append(
            el(
                "div",
                f"<span>{esc(text)}</span>{fill}<span>{page_no}</span>",
                "Text",
                style=f"display:flex;{weight}",
            )
        )
    p.flow(blocks, left, top, width, d.size[1] - top - bottom)


_KEYWORDS = ("def", "return", "for", "in", "if", "else", "while", "class", "import", "let", "fn")


def _code(rng: random.Random, w: Words, lines: int, numbers: bool) -> str:
    out = []
    depth = 0
    for i in range(lines):
        r = rng.random()
        if r < 0.15 and depth < 3:
            text = f"{rng.choice(_KEYWORDS)} {w.word()}({w.word()}, {w.word()}):"
            line = "    " * depth + text
            depth += 1
        elif r < 0.25 and depth:
            depth -= 1
            line = "    " * depth + f"return {w.word()}"
        else:
            line = "    " * depth + f"{w.word()} = {w.word()}.{w.word()}({rng.randint(0, 99)})"
        line = esc(line)
        if numbers:
            line = f'<span style="color:#888;user-select:none">{i + 1:>3}  </span>' + line
        out.append(line)
    return "\n".join(out)


def code(p: Page) -> None:
    """Technical documentation with code listings (one Text per listing, line numbers
    inside it), captions "Listing n", paragraphs, headings, lists."""
    rng, _s, d = p.rng, p.doc.style, p.doc
    latin = Words(rng, "latin")
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    width = d.size[0] - left - right
    _chrome(p, margins, d.opts["head"], str(p.k + 1))
    blocks = _body_blocks(p, rng.randint(10, 14), figures=0.05, tables=0.05, lists=0.15)
    bg = P.colour(rng, light=True) if rng.random() < 0.6 else "#fff"
    for _ in range(rng.randint(1, 3)):
        listing = el(
            "pre",
            _code(rng, latin, rng.randint(4, 18), rng.random() < 0.5),
            "Text",
            "nb",
            style=(
                f"background:{bg};padding:6px 8px;"
                f"border:{'1px solid #bbb' if rng.random() < 0.5 else '0'}"
            ),
        )
        cap = P.caption(p.w, "Listing", rng.randint(1, 30)) if rng.random() < 0.5 else ""
        blocks.insert(rng.randrange(0, len(blocks) + 1), f'<div class="nb">{listing}{cap}</div>')
    p.flow(blocks, left, top, width, d.size[1] - top - bottom)


def paper(p: Page) -> None:
    """A scientific paper with display formulas (MathML), inline math, one or two columns."""
    rng, w, _s, d = p.rng, p.w, p.doc.style, p.doc
    margins = _margins(rng, d.size)
    left, top, right, bottom = margins
    width = d.size[0] - left - right
    _chrome(p, margins, None if p.k == 0 else d.opts["head"], str(p.k + 1))
    blocks = []
    cols = d.opts["cols"]
    span = "column-span:all;" if cols > 1 else ""
    if p.k == 0:
        blocks.append(
            el("h1", esc(d.title), "Title", style=span + "text-align:center;font-size:1.6em")
        )
        blocks.append(
            el(
                "div",
                esc(", ".join(w.name() for _ in range(rng.randint(1, 4)))),
                "Text",
                style=span + "text-align:center;margin-bottom:10px",
            )
        )
        blocks.append(
            el(
                "p",
                "<b>Abstract.</b> " + esc(w.paragraph(3, 6)),
                "Text",
                style=span + "font-size:0.9em;margin:0 5% 14px",
            )
        )
    blocks += _body_blocks(
        p,
        rng.randint(16, 24),
        figures=0.08,
        tables=0.06,
        formulas=0.25,
        fig_width=(width / cols) * 0.9,
    )
    for i, b in enumerate(blocks):
        if b.startswith("<p ") and rng.random() < 0.3:
            blocks[i] = b.replace(". ", ". " + P.inline_math(rng) + " ", 1)
    p.flow(blocks, left, top, width, d.size[1] - top - bottom, cols, 20)


GENERATORS: dict[str, Callable[[Page], None]] = {
    "report": report,
    "newspaper": newspaper,
    "magazine": magazine,
    "slides": slides,
    "form": form,
    "exam": exam,
    "textbook": textbook,
    "book": book,
    "toc": toc,
    "code": code,
    "paper": paper,
}
KINDS: tuple[str, ...] = tuple(GENERATORS)


def new_doc(
    kind: str, rng: random.Random, pages: int, scripts: tuple[str, ...], script: str = ""
) -> Doc:
    """A document of ``kind``: its typography, title, page size and per-document choices.

    Its script is Latin, or one of ``scripts[1:]`` for 15% of documents (never for code
    listings); ``script`` forces one.
    """
    if not script:
        script = "latin"
        if len(scripts) > 1 and kind != "code" and rng.random() < 0.15:
            script = rng.choice(scripts[1:])
    s = P.random_style(rng, script, SCRIPTS[script].fonts)
    w = Words(rng, script)
    size = rng.choice((A4, LETTER))
    if kind == "slides":
        size = rng.choice(((1280, 720), (1024, 576)))
    elif kind == "newspaper":
        size = (rng.randint(900, 1000), rng.randint(1300, 1450))
    elif kind in ("book", "toc") and rng.random() < 0.5:
        size = (rng.randint(560, 640), rng.randint(860, 960))
    opts: dict[str, Any] = {
        "head": w.title(2, 5),
        "first_page": rng.randint(1, 300),
        "num_top": rng.random() < 0.3,
        "cols": 1,
    }
    if kind == "report":
        opts["cols"] = 1 if rng.random() < 0.8 else 2
    elif kind == "newspaper":
        opts["cols"] = rng.randint(4, 6)
        s.size = round(rng.uniform(10.5, 12.5), 1)
    elif kind == "magazine":
        opts["cols"] = rng.choice((2, 3, 3))
    elif kind == "slides":
        opts["band"] = rng.random() < 0.5
        opts["bullet"] = rng.choice(("•", "▪", "–", "▸"))
    elif kind == "form":
        opts["code"] = f"Form {rng.randint(100, 9999)}-{rng.choice('ABCDE')}"
    elif kind == "exam":
        opts["q0"] = 0
    elif kind == "textbook":
        opts["margin_notes"] = rng.random() < 0.4
    elif kind == "book":
        opts.update(
            chapter=rng.randint(1, 20),
            chapter_title=w.title(2, 5),
            word=rng.choice(("Chapter", "CHAPTER", "Part")),
            indent=rng.random() < 0.7,
            marginalia=rng.random() < 0.25,
        )
    elif kind == "toc":
        opts.update(
            index=rng.random() < 0.4, cols=rng.choice((2, 2, 3)), leaders=rng.random() < 0.7
        )
    elif kind == "paper":
        opts["cols"] = rng.choice((1, 2))
    title = w.title(2, 6) if kind != "newspaper" else "The " + w.title(1, 2)
    return Doc(kind, s, w, title, size, pages, opts)


def page_html(doc: Doc, k: int, rng: random.Random) -> str:
    """The full HTML of page ``k`` (0-based) of ``doc``."""
    p = Page(doc, k, rng)
    GENERATORS[doc.kind](p)
    return p.html()
