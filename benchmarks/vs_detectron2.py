"""layoutft vs detectron2's ``DefaultPredictor``: same checkpoint, same pages, one process.

    python -m benchmarks.vs_detectron2                          # R50-FPN Mask R-CNN, 10 pages
    python -m benchmarks.vs_detectron2 --model narrow --rounds 4  # the trained parity model
    python -m benchmarks.vs_detectron2 --model narrow --rounds 4 --workers default --precision fp32
    python -m benchmarks.vs_detectron2 --model narrow --pages 2 --rounds 1   # a quick check

Needs detectron2 importable (e.g. built from source on a developer machine); otherwise it
prints "detectron2 not importable; skipped" and writes a result saying so. Both libraries
load the same weights file and config; the pages are rendered once from a synthetic PDF.
detectron2 runs its usual loop (one ``DefaultPredictor`` call per page, BGR input), layoutft
``LayoutModel.predict`` as ``layoutft parse`` calls it: parse's pages per forward pass (one
on CPU; ``--batch-size`` sets it), RGB input and ``min_score`` set to the parse threshold
(``--min-score``, default 0.5: masks of detections parse would drop are not pasted); the
libraries take turns every two pages (what parse hands ``predict`` at once), the order
rotating each turn, for ``--rounds`` rounds, so background load hits both alike.

``--precision fp32,bf16`` and ``--workers 1,default`` (the defaults) time layoutft once per
pair, all alternating with detectron2: fp32 gives detectron2's numbers, bf16 runs the
backbone and RPN head convolutions in bfloat16 (AMX on recent Xeons); ``default`` is parse's
choice of pages in flight (2 on a multi-core CPU), 1 is one page at a time.

Detections agree when every detectron2 detection scoring >= min_score + 0.02 has a layoutft
twin and every layoutft detection scoring >= min_score + 0.04 a detectron2 twin: same
class, box IoU >= 0.98, scores within 0.02 (the parity test's rule; the margins keep
detections whose twin sits just across the threshold out of the count). The looser "close"
rule (IoU >= 0.9, scores within 0.06) is reported too: it is what bf16 promises.
``--min-score 0`` compares (and pastes) every detection.

Target: layoutft pages/s >= 1.5x detectron2's, with matching detections (the strict rule),
checked for each contender.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import command_line, cpu_times, save_results, target
from benchmarks.inputs import (
    MODELS,
    PARITY_DIR,
    PARITY_LABELS,
    load_model,
    render_images,
    synth_pdf,
)
from layoutft.geometry import pairwise_iou
from layoutft.parsing.options import resolve_workers

NAME = "vs_detectron2"
TARGET_RATIO = 1.5
BOX_IOU, SCORE_TOL = 0.98, 0.02
CLOSE_IOU, CLOSE_SCORE_TOL = 0.9, 0.06
SKIPPED = "detectron2 not importable; skipped"


def detectron2_available() -> bool:
    """True when ``detectron2.engine`` imports (a full build, not just the source tree)."""
    try:
        importlib.import_module("detectron2.engine")
    except Exception:
        return False
    return True


def unmatched(
    ref: dict[str, np.ndarray],
    other: dict[str, np.ndarray],
    floor: float,
    box_iou: float = BOX_IOU,
    score_tol: float = SCORE_TOL,
) -> int:
    """How many detections of ``ref`` scoring >= ``floor`` have no twin in ``other``: same
    class, IoU >= ``box_iou``, score within ``score_tol``.

    Both are dicts of ``boxes`` [N, 4] XYXY pixels, ``scores`` [N], ``classes`` [N].
    """
    iou = pairwise_iou(ref["boxes"].reshape(-1, 4), other["boxes"].reshape(-1, 4))
    misses = 0
    for i in np.flatnonzero(ref["scores"] >= floor):
        twin = (
            (other["classes"] == ref["classes"][i])
            & (iou[i] >= box_iou)
            & (np.abs(other["scores"] - ref["scores"][i]) <= score_tol)
        )
        misses += not twin.any()
    return misses


def agreement(
    d2: list[dict[str, np.ndarray]],
    ours: list[dict[str, np.ndarray]],
    min_score: float = 0.0,
    box_iou: float = BOX_IOU,
    score_tol: float = SCORE_TOL,
) -> dict[str, Any]:
    """Compare per-page detections of detectron2 and layoutft (default: the parity rule)."""
    ref_min, ours_min = min_score + SCORE_TOL, min_score + 2 * SCORE_TOL
    pairs = list(zip(d2, ours, strict=True))
    missing = sum(unmatched(a, b, ref_min, box_iou, score_tol) for a, b in pairs)
    extra = sum(unmatched(b, a, ours_min, box_iou, score_tol) for a, b in pairs)
    return {
        "pages": len(d2),
        "compared_from_score": ref_min,
        "d2_detections": int(sum((p["scores"] >= ref_min).sum() for p in d2)),
        "layoutft_detections": int(sum((p["scores"] >= ours_min).sum() for p in ours)),
        "d2_without_twin": int(missing),
        "layoutft_without_twin": int(extra),
        "agree": missing == 0 and extra == 0,
    }


def _d2_config(layoutft_cfg: Any, weights: Path, device: str, work: Path) -> Any:
    """detectron2's CfgNode for the same model: layoutft's resolved config, d2 keys only."""
    import yaml
    from detectron2.config import get_cfg

    cfg = get_cfg()

    def known(values: dict[str, Any], node: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key not in node:
                continue  # layoutft's own keys (LAYOUTFT.*) mean nothing to detectron2
            if isinstance(value, dict):
                out[key] = known(value, node[key])
            else:
                out[key] = list(value) if isinstance(value, tuple) else value
        return out

    path = work / "d2_config.yaml"
    path.write_text(yaml.safe_dump(known(layoutft_cfg.to_dict(), cfg)))
    cfg.merge_from_file(str(path))
    cfg.MODEL.WEIGHTS = str(weights)
    cfg.MODEL.DEVICE = device
    cfg.freeze()
    return cfg


def _models(name: str, device: str, work: Path) -> tuple[Any, Any]:
    """(layoutft LayoutModel, detectron2 DefaultPredictor) with the same weights file."""
    from detectron2.engine import DefaultPredictor

    from layoutft.checkpoint import save_detectron2
    from layoutft.model import LayoutModel

    base = load_model(name, "cpu")
    if name == "narrow":
        weights = PARITY_DIR / "model_final.pth"
    else:
        weights = work / f"{name}_d2.pth"
        save_detectron2(weights, base.model)
    ours = LayoutModel.from_checkpoint(
        weights, config=base.config, device=device, labels=base.labels or PARITY_LABELS
    )
    return ours, DefaultPredictor(_d2_config(base.config, weights, device, work))


def _d2_numpy(output: dict[str, Any]) -> dict[str, np.ndarray]:
    inst = output["instances"].to("cpu")
    return {
        "boxes": inst.pred_boxes.tensor.numpy(),
        "scores": inst.scores.numpy(),
        "classes": inst.pred_classes.numpy(),
    }


def _ours_numpy(det: Any) -> dict[str, np.ndarray]:
    return {"boxes": det.boxes, "scores": det.scores, "classes": det.classes}


def compare(
    images: list[np.ndarray],
    ours: Any,
    d2: Any,
    rounds: int,
    batch_size: int | None,
    min_score: float = 0.0,
    contenders: tuple[tuple[str, int | None], ...] = (("fp32", None),),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Alternate detectron2 and layoutft (once per (precision, workers) contender) over
    ``images`` (RGB); workers None is predict's default.

    The libraries take turns on every few pages (as many as parse hands ``predict`` at once,
    the largest over the contenders), the order rotating each turn, so bursts of load on a
    shared machine (steal time of 40% for a minute or two here) hit every contender alike.

    Returns one row per contender (detectron2 first) and, per layoutft contender, the
    agreement with detectron2 under the strict and the close rule.
    """
    bgr = [np.ascontiguousarray(im[:, :, ::-1]) for im in images]
    names = ["detectron2", *contenders]
    d2(bgr[0])
    for precision, workers in contenders:
        ours.predict(images[:2], batch_size, "RGB", min_score, precision, workers)
    batch = batch_size or ours.default_batch_size
    resolved = {
        name: resolve_workers(name[1], batch, ours.device.type, ours.default_workers)
        for name in contenders
    }
    step = max(batch * w for w in resolved.values())
    chunks = [slice(i, i + step) for i in range(0, len(images), step)]
    seconds: dict[Any, float] = dict.fromkeys(names, 0.0)
    outputs: dict[Any, list[dict[str, np.ndarray]]] = {name: [] for name in names}

    def run(name: Any, pages: slice) -> list[dict[str, np.ndarray]]:
        if name == "detectron2":
            return [_d2_numpy(d2(im)) for im in bgr[pages]]
        precision, workers = name
        dets = ours.predict(images[pages], batch_size, "RGB", min_score, precision, workers)
        return [_ours_numpy(d) for d in dets]

    turn = 0
    for r in range(rounds):
        for pages in chunks:
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                begin = time.perf_counter()
                out = run(name, pages)
                seconds[name] += time.perf_counter() - begin
                if r == rounds - 1:
                    outputs[name].extend(out)
            turn += 1
    total = len(images) * rounds
    rows = [
        {
            "library": "detectron2 DefaultPredictor",
            "precision": "fp32",
            "batch": 1,
            "workers": 1,
            "pages": total,
            "seconds": seconds["detectron2"],
            "pages_per_s": total / seconds["detectron2"],
            "vs_detectron2": 1.0,
        }
    ]
    agreements = []
    for name in contenders:
        precision, workers = name[0], resolved[name]
        rows.append(
            {
                "library": "layoutft LayoutModel.predict",
                "precision": precision,
                "batch": batch,
                "workers": workers,
                "pages": total,
                "seconds": seconds[name],
                "pages_per_s": total / seconds[name],
                "vs_detectron2": seconds["detectron2"] / seconds[name],
            }
        )
        strict = agreement(outputs["detectron2"], outputs[name], min_score)
        close = agreement(
            outputs["detectron2"], outputs[name], min_score, CLOSE_IOU, CLOSE_SCORE_TOL
        )
        agreements.append(
            {
                "precision": precision,
                "workers": workers,
                **strict,
                "close_d2_without_twin": close["d2_without_twin"],
                "close_layoutft_without_twin": close["layoutft_without_twin"],
                "close": close["agree"],
            }
        )
    return rows, agreements


def check_target(
    d2_row: dict[str, Any], row: dict[str, Any], agree: dict[str, Any]
) -> dict[str, Any]:
    """PASS/FAIL for one layoutft row: >= 1.5x detectron2 pages/s, detections agree."""
    ratio = row["pages_per_s"] / d2_row["pages_per_s"]
    detail = (
        f"{ratio:.2f}x ({row['pages_per_s']:.3f} vs {d2_row['pages_per_s']:.3f} pages/s); "
        f"detections agree: {agree['agree']} ({agree['d2_without_twin']} detectron2 and "
        f"{agree['layoutft_without_twin']} layoutft detections without a twin of "
        f"{agree['d2_detections']}; close rule: {agree['close_d2_without_twin']} and "
        f"{agree['close_layoutft_without_twin']})"
    )
    name = (
        f"layoutft {row['precision']} workers {row['workers']} >= {TARGET_RATIO}x "
        "detectron2 pages/s with matching detections"
    )
    return target(name, ratio >= TARGET_RATIO and agree["agree"], detail)


def _contenders(precisions: str, workers: str) -> tuple[tuple[str, int | None], ...]:
    """Every (precision, workers) pair of two comma-separated lists; 'default' is None."""

    def items(text: str) -> list[str]:
        return [t.strip() for t in text.split(",") if t.strip()]

    counts = [None if w == "default" else int(w) for w in items(workers)]
    return tuple((p, w) for p in items(precisions) for w in counts)


def main(argv: list[str] | None = None) -> None:
    started = cpu_times()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", choices=MODELS, default="r50")
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--dpi", type=float, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None, help="default: parse's (1 on CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--min-score", type=float, default=0.5, help="parse's threshold")
    ap.add_argument("--precision", default="fp32,bf16", help="layoutft precisions to time")
    ap.add_argument(
        "--workers",
        default="1,default",
        help="layoutft pages at once (CPU): numbers or 'default' (predict's choice)",
    )
    args = ap.parse_args(argv)
    contenders = _contenders(args.precision, args.workers)
    result_name = NAME if args.model == "r50" else f"{NAME}_{args.model}"
    if not detectron2_available():
        print(SKIPPED, file=sys.stderr)
        goal = f"layoutft >= {TARGET_RATIO}x detectron2 pages/s with matching detections"
        extra = {
            "command": command_line(NAME, argv),
            "status": SKIPPED,
            "targets": [target(goal, None, SKIPPED)],
        }
        save_results(result_name, [], extra, started=started)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        images = render_images(synth_pdf(work / "doc.pdf", args.pages), args.dpi)
        ours, d2 = _models(args.model, args.device, work)
        rows, agree = compare(
            images, ours, d2, args.rounds, args.batch_size, args.min_score, contenders
        )
    extra = {
        "command": command_line(NAME, argv),
        "status": "measured",
        "model": args.model,
        "input": f"{args.pages} synthetic pages at {args.dpi:g} dpi, {args.rounds} rounds",
        "layoutft_min_score": args.min_score,
        "agreement": agree,
        "targets": [check_target(rows[0], row, a) for row, a in zip(rows[1:], agree, strict=True)],
    }
    save_results(result_name, rows, extra, started=started)


if __name__ == "__main__":
    main()
