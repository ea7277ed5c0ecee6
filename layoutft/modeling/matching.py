"""Matching of anchors/proposals to ground truth, and balanced sampling (detectron2 0.6 semantics).

All boxes are float XYXY in pixels of the (resized) image the network sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from layoutft.errors import ConfigError


def pairwise_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of every pair of boxes.

    Args:
        boxes1: float [N, 4] XYXY.
        boxes2: float [M, 4] XYXY, same coordinate space and device.

    Returns:
        float [N, M]; 0 wherever the intersection is empty (so degenerate boxes give 0, not NaN).
    """
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    top_left = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    zero = torch.zeros((), dtype=inter.dtype, device=inter.device)
    return torch.where(inter > 0, inter / (area1[:, None] + area2 - inter), zero)


class Matcher:
    """Assigns each prediction (column) the ground truth (row) it overlaps most, with a label.

    ``thresholds`` split the best IoU of a prediction into ``len(thresholds) + 1`` bands; band
    ``i`` gets ``labels[i]`` (-1 ignore, 0 negative, 1 positive). Intervals are [low, high).
    With ``allow_low_quality_matches``, every prediction that ties for the best IoU of some
    ground truth is labelled 1 whatever its band (Faster R-CNN's RPN rule (i)).
    """

    def __init__(
        self,
        thresholds: Sequence[float],
        labels: Sequence[int],
        allow_low_quality_matches: bool = False,
        *,
        config_key: str = "IOU_THRESHOLDS",
    ) -> None:
        thresholds = [float(t) for t in thresholds]
        labels = [int(v) for v in labels]
        if not thresholds or thresholds[0] <= 0 or thresholds != sorted(thresholds):
            raise ConfigError(
                f"{config_key}: {thresholds} must be increasing positive IoUs, e.g. [0.3, 0.7]"
            )
        if len(labels) != len(thresholds) + 1 or any(v not in (-1, 0, 1) for v in labels):
            raise ConfigError(
                f"{config_key}: {len(thresholds)} thresholds need {len(thresholds) + 1} labels "
                f"in {{-1, 0, 1}} (IOU_LABELS), got {labels}"
            )
        self.bounds = [-float("inf"), *thresholds, float("inf")]
        self.labels = labels
        self.allow_low_quality_matches = allow_low_quality_matches

    def __call__(self, quality: Tensor) -> tuple[Tensor, Tensor]:
        """Match predictions to ground truth.

        Args:
            quality: float [G, P] match quality (IoU, >= 0) of G ground truths vs P predictions.

        Returns:
            ``matches`` int64 [P] (best ground-truth row; 0 when G == 0) and ``labels`` int8 [P].
            With no ground truth every prediction gets the first label (background).
        """
        num_preds = quality.shape[1]
        if quality.numel() == 0:
            matches = torch.zeros(num_preds, dtype=torch.int64, device=quality.device)
            labels = torch.full(
                (num_preds,), self.labels[0], dtype=torch.int8, device=quality.device
            )
            return matches, labels
        best, matches = quality.max(dim=0)
        labels = torch.ones(num_preds, dtype=torch.int8, device=quality.device)
        for label, low, high in zip(self.labels, self.bounds[:-1], self.bounds[1:], strict=True):
            labels[(best >= low) & (best < high)] = label
        if self.allow_low_quality_matches:
            best_per_gt = quality.max(dim=1).values
            # Ties count: every prediction reaching a ground truth's best IoU becomes positive.
            ties = torch.nonzero(quality == best_per_gt[:, None], as_tuple=True)[1]
            labels[ties] = 1
        return matches, labels


def subsample_labels(
    labels: Tensor, num_samples: int, positive_fraction: float, bg_label: int
) -> tuple[Tensor, Tensor]:
    """Randomly pick at most ``num_samples`` positives and negatives (detectron2's sampler).

    Positives are labels other than -1 and ``bg_label``; at most
    ``int(num_samples * positive_fraction)`` of them are kept and negatives fill the rest.
    Draws ``torch.randperm`` for positives, then negatives, on the device of ``labels``, so a
    seeded run draws the same samples as detectron2.

    Args:
        labels: int [N] labels (-1 ignore, ``bg_label`` negative, anything else positive).

    Returns:
        ``(pos_idx, neg_idx)``: int64 index vectors into ``labels``.
    """
    positive = torch.nonzero((labels != -1) & (labels != bg_label), as_tuple=True)[0]
    negative = torch.nonzero(labels == bg_label, as_tuple=True)[0]
    num_pos = min(positive.numel(), int(num_samples * positive_fraction))
    num_neg = min(negative.numel(), num_samples - num_pos)
    pos_perm = torch.randperm(positive.numel(), device=positive.device)[:num_pos]
    neg_perm = torch.randperm(negative.numel(), device=negative.device)[:num_neg]
    return positive[pos_perm], negative[neg_perm]
