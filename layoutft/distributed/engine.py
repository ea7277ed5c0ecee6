"""The Ray corpus engine: the local corpus engine's plan, manifest and result files, with
rendering in Ray tasks and the model in Ray actors.

Per input the driver submits an *inspect* task (open, hash, count pages: the document
header, exactly :meth:`Parser.header <layoutft.parsing.parser.Parser.header>`), then
*render* tasks of ``pages_per_task`` pages each, whose pages go straight from the object
store to the next idle model actor (:class:`~layoutft.distributed.workers.PageWorker`; one
call per actor at a time) that predicts, post-processes and assembles them (masks never
leave the actor). Pages
rendered and not yet parsed are bounded by ``max_pages_in_flight``: no render task is
submitted past it, so memory holds that many page images whatever the corpus size. When
the last page of an input is back the driver writes its result file and manifest entry
through :func:`layoutft.corpus.parse_item` and :func:`layoutft.parsing.parser.deliver`, the
local engine's own code: the files and the JSON are the local engine's (entries differ in
``seconds`` and ``time``, and are recorded in the order inputs finish).

A failure stays with its input: an unreadable input, a failed render task or an actor lost
twice under its pages (restarted by Ray in between) gives that input a ``failed`` entry, as
the local engine does for a bad file. A lost actor is charged to the one call it had, and
only once the driver has reached it again and found a new process (its ``incarnation``,
:meth:`PageWorker.ping <layoutft.distributed.workers.PageWorker.ping>`): until then it gets
no pages. Ray learns of a death late (under load, seconds after the call failed), and calls
sent in between fail unrun, so counting them would fail inputs the dead actor never saw.
The manifest is the state: a run killed at any point (or a cluster restarted) resumes
with the same command, parsing only the inputs without an ``ok`` entry.

Inputs are opened on the workers at the path the driver was given, from the driver's
working folder where it exists on the node: every node must see the inputs at the same
paths (one machine, or a shared filesystem). Results and the manifest are written by the
driver only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layoutft.corpus import (
    CorpusItem,
    CorpusProgress,
    CorpusSummary,
    ManifestEntry,
    RunRecord,
    model_identity,
    run_corpus,
)
from layoutft.corpus.run import SinkFactory
from layoutft.distributed.cluster import Connection, RayOptions
from layoutft.distributed.pipeline import Pipeline
from layoutft.distributed.workers import (
    ModelFacts,
    ModelSource,
    ModelSpec,
    PageWorker,
)
from layoutft.errors import LayoutftError
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.output_formats import output_format
from layoutft.parsing.parser import Parser

log = logging.getLogger("layoutft.distributed")


class RayEngine:
    """Model actors on a Ray cluster, and the corpus runs that use them.

    ``with RayEngine(ModelSpec(), options) as engine: engine.run_corpus(items, out, run)``:
    entering joins (or starts) the cluster and starts the actors, each loading the model
    once; leaving stops the actors and what the engine started.

    Args:
        model: a :class:`~layoutft.distributed.workers.ModelSpec` (weights, config, ...:
            loaded on each worker) or a picklable function returning a detector.
        options: parse settings, as for the local engine (without ``visualize``: pass
            sinks); ``batch_size``/``workers`` apply inside each actor.
        ray_options: cluster, actors and backpressure (:class:`RayOptions`).
        model_name: the JSON ``model.name`` (default: the weights' stem or registry name).

    Attributes (after entering): ``parser`` (a :class:`~layoutft.parsing.parser.Parser` over
    the model's :class:`~layoutft.distributed.workers.ModelFacts`: ``labels``,
    ``model_name``, the headers), ``facts`` (one per actor, with its ``node_id``),
    ``options`` (its ``dpi`` made concrete from the model's, as the parser's: what pages
    are rendered with and a manifest's options come from).
    """

    def __init__(
        self,
        model: ModelSource | None = None,
        options: ParseOptions | None = None,
        ray_options: RayOptions | None = None,
        model_name: str | None = None,
    ) -> None:
        self.model: ModelSource = model if model is not None else ModelSpec()
        self.options = options or ParseOptions()
        self.ray_options = ray_options or RayOptions()
        if model_name is None and isinstance(self.model, ModelSpec):
            model_name = self.model.display_name
        self.model_name = model_name
        self.connection = Connection(self.ray_options)
        self.ray = self.connection.ray
        self.actors: list[Any] = []
        self.facts: list[ModelFacts] = []
        #: the nodes whose actors parsed pages in this engine's runs
        self.nodes_used: set[str] = set()
        self._parser: Parser | None = None

    @property
    def parser(self) -> Parser:
        """The header parser (see the class docstring); needs the engine entered."""
        if self._parser is None:
            raise RuntimeError("enter the RayEngine (with RayEngine(...) as engine) first")
        return self._parser

    def __enter__(self) -> RayEngine:
        self.connection.__enter__()
        try:
            self._start_actors()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):
                self.ray.kill(actor)
        self.actors = []
        self.connection.__exit__(*exc)

    def _start_actors(self) -> None:
        ray, opts = self.ray, self.ray_options
        count = opts.worker_count(self.connection.resources())
        actor_class = ray.remote(PageWorker).options(
            num_cpus=opts.cpus_per_worker,
            num_gpus=opts.gpus_per_worker,
            scheduling_strategy="SPREAD",
            # a worker lost mid-call (a crash, the OOM killer) is restarted; the driver,
            # which sends each worker one call at a time, knows whose pages killed it and
            # tries them once more (Pipeline._lost in distributed/pipeline.py)
            max_restarts=-1,
            max_task_retries=0,
        )
        self.actors = [
            actor_class.remote(self.model, self.options, self.model_name) for _ in range(count)
        ]
        try:
            self.facts = ray.get([actor.facts.remote() for actor in self.actors])
        except Exception as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, LayoutftError):  # the model's own error (bad weights, ...)
                raise cause from None
            lines = [line.strip() for line in str(cause or exc).splitlines() if line.strip()]
            why = lines[-1] if lines else type(exc).__name__
            raise LayoutftError(
                f"the model workers did not start on the Ray cluster ({why}); layoutft and the "
                "model must be importable and loadable on every node"
            ) from None
        facts = self.facts[0]
        self._parser = Parser(facts, self.options, model_name=self.model_name or facts.name)
        self.options = self._parser.options  # dpi None -> the model's, for rendering

    def describe(self) -> str:
        """One line on the actors: how many, on how many nodes, on what devices."""
        nodes = {fact.node_id for fact in self.facts}
        devices = sorted({fact.device_type for fact in self.facts})
        resources = self.connection.resources()
        return (
            f"{len(self.actors)} model workers on {len(nodes)} "
            f"{'node' if len(nodes) == 1 else 'nodes'} ({', '.join(devices)}; the cluster has "
            f"{resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs)"
        )

    @property
    def labels(self) -> list[str]:
        """The model's class names."""
        return self.parser.labels

    def model_identity(self) -> dict[str, Any]:
        """The manifest's ``model`` (:func:`layoutft.corpus.model_identity`) of the workers'
        model: from the :class:`ModelSpec` (its weights are hashed here, so they must be
        readable on the driver too), or name and labels alone for a model function."""
        name = self.parser.model_name
        if isinstance(self.model, ModelSpec):
            spec = self.model
            return model_identity(name, self.labels, spec.weights, spec.config, spec.overrides)
        return {
            "name": name,
            "weights_sha256": None,
            "config_sha256": None,
            "overrides": [],
            "labels": list(self.labels),
        }

    # --- corpus runs -------------------------------------------------------------------

    def run_corpus(
        self,
        items: Sequence[CorpusItem],
        out: str | Path,
        run: RunRecord,
        *,
        retry_failed: bool = False,
        overwrite: bool = False,
        strict: bool = False,
        extra_sinks: SinkFactory | None = None,
        keep_images: bool | None = None,
        progress: CorpusProgress | None = None,
    ) -> CorpusSummary:
        """:func:`layoutft.corpus.run_corpus` on the cluster, with this engine as its
        strategy: the same loop, manifest, skipping, reporting order and summary; inputs are
        parsed concurrently and recorded as they finish.

        ``keep_images``: hand the page images to the sinks (they travel back to the driver);
        None: only for the formats that write page images. Pass True when ``extra_sinks``
        draw pages (visualizations, a viewer).
        """
        return run_corpus(
            _Strategy(self, keep_images),
            items,
            out,
            run,
            retry_failed=retry_failed,
            overwrite=overwrite,
            strict=strict,
            extra_sinks=extra_sinks,
            progress=progress,
        )

    def parse_items(
        self,
        items: Sequence[CorpusItem],
        out: str | Path,
        run: RunRecord,
        extra_sinks: SinkFactory | None = None,
        keep_images: bool | None = None,
    ) -> Generator[tuple[CorpusItem, ManifestEntry], None, None]:
        """Parse ``items`` on the cluster, writing each result into ``out`` as it is
        complete; yields each item with its manifest entry (not recorded), in the order
        they finish. Closing the iterator cancels what is still running."""
        if keep_images is None:
            keep_images = output_format(str(run.options.get("format"))).images
        pipeline = Pipeline(self, list(items), Path(out), run, extra_sinks, keep_images)
        try:
            yield from pipeline.entries()
        finally:
            pipeline.cancel()
            self.nodes_used |= pipeline.nodes


@dataclass
class _Strategy:
    """A :class:`~layoutft.corpus.run.CorpusEngine` over a :class:`RayEngine`."""

    engine: RayEngine
    keep_images: bool | None

    def parse_items(
        self,
        items: Sequence[CorpusItem],
        out: str | Path,
        run: RunRecord,
        extra_sinks: SinkFactory | None = None,
    ) -> Generator[tuple[CorpusItem, ManifestEntry], None, None]:
        return self.engine.parse_items(items, out, run, extra_sinks, self.keep_images)


__all__ = ["RayEngine"]
