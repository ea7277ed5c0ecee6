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

import html
import json
import math
import os
from collections.abc import Sequence
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
    """The viewer page with ``data`` embedded (see :func:`script_json`)."""
    return (
        _TEMPLATE.replace("__TITLE__", html.escape(title))
        .replace("__STYLE__", _STYLE)
        .replace("__SCRIPT__", _SCRIPT)
        .replace("__DATA__", script_json(data))
    )


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
img-src 'self' file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>__TITLE__</title>
<style>__STYLE__</style>
</head>
<body>
<header>
  <strong id="title"></strong>
  <span id="where"></span>
  <span class="help">&larr;/&rarr; or j/k: pages &middot; click a region to pin it</span>
</header>
<main>
  <nav id="side">
    <h2>Documents</h2>
    <ul id="docs"></ul>
    <h2>Classes</h2>
    <div id="legend"></div>
    <h2>Score</h2>
    <label class="slider">&ge; <input id="score" type="range" min="0" max="1" step="0.01"
      value="0"> <output id="score-value">0.00</output></label>
    <div id="notes"></div>
  </nav>
  <div id="thumbs"></div>
  <section id="view"><svg id="page" xmlns="http://www.w3.org/2000/svg"></svg></section>
  <aside id="info"><h2>Region</h2><div id="details">Hover or click a region.</div></aside>
</main>
<script id="layoutft-data" type="application/json">__DATA__</script>
<script>__SCRIPT__</script>
</body>
</html>
"""

_STYLE = """
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: #222; background: #eef0f3;
  height: 100vh; display: flex; flex-direction: column; }
header { padding: 6px 12px; background: #24292f; color: #fff; display: flex; gap: 16px;
  align-items: baseline; }
header .help { margin-left: auto; color: #aab; font-size: 12px; }
main { flex: 1; display: grid; grid-template-columns: 220px 150px 1fr 280px; min-height: 0; }
nav, #thumbs, aside { overflow: auto; padding: 8px; background: #fff;
  border-right: 1px solid #d0d4da; }
h2 { font-size: 12px; text-transform: uppercase; color: #667; margin: 10px 0 4px; }
ul#docs { list-style: none; padding: 0; margin: 0; }
#docs li { padding: 3px 6px; cursor: pointer; border-radius: 4px; overflow-wrap: anywhere; }
#docs li.active { background: #dde8ff; font-weight: 600; }
#docs li .meta { color: #778; font-weight: normal; font-size: 11px; }
#legend label { display: flex; align-items: center; gap: 6px; padding: 1px 0; }
.swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; }
.count { margin-left: auto; color: #778; font-size: 11px; }
.slider { display: flex; align-items: center; gap: 4px; }
.slider input { flex: 1; }
#notes p { color: #9a3412; background: #fff4e5; padding: 4px 6px; border-radius: 4px; }
.thumb { display: block; width: 100%; margin: 0 0 8px; padding: 3px; border: 2px solid
  transparent; background: #f6f7f9; cursor: pointer; text-align: center; font: inherit; }
.thumb.active { border-color: #2f6fde; }
.thumb img, .thumb .blank { width: 100%; display: block; background: #fff; }
.thumb .blank { aspect-ratio: 0.77; border: 1px dashed #bbb; }
#view { overflow: auto; padding: 10px; display: flex; justify-content: center; }
svg#page { width: 100%; height: 100%; }
.sheet { fill: #fff; stroke: #c4c8cf; stroke-width: 1; vector-effect: non-scaling-stroke; }
.region { cursor: pointer; }
.region .box { fill-opacity: 0.10; stroke-width: 2; vector-effect: non-scaling-stroke; }
.region:hover .box, .region.selected .box { fill-opacity: 0.28; stroke-width: 3; }
.region .badge-text { fill: #fff; font-weight: 700; text-anchor: middle;
  dominant-baseline: central; font-family: system-ui, sans-serif; pointer-events: none; }
.missing { fill: #888; font-family: system-ui, sans-serif; text-anchor: middle; }
aside { border-right: 0; border-left: 1px solid #d0d4da; }
#details dl { display: grid; grid-template-columns: 70px 1fr; gap: 2px 8px; margin: 0; }
#details dt { color: #667; }
#details dd { margin: 0; overflow-wrap: anywhere; }
#details pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f7f9;
  padding: 6px; max-height: 50vh; overflow: auto; font: 12px/1.4 ui-monospace, monospace; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("layoutft-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = {};
  DATA.labels.forEach(function (l) { COLORS[l.name] = l.color; });
  var state = { doc: 0, page: 0, hidden: new Set(), minScore: 0, sel: null, pinned: false };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function sv(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function color(label) { return COLORS[label] || "#888888"; }
  function fmt(box) { return "[" + box.map(function (v) { return Number(v).toFixed(1); })
    .join(", ") + "]"; }
  function currentDoc() { return DATA.documents[state.doc]; }
  function currentPage() { var d = currentDoc(); return d ? d.pages[state.page] : null; }
  function visible(r) { return !state.hidden.has(r.label) && r.score >= state.minScore; }

  function readUrl() {
    var params = new URLSearchParams(location.search.replace(/^\?/, ""));
    new URLSearchParams(location.hash.replace(/^#/, "")).forEach(function (v, k) {
      params.set(k, v);
    });
    var d = parseInt(params.get("doc") || "1", 10) - 1;
    state.doc = d >= 0 && d < DATA.documents.length ? d : 0;
    var doc = currentDoc();
    state.page = 0;
    if (doc && params.has("page")) {
      var n = parseInt(params.get("page"), 10);
      var at = doc.pages.findIndex(function (p) { return p.number === n; });
      state.page = at >= 0 ? at : 0;
    }
    state.hidden = new Set((params.get("hide") || "").split(",").filter(Boolean));
    var s = parseFloat(params.get("minScore") || "0");
    state.minScore = isFinite(s) ? Math.min(1, Math.max(0, s)) : 0;
    state.sel = params.has("sel") ? parseInt(params.get("sel"), 10) : null;
    state.pinned = state.sel !== null;
  }
  function writeUrl() {
    var doc = currentDoc(), page = currentPage();
    var parts = ["doc=" + (state.doc + 1)];
    if (page) parts.push("page=" + page.number);
    if (state.hidden.size) parts.push("hide=" + Array.from(state.hidden).map(encodeURIComponent)
      .join(","));
    if (state.minScore > 0) parts.push("minScore=" + state.minScore);
    if (state.pinned && state.sel !== null) parts.push("sel=" + state.sel);
    try { history.replaceState(null, "", "#" + parts.join("&")); } catch (e) { /* file:// */ }
    return doc;
  }

  function renderDocs() {
    var list = document.getElementById("docs");
    clear(list);
    DATA.documents.forEach(function (doc, i) {
      var item = el("li", { "class": i === state.doc ? "active" : "", title: doc.path || "" },
        doc.name);
      item.appendChild(el("div", { "class": "meta" }, doc.pages.length + " page" +
        (doc.pages.length === 1 ? "" : "s") + " \u00b7 " + doc.status));
      item.addEventListener("click", function () { go(i, 0); });
      list.appendChild(item);
    });
  }

  function renderLegend() {
    var legend = document.getElementById("legend");
    clear(legend);
    var page = currentPage();
    DATA.labels.forEach(function (l) {
      var total = 0, shown = 0;
      (page ? page.regions : []).forEach(function (r) {
        if (r.label === l.name) { total++; if (visible(r)) shown++; }
      });
      var row = el("label", { "class": "class-toggle" });
      var box = el("input", { type: "checkbox", "data-label": l.name });
      box.checked = !state.hidden.has(l.name);
      if (box.checked) box.setAttribute("checked", "");
      box.addEventListener("change", function () {
        if (box.checked) state.hidden.delete(l.name); else state.hidden.add(l.name);
        update();
      });
      row.appendChild(box);
      var swatch = el("span", { "class": "swatch" });
      swatch.style.background = l.color;
      row.appendChild(swatch);
      row.appendChild(el("span", {}, l.name));
      row.appendChild(el("span", { "class": "count" }, shown + "/" + total));
      legend.appendChild(row);
    });
    var slider = document.getElementById("score");
    slider.value = String(state.minScore);
    slider.setAttribute("value", String(state.minScore));
    document.getElementById("score-value").textContent = state.minScore.toFixed(2);
  }

  function renderThumbs() {
    var strip = document.getElementById("thumbs");
    clear(strip);
    var doc = currentDoc();
    if (!doc) return;
    doc.pages.forEach(function (p, i) {
      var button = el("button", { "class": "thumb" + (i === state.page ? " active" : ""),
        type: "button", "data-page": p.number });
      if (p.thumb) button.appendChild(el("img", { src: p.thumb, alt: "", loading: "lazy" }));
      else {
        var blank = el("div", { "class": "blank" });
        blank.style.aspectRatio = p.width + " / " + p.height;
        button.appendChild(blank);
      }
      var shown = p.regions.filter(visible).length;
      button.appendChild(el("div", {}, "p. " + p.number + " \u00b7 " + shown + " regions" +
        (p.status !== "ok" ? " \u00b7 " + p.status : "")));
      button.addEventListener("click", function () { go(state.doc, i); });
      strip.appendChild(button);
      if (i === state.page && button.scrollIntoView) button.scrollIntoView({ block: "nearest" });
    });
  }

  function renderPage() {
    var svg = document.getElementById("page");
    clear(svg);
    var doc = currentDoc(), page = currentPage();
    if (!page) return;
    svg.setAttribute("viewBox", "0 0 " + page.width + " " + page.height);
    svg.setAttribute("data-page", String(page.number));
    var unit = Math.max(page.width, page.height) / 100;
    svg.appendChild(sv("rect", { "class": "sheet", x: 0, y: 0, width: page.width,
      height: page.height }));
    if (page.image) {
      svg.appendChild(sv("image", { href: page.image, x: 0, y: 0, width: page.width,
        height: page.height, preserveAspectRatio: "none" }));
    } else {
      var msg = sv("text", { x: page.width / 2, y: page.height / 2, "class": "missing",
        "font-size": 2 * unit });
      msg.textContent = page.status !== "ok" ? "page failed: " + (page.error || page.status)
        : "page image not available (source not found)";
      svg.appendChild(msg);
    }
    var regions = page.regions.slice().sort(function (a, b) { return a.order - b.order; });
    regions.filter(visible).forEach(function (r) {
      var c = color(r.label);
      var g = sv("g", { "class": "region" + (state.sel === r.id ? " selected" : ""),
        "data-id": r.id, "data-label": r.label, "data-score": r.score });
      var b = r.bbox_px;
      if (r.polygon_px && r.polygon_px.length) {
        r.polygon_px.forEach(function (ring) {
          g.appendChild(sv("polygon", { "class": "box", fill: c, stroke: c,
            points: ring.map(function (pt) { return pt[0] + "," + pt[1]; }).join(" ") }));
        });
      } else {
        g.appendChild(sv("rect", { "class": "box", fill: c, stroke: c, x: b[0], y: b[1],
          width: Math.max(0, b[2] - b[0]), height: Math.max(0, b[3] - b[1]) }));
      }
      var rad = 1.3 * unit;
      g.appendChild(sv("circle", { "class": "badge", cx: b[0] + rad, cy: b[1] + rad, r: rad,
        fill: c }));
      var t = sv("text", { "class": "badge-text", x: b[0] + rad, y: b[1] + rad,
        "font-size": 1.4 * unit });
      t.textContent = String(r.order + 1);
      g.appendChild(t);
      var title = sv("title", {});
      title.textContent = r.label + " " + Number(r.score).toFixed(2);
      g.appendChild(title);
      g.addEventListener("mouseenter", function () { if (!state.pinned) showRegion(r); });
      g.addEventListener("click", function (ev) {
        ev.stopPropagation();
        state.pinned = !(state.pinned && state.sel === r.id);
        state.sel = state.pinned ? r.id : null;
        update();
      });
      svg.appendChild(g);
    });
    var shown = page.regions.filter(visible).length;
    document.getElementById("where").textContent = doc.name + " \u00b7 page " + page.number +
      " (" + (state.page + 1) + " of " + doc.pages.length + ") \u00b7 " + shown + " of " +
      page.regions.length + " regions shown";
    var notes = document.getElementById("notes");
    clear(notes);
    doc.notes.forEach(function (n) { notes.appendChild(el("p", {}, n)); });
    if (page.error) notes.appendChild(el("p", {}, "page " + page.number + ": " + page.error));
    var selected = page.regions.find(function (r) { return r.id === state.sel; });
    showRegion(selected || null);
  }

  function showRegion(r) {
    var box = document.getElementById("details");
    clear(box);
    if (!r) { box.textContent = "Hover or click a region."; return; }
    var page = currentPage();
    var dl = el("dl", { "data-id": r.id });
    function row(k, v) { dl.appendChild(el("dt", {}, k)); dl.appendChild(el("dd", {}, v)); }
    var label = el("dd", {});
    var swatch = el("span", { "class": "swatch" });
    swatch.style.background = color(r.label);
    label.appendChild(swatch);
    label.appendChild(document.createTextNode(" " + r.label));
    dl.appendChild(el("dt", {}, "label"));
    dl.appendChild(label);
    row("score", Number(r.score).toFixed(3));
    if (r.origin && r.origin !== "model") row("origin", r.origin);
    if (r.alternatives && r.alternatives.length) {
      row("alternatives", r.alternatives.map(function (a) {
        return a[0] + " " + Number(a[1]).toFixed(2);
      }).join(", "));
    }
    row("order", r.order + 1);
    row("id", r.id);
    row("bbox px", fmt(r.bbox_px));
    row("bbox pt", fmt(r.bbox_pt));
    row("page", page.number + " @ " + page.dpi + " dpi");
    box.appendChild(dl);
    box.appendChild(el("h2", {}, "Text"));
    box.appendChild(el("pre", { id: "region-text" },
      r.text === null || r.text === undefined ? "(no text)" : r.text));
  }

  function update() {
    writeUrl();
    renderDocs();
    renderLegend();
    renderThumbs();
    renderPage();
  }
  function go(doc, page) {
    state.doc = doc; state.page = page; state.sel = null; state.pinned = false;
    update();
  }
  function step(delta) {
    var doc = currentDoc();
    if (!doc) return;
    var p = state.page + delta;
    if (p >= 0 && p < doc.pages.length) return go(state.doc, p);
    var d = state.doc + delta;
    if (d < 0 || d >= DATA.documents.length) return;
    go(d, delta > 0 ? 0 : Math.max(0, DATA.documents[d].pages.length - 1));
  }

  document.getElementById("title").textContent = DATA.title;
  document.getElementById("score").addEventListener("input", function (ev) {
    state.minScore = parseFloat(ev.target.value) || 0;
    update();
  });
  document.getElementById("page").addEventListener("click", function () {
    state.pinned = false; state.sel = null; update();
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.target && ev.target.tagName === "INPUT" && ev.target.type === "range") return;
    if (ev.key === "ArrowRight" || ev.key === "j") { ev.preventDefault(); step(1); }
    else if (ev.key === "ArrowLeft" || ev.key === "k") { ev.preventDefault(); step(-1); }
  });
  window.addEventListener("hashchange", function () { readUrl(); update(); });
  readUrl();
  update();
})();
"""
