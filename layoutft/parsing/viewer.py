"""A self-contained static HTML viewer of parse results: ``index.html`` (CSS, JavaScript
and the results inline: no server, no network, works from ``file://``) plus the page images
in ``pages/`` and ``thumbs/``.

:func:`write_viewer` builds it from :class:`~layoutft.schema.Document` s, rendering each
page from its source at the page's dpi (an empty page of the right size, with a note, when
the source is gone); :meth:`Viewer.sink` receives pages from :meth:`Parser.run
<layoutft.parsing.parser.Parser.run>` so ``layoutft parse --view DIR`` writes it in the same
run. The page view is an SVG whose viewBox is in page pixels, so regions scale with the image.

The results are embedded as JSON in a ``<script type="application/json">`` block with
``<``, ``>`` and ``&`` escaped (no text from the results can end the block), and the page
puts every string from the results in the DOM with ``textContent``, never as HTML.

The URL's query or hash selects the view, so a link (or a headless browser) can open a
filtered page: ``index.html#doc=1&page=2&hide=table,figure&minScore=0.8&sel=3``.
numpy, Pillow, PyMuPDF (through :mod:`layoutft.render`); no torch.
"""

from __future__ import annotations

import functools
import html
import json
import math
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.draw import color_for_label
from layoutft.errors import LayoutftError, RenderError
from layoutft.outputs import atomic_path, write_text_atomic
from layoutft.schema import Document, Page

PAGES = "pages"
THUMBS = "thumbs"
THUMB_WIDTH = 160
#: Page images are drawn with at most this many pixels (parse's default ``--max-pixels``)
#: and 65000 a side (JPEG's limit); a larger page is drawn scaled down and stretched to its
#: size in the SVG, so its regions still land.
VIEW_MAX_PIXELS = 50_000_000
_VIEW_MAX_SIDE = 65_000


def script_json(data: Any) -> str:
    """``data`` as JSON safe inside an HTML ``<script>`` block: ``<``, ``>``, ``&`` and the
    JavaScript line separators are written as ``\\uXXXX`` escapes (still valid JSON), so no
    string can close the block (``</script>``) or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def page_size_px(page: Page) -> tuple[int, int]:
    """The page's size in pixels: ``width_px``/``height_px``, else from points and dpi (a
    page that failed to render), else US Letter at the page's dpi."""
    if page.width_px > 0 and page.height_px > 0:
        return page.width_px, page.height_px
    scale = page.dpi / 72.0
    if page.width_pt > 0 and page.height_pt > 0:
        return max(1, round(page.width_pt * scale)), max(1, round(page.height_pt * scale))
    return max(1, round(612 * scale)), max(1, round(792 * scale))


def drawn_size(page: Page) -> tuple[int, int]:
    """The size a page image is drawn at: :func:`page_size_px`, scaled down (aspect kept)
    to at most :data:`VIEW_MAX_PIXELS` pixels and 65000 a side."""
    width, height = page_size_px(page)
    scale = min(
        1.0, math.sqrt(VIEW_MAX_PIXELS / (width * height)), _VIEW_MAX_SIDE / max(width, height)
    )
    if scale >= 1.0:
        return width, height
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def find_source(document: Document, base: str | Path | None = None) -> Path | None:
    """The source file of ``document``: its ``source.path`` as written (relative to the
    current folder), else relative to ``base`` (the results file's folder); None if absent."""
    path = document.source.get("path")
    if not path:
        return None
    candidates = [Path(path)]
    if base is not None and not Path(path).is_absolute():
        candidates.append(Path(base) / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def render_pages(
    document: Document, base: str | Path | None = None, renderer: str = "pymupdf"
) -> tuple[list[np.ndarray | None], list[str]]:
    """The page images of ``document`` rendered from its source at each page's dpi and
    sized to its ``width_px`` x ``height_px`` (so ``bbox_px`` fits), one per page (None where
    a page cannot be drawn), and notes saying why pages are missing or may not match."""
    from layoutft.render import count_pages, iter_pages, resolve_source

    images: list[np.ndarray | None] = [None] * len(document.pages)
    name = document.source.get("path") or "document"
    found = find_source(document, base)
    if found is None:
        return images, [f"{name}: source not found; its pages are drawn empty"]
    notes: list[str] = []
    try:
        src = resolve_source(found)
        sha = document.source.get("sha256")
        if sha and src.sha256() != sha:
            notes.append(f"{name}: the file changed since it was parsed; regions may not match")
        count = count_pages(src)
        by_dpi: dict[float, list[int]] = {}
        for i, page in enumerate(document.pages):
            if 1 <= page.number <= count:
                by_dpi.setdefault(page.dpi, []).append(i)
            else:
                notes.append(f"{name}: has no page {page.number}; drawn empty")
        for dpi, indices in by_dpi.items():
            wanted = {document.pages[i].number: i for i in indices}
            pages = sorted(wanted)
            for rendered in iter_pages(
                src,
                dpi=dpi,
                pages=pages,
                renderer=renderer,
                max_pixels=VIEW_MAX_PIXELS,
                image_dpi=dpi,
                on_error="record",
            ):
                i = wanted[rendered.number]
                images[i] = _sized(rendered.image, document.pages[i]) if rendered.ok else None
                if not rendered.ok:
                    notes.append(f"{name}: page {rendered.number}: {rendered.error}")
    except (RenderError, OSError) as exc:
        notes.append(f"{name}: cannot render ({exc}); pages drawn empty")
    return images, notes


def _sized(image: np.ndarray, page: Page) -> np.ndarray:
    """``image`` resized to the page's pixel size when it differs (a capped or rounded
    render), so boxes in page pixels land on it; to that size scaled down to
    :data:`VIEW_MAX_PIXELS` for a huge page (the SVG stretches it to the page size)."""
    from PIL import Image

    width, height = drawn_size(page)
    if image.shape[1] == width and image.shape[0] == height:
        return image
    resized = Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized)


class Viewer:
    """Builds a viewer in ``folder``: add documents (:meth:`add` or a parser sink from
    :meth:`sink`), then :meth:`write` the ``index.html``. Page images are written as they
    come, so only the results stay in memory.

    Args:
        folder: the viewer's folder (created; ``index.html``, ``pages/`` and ``thumbs/``
            in it are replaced, other files are left alone).
        title: the page title.
    """

    def __init__(self, folder: str | Path, title: str = "layoutft results") -> None:
        self.folder = Path(folder)
        self.title = title
        self.documents: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self._labels: list[str] = []

    def add(
        self,
        document: Document,
        images: Sequence[np.ndarray | None] | None = None,
        notes: Sequence[str] = (),
        results: str | Path | None = None,
    ) -> None:
        """Add ``document`` with its page ``images`` (uint8 [H,W,3] RGB in page pixels, one
        per page; None: an empty page), rendered from the source when ``images`` is None.
        ``notes`` are shown with the document; ``results`` names the file it came from."""
        index = len(self.documents)
        if images is None:
            base = None if results is None else Path(results).parent
            images, rendered_notes = render_pages(document, base)
            notes = [*notes, *rendered_notes]
        if len(images) != len(document.pages):
            raise ValueError(f"{len(images)} images for {len(document.pages)} pages")
        pairs = zip(document.pages, images, strict=True)
        files = [self._save(index, page, image) for page, image in pairs]
        self._entry(document, files, notes, results)

    def sink(self) -> ViewerSink:
        """A sink for :meth:`Parser.run <layoutft.parsing.parser.Parser.run>` that adds the
        document it receives to this viewer (call :meth:`write` after the last one)."""
        return ViewerSink(self)

    def write(self) -> Path:
        """Write ``index.html`` (atomically) and return its path."""
        data = {
            "title": self.title,
            "labels": [
                {"name": name, "color": "#{:02x}{:02x}{:02x}".format(*color_for_label(name))}
                for name in self._labels
            ],
            "documents": self.documents,
        }
        path = self.folder / "index.html"
        write_text_atomic(path, render_html(data, self.title))
        return path

    def _save(self, index: int, page: Page, image: np.ndarray | None) -> tuple[str, str] | None:
        """Write the page image and its thumbnail; their paths relative to the folder."""
        if image is None or image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            return None
        from PIL import Image

        stem = f"d{index + 1:03d}-p{page.number}.jpg"
        picture = Image.fromarray(np.ascontiguousarray(image[..., :3]))
        with atomic_path(self.folder / PAGES / stem) as tmp:
            picture.save(tmp, format="JPEG", quality=90)
        thumb = picture.copy()
        thumb.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4))
        with atomic_path(self.folder / THUMBS / stem) as tmp:
            thumb.save(tmp, format="JPEG", quality=80)
        return f"{PAGES}/{stem}", f"{THUMBS}/{stem}"

    def _entry(
        self,
        document: Document,
        files: Sequence[tuple[str, str] | None],
        notes: Sequence[str],
        results: str | Path | None,
    ) -> None:
        path = document.source.get("path")
        index = len(self.documents) + 1
        name = os.path.basename(str(path)) if path else f"document {index}"
        self.notes.extend(notes)
        for label in [*document.model.get("labels", [])] + [
            r.label for p in document.pages for r in p.regions
        ]:
            if label not in self._labels:
                self._labels.append(str(label))
        self.documents.append(
            {
                "name": name,
                "path": path,
                "results": None if results is None else str(results),
                "status": document.status,
                "model": document.model.get("name"),
                "notes": list(notes),
                "pages": [
                    _page_data(page, stored)
                    for page, stored in zip(document.pages, files, strict=True)
                ],
            }
        )


class ViewerSink:
    """Receives one document's pages from the parser and adds the document to a
    :class:`Viewer` once complete (a failed run adds nothing; images written stay)."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self.index = len(viewer.documents)
        self.files: list[tuple[str, str] | None] = []

    def begin(self, document: Document) -> None:
        self.index = len(self.viewer.documents)
        self.files = []

    def add(self, document: Document, page: Page, image: np.ndarray) -> None:
        self.files.append(self.viewer._save(self.index, page, image))

    def end(self, document: Document) -> None:
        self.viewer._entry(document, self.files, (), None)

    def abort(self) -> None:
        """The document is left out of the viewer."""


def _page_data(page: Page, stored: tuple[str, str] | None) -> dict[str, Any]:
    width, height = page_size_px(page)
    px_per_pt = page.dpi / 72.0
    return {
        "number": page.number,
        "width": width,
        "height": height,
        "width_pt": page.width_pt,
        "height_pt": page.height_pt,
        "dpi": page.dpi,
        "status": page.status,
        "error": page.error,
        "image": None if stored is None else stored[0],
        "thumb": None if stored is None else stored[1],
        "regions": [
            {
                "id": r.id,
                "label": r.label,
                "score": r.score,
                "bbox_px": r.bbox_px,
                "bbox_pt": r.bbox_pt,
                "polygon_px": [
                    [[round(x * px_per_pt, 1), round(y * px_per_pt, 1)] for x, y in ring]
                    for ring in r.polygon_pt
                    if len(ring) >= 3
                ],
                "text": r.text,
                "order": r.order,
                "alternatives": [[a.label, a.score] for a in r.alternatives],
                "origin": r.origin,
            }
            for r in page.regions
        ],
    }


def write_viewer(
    documents: Sequence[Document],
    folder: str | Path,
    *,
    results: Sequence[str | Path | None] | None = None,
    renderer: str = "pymupdf",
    title: str = "layoutft results",
) -> Viewer:
    """Write a viewer of ``documents`` into ``folder`` (pages rendered from their sources
    with ``renderer``; ``results``: the file each document was read from, whose folder is
    also searched for the source). Returns the :class:`Viewer` (``notes``: missing
    sources and pages)."""
    if not documents:
        raise LayoutftError("no results to view")
    viewer = Viewer(folder, title)
    where = list(results) if results is not None else [None] * len(documents)
    for document, result in zip(documents, where, strict=True):
        base = None if result is None else Path(result).parent
        images, notes = render_pages(document, base, renderer)
        viewer.add(document, images, notes, result)
    viewer.write()
    return viewer


def render_html(data: dict[str, Any], title: str) -> str:
    """The viewer page with ``data`` embedded (see :func:`script_json`): the package's
    ``viewer.html`` with ``viewer.css`` and ``viewer.js`` put in (files shipped beside this
    module, so no page is written without them)."""
    template, style, script = _page_parts()
    return (
        template.replace("__TITLE__", html.escape(title))
        .replace("__STYLE__", style)
        .replace("__SCRIPT__", script)
        .replace("__DATA__", script_json(data))
    )


@functools.cache
def _page_parts() -> tuple[str, str, str]:
    """The page template, its style sheet and its script, read once."""
    folder = resources.files("layoutft.parsing")

    def read(name: str) -> str:
        return folder.joinpath(name).read_bytes().decode("utf-8")

    return read("viewer.html"), read("viewer.css"), read("viewer.js")
