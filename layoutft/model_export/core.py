"""The export-friendly form of a model: one image tensor in, four flat tensors out.

Exporters (TorchScript, ONNX) trace :class:`ExportableModel`;
:mod:`layoutft.model_export.runtime` and the ONNX backend
(:mod:`layoutft.parsing.onnx_model`) run the result. The metadata stored next to the graph
(:class:`~layoutft.parsing.onnx_model.ExportMetadata`) says how to prepare pages for it and
how to name its classes. :func:`quiet_tracing` is the warnings filter the exporters share
(the model-side tracing helpers are :mod:`layoutft.modeling.tracing`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

# the metadata lives with the ONNX backend, which reads it without torch
from layoutft.parsing.onnx_model import (
    EXPORT_FORMAT,
    INPUT_NAMES,
    METADATA_KEY,
    OUTPUT_NAMES,
    ExportMetadata,
)

if TYPE_CHECKING:
    from layoutft.config import Config
    from layoutft.model import LayoutModel
    from layoutft.modeling.meta_arch import GeneralizedRCNN


class ExportableModel(nn.Module):
    """Single-image inference of a GeneralizedRCNN with tensor-only inputs and outputs.

    ``forward(image, min_score=None)``: ``image`` float32 [3, H, W], 0-255, channel order
    cfg.INPUT.FORMAT, already resized (any H, W); ``min_score`` float32 [] (optional): drop
    detections scored below it before the mask head, as ``LayoutModel.predict(min_score=)``
    does (the others are unchanged). Returns ``boxes`` float32 [N, 4] XYXY in pixels of that
    image, ``scores`` float32 [N], ``classes`` int64 [N] and ``mask_probs`` float32
    [N, 1, M, M] (per predicted class), or an empty float32 [0] tensor without a mask head.
    """

    def __init__(self, model: GeneralizedRCNN) -> None:
        super().__init__()
        self.model = model
        self.mask_on = bool(model.mask_on)
        # eval as a whole: exporters restore the wrapper's mode, and with it the model's
        self.eval()

    def forward(
        self, image: Tensor, min_score: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        out = self.model([{"image": image}], 0.0 if min_score is None else min_score)[0]
        masks = out["mask_probs"] if self.mask_on else out["scores"].new_zeros((0,))
        return out["boxes"], out["scores"], out["classes"], masks


def export_metadata(model: LayoutModel) -> ExportMetadata:
    """The metadata stored in an export of ``model``: labels, input contract (training dpi
    included), threshold."""
    cfg: Config = model.config
    return ExportMetadata(
        labels=list(model.labels),
        input_format=str(cfg.INPUT.FORMAT),
        min_size_test=int(cfg.INPUT.MIN_SIZE_TEST),
        max_size_test=int(cfg.INPUT.MAX_SIZE_TEST),
        mask_on=bool(cfg.MODEL.MASK_ON),
        score_thresh_test=float(cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST),
        dpi=model.input_dpi,
    )


def example_image(model: LayoutModel) -> Tensor:
    """A synthetic page to trace with: float32 [3, H, W] at the model's test size.

    White with grey blocks, portrait (H = 1.3 × W) at MIN_SIZE_TEST wide. The traced graph
    does not depend on the content or size of this image; the blocks only make the trace
    run every branch with detections present.
    """
    width = int(model.config.INPUT.MIN_SIZE_TEST) or 800
    height = int(width * 1.3)
    image = torch.full((3, height, width), 255.0)
    for k in range(4):
        top = height * (2 + 5 * k) // 22
        image[:, top : top + height // 8, width // 10 : width * 9 // 10] = 60.0 + 40 * k
    return image.to(model.device)


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Silence tracer warnings that were reviewed for this model.

    The tracer warns wherever a tensor becomes a Python value; in layoutft.modeling those
    spots are constants for a given model (number of classes, mask head type) or are skipped
    while tracing, and tests compare every export with eager PyTorch on pages of other sizes.
    torch's deprecation notices for torch.jit and the ONNX exporter's notes are silenced too.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated")
        # the ONNX exporter's notes on constant folding and index export (checked by tests)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        # torch >= 2.9 defaults to the torch.export-based exporter; this one still works and
        # is the one that exports torchvision's nms/roi_align with dynamic sizes
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        yield


__all__ = [
    "EXPORT_FORMAT",
    "INPUT_NAMES",
    "METADATA_KEY",
    "OUTPUT_NAMES",
    "ExportMetadata",
    "ExportableModel",
    "example_image",
    "export_metadata",
    "quiet_tracing",
]
