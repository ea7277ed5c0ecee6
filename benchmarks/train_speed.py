"""Training speed: seconds per iteration and peak memory, per config, device and precision.

    python -m benchmarks.train_speed                           # quick_cpu and R50-FPN, 10 iters
    python -m benchmarks.train_speed --configs quick_cpu --iters 2 --warmup 1   # a quick check

Configs: ``quick_cpu`` (configs/quick_cpu.yaml, the small CPU model) and ``r50``
(detectron2's R50-FPN Mask R-CNN, configs/zoo/publaynet_mask_rcnn_R_50_FPN_3x.yaml, from
scratch). Both train on ``layoutft synth`` pages with ``--ims-per-batch`` images per
iteration through layoutft's own loop (``layoutft.engine.Trainer``, the model, optimizer,
LR schedule and data loader ``layoutft train`` builds). On CPU the run is fp32; with a GPU,
fp32 and AMP (``SOLVER.AMP.ENABLED``) are both measured. Every run is a fresh process:
peak RSS is that run's; GPU memory is ``torch.cuda.max_memory_allocated``. s/iter is the
median over ``--iters`` iterations after ``--warmup`` ones.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    command_line,
    cpu_times,
    devices,
    emit,
    peak_rss_mb,
    run_worker,
    save_results,
)
from benchmarks.inputs import QUICK_CONFIG, R50_CONFIG, synth_dataset

NAME = "train_speed"
CONFIGS = {"quick_cpu": QUICK_CONFIG, "r50": R50_CONFIG}
# From random weights the zoo config's FrozenBN normalises nothing and the forward pass
# overflows within a few iterations (RPN boxes become Inf); trainable BN keeps it finite,
# as for any from-scratch run (layoutft train warns about FrozenBN without weights).
CONFIG_OVERRIDES = {"quick_cpu": [], "r50": ["MODEL.RESNETS.NORM", "BN"]}


def measure_train(
    config: str,
    coco: Path,
    device: str = "cpu",
    iters: int = 10,
    warmup: int = 2,
    amp: bool = False,
    ims_per_batch: int = 2,
    workers: int = 1,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Train ``config`` (a key of CONFIGS) for ``warmup + iters`` steps; one result row.

    ``overrides``: extra ``KEY VALUE`` config pairs (tests shrink the input size).
    """
    import torch

    from layoutft.config import load_config
    from layoutft.data.loader import build_train_loader, load_pages
    from layoutft.data.settings import DataSettings
    from layoutft.engine.hooks import LRSchedulerHook
    from layoutft.engine.settings import SolverSettings
    from layoutft.engine.setup import amp_dtype, fit_labels
    from layoutft.engine.solver import build_lr_scheduler, build_optimizer
    from layoutft.engine.trainer import HookBase, Trainer
    from layoutft.modeling import build_model

    settings = ["SOLVER.IMS_PER_BATCH", str(ims_per_batch), "DATALOADER.NUM_WORKERS", str(workers)]
    settings += ["MODEL.WEIGHTS", "", "SOLVER.AMP.ENABLED", str(amp)]
    settings += [*CONFIG_OVERRIDES[config], *overrides]
    cfg = load_config(CONFIGS[config], settings)
    pages, labels = load_pages(coco)
    fit_labels(cfg, labels)
    solver = SolverSettings.from_config(cfg)
    dtype, _ = amp_dtype(solver, device)
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    optimizer = build_optimizer(solver, model)
    stamps: list[float] = []
    data_times: list[float] = []

    class Clock(HookBase):
        def before_train(self, trainer: Trainer) -> None:
            stamps.append(time.perf_counter())

        def after_step(self, trainer: Trainer) -> None:
            if device == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())
            data_times.append(float(trainer.latest.get("data_time", 0.0)))

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    hooks = [
        LRSchedulerHook(build_lr_scheduler(solver, optimizer)),
        Clock(),
    ]
    data = build_train_loader(pages, DataSettings.from_config(cfg), seed=0)
    trainer = Trainer(
        model, optimizer, data, max_iter=warmup + iters, amp_dtype=dtype, scaler=scaler, hooks=hooks
    )
    trainer.train()
    steps = [b - a for a, b in itertools.pairwise(stamps)][warmup:]
    precision = "fp32" if dtype is None else f"amp {str(dtype).removeprefix('torch.')}"
    return {
        "config": config,
        "device": device,
        "precision": precision,
        "ims_per_batch": ims_per_batch,
        "min_size_train": str(tuple(cfg.INPUT.MIN_SIZE_TRAIN)),
        "iters": len(steps),
        "s_per_iter": statistics.median(steps) if steps else 0.0,
        "data_wait_s": statistics.median(data_times[warmup:]) if steps else 0.0,
        "peak_rss_mb": peak_rss_mb(),
        "gpu_max_mem_mb": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0,
        "total_loss": float(trainer.latest.get("total_loss", float("nan"))),
    }


def _worker(payload: dict[str, Any]) -> dict[str, Any]:
    payload = dict(payload)
    return measure_train(payload.pop("config"), Path(payload.pop("coco")), **payload)


def main(argv: list[str] | None = None) -> None:
    started = cpu_times()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--configs", default="quick_cpu,r50", help="comma-separated: quick_cpu,r50")
    ap.add_argument("--device", default="auto", help="auto (cpu, and cuda if any) or a list")
    ap.add_argument("--iters", type=int, default=10, help="measured iterations")
    ap.add_argument("--warmup", type=int, default=2, help="iterations before measuring")
    ap.add_argument("--ims-per-batch", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1, help="data loader workers")
    ap.add_argument("--dpi", type=int, default=150, help="dpi of the synthetic training pages")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        emit(_worker(json.loads(args.worker)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        coco = synth_dataset(Path(tmp), docs=4, pages=2, dpi=args.dpi, seed=0)
        for config in args.configs.split(","):
            for device in devices(args.device):
                for amp in (False, True) if device == "cuda" else (False,):
                    print(
                        f"train: {config} on {device}{' amp' if amp else ''} ...", file=sys.stderr
                    )
                    payload = {
                        "config": config,
                        "coco": str(coco),
                        "device": device,
                        "iters": args.iters,
                        "warmup": args.warmup,
                        "amp": amp,
                        "ims_per_batch": args.ims_per_batch,
                        "workers": args.workers,
                    }
                    try:
                        rows.append(run_worker(f"benchmarks.{NAME}", payload))
                    except RuntimeError as exc:  # one failing run must not lose the others
                        rows.append({"config": config, "device": device, "error": str(exc)})
    extra = {
        "command": command_line(NAME, argv),
        "input": f"8 synthetic pages at {args.dpi} dpi; median of {args.iters} iterations "
        f"after {args.warmup} warm-up ones",
        "r50": "detectron2 R50-FPN Mask R-CNN (zoo config), random init, NORM BN (see "
        "CONFIG_OVERRIDES), FREEZE_AT 2",
    }
    save_results(NAME, rows, extra, started=started)


if __name__ == "__main__":
    main()
