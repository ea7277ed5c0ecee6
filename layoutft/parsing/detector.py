"""The detector seen by the parser: what it is given and what it returns.

:class:`~layoutft.model.LayoutModel` is the detector layoutft ships; anything with
the same ``labels`` and ``predict`` (a test stand-in, another backend) can take its place.
:class:`Detections` lives with the model (:mod:`layoutft.model.detections`). No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from layoutft.model.detections import Detections
from layoutft.model.settings import DEFAULT_SCORE_THRESHOLD, config_score_threshold


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
    ``device`` (a torch device; its ``type`` decides the CPU/GPU defaults),
    ``default_score_threshold`` (a float: the threshold of classes the user sets none for),
    ``name``,
    ``input_dpi`` (the PDF rendering resolution the model was trained at, None when
    unknown: the parse renders at it unless the options set a dpi),
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
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    name: str | None = None
    supported_precisions: tuple[str, ...] = ("fp32", "bf16", "fp16")
    input_dpi: float | None = None


def detector_defaults(detector: Detector) -> DetectorDefaults:
    """Read the optional attributes of ``detector`` in one place (not across the parser)."""
    device = getattr(detector, "device", None)
    return DetectorDefaults(
        device_type=str(getattr(device, "type", "cpu")),
        batch_size=int(getattr(detector, "default_batch_size", 1)),
        workers=int(getattr(detector, "default_workers", 1)),
        score_threshold=_score_threshold(detector),
        name=getattr(detector, "name", None),
        supported_precisions=tuple(
            getattr(detector, "supported_precisions", DetectorDefaults.supported_precisions)
        ),
        input_dpi=_input_dpi(detector),
    )


def _input_dpi(detector: Detector) -> float | None:
    """The detector's ``input_dpi`` as a float, None when it has none."""
    value = getattr(detector, "input_dpi", None)
    return None if value is None else float(value)


def _score_threshold(detector: Detector) -> float:
    """``default_score_threshold`` when the detector has one; a detector that exposes only a
    detectron2-style ``config`` (``MODEL.ROI_HEADS.SCORE_THRESH_TEST``) has it read from
    there (see :func:`~layoutft.model.settings.config_score_threshold`)."""
    value = getattr(detector, "default_score_threshold", None)
    if value is not None:
        return float(value)
    return config_score_threshold(getattr(detector, "config", None))


__all__ = ["Detections", "Detector", "DetectorDefaults", "PageDetections", "detector_defaults"]
