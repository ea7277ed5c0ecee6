"""What runs on the Ray workers: the page-parsing actor and the render steps (the model
they load is a :class:`~layoutft.parsing.model_spec.ModelSpec`).

Nothing here imports Ray: these are plain classes and functions that
:mod:`layoutft.distributed.engine` and :mod:`layoutft.distributed.data` turn into Ray
tasks and actors, so they can be tested (and reused) without a cluster. The per-page work
is the local engine's own (:meth:`Parser.parse_rendered
<layoutft.parsing.parser.Parser.parse_rendered>`, :meth:`Parser.header
<layoutft.parsing.parser.Parser.header>`, :func:`layoutft.render.iter_pages`), so a page
parsed on a worker is the page ``layoutft parse`` writes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from layoutft.parsing.detector import Detector, detector_defaults
from layoutft.parsing.model_spec import ModelSpec
from layoutft.parsing.options import ParseOptions, choose_dpi
from layoutft.render import iter_pages
from layoutft.render.pages import parse_page_spec
from layoutft.render.types import RenderedPage
from layoutft.schema import Document, Page

if TYPE_CHECKING:
    from layoutft.parsing.parser import Parser


#: a model for the workers: a spec, or a picklable function returning a detector
ModelSource = ModelSpec | Callable[[], Detector]


def load_detector(model: ModelSource) -> Detector:
    """The detector ``model`` describes (a :class:`ModelSpec` is loaded, a function called)."""
    return model.load() if isinstance(model, ModelSpec) else model()


@dataclass(frozen=True)
class ModelFacts:
    """What the driver needs of the workers' model to write document headers, without the
    model: a :class:`~layoutft.parsing.detector.Detector` whose ``predict`` is never
    called. A :class:`~layoutft.parsing.parser.Parser` over it writes the same ``model``
    block (labels, default score threshold) and renders at the same dpi (``input_dpi``) as
    one over the model itself.
    """

    labels: tuple[str, ...]
    default_score_threshold: float
    device_type: str
    default_batch_size: int
    default_workers: int
    name: str | None = None
    node_id: str | None = field(default=None, compare=False)
    supported_precisions: tuple[str, ...] = ("fp32", "bf16", "fp16")
    input_dpi: float | None = None

    @property
    def device(self) -> Any:
        return SimpleNamespace(type=self.device_type)

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> list[Any]:
        raise RuntimeError("ModelFacts describes a model on the workers; it cannot predict")


def model_facts(detector: Detector, node_id: str | None = None) -> ModelFacts:
    """The :class:`ModelFacts` of a loaded ``detector``."""
    facts = detector_defaults(detector)
    return ModelFacts(
        labels=tuple(str(label) for label in detector.labels),
        default_score_threshold=facts.score_threshold,
        device_type=facts.device_type,
        default_batch_size=facts.batch_size,
        default_workers=facts.workers,
        supported_precisions=facts.supported_precisions,
        name=facts.name,
        node_id=node_id,
        input_dpi=facts.input_dpi,
    )


class PageWorker:
    """The body of a model actor: loads the model once (on its first call, so a model that
    fails to load raises its own error there), then parses batches of rendered pages into
    schema pages (predict, post-process, assemble: masks never leave the worker).

    Each instance has an ``incarnation`` (a fresh random id): Ray restarting a lost actor
    runs ``__init__`` again, so :meth:`ping` tells the driver whether the actor it reaches
    now is the process it sent its last call to.

    Args:
        model: a :class:`ModelSpec` or a function returning a detector.
        options: the run's parse settings (``batch_size``, ``workers``, ``precision``,
            thresholds, ``text`` ... as in the local engine).
        model_name: the JSON ``model.name``.
    """

    def __init__(
        self, model: ModelSource, options: ParseOptions, model_name: str | None = None
    ) -> None:
        self.model = model
        self.options = options
        self.model_name = model_name
        self.incarnation = uuid.uuid4().hex
        self._parser: Parser | None = None

    @property
    def parser(self) -> Parser:
        """The worker's parser over its model (loaded on first use)."""
        if self._parser is None:
            from layoutft.parsing.parser import Parser

            self._parser = Parser(load_detector(self.model), self.options, self.model_name)
        return self._parser

    def facts(self) -> ModelFacts:
        """The model's :class:`ModelFacts` (with the node this worker runs on)."""
        return model_facts(self.parser.model, node_id=current_node_id())

    def ping(self) -> str:
        """This process's ``incarnation`` (a cheap call: loads nothing)."""
        return self.incarnation

    def parse(self, pages: Sequence[RenderedPage]) -> tuple[list[Page], str | None]:
        """The parsed ``pages`` and the id of the node that parsed them."""
        return self.parser.parse_rendered(list(pages)), current_node_id()


def current_node_id() -> str | None:
    """The Ray node id of this process, or None outside Ray."""
    try:
        import ray

        if ray.is_initialized():
            return str(ray.get_runtime_context().get_node_id())
    except Exception:
        pass
    return None


@dataclass
class SourcePlan:
    """A document header and the pages of it to parse (what :func:`inspect_input` finds)."""

    header: Document
    numbers: list[int]


def inspect_input(parser: Parser, path: str) -> SourcePlan:
    """Open ``path``, hash it, count its pages and check the page selection: its document
    header (exactly :meth:`Parser.header`) and the selected page numbers.

    Raises RenderError (unreadable input, bad page selection) as the local engine does.
    """
    header = parser.header(path)
    count = int(header.source["page_count"])
    return SourcePlan(header, parse_page_spec(parser.options.pages, count, path))


def render_pages(path: str, numbers: Sequence[int], options: ParseOptions) -> list[RenderedPage]:
    """Pages ``numbers`` of ``path`` rendered as the local engine renders them (a page that
    fails to render is recorded with its error, never raised). ``options.dpi`` None (no
    model resolved it) renders at :data:`~layoutft.parsing.options.DEFAULT_DPI`."""
    return list(
        iter_pages(
            path,
            dpi=choose_dpi(options.dpi),
            pages=list(numbers),
            renderer=options.renderer,
            max_pixels=options.max_pixels,
            image_dpi=options.image_dpi,
            with_words=options.text,
            on_error="record",
        )
    )


def page_row(path: str | Path, rendered: RenderedPage) -> dict[str, Any]:
    """One page record of :func:`layoutft.distributed.page_dataset`: ``source`` (the path),
    ``page`` (1-based number), ``image`` (uint8 [H,W,3] RGB; empty when the page failed),
    ``width_px``, ``height_px``, ``dpi``, ``error`` (None when rendered) and ``record``: the
    rest of the :class:`~layoutft.render.types.RenderedPage` (transform, words), pickled,
    for :func:`rendered_page`."""
    rest = RenderedPage(
        rendered.number,
        np.zeros((0, 0, 3), np.uint8),
        rendered.transform,
        rendered.source_kind,
        rendered.error,
        rendered.words,
    )
    height, width = rendered.image.shape[:2]
    return {
        "source": os.fspath(path),
        "page": int(rendered.number),
        "image": rendered.image,
        "width_px": int(width),
        "height_px": int(height),
        "dpi": float(rendered.dpi),
        "error": rendered.error,
        "record": pickle.dumps(rest, protocol=pickle.HIGHEST_PROTOCOL),
    }


def rendered_page(row: dict[str, Any]) -> RenderedPage:
    """The :class:`~layoutft.render.types.RenderedPage` of a page record (:func:`page_row`)."""
    page: RenderedPage = pickle.loads(row["record"])
    image = np.asarray(row["image"], dtype=np.uint8)
    page.image = image.reshape(0, 0, 3) if image.size == 0 else image
    return page


@contextlib.contextmanager
def opened_as_given(path: str, absolute: str, cwd: str) -> Iterator[str]:
    """The path to open on this node: ``path`` as given, from the driver's folder ``cwd``
    when it exists here (so paths, and messages naming them, are the local engine's), else
    ``absolute``."""
    if os.path.isabs(path) or os.path.realpath(os.getcwd()) == os.path.realpath(cwd):
        yield path
        return
    if not os.path.isdir(cwd):
        yield absolute
        return
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        yield path
    finally:
        os.chdir(previous)


def inspect_task(parser: Parser, path: str, absolute: str, cwd: str) -> SourcePlan:
    """:func:`inspect_input` of an input given as ``path`` on the driver (the Ray task)."""
    with opened_as_given(path, absolute, cwd) as where:
        return inspect_input(parser, where)


def render_task(
    path: str, absolute: str, cwd: str, numbers: list[int], options: ParseOptions
) -> list[RenderedPage]:
    """:func:`render_pages` of an input given as ``path`` on the driver (the Ray task)."""
    with opened_as_given(path, absolute, cwd) as where:
        return render_pages(where, numbers, options)
