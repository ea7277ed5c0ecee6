"""Synthetic articles typeset by LaTeX, labelled from the colours of their own PDF.

``layoutft synth --engine latex`` writes random journal-style articles
(:mod:`layoutft.data.synth.latex_source`), compiles them with ``pdflatex`` (real fonts,
justification, hyphenation, one or two columns, floats, running headers) and reads every
annotated element back from the PDF: each glyph and table rule carries its element's colour
code, each embedded image is a figure. Regions are in PDF points (top-left origin of the
page as displayed), then pixels at the rendering DPI, like :func:`generate_dataset`.

An element broken across columns or pages gives one region per piece, as PubLayNet draws
them: the glyph lines of an element are joined while they overlap horizontally and follow
each other within 1.6 line heights.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
from tqdm import tqdm

from layoutft.data.coco import LABELLED_KEY, write_coco
from layoutft.data.labelmap import DOCLAYNET_CLASSES
from layoutft.data.synth.dataset import _annotation
from layoutft.data.synth.figures import draw_figure
from layoutft.data.synth.latex_source import STYLES, decode, write_article
from layoutft.errors import DatasetError
from layoutft.geometry import linked_groups

#: element kind -> PubLayNet class (figures come from images, not colours). PubLayNet has no
#: class for footnotes, formulas or page furniture: its articles are written without them
#: (no footnotes, equations and running heads in plain black).
LATEX_LABELS: dict[str, str] = {
    "paragraph": "text",
    "abstract": "text",
    "author": "text",
    "caption": "text",
    "doc_title": "title",
    "heading": "title",
    "list": "list",
    "table": "table",
    "figure": "figure",
}
CATEGORIES = ("text", "title", "list", "table", "figure")

#: element kind -> DocLayNet class (``labels="doclaynet"``, whose articles are written with
#: ``extras``: footnotes, equations, running heads and page numbers colour-coded, see
#: latex_source). A list is coloured as one element, while DocLayNet boxes each item: lists
#: are left out and List-item is not labelled on these pages. A page number in the head is a
#: Page-header, in the foot a Page-footer, as in DocLayNet.
LATEX_DOCLAYNET_LABELS: dict[str, str] = {
    "paragraph": "Text",
    "abstract": "Text",
    "author": "Text",
    "caption": "Caption",
    "doc_title": "Title",
    "heading": "Section-header",
    "table": "Table",
    "figure": "Picture",
    "footnote": "Footnote",
    "formula": "Formula",
    "page_header": "Page-header",
    "page_footer": "Page-footer",
}
LABEL_SETS = ("publaynet", "doclaynet")
#: kinds boxed whole per page, same-coloured rules included: their pieces lie apart on a
#: line (a formula's number, a footnote's mark in the hanging margin)
_WHOLE = ("table", "formula", "footnote")

Box = tuple[float, float, float, float]


def _rgb(value: int | float | tuple[float, ...] | list[float] | None) -> tuple[int, int, int]:
    """PyMuPDF colours (sRGB int for text, float triples for drawings) as 0-255 ints."""
    if value is None:
        return (0, 0, 0)
    if isinstance(value, int):
        return ((value >> 16) & 255, (value >> 8) & 255, value & 255)
    if isinstance(value, (tuple, list)) and len(value) == 3:
        return tuple(round(float(c) * 255) for c in value)  # type: ignore[return-value]
    return (0, 0, 0)


def _union(boxes: list[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _pieces(lines: list[Box]) -> list[Box]:
    """Join glyph lines into blocks: horizontal overlap and a gap under 1.6 line heights."""
    lines = sorted(lines, key=lambda b: (b[1], b[0]))

    def links() -> Iterator[tuple[int, int]]:
        for i, a in enumerate(lines):
            for j in range(i + 1, len(lines)):
                b = lines[j]
                height = max(a[3] - a[1], b[3] - b[1])
                if b[1] - a[3] > 1.6 * height:
                    break
                if min(a[2], b[2]) - max(a[0], b[0]) > 0:
                    yield i, j

    return [_union([lines[i] for i in group]) for group in linked_groups(len(lines), links())]


def page_regions(
    page: pymupdf.Page, labels: dict[str, str] = LATEX_LABELS
) -> list[tuple[str, Box]]:
    """``(class, box)`` of every annotated element on a compiled page, boxes in points.

    ``labels`` maps element kinds (and ``figure``) to classes; kinds it lacks are left out.

    Text elements come from the colour of their glyphs (one region per column/page piece),
    tables, display formulas and footnotes from their glyphs plus rules of the same colour
    (one region per page: a formula's number and a footnote's mark lie apart on their
    line), figures from embedded images.
    """
    lines: dict[tuple[str, int], list[Box]] = defaultdict(list)
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            by_element: dict[tuple[str, int], list[Box]] = defaultdict(list)
            for span in line["spans"]:
                key = decode(_rgb(span["color"]))
                if key is not None and span["text"].strip():
                    by_element[key].append(tuple(span["bbox"]))
            for key, boxes in by_element.items():
                lines[key].append(_union(boxes))
    for drawing in page.get_drawings():
        key = decode(_rgb(drawing.get("color") or drawing.get("fill")))
        if key is not None and key[0] in _WHOLE:
            lines[key].append(tuple(drawing["rect"]))
    regions: list[tuple[str, Box]] = []
    for (kind, _), boxes in sorted(lines.items()):
        if kind not in labels:
            continue
        label = labels[kind]
        pieces = [_union(boxes)] if kind in _WHOLE else _pieces(boxes)
        regions.extend((label, box) for box in pieces)
    for info in page.get_image_info():
        x0, y0, x1, y1 = info["bbox"]
        if x1 - x0 > 4 and y1 - y0 > 4:
            regions.append((labels["figure"], (x0, y0, x1, y1)))
    w, h = page.rect.width, page.rect.height
    clipped = [
        (label, (max(0.0, b[0]), max(0.0, b[1]), min(w, b[2]), min(h, b[3])))
        for label, b in regions
    ]
    return [(label, b) for label, b in clipped if b[2] - b[0] > 1 and b[3] - b[1] > 1]


def _compile(source: str, figures: dict[str, float], rng: random.Random, work: Path) -> Path:
    """Write figures and source into ``work``, run pdflatex, return the PDF path."""
    for name, aspect in figures.items():
        draw_figure(work / name, rng, aspect)
    (work / "article.tex").write_text(source, encoding="utf-8")
    cmd = ["pdflatex", "-interaction=batchmode", "-halt-on-error", "article.tex"]
    result = subprocess.run(cmd, cwd=work, capture_output=True, timeout=300, check=False)
    pdf = work / "article.pdf"
    if result.returncode != 0 or not pdf.exists():
        log = (work / "article.log").read_text(errors="replace")[-2000:]
        raise DatasetError(f"synth --engine latex: pdflatex failed:\n{log}")
    return pdf


def _pdflatex() -> None:
    if shutil.which("pdflatex") is None:
        raise DatasetError(
            "synth --engine latex needs pdflatex: apt-get install texlive-latex-extra "
            "texlive-fonts-recommended (or use the default --engine pymupdf)"
        )


def generate_latex_dataset(
    out_dir: str | Path,
    docs: int,
    dpi: int = 100,
    seed: int = 0,
    quiet: bool = False,
    style: str = "articles",
    labels: str = "publaynet",
) -> Path:
    """Typeset ``docs`` random articles and write their pages as a COCO dataset.

    Writes ``out_dir/pdfs/docNNN.pdf`` (every page), ``out_dir/images/docNNN_pK.png``
    (K 0-based, rendered at ``dpi``) and ``out_dir/annotations.json`` (COCO, XYWH pixels at
    ``dpi``, top-left origin; image records carry ``document``, 1-based ``page`` and
    ``pdf``). Classes: text, title, list, table, figure (PubLayNet's); with ``labels=
    "doclaynet"`` DocLayNet's 11, of which each image labels only those in
    :data:`LATEX_DOCLAYNET_LABELS` (``labelled_category_ids``: all but List-item), on
    articles that also have footnotes and colour-coded equations, running heads and page
    numbers (``extras``). The same seed, ``style`` (``articles`` or ``reports``: see
    :func:`~layoutft.data.synth.latex_source.write_article`) and ``labels`` give the same
    articles; both label sets share everything but the extras.
    """
    _pdflatex()
    if style not in STYLES:
        raise DatasetError(f"synth: --style must be one of {', '.join(STYLES)} (got {style!r})")
    if docs < 1 or not 36 <= dpi <= 600:
        raise DatasetError(
            f"synth: --docs must be >= 1 and --dpi within 36..600 (got {docs}, {dpi})"
        )
    if labels not in LABEL_SETS:
        raise DatasetError(
            f"synth: --labels must be one of {', '.join(LABEL_SETS)} (got {labels!r})"
        )
    kind_labels = LATEX_LABELS if labels == "publaynet" else LATEX_DOCLAYNET_LABELS
    categories = CATEGORIES if labels == "publaynet" else DOCLAYNET_CLASSES
    out = Path(out_dir)
    (out / "pdfs").mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    cat_id = {name: i + 1 for i, name in enumerate(categories)}
    # DocLayNet classes these pages say nothing about are not labelled (partial labels)
    partial = (
        {LABELLED_KEY: sorted({cat_id[c] for c in kind_labels.values()})}
        if labels == "doclaynet"
        else {}
    )
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    digits = max(3, len(str(docs - 1)))
    bar = tqdm(total=docs, desc="synth", unit="doc", file=sys.stderr,
               disable=quiet or not sys.stderr.isatty())  # fmt: skip
    with bar, tempfile.TemporaryDirectory(prefix="layoutft-latex-") as tmp:
        for d in range(docs):
            stem = f"doc{d:0{digits}d}"
            rng = random.Random(seed * 1_000_003 + d)
            work = Path(tmp) / stem
            work.mkdir()
            article = write_article(rng, style, extras=labels == "doclaynet")
            pdf_path = _compile(article.source, article.figures, rng, work)
            shutil.copyfile(pdf_path, out / "pdfs" / f"{stem}.pdf")
            with pymupdf.open(pdf_path) as pdf:
                for k, page in enumerate(pdf):
                    name = f"{stem}_p{k}.png"
                    pix = page.get_pixmap(dpi=dpi, alpha=False)
                    pix.save(out / "images" / name)
                    image_id = len(images) + 1
                    images.append({"id": image_id, "file_name": name, "width": pix.width,
                                   "height": pix.height, "document": stem, "page": k + 1,
                                   "pdf": f"pdfs/{stem}.pdf", **partial})  # fmt: skip
                    for label, box in page_regions(page, kind_labels):
                        anns.append(
                            _annotation(len(anns) + 1, image_id, cat_id[label], list(box), dpi / 72)
                        )
            shutil.rmtree(work)
            bar.update(1)
    coco = {
        "info": {"description": "layoutft LaTeX-typeset synthetic articles", "seed": seed,
                 "dpi": dpi, "style": style, **({"labels": labels} if partial else {})},
        "images": images,
        "annotations": anns,
        "categories": [{"id": cat_id[n], "name": n, "supercategory": "layout"} for n in categories],
    }  # fmt: skip
    path = out / "annotations.json"
    write_coco(path, coco)
    return path


__all__ = ["LATEX_DOCLAYNET_LABELS", "LATEX_LABELS", "generate_latex_dataset", "page_regions"]
