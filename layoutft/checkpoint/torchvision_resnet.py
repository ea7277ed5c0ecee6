"""torchvision ResNet/ResNeXt state dicts → detectron2 backbone names.

``conv1``/``bn1`` become the stem, ``layerN`` becomes ``res{N+1}``, ``bnK`` the norm of
``convK`` and ``downsample.0/1`` the shortcut conv and its norm; the ImageNet classifier
``fc`` is dropped. BN running statistics (and ``num_batches_tracked``) are kept.

The weights only fit a detectron2 config that matches torchvision's conventions:
``RESNETS.STRIDE_IN_1X1 False``, ``INPUT.FORMAT RGB``, ``PIXEL_MEAN
[123.675, 116.28, 103.53]``, ``PIXEL_STD [58.395, 57.12, 57.375]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import torch

_BOTTOM_UP = "backbone.bottom_up."
_BN = r"(?P<p>weight|bias|running_mean|running_var|num_batches_tracked)"
_BLOCK = r"layer(?P<l>\d)\.(?P<i>\d+)\."


def _block(m: re.Match[str]) -> str:
    """torchvision's layer1..4 are detectron2's res2..5."""
    return f"res{int(m['l']) + 1}.{m['i']}"


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"conv1\.weight"), lambda m: "stem.conv1.weight"),
    (re.compile(r"bn1\." + _BN), lambda m: f"stem.conv1.norm.{m['p']}"),
    (re.compile(_BLOCK + r"conv(?P<j>\d)\.weight"), lambda m: f"{_block(m)}.conv{m['j']}.weight"),
    (
        re.compile(_BLOCK + r"bn(?P<j>\d)\." + _BN),
        lambda m: f"{_block(m)}.conv{m['j']}.norm.{m['p']}",
    ),
    (re.compile(_BLOCK + r"downsample\.0\.weight"), lambda m: f"{_block(m)}.shortcut.weight"),
    (
        re.compile(_BLOCK + r"downsample\.1\." + _BN),
        lambda m: f"{_block(m)}.shortcut.norm.{m['p']}",
    ),
]


def looks_like_torchvision_resnet(names: Iterable[str]) -> bool:
    """True for a torchvision ResNet state dict (``conv1.weight`` and ``layer1.*`` keys)."""
    names = set(names)
    return "conv1.weight" in names and any(n.startswith("layer1.") for n in names)


def torchvision_name(name: str) -> str | None:
    """detectron2 name of one torchvision key; None for the classifier; others unchanged."""
    if re.fullmatch(r"fc\.(weight|bias)", name):
        return None
    for pattern, build in _RULES:
        m = pattern.fullmatch(name)
        if m:
            return _BOTTOM_UP + build(m)
    return name


def convert_torchvision_resnet(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a torchvision ResNet state dict to detectron2 names (``fc.*`` dropped)."""
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        new = torchvision_name(name)
        if new is not None:
            out[new] = value
    return out
