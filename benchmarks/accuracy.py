"""Accuracy on synthetic pages: train the small CPU recipe from scratch, report bbox/segm AP.

    python -m benchmarks.accuracy                     # synth_scratch's 800 iterations, ~35 min
    python -m benchmarks.accuracy --iters 20 --train-docs 4 --val-docs 2   # a quick check

The recipe is ``configs/synth_scratch.yaml``: quick_cpu (the narrow R50-FPN Mask R-CNN) at
a ~350 px input (the bundled model's ``bundled_synth.yaml``) with 4 pages per iteration, 800
iterations, from scratch. Training pages (40 documents x 3 pages, seed 1) and held-out pages
(8 x 2, seed 2) are ``layoutft synth`` documents at 150 dpi (no page is shared): the data of
the bundled model's card. Training runs through ``layoutft.engine.run.train`` (what
``layoutft train`` runs); the final checkpoint is evaluated with COCO AP
(``layoutft.engine.evaluation.evaluate_model``, pycocotools, percent). ``--iters N`` scales
warm-up and LR steps with it; ``--output DIR`` keeps the run (checkpoints, metrics). The
bundled model (a weights file in ``layoutft/pretrained_data``) is evaluated on the same
held-out pages.

Target (issue #5): bbox AP50 >= 70 on the held-out pages after a few hundred iterations.
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

from benchmarks.common import command_line, cpu_times, save_plot, save_results, target
from benchmarks.inputs import ROOT, synth_dataset

NAME = "accuracy"
CONFIG = ROOT / "configs" / "synth_scratch.yaml"
TARGET_AP50 = 70.0
NO_BUNDLED = "no bundled model yet"
WEIGHT_SUFFIXES = (".pth", ".pt", ".pkl")


def schedule(iters: int | None) -> list[str]:
    """Config overrides for a run of ``iters`` iterations (None: the config's own schedule)."""
    if iters is None:
        return ["TEST.EVAL_PERIOD", "0"]
    pairs = ["SOLVER.MAX_ITER", str(iters), "SOLVER.CHECKPOINT_PERIOD", str(iters)]
    pairs += ["TEST.EVAL_PERIOD", "0", "LAYOUTFT.LOG_PERIOD", str(max(1, iters // 60))]
    steps = (max(1, round(0.75 * iters)), max(1, round(0.933 * iters)))
    return [*pairs, "SOLVER.STEPS", str(steps), "SOLVER.WARMUP_ITERS", str(max(1, iters // 20))]


def bundled_weights() -> Path | None:
    """The weights file shipped in ``layoutft.pretrained_data``, or None."""
    root = resources.files("layoutft.pretrained_data")
    found = sorted(str(p) for p in root.iterdir() if p.name.endswith(WEIGHT_SUFFIXES))
    return Path(found[0]) if found else None


def evaluate(weights: Path, val_coco: Path, device: str) -> dict[str, float]:
    """bbox/segm AP, AP50, AP75 (percent) of a layoutft checkpoint on a COCO dataset."""
    from layoutft.data.coco import load_coco
    from layoutft.engine.evaluation import evaluate_model
    from layoutft.model import LayoutModel

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
    iters: int | None,
    device: str = "cpu",
    overrides: Sequence[str] = (),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train the recipe from scratch (``iters`` None: its own schedule); (row, logged metrics).

    ``overrides``: extra ``KEY VALUE`` config pairs (tests shrink the input size).
    """
    from layoutft.engine.run import train
    from layoutft.engine.setup import TrainOptions

    out = work / "run"
    options = TrainOptions(
        config=str(CONFIG),
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
    done = [r["iteration"] + 1 for r in log if "total_loss" in r]
    row: dict[str, Any] = {"model": f"{CONFIG.stem} (trained here)", "iters": max(done, default=0)}
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
        plt.title(f"{CONFIG.stem} on synthetic pages (from scratch)")
        plt.legend()

    return save_plot(NAME, draw)


def check_target(row: dict[str, Any]) -> dict[str, Any]:
    """PASS/FAIL: the recipe's bbox AP50 on held-out pages >= 70."""
    ap50 = float(row["bbox_AP50"])
    detail = f"bbox AP50 {ap50:.1f} after {row['iters']} iterations"
    return target(f"bbox AP50 >= {TARGET_AP50:g} on held-out pages", ap50 >= TARGET_AP50, detail)


def main(argv: list[str] | None = None) -> None:
    started = cpu_times()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--iters", type=int, default=None, help="default: the config's 800")
    ap.add_argument("--train-docs", type=int, default=40, help="training documents")
    ap.add_argument("--pages", type=int, default=3, help="pages per training document")
    ap.add_argument("--val-docs", type=int, default=8, help="held-out documents, 2 pages each")
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--output", type=Path, default=None, help="keep the run here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) if args.output is None else args.output
        print("accuracy: generating synthetic pages ...", file=sys.stderr)
        train_coco = synth_dataset(work / "train", args.train_docs, args.pages, args.dpi, seed=1)
        val_coco = synth_dataset(work / "val", args.val_docs, 2, args.dpi, seed=2)
        print(f"accuracy: training {CONFIG.stem} from scratch ...", file=sys.stderr)
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
        "data": f"train {args.train_docs * args.pages} / held-out {2 * args.val_docs} synthetic "
        f"pages at {args.dpi} dpi (seeds 1 / 2)",
        "config": f"configs/{CONFIG.name} (quick_cpu at ~350 px, 4 pages/iteration, from scratch)",
        "bundled_model": bundled.name if bundled is not None else NO_BUNDLED,
        "plot": _plot(log),
        "targets": [check_target(row)],
    }
    save_results(NAME, rows, extra, started=started)


if __name__ == "__main__":
    main()
