"""What a larger input costs: finetune_cpu's CPU seconds per iteration against pixels per page.

    python -m benchmarks.input_cost --coco forms/annotations.json
    python -m benchmarks.input_cost --coco ... --sizes 448,640 --iters 2   # a quick check

Trains ``configs/finetune_cpu.yaml`` (from random weights: the cost is the same as from the
bundled model) with layoutft's own loop at each short edge of ``--sizes`` (one scale, the
long side capped at 2x), 2 pages per iteration, one thread, and records the **CPU time** of
the training process per iteration (``time.process_time``; data loading runs in a worker
process and is not counted). CPU time, unlike wall time, hardly changes when other work
shares the machine, so the shape of the curve survives a busy CPU. Settings are measured in
``--rounds`` rounds over all of them (median per setting), and
``s = a + b * megapixels per page`` is fitted by least squares. ``layoutft analyze`` scales
the measured wall-clock reference by ``(a + b * MP) / (a + b * MP_ref)`` (constants in
``layoutft/data/analyze.py``, with where they come from). Also measures
``ROI_HEADS.BATCH_SIZE_PER_IMAGE`` 128 against 256 at the middle size, for dense pages.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.inputs import ROOT

CONFIG = ROOT / "configs" / "finetune_cpu.yaml"


def cpu_s_per_iter(
    coco: Path, size: int, batch_per_image: int, iters: int = 2, warmup: int = 1
) -> float:
    """Median CPU seconds of the training process per iteration of finetune_cpu at ``size``."""
    import torch

    from layoutft.config import load_config
    from layoutft.data.loader import build_train_loader, load_pages
    from layoutft.data.settings import DataSettings
    from layoutft.engine.settings import SolverSettings
    from layoutft.engine.setup import fit_labels
    from layoutft.engine.solver import build_optimizer
    from layoutft.engine.trainer import HookBase, Trainer
    from layoutft.modeling import build_model

    settings = ["SOLVER.IMS_PER_BATCH", "2", "DATALOADER.NUM_WORKERS", "1"]
    settings += ["INPUT.MIN_SIZE_TRAIN", f"({size},)", "INPUT.MAX_SIZE_TRAIN", str(2 * size)]
    settings += ["MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", str(batch_per_image)]
    cfg = load_config(CONFIG, settings)
    pages, labels = load_pages(coco)
    fit_labels(cfg, labels)
    torch.manual_seed(0)
    model = build_model(cfg)
    stamps: list[float] = []

    class Clock(HookBase):
        def before_train(self, trainer: Trainer) -> None:
            stamps.append(time.process_time())

        def after_step(self, trainer: Trainer) -> None:
            stamps.append(time.process_time())

    data = build_train_loader(pages, DataSettings.from_config(cfg), seed=0)
    optimizer = build_optimizer(SolverSettings.from_config(cfg), model)
    Trainer(model, optimizer, data, max_iter=warmup + iters, hooks=[Clock()]).train()
    steps = [b - a for a, b in itertools.pairwise(stamps)][warmup:]
    return statistics.median(steps)


def megapixels(coco: dict[str, Any], size: int) -> float:
    """Mean input megapixels per page at short edge ``size`` (long side capped at 2x)."""
    return float(np.mean([_pixels(im["height"], im["width"], size) for im in coco["images"]]))


def _pixels(h: int, w: int, size: int) -> float:
    scale = min(size / min(h, w), 2 * size / max(h, w))
    return h * w * scale * scale / 1e6


def main(argv: list[str] | None = None) -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--coco", type=Path, required=True, help="COCO file whose pages are trained")
    ap.add_argument("--sizes", default="448,640,832,1024", help="short edges (pixels)")
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # CPU time of one thread: the work, whatever else runs
    coco = json.loads(args.coco.read_text())
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = [*((s, 128) for s in sizes), (sizes[len(sizes) // 2], 256)]
    times: dict[tuple[int, int], list[float]] = {run: [] for run in runs}
    for _ in range(args.rounds):
        for size, batch in runs:
            s = cpu_s_per_iter(args.coco, size, batch, args.iters, args.warmup)
            times[(size, batch)].append(s)
            print(json.dumps({"size": size, "batch": batch, "cpu_s": round(s, 3)}), flush=True)
    rows = [
        {
            "size": size,
            "batch_per_image": batch,
            "mp": round(megapixels(coco, size), 4),
            "cpu_s": round(float(np.median(values)), 3),
        }
        for (size, batch), values in times.items()
    ]
    for row in rows:
        print(json.dumps(row), flush=True)
    fit = [r for r in rows if r["batch_per_image"] == 128]
    b, a = np.polyfit([r["mp"] for r in fit], [r["cpu_s"] for r in fit], 1)
    print(json.dumps({"fixed_s": round(float(a), 3), "s_per_mp": round(float(b), 3)}))


if __name__ == "__main__":
    main()
