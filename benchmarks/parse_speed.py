"""End-to-end ``layoutft parse`` speed: pages/s, page latency, peak RSS and the time split.

    python -m benchmarks.parse_speed                      # 50 pages, 150/200/300 dpi
    python -m benchmarks.parse_speed --pages 3 --dpis 72  # a quick check

Each (device, dpi) runs in a fresh process (its own peak RSS) through
:class:`layoutft.parsing.parser.Parser`, exactly what ``layoutft parse`` runs, with three clocks
for its three overlapping stages: rendering (the background render thread's time inside
``iter_pages``), the model (``LayoutModel.predict`` in the model thread: resize, network,
mask pasting) and post-processing (thresholds, polygons, points, reading order, PDF text;
``Parser._page``). Since they overlap, the target compares the parse's wall time with the
network's alone on the same pages, already rendered. Page latency is the time from the
start of a page's rendering to the moment the parser hands the page out. One more row
times the ``layoutft parse`` command itself (start-up and model loading included), and the
renderers are compared alone (PyMuPDF vs pdf2image/poppler).

Target: rendering + post-processing under 15% of end-to-end time at 200 dpi.

    python -m benchmarks.parse_speed --backends --dpis 150,200   # torch vs ONNX backend

``--backends`` runs the torch and ONNX backends side by side on the real pages of
``../shared/real`` (the 13-page report at each dpi, the PubLayNet page images as they are):
seconds per page of the model and post-processing (not rendering), both backends in turns on
each page, with the same number of threads (``--threads``, default one per core) and both
waiting passively for work (``OMP_WAIT_POLICY=PASSIVE`` for torch); CPU seconds per page and
the steps (resize, network, mask pasting, post-processing); pages/s with ``--workers``; peak
RSS of a parse in a fresh process per backend; and whether every page's detections are equal
(same count and classes, boxes within 0.5 px, scores within 1e-4, mask IoU >= 0.99).
Target: ONNX <= 0.5x torch's time per page.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from benchmarks.common import (
    command_line,
    cpu_times,
    devices,
    emit,
    ints,
    peak_rss_mb,
    percentile,
    run_worker,
    save_plot,
    save_results,
    target,
    timer,
)
from benchmarks.inputs import MODELS, load_model, model_files, synth_pdf

NAME = "parse_speed"
TARGET_DPI = 200
TARGET_SHARE = 0.15


class _TimedModel:
    """A LayoutModel whose ``predict`` adds its wall time to ``times["model"]``."""

    def __init__(self, model: Any, times: dict[str, float]) -> None:
        self._model, self._times = model, times
        self.labels, self.config, self.name = model.labels, model.config, "benchmark"

    def predict(
        self,
        images: Any,
        batch_size: int | None = None,
        format: str | None = None,
        min_score: float = 0.0,
        precision: str = "fp32",
        workers: int | None = None,
    ) -> Any:
        with timer(self._times, "model"):
            return self._model.predict(images, batch_size, format, min_score, precision, workers)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _timed_parser(model: Any, options: Any, times: dict[str, float]) -> Any:
    from layoutft.parsing.parser import Parser

    class TimedParser(Parser):
        def _page(self, rendered: Any, detections: Any) -> Any:
            with timer(times, "post"):
                return super()._page(rendered, detections)

    return TimedParser(cast(Any, _TimedModel(model, times)), options)


@contextmanager
def _timed_rendering(times: dict[str, float], starts: dict[int, float]) -> Iterator[None]:
    """Time the parser's ``iter_pages`` (it runs in the render thread); note page starts."""
    import layoutft.parsing.parser as pipeline

    original = pipeline.iter_pages

    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        pages = original(*args, **kwargs)
        try:
            while True:
                start = time.perf_counter()
                try:
                    page = next(pages)
                except StopIteration:
                    return
                times["render"] = times.get("render", 0.0) + time.perf_counter() - start
                starts[page.number] = start
                yield page
        finally:
            getattr(pages, "close", lambda: None)()

    pipeline.iter_pages = timed
    try:
        yield
    finally:
        pipeline.iter_pages = original


@contextmanager
def _timed_predictor_steps(times: dict[str, float]) -> Iterator[None]:
    """Time two steps inside ``LayoutModel.predict``: input resizing and mask pasting.

    ``resize``: ``layoutft.model.preprocess.resize_shortest_edge``; ``paste``:
    ``layoutft.modeling.paste.paste_masks_in_image`` (full-page masks). The predictor imports
    them at call time, so replacing the module attributes times every call; the smoke test
    checks both clocks run, so a refactor that hides them is noticed.
    """
    import layoutft.model.preprocess as preprocess
    import layoutft.modeling.paste as paste

    targets = [
        (preprocess, "resize_shortest_edge", "resize"),
        (paste, "paste_masks_in_image", "paste"),
    ]
    with _timed_attributes(times, targets):
        yield


@contextmanager
def _timed_attributes(
    times: dict[str, float], targets: list[tuple[Any, str, str]]
) -> Iterator[None]:
    """Replace each ``(owner, attribute, key)`` of ``targets`` by a wrapper adding its time to
    ``times[key]``; the originals come back on exit."""
    originals = [getattr(owner, attr) for owner, attr, _ in targets]
    for (owner, attr, key), original in zip(targets, originals, strict=True):

        def timed(*args: Any, _original: Any = original, _key: str = key, **kwargs: Any) -> Any:
            with timer(times, _key):
                return _original(*args, **kwargs)

        setattr(owner, attr, timed)
    try:
        yield
    finally:
        for (owner, attr, _), original in zip(targets, originals, strict=True):
            setattr(owner, attr, original)


def measure_parse(
    pdf: Path, model: Any, dpi: float, batch_size: int | None = None, renderer: str = "pymupdf"
) -> dict[str, Any]:
    """Parse ``pdf`` once with ``model`` (after one warm-up page); one result row.

    Clocks (seconds, summed over pages; the stages overlap, so they can add up to more than
    the wall time): ``render_s`` (render thread), ``model_s`` (``predict`` in the model
    thread, of which ``resize_s`` and ``paste_s``), ``post_s`` (regions, points, reading
    order, text). Then the same pages go through ``predict`` alone, already rendered:
    ``network_alone_s`` is that time less its mask pasting, and ``render_post_pct`` the
    share of the parse's wall time beyond it: everything but resizing and the network
    (rendering, mask pasting, post-processing and whatever they take from the model).
    """
    from layoutft.parsing.parser import ParseOptions
    from layoutft.render import iter_pages

    warm = next(iter(iter_pages(pdf, dpi=dpi, pages=[1])))
    model.predict([warm.image], batch_size=1, format="RGB")
    times: dict[str, float] = {}
    starts: dict[int, float] = {}
    done: dict[int, float] = {}
    options = ParseOptions(dpi=dpi, batch_size=batch_size, renderer=renderer)
    parser = _timed_parser(model, options, times)
    errors = 0
    with _timed_rendering(times, starts), _timed_predictor_steps(times):
        begin = time.perf_counter()
        for page in parser.iter_pages(pdf):
            done[page.number] = time.perf_counter()
            errors += page.status != "ok"
        wall = time.perf_counter() - begin
    peak_rss = peak_rss_mb()  # before the pages are held in memory below
    latencies = [done[n] - starts[n] for n in done if n in starts]
    render, model_s, post = (times.get(k, 0.0) for k in ("render", "model", "post"))
    resize, paste = times.get("resize", 0.0), times.get("paste", 0.0)
    network_alone = _network_alone_s(parser, pdf, dpi)
    return {
        "device": str(model.device),
        "dpi": dpi,
        "pages": len(done),
        "batch": parser.batch_size,
        "workers": parser.workers,
        "pages_per_s": len(done) / wall,
        "p50_latency_s": percentile(latencies, 50),
        "p95_latency_s": percentile(latencies, 95),
        "wall_s": wall,
        "render_s": render,
        "model_s": model_s,
        "resize_s": resize,
        "paste_s": paste,
        "post_s": post,
        "network_alone_s": network_alone,
        "render_post_pct": 100 * max(0.0, wall - network_alone) / wall,
        "peak_rss_mb": peak_rss,
        "errors": errors,
    }


def _network_alone_s(parser: Any, pdf: Path, dpi: float, chunk: int = 10) -> float:
    """Seconds ``parser``'s model needs for the pages of ``pdf`` as parse calls it (same
    batch size, workers, threshold), already rendered, less its mask pasting."""
    from layoutft.render import count_pages, iter_pages

    times: dict[str, float] = {}
    total = count_pages(pdf)
    min_score = parser.thresholds.minimum
    with _timed_predictor_steps(times):
        for first in range(1, total + 1, chunk):
            numbers = list(range(first, min(first + chunk, total + 1)))
            images = [p.image for p in iter_pages(pdf, dpi=dpi, pages=numbers)]
            with timer(times, "predict"):
                parser.model.predict(
                    images, parser.batch_size, "RGB", min_score, "fp32", parser.workers
                )
    return times["predict"] - times.get("paste", 0.0)


def measure_render(pdf: Path, dpi: float, renderer: str, pages: int) -> dict[str, Any]:
    """Pages/s of rendering alone (no text layer) with ``renderer``."""
    from layoutft.render import iter_pages

    begin = time.perf_counter()
    count = sum(
        1 for _ in iter_pages(pdf, dpi=dpi, pages=list(range(1, pages + 1)), renderer=renderer)
    )
    wall = time.perf_counter() - begin
    return {"renderer": renderer, "dpi": dpi, "pages": count, "pages_per_s": count / wall}


def measure_cli(pdf: Path, model: str, dpi: float, device: str, work: Path) -> dict[str, Any]:
    """Wall time and peak RSS of the ``layoutft parse`` command (start-up included)."""
    weights, config = model_files(model, work)
    out = work / "cli.json"
    cmd = [sys.executable, "-c", "from layoutft.cli import main; main()", "parse", str(pdf)]
    cmd += ["--weights", str(weights), "--dpi", str(dpi), "--device", device, "-o", str(out)]
    if config is not None:
        cmd += ["--config", str(config)]
    begin = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - begin
    if status != 0:
        raise RuntimeError(f"layoutft parse failed (status {status}): {' '.join(cmd)}")
    pages = len(json.loads(out.read_text())["pages"])
    return {
        "command": "layoutft parse",
        "device": device,
        "dpi": dpi,
        "pages": pages,
        "wall_s": wall,
        "pages_per_s": pages / wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def _worker(payload: dict[str, Any]) -> dict[str, Any]:
    if "rss" in payload:
        return _backend_rss_worker(payload["rss"])
    import torch

    if payload.get("threads"):
        torch.set_num_threads(int(payload["threads"]))
    model = load_model(payload["model"], payload["device"])
    return measure_parse(Path(payload["pdf"]), model, payload["dpi"], payload["batch_size"])


# ----- the two backends side by side ----------------------------------------------------------
#: item 3 of the ONNX backend's contract: the same regions as the torch backend
BOX_PX, SCORE_TOL, MIN_MASK_IOU = 0.5, 1e-4, 0.99


def compare_detections(a: Any, b: Any) -> dict[str, Any]:
    """How far detections ``b`` are from ``a`` (both :class:`Detections` of one page):
    ``count_equal``/``labels_equal``, the largest box difference in pixels, the largest
    score difference, the smallest mask IoU, and ``equal``: all within the tolerances."""
    import numpy as np

    same = len(a) == len(b) and [int(c) for c in a.classes] == [int(c) for c in b.classes]
    row: dict[str, Any] = {
        "count_equal": len(a) == len(b),
        "labels_equal": same,
        "box_px": 0.0,
        "score": 0.0,
        "mask_iou": 1.0,
    }
    if same and len(a):
        row["box_px"] = float(np.abs(a.boxes - b.boxes).max())
        row["score"] = float(np.abs(a.scores - b.scores).max())
        if a.masks is not None and b.masks is not None:
            ious = [
                (x & y).sum() / max((x | y).sum(), 1) for x, y in zip(a.masks, b.masks, strict=True)
            ]
            row["mask_iou"] = float(min(ious))
    row["equal"] = bool(
        same
        and row["box_px"] <= BOX_PX
        and row["score"] <= SCORE_TOL
        and row["mask_iou"] >= MIN_MASK_IOU
    )
    return row


def real_inputs(root: Path) -> list[tuple[str, Path]]:
    """(kind, path) of the real pages under ``root`` (../shared/real): the 13-page report
    and the PubLayNet page images; [] when the folder is absent."""
    found: list[tuple[str, Path]] = []
    report = root / "icdar2021_slp.pdf"
    if report.exists():
        found.append(("pdf", report))
    found += [("image", p) for p in sorted((root / "publaynet-20").glob("*.jpg"))]
    return found


def _pages(inputs: list[tuple[str, Path]], dpi: float) -> list[Any]:
    """RGB page images of ``inputs``: PDFs rendered at ``dpi``, images as they are."""
    from layoutft.render import iter_pages

    images = []
    for kind, path in inputs:
        if kind == "pdf":
            images += [page.image for page in iter_pages(path, dpi=dpi)]
        else:
            images += [page.image for page in iter_pages(path)]
    return images


@contextmanager
def _timed_backend_steps(times: dict[str, float]) -> Iterator[None]:
    """Time the steps of both backends' ``predict`` that are not the network: ``resize``
    (:func:`layoutft.model.preprocess.resize_shortest_edge`, shared) and ``paste`` (torch:
    ``layoutft.modeling.paste.paste_masks_in_image``; ONNX:
    ``layoutft.parsing.onnx_model.paste_masks``), and the ONNX graph itself (``graph``:
    ``OnnxDetector.run``). Both look these names up at call time."""
    import layoutft.parsing.onnx_model as onnx_model

    targets = [(onnx_model, "paste_masks", "paste"), (onnx_model.OnnxDetector, "run", "graph")]
    with _timed_attributes(times, targets), _timed_predictor_steps(times):
        yield


def compare_backends(
    models: dict[str, Any], images: list[Any], workers: list[int], repeats: int = 2
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both backends on the same ``images``, one page at a time and in turns (torch, then
    ONNX, ``repeats`` times on each page; a page's numbers are those of its fastest run, so
    a burst of load on a shared machine is not counted). Returns per-backend rows and the
    equality summary over every page.

    Row columns (per page): ``s_per_page``, wall time of the model + post-processing;
    ``cpu_s_per_page``, the process's CPU time meanwhile (all threads; steadier than wall
    time on a loaded machine, though it counts threads waiting busily); the steps
    ``resize_s``, ``network_s`` (the graph for ONNX; torch: the rest of ``predict``),
    ``paste_s`` and ``post_s`` (thresholds, polygons: ``postprocess``); then pages/s with
    each of ``workers`` (best of ``repeats``).
    """
    from layoutft.parsing.postprocess import parse_score_threshold, postprocess

    labels = list(models["torch"].labels)
    thresholds = parse_score_threshold(None, labels, models["torch"].default_score_threshold)
    steps = ("s_per_page", "cpu_s_per_page", "resize_s", "network_s", "paste_s", "post_s")
    totals = {name: dict.fromkeys(steps, 0.0) for name in models}
    found: dict[str, Any] = {}
    diffs = []
    for image in images:
        best: dict[str, dict[str, float]] = {}
        for _ in range(repeats):
            for name, model in models.items():
                times: dict[str, float] = {}
                cpu = time.process_time()
                start = time.perf_counter()
                with _timed_backend_steps(times):
                    (det,) = model.predict([image], 1, "RGB", thresholds.minimum, "fp32", 1)
                with timer(times, "post"):
                    postprocess(det, labels, image.shape[:2], "default", thresholds)
                wall = time.perf_counter() - start
                found[name] = det
                if name in best and best[name]["s_per_page"] <= wall:
                    continue
                resize, paste, post = (times.get(k, 0.0) for k in ("resize", "paste", "post"))
                network = times.get("graph", wall - resize - paste - post)
                best[name] = {
                    "s_per_page": wall,
                    "cpu_s_per_page": time.process_time() - cpu,
                    "resize_s": resize,
                    "network_s": network,
                    "paste_s": paste,
                    "post_s": post,
                }
        for name in models:
            for key in steps:
                totals[name][key] += best[name][key]
        diffs.append(compare_detections(found["torch"], found["onnx"]))
    pages = max(len(images), 1)
    rows: list[dict[str, Any]] = [
        {"backend": name, "pages": len(images), **{k: v / pages for k, v in totals[name].items()}}
        for name in models
    ]
    for count in workers:
        fastest = {name: float("inf") for name in models}
        for _ in range(repeats):
            for name, model in models.items():
                start = time.perf_counter()
                model.predict(images, 1, "RGB", thresholds.minimum, "fp32", count)
                fastest[name] = min(fastest[name], time.perf_counter() - start)
        for row in rows:
            row[f"pages_per_s_w{count}"] = len(images) / fastest[row["backend"]]
    equality = {
        "pages": len(diffs),
        "pages_equal": sum(d["equal"] for d in diffs),
        "max_box_px": f"{max((d['box_px'] for d in diffs), default=0.0):.1e}",
        "max_score_diff": f"{max((d['score'] for d in diffs), default=0.0):.1e}",
        "min_mask_iou": f"{min((d['mask_iou'] for d in diffs), default=1.0):.5f}",
    }
    return rows, equality


def _backend_rss_worker(payload: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS of parsing ``payload["pdf"]`` with one backend in a fresh process."""
    from layoutft.parsing.parser import ParseOptions, Parser, load_model

    model = load_model(backend=payload["backend"], device="cpu")
    Parser(model, ParseOptions(dpi=payload["dpi"], workers=1)).parse(payload["pdf"])
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the parent (which
    # holds both models here)
    status = Path("/proc/self/status").read_text()
    peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return {"backend": payload["backend"], "dpi": payload["dpi"], "peak_rss_mb": peak / 1024}


def run_backends(
    root: Path,
    dpis: list[int],
    workers: list[int],
    repeats: int = 2,
    threads: int = 0,
    onnx: Path | None = None,
) -> dict[str, Any]:
    """``--backends``: the torch and ONNX backends on the real pages under ``root``, each with
    ``threads`` intra-op threads (0: one per available core), the ONNX one from ``onnx``
    (default: the bundled model's export)."""
    import torch

    from layoutft.parsing.onnx_model import OnnxDetector, available_cores
    from layoutft.parsing.parser import load_model

    inputs = real_inputs(root)
    if not inputs:
        raise SystemExit(f"no real pages under {root}")
    threads = threads or available_cores()
    torch.set_num_threads(threads)
    bundled = cast(OnnxDetector, load_model(backend="onnx", device="cpu"))
    models: dict[str, Any] = {
        "torch": load_model(backend="torch", device="cpu"),
        "onnx": OnnxDetector(onnx or bundled.path, threads=threads, name=bundled.name),
    }
    rows, summaries = [], []
    for dpi in dpis:
        print(f"backends: {dpi} dpi ...", file=sys.stderr)
        images = _pages(inputs, dpi)
        backend_rows, equality = compare_backends(models, images, workers, repeats)
        pdf = next((p for kind, p in inputs if kind == "pdf"), None)
        for row in backend_rows:
            row["dpi"] = dpi
            if pdf is not None:
                payload = {"backend": row["backend"], "dpi": dpi, "pdf": str(pdf)}
                row["peak_rss_mb"] = run_worker(f"benchmarks.{NAME}", {"rss": payload})[
                    "peak_rss_mb"
                ]
        ratio, cpu_ratio = (
            backend_rows[1][key] / backend_rows[0][key] for key in ("s_per_page", "cpu_s_per_page")
        )
        rows += backend_rows
        summaries.append(
            {
                "dpi": dpi,
                "onnx_over_torch": round(ratio, 3),
                "cpu_onnx_over_torch": round(cpu_ratio, 3),
                **equality,
            }
        )
    return {
        "rows": rows,
        "summaries": summaries,
        "threads": threads,
        "onnx": f"{bundled.path.name} (bundled)" if onnx is None else str(onnx),
    }


def check_target(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """PASS/FAIL of "rendering + post-processing < 15% of end-to-end time at 200 dpi"."""
    at = [r for r in rows if r["dpi"] == TARGET_DPI and r["device"] == "cpu"] or [
        r for r in rows if r["dpi"] == TARGET_DPI
    ]
    name = f"rendering + post-processing < {TARGET_SHARE:.0%} of parse time at {TARGET_DPI} dpi"
    if not at:
        return target(name, False, f"not measured (no {TARGET_DPI} dpi row)")
    row = at[0]
    share = row["render_post_pct"] / 100
    detail = (
        f"{share:.1%} on {row['device']}: {row['wall_s']:.2f} s wall vs "
        f"{row['network_alone_s']:.2f} s for the network alone (overlapping clocks: render "
        f"{row['render_s']:.2f} s, mask paste {row['paste_s']:.2f} s, post {row['post_s']:.2f} s)"
    )
    return target(name, share < TARGET_SHARE, detail)


def _plot(rows: list[dict[str, Any]], render_rows: list[dict[str, Any]]) -> str:
    def draw(plt: Any) -> None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
        for device in sorted({r["device"] for r in rows}):
            mine = [r for r in rows if r["device"] == device]
            left.plot(
                [r["dpi"] for r in mine],
                [r["pages_per_s"] for r in mine],
                "o-",
                label=f"parse ({device})",
            )
        for renderer in sorted({r["renderer"] for r in render_rows}):
            mine = [r for r in render_rows if r["renderer"] == renderer]
            left.plot(
                [r["dpi"] for r in mine],
                [r["pages_per_s"] for r in mine],
                "s--",
                label=f"render only ({renderer})",
            )
        left.set_yscale("log")
        left.set_xlabel("dpi")
        left.set_ylabel("pages/s (log)")
        left.legend(fontsize="small", loc="center right")
        cpu = [r for r in rows if r["device"] == rows[0]["device"]]
        labels = [str(int(r["dpi"])) for r in cpu]
        bottom = [0.0] * len(cpu)
        parts = {
            "render": lambda r: r["render_s"],
            "resize": lambda r: r["resize_s"],
            "network": lambda r: r["model_s"] - r["resize_s"] - r["paste_s"],
            "mask paste": lambda r: r["paste_s"],
            "post": lambda r: r["post_s"],
        }
        for label, value in parts.items():
            per_page = [value(r) / max(r["pages"], 1) for r in cpu]
            right.bar(labels, per_page, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, per_page, strict=True)]
        right.set_xlabel(f"dpi ({rows[0]['device']})")
        right.set_ylabel("seconds per page")
        right.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.suptitle("layoutft parse")

    return save_plot(NAME, draw)


def main(argv: list[str] | None = None) -> None:
    started = cpu_times()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=int, default=50, help="pages of the synthetic PDF")
    ap.add_argument("--dpis", type=ints, default=[150, 200, 300], help="comma-separated")
    ap.add_argument("--model", choices=MODELS, default="narrow")
    ap.add_argument("--device", default="auto", help="auto (cpu, and cuda if any) or a list")
    ap.add_argument("--batch-size", type=int, default=None, help="default: parse's (1 on CPU)")
    ap.add_argument("--render-pages", type=int, default=10, help="pages for renderer timing")
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (0: torch default); --backends: each backend's (0: one per core)",
    )
    ap.add_argument("--no-cli", action="store_true", help="skip timing the CLI command")
    ap.add_argument(
        "--backends",
        action="store_true",
        help="torch vs ONNX backend on the real pages of --real (s/page, pages/s, peak RSS)",
    )
    ap.add_argument("--real", type=Path, default=Path("../shared/real"), help="real pages")
    ap.add_argument("--workers", type=ints, default=[1, 2], help="--backends: pages in flight")
    ap.add_argument("--repeats", type=int, default=2, help="--backends: runs per page (fastest)")
    ap.add_argument("--onnx", type=Path, help="--backends: ONNX file (default: the bundled one)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        emit(_worker(json.loads(args.worker)))
        return
    if args.backends:
        # torch's OpenMP threads wait busily for work by default while onnxruntime's sleep
        # (OnnxDetector turns spinning off): on a loaded machine the spinning alone made
        # torch 5x slower here. Both wait passively, unless the caller says otherwise.
        if "torch" not in sys.modules:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        found = run_backends(
            args.real, args.dpis, args.workers, args.repeats, args.threads, args.onnx
        )
        extra = {
            "command": command_line(NAME, argv),
            "input": f"real pages under {args.real}: icdar2021_slp.pdf and publaynet-20",
            "onnx_model": found["onnx"],
            "threads": f"{found['threads']} intra-op threads for each backend, OMP_WAIT_POLICY "
            + os.environ.get("OMP_WAIT_POLICY", "unset"),
            "equality": found["summaries"],
        }
        save_results(f"{NAME}_backends", found["rows"], extra, started=started)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pdf = synth_pdf(work / "doc.pdf", args.pages)
        rows = []
        for device in devices(args.device):
            for dpi in args.dpis:
                print(f"parse: {args.pages} pages, {dpi} dpi, {device} ...", file=sys.stderr)
                payload = {
                    "pdf": str(pdf),
                    "model": args.model,
                    "device": device,
                    "dpi": dpi,
                    "batch_size": args.batch_size,
                    "threads": args.threads,
                }
                rows.append(run_worker(f"benchmarks.{NAME}", payload))
        pages = min(args.render_pages, args.pages)
        render_rows = [
            measure_render(pdf, dpi, renderer, pages)
            for renderer in ("pymupdf", "pdf2image")
            for dpi in args.dpis
        ]
        cli_rows = []
        if not args.no_cli:
            dpi = TARGET_DPI if TARGET_DPI in args.dpis else args.dpis[0]
            cli_rows.append(measure_cli(pdf, args.model, dpi, devices(args.device)[0], work))
    targets = [check_target(rows)]
    extra = {
        "command": command_line(NAME, argv),
        "model": args.model,
        "input": f"{args.pages}-page synthetic born-digital PDF (layoutft synth pages)",
        "renderers": render_rows,
        "cli": cli_rows,
        "targets": targets,
        "plot": _plot(rows, render_rows),
    }
    save_results(NAME, rows, extra, started=started)


if __name__ == "__main__":
    main()
