"""Accuracy on synthetic pages: train the small CPU config, report bbox/segm AP on held-out pages.

    python -m benchmarks.accuracy                     # quick_cpu for its 600 iterations
    python -m benchmarks.accuracy --iters 20 --train-docs 4 --val-docs 2   # a quick check

Training pages and held-out pages are ``layoutft synth`` documents with different seeds
(no page is shared). Training runs through ``layoutft.engine.run.train`` (what ``layoutft
train`` runs) from scratch; the final checkpoint is evaluated with COCO AP
(``layoutft.engine.evaluation.evaluate_model``, pycocotools). A shorter ``--iters`` scales
the warm-up and LR steps of quick_cpu's schedule with it. The bundled model (a weights file
in ``layoutft/pretrained_data``), if there is one, is evaluated on the same held-out pages.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from benchmarks.common import command_line, save_plot, save_results
from benchmarks.inputs import QUICK_CONFIG, synth_dataset

NAME = "accuracy"
CONFIG_ITERS = 600  # quick_cpu's SOLVER.MAX_ITER: its schedule is used unchanged at this length
NO_BUNDLED = "no bundled model yet"
WEIGHT_SUFFIXES = (".pth", ".pt", ".pkl")


def schedule(iters: int) -> list[str]:
    """Config overrides for a quick_cpu run of ``iters`` iterations (final checkpoint only)."""
    pairs = ["SOLVER.MAX_ITER", str(iters), "SOLVER.CHECKPOINT_PERIOD", str(iters)]
    pairs += ["TEST.EVAL_PERIOD", "0", "LAYOUTFT.LOG_PERIOD", str(max(1, iters // 60))]
    if iters != CONFIG_ITERS:
        steps = (max(1, round(0.75 * iters)), max(1, round(0.917 * iters)))
        pairs += ["SOLVER.STEPS", str(steps), "SOLVER.WARMUP_ITERS", str(max(1, iters // 6))]
    return pairs


def bundled_weights() -> Path | None:
    """The weights file shipped in ``layoutft.pretrained_data``, or None."""
    root = resources.files("layoutft.pretrained_data")
    found = sorted(str(p) for p in root.iterdir() if p.name.endswith(WEIGHT_SUFFIXES))
    return Path(found[0]) if found else None


def evaluate(weights: Path, val_coco: Path, device: str) -> dict[str, float]:
    """bbox/segm AP, AP50, AP75 (percent) of a layoutft checkpoint on a COCO dataset."""
    from layoutft.data.coco import load_coco
    from layoutft.engine.evaluation import evaluate_model
    from layoutft.predictor import LayoutModel

    model = LayoutModel.from_checkpoint(weights, device=device)
    metrics = evaluate_model(model, load_coco(val_coco), val_coco.parent / "images")
    row = {}
    for iou_type in ("bbox", "segm"):
        for key in ("AP", "AP50", "AP75"):
            value = float(metrics.get(iou_type, {}).get(key, math.nan))
            row[f"{iou_type}_{key}"] = value
    return row


def train_and_evaluate(
    train_coco: Path,
    val_coco: Path,
    work: Path,
    iters: int,
    device: str = "cpu",
    overrides: Sequence[str] = (),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train quick_cpu from scratch for ``iters`` iterations; (result row, logged metrics).

    ``overrides``: extra ``KEY VALUE`` config pairs (tests shrink the input size).
    """
    from layoutft.engine.run import train
    from layoutft.engine.setup import TrainOptions

    out = work / "run"
    options = TrainOptions(
        config=str(QUICK_CONFIG),
        train=train_coco,
        output=out,
        weights="none",
        device=device,
        overrides=[*schedule(iters), *overrides],
        progress=False,
    )
    begin = time.perf_counter()
    train(options)
    seconds = time.perf_counter() - begin
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    row: dict[str, Any] = {"model": "quick_cpu (trained here)", "iters": iters}
    row.update(evaluate(out / "model_final.pth", val_coco, device))
    row["train_s"] = seconds
    return row, [r for r in log if "total_loss" in r]


def _plot(log: list[dict[str, Any]]) -> str:
    def draw(plt: Any) -> None:
        plt.figure(figsize=(7, 4))
        its = [r["iteration"] + 1 for r in log]
        plt.plot(its, [r["total_loss"] for r in log], label="total_loss")
        for key in ("loss_cls", "loss_box_reg", "loss_mask"):
            if log and key in log[0]:
                plt.plot(its, [r[key] for r in log], label=key, alpha=0.7)
        plt.xlabel("iteration")
        plt.ylabel("loss (median per logging period)")
        plt.title("quick_cpu on synthetic pages")
        plt.legend()

    return save_plot(NAME, draw)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--iters", type=int, default=CONFIG_ITERS)
    ap.add_argument("--train-docs", type=int, default=30, help="2 pages each")
    ap.add_argument("--val-docs", type=int, default=10, help="2 pages each, held out")
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("accuracy: generating synthetic pages ...", file=sys.stderr)
        train_coco = synth_dataset(work / "train", args.train_docs, 2, args.dpi, seed=1)
        val_coco = synth_dataset(work / "val", args.val_docs, 2, args.dpi, seed=2)
        print(f"accuracy: training quick_cpu for {args.iters} iterations ...", file=sys.stderr)
        row, log = train_and_evaluate(train_coco, val_coco, work, args.iters, args.device)
        rows = [row]
        bundled = bundled_weights()
        if bundled is not None:
            rows.append(
                {
                    "model": f"bundled ({bundled.name})",
                    "iters": 0,
                    **evaluate(bundled, val_coco, args.device),
                    "train_s": 0.0,
                }
            )
    extra = {
        "command": command_line(NAME, argv),
        "data": f"train {2 * args.train_docs} / held-out {2 * args.val_docs} synthetic pages "
        f"at {args.dpi} dpi (seeds 1 / 2)",
        "bundled_model": bundled.name if bundled is not None else NO_BUNDLED,
        "plot": _plot(log),
    }
    save_results(NAME, rows, extra)


if __name__ == "__main__":
    main()
