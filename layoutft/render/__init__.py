"""Pages of PDFs and images as RGB arrays with their pixel <-> point transforms.

:func:`iter_pages` is the entry point: it yields one :class:`RenderedPage` at a time
(one page in memory per iteration) and closes the document when the iterator ends or
is closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from layoutft.render.image import frame_count, iter_image_pages, open_image
from layoutft.render.pages import PageSpec, capped_scale, parse_page_spec
from layoutft.render.pdf import RENDERERS, iter_pdf_pages, open_pdf
from layoutft.render.source import (
    SUPPORTED_SUFFIXES,
    Source,
    expand_inputs,
    resolve_source,
)
from layoutft.render.types import RenderedPage

__all__ = [
    "RENDERERS",
    "SUPPORTED_SUFFIXES",
    "RenderedPage",
    "Source",
    "SourceInfo",
    "capped_scale",
    "count_pages",
    "expand_inputs",
    "inspect_source",
    "iter_pages",
    "parse_page_spec",
    "resolve_source",
]

InputLike = str | Path | bytes | Source


@dataclass(frozen=True)
class SourceInfo:
    """What the JSON ``source`` block says about an input.

    Attributes:
        path: the file as given, or None for bytes.
        sha256: hex digest of the input's bytes.
        page_count: pages (PDF) or frames (image) in the input.
        kind: ``"pdf"`` or ``"image"``.
    """

    path: str | None
    sha256: str
    page_count: int
    kind: str


def count_pages(source: InputLike) -> int:
    """Pages of a PDF or frames of an image; RenderError if the input is unreadable."""
    src = resolve_source(source)
    if src.kind == "pdf":
        with open_pdf(src) as doc:
            return int(doc.page_count)
    with open_image(src) as img:
        return frame_count(img)


def inspect_source(source: InputLike) -> SourceInfo:
    """Count the pages of ``source`` and hash it; RenderError if unreadable."""
    src = resolve_source(source)
    count = count_pages(src)
    path = None if src.path is None else str(src.path)
    return SourceInfo(path, src.sha256(), count, src.kind)


def iter_pages(
    source: InputLike,
    dpi: float = 200,
    pages: PageSpec = None,
    renderer: str = "pymupdf",
    max_pixels: int | None = None,
    image_dpi: float = 72,
    *,
    with_words: bool = False,
    on_error: str = "raise",
) -> Iterator[RenderedPage]:
    """Render the pages of a PDF or image one at a time.

    Args:
        source: path of a PDF/PNG/JPEG/TIFF file, or its bytes.
        dpi: resolution for PDF pages (images keep their own pixels).
        pages: 1-based selection, e.g. ``"1-3,7"`` or ``[1, 2]``; None for all pages.
        renderer: ``"pymupdf"`` or ``"pdf2image"`` (poppler's pdftoppm), for PDFs.
        max_pixels: cap on ``width * height`` of a page image; larger pages are rendered
            (or, for images, resized) smaller and their ``dpi`` records the effective value.
        image_dpi: resolution assumed for images whose metadata has none.
        with_words: also extract the PDF text layer (``RenderedPage.words``, in points).
        on_error: ``"raise"`` (RenderError on the first page that fails) or ``"record"``
            (yield that page with ``error`` set and carry on).

    Raises:
        RenderError: unreadable, encrypted or corrupt input, or a bad page selection.
    """
    if on_error not in ("raise", "record"):
        raise ValueError(f"on_error must be 'raise' or 'record', got {on_error!r}")
    if dpi <= 0 or image_dpi <= 0:
        raise ValueError("dpi and image_dpi must be positive")
    src = resolve_source(source)
    if src.kind == "pdf":
        yield from iter_pdf_pages(src, dpi, pages, renderer, max_pixels, with_words, on_error)
    else:
        yield from iter_image_pages(src, pages, max_pixels, image_dpi, on_error)
