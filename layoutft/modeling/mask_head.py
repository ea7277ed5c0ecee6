"""Mask branch: detectron2's MaskRCNNConvUpsampleHead and mask inference."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from layoutft.modeling.layers import Conv2d, get_norm, msra_fill


class MaskRCNNConvUpsampleHead(nn.Sequential):
    """``mask_fcn1..N`` (3×3, norm, ReLU), ``deconv`` (2×2 stride 2) + ReLU, 1×1 ``predictor``.

    Maps pooled features [R, C, S, S] to mask logits [R, K or 1, 2S, 2S].

    Args:
        channels: C, channels of the pooled features.
        num_classes: output channels: K, or 1 for class-agnostic masks.
        conv_dim: channels of the convs and the deconv.
        num_conv: number of 3×3 convs before the deconv.
        norm: norm after each conv, a detectron2 ``NORM`` name ("" for none).
    """

    def __init__(
        self, channels: int, num_classes: int, conv_dim: int, num_conv: int, norm: str
    ) -> None:
        super().__init__()
        for k in range(num_conv):
            conv = Conv2d(
                channels, conv_dim, kernel_size=3, padding=1, bias=not norm,
                norm=get_norm(norm, conv_dim), activation=nn.ReLU(),
            )  # fmt: skip
            msra_fill(conv)
            self.add_module(f"mask_fcn{k + 1}", conv)
            channels = conv_dim
        self.deconv = nn.ConvTranspose2d(channels, conv_dim, kernel_size=2, stride=2, padding=0)
        msra_fill(self.deconv)
        self.add_module("deconv_relu", nn.ReLU())
        self.predictor = Conv2d(conv_dim, num_classes, kernel_size=1)
        nn.init.normal_(self.predictor.weight, std=0.001)
        nn.init.constant_(self.predictor.bias, 0.0)  # type: ignore[arg-type]


def mask_probs(mask_logits: Tensor, classes: Tensor) -> Tensor:
    """Sigmoid probabilities [R, 1, M, M] of each box's predicted class.

    Args:
        mask_logits: [R, K or 1, M, M].
        classes: int64 [R] predicted classes (ignored for class-agnostic masks).
    """
    if mask_logits.shape[1] == 1:
        return mask_logits.sigmoid()
    rows = torch.arange(mask_logits.shape[0], device=mask_logits.device)
    return mask_logits[rows, classes][:, None].sigmoid()
