"""detectron2's StandardROIHeads: pooled box branch and (optionally) mask branch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from layoutft.errors import ConfigError
from layoutft.modeling.box_head import box_inference, build_box_head
from layoutft.modeling.losses import (
    fast_rcnn_losses,
    label_and_sample_proposals,
    mask_rcnn_loss,
)
from layoutft.modeling.mask_head import build_mask_head, mask_probs
from layoutft.modeling.mask_targets import GtMasks
from layoutft.modeling.poolers import ROIPooler
from layoutft.modeling.tracing import split_rows

if TYPE_CHECKING:
    from layoutft.config import Config


class StandardROIHeads(nn.Module):
    """Box head (+ mask head when ``MODEL.MASK_ON``) on features ``ROI_HEADS.IN_FEATURES``.

    Children are named like detectron2's: ``box_head``, ``box_predictor``, ``mask_head``.
    """

    def __init__(self, cfg: Config, input_shapes: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        heads = cfg.MODEL.ROI_HEADS
        if str(heads.NAME) != "StandardROIHeads":
            raise ConfigError(
                f"MODEL.ROI_HEADS.NAME {heads.NAME!r} is not supported; use StandardROIHeads"
            )
        box_cfg, mask_cfg = cfg.MODEL.ROI_BOX_HEAD, cfg.MODEL.ROI_MASK_HEAD
        if str(box_cfg.NAME) != "FastRCNNConvFCHead":
            raise ConfigError(f"MODEL.ROI_BOX_HEAD.NAME {box_cfg.NAME!r}: only FastRCNNConvFCHead")
        if bool(box_cfg.TRAIN_ON_PRED_BOXES):
            raise ConfigError("MODEL.ROI_BOX_HEAD.TRAIN_ON_PRED_BOXES is not supported")
        self.in_features = list(heads.IN_FEATURES)
        missing = [f for f in self.in_features if f not in input_shapes]
        if missing or not self.in_features:
            raise ConfigError(
                f"MODEL.ROI_HEADS.IN_FEATURES {self.in_features} must be backbone outputs "
                f"{list(input_shapes)}"
            )
        channels = {input_shapes[f][0] for f in self.in_features}
        if len(channels) != 1:
            raise ConfigError("MODEL.ROI_HEADS.IN_FEATURES must all have the same channels")
        in_channels = channels.pop()
        strides = [input_shapes[f][1] for f in self.in_features]
        self.cfg = cfg
        self.num_classes = int(heads.NUM_CLASSES)
        self.box_pooler = ROIPooler(
            int(box_cfg.POOLER_RESOLUTION), strides, int(box_cfg.POOLER_SAMPLING_RATIO),
            str(box_cfg.POOLER_TYPE),
        )  # fmt: skip
        self.box_head, self.box_predictor = build_box_head(cfg, in_channels)
        self.mask_on = bool(cfg.MODEL.MASK_ON)
        if self.mask_on:
            if str(mask_cfg.NAME) != "MaskRCNNConvUpsampleHead":
                raise ConfigError(
                    f"MODEL.ROI_MASK_HEAD.NAME {mask_cfg.NAME!r}: only MaskRCNNConvUpsampleHead"
                )
            self.mask_pooler = ROIPooler(
                int(mask_cfg.POOLER_RESOLUTION), strides, int(mask_cfg.POOLER_SAMPLING_RATIO),
                str(mask_cfg.POOLER_TYPE),
            )  # fmt: skip
            self.mask_head = build_mask_head(cfg, in_channels)

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_sizes: list[tuple[int, int]],
        min_score: float = 0.0,
    ) -> list[dict[str, Tensor]]:
        """Inference: per image ``boxes``, ``scores``, ``classes`` (+ ``mask_probs``).

        Args:
            features: backbone outputs.
            proposals: per image float32 [P_i, 4] XYXY proposal boxes (resized-image pixels).
            image_sizes: (h, w) of each resized image.
            min_score: detections scored below it are dropped before the mask head (the
                others are unchanged; see :func:`box_inference`).
        """
        maps = [features[f] for f in self.in_features]
        pooled = self.box_pooler(maps, proposals)
        class_logits, box_deltas = self.box_predictor(self.box_head(pooled))
        results = box_inference(
            class_logits, box_deltas, proposals, image_sizes, self.cfg, min_score
        )
        if self.mask_on:
            boxes = [r["boxes"] for r in results]
            if torch.jit.is_tracing() or sum(len(b) for b in boxes):
                logits = self.mask_head(self.mask_pooler(maps, boxes))
                classes = [r["classes"] for r in results]
                probs = mask_probs(logits, torch.cat(classes))
            else:
                side = 2 * int(self.cfg.MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION)
                probs = maps[0].new_zeros((0, 1, side, side))
            for r, p in zip(results, split_rows(probs, boxes), strict=True):
                r["mask_probs"] = p
        return results

    def losses(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        gt_boxes: list[Tensor],
        gt_classes: list[Tensor],
        gt_masks: list[GtMasks] | None,
    ) -> dict[str, Tensor]:
        """Training: sample proposals against the ground truth and compute the head losses.

        ``gt_masks`` per image: polygons (list over instances of lists of flat float arrays)
        or a bitmask Tensor [N, H, W]; required when MASK_ON.
        """
        sampled = label_and_sample_proposals(proposals, gt_boxes, gt_classes, self.cfg)
        maps = [features[f] for f in self.in_features]
        pooled = self.box_pooler(maps, [s.boxes for s in sampled])
        class_logits, box_deltas = self.box_predictor(self.box_head(pooled))
        out = dict(fast_rcnn_losses(class_logits, box_deltas, sampled, self.cfg))
        if self.mask_on:
            if gt_masks is None:
                raise ValueError("MASK_ON training needs 'polygons' or 'masks' for every image")
            fg = [s.foreground() for s in sampled]
            mask_logits = self.mask_head(self.mask_pooler(maps, [s.boxes for s in fg]))
            out["loss_mask"] = mask_rcnn_loss(mask_logits, fg, gt_masks, self.cfg)
        return out
