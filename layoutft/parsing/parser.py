"""The parser: PDF or image -> rendered pages -> detector -> regions -> ``layoutft.document/1``.

Pages are rendered in a background thread while the detector runs on the previous batch,
predicted ``batch_size`` at a time, post-processed and assembled here, and handed to the
caller one by one (:meth:`Parser.iter_pages`) or to result sinks (:meth:`Parser.run`), so
memory does not grow with the page count. A page that cannot be rendered or predicted
becomes a page with ``status: "error"``; the rest of the document goes on.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layoutft._compat import require_torch, torch_installed
from layoutft.errors import OptionError
from layoutft.model.identity import weights_ref
from layoutft.parsing.assemble import assemble_page, empty_page
from layoutft.parsing.cover import cover_label, cover_words
from layoutft.parsing.detector import Detector, PageDetections, detector_defaults
from layoutft.parsing.ocr import check_tesseract, ocr_page
from layoutft.parsing.options import (
    DEFAULT_DPI,
    ParseOptions,
    check_choice,
    check_precision,
    choose_dpi,
    parse_options,
    resolve_workers,
)
from layoutft.parsing.postprocess import parse_score_threshold, postprocess
from layoutft.parsing.results import ResultSink
from layoutft.parsing.views import maps_labels, publaynet_view, view_labels
from layoutft.render import (
    RenderedPage,
    Source,
    count_pages,
    inspect_source,
    iter_pages,
    resolve_source,
)
from layoutft.render.pages import parse_page_spec
from layoutft.schema import Document, Page

if TYPE_CHECKING:
    import numpy as np

    from layoutft.model import LayoutModel
    from layoutft.parsing.onnx_model import OnnxDetector

#: what the model thread hands back per page: its detections, or why predicting failed
Predicted = PageDetections | Exception


BACKENDS = ("auto", "onnx", "torch")


def default_model(device: str = "auto", overrides: Sequence[str] | None = None) -> LayoutModel:
    """The bundled default model in torch (ships inside the package: offline, no download)."""
    from layoutft.model import LayoutModel
    from layoutft.pretrained import BUNDLED_MODEL

    require_torch("the torch backend")
    return LayoutModel.from_checkpoint(BUNDLED_MODEL, overrides=overrides, device=device)


def load_model(
    weights: str | Path | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] | None = None,
    device: str = "auto",
    labels: Sequence[str] | None = None,
    *,
    allow_partial: bool = False,
    backend: str = "auto",
) -> Detector:
    """The detector of a weights file or registry name, else of the bundled default model.

    ``backend``: ``"torch"`` (a :class:`~layoutft.model.LayoutModel`), ``"onnx"``
    (an :class:`~layoutft.parsing.onnx_model.OnnxDetector`: the bundled model's ONNX export
    or a ``.onnx`` file from ``layoutft export -f onnx``; CPU, no torch) or ``"auto"``
    (:func:`choose_backend`). ``labels``: class names in model order, for checkpoints that
    carry none (detectron2's). ``allow_partial``: load a checkpoint lacking some model
    parameters (else CheckpointError). ``config``, ``overrides`` and ``labels`` are for torch
    checkpoints: an ONNX file carries its own.
    """
    if weights is None and (config is not None or labels is not None):
        raise OptionError(
            "{config} and {labels} need {weights} (the bundled model carries its own)"
        )
    chosen = choose_backend(weights, device, backend, bool(config or overrides or labels))
    if chosen == "onnx":
        return load_onnx(weights, device, config, overrides, labels)
    if weights is None:
        return default_model(device, overrides)
    from layoutft.model import LayoutModel

    require_torch(f"{Path(str(weights)).name} (a torch checkpoint)")
    return LayoutModel.from_checkpoint(
        weights,
        config=config,
        overrides=overrides,
        device=device,
        labels=labels,
        allow_partial=allow_partial,
    )


def choose_backend(
    weights: str | Path | None, device: str = "auto", backend: str = "auto", tuned: bool = False
) -> str:
    """``"onnx"`` or ``"torch"``: the backend :func:`load_model` uses.

    ``"auto"`` picks ONNX for ``.onnx`` files; torch for torch checkpoints (a ``.pth``/``.pkl``
    file or a registry model without an ONNX export); for the bundled models (None: the
    default) ONNX, unless torch is installed and the model is ``tuned`` (config, overrides
    or labels given: an ONNX graph is fixed) or ``device`` asks for CUDA (``"cuda"``, or
    ``"auto"`` with a GPU present). A torch checkpoint without torch is then a
    :class:`~layoutft.errors.TorchMissingError` naming the install command, never an
    ImportError.
    """
    check_choice("backend", backend, BACKENDS)
    is_file = weights_ref(weights).kind == "onnx"
    if is_file and backend == "torch":
        raise OptionError(
            "{weights} {file} is an ONNX model; use {backend} onnx (or auto)", file=str(weights)
        )
    if is_file or backend == "onnx":
        if onnx_file(weights) is None:
            raise OptionError(
                "{backend} onnx needs an ONNX model and {file} is a torch checkpoint; export "
                "one with `layoutft export WEIGHTS -f onnx -o FILE.onnx` or use {backend} torch",
                file=str(weights),
            )
        return "onnx"
    if backend == "torch" or onnx_file(weights) is None:  # asked for, or a torch checkpoint
        return "torch"
    # a model shipped with its ONNX export (the bundled ones): ONNX unless the user asked for
    # what only torch does
    if not torch_installed():
        return "onnx"
    if tuned or device.startswith("cuda"):
        return "torch"
    if device == "auto":
        import torch

        return "torch" if torch.cuda.is_available() else "onnx"
    return "onnx"


def onnx_file(weights: str | Path | None) -> Path | None:
    """The ONNX file of ``weights``: the bundled model's export for None, a registry
    model's ``onnx`` file, the path itself for a ``.onnx`` file; None for torch checkpoints
    (:meth:`~layoutft.model.identity.WeightsRef.onnx_path`)."""
    return weights_ref(weights).onnx_path()


def load_onnx(
    weights: str | Path | None,
    device: str = "auto",
    config: str | Path | None = None,
    overrides: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> OnnxDetector:
    """The :class:`~layoutft.parsing.onnx_model.OnnxDetector` of ``weights`` (see
    :func:`onnx_file`); OptionError for settings only the torch backend takes."""
    from layoutft.parsing.onnx_model import OnnxDetector

    settings = {"{config}": config, "{labels}": labels, "config overrides (KEY VALUE)": overrides}
    for setting, given in settings.items():
        if given:
            raise OptionError(
                setting + " are for torch checkpoints (an ONNX model carries its own); "
                "use {backend} torch"
            )
    if device.startswith("cuda"):
        raise OptionError("{device} " + device + " needs {backend} torch (ONNX runs on the CPU)")
    ref = weights_ref(weights)
    path = ref.onnx_path()
    if path is None:
        raise OptionError("{weights} {file} is no ONNX model", file=str(weights))
    return OnnxDetector(path, name=ref.registry_name)  # None: the file's stem


def model_display_name(weights: str | Path | None) -> str:
    """The JSON ``model.name``: a registry name as given, else the weights file stem
    (:attr:`~layoutft.model.identity.WeightsRef.name`)."""
    return weights_ref(weights).name


class Parser:
    """A detector plus parse settings, reusable across many inputs.

    Args:
        model: the detector (a :class:`~layoutft.model.LayoutModel` or anything
            satisfying :class:`~layoutft.parsing.detector.Detector`).
        options: see :class:`~layoutft.parsing.options.ParseOptions`; kept as
            ``self.options`` with ``dpi`` made concrete (``self.dpi``; None: the model's
            ``input_dpi``, else :data:`~layoutft.parsing.options.DEFAULT_DPI`).
        model_name: the name written to the JSON ``model`` block (weights stem or registry
            name); default the detector's ``name`` if it has one, else ``"model"``.

    Raises OptionError when the options do not suit the detector (fp16 off CUDA, workers
    on a GPU, a score threshold for a class the model lacks, ``labels_view`` publaynet for
    a model whose classes are neither DocLayNet's nor PubLayNet's).
    """

    def __init__(
        self, model: Detector, options: ParseOptions | None = None, model_name: str | None = None
    ) -> None:
        self.model = model
        facts = detector_defaults(model)
        given = options or ParseOptions()
        # resolved once here: rendering, the JSON's dpi and a corpus manifest's fingerprint
        # all read this concrete dpi
        self.dpi = choose_dpi(given.dpi, facts.input_dpi)
        self.options = given.replace(dpi=self.dpi)
        self.batch_size = self.options.batch_size or facts.batch_size
        # checked here, not per page: predict's errors become failed pages
        check_precision(self.options.precision, facts.device_type)
        if self.options.ocr != "never":
            check_tesseract(self.options.ocr_lang)
        if self.options.precision not in facts.supported_precisions:
            raise OptionError(
                "{precision} {p} needs the torch backend ({backend} torch); this model runs {ok}",
                p=self.options.precision,
                ok=", ".join(facts.supported_precisions),
            )
        self.workers = resolve_workers(
            self.options.workers, self.batch_size, facts.device_type, facts.workers
        )
        self.labels = [str(name) for name in model.labels]
        self.thresholds = parse_score_threshold(
            self.options.score_threshold, self.labels, facts.score_threshold
        )
        self.maps_labels = maps_labels(self.options.labels_view, self.labels)
        self.model_name = model_name or str(facts.name or "model")

    def header(self, source: str | Path | bytes | Source) -> Document:
        """The document for ``source`` without pages (opens it; checks the page selection)."""
        info = inspect_source(source)
        parse_page_spec(self.options.pages, info.page_count, info.path or "<bytes>")
        model: dict[str, Any] = {"name": self.model_name, "labels": list(self.labels)}
        if self.maps_labels:  # the regions' classes; the model's own stay on record
            model["labels"] = view_labels(self.options.labels_view, self.labels)
            model["labels_view"] = self.options.labels_view
            model["model_labels"] = list(self.labels)
        model["precision"] = self.options.precision  # bf16/fp16 detections are approximate
        model["postprocess"] = self.options.postprocess
        if self.options.postprocess == "default":
            model["score_thresholds"] = self.thresholds.to_dict()
        if self.options.cover_words != "off":
            model["cover_words"] = self.options.cover_words
        path = None if info.path is None else _text(str(info.path))
        source_block = {"path": path, "sha256": info.sha256, "page_count": info.page_count}
        return Document(source=source_block, model=model, pages=[])

    def parse(self, source: str | Path | bytes) -> Document:
        """Parse every selected page of ``source`` into one :class:`Document` (and the
        ``visualize`` files when the options ask for them)."""
        return self.run(source)

    def run(
        self, source: str | Path | bytes | Source, sinks: Sequence[ResultSink] = ()
    ) -> Document:
        """Parse ``source``, handing the document to each of ``sinks`` (and to a
        :class:`~layoutft.parsing.visualize.VisualizationSink` when ``visualize`` is set)
        page by page as pages are done; returns the complete document.

        Each sink gets ``begin(header)``, ``add(document, page, image)`` per page in order,
        then ``end(document)``; if parsing fails part-way every sink gets ``abort()``.
        """
        src = resolve_source(source)
        document = self.header(src)
        receivers = list(sinks)
        if self.options.visualize is not None:
            from layoutft.parsing.visualize import VisualizationSink

            receivers.append(VisualizationSink(self.options.visualize, src))
        parsed = ((page, rendered.image) for rendered, page in self._parsed(src))
        return deliver(document, parsed, receivers)

    def iter_pages(self, source: str | Path | bytes | Source) -> Iterator[Page]:
        """Parsed pages of ``source`` in order, each yielded as soon as its batch is done
        (no sinks: :meth:`run` writes results and visualizations)."""
        for _, page in self._parsed(resolve_source(source)):
            yield page

    def _parsed(self, src: Source) -> Iterator[tuple[RenderedPage, Page]]:
        """Each rendered page of ``src`` with its parsed page, in order."""
        opts = self.options
        rendered = iter_pages(
            src,
            dpi=self.dpi,
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
        pending: deque[tuple[list[RenderedPage], Future[list[Predicted]]]] = deque()
        try:
            # one batch rendered ahead: rendering is ~40x faster than the model
            for batch in _batches(_prefetch(rendered, per_call), per_call):
                ok = [p for p in batch if p.ok]
                pending.append((batch, model_thread.submit(self._predict, ok)))
                if len(pending) > 1:
                    yield from self._finish(*pending.popleft(), bar)
            while pending:
                yield from self._finish(*pending.popleft(), bar)
        finally:
            model_thread.shutdown(wait=True, cancel_futures=True)
            bar.close()

    def parse_rendered(self, batch: Sequence[RenderedPage]) -> list[Page]:
        """The parsed pages of already rendered pages, in order (error pages for pages that
        failed to render, predict or post-process): the per-page steps of :meth:`run`
        without rendering, for engines that render elsewhere (:mod:`layoutft.distributed`)."""
        ok = [p for p in batch if p.ok]
        outputs = dict(zip((id(p) for p in ok), self._predict(ok), strict=True))
        return [self._page_or_error(rendered, outputs.get(id(rendered))) for rendered in batch]

    def _finish(
        self, batch: list[RenderedPage], predicted: Future[list[Predicted]], bar: Any
    ) -> Iterator[tuple[RenderedPage, Page]]:
        """The pages of ``batch`` one by one, counting each on the progress ``bar``, once
        the detector's results for its ok pages are in."""
        ok = [p for p in batch if p.ok]
        outputs = dict(zip((id(p) for p in ok), predicted.result(), strict=True))
        for rendered in batch:
            page = self._page_or_error(rendered, outputs.get(id(rendered)))
            bar.update(1)
            yield rendered, page

    def _page_or_error(self, rendered: RenderedPage, detections: Predicted | None) -> Page:
        """The parsed page, or an error page saying which step failed."""
        if not rendered.ok:
            return empty_page(rendered, "error", rendered.error)
        if isinstance(detections, Exception):
            return empty_page(rendered, "error", f"prediction failed: {detections}")
        try:
            return self._page(rendered, detections)
        except Exception as exc:  # one bad page must not lose the document
            return empty_page(rendered, "error", f"post-processing failed: {exc}")

    def _predict(self, pages: list[RenderedPage]) -> list[Predicted]:
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
        results: list[Predicted] = []
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
        page = assemble_page(rendered, regions, self.options.text)
        if self.options.cover_words == "auto" and self.options.postprocess == "default":
            page = cover_words(page, rendered.words, cover_label(self.labels))
        page = publaynet_view(page, rendered.words) if self.maps_labels else page
        if self.options.ocr != "never":
            page = ocr_page(page, rendered.image, self.options.ocr, self.options.ocr_lang)
        return page


def deliver(
    document: Document,
    parsed: Iterable[tuple[Page, np.ndarray]],
    sinks: Sequence[ResultSink] = (),
) -> Document:
    """Append each parsed ``(page, image)`` to ``document`` and hand it to ``sinks`` as
    :meth:`Parser.run` does: ``begin(document)``, ``add`` per page in order, ``end``; every
    sink gets ``abort()`` if anything fails on the way. Returns ``document``.

    Engines that parse pages elsewhere (:mod:`layoutft.distributed`) write through it, so
    their files are the local engine's."""
    try:
        for sink in sinks:
            sink.begin(document)
        for page, image in parsed:
            document.pages.append(page)
            for sink in sinks:
                sink.add(document, page, image)
        for sink in sinks:
            sink.end(document)
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    return document


def parse(
    source: str | Path | bytes,
    model: Detector | None = None,
    options: ParseOptions | None = None,
    *,
    weights: str | Path | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] | None = None,
    device: str = "auto",
    labels: Sequence[str] | None = None,
    model_name: str | None = None,
    allow_partial: bool = False,
    backend: str = "auto",
    **option_changes: Any,
) -> Document:
    """Parse a PDF or page image into a layout :class:`~layoutft.schema.Document`.

    ``layoutft.parse("paper.pdf", dpi=200, pages="1-3")``: every
    :class:`~layoutft.parsing.options.ParseOptions` field (``dpi``, ``pages``,
    ``batch_size``, ``workers``, ``precision``, ``renderer``, ``text``, ``postprocess``,
    ``score_threshold``, ``max_pixels``, ``image_dpi``, ``visualize``, ``progress``,
    ``labels_view``, ``cover_words``) can be
    given as a keyword, over ``options`` (default ``ParseOptions()``); they are documented
    and validated there.

    Args:
        source: path of a PDF/PNG/JPEG/TIFF, or its bytes.
        model: a loaded detector (build it once for many calls); else one is loaded
            from ``weights`` (+ ``config``, ``overrides``, ``device``, ``labels``: class names
            for checkpoints without them), else the default model.
        options: parse settings; keywords override its fields.
        model_name: name for the JSON ``model`` block; default the weights file stem.
        allow_partial: load ``weights`` even when it lacks some of the model's parameters
            (they keep their random initial values); else that is a CheckpointError.
        backend: ``auto``, ``onnx`` or ``torch`` (see :func:`load_model`).

    Returns:
        the document; its ``status`` is ``"partial"`` or ``"error"`` when pages failed (each
        failed page has ``status: "error"`` and says why in ``error``).

    Raises:
        RenderError: the input cannot be read; OptionError: a bad setting (named as the
        parameter); CheckpointError: ``weights`` does not fit the model (or lacks
        parameters); TypeError: a keyword that is no parse setting.
    """
    settings = parse_options(options, **option_changes)
    if model is None:
        model = load_model(
            weights,
            config,
            overrides,
            device,
            labels,
            allow_partial=allow_partial,
            backend=backend,
        )
    name = model_name or model_display_name(weights)
    return Parser(model, settings, model_name=name).parse(source)


def _text(path: str) -> str:
    """A path as valid text: bytes of a non-UTF-8 file name become ``\\xff`` escapes (JSON
    cannot hold the lone surrogates Python decodes them to)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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


__all__ = [
    "BACKENDS",
    "DEFAULT_DPI",
    "ParseOptions",
    "Parser",
    "choose_backend",
    "default_model",
    "deliver",
    "load_model",
    "load_onnx",
    "model_display_name",
    "onnx_file",
    "parse",
]
