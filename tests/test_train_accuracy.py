"""Acceptance: the small CPU recipe trained from scratch reaches bbox AP50 >= 70 on held-out pages.

Slow (~35 minutes on 2 CPU cores): ``pytest -m slow tests/test_train_accuracy.py``; it is
``python -m benchmarks.accuracy`` (whose committed result is benchmarks/results/accuracy.md)
as a test. ``configs/synth_scratch.yaml`` (quick_cpu at ~350 px, 4 pages per iteration, 800
iterations) trains from scratch on 120 ``layoutft synth`` pages; held-out pages come from
other synthetic documents (another seed). The faster tests of the same code paths are
tests/test_train_run.py (golden losses, resume), test_train_ddp.py and test_train_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_bundled_recipe_learns_synthetic_layouts(tmp_path: Path) -> None:
    from benchmarks.accuracy import TARGET_AP50, train_and_evaluate
    from benchmarks.inputs import synth_dataset

    train_coco = synth_dataset(tmp_path / "train", 40, 3, 150, seed=1)
    val_coco = synth_dataset(tmp_path / "val", 8, 2, 150, seed=2)
    row, log = train_and_evaluate(train_coco, val_coco, tmp_path, iters=None)
    assert row["iters"] == 800
    assert log[-1]["total_loss"] < log[0]["total_loss"]
    assert row["bbox_AP50"] >= TARGET_AP50, row
