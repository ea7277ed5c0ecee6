"""The Ray engine's driver loop: inputs inspected, rendered in chunks, parsed by the model
actors, lost workers pinged and charged, results written through the local engine's own
:func:`~layoutft.corpus.parse_item` (see :mod:`layoutft.distributed.engine` for the design).
Nothing here imports Ray: the engine hands over its Ray module and actors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from layoutft.corpus import CorpusItem, ManifestEntry, RunRecord, parse_item
from layoutft.corpus.run import SinkFactory
from layoutft.distributed.cluster import RayOptions
from layoutft.distributed.workers import SourcePlan, inspect_task, render_task
from layoutft.errors import LayoutftError
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.parser import Parser, deliver
from layoutft.parsing.results import ResultSink
from layoutft.render.types import RenderedPage
from layoutft.schema import Document, Page

log = logging.getLogger("layoutft.distributed")


class Cluster(Protocol):
    """What the loop reads of an entered :class:`~layoutft.distributed.engine.RayEngine`."""

    ray: Any
    ray_options: RayOptions
    actors: list[Any]
    options: ParseOptions

    @property
    def parser(self) -> Parser: ...


@dataclass
class _Input:
    """One input on its way through the pipeline."""

    item: CorpusItem
    start: float
    plan: SourcePlan | None = None
    error: BaseException | None = None
    chunks: list[list[int]] = field(default_factory=list)
    pages: dict[int, list[Page]] = field(default_factory=dict)
    renders: dict[int, Any] = field(default_factory=dict)
    outstanding: int = 0


@dataclass
class _Chunk:
    """Rendered pages of one input on their way to a worker. ``losses``: workers that died
    under them (restarted in between); ``sends``: calls sent."""

    state: _Input
    index: int
    size: int
    render: Any
    losses: int = 0
    sends: int = 0


@dataclass
class _Probe:
    """A worker whose call with ``chunk`` failed with a lost-worker ``error``, being pinged
    until it answers (``attempts``: pings sent; ``dead``: pings in a row that found it dead
    for good rather than unavailable)."""

    actor: int
    chunk: _Chunk
    error: BaseException
    attempts: int = 0
    dead: int = 0


#: a chunk fails when workers died under it this often (each restarted in between) ...
LOSSES = 2
#: ... or when this many calls with it failed unrun (the worker unreachable, yet alive)
SENDS = 4
#: pings in a row finding a lost worker dead for good (not restarting) before it is given up
PINGS = 12
#: the longest wait between two pings of a lost worker
PING_WAIT_S = 1.0


class Pipeline:
    """The driver's loop of one :meth:`RayEngine.parse_items
    <layoutft.distributed.engine.RayEngine.parse_items>` call."""

    def __init__(
        self,
        engine: Cluster,
        items: list[CorpusItem],
        out: Path,
        run: RunRecord,
        extra_sinks: SinkFactory | None,
        keep_images: bool,
    ) -> None:
        self.engine = engine
        self.ray = engine.ray
        self.out, self.run, self.extra_sinks = out, run, extra_sinks
        self.keep_images = keep_images
        opts = engine.ray_options
        self.per_task = opts.pages_per_task
        self.limit = opts.in_flight(len(engine.actors))
        self.waiting: deque[CorpusItem] = deque(items)
        self.inspecting: dict[Any, _Input] = {}
        self.ready: deque[tuple[_Input, int]] = deque()  # chunks waiting for room
        #: render task -> (input, chunk index, pages)
        self.rendering: dict[Any, tuple[_Input, int, int]] = {}
        #: rendered chunks waiting for an idle worker
        self.rendered: deque[_Chunk] = deque()
        #: actor call -> (its chunk, actor index)
        self.parsing: dict[Any, tuple[_Chunk, int]] = {}
        self.idle = list(range(len(engine.actors)))
        #: each worker's incarnation as last seen (None: not asked yet)
        self.known: list[str | None] = [None] * len(engine.actors)
        #: ping call -> its probe; probes waiting to be sent again, with when
        self.probing: dict[Any, _Probe] = {}
        self.resting: list[tuple[float, _Probe]] = []
        #: workers given up (pings found them dead for good)
        self.retired: set[int] = set()
        #: inputs whose last chunk is settled, to be written
        self.finished: deque[_Input] = deque()
        self.in_flight = 0
        cwd = os.getcwd()
        ray = self.ray
        self.inspect_task = ray.remote(inspect_task).options(num_cpus=opts.render_cpus)
        self.render_task = ray.remote(render_task).options(num_cpus=opts.render_cpus)
        self.parser_ref = ray.put(engine.parser)
        self.options_ref = ray.put(engine.options)
        self.cwd = cwd
        #: the node ids whose actors parsed pages in this call
        self.nodes: set[str] = set()
        self.warned = False

    def _busy(self) -> bool:
        return bool(
            self.waiting or self.inspecting or self.rendering or self.parsing or self.ready
        ) or bool(self.rendered or self.probing or self.resting or self.finished)

    def entries(self) -> Iterator[tuple[CorpusItem, ManifestEntry]]:
        stall = self.engine.ray_options.stall_warning_s
        while self._busy():
            self._submit()
            self._wake()
            self._dispatch()
            while self.finished:
                state = self.finished.popleft()
                yield state.item, self._write(state)
            pending = [*self.inspecting, *self.rendering, *self.parsing, *self.probing]
            # a resting probe is due before the stall warning: wake up for it
            wait = min([stall, *(due - time.monotonic() for due, _ in self.resting)])
            if not pending:
                if self.resting:
                    time.sleep(max(0.0, wait))
                continue
            done, _ = self.ray.wait(pending, num_returns=1, timeout=max(0.0, wait))
            if not done and wait >= stall:
                self._warn_if_starved()
            for ref in done:
                if ref in self.rendering:
                    self._rendered(ref)
                elif ref in self.inspecting:
                    self._inspected(ref)
                elif ref in self.probing:
                    self._pinged(ref)
                else:
                    self._parsed(ref)

    def _submit(self) -> None:
        """Start inspections while few chunks wait, and render tasks while there is room
        (pages rendered and not yet parsed stay under the bound)."""
        room = max(2, len(self.engine.actors))
        while self.waiting and len(self.inspecting) < room and len(self.ready) < room:
            item = self.waiting.popleft()
            state = _Input(item, time.monotonic())
            path, absolute = _paths(item)
            ref = self.inspect_task.remote(self.parser_ref, path, absolute, self.cwd)
            self.inspecting[ref] = state
        while self.ready:
            state, index = self.ready[0]
            size = len(state.chunks[index])
            if self.in_flight and self.in_flight + size > self.limit:
                break
            self.ready.popleft()
            path, absolute = _paths(state.item)
            render = self.render_task.remote(
                path, absolute, self.cwd, state.chunks[index], self.options_ref
            )
            self.rendering[render] = (state, index, size)
            self.in_flight += size

    def _warn_if_starved(self) -> None:
        """Say once when render tasks wait and the cluster has no CPU free for them."""
        if self.warned or not (self.rendering or self.inspecting):
            return
        free = float(self.ray.available_resources().get("CPU", 0.0))
        need = self.engine.ray_options.render_cpus
        if free + 1e-9 < need:
            self.warned = True
            waited = self.engine.ray_options.stall_warning_s
            log.warning(
                "ray: nothing finished for %g s and no CPU of the cluster is free for a "
                "render task (%g needed): if other work holds the cluster's CPUs, pages wait "
                "until one is free; use fewer model workers (--ray-workers) or more CPUs",
                waited,
                need,
            )

    def _rendered(self, render: Any) -> None:
        """Queue a rendered chunk for the next idle worker. Only rendered chunks go to the
        workers: a call waiting on a slow render would hold its worker up."""
        state, index, size = self.rendering.pop(render)
        if self.keep_images:
            state.renders[index] = render
        self.rendered.append(_Chunk(state, index, size, render))

    def _dispatch(self) -> None:
        """Send queued chunks to idle workers, one call per worker at a time: when a worker
        is lost mid-call, the pages that killed it are known, and no other input's pages
        go down with it. With every worker given up, queued chunks fail."""
        while self.rendered and self.idle:
            chunk = self.rendered.popleft()
            actor = self.idle.pop()
            chunk.sends += 1
            ref = self.engine.actors[actor].parse.remote(chunk.render)
            self.parsing[ref] = (chunk, actor)
        if len(self.retired) == len(self.engine.actors):
            while self.rendered:
                self._settle(
                    self.rendered.popleft(),
                    _WorkerLost("no Ray model worker is left: each was lost and never came back"),
                )

    def _settle(self, chunk: _Chunk, error: BaseException | None, pages: Any = None) -> None:
        """Record a chunk's pages (or why it failed); a finished input is queued to write."""
        state = chunk.state
        self.in_flight -= chunk.size
        state.outstanding -= 1
        if error is None:
            state.pages[chunk.index] = pages
        elif state.error is None:
            state.error = error
        if state.outstanding == 0:
            self.finished.append(state)

    def _inspected(self, ref: Any) -> None:
        state = self.inspecting.pop(ref)
        try:
            state.plan = cast(SourcePlan, self.ray.get(ref))
        except Exception as exc:
            state.error = _original(exc)
            self.finished.append(state)
            return
        numbers = state.plan.numbers
        step = self.per_task
        state.chunks = [numbers[i : i + step] for i in range(0, len(numbers), step)]
        state.outstanding = len(state.chunks)
        if not state.chunks:
            self.finished.append(state)
            return
        self.ready.extend((state, index) for index in range(len(state.chunks)))

    def _parsed(self, ref: Any) -> None:
        chunk, actor = self.parsing.pop(ref)
        try:
            pages, node = self.ray.get(ref)
        except Exception as exc:
            if _is_lost(exc):
                # the worker (or the way to it) was lost: it gets no pages until it answers
                # a ping, which says whether it died under this chunk (_pinged)
                self._ping(_Probe(actor, chunk, exc))
                return
            self._settle(chunk, _original(exc))
        else:
            if node is not None:
                self.nodes.add(node)
            self._settle(chunk, None, pages)
        self.idle.append(actor)

    def _ping(self, probe: _Probe) -> None:
        probe.attempts += 1
        self.probing[self.engine.actors[probe.actor].ping.remote()] = probe

    def _wake(self) -> None:
        """Ping again the lost workers whose wait is over."""
        now = time.monotonic()
        due = [probe for when, probe in self.resting if when <= now]
        self.resting = [(when, probe) for when, probe in self.resting if when > now]
        for probe in due:
            self._ping(probe)

    def _pinged(self, ref: Any) -> None:
        """A lost worker's ping came back. Answered by another process than the last seen
        (or the first time asked): the worker died under the probe's chunk. Answered by the
        same one: the call was lost on the way, the chunk goes out again uncharged. Not
        answered: the worker is not back yet (Ray has not seen the death, or restarts it),
        pinged again; dead for good at ``PINGS`` pings in a row, it is given up and the chunk
        charged."""
        probe = self.probing.pop(ref)
        try:
            incarnation = str(self.ray.get(ref))
        except Exception as exc:
            # "unavailable": restarting, or Ray has not heard of the death yet (under load a
            # restart takes long): wait, however long; dead for good: a few times, then give up
            if type(exc).__name__ == "ActorUnavailableError":
                probe.dead = 0
            else:
                probe.dead += 1
            if probe.dead < PINGS:
                wait = min(PING_WAIT_S, 0.05 * 2 ** min(probe.attempts, 8))
                self.resting.append((time.monotonic() + wait, probe))
                return
            self.retired.add(probe.actor)
            log.warning("ray: a model worker was lost and did not come back; going on without it")
            self._lost(probe, died=True)
            return
        died = incarnation != self.known[probe.actor]
        self.known[probe.actor] = incarnation
        self.idle.append(probe.actor)
        self._lost(probe, died)

    def _lost(self, probe: _Probe, died: bool) -> None:
        """The probe's chunk once more, on a restarted or another worker; or, when workers
        died under it ``LOSSES`` times (a page that crashes the model, the OOM killer), or it
        could not be delivered in ``SENDS`` calls, its input fails."""
        chunk = probe.chunk
        chunk.losses += died
        if chunk.losses < LOSSES and chunk.sends < SENDS:
            self.rendered.appendleft(chunk)
            return
        name = type(probe.error).__name__
        lines = str(probe.error).strip().splitlines()
        what = f"{name}: {lines[0]}" if lines else name
        how = "was lost twice" if chunk.losses >= LOSSES else f"failed {chunk.sends} calls"
        self._settle(chunk, _WorkerLost(f"the Ray worker parsing it {how} ({what})"))

    def _write(self, state: _Input) -> ManifestEntry:
        """The result file and manifest entry of a finished input (the local engine's
        :func:`~layoutft.corpus.parse_item`, over the pages parsed on the cluster)."""
        images: list[np.ndarray] | None = None
        if self.keep_images and state.error is None:
            try:
                rendered: list[RenderedPage] = [
                    page
                    for index in range(len(state.chunks))
                    for page in self.ray.get(state.renders[index])
                ]
                images = [page.image for page in rendered]
            except Exception as exc:
                state.error = _original(exc)
        replay = _Replay(state, images)
        entry = parse_item(cast(Parser, replay), state.item, self.out, self.run, self.extra_sinks)
        state.renders.clear()
        return dataclasses.replace(entry, seconds=round(time.monotonic() - state.start, 3))

    def cancel(self) -> None:
        """Cancel the tasks still running (a run stopped part-way). Actor calls are left to
        finish, unread: cancelling one would break the order of the actor's queue."""
        for ref in [*self.inspecting, *self.rendering]:
            with contextlib.suppress(Exception):
                self.ray.cancel(ref)
        self.inspecting.clear()
        self.rendering.clear()
        self.rendered.clear()
        self.parsing.clear()
        self.probing.clear()
        self.resting.clear()
        self.finished.clear()
        self.ready.clear()
        self.waiting.clear()


class _Replay:
    """Stands in for the :class:`~layoutft.parsing.parser.Parser` in
    :func:`~layoutft.corpus.parse_item`: its ``run`` hands the pages parsed on the cluster
    to the sinks (:func:`~layoutft.parsing.parser.deliver`), or raises what failed."""

    def __init__(self, state: _Input, images: list[np.ndarray] | None) -> None:
        self.state = state
        self.images = images

    def run(self, source: Any, sinks: Sequence[ResultSink] = ()) -> Document:
        state = self.state
        if state.error is not None:
            raise state.error
        assert state.plan is not None
        header = state.plan.header
        pages = [page for index in range(len(state.chunks)) for page in state.pages[index]]
        empty = np.zeros((0, 0, 3), np.uint8)
        images = self.images if self.images is not None else [empty] * len(pages)
        document = Document(source=header.source, model=header.model, pages=[])
        return deliver(document, zip(pages, images, strict=True), sinks)


def _paths(item: CorpusItem) -> tuple[str, str]:
    """The input's path as given and absolute."""
    return os.fspath(item.path), os.path.abspath(item.path)


class _WorkerLost(LayoutftError):
    """A Ray worker (actor, its process or its node) was lost mid-call."""


def _is_lost(exc: BaseException) -> bool:
    """Whether a Ray call failed because its worker (actor, process, node) or its result
    was lost, rather than raising an error of its own."""
    if isinstance(getattr(exc, "cause", None), BaseException):
        return False
    name = type(exc).__name__
    return any(word in name for word in ("Actor", "Worker", "Node", "ObjectLost"))


def _original(exc: BaseException) -> BaseException:
    """The exception a Ray task raised (Ray wraps it), or ``exc`` itself: a lost worker
    says so in one line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return cause
    if _is_lost(exc):
        name = type(exc).__name__
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else name
        return _WorkerLost(f"a Ray worker was lost ({name}: {first})")
    return exc


__all__ = ["LOSSES", "PINGS", "PING_WAIT_S", "SENDS", "Cluster", "Pipeline"]
