"""Feature pyramid network on a ResNet, with detectron2's names (``fpn_lateral{k}``,
``fpn_output{k}``, ``bottom_up``) and its P6 (stride-2 max pool of P5)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn import functional as F

from layoutft.errors import ConfigError
from layoutft.modeling.layers import Conv2d, get_norm, xavier_fill
from layoutft.modeling.resnet import ResNet


class FPN(nn.Module):
    """Top-down pyramid over ``in_features`` of ``bottom_up``, plus P6 from P5.

    ``forward``: image batch [B, 3, H, W] (H, W multiples of ``size_divisibility``) →
    ``{"p2": …, "p6": …}``, each [B, out_channels, H/stride, W/stride].
    ``output_shapes``: ``{name: (channels, stride)}``.

    Args:
        bottom_up: the ResNet whose stages feed the pyramid.
        in_features: its outputs used, consecutive stages finest first (``res2``..``res5``).
        out_channels: channels of every pyramid level.
        norm: norm after the lateral and output convs ("" for none, then they have a bias).
        fuse_type: "sum" or "avg" of the lateral and the upsampled coarser level.
    """

    def __init__(
        self,
        bottom_up: ResNet,
        in_features: Sequence[str],
        out_channels: int,
        norm: str = "",
        fuse_type: str = "sum",
    ) -> None:
        super().__init__()
        if fuse_type not in ("sum", "avg"):
            raise ConfigError(f"MODEL.FPN.FUSE_TYPE must be 'sum' or 'avg', got {fuse_type!r}")
        missing = [f for f in in_features if f not in bottom_up.output_shapes]
        if not in_features or missing:
            raise ConfigError(
                f"MODEL.FPN.IN_FEATURES {in_features} must be listed in MODEL.RESNETS.OUT_FEATURES "
                f"{list(bottom_up.output_shapes)}"
            )
        strides = [bottom_up.output_shapes[f][1] for f in in_features]
        if any(b != 2 * a for a, b in itertools.pairwise(strides)):
            raise ConfigError(f"MODEL.FPN.IN_FEATURES {in_features} must be consecutive stages")
        self.bottom_up = bottom_up
        self.in_features = list(in_features)
        self.fuse_type = fuse_type
        self.lateral_names: list[str] = []
        self.output_names: list[str] = []
        for feature, stride in zip(in_features, strides, strict=True):
            channels = bottom_up.output_shapes[feature][0]
            level = int(math.log2(stride))
            lateral = Conv2d(
                channels, out_channels, kernel_size=1, bias=not norm,
                norm=get_norm(norm, out_channels),
            )  # fmt: skip
            output = Conv2d(
                out_channels, out_channels, kernel_size=3, padding=1, bias=not norm,
                norm=get_norm(norm, out_channels),
            )  # fmt: skip
            xavier_fill(lateral)
            xavier_fill(output)
            self.add_module(f"fpn_lateral{level}", lateral)
            self.add_module(f"fpn_output{level}", output)
            self.lateral_names.append(f"fpn_lateral{level}")
            self.output_names.append(f"fpn_output{level}")
        top = int(math.log2(strides[-1]))
        self.output_shapes = {f"p{int(math.log2(s))}": (out_channels, s) for s in strides}
        self.output_shapes[f"p{top + 1}"] = (out_channels, 2 ** (top + 1))
        self.size_divisibility = strides[-1]

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        bottom_up = self.bottom_up(x)
        names = list(zip(self.in_features, self.lateral_names, self.output_names, strict=True))[
            ::-1
        ]
        feature, lateral, output = names[0]
        prev = getattr(self, lateral)(bottom_up[feature])
        results = [getattr(self, output)(prev)]
        for feature, lateral, output in names[1:]:
            top_down = F.interpolate(prev, scale_factor=2.0, mode="nearest")
            prev = getattr(self, lateral)(bottom_up[feature]) + top_down
            if self.fuse_type == "avg":
                prev /= 2
            results.insert(0, getattr(self, output)(prev))
        # P6: subsampled P5 (detectron2's LastLevelMaxPool), used by the RPN only
        results.append(F.max_pool2d(results[-1], kernel_size=1, stride=2, padding=0))
        return dict(zip(self.output_shapes, results, strict=True))
