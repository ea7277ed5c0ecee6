"""The settings of a parse run, validated once, with errors that name the parameter.

Errors are :class:`~layoutft.errors.OptionError`: ``workers must be >= 1, got 0`` from the
library, ``--workers must be >= 1, got 0`` from the CLI (which renders parameters as its
flags). What depends on the detector (fp16 needs CUDA, workers only on CPU) is checked
when a :class:`~layoutft.parsing.parser.Parser` pairs the options with a detector.
No torch here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layoutft.errors import OptionError
from layoutft.model.settings import PRECISIONS, check_choice, check_precision, resolve_workers
from layoutft.parsing.cover import COVER_MODES
from layoutft.parsing.ocr import OCR_MODES
from layoutft.parsing.postprocess import MODES, ScoreThresholds, parse_score_threshold
from layoutft.parsing.views import LABEL_VIEWS
from layoutft.render.pages import PageSpec
from layoutft.render.pdf import RENDERERS

#: PDF rendering resolution of a model that records none (detectron2 checkpoints, ONNX
#: files exported before the dpi was stored); the bundled models were trained at it
DEFAULT_DPI = 200
MIN_DPI, MAX_DPI = 1, 4800  # resolutions accepted (dpi, image_dpi)
DEFAULT_MAX_PIXELS = 50_000_000  # ~150 MB per RGB page; A0 at 200 dpi is 62 Mpx


@dataclass(frozen=True)
class ParseOptions:
    """Settings of one parse run; invalid values raise OptionError when it is created.

    Attributes:
        dpi: PDF rendering resolution; regions come in pixels at this dpi and in points.
            None: the model's training dpi (its input contract's ``dpi``), else
            :data:`DEFAULT_DPI`; a :class:`~layoutft.parsing.parser.Parser` makes it
            concrete (:func:`choose_dpi`), so its ``options.dpi`` is always a float.
        pages: 1-based page selection such as ``"1-3,7"`` or ``[1, 2]``; None for all.
        batch_size: pages per forward pass; None: the detector's default (1 on CPU, 4 on
            GPU: batching slows CPUs).
        workers: pages predicted at once on CPU, the same detections as one at a time;
            None: the detector's default (2 on a multi-core CPU with ``batch_size`` 1,
            else 1; see ``LayoutModel.predict``).
        precision: ``"fp32"`` (detectron2's detections), ``"bf16"`` (faster on CPUs with
            AMX and on GPUs, approximate) or ``"fp16"`` (CUDA); see
            :meth:`LayoutModel.predict <layoutft.model.LayoutModel.predict>`.
        renderer: ``"pymupdf"`` or ``"pdf2image"`` (poppler).
        text: fill ``Region.text`` from the PDF text layer.
        postprocess: ``"default"`` (thresholds, duplicate removal, clipping) or ``"none"``
            (the model's raw detections).
        score_threshold: ``0.6``, ``"table=0.7,figure=0.5"`` or both; classes it does not
            set use the model config's ``MODEL.ROI_HEADS.SCORE_THRESH_TEST`` when the config
            sets it (not detectron2's default 0.05), else 0.5 (see
            :func:`~layoutft.parsing.postprocess.parse_score_threshold`).
        max_pixels: cap on a page image's ``width * height`` (the dpi drops for huge pages).
        image_dpi: resolution of images whose metadata has none.
        visualize: folder for a PNG per page with regions drawn (and an annotated PDF copy).
        progress: show a progress bar on stderr (when it is a terminal).
        labels_view: ``"native"`` (the model's classes) or ``"publaynet"`` (a DocLayNet
            model's regions in PubLayNet's five classes; see :mod:`layoutft.parsing.views`).
        cover_words: ``"auto"``: text-layer words outside every region become new ``text``
            regions (``origin: "text-layer"``, see :mod:`layoutft.parsing.cover`) on pages
            with a text layer (needs ``text``); ``"off"``: regions are the detections only.
        ocr: ``"never"``, ``"auto"`` (regions without text-layer text: every region of an
            image or a scanned page) or ``"always"``: Tesseract reads the regions, giving
            ``words`` and ``text`` (see :mod:`layoutft.parsing.ocr`).
        ocr_lang: Tesseract language(s) for ``ocr``, e.g. ``"eng"``, ``"deu+eng"``.
    """

    dpi: float | None = None
    pages: PageSpec = None
    batch_size: int | None = None
    workers: int | None = None
    precision: str = "fp32"
    renderer: str = "pymupdf"
    text: bool = True
    postprocess: str = "default"
    score_threshold: str | float | ScoreThresholds | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    image_dpi: float = 72
    visualize: str | Path | None = None
    progress: bool = False
    labels_view: str = "native"
    cover_words: str = "off"
    ocr: str = "never"
    ocr_lang: str = "eng"

    def __post_init__(self) -> None:
        check_numbers(self)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("renderer", self.renderer, RENDERERS)
        check_choice("postprocess", self.postprocess, MODES)
        check_choice("labels_view", self.labels_view, LABEL_VIEWS)
        check_choice("cover_words", self.cover_words, COVER_MODES)
        check_choice("ocr", self.ocr, OCR_MODES)
        if self.workers is not None:
            resolve_workers(self.workers, self.batch_size or 1, "cpu", 1)
        if self.score_threshold is not None:
            parse_score_threshold(self.score_threshold)  # syntax; class names need the model

    def replace(self, **changes: Any) -> ParseOptions:
        """A copy with ``changes`` (validated); TypeError for a name that is not a field."""
        return dataclasses.replace(self, **changes)


def choose_dpi(dpi: float | None, model_dpi: float | None = None) -> float:
    """The PDF rendering resolution of a parse: ``dpi`` when set, else ``model_dpi`` (the
    resolution the model was trained at), else :data:`DEFAULT_DPI` when the model records
    none (detectron2 checkpoints, older ONNX exports)."""
    if dpi is not None:
        return float(dpi)
    return float(model_dpi) if model_dpi is not None else float(DEFAULT_DPI)


def parse_options(options: ParseOptions | None = None, **changes: Any) -> ParseOptions:
    """``options`` (default :class:`ParseOptions`) with keyword ``changes``, validated.

    TypeError names an unknown keyword, as for any Python call.
    """
    fields = {f.name for f in dataclasses.fields(ParseOptions)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise TypeError(f"parse() got an unexpected keyword argument {unknown[0]!r}")
    base = options or ParseOptions()
    return base.replace(**changes) if changes else base


def check_numbers(opts: ParseOptions) -> None:
    """OptionError naming the parameter and its valid range for a bad number."""
    if opts.batch_size is not None and opts.batch_size < 1:
        raise OptionError("{batch_size} must be >= 1, got {got}", got=opts.batch_size)
    for name, value in (("dpi", opts.dpi), ("image_dpi", opts.image_dpi)):
        if value is None:  # dpi: the model's, made concrete by the Parser
            continue
        # finite and within reason: 1e-300 renders 0-pixel pages, inf overflows the zoom
        if not MIN_DPI <= value <= MAX_DPI:
            raise OptionError(
                "{" + name + "} must be a positive resolution from {low} to {high} (e.g. 200), "
                "got {got}",
                low=MIN_DPI,
                high=MAX_DPI,
                got=value,
            )
    if opts.max_pixels is not None and opts.max_pixels < 1:
        raise OptionError(
            "{max_pixels} must be a positive number of pixels (e.g. 50000000), got {got}",
            got=opts.max_pixels,
        )


__all__ = [
    "DEFAULT_DPI",
    "PRECISIONS",
    "ParseOptions",
    "check_choice",
    "check_numbers",
    "check_precision",
    "choose_dpi",
    "parse_options",
    "resolve_workers",
]
