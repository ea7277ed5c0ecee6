"""layoutft: document layout analysis with detectron2-compatible Mask R-CNN.

The public API is imported lazily: ``import layoutft`` loads no torch, so code that
only reads layout JSON (``layoutft.Document.from_json``) stays light, and ``layoutft.parse``
runs without torch installed (the ONNX backend). Whatever needs torch checks for it
(:func:`layoutft._compat.require_torch`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from layoutft.errors import (
    CheckpointError,
    ConfigError,
    DatasetError,
    LayoutftError,
    RenderError,
)

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "load_config": "layoutft.config",
    "LayoutModel": "layoutft.model.layout_model",
    "OnnxDetector": "layoutft.parsing.onnx_model",
    "load_model": "layoutft.parsing.parser",
    "Detections": "layoutft.parsing.detector",
    "Document": "layoutft.schema",
    "Page": "layoutft.schema",
    "Region": "layoutft.schema",
    "parse": "layoutft.parsing.parser",
}

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "LayoutftError",
    "RenderError",
    "__version__",
    *_LAZY,
]

if TYPE_CHECKING:
    from layoutft.config import load_config as load_config
    from layoutft.model import LayoutModel as LayoutModel
    from layoutft.parsing.detector import Detections as Detections
    from layoutft.parsing.onnx_model import OnnxDetector as OnnxDetector
    from layoutft.parsing.parser import load_model as load_model
    from layoutft.parsing.parser import parse as parse
    from layoutft.schema import Document as Document
    from layoutft.schema import Page as Page
    from layoutft.schema import Region as Region


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'layoutft' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
