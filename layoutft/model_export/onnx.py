"""Export a model to ONNX with torch's TorchScript-based exporter (opset 17).

Height, width and the number of detections are dynamic axes; torchvision supplies the ONNX
forms of ``nms`` and ``roi_align``. The metadata is stored in the model's ``metadata_props``
under ``layoutft.json``. Needs the ``onnx`` package (``pip install layoutft[onnx]``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from layoutft.errors import LayoutftError
from layoutft.model_export.core import (
    INPUT_NAMES,
    METADATA_KEY,
    OUTPUT_NAMES,
    ExportableModel,
    example_image,
    export_metadata,
    quiet_tracing,
)
from layoutft.outputs import atomic_path

if TYPE_CHECKING:
    from layoutft.model import LayoutModel

OPSET = 17


def require(module: str) -> Any:
    """Import an optional ONNX package or raise a LayoutftError naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise LayoutftError(
            f"ONNX support needs the {module!r} package: pip install 'layoutft[onnx]'"
        ) from None


def export_onnx(
    model: LayoutModel,
    path: str | os.PathLike[str],
    example: torch.Tensor | None = None,
    opset: int = OPSET,
) -> Path:
    """Write ``model`` as an ONNX file with inputs ``image`` (float32 [3, H, W], H and W
    dynamic) and ``min_score`` (float32 [], 0 keeps every detection; those below it cost no
    mask-head work) and outputs ``boxes``, ``scores``, ``classes``, ``mask_probs`` (see
    :class:`ExportableModel`); returns the path written.

    Args:
        example: float32 [3, H, W] image to trace with (default :func:`example_image`).
    """
    onnx = require("onnx")
    wrapper = ExportableModel(model.model)
    image = (example_image(model) if example is None else example).to(model.device)
    outputs = list(OUTPUT_NAMES)
    per_detection = {name: {0: "detections"} for name in outputs}
    if not wrapper.mask_on:
        del per_detection["mask_probs"]  # a constant empty tensor
    metadata = {METADATA_KEY: export_metadata(model).to_json()}
    with atomic_path(Path(path)) as tmp, quiet_tracing(), torch.no_grad():
        torch.onnx.export(
            wrapper,
            # min_score 0 while tracing: every detection goes through the mask head
            (image, torch.zeros((), device=image.device)),
            tmp,
            dynamo=False,
            opset_version=opset,
            input_names=list(INPUT_NAMES),
            output_names=outputs,
            dynamic_axes={"image": {1: "height", 2: "width"}, **per_detection},
        )
        proto = onnx.load(str(tmp))
        onnx.helper.set_model_props(proto, metadata)
        onnx.save(proto, str(tmp))
    return Path(path)
