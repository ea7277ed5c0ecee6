"""Does scoring the parse JSON lose anything? Part of :mod:`benchmarks.real_pages`.

For a COCO set (publaynet-20, docbank-100) this scores, per class, COCO bbox AP50/AP of

* ``raw``: the model's detections (score >= 0.05), as the rest of ``real_pages`` scores them;
* ``json_alternatives``: ``layoutft.parse`` of each page image at ``score_threshold`` 0.05
  (the COCO recall setting) written as ``--format coco`` does: each region and each of its
  ``alternatives`` as a detection of its own label, score and box;
* ``json``: the same without the alternatives (the regions alone);

and precision/recall/F1 at the parse threshold (IoU >= 0.5, same class, one-to-one,
greedy by IoU) of the regions of the default parse and of the raw detections scored at
least that threshold. The de-duplication is greedy by descending score, so the regions
scored at least the threshold in a parse at 0.05 are exactly those of a parse at the
threshold: one parse gives both figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.real_pages import (
    PUBLAYNET_CLASSES,
    coco_scores,
    labels_view,
    match_count,
    restrict,
)

AP_FLOOR = 0.05


def parse_records(model: Any, gt: dict[str, Any], images: Path) -> list[dict[str, Any]]:
    """COCO result records of ``layoutft.parse`` on every image of ``gt`` (regions and
    their alternatives, ``alternative_of`` set on the latter), category ids of ``gt``
    matched by name; score threshold :data:`AP_FLOOR`, no text."""
    import layoutft

    by_name = {c["name"]: int(c["id"]) for c in gt["categories"]}
    records: list[dict[str, Any]] = []
    for img in gt["images"]:
        doc = layoutft.parse(
            images / img["file_name"],
            model=model,
            score_threshold=AP_FLOOR,
            text=False,
            labels_view=labels_view(model),
        )
        for record in doc.to_coco_results(image_ids={1: int(img["id"])}):
            if record["label"] in by_name:
                records.append({**record, "category_id": by_name[record["label"]]})
    return records


def f1_scores(
    gt: dict[str, Any],
    records: Sequence[dict[str, Any]],
    threshold: float,
    classes: Sequence[str] = PUBLAYNET_CLASSES,
) -> dict[str, Any]:
    """Precision, recall and F1 (fractions) of ``records`` scored >= ``threshold`` against
    ``gt``: per class and over all of ``classes`` (summed counts); IoU >= 0.5, same class,
    one-to-one, greedy by IoU. NaN where a count is zero."""
    sub = restrict(gt, classes)
    names = {int(c["id"]): c["name"] for c in sub["categories"]}
    truth: dict[tuple[int, str], list[list[float]]] = {}
    for a in sub["annotations"]:
        x, y, w, h = a["bbox"]
        truth.setdefault((int(a["image_id"]), names[int(a["category_id"])]), []).append(
            [x, y, x + w, y + h]
        )
    preds: dict[tuple[int, str], list[list[float]]] = {}
    for r in records:
        if float(r["score"]) >= threshold and int(r["category_id"]) in names:
            x, y, w, h = r["bbox"]
            key = (int(r["image_id"]), names[int(r["category_id"])])
            preds.setdefault(key, []).append([x, y, x + w, y + h])
    counts = {name: [0, 0, 0] for name in names.values()}  # matched, predicted, truth
    for key in set(truth) | set(preds):
        c = counts[key[1]]
        p, t = preds.get(key, []), truth.get(key, [])
        c[0] += match_count(p, t)
        c[1] += len(p)
        c[2] += len(t)
    out: dict[str, Any] = {"per_class": {n: _prf(*c) for n, c in counts.items()}}
    out.update(_prf(*(sum(c[i] for c in counts.values()) for i in range(3))))
    return out


def _prf(matched: int, predicted: int, truth: int) -> dict[str, float]:
    p = matched / predicted if predicted else math.nan
    r = matched / truth if truth else math.nan
    f = 2 * p * r / (p + r) if predicted and truth and p + r > 0 else math.nan
    return {"precision": p, "recall": r, "F1": f, "matched": matched, "predicted": predicted}


def json_scores(
    model: Any,
    gt: dict[str, Any],
    images: Path,
    raw: list[dict[str, Any]],
    threshold: float,
    max_dets: int,
) -> dict[str, Any]:
    """The ``parse_json`` entry of a COCO set: bbox AP of ``raw`` (the model's detections),
    of the parse JSON with and without alternatives (``model`` must keep detections down
    to 0.05), F1 at ``threshold`` of the regions and of the raw detections, and counts."""
    records = parse_records(model, gt, images)
    regions = [r for r in records if "alternative_of" not in r]
    ap = {
        "raw": coco_scores(gt, raw, ("bbox",), max_dets=max_dets)["bbox"],
        "json_alternatives": coco_scores(gt, records, ("bbox",), max_dets=max_dets)["bbox"],
        "json": coco_scores(gt, regions, ("bbox",), max_dets=max_dets)["bbox"],
    }
    kept = [r for r in regions if float(r["score"]) >= threshold]
    return {
        "ap": ap,
        "f1_at_threshold": {
            "threshold": threshold,
            "raw": f1_scores(gt, raw, threshold),
            "json": f1_scores(gt, regions, threshold),
        },
        "regions_at_threshold": len(kept),
        "alternatives_at_threshold": sum(
            1 for r in records if "alternative_of" in r and float(r["score"]) >= threshold
        ),
        "records_at_0.05": {"regions": len(regions), "alternatives": len(records) - len(regions)},
    }


def json_table(entries: dict[str, Any], sets: Sequence[str]) -> str:
    """Markdown: per model and set, AP50/AP (all and per class) of raw detections, the
    JSON with alternatives and without, and F1 at the parse threshold."""
    from benchmarks.common import markdown_table

    rows = []
    for name, e in sorted(entries.items()):
        for set_name in sets:
            block = e.get(set_name, {}).get("parse_json")
            if not block:
                continue
            f1 = block["f1_at_threshold"]
            for what in ("raw", "json_alternatives", "json"):
                m = block["ap"][what]
                row: dict[str, Any] = {"model": name, "set": set_name, "scored": what}
                row["AP50"], row["AP"] = _num(m["AP50"]), _num(m["AP"])
                for c in PUBLAYNET_CLASSES:
                    pc = m["per_class"].get(c, {})
                    row[f"{c} AP50/AP"] = f"{_num(pc.get('AP50'))}/{_num(pc.get('AP'))}"
                f = f1["raw"] if what == "raw" else f1["json"]
                row[f"P/R/F1 @{f1['threshold']:g}"] = "/".join(
                    _frac(f[k]) for k in ("precision", "recall", "F1")
                )
                rows.append(row)
    return markdown_table(rows) if rows else ""


def _num(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def _frac(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"
