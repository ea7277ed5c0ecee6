"""layoutft vs detectron2's ``DefaultPredictor``: same checkpoint, same pages, one process.

    python -m benchmarks.vs_detectron2                          # R50-FPN Mask R-CNN, 10 pages
    python -m benchmarks.vs_detectron2 --model narrow --pages 2 --rounds 1   # a quick check

Needs detectron2 importable (e.g. built from source on a developer machine); otherwise it
prints "detectron2 not importable; skipped" and writes a result saying so. Both libraries
load the same weights file and config; the pages are rendered once from a synthetic PDF.
detectron2 runs its usual loop (one ``DefaultPredictor`` call per page, BGR input), layoutft
``LayoutModel.predict`` as ``layoutft parse`` calls it: parse's pages per forward pass (one
on CPU; ``--batch-size`` sets it), RGB input and ``min_score`` set to the parse threshold
(``--min-score``, default 0.5: masks of detections parse would drop are not pasted); the
two alternate for ``--rounds`` rounds (order swapped each round) so background load hits
both alike.

Detections agree when every detectron2 detection scoring >= min_score + 0.02 has a layoutft
twin and every layoutft detection scoring >= min_score + 0.04 a detectron2 twin: same
class, box IoU >= 0.98, scores within 0.02 (the parity test's rule; the margins keep
detections whose twin sits just across the threshold out of the count). ``--min-score 0``
compares (and pastes) every detection.

Target: layoutft pages/s >= 1.5x detectron2's, with matching detections.
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

from benchmarks.common import command_line, save_results, target
from benchmarks.inputs import (
    MODELS,
    PARITY_DIR,
    PARITY_LABELS,
    load_model,
    render_images,
    synth_pdf,
)
from layoutft.geometry import pairwise_iou

NAME = "vs_detectron2"
TARGET_RATIO = 1.5
BOX_IOU, SCORE_TOL = 0.98, 0.02
SKIPPED = "detectron2 not importable; skipped"


def detectron2_available() -> bool:
    """True when ``detectron2.engine`` imports (a full build, not just the source tree)."""
    try:
        importlib.import_module("detectron2.engine")
    except Exception:
        return False
    return True


def unmatched(ref: dict[str, np.ndarray], other: dict[str, np.ndarray], floor: float) -> int:
    """How many detections of ``ref`` scoring >= ``floor`` have no twin in ``other``.

    Both are dicts of ``boxes`` [N, 4] XYXY pixels, ``scores`` [N], ``classes`` [N].
    """
    iou = pairwise_iou(ref["boxes"].reshape(-1, 4), other["boxes"].reshape(-1, 4))
    misses = 0
    for i in np.flatnonzero(ref["scores"] >= floor):
        twin = (
            (other["classes"] == ref["classes"][i])
            & (iou[i] >= BOX_IOU)
            & (np.abs(other["scores"] - ref["scores"][i]) <= SCORE_TOL)
        )
        misses += not twin.any()
    return misses


def agreement(
    d2: list[dict[str, np.ndarray]], ours: list[dict[str, np.ndarray]], min_score: float = 0.0
) -> dict[str, Any]:
    """Compare per-page detections of detectron2 and layoutft with the parity rule."""
    ref_min, ours_min = min_score + SCORE_TOL, min_score + 2 * SCORE_TOL
    missing = sum(unmatched(a, b, ref_min) for a, b in zip(d2, ours, strict=True))
    extra = sum(unmatched(b, a, ours_min) for a, b in zip(d2, ours, strict=True))
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

    from layoutft.checkpoint import export_detectron2
    from layoutft.predictor import LayoutModel

    base = load_model(name, "cpu")
    if name == "narrow":
        weights = PARITY_DIR / "model_final.pth"
    else:
        weights = work / f"{name}_d2.pth"
        export_detectron2(weights, base.model)
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
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Alternate the two libraries over ``images`` (RGB); rows per library and agreement."""
    bgr = [np.ascontiguousarray(im[:, :, ::-1]) for im in images]
    d2(bgr[0])
    ours.predict(images[:1], batch_size=1, format="RGB")
    seconds = {"detectron2": 0.0, "layoutft": 0.0}
    d2_out: list[dict[str, Any]] = []
    our_out: list[dict[str, Any]] = []

    def run_d2() -> None:
        out = [_d2_numpy(d2(im)) for im in bgr]
        d2_out[:] = out

    def run_ours() -> None:
        dets = ours.predict(images, batch_size=batch_size, format="RGB", min_score=min_score)
        our_out[:] = [_ours_numpy(d) for d in dets]

    for r in range(rounds):
        order = [("detectron2", run_d2), ("layoutft", run_ours)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            begin = time.perf_counter()
            fn()
            seconds[name] += time.perf_counter() - begin
    total = len(images) * rounds
    rows = [
        {
            "library": "detectron2 DefaultPredictor",
            "batch": 1,
            "pages": total,
            "seconds": seconds["detectron2"],
            "pages_per_s": total / seconds["detectron2"],
        },
        {
            "library": "layoutft LayoutModel.predict",
            "batch": batch_size or ours.default_batch_size,
            "pages": total,
            "seconds": seconds["layoutft"],
            "pages_per_s": total / seconds["layoutft"],
        },
    ]
    return rows, agreement(d2_out, our_out, min_score)


def check_target(rows: list[dict[str, Any]], agree: dict[str, Any]) -> dict[str, Any]:
    """PASS/FAIL: layoutft >= 1.5x detectron2 pages/s and the detections agree."""
    ratio = rows[1]["pages_per_s"] / rows[0]["pages_per_s"]
    detail = (
        f"{ratio:.2f}x ({rows[1]['pages_per_s']:.3f} vs {rows[0]['pages_per_s']:.3f} pages/s); "
        f"detections agree: {agree['agree']} ({agree['d2_without_twin']} detectron2 and "
        f"{agree['layoutft_without_twin']} layoutft detections without a twin)"
    )
    name = f"layoutft >= {TARGET_RATIO}x detectron2 pages/s with matching detections"
    return target(name, ratio >= TARGET_RATIO and agree["agree"], detail)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", choices=MODELS, default="r50")
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--dpi", type=float, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None, help="default: parse's (1 on CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--min-score", type=float, default=0.5, help="parse's threshold")
    args = ap.parse_args(argv)
    if not detectron2_available():
        print(SKIPPED, file=sys.stderr)
        name = f"layoutft >= {TARGET_RATIO}x detectron2 pages/s with matching detections"
        extra = {
            "command": command_line(NAME, argv),
            "status": SKIPPED,
            "targets": [target(name, None, SKIPPED)],
        }
        save_results(NAME, [], extra)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        images = render_images(synth_pdf(work / "doc.pdf", args.pages), args.dpi)
        ours, d2 = _models(args.model, args.device, work)
        rows, agree = compare(images, ours, d2, args.rounds, args.batch_size, args.min_score)
    extra = {
        "command": command_line(NAME, argv),
        "status": "measured",
        "model": args.model,
        "input": f"{args.pages} synthetic pages at {args.dpi:g} dpi, {args.rounds} rounds",
        "layoutft_min_score": args.min_score,
        "agreement": [agree],
        "targets": [check_target(rows, agree)],
    }
    save_results(NAME, rows, extra)


if __name__ == "__main__":
    main()
