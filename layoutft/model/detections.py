"""What a detector returns for one page image. No torch here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Detections:
    """Detections on one input image, in that image's pixels (top-left origin).

    Attributes:
        boxes: float32 [N, 4] XYXY.
        scores: float32 [N], best first.
        classes: int64 [N] model class indices (0-based).
        labels: N class names.
        masks: bool [N, H, W] instance masks, or None for a model without a mask head
            (on the CPU they start as calloc'd memory and only each box's window is
            written, so the OS commits little more than the rows the boxes span).
        image_size: (H, W) of the input image.
    """

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    labels: list[str]
    masks: np.ndarray | None
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.scores)
