"""One corpus run from start to summary: ``layoutft parse INPUT... -o DIR`` as a function.

:func:`parse_corpus` plans the inputs, checks the output folders and the manifest's
settings (before the model loads), starts the engine (this process, or model actors on
Ray), builds the run's :class:`~layoutft.corpus.manifest.RunRecord`, runs
:func:`layoutft.corpus.run_corpus` with the ``--visualize``/``--view`` sinks, and returns
the :class:`~layoutft.corpus.run.CorpusSummary`. It prints nothing and never exits: lines
for the user go to a :class:`~layoutft.corpus.run.CorpusProgress`, the summary line and
the exit status are the caller's (the CLI prints ``summary.line(out)`` and exits 1 unless
``summary.ok``).

Order of reporting to ``progress`` (the lines byte for byte as ``layoutft parse`` prints
them):

1. ``message("model: NAME (K labels)")``; with Ray, ``message("ray: <workers>")``;
2. the corpus loop's calls (:mod:`layoutft.corpus.run`): ``start``, ``skipped`` per input
   done earlier (after it, ``message("viewer: left out ...")`` for a result the viewer
   cannot read), ``parsed`` per input parsed (after it, ``message("Error: ...")`` when
   it failed), ``close``;
3. with Ray, ``message("ray: pages parsed on N nodes")`` once the actors are stopped;
4. with ``--view``, ``message("viewer: N files done earlier are not in it ...")`` when
   some are not, then ``message("viewer: <index.html>")``.

Layering: above ``corpus/`` and ``distributed/`` (it picks the engine), below ``cli/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layoutft.corpus import (
    CorpusItem,
    CorpusProgress,
    CorpusSummary,
    Manifest,
    ManifestEntry,
    NoProgress,
    RunRecord,
    corpus_root,
    model_identity,
    output_options,
    plan_corpus,
    run_corpus,
)
from layoutft.corpus.manifest import ItemState
from layoutft.errors import LayoutftError, OptionError
from layoutft.model.settings import check_choice
from layoutft.parsing.model_spec import ModelSpec, model_line
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.output_formats import output_format
from layoutft.parsing.preannotations import check_shape
from layoutft.parsing.results import ResultSink, check_drawn_folders, check_format

if TYPE_CHECKING:
    from layoutft.distributed import RayEngine

ENGINES = ("local", "ray")


def check_engine(
    engine: str, address: str | None, ray_workers: int | None, gpus_per_worker: float
) -> None:
    """OptionError for an unknown ``engine``, or a Ray setting without ``engine="ray"``."""
    check_choice("engine", engine, ENGINES)
    if engine == "ray":
        return
    given = [
        name
        for name, value in (
            ("address", address is not None),
            ("ray_workers", ray_workers is not None),
            ("gpus_per_worker", gpus_per_worker != 0),
        )
        if value
    ]
    if given:
        raise OptionError("{" + given[0] + "} is for {engine} ray; add {engine} ray or drop it")


@dataclass(frozen=True)
class CorpusOptions:
    """How a corpus run writes and goes on, besides its :class:`ParseOptions` and model.

    Attributes:
        format: output format (``json``, ``jsonl``, ``coco``, ``labelstudio``, ...).
        shape: region shape of the pre-annotation formats (``rect``, ``polygon``, ``auto``).
        visualize: folder for page PNGs with regions drawn (mirroring the output tree).
        view: folder for an HTML viewer of every result, earlier runs' included.
        include, exclude: glob patterns choosing the inputs
            (:func:`~layoutft.corpus.plan.plan_corpus`).
        retry_failed: parse again the inputs that failed earlier (default: skip, count).
        overwrite: accept an output folder made with other settings (all parsed again).
        strict: stop after the first input that fails.
        engine: ``local`` (this process) or ``ray``.
        address, ray_workers, gpus_per_worker: the Ray cluster and its model actors
            (:class:`layoutft.distributed.RayOptions`); only with ``engine="ray"``.
    """

    format: str = "json"
    shape: str = "rect"
    visualize: Path | None = None
    view: Path | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    retry_failed: bool = False
    overwrite: bool = False
    strict: bool = False
    engine: str = "local"
    address: str | None = None
    ray_workers: int | None = None
    gpus_per_worker: float = 0.0

    def __post_init__(self) -> None:
        check_format(self.format)
        check_shape(self.shape)
        check_engine(self.engine, self.address, self.ray_workers, self.gpus_per_worker)

    @property
    def draws(self) -> bool:
        """Whether the run draws pages (``visualize`` or ``view``)."""
        return self.visualize is not None or self.view is not None


def output_settings(options: ParseOptions, corpus: CorpusOptions) -> dict[str, Any]:
    """The manifest's output options; ``shape`` only when not the default (rect), so the
    runs made before shapes existed keep their fingerprint."""
    values = output_options(options, corpus.format)
    return values if corpus.shape == "rect" else {**values, "shape": corpus.shape}


def plan(
    inputs: Sequence[str], out: Path, options: ParseOptions, corpus: CorpusOptions
) -> list[CorpusItem]:
    """The items of a corpus run, after the checks that come before the model loads (output
    folders, writable folders, the manifest's settings)."""
    from layoutft.outputs import check_writable, refuse_input_folders
    from layoutft.parsing.results import output_folders

    written = [p for p in (corpus.visualize, corpus.view) if p is not None]
    refuse_input_folders(
        output_folders(out, corpus.format, corpus.visualize, corpus.view, corpus=True), inputs
    )
    items = plan_corpus(inputs, out, corpus.include, corpus.exclude, corpus.format, skip=written)
    check_writable([out])
    check_drawn_folders(corpus.visualize, corpus.view)
    if not corpus.overwrite:  # options first: before the model loads
        Manifest(out).check(None, output_settings(options, corpus), corpus_root(inputs))
    return items


def parse_corpus(
    inputs: Sequence[str],
    out: Path,
    spec: ModelSpec,
    options: ParseOptions,
    corpus: CorpusOptions | None = None,
    progress: CorpusProgress | None = None,
) -> CorpusSummary:
    """Parse ``inputs`` (files and folders) into the folder ``out``, resumably, on the
    engine ``corpus.engine``; returns the run's summary (``ok``: every planned input done).

    ``options`` without ``visualize`` (``corpus.visualize`` draws pages per input).
    ``progress`` is told what happens in the order the module docstring gives.
    Raises LayoutftError (SettingsMismatchError, OptionError) for what stops the run
    before or while it starts; failed inputs are in the summary, not raised.
    """
    corpus = corpus if corpus is not None else CorpusOptions()
    progress = progress if progress is not None else NoProgress()
    items = plan(inputs, out, options, corpus)
    report = _Report(out, corpus, progress)
    with contextlib.ExitStack() as stack:
        ray_engine = None
        if corpus.engine == "ray":  # the model loads on the cluster's workers, not here
            ray_engine = stack.enter_context(_ray_engine(spec, options, corpus))
            parser = ray_engine.parser
        else:
            from layoutft.parsing.parser import Parser

            parser = Parser(spec.load(), options, model_name=spec.display_name)
        progress.message(model_line(parser.model_name, parser.labels, spec.weights))
        if ray_engine is not None:
            progress.message(f"ray: {ray_engine.describe()}")
        identity = model_identity(
            parser.model_name, parser.labels, spec.weights, spec.config, spec.overrides
        )
        settings = output_settings(parser.options, corpus)  # dpi: the model's, resolved
        run = RunRecord.create(identity, settings, corpus_root(inputs), inputs, len(items))
        common: dict[str, Any] = {
            "retry_failed": corpus.retry_failed,
            "overwrite": corpus.overwrite,
            "strict": corpus.strict,
            "extra_sinks": report.extra_sinks,
            "progress": report,
        }
        if ray_engine is None:
            summary = run_corpus(parser, items, out, run, **common)
        else:
            summary = ray_engine.run_corpus(items, out, run, keep_images=corpus.draws, **common)
    if ray_engine is not None and ray_engine.nodes_used:
        count = len(ray_engine.nodes_used)
        progress.message(f"ray: pages parsed on {count} {'node' if count == 1 else 'nodes'}")
    report.finish()
    return summary


def _ray_engine(spec: ModelSpec, options: ParseOptions, corpus: CorpusOptions) -> RayEngine:
    """The :class:`layoutft.distributed.RayEngine` of a corpus run (not yet entered)."""
    from layoutft.distributed import RayEngine, RayOptions

    cluster = RayOptions(
        address=corpus.address,
        ray_workers=corpus.ray_workers,
        gpus_per_worker=corpus.gpus_per_worker,
    )
    return RayEngine(spec, options, cluster)


class _Report(NoProgress):
    """A corpus run's own part of its reporting, around the caller's ``progress``: the
    ``--visualize``/``--view`` sinks, the viewer's entries for inputs done earlier, the
    error line of each failed input, the viewer's closing lines."""

    def __init__(self, out: Path, corpus: CorpusOptions, progress: CorpusProgress) -> None:
        from layoutft.parsing.viewer import Viewer

        self.out, self.corpus, self.progress = out, corpus, progress
        self.viewer = None if corpus.view is None else Viewer(corpus.view)
        self.readable = output_format(corpus.format).viewable
        self.unviewed = 0

    def extra_sinks(self, item: CorpusItem) -> list[ResultSink]:
        """The sinks drawing ``item``'s pages (see :data:`layoutft.corpus.run.SinkFactory`)."""
        from layoutft.parsing.results import output_suffix
        from layoutft.parsing.visualize import VisualizationSink
        from layoutft.render import resolve_source

        sinks: list[ResultSink] = []
        if self.corpus.visualize is not None:
            folder = self.corpus.visualize / Path(item.output).parent
            # the result's name without its suffix: ``x.pdf``/``x.png`` when both are inputs
            stem = Path(item.output).name[: -len(output_suffix(self.corpus.format))]
            sinks.append(VisualizationSink(folder, resolve_source(item.path), stem))
        if self.viewer is not None:
            sinks.append(self.viewer.sink())
        return sinks

    def start(self, planned: int) -> None:
        self.progress.start(planned)

    def parsed(self, item: CorpusItem, entry: ManifestEntry) -> None:
        self.progress.parsed(item, entry)
        if entry.error is not None:
            where = str(item.path)
            line = entry.error if entry.error.startswith(where) else f"{where}: {entry.error}"
            self.progress.message(f"Error: {line}")

    def skipped(self, item: CorpusItem, state: ItemState) -> None:
        self.progress.skipped(item, state)
        result = self.out / item.output
        if self.viewer is None or not result.is_file():  # done, or failed with pages written
            return
        if not self.readable:
            self.unviewed += 1
            return
        from layoutft.schema import Document

        try:
            self.viewer.add(Document.from_json(result), results=result)
        except (LayoutftError, ValueError, KeyError, TypeError) as exc:  # edited by hand
            # since: the run goes on without it
            self.progress.message(f"viewer: left out {result}: {exc}")

    def message(self, line: str) -> None:
        self.progress.message(line)

    def close(self) -> None:
        self.progress.close()

    def finish(self) -> None:
        """The viewer's closing lines (it is written here)."""
        if self.viewer is None:
            return
        if self.unviewed:
            self.progress.message(
                f"viewer: {self.unviewed} files done earlier are not in it (--format "
                f"{self.corpus.format} cannot be read back; layoutft view reads json and jsonl)"
            )
        self.progress.message(f"viewer: {self.viewer.write()}")
