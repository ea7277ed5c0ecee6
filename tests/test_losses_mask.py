"""Mask targets (polygons and bitmasks cropped to boxes) and the mask head loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layoutft.errors import DatasetError
from layoutft.modeling.losses import SampledProposals, mask_rcnn_loss
from layoutft.modeling.mask_targets import (
    bitmask_mask_targets,
    mask_targets,
    polygon_mask_targets,
)

# float results against references: .ci/run reruns them under other CPU kernels
pytestmark = pytest.mark.numerics


def rect_polygon(x0: float, y0: float, x1: float, y1: float) -> list[np.ndarray]:
    return [np.array([x0, y0, x1, y0, x1, y1, x0, y1], dtype=np.float64)]


def rect_bitmask(height: int, width: int, x0: int, y0: int, x1: int, y1: int) -> torch.Tensor:
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[y0:y1, x0:x1] = True
    return mask


def fg_samples(boxes: list[list[float]], gt_index: list[int], classes: list[int]) -> Any:
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return SampledProposals(
        boxes=b,
        gt_classes=torch.tensor(classes, dtype=torch.int64),
        gt_boxes=b.clone(),
        gt_index=torch.tensor(gt_index, dtype=torch.int64),
    )


def test_left_half_targets_are_exact_for_polygons_and_bitmasks() -> None:
    box = torch.tensor([[0.0, 0, 20, 20]])
    index = torch.tensor([0])
    expected = torch.tensor([[1, 1, 0, 0]] * 4, dtype=torch.bool)[None]
    poly = polygon_mask_targets([rect_polygon(0, 0, 10, 20)], box, index, 4)
    bits = bitmask_mask_targets(rect_bitmask(20, 20, 0, 0, 10, 20)[None], box, index, 4)
    assert torch.equal(poly, expected) and torch.equal(bits, expected)


def test_polygon_targets_shift_and_scale_into_the_box() -> None:
    # Box 10 px wide, 20 px high at (30, 40); the polygon covers its top half -> rows 0..1 of 4.
    box = torch.tensor([[30.0, 40, 40, 60]])
    target = polygon_mask_targets([rect_polygon(30, 40, 40, 50)], box, torch.tensor([0]), 4)
    assert target[0].int().tolist() == [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize(
    ("box", "min_iou"),
    [([10, 12, 40, 50], 1.0), ([12.3, 14.7, 33.1, 47.9], 1.0), ([5, 5, 45, 55], 0.9)],
)
def test_polygon_and_bitmask_targets_agree_on_a_rectangle(box: list[float], min_iou: float) -> None:
    polygons = [rect_polygon(10, 12, 40, 50)]
    bitmask = rect_bitmask(64, 64, 10, 12, 40, 50)[None]
    boxes, index = torch.tensor([box]), torch.tensor([0])
    a = mask_targets(polygons, boxes, index, 28)
    b = mask_targets(bitmask, boxes, index, 28)
    assert a.dtype == b.dtype == torch.bool and a.shape == b.shape == (1, 28, 28)
    iou = (a & b).sum().item() / (a | b).sum().item()
    assert iou >= min_iou


def test_targets_pick_the_matched_instance_and_leave_polygons_unchanged() -> None:
    polygons = [rect_polygon(0, 0, 10, 10), rect_polygon(10, 0, 20, 10)]
    before = [p[0].copy() for p in polygons]
    boxes = torch.tensor([[0.0, 0, 20, 10], [0, 0, 20, 10], [0, 0, 20, 10]])
    index = torch.tensor([1, 0, 1])
    got = polygon_mask_targets(polygons, boxes, index, 2)
    assert got.int().tolist() == [[[0, 1], [0, 1]], [[1, 0], [1, 0]], [[0, 1], [0, 1]]]
    assert all(np.array_equal(p[0], b) for p, b in zip(polygons, before, strict=True))
    bitmasks = torch.stack(
        [rect_bitmask(10, 20, 0, 0, 10, 10), rect_bitmask(10, 20, 10, 0, 20, 10)]
    )
    assert torch.equal(bitmask_mask_targets(bitmasks.to(torch.uint8), boxes, index, 2), got)


def test_instance_without_polygons_and_bad_polygon() -> None:
    box = torch.tensor([[0.0, 0, 5, 5]])
    assert not polygon_mask_targets([[]], box, torch.tensor([0]), 3).any()
    with pytest.raises(DatasetError, match="coordinates"):
        polygon_mask_targets([[np.array([0.0, 0, 4, 4])]], box, torch.tensor([0]), 3)


def test_mask_loss_hand_value_class_specific_and_agnostic() -> None:
    # One foreground box equal to its gt rectangle: target all ones at M = 2.
    fg = [fg_samples([[0, 0, 10, 10]], [0], [1])]
    gt = [[rect_polygon(0, 0, 10, 10)]]
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, 0] = 100.0  # class 0 channel must be ignored
    logits[0, 1] = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    logits.requires_grad_(True)
    loss = mask_rcnn_loss(logits, fg, gt)
    x = torch.tensor([0.0, 1.0, 2.0, -1.0])
    expected = torch.log1p(torch.exp(-x)).mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert logits.grad is not None and not logits.grad[0, 0].any()

    agnostic = logits.detach()[:, 1:2].clone().requires_grad_(True)
    torch.testing.assert_close(mask_rcnn_loss(agnostic, fg, gt), expected)


def test_mask_loss_several_images_polygons_and_bitmasks_match_torch_bce() -> None:
    gen = torch.Generator().manual_seed(0)
    image0 = [rect_polygon(0, 0, 16, 8), rect_polygon(4, 4, 12, 20)]
    image2 = torch.stack([rect_bitmask(32, 32, 8, 8, 24, 24)])
    fg = [
        fg_samples([[0, 0, 16, 16], [2, 2, 14, 22]], [0, 1], [2, 0]),
        fg_samples([], [], []),
        fg_samples([[4, 4, 28, 28]], [0], [1]),
    ]
    logits = torch.randn(3, 3, 8, 8, generator=gen, requires_grad=True)
    loss = mask_rcnn_loss(logits, fg, [image0, [], image2])
    targets = torch.cat(
        [
            mask_targets(image0, fg[0].boxes, fg[0].gt_index, 8),
            mask_targets(image2, fg[2].boxes, fg[2].gt_index, 8),
        ]
    ).float()
    # Box 0: the gt fills its top half. Box 2: 3 px bins, the gt covers 2/3 of the edge bins
    # (kept: >= 0.5) and (2/3)^2 of the corner bins (dropped).
    assert targets[0, :4].all() and not targets[0, 4:].any()
    expected = torch.zeros(8, 8)
    expected[1:7, 1:7] = 1
    expected[[1, 1, 6, 6], [1, 6, 1, 6]] = 0
    assert torch.equal(targets[2], expected)
    picked = logits[torch.arange(3), torch.tensor([2, 0, 1])]
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(picked, targets))


def test_mask_loss_without_foreground_is_zero_and_connected() -> None:
    logits = torch.randn(0, 3, 28, 28, requires_grad=True)
    loss = mask_rcnn_loss(logits, [fg_samples([], [], [])] * 2, [[], torch.zeros(0, 5, 5)])
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert logits.grad is not None


def test_mask_loss_rejects_count_mismatch() -> None:
    fg = [fg_samples([[0, 0, 10, 10]], [0], [0])]
    with pytest.raises(ValueError, match="1 foreground"):
        mask_rcnn_loss(torch.zeros(2, 1, 4, 4), fg, [[rect_polygon(0, 0, 5, 5)]])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mask_targets_and_loss_on_cuda_match_cpu() -> None:
    polygons = [rect_polygon(10, 12, 40, 50)]
    bitmask = rect_bitmask(64, 64, 10, 12, 40, 50)[None]
    fg = fg_samples([[5, 5, 45, 55], [12.3, 14.7, 33.1, 47.9]], [0, 0], [1, 0])
    logits = torch.randn(2, 2, 28, 28)
    for gt in (polygons, bitmask):
        cpu = mask_rcnn_loss(logits, [fg], [gt])
        fg_cuda = SampledProposals(*(t.cuda() for t in vars(fg).values()))
        gt_cuda = gt.cuda() if isinstance(gt, torch.Tensor) else gt
        cuda = mask_rcnn_loss(logits.cuda(), [fg_cuda], [gt_cuda])
        assert cuda.device.type == "cuda"
        torch.testing.assert_close(cuda.cpu(), cpu)
