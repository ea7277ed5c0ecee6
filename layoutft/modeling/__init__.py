"""Mask R-CNN with detectron2's semantics and parameter names, on torch + torchvision.

:func:`build_model` (in :mod:`layoutft.modeling.build`, the only module here that reads a
config) turns a detectron2 config into a model; the modules take plain typed arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from layoutft.modeling.build import build_model

__all__ = ["build_model"]


def __getattr__(name: str) -> Any:
    # imported on first use: ``import layoutft.modeling.paste`` need not build the heads
    if name == "build_model":
        from layoutft.modeling.build import build_model

        return build_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
