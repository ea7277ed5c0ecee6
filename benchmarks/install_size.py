"""What `pip install layoutft` costs: disk and time of the base install (no torch) in a fresh venv.

    python -m benchmarks.install_size                # the base install, from this checkout
    python -m benchmarks.install_size --extra torch  # base + an extra

Creates a venv in a temporary folder, runs ``pip install --no-cache-dir <repo>[extra]`` in it
(from the package registry: needs PyPI), then records the venv's size on disk (the venv's own
pip and setuptools included), the largest installed distributions and the wall time of the
install. The venv is removed afterwards. Sizes are in MB (10^6 bytes, as ``du --si``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

from benchmarks.common import command_line, cpu_times, save_results
from benchmarks.inputs import ROOT

MB = 1_000_000


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (symlinks not followed or counted)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def site_packages(env: Path) -> Path:
    """The venv's site-packages folder (``lib/pythonX.Y/site-packages`` on POSIX)."""
    found = sorted(env.glob("lib/python*/site-packages"))
    if not found:
        raise SystemExit(f"no site-packages under {env}")
    return found[0]


def distribution_sizes(site: Path) -> dict[str, int]:
    """Bytes per installed distribution, from the file lists of its ``RECORD``."""
    sizes: dict[str, int] = {}
    for record in site.glob("*.dist-info/RECORD"):
        name = record.parent.name.split("-")[0].lower().replace("_", "-")
        total = 0
        for line in record.read_text().splitlines():
            path = site / line.split(",")[0]
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        sizes[name] = total
    return sizes


def measure(extra: str | None, top: int) -> dict[str, Any]:
    """Install into a fresh venv and measure it (see the module docstring)."""
    target = str(ROOT) if extra is None else f"{ROOT}[{extra}]"
    with tempfile.TemporaryDirectory(prefix="layoutft-install-") as tmp:
        env = Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True).create(env)
        start = time.monotonic()
        subprocess.run(
            [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-cache-dir", target],
            check=True,
        )
        seconds = time.monotonic() - start
        total = tree_bytes(env)
        by_dist = distribution_sizes(site_packages(env))
    largest = sorted(by_dist.items(), key=lambda item: -item[1])[:top]
    row = {
        "install": "base" if extra is None else f"base + {extra}",
        "venv_mb": round(total / MB, 1),
        "install_s": round(seconds, 1),
        "distributions": len(by_dist),
    }
    sizes = [{"distribution": name, "mb": round(size / MB, 1)} for name, size in largest]
    return {"row": row, "largest": sizes}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extra", default=None, help="an extra to install with the base (torch)")
    ap.add_argument("--top", type=int, default=8, help="how many of the largest distributions")
    args = ap.parse_args(argv)
    started = cpu_times()
    result = measure(args.extra, args.top)
    save_results(
        "install_size" if args.extra is None else f"install_size_{args.extra}",
        [result["row"]],
        {
            "largest": result["largest"],
            "command": command_line("install_size", argv),
            "python": sys.version.split()[0],
        },
        started=started,
    )


if __name__ == "__main__":
    main()
