"""Box branch: detectron2's FastRCNNConvFCHead, FastRCNNOutputLayers and box inference.

Class scores have K+1 columns with background LAST; box deltas are class-specific (4K) unless
``CLS_AGNOSTIC_BBOX_REG`` (4). Boxes are XYXY in pixels of the resized image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.ops import batched_nms

from layoutft.modeling.box_coder import BoxWeights, decode_boxes
from layoutft.modeling.layers import Conv2d, get_norm, msra_fill, xavier_fill
from layoutft.modeling.rpn import clip_boxes
from layoutft.modeling.tracing import split_rows


class FastRCNNConvFCHead(nn.Sequential):
    """``conv1..N`` (3×3, norm, ReLU) then ``fc1..M`` (Linear, ReLU) on pooled [R, C, S, S].

    Args:
        channels: C, channels of the pooled features.
        resolution: S, side of the pooled features.
        conv_dims: output channels of each 3×3 conv (may be empty).
        fc_dims: output size of each fully connected layer (may be empty).
        norm: norm after each conv, a detectron2 ``NORM`` name ("" for none, then convs
            have a bias).

    ``output_size`` is the length of the flattened output per RoI.
    """

    def __init__(
        self,
        channels: int,
        resolution: int,
        conv_dims: Sequence[int],
        fc_dims: Sequence[int],
        norm: str,
    ) -> None:
        super().__init__()
        self.output_size = channels * resolution * resolution
        for k, dim in enumerate(conv_dims):
            conv = Conv2d(
                channels, dim, kernel_size=3, padding=1, bias=not norm, norm=get_norm(norm, dim),
                activation=nn.ReLU(),
            )  # fmt: skip
            msra_fill(conv)
            self.add_module(f"conv{k + 1}", conv)
            channels = dim
            self.output_size = dim * resolution * resolution
        for k, dim in enumerate(fc_dims):
            if k == 0:
                self.add_module("flatten", nn.Flatten())
            fc = nn.Linear(self.output_size, dim)
            xavier_fill(fc)
            self.add_module(f"fc{k + 1}", fc)
            self.add_module(f"fc_relu{k + 1}", nn.ReLU())
            self.output_size = dim


class FastRCNNOutputLayers(nn.Module):
    """``cls_score`` (K+1 logits, background last) and ``bbox_pred`` (4K or 4 deltas).

    Args:
        input_size: length of the box head's output per RoI.
        num_classes: K, foreground classes.
        cls_agnostic: one box per RoI (4 deltas) instead of one per class (4K).
    """

    def __init__(self, input_size: int, num_classes: int, cls_agnostic: bool) -> None:
        super().__init__()
        self.cls_score = nn.Linear(input_size, num_classes + 1)
        self.bbox_pred = nn.Linear(input_size, 4 * (1 if cls_agnostic else num_classes))
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.zeros_(self.bbox_pred.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() > 2:
            x = torch.flatten(x, start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)


def box_inference(
    class_logits: Tensor,
    box_deltas: Tensor,
    proposals: list[Tensor],
    image_sizes: list[tuple[int, int]],
    *,
    box_weights: BoxWeights,
    score_thresh: float,
    nms_thresh: float,
    detections_per_img: int,
    min_score: float | Tensor = 0.0,
) -> list[dict[str, Tensor]]:
    """Per image ``boxes`` [N, 4] XYXY (resized-image pixels), ``scores`` [N], ``classes``
    int64 [N] (0..K-1).

    Args:
        class_logits: [R, K+1] logits of all images' proposals, background last.
        box_deltas: [R, 4K] class-specific or [R, 4] class-agnostic deltas.
        proposals: per image float32 [R_i, 4] XYXY proposals (resized-image pixels).
        image_sizes: (h, w) of each resized image; boxes are clipped to it.
        box_weights: (wx, wy, ww, wh) the deltas were encoded with.
        score_thresh: keep class scores strictly above it.
        nms_thresh: IoU of per-class NMS.
        detections_per_img: keep the best this many per image (negative: all).
        min_score: also drop scores below it (0: off); a 0-d tensor is always applied
            (an exported graph's ``min_score`` input).

    Softmax over K+1, decode boxes, clip, keep scores > ``score_thresh`` (and >=
    ``min_score``), per-class NMS, top ``detections_per_img``. ``min_score`` changes no
    detection scored at or above it: greedy NMS and top-k decide a box's fate from
    higher-scored boxes only.
    """
    topk = detections_per_img
    boxes_all = decode_boxes(box_deltas, torch.cat(proposals), box_weights)
    probs_all = F.softmax(class_logits, dim=-1)
    results = []
    for boxes, probs, size in zip(
        split_rows(boxes_all, proposals), split_rows(probs_all, proposals), image_sizes, strict=True
    ):
        valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(probs).all(dim=1)
        if torch.jit.is_tracing() or not bool(valid.all()):
            boxes, probs = boxes[valid], probs[valid]
        scores = probs[:, :-1]
        num_reg = boxes.shape[1] // 4
        boxes = clip_boxes(boxes.reshape(-1, 4), size).view(-1, num_reg, 4)
        mask = scores > score_thresh
        if isinstance(min_score, Tensor) or min_score > 0:
            mask = mask & (scores >= min_score)
        inds = mask.nonzero()
        boxes = boxes[inds[:, 0], 0] if num_reg == 1 else boxes[mask]
        scores = scores[mask]
        keep = batched_nms(boxes, scores, inds[:, 1], nms_thresh)
        if topk >= 0:
            keep = keep[:topk]
        results.append({"boxes": boxes[keep], "scores": scores[keep], "classes": inds[keep, 1]})
    return results
