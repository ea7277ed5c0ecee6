"""Acceptance (issue #25, partial labels): a model fine-tuned on table-only pages with masking
still finds the text that one fine-tuned without masking loses.

Pages: ``layoutft synth`` (PyMuPDF, no LaTeX) at 72 dpi. Training: the 10 pages with a table
of 6 two-page documents, only their tables annotated and ``labelled_category_ids: [table]``.
Both runs fine-tune the bundled ``layoutft-docs-narrow-r50`` from the same seed for the same
few iterations (1 page per iteration, LR 0.02, no warmup, 448 px), once with partial labels
honoured (``LAYOUTFT.PARTIAL_LABELS True``, the default) and once without (False: every
unannotated text block is background). Held out: 8 pages of 4 other documents, 60 text
regions; text recall = share of them matched at IoU >= 0.5 by a ``text`` detection scored
>= 0.5.

Measured (2-core CPU shared with other jobs): the starting model 0.85; after 5 iterations
(this test) masked 0.93, unmasked 0.05; after 3 iterations masked 0.87, unmasked 0.28 (too
close to call, hence 5); after 10 iterations of 2 pages masked 0.73, unmasked 0.00.
Thresholds, relative to the starting model's recall measured in the same run: masked >= 0.7 x
it, unmasked <= 0.3 x it.

Slow (7.5 minutes on 2 cores shared with other jobs):
``pytest -m slow tests/test_partial_labels_train.py``. The fast test of the same mechanism
(masking changes the model's losses and gradients) is
``test_model_losses_change_with_a_partial_mask_and_not_with_a_full_one`` in
tests/test_partial_labels_losses.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

ITERS = 5
OVERRIDES = [
    "INPUT.MIN_SIZE_TRAIN", "(448,)",
    "INPUT.MAX_SIZE_TRAIN", "800",
    "DATALOADER.NUM_WORKERS", "0",
    "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "0",
    "SOLVER.IMS_PER_BATCH", "1",
    "SOLVER.BASE_LR", "0.02",
    "SOLVER.WARMUP_ITERS", "0",
    "SOLVER.STEPS", "()",
    "SOLVER.CHECKPOINT_PERIOD", "100000",
    "SOLVER.MAX_ITER", str(ITERS),
    "SEED", "3",
]  # fmt: skip


def table_only(coco_path: Path) -> Path:
    """The pages with a table, only their tables annotated, labelled = [table]."""
    coco = json.loads(coco_path.read_text())
    table = next(c["id"] for c in coco["categories"] if c["name"] == "table")
    with_table = {a["image_id"] for a in coco["annotations"] if a["category_id"] == table}
    coco["images"] = [
        dict(im, labelled_category_ids=[table]) for im in coco["images"] if im["id"] in with_table
    ]
    coco["annotations"] = [a for a in coco["annotations"] if a["category_id"] == table]
    out = coco_path.with_name("tables.json")
    out.write_text(json.dumps(coco))
    return out


def text_recall(model: Any, coco_path: Path) -> float:
    """Share of the text regions matched (IoU >= 0.5) by a text detection scored >= 0.5."""
    from layoutft.modeling.matching import pairwise_iou

    coco = json.loads(coco_path.read_text())
    text = next(c["id"] for c in coco["categories"] if c["name"] == "text")
    text_class = model.labels.index("text")
    hits = total = 0
    for im in coco["images"]:
        gt = [
            a["bbox"]
            for a in coco["annotations"]
            if a["image_id"] == im["id"] and a["category_id"] == text
        ]
        if not gt:
            continue
        det = model.predict([str(coco_path.parent / "images" / im["file_name"])])[0]
        keep = (np.asarray(det.classes) == text_class) & (np.asarray(det.scores) >= 0.5)
        boxes = torch.as_tensor(np.asarray(det.boxes)[keep], dtype=torch.float32).reshape(-1, 4)
        truth = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in gt])
        if len(boxes):
            hits += int((pairwise_iou(truth, boxes).max(dim=1).values >= 0.5).sum())
        total += len(gt)
    return hits / total


@pytest.mark.slow
def test_masking_keeps_the_text_a_table_only_fine_tune_would_lose(tmp_path: Path) -> None:
    from layoutft.data.synth import generate_dataset
    from layoutft.engine.run import train
    from layoutft.engine.setup import TrainOptions
    from layoutft.model import LayoutModel

    train_coco = table_only(generate_dataset(tmp_path / "train", 6, 2, dpi=72, seed=5, quiet=True))
    val_coco = generate_dataset(tmp_path / "val", 4, 2, dpi=72, seed=6, quiet=True)
    start = LayoutModel.from_checkpoint("layoutft-docs-narrow-r50", device="cpu")
    base = text_recall(start, val_coco)
    recall = {}
    for masked in (True, False):
        out = tmp_path / f"run_{masked}"
        train(
            TrainOptions(
                config="bundled_real",
                train=train_coco,
                train_images=train_coco.parent / "images",
                output=out,
                weights="layoutft-docs-narrow-r50",
                device="cpu",
                progress=False,
                overrides=[*OVERRIDES, "LAYOUTFT.PARTIAL_LABELS", str(masked)],
            )
        )
        model = LayoutModel.from_checkpoint(out / "model_final.pth", device="cpu")
        recall[masked] = text_recall(model, val_coco)
    assert base >= 0.7, base  # the starting model finds the text (0.85 measured)
    assert recall[True] >= 0.7 * base, (base, recall)
    assert recall[False] <= 0.3 * base, (base, recall)
