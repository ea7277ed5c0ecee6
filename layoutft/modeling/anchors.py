"""Anchor boxes the way detectron2's DefaultAnchorGenerator makes them.

Unlike torchvision, cell anchors are not rounded and each level uses its configured stride
(4, 8, … 64) rather than image size // feature size. Anchors are XYXY in pixels of the padded
input, flattened per level in (H, W, A) order — the order of the RPN head outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from layoutft.errors import ConfigError

#: One list for every level, or one list per level (``[32, 64]``, ``[[32], [64]]``).
PerLevel = Sequence[float] | Sequence[Sequence[float]]


def _per_level(values: PerLevel, num_levels: int, key: str) -> list[list[float]]:
    """detectron2's broadcast rule: a flat list or a single inner list applies to every level."""
    if len(values) == 0:
        raise ConfigError(f"MODEL.ANCHOR_GENERATOR.{key} must not be empty")
    first = values[0]
    if not isinstance(first, Sequence):
        return [[float(v) for v in values]] * num_levels  # type: ignore[arg-type]
    if len(values) == 1:
        return [[float(v) for v in first]] * num_levels
    if len(values) != num_levels:
        raise ConfigError(
            f"MODEL.ANCHOR_GENERATOR.{key} has {len(values)} lists but the RPN uses "
            f"{num_levels} feature maps; give one list or one per level"
        )
    return [[float(v) for v in level] for level in values]  # type: ignore[union-attr]


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
        sizes: anchor sizes (sqrt of the area, input pixels) per level, or one list for all.
        aspect_ratios: height / width per level, or one list for all.
        strides: stride of each feature map in input pixels.
        offset: anchor centre offset in units of stride, in [0, 1).

    ``sizes`` and ``aspect_ratios`` keep the per-level values (tuples of floats);
    ``num_anchors`` is A, anchors per location.
    """

    def __init__(
        self,
        sizes: PerLevel,
        aspect_ratios: PerLevel,
        strides: Sequence[int],
        offset: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= offset < 1.0:
            raise ConfigError(f"MODEL.ANCHOR_GENERATOR.OFFSET must be in [0, 1), got {offset}")
        n = len(strides)
        self.strides = [int(s) for s in strides]
        self.offset = float(offset)
        level_sizes = _per_level(sizes, n, "SIZES")
        level_ratios = _per_level(aspect_ratios, n, "ASPECT_RATIOS")
        self.sizes = tuple(tuple(level) for level in level_sizes)
        self.aspect_ratios = tuple(tuple(level) for level in level_ratios)
        cells = [cell_anchors(s, a) for s, a in zip(level_sizes, level_ratios, strict=True)]
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
