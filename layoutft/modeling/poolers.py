"""Multi-level RoI pooling with detectron2's ROIPooler semantics.

``ROIAlignV2`` is RoIAlign with ``aligned=True`` (half-pixel shift) and the configured
sampling ratio (0 = adaptive); each box goes to level floor(4 + log2(sqrt(area) / 224)),
clamped to the available levels. torchvision's MultiScaleRoIAlign differs on both counts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align, roi_pool

from layoutft.errors import ConfigError

POOLER_TYPES = ("ROIAlignV2", "ROIAlign", "ROIPool")


def assign_levels(
    boxes: Tensor,
    min_level: int,
    max_level: int,
    canonical_size: int = 224,
    canonical_level: int = 4,
) -> Tensor:
    """int64 [M] level index (0 = ``min_level``) for XYXY ``boxes`` [M, 4]."""
    sizes = torch.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    levels = torch.floor(canonical_level + torch.log2(sizes / canonical_size + 1e-8))
    return torch.clamp(levels, min=min_level, max=max_level).to(torch.int64) - min_level


class ROIPooler(nn.Module):
    """Pool ``output_size``×``output_size`` features for boxes from a feature pyramid.

    Args:
        output_size: pooled side length (e.g. 7 for boxes, 14 for masks).
        strides: stride of each input feature map; consecutive powers of two.
        sampling_ratio: RoIAlign sampling points per bin (0 = adaptive).
        pooler_type: "ROIAlignV2", "ROIAlign" or "ROIPool".
    """

    def __init__(
        self, output_size: int, strides: Sequence[int], sampling_ratio: int, pooler_type: str
    ) -> None:
        super().__init__()
        if pooler_type not in POOLER_TYPES:
            raise ConfigError(
                f"POOLER_TYPE {pooler_type!r} is not one of {', '.join(POOLER_TYPES)}"
            )
        levels = [math.log2(s) for s in strides]
        if any(lv != int(lv) for lv in levels) or any(
            b != a + 1 for a, b in itertools.pairwise(levels)
        ):
            raise ConfigError(f"ROI_HEADS.IN_FEATURES strides {list(strides)} must be a pyramid")
        self.output_size = int(output_size)
        self.scales = [1.0 / s for s in strides]
        self.sampling_ratio = int(sampling_ratio)
        self.pooler_type = pooler_type
        self.min_level, self.max_level = int(levels[0]), int(levels[-1])

    def _pool(self, x: Tensor, rois: Tensor, scale: float) -> Tensor:
        size = (self.output_size, self.output_size)
        if self.pooler_type == "ROIPool":
            return roi_pool(x, rois, size, scale)
        aligned = self.pooler_type == "ROIAlignV2"
        return roi_align(x, rois.to(x.dtype), size, scale, self.sampling_ratio, aligned)

    def forward(self, features: list[Tensor], boxes: list[Tensor]) -> Tensor:
        """[M, C, S, S] features for the boxes of all images, in image order.

        Args:
            features: feature maps [B, C, H_l, W_l], finest first.
            boxes: per image float32 [M_i, 4] XYXY in input-image pixels.
        """
        all_boxes = torch.cat(boxes)
        # built from the boxes themselves (not len()), so traced exports keep the count dynamic
        batch_idx = torch.cat([torch.full_like(b[:, :1], i) for i, b in enumerate(boxes)])
        rois = torch.cat([batch_idx, all_boxes], dim=1)
        if len(features) == 1:
            return self._pool(features[0], rois, self.scales[0])
        levels = assign_levels(all_boxes, self.min_level, self.max_level)
        channels = features[0].shape[1]
        out = features[0].new_zeros((rois.shape[0], channels, self.output_size, self.output_size))
        for level, (x, scale) in enumerate(zip(features, self.scales, strict=True)):
            inds = torch.nonzero(levels == level, as_tuple=True)[0]
            out.index_put_((inds,), self._pool(x, rois[inds], scale))
        return out
