"""parse(): PDF or image -> rendered pages -> model -> regions -> ``layoutft.document/1``.

Pages are rendered in a background thread while the model runs on the previous batch,
predicted ``batch_size`` at a time, and handed out one by one (:meth:`Parser.iter_pages`),
so memory does not grow with the page count. A page that cannot be rendered or
predicted becomes a page with ``status: "error"``; the rest of the document goes on.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layoutft.errors import LayoutftError
from layoutft.postprocess import (
    MODES,
    ScoreThresholds,
    config_score_threshold,
    parse_score_threshold,
    postprocess,
)
from layoutft.reading_order import order_ranks
from layoutft.render import (
    RENDERERS,
    RenderedPage,
    Source,
    count_pages,
    inspect_source,
    iter_pages,
    resolve_source,
)
from layoutft.render.pages import PageSpec, parse_page_spec
from layoutft.schema import Document, Page, Region
from layoutft.text import text_in_box

if TYPE_CHECKING:
    from layoutft.predictor import LayoutModel

DEFAULT_DPI = 200
DEFAULT_MAX_PIXELS = 50_000_000  # ~150 MB per RGB page; A0 at 200 dpi is 62 Mpx


@dataclass(frozen=True)
class ParseOptions:
    """Settings of one parse run (see :func:`parse` for their meaning)."""

    dpi: float = DEFAULT_DPI
    pages: PageSpec = None
    batch_size: int | None = None  # None: the model's default_batch_size (1 on CPU, 4 on GPU)
    workers: int | None = None  # None: the model's default_workers (2 on CPU, 1 on GPU)
    precision: str = "fp32"
    renderer: str = "pymupdf"
    text: bool = True
    postprocess: str = "default"
    score_threshold: str | float | ScoreThresholds | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    image_dpi: float = 72
    visualize: str | Path | None = None
    progress: bool = False


def default_model(device: str = "auto", overrides: Sequence[str] | None = None) -> LayoutModel:
    """The bundled default model (ships inside the package: offline, no download)."""
    from layoutft.predictor import LayoutModel
    from layoutft.pretrained import BUNDLED_MODEL

    return LayoutModel.from_checkpoint(BUNDLED_MODEL, overrides=overrides, device=device)


def load_model(
    weights: str | Path | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] | None = None,
    device: str = "auto",
    labels: Sequence[str] | None = None,
    *,
    allow_partial: bool = False,
) -> LayoutModel:
    """A :class:`~layoutft.predictor.LayoutModel` from a weights file or registry name, else
    the bundled default model.

    ``labels``: class names in model order, for checkpoints that carry none (detectron2's).
    ``allow_partial``: load a checkpoint lacking some model parameters (else CheckpointError).
    """
    if weights is None:
        if config is not None or labels is not None:
            raise LayoutftError(
                "--config and --labels need --weights (the bundled model carries its own)"
            )
        return default_model(device, overrides)
    from layoutft.predictor import LayoutModel

    return LayoutModel.from_checkpoint(
        weights,
        config=config,
        overrides=overrides,
        device=device,
        labels=labels,
        allow_partial=allow_partial,
    )


def model_display_name(weights: str | Path | None) -> str:
    """The JSON ``model.name``: a registry name as given, else the weights file stem."""
    from layoutft.pretrained import BUNDLED_MODEL, is_model_name

    if weights is None:
        return BUNDLED_MODEL
    return str(weights) if is_model_name(str(weights)) else Path(weights).stem


class Parser:
    """A model plus parse settings, reusable across many inputs.

    Args:
        model: the loaded model (``predict(images, batch_size, format="RGB")``, ``labels``).
        options: see :class:`ParseOptions`.
        model_name: the name written to the JSON ``model`` block (weights stem or registry
            name); default ``model.name`` if it has one, else ``"model"``.
    """

    def __init__(
        self, model: LayoutModel, options: ParseOptions | None = None, model_name: str | None = None
    ) -> None:
        self.model = model
        self.options = options or ParseOptions()
        _check_numbers(self.options)
        self.batch_size = self.options.batch_size or int(getattr(model, "default_batch_size", 1))
        from layoutft.predictor import check_precision, resolve_workers

        # checked here, not per page: predict's errors become failed pages
        device_type = getattr(getattr(model, "device", None), "type", "cpu")
        check_precision(self.options.precision, device_type)
        default_workers = int(getattr(model, "default_workers", 1))
        self.workers = resolve_workers(
            self.options.workers, self.batch_size, device_type, default_workers
        )
        if self.options.renderer not in RENDERERS:
            raise LayoutftError(
                f"unknown --renderer {self.options.renderer!r}; choose one of "
                + ", ".join(RENDERERS)
            )
        if self.options.postprocess not in MODES:
            raise LayoutftError(
                f"unknown --postprocess {self.options.postprocess!r}; choose one of "
                + ", ".join(MODES)
            )
        self.labels = [str(name) for name in model.labels]
        default = config_score_threshold(getattr(model, "config", None))
        self.thresholds = parse_score_threshold(self.options.score_threshold, self.labels, default)
        self.model_name = model_name or str(getattr(model, "name", None) or "model")

    def header(self, source: str | Path | bytes | Source) -> Document:
        """The document for ``source`` without pages (opens it; checks the page selection)."""
        info = inspect_source(source)
        parse_page_spec(self.options.pages, info.page_count, info.path or "<bytes>")
        model: dict[str, Any] = {"name": self.model_name, "labels": list(self.labels)}
        model["precision"] = self.options.precision  # bf16/fp16 detections are approximate
        model["postprocess"] = self.options.postprocess
        if self.options.postprocess == "default":
            model["score_thresholds"] = self.thresholds.to_dict()
        path = None if info.path is None else _text(str(info.path))
        source_block = {"path": path, "sha256": info.sha256, "page_count": info.page_count}
        return Document(source=source_block, model=model, pages=[])

    def parse(self, source: str | Path | bytes) -> Document:
        """Parse every selected page of ``source`` into one :class:`Document`."""
        src = resolve_source(source)
        document = self.header(src)
        document.pages = list(self.iter_pages(src))
        self.finish(src, document)
        return document

    def finish(self, source: str | Path | bytes | Source, document: Document) -> None:
        """Work done once a document is complete: the annotated PDF copy for ``visualize``."""
        src = resolve_source(source)
        if self.options.visualize is not None and src.kind == "pdf":
            from layoutft.visualize import annotate_pdf

            out = Path(self.options.visualize) / f"{_stem(src)}.annotated.pdf"
            annotate_pdf(src.data if src.data is not None else str(src.path), document, out)

    def iter_pages(self, source: str | Path | bytes | Source) -> Iterator[Page]:
        """Parsed pages of ``source`` in order, each yielded as soon as its batch is done."""
        src = resolve_source(source)
        opts = self.options
        rendered = iter_pages(
            src,
            dpi=opts.dpi,
            pages=opts.pages,
            renderer=opts.renderer,
            max_pixels=opts.max_pixels,
            image_dpi=opts.image_dpi,
            with_words=opts.text,
            on_error="record",
        )
        total = len(parse_page_spec(opts.pages, count_pages(src), src.name))
        bar = _progress(total, src.name, opts.progress)
        per_call = self.batch_size * self.workers  # pages handed to predict at once
        # The model works on the next batch while this thread turns the last one into
        # pages (masks to polygons, text, reading order) and the caller writes them.
        model_thread = ThreadPoolExecutor(1, thread_name_prefix="layoutft-model")
        pending: deque[tuple[list[RenderedPage], Future[list[Any]]]] = deque()
        try:
            # one batch rendered ahead: rendering is ~40x faster than the model
            for batch in _batches(_prefetch(rendered, per_call), per_call):
                ok = [p for p in batch if p.ok]
                pending.append((batch, model_thread.submit(self._predict, ok)))
                if len(pending) > 1:
                    yield from self._finish(*pending.popleft(), src, bar)
            while pending:
                yield from self._finish(*pending.popleft(), src, bar)
        finally:
            model_thread.shutdown(wait=True, cancel_futures=True)
            bar.close()

    def _finish(
        self, batch: list[RenderedPage], predicted: Future[list[Any]], src: Source, bar: Any
    ) -> Iterator[Page]:
        """Yield the pages of ``batch`` one by one, counting each on the progress ``bar``."""
        for page in self._process(batch, predicted, src):
            bar.update(1)
            yield page

    def _process(
        self, batch: list[RenderedPage], predicted: Future[list[Any]], src: Source
    ) -> list[Page]:
        """The pages of ``batch``, once the model's detections for its ok pages are in."""
        ok = [p for p in batch if p.ok]
        outputs = dict(zip((id(p) for p in ok), predicted.result(), strict=True))
        pages = []
        for rendered in batch:
            page = self._page_or_error(rendered, outputs.get(id(rendered)))
            if page.status == "ok" and self.options.visualize is not None:
                from layoutft.visualize import save_page_png

                name = f"{_stem(src)}-p{rendered.number}.png"
                save_page_png(Path(self.options.visualize) / name, rendered.image, page)
            pages.append(page)
        return pages

    def _page_or_error(self, rendered: RenderedPage, detections: Any) -> Page:
        """The parsed page, or an error page saying which step failed."""
        if not rendered.ok:
            return _empty_page(rendered, "error", rendered.error)
        if isinstance(detections, Exception):
            return _empty_page(rendered, "error", f"prediction failed: {detections}")
        try:
            return self._page(rendered, detections)
        except Exception as exc:  # one bad page must not lose the document
            return _empty_page(rendered, "error", f"post-processing failed: {exc}")

    def _predict(self, pages: list[RenderedPage]) -> list[Any]:
        """Detections per page; if the batch fails, each page alone (failures as exceptions)."""
        if not pages:
            return []
        images = [p.image for p in pages]
        # Detections the thresholds would drop are dropped before their masks are pasted.
        min_score = self.thresholds.minimum if self.options.postprocess == "default" else 0.0
        precision = self.options.precision
        try:
            return list(
                self.model.predict(
                    images, self.batch_size, "RGB", min_score, precision, self.workers
                )
            )
        except Exception as exc:
            if len(pages) == 1:
                return [exc]
        results: list[Any] = []
        for image in images:
            try:
                results.extend(self.model.predict([image], 1, "RGB", min_score, precision, 1))
            except Exception as exc:
                results.append(exc)
        return results

    def _page(self, rendered: RenderedPage, detections: Any) -> Page:
        height, width = rendered.image.shape[:2]
        regions = postprocess(
            detections, self.labels, (height, width), self.options.postprocess, self.thresholds
        )
        transform = rendered.transform
        boxes_pt = transform.px_to_pt(regions.boxes)
        ranks = order_ranks(boxes_pt)
        items = []
        for i, label in enumerate(regions.labels):
            rings = [transform.px_points_to_pt(ring).tolist() for ring in regions.polygons[i]]
            items.append(
                Region(
                    id=i,
                    label=label,
                    score=float(regions.scores[i]),
                    bbox_px=[float(v) for v in regions.boxes[i]],
                    bbox_pt=[float(v) for v in boxes_pt[i]],
                    polygon_pt=rings,
                    text=text_in_box(rendered.words, boxes_pt[i]) if self.options.text else None,
                    order=ranks[i],
                )
            )
        page = _empty_page(rendered, "ok", None)
        page.regions = sorted(items, key=lambda r: r.order)
        return page


def parse(
    source: str | Path | bytes,
    model: LayoutModel | None = None,
    dpi: float = DEFAULT_DPI,
    pages: PageSpec = None,
    *,
    weights: str | Path | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] | None = None,
    device: str = "auto",
    labels: Sequence[str] | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    precision: str = "fp32",
    renderer: str = "pymupdf",
    text: bool = True,
    postprocess: str = "default",
    score_threshold: str | float | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    image_dpi: float = 72,
    visualize: str | Path | None = None,
    progress: bool = False,
    model_name: str | None = None,
    allow_partial: bool = False,
) -> Document:
    """Parse a PDF or page image into a layout :class:`~layoutft.schema.Document`.

    Args:
        source: path of a PDF/PNG/JPEG/TIFF, or its bytes.
        model: a loaded ``LayoutModel`` (build it once for many calls); else one is loaded
            from ``weights`` (+ ``config``, ``overrides``, ``device``, ``labels``: class names
            for checkpoints without them), else the default model.
        dpi: PDF rendering resolution; regions come in pixels at this dpi and in points.
        pages: 1-based page selection such as ``"1-3,7"`` or ``[1, 2]``; None for all.
        batch_size: pages per forward pass; None: 1 on CPU, 4 on GPU (batching slows CPUs).
        workers: pages predicted at once on CPU, the same detections as one at a time;
            None: 2 on a multi-core CPU with ``batch_size`` 1, else 1 (see
            ``LayoutModel.predict``).
        precision: ``"fp32"`` (detectron2's detections), ``"bf16"`` (faster on CPUs with
            AMX and on GPUs, approximate) or ``"fp16"`` (CUDA); see
            :meth:`LayoutModel.predict <layoutft.predictor.LayoutModel.predict>`.
        renderer: ``"pymupdf"`` or ``"pdf2image"`` (poppler).
        text: fill ``Region.text`` from the PDF text layer.
        postprocess: ``"default"`` (thresholds, duplicate removal, clipping) or ``"none"``
            (the model's raw detections).
        score_threshold: ``0.6``, ``"table=0.7,figure=0.5"`` or both; classes it does not set
            use the model config's ``MODEL.ROI_HEADS.SCORE_THRESH_TEST`` when the config sets
            it (not detectron2's default 0.05), else 0.5.
        max_pixels: cap on a page image's ``width * height`` (the dpi drops for huge pages).
        image_dpi: resolution of images whose metadata has none.
        visualize: folder for a PNG per page with regions drawn (and an annotated PDF copy).
        progress: show a progress bar on stderr (when it is a terminal).
        model_name: name for the JSON ``model`` block; default the weights file stem.
        allow_partial: load ``weights`` even when it lacks some of the model's parameters
            (they keep their random initial values); else that is a CheckpointError.

    Returns:
        the document; its ``status`` is ``"partial"`` or ``"error"`` when pages failed (each
        failed page has ``status: "error"`` and says why in ``error``).

    Raises:
        RenderError: the input cannot be read; LayoutftError: bad settings or no model;
        CheckpointError: ``weights`` does not fit the model (or lacks parameters).
    """
    if model is None:
        model = load_model(weights, config, overrides, device, labels, allow_partial=allow_partial)
    name = model_name or model_display_name(weights)
    options = ParseOptions(
        dpi=dpi,
        pages=pages,
        batch_size=batch_size,
        workers=workers,
        precision=precision,
        renderer=renderer,
        text=text,
        postprocess=postprocess,
        score_threshold=score_threshold,
        max_pixels=max_pixels,
        image_dpi=image_dpi,
        visualize=visualize,
        progress=progress,
    )
    return Parser(model, options, model_name=name).parse(source)


def _check_numbers(opts: ParseOptions) -> None:
    """LayoutftError naming the option and its valid range for a bad number."""
    if opts.batch_size is not None and opts.batch_size < 1:
        raise LayoutftError(f"--batch-size must be >= 1, got {opts.batch_size}")
    for flag, value in (("--dpi", opts.dpi), ("--image-dpi", opts.image_dpi)):
        if not value > 0:
            raise LayoutftError(f"{flag} must be a positive resolution (e.g. 200), got {value}")
    if opts.max_pixels is not None and opts.max_pixels < 1:
        raise LayoutftError(
            f"--max-pixels must be a positive number of pixels (e.g. 50000000), "
            f"got {opts.max_pixels}"
        )


def _empty_page(rendered: RenderedPage, status: str, error: str | None) -> Page:
    height, width = rendered.image.shape[:2]
    return Page(
        number=rendered.number,
        width_pt=rendered.width_pt,
        height_pt=rendered.height_pt,
        rotation=rendered.rotation,
        dpi=rendered.dpi,
        width_px=int(width),
        height_px=int(height),
        status=status,
        error=error,
    )


def _text(path: str) -> str:
    """A path as valid text: bytes of a non-UTF-8 file name become ``\\xff`` escapes (JSON
    cannot hold the lone surrogates Python decodes them to)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _stem(src: Source) -> str:
    return "document" if src.path is None else src.path.stem


def _batches(items: Iterator[RenderedPage], size: int) -> Iterator[list[RenderedPage]]:
    batch: list[RenderedPage] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_DONE = object()


def _prefetch(items: Iterator[RenderedPage], depth: int) -> Iterator[RenderedPage]:
    """Run ``items`` in a background thread, at most ``depth`` pages ahead of the consumer.

    Exceptions raised by ``items`` are re-raised in the consumer; closing this generator
    stops the thread and closes ``items`` (and so the document).
    """
    buffer: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            put(_DONE)
        except BaseException as exc:
            put(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="layoutft-render", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _progress(total: int, name: str, enabled: bool) -> Any:
    from tqdm import tqdm

    show = enabled and total > 1 and sys.stderr.isatty()
    return tqdm(total=total, desc=Path(name).name, unit="page", file=sys.stderr, disable=not show)


__all__ = ["DEFAULT_DPI", "ParseOptions", "Parser", "default_model", "load_model", "parse"]
