"""Visualizations of parse results: a sink that draws each page's regions on the page image
(a PNG per page) and, for a PDF, writes an annotated copy of the document.

Images are drawn in their pixels (:mod:`layoutft.draw`); the PDF is annotated in
displayed-page points (see :mod:`layoutft.geometry`). numpy, Pillow, PyMuPDF; no torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from layoutft.draw import color_for_label, draw_regions, place_tags
from layoutft.outputs import atomic_path
from layoutft.render.source import Source

if TYPE_CHECKING:
    from layoutft.schema import Document, Page


class VisualizationSink:
    """Receives a document's pages from the parser: ``<stem>-p<N>.png`` per page parsed
    without error, then ``<stem>.annotated.pdf`` once the document is complete (PDFs only).

    Args:
        folder: where the files go (created when the first one is written).
        source: the document being parsed.
        stem: the files' ``<stem>``; default the source's file stem (``document`` for bytes).
    """

    def __init__(self, folder: str | Path, source: Source, stem: str | None = None) -> None:
        self.folder = Path(folder)
        self.source = source
        default = "document" if source.path is None else source.path.stem
        self.stem = stem or default

    def begin(self, document: Document) -> None:
        """Nothing to do before the first page."""

    def add(self, document: Document, page: Page, image: np.ndarray) -> None:
        """Draw ``page`` on ``image`` (the page as the model saw it), if it parsed."""
        if page.status == "ok":
            save_page_png(self.folder / f"{self.stem}-p{page.number}.png", image, page)

    def end(self, document: Document) -> None:
        """The annotated PDF copy (PDF sources only)."""
        src = self.source
        if src.kind == "pdf":
            out = self.folder / f"{self.stem}.annotated.pdf"
            annotate_pdf(src.data if src.data is not None else str(src.path), document, out)

    def abort(self) -> None:
        """Pages drawn so far stay: each file was complete when written."""


def save_page_png(path: str | Path, image: np.ndarray, page: Page) -> None:
    """Write ``image`` (uint8 [H,W,3] RGB, the page as the model saw it) with ``page``'s
    regions (boxes in pixels, polygons converted from points) drawn, as a PNG."""
    from PIL import Image

    px_per_pt = page.dpi / 72.0
    regions = page.regions
    drawn = draw_regions(
        image,
        [r.bbox_px for r in regions],
        [r.label for r in regions],
        polygons=[[np.asarray(ring) * px_per_pt for ring in r.polygon_pt] for r in regions],
        scores=[r.score for r in regions],
    )
    with atomic_path(path) as tmp:
        Image.fromarray(drawn).save(tmp, format="PNG")


def annotate_pdf(source: str | Path | bytes, document: Document, out_path: str | Path) -> None:
    """Write a copy of the PDF ``source`` with ``document``'s regions drawn on its pages.

    Boxes are outlined in their class colour and labelled upright on the page as displayed,
    for every rotation and CropBox; pages not in ``document`` are copied unchanged.
    """
    import pymupdf

    from layoutft.render import resolve_source
    from layoutft.render.pdf import open_pdf, page_transform

    with open_pdf(resolve_source(source)) as doc:
        for page in document.pages:
            if page.status == "ok" and page.regions:
                _annotate_page(doc[page.number - 1], page, pymupdf, page_transform)
        data = doc.tobytes(garbage=1, deflate=True)
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(data)


def _annotate_page(pdf_page: Any, page: Page, pymupdf: Any, page_transform: Any) -> None:
    transform = page_transform(pdf_page, 72.0)
    rotation = pdf_page.rotation
    # PyMuPDF maps drawing coordinates reliably only on unrotated pages: draw in the
    # unrotated CropBox space with rotation 0, text turned to read upright, then restore.
    pdf_page.set_rotation(0)
    try:
        size = max(6.0, min(transform.width_pt, transform.height_pt) / 80)
        texts = [f"{region.label} {region.score:.2f}" for region in page.regions]
        # Tags placed like the PNG's (no overlap where there is room, inside the page), in
        # displayed-page points; a tag is the text's width by 1.2 font sizes.
        tag_h = math.ceil(1.2 * size)
        sizes = [(math.ceil(pymupdf.get_text_length(t, fontsize=size)), tag_h) for t in texts]
        boxes = [region.bbox_pt for region in page.regions]
        tags = place_tags(boxes, sizes, int(transform.width_pt), int(transform.height_pt))
        for region, text, tag in zip(page.regions, texts, tags, strict=True):
            color = tuple(c / 255 for c in color_for_label(region.label))
            rect = transform.pt_to_unrotated(region.bbox_pt)[0]
            pdf_page.draw_rect(pymupdf.Rect(*rect), color=color, width=max(1.0, size / 6))
            x0, baseline = tag[0], tag[3] - 0.25 * size
            anchor = transform.pt_to_unrotated([x0, baseline, x0, baseline])[0]
            pdf_page.insert_text(
                pymupdf.Point(anchor[0], anchor[1]),
                text,
                fontsize=size,
                color=color,
                rotate=rotation,
            )
    finally:
        pdf_page.set_rotation(rotation)
