"""COCO evaluation with pycocotools: bbox and segm AP, per-class AP, results files.

Metrics are percentages in [0, 100], as detectron2 reports them (pycocotools' fractions
x 100): ``AP`` (IoU .50:.95), ``AP50``, ``AP75``, ``APs``/``APm``/``APl``, ``per_class``
{label: AP} and ``per_class_AP50`` {label: AP50}. A metric pycocotools cannot compute (no
ground truth of that size or class) is NaN, written as null in JSON. AP counts up to
``max_dets`` detections per image (default 100, like COCO; dense pages may need more).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from layoutft.errors import DatasetError

if TYPE_CHECKING:
    from layoutft.model import Detections, LayoutModel

SUMMARY_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
#: Per-class columns of :func:`format_table`: (heading, metrics key).
_PER_CLASS = (("AP50", "per_class_AP50"), ("AP", "per_class"))
IOU_TYPES = ("bbox", "segm")


def category_map(
    model_labels: Sequence[str],
    categories: list[dict[str, Any]],
    aliases: Mapping[str, str] | None = None,
) -> dict[int, int]:
    """Model class index -> COCO category id, by label name.

    ``aliases`` maps a model label to the dataset category that scores it (e.g. DocLayNet's
    Caption -> PubLayNet's text); labels without an alias match by their own name.
    Falls back to index order when no name matches but the counts agree (models with
    generic ``class_i`` names). Classes absent from the dataset are left out.
    """
    by_name = {str(c["name"]): int(c["id"]) for c in categories}
    named = [(aliases or {}).get(n, n) for n in model_labels]
    mapping = {i: by_name[n] for i, n in enumerate(named) if n in by_name}
    if mapping:
        return mapping
    cats = sorted(categories, key=lambda c: c["id"])
    if len(cats) == len(model_labels):
        return {i: int(c["id"]) for i, c in enumerate(cats)}
    raise DatasetError(
        f"no model label {list(model_labels)} matches a dataset category "
        f"{[c['name'] for c in cats]}; evaluate with a model trained on these classes"
    )


def to_coco_results(
    image_id: int,
    det: Detections,
    cat_ids: dict[int, int],
    size: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """COCO result records of one image (bbox XYWH; RLE ``segmentation`` when masks exist).

    ``size`` (height, width) of the COCO record, when the image file's size differs:
    boxes and masks are scaled to it.
    """
    from pycocotools import mask as mask_util

    out = []
    h, w = det.image_size
    sx, sy = (1.0, 1.0) if size is None else (size[1] / w, size[0] / h)
    for i in range(len(det)):
        cls = int(det.classes[i])
        if cls not in cat_ids:
            continue
        x0, y0, x1, y1 = (float(v) for v in det.boxes[i])
        rec: dict[str, Any] = {
            "image_id": image_id,
            "category_id": cat_ids[cls],
            "bbox": [x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy],
            "score": float(det.scores[i]),
        }
        if det.masks is not None:
            rle = mask_util.encode(np.asfortranarray(_resized_mask(det.masks[i], size)))
            rle["counts"] = rle["counts"].decode("ascii")
            rec["segmentation"] = rle
        out.append(rec)
    return out


def _resized_mask(mask: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """uint8 mask, resized (nearest) to ``size`` (h, w) when given and different."""
    m = mask.astype(np.uint8)
    if size is None or tuple(m.shape) == tuple(size):
        return m
    from PIL import Image

    return np.asarray(Image.fromarray(m).resize((size[1], size[0]), Image.Resampling.NEAREST))


def _with_defaults(gt: dict[str, Any]) -> dict[str, Any]:
    """A copy of the ground truth with what pycocotools needs (area, iscrowd, segmentation)."""
    anns = []
    for ann in gt["annotations"]:
        a = dict(ann)
        x, y, w, h = (float(v) for v in a["bbox"])
        a.setdefault("iscrowd", 0)
        a.setdefault("area", w * h)
        if not a.get("segmentation"):  # box-only annotations: the rectangle is the shape
            a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
        anns.append(a)
    return {**gt, "annotations": anns, "images": list(gt["images"]), "info": gt.get("info", {})}


def evaluate_coco(
    gt: dict[str, Any],
    results: list[dict[str, Any]],
    iou_types: Sequence[str] = ("bbox", "segm"),
    *,
    max_dets: int = 100,
) -> dict[str, dict[str, Any]]:
    """pycocotools COCOeval per IoU type -> {type: {AP.., per_class: {name: AP},
    per_class_AP50: {name: AP50}}}."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = _with_defaults(gt)
        coco_gt.createIndex()
    cats = sorted(gt["categories"], key=lambda c: c["id"])
    out: dict[str, dict[str, Any]] = {}
    for iou_type in iou_types:
        subset = [r for r in results if iou_type == "bbox" or "segmentation" in r]
        if not subset:  # pycocotools cannot load empty results: nothing detected = AP 0
            out[iou_type] = _empty(cats, gt)
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes([dict(r) for r in subset])
            ev = COCOeval(coco_gt, coco_dt, iou_type)
            ev.params.maxDets = [1, 10, max(100, max_dets)]
            ev.evaluate()
            ev.accumulate()
        # [T IoUs .50:.95, R recalls, K classes, A areas all/s/m/l, M maxDets], -1 = undefined;
        # summarised here because COCOeval.summarize hard-codes 100 detections for AP
        precision = ev.eval["precision"][..., -1]
        metrics: dict[str, Any] = {
            "AP": _mean(precision[:, :, :, 0]),
            "AP50": _mean(precision[0, :, :, 0]),
            "AP75": _mean(precision[5, :, :, 0]),
            "APs": _mean(precision[:, :, :, 1]),
            "APm": _mean(precision[:, :, :, 2]),
            "APl": _mean(precision[:, :, :, 3]),
        }
        metrics["per_class"] = {
            str(cat["name"]): _mean(precision[:, :, k, 0]) for k, cat in enumerate(cats)
        }
        metrics["per_class_AP50"] = {
            str(cat["name"]): _mean(precision[0, :, k, 0]) for k, cat in enumerate(cats)
        }
        out[iou_type] = metrics
    return out


def _mean(precision: np.ndarray) -> float:
    """Mean of the defined precision values in percent (pycocotools marks undefined ones -1).

    NaN when none is defined.
    """
    defined = precision[precision > -1]
    return 100.0 * float(defined.mean()) if defined.size else math.nan


def _empty(cats: list[dict[str, Any]], gt: dict[str, Any]) -> dict[str, Any]:
    present = {a["category_id"] for a in gt["annotations"]}
    metrics: dict[str, Any] = {k: 0.0 if present else math.nan for k in SUMMARY_KEYS}
    metrics["per_class"] = {str(c["name"]): 0.0 if c["id"] in present else math.nan for c in cats}
    metrics["per_class_AP50"] = dict(metrics["per_class"])
    return metrics


def predict_dataset(
    model: LayoutModel,
    gt: dict[str, Any],
    images_dir: Path,
    *,
    batch_size: int | None = None,
    progress: bool = False,
    aliases: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Run ``model.predict`` on every image of a COCO dict; return COCO result records.

    ``batch_size``: images per forward pass; None: the model's default (one page per pass,
    two in flight, on a multi-core CPU; 4 on a GPU). ``aliases``: see :func:`category_map`.
    """
    from tqdm import tqdm

    from layoutft.data.loader import read_rgb

    cat_ids = category_map(model.labels, gt["categories"], aliases)
    images = gt["images"]
    results: list[dict[str, Any]] = []
    bar = tqdm(total=len(images), desc="eval", unit="img", disable=not progress, leave=False)
    per_call = batch_size or 4  # images read and handed to predict at once
    for start in range(0, len(images), per_call):
        chunk = images[start : start + per_call]
        pixels = [read_rgb(images_dir / img["file_name"]) for img in chunk]
        dets = model.predict(pixels, batch_size=batch_size, format="RGB")
        for img, det in zip(chunk, dets, strict=True):
            size = (int(img["height"]), int(img["width"]))
            results += to_coco_results(int(img["id"]), det, cat_ids, size)
        bar.update(len(chunk))
    bar.close()
    return results


def format_table(metrics: dict[str, dict[str, Any]]) -> str:
    """Plain-text tables: summary AP per IoU type, per-class AP50 and AP (percent), document
    checks."""

    def pct(v: float) -> str:
        return "    -" if math.isnan(v) else f"{v:5.1f}"

    ap = {k: m for k, m in metrics.items() if k in IOU_TYPES}
    lines = []
    for iou_type, m in ap.items():
        lines.append(f"{iou_type}:  " + "  ".join(f"{k} {pct(m[k])}" for k in SUMMARY_KEYS))
    names = list(next(iter(ap.values()))["per_class"]) if ap else []
    if names:
        width = max(len(n) for n in names)
        columns = [(f"{t} {k}", m[key]) for t, m in ap.items() for k, key in _PER_CLASS]
        lines.append(f"{'class':<{width}}  " + "  ".join(f"{c:>9}" for c, _ in columns))
        for n in names:
            cells = (f"{pct(values.get(n, math.nan)):>9}" for _, values in columns)
            lines.append(f"{n:<{width}}  " + "  ".join(cells))
    doc = metrics.get("document")
    if doc:
        lines.append(
            f"regions (score >= {doc['score_threshold']:g}): {doc['regions']}, "
            f"duplicates {pct(doc['duplicate_pct']).strip()}%, "
            f"overlapping {pct(doc['overlap_pct']).strip()}%"
        )
        if doc["words"]:
            lines.append(
                f"words on {doc['text_layer_pages']} PDF pages: {doc['words']}, in one region "
                f"{pct(doc['words_in_one_region_pct']).strip()}%, in none "
                f"{pct(doc['words_in_no_region_pct']).strip()}%, in several "
                f"{pct(doc['words_in_several_regions_pct']).strip()}%"
            )
        if doc["missing_pdfs"]:
            lines.append(
                f"{doc['missing_pdfs']} page(s) name a PDF that was not found: no word coverage "
                "for them (pass the PDF folder with --pdfs)"
            )
    return "\n".join(lines)


def write_json_nan_safe(path: Path, data: Any) -> None:
    """Atomic JSON write with NaN written as null (strict JSON readers reject NaN)."""
    from layoutft.data.coco import write_json

    def clean(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    write_json(path, clean(data))


def evaluate_model(
    model: LayoutModel,
    gt: dict[str, Any],
    images_dir: Path,
    *,
    pdf_folders: Sequence[Path] = (),
    results_path: Path | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Predict and evaluate: bbox (plus segm for mask models) AP and document checks.

    Returns ``{"bbox": {...}, "segm": {...}, "document": {...}}`` (percentages; see
    :func:`evaluate_coco` and :mod:`layoutft.engine.layout_checks`, whose checks use the
    model's parse threshold and look for PDFs in ``pdf_folders``). ``results_path``: where
    to save the COCO result records (predictions), when given.
    """
    from layoutft.engine.layout_checks import document_checks

    results = predict_dataset(model, gt, images_dir, batch_size=batch_size, progress=progress)
    types = IOU_TYPES if bool(model.config.MODEL.MASK_ON) else ("bbox",)
    max_dets = int(model.config.TEST.DETECTIONS_PER_IMAGE)
    metrics = evaluate_coco(gt, results, types, max_dets=max_dets)
    threshold = model.default_score_threshold
    metrics["document"] = document_checks(gt, results, pdf_folders, threshold)
    if results_path is not None:
        write_json_nan_safe(results_path, results)
    return metrics
