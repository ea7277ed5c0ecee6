"""A PDF plus a JSON of regions in PDF points: pages are rendered at ``--dpi``.

Inputs: JSON files (the PDF is the ``pdf`` key, relative to the JSON, default the JSON's name
with ``.pdf``) or PDF files (the JSON is the PDF's name with ``.json``). ``doc.boxes.json``
next to ``doc.pdf`` (as ``layoutft synth`` writes) is found too. The JSON::

    {
      "pdf": "report.pdf",                # optional
      "origin": "top-left",               # or "bottom-left"; default "top-left"
      "pages": [
        {"page": 1, "regions": [
          {"label": "title", "bbox": [72, 60, 540, 90]},          # x0, y0, x1, y1
          {"label": "figure", "polygon": [72, 100, 300, 100, 300, 400, 72, 400]}
        ]},
        {"page": 2, "regions": []}        # an empty page: listed, no regions
      ]
    }

Units are PDF points (1/72 inch). ``top-left``: the page as displayed (after ``/Rotate``,
relative to the CropBox, y down) — the same space as ``layoutft parse`` output.
``bottom-left``: raw PDF user space (y up, unrotated, MediaBox origin), as PDF libraries
report it. Only listed pages are rendered (``<pdf stem>_p0001.png``); the images get
``doc_name`` (the PDF file name), ``page_no`` and ``dpi`` fields.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.data.coco import Problems, read_json
from layoutft.data.convert.common import (
    ReadOptions,
    SourceDataset,
    SourcePage,
    SourceRegion,
    finite,
    to_float,
)
from layoutft.errors import DatasetError, LayoutftError
from layoutft.geometry import PageTransform

ORIGINS = ("top-left", "bottom-left")


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read PDF + JSON pairs and render the annotated pages; see the module docstring."""
    dataset = SourceDataset()
    for given in inputs:
        is_pdf = given.suffix.lower() == ".pdf"
        json_path = _first_existing(_json_candidates(given)) if is_pdf else given
        try:
            data = read_json(json_path)
        except DatasetError as exc:
            problems.add_line(str(exc))
            continue
        spec = _parse(data, json_path, problems)
        if spec is None:
            continue
        if is_pdf:
            pdf = given
        elif isinstance(data.get("pdf"), str):
            pdf = json_path.parent / data["pdf"]
        else:
            pdf = _first_existing(_pdf_candidates(json_path))
        dataset.pages += render_pages(pdf, spec, data.get("origin", "top-left"), options, problems)
    return dataset


def _json_candidates(pdf: Path) -> list[Path]:
    """``doc.pdf`` -> ``doc.json``, then ``doc.boxes.json`` (what ``layoutft synth`` writes)."""
    return [pdf.with_suffix(".json"), pdf.with_suffix(".boxes.json")]


def _pdf_candidates(json_path: Path) -> list[Path]:
    """``doc.json`` -> ``doc.pdf``; ``doc.boxes.json`` -> ``doc.boxes.pdf``, then ``doc.pdf``."""
    first = json_path.with_suffix(".pdf")
    stem = json_path.stem
    return [first, json_path.with_name(stem.removesuffix(".boxes") + ".pdf")]


def _first_existing(paths: list[Path]) -> Path:
    """The first path that exists, else the first one (so the error names it)."""
    return next((p for p in paths if p.exists()), paths[0])


def _parse(
    data: Any, path: Path, problems: Problems
) -> dict[int, list[tuple[str, dict[str, Any]]]] | None:
    """Regions per page number, or None after recording the problems."""
    if not isinstance(data, dict) or not isinstance(data.get("pages"), list):
        problems.add(str(path), "expected an object with a 'pages' list")
        return None
    if data.get("origin", "top-left") not in ORIGINS:
        problems.add(str(path), f"'origin' must be one of {ORIGINS}, got {data.get('origin')!r}")
        return None
    before = len(problems)
    pages: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for index, page in enumerate(data["pages"]):
        number = page.get("page") if isinstance(page, dict) else None
        where = f"{path}: pages[{index}]"
        if not isinstance(number, int) or number < 1 or number in pages:
            problems.add(where, "needs a unique 'page' number (1-based) and 'regions'")
            continue
        regions = page.get("regions") or []
        pages[number] = [(f"regions[{i}]", r) for i, r in enumerate(regions)]
        for record, region in pages[number]:
            _check_region(region, f"{where} (page {number}), {record}", problems)
    return pages if len(problems) == before else None


def _check_region(region: Any, where: str, problems: Problems) -> None:
    if not isinstance(region, dict) or not isinstance(region.get("label"), str):
        problems.add(where, "a region needs a 'label' and a 'bbox' or 'polygon'")
        return
    values = region.get("bbox", region.get("polygon"))
    nums = [to_float(v) for v in values] if isinstance(values, list) else []
    ok_len = len(nums) == 4 if "bbox" in region else len(nums) >= 6 and len(nums) % 2 == 0
    if not ok_len or any(v is None for v in nums) or not finite(*(v or 0.0 for v in nums)):
        problems.add(where, "'bbox' must be [x0, y0, x1, y1]; 'polygon' [x, y, ...] (>= 3 points)")


def render_pages(
    pdf: Path,
    spec: dict[int, list[tuple[str, dict[str, Any]]]],
    origin: str,
    options: ReadOptions,
    problems: Problems,
) -> list[SourcePage]:
    """Render the pages of ``pdf`` that ``spec`` lists at ``options.dpi`` into the staging
    folder and map their regions from points to pixels.

    Args:
        spec: 1-based page number -> ``(record, region)`` pairs, a region being
            ``{"label", "bbox": [x0, y0, x1, y1]}`` or ``{"label", "polygon": [x, y, ...]}``
            in PDF points (checked by the caller). A page with no regions is rendered too.
        origin: ``"top-left"`` (displayed page), ``"bottom-left"`` (raw PDF user space) or
            ``"displayed-bottom-left"`` (the displayed page, y up from its bottom edge).

    Returns:
        The pages rendered, regions in ``spec`` order; pages the PDF lacks and render
        errors are recorded in ``problems``.
    """
    from PIL import Image
    from tqdm import tqdm

    from layoutft.render import count_pages, iter_pages

    out: list[SourcePage] = []
    if not spec:
        return out
    if not pdf.is_file():
        problems.add(str(pdf), "PDF not found (set 'pdf' in the JSON or pass the PDF)")
        return out
    try:
        total = count_pages(pdf)
        # Pages the PDF lacks are listed one by one; the others are still rendered and checked.
        for number in sorted(n for n in spec if n > total):
            problems.add(f"{pdf}: page {number}", f"out of range; the PDF has {total} page(s)")
        numbers = sorted(n for n in spec if n <= total)
        rendered_pages = iter_pages(pdf, dpi=options.dpi, pages=numbers)
        bar = tqdm(
            rendered_pages, pdf.name, len(numbers), disable=not options.progress, file=sys.stderr
        )
        for rendered in bar:
            name = f"{pdf.stem}_p{rendered.number:04d}.png"
            Image.fromarray(rendered.image).save(options.staging / name)
            page = SourcePage(name, options.staging / name, f"{pdf}: page {rendered.number}")
            page.extra = {"doc_name": pdf.name, "page_no": rendered.number, "dpi": rendered.dpi}
            for record, region in spec[rendered.number]:
                page.regions.append(_region(region, record, rendered.transform, origin))
            out.append(page)
    except LayoutftError as exc:
        if pdf.name in str(exc):
            problems.add_line(str(exc))
        else:
            problems.add(str(pdf), str(exc))
    return out


def _region(region: dict[str, Any], record: str, tf: PageTransform, origin: str) -> SourceRegion:
    """Map a region from points to pixels (polygon points mapped one by one)."""
    flat = [float(v) for v in region["bbox" if "bbox" in region else "polygon"]]
    if "bbox" in region:
        points = np.array([[flat[0], flat[1]], [flat[2], flat[3]]])
    else:
        points = np.array(flat).reshape(-1, 2)
    boxes = np.concatenate([points, points], axis=1)  # each point as an empty box
    if origin == "bottom-left":
        boxes = tf.pdf_user_to_pt(boxes)
    elif origin == "displayed-bottom-left":  # the displayed page with y up (ICDAR 2013)
        boxes = boxes * np.array([1.0, -1.0, 1.0, -1.0]) + np.array([0.0, 1.0, 0.0, 1.0]) * (
            tf.height_pt
        )
    px = tf.pt_to_px(boxes)[:, :2]
    out = SourceRegion(region["label"], record)
    if "bbox" in region:
        (x0, y0), (x1, y1) = px.min(axis=0), px.max(axis=0)
        out.bbox = (float(x0), float(y0), float(x1), float(y1))
    else:
        out.polygons = [[float(v) for v in px.reshape(-1)]]
    return out
