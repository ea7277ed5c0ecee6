"""Mask R-CNN with detectron2's semantics and parameter names, on torch + torchvision."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layoutft.config import Config
    from layoutft.modeling.meta_arch import GeneralizedRCNN

__all__ = ["build_model"]


def build_model(cfg: Config) -> GeneralizedRCNN:
    """Build detectron2's GeneralizedRCNN for ``cfg`` (weights randomly initialised).

    Raises ConfigError for sizes or counts no model has (``NUM_CLASSES -3``).
    """
    from layoutft.config.supported import check_values
    from layoutft.modeling import meta_arch

    check_values(cfg)
    return meta_arch.build_model(cfg)
