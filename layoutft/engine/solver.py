"""Optimizer, learning-rate schedule, gradient clipping and the batch-size scaling rules.

Semantics follow detectron2's ``build_optimizer`` / ``build_lr_scheduler``: the learning
rate of iteration ``t`` (0-based) is ``BASE_LR * m(t / MAX_ITER)`` where ``m`` is the
step or cosine multiplier with a warmup over the first ``WARMUP_ITERS`` iterations that
ramps from ``WARMUP_FACTOR * m(0)`` to ``m(WARMUP_ITERS / MAX_ITER)``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from layoutft.errors import ConfigError

if TYPE_CHECKING:
    from layoutft.config import Config
    from layoutft.engine.settings import ClipSettings, SolverSettings

_NORM_TYPES = (
    torch.nn.modules.batchnorm._BatchNorm,
    torch.nn.GroupNorm,
    torch.nn.LayerNorm,
    torch.nn.LocalResponseNorm,
)


def scale_solver(cfg: Config, world_size: int, num_images: int) -> list[str]:
    """Apply, in place, the scaling rules that depend on the run; return what changed.

    1. ``SOLVER.REFERENCE_WORLD_SIZE`` (detectron2): when > 0 and different from
       ``world_size``, IMS_PER_BATCH scales with the number of processes.
    2. ``LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH``: when > 0 and different from
       IMS_PER_BATCH, the linear scaling rule: BASE_LR x k, MAX_ITER, STEPS, WARMUP_ITERS,
       CHECKPOINT_PERIOD and TEST.EVAL_PERIOD / k with k = IMS_PER_BATCH / reference.
    3. ``LAYOUTFT.SOLVER.EPOCHS`` > 0: MAX_ITER = ceil(epochs x images / IMS_PER_BATCH),
       STEPS keep their fraction of the previous MAX_ITER.
    """
    notes: list[str] = []
    sol = cfg.SOLVER
    ref_ws = int(sol.REFERENCE_WORLD_SIZE)
    if ref_ws > 0 and ref_ws != world_size:
        old = int(sol.IMS_PER_BATCH)
        sol.IMS_PER_BATCH = round(old * world_size / ref_ws)
        sol.REFERENCE_WORLD_SIZE = world_size
        notes.append(
            f"SOLVER.IMS_PER_BATCH {old} -> {sol.IMS_PER_BATCH} for {world_size} processes"
        )
    ref = int(cfg.LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH)
    ims = int(sol.IMS_PER_BATCH)
    if ref > 0 and ref != ims:
        k = ims / ref
        sol.BASE_LR = float(sol.BASE_LR) * k
        sol.MAX_ITER = max(1, round(int(sol.MAX_ITER) / k))
        sol.STEPS = tuple(round(int(s) / k) for s in sol.STEPS)
        sol.WARMUP_ITERS = round(int(sol.WARMUP_ITERS) / k)
        sol.CHECKPOINT_PERIOD = max(1, round(int(sol.CHECKPOINT_PERIOD) / k))
        if int(cfg.TEST.EVAL_PERIOD) > 0:
            cfg.TEST.EVAL_PERIOD = max(1, round(int(cfg.TEST.EVAL_PERIOD) / k))
        cfg.LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH = ims
        notes.append(
            f"linear scaling rule (batch {ref} -> {ims}): BASE_LR {sol.BASE_LR:g}, MAX_ITER "
            f"{sol.MAX_ITER}, STEPS {list(sol.STEPS)}, WARMUP_ITERS {sol.WARMUP_ITERS} "
            "(LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH 0 turns this off)"
        )
    epochs = float(cfg.LAYOUTFT.SOLVER.EPOCHS)
    if epochs > 0:
        old_max = int(sol.MAX_ITER)
        sol.MAX_ITER = max(1, math.ceil(epochs * num_images / ims))
        sol.STEPS = tuple(round(int(s) * sol.MAX_ITER / old_max) for s in sol.STEPS)
        notes.append(
            f"{epochs:g} epochs of {num_images} images: MAX_ITER {sol.MAX_ITER}, "
            f"STEPS {list(sol.STEPS)}"
        )
    return notes


def build_optimizer(solver: SolverSettings, model: torch.nn.Module) -> torch.optim.Optimizer:
    """SGD (momentum, nesterov) or AdamW over trainable parameters, detectron2's groups.

    Norm-layer parameters use ``weight_decay_norm``; biases use ``base_lr *
    bias_lr_factor`` and ``weight_decay_bias`` (None: ``weight_decay``).
    """
    base_lr, wd = solver.base_lr, solver.weight_decay
    wd_bias = wd if solver.weight_decay_bias is None else solver.weight_decay_bias
    groups: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
    seen: set[int] = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            lr, decay = base_lr, wd
            if isinstance(module, _NORM_TYPES):
                decay = solver.weight_decay_norm
            elif name == "bias":
                lr, decay = base_lr * solver.bias_lr_factor, wd_bias
            groups.setdefault((lr, decay), []).append(param)
    params = [{"params": p, "lr": lr, "weight_decay": d} for (lr, d), p in groups.items()]
    name = solver.optimizer
    if name == "SGD":
        return torch.optim.SGD(
            params, lr=base_lr, momentum=solver.momentum, nesterov=solver.nesterov
        )
    if name == "AdamW":
        b1, b2 = solver.adam_betas
        return torch.optim.AdamW(params, lr=base_lr, betas=(b1, b2))
    raise ConfigError(f"LAYOUTFT.SOLVER.OPTIMIZER {name!r} is not supported; use SGD or AdamW")


# WarmupLR attributes that come from the config, not from training progress
_SCHEDULE_SETTINGS = (
    "max_iter",
    "kind",
    "steps",
    "gamma",
    "end_factor",
    "warmup_iters",
    "warmup_factor",
    "warmup_method",
)


class WarmupLR(torch.optim.lr_scheduler.LRScheduler):
    """LR multiplier schedule with warmup; call ``step()`` once after each iteration.

    Its ``state_dict`` holds plain numbers only, so it round-trips through checkpoints.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        max_iter: int,
        kind: str,
        steps: Iterable[int] = (),
        gamma: float = 0.1,
        end_factor: float = 0.0,
        warmup_iters: int = 0,
        warmup_factor: float = 0.001,
        warmup_method: str = "linear",
    ) -> None:
        self.max_iter, self.kind = max_iter, kind
        self.steps = sorted(int(s) for s in steps if int(s) <= max_iter)
        self.gamma, self.end_factor = gamma, end_factor
        self.warmup_iters, self.warmup_factor = warmup_iters, warmup_factor
        self.warmup_method = warmup_method
        super().__init__(optimizer)

    def _base(self, where: float) -> float:
        if self.kind == "step":
            return self.gamma ** bisect.bisect_right(self.steps, where * self.max_iter)
        return self.end_factor + 0.5 * (1 - self.end_factor) * (1 + math.cos(math.pi * where))

    def multiplier(self, iteration: int) -> float:
        """Factor on each group's initial LR at 0-based ``iteration``."""
        where = iteration / self.max_iter
        length = self.warmup_iters / self.max_iter
        if where >= length:
            return self._base(where)
        start = self.warmup_factor * self._base(0.0)
        if self.warmup_method == "constant":
            return start
        return start + (self._base(length) - start) * where / length

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the progress (iteration count) of a saved schedule, keeping this one's
        settings: a run resumed with a larger ``SOLVER.MAX_ITER`` follows the new schedule,
        and the optimizer's LRs are set to what this schedule gives at the restored iteration
        (the same numbers an uninterrupted run has there)."""
        settings = {name: getattr(self, name) for name in _SCHEDULE_SETTINGS}
        super().load_state_dict(state_dict)
        self.__dict__.update(settings)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        m = self.multiplier(self.last_epoch)
        return [float(base) * m for base in self.base_lrs]


def build_lr_scheduler(solver: SolverSettings, optimizer: torch.optim.Optimizer) -> WarmupLR:
    """``SOLVER.LR_SCHEDULER_NAME``: WarmupMultiStepLR or WarmupCosineLR."""
    name = solver.scheduler
    kinds = {"WarmupMultiStepLR": "step", "WarmupCosineLR": "cosine"}
    if name not in kinds:
        raise ConfigError(
            f"SOLVER.LR_SCHEDULER_NAME {name!r} is not supported; use {' or '.join(kinds)}"
        )
    method = solver.warmup_method
    if method not in ("linear", "constant"):
        raise ConfigError(f"SOLVER.WARMUP_METHOD {method!r}: use linear or constant")
    base_lr = solver.base_lr
    return WarmupLR(
        optimizer,
        max_iter=solver.max_iter,
        kind=kinds[name],
        steps=solver.steps,
        gamma=solver.gamma,
        end_factor=solver.base_lr_end / base_lr if base_lr else 0.0,
        warmup_iters=solver.warmup_iters,
        warmup_factor=solver.warmup_factor,
        warmup_method=method,
    )


def clip_gradients(clip: ClipSettings, params: list[torch.nn.Parameter]) -> float | None:
    """Clip per ``SOLVER.CLIP_GRADIENTS``; returns the total norm for "full_model", else None.

    "value": each gradient element to [-v, v]; "norm": each parameter's gradient norm to v
    (detectron2's per-parameter rule); "full_model": the global norm over all parameters.
    """
    if not clip.enabled:
        return None
    grads = [p for p in params if p.grad is not None]
    value, kind = clip.value, clip.kind
    if kind == "value":
        torch.nn.utils.clip_grad_value_(grads, value)
    elif kind == "norm":
        for p in grads:
            torch.nn.utils.clip_grad_norm_([p], value, clip.norm_type)
    elif kind == "full_model":
        return float(torch.nn.utils.clip_grad_norm_(grads, value, clip.norm_type))
    else:
        raise ConfigError(
            f"SOLVER.CLIP_GRADIENTS.CLIP_TYPE {kind!r}: use value, norm or full_model"
        )
    return None
