"""``layoutft train --budget``: the schedule fitted to a wall-clock budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.config import default_config
from layoutft.engine.budget import (
    TIMED_ITERS,
    WARM_ITERS,
    BudgetGuard,
    TimingHook,
    fit_schedule,
    parse_duration,
)
from layoutft.errors import ConfigError, OptionError
from tests.train_helpers import DATA, TINY

BUDGETED = [*TINY, "SOLVER.CHECKPOINT_PERIOD", "0", "SOLVER.MAX_ITER", "100"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45m", 2700), ("90s", 90), ("1.5h", 5400), ("1h30m", 5400), ("20", 1200)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "45 min", "-5m", "0s", "1h-3m", "10x"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(OptionError, match="budget"):
        parse_duration(text)


def test_schedule_keeps_step_shares_and_caps_warmup() -> None:
    cfg = default_config()
    cfg.SOLVER.MAX_ITER, cfg.SOLVER.STEPS, cfg.SOLVER.WARMUP_ITERS = 1000, (700, 900), 100
    notes = fit_schedule(cfg, 600.0, 2.0)  # 0.95 * 600 / 2 = 285 iterations
    assert cfg.SOLVER.MAX_ITER == 285
    assert tuple(cfg.SOLVER.STEPS) == (200, 256)
    assert cfg.SOLVER.WARMUP_ITERS == 28
    assert "SOLVER.MAX_ITER 285 (config: 1000)" in notes[0]
    with pytest.raises(ConfigError, match="no iteration"):
        fit_schedule(cfg, 1.0, 5.0)


def _final(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "model_final.pth", map_location="cpu", weights_only=True)["model"]


@pytest.mark.timeout(300)
def test_budgeted_run_equals_the_run_with_its_schedule_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The iterations are timed for real (the hook must stop the probe after six of them, or
    # it would train all 100); the figure they give is replaced by 1000 s so that the 1 h
    # budget holds 3 iterations on any machine, loaded or idle.
    timed: list[float] = []

    def slow(self: TimingHook) -> float:
        timed.extend(self.seconds)
        return 1000.0

    monkeypatch.setattr(TimingHook, "s_per_iter", slow)
    runner = CliRunner()

    def train(out: Path, *extra: str) -> Any:
        args = ["train", "--config", "quick_cpu", "--train", str(DATA / "annotations.json")]
        return runner.invoke(
            app, [*args, "--output", str(out), "--device", "cpu", "--quiet", *extra]
        )

    budgeted = tmp_path / "budget"
    res = train(budgeted, "--budget", "1h", *BUDGETED)
    assert res.exit_code == 0, res.output
    solver = yaml.safe_load((budgeted / "config.yaml").read_text())["SOLVER"]
    iters = int(solver["MAX_ITER"])
    assert len(timed) == WARM_ITERS + TIMED_ITERS and all(t > 0 for t in timed)
    assert iters == 3 and "1000.00 s/iteration measured" in res.output
    assert "SOLVER.MAX_ITER 3 (config: 100)" in res.output
    rows = [json.loads(line) for line in (budgeted / "metrics.jsonl").read_text().splitlines()]
    assert max(r["iteration"] for r in rows if "iteration" in r) == iters - 1
    # the schedule it printed, passed by hand, trains the same weights bit for bit
    by_hand = tmp_path / "by_hand"
    schedule = [
        "SOLVER.MAX_ITER", str(iters),
        "SOLVER.STEPS", str(tuple(solver["STEPS"])),
        "SOLVER.WARMUP_ITERS", str(solver["WARMUP_ITERS"]),
    ]  # fmt: skip
    res = train(by_hand, *BUDGETED, *schedule)
    assert res.exit_code == 0, res.output
    a, b = _final(budgeted), _final(by_hand)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # resumed with the same command: the run's own schedule, nothing left to do
    res = train(budgeted, "--budget", "1h", "--resume", *BUDGETED)
    assert res.exit_code == 0, res.output
    assert f"the run's own schedule kept, SOLVER.MAX_ITER {iters}" in res.output


@pytest.mark.timeout(300)
def test_the_runs_own_pace_refits_a_mistimed_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timed at 100 s/iteration, the 1 h budget holds 34 iterations (33 on a machine slow to
    # build the model); after the warm-up the run's own pace, made 500 s here, holds 6 more
    # after iteration 7: the guard refits MAX_ITER to 13 and the LR steps at their shares.
    monkeypatch.setattr(TimingHook, "s_per_iter", lambda self: 100.0)
    monkeypatch.setattr(BudgetGuard, "pace", lambda self: 500.0)
    runner = CliRunner()

    def train(out: Path, *extra: str) -> Any:
        args = ["train", "--config", "quick_cpu", "--train", str(DATA / "annotations.json")]
        return runner.invoke(
            app, [*args, "--output", str(out), "--device", "cpu", "--quiet", *extra]
        )

    warmup = ["SOLVER.WARMUP_ITERS", "2", "SOLVER.STEPS", "(70, 90)"]
    budgeted = tmp_path / "budget"
    res = train(budgeted, "--budget", "1h", *BUDGETED, *warmup)
    assert res.exit_code == 0, res.output
    solver = yaml.safe_load((budgeted / "config.yaml").read_text())["SOLVER"]
    assert solver["MAX_ITER"] == 13 and solver["WARMUP_ITERS"] == 2
    steps = solver["STEPS"]
    assert f"refits the schedule to SOLVER.MAX_ITER 13, STEPS {steps}" in res.output
    assert all(7 < s < 13 for s in steps) and steps
    rows = [json.loads(line) for line in (budgeted / "metrics.jsonl").read_text().splitlines()]
    assert max(r["iteration"] for r in rows if "iteration" in r) == 12
    # the refitted values by hand train the same weights bit for bit
    by_hand = tmp_path / "by_hand"
    schedule = [*warmup, "SOLVER.MAX_ITER", "13", "SOLVER.STEPS", str(tuple(steps))]
    res = train(by_hand, *BUDGETED, *schedule)
    assert res.exit_code == 0, res.output
    a, b = _final(budgeted), _final(by_hand)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # resumed with --budget: the refitted schedule is the run's own
    res = train(budgeted, "--budget", "1h", "--resume", *BUDGETED, *warmup)
    assert res.exit_code == 0, res.output
    assert "the run's own schedule kept, SOLVER.MAX_ITER 13" in res.output
