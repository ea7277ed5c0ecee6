"""Asynchronous parse jobs of ``layoutft serve``: ``POST /parse?async=1`` answers at once
with a job id; ``GET /jobs/<id>`` gives its status (``queued``, ``running``, ``done``,
``failed``) and progress (pages done of pages), then its result (the layout JSON).

The queue is bounded: at most ``max_jobs`` jobs queued or running; one more is refused
(ServeError 429, retry later). Jobs run one at a time in a worker thread, through the same
model lock as the synchronous requests. A finished job's result is kept ``ttl_s`` seconds
after it finished, then forgotten (404, like an id that never was), and so is its upload.
Job ids are random (128 bits): knowing one is what lets a client read the result. No torch.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from layoutft.errors import LayoutftError, OptionError, RenderError, ServeError
from layoutft.parsing.options import ParseOptions
from layoutft.schema import Document, Page

log = logging.getLogger("layoutft.serve")

#: run(upload path, options, progress sink) -> the parsed document
Runner = Callable[[Path, ParseOptions, "Progress"], Document]


class Progress:
    """A parser sink counting pages done (``done`` of ``total``: the pages the job parses,
    known once they are counted; None before)."""

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None

    def begin(self, document: Document) -> None:
        """Nothing is counted before the first page."""

    def add(self, document: Document, page: Page, image: np.ndarray) -> None:
        self.done += 1

    def end(self, document: Document) -> None:
        self.total = self.done

    def abort(self) -> None:
        """Nothing to undo."""


@dataclass
class Job:
    """One job. ``finished``: ``time.monotonic()`` when it ended (None before)."""

    id: str
    upload: Path
    options: ParseOptions
    created: float = field(default_factory=time.time)
    status: str = "queued"
    progress: Progress = field(default_factory=Progress)
    result: dict[str, Any] | None = None
    error: str | None = None
    error_status: int | None = None
    finished: float | None = None

    def describe(self, ttl_s: float) -> dict[str, Any]:
        """The JSON of ``GET /jobs/<id>``."""
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "progress": {"pages_done": self.progress.done, "pages": self.progress.total},
        }
        if self.finished is not None:
            out["expires_in_s"] = round(max(self.finished + ttl_s - time.monotonic(), 0.0), 1)
        if self.status == "done":
            out["result"] = self.result
        elif self.status == "failed":
            out["error"] = self.error
            out["error_status"] = self.error_status
        return out


class JobQueue:
    """Bounded queue of parse jobs with one worker (see the module docstring).

    Args:
        run: parses one job's upload (holding the model lock).
        max_jobs: jobs queued or running at once; more get 429.
        ttl_s: seconds a finished job's result is kept.
        folder: where uploads wait (a private temporary folder by default).
    """

    def __init__(
        self, run: Runner, max_jobs: int = 32, ttl_s: float = 3600.0, folder: Path | None = None
    ) -> None:
        if max_jobs < 1:
            raise OptionError("{max_jobs} must be >= 1, got {got}", got=max_jobs)
        if not 0 < ttl_s < float("inf"):
            raise OptionError("{ttl_s} must be > 0 seconds, got {got}", got=ttl_s)
        self.run = run
        self.max_jobs = max_jobs
        self.ttl_s = ttl_s
        self._folder = folder  # made on the first job
        self._jobs: dict[str, Job] = {}
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    @property
    def folder(self) -> Path:
        """Where uploads wait (a private temporary folder unless one was given)."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="layoutft-jobs."))
        return self._folder

    def submit(self, upload: IO[bytes], options: ParseOptions) -> Job:
        """Queue a parse of ``upload`` (copied to the jobs folder); ServeError 429 when
        ``max_jobs`` jobs are queued or running."""
        self.expire()
        with self._lock:
            active = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if active >= self.max_jobs:
                raise ServeError(
                    f"the job queue is full ({self.max_jobs} jobs queued or running); retry later",
                    status=429,
                )
            job_id = secrets.token_hex(16)
            path = self.folder / f"{job_id}.upload"
            self.folder.mkdir(parents=True, exist_ok=True)
            upload.seek(0)
            with path.open("wb") as out:
                shutil.copyfileobj(upload, out)
            job = Job(job_id, path, options)
            self._jobs[job_id] = job
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work, name="layoutft-jobs", daemon=True
                )
                self._worker.start()
        self._pending.put(job)
        return job

    def get(self, job_id: str) -> Job:
        """The job ``job_id``; ServeError 404 for an unknown or expired one."""
        self.expire()
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ServeError(f"no job {job_id[:64]!r} (unknown, or its result expired)", status=404)
        return job

    def expire(self) -> None:
        """Forget jobs that finished more than ``ttl_s`` seconds ago."""
        now = time.monotonic()
        with self._lock:
            old = [j for j in self._jobs.values() if j.finished and now - j.finished > self.ttl_s]
            for job in old:
                del self._jobs[job.id]
                job.upload.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the worker after the running job; remove the uploads folder."""
        self._pending.put(None)
        if self._worker is not None:
            self._worker.join(60)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _work(self) -> None:
        while True:
            job = self._pending.get()
            if job is None:
                return
            job.status = "running"
            try:
                document = self.run(job.upload, job.options, job.progress)
                job.result = document.to_dict()
                job.status = "done"
            except (ServeError, LayoutftError) as exc:
                job.error = " ".join(str(exc).split())
                status = 422 if isinstance(exc, RenderError) else 400
                job.error_status = exc.status if isinstance(exc, ServeError) else status
                job.status = "failed"
            except Exception:
                log.exception("job %s failed", job.id)
                job.error = "internal error; the server log has the details"
                job.error_status = 500
                job.status = "failed"
            finally:
                job.finished = time.monotonic()
                if os.path.exists(job.upload):
                    job.upload.unlink()
