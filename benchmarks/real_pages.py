"""Accuracy on real pages nobody on this project made: PubLayNet, DocBank, ICDAR 2013 tables.

    python -m benchmarks.real_pages                          # the bundled model
    python -m benchmarks.real_pages --weights publaynet      # another model: a second entry
    python -m benchmarks.real_pages --real /data/real --max-pages 5   # a quick check
    python -m benchmarks.real_pages --sources-dir /work/sources-build --only-sources

Reads ``--real`` (default ``../shared/real`` next to the repository; see its README). When
the folder is absent it prints one line and exits 0. Sets and scores:

* ``publaynet-20/samples.json``: COCO bbox and segm AP, AP50 and per-class AP50/AP over
  text, title, list, table, figure (pycocotools, every detection with score >= 0.05; model
  labels matched to the dataset's categories by name).
* ``docbank-100``: converted with ``layoutft convert --from docbank --labels
  docbank-publaynet`` (into a temporary folder; regions grouped PubLayNet-style from DocBank's
  token labels) and scored with bbox AP/AP50 over the five PubLayNet classes only: caption,
  equation, footer, reference, author and date have no PubLayNet class and are left out.
* ``icdar2013-tables``: every page of the 67 PDFs parsed with ``layoutft.parse`` (the
  model's parse threshold and post-processing); predicted ``table`` regions against the
  ``*-reg.xml`` table regions at IoU >= 0.5, one-to-one, in displayed PDF points (the ground
  truth's bottom-left user-space boxes go through the page's CropBox/rotation transform).
  Documents with alternative ground truths (``eu-009a``/``eu-009b``: the same PDF,
  ``eu-009a.pdf``) are scored against the alternative that matches more predictions (a first).
* label-free checks on the born-digital PDFs (``docbank-100/pdf``, ``icdar2013-tables``), on
  the parse output: the share of text-layer words inside exactly one region, in none, in
  several, and the share of duplicated (IoU >= 0.5) and overlapping regions
  (:mod:`layoutft.engine.layout_checks`). Parse time per page is recorded too.
* ``parse_json`` (publaynet-20, docbank-100): COCO bbox AP of the raw detections vs the
  parse JSON with and without its ``alternatives``, and F1 at the parse threshold
  (:mod:`benchmarks.real_pages_json`).
* ``cover_words`` (the born-digital PDFs): words in some region, AP/F1 (DocBank) and table
  precision/recall (ICDAR) with and without ``cover_words="auto"``
  (:mod:`benchmarks.real_pages_cover`).

Dev sets of the public training sources (``layoutft dataset build``; read from
``--sources-dir``, default ``$LAYOUTFT_SOURCES``, one build folder per source holding
``dev/annotations.json``; skipped when absent): bbox AP50 per class of every raw detection
(score >= 0.05) for the model's classes that the source labels. A PubLayNet model is scored
through the built-in ``doclaynet-publaynet`` map (Caption/Footnote/Formula/Text -> text,
Title/Section-header -> title, List-item -> list, Table -> table, Picture -> figure; page
headers and footers dropped); a model whose labels are DocLayNet's directly. A class counts as
labelled when one of its DocLayNet classes is in the pages' ``labelled_category_ids``. These
go to ``results/real_pages_sources.{json,md,png}`` (one entry per model), so the sets above
keep their files; ``--only-sources`` skips the sets above.

Output: ``results/real_pages.json`` keeps one entry per model (a run with another model adds
or replaces its own entry), ``results/real_pages.md`` one table per set with a row per model,
``results/real_pages.png`` a few pages with predictions (red) and ground truth (green).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.common import RESULTS, command_line, cpu_times, machine_info, markdown_table
from benchmarks.inputs import ROOT
from layoutft.labels import DOCLAYNET_CLASSES, PUBLAYNET_CLASSES

if TYPE_CHECKING:
    from layoutft.model import LayoutModel

NAME = "real_pages"
DEFAULT_REAL = ROOT.parent / "shared" / "real"
MIN_SCORE = 0.05
MATCH_IOU = 0.5


# --------------------------------------------------------------------------- scoring


def restrict(gt: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """``gt`` with only the categories named (and their annotations), ids kept."""
    cats = [c for c in gt["categories"] if c["name"] in names]
    ids = {c["id"] for c in cats}
    anns = [a for a in gt["annotations"] if a["category_id"] in ids]
    return {**gt, "categories": cats, "annotations": anns}


def coco_scores(
    gt: dict[str, Any],
    results: list[dict[str, Any]],
    iou_types: Sequence[str] = ("bbox",),
    classes: Sequence[str] = PUBLAYNET_CLASSES,
    max_dets: int = 100,
) -> dict[str, Any]:
    """AP, AP50 and per-class AP/AP50 (percent) of COCO result records with score >= 0.05,
    over the categories of ``gt`` named in ``classes`` (others and their detections ignored).

    Returns ``{iou_type: {"AP", "AP50", "per_class": {name: {"AP", "AP50"}}}}``; NaN where
    the set has no ground truth of a class.
    """
    from layoutft.engine.evaluation import evaluate_coco

    sub = restrict(gt, classes)
    ids = {c["id"] for c in sub["categories"]}
    kept = [r for r in results if r["category_id"] in ids and float(r["score"]) >= MIN_SCORE]
    whole = evaluate_coco(sub, kept, iou_types, max_dets=max_dets)
    out: dict[str, Any] = {}
    for iou_type in iou_types:
        per_class: dict[str, dict[str, float]] = {}
        for cat in sub["categories"]:
            one = restrict(sub, [cat["name"]])
            if not one["annotations"]:
                per_class[cat["name"]] = {"AP": math.nan, "AP50": math.nan}
                continue
            mine = [r for r in kept if r["category_id"] == cat["id"]]
            m = evaluate_coco(one, mine, [iou_type], max_dets=max_dets)[iou_type]
            per_class[cat["name"]] = {"AP": m["AP"], "AP50": m["AP50"]}
        out[iou_type] = {
            "AP": whole[iou_type]["AP"],
            "AP50": whole[iou_type]["AP50"],
            "per_class": per_class,
        }
    return out


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two XYXY boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_count(preds: Sequence[Sequence[float]], truth: Sequence[Sequence[float]]) -> int:
    """One-to-one matches at IoU >= 0.5 (greedy, best IoU first)."""
    pairs = sorted(
        ((iou(p, t), i, j) for i, p in enumerate(preds) for j, t in enumerate(truth)),
        reverse=True,
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    for value, i, j in pairs:
        if value < MATCH_IOU:
            break
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_p)


def table_scores(
    pages: dict[tuple[str, int], list[list[float]]],
    truths: dict[str, list[dict[int, list[list[float]]]]],
) -> dict[str, Any]:
    """Table precision/recall at IoU >= 0.5.

    Args:
        pages: predicted table boxes per (document, 1-based page), every parsed page listed.
        truths: per document, its alternative ground truths (one or more), each
            ``{page: [boxes]}``; the alternative with most matches counts (ties: the first).
    """
    predicted = matched = truth_total = 0
    docs = sorted({doc for doc, _ in pages} | set(truths))
    for doc in docs:
        doc_pages = {p: boxes for (d, p), boxes in pages.items() if d == doc}
        predicted += sum(len(b) for b in doc_pages.values())
        best: tuple[int, int] | None = None
        for alt in truths.get(doc, [{}]):
            hits = sum(match_count(doc_pages.get(p, []), boxes) for p, boxes in alt.items())
            n = sum(len(b) for b in alt.values())
            if best is None or hits > best[0]:
                best = (hits, n)
        assert best is not None
        matched += best[0]
        truth_total += best[1]
    return {
        "tables": truth_total,
        "predicted": predicted,
        "matched": matched,
        "precision": matched / predicted if predicted else math.nan,
        "recall": matched / truth_total if truth_total else math.nan,
    }


def read_icdar_regions(path: Path) -> dict[int, list[list[float]]]:
    """``*-reg.xml`` table regions: {1-based page: [[x1, y1, x2, y2] in PDF user space]}."""
    regions: dict[int, list[list[float]]] = {}
    for region in ET.parse(path).getroot().iter("region"):
        box = region.find("bounding-box")
        if box is None:
            continue
        values = [float(box.get(k, "nan")) for k in ("x1", "y1", "x2", "y2")]
        regions.setdefault(int(region.get("page", "1")), []).append(values)
    return regions


def user_to_displayed(
    pdf: Path, regions: dict[int, list[list[float]]]
) -> dict[int, list[list[float]]]:
    """Boxes in PDF user space (points, bottom-left origin) -> displayed points (top-left
    origin, after CropBox and /Rotate), with the page transform ``parse`` uses."""
    import pymupdf

    from layoutft.render.pdf import page_transform

    out: dict[int, list[list[float]]] = {}
    with pymupdf.open(pdf) as doc:
        for page, boxes in regions.items():
            transform = page_transform(doc[page - 1], 72.0)
            out[page] = [list(map(float, b)) for b in transform.pdf_user_to_pt(np.array(boxes))]
    return out


def icdar_truths(folder: Path) -> dict[str, tuple[Path, list[dict[int, list[list[float]]]]]]:
    """{document: (its PDF, alternative ground truths in displayed points)}.

    ``eu-009a-reg.xml`` and ``eu-009b-reg.xml`` are alternatives for ``eu-009a.pdf``.
    """
    out: dict[str, tuple[Path, list[dict[int, list[list[float]]]]]] = {}
    for pdf in sorted(folder.glob("*.pdf")):
        base = pdf.stem[:-1] if pdf.stem[-1:] in ("a", "b") else pdf.stem
        regs = sorted(folder.glob(f"{base}-reg.xml")) + sorted(folder.glob(f"{base}[ab]-reg.xml"))
        alts = [user_to_displayed(pdf, read_icdar_regions(r)) for r in regs]
        out[pdf.stem] = (pdf, alts)
    return out


def label_free(
    regions: Sequence[Sequence[float]], words: np.ndarray
) -> tuple[int, int, int, int, int]:
    """(regions, duplicates, overlapping, words in one region, words) of one page; boxes
    (XYXY, highest score first) and word centers in the same space."""
    from layoutft.engine.layout_checks import duplicate_and_overlap_counts, word_coverage_counts

    boxes = np.array(regions, dtype=float).reshape(-1, 4)
    dup, over = duplicate_and_overlap_counts(boxes)
    none, one, several = word_coverage_counts(words, boxes)
    return len(boxes), dup, over, one, none + one + several


def summarize_checks(counts: Sequence[tuple[int, int, int, int, int]]) -> dict[str, Any]:
    """Percentages of :func:`label_free` counts summed over pages."""
    regions, dup, over, one, words = (sum(c[i] for c in counts) for i in range(5))

    def pct(a: int, b: int) -> float:
        return 100.0 * a / b if b else math.nan

    return {
        "pages": len(counts),
        "regions": regions,
        "words": words,
        "words_in_one_region_pct": pct(one, words),
        "duplicate_pct": pct(dup, regions),
        "overlap_pct": pct(over, regions),
    }


# --------------------------------------------------------------------------- running


def model_name(weights: str | None) -> str:
    """The entry name: a registry name as given, a file by its name."""
    from layoutft.pretrained import BUNDLED_MODEL, is_model_name

    if weights is None:
        return BUNDLED_MODEL
    return weights if is_model_name(weights) else Path(weights).name


def load_models(weights: str | None, device: str) -> tuple[LayoutModel, LayoutModel]:
    """(model keeping detections >= 0.05 for AP, model with its parse threshold)."""
    from layoutft.model import LayoutModel
    from layoutft.pretrained import BUNDLED_MODEL

    source = weights or BUNDLED_MODEL
    low = ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", str(MIN_SCORE)]
    return (
        LayoutModel.from_checkpoint(source, overrides=low, device=device),
        LayoutModel.from_checkpoint(source, device=device),
    )


def publaynet_aliases(
    model: Any, categories: list[dict[str, Any]] | None = None
) -> dict[str, str] | None:
    """For a model predicting DocLayNet's classes: its labels -> the PubLayNet class that
    scores them on the PubLayNet-labelled sets (the built-in ``doclaynet-publaynet`` map;
    page heads and feet score nowhere). None for other models, and for ``categories`` that
    already name the model's classes (a DocLayNet-labelled set)."""
    from layoutft.data.labelmap import BUILTIN_MAPS

    if not set(model.labels) <= set(DOCLAYNET_CLASSES):
        return None
    if categories is not None and set(model.labels) & {str(c["name"]) for c in categories}:
        return None
    return dict(BUILTIN_MAPS["doclaynet-publaynet"]["map"])


def labels_view(model: Any) -> str:
    """The parse ``labels_view`` that gives PubLayNet's classes for ``model``."""
    return "publaynet" if publaynet_aliases(model) is not None else "native"


def predict(model: LayoutModel, gt: dict[str, Any], images: Path) -> list[dict[str, Any]]:
    """COCO result records of ``model`` (score >= 0.05) on the images of ``gt``.

    A DocLayNet model on a PubLayNet-labelled set is seen through ``--labels-view
    publaynet``: its detections parsed at score 0.05, neighbouring list items merged into
    one list (PubLayNet boxes a whole list), page heads/feet dropped, each region's
    alternatives kept as detections (:func:`benchmarks.real_pages_json.parse_records`).
    Scoring its items one by one against whole lists would measure the class map, not the
    model. Other models: the raw detections.
    """
    from layoutft.engine.evaluation import predict_dataset

    if publaynet_aliases(model, gt["categories"]) is not None:
        from benchmarks.real_pages_json import parse_records

        return parse_records(model, gt, images)
    return predict_dataset(model, gt, images)


#: DocBank's labels that PubLayNet has no class for, and the DocLayNet classes scored
#: against them (DocBank's ``footer`` holds page footers and footnotes alike).
DOCBANK_EXTRA = {
    "Caption": "caption",
    "Formula": "equation",
    "Footnote": "footer",
    "Page-footer": "footer",
}


def docbank_extra(model: LayoutModel, gt: dict[str, Any], images: Path) -> dict[str, Any] | None:
    """bbox AP/AP50 of a DocLayNet model's captions, formulas and footers (footnotes and
    page footers together) on DocBank's own ``caption``/``equation``/``footer`` regions;
    None for other models."""
    from layoutft.engine.evaluation import predict_dataset

    if not set(model.labels) <= set(DOCLAYNET_CLASSES):
        return None
    wanted = sorted(set(DOCBANK_EXTRA.values()))
    results = predict_dataset(model, gt, images, aliases=DOCBANK_EXTRA)
    max_dets = int(model.config.TEST.DETECTIONS_PER_IMAGE)
    scores = coco_scores(gt, results, ("bbox",), classes=wanted, max_dets=max_dets)["bbox"]
    scores["regions_scored"] = len(restrict(gt, wanted)["annotations"])
    return scores


def run_publaynet(
    model: LayoutModel, folder: Path, limit: int | None
) -> tuple[dict[str, Any], Any]:
    from layoutft.data.coco import load_coco

    gt = load_coco(folder / "samples.json")
    if limit:
        gt = _first_images(gt, limit)
    results = predict(model, gt, folder)
    types = ("bbox", "segm") if bool(model.config.MODEL.MASK_ON) else ("bbox",)
    max_dets = int(model.config.TEST.DETECTIONS_PER_IMAGE)
    scores = coco_scores(gt, results, types, max_dets=max_dets)
    scores["pages"] = len(gt["images"])
    return scores, (gt, results, folder)


def run_docbank(
    model: LayoutModel, folder: Path, work: Path, limit: int | None
) -> tuple[dict[str, Any], Any]:
    from layoutft.data.convert import convert

    inputs = sorted((folder / "tokens").glob("*.txt"))[:limit] if limit else [folder]
    result = convert("docbank", inputs, work / "docbank", labels="docbank-publaynet", link=True)
    gt = result.coco
    results = predict(model, gt, work / "docbank" / "images")
    max_dets = int(model.config.TEST.DETECTIONS_PER_IMAGE)
    scores = coco_scores(gt, results, ("bbox",), max_dets=max_dets)
    scores["pages"] = len(gt["images"])
    scores["regions_scored"] = len(restrict(gt, PUBLAYNET_CLASSES)["annotations"])
    extra = docbank_extra(model, gt, work / "docbank" / "images")
    if extra is not None:
        scores["doclaynet_extra"] = extra
    return scores, (gt, results, work / "docbank" / "images")


def parse_pdf(model: LayoutModel, pdf: Path) -> tuple[Any, float]:
    """``layoutft.parse`` of every page; (document, seconds)."""
    import layoutft

    begin = time.perf_counter()
    doc = layoutft.parse(pdf, model=model, labels_view=labels_view(model))
    return doc, time.perf_counter() - begin


def page_word_centers(pdf: Path, page: int) -> np.ndarray:
    """Centers of the text layer's words of a 1-based page, displayed points."""
    import pymupdf

    from layoutft.render.pdf import page_transform
    from layoutft.render.text import page_words

    with pymupdf.open(pdf) as doc:
        pdf_page = doc[page - 1]
        words = page_words(pdf_page, page_transform(pdf_page, 72.0))
    boxes = np.asarray(words.boxes, dtype=float).reshape(-1, 4)
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def _region_boxes(page: Any, label: str | None = None) -> list[list[float]]:
    regions = sorted(page.regions, key=lambda r: -float(r.score))
    return [list(map(float, r.bbox_pt)) for r in regions if label is None or r.label == label]


def run_pdfs(
    model: LayoutModel, pdfs: Sequence[Path], checks: list[Any], times: list[float]
) -> dict[tuple[str, int], Any]:
    """Parse each PDF; add per-page label-free counts and seconds; {(stem, page): page}."""
    parsed: dict[tuple[str, int], Any] = {}
    for pdf in pdfs:
        doc, seconds = parse_pdf(model, pdf)
        ok = [p for p in doc.pages if p.status == "ok"]
        times.append(seconds / max(1, len(doc.pages)))
        for number, page in enumerate(doc.pages, start=1):
            parsed[(pdf.stem, number)] = page
        for number, page in enumerate(doc.pages, start=1):
            if page in ok:
                checks.append(label_free(_region_boxes(page), page_word_centers(pdf, number)))
    return parsed


def _first_images(gt: dict[str, Any], n: int) -> dict[str, Any]:
    images = sorted(gt["images"], key=lambda i: i["file_name"])[:n]
    ids = {i["id"] for i in images}
    return {
        **gt,
        "images": images,
        "annotations": [a for a in gt["annotations"] if a["image_id"] in ids],
    }


def run(real: Path, weights: str | None, device: str, limit: int | None) -> dict[str, Any]:
    """Score one model on every set; returns its entry."""
    ap_model, parse_model = load_models(weights, device)
    entry: dict[str, Any] = {"model": model_name(weights), "labels": list(ap_model.labels)}
    samples: dict[str, Any] = {}
    print("real_pages: publaynet-20 ...", file=sys.stderr)
    entry["publaynet-20"], samples["publaynet"] = run_publaynet(
        ap_model, real / "publaynet-20", limit
    )
    add_parse_json(entry["publaynet-20"], ap_model, parse_model, samples["publaynet"])
    with tempfile.TemporaryDirectory() as tmp:
        print("real_pages: docbank-100 ...", file=sys.stderr)
        entry["docbank-100"], samples["docbank"] = run_docbank(
            ap_model, real / "docbank-100", Path(tmp), limit
        )
        add_parse_json(entry["docbank-100"], ap_model, parse_model, samples["docbank"])
        samples["docbank"] = _load_images(samples["docbank"])
    checks_db: list[Any] = []
    checks_ic: list[Any] = []
    times: list[float] = []
    db_pdfs = sorted((real / "docbank-100" / "pdf").glob("*.pdf"))[:limit]
    print(f"real_pages: parsing {len(db_pdfs)} docbank PDFs ...", file=sys.stderr)
    parsed_db = run_pdfs(parse_model, db_pdfs, checks_db, times)
    truths = icdar_truths(real / "icdar2013-tables")
    docs = sorted(truths)[:limit] if limit else sorted(truths)
    print(f"real_pages: parsing {len(docs)} ICDAR 2013 PDFs ...", file=sys.stderr)
    parsed = run_pdfs(parse_model, [truths[d][0] for d in docs], checks_ic, times)
    predicted = {key: _region_boxes(page, "table") for key, page in parsed.items()}
    entry["icdar2013-tables"] = table_scores(predicted, {d: truths[d][1] for d in docs})
    entry["icdar2013-tables"]["pages"] = len(parsed)
    entry["label_free"] = {
        "docbank-100/pdf": summarize_checks(checks_db),
        "icdar2013-tables": summarize_checks(checks_ic),
        "score_threshold": _threshold(parse_model),
    }
    entry["parse_s_per_page"] = statistics.mean(times) if times else math.nan
    entry["cover_words"] = cover_words_entry(
        parse_model,
        (parsed_db, db_pdfs, samples["docbank"][0]),
        (parsed, [truths[d][0] for d in docs], {d: truths[d][1] for d in docs}),
    )
    samples["icdar"] = (truths, parsed)
    entry["_samples"] = samples
    return entry


def add_parse_json(
    scores: dict[str, Any], ap_model: LayoutModel, parse_model: LayoutModel, sample: Any
) -> None:
    """Add ``parse_json`` to a COCO set's ``scores``: AP of the raw detections vs the parse
    JSON with and without alternatives, F1 at the parse threshold
    (:mod:`benchmarks.real_pages_json`). ``sample``: (gt, raw results, images folder)."""
    from benchmarks.real_pages_json import json_scores

    gt, results, images = sample
    print("real_pages: parse JSON vs raw detections ...", file=sys.stderr)
    max_dets = int(ap_model.config.TEST.DETECTIONS_PER_IMAGE)
    scores["parse_json"] = json_scores(
        ap_model, gt, images, results, _threshold(parse_model), max_dets
    )


def cover_words_entry(parse_model: LayoutModel, docbank: Any, icdar: Any) -> dict[str, Any]:
    """Word coverage and accuracy with and without ``cover_words`` on both PDF sets
    (:mod:`benchmarks.real_pages_cover`). ``docbank``: (parsed pages, PDFs, DocBank's COCO
    ground truth); ``icdar``: (parsed pages, PDFs, table ground truths per document)."""
    from benchmarks.real_pages_cover import cover_entry

    print("real_pages: cover_words ...", file=sys.stderr)
    labels, threshold = list(parse_model.labels), _threshold(parse_model)
    (db_pages, db_pdfs, gt), (ic_pages, ic_pdfs, truths) = docbank, icdar
    return {
        "docbank-100/pdf": cover_entry(
            db_pages, {p.stem: p for p in db_pdfs}, labels, threshold, gt=gt
        ),
        "icdar2013-tables": cover_entry(
            ic_pages, {p.stem: p for p in ic_pdfs}, labels, threshold, truths=truths
        ),
    }


def _threshold(model: LayoutModel) -> float:
    return model.default_score_threshold


def _load_images(sample: Any) -> Any:
    """Keep the first DocBank page's pixels (the temporary folder goes away)."""
    from PIL import Image

    gt, results, folder = sample
    img = sorted(gt["images"], key=lambda i: i["file_name"])[0]
    with Image.open(folder / img["file_name"]) as im:
        pixels = im.convert("RGB")
    return gt, results, {img["file_name"]: pixels}


# --------------------------------------------------------------------------- source dev sets

SOURCES_NAME = "real_pages_sources"


def source_dev_sets(folder: Path | None) -> list[tuple[str, Path]]:
    """``(source name, dev folder)`` of every build under ``folder`` with a dev set."""
    if folder is None or not folder.is_dir():
        return []
    return [
        (d.name, d / "dev")
        for d in sorted(folder.iterdir())
        if (d / "dev/annotations.json").is_file()
    ]


def to_model_classes(
    gt: dict[str, Any], model_labels: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """``gt`` (DocLayNet classes) in the model's classes, and the model classes it labels.

    PubLayNet labels: through the built-in ``doclaynet-publaynet`` map. DocLayNet labels:
    unchanged. A model class is labelled when one of the DocLayNet classes mapped onto it is
    in every page's ``labelled_category_ids`` (absent: every class).
    """
    from layoutft.data.labelmap import BUILTIN_MAPS, LabelMap

    names = {c["id"]: c["name"] for c in gt["categories"]}
    if set(model_labels) == set(PUBLAYNET_CLASSES):
        target, outputs = LabelMap.from_dict(BUILTIN_MAPS["doclaynet-publaynet"]).resolve(
            {n: 1 for n in names.values()}
        )
    elif set(model_labels) <= set(DOCLAYNET_CLASSES):
        target, outputs = {n: n for n in names.values()}, list(DOCLAYNET_CLASSES)
    else:
        raise SystemExit(
            f"real_pages: model labels {list(model_labels)} are neither PubLayNet's nor DocLayNet's"
        )
    cat_id = {n: i + 1 for i, n in enumerate(outputs)}
    anns = []
    for a in gt["annotations"]:
        name = target.get(names[a["category_id"]])
        if name is not None:
            anns.append({**a, "category_id": cat_id[name]})
    labelled_sets = [
        {names[i] for i in img.get("labelled_category_ids", names)} for img in gt["images"]
    ]
    labelled_src = set.intersection(*labelled_sets) if labelled_sets else set()
    labelled = [
        n
        for n in outputs
        if n in model_labels and any(target.get(src) == n for src in labelled_src)
    ]
    mapped = {
        **gt,
        "annotations": anns,
        "categories": [{"id": cat_id[n], "name": n, "supercategory": ""} for n in outputs],
    }
    return mapped, labelled


def run_sources(
    model: LayoutModel, sets: Sequence[tuple[str, Path]], limit: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """bbox AP50 per labelled class on each dev set; ``(scores, samples for the drawing)``."""
    from layoutft.data.coco import load_coco

    scores: dict[str, Any] = {}
    samples: dict[str, Any] = {}
    for name, folder in sets:
        print(f"real_pages: source dev set {name} ...", file=sys.stderr)
        gt, classes = to_model_classes(load_coco(folder / "annotations.json"), model.labels)
        if limit:
            gt = _first_images(gt, limit)
        results = predict(model, gt, folder / "images")
        max_dets = int(model.config.TEST.DETECTIONS_PER_IMAGE)
        bbox = coco_scores(gt, results, ("bbox",), classes=classes, max_dets=max_dets)["bbox"]
        scores[name] = {
            "pages": len(gt["images"]),
            "classes": classes,
            "regions_scored": len(restrict(gt, classes)["annotations"]),
            "AP50": bbox["AP50"],
            "per_class_AP50": {c: v["AP50"] for c, v in bbox["per_class"].items()},
        }
        samples[name] = (gt, results, folder / "images", classes)
    return scores, samples


def source_tables(entries: dict[str, Any]) -> str:
    """Markdown: one row per (model, dev set), AP50 per class."""
    rows = []
    for model, e in sorted(entries.items()):
        for name, sc in sorted(e["sets"].items()):
            row: dict[str, Any] = {
                "model": model,
                "dev set": name,
                "pages": sc["pages"],
                "regions": sc["regions_scored"],
                "AP50": _num(sc["AP50"]),
            }
            for c in PUBLAYNET_CLASSES if e["labels"] == list(PUBLAYNET_CLASSES) else e["labels"]:
                v = sc["per_class_AP50"].get(c)
                row[c] = _num(v) if c in sc["classes"] else "n/l"
            rows.append(row)
    return (
        "## dev sets of the training sources (bbox AP50, %, detections with score >= 0.05; "
        "n/l: class not labelled by the source)\n\n" + markdown_table(rows)
    )


def save_sources(
    entry: dict[str, Any], out_dir: Path, command: str, started: list[int] | None
) -> Path:
    """Add or replace this model's entry in ``real_pages_sources.json``; rewrite the Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{SOURCES_NAME}.json"
    data = (
        json.loads(path.read_text())
        if path.is_file()
        else {"benchmark": SOURCES_NAME, "models": {}}
    )
    entry = {k: v for k, v in entry.items() if not k.startswith("_")}
    entry["machine"] = machine_info(started)
    entry["command"] = command
    data["models"][entry["model"]] = entry
    path.write_text(json.dumps(_clean(data), indent=2) + "\n")
    body = source_tables(data["models"])
    header = (
        f"# {SOURCES_NAME}\n\nDev sets of `layoutft dataset build` (whole documents held out "
        "of training; see docs/training-data.md and `benchmarks/real_pages.py`).\n\n"
    )
    (out_dir / f"{SOURCES_NAME}.md").write_text(header + body)
    print(body)
    return path


def save_sheet(panels: Sequence[Any], path: Path, height: int = 900) -> str:
    """PIL page panels side by side at one ``height`` (10 px apart) saved to ``path``;
    returns its file name."""
    from PIL import Image

    scaled = [p.resize((max(1, round(p.width * height / p.height)), height)) for p in panels]
    sheet = Image.new(
        "RGB", (sum(p.width for p in scaled) + 10 * (len(scaled) - 1), height), "white"
    )
    x = 0
    for p in scaled:
        sheet.paste(p, (x, 0))
        x += p.width + 10
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path.name


def draw_sources(samples: dict[str, Any], threshold: float, out: Path) -> str:
    """A PNG with the first page of each dev set: its labelled classes' ground truth green,
    predictions of those classes red (score >= the parse threshold)."""
    from PIL import Image, ImageDraw

    panels = []
    for name, (gt, results, folder, classes) in sorted(samples.items()):
        img = sorted(gt["images"], key=lambda i: i["file_name"])[0]
        names = {c["id"]: c["name"] for c in gt["categories"]}
        with Image.open(folder / img["file_name"]) as im:
            page = im.convert("RGB")
        d = ImageDraw.Draw(page)
        width = max(2, page.width // 300)
        for a in gt["annotations"]:
            if a["image_id"] == img["id"] and names[a["category_id"]] in classes:
                x, y, w, h = a["bbox"]
                d.rectangle([x, y, x + w, y + h], outline=(0, 170, 0), width=width + 1)
        for r in results:
            if r["image_id"] == img["id"] and r["score"] >= threshold:
                label = names.get(r["category_id"], "?")
                if label in classes:
                    x, y, w, h = r["bbox"]
                    d.rectangle([x, y, x + w, y + h], outline=(220, 0, 0), width=width)
                    d.text((x + 4, y + 2), f"{label} {r['score']:.2f}", fill=(220, 0, 0))
        d.text((10, 10), f"{name} dev: {img['file_name']}", fill=(0, 0, 255))
        panels.append(page)
    return save_sheet(panels, out / f"{SOURCES_NAME}.png")


# --------------------------------------------------------------------------- output


def _num(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def tables(entries: dict[str, Any]) -> str:
    """Markdown: one table per set, one row per model."""
    pub, db, ic, lf = [], [], [], []
    for name, e in sorted(entries.items()):
        p = e["publaynet-20"]
        row: dict[str, Any] = {"model": name}
        for t in ("bbox", "segm"):
            if t in p:
                row[f"{t} AP50"], row[f"{t} AP"] = _num(p[t]["AP50"]), _num(p[t]["AP"])
        for c in PUBLAYNET_CLASSES:
            pc = p["bbox"]["per_class"].get(c, {})
            row[f"{c} AP50/AP"] = f"{_num(pc.get('AP50'))}/{_num(pc.get('AP'))}"
        pub.append(row)
        d = e["docbank-100"]["bbox"]
        drow: dict[str, Any] = {
            "model": name,
            "bbox AP50": _num(d["AP50"]),
            "bbox AP": _num(d["AP"]),
        }
        for c in PUBLAYNET_CLASSES:
            pc = d["per_class"].get(c, {})
            drow[f"{c} AP50/AP"] = f"{_num(pc.get('AP50'))}/{_num(pc.get('AP'))}"
        extra = e["docbank-100"].get("doclaynet_extra", {"per_class": {}})
        drow["caption/equation/footer AP50"] = "/".join(
            _num(extra["per_class"].get(c, {}).get("AP50"))
            for c in ("caption", "equation", "footer")
        )
        db.append(drow)
        i = e["icdar2013-tables"]
        ic.append(
            {
                "model": name,
                "tables": i["tables"],
                "predicted": i["predicted"],
                "matched": i["matched"],
                "precision": _num(100 * i["precision"]) + "%",
                "recall": _num(100 * i["recall"]) + "%",
                "parse s/page": f"{e['parse_s_per_page']:.2f}",
            }
        )
        for set_name in ("docbank-100/pdf", "icdar2013-tables"):
            c = e["label_free"][set_name]
            lf.append(
                {
                    "model": name,
                    "set": set_name,
                    "pages": c["pages"],
                    "regions": c["regions"],
                    "words in one region": _num(c["words_in_one_region_pct"]) + "%",
                    "duplicates": _num(c["duplicate_pct"]) + "%",
                    "overlapping": _num(c["overlap_pct"]) + "%",
                }
            )
    return (
        "## publaynet-20 (COCO AP, %, detections with score >= 0.05; a DocLayNet model "
        "through `--labels-view publaynet`, list items merged into lists)\n\n"
        + markdown_table(pub)
        + "\n## docbank-100 (bbox AP, %, the five PubLayNet classes; converted with "
        "docbank-publaynet; a DocLayNet model also on DocBank's caption, equation and footer "
        "regions: Caption, Formula, Footnote + Page-footer)\n\n"
        + markdown_table(db)
        + "\n## icdar2013-tables (table regions, IoU >= 0.5 in displayed PDF points; parse "
        "threshold)\n\n"
        + markdown_table(ic)
        + "\n## label-free checks on born-digital PDFs (parse output)\n\n"
        + markdown_table(lf)
        + _json_section(entries)
        + _cover_section(entries)
    )


def _cover_section(entries: dict[str, Any]) -> str:
    """Markdown: word coverage and accuracy with and without cover_words."""
    from benchmarks.real_pages_cover import cover_table

    table = cover_table(entries)
    if not table:
        return ""
    return (
        "\n## every word in a region (`--cover-words`, born-digital PDFs, parse defaults)\n\n"
        "Words: text-layer words whose centre lies in some region (in exactly one). "
        "docbank AP50/AP: the JSON (regions and alternatives) against DocBank's five "
        "PubLayNet classes (text-layer regions score 0: below COCO's 0.05); P/R/F1 at the "
        "parse threshold of the detected regions, and of all regions (text-layer ones "
        "included; DocBank's converted ground truth leaves out equations, references, "
        "captions and footers, where most of them fall). icdar: tables at IoU >= 0.5.\n\n" + table
    )


def _json_section(entries: dict[str, Any]) -> str:
    """Markdown: raw detections vs the parse JSON with/without alternatives."""
    from benchmarks.real_pages_json import json_table

    table = json_table(entries, ("publaynet-20", "docbank-100"))
    if not table:
        return ""
    return (
        "\n## parse JSON vs raw detections (bbox AP, %, score >= 0.05; P/R/F1 of the regions "
        "scored >= the parse threshold, IoU >= 0.5)\n\n"
        "`raw`: the model's detections; `json_alternatives`: `layoutft parse --score-threshold "
        "0.05 --format coco` (regions and their alternatives); `json`: the regions alone. "
        "F1 of `raw` counts every detection at the threshold (duplicates included).\n\n" + table
    )


def save(entry: dict[str, Any], out_dir: Path, command: str, started: list[int] | None) -> Path:
    """Add or replace this model's entry in ``real_pages.json``; rewrite the Markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{NAME}.json"
    data = json.loads(path.read_text()) if path.is_file() else {"benchmark": NAME, "models": {}}
    entry = {k: v for k, v in entry.items() if not k.startswith("_")}
    entry["machine"] = machine_info(started)
    entry["command"] = command
    data["models"][entry["model"]] = entry
    path.write_text(json.dumps(_clean(data), indent=2) + "\n")
    body = tables(data["models"])
    header = (
        f"# {NAME}\n\nReal pages from `../shared/real` (see `benchmarks/real_pages.py` for how "
        "each set is scored). One row per model; `python -m benchmarks.real_pages --weights "
        "NAME` adds a model.\n\n"
    )
    (out_dir / f"{NAME}.md").write_text(header + body)
    print(body)
    return path


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def draw_samples(entry: dict[str, Any], real: Path, out: Path) -> str:
    """A PNG with four pages: two PubLayNet pages, a DocBank page and an ICDAR table page;
    ground truth green, predictions red (score >= the parse threshold)."""
    from PIL import Image, ImageDraw

    samples = entry["_samples"]
    threshold = entry["label_free"]["score_threshold"]
    panels: list[Image.Image] = []

    def coco_panel(
        gt: dict[str, Any],
        results: list[dict[str, Any]],
        img: dict[str, Any],
        im: Image.Image,
        title: str,
    ) -> Image.Image:
        im = im.convert("RGB")
        d = ImageDraw.Draw(im)
        names = {c["id"]: c["name"] for c in gt["categories"]}
        for a in gt["annotations"]:
            if a["image_id"] == img["id"] and names[a["category_id"]] in PUBLAYNET_CLASSES:
                x, y, w, h = a["bbox"]
                d.rectangle([x, y, x + w, y + h], outline=(0, 170, 0), width=4)
        for r in results:
            if r["image_id"] == img["id"] and r["score"] >= threshold:
                x, y, w, h = r["bbox"]
                d.rectangle([x, y, x + w, y + h], outline=(220, 0, 0), width=3)
                d.text(
                    (x + 4, y + 2),
                    f"{names.get(r['category_id'], '?')} {r['score']:.2f}",
                    fill=(220, 0, 0),
                )
        d.text((10, 10), title, fill=(0, 0, 255))
        return im

    gt, results, folder = samples["publaynet"]
    for img in sorted(gt["images"], key=lambda i: i["file_name"])[:2]:
        with Image.open(folder / img["file_name"]) as im:
            panels.append(coco_panel(gt, results, img, im, f"publaynet-20 {img['file_name']}"))
    gt, results, pixels = samples["docbank"]
    img = sorted(gt["images"], key=lambda i: i["file_name"])[0]
    panels.append(coco_panel(gt, results, img, pixels[img["file_name"]], "docbank-100"))
    truths, parsed = samples["icdar"]
    for (doc, number), page in sorted(parsed.items()):
        alt = truths[doc][1][0] if truths[doc][1] else {}
        if number not in alt:
            continue
        import pymupdf

        with pymupdf.open(truths[doc][0]) as pdf:
            pix = pdf[number - 1].get_pixmap(dpi=100)
            im = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
        s = 100 / 72
        d = ImageDraw.Draw(im)
        for b in alt[number]:
            d.rectangle([v * s for v in b], outline=(0, 170, 0), width=4)
        for r in page.regions:
            color = (220, 0, 0) if r.label == "table" else (255, 150, 150)
            d.rectangle(
                [v * s for v in r.bbox_pt], outline=color, width=3 if r.label == "table" else 1
            )
            d.text(
                (r.bbox_pt[0] * s + 3, r.bbox_pt[1] * s + 2), f"{r.label} {r.score:.2f}", fill=color
            )
        d.text((10, 10), f"icdar2013 {doc} p{number}", fill=(0, 0, 255))
        panels.append(im)
        break
    return save_sheet(panels, out / f"{NAME}.png")


def main(argv: list[str] | None = None) -> int:
    started = cpu_times()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--weights", default=None, help="registry name or file (default: the bundled model)"
    )
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL, help="the real-pages folder")
    ap.add_argument(
        "--sources-dir",
        type=Path,
        default=Path(os.environ["LAYOUTFT_SOURCES"])
        if os.environ.get("LAYOUTFT_SOURCES")
        else None,
        help="folder of `layoutft dataset build` outputs, one per source (default: "
        "$LAYOUTFT_SOURCES); their dev sets are scored",
    )
    ap.add_argument("--only-sources", action="store_true", help="only the sources' dev sets")
    ap.add_argument("--sets", default=None, help="comma-separated source dev sets (default: all)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--max-pages", type=int, default=None, help="first N pages/PDFs per set")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = ap.parse_args(argv)
    sets = source_dev_sets(args.sources_dir)
    if args.sets:
        wanted = args.sets.split(",")
        sets = [(n, f) for n, f in sets if n in wanted]
    if args.sources_dir is not None and not sets:
        print(f"real_pages: no dev sets under {args.sources_dir}; sources skipped")
    if not args.only_sources:
        if not args.real.is_dir():
            print(f"real_pages: {args.real} not found; skipped (see benchmarks/README.md)")
        else:
            entry = run(args.real, args.weights, args.device, args.max_pages)
            entry["plot"] = draw_samples(entry, args.real, args.out)
            save(entry, args.out, command_line(NAME, argv), started)
    if sets:
        ap_model, parse_model = load_models(args.weights, args.device)
        scores, samples = run_sources(ap_model, sets, args.max_pages)
        sources_entry: dict[str, Any] = {
            "model": model_name(args.weights),
            "labels": list(ap_model.labels),
            "sets": scores,
        }
        sources_entry["plot"] = draw_sources(samples, _threshold(parse_model), args.out)
        save_sources(sources_entry, args.out, command_line(NAME, argv), started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
