"""Typed, frozen training settings, built once from the resolved config.

:func:`~layoutft.engine.run.setup_config` resolves the config (labels, weights, the solver's
scaling rules, the seed, the output folder), then freezes it and builds
:class:`TrainSettings` from it; the run reads these values, never the config tree, and
nothing mutates the config afterwards (a frozen :class:`~layoutft.config.Config` refuses).
The conversions (``float``/``int``) are the ones the solver always applied, so the numbers
are the same bit for bit. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from layoutft.data.settings import DataSettings
from layoutft.errors import ConfigError

#: ``LAYOUTFT.SOLVER.AMP_DTYPE`` values.
AMP_DTYPES = ("bfloat16", "float16")


@dataclass(frozen=True)
class ClipSettings:
    """``SOLVER.CLIP_GRADIENTS``: ``kind`` is ``value``, ``norm`` or ``full_model``."""

    enabled: bool
    kind: str
    value: float
    norm_type: float

    @classmethod
    def from_config(cls, cfg: Any) -> ClipSettings:
        clip = cfg.SOLVER.CLIP_GRADIENTS
        return cls(
            enabled=bool(clip.ENABLED),
            kind=str(clip.CLIP_TYPE),
            value=float(clip.CLIP_VALUE),
            norm_type=float(clip.NORM_TYPE),
        )


@dataclass(frozen=True)
class SolverSettings:
    """The optimizer, the learning-rate schedule and gradient clipping (``SOLVER.*`` and
    ``LAYOUTFT.SOLVER.*``), after the batch-size scaling rules were applied.

    Learning rates are per image batch of ``ims_per_batch``; iterations are 0-based counts
    of optimizer steps. ``amp``: ``SOLVER.AMP.ENABLED`` (mixed precision, CUDA only), in
    ``amp_dtype`` (``LAYOUTFT.SOLVER.AMP_DTYPE``, one of :data:`AMP_DTYPES`).
    """

    optimizer: str
    base_lr: float
    base_lr_end: float
    weight_decay: float
    weight_decay_norm: float
    weight_decay_bias: float | None
    bias_lr_factor: float
    momentum: float
    nesterov: bool
    adam_betas: tuple[float, ...]
    scheduler: str
    max_iter: int
    steps: tuple[int, ...]
    gamma: float
    warmup_iters: int
    warmup_factor: float
    warmup_method: str
    checkpoint_period: int
    ims_per_batch: int
    clip: ClipSettings
    amp: bool
    amp_dtype: str

    @classmethod
    def from_config(cls, cfg: Any) -> SolverSettings:
        """Raises ConfigError for an unknown ``LAYOUTFT.SOLVER.AMP_DTYPE`` with AMP on."""
        sol = cfg.SOLVER
        decay_bias = sol.WEIGHT_DECAY_BIAS
        amp, amp_name = bool(sol.AMP.ENABLED), str(cfg.LAYOUTFT.SOLVER.AMP_DTYPE)
        if amp and amp_name not in AMP_DTYPES:
            raise ConfigError(f"LAYOUTFT.SOLVER.AMP_DTYPE {amp_name!r}: use bfloat16 or float16")
        return cls(
            optimizer=str(cfg.LAYOUTFT.SOLVER.OPTIMIZER),
            base_lr=float(sol.BASE_LR),
            base_lr_end=float(sol.BASE_LR_END),
            weight_decay=float(sol.WEIGHT_DECAY),
            weight_decay_norm=float(sol.WEIGHT_DECAY_NORM),
            weight_decay_bias=None if decay_bias is None else float(decay_bias),
            bias_lr_factor=float(sol.BIAS_LR_FACTOR),
            momentum=float(sol.MOMENTUM),
            nesterov=bool(sol.NESTEROV),
            adam_betas=tuple(float(b) for b in cfg.LAYOUTFT.SOLVER.ADAM_BETAS),
            scheduler=str(sol.LR_SCHEDULER_NAME),
            max_iter=int(sol.MAX_ITER),
            steps=tuple(int(s) for s in sol.STEPS),
            gamma=float(sol.GAMMA),
            warmup_iters=int(sol.WARMUP_ITERS),
            warmup_factor=float(sol.WARMUP_FACTOR),
            warmup_method=str(sol.WARMUP_METHOD),
            checkpoint_period=int(sol.CHECKPOINT_PERIOD),
            ims_per_batch=int(sol.IMS_PER_BATCH),
            clip=ClipSettings.from_config(cfg),
            amp=amp,
            amp_dtype=amp_name,
        )


@dataclass(frozen=True)
class TrainSettings:
    """What a training run reads besides the model and data configs.

    Attributes:
        solver: :class:`SolverSettings`.
        data: the training loader's :class:`~layoutft.data.settings.DataSettings`.
        seed: the resolved ``SEED`` (>= 0; each process adds its rank).
        log_period: iterations between metric lines (``LAYOUTFT.LOG_PERIOD``).
        eval_period: iterations between evaluations on ``--val`` (``TEST.EVAL_PERIOD``;
            0: at the end only).
        init_class_map: ``LAYOUTFT.INIT_CLASS_MAP`` (class aliases for initial weights).
    """

    solver: SolverSettings
    data: DataSettings
    seed: int
    log_period: int
    eval_period: int
    init_class_map: tuple[Any, ...]

    @classmethod
    def from_config(cls, cfg: Any) -> TrainSettings:
        """Raises ConfigError, naming the key, for a value no run can train with."""
        return cls(
            solver=SolverSettings.from_config(cfg),
            data=DataSettings.from_config(cfg),
            seed=int(cfg.SEED),
            log_period=int(cfg.LAYOUTFT.LOG_PERIOD),
            eval_period=int(cfg.TEST.EVAL_PERIOD),
            init_class_map=tuple(cfg.LAYOUTFT.INIT_CLASS_MAP or []),
        )


__all__ = ["AMP_DTYPES", "ClipSettings", "SolverSettings", "TrainSettings"]
