"""``layoutft train --budget 45m``: the schedule that fits a wall-clock budget.

Before the run, :func:`layoutft.engine.run.train` times a few iterations of the same model
on the same data and device (:class:`TimingHook`, in a throw-away folder); the run then gets
as many iterations as the rest of the budget holds, with the config's LR steps kept at their
share of the schedule (:func:`fit_schedule`). The run itself starts afresh from the same
seed, so it is the run a user would get by passing the resulting ``SOLVER.MAX_ITER`` and
``SOLVER.STEPS`` by hand. Evaluation on ``--val`` is not part of the budget. A few timed
iterations can be off from the run's own pace; :class:`BudgetGuard` re-times the run once,
after its warm-up, and refits the schedule to the deadline when they were.
"""

from __future__ import annotations

import re
import statistics
import time
from typing import TYPE_CHECKING

from layoutft.engine.trainer import HookBase, Trainer
from layoutft.errors import ConfigError, OptionError

if TYPE_CHECKING:
    from collections.abc import Callable

    from layoutft.config import Config
    from layoutft.engine.solver import WarmupLR

#: iterations run before timing starts (first batches: allocation, caches, lazy init)
WARM_ITERS = 2
#: iterations timed
TIMED_ITERS = 4
#: share of the remaining budget given to iterations; the rest covers building the model,
#: loading data and saving checkpoints, which the timed iterations do not include
ITERATION_SHARE = 0.95
#: the warm-up never takes more than this share of a budgeted run
MAX_WARMUP_SHARE = 0.1
#: :class:`BudgetGuard` re-times the run once, at this share of its schedule (after the
#: warm-up, before the first LR step)
CHECK_SHARE = 0.15
#: it refits the schedule only when the run's own pace misses the deadline by more than this
#: share of the iterations
REFIT_TOLERANCE = 0.05

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``90s``, ``45m``, ``1.5h``, ``1h30m`` (a bare number: minutes).

    Raises OptionError for anything else or a non-positive duration.
    """
    spec = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", spec):
        spec += "m"
    parts = re.findall(r"(\d+(?:\.\d+)?)([smh])", spec)
    if not parts or "".join(n + u for n, u in parts) != spec:
        raise OptionError(
            "{budget} {value!r} is not a duration; write e.g. 45m, 90s, 1.5h or 1h30m",
            value=text,
        )
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise OptionError("{budget} must be longer than 0, got {value!r}", value=text)
    return seconds


def fit_schedule(cfg: Config, seconds: float, s_per_iter: float) -> list[str]:
    """Set, in place, ``SOLVER.MAX_ITER`` to the iterations of ``s_per_iter`` seconds that
    fit :data:`ITERATION_SHARE` of ``seconds``, ``SOLVER.STEPS`` to the same shares of it
    as in the config, and cap ``SOLVER.WARMUP_ITERS`` at :data:`MAX_WARMUP_SHARE` of it.
    Returns the note that says so.

    Raises ConfigError when the budget does not hold a single iteration.
    """
    sol = cfg.SOLVER
    iters = int(max(0.0, seconds) * ITERATION_SHARE / s_per_iter)
    if iters < 1:
        raise ConfigError(
            f"--budget: what is left after timing ({max(0.0, seconds):.0f} s) holds no "
            f"iteration of {s_per_iter:.1f} s; give a longer budget or a smaller "
            "INPUT.MIN_SIZE_TRAIN"
        )
    old = int(sol.MAX_ITER)
    sol.STEPS = tuple(s for s in (round(int(s) * iters / old) for s in sol.STEPS) if s < iters)
    sol.MAX_ITER = iters
    sol.WARMUP_ITERS = min(int(sol.WARMUP_ITERS), max(1, int(MAX_WARMUP_SHARE * iters)))
    return [
        f"--budget: {s_per_iter:.2f} s/iteration measured, {seconds / 60:.1f} min left -> "
        f"SOLVER.MAX_ITER {iters} (config: {old}), STEPS {list(sol.STEPS)}, WARMUP_ITERS "
        f"{sol.WARMUP_ITERS}; to repeat without timing pass these as overrides"
    ]


class TimingDone(Exception):
    """Raised by the timing hook once enough iterations were timed."""


class TimingHook(HookBase):
    """Times each step; stops the trainer after the warm and timed iterations."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def s_per_iter(self) -> float:
        """Median seconds of the timed steps (all steps when fewer ran)."""
        timed = self.seconds[WARM_ITERS:] or self.seconds
        if not timed:
            raise ConfigError("--budget: the config runs no iteration to time (SOLVER.MAX_ITER 0)")
        return statistics.median(timed)

    def after_step(self, trainer: Trainer) -> None:
        self.seconds.append(trainer.latest["time"])  # the step's seconds, as the trainer timed it
        if len(self.seconds) >= WARM_ITERS + TIMED_ITERS:
            raise TimingDone


class BudgetGuard(HookBase):
    """Keeps a ``--budget`` run within its deadline when the timing before it was off.

    The few iterations timed before the run can be cheaper or dearer than the run's own (a
    fresh head, the pages drawn, other work on the machine: 2.6 s timed against 3.7 s run on
    FUNSD forms). Once, after :data:`CHECK_SHARE` of the schedule, the mean seconds of the
    run's own iterations so far give the iterations that fit what is left of the deadline
    (:data:`ITERATION_SHARE`); when they differ from ``SOLVER.MAX_ITER`` by more than
    :data:`REFIT_TOLERANCE`, ``MAX_ITER`` and the LR steps are refitted at the same shares.
    The check comes after the warm-up and before the first LR step, so the LR of every
    iteration so far is the one the refitted schedule gives: the run stays the run of the
    refitted values passed as overrides. ``on_refit(max_iter, steps)`` records them.
    """

    def __init__(
        self,
        deadline: float,
        scheduler: WarmupLR,
        on_refit: Callable[[int, list[int]], None],
    ) -> None:
        self.deadline, self.scheduler, self.on_refit = deadline, scheduler, on_refit
        self.check_at: int | None = None
        self.seconds: list[float] = []

    def before_train(self, trainer: Trainer) -> None:
        at = max(
            trainer.start_iter + WARM_ITERS + TIMED_ITERS,
            self.scheduler.warmup_iters,
            int(CHECK_SHARE * trainer.max_iter),
        )
        first_step = min(self.scheduler.steps, default=trainer.max_iter)
        self.check_at = at if at < min(first_step, trainer.max_iter) - 1 else None

    def pace(self) -> float:
        """Mean seconds of the run's iterations so far, the first :data:`WARM_ITERS` aside
        (the mean: the budget is a sum of iterations)."""
        return statistics.fmean(self.seconds[WARM_ITERS:])

    def after_step(self, trainer: Trainer) -> None:
        self.seconds.append(trainer.latest["time"])
        if trainer.iter != self.check_at:
            return
        s_per_iter = self.pace()
        left = max(0.0, self.deadline - time.time())
        fitted = trainer.iter + 1 + int(left * ITERATION_SHARE / s_per_iter)
        old = trainer.max_iter
        if abs(fitted - old) <= REFIT_TOLERANCE * old:
            return
        steps = [round(s * fitted / old) for s in self.scheduler.steps]
        steps = [s for s in steps if trainer.iter + 1 < s < fitted]
        self.scheduler.max_iter, self.scheduler.steps = fitted, steps
        trainer.max_iter = fitted
        self.on_refit(fitted, steps)
