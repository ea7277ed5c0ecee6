"""apply_weights: class-head remapping by label name, key reports, BN buffers, shapes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from layoutft.checkpoint import LoadedWeights, apply_weights, load_weights
from layoutft.errors import CheckpointError

PUBLAYNET = ["text", "title", "list", "table", "figure"]
CLS_W = "roi_heads.box_predictor.cls_score.weight"
CLS_B = "roi_heads.box_predictor.cls_score.bias"
BOX_W = "roi_heads.box_predictor.bbox_pred.weight"
BOX_B = "roi_heads.box_predictor.bbox_pred.bias"
MASK_W = "roi_heads.mask_head.predictor.weight"


class _Heads(nn.Module):
    """The three class heads of a detectron2 Mask R-CNN, with detectron2's names."""

    def __init__(self, classes: int, dim: int = 8, agnostic_box: bool = False) -> None:
        super().__init__()
        predictor = nn.Module()
        predictor.cls_score = nn.Linear(dim, classes + 1)
        predictor.bbox_pred = nn.Linear(dim, 4 if agnostic_box else 4 * classes)
        mask_head = nn.Module()
        mask_head.predictor = nn.Conv2d(4, classes, 1)
        self.roi_heads = nn.ModuleDict({"box_predictor": predictor, "mask_head": mask_head})


def _ckpt(classes: int, labels: list[str] | None, agnostic_box: bool = False) -> LoadedWeights:
    """Checkpoint whose row i of every head holds the value 100 * (class i + 1) (+ offset)."""
    heads = _Heads(classes, agnostic_box=agnostic_box)
    state = {}
    for key, value in heads.state_dict().items():
        per_class = 4 if key.startswith("roi_heads.box_predictor.bbox_pred") else 1
        rows = torch.arange(value.shape[0], dtype=torch.float32) // per_class
        state[key] = (100.0 * (rows + 1)).reshape(-1, *[1] * (value.dim() - 1)).expand_as(value)
        state[key] = state[key] + torch.rand_like(value) * 0.01
    return LoadedWeights(state_dict=state, labels=labels, source_format="detectron2-pth")


def test_remap_class_heads_by_name() -> None:
    ckpt = _ckpt(5, PUBLAYNET)
    model = _Heads(3)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    report = apply_weights(model, ckpt, labels=["figure", "text", "caption"])
    sd, src = model.state_dict(), ckpt.state_dict
    for key in (CLS_W, CLS_B):
        assert torch.equal(sd[key][0], src[key][4])  # figure
        assert torch.equal(sd[key][1], src[key][0])  # text
        assert torch.equal(sd[key][2], fresh[key][2])  # caption keeps its init
        assert torch.equal(sd[key][3], src[key][5])  # background row, last in both
    for key in (BOX_W, BOX_B):
        assert sd[key].shape[0] == 12
        assert torch.equal(sd[key][0:4], src[key][16:20])
        assert torch.equal(sd[key][4:8], src[key][0:4])
        assert torch.equal(sd[key][8:12], fresh[key][8:12])
    assert torch.equal(sd[MASK_W][0], src[MASK_W][4])
    assert torch.equal(sd[MASK_W][1], src[MASK_W][0])
    assert torch.equal(sd[MASK_W][2], fresh[MASK_W][2])
    note = "2 of 3 classes matched by name; start from fresh weights: caption"
    assert report.heads == {
        "roi_heads.box_predictor.cls_score": note,
        "roi_heads.box_predictor.bbox_pred": note,
        "roi_heads.mask_head.predictor": note,
    }
    assert report.complete and not report.missing and len(report.loaded) == 6


def test_same_classes_reordered_and_case_insensitive() -> None:
    ckpt = _ckpt(3, ["Text", "Table", "Figure"])
    model = _Heads(3)
    apply_weights(model, ckpt, labels=["figure", "text", "table"])
    sd, src = model.state_dict(), ckpt.state_dict
    assert torch.equal(sd[CLS_W], src[CLS_W][[2, 0, 1, 3]])
    assert torch.equal(sd[BOX_B], src[BOX_B].reshape(3, 4)[[2, 0, 1]].reshape(-1))


def test_same_labels_or_no_names_with_equal_counts_load_as_is() -> None:
    for ckpt_labels, model_labels in [(PUBLAYNET, PUBLAYNET), (None, PUBLAYNET), (None, None)]:
        ckpt = _ckpt(5, ckpt_labels)
        model = _Heads(5)
        report = apply_weights(model, ckpt, labels=model_labels)
        for key, value in model.state_dict().items():
            assert torch.equal(value, ckpt.state_dict[key]), key
        assert report.heads == {}


def test_no_names_and_different_counts_keeps_init_except_background() -> None:
    ckpt = _ckpt(5, None)
    model = _Heads(3)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    report = apply_weights(model, ckpt, labels=["a", "b", "c"])
    sd = model.state_dict()
    assert torch.equal(sd[CLS_W][:3], fresh[CLS_W][:3])
    assert torch.equal(sd[CLS_W][3], ckpt.state_dict[CLS_W][5])
    for key in (BOX_W, BOX_B, MASK_W):
        assert torch.equal(sd[key], fresh[key])
    assert (
        "checkpoint predicts 5 classes, the model 3"
        in report.heads["roi_heads.mask_head.predictor"]
    )
    assert report.heads["roi_heads.box_predictor.cls_score"].endswith("(background row loaded)")
    assert "roi_heads.mask_head.predictor: checkpoint predicts 5" in report.message()


def test_class_agnostic_box_head() -> None:
    ckpt = _ckpt(5, PUBLAYNET, agnostic_box=True)
    model = _Heads(2, agnostic_box=True)
    apply_weights(model, ckpt, labels=["table", "text"])
    assert torch.equal(model.state_dict()[BOX_W], ckpt.state_dict[BOX_W])  # shared box regressor
    model = _Heads(2)  # class-specific: nothing to take from an agnostic regressor
    fresh = model.state_dict()[BOX_W].clone()
    report = apply_weights(model, ckpt, labels=["table", "text"])
    assert torch.equal(model.state_dict()[BOX_W], fresh)
    assert "class-agnostic" in report.heads["roi_heads.box_predictor.bbox_pred"]


def test_labels_that_do_not_fit_the_head_raise() -> None:
    ckpt = _ckpt(5, ["text", "title"])
    ckpt.path = "pub.pth"
    with pytest.raises(
        CheckpointError,
        match=r"pub\.pth: the checkpoint lists 2 labels but its .*cls_score\.weight has 6 rows",
    ):
        apply_weights(_Heads(3), ckpt, labels=["a", "b", "c"])
    with pytest.raises(CheckpointError, match="the model's label list lists 2 labels"):
        apply_weights(_Heads(3), _ckpt(5, PUBLAYNET), labels=["a", "b"])


# ---------------------------------------------------------------- keys, buffers, shapes
class _FrozenBN(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        for name, value in [("weight", 1), ("bias", 0), ("running_mean", 0), ("running_var", 1)]:
            self.register_buffer(name, torch.full((n,), float(value)))


class _Tiny(nn.Module):
    """backbone.bottom_up.stem.conv1 (+norm) and roi_heads.box_head.fc1, detectron2 names."""

    def __init__(self, frozen: bool) -> None:
        super().__init__()
        conv = nn.Conv2d(3, 4, 1, bias=False)
        conv.norm = _FrozenBN(4) if frozen else nn.BatchNorm2d(4)
        stem = nn.Module()
        stem.conv1 = conv
        bottom_up = nn.Module()
        bottom_up.stem = stem
        self.backbone = nn.Module()
        self.backbone.bottom_up = bottom_up
        self.roi_heads = nn.Module()
        self.roi_heads.box_head = nn.Module()
        self.roi_heads.box_head.fc1 = nn.Linear(4, 2)


def _bn_state() -> dict[str, torch.Tensor]:
    state = _Tiny(frozen=False).state_dict()
    for key in state:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(600)
        else:
            state[key] = torch.rand_like(state[key]) + 0.5
    return state


def test_num_batches_tracked_dropped_for_frozen_bn_and_stats_kept() -> None:
    state = _bn_state()
    model = _Tiny(frozen=True)
    report = apply_weights(model, LoadedWeights(state, source_format="detectron2-pth"))
    assert report.complete and report.unexpected == [] and len(report.loaded) == 7
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    bn_model = _Tiny(frozen=False)
    apply_weights(bn_model, LoadedWeights(state, source_format="detectron2-pth"))
    assert bn_model.backbone.bottom_up.stem.conv1.norm.num_batches_tracked.item() == 600


def test_missing_and_unexpected_grouped_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    state = {k: v for k, v in _bn_state().items() if "box_head" not in k}
    state.update({f"roi_heads.mask_head.mask_fcn{i}.weight": torch.zeros(1) for i in range(1, 5)})
    state.update({f"backbone.fpn_lateral{i}.bias": torch.zeros(1) for i in range(2, 6)})
    state["pixel_mean"] = torch.zeros(3)  # detectron2 ignores these too
    state["proposal_generator.anchor_generator.cell_anchors.0"] = torch.zeros(3, 4)
    loaded = LoadedWeights(state, source_format="caffe2-pkl", path="x.pkl")
    with caplog.at_level(logging.INFO, logger="layoutft.checkpoint"):
        report = apply_weights(_Tiny(frozen=True), loaded)
    assert report.missing == ["roi_heads.box_head.fc1.weight", "roi_heads.box_head.fc1.bias"]
    assert len(report.unexpected) == 8 and not report.complete
    assert report.message() == (
        "loaded 5 tensors (caffe2-pkl); missing in checkpoint: roi_heads.box_head.* (2 keys); "
        "not used by the model: roi_heads.mask_head.* (4 keys), backbone.fpn_lateral*.* (4 keys)"
    )
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "x.pkl: " + report.message())
    ]


def test_shape_mismatch_raises_or_is_skipped() -> None:
    state = _bn_state()
    state["roi_heads.box_head.fc1.weight"] = torch.zeros(2, 5)
    state["backbone.bottom_up.stem.conv1.weight"] = torch.zeros(4, 3, 3, 3)
    loaded = LoadedWeights(state, source_format="detectron2-pth", path="m.pth")
    with pytest.raises(
        CheckpointError,
        match=r"m\.pth: 2 tensors do not fit the model .*"
        r"stem\.conv1\.weight: \(4, 3, 3, 3\) vs \(4, 3, 1, 1\)",
    ):
        apply_weights(_Tiny(frozen=True), loaded)
    model = _Tiny(frozen=True)
    fresh = model.roi_heads.box_head.fc1.weight.detach().clone()
    report = apply_weights(model, loaded, strict_shapes=False)
    assert len(report.skipped) == 2 and torch.equal(model.roi_heads.box_head.fc1.weight, fresh)
    assert torch.equal(model.roi_heads.box_head.fc1.bias, state["roi_heads.box_head.fc1.bias"])


# ---------------------------------------------------------------- the real model
def test_parity_checkpoints_fill_the_detectron2_model(parity_case: Path, tmp_path: Path) -> None:
    from layoutft.config import load_config
    from layoutft.modeling import build_model

    model = build_model(load_config(parity_case / "config.yaml"))
    keys = set(model.state_dict())
    for name in ("model_final.pth", "model_final_c2.pkl"):
        loaded = load_weights(parity_case / name)
        report = apply_weights(model, loaded)
        assert report.complete and set(report.loaded) == keys, name
        for key, value in model.state_dict().items():
            assert torch.equal(value, loaded.state_dict[key]), key
    # an ImageNet Caffe2 backbone into the full detector: heads reported missing, nothing else
    backbone = {k: v for k, v in loaded.state_dict.items() if k.startswith("backbone.bottom_up.")}
    report = apply_weights(model, LoadedWeights(backbone, source_format="caffe2-pkl"))
    assert report.unexpected == [] and len(report.missing) == len(keys) - len(backbone)
    assert "roi_heads.mask_head.* (12 keys)" in report.message()


@pytest.mark.numerics
def test_caffe2_weights_reproduce_detectron2_c2_predictions(parity_case: Path) -> None:
    """detectron2 loads folded BN with running_var 1: scores match expected_c2.json, which
    differs from expected.json (unfolded weights) by up to ~1.6e-4."""
    import cv2
    import numpy as np

    from layoutft.model import LayoutModel

    expected = json.loads((parity_case / "expected_c2.json").read_text())["images"][0]
    model = LayoutModel.from_checkpoint(
        parity_case / "model_final_c2.pkl", config=parity_case / "config.yaml", device="cpu"
    )
    image = cv2.imread(str(parity_case / "images" / expected["file_name"]))
    scores = np.sort(model.predict([image], format="BGR")[0].scores)[::-1]
    want = np.sort(np.asarray(expected["scores"], dtype=np.float32))[::-1]
    assert len(scores) == len(want) == 53
    np.testing.assert_allclose(scores, want, atol=2e-5)


def test_inference_refuses_a_checkpoint_missing_most_of_the_model(
    parity_case: Path, tmp_path: Path
) -> None:
    """A .pth with 1 of the model's tensors would predict from random weights: an error for
    inference (with the count and the way out), loaded only with allow_partial."""
    from typer.testing import CliRunner

    import layoutft.cli  # noqa: F401  (registers the commands)
    from layoutft.cli.app import app
    from layoutft.model import LayoutModel

    full = load_weights(parity_case / "model_final.pth").state_dict
    key = "backbone.bottom_up.stem.conv1.weight"
    one = tmp_path / "one.pth"
    torch.save({"model": {key: full[key]}}, one)
    config = parity_case / "config.yaml"
    with pytest.raises(CheckpointError) as info:
        LayoutModel.from_checkpoint(one, config=config, device="cpu")
    message = str(info.value)
    assert message.startswith(f"{one}: holds 1 of the model's ") and "\n" not in message
    assert "--allow-partial (allow_partial=True)" in message
    model = LayoutModel.from_checkpoint(one, config=config, device="cpu", allow_partial=True)
    assert torch.equal(model.model.state_dict()[key], full[key])
    page = parity_case / "images" / "doc000_p0.png"
    args = ["parse", str(page), "--weights", str(one), "--config", str(config), "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"Error: {one}: holds 1 of the model's ")
    assert len(result.stderr.splitlines()) == 1
    result = CliRunner().invoke(app, [*args, "--allow-partial", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1].startswith("parsed 1 file, 1 pages, ")
