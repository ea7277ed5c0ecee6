"""Training losses of the RPN, the box head and the mask head (detectron2 0.6 semantics).

Boxes are float32 XYXY in pixels of the (resized, unpadded) image the network sees. Every loss is a
scalar float32 tensor on the device of the predictions; losses over zero elements are exactly 0
and still connected to the graph, so ``backward()`` always works.

Partial labels: an image may label only some classes exhaustively (``labelled``, bool [K] per
image; None = all). An annotation is always a true object of its class, so it stays a positive
everywhere (objectness, classification with the full softmax, box regression, mask), also when
its class is not labelled on that image (e.g. LVIS's not-exhaustive classes). What an image
cannot say is that an *unannotated* region is not of a class it does not label:

* box classification: a background sample's cross entropy is taken over background plus the
  image's labelled classes only (the logits of the other classes are masked out), so "not a
  table" never teaches "not a paragraph";
* RPN objectness is class-agnostic, so any negative anchor of such an image may lie on an
  unannotated object of an unlabelled class: its negatives are ignored, positives kept.

With every image fully labelled (``labelled`` None) the losses are computed exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from layoutft.modeling.box_coder import BoxWeights, decode_boxes, encode_boxes
from layoutft.modeling.mask_targets import GtMasks, mask_targets
from layoutft.modeling.matching import Matcher, pairwise_iou, subsample_labels

#: Box regression losses: smooth L1 (L1 when beta < 1e-5) on the deltas, or an IoU loss
#: on the decoded boxes.
REG_LOSS_TYPES = ("smooth_l1", "giou", "diou", "ciou")


@dataclass(frozen=True)
class BoxRegressionLoss:
    """How predicted box deltas are penalised.

    Attributes:
        weights: (wx, wy, ww, wh) of the box coder the deltas are encoded with.
        loss_type: one of :data:`REG_LOSS_TYPES`.
        smooth_l1_beta: smooth-L1 transition point; below 1e-5 the loss is exactly L1.
        loss_weight: multiplier of the (normalised) regression loss.
    """

    weights: BoxWeights
    loss_type: str = "smooth_l1"
    smooth_l1_beta: float = 0.0
    loss_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.loss_type not in REG_LOSS_TYPES:
            raise ValueError(f"unknown box loss {self.loss_type!r}; use one of {REG_LOSS_TYPES}")


@dataclass(frozen=True)
class RPNLossSettings:
    """Anchor labelling and loss weights of the RPN.

    Attributes:
        matcher: labels anchors from their IoU with the ground truth (low-quality matches on).
        batch_size_per_image: anchors sampled per image; also the loss normaliser.
        positive_fraction: at most this share of the samples is positive.
        boundary_thresh: anchors reaching more than this many pixels past the image border
            are ignored; negative: keep all anchors.
        regression: the anchor-delta loss (its ``loss_weight`` is relative to ``loss_weight``).
        loss_weight: multiplier of both RPN losses.
    """

    matcher: Matcher
    batch_size_per_image: int
    positive_fraction: float
    regression: BoxRegressionLoss
    boundary_thresh: float = -1.0
    loss_weight: float = 1.0


@dataclass(frozen=True)
class ProposalSampling:
    """How RPN proposals are matched to the ground truth and sampled for the ROI heads.

    Attributes:
        matcher: labels proposals from their IoU (no low-quality matches).
        num_classes: K; the background class is K.
        batch_size_per_image: proposals sampled per image.
        positive_fraction: at most this share of the samples is foreground.
        append_gt: add the ground-truth boxes to the proposals before matching.
    """

    matcher: Matcher
    num_classes: int
    batch_size_per_image: int
    positive_fraction: float
    append_gt: bool = True


@dataclass
class SampledProposals:
    """Proposals of one image sampled for the box/mask heads, with their targets.

    Attributes:
        boxes: float32 [S, 4] XYXY proposal boxes (sampled foreground first, then background).
        gt_classes: int64 [S]; class in 0..K-1 for foreground, K (NUM_CLASSES) for background.
        gt_boxes: float32 [S, 4] matched ground-truth box (meaningless for background).
        gt_index: int64 [S] index of the matched ground truth in the image, -1 for background.
    """

    boxes: Tensor
    gt_classes: Tensor
    gt_boxes: Tensor
    gt_index: Tensor

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def foreground(self) -> SampledProposals:
        """The foreground subset (the input of the mask head), in the same order."""
        keep = self.gt_index >= 0
        return SampledProposals(
            self.boxes[keep], self.gt_classes[keep], self.gt_boxes[keep], self.gt_index[keep]
        )


def _box_regression_loss(
    pred_deltas: Tensor, src_boxes: Tensor, target_boxes: Tensor, loss: BoxRegressionLoss
) -> Tensor:
    """Summed regression loss (without ``loss.loss_weight``) of [F, 4] deltas predicted on
    [F, 4] XYXY source boxes towards [F, 4] XYXY targets."""
    weights, beta = loss.weights, loss.smooth_l1_beta
    if loss.loss_type == "smooth_l1":
        target_deltas = encode_boxes(src_boxes, target_boxes, weights)
        # fvcore's smooth_l1_loss is exactly L1 below beta 1e-5 (the default beta is 0).
        if beta < 1e-5:
            return F.l1_loss(pred_deltas, target_deltas, reduction="sum")
        return F.smooth_l1_loss(pred_deltas, target_deltas, reduction="sum", beta=beta)
    from torchvision import ops

    iou_losses: dict[str, Callable[..., Tensor]] = {
        "giou": ops.generalized_box_iou_loss,
        "diou": ops.distance_box_iou_loss,
        "ciou": ops.complete_box_iou_loss,
    }
    pred_boxes = decode_boxes(pred_deltas, src_boxes, weights)
    return iou_losses[loss.loss_type](pred_boxes, target_boxes, reduction="sum", eps=1e-7)


def rpn_losses(
    anchors: list[Tensor],
    objectness_logits: list[Tensor],
    anchor_deltas: list[Tensor],
    gt_boxes: list[Tensor],
    image_sizes: list[tuple[int, int]],
    settings: RPNLossSettings,
    partial: Sequence[bool] | None = None,
) -> dict[str, Tensor]:
    """Objectness and anchor regression losses of the RPN.

    Args:
        anchors: per level, float32 [A_l, 4] XYXY anchors in (H, W, A) order.
        objectness_logits: per level, [B, A_l] logits in the same order.
        anchor_deltas: per level, [B, A_l, 4] deltas in the same order.
        gt_boxes: per image, float32 [N_i, 4] XYXY ground truth (N_i may be 0).
        image_sizes: per image, (height, width) before padding (used when
            ``settings.boundary_thresh`` >= 0).
        settings: matching, sampling and loss weights.
        partial: per image, True when it does not label every class: its negative anchors
            are ignored (only its positives are sampled); None: every image is complete.

    Returns:
        ``{"loss_rpn_cls", "loss_rpn_loc"}``, both normalized by batch_size_per_image × B
        (also for partial images, whose fewer samples then weigh as they would in a full one).
    """
    all_anchors = torch.cat(anchors, dim=0)
    labels, matched = _label_and_sample_anchors(
        all_anchors, gt_boxes, image_sizes, settings, partial
    )

    pos_mask = labels == 1  # [B, R]
    deltas = torch.cat(anchor_deltas, dim=1)  # [B, R, 4]
    src = all_anchors[None].expand(len(gt_boxes), -1, -1)
    loc = _box_regression_loss(
        deltas[pos_mask],
        src[pos_mask],
        matched[pos_mask],
        settings.regression,
    )
    valid = labels >= 0
    cls = F.binary_cross_entropy_with_logits(
        torch.cat(objectness_logits, dim=1)[valid],
        labels[valid].to(torch.float32),
        reduction="sum",
    )
    normalizer = settings.batch_size_per_image * len(gt_boxes)
    weight = settings.loss_weight
    return {
        "loss_rpn_cls": cls / normalizer * weight,
        "loss_rpn_loc": loc / normalizer * (settings.regression.loss_weight * weight),
    }


@torch.no_grad()
def _label_and_sample_anchors(
    anchors: Tensor,
    gt_boxes: list[Tensor],
    image_sizes: list[tuple[int, int]],
    settings: RPNLossSettings,
    partial: Sequence[bool] | None = None,
) -> tuple[Tensor, Tensor]:
    """Sampled labels int8 [B, R] (-1 ignore, 0 neg., 1 pos.) and matched gt boxes [B, R, 4]."""
    matcher = settings.matcher
    boundary = settings.boundary_thresh
    all_labels, all_matched = [], []
    for i, (gt, (height, width)) in enumerate(zip(gt_boxes, image_sizes, strict=True)):
        gt = gt.to(anchors.device, torch.float32)
        matches, labels = matcher(pairwise_iou(gt, anchors))
        if boundary >= 0:
            # Legacy option (off by default): ignore anchors reaching past the image border.
            inside = (
                (anchors[:, 0] >= -boundary)
                & (anchors[:, 1] >= -boundary)
                & (anchors[:, 2] < width + boundary)
                & (anchors[:, 3] < height + boundary)
            )
            labels[~inside] = -1
        if partial is not None and partial[i]:
            labels[labels == 0] = -1  # any background anchor may be an unlabelled object
        pos, neg = subsample_labels(
            labels, settings.batch_size_per_image, settings.positive_fraction, 0
        )
        labels.fill_(-1)
        labels[pos] = 1
        labels[neg] = 0
        all_labels.append(labels)
        all_matched.append(gt[matches] if len(gt) else torch.zeros_like(anchors))
    return torch.stack(all_labels), torch.stack(all_matched)


@torch.no_grad()
def label_and_sample_proposals(
    proposals: list[Tensor],
    gt_boxes: list[Tensor],
    gt_classes: list[Tensor],
    sampling: ProposalSampling,
) -> list[SampledProposals]:
    """Match proposals to ground truth and sample them for the box head (per image).

    Args:
        proposals: per image, float32 [P_i, 4] XYXY RPN proposals (no gradient is kept).
        gt_boxes: per image, float32 [N_i, 4] XYXY ground truth (N_i may be 0).
        gt_classes: per image, int64 [N_i] classes in 0..K-1.
        sampling: matcher, class count and sample sizes.

    Returns:
        Per image, at most ``sampling.batch_size_per_image`` samples, foreground first. With
        ``sampling.append_gt`` the ground-truth boxes are appended after the proposals before
        matching.
    """
    num_classes = sampling.num_classes
    matcher = sampling.matcher
    out = []
    for boxes, gt, classes in zip(proposals, gt_boxes, gt_classes, strict=True):
        boxes = boxes.detach().to(torch.float32)
        gt = gt.to(boxes.device, torch.float32)
        classes = classes.to(boxes.device, torch.int64)
        if sampling.append_gt:
            boxes = torch.cat([boxes, gt], dim=0)
        matches, match_labels = matcher(pairwise_iou(gt, boxes))
        if len(gt):
            labels = classes[matches]
            labels[match_labels == 0] = num_classes
            labels[match_labels == -1] = -1
        else:
            labels = torch.full_like(matches, num_classes)
        pos, neg = subsample_labels(
            labels, sampling.batch_size_per_image, sampling.positive_fraction, num_classes
        )
        idx = torch.cat([pos, neg])
        sampled_labels = labels[idx]
        is_fg = sampled_labels != num_classes
        out.append(
            SampledProposals(
                boxes=boxes[idx],
                gt_classes=sampled_labels,
                gt_boxes=gt[matches[idx]] if len(gt) else boxes[idx],
                gt_index=torch.where(is_fg, matches[idx], torch.full_like(idx, -1)),
            )
        )
    return out


def fast_rcnn_losses(
    class_logits: Tensor,
    box_deltas: Tensor,
    sampled: list[SampledProposals],
    num_classes: int,
    regression: BoxRegressionLoss,
    labelled: Sequence[Tensor | None] | None = None,
) -> dict[str, Tensor]:
    """Classification and box regression losses of the box head.

    Args:
        class_logits: [S, K+1] logits (background last) for the concatenated samples of all images.
        box_deltas: [S, 4K] class-specific or [S, 4] class-agnostic deltas.
        sampled: per image, the output of :func:`label_and_sample_proposals`.
        num_classes: K (``class_logits`` has K+1 columns).
        regression: the box-delta loss (weights (10, 10, 5, 5) in detectron2's defaults).
        labelled: per image, bool [K] of the classes it labels exhaustively, or None (all);
            a background sample of an image takes its cross entropy over background and
            those classes only. None: every image labels every class.

    Returns:
        ``loss_cls``: mean cross entropy over all samples; ``loss_box_reg``: regression loss summed
        over foreground samples, divided by the number of samples (all of them, not just
        foreground), times ``regression.loss_weight``.
    """
    device = class_logits.device
    gt_classes = _cat([s.gt_classes for s in sampled], (0,), torch.int64, device)
    boxes = _cat([s.boxes for s in sampled], (0, 4), torch.float32, device)
    gt_boxes = _cat([s.gt_boxes for s in sampled], (0, 4), torch.float32, device)

    if gt_classes.numel() == 0:
        loss_cls = class_logits.sum() * 0.0
    else:
        allowed = _allowed_classes(sampled, labelled, num_classes, device)
        if allowed is not None:
            class_logits = class_logits.masked_fill(~allowed, float("-inf"))
        loss_cls = F.cross_entropy(class_logits, gt_classes, reduction="mean")

    fg = torch.nonzero((gt_classes >= 0) & (gt_classes < num_classes), as_tuple=True)[0]
    if box_deltas.shape[1] == 4:
        fg_deltas = box_deltas[fg]
    else:
        fg_deltas = box_deltas.reshape(-1, num_classes, 4)[fg, gt_classes[fg]]
    reg = _box_regression_loss(
        fg_deltas,
        boxes[fg],
        gt_boxes[fg],
        regression,
    )
    reg = reg / max(gt_classes.numel(), 1)
    return {"loss_cls": loss_cls, "loss_box_reg": reg * regression.loss_weight}


def _allowed_classes(
    sampled: list[SampledProposals],
    labelled: Sequence[Tensor | None] | None,
    num_classes: int,
    device: torch.device,
) -> Tensor | None:
    """bool [S, K+1]: the logits each sample's cross entropy is taken over, or None for all.

    Foreground samples and images without a mask keep every class; a background sample
    (class K) of an image with mask ``m`` keeps ``m`` and the background column.
    """
    if labelled is None or all(m is None for m in labelled):
        return None
    rows = []
    for samples, mask in zip(sampled, labelled, strict=True):
        allowed = torch.ones((len(samples), num_classes + 1), dtype=torch.bool, device=device)
        if mask is not None:
            background = samples.gt_classes.to(device) == num_classes
            allowed[background, :num_classes] = mask.to(device, torch.bool)
        rows.append(allowed)
    return torch.cat(rows, dim=0)


def _cat(
    parts: list[Tensor], empty_shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> Tensor:
    if not parts:
        return torch.zeros(empty_shape, dtype=dtype, device=device)
    return torch.cat([p.to(device, dtype) for p in parts], dim=0)


def mask_rcnn_loss(
    mask_logits: Tensor,
    fg: list[SampledProposals],
    gt_masks: list[GtMasks],
) -> Tensor:
    """Per-pixel sigmoid BCE of the mask head (class-agnostic when the logits have one
    channel, as in detectron2).

    Args:
        mask_logits: [F, K, M, M] class-specific or [F, 1, M, M] class-agnostic logits, F the
            foreground samples of all images concatenated in image order.
        fg: per image, ``SampledProposals.foreground()`` of the sampled proposals.
        gt_masks: per image, polygons (per instance, list of flat [x0, y0, x1, y1, ...] arrays in
            image pixels) or a bool/uint8 [N_i, H, W] bitmask tensor.

    Returns:
        Scalar mean BCE over F×M×M between the logits of each box's class and its target (the
        matched ground-truth mask cropped to the box, M×M); ``mask_logits.sum() * 0`` when F == 0.
    """
    num_masks, _, mask_size, width = mask_logits.shape
    if mask_size != width:
        raise ValueError(f"mask logits must be square, got {tuple(mask_logits.shape)}")
    if sum(len(s) for s in fg) != num_masks:
        raise ValueError(f"{num_masks} mask logits for {sum(len(s) for s in fg)} foreground boxes")
    targets, classes = [], []
    for samples, masks in zip(fg, gt_masks, strict=True):
        if len(samples) == 0:
            continue
        targets.append(mask_targets(masks, samples.boxes, samples.gt_index, mask_size))
        classes.append(samples.gt_classes)
    if not targets:
        return mask_logits.sum() * 0
    target = torch.cat(targets).to(mask_logits.device, torch.float32)
    if mask_logits.shape[1] == 1:
        logits = mask_logits[:, 0]
    else:
        picked = torch.cat(classes).to(mask_logits.device, torch.int64)
        logits = mask_logits[torch.arange(num_masks, device=mask_logits.device), picked]
    return F.binary_cross_entropy_with_logits(logits, target, reduction="mean")
