"""Region proposal network (detectron2's StandardRPNHead + RPN + find_top_rpn_proposals).

Proposals are XYXY in pixels of the resized (unpadded) image, sorted by objectness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms

from layoutft.errors import ConfigError
from layoutft.modeling.anchors import AnchorGenerator
from layoutft.modeling.box_coder import BoxWeights, decode_boxes
from layoutft.modeling.layers import Conv2d, conv_precision
from layoutft.modeling.losses import RPNLossSettings, rpn_losses
from layoutft.modeling.tracing import at_most


@dataclass
class Proposals:
    """One image's proposals: ``boxes`` float32 [P, 4] XYXY, ``objectness_logits`` [P]."""

    boxes: Tensor
    objectness_logits: Tensor


class StandardRPNHead(nn.Module):
    """3×3 conv(s) + ReLU shared by all levels, then 1×1 convs for objectness and deltas.

    Args:
        in_channels: channels of every input feature map.
        num_anchors: A, anchors per location.
        conv_dims: output channels of each 3×3 conv; -1 keeps ``in_channels``.
    """

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


@dataclass(frozen=True)
class TrainTest:
    """A count that differs between training and inference (detectron2's ``*_TRAIN``/``*_TEST``)."""

    train: int
    test: int

    def get(self, training: bool) -> int:
        return self.train if training else self.test


class RPN(nn.Module):
    """Anchors, head, decoding and per-level NMS; in training also the RPN losses.

    Args:
        in_features: backbone outputs the RPN runs on, finest first (``p2``..``p6``).
        anchor_generator: anchors of those maps, in the order of the head's outputs.
        rpn_head: objectness logits and deltas per anchor.
        box_weights: (wx, wy, ww, wh) of the anchor deltas, e.g. (1, 1, 1, 1).
        nms_thresh: IoU of the per-level NMS.
        min_box_size: proposals with a side of at most this many pixels are dropped.
        pre_nms_topk: proposals kept per level before NMS.
        post_nms_topk: proposals kept per image after NMS.
        loss: anchor labelling and loss weights (training).
    """

    def __init__(
        self,
        *,
        in_features: Sequence[str],
        anchor_generator: AnchorGenerator,
        rpn_head: StandardRPNHead,
        box_weights: BoxWeights,
        nms_thresh: float,
        min_box_size: float,
        pre_nms_topk: TrainTest,
        post_nms_topk: TrainTest,
        loss: RPNLossSettings,
    ) -> None:
        super().__init__()
        self.in_features = list(in_features)
        self.anchor_generator = anchor_generator
        self.rpn_head = rpn_head
        self.box_weights = box_weights
        self.nms_thresh = nms_thresh
        self.min_box_size = min_box_size
        self.pre_nms_topk = pre_nms_topk
        self.post_nms_topk = post_nms_topk
        self.loss = loss

    def forward(
        self,
        features: dict[str, Tensor],
        image_sizes: list[tuple[int, int]],
        gt_boxes: list[Tensor] | None = None,
        head_dtype: torch.dtype | None = None,
        partial: list[bool] | None = None,
    ) -> tuple[list[Proposals], dict[str, Tensor]]:
        """Proposals per image (detached) and, when training, ``loss_rpn_cls``/``loss_rpn_loc``.

        Args:
            features: backbone outputs [B, C, H_l, W_l].
            image_sizes: (h, w) of each resized image before padding.
            gt_boxes: per image float32 [N_i, 4] XYXY; required in training.
            head_dtype: run the head's convolutions in this dtype (None: float32); anchors,
                decoding and NMS stay float32.
            partial: training, per image: True when it does not label every class (its
                negative anchors are ignored, see :func:`rpn_losses`); None: all complete.
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
            losses = rpn_losses(anchors, logits, deltas, gt_boxes, image_sizes, self.loss, partial)
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
        pre_k = self.pre_nms_topk.get(self.training)
        post_k = self.post_nms_topk.get(self.training)
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
