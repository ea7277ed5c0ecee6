"""Standard hooks: LR schedule, periodic checkpoints, periodic evaluation, logging."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from layoutft.engine import ddp as comm
from layoutft.engine.checkpointer import Checkpointer, rng_state, set_rng_state
from layoutft.engine.events import MetricsLog
from layoutft.engine.trainer import HookBase, Trainer


class LRSchedulerHook(HookBase):
    """Records the LR used by the step just taken, then advances the schedule."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def after_step(self, trainer: Trainer) -> None:
        trainer.latest["lr"] = max(g["lr"] for g in trainer.optimizer.param_groups)
        self.scheduler.step()


class CheckpointHook(HookBase):
    """``model_{iter:07d}.pth`` every ``period`` iterations; ``model_final.pth`` at the end.

    Both keep the training state, so a finished run can be extended with ``--resume``.
    """

    def __init__(self, checkpointer: Checkpointer, period: int) -> None:
        self.checkpointer, self.period = checkpointer, period

    def after_step(self, trainer: Trainer) -> None:
        done = trainer.iter + 1
        if self.period > 0 and done % self.period == 0 and done < trainer.max_iter:
            check_finite(trainer)
            self.checkpointer.save(f"model_{trainer.iter:07d}", trainer.iter)

    def after_train(self, trainer: Trainer) -> None:
        if trainer.completed and trainer.start_iter < trainer.max_iter:
            check_finite(trainer)
            self.checkpointer.save("model_final", trainer.max_iter - 1)


def check_finite(trainer: Trainer) -> None:
    """FloatingPointError when a weight became Inf/NaN: a diverged step is never saved, so
    ``last_checkpoint`` always names weights a resumed run can use."""
    import torch

    if not all(bool(torch.isfinite(p).all()) for p in trainer.params):
        raise FloatingPointError("the weights became Inf/NaN")


class EvalHook(HookBase):
    """Evaluates every ``period`` iterations (0: only at the end) and at the end; keeps
    ``model_best.pth``.

    ``evaluate()`` runs on rank 0 and returns ``{"bbox": {"AP": ..}, "segm": {..}}``
    (AP in [0, 1]); the best bbox AP so far is saved as ``model_best.pth``. Random
    generator states are restored afterwards, so evaluating never changes training.
    """

    def __init__(
        self,
        period: int,
        evaluate: Callable[[], dict[str, dict[str, Any]]],
        checkpointer: Checkpointer,
        log: MetricsLog | None,
    ) -> None:
        self.period, self.evaluate, self.checkpointer, self.log = (
            period,
            evaluate,
            checkpointer,
            log,
        )
        self.best = -math.inf
        self.history: list[dict[str, Any]] = []

    def after_step(self, trainer: Trainer) -> None:
        done = trainer.iter + 1
        if (self.period > 0 and done % self.period == 0) or done == trainer.max_iter:
            self._run(trainer)

    def _run(self, trainer: Trainer) -> None:
        state = rng_state()
        results: dict[str, dict[str, Any]] | None = None
        if comm.is_main_process():
            results = self.evaluate()
        trainer.model.train()
        set_rng_state(state)
        results = comm.broadcast_object(results)
        assert results is not None
        row: dict[str, Any] = {"iteration": trainer.iter}
        for task, metrics in results.items():
            row.update({f"{task}/{k}": v for k, v in metrics.items() if isinstance(v, float)})
        self.history.append(row)
        if self.log is not None:
            self.log.write_row(row)
        ap = float(results.get("bbox", {}).get("AP", -math.inf))
        if ap > self.best:
            self.best = ap
            self.checkpointer.save("model_best", trainer.iter, training_state=False)
        comm.barrier()


class MetricsHook(HookBase):
    """Feeds each step's scalars to the metrics log and a tqdm progress bar (rank 0)."""

    def __init__(self, log: MetricsLog | None, *, progress: bool) -> None:
        self.log, self.progress = log, progress
        self.bar: Any = None

    def before_train(self, trainer: Trainer) -> None:
        if self.progress and comm.is_main_process():
            from tqdm import tqdm

            self.bar = tqdm(
                total=trainer.max_iter,
                initial=trainer.start_iter,
                file=sys.stderr,
                unit="it",
                disable=not sys.stderr.isatty(),
                leave=False,
            )

    def after_step(self, trainer: Trainer) -> None:
        if self.log is not None:
            self.log.max_iter = trainer.max_iter  # --budget's guard may have refitted it
            self.log.record(trainer.iter, trainer.latest)
        if self.bar is not None:
            self.bar.total = trainer.max_iter
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{trainer.latest.get('total_loss', 0.0):.3f}")

    def after_train(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.log is not None:
            self.log.close()
