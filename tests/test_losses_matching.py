"""IoU, Matcher and balanced sampler: detectron2 0.6 semantics on hand-checkable cases."""

from __future__ import annotations

import pytest
import torch

from layoutft.errors import ConfigError
from layoutft.modeling.matching import Matcher, pairwise_iou, subsample_labels

# float results against references: .ci/run reruns them under other CPU kernels
pytestmark = pytest.mark.numerics


def test_pairwise_iou_hand_values_and_degenerate_boxes() -> None:
    a = torch.tensor([[0.0, 0, 10, 10], [5, 5, 5, 5]])  # second box has zero area
    b = torch.tensor([[5.0, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    iou = pairwise_iou(a, b)
    expected = torch.tensor([[50 / 150, 1.0, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(iou, expected)
    assert not torch.isnan(iou).any()
    assert pairwise_iou(torch.zeros(0, 4), b).shape == (0, 3)


def test_matcher_rpn_bands_are_half_open() -> None:
    matcher = Matcher([0.3, 0.7], [0, -1, 1], allow_low_quality_matches=False)
    # Rows: ground truths; columns: predictions. Best IoUs per column: .8 .7 .5 .3 .29 0
    quality = torch.tensor([[0.8, 0.1, 0.5, 0.3, 0.0, 0.0], [0.2, 0.7, 0.1, 0.0, 0.29, 0.0]])
    matches, labels = matcher(quality)
    assert matches.tolist() == [0, 1, 0, 0, 1, 0]
    assert labels.tolist() == [1, 1, -1, -1, 0, 0]
    assert labels.dtype == torch.int8 and matches.dtype == torch.int64


def test_matcher_low_quality_matches_promote_every_tie() -> None:
    # gt 1's best IoU is 0.4, reached by predictions 1 and 2 (a tie): both become positive.
    quality = torch.tensor([[0.9, 0.0, 0.0, 0.1], [0.0, 0.4, 0.4, 0.2]])
    _, strict = Matcher([0.3, 0.7], [0, -1, 1])(quality)
    assert strict.tolist() == [1, -1, -1, 0]
    _, low = Matcher([0.3, 0.7], [0, -1, 1], allow_low_quality_matches=True)(quality)
    assert low.tolist() == [1, 1, 1, 0]


def test_matcher_roi_single_threshold() -> None:
    matcher = Matcher([0.5], [0, 1])
    _, labels = matcher(torch.tensor([[0.5, 0.4999, 1.0]]))
    assert labels.tolist() == [1, 0, 1]


def test_matcher_without_ground_truth_labels_everything_background() -> None:
    matches, labels = Matcher([0.3, 0.7], [0, -1, 1], True)(torch.zeros(0, 5))
    assert matches.tolist() == [0] * 5
    assert labels.tolist() == [0] * 5


@pytest.mark.parametrize(
    ("thresholds", "labels"),
    [([0.7, 0.3], [0, -1, 1]), ([0.0, 0.7], [0, -1, 1]), ([0.5], [0, -1, 1]), ([0.5], [0, 2])],
)
def test_matcher_rejects_bad_config(thresholds: list[float], labels: list[int]) -> None:
    with pytest.raises(ConfigError, match="IOU_THRESHOLDS"):
        Matcher(thresholds, labels, config_key="MODEL.RPN.IOU_THRESHOLDS")


def _labels(num_pos: int, num_neg: int, num_ignore: int, bg: int = 0) -> torch.Tensor:
    return torch.cat(
        [torch.full((num_pos,), 1), torch.full((num_neg,), bg), torch.full((num_ignore,), -1)]
    )


@pytest.mark.parametrize(
    ("num_pos", "num_neg", "want_pos", "want_neg"),
    [(10, 100, 8, 24), (3, 100, 3, 29), (20, 5, 8, 5), (0, 0, 0, 0)],
)
def test_subsample_counts(num_pos: int, num_neg: int, want_pos: int, want_neg: int) -> None:
    labels = _labels(num_pos, num_neg, 7)
    pos, neg = subsample_labels(labels, 32, 0.25, bg_label=0)
    assert (len(pos), len(neg)) == (want_pos, want_neg)
    assert (labels[pos] == 1).all() and (labels[neg] == 0).all()
    assert len(set(pos.tolist())) == len(pos) and len(set(neg.tolist())) == len(neg)


def test_subsample_foreground_classes_with_background_label_k() -> None:
    # ROI head: classes 0..K-1 are positives (class 0 included), K = 3 is background.
    labels = torch.tensor([0, 2, 3, 3, -1, 1, 3])
    pos, neg = subsample_labels(labels, 100, 0.25, bg_label=3)
    assert sorted(pos.tolist()) == [0, 1, 5]
    assert sorted(neg.tolist()) == [2, 3, 6]


def test_subsample_is_seeded_randperm_positives_then_negatives() -> None:
    labels = _labels(50, 200, 10)
    torch.manual_seed(7)
    pos, neg = subsample_labels(labels, 64, 0.5, bg_label=0)
    torch.manual_seed(7)
    pos_again, neg_again = subsample_labels(labels, 64, 0.5, bg_label=0)
    assert torch.equal(pos, pos_again) and torch.equal(neg, neg_again)
    # detectron2 draws one permutation of all positives, then one of all negatives.
    torch.manual_seed(7)
    expected_pos = torch.randperm(50)[:32]
    expected_neg = torch.randperm(200)[:32] + 50
    assert torch.equal(pos, expected_pos) and torch.equal(neg, expected_neg)
