"""Training metrics: ``metrics.jsonl``, TensorBoard event files, console lines with ETA.

Each log line is one JSON object: ``iteration`` (0-based, the last finished one), every
loss, ``total_loss``, ``lr``, ``time`` and ``data_time`` (seconds per iteration, medians
over the window), ``eta_seconds`` and ``max_mem_mb`` (peak CUDA memory, or the process's
peak RSS on CPU). Evaluation results are logged as ``{"iteration": i, "bbox/AP": ...}``
lines in the same file.
"""

from __future__ import annotations

import datetime
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any, TextIO

_TB_NOTE_SHOWN = False


def _tensorboard(out_dir: Path) -> Any:
    """A SummaryWriter, or None (with a one-time note) when tensorboard is not installed."""
    global _TB_NOTE_SHOWN
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if not _TB_NOTE_SHOWN:
            print(
                "note: tensorboard is not installed, no event files are written "
                "(pip install 'layoutft[tensorboard]')",
                file=sys.stderr,
            )
            _TB_NOTE_SHOWN = True
        return None
    return SummaryWriter(log_dir=str(out_dir))


class MetricsLog:
    """Collects per-iteration scalars and writes them every ``period`` iterations.

    Only the main process should create one with ``out_dir`` set; ``out_dir=None``
    keeps console output only.
    """

    def __init__(
        self, out_dir: Path | None, *, period: int, max_iter: int, stream: TextIO | None = None
    ) -> None:
        self.period, self.max_iter = max(1, period), max_iter
        self.stream = stream if stream is not None else sys.stderr
        self.window: list[dict[str, float]] = []
        self.jsonl: TextIO | None = None
        self.tb: Any = None
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.jsonl = open(out_dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
            self.tb = _tensorboard(out_dir)

    def record(self, iteration: int, scalars: dict[str, float]) -> None:
        """Store one finished iteration's scalars; write when the period is reached."""
        self.window.append(scalars)
        if (iteration + 1) % self.period == 0 or iteration + 1 == self.max_iter:
            self.flush(iteration)

    def flush(self, iteration: int) -> None:
        if not self.window:
            return
        keys = self.window[-1].keys()
        row: dict[str, Any] = {"iteration": iteration}
        for key in keys:
            values = [w[key] for w in self.window if key in w]
            # losses and times: median over the window (robust to one slow step); lr: last
            row[key] = values[-1] if key in ("lr", "max_mem_mb") else statistics.median(values)
        eta = max(0, self.max_iter - iteration - 1) * row.get("time", 0.0)
        row["eta_seconds"] = round(eta, 1)
        self.window.clear()
        self.write_row(row)
        self._console(row)

    def write_row(self, row: dict[str, Any]) -> None:
        """One JSON line (and TensorBoard scalars) for ``row`` (must hold ``iteration``)."""
        if self.jsonl is not None:
            self.jsonl.write(json.dumps(finite_row(row), allow_nan=False) + "\n")
            self.jsonl.flush()
        if self.tb is not None:
            for key, value in row.items():
                if key != "iteration" and isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, row["iteration"])
            self.tb.flush()

    def _console(self, row: dict[str, Any]) -> None:
        eta = str(datetime.timedelta(seconds=int(row["eta_seconds"])))
        losses = "  ".join(
            f"{k}: {v:.4g}" for k, v in row.items() if k.startswith("loss") or k == "total_loss"
        )
        parts = [f"eta: {eta}", f"iter: {row['iteration'] + 1}/{self.max_iter}", losses]
        if "time" in row:
            parts.append(f"time: {row['time']:.3f}  data_time: {row.get('data_time', 0.0):.3f}")
        if "lr" in row:
            parts.append(f"lr: {row['lr']:.4g}")
        if "max_mem_mb" in row:
            parts.append(f"max_mem: {row['max_mem_mb']:.0f}M")
        print("  ".join(parts), file=self.stream, flush=True)

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
            self.jsonl = None
        if self.tb is not None:
            self.tb.close()
            self.tb = None


def finite_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with NaN/Inf values written as null (strict JSON readers reject ``NaN``),
    their keys listed under ``non_finite`` and said on stderr."""
    bad = [k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v)]
    if not bad:
        return row
    print(
        f"warning: metrics.jsonl: {', '.join(bad)} at iteration {row.get('iteration')} are "
        "not finite (written as null)",
        file=sys.stderr,
    )
    return {**{k: None if k in bad else v for k, v in row.items()}, "non_finite": bad}
