"""PDF pages: geometry and text via PyMuPDF, pixels via PyMuPDF or poppler (pdf2image)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.errors import RenderError
from layoutft.geometry import PageTransform
from layoutft.render.pages import PageSpec, capped_scale, parse_page_spec
from layoutft.render.source import Source
from layoutft.render.text import page_words
from layoutft.render.types import RenderedPage, failed_page

RENDERERS = ("pymupdf", "pdf2image")


@contextlib.contextmanager
def open_pdf(source: Source) -> Iterator[Any]:
    """Open a PDF with PyMuPDF (closed on exit); RenderError naming the file if unreadable."""
    import pymupdf

    try:
        if source.data is not None:
            doc = pymupdf.open(stream=source.data, filetype="pdf")
        else:
            doc = pymupdf.open(str(source.path), filetype="pdf")
    except Exception as exc:
        raise RenderError(
            f"{source.name}: cannot open the PDF ({exc}); the file is corrupt or not a PDF: "
            "re-export it, or repair it with e.g. `qpdf in.pdf out.pdf`"
        ) from None
    try:
        if doc.needs_pass:
            raise RenderError(
                f"{source.name}: the PDF is encrypted (password-protected); "
                "decrypt it first, e.g. `qpdf --decrypt in.pdf out.pdf`"
            )
        if doc.page_count == 0:
            raise RenderError(f"{source.name}: the PDF has no pages; is it corrupt?")
        yield doc
    finally:
        doc.close()


def page_transform(page: Any, dpi: float) -> PageTransform:
    """Transform of a PyMuPDF page rendered at ``dpi`` (CropBox, ``/Rotate`` included)."""
    rect, crop, media = page.rect, page.cropbox, page.mediabox
    # PyMuPDF's cropbox keeps user-space x but measures y down from the MediaBox top.
    return PageTransform.for_dpi(
        rect.width,
        rect.height,
        dpi,
        rotation=page.rotation % 360,
        crop_x0=crop.x0,
        crop_y1=media.y1 - crop.y0,
    )


def iter_pdf_pages(
    source: Source,
    dpi: float,
    pages: PageSpec,
    renderer: str,
    max_pixels: int | None,
    with_words: bool,
    on_error: str,
) -> Iterator[RenderedPage]:
    """Render the selected pages of a PDF one at a time (see :func:`layoutft.render.iter_pages`)."""
    if renderer not in RENDERERS:
        raise RenderError(f"unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}")
    with open_pdf(source) as doc, _poppler_file(source, renderer) as poppler_path:
        for number in parse_page_spec(pages, doc.page_count, source.name):
            transform = PageTransform(0.0, 0.0)
            try:
                page = doc[number - 1]
                base = page_transform(page, dpi)
                transform = base
                scale = capped_scale(base.width_pt, base.height_pt, dpi / 72.0, max_pixels)
                transform = page_transform(page, scale * 72.0)
                if poppler_path is None:
                    image = _render_pymupdf(page, scale)
                else:
                    image = _render_poppler(poppler_path, number, scale * 72.0)
                words = page_words(page, transform) if with_words else None
            except Exception as exc:
                if on_error == "raise":
                    raise RenderError(f"{source.name}: page {number} failed: {exc}") from exc
                yield failed_page(number, transform, "pdf", f"render failed: {exc}")
                continue
            yield RenderedPage(
                number=number,
                image=image,
                transform=transform,
                source_kind="pdf",
                words=words,
            )


def _render_pymupdf(page: Any, scale: float) -> np.ndarray:
    import pymupdf

    pix = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False, colorspace="rgb")
    rows = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.stride)
    # Copy so the array owns its memory once the pixmap is freed.
    return rows[:, : pix.width * 3].reshape(pix.height, pix.width, 3).copy()


def _render_poppler(path: Path, number: int, dpi: float) -> np.ndarray:
    from pdf2image import convert_from_path

    # pdftoppm takes fractional resolutions (needed for --max-pixels); the stub says int.
    resolution: Any = dpi
    images = convert_from_path(
        str(path), dpi=resolution, first_page=number, last_page=number, use_cropbox=True
    )
    return np.asarray(images[0].convert("RGB"), dtype=np.uint8).copy()


@contextlib.contextmanager
def _poppler_file(source: Source, renderer: str) -> Iterator[Path | None]:
    """The PDF as a file for pdftoppm (bytes go to a temp file, removed on exit)."""
    if renderer != "pdf2image":
        yield None
        return
    if shutil.which("pdftoppm") is None:
        raise RenderError(
            "the pdf2image renderer needs poppler's pdftoppm on PATH: install poppler-utils "
            "or use --renderer pymupdf"
        )
    if source.path is not None:
        yield source.path
        return
    assert source.data is not None
    fd, name = tempfile.mkstemp(suffix=".pdf")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(source.data)
        yield Path(name)
    finally:
        os.unlink(name)
