"""The training loop: one optimisation step per iteration, everything else in hooks.

Hooks see the trainer before/after training and before/after each step; the order of
the hook list is the order they run in (scheduler, then checkpoint, eval, logging).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from layoutft.errors import LayoutftError


class HookBase:
    """Override any of the four methods; ``trainer`` gives access to the whole state."""

    def before_train(self, trainer: Trainer) -> None:
        """Called once before the first iteration."""

    def after_train(self, trainer: Trainer) -> None:
        """Called once after the last iteration (also after a failure)."""

    def before_step(self, trainer: Trainer) -> None:
        """Called before each iteration."""

    def after_step(self, trainer: Trainer) -> None:
        """Called after each iteration; ``trainer.iter`` is the iteration just finished."""


class Trainer:
    """Runs iterations ``start_iter .. max_iter - 1`` of ``model(batch)`` -> losses.

    Args:
        model: returns a dict of scalar losses in training mode (DDP-wrapped or not).
        optimizer: steps on the summed losses.
        data: endless iterator of batches (``list[dict]`` on CPU; moved by the model).
        clip: called with the parameters after backward (gradient clipping), or None.
        amp_dtype: torch.bfloat16 / torch.float16 to autocast on CUDA, None for fp32.
        scaler: gradient scaler for float16 autocast (its state is checkpointed), else None.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        data: Iterator[list[dict[str, Any]]],
        *,
        max_iter: int,
        start_iter: int = 0,
        clip: Callable[[list[torch.nn.Parameter]], float | None] | None = None,
        amp_dtype: torch.dtype | None = None,
        scaler: torch.amp.GradScaler | None = None,
        hooks: Sequence[HookBase] = (),
    ) -> None:
        self.model, self.optimizer, self.data = model, optimizer, data
        self.max_iter, self.start_iter, self.iter = max_iter, start_iter, start_iter
        self.clip, self.amp_dtype, self.hooks = clip, amp_dtype, list(hooks)
        self.scaler = scaler
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.latest: dict[str, float] = {}
        self.completed = False  # True once every iteration ran (set before after_train)

    def train(self) -> None:
        """Run all iterations with the hooks; the model stays in training mode."""
        self.model.train()
        for h in self.hooks:
            h.before_train(self)
        try:
            # a while loop: a hook may move max_iter (``--budget``'s guard)
            self.iter = self.start_iter
            while self.iter < self.max_iter:
                for h in self.hooks:
                    h.before_step(self)
                self.run_step()
                for h in self.hooks:
                    h.after_step(self)
                self.iter += 1
            self.iter = max(self.start_iter, self.max_iter - 1)
            self.completed = True
        finally:
            for h in self.hooks:
                h.after_train(self)

    def run_step(self) -> None:
        """Load a batch, forward, backward, clip, step; scalars go to ``self.latest``."""
        start = time.perf_counter()
        batch = next(self.data)
        data_time = time.perf_counter() - start
        autocast = (
            torch.autocast("cuda", dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            losses = self.model(batch)
        total = sum(losses.values())
        values = {k: float(v.detach()) for k, v in losses.items()}
        if not math.isfinite(sum(values.values())):
            raise FloatingPointError(f"loss became {values}")
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(total).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            total.backward()
        if self.clip is not None:
            self.clip(self.params)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        values["total_loss"] = sum(values.values())
        values["data_time"] = data_time
        values["time"] = time.perf_counter() - start
        values["max_mem_mb"] = peak_memory_mb()
        self.latest = values


def peak_memory_mb() -> float:
    """Peak CUDA memory allocated by tensors, or the process's peak RSS on CPU (MiB)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def out_of_memory_advice(err: BaseException) -> LayoutftError | None:
    """A one-line error with the fix for a CUDA/CPU out-of-memory error, else None."""
    text = str(err)
    if isinstance(err, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return LayoutftError(
            "out of memory during training; lower SOLVER.IMS_PER_BATCH (e.g. halve it) or "
            "INPUT.MAX_SIZE_TRAIN / INPUT.MIN_SIZE_TRAIN, or enable SOLVER.AMP.ENABLED on CUDA"
        )
    return None
