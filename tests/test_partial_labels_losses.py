"""Partial labels in the losses: masked box classification, RPN negatives ignored, and
bit-identical losses when every class is labelled (hand-computed values, a tiny model)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from layoutft.config import default_config, load_config
from layoutft.modeling import build_model
from layoutft.modeling.build import roi_box_loss, rpn_loss_settings
from layoutft.modeling.losses import SampledProposals, fast_rcnn_losses, rpn_losses

CONFIG = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask" / "config.yaml"
TINY_MODEL = [
    "MODEL.RESNETS.WIDTH_PER_GROUP", "4", "MODEL.FPN.OUT_CHANNELS", "32",
    "MODEL.ROI_BOX_HEAD.FC_DIM", "32", "MODEL.ROI_MASK_HEAD.CONV_DIM", "32",
    "MODEL.ROI_HEADS.NUM_CLASSES", "2",
]  # fmt: skip
TEXT, TABLE, BG = 0, 1, 2  # K = 2 classes, background is column 2
TABLE_ONLY = torch.tensor([False, True])


def box_loss() -> Any:
    cfg = default_config()
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
    return roi_box_loss(cfg)


def samples(classes: list[int]) -> SampledProposals:
    n = len(classes)
    cls = torch.tensor(classes, dtype=torch.int64)
    boxes = torch.tensor([[0.0, 0, 10, 10]] * n).reshape(-1, 4)
    return SampledProposals(boxes, cls, boxes.clone(), torch.where(cls < BG, 0, -1))


def test_background_sample_of_a_table_only_page_ignores_the_text_logit() -> None:
    # Sample 0: a table (foreground: full softmax); sample 1: background of a table-only page.
    logits = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.5, 1.0]], requires_grad=True)
    deltas = torch.zeros(2, 8)
    masked = fast_rcnn_losses(logits, deltas, [samples([TABLE, BG])], 2, box_loss(), [TABLE_ONLY])
    # fg: -log(1/3); bg over {table, bg} only: -1.0 + log(e^0.5 + e^1.0) (the text logit 2.0
    # would otherwise dominate: -1.0 + log(e^2 + e^0.5 + e^1))
    fg, bg = math.log(3.0), -1.0 + math.log(math.exp(0.5) + math.exp(1.0))
    torch.testing.assert_close(masked["loss_cls"], torch.tensor((fg + bg) / 2))
    masked["loss_cls"].backward()
    assert logits.grad is not None
    assert logits.grad[1, TEXT] == 0.0  # "not a table" says nothing about text
    assert logits.grad[0, TEXT] != 0.0  # the foreground sample keeps the full softmax
    # d/d(bg logit) of the bg row: (softmax over {table, bg} - 1) / 2
    p_bg = math.exp(1.0) / (math.exp(0.5) + math.exp(1.0))
    torch.testing.assert_close(logits.grad[1, BG], torch.tensor((p_bg - 1) / 2))

    unmasked = fast_rcnn_losses(logits, deltas, [samples([TABLE, BG])], 2, box_loss())
    full_bg = -1.0 + math.log(math.exp(2.0) + math.exp(0.5) + math.exp(1.0))
    torch.testing.assert_close(unmasked["loss_cls"], torch.tensor((fg + full_bg) / 2))


def test_mask_applies_per_image() -> None:
    # Image 0 labels only tables, image 1 everything (None): its background keeps all logits.
    logits = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    out = fast_rcnn_losses(
        logits, torch.zeros(2, 8), [samples([BG]), samples([BG])], 2, box_loss(), [TABLE_ONLY, None]
    )
    torch.testing.assert_close(
        out["loss_cls"], torch.tensor((math.log(2.0) + math.log(2 + math.e)) / 2)
    )


def test_full_mask_equals_unmasked_loss_and_gradient_exactly() -> None:
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(7, 3, generator=gen)
    deltas = torch.randn(7, 8, generator=gen)
    sampled = [samples([TEXT, TABLE, BG, BG]), samples([TABLE, BG, BG])]
    full = torch.tensor([True, True])

    def loss(labelled: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x = logits.clone().requires_grad_(True)
        out = fast_rcnn_losses(x, deltas, sampled, 2, box_loss(), labelled)
        total = out["loss_cls"] + out["loss_box_reg"]
        total.backward()
        assert x.grad is not None
        return total.detach(), x.grad

    reference = loss(None)
    for labelled in ([full, full], [full, None], [None, None]):
        got = loss(labelled)
        assert torch.equal(got[0], reference[0]) and torch.equal(got[1], reference[1])


def rpn_case() -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    # One level of three anchors, two images: image 0's gt matches anchor 0 (positive),
    # anchor 1 is negative, anchor 2 in the ignored band; image 1 has no gt (all negative).
    anchors = [torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 15, 15]])]
    logits = [torch.tensor([[1.0, -2.0, 0.25], [0.5, 3.0, -1.0]], requires_grad=True)]
    deltas = [torch.zeros(2, 3, 4, requires_grad=True)]
    return anchors, logits, deltas


def test_rpn_ignores_negative_anchors_of_partial_images_only() -> None:
    gt = [torch.tensor([[1.0, 1, 11, 11]]), torch.zeros(0, 4)]
    settings = rpn_loss_settings(default_config())
    bce = F.binary_cross_entropy_with_logits
    pos = bce(torch.tensor(1.0), torch.tensor(1.0))
    neg = [bce(torch.tensor(x), torch.tensor(0.0)) for x in (-2.0, 0.5, 3.0, -1.0)]

    anchors, logits, deltas = rpn_case()
    full = rpn_losses(anchors, logits, deltas, gt, [(40, 40)] * 2, settings)
    torch.testing.assert_close(full["loss_rpn_cls"], (pos + sum(neg)) / 512)

    anchors, logits, deltas = rpn_case()
    partial = rpn_losses(anchors, logits, deltas, gt, [(40, 40)] * 2, settings, [True, True])
    # only the positive anchor is left; the normaliser stays batch_size_per_image x B
    torch.testing.assert_close(partial["loss_rpn_cls"], pos / 512)
    torch.testing.assert_close(partial["loss_rpn_loc"], full["loss_rpn_loc"])
    partial["loss_rpn_cls"].backward()
    assert logits[0].grad is not None
    assert logits[0].grad[0, 0] != 0 and not logits[0].grad[0, 1:].any()
    assert not logits[0].grad[1].any()

    anchors, logits, deltas = rpn_case()
    mixed = rpn_losses(anchors, logits, deltas, gt, [(40, 40)] * 2, settings, [False, True])
    torch.testing.assert_close(mixed["loss_rpn_cls"], (pos + neg[0]) / 512)

    anchors, logits, deltas = rpn_case()
    same = rpn_losses(anchors, logits, deltas, gt, [(40, 40)] * 2, settings, [False, False])
    assert torch.equal(same["loss_rpn_cls"], full["loss_rpn_cls"])


def tiny_batch(labelled: torch.Tensor | None) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(0)
    square = np.array([10, 20, 100, 20, 100, 60, 10, 60], dtype=np.float64)
    record: dict[str, Any] = {
        "image": torch.randint(0, 256, (3, 128, 160), dtype=torch.uint8, generator=gen),
        "boxes": torch.tensor([[10.0, 20.0, 100.0, 60.0]]),
        "classes": torch.tensor([TABLE]),
        "polygons": [[square]],
    }
    if labelled is not None:
        record["labelled"] = labelled
    return [record]


def test_model_losses_change_with_a_partial_mask_and_not_with_a_full_one() -> None:
    """The masking reaches the model's losses and gradients (the fast companion of the
    acceptance test in test_partial_labels_train.py)."""
    torch.manual_seed(0)
    model = build_model(load_config(CONFIG, TINY_MODEL)).train()

    def run(labelled: torch.Tensor | None) -> tuple[dict[str, float], torch.Tensor]:
        model.zero_grad()
        torch.manual_seed(1)  # the same anchor and proposal samples
        losses = model(tiny_batch(labelled))
        sum(losses.values()).backward()
        grad = model.roi_heads.box_predictor.cls_score.weight.grad
        assert grad is not None
        return {k: float(v.detach()) for k, v in losses.items()}, grad.clone()

    plain, plain_grad = run(None)
    full, full_grad = run(torch.tensor([True, True]))
    assert full == plain and torch.equal(full_grad, plain_grad)
    partial, partial_grad = run(TABLE_ONLY)
    assert partial["loss_rpn_cls"] < plain["loss_rpn_cls"]  # negatives ignored
    assert partial["loss_cls"] < plain["loss_cls"]  # the text logit left out on background
    for same in ("loss_rpn_loc", "loss_box_reg", "loss_mask"):
        assert partial[same] == plain[same], same
    # the text row of the classifier gets no push from this table-only page's background
    assert plain_grad[TEXT].abs().sum() > 0
    assert partial_grad[TEXT].abs().sum() < plain_grad[TEXT].abs().sum()
