"""detectron2's StandardROIHeads: pooled box branch and (optionally) mask branch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from layoutft.modeling.box_coder import BoxWeights
from layoutft.modeling.box_head import FastRCNNConvFCHead, FastRCNNOutputLayers, box_inference
from layoutft.modeling.losses import (
    BoxRegressionLoss,
    ProposalSampling,
    fast_rcnn_losses,
    label_and_sample_proposals,
    mask_rcnn_loss,
)
from layoutft.modeling.mask_head import MaskRCNNConvUpsampleHead, mask_probs
from layoutft.modeling.mask_targets import GtMasks
from layoutft.modeling.poolers import ROIPooler
from layoutft.modeling.tracing import split_rows


class StandardROIHeads(nn.Module):
    """Box head (+ mask head when ``mask_head`` is given) on the features ``in_features``.

    Children are named like detectron2's: ``box_head``, ``box_predictor``, ``mask_head``.
    All boxes are XYXY in pixels of the resized image.

    Args:
        in_features: backbone outputs the heads pool from, finest first (``p2``..``p5``).
        box_pooler: pools [R, C, S, S] box features from those maps.
        box_head: pooled features -> per-RoI vector.
        box_predictor: per-RoI vector -> class logits (K+1) and box deltas.
        num_classes: K, foreground classes.
        box_weights: (wx, wy, ww, wh) of the box deltas, e.g. (10, 10, 5, 5).
        score_thresh: inference keeps class scores strictly above it (detectron2's 0.05).
        nms_thresh: IoU of the per-class NMS at inference.
        detections_per_img: detections kept per image at inference (negative: all).
        sampling: how proposals are matched and sampled in training.
        box_loss: the box regression loss in training.
        mask_pooler, mask_head: the mask branch (both or neither); masks are
            2S×2S for a pooled side S.
    """

    def __init__(
        self,
        *,
        in_features: Sequence[str],
        box_pooler: ROIPooler,
        box_head: FastRCNNConvFCHead,
        box_predictor: FastRCNNOutputLayers,
        num_classes: int,
        box_weights: BoxWeights,
        score_thresh: float,
        nms_thresh: float,
        detections_per_img: int,
        sampling: ProposalSampling,
        box_loss: BoxRegressionLoss,
        mask_pooler: ROIPooler | None = None,
        mask_head: MaskRCNNConvUpsampleHead | None = None,
    ) -> None:
        super().__init__()
        if (mask_pooler is None) != (mask_head is None):
            raise ValueError("give both mask_pooler and mask_head, or neither")
        self.in_features = list(in_features)
        self.num_classes = num_classes
        self.box_weights = box_weights
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.sampling = sampling
        self.box_loss = box_loss
        self.box_pooler = box_pooler
        self.box_head = box_head
        self.box_predictor = box_predictor
        self.mask_on = mask_head is not None
        if mask_pooler is not None and mask_head is not None:
            self.mask_pooler = mask_pooler
            self.mask_head = mask_head

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_sizes: list[tuple[int, int]],
        min_score: float | Tensor = 0.0,
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
            class_logits,
            box_deltas,
            proposals,
            image_sizes,
            box_weights=self.box_weights,
            score_thresh=self.score_thresh,
            nms_thresh=self.nms_thresh,
            detections_per_img=self.detections_per_img,
            min_score=min_score,
        )
        if self.mask_on:
            boxes = [r["boxes"] for r in results]
            if torch.jit.is_tracing() or sum(len(b) for b in boxes):
                logits = self.mask_head(self.mask_pooler(maps, boxes))
                classes = [r["classes"] for r in results]
                probs = mask_probs(logits, torch.cat(classes))
            else:
                side = 2 * self.mask_pooler.output_size
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
        labelled: list[Tensor | None] | None = None,
    ) -> dict[str, Tensor]:
        """Training: sample proposals against the ground truth and compute the head losses.

        ``gt_masks`` per image: polygons (list over instances of lists of flat float arrays)
        or a bitmask Tensor [N, H, W]; required with a mask head. ``labelled`` per image:
        bool [K] of the classes it labels exhaustively, or None (all; see
        :mod:`layoutft.modeling.losses`). Box regression and mask losses use the foreground
        samples, i.e. annotated objects, whatever their class: they are true objects.
        """
        sampled = label_and_sample_proposals(proposals, gt_boxes, gt_classes, self.sampling)
        maps = [features[f] for f in self.in_features]
        pooled = self.box_pooler(maps, [s.boxes for s in sampled])
        class_logits, box_deltas = self.box_predictor(self.box_head(pooled))
        out = dict(
            fast_rcnn_losses(
                class_logits, box_deltas, sampled, self.num_classes, self.box_loss, labelled
            )
        )
        if self.mask_on:
            if gt_masks is None:
                raise ValueError("MASK_ON training needs 'polygons' or 'masks' for every image")
            fg = [s.foreground() for s in sampled]
            mask_logits = self.mask_head(self.mask_pooler(maps, [s.boxes for s in fg]))
            out["loss_mask"] = mask_rcnn_loss(mask_logits, fg, gt_masks)
        return out
