"""What a larger input costs: finetune_cpu's seconds per iteration against pixels per page.

    python -m benchmarks.input_cost --coco forms/annotations.json --images forms/images
    python -m benchmarks.input_cost --coco ... --sizes 448,640 --iters 2   # a quick check

Trains ``configs/finetune_cpu.yaml`` (from random weights: the cost is the same as from the
bundled model) through ``benchmarks.train_speed.measure_train`` at each short edge of
``--sizes`` (one scale, the long side uncapped up to 2x), 2 pages per iteration, in
``--rounds`` rounds over all settings (median per setting), and fits
``s/iter = a + b * megapixels per page`` by least squares. ``layoutft analyze`` scales its
measured reference by ``(a + b * MP) / (a + b * MP_ref)`` (constants in
``layoutft/data/analyze.py``, with where they come from). Also measures
``ROI_HEADS.BATCH_SIZE_PER_IMAGE`` 128 against 256 at the middle size, for dense pages.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks import train_speed
from benchmarks.inputs import ROOT

CONFIG = ROOT / "configs" / "finetune_cpu.yaml"


def main(argv: list[str] | None = None) -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--coco", type=Path, required=True, help="COCO file whose pages are trained")
    ap.add_argument("--sizes", default="448,640,832,1024", help="short edges (pixels)")
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    train_speed.CONFIGS["finetune_cpu"] = CONFIG
    train_speed.CONFIG_OVERRIDES["finetune_cpu"] = []
    coco = json.loads(args.coco.read_text())
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = [*((s, 128) for s in sizes), (sizes[len(sizes) // 2], 256)]
    times: dict[tuple[int, int], list[float]] = {run: [] for run in runs}
    # Rounds over every setting in turn: load from other work on a shared CPU spreads over
    # all settings instead of inflating one; the median of the rounds is kept.
    for _ in range(args.rounds):
        for size, batch in runs:
            overrides = [
                "INPUT.MIN_SIZE_TRAIN",
                f"({size},)",
                "INPUT.MAX_SIZE_TRAIN",
                str(2 * size),
                "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE",
                str(batch),
            ]
            row = train_speed.measure_train(
                "finetune_cpu", args.coco, iters=args.iters, warmup=args.warmup, overrides=overrides
            )
            times[(size, batch)].append(row["s_per_iter"])
            print(json.dumps({"size": size, "batch": batch, "s": row["s_per_iter"]}), flush=True)
    rows = []
    for (size, batch), values in times.items():
        mp = float(
            np.mean([_pixels(im["height"], im["width"], size, 2 * size) for im in coco["images"]])
        )
        s = float(np.median(values))
        rows.append({"size": size, "batch_per_image": batch, "mp": round(mp, 4), "s": s})
        print(json.dumps(rows[-1]), flush=True)
    fit = [r for r in rows if r["batch_per_image"] == 128]
    b, a = np.polyfit([r["mp"] for r in fit], [r["s"] for r in fit], 1)
    print(json.dumps({"fixed_s": round(float(a), 3), "s_per_mp": round(float(b), 3)}))


def _pixels(h: int, w: int, min_size: int, max_size: int) -> float:
    """Megapixels of an ``h x w`` page after ResizeShortestEdge."""
    scale = min(min_size / min(h, w), max_size / max(h, w))
    return h * w * scale * scale / 1e6


if __name__ == "__main__":
    main()
