"""Shared helpers: machine description, timers, peak RSS, result files."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def cpu_times() -> list[int] | None:
    """This machine's cumulative CPU times (``/proc/stat``: user, nice, system, idle, iowait,
    irq, softirq, steal, in clock ticks), or None where there is no ``/proc/stat``."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    return [int(v) for v in first[1:9]] if first and first[0] == "cpu" else None


def steal_pct(since: list[int] | None) -> float | None:
    """Share of CPU time the hypervisor gave other guests since ``since`` (a
    :func:`cpu_times`), in %: a shared VM's steal slows every number down, unevenly."""
    now = cpu_times()
    if since is None or now is None or len(now) < 8:
        return None
    delta = [b - a for a, b in zip(since, now, strict=True)]
    total = sum(delta)
    return round(100 * delta[7] / total, 1) if total > 0 else None


def machine_info(started: list[int] | None = None) -> dict[str, Any]:
    """CPU, cores, Python/torch/torchvision versions, the device used and, given the
    :func:`cpu_times` at the run's start, the CPU steal during the run."""
    import torch
    import torchvision

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        # other work on the machine slows every number down; say how busy it was
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    if started is not None:
        info["cpu_steal_pct"] = steal_pct(started)
    return info


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Current resident set size in MiB (from /proc; falls back to the peak)."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


@contextmanager
def timer(store: dict[str, float], key: str) -> Iterator[None]:
    """Add the wall time of the block (seconds) to ``store[key]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        store[key] = store.get(key, 0.0) + time.perf_counter() - start


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of equal keys as a Markdown table (floats with 3 significant decimals)."""
    if not rows:
        return "(no rows)\n"
    keys = list(rows[0])

    def fmt(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save_results(
    name: str,
    rows: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
    out_dir: Path | None = None,
    started: list[int] | None = None,
) -> Path:
    """Write ``<out_dir>/<name>.json`` and ``.md`` and print the table; returns the JSON path.

    ``started``: :func:`cpu_times` when the run began (the machine block then says how much
    CPU time was stolen meanwhile).

    ``out_dir`` defaults to ``benchmarks/results``. Values of ``extra`` that are lists of
    row dicts (e.g. ``"render": [...]``) become tables of their own in the Markdown file.
    """
    out = RESULTS if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = machine_info(started)
    payload = {"benchmark": name, "machine": info, "rows": rows, **(extra or {})}
    json_path = out / f"{name}.json"
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    machine = ", ".join(f"{k} {v}" for k, v in info.items())
    table = markdown_table(rows)
    notes = ""
    for key, value in (extra or {}).items():
        if _is_rows(value):
            notes += f"\n### {key}\n\n{markdown_table(value)}"
        elif isinstance(value, list) and value:
            notes += f"\n### {key}\n\n" + "".join(f"- {item}\n" for item in value)
        else:
            notes += f"\n- {key}: {value}\n"
    (out / f"{name}.md").write_text(f"# {name}\n\n{machine}\n\n{table}{notes}")
    print(f"## {name} ({machine})\n\n{table}{notes}")
    return json_path


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def target(name: str, passed: bool | None, detail: str) -> dict[str, Any]:
    """Print ``PASS``/``FAIL`` (``SKIP`` for None) for one target with its numbers.

    Returns the result row (target, status, detail).
    """
    status = "SKIP" if passed is None else "PASS" if passed else "FAIL"
    print(f"[{status}] {name}: {detail}")
    return {"target": name, "status": status, "detail": detail}


def save_plot(name: str, draw: Callable[[Any], None], out_dir: Path | None = None) -> str:
    """Draw with ``draw(matplotlib.pyplot)`` into ``<out_dir>/<name>.png``.

    Returns the PNG's file name, or a note saying why there is none (no matplotlib).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        note = "matplotlib not installed; no plot (pip install matplotlib)"
        print(note)
        return note
    out = RESULTS if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plt.close("all")
    draw(plt)
    path = out / f"{name}.png"
    plt.tight_layout()
    plt.savefig(path, dpi=110)
    plt.close("all")
    return path.name


def run_worker(module: str, payload: dict[str, Any], timeout: float | None = None) -> Any:
    """Run ``python -m <module> --worker '<json>'`` and return the JSON it prints last.

    A fresh process per measurement keeps peak RSS and thread pools independent. The
    worker's stderr passes through (progress, notes).
    """
    cmd = [sys.executable, "-m", module, "--worker", json.dumps(payload)]
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, text=True, timeout=timeout, cwd=Path(__file__).parent.parent
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed with exit status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def emit(result: Any) -> None:
    """Print a worker's result as the last stdout line (read by :func:`run_worker`)."""
    print(json.dumps(result), flush=True)


def devices(requested: str) -> list[str]:
    """``"auto"`` -> cpu plus cuda when available; else the comma-separated list given."""
    import torch

    if requested == "auto":
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    return [d.strip() for d in requested.split(",") if d.strip()]


def ints(text: str) -> list[int]:
    """``"50,100,200"`` -> [50, 100, 200] (argparse type)."""
    return [int(v) for v in text.split(",") if v.strip()]


def command_line(name: str, argv: Sequence[str] | None) -> str:
    """The command that reproduces this run (``argv`` None: this process's arguments)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python -m", f"benchmarks.{name}", *args])
