"""Acceptance: quick_cpu trained from scratch on 60 synthetic pages reaches bbox AP50 >= 0.7.

Slow (about an hour on 2 CPU cores): ``pytest -m slow tests/test_train_accuracy.py``.
Measured so far: the same run with 300 iterations reached bbox AP50 0.35 (segm 0.35), so
the schedule here is 600 iterations; it has not yet been run to the end on this machine.
Pages are rendered at 72 dpi (612x792 px) and the model trains at a ~352 px short edge;
held-out pages come from other synthetic documents (another seed), so no page is shared.
The faster tests of the same code paths are tests/test_train_run.py and test_train_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ITERS = 600


@pytest.mark.slow
def test_quick_cpu_learns_synthetic_layouts(tmp_path: Path) -> None:
    from layoutft.data.coco import load_coco
    from layoutft.data.synth import generate_dataset
    from layoutft.engine.evaluation import evaluate_model
    from layoutft.engine.run import train
    from layoutft.engine.setup import TrainOptions
    from layoutft.predictor import LayoutModel

    train_coco = generate_dataset(tmp_path / "train", 30, 2, dpi=72, seed=1, quiet=True)
    val_coco = generate_dataset(tmp_path / "val", 10, 2, dpi=72, seed=2, quiet=True)
    overrides = [
        "SOLVER.MAX_ITER", str(ITERS),
        "SOLVER.STEPS", f"({int(ITERS * 0.75)}, {int(ITERS * 0.92)})",
        "SOLVER.WARMUP_ITERS", str(ITERS // 6),
        "SOLVER.CHECKPOINT_PERIOD", str(ITERS),
        "INPUT.MIN_SIZE_TRAIN", "(320, 352, 384)",
        "INPUT.MAX_SIZE_TRAIN", "800",
        "INPUT.MIN_SIZE_TEST", "352",
        "INPUT.MAX_SIZE_TEST", "800",
        "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "0",
        "SEED", "1",
    ]  # fmt: skip
    out = tmp_path / "run"
    options = TrainOptions(
        config="quick_cpu",
        train=train_coco,
        output=out,
        weights="none",
        device="cpu",
        overrides=overrides,
        progress=False,
    )
    train(options)
    model = LayoutModel.from_checkpoint(out / "model_final.pth", device="cpu")
    metrics = evaluate_model(model, load_coco(val_coco), val_coco.parent / "images")
    assert metrics["bbox"]["AP50"] >= 0.7, metrics["bbox"]
