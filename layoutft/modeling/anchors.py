"""Anchor boxes the way detectron2's DefaultAnchorGenerator makes them.

Unlike torchvision, cell anchors are not rounded and each level uses its configured stride
(4, 8, … 64) rather than image size // feature size. Anchors are XYXY in pixels of the padded
input, flattened per level in (H, W, A) order — the order of the RPN head outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from layoutft.errors import ConfigError


def _per_level(values: Sequence[Any], num_levels: int, key: str) -> list[list[float]]:
    """detectron2's broadcast rule: a flat list or a single inner list applies to every level."""
    if len(values) == 0:
        raise ConfigError(f"MODEL.ANCHOR_GENERATOR.{key} must not be empty")
    if not isinstance(values[0], Sequence):
        return [[float(v) for v in values]] * num_levels
    if len(values) == 1:
        return [[float(v) for v in values[0]]] * num_levels
    if len(values) != num_levels:
        raise ConfigError(
            f"MODEL.ANCHOR_GENERATOR.{key} has {len(values)} lists but the RPN uses "
            f"{num_levels} feature maps; give one list or one per level"
        )
    return [[float(v) for v in level] for level in values]


def cell_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float]) -> Tensor:
    """float32 [len(sizes) * len(aspect_ratios), 4] XYXY anchors centred on (0, 0).

    Size is sqrt(area); aspect ratio is height / width. Computed in float64, rounded once.
    """
    boxes = []
    for size in sizes:
        for ratio in aspect_ratios:
            w = math.sqrt(size**2.0 / ratio)
            h = ratio * w
            boxes.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
    return torch.tensor(boxes, dtype=torch.float32)


class AnchorGenerator(nn.Module):
    """Anchors for a list of feature maps.

    Args:
        sizes, aspect_ratios: per level (or broadcast), as in MODEL.ANCHOR_GENERATOR.
        strides: stride of each feature map in input pixels.
        offset: anchor centre offset in units of stride, in [0, 1).
    """

    def __init__(
        self,
        sizes: Sequence[Any],
        aspect_ratios: Sequence[Any],
        strides: Sequence[int],
        offset: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= offset < 1.0:
            raise ConfigError(f"MODEL.ANCHOR_GENERATOR.OFFSET must be in [0, 1), got {offset}")
        n = len(strides)
        self.strides = [int(s) for s in strides]
        self.offset = float(offset)
        cells = [
            cell_anchors(s, a)
            for s, a in zip(
                _per_level(sizes, n, "SIZES"),
                _per_level(aspect_ratios, n, "ASPECT_RATIOS"),
                strict=True,
            )
        ]
        if len({len(c) for c in cells}) != 1:
            raise ConfigError(
                "MODEL.ANCHOR_GENERATOR must give every level the same number of anchors "
                "(len(SIZES[i]) * len(ASPECT_RATIOS[i]))"
            )
        self.num_anchors = len(cells[0])
        for i, cell in enumerate(cells):
            self.register_buffer(f"cell_anchors_{i}", cell, persistent=False)
        self._cells = [f"cell_anchors_{i}" for i in range(n)]

    def forward(self, grid_sizes: Sequence[tuple[int, int]]) -> list[Tensor]:
        """float32 [H_l * W_l * A, 4] anchors for each level with feature size (H_l, W_l)."""
        anchors = []
        for (height, width), stride, name in zip(
            grid_sizes, self.strides, self._cells, strict=True
        ):
            cell: Tensor = getattr(self, name)
            start = self.offset * stride
            xs = torch.arange(
                start, width * stride, stride, dtype=torch.float32, device=cell.device
            )
            ys = torch.arange(
                start, height * stride, stride, dtype=torch.float32, device=cell.device
            )
            shift_y, shift_x = torch.meshgrid(ys, xs, indexing="ij")
            shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
            shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            anchors.append((shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4))
        return anchors
