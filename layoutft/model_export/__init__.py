"""Deployable exports of a layoutft model: detectron2 weights, TorchScript and ONNX graphs.

``export_torchscript`` / ``export_onnx`` trace the single-image
:class:`~layoutft.model_export.core.ExportableModel`; :class:`ExportedModel` runs such a file
with the predictor's resizing and mask pasting around it.
"""

from __future__ import annotations

from layoutft.model_export.core import ExportableModel, ExportMetadata
from layoutft.model_export.onnx import export_onnx
from layoutft.model_export.runtime import ExportedModel
from layoutft.model_export.torchscript import export_torchscript

__all__ = [
    "ExportMetadata",
    "ExportableModel",
    "ExportedModel",
    "export_onnx",
    "export_torchscript",
]
