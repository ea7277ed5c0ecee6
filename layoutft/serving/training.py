"""The served model learns from Label Studio: ``/webhook`` and ``/train`` of ``layoutft serve``.

An annotation created or updated in a project (Label Studio's ``ANNOTATION_CREATED``,
``ANNOTATION_UPDATED``), its *Start training* (``START_TRAINING``) or ``POST /train`` asks
:class:`Trainer` to fine-tune the project's model. Requests coalesce: a fine-tune starts
``delay_s`` after the last request (a person submitting pages in a row starts one), and
requests that come while one runs start one more afterwards, never two at once (a lock per
project). A fine-tune:

1. reads the project's labelling config (``GET /api/projects/<id>``: its classes, in its
   order, are the model's) and its annotated tasks (``GET /api/projects/<id>/export``), and
   downloads their images, all with the server's Label Studio URL and key
   (:class:`~layoutft.serving.fetch.FetchSettings`);
2. runs :mod:`layoutft.engine.labelstudio_finetune` in a separate process: ``layoutft
   train``'s recipe (``TrainSettings.config`` and overrides) from the project's current
   model, some pages held out, both models evaluated on them;
3. switches the project's served model to the new one only when its held-out bbox AP50 is
   higher than the current model's (else it keeps the current one and says why): the switch
   replaces one reference, so a request in flight finishes with the model it started with
   and the next one gets the new model; none waits or fails.

Models live under the data folder, ``projects/<id>/models/<version>/model_final.pth``, with
``projects/<id>/manifest.json`` (every fine-tune: version, pages, AP50 before and after,
accepted or why not; ``current``: the version served). A restarted server serves each
project's ``current`` again (:meth:`Trainer.resume`). Progress and the last result:
:meth:`Trainer.status` (``GET /train/status``), and the server log.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from layoutft.errors import LayoutftError, OptionError, ServeError
from layoutft.outputs import atomic_path
from layoutft.serving.fetch import FetchSettings
from layoutft.serving.labelstudio import parse_label_config, task_image

log = logging.getLogger("layoutft.serve")

#: Label Studio actions that start a fine-tune (others are answered and ignored)
TRAIN_ACTIONS = (
    "ANNOTATION_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATIONS_CREATED",
    "START_TRAINING",
)
MANIFEST = "manifest.json"
#: the fine-tune process (:mod:`layoutft.engine.labelstudio_finetune`) and its result file
JOB_MODULE = "layoutft.engine.labelstudio_finetune"
RESULT = "result.json"
MANIFEST_SCHEMA = "layoutft.serve-models/1"
_PROJECT = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


@dataclass(frozen=True)
class TrainSettings:
    """How ``layoutft serve`` fine-tunes.

    Attributes:
        data_dir: the server's data folder (models, manifests, job folders).
        config: the ``layoutft train`` config (a shipped name or a YAML path).
        overrides: its ``KEY VALUE`` overrides, flat.
        holdout: share of the annotated pages held out for the check (at least one).
        min_pages: annotated pages needed before a fine-tune starts.
        delay_s: seconds without a new request before a fine-tune starts (coalescing).
        device: where the fine-tune runs (auto, cpu, cuda).
        epochs: None: the config's schedule; else that many passes over the training pages
            (:func:`layoutft.engine.labelstudio_finetune.schedule`), so a fine-tune grows
            with them.
    """

    data_dir: Path
    config: str = "finetune_cpu"
    overrides: tuple[str, ...] = ()
    holdout: float = 0.2
    min_pages: int = 2
    delay_s: float = 10.0
    device: str = "cpu"
    epochs: float | None = None

    def __post_init__(self) -> None:
        if self.epochs is not None and not 0 < self.epochs < float("inf"):
            raise OptionError("{epochs} must be > 0, got {got}", got=self.epochs)
        if len(self.overrides) % 2:
            raise OptionError("{overrides} must be KEY VALUE pairs, got {got}", got=self.overrides)
        if not 0 < self.holdout < 1:
            raise OptionError("{holdout} must be between 0 and 1, got {got}", got=self.holdout)
        if self.min_pages < 2:
            raise OptionError("{min_pages} must be >= 2, got {got}", got=self.min_pages)
        if not 0 <= self.delay_s < float("inf"):
            raise OptionError("{delay_s} must be >= 0 seconds, got {got}", got=self.delay_s)


@dataclass(frozen=True)
class BaseModel:
    """The model the server started with, as ``layoutft train --weights`` and
    ``LayoutModel.from_checkpoint`` take it: ``weights`` (file or registry name),
    ``config``, ``overrides`` and ``labels`` (detectron2 checkpoints)."""

    weights: str
    config: str | None = None
    overrides: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None


def loading_switch(serve: Callable[[str, Any, str], None], device: str) -> Switch:
    """A :data:`Switch` that loads a checkpoint on ``device`` (torch) and hands the model to
    ``serve(project, model, version)`` (:meth:`LayoutService.switch
    <layoutft.serving.app.LayoutService.switch>`)."""

    def switch(project: str, weights: Path, version: str) -> None:
        from layoutft.parsing.parser import load_model

        serve(project, load_model(str(weights), device=device, backend="torch"), version)

    return switch


def project_id(value: Any) -> str:
    """The project id of a request: Label Studio sends ``{"id": 3, ...}`` (webhooks),
    ``"3.1712345678"`` (``/predict``, ``/setup``, ``/train``) or ``3``. ServeError (400)
    when there is none."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool) or value is None:
        raise ServeError('the request names no project ("project": its id)')
    text = str(value).strip().partition(".")[0]
    if not _PROJECT.match(text):
        raise ServeError(f"not a project id: {str(value)[:80]!r}")
    return text


class ModelStore:
    """The models of each project under ``root/projects/<id>/`` and their manifests."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, project: str) -> Path:
        return self.root / "projects" / project_id(project)

    def manifest(self, project: str) -> dict[str, Any]:
        """The project's manifest (an empty one when there is none yet)."""
        path = self.folder(project) / MANIFEST
        if not path.is_file():
            return {"schema": MANIFEST_SCHEMA, "project": project, "current": None, "models": []}
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def current(self, project: str) -> dict[str, Any] | None:
        """The manifest entry of the model served for ``project`` (None: the base model)."""
        manifest = self.manifest(project)
        for entry in manifest["models"]:
            if entry["version"] == manifest["current"]:
                return dict(entry)
        return None

    def weights(self, project: str, entry: dict[str, Any]) -> Path:
        return self.folder(project) / str(entry["weights"])

    def projects(self) -> list[str]:
        base = self.root / "projects"
        return (
            sorted(p.name for p in base.iterdir() if (p / MANIFEST).is_file())
            if base.is_dir()
            else []
        )

    def record(self, project: str, entry: dict[str, Any]) -> None:
        """Add ``entry`` to the manifest (atomically); an accepted one becomes current."""
        manifest = self.manifest(project)
        manifest["models"].append(entry)
        if entry.get("accepted"):
            manifest["current"] = entry["version"]
        with atomic_path(self.folder(project) / MANIFEST, fsync=True) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2) + "\n")


#: switch(project, weights, version): load ``weights`` and serve them for ``project``
Switch = Callable[[str, Path, str], None]


@dataclass
class _Project:
    """What the trainer knows of one project (guarded by ``Trainer._lock``)."""

    state: str = "idle"  # idle, waiting, fetching, training, evaluating... see status()
    requests: int = 0  # requests since the running fine-tune started
    last_request: float = 0.0
    started: str | None = None
    detail: str = ""
    last: dict[str, Any] | None = None
    process: subprocess.Popen[bytes] | None = None
    thread: threading.Thread | None = None
    work: Path | None = None
    runs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Fine-tunes per project in the background and switches the served model (see the
    module docstring). ``switch`` loads a checkpoint and serves it for a project."""

    def __init__(
        self, settings: TrainSettings, fetch: FetchSettings, base: BaseModel, switch: Switch
    ) -> None:
        self.settings = settings
        self.fetch = fetch
        self.base = base
        self.switch = switch
        self.store = ModelStore(settings.data_dir)
        self._lock = threading.Lock()
        self._projects: dict[str, _Project] = {}
        self._closed = False

    # -- requests ----------------------------------------------------------------------

    def request(self, project: Any, reason: str) -> dict[str, Any]:
        """Ask for a fine-tune of ``project`` (see the module docstring); returns what
        happens: ``started``, or ``queued`` behind the running one."""
        pid = project_id(project)
        if self.fetch.label_studio_url is None:
            raise ServeError(
                "training needs Label Studio's address: start layoutft serve with "
                "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY set"
            )
        with self._lock:
            state = self._projects.setdefault(pid, _Project())
            state.requests += 1
            state.last_request = time.monotonic()
            log.info("project %s: fine-tune requested (%s)", pid, reason)
            if state.thread is not None:  # the worker picks the request up (it clears
                # ``thread`` under this lock when it ends, so none is left behind)
                return {"status": "queued", "project": pid, "state": state.state}
            state.thread = threading.Thread(
                target=self._worker, args=(pid,), name=f"layoutft-train-{pid}", daemon=True
            )
            state.state = "waiting"
            state.thread.start()
        return {"status": "started", "project": pid}

    def status(self, project: Any = None) -> dict[str, Any]:
        """Progress and the last result of one project, or of all that trained."""
        if project is None:
            with self._lock:
                names = sorted(set(self._projects) | set(self.store.projects()))
            return {"projects": {pid: self.status(pid) for pid in names}}
        pid = project_id(project)
        current = self.store.current(pid)
        with self._lock:
            state = self._projects.get(pid, _Project())
            progress = self._progress(state)
            return {
                "project": pid,
                "state": state.state,
                "detail": state.detail,
                "started": state.started,
                "progress": progress,
                "model_version": None if current is None else current["version"],
                "last": state.last,
                "runs": state.runs,
            }

    def wait(self, project: Any, timeout: float) -> dict[str, Any]:
        """Block until ``project`` has no fine-tune running or waiting (or ``timeout``
        seconds passed); its status."""
        pid = project_id(project)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                thread = self._projects.get(pid, _Project()).thread
            if thread is None:
                break
            thread.join(min(1.0, max(deadline - time.monotonic(), 0.0)))
        return self.status(pid)

    def resume(self) -> list[str]:
        """Serve each project's ``current`` model of the manifests (at start-up); the
        projects resumed. A model that cannot load is logged and skipped."""
        resumed = []
        for pid in self.store.projects():
            entry = self.store.current(pid)
            if entry is None:
                continue
            try:
                self.switch(pid, self.store.weights(pid, entry), str(entry["version"]))
            except Exception as exc:
                log.error("project %s: cannot serve %s again: %s", pid, entry["version"], exc)
                continue
            log.info("project %s: serving %s (from %s)", pid, entry["version"], MANIFEST)
            resumed.append(pid)
        return resumed

    def close(self) -> None:
        """Stop running fine-tunes (their processes are terminated; nothing is switched)."""
        with self._lock:
            self._closed = True
            processes = [s.process for s in self._projects.values() if s.process is not None]
        for process in processes:
            if process.poll() is None:
                process.terminate()

    # -- the worker --------------------------------------------------------------------

    def _set(self, pid: str, **changes: Any) -> None:
        with self._lock:
            state = self._projects[pid]
            for key, value in changes.items():
                setattr(state, key, value)

    def _worker(self, pid: str) -> None:
        while True:
            self._settle(pid)
            with self._lock:
                state = self._projects[pid]
                state.requests = 0
                state.runs += 1
                state.started = _now()
                if self._closed:
                    state.state = "idle"
                    state.thread = None
                    return
            try:
                result = self._fine_tune(pid)
            except LayoutftError as exc:
                result = {"outcome": "failed", "reason": " ".join(str(exc).split())}
            except Exception as exc:  # the server goes on with the model it has
                log.exception("project %s: fine-tune failed", pid)
                result = {"outcome": "failed", "reason": f"internal error: {exc}"}
            result["finished"] = _now()
            log.info("project %s: %s: %s", pid, result["outcome"], result.get("reason", ""))
            with self._lock:
                state = self._projects[pid]
                state.last = result
                state.history.append(result)
                state.process = None
                if state.requests == 0 or self._closed:
                    state.state = "idle"
                    state.detail = ""
                    state.thread = None
                    return
                state.state = "waiting"  # requests came while it ran: one more fine-tune

    def _settle(self, pid: str) -> None:
        """Wait until ``delay_s`` passed since the project's last request."""
        while True:
            with self._lock:
                due = self._projects[pid].last_request + self.settings.delay_s
            left = due - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 1.0))

    def _fine_tune(self, pid: str) -> dict[str, Any]:
        manifest = self.store.manifest(pid)
        round_no = len(manifest["models"]) + 1
        version = f"layoutft-project{pid}-round{round_no}"
        work = self.store.folder(pid) / "jobs" / version
        if work.exists():
            shutil.rmtree(work)
        (work / "images").mkdir(parents=True)
        self._set(pid, state="fetching", detail="reading the project from Label Studio", work=work)
        labels, tasks = self._fetch_tasks(pid, work)
        current = self.store.current(pid)
        entry: dict[str, Any] = {
            "version": version,
            "created": _now(),
            "from": self.base.weights if current is None else current["version"],
            "annotated_pages": len(tasks),
            "labels": labels,
        }
        if len(tasks) < self.settings.min_pages:
            return {
                "outcome": "skipped",
                "version": version,
                "reason": f"{len(tasks)} annotated page(s); a fine-tune needs at least "
                f"{self.settings.min_pages} (some are held out to check the new model)",
            }
        spec = self._spec(pid, work, labels, current)
        self._set(pid, state="training", detail=f"{len(tasks)} annotated pages")
        result = self._run_job(pid, work, spec)
        if not result.get("ok"):
            entry.update(accepted=False, reason=str(result.get("error")))
            self.store.record(pid, entry)
            return {"outcome": "failed", "version": version, "reason": entry["reason"]}
        after, before = result.get("ap50"), result.get("ap50_before")
        better = after is not None and (before is None or after > before)
        shown = f"held-out bbox AP50 {_pct(after)} vs {_pct(before)} of the current model"
        entry.update(
            {
                "train_pages": result["train_pages"],
                "heldout_pages": result["heldout_pages"],
                "heldout_files": result["heldout_files"],
                "train_files": result["train_files"],
                "iterations": result["iterations"],
                "ap50": after,
                "ap50_before": before,
                "accepted": better,
                "notes": result.get("notes", []),
            }
        )
        # kept either way (~11 MB for the bundled architecture): a rejected one can be
        # compared or served by hand; only an accepted one becomes current
        folder = self.store.folder(pid) / "models" / version
        folder.mkdir(parents=True, exist_ok=True)
        shutil.move(str(result["weights"]), folder / "model_final.pth")
        entry["weights"] = f"models/{version}/model_final.pth"
        entry["overrides"] = result.get("overrides", [])
        if better:
            self._set(pid, state="switching", detail=shown)
            self.switch(pid, folder / "model_final.pth", version)
            entry["reason"] = f"switched: {shown}"
        else:
            entry["reason"] = f"kept {entry['from']}: not better: {shown}"
        self.store.record(pid, entry)
        shutil.rmtree(work / "run", ignore_errors=True)
        shutil.rmtree(work / "images", ignore_errors=True)
        return {
            "outcome": "switched" if better else "kept",
            "version": version if better else entry["from"],
            "candidate": version,
            "reason": entry["reason"],
            "ap50": after,
            "ap50_before": before,
            "train_pages": result["train_pages"],
            "heldout_pages": result["heldout_pages"],
        }

    def _spec(
        self, pid: str, work: Path, labels: list[str], current: dict[str, Any] | None
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "work": str(work),
            "labels": labels,
            "holdout": self.settings.holdout,
            "config_train": self.settings.config,
            "overrides": list(self.settings.overrides),
            "device": self.settings.device,
            "epochs": self.settings.epochs,
        }
        if current is None:  # the base model, as the server loaded it
            spec.update(
                weights=self.base.weights,
                config=self.base.config,
                model_overrides=list(self.base.overrides),
                labels_of_weights=None if self.base.labels is None else list(self.base.labels),
            )
        else:
            spec["weights"] = str(self.store.weights(pid, current))
        return spec

    def _run_job(self, pid: str, work: Path, spec: dict[str, Any]) -> dict[str, Any]:
        """Run the job process; its result (``{"ok": false, "error"}`` if it wrote none)."""
        spec = {**spec, "result": str(work / RESULT)}
        (work / "spec.json").write_text(json.dumps(spec, indent=2) + "\n")
        with (work / "train.log").open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", JOB_MODULE, str(work / "spec.json")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._set(pid, process=process)
        code = process.wait()
        path = work / RESULT
        if path.is_file():
            result: dict[str, Any] = json.loads(path.read_text())
            return result
        tail = (work / "train.log").read_text(errors="replace")[-500:]
        log.error("project %s: fine-tune process exited %s:\n%s", pid, code, tail)
        return {"ok": False, "error": f"the fine-tune process exited with status {code}"}

    def _progress(self, state: _Project) -> dict[str, Any] | None:
        """Iterations done (from the run's metrics.jsonl) while a fine-tune trains."""
        if state.state != "training" or state.work is None:
            return None
        metrics = state.work / "run" / "metrics.jsonl"
        if not metrics.is_file():
            return {"iteration": 0}
        lines = metrics.read_text(errors="replace").splitlines()
        for line in reversed(lines):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if "iteration" in row:
                return {"iteration": int(row["iteration"]) + 1}
        return {"iteration": 0}

    # -- Label Studio ------------------------------------------------------------------

    def _fetch_json(self, path: str) -> Any:
        assert self.fetch.label_studio_url is not None
        url = self.fetch.label_studio_url.rstrip("/") + path
        out = io.BytesIO()
        self.fetch.fetch_to(url, out)
        try:
            return json.loads(out.getvalue())
        except ValueError:
            raise ServeError(f"Label Studio's {path} did not answer JSON", status=502) from None

    def _fetch_tasks(self, pid: str, work: Path) -> tuple[list[str], list[dict[str, Any]]]:
        """The labelling config's classes and the annotated tasks (written to
        ``work/export.json``, images downloaded to ``work/images``)."""
        project = self._fetch_json(f"/api/projects/{quote(pid)}")
        controls = parse_label_config(
            project.get("label_config") if isinstance(project, dict) else None
        )
        labels = list(controls.labels)
        if not labels:
            raise ServeError("the project's labelling config names no labels to train")
        exported = self._fetch_json(f"/api/projects/{quote(pid)}/export?exportType=JSON")
        if not isinstance(exported, list):
            raise ServeError("Label Studio's export is not a list of tasks", status=502)
        tasks = []
        for task in exported:
            annotations = [
                a
                for a in (task.get("annotations") or [])
                if isinstance(a, dict) and not a.get("was_cancelled")
            ]
            if not annotations:
                continue
            url = task_image(task, controls)
            suffix = Path(url.partition("?")[0]).suffix.lower()
            if suffix not in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"):
                suffix = ".png"
            name = f"task-{task.get('id')}{suffix}"
            with (work / "images" / name).open("wb") as image:
                self.fetch.fetch_to(url, image)
            tasks.append(
                {"id": task.get("id"), "data": {"image": name}, "annotations": annotations}
            )
        (work / "export.json").write_text(json.dumps(tasks))
        return labels, tasks


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
