"""Every word in a region? Part of :mod:`benchmarks.real_pages`.

On the born-digital PDFs (docbank-100/pdf, icdar2013-tables), the parse at its defaults
(``cover_words`` off) against the same pages with ``cover_words="auto"`` applied
(:func:`layoutft.parsing.cover.cover_words`, the step the parser runs after assembling a
page: one model run gives both): the share of text-layer words whose centre lies in some
region (and in exactly one), the regions added, and what the step does to accuracy:

* docbank-100/pdf: bbox AP50/AP of the JSON (regions and alternatives; text-layer regions
  at their score 0 are below COCO's 0.05) against DocBank's regions (the five PubLayNet
  classes, scaled from the page images to points), and precision/recall/F1 at the parse
  threshold of the detected regions, and of every region (text-layer ones included);
* icdar2013-tables: table precision/recall (:func:`benchmarks.real_pages.table_scores`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.real_pages import coco_scores, table_scores
from benchmarks.real_pages_json import f1_scores

PageKey = tuple[str, int]


def covered_pages(parsed: dict[PageKey, Any], pdfs: dict[str, Path], labels: Sequence[str]) -> Any:
    """(pages with ``cover_words`` applied, text-layer words per page) for ``parsed``
    pages (``{(pdf stem, 1-based page): Page}``, default parse)."""
    import pymupdf

    from layoutft.parsing.cover import cover_label, cover_words
    from layoutft.render.pdf import page_transform
    from layoutft.render.text import page_words

    label = cover_label(list(labels))
    covered: dict[PageKey, Any] = {}
    words: dict[PageKey, Any] = {}
    for (stem, number), page in parsed.items():
        with pymupdf.open(pdfs[stem]) as doc:
            pdf_page = doc[number - 1]
            words[(stem, number)] = page_words(pdf_page, page_transform(pdf_page, 72.0))
        covered[(stem, number)] = cover_words(copy.deepcopy(page), words[(stem, number)], label)
    return covered, words


def coverage(pages: dict[PageKey, Any], words: dict[PageKey, Any]) -> dict[str, Any]:
    """Words (centres) in some region and in exactly one, percent, over ``ok`` pages."""
    from layoutft.engine.layout_checks import word_coverage_counts

    none = one = several = 0
    for key, page in pages.items():
        w = words[key]
        if page.status != "ok" or len(w) == 0:
            continue
        centers = (w.boxes[:, :2] + w.boxes[:, 2:]) / 2
        boxes = np.array([r.bbox_pt for r in page.regions], dtype=float).reshape(-1, 4)
        a, b, c = word_coverage_counts(centers, boxes)
        none, one, several = none + a, one + b, several + c
    total = none + one + several
    return {
        "words": total,
        "in_some_region_pct": 100.0 * (one + several) / total if total else math.nan,
        "in_one_region_pct": 100.0 * one / total if total else math.nan,
        "regions": sum(len(p.regions) for p in pages.values()),
        "text_layer_regions": sum(
            r.origin == "text-layer" for p in pages.values() for r in p.regions
        ),
    }


def docbank_records(
    pages: dict[PageKey, Any], gt: dict[str, Any], origins: Sequence[str], alternatives: bool
) -> list[dict[str, Any]]:
    """COCO records of ``pages`` in the pixels of DocBank's page images (matched by stem),
    regions of the given ``origins`` (and their alternatives when asked)."""
    images = {Path(i["file_name"]).stem: i for i in gt["images"]}
    ids = {c["name"]: int(c["id"]) for c in gt["categories"]}
    out: list[dict[str, Any]] = []

    def add(image_id: int, label: str, score: float, box: Sequence[float], s: Any) -> None:
        x0, y0, x1, y1 = (float(v) * k for v, k in zip(box, (*s, *s), strict=True))
        out.append(
            {
                "image_id": image_id,
                "category_id": ids.get(label, -1),
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "score": float(score),
            }
        )

    for (stem, _), page in pages.items():
        img = images.get(stem)
        if img is None or page.status != "ok":
            continue
        scale = (img["width"] / page.width_pt, img["height"] / page.height_pt)
        for r in page.regions:
            if r.origin not in origins:
                continue
            add(int(img["id"]), r.label, r.score, r.bbox_pt, scale)
            for a in r.alternatives if alternatives else []:
                add(int(img["id"]), a.label, a.score, a.bbox_pt or r.bbox_pt, scale)
    return out


def docbank_scores(pages: dict[PageKey, Any], gt: dict[str, Any], threshold: float) -> Any:
    """AP of the JSON and F1 at ``threshold`` (detected regions; every region)."""
    both = ("model", "text-layer")
    ap = coco_scores(gt, docbank_records(pages, gt, both, True), ("bbox",), max_dets=300)
    return {
        "AP50": ap["bbox"]["AP50"],
        "AP": ap["bbox"]["AP"],
        "f1_detected": f1_scores(gt, docbank_records(pages, gt, ("model",), False), threshold),
        "f1_all_regions": f1_scores(gt, docbank_records(pages, gt, both, False), 0.0),
    }


def cover_entry(
    parsed: dict[PageKey, Any],
    pdfs: dict[str, Path],
    labels: Sequence[str],
    threshold: float,
    gt: dict[str, Any] | None = None,
    truths: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``cover_words`` entry of one PDF set: coverage before/after, and DocBank AP/F1
    (``gt``: DocBank's COCO ground truth) or ICDAR table scores (``truths``: per document
    its alternative ground truths) before/after."""
    covered, words = covered_pages(parsed, pdfs, labels)
    entry: dict[str, Any] = {"before": coverage(parsed, words), "after": coverage(covered, words)}
    for when, pages in (("before", parsed), ("after", covered)):
        if gt is not None:
            entry[when].update(docbank_scores(pages, gt, threshold))
        if truths is not None:
            tables = {
                k: [r.bbox_pt for r in p.regions if r.label == "table"] for k, p in pages.items()
            }
            entry[when]["tables"] = table_scores(tables, truths)
    return entry


def cover_table(entries: dict[str, Any]) -> str:
    """Markdown: per model and PDF set, coverage and accuracy before/after cover_words."""
    from benchmarks.common import markdown_table

    rows = []
    for name, e in sorted(entries.items()):
        for set_name, block in sorted(e.get("cover_words", {}).items()):
            for when in ("before", "after"):
                b = block[when]
                row: dict[str, Any] = {
                    "model": name,
                    "set": set_name,
                    "cover_words": "off" if when == "before" else "auto",
                    "words in some region": _pct(b["in_some_region_pct"]),
                    "in one": _pct(b["in_one_region_pct"]),
                    "regions": b["regions"],
                    "text-layer regions": b["text_layer_regions"],
                    "AP50/AP": "-",
                    "P/R/F1 detected": "-",
                    "P/R/F1 all regions": "-",
                    "tables P/R": "-",
                }
                if "AP50" in b:
                    row["AP50/AP"] = f"{_num(b['AP50'])}/{_num(b['AP'])}"
                    f, fa = b["f1_detected"], b["f1_all_regions"]
                    row["P/R/F1 detected"] = _prf(f)
                    row["P/R/F1 all regions"] = _prf(fa)
                if "tables" in b:
                    t = b["tables"]
                    row["tables P/R"] = f"{_pct(100 * t['precision'])}/{_pct(100 * t['recall'])}"
                rows.append(row)
    return markdown_table(rows) if rows else ""


def _num(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def _pct(v: Any) -> str:
    return _num(v) + "%"


def _prf(f: dict[str, Any]) -> str:
    def one(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"

    return "/".join(one(f[k]) for k in ("precision", "recall", "F1"))
