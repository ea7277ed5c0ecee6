"""Optimizer groups, LR schedules (detectron2 semantics), clipping, batch-size scaling."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from layoutft.config import load_config
from layoutft.engine.settings import ClipSettings, SolverSettings
from layoutft.engine.solver import (
    build_lr_scheduler,
    build_optimizer,
    clip_gradients,
    scale_solver,
)
from layoutft.errors import ConfigError

CONFIGS = Path(__file__).parent.parent / "configs"


def cfg_with(*pairs: str) -> Any:
    return load_config(CONFIGS / "Base-Document.yaml", list(pairs))


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 1)
        self.norm = torch.nn.BatchNorm2d(2)


def lrs(
    sched: torch.optim.lr_scheduler.LRScheduler, opt: torch.optim.Optimizer, n: int
) -> list[float]:
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_warmup_multistep_matches_detectron2() -> None:
    cfg = cfg_with(
        "SOLVER.BASE_LR", "0.1", "SOLVER.MAX_ITER", "10", "SOLVER.STEPS", "(6, 8, 20)",
        "SOLVER.WARMUP_ITERS", "4", "SOLVER.WARMUP_FACTOR", "0.001",
    )  # fmt: skip
    opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
    got = lrs(build_lr_scheduler(SolverSettings.from_config(cfg), opt), opt, 10)
    # linear from 0.001 * 0.1 to the schedule's value at 4 / 10, steps at 6 and 8 (20 ignored)
    warm = [0.1 * (0.001 + (1 - 0.001) * t / 4) for t in range(4)]
    assert got == pytest.approx([*warm, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_warmup_cosine_ends_at_base_lr_end() -> None:
    cfg = cfg_with(
        "SOLVER.LR_SCHEDULER_NAME", "WarmupCosineLR", "SOLVER.BASE_LR", "1.0",
        "SOLVER.BASE_LR_END", "0.1", "SOLVER.MAX_ITER", "8", "SOLVER.WARMUP_ITERS", "0",
    )  # fmt: skip
    opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    got = lrs(build_lr_scheduler(SolverSettings.from_config(cfg), opt), opt, 8)
    expected = [0.1 + 0.45 * (1 + math.cos(math.pi * t / 8)) for t in range(8)]
    assert got == pytest.approx(expected)


def test_scheduler_state_round_trips() -> None:
    cfg = cfg_with("SOLVER.MAX_ITER", "10", "SOLVER.WARMUP_ITERS", "3", "SOLVER.STEPS", "(5,)")
    opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.01)
    sched = build_lr_scheduler(SolverSettings.from_config(cfg), opt)
    lrs(sched, opt, 4)
    state = sched.state_dict()
    opt2 = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.01)
    sched2 = build_lr_scheduler(SolverSettings.from_config(cfg), opt2)
    opt2.load_state_dict(opt.state_dict())  # as on resume: the optimizer holds the current LR
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert lrs(sched2, opt2, 6) == lrs(sched, opt, 6)


def test_param_groups_norm_decay_bias_lr_and_adamw() -> None:
    cfg = cfg_with(
        "SOLVER.BASE_LR", "0.1", "SOLVER.WEIGHT_DECAY", "0.5", "SOLVER.WEIGHT_DECAY_NORM", "0.0",
        "SOLVER.BIAS_LR_FACTOR", "2.0", "SOLVER.WEIGHT_DECAY_BIAS", "0.25",
    )  # fmt: skip
    model = Tiny()
    opt = build_optimizer(SolverSettings.from_config(cfg), model)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    groups = {(g["lr"], g["weight_decay"]): g["params"] for g in opt.param_groups}
    assert groups[(0.1, 0.5)] == [model.conv.weight]
    assert groups[(0.2, 0.25)] == [model.conv.bias]
    assert groups[(0.1, 0.0)] == [model.norm.weight, model.norm.bias]
    adamw = build_optimizer(
        SolverSettings.from_config(cfg_with("LAYOUTFT.SOLVER.OPTIMIZER", "AdamW")), model
    )
    assert isinstance(adamw, torch.optim.AdamW)
    with pytest.raises(ConfigError, match="OPTIMIZER"):
        build_optimizer(
            SolverSettings.from_config(cfg_with("LAYOUTFT.SOLVER.OPTIMIZER", "Adam")), model
        )


def test_clip_types() -> None:
    w = torch.nn.Parameter(torch.zeros(2))
    v = torch.nn.Parameter(torch.zeros(1))

    def clip(kind: str, value: float) -> list[float]:
        w.grad, v.grad = torch.tensor([3.0, 4.0]), torch.tensor([12.0])
        cfg = cfg_with(
            "SOLVER.CLIP_GRADIENTS.CLIP_TYPE", kind, "SOLVER.CLIP_GRADIENTS.CLIP_VALUE", str(value)
        )
        clip_gradients(ClipSettings.from_config(cfg), [w, v])
        return [*w.grad.tolist(), *v.grad.tolist()]

    assert clip("value", 3.5) == [3.0, 3.5, 3.5]
    assert clip("norm", 2.5) == pytest.approx([1.5, 2.0, 2.5], rel=1e-5)  # per parameter
    assert clip("full_model", 6.5) == pytest.approx([1.5, 2.0, 6.0], rel=1e-5)  # norm 13
    off = cfg_with("SOLVER.CLIP_GRADIENTS.ENABLED", "False")
    w.grad = torch.tensor([30.0, 40.0])
    assert clip_gradients(ClipSettings.from_config(off), [w]) is None and w.grad.tolist() == [
        30.0,
        40.0,
    ]


def test_linear_scaling_rule_and_its_switch() -> None:
    cfg = cfg_with("SOLVER.IMS_PER_BATCH", "2")  # Base-Document is tuned for 8
    notes = scale_solver(cfg, world_size=1, num_images=100)
    assert cfg.SOLVER.BASE_LR == pytest.approx(0.0025)
    assert (cfg.SOLVER.MAX_ITER, tuple(cfg.SOLVER.STEPS)) == (120000, (80000, 104000))
    assert (cfg.SOLVER.WARMUP_ITERS, cfg.SOLVER.CHECKPOINT_PERIOD, cfg.TEST.EVAL_PERIOD) == (
        4000,
        8000,
        8000,
    )
    assert "linear scaling rule" in notes[0]
    assert scale_solver(cfg, world_size=1, num_images=100) == []  # applying twice is a no-op
    off = cfg_with("SOLVER.IMS_PER_BATCH", "2", "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "0")
    assert scale_solver(off, 1, 100) == [] and off.SOLVER.BASE_LR == 0.01


def test_reference_world_size_and_epochs() -> None:
    cfg = cfg_with(
        "SOLVER.REFERENCE_WORLD_SIZE", "1", "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "0"
    )
    scale_solver(cfg, world_size=4, num_images=10)
    assert cfg.SOLVER.IMS_PER_BATCH == 32
    cfg = cfg_with(
        "LAYOUTFT.SOLVER.EPOCHS", "3", "SOLVER.MAX_ITER", "100", "SOLVER.STEPS", "(50, 90)",
    )  # fmt: skip
    scale_solver(cfg, world_size=1, num_images=20)  # 60 images / 8 per batch
    assert cfg.SOLVER.MAX_ITER == 8 and tuple(cfg.SOLVER.STEPS) == (4, 7)


def test_unknown_scheduler_is_a_config_error() -> None:
    opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="WarmupMultiStepLR or WarmupCosineLR"):
        build_lr_scheduler(
            SolverSettings.from_config(cfg_with("SOLVER.LR_SCHEDULER_NAME", "Poly")), opt
        )


def test_settings_are_the_scaled_config_read_once() -> None:
    cfg = cfg_with(
        "SOLVER.BASE_LR", "0.02", "SOLVER.STEPS", "(60, 80)", "SOLVER.MAX_ITER", "100",
        "SOLVER.IMS_PER_BATCH", "8", "SOLVER.REFERENCE_WORLD_SIZE", "0",
        "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "4", "LAYOUTFT.SOLVER.EPOCHS", "0",
    )  # fmt: skip
    scale_solver(cfg, world_size=1, num_images=10)
    cfg.freeze()
    solver = SolverSettings.from_config(cfg)
    assert solver.base_lr == 0.04 and solver.max_iter == 50 and solver.steps == (30, 40)
    assert solver.ims_per_batch == 8 and solver.clip == ClipSettings.from_config(cfg)
    with pytest.raises(dataclasses.FrozenInstanceError):
        solver.base_lr = 1.0  # type: ignore[misc]
    with pytest.raises(ConfigError, match="frozen"):
        cfg.SOLVER.BASE_LR = 1.0
