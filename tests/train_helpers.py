"""Tiny deterministic training runs shared by the training tests.

Pages: tests/fixtures/train/ (two 340x440 px synthetic pages, 5 PubLayNet classes). ``TINY``
overrides quick_cpu down to ~1 s per iteration.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "fixtures" / "train"

# small and deterministic: no augmentation, fixed size, no workers
TINY = [
    "INPUT.MIN_SIZE_TRAIN", "(160,)",
    "INPUT.MAX_SIZE_TRAIN", "320",
    "INPUT.MIN_SIZE_TEST", "160",
    "INPUT.MAX_SIZE_TEST", "320",
    "MODEL.RPN.POST_NMS_TOPK_TRAIN", "256",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "64",
    "DATALOADER.NUM_WORKERS", "0",
    "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "0",
    "LAYOUTFT.AUG.ROTATION_PROB", "0.0",
    "LAYOUTFT.AUG.JPEG_PROB", "0.0",
    "LAYOUTFT.AUG.BLUR_PROB", "0.0",
    "LAYOUTFT.AUG.NOISE_PROB", "0.0",
    "LAYOUTFT.AUG.BRIGHTNESS", "(1.0, 1.0)",
    "LAYOUTFT.AUG.CONTRAST", "(1.0, 1.0)",
    "LAYOUTFT.LOG_PERIOD", "1",
    "SEED", "7",
]  # fmt: skip
