"""Mask R-CNN with detectron2's semantics and parameter names, on torch + torchvision."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layoutft.config import Config
    from layoutft.modeling.meta_arch import GeneralizedRCNN

__all__ = ["build_model"]


def build_model(cfg: Config) -> GeneralizedRCNN:
    """Build detectron2's GeneralizedRCNN for ``cfg`` (weights randomly initialised)."""
    from layoutft.modeling import meta_arch

    return meta_arch.build_model(cfg)
