"""Random journal-style articles as LaTeX source, with every annotated element colour-coded.

Each annotated element (a paragraph, a heading, a whole list, a table, a caption, ...) is
typeset in its own near-black colour ``RGB = (5 * class, id // 32, id % 32)`` (all channels
<= 31 of 255: indistinguishable from black on the rendered page). The PDF's text layer keeps
the colour of every glyph and rule, so :mod:`layoutft.data.synth.latex` reads the element
of each glyph back from the PDF (DocBank's colour trick), after TeX has done the real
typesetting: justification, hyphenation, floats, column and page breaks.

By default running headers, page numbers and display equations are plain black,
unannotated ink, and there are no footnotes. ``write_article(..., extras=True)`` (what
``--labels doclaynet`` uses) colour-codes them too and adds real footnotes: each
footnote's text and its mark at the page bottom (the footnote rule is a drawing, not a
glyph), each display equation with its number, the running head and the page number (in
the head: ``page_header``, in the foot: ``page_footer``), plus a foot line on some
articles. Their random choices come from a second generator seeded from the first one's
state, so the draws of the other elements, and thus the rest of the article, stay as
without extras.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: Annotated element kinds, in colour-code order (class code = index + 1).
#: New kinds go at the end so that existing codes keep their meaning.
KINDS = (
    "paragraph",
    "heading",
    "list",
    "table",
    "caption",
    "doc_title",
    "author",
    "abstract",
    "footnote",
    "formula",
    "page_header",
    "page_footer",
)
MAX_ELEMENTS = 32 * 32 - 1

_VOCAB = (  # noqa: SIM905 (a word list reads better as prose)
    "the of and to in is that for with as on by are this be from at an which were was or it "
    "results analysis model data method study between these using patients cells two effect "
    "time high all based than more system also different group each after used both however "
    "show found significant shown increase level response we our values function approach "
    "proposed performance observed compared samples table figure control treatment protein "
    "expression structure process present number first their such order during within large "
    "small temperature energy surface water species growth network measured parameters lower "
    "higher analysis previous reported total mean standard conditions factors associated "
    "potential specific important effects obtained various general total under rate changes "
    "distribution population clinical independent relative individual activity average "
    "experimental theory equation optimal region frequency density information difference "
    "method described respectively similar quality production development significantly "
    "application evaluation mechanism interaction concentration"
).split()
_TITLE_WORDS = (  # noqa: SIM905
    "Introduction Background Methods Materials Results Discussion Conclusions Analysis "
    "Experimental Setup Study Design Statistical Related Work Data Collection Model Evaluation "
    "Limitations Participants Procedure Measurements Simulation Framework Overview Findings"
).split()
_FONTS = (
    r"\usepackage{mathptmx}",
    r"\usepackage{mathpazo}",
    r"\usepackage{charter}",
    r"\usepackage[scaled]{helvet}\renewcommand{\familydefault}{\sfdefault}",
    r"\usepackage{lmodern}",
    r"\usepackage{bookman}",
    r"\usepackage{newcent}",
    "",
)


@dataclass
class Article:
    """LaTeX source of one article and the figures it includes (PNG name -> aspect)."""

    source: str
    figures: dict[str, float] = field(default_factory=dict)


def colour(kind: str, element: int) -> str:
    """``\\color[RGB]{...}`` of element number ``element`` (1..MAX_ELEMENTS) of ``kind``."""
    code = KINDS.index(kind) + 1
    return rf"\color[RGB]{{{5 * code},{element // 32},{element % 32}}}"


def decode(rgb: tuple[int, int, int]) -> tuple[str, int] | None:
    """Inverse of :func:`colour`: ``(kind, element)``, or None for other colours."""
    r, g, b = rgb
    if r % 5 or not 0 < r // 5 <= len(KINDS) or g > 31 or b > 31 or (g == 0 and b == 0):
        return None
    return KINDS[r // 5 - 1], g * 32 + b


class _Writer:
    """Builds one article; ``self.n`` numbers the annotated elements.

    ``side``: the generator of the extra kinds (footnotes, formulas, running heads, page
    numbers), None without them; they have their own numbers (``self.extra_n``) so that
    ``self.n``, which limits the article's length, counts as without them.
    """

    def __init__(self, rng: random.Random, side: random.Random | None = None) -> None:
        self.rng = rng
        self.side = side
        self.n = 0
        self.extra_n = 0
        self.figures: dict[str, float] = {}
        self.tables = 0

    def tag(self, kind: str) -> str:
        self.n += 1
        return colour(kind, min(self.n, MAX_ELEMENTS))

    def extra_tag(self, kind: str) -> str:
        self.extra_n += 1
        return colour(kind, min(self.extra_n, MAX_ELEMENTS))

    def words(self, lo: int, hi: int, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        return " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(lo, hi)))

    def sentence(self, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        text = self.words(6, 24, rng)
        if rng.random() < 0.25:
            text += f" [{rng.randint(1, 60)}]"
        if rng.random() < 0.2:
            text += f" ({rng.choice(_VOCAB)}, $p<0.{rng.randint(1, 9)}$)"
        if rng.random() < 0.15:
            unit = rng.choice(["mm", "ms", r"\%"])
            text += f" {rng.randint(2, 999)}.{rng.randint(0, 99)} {unit}"
        return text[0].upper() + text[1:] + "."

    def paragraph(self, kind: str = "paragraph", lo: int = 2, hi: int = 9) -> str:
        sentences = [self.sentence() for _ in range(self.rng.randint(lo, hi))]
        if self.side is not None and self.side.random() < 0.25:
            k = self.side.randrange(len(sentences))
            sentences[k] += self.footnote()
        return f"{{{self.tag(kind)}{' '.join(sentences)}\\par}}\n"

    def footnote(self) -> str:
        """A ``\\footnote`` whose text and mark at the page bottom get a footnote colour
        (``\\lffn``, which the extras preamble puts in front of ``\\@makefntext``); its
        mark in the text keeps the paragraph's colour."""
        side = self.side
        assert side is not None
        text = " ".join(self.sentence(side) for _ in range(side.choice([1, 1, 1, 2, 3])))
        if side.random() < 0.25:
            text += f" See https://www.{side.choice(_VOCAB)}.org/{side.randint(100, 9999)}."
        return f"\\def\\lffn{{{self.extra_tag('footnote')}}}\\footnote{{{text}}}"

    def heading(self, number: str, level: int) -> str:
        rng = self.rng
        words = " ".join(rng.sample(_TITLE_WORDS, rng.randint(1, 3 if level else 2)))
        text = f"{number} {words}" if number else words
        if rng.random() < 0.2:
            text = text.upper()
        cmd = ["section", "subsection", "subsubsection"][level]
        return f"\\{cmd}*{{{self.tag('heading')}{text}}}\n"

    def itemize(self) -> str:
        rng = self.rng
        env = rng.choice(["itemize", "enumerate"])
        items = "".join(
            f"\\item {' '.join(self.sentence() for _ in range(rng.randint(1, 3)))}\n"
            for _ in range(rng.randint(2, 7))
        )
        return f"{{{self.tag('list')}\\begin{{{env}}}\n{items}\\end{{{env}}}\\par}}\n"

    def equation(self) -> str:
        rng = self.rng
        terms = " + ".join(
            rng.choice([r"\alpha_{%d} x^{%d}", r"\frac{\partial u}{\partial t_{%d}} y_{%d}",
                        r"\sum_{i=%d}^{N} w_i z_{%d}", r"\int_0^{%d} f(s_{%d})\,ds"])
            % (rng.randint(0, 9), rng.randint(1, 5))
            for _ in range(rng.randint(2, 4))
        )  # fmt: skip
        rhs = rng.randint(0, 99)
        if self.side is None:
            return f"\\begin{{equation}}\n{terms} = {rhs}\n\\end{{equation}}\n"
        # \lfeq colours the formula and (extras preamble) its number; a \def adds no
        # node, so the display is spaced as without colour
        return (
            f"\\def\\lfeq{{{self.extra_tag('formula')}}}"
            f"\\begin{{equation}}\\lfeq\n{terms} = {rhs}\n\\end{{equation}}\n"
        )

    def caption(self, label: str) -> str:
        rng = self.rng
        lead = f"\\textbf{{{label}.}}" if rng.random() < 0.6 else f"{label}:"
        body = " ".join(self.sentence() for _ in range(rng.randint(1, 3)))
        size = rng.choice([r"\small", r"\footnotesize", ""])
        return f"{{{self.tag('caption')}{size} {lead} {body}\\par}}"

    def figure(self, wide: bool) -> str:
        rng = self.rng
        name = f"fig{len(self.figures) + 1}.png"
        self.figures[name] = rng.uniform(0.35, 0.9)
        width = rng.choice(["0.95", "0.8", "0.65"]) if not wide else rng.choice(["0.9", "0.7"])
        env = "figure*" if wide else "figure"
        return (
            f"\\begin{{{env}}}[{rng.choice(['t', 'b', 'tb', 'htb'])}]\\centering\n"
            f"\\includegraphics[width={width}\\linewidth]{{{name}}}\\par\\vspace{{4pt}}\n"
            f"{self.caption(f'Figure {len(self.figures)}')}\n\\end{{{env}}}\n"
        )

    def table(self, wide: bool) -> str:
        rng = self.rng
        self.tables += 1
        cols = rng.randint(3, 8 if wide else 5)
        rows = rng.randint(3, 14)
        tag = self.tag("table")
        rgb = tag[len(r"\color[RGB]{") : -1]
        ruled = rng.random() < 0.8
        booktabs = ruled and rng.random() < 0.6
        top, mid, bottom = (
            (r"\toprule", r"\midrule", r"\bottomrule") if booktabs else (r"\hline",) * 3
        )
        grid = ruled and not booktabs and rng.random() < 0.4
        spec = ("|" if grid else "").join(["l"] + ["c"] * (cols - 1))
        if grid:
            spec = f"|{spec}|"
        header = " & ".join(rng.choice(_TITLE_WORDS) for _ in range(cols)) + r" \\"
        lines = []
        for _ in range(rows):
            cells = [self.words(1, 3)] + [
                rng.choice([f"{rng.uniform(0, 100):.{rng.randint(0, 3)}f}", self.words(1, 2),
                            f"{rng.randint(1, 999)} ({rng.randint(1, 99)})"])
                for _ in range(cols - 1)
            ]  # fmt: skip
            lines.append(" & ".join(cells) + r" \\" + (r" \hline" if grid else ""))
        body = "\n".join(lines)
        size = rng.choice([r"\small", r"\footnotesize", r"\scriptsize"])
        rules = (top, mid, bottom) if ruled else ("", "", "")
        env = "table*" if wide else "table"
        notes = ""
        if rng.random() < 0.3:
            tag = self.tag("caption")
            notes = f"\\par\\vspace{{2pt}}{{{tag}\\footnotesize {self.sentence()}\\par}}"
        return (
            f"\\begin{{{env}}}[{rng.choice(['t', 'b', 'htb'])}]\\centering\n"
            f"{self.caption(f'Table {self.tables}')}\\par\\vspace{{4pt}}\n"
            f"{{\\arrayrulecolor[RGB]{{{rgb}}}{tag}{size}"
            f"\\resizebox{{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}}{{!}}{{"
            f"\\begin{{tabular}}{{{spec}}}\n{rules[0]}\n{header}\n{rules[1]}\n{body}\n"
            f"{rules[2]}\n\\end{{tabular}}}}}}{notes}\n\\end{{{env}}}\n"
        )

    def report_table(self) -> str:
        """A statistics-office table: up to 40 rows x 12 columns, page-wide, numeric, with
        shaded header/zebra rows, group rows, indented row labels and a source note; kept
        in the text flow (``[H]``-like: no float) as in reports."""
        rng = self.rng
        self.tables += 1
        cols = rng.randint(2, 12)
        size = rng.choice([r"\small", r"\footnotesize", r"\scriptsize", r"\normalsize"])
        rows = rng.randint(4, 24 if size in (r"\normalsize", r"\small") else 40)
        tag = self.tag("table")
        rgb = tag[len(r"\color[RGB]{") : -1]
        style = rng.choice(["grid", "booktabs", "hlines", "none", "frame"])
        tint = rng.choice(["230,230,230", "220,230,245", "250,235,215", "225,240,225",
                           "200,200,200", "190,210,235", "250,210,170", "205,230,205"])  # fmt: skip
        header_fill = rng.random() < 0.5
        zebra = rng.random() < 0.35
        bar = "|" if style == "grid" else ""
        first = rng.choice(["l", f"p{{{rng.randint(25, 45)}mm}}"])
        spec = bar.join([first] + [rng.choice("rrc")] * (cols - 1))
        if style in ("grid", "frame"):
            spec = f"|{spec}|"
        rule = r"\hline" if style != "booktabs" else ""
        top, mid, bottom = (
            (r"\toprule", r"\midrule", r"\bottomrule") if style == "booktabs"
            else (rule, rule, rule) if style != "none" else ("", "", "")
        )  # fmt: skip
        fill = f"\\rowcolor[RGB]{{{tint}}}" if header_fill else ""
        out = [top]
        if cols > 3 and rng.random() < 0.4:  # a grouped header row above the column names
            left = rng.randint(1, cols - 2)
            groups = [" "] + [
                f"\\multicolumn{{{n}}}{{c}}{{{rng.choice(_TITLE_WORDS)} {rng.randint(1995, 2024)}}}"
                for n in (left, cols - 1 - left)
            ]
            out.append(fill + " & ".join(groups) + r" \\")
        names = [self.words(1, 3).capitalize() for _ in range(cols)]
        bold = rng.random() < 0.5
        out.append(fill + " & ".join(f"\\textbf{{{n}}}" if bold else n for n in names) + r" \\")
        out.append(mid)
        for r in range(rows):
            if rng.random() < 0.1:  # a group row spanning the table
                out.append(f"\\multicolumn{{{cols}}}{{l}}{{\\textbf{{{self.words(1, 4)}}}}} \\\\")
                continue
            label = self.words(1, 4).capitalize()
            if rng.random() < 0.3:
                label = r"\hspace{1em}" + label
            cells = [label] + [self._number() for _ in range(cols - 1)]
            zebra_fill = f"\\rowcolor[RGB]{{{tint}}}" if zebra and r % 2 else ""
            end = r" \hline" if style == "grid" and rng.random() < 0.8 else ""
            out.append(zebra_fill + " & ".join(cells) + r" \\" + end)
        out.append(bottom)
        source = ""
        if rng.random() < 0.5:
            note = f"Source: {self.words(3, 10)}."
            source = f"\\par\\vspace{{3pt}}{{{self.tag('caption')}\\footnotesize {note}\\par}}"
        caption = self.caption(f"Table {self.tables}") if rng.random() < 0.85 else ""
        body = "\n".join(line for line in out if line)
        return (
            f"\\par\\medskip\\noindent\\begin{{minipage}}{{\\linewidth}}\\centering\n"
            f"{caption}\\par\\vspace{{4pt}}\n"
            f"{{\\arrayrulecolor[RGB]{{{rgb}}}{tag}{size}"
            f"\\resizebox{{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}}{{!}}{{"
            f"\\begin{{tabular}}{{{spec}}}\n{body}\n\\end{{tabular}}}}}}{source}\n"
            f"\\end{{minipage}}\\par\\medskip\n"
        )

    def _number(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.3:
            return f"{rng.randint(0, 99_999):,}"
        if kind < 0.55:
            return f"{rng.uniform(-50, 100):.{rng.randint(0, 2)}f}"
        if kind < 0.7:
            return f"{rng.uniform(0, 100):.1f}\\%"
        if kind < 0.8:
            return f"{rng.randint(1, 999)} ({rng.uniform(0, 9):.1f})"
        if kind < 0.88:
            return rng.choice(["--", "n/a", "..", "*", "0"])
        return self.words(1, 2)


def _preamble(rng: random.Random, two_columns: bool, w: _Writer) -> str:
    size = rng.choice(["9pt", "10pt", "10pt", "11pt", "12pt"])
    cls = "extarticle" if size == "9pt" else "article"
    paper = rng.choice(["letterpaper", "a4paper"])
    margin = rng.uniform(0.5, 1.1)
    spread = rng.choice([1.0, 1.0, 1.05, 1.1, 1.2, 1.3])
    indent = rng.choice(["0pt", "1em", "1.5em", "2em", "1em"])
    parskip = rng.choice(["0pt", "0pt", "0pt", "4pt", "6pt"])
    sep = rng.choice(["1.5em", "2em", "2.5em"])
    # drawn in this order (as when these were inline in the source) to keep the stream
    font = rng.choice(_FONTS)
    head_rule = rng.choice(["0pt", "0.4pt"])
    journal = f"{rng.choice(['Journal of', 'Proceedings of', 'Annals of'])} "
    journal += f"{rng.choice(_TITLE_WORDS)} {rng.randint(1990, 2024)}"
    number_at = rng.choice(["head[R]", "foot[C]"])
    head = number = foot = extras = ""
    if w.side is not None:
        head = w.extra_tag("page_header")
        number = w.extra_tag("page_header" if number_at == "head[R]" else "page_footer")
        if number_at == "head[R]" and w.side.random() < 0.5:
            line = rf"\copyright{{}} {w.side.randint(1990, 2024)} {w.words(2, 5, w.side)}"
            foot = rf"\fancyfoot[L]{{{w.extra_tag('page_footer')}\footnotesize {line}}}" + "\n"
        extras = (
            "\\makeatletter\\let\\lffn\\relax\\let\\lfeq\\relax\n"
            "\\let\\lf@makefntext\\@makefntext\\long\\def\\@makefntext#1{\\lffn\\lf@makefntext{#1}}\n"
            "\\def\\tagform@#1{\\maketag@@@{\\lfeq(\\ignorespaces#1\\unskip\\@@italiccorr)}}\n"
            "\\makeatother\n"
        )
    return (
        f"\\documentclass[{size},{paper}{',twocolumn' if two_columns else ''}]{{{cls}}}\n"
        f"\\usepackage[margin={margin:.2f}in,columnsep={sep}]{{geometry}}\n"
        f"{font}\n"
        "\\usepackage[T1]{fontenc}\n\\usepackage{graphicx,xcolor,colortbl,booktabs,fancyhdr}\n"
        "\\usepackage{amsmath}\n\\usepackage[hang]{footmisc}\n"
        f"\\linespread{{{spread}}}\\setlength{{\\parindent}}{{{indent}}}"
        f"\\setlength{{\\parskip}}{{{parskip}}}\n"
        f"\\pagestyle{{fancy}}\\fancyhf{{}}\\renewcommand{{\\headrulewidth}}{{{head_rule}}}\n"
        f"\\fancyhead[L]{{{head}\\small {journal}}}\n"
        f"\\fancy{number_at}{{{number}\\small\\thepage}}\n"
        f"{foot}{extras}"
        "\\setlength{\\emergencystretch}{2em}\\sloppy\n"
    )


def _front_matter(w: _Writer, two_columns: bool) -> str:
    rng = w.rng
    title_words = " ".join(rng.choice(_VOCAB + _TITLE_WORDS) for _ in range(rng.randint(5, 16)))
    size = rng.choice([r"\LARGE", r"\Large", r"\huge", r"\large"])
    align = rng.choice([r"\centering", r"\raggedright"])
    authors = ", ".join(
        f"{rng.choice('ABCDEFGHJKLMNPRSTW')}. "
        f"{rng.choice(_TITLE_WORDS)}{rng.choice(['', 'son', 'er'])}"
        for _ in range(rng.randint(1, 6))
    )
    affiliation = (
        f"Department of {rng.choice(_TITLE_WORDS)}, University of {rng.choice(_TITLE_WORDS)}"
    )
    abstract_lead = rng.choice([r"\textbf{Abstract}\quad ", r"\textbf{Abstract:} ", ""])
    abstract = " ".join(w.sentence() for _ in range(rng.randint(4, 9)))
    bold = "\\bfseries " if rng.random() < 0.7 else ""
    small = rng.choice(["\\small", ""])
    block = (
        f"{{{align}{{{w.tag('doc_title')}{size}"
        f" {bold}{title_words[0].upper()}{title_words[1:]}\\par}}"
        f"\\vspace{{10pt}}{{{w.tag('author')}\\normalsize {authors}\\par}}\\vspace{{4pt}}"
        f"{{{w.tag('author')}\\small\\itshape {affiliation}\\par}}}}\\vspace{{12pt}}\n"
        f"{{{w.tag('abstract')}{small}\\noindent {abstract_lead}{abstract}\\par}}"
        "\\vspace{10pt}\n"
    )
    if rng.random() < 0.4:
        keywords = ", ".join(rng.choice(_VOCAB) for _ in range(rng.randint(3, 6)))
        tag = w.tag("paragraph")
        block += f"{{{tag}\\small\\noindent\\textit{{Keywords:}} {keywords}\\par}}\\vspace{{8pt}}\n"
    if two_columns and rng.random() < 0.7:
        return f"\\twocolumn[{{{block}}}]\n"
    return block


#: Cumulative chances of a paragraph, list, figure, table and equation per block (the rest:
#: a sub-heading) per :func:`write_article` style.
_MIX = {"articles": (0.55, 0.65, 0.77, 0.87, 0.92), "reports": (0.45, 0.53, 0.6, 0.88, 0.9)}
STYLES = tuple(_MIX)


def write_article(rng: random.Random, style: str = "articles", extras: bool = False) -> Article:
    """A random article: front matter, 3-9 sections of paragraphs, lists, figures, tables.

    ``style``: ``articles`` (journal papers, 60% two columns, floating tables of at most
    14 rows x 8 columns) or ``reports`` (80% one column, more and larger tables in the text
    flow: :meth:`_Writer.report_table`).

    ``extras``: also colour-code display equations, the running head and the page number,
    and add footnotes (see the module docstring); without it the source is as it always
    was for the same ``rng`` state.
    """
    reports = style == "reports"
    two_columns = rng.random() < (0.2 if reports else 0.6)
    # the extras' generator: seeded from rng's state without drawing from rng
    w = _Writer(rng, random.Random(repr(rng.getstate())) if extras else None)
    body = [_front_matter(w, two_columns)]
    numbered = rng.random() < 0.7
    for s in range(rng.randint(3, 9)):
        body.append(w.heading(f"{s + 1}." if numbered else "", 0))
        for _ in range(rng.randint(1, 5)):
            roll = rng.random()
            wide = two_columns and rng.random() < 0.3
            text, items, figure, table, equation = _MIX[style]
            if roll < text:
                body.append(w.paragraph())
            elif roll < items:
                body.append(w.itemize())
            elif roll < figure and len(w.figures) < 6:
                body.append(w.figure(wide))
            elif roll < table:
                body.append(w.report_table() if reports else w.table(wide))
            elif roll < equation:
                body.append(w.equation())
            else:
                sub = f"{s + 1}.{rng.randint(1, 4)}" if numbered else ""
                body.append(w.heading(sub, 1))
                body.append(w.paragraph())
        if w.n > MAX_ELEMENTS - 40:
            break
    source = (
        _preamble(rng, two_columns, w) + "\\begin{document}\n" + "".join(body) + "\\end{document}\n"
    )
    return Article(source=source, figures=w.figures)
