"""Warnings filter shared by the exporters."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch


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
