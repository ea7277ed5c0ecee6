"""Extending a finished run: ``--resume`` with a larger ``SOLVER.MAX_ITER`` continues from
``model_final.pth`` exactly as an uninterrupted run would (same tiny runs as
tests/test_train_run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.engine.run import train
from layoutft.engine.setup import TrainOptions
from layoutft.errors import CheckpointError
from tests.train_helpers import DATA, TINY

# TINY plus no periodic checkpoints and an LR step inside the extended window
EXTEND = [
    *TINY,
    "SOLVER.CHECKPOINT_PERIOD", "0",
    "SOLVER.WARMUP_ITERS", "2",
    "SOLVER.STEPS", "(4,)",
]  # fmt: skip


def run(out: Path, iters: int, *, resume: bool = False) -> Path:
    opts = TrainOptions(
        config="quick_cpu",
        train=DATA / "annotations.json",
        output=out,
        resume=resume,
        device="cpu",
        progress=False,
        overrides=[*EXTEND, "SOLVER.MAX_ITER", str(iters)],
    )
    return train(opts)


def load(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.timeout(300)
def test_finished_run_extends_bit_exactly_to_a_larger_max_iter(tmp_path: Path) -> None:
    # N = 3, 2N = 6; warmup ends at 2 and the LR drops at 4: both schedules cross the
    # resume point, so the scheduler and optimizer state must both come back exactly
    straight = run(tmp_path / "straight", 6)
    extended = tmp_path / "extended"
    run(extended, 3)
    first = load(extended / "model_final.pth")
    assert first["iteration"] == 2
    assert {"optimizer", "scheduler", "rng"} <= set(first)  # the final checkpoint can resume
    assert (extended / "last_checkpoint").read_text() == "model_final.pth"
    run(extended, 6, resume=True)
    a, b = load(straight / "model_final.pth"), load(extended / "model_final.pth")
    assert b["iteration"] == a["iteration"] == 5
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert b["scheduler"]["last_epoch"] == a["scheduler"]["last_epoch"] == 6
    assert b["scheduler"]["max_iter"] == 6
    lrs_a = [g["lr"] for g in a["optimizer"]["param_groups"]]
    assert lrs_a == [g["lr"] for g in b["optimizer"]["param_groups"]]
    # resuming the extended run with the same MAX_ITER has nothing left to do
    before = (extended / "model_final.pth").stat().st_mtime_ns
    run(extended, 6, resume=True)
    assert (extended / "model_final.pth").stat().st_mtime_ns == before


@pytest.mark.timeout(120)
def test_final_checkpoint_without_training_state_says_how_to_continue(tmp_path: Path) -> None:
    out = run(tmp_path / "old", 1)
    final = out / "model_final.pth"
    payload = load(final)
    # `layoutft export --format layoutft` is how a run's weights are shipped: no training state
    shipped = tmp_path / "shipped.pth"
    result = CliRunner().invoke(
        app, ["export", str(final), "--format", "layoutft", "-o", str(shipped)]
    )
    assert result.exit_code == 0, result.output
    stripped = load(shipped)
    assert not {"optimizer", "scheduler", "rng", "iteration"} & set(stripped)
    assert stripped["labels"] == payload["labels"]
    for key, value in payload["model"].items():
        assert torch.equal(stripped["model"][key], value), key
    assert shipped.stat().st_size < 0.75 * final.stat().st_size
    for key in ("optimizer", "scheduler", "rng"):
        del payload[key]  # a final checkpoint written by an older layoutft
    torch.save(payload, final)
    with pytest.raises(CheckpointError) as info:
        run(out, 2, resume=True)
    message = str(info.value)
    assert "holds no training state" in message
    assert f"--weights {final}" in message and "\n" not in message


def test_the_shipped_checkpoint_holds_no_training_state() -> None:
    from layoutft import pretrained

    path = pretrained.weights_path(pretrained.BUNDLED_MODEL, download=False)
    payload = load(path)
    assert not {"optimizer", "scheduler", "rng", "scaler"} & set(payload)
    assert path.stat().st_size <= 16 * 2**20
