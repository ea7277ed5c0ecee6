"""The detector seen by the parser: what it is given and what it returns.

:class:`~layoutft.parsing.model.LayoutModel` is the detector layoutft ships; anything with
the same ``labels`` and ``predict`` (a test stand-in, another backend) can take its place.
No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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


class PageDetections(Protocol):
    """What the parser reads of one page's detections (a :class:`Detections` has it)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray | None


@runtime_checkable
class Detector(Protocol):
    """A page-image detector the :class:`~layoutft.parsing.parser.Parser` can drive.

    ``labels``: class names in class-index order. ``predict`` returns one result per image,
    in order, with ``boxes`` float [N, 4] XYXY pixels of that image, ``scores`` [N],
    ``classes`` int [N] indexes into ``labels`` and ``masks`` bool [N, H, W] or None; it
    may leave out detections scored below ``min_score`` (the parser drops them anyway).

    Optional attributes the parser reads when present (see :func:`detector_defaults`):
    ``device`` (a torch device; its ``type`` decides the CPU/GPU defaults), ``config``
    (the detectron2 config: the default score threshold), ``name``,
    ``default_batch_size``, ``default_workers`` and ``supported_precisions`` (the ``precision``
    values ``predict`` takes).
    """

    @property
    def labels(self) -> Sequence[str]: ...

    def predict(
        self,
        images: list[np.ndarray],
        batch_size: int | None = None,
        format: str | None = None,
        min_score: float = 0.0,
        precision: str = "fp32",
        workers: int | None = None,
    ) -> Sequence[PageDetections]: ...


@dataclass(frozen=True)
class DetectorDefaults:
    """The optional facts of a :class:`Detector`, with the values used when it has none."""

    device_type: str = "cpu"
    batch_size: int = 1
    workers: int = 1
    config: Any = None
    name: str | None = None
    supported_precisions: tuple[str, ...] = ("fp32", "bf16", "fp16")


def detector_defaults(detector: Detector) -> DetectorDefaults:
    """Read the optional attributes of ``detector`` in one place (not across the parser)."""
    device = getattr(detector, "device", None)
    return DetectorDefaults(
        device_type=str(getattr(device, "type", "cpu")),
        batch_size=int(getattr(detector, "default_batch_size", 1)),
        workers=int(getattr(detector, "default_workers", 1)),
        config=getattr(detector, "config", None),
        name=getattr(detector, "name", None),
        supported_precisions=tuple(
            getattr(detector, "supported_precisions", DetectorDefaults.supported_precisions)
        ),
    )
