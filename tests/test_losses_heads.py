"""RPN and box-head losses: hand-computed values, sampling, empty images, d2 cross-checks."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from layoutft.errors import ConfigError
from layoutft.modeling.build import proposal_sampling, roi_box_loss, rpn_loss_settings
from layoutft.modeling.losses import (
    SampledProposals,
    fast_rcnn_losses,
    label_and_sample_proposals,
    rpn_losses,
)

# float results against references: .ci/run reruns them under other CPU kernels
pytestmark = pytest.mark.numerics

LOG2 = math.log(2.0)


def make_cfg(num_classes: int = 3, **overrides: Any) -> Any:
    """detectron2 0.6 defaults for the keys the losses read; overrides like RPN__LOSS_WEIGHT=2."""
    from layoutft.config import default_config

    cfg = default_config()
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = num_classes
    for key, value in overrides.items():
        node_name, leaf = key.split("__")
        setattr(getattr(cfg.MODEL, node_name), leaf, value)
    return cfg


def rpn_inputs(
    anchors: list[Any], logits: list[Any], deltas: list[Any]
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    a = [torch.tensor(level, dtype=torch.float32) for level in anchors]
    lg = [torch.tensor(level, dtype=torch.float32, requires_grad=True) for level in logits]
    dl = [torch.tensor(level, dtype=torch.float32, requires_grad=True) for level in deltas]
    return a, lg, dl


def test_rpn_single_anchor_equal_to_gt() -> None:
    anchors, logits, deltas = rpn_inputs([[[0, 0, 10, 10]]], [[[0.0]]], [[[[0.1, -0.2, 0.3, 0]]]])
    gt = [torch.tensor([[0.0, 0, 10, 10]])]
    losses = rpn_losses(anchors, logits, deltas, gt, [(20, 20)], rpn_loss_settings(make_cfg()))
    torch.testing.assert_close(losses["loss_rpn_cls"], torch.tensor(LOG2 / 256))
    torch.testing.assert_close(losses["loss_rpn_loc"], torch.tensor(0.6 / 256))


def test_rpn_two_levels_two_images_one_without_gt() -> None:
    # Level 0: two anchors, level 1: one. Image 0 gt overlaps anchor 0 (IoU 0.68, but it is the
    # gt's best anchor, so positive) and the level-1 anchor (IoU 100/225 -> ignored band).
    anchors, logits, deltas = rpn_inputs(
        [[[0, 0, 10, 10], [20, 20, 30, 30]], [[0, 0, 15, 15]]],
        [[[1.0, -2.0], [0.5, 3.0]], [[0.25], [-1.0]]],
        [
            [[[0.3, 0.1, 0.0, -0.1], [9, 9, 9, 9]], [[9, 9, 9, 9], [9, 9, 9, 9]]],
            [[[9, 9, 9, 9]], [[9, 9, 9, 9]]],
        ],
    )
    gt = [torch.tensor([[1.0, 1, 11, 11]]), torch.zeros(0, 4)]
    losses = rpn_losses(
        anchors, logits, deltas, gt, [(40, 40), (40, 40)], rpn_loss_settings(make_cfg())
    )
    # Image 0: anchor 0 positive, anchor 1 negative, anchor 2 ignored; image 1: all negative.
    bce = F.binary_cross_entropy_with_logits
    cls_sum = (
        bce(torch.tensor(1.0), torch.tensor(1.0))
        + bce(torch.tensor(-2.0), torch.tensor(0.0))
        + sum(bce(torch.tensor(x), torch.tensor(0.0)) for x in (0.5, 3.0, -1.0))
    )
    torch.testing.assert_close(losses["loss_rpn_cls"], cls_sum / 512)
    # Target deltas of anchor 0 -> gt: (0.1, 0.1, 0, 0).
    torch.testing.assert_close(losses["loss_rpn_loc"], torch.tensor((0.2 + 0.0 + 0 + 0.1) / 512))
    (losses["loss_rpn_cls"] + losses["loss_rpn_loc"]).backward()
    assert deltas[1].grad is not None and not deltas[1].grad.any()  # no positives on level 1
    assert logits[1].grad is not None and logits[1].grad[0, 0] == 0  # ignored anchor


def test_rpn_low_quality_match_makes_best_anchor_positive() -> None:
    anchors, logits, deltas = rpn_inputs(
        [[[0, 0, 10, 10], [50, 50, 60, 60]]], [[[0.0, 0.0]]], [[[[0, 0, 0, 0], [0, 0, 0, 0]]]]
    )
    gt = [torch.tensor([[0.0, 0, 20, 20]])]  # IoU 0.25 with anchor 0: below 0.3, still positive
    losses = rpn_losses(anchors, logits, deltas, gt, [(64, 64)], rpn_loss_settings(make_cfg()))
    # deltas anchor 0 -> gt: dx = dy = (10 - 5) / 10, dw = dh = log(2).
    torch.testing.assert_close(losses["loss_rpn_loc"], torch.tensor((1.0 + 2 * LOG2) / 256))
    torch.testing.assert_close(losses["loss_rpn_cls"], torch.tensor(2 * LOG2 / 256))


def test_rpn_images_without_gt_give_zero_loc_loss_with_gradients() -> None:
    anchors = [torch.tensor([[0.0, 0, 10, 10], [5, 5, 25, 25]])]
    logits = [torch.tensor([[0.3, -0.7], [1.0, 2.0]], requires_grad=True)]
    deltas = [torch.randn(2, 2, 4, requires_grad=True)]
    losses = rpn_losses(
        anchors,
        logits,
        deltas,
        [torch.zeros(0, 4)] * 2,
        [(30, 30)] * 2,
        rpn_loss_settings(make_cfg()),
    )
    assert losses["loss_rpn_loc"].item() == 0.0
    expected = F.binary_cross_entropy_with_logits(logits[0], torch.zeros(2, 2), reduction="sum")
    torch.testing.assert_close(losses["loss_rpn_cls"], expected / 512)
    torch.stack(list(losses.values())).sum().backward()
    assert deltas[0].grad is not None and not deltas[0].grad.any()


def test_rpn_sampling_cap_weights_and_boundary() -> None:
    # 6 anchors equal to the gt (positive), 6 far away (negative); batch 4 at 50% -> 2 + 2.
    boxes = [[0, 0, 10, 10]] * 6 + [[100, 100, 110, 110]] * 6
    anchors, logits, deltas = rpn_inputs([boxes], [[[0.0] * 12]], [[[[0.5, 0, 0, 0]] * 12]])
    gt = [torch.tensor([[0.0, 0, 10, 10]])]
    cfg = make_cfg(RPN__BATCH_SIZE_PER_IMAGE=4, RPN__LOSS_WEIGHT=2.0, RPN__BBOX_REG_LOSS_WEIGHT=3.0)
    losses = rpn_losses(anchors, logits, deltas, gt, [(50, 50)], rpn_loss_settings(cfg))
    torch.testing.assert_close(losses["loss_rpn_cls"], torch.tensor(4 * LOG2 / 4 * 2.0))
    torch.testing.assert_close(losses["loss_rpn_loc"], torch.tensor(2 * 0.5 / 4 * 6.0))
    # BOUNDARY_THRESH 0: the far anchors lie outside a 50x50 image and are ignored.
    cfg = make_cfg(RPN__BATCH_SIZE_PER_IMAGE=4, RPN__BOUNDARY_THRESH=0)
    losses = rpn_losses(anchors, logits, deltas, gt, [(50, 50)], rpn_loss_settings(cfg))
    torch.testing.assert_close(losses["loss_rpn_cls"], torch.tensor(2 * LOG2 / 4))


def test_rpn_giou_and_unknown_loss_type() -> None:
    anchors, logits, deltas = rpn_inputs([[[0, 0, 10, 10]]], [[[0.0]]], [[[[0, 0, 0, 0]]]])
    gt = [torch.tensor([[0.0, 0, 20, 20]])]
    cfg = make_cfg(RPN__BBOX_REG_LOSS_TYPE="giou")
    losses = rpn_losses(anchors, logits, deltas, gt, [(20, 20)], rpn_loss_settings(cfg))
    # Predicted box = anchor: IoU 100/400, enclosing box = union -> GIoU loss 0.75.
    torch.testing.assert_close(losses["loss_rpn_loc"], torch.tensor(0.75 / 256))
    with pytest.raises(ConfigError, match=r"MODEL\.RPN\.BBOX_REG_LOSS_TYPE"):
        rpn_losses(
            anchors,
            logits,
            deltas,
            gt,
            [(20, 20)],
            rpn_loss_settings(make_cfg(RPN__BBOX_REG_LOSS_TYPE="l2")),
        )


def _random_boxes(n: int, size: float, gen: torch.Generator) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=gen) * size
    wh = 4 + torch.rand(n, 2, generator=gen) * size / 3
    return torch.cat([xy, xy + wh], 1)


def _reference_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = torch.zeros(len(a), len(b))
    for i, p in enumerate(a.tolist()):
        for j, q in enumerate(b.tolist()):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = w * h
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / union if inter > 0 else 0.0
    return out


def test_rpn_matches_independent_detectron2_recipe_on_random_case() -> None:
    gen = torch.Generator().manual_seed(0)
    anchors = [_random_boxes(60, 100, gen), _random_boxes(25, 100, gen)]
    logits = [torch.randn(2, 60, generator=gen), torch.randn(2, 25, generator=gen)]
    deltas = [torch.randn(2, 60, 4, generator=gen), torch.randn(2, 25, 4, generator=gen)]
    gts = [_random_boxes(4, 100, gen), _random_boxes(2, 100, gen)]
    cfg = make_cfg(RPN__BATCH_SIZE_PER_IMAGE=16)
    torch.manual_seed(3)
    losses = rpn_losses(anchors, logits, deltas, gts, [(128, 128)] * 2, rpn_loss_settings(cfg))

    # Reference: detectron2's steps written out with plain loops, same RNG order.
    torch.manual_seed(3)
    all_anchors = torch.cat(anchors)
    cls_terms, loc_terms = [], []
    for img, gt in enumerate(gts):
        iou = _reference_iou(gt, all_anchors)
        best, match = iou.max(0)
        label = torch.where(best >= 0.7, 1, torch.where(best < 0.3, 0, -1))
        for row in iou:
            label[row == row.max()] = 1
        pos, neg = (label == 1).nonzero()[:, 0], (label == 0).nonzero()[:, 0]
        n_pos = min(len(pos), 8)
        pos = pos[torch.randperm(len(pos))[:n_pos]]
        neg = neg[torch.randperm(len(neg))[: min(len(neg), 16 - n_pos)]]
        flat_logits = torch.cat([lv[img] for lv in logits])
        flat_deltas = torch.cat([dv[img] for dv in deltas])
        for i in pos.tolist():
            cls_terms.append(F.softplus(-flat_logits[i]))
            a, g = all_anchors[i], gt[match[i]]
            aw, ah, gw, gh = a[2] - a[0], a[3] - a[1], g[2] - g[0], g[3] - g[1]
            target = torch.stack(
                [
                    (g[0] + gw / 2 - a[0] - aw / 2) / aw,
                    (g[1] + gh / 2 - a[1] - ah / 2) / ah,
                    torch.log(gw / aw),
                    torch.log(gh / ah),
                ]
            )
            loc_terms.append((flat_deltas[i] - target).abs().sum())
        cls_terms += [F.softplus(flat_logits[i]) for i in neg.tolist()]
    torch.testing.assert_close(losses["loss_rpn_cls"], torch.stack(cls_terms).sum() / 32)
    torch.testing.assert_close(losses["loss_rpn_loc"], torch.stack(loc_terms).sum() / 32)


def test_label_and_sample_proposals_appends_gt_and_labels() -> None:
    proposals = [torch.tensor([[0.0, 0, 10, 10], [100, 100, 110, 110], [0, 0, 9, 10]])]
    gt_boxes = [torch.tensor([[0.0, 0, 10, 10]])]
    (s,) = label_and_sample_proposals(
        proposals, gt_boxes, [torch.tensor([2])], proposal_sampling(make_cfg())
    )
    # Boxes after appending the gt: IoU 1, 0, 0.9, 1 -> fg, bg, fg, fg (fg sampled first).
    assert len(s) == 4
    assert s.gt_classes.tolist() == [2, 2, 2, 3]
    assert s.gt_index.tolist() == [0, 0, 0, -1]
    assert s.boxes[3].tolist() == [100, 100, 110, 110]
    assert sorted(s.boxes[:3, 2].tolist()) == [9, 10, 10]
    assert (s.gt_boxes[:3] == gt_boxes[0]).all()
    fg = s.foreground()
    assert len(fg) == 3 and fg.gt_index.tolist() == [0, 0, 0]
    (s,) = label_and_sample_proposals(
        proposals,
        gt_boxes,
        [torch.tensor([2])],
        proposal_sampling(make_cfg(ROI_HEADS__PROPOSAL_APPEND_GT=False)),
    )
    assert sorted(s.gt_classes.tolist()) == [2, 2, 3]


def test_label_and_sample_proposals_iou_threshold_and_empty_image() -> None:
    # IoU exactly 0.5 is foreground; just below is background.
    proposals = [torch.tensor([[0.0, 0, 20, 10], [0, 0, 20.01, 10]]), torch.rand(5, 2).repeat(1, 2)]
    proposals[1][:, 2:] += 3
    gt_boxes = [torch.tensor([[0.0, 0, 10, 10]]), torch.zeros(0, 4)]
    gt_classes = [torch.tensor([0]), torch.zeros(0, dtype=torch.int64)]
    cfg = make_cfg(ROI_HEADS__PROPOSAL_APPEND_GT=False)
    first, empty = label_and_sample_proposals(
        proposals, gt_boxes, gt_classes, proposal_sampling(cfg)
    )
    assert first.gt_classes.tolist() == [0, 3]
    assert first.boxes[0, 2].item() == 20
    assert empty.gt_classes.tolist() == [3] * 5 and empty.gt_index.tolist() == [-1] * 5
    assert torch.equal(empty.gt_boxes, empty.boxes)
    assert len(empty.foreground()) == 0


def test_label_and_sample_proposals_caps_and_seeded_order() -> None:
    gt = torch.tensor([[0.0, 0, 10, 10]])
    fg_boxes = gt.repeat(300, 1)
    bg_boxes = torch.tensor([[50.0, 50, 60, 60]]).repeat(500, 1)
    proposals = [torch.cat([fg_boxes, bg_boxes])]
    cfg = make_cfg()
    torch.manual_seed(11)
    (s,) = label_and_sample_proposals(proposals, [gt], [torch.tensor([1])], proposal_sampling(cfg))
    assert len(s) == 512 and (s.gt_classes == 1).sum() == 128 and (s.gt_classes == 3).sum() == 384
    # Same draws as detectron2: randperm over the 301 positives (gt appended), then 500 negatives.
    torch.manual_seed(11)
    pos = torch.randperm(301)[:128]
    neg = torch.randperm(500)[:384]
    fg_idx = torch.cat([torch.arange(300), torch.tensor([800])])[pos]
    expected = torch.cat([fg_idx, 300 + neg])
    all_boxes = torch.cat([proposals[0], gt])
    assert torch.equal(s.boxes, all_boxes[expected])


def sampled(boxes: list[list[float]], gt_boxes: list[list[float]], classes: list[int]) -> Any:
    classes_t = torch.tensor(classes)
    return SampledProposals(
        boxes=torch.tensor(boxes),
        gt_classes=classes_t,
        gt_boxes=torch.tensor(gt_boxes),
        gt_index=torch.where(classes_t < 2, 0, -1),
    )


def test_fast_rcnn_losses_hand_values_class_specific_and_agnostic() -> None:
    # K = 2; sample 0 is class 1, proposal -> gt deltas with weights (10, 10, 5, 5) = (1, 1, 0, 0).
    s = sampled([[0, 0, 10, 10], [30, 30, 40, 40]], [[1, 1, 11, 11], [30, 30, 40, 40]], [1, 2])
    logits = torch.zeros(2, 3, requires_grad=True)
    deltas = torch.tensor(
        [[7, 7, 7, 7, 1.5, 0, 0, 0.2], [5, 5, 5, 5, 5, 5, 5, 5]], requires_grad=True
    )
    losses = fast_rcnn_losses(logits, deltas, [s], 2, roi_box_loss(make_cfg(num_classes=2)))
    torch.testing.assert_close(losses["loss_cls"], torch.tensor(math.log(3.0)))
    torch.testing.assert_close(losses["loss_box_reg"], torch.tensor((0.5 + 1 + 0 + 0.2) / 2))
    agnostic = torch.tensor([[1.5, 0, 0, 0.2], [5, 5, 5, 5]])
    cfg = make_cfg(num_classes=2, ROI_BOX_HEAD__BBOX_REG_LOSS_WEIGHT=2.0)
    losses = fast_rcnn_losses(
        logits, agnostic, [s], int(cfg.MODEL.ROI_HEADS.NUM_CLASSES), roi_box_loss(cfg)
    )
    torch.testing.assert_close(losses["loss_box_reg"], torch.tensor(1.7))


def test_fast_rcnn_losses_cross_entropy_matches_torch_on_random_logits() -> None:
    gen = torch.Generator().manual_seed(1)
    a = sampled([[0, 0, 10, 10]] * 3, [[0, 0, 12, 10]] * 3, [0, 2, 1])
    b = sampled([[5, 5, 9, 9]] * 2, [[5, 5, 9, 9]] * 2, [2, 2])
    logits = torch.randn(5, 3, generator=gen)
    deltas = torch.randn(5, 8, generator=gen)
    losses = fast_rcnn_losses(logits, deltas, [a, b], 2, roi_box_loss(make_cfg(num_classes=2)))
    target = torch.tensor([0, 2, 1, 2, 2])
    torch.testing.assert_close(losses["loss_cls"], F.cross_entropy(logits, target))
    # Foreground rows 0 (class 0) and 2 (class 1); target deltas (10 * 1/10, 0, 5 log 1.2, 0).
    tgt = torch.tensor([1.0, 0, 5 * math.log(1.2), 0])
    reg = (deltas[0, 0:4] - tgt).abs().sum() + (deltas[2, 4:8] - tgt).abs().sum()
    torch.testing.assert_close(losses["loss_box_reg"], reg / 5)


def test_fast_rcnn_losses_without_foreground_or_samples_are_zero_and_connected() -> None:
    bg = sampled([[0, 0, 10, 10]], [[0, 0, 10, 10]], [2])
    logits = torch.zeros(1, 3, requires_grad=True)
    deltas = torch.ones(1, 8, requires_grad=True)
    losses = fast_rcnn_losses(logits, deltas, [bg], 2, roi_box_loss(make_cfg(num_classes=2)))
    assert losses["loss_box_reg"].item() == 0.0
    torch.stack(list(losses.values())).sum().backward()
    assert deltas.grad is not None and not deltas.grad.any()

    empty = sampled([], [], [])
    empty.boxes = empty.gt_boxes = torch.zeros(0, 4)
    logits = torch.zeros(0, 3, requires_grad=True)
    deltas = torch.zeros(0, 8, requires_grad=True)
    losses = fast_rcnn_losses(logits, deltas, [empty], 2, roi_box_loss(make_cfg(num_classes=2)))
    assert losses["loss_cls"].item() == 0.0 and losses["loss_box_reg"].item() == 0.0
    torch.stack(list(losses.values())).sum().backward()
    assert logits.grad is not None


def test_fast_rcnn_losses_rejects_sigmoid_ce() -> None:
    s = sampled([[0, 0, 10, 10]], [[0, 0, 10, 10]], [2])
    cfg = make_cfg(num_classes=2)
    cfg.MODEL.ROI_BOX_HEAD.USE_SIGMOID_CE = True
    with pytest.raises(ConfigError, match="USE_SIGMOID_CE"):
        fast_rcnn_losses(
            torch.zeros(1, 3),
            torch.zeros(1, 8),
            [s],
            int(cfg.MODEL.ROI_HEADS.NUM_CLASSES),
            roi_box_loss(cfg),
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_rpn_and_box_losses_on_cuda_match_cpu() -> None:
    # Few enough anchors/proposals that everything is sampled: no dependence on the RNG.
    gen = torch.Generator().manual_seed(5)
    anchors = [_random_boxes(40, 100, gen)]
    logits = [torch.randn(2, 40, generator=gen)]
    deltas = [torch.randn(2, 40, 4, generator=gen)]
    gts = [_random_boxes(3, 100, gen), torch.zeros(0, 4)]
    classes = [torch.tensor([0, 2, 1]), torch.zeros(0, dtype=torch.int64)]
    proposals = [_random_boxes(30, 100, gen), _random_boxes(20, 100, gen)]
    cfg = make_cfg()

    def run(device: str) -> dict[str, torch.Tensor]:
        def move(xs: list[torch.Tensor]) -> list[torch.Tensor]:
            return [x.to(device) for x in xs]

        out = rpn_losses(
            move(anchors),
            move(logits),
            move(deltas),
            move(gts),
            [(128, 128)] * 2,
            rpn_loss_settings(cfg),
        )
        sampled = label_and_sample_proposals(
            move(proposals), move(gts), move(classes), proposal_sampling(cfg)
        )
        order = [torch.argsort(s.boxes[:, 0] * 1e4 + s.boxes[:, 1]) for s in sampled]
        sampled = [
            SampledProposals(*(t[o] for t in vars(s).values()))
            for s, o in zip(sampled, order, strict=True)
        ]
        n = sum(len(s) for s in sampled)
        cls_logits = torch.arange(n * 4, dtype=torch.float32, device=device).reshape(n, 4) % 3
        box_deltas = torch.linspace(-1, 1, n * 12, device=device).reshape(n, 12)
        out.update(
            fast_rcnn_losses(
                cls_logits,
                box_deltas,
                sampled,
                int(cfg.MODEL.ROI_HEADS.NUM_CLASSES),
                roi_box_loss(cfg),
            )
        )
        return {k: v.cpu() for k, v in out.items()}

    cpu, cuda = run("cpu"), run("cuda")
    for key, value in cpu.items():
        torch.testing.assert_close(cuda[key], value)
