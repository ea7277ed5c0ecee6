"""``layoutft synth --engine html``: pages rendered by Chromium, written as a COCO dataset.

Layout: ``OUT/images/docNNN_pK.png`` (K 0-based), ``OUT/pages/docNNN_pK.json`` (the page's
regions in pixels and the run settings that made it) and, at the end,
``OUT/annotations.json`` (COCO). Each page file is written atomically, the PNG before its
JSON, so a page whose JSON exists is complete; a rerun with the same settings skips those
pages and makes the rest (the same bytes a single run makes: every page has its own seed).
``annotations.json`` only ever appears when every page is done.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from layoutft.data.coco import polygon_area, write_coco, write_json
from layoutft.data.synth.html.browser import Browser
from layoutft.data.synth.html.geometry import regions_of
from layoutft.data.synth.html.kinds import KINDS, new_doc, page_html
from layoutft.data.synth.html.scan import scan_look
from layoutft.data.synth.html.text import available_scripts
from layoutft.errors import DatasetError
from layoutft.labels import DOCLAYNET_CLASSES
from layoutft.outputs import write_bytes_atomic

#: DocLayNet's classes, ids 1..11 in DocLayNet's order.
FORMAT = 1  # bump when a page's content for the same settings changes


@dataclass(frozen=True)
class Job:
    doc: int
    page: int
    stem: str
    name: str


def _seed(*parts: int) -> int:
    """One integer seed from several (stable across Python runs, unlike ``hash``)."""
    value = 0
    for p in parts:
        value = (value * 1_000_003 + p) % (2**61 - 1)
    return value


def _doc_kind(seed: int, d: int, kinds: Sequence[str]) -> tuple[str, random.Random]:
    """Documents cycle through ``kinds`` (every kind in a small run), each with its own rng."""
    return kinds[d % len(kinds)], random.Random(_seed(seed, d, 7))


def _check(docs: int, pages: int, dpi: int, kinds: Sequence[str], scan: float) -> None:
    if docs < 1 or pages < 1:
        raise DatasetError(f"synth: --docs and --pages must be >= 1 (got {docs}, {pages})")
    if not 36 <= dpi <= 600:
        raise DatasetError(f"synth: --dpi must be within 36..600 (got {dpi})")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise DatasetError(
            f"synth: --kinds has unknown kinds {unknown}; choose from {', '.join(KINDS)}"
        )
    if not 0.0 <= scan <= 1.0:
        raise DatasetError(f"synth: --scan-look must be within 0..1 (got {scan})")


def _load_page(path: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """A finished page's record if it was made with ``settings``; None if absent/partial."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("settings") != settings:
        raise DatasetError(
            f"{path} was made by another run ({record.get('settings')}); "
            "pass --overwrite to replace it or choose another -o"
        )
    return record


async def _make_page(
    job: Job,
    browser: Browser,
    tab: int,
    settings: dict[str, Any],
    out: Path,
    scripts: tuple[str, ...],
    timings: list[tuple[str, float]] | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    seed, kinds = settings["seed"], settings["kinds"]
    kind, doc_rng = _doc_kind(seed, job.doc, kinds)
    doc = new_doc(kind, doc_rng, settings["pages"], scripts)
    rng = random.Random(_seed(seed, job.doc, job.page, 11))
    html = page_html(doc, job.page, rng)
    try:
        png, raw = await browser.render(tab, html, *doc.size)
    except Exception as exc:  # Playwright's errors: a crashed or hung browser tab
        raise DatasetError(
            f"synth --engine html: Chromium failed on {job.name}: {str(exc).splitlines()[0]}; "
            "rerun to resume"
        ) from None
    width, height = _png_size(png)
    regions = regions_of(raw, width / doc.size[0], height / doc.size[1])
    scanned = rng.random() < settings["scan_look"]
    if scanned:
        png, regions = await asyncio.to_thread(scan_look, png, regions, rng)
    record = {
        "settings": settings,
        "file_name": job.name,
        "width": width,
        "height": height,
        "document": job.stem,
        "page": job.page + 1,
        "kind": kind,
        "script": doc.style.script,
        "scan_look": scanned,
        "regions": [
            {"label": r.label, "bbox": list(r.box), "polygons": [list(p) for p in r.polygons]}
            for r in regions
        ],
        "dom_counts": _counts(raw),
    }
    await asyncio.to_thread(_write_page, out, job, png, record)
    if timings is not None:
        timings.append((kind, time.perf_counter() - started))
    return record


def _counts(raw: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in raw["elements"]:
        counts[e["label"]] = counts.get(e["label"], 0) + 1
    return counts


def _write_page(out: Path, job: Job, png: bytes, record: dict[str, Any]) -> None:
    write_bytes_atomic(out / "images" / job.name, png)
    write_json(out / "pages" / f"{Path(job.name).stem}.json", record)


def _png_size(png: bytes) -> tuple[int, int]:
    """Width, height from a PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


async def _run(
    jobs: list[Job],
    settings: dict[str, Any],
    out: Path,
    workers: int,
    bar: tqdm,
    timings: list[tuple[str, float]] | None,
) -> dict[str, dict[str, Any]]:
    scripts = available_scripts()
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    done: dict[str, dict[str, Any]] = {}
    async with Browser(settings["dpi"] / 96.0, workers) as browser:

        async def worker(tab: int) -> None:
            while not queue.empty():
                job = queue.get_nowait()
                done[job.name] = await _make_page(
                    job, browser, tab, settings, out, scripts, timings
                )
                bar.update(1)

        await asyncio.gather(*(worker(t) for t in range(workers)))
    return done


def generate_html_dataset(
    out_dir: str | Path,
    docs: int,
    pages: int,
    dpi: int = 150,
    seed: int = 0,
    kinds: Sequence[str] | None = None,
    scan_look: float = 0.0,
    workers: int = 3,
    overwrite: bool = False,
    quiet: bool = False,
    timings: list[tuple[str, float]] | None = None,
) -> Path:
    """Render ``docs`` documents of ``pages`` pages each and write their COCO dataset.

    Document ``d`` is of kind ``kinds[d % len(kinds)]`` (default: all of :data:`KINDS`), with
    its own fonts, sizes, colours, columns and margins. Classes: :data:`DOCLAYNET_CLASSES`
    (ids 1..11). COCO boxes are XYWH pixels at ``dpi``, origin top-left; segmentations
    are polygons (a box, or a staircase around floats); image records also carry
    ``document``, 1-based ``page``, ``kind``, ``script`` and ``scan_look``. ``scan_look``:
    the probability that a page gets a scanned look (skew, blur, noise, JPEG, binarization).
    The same arguments give the same ``annotations.json``; an interrupted run resumes (see
    the module docstring); ``overwrite`` remakes pages made with other settings.
    ``workers``: pages in flight (browser tabs). ``timings``: if given, gets ``(kind,
    seconds)`` per page made (from generating its HTML to writing its files).

    Returns:
        Path of ``annotations.json``.
    """
    kinds = list(KINDS if kinds is None else kinds)
    _check(docs, pages, dpi, kinds, scan_look)
    out = Path(out_dir)
    settings = {
        "engine": "html",
        "format": FORMAT,
        "seed": seed,
        "dpi": dpi,
        "pages": pages,
        "kinds": kinds,
        "scan_look": scan_look,
        "scripts": list(available_scripts()),
    }
    digits = max(3, len(str(docs - 1)))
    jobs = [
        Job(d, k, f"doc{d:0{digits}d}", f"doc{d:0{digits}d}_p{k}.png")
        for d in range(docs)
        for k in range(pages)
    ]
    for folder in ("images", "pages"):
        (out / folder).mkdir(parents=True, exist_ok=True)
        for stale in (out / folder).glob(".doc*.tmp"):  # temp files of a killed run of ours
            stale.unlink(missing_ok=True)
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        record_path = out / "pages" / f"{Path(job.name).stem}.json"
        try:
            record = _load_page(record_path, settings)
        except DatasetError:
            if not overwrite:
                raise
            record = None
        if record is not None and (out / "images" / job.name).exists():
            records[job.name] = record
        else:
            todo.append(job)
    bar = tqdm(
        total=len(jobs),
        initial=len(jobs) - len(todo),
        desc="synth",
        unit="page",
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
    )
    with bar:
        if todo:
            records.update(asyncio.run(_run(todo, settings, out, max(1, workers), bar, timings)))
    path = out / "annotations.json"
    write_coco(path, _coco([records[j.name] for j in jobs], settings))
    return path


def _coco(records: list[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    cat_id = {name: i + 1 for i, name in enumerate(DOCLAYNET_CLASSES)}
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for rec in records:
        image_id = len(images) + 1
        images.append(
            {
                "id": image_id,
                "file_name": rec["file_name"],
                "width": rec["width"],
                "height": rec["height"],
                "document": rec["document"],
                "page": rec["page"],
                "kind": rec["kind"],
                "script": rec["script"],
                "scan_look": rec["scan_look"],
            }
        )
        for r in rec["regions"]:
            x0, y0, x1, y1 = r["bbox"]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image_id,
                    "category_id": cat_id[r["label"]],
                    "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
                    "segmentation": r["polygons"],
                    "area": round(sum(polygon_area(p) for p in r["polygons"]), 2),
                    "iscrowd": 0,
                }
            )
    info = {
        "description": "layoutft synthetic pages rendered by Chromium (synth --engine html)",
        **{k: settings[k] for k in ("seed", "dpi", "kinds", "scan_look", "scripts")},
    }
    return {
        "info": info,
        "images": images,
        "annotations": anns,
        "categories": [
            {"id": cat_id[n], "name": n, "supercategory": "layout"} for n in DOCLAYNET_CLASSES
        ],
    }
