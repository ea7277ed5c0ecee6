"""GeneralizedRCNN: normalize + pad, ResNet-FPN backbone, RPN, StandardROIHeads.

Input contract (see TEAM.md): ``model(batch)`` with ``batch`` a list of dicts holding
``"image"``: Tensor [3, H, W] (uint8 or float32, 0-255, channel order of the config's
``INPUT.FORMAT``), already resized. Training dicts also hold ``"boxes"`` float32 [N, 4]
XYXY image pixels, ``"classes"`` int64 [N] and, for MASK_ON, ``"polygons"`` or ``"masks"``;
optionally ``"labelled"`` bool [K], the classes labelled exhaustively on that page (absent:
all; see :mod:`layoutft.modeling.losses` for what the losses then ignore).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from layoutft.modeling.fpn import FPN
from layoutft.modeling.layers import conv_precision
from layoutft.modeling.roi_heads import StandardROIHeads
from layoutft.modeling.rpn import RPN, Proposals


class GeneralizedRCNN(nn.Module):
    """Mask/Faster R-CNN whose ``state_dict`` keys equal detectron2's for the same config.

    ``pixel_mean``/``pixel_std`` are non-persistent buffers [3, 1, 1].

    Args:
        backbone: ResNet-FPN; its ``size_divisibility`` sets the padding of the batch.
        proposal_generator: the RPN on the backbone's outputs.
        roi_heads: box (and mask) heads; ``mask_on`` follows whether it has a mask head.
        pixel_mean, pixel_std: per channel, in the input's channel order and 0-255 scale;
            images are normalised as (image - mean) / std.
    """

    pixel_mean: Tensor
    pixel_std: Tensor

    def __init__(
        self,
        *,
        backbone: FPN,
        proposal_generator: RPN,
        roi_heads: StandardROIHeads,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
    ) -> None:
        super().__init__()
        if len(pixel_mean) != len(pixel_std):
            raise ValueError(
                f"pixel_mean {list(pixel_mean)} and pixel_std {list(pixel_std)} must have the "
                "same length"
            )
        self.backbone = backbone
        self.proposal_generator = proposal_generator
        self.roi_heads = roi_heads
        mean = torch.tensor(list(pixel_mean)).view(-1, 1, 1)
        std = torch.tensor(list(pixel_std)).view(-1, 1, 1)
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)
        self.mask_on = roi_heads.mask_on

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def preprocess(self, batch: list[dict[str, Any]]) -> tuple[Tensor, list[tuple[int, int]]]:
        """Normalized images padded with 0 to a common size divisible by the backbone's
        stride ([B, 3, H, W] float32) and each image's (h, w) before padding."""
        images = [
            (d["image"].to(self.device, torch.float32, non_blocking=True) - self.pixel_mean)
            / self.pixel_std
            for d in batch
        ]
        # no int(): under torch.jit.trace the sizes stay traced values, so exports keep them dynamic
        sizes = [(im.shape[-2], im.shape[-1]) for im in images]
        div = self.backbone.size_divisibility
        max_h = (max(h for h, _ in sizes) + div - 1) // div * div
        max_w = (max(w for _, w in sizes) + div - 1) // div * div
        if len(images) == 1:
            h, w = sizes[0]
            return F.pad(images[0], [0, max_w - w, 0, max_h - h]).unsqueeze(0), sizes
        padded = images[0].new_zeros((len(images), images[0].shape[0], max_h, max_w))
        for i, im in enumerate(images):
            padded[i, :, : im.shape[-2], : im.shape[-1]].copy_(im)
        return padded, sizes

    def proposals(self, batch: list[dict[str, Any]]) -> list[Proposals]:
        """RPN proposals per image (XYXY, resized-image pixels, best first), no ROI heads."""
        images, sizes = self.preprocess(batch)
        return self.proposal_generator(self.backbone(_conv_layout(images)), sizes)[0]

    def forward(
        self,
        batch: list[dict[str, Any]],
        min_score: float | Tensor = 0.0,
        conv_dtype: torch.dtype | None = None,
    ) -> Any:
        """Eval: per image ``boxes`` [N, 4], ``scores`` [N], ``classes`` int64 [N] and, with
        MASK_ON, ``mask_probs`` [N, 1, M, M] (resized-image pixels); detections scored below
        ``min_score`` are left out (and cost no mask-head work). ``conv_dtype`` (eval only):
        run the backbone and RPN head convolutions in bfloat16/float16 (None: float32); box
        decoding, NMS and the ROI heads stay float32. Train: dict of losses."""
        images, sizes = self.preprocess(batch)
        if not self.training:
            with conv_precision(images.device, conv_dtype):
                features = self.backbone(_conv_layout(images))
            proposals, _ = self.proposal_generator(features, sizes, head_dtype=conv_dtype)
            # float32 NCHW for the ROI heads: roi_align would copy channels-last maps to NCHW
            # on every call, so convert once
            features = {name: f.float().contiguous() for name, f in features.items()}
            return self.roi_heads(features, [p.boxes for p in proposals], sizes, min_score)
        features = self.backbone(images)
        gt_boxes = [d["boxes"].to(self.device, torch.float32) for d in batch]
        gt_classes = [d["classes"].to(self.device, torch.int64) for d in batch]
        labelled = _labelled(batch, self.device)
        partial = None if labelled is None else [m is not None for m in labelled]
        proposals, losses = self.proposal_generator(features, sizes, gt_boxes, partial=partial)
        gt_masks = [_gt_masks(d, self.device) for d in batch] if self.mask_on else None
        losses.update(
            self.roi_heads.losses(
                features, [p.boxes for p in proposals], gt_boxes, gt_classes, gt_masks, labelled
            )
        )
        return losses


def _conv_layout(images: Tensor) -> Tensor:
    """``images`` in the memory layout the backbone runs fastest on for inference.

    CPU: channels-last (oneDNN's convolutions ran ~8% faster on NHWC for R50-FPN pages;
    benchmarks/results/findings.md); elsewhere unchanged. The values are the same.
    """
    if images.device.type == "cpu":
        return images.contiguous(memory_format=torch.channels_last)
    return images


def _labelled(batch: list[dict[str, Any]], device: torch.device) -> list[Tensor | None] | None:
    """Per image the bool [K] mask of its labelled classes, None where it labels all of them;
    None when every image labels every class (the losses then run exactly as without)."""
    masks: list[Tensor | None] = []
    for record in batch:
        mask = record.get("labelled")
        if mask is not None:
            mask = torch.as_tensor(mask, dtype=torch.bool, device=device)
            mask = None if bool(mask.all()) else mask
        masks.append(mask)
    return None if all(m is None for m in masks) else masks


def _gt_masks(record: dict[str, Any], device: torch.device) -> Any:
    if "polygons" in record:
        return record["polygons"]
    if "masks" in record:
        return torch.as_tensor(record["masks"], device=device)
    raise ValueError("MASK_ON training needs 'polygons' or 'masks' in every batch dict")
