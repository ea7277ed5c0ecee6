"""Export a model to TorchScript by tracing :class:`~layoutft.model_export.core.ExportableModel`.

The trace keeps image sizes dynamic (layoutft.modeling avoids freezing sizes while tracing), so
the file runs on pages of any size; the metadata travels inside the archive as
``extra/layoutft.json``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from layoutft.model_export.core import (
    METADATA_KEY,
    ExportableModel,
    example_image,
    export_metadata,
    quiet_tracing,
)
from layoutft.outputs import atomic_path

if TYPE_CHECKING:
    from layoutft.model import LayoutModel


def trace(model: LayoutModel, example: torch.Tensor | None = None) -> torch.jit.ScriptModule:
    """The traced :class:`ExportableModel` of ``model`` (on its device).

    Args:
        example: float32 [3, H, W] image to trace with (default :func:`example_image`);
            the result does not depend on its size or content.
    """
    wrapper = ExportableModel(model.model)
    image = example_image(model) if example is None else example.to(model.device)
    with quiet_tracing(), torch.no_grad():
        traced = torch.jit.trace(wrapper, (image,), check_trace=False)
    return traced


def export_torchscript(
    model: LayoutModel, path: str | os.PathLike[str], example: torch.Tensor | None = None
) -> Path:
    """Write ``model`` as a TorchScript archive (load with ``torch.jit.load`` or
    :class:`~layoutft.model_export.runtime.ExportedModel`); returns the path written."""
    traced = trace(model, example)
    metadata = export_metadata(model).to_json()
    with atomic_path(Path(path)) as tmp, quiet_tracing():
        torch.jit.save(traced, str(tmp), _extra_files={METADATA_KEY: metadata})
    return Path(path)
