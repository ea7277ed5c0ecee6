"""Which torch device to run on, for training and parsing alike (torch imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from layoutft.errors import OptionError

if TYPE_CHECKING:
    import torch


def resolve_device(device: str | torch.device = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is visible, else ``"cpu"``; ``"cpu"``, ``"cuda"``
    and ``"cuda:N"`` (or a ``torch.device``) as given, as a string.

    Raises OptionError naming the ``device`` parameter for anything else, or for CUDA
    without a visible GPU.
    """
    import torch

    name = str(device)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(name).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda"):
        raise OptionError("{device} {name!r}: use auto, cpu or cuda", name=name)
    if kind == "cuda" and not torch.cuda.is_available():
        raise OptionError("{device} {name} but no CUDA GPU is visible; use {device} cpu", name=name)
    return name
