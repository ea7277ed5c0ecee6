"""Typed, frozen settings of the training data loader, built once from the resolved config.

:class:`DataSettings` holds every knob :func:`layoutft.data.loader.build_train_loader`
reads (``DATALOADER.*``, ``LAYOUTFT.DATALOADER.*``, ``LAYOUTFT.PARTIAL_LABELS``,
``INPUT.FORMAT``, ``MODEL.MASK_ON``, ``SOLVER.IMS_PER_BATCH`` and the augmentations), so
the loader never sees the config tree. Bad values are refused here, at setup, as one-line
:class:`~layoutft.errors.ConfigError` naming the key. No torch here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from layoutft.data.augment import AugmentSettings
from layoutft.errors import ConfigError

if TYPE_CHECKING:
    from layoutft.config import Config

#: ``LAYOUTFT.DATALOADER.SAMPLER_TRAIN`` values.
SAMPLERS = ("TrainingSampler", "SourceBalancedSampler")

#: ``INPUT.FORMAT`` values: the channel order of the images the model sees.
IMAGE_FORMATS = ("RGB", "BGR")


@dataclass(frozen=True)
class DataSettings:
    """What the training loader reads, typed.

    Attributes:
        augment: the augmentations (``INPUT.*`` sizes and flip, ``LAYOUTFT.AUG.*``).
        image_format: ``INPUT.FORMAT``, ``"RGB"`` or ``"BGR"`` (channel order of batches).
        mask_on: ``MODEL.MASK_ON``: batches carry polygons or masks.
        ims_per_batch: ``SOLVER.IMS_PER_BATCH`` (after the scaling rules), the global
            batch of all processes together.
        filter_empty: ``DATALOADER.FILTER_EMPTY_ANNOTATIONS``: pages without regions are
            left out.
        partial_labels: ``LAYOUTFT.PARTIAL_LABELS``; False: every page is taken to label
            every class.
        sampler: ``LAYOUTFT.DATALOADER.SAMPLER_TRAIN``, one of :data:`SAMPLERS`.
        source_weights: ``LAYOUTFT.DATALOADER.SOURCE_WEIGHTS`` as ``(name, weight)`` pairs,
            weights finite and >= 0 (unlisted sources weigh 1.0).
        aspect_ratio_grouping: ``DATALOADER.ASPECT_RATIO_GROUPING``: portrait and
            landscape pages in separate batches.
        num_workers: ``DATALOADER.NUM_WORKERS`` (0: decode in the training process).
    """

    augment: AugmentSettings
    image_format: str
    mask_on: bool
    ims_per_batch: int
    filter_empty: bool
    partial_labels: bool
    sampler: str
    source_weights: tuple[tuple[str, float], ...]
    aspect_ratio_grouping: bool
    num_workers: int

    @classmethod
    def from_config(cls, cfg: Config) -> DataSettings:
        """Settings from a layoutft Config.

        Raises:
            ConfigError: an unknown sampler or image format, a malformed
                ``SOURCE_WEIGHTS`` entry or weight, a bad augmentation value.
        """
        fmt = str(cfg.INPUT.FORMAT)
        if fmt not in IMAGE_FORMATS:
            raise ConfigError(f"INPUT.FORMAT must be 'RGB' or 'BGR', got {cfg.INPUT.FORMAT!r}")
        sampler = str(cfg.LAYOUTFT.DATALOADER.SAMPLER_TRAIN)
        if sampler not in SAMPLERS:
            raise ConfigError(
                f"LAYOUTFT.DATALOADER.SAMPLER_TRAIN {sampler!r}: must be one of "
                f"{', '.join(SAMPLERS)}"
            )
        workers = int(cfg.DATALOADER.NUM_WORKERS)
        if workers < 0:
            raise ConfigError(f"DATALOADER.NUM_WORKERS is {workers}; it must be 0 or more")
        return cls(
            augment=AugmentSettings.from_config(cfg),
            image_format=fmt,
            mask_on=bool(cfg.MODEL.MASK_ON),
            ims_per_batch=int(cfg.SOLVER.IMS_PER_BATCH),
            filter_empty=bool(cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS),
            partial_labels=bool(cfg.LAYOUTFT.PARTIAL_LABELS),
            sampler=sampler,
            source_weights=_source_weights(cfg.LAYOUTFT.DATALOADER.SOURCE_WEIGHTS),
            aspect_ratio_grouping=bool(cfg.DATALOADER.ASPECT_RATIO_GROUPING),
            num_workers=workers,
        )


def _source_weights(entries: Any) -> tuple[tuple[str, float], ...]:
    """``[[name, weight], ...]`` as pairs; ConfigError naming the key for a bad entry."""
    pairs = []
    for entry in entries or []:
        ok = isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)
        if not ok or isinstance(entry[1], bool) or not isinstance(entry[1], (int, float)):
            raise ConfigError(
                f"LAYOUTFT.DATALOADER.SOURCE_WEIGHTS entry {entry!r}: write [name, weight]"
            )
        weight = float(entry[1])
        if not (math.isfinite(weight) and weight >= 0):
            raise ConfigError(
                f"LAYOUTFT.DATALOADER.SOURCE_WEIGHTS entry {entry!r}: the weight must be a "
                "finite number >= 0"
            )
        pairs.append((entry[0], weight))
    return tuple(pairs)


__all__ = ["IMAGE_FORMATS", "SAMPLERS", "DataSettings"]
