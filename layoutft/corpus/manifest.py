"""The manifest of a corpus run: ``OUT/layoutft-manifest.jsonl``.

One JSON object per line, appended and fsynced one at a time, never rewritten:

- a ``run`` record when a run starts: the schema (``layoutft.manifest/1``), the
  :func:`fingerprint` with the ``model`` and ``options`` it covers, the inputs as given,
  the corpus root, the number of inputs planned, the layoutft version and the time;
- an ``item`` record (:class:`ManifestEntry`) each time an input is parsed: its path
  relative to the corpus root, size, mtime and sha256, ``ok`` or ``failed`` with the error,
  its output relative to OUT, pages, failed pages, regions, seconds, model, fingerprint,
  options, version and time.

The latest ``item`` record of an input is its state. A line cut short by a kill or a power
loss can only be the last one: it is ignored when read and cut off before the next append.
The format is documented in docs/corpus.md; its JSON Schema is
``layoutft/schemas/manifest-1.schema.json``. No torch here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from layoutft.corpus.plan import MANIFEST_NAME, CorpusItem
from layoutft.errors import LayoutftError
from layoutft.model.identity import weights_ref
from layoutft.pretrained import file_sha256

SCHEMA = "layoutft.manifest/1"

#: ParseOptions fields that change what a result file holds (``batch_size``, ``workers``:
#: "results do not depend on it" (LayoutModel.predict); ``progress`` and ``visualize``
#: write nothing into results)
OUTPUT_OPTIONS = (
    "dpi",
    "pages",
    "precision",
    "renderer",
    "text",
    "postprocess",
    "score_threshold",
    "max_pixels",
    "image_dpi",
)

#: output options a run may leave to the model (None until the parser resolves them:
#: ``dpi`` None is the model's training dpi)
MODEL_RESOLVED_OPTIONS = ("dpi",)

#: later ParseOptions fields that change results, with their defaults: recorded only when
#: set otherwise, so that runs from before they existed keep their fingerprints
LATER_OUTPUT_OPTIONS: dict[str, Any] = {
    "labels_view": "native",
    "cover_words": "off",
    "ocr": "never",
    "ocr_lang": "eng",
}

ItemState = Literal["done", "failed", "todo"]


class SettingsMismatchError(LayoutftError):
    """OUT holds results of another model or other options than this run's."""


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one manifest line (``layoutft.manifest/1``)."""
    from importlib import resources

    text = resources.files("layoutft.schemas").joinpath("manifest-1.schema.json").read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def now() -> str:
    """The current UTC time, ISO 8601 with seconds (``2026-12-03T21:14:35Z``)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_identity(
    name: str,
    labels: Sequence[str],
    weights: str | Path | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """What identifies a model's detections: ``name`` (the JSON ``model.name``), the
    ``labels`` in model order, the sha256 of the weights (None: the bundled model's file; a
    registry name: its published checksum, else its cached file's), the sha256 of the
    ``config`` file and the ``KEY VALUE`` ``overrides``. Where the weights file lies and
    the device are left out: the same file elsewhere gives the same results.

    Call it after the model is loaded (a registry model is then in the cache).
    """
    return {
        "name": name,
        "weights_sha256": weights_ref(weights).sha256(),
        "config_sha256": None if config is None else file_sha256(config),
        "overrides": [str(o) for o in overrides],
        "labels": [str(label) for label in labels],
    }


def output_options(options: Any, fmt: str) -> dict[str, Any]:
    """The settings of ``options`` (a :class:`~layoutft.parsing.options.ParseOptions`) that
    change results (:data:`OUTPUT_OPTIONS`), plus the output ``format``, as JSON values.

    A run's record needs the options its parser resolved (``parser.options``: the ``dpi``
    a model sets); ``dpi`` None (not yet resolved) is kept as None, which only
    :meth:`Manifest.check` without a model accepts."""
    values: dict[str, Any] = {"format": fmt}
    for name in OUTPUT_OPTIONS:
        value = getattr(options, name)
        if hasattr(value, "to_dict"):  # ScoreThresholds
            value = value.to_dict()
        elif isinstance(value, tuple | range):
            value = list(value)
        elif name in ("dpi", "image_dpi") and value is not None:
            value = float(value)  # 200 and 200.0 are one setting
        elif name == "score_threshold" and value is not None:
            value = str(value)  # 0.6 (library) and "0.6" (CLI) too
        values[name] = value
    for name, default in LATER_OUTPUT_OPTIONS.items():
        if getattr(options, name) != default:
            values[name] = getattr(options, name)
    return values


def fingerprint(model: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    """16 hex digits identifying a model (:func:`model_identity`) and output options
    (:func:`output_options`): two runs with one fingerprint write the same results."""
    text = json.dumps(
        {"model": model, "options": options}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class RunRecord:
    """The ``run`` record written when a run starts (see the module docstring).

    ``root``: the absolute corpus root item inputs are relative to; ``inputs``: the input
    arguments as given; ``planned``: how many inputs the run's plan has.
    """

    fingerprint: str
    model: dict[str, Any]
    options: dict[str, Any]
    root: str
    inputs: list[str]
    planned: int
    layoutft_version: str
    time: str = field(default_factory=now)
    schema: str = SCHEMA

    @classmethod
    def create(
        cls,
        model: Mapping[str, Any],
        options: Mapping[str, Any],
        root: str | Path,
        inputs: Sequence[str | Path],
        planned: int,
    ) -> RunRecord:
        """The record of a run starting now with ``model`` (:func:`model_identity`) and
        ``options`` (:func:`output_options`), its :func:`fingerprint` computed."""
        from layoutft import __version__

        unresolved = [n for n in MODEL_RESOLVED_OPTIONS if n in options and options[n] is None]
        if unresolved:  # a caller's mistake: the fingerprint would match no earlier run
            raise ValueError(
                f"RunRecord.create: options {', '.join(unresolved)} are None; pass "
                "output_options(parser.options, ...) (the parser resolves the model's dpi)"
            )
        return cls(
            fingerprint=fingerprint(model, options),
            model=dict(model),
            options=dict(options),
            root=os.path.abspath(root),
            inputs=[os.fspath(p) for p in inputs],
            planned=planned,
            layoutft_version=__version__,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"record": "run", **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class ManifestEntry:
    """The ``item`` record of one parsed input.

    Attributes:
        input: path relative to the corpus root, ``/``-separated.
        size, mtime_ns, sha256: of the input when it was read (None: unreadable).
        status: ``ok`` (every page parsed), or ``failed`` (the input could not be read, or
            some of its pages failed; ``error`` says why).
        error: None when ok; else one line.
        output: the result file relative to OUT (None when nothing was written).
        pages: pages parsed (failed ones included); failed_pages: their 1-based numbers.
        regions: regions found; seconds: wall time of this input.
        model: ``name`` and ``weights_sha256``; fingerprint and options: as in the run.
    """

    input: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    status: Literal["ok", "failed"]
    error: str | None
    output: str | None
    pages: int
    failed_pages: list[int]
    regions: int
    seconds: float
    model: dict[str, Any]
    fingerprint: str
    options: dict[str, Any]
    layoutft_version: str
    time: str = field(default_factory=now)

    def to_dict(self) -> dict[str, Any]:
        return {"record": "item", **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManifestEntry:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


class Manifest:
    """The manifest of the output folder ``out`` (read when created; a missing file is an
    empty manifest).

    Reading: :attr:`runs` (every ``run`` record, oldest first), :attr:`current` (the latest),
    :attr:`entries` (the latest :class:`ManifestEntry` per input path), :meth:`state`.
    Writing needs :meth:`lock` (one writer per OUT at a time): :meth:`begin` then
    :meth:`record` per input, each line fsynced before it returns.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.path = self.out / MANIFEST_NAME
        self.runs: list[RunRecord] = []
        self.entries: dict[str, ManifestEntry] = {}
        #: a last line cut short (ignored)
        self.torn = False
        #: entries whose input :meth:`state` found touched but unchanged (new mtime_ns)
        self.moved: list[ManifestEntry] = []
        self._fd: int | None = None
        self._read()

    @property
    def current(self) -> RunRecord | None:
        """The latest run's record (whose settings OUT now follows), or None."""
        return self.runs[-1] if self.runs else None

    def _read(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        lines = data.split(b"\n")
        last = len(lines) - 1  # the text after the last newline ("" when complete)
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            if number - 1 == last:  # no newline: cut short by a kill, or never fsynced whole
                self.torn = True  # ignored here, cut off by lock() before the next append
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
                self._add(record)
            except (ValueError, TypeError, KeyError) as exc:
                raise LayoutftError(
                    f"{self.path} line {number} is not a manifest record ({exc}); remove that "
                    "line (its input is then parsed again) or use another output folder"
                ) from None

    def _add(self, record: dict[str, Any]) -> None:
        kind = record.get("record")
        if kind == "run":
            if record.get("schema") != SCHEMA:
                raise LayoutftError(
                    f"{self.path} is a {record.get('schema')!r} manifest, this layoutft reads "
                    f"{SCHEMA}; use another output folder or a matching layoutft"
                )
            self.runs.append(RunRecord.from_dict(record))
        elif kind == "item":
            entry = ManifestEntry.from_dict(record)
            self.entries[entry.input] = entry
        # other kinds: written by a later version, ignored

    def check(
        self,
        model: Mapping[str, Any] | None,
        options: Mapping[str, Any],
        root: str | Path | None = None,
    ) -> None:
        """SettingsMismatchError naming what differs when OUT's latest run used another
        model or other options, or (``root`` given) another corpus root (input paths are
        relative to it: another root would put outputs elsewhere in the tree). An OUT
        without runs accepts any. ``model`` None: compare the options only (before loading
        the model), those the model resolves (:data:`MODEL_RESOLVED_OPTIONS`) only where
        set."""
        run = self.current
        if run is None:
            return
        if root is not None and os.path.abspath(root) != run.root:
            raise SettingsMismatchError(
                f"{self.out} holds results of the inputs under {run.root}, this run's are under "
                f"{os.path.abspath(root)} (input paths, and so outputs, are relative to that "
                "folder); pass inputs under the same folder, choose another output folder (-o), "
                "or pass --overwrite"
            )
        if model is None:
            options = _with_unresolved(options, run.options)
            if run.options == options:
                return
        elif run.fingerprint == fingerprint(model, options):
            return
        changes = [
            *_differences("model ", run.model, run.model if model is None else model),
            *_differences("", run.options, options),
        ]
        what = ", ".join(changes[:4]) + (
            f" and {len(changes) - 4} more" if len(changes) > 4 else ""
        )
        raise SettingsMismatchError(
            f"{self.out} holds results of other settings ({what or 'another fingerprint'}); "
            "rerun with the settings it was made with, choose another output folder (-o), or "
            "pass --overwrite to parse every file again with the new settings"
        )

    def state(self, item: CorpusItem, fingerprint: str) -> ItemState:
        """``done`` when the latest entry of ``item`` is ok with ``fingerprint``, for the same
        output path, whose file still exists, and the input is unchanged; ``failed`` when it
        failed with ``fingerprint`` and the input is unchanged; else ``todo``.

        "Unchanged": the same size and mtime as recorded (no reading), or the same size and
        sha256 (the file is read only when its mtime moved).
        """
        entry = self.entries.get(item.input)
        if entry is None or entry.fingerprint != fingerprint:
            return "todo"
        if entry.status == "ok" and (
            entry.output != item.output or not (self.out / item.output).exists()
        ):
            return "todo"
        try:
            stat = item.path.stat()
            unchanged = stat.st_size == entry.size and stat.st_mtime_ns == entry.mtime_ns
            if not unchanged and stat.st_size == entry.size:
                unchanged = file_sha256(item.path) == entry.sha256
                if unchanged:  # touched or copied: remember the new mtime (see record_moved)
                    self.moved.append(dataclasses.replace(entry, mtime_ns=stat.st_mtime_ns))
        except OSError:
            unchanged = False
        if not unchanged:
            return "todo"
        return "done" if entry.status == "ok" else "failed"

    def record_moved(self) -> None:
        """Record the entries :meth:`state` found with a new mtime but the same content, with
        that mtime, so the next run does not read those files again (needs :meth:`lock`)."""
        moved, self.moved = self.moved, []
        for entry in moved:
            self.record(entry)

    @contextlib.contextmanager
    def lock(self) -> Iterator[Manifest]:
        """Hold OUT's manifest for writing: LayoutftError when another process holds it;
        a torn last line is cut off first. Released on exit (and by the OS on a kill)."""
        from layoutft.outputs import exclusive_lock

        created = not self.path.exists()
        busy = (
            f"{self.out} is being written by another layoutft run; wait for it to finish or "
            "choose another output folder (-o)"
        )
        with exclusive_lock(self.path, busy) as fd:
            try:
                if created:
                    _fsync_folder(self.out)
                self.runs, self.entries, self.torn = [], {}, False
                self._read()  # what the previous holder wrote
                if self.torn:
                    data = self.path.read_bytes()
                    os.ftruncate(fd, data.rfind(b"\n") + 1)
                    os.fsync(fd)
                    self.torn = False
                self._fd = fd
                yield self
            finally:
                self._fd = None

    def begin(self, run: RunRecord) -> None:
        """Append the ``run`` record of a run starting (needs :meth:`lock`)."""
        self._append(run.to_dict())
        self.runs.append(run)

    def record(self, entry: ManifestEntry) -> None:
        """Append ``entry`` durably (fsynced when this returns; needs :meth:`lock`)."""
        self._append(entry.to_dict())
        self.entries[entry.input] = entry

    def _append(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise RuntimeError("Manifest.lock() first")
        try:
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            data = (line + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a non-UTF-8 file name: escaped, still valid JSON
            data = (json.dumps(record, separators=(",", ":")) + "\n").encode("ascii")
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)


def _with_unresolved(options: Mapping[str, Any], recorded: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` whose values the model resolves, None until it loads, taken from
    ``recorded`` (a run's): they are compared once the model is known (by fingerprint)."""
    values = dict(options)
    for name in MODEL_RESOLVED_OPTIONS:
        if name in values and values[name] is None and name in recorded:
            values[name] = recorded[name]
    return values


def _differences(prefix: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``"dpi 200 -> 150"`` for each key whose value differs."""
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out.append(f"{prefix}{key} {_short(old.get(key))} -> {_short(new.get(key))}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:12] + "…"


def _fsync_folder(folder: Path) -> None:
    """Make a new file's name durable (best effort: some filesystems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def manifest_status(manifest: Manifest) -> dict[str, Any]:
    """What `layoutft status` shows, from the manifest alone (inputs are not looked at).

    Counts are of the latest entry per input: ``ok`` and ``failed`` with the latest run's
    fingerprint, ``other_settings`` done with another (an ``--overwrite`` run not finished),
    ``not_done``: the latest run's planned inputs without an entry yet (at least 0).
    ``pages_per_second``: pages over the seconds spent parsing them.
    """
    run = manifest.current
    current = None if run is None else run.fingerprint
    mine = [e for e in manifest.entries.values() if e.fingerprint == current]
    ok = [e for e in mine if e.status == "ok"]
    failed = [e for e in mine if e.status == "failed"]
    pages = sum(e.pages for e in mine)
    seconds = sum(e.seconds for e in mine)
    planned = 0 if run is None else run.planned
    return {
        "manifest": str(manifest.path),
        "runs": len(manifest.runs),
        "fingerprint": current,
        "model": None if run is None else run.model,
        "options": None if run is None else run.options,
        "last_run": None if run is None else run.time,
        "root": None if run is None else run.root,
        "planned": planned,
        "ok": len(ok),
        "failed": len(failed),
        "other_settings": len(manifest.entries) - len(mine),
        "not_done": max(0, planned - len(ok) - len(failed)),
        "pages": pages,
        "failed_pages": sum(len(e.failed_pages) for e in mine),
        "regions": sum(e.regions for e in mine),
        "seconds": round(seconds, 3),
        "pages_per_second": round(pages / seconds, 3) if seconds > 0 else 0.0,
        "failures": [{"input": e.input, "output": e.output, "error": e.error} for e in failed],
        "torn_last_line": manifest.torn,
    }
