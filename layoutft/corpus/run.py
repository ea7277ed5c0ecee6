"""The corpus runner: one loop for every engine (plan, lock, skip, parse, record, summary,
strict), with the engine as a strategy that parses the inputs left.

:func:`parse_item` is the unit of work (one input -> its output file and its
:class:`~layoutft.corpus.manifest.ManifestEntry`); :func:`classify` says which inputs are
left; :func:`run_corpus` is the loop. An engine is anything with
:meth:`CorpusEngine.parse_items`: :class:`LocalEngine` (one input at a time, in this
process) or the Ray engine (:class:`layoutft.distributed.RayEngine`, inputs concurrently on
a cluster).

Order of reporting, the same for every engine, to one :class:`CorpusProgress`:
``start(planned)`` once the manifest is locked and the inputs classified; then
``skipped`` for each skipped input (plan order); then ``parsed`` for each parsed input as
the engine yields it, recorded in the manifest before the call (plan order locally; the
order inputs finish on Ray); ``close()`` last, also when the run stops on an error. With
``strict`` the loop stops after the first failed input and the engine's iterator is closed
(cancelling what it still runs). ``message`` lines come from the caller around the run
(:mod:`layoutft.corpus_session`), never from this loop.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from layoutft.corpus.manifest import (
    ItemState,
    Manifest,
    ManifestEntry,
    RunRecord,
    file_sha256,
)
from layoutft.corpus.plan import CorpusItem
from layoutft.errors import LayoutftError
from layoutft.parsing.results import ResultSink, result_sink

if TYPE_CHECKING:
    from layoutft.parsing.parser import Parser

#: builds extra sinks for an item (visualizations, a viewer); called inside parse_item, so
#: an input that cannot be opened becomes a failed entry there too
SinkFactory = Callable[[CorpusItem], Sequence[ResultSink]]

#: what an engine yields: each input parsed, with its manifest entry (not yet recorded)
Parsed = Generator[tuple[CorpusItem, ManifestEntry], None, None]


class CorpusProgress(Protocol):
    """An observer of a corpus run: what it planned, skipped and parsed, and lines for the
    user; called in the order the module docstring gives, from the thread of the run."""

    def start(self, planned: int) -> None:
        """The run begins: ``planned`` inputs, each reported once, skipped or parsed."""
        ...

    def skipped(self, item: CorpusItem, state: ItemState) -> None:
        """``item`` is not parsed again: ``done``, or ``failed`` earlier."""
        ...

    def parsed(self, item: CorpusItem, entry: ManifestEntry) -> None:
        """``item`` was parsed (its result written) and ``entry`` recorded."""
        ...

    def message(self, line: str) -> None:
        """A line for the user (the model used, an input that failed, the viewer)."""
        ...

    def close(self) -> None:
        """The run is over (no more ``skipped``/``parsed``); ``message`` may still come."""
        ...


class NoProgress:
    """The :class:`CorpusProgress` that ignores everything: the default, and a base for
    observers that need only some of the calls."""

    def start(self, planned: int) -> None:
        pass

    def skipped(self, item: CorpusItem, state: ItemState) -> None:
        pass

    def parsed(self, item: CorpusItem, entry: ManifestEntry) -> None:
        pass

    def message(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass


class CorpusEngine(Protocol):
    """A strategy for parsing the inputs of a corpus run that are left to do."""

    def parse_items(
        self,
        items: Sequence[CorpusItem],
        out: str | Path,
        run: RunRecord,
        extra_sinks: SinkFactory | None = None,
    ) -> Parsed:
        """Parse ``items`` into ``out`` (each result written before its entry is yielded);
        yield each item with its entry. Closing the generator stops the work left."""
        ...


@dataclass
class LocalEngine:
    """The local engine: one input at a time in this process, in plan order."""

    parser: Parser

    def parse_items(
        self,
        items: Sequence[CorpusItem],
        out: str | Path,
        run: RunRecord,
        extra_sinks: SinkFactory | None = None,
    ) -> Parsed:
        for item in items:
            yield item, parse_item(self.parser, item, out, run, extra_sinks)


#: OSErrors that are the machine's fault, not the input's: they stop the run
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO}


def parse_item(
    parser: Parser,
    item: CorpusItem,
    out: str | Path,
    run: RunRecord,
    extra_sinks: SinkFactory | None = None,
) -> ManifestEntry:
    """Parse ``item`` into ``out / item.output`` (written atomically, in
    ``run.options["format"]``) and return its manifest entry (not recorded: the caller
    records it, e.g. :meth:`Manifest.record`).

    A bad input never raises: an unreadable or corrupt file gives a ``failed`` entry without
    output, a document with failed pages a ``failed`` entry with its output written (the ok
    pages are in it). Raises only what stops the whole run: an OSError writing into ``out``
    or a full disk, KeyboardInterrupt, SystemExit.
    """
    out = Path(out)
    start = time.monotonic()
    size = mtime_ns = None
    sha = error = output = None
    pages = regions = 0
    failed_pages: list[int] = []
    try:
        stat = item.path.stat()
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
        sha = file_sha256(item.path)
    except OSError as exc:
        error = f"{item.path}: cannot read it ({exc.strerror or exc})"
    if error is None:
        try:
            shape = str(run.options.get("shape", "rect"))  # pre-annotation formats
            sinks = [result_sink(out / item.output, str(run.options["format"]), shape=shape)]
            sinks.extend(extra_sinks(item) if extra_sinks is not None else ())
            document = parser.run(item.path, sinks)
        except LayoutftError as exc:
            error = str(exc)
        except OSError as exc:
            if exc.errno in _ENVIRONMENT_ERRNOS or _inside(exc.filename, out):
                raise
            error = f"{item.path}: {exc.strerror or exc}"
        except Exception as exc:  # one bad input must not stop a corpus
            error = f"{item.path}: {type(exc).__name__}: {exc}"
        else:
            output = item.output
            pages = len(document.pages)
            regions = sum(len(page.regions) for page in document.pages)
            failed = document.failed_pages
            failed_pages = [page.number for page in failed]
            if failed:
                more = f"; {len(failed) - 1} more failed" if len(failed) > 1 else ""
                error = f"page {failed[0].number}: {failed[0].error}{more}"
    return ManifestEntry(
        input=item.input,
        size=size,
        mtime_ns=mtime_ns,
        sha256=sha,
        status="ok" if error is None else "failed",
        error=None if error is None else " ".join(error.split()),
        output=output,
        pages=pages,
        failed_pages=failed_pages,
        regions=regions,
        seconds=round(time.monotonic() - start, 3),
        model={"name": run.model.get("name"), "weights_sha256": run.model.get("weights_sha256")},
        fingerprint=run.fingerprint,
        options=dict(run.options),
        layoutft_version=run.layoutft_version,
    )


def _inside(filename: object, folder: Path) -> bool:
    if not isinstance(filename, str | os.PathLike):
        return False
    path, base = os.path.abspath(os.fspath(filename)), os.path.abspath(folder)
    return os.path.commonpath([path, base]) == base


def classify(
    manifest: Manifest, items: Sequence[CorpusItem], fingerprint: str
) -> dict[str, ItemState]:
    """The state of each item by its ``input`` path (see :meth:`Manifest.state`)."""
    return {item.input: manifest.state(item, fingerprint) for item in items}


def start_run(
    manifest: Manifest,
    items: Sequence[CorpusItem],
    run: RunRecord,
    *,
    retry_failed: bool = False,
    overwrite: bool = False,
) -> tuple[dict[str, ItemState], CorpusSummary]:
    """What every engine does first, holding ``manifest.lock()``: refuse other settings or
    another corpus root (SettingsMismatchError, unless ``overwrite``), classify the items
    (``failed`` ones become ``todo`` with ``retry_failed``; inputs touched but unchanged get
    an entry with their new mtime), append the ``run`` record.
    Returns the state of each item by its ``input`` path and the summary with its
    ``planned``, ``todo``, ``skipped`` and ``failed_earlier`` counts filled in."""
    if not overwrite:
        manifest.check(run.model, run.options, run.root)
    states = classify(manifest, items, run.fingerprint)
    manifest.record_moved()
    if retry_failed:
        states = {k: "todo" if v == "failed" else v for k, v in states.items()}
    summary = CorpusSummary(planned=len(items))
    summary.todo = sum(state == "todo" for state in states.values())
    summary.skipped = sum(state == "done" for state in states.values())
    summary.failed_earlier = sum(state == "failed" for state in states.values())
    manifest.begin(run)
    return states, summary


@dataclass
class CorpusSummary:
    """Counts of one corpus run for its summary line (pages and regions: this run's)."""

    planned: int = 0
    todo: int = 0
    parsed: int = 0
    failed_inputs: int = 0
    failed_files: int = 0
    pages: int = 0
    failed_pages: int = 0
    regions: int = 0
    skipped: int = 0
    failed_earlier: int = 0
    seconds: float = 0.0
    stopped: bool = False
    failed: list[ManifestEntry] = field(default_factory=list)

    def add(self, entry: ManifestEntry) -> None:
        """Count one parsed input."""
        if entry.output is None:
            self.failed_inputs += 1
        else:
            self.parsed += 1
        if entry.status == "failed":
            self.failed_files += 1
            self.failed.append(entry)
        self.pages += entry.pages
        self.failed_pages += len(entry.failed_pages)
        self.regions += entry.regions

    @property
    def failures(self) -> int:
        """Inputs that could not be read plus pages that failed, in this run."""
        return self.failed_inputs + self.failed_pages

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Every planned input is done (exit status 0)."""
        return self.failures == 0 and self.failed_earlier == 0 and not self.stopped

    def line(self, where: str | Path) -> str:
        """``parsed 3 files, 7 pages, 20 regions, 0 failures; 5 skipped (done earlier);
        2.1 pages/s -> OUT``."""
        text = counts_line(
            self.parsed,
            self.todo,
            self.pages,
            self.regions,
            self.failed_inputs,
            self.failed_pages,
            self.stopped,
        )
        if self.skipped:
            text += f"; {self.skipped} skipped (done earlier)"
        if self.failed_earlier:
            text += f"; {self.failed_earlier} failed earlier (--retry-failed parses them again)"
        text += f"; {self.pages_per_second:.2f} pages/s"
        return f"{text} -> {where}"


def counts_line(
    parsed: int,
    total: int,
    pages: int,
    regions: int,
    failed_inputs: int,
    failed_pages: int,
    stopped: bool,
) -> str:
    """``parsed 3 of 4 files, 7 pages, 20 regions, 1 failure (1 of 4 inputs failed)``: the
    counts that open the summary line of a parse run, a corpus run's or a one-input run's
    (``total``: the inputs it set out to parse)."""
    failures = failed_inputs + failed_pages
    done = f"{parsed} of {total}" if parsed != total else f"{parsed}"
    text = (
        f"parsed {done} file{'s' if total != 1 else ''}, {pages} pages, "
        f"{regions} regions, {failures} failure{'s' if failures != 1 else ''}"
    )
    details = []
    if failed_inputs:
        details.append(f"{failed_inputs} of {total} inputs failed")
    if failed_pages:
        details.append(f"{failed_pages} of {pages} pages failed")
    if stopped:
        details.append("stopped at the first failure (--strict)")
    return f"{text} ({'; '.join(details)})" if details else text


def run_corpus(
    engine: Parser | CorpusEngine,
    items: Sequence[CorpusItem],
    out: str | Path,
    run: RunRecord,
    *,
    retry_failed: bool = False,
    overwrite: bool = False,
    strict: bool = False,
    extra_sinks: SinkFactory | None = None,
    progress: CorpusProgress | None = None,
) -> CorpusSummary:
    """Parse the ``items`` (from :func:`~layoutft.corpus.plan.plan_corpus`) into ``out``
    that the manifest does not list as done with ``run``'s fingerprint.

    Args:
        engine: a :class:`CorpusEngine`, or a parser (its options without ``visualize``:
            pass sinks instead) for the :class:`LocalEngine`.
        run: this run's record (:meth:`RunRecord.create`), appended to the manifest.
        retry_failed: parse inputs that failed earlier again (default: skip and count them).
        overwrite: accept an ``out`` made with other settings (its files are parsed again);
            else SettingsMismatchError.
        strict: stop after the first input that fails in this run.
        extra_sinks: more sinks per item (see :data:`SinkFactory`).
        progress: told of the run as the module docstring gives (default: nothing).

    Raises LayoutftError when another process writes ``out``, SettingsMismatchError.
    """
    strategy: CorpusEngine = (
        cast(CorpusEngine, engine)
        if hasattr(engine, "parse_items")
        else LocalEngine(cast("Parser", engine))
    )
    progress = progress if progress is not None else NoProgress()
    out = Path(out)
    manifest = Manifest(out)
    start = time.monotonic()
    with manifest.lock():
        states, summary = start_run(
            manifest, items, run, retry_failed=retry_failed, overwrite=overwrite
        )
        try:
            progress.start(len(items))
            todo = []
            for item in items:
                if states[item.input] == "todo":
                    todo.append(item)
                else:
                    progress.skipped(item, states[item.input])
            _parse(strategy, todo, manifest, run, summary, progress, strict, extra_sinks)
        finally:
            progress.close()
    summary.seconds = time.monotonic() - start
    return summary


def _parse(
    strategy: CorpusEngine,
    todo: Sequence[CorpusItem],
    manifest: Manifest,
    run: RunRecord,
    summary: CorpusSummary,
    progress: CorpusProgress,
    strict: bool,
    extra_sinks: SinkFactory | None,
) -> None:
    """The inputs left, through ``strategy``: each recorded, counted, then reported."""
    entries = strategy.parse_items(todo, manifest.out, run, extra_sinks)
    try:
        for item, entry in entries:
            manifest.record(entry)
            summary.add(entry)
            progress.parsed(item, entry)
            if strict and entry.status == "failed":
                summary.stopped = True
                break
    finally:
        entries.close()
