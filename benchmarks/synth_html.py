"""``layoutft synth --engine html`` speed: N pages of mixed kinds, time per kind, samples.

    python -m benchmarks.synth_html [--pages 1000] [--dpi 150] [--workers 3] [--scan-look 0]

Makes ``--pages`` pages (two per document, documents cycling through every kind) in a
temporary folder with one Chromium, reports the wall time and pages/s of the whole run
(browser start and the final ``annotations.json`` included) and, per kind, the pages and
the median seconds a page spent in flight (HTML generation, layout, screenshot, writing;
``--workers`` pages are in flight at once, so these add up to more than the wall time).
Target (issue #25): 1,000 pages of mixed kinds in under 15 minutes on the 2-core machine.
Saves ``results/synth_html.{json,md}`` and ``results/synth_html.png``: the first page of
each kind with its regions drawn (one colour per class).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, command_line, cpu_times, save_results, target

COLOURS = {
    "Caption": "#e67e22", "Footnote": "#8e5a2b", "Formula": "#8e44ad", "List-item": "#27ae60",
    "Page-footer": "#7f8c8d", "Page-header": "#34495e", "Picture": "#e74c3c",
    "Section-header": "#2e64fe", "Table": "#d4148c", "Text": "#17a2b8", "Title": "#000000",
}  # fmt: skip


def run(pages: int, dpi: int, workers: int, scan_look: float, out: Path) -> dict[str, Any]:
    """Make ``pages`` pages into ``out``; returns wall time and (kind, seconds) per page."""
    from layoutft.data.synth.html import generate_html_dataset

    timings: list[tuple[str, float]] = []
    start = time.perf_counter()
    generate_html_dataset(out, (pages + 1) // 2, 2, dpi=dpi, seed=0, scan_look=scan_look,
                          workers=workers, quiet=True, timings=timings)  # fmt: skip
    return {"wall_s": time.perf_counter() - start, "timings": timings}


def sample_grid(out: Path, path: Path, tile: int = 330) -> None:
    """The first page of each kind, regions drawn, as one small PNG grid (JPEG-like size)."""
    from PIL import Image, ImageDraw

    coco = json.loads((out / "annotations.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    firsts: dict[str, dict[str, Any]] = {}
    for im in coco["images"]:
        firsts.setdefault(im["kind"], im)
    tiles = []
    for kind, im in firsts.items():
        img = Image.open(out / "images" / im["file_name"]).convert("RGB")
        draw = ImageDraw.Draw(img)
        for a in coco["annotations"]:
            if a["image_id"] == im["id"]:
                for poly in a["segmentation"]:
                    draw.polygon(poly, outline=COLOURS[names[a["category_id"]]], width=3)
        img.thumbnail((tile, int(tile * 1.45)))
        canvas = Image.new("RGB", (tile, int(tile * 1.45) + 16), "white")
        canvas.paste(img, (0, 16))
        ImageDraw.Draw(canvas).text((4, 2), kind, fill="black")
        tiles.append(canvas)
    cols = 6
    rows = (len(tiles) + cols - 1) // cols
    grid = Image.new("RGB", (cols * tile, rows * tiles[0].height), "white")
    for i, t in enumerate(tiles):
        grid.paste(t, ((i % cols) * tile, (i // cols) * t.height))
    grid = grid.quantize(colors=128)  # keeps the PNG small
    grid.save(path, optimize=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--scan-look", type=float, default=0.0)
    args = parser.parse_args(argv)
    started = cpu_times()
    with tempfile.TemporaryDirectory(prefix="layoutft-synth-html-") as tmp:
        out = Path(tmp) / "data"
        result = run(args.pages, args.dpi, args.workers, args.scan_look, out)
        RESULTS.mkdir(parents=True, exist_ok=True)
        sample_grid(out, RESULTS / "synth_html.png")
        coco = json.loads((out / "annotations.json").read_text())
    made = len(coco["images"])
    wall = result["wall_s"]
    by_kind: dict[str, list[float]] = {}
    for kind, seconds in result["timings"]:
        by_kind.setdefault(kind, []).append(seconds)
    rows = [
        {"kind": kind, "pages": len(v), "median_s_per_page_in_flight": statistics.median(v),
         "sum_s_in_flight": sum(v)}
        for kind, v in sorted(by_kind.items())
    ]  # fmt: skip
    per_1000 = wall / made * 1000
    verdict = target(
        "1,000 pages of mixed kinds in under 15 minutes",
        per_1000 < 900,
        f"{made} pages in {wall:.1f} s ({made / wall:.2f} pages/s"
        + (f"; {per_1000 / 60:.1f} min per 1,000 pages, extrapolated)" if made != 1000 else ")"),
    )
    save_results(
        "synth_html",
        rows,
        {
            "command": command_line("synth_html", argv),
            "total": f"{made} pages, {len(coco['annotations'])} regions, {wall:.1f} s wall, "
            f"{made / wall:.2f} pages/s, dpi {args.dpi}, {args.workers} pages in flight, "
            f"scan look {args.scan_look}",
            "target": verdict,
        },
        started=started,
    )


if __name__ == "__main__":
    main()
