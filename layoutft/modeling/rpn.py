"""Region proposal network (detectron2's StandardRPNHead + RPN + find_top_rpn_proposals).

Proposals are XYXY in pixels of the resized (unpadded) image, sorted by objectness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms

from layoutft.errors import ConfigError
from layoutft.modeling.anchors import AnchorGenerator
from layoutft.modeling.box_coder import as_weights, decode_boxes
from layoutft.modeling.layers import Conv2d, conv_precision
from layoutft.modeling.losses import rpn_losses
from layoutft.modeling.tracing import at_most

if TYPE_CHECKING:
    from layoutft.config import Config


@dataclass
class Proposals:
    """One image's proposals: ``boxes`` float32 [P, 4] XYXY, ``objectness_logits`` [P]."""

    boxes: Tensor
    objectness_logits: Tensor


class StandardRPNHead(nn.Module):
    """3×3 conv(s) + ReLU shared by all levels, then 1×1 convs for objectness and deltas."""

    def __init__(self, in_channels: int, num_anchors: int, conv_dims: Sequence[int]) -> None:
        super().__init__()
        convs = []
        channels = in_channels
        for dim in conv_dims:
            out = channels if dim == -1 else int(dim)
            if out <= 0:
                raise ConfigError(f"MODEL.RPN.CONV_DIMS entries must be > 0 or -1, got {dim}")
            convs.append(Conv2d(channels, out, kernel_size=3, padding=1, activation=nn.ReLU()))
            channels = out
        # one conv is stored as ``conv``, several as ``conv.conv0``, ``conv.conv1`` (d2 names)
        self.conv: nn.Module = convs[0] if len(convs) == 1 else nn.Sequential()
        if len(convs) > 1:
            for k, conv in enumerate(convs):
                self.conv.add_module(f"conv{k}", conv)
        self.objectness_logits = nn.Conv2d(channels, num_anchors, kernel_size=1)
        self.anchor_deltas = nn.Conv2d(channels, num_anchors * 4, kernel_size=1)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.01)
                nn.init.constant_(layer.bias, 0.0)  # type: ignore[arg-type]

    def forward(self, features: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Per level: logits [B, A, H, W] and deltas [B, A*4, H, W]."""
        logits, deltas = [], []
        for x in features:
            t = self.conv(x)
            logits.append(self.objectness_logits(t))
            deltas.append(self.anchor_deltas(t))
        return logits, deltas


class RPN(nn.Module):
    """Anchors, head, decoding and per-level NMS; in training also the RPN losses."""

    def __init__(self, cfg: Config, input_shapes: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        rpn = cfg.MODEL.RPN
        self.in_features = list(rpn.IN_FEATURES)
        missing = [f for f in self.in_features if f not in input_shapes]
        if missing or not self.in_features:
            raise ConfigError(
                f"MODEL.RPN.IN_FEATURES {self.in_features} must be backbone outputs "
                f"{list(input_shapes)}"
            )
        if str(rpn.HEAD_NAME) != "StandardRPNHead":
            raise ConfigError(f"MODEL.RPN.HEAD_NAME {rpn.HEAD_NAME!r}: only StandardRPNHead")
        channels = {input_shapes[f][0] for f in self.in_features}
        if len(channels) != 1:
            raise ConfigError("MODEL.RPN.IN_FEATURES must all have the same number of channels")
        ag = cfg.MODEL.ANCHOR_GENERATOR
        self.anchor_generator = AnchorGenerator(
            ag.SIZES,
            ag.ASPECT_RATIOS,
            [input_shapes[f][1] for f in self.in_features],
            float(ag.OFFSET),
        )
        self.rpn_head = StandardRPNHead(
            channels.pop(), self.anchor_generator.num_anchors, list(rpn.CONV_DIMS)
        )
        self.cfg = cfg
        self.box_weights = as_weights(rpn.BBOX_REG_WEIGHTS, "MODEL.RPN.BBOX_REG_WEIGHTS")
        self.nms_thresh = float(rpn.NMS_THRESH)
        self.min_box_size = float(cfg.MODEL.PROPOSAL_GENERATOR.MIN_SIZE)
        self.pre_nms_topk = {True: int(rpn.PRE_NMS_TOPK_TRAIN), False: int(rpn.PRE_NMS_TOPK_TEST)}
        self.post_nms_topk = {
            True: int(rpn.POST_NMS_TOPK_TRAIN),
            False: int(rpn.POST_NMS_TOPK_TEST),
        }

    def forward(
        self,
        features: dict[str, Tensor],
        image_sizes: list[tuple[int, int]],
        gt_boxes: list[Tensor] | None = None,
        head_dtype: torch.dtype | None = None,
    ) -> tuple[list[Proposals], dict[str, Tensor]]:
        """Proposals per image (detached) and, when training, ``loss_rpn_cls``/``loss_rpn_loc``.

        Args:
            features: backbone outputs [B, C, H_l, W_l].
            image_sizes: (h, w) of each resized image before padding.
            gt_boxes: per image float32 [N_i, 4] XYXY; required in training.
            head_dtype: run the head's convolutions in this dtype (None: float32); anchors,
                decoding and NMS stay float32.
        """
        maps = [features[f] for f in self.in_features]
        anchors = self.anchor_generator([tuple(m.shape[-2:]) for m in maps])
        with conv_precision(maps[0].device, head_dtype):
            raw_logits, raw_deltas = self.rpn_head(maps)
        if head_dtype is not None:
            raw_logits = [x.float() for x in raw_logits]
            raw_deltas = [x.float() for x in raw_deltas]
        # [B, A, H, W] -> [B, H*W*A] and [B, A*4, H, W] -> [B, H*W*A, 4], matching anchor order
        logits = [x.permute(0, 2, 3, 1).flatten(1) for x in raw_logits]
        deltas = [
            x.view(x.shape[0], -1, 4, x.shape[-2], x.shape[-1])
            .permute(0, 3, 4, 1, 2)
            .flatten(1, -2)
            for x in raw_deltas
        ]
        losses: dict[str, Tensor] = {}
        if self.training:
            if gt_boxes is None:
                raise ValueError("RPN training needs gt_boxes")
            losses = rpn_losses(anchors, logits, deltas, gt_boxes, image_sizes, self.cfg)
        with torch.no_grad():
            proposals = self._top_proposals(anchors, logits, deltas, image_sizes)
        return proposals, losses

    def _top_proposals(
        self,
        anchors: list[Tensor],
        logits: list[Tensor],
        deltas: list[Tensor],
        image_sizes: list[tuple[int, int]],
    ) -> list[Proposals]:
        """Per level top-k, then per image: clip, drop small boxes, per-level NMS, top-k."""
        pre_k, post_k = self.pre_nms_topk[self.training], self.post_nms_topk[self.training]
        batch = len(image_sizes)
        rows = torch.arange(batch, device=anchors[0].device)[:, None]
        scores_l, boxes_l, levels_l = [], [], []
        for level, (anchors_l, logits_l, deltas_l) in enumerate(
            zip(anchors, logits, deltas, strict=True)
        ):
            logits_l, deltas_l = logits_l.detach(), deltas_l.detach()
            k = at_most(logits_l.shape[1], pre_k)
            top_scores, top_idx = logits_l.topk(k, dim=1)
            # decoding only the selected anchors gives the same boxes as decoding all of them
            sel_deltas = deltas_l[rows, top_idx].reshape(-1, 4)
            sel_anchors = anchors_l[top_idx.reshape(-1)]
            boxes = decode_boxes(sel_deltas, sel_anchors, self.box_weights).view(batch, k, 4)
            scores_l.append(top_scores)
            boxes_l.append(boxes)
            levels_l.append(torch.full_like(top_idx[0], level))
        all_scores, all_boxes = torch.cat(scores_l, 1), torch.cat(boxes_l, 1)
        all_levels = torch.cat(levels_l)
        results = []
        for i, (h, w) in enumerate(image_sizes):
            boxes, scores, levels = all_boxes[i], all_scores[i], all_levels
            valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(scores)
            if torch.jit.is_tracing() or not bool(valid.all()):
                if self.training:
                    raise FloatingPointError("RPN boxes or scores are Inf/NaN: training diverged")
                boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
            boxes = clip_boxes(boxes, (h, w))
            keep = nonempty(boxes, self.min_box_size)
            if torch.jit.is_tracing() or not bool(keep.all()):
                boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
            keep = batched_nms(boxes, scores, levels, self.nms_thresh)[:post_k]
            results.append(Proposals(boxes[keep], scores[keep]))
        return results


def clip_boxes(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Clamp XYXY ``boxes`` [N, 4] to x in [0, w], y in [0, h] for ``size`` = (h, w)."""
    h, w = size
    return torch.stack(
        (
            boxes[:, 0].clamp(min=0, max=w),
            boxes[:, 1].clamp(min=0, max=h),
            boxes[:, 2].clamp(min=0, max=w),
            boxes[:, 3].clamp(min=0, max=h),
        ),
        dim=-1,
    )


def nonempty(boxes: Tensor, threshold: float = 0.0) -> Tensor:
    """bool [N]: both sides of the box are longer than ``threshold``."""
    return ((boxes[:, 2] - boxes[:, 0]) > threshold) & ((boxes[:, 3] - boxes[:, 1]) > threshold)
