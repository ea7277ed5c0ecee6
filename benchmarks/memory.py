"""Memory of ``layoutft parse`` as a document grows: RSS after 50, 100, 200 and 300 pages.

    python -m benchmarks.memory                                   # 300 pages at 200 dpi
    python -m benchmarks.memory --pages 6 --checkpoints 2,4,6 --dpi 72   # a quick check

One streaming run (in a fresh process) of :class:`layoutft.parsing.parser.Parser` over a
synthetic PDF, keeping every parsed page as ``parse()`` does; current and peak RSS are
sampled after each page. Peak RSS at a checkpoint equals what a run of that many pages
would peak at, so one run answers "does memory grow with the page count?".

Target: peak RSS after 300 pages within 10% of that after 50 pages.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    command_line,
    cpu_times,
    current_rss_mb,
    emit,
    ints,
    peak_rss_mb,
    run_worker,
    save_plot,
    save_results,
    target,
)
from benchmarks.inputs import MODELS, load_model, synth_pdf

NAME = "memory"
TOLERANCE = 0.10


def measure_memory(
    pdf: Path, model: Any, dpi: float, checkpoints: list[int], batch_size: int | None = None
) -> tuple[list[dict[str, Any]], list[float]]:
    """Parse ``pdf`` streaming; rows at each checkpoint page count, and RSS after every page."""
    from layoutft.parsing.parser import ParseOptions, Parser

    parser = Parser(model, ParseOptions(dpi=dpi, batch_size=batch_size))
    kept = []  # the Document's pages, as parse() keeps them
    trace: list[float] = []
    rows = []
    begin = time.perf_counter()
    for page in parser.iter_pages(pdf):
        kept.append(page)
        trace.append(current_rss_mb())
        if len(kept) in checkpoints:
            rows.append(
                {
                    "pages": len(kept),
                    "rss_mb": trace[-1],
                    "peak_rss_mb": peak_rss_mb(),
                    "elapsed_s": time.perf_counter() - begin,
                    "regions": sum(len(p.regions) for p in kept),
                }
            )
    return rows, trace


def check_target(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """PASS/FAIL: peak RSS at the last checkpoint within 10% of that at the first."""
    if len(rows) < 2:
        return target("peak RSS flat in page count", False, "fewer than two checkpoints reached")
    first, last = rows[0], rows[-1]
    growth = last["peak_rss_mb"] / first["peak_rss_mb"] - 1
    name = f"peak RSS after {last['pages']} pages within {TOLERANCE:.0%} of {first['pages']} pages"
    detail = (
        f"{first['peak_rss_mb']:.0f} MiB -> {last['peak_rss_mb']:.0f} MiB ({growth:+.1%}); "
        f"current RSS {first['rss_mb']:.0f} -> {last['rss_mb']:.0f} MiB"
    )
    return target(name, growth <= TOLERANCE, detail)


def _worker(payload: dict[str, Any]) -> dict[str, Any]:
    model = load_model(payload["model"], payload["device"])
    rows, trace = measure_memory(
        Path(payload["pdf"]), model, payload["dpi"], payload["checkpoints"], payload["batch_size"]
    )
    return {"rows": rows, "trace": trace, "device": str(model.device)}


def _plot(trace: list[float], rows: list[dict[str, Any]]) -> str:
    def draw(plt: Any) -> None:
        plt.figure(figsize=(7, 4))
        plt.plot(range(1, len(trace) + 1), trace, label="current RSS")
        plt.plot(
            [r["pages"] for r in rows], [r["peak_rss_mb"] for r in rows], "o--", label="peak RSS"
        )
        plt.ylim(bottom=0)
        plt.xlabel("pages parsed")
        plt.ylabel("MiB")
        plt.title("layoutft parse memory vs pages")
        plt.legend()

    return save_plot(NAME, draw)


def main(argv: list[str] | None = None) -> None:
    started = cpu_times()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--checkpoints", type=ints, default=[50, 100, 200, 300])
    ap.add_argument("--dpi", type=float, default=200)
    ap.add_argument("--model", choices=MODELS, default="narrow")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=None, help="default: parse's (1 on CPU)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        emit(_worker(json.loads(args.worker)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        pdf = synth_pdf(Path(tmp) / "doc.pdf", args.pages)
        print(f"memory: parsing {args.pages} pages at {args.dpi} dpi ...", file=sys.stderr)
        payload = {
            "pdf": str(pdf),
            "model": args.model,
            "device": args.device,
            "dpi": args.dpi,
            "checkpoints": args.checkpoints,
            "batch_size": args.batch_size,
        }
        result = run_worker(f"benchmarks.{NAME}", payload)
    rows = result["rows"]
    extra = {
        "command": command_line(NAME, argv),
        "model": args.model,
        "device": result["device"],
        "input": f"{args.pages}-page synthetic PDF at {args.dpi:g} dpi, "
        f"batch {args.batch_size or 'default (1 on CPU)'}",
        "targets": [check_target(rows)],
        "plot": _plot(result["trace"], rows),
    }
    save_results(NAME, rows, extra, started=started)


if __name__ == "__main__":
    main()
