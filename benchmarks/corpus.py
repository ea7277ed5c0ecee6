"""Corpus parsing: the local engine vs Ray with 1 and 2 model workers, on one machine, and
the per-page costs a scaling plan multiplies.

    python -m benchmarks.corpus [--corpus DIR] [--docs N] [--dpi 200]

Each engine runs ``layoutft parse CORPUS -o OUT`` (``--engine ray --ray-workers N`` for
Ray, which starts a Ray on this machine for the run) in a fresh process, one after the
other, on the same inputs; the table gives pages/s, wall time (model load and Ray start
included), the peak memory of the whole process tree (driver, raylet, workers: RSS sampled
every 0.2 s), and whether the result files equal the local engine's: byte for byte, and
region for region (labels, boxes within 0.5 px, scores within 0.002: the actors run torch on
one thread each, the local run on all cores, so a score can differ in its last digit).
``parse_pages_per_s`` is the run's own rate (first input to last); ``start_s`` the rest of
the wall time (model load, Ray start, actors loading the model). The stage table
measures one page at a time in this process: open + hash, render, model + post-processing
(the network at the parse size, masks pasted, reading order), JSON write; with input and
output bytes per page.

Corpus: by default the first ``--docs`` one-page arXiv PDFs of ``../shared/real/docbank-100``
plus the multi-page government PDFs of ``../shared/real/icdar2013-tables`` (a fifth of
``--docs``), real born-digital documents; without them, ``layoutft synth`` pages. The
scaling plan for 1M pages is in ``benchmarks/results/corpus.md`` (written by hand from
these figures).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_times, save_results

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
BIN = Path(sys.executable).parent


def build_corpus(folder: Path, docs: int) -> str:
    """Fill ``folder`` with the benchmark's inputs; returns where they came from."""
    docbank = sorted((REAL / "docbank-100" / "pdf").glob("*.pdf"))
    icdar = sorted((REAL / "icdar2013-tables").rglob("*.pdf"))
    if docbank and icdar:
        many = max(1, docs // 5)
        for path in docbank[:docs]:
            shutil.copy(path, folder / path.name)
        (folder / "icdar").mkdir()
        for path in icdar[:many]:
            shutil.copy(path, folder / "icdar" / path.name)
        return (
            f"{min(docs, len(docbank))} docbank-100 PDFs + {min(many, len(icdar))} icdar2013 PDFs"
        )
    synth = folder.parent / "synth"
    subprocess.run(
        [str(BIN / "layoutft"), "synth", "-o", str(synth), "--docs", str(docs), "--pages", "2"],
        check=True,
        capture_output=True,
    )
    for path in sorted((synth / "pdfs").glob("*.pdf")):
        shutil.copy(path, folder / path.name)
    return f"{docs} layoutft synth PDFs of 2 pages (../shared/real not found)"


class TreeMemory:
    """Peak RSS (MiB) of a process and all its descendants, sampled in a thread, and the
    process's own CPU time (user + system, s) at the last sample."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.peak = 0.0
        #: (seconds since start, the root's CPU seconds) at each sample
        self.cpu: list[tuple[float, float]] = []
        self._start = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            with contextlib.suppress(psutil.Error):
                times = self.root.cpu_times()
                self.cpu.append((time.perf_counter() - self._start, times.user + times.system))
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(0.2)

    def cpu_since(self, seconds: float) -> float:
        """The root's CPU seconds from ``seconds`` after its start to its last sample."""
        if not self.cpu:
            return 0.0
        before = [cpu for at, cpu in self.cpu if at <= seconds]
        return self.cpu[-1][1] - (before[-1] if before else 0.0)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_engine(name: str, flags: list[str], corpus: Path, out: Path, dpi: float) -> dict[str, Any]:
    """One ``layoutft parse`` corpus run in a fresh process; its row."""
    command = [str(BIN / "layoutft"), "parse", str(corpus), "-o", str(out), "--dpi", f"{dpi:g}"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*command, "--device", "cpu", "--quiet", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    memory = TreeMemory(proc.pid)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    peak = memory.stop()
    from layoutft.corpus import Manifest

    entries = Manifest(out).entries.values()
    pages = sum(entry.pages or 0 for entry in entries)
    failed = sum(entry.status == "failed" for entry in entries)
    summary = [line for line in err.splitlines() if line.startswith("parsed ")]
    print(f"{name}: {summary[-1] if summary else err.strip()[-300:]}")
    # the run's own rate: from its first input to its last (no model load, no Ray start)
    rate = re.search(r"([0-9.]+) pages/s", summary[-1]) if summary else None
    parse_rate = float(rate.group(1)) if rate else 0.0
    start_s = wall - pages / parse_rate if parse_rate else 0.0
    return {
        "engine": name,
        "pages": pages,
        "failed_inputs": failed,
        "wall_s": wall,
        "pages_per_s": pages / wall if wall else 0.0,
        "parse_pages_per_s": parse_rate,
        "start_s": start_s,
        "peak_tree_rss_mb": peak,
        # the driver's CPU per page while parsing: for Ray, what the one process must do for
        # every page (submit, receive, write results and manifest); imports, model load and
        # Ray start excluded
        "driver_cpu_ms_per_page": 1000 * memory.cpu_since(start_s) / max(pages, 1),
        "exit": proc.returncode,
    }


def result_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "layoutft-manifest.jsonl"
    }


def same_regions(a: dict[str, bytes], b: dict[str, bytes]) -> bool:
    """The same files with the same regions: labels equal, boxes within 0.5 px, scores within
    0.002 (actors on another number of torch threads than the local run sum floats in
    another order, so the last written digit can differ)."""
    if sorted(a) != sorted(b):
        return False
    for name in a:
        pages_a = json.loads(a[name]).get("pages", [])
        pages_b = json.loads(b[name]).get("pages", [])
        if len(pages_a) != len(pages_b):
            return False
        for page_a, page_b in zip(pages_a, pages_b, strict=True):
            regions_a, regions_b = page_a.get("regions", []), page_b.get("regions", [])
            if len(regions_a) != len(regions_b):
                return False
            for ra, rb in zip(regions_a, regions_b, strict=True):
                if ra["label"] != rb["label"] or abs(ra["score"] - rb["score"]) > 0.002:
                    return False
                if max(abs(x - y) for x, y in zip(ra["bbox_px"], rb["bbox_px"], strict=True)) > 0.5:
                    return False
    return True


def stage_costs(corpus: Path, dpi: float, limit: int) -> dict[str, Any]:
    """Seconds per page of each stage, one page at a time in this process (torch threads as
    set: this machine's cores), and bytes in and out per page."""
    import hashlib

    from layoutft.distributed.workers import render_pages
    from layoutft.parsing.options import ParseOptions
    from layoutft.parsing.parser import Parser, default_model

    options = ParseOptions(dpi=dpi)
    parser = Parser(default_model("cpu"), options)
    times = {"open_hash": 0.0, "render": 0.0, "model_post": 0.0, "write": 0.0}
    pages = in_bytes = out_bytes = 0
    scratch = Path(tempfile.mkdtemp())
    for path in sorted(corpus.rglob("*.pdf")):
        if pages >= limit:
            break
        start = time.perf_counter()
        hashlib.sha256(path.read_bytes()).hexdigest()
        header = parser.header(str(path))
        times["open_hash"] += time.perf_counter() - start
        count = int(header.source["page_count"])
        numbers = list(range(1, min(count, limit - pages) + 1))
        start = time.perf_counter()
        rendered = render_pages(str(path), numbers, options)
        times["render"] += time.perf_counter() - start
        start = time.perf_counter()
        parsed = parser.parse_rendered(rendered)
        times["model_post"] += time.perf_counter() - start
        start = time.perf_counter()
        header.pages = parsed
        target = scratch / f"{path.stem}.json"
        target.write_text(json.dumps(header.to_dict()))
        times["write"] += time.perf_counter() - start
        in_bytes += path.stat().st_size * len(numbers) // max(count, 1)
        out_bytes += target.stat().st_size
        pages += len(numbers)
    shutil.rmtree(scratch)
    costs: dict[str, Any] = {f"{k}_s_per_page": v / max(pages, 1) for k, v in times.items()}
    costs.update(
        pages=pages,
        input_kb_per_page=in_bytes / 1024 / max(pages, 1),
        json_kb_per_page=out_bytes / 1024 / max(pages, 1),
    )
    return costs


def manifest_load(out: Path, entries: int) -> dict[str, Any]:
    """Seconds and MiB to read a manifest of ``entries`` items (each a copy of a real entry
    of ``out``'s manifest under another name): what every run over a big OUT pays at start."""
    from benchmarks.common import current_rss_mb
    from layoutft.corpus import Manifest
    from layoutft.corpus.plan import MANIFEST_NAME

    source = Manifest(out)
    entry = next(iter(source.entries.values())).to_dict()
    folder = Path(tempfile.mkdtemp())
    try:
        lines = [json.dumps(source.runs[-1].to_dict())]
        lines += [json.dumps({**entry, "input": f"d{i // 1000}/f{i}.pdf"}) for i in range(entries)]
        path = folder / MANIFEST_NAME
        path.write_text("\n".join(lines) + "\n")
        size = path.stat().st_size
        before = current_rss_mb()
        start = time.perf_counter()
        loaded = Manifest(folder)
        seconds = time.perf_counter() - start
        grown = current_rss_mb() - before
        assert len(loaded.entries) == entries
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "entries": entries,
        "file_mb": size / 2**20,
        "load_s": seconds,
        "rss_growth_mb": grown,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--docs", type=int, default=40, help="one-page PDFs (and a fifth as many long ones)"
    )
    ap.add_argument("--dpi", type=float, default=200)
    ap.add_argument("--corpus", type=Path, default=None, help="a folder of your own instead")
    ap.add_argument("--stage-pages", type=int, default=20, help="pages for the stage table")
    ap.add_argument(
        "--manifest-entries", type=int, default=100_000, help="entries of the manifest timed"
    )
    ap.add_argument("--out", type=Path, default=None, help="results folder")
    args = ap.parse_args(argv)
    started = cpu_times()
    work = Path(tempfile.mkdtemp(prefix="layoutft-corpus-"))
    try:
        if args.corpus is not None:
            corpus, source = args.corpus, str(args.corpus)
        else:
            corpus = work / "corpus"
            corpus.mkdir()
            source = build_corpus(corpus, args.docs)
        engines = [
            ("local", []),
            ("ray, 1 worker", ["--engine", "ray", "--ray-workers", "1"]),
            ("ray, 2 workers", ["--engine", "ray", "--ray-workers", "2"]),
        ]
        rows = []
        outputs: dict[str, dict[str, bytes]] = {}
        for index, (name, flags) in enumerate(engines):
            out = work / f"out{index}"
            rows.append(run_engine(name, flags, corpus, out, args.dpi))
            outputs[name] = result_files(out)
        base = rows[0]["pages_per_s"] or 1.0
        parse_base = rows[0]["parse_pages_per_s"] or 1.0
        for row in rows:
            row["vs_local"] = row["pages_per_s"] / base
            row["parse_vs_local"] = row["parse_pages_per_s"] / parse_base
            row["same_bytes_as_local"] = outputs[row["engine"]] == outputs["local"]
            row["same_regions_as_local"] = same_regions(outputs[row["engine"]], outputs["local"])
        stages = stage_costs(corpus, args.dpi, args.stage_pages)
        manifest = manifest_load(work / "out0", args.manifest_entries)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    save_results(
        "corpus",
        rows,
        {
            "stages (one page at a time, this process)": [stages],
            "manifest read at the start of a run": [manifest],
            "command": "python -m benchmarks.corpus " + " ".join(argv or sys.argv[1:]),
            "input": f"{source}, {args.dpi:g} dpi, bundled model, CPU",
            "scaling plan": "docs/corpus.md (Scaling to a million pages)",
        },
        out_dir=args.out,
        started=started,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
