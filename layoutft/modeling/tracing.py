"""Helpers that keep sizes dynamic when a model is traced for export (torch.jit.trace, ONNX).

Under tracing, tensor sizes are traced values, but ``min()``, ``len()`` and ``int()`` turn them
into constants of the example input; these helpers avoid that and behave like the plain Python
expressions otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def at_most(n: int, k: int) -> int:
    """``min(n, k)`` for a size ``n`` (a traced value under tracing, and so is the result)."""
    if torch.jit.is_tracing() and isinstance(n, Tensor):
        return torch.clamp(n, max=k)
    return min(n, k)


def split_rows(tensor: Tensor, parts: Sequence[Tensor]) -> list[Tensor]:
    """``tensor`` split along dim 0 into blocks as long as each of ``parts``.

    One part gives ``[tensor]`` without reading any length (the single-image export case).
    """
    if len(parts) == 1:
        return [tensor]
    return list(tensor.split([len(p) for p in parts]))
