"""load_weights: every supported format, name conversion, and safe/corrupt file handling."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from layoutft.checkpoint import load_weights
from layoutft.checkpoint.caffe2 import caffe2_name
from layoutft.errors import CheckpointError

EPS = 1e-5  # detectron2's FrozenBatchNorm2d eps, used when BN was folded into _bn_s/_bn_b


def _trusted_pickle(path: Path) -> dict:
    """Read a test fixture pickle we made ourselves (plain pickle, Python 2 style)."""
    with path.open("rb") as f:
        return pickle.load(f, encoding="latin1")


def _write_pickle(path: Path, obj: object, protocol: int = 2) -> Path:
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


@pytest.fixture(scope="module")
def d2_pkl() -> dict[str, torch.Tensor]:
    path = Path(__file__).parent / "fixtures/d2_parity/narrow_r50_mask/model_final.pkl"
    return load_weights(path).state_dict


# ---------------------------------------------------------------- detectron2 .pth / .pkl
def test_pth_and_pkl_load_to_identical_tensors(parity_case: Path, d2_pkl) -> None:
    pth = load_weights(parity_case / "model_final.pth")
    pkl = load_weights(parity_case / "model_final.pkl")
    assert (pth.source_format, pkl.source_format) == ("detectron2-pth", "detectron2-pkl")
    assert len(pth.state_dict) == 354  # 302 tensors + 52 BN num_batches_tracked (NORM "BN")
    assert pth.state_dict.keys() == pkl.state_dict.keys()
    for key, value in pth.state_dict.items():
        assert pkl.state_dict[key].dtype == value.dtype, key
        assert torch.equal(pkl.state_dict[key], value), key
    assert pth.state_dict["roi_heads.box_predictor.cls_score.weight"].shape == (6, 256)
    assert pth.labels is None and pth.config is None and pth.input_contract is None
    assert pth.extra == {"iteration": pth.extra["iteration"]} and pth.extra["iteration"] > 0
    assert pkl.extra["__author__"].startswith("layoutft parity fixture")


def test_d2_pkl_without_author_and_with_short_names(tmp_path: Path) -> None:
    arrays = {
        "stem.conv1.weight": np.arange(6, dtype=np.float64).reshape(1, 6),
        "res2.0.conv1.norm.running_var": np.ones(3, np.float32),
        "fpn_lateral2.weight": np.zeros((2, 2), np.float32),
        "box_predictor.cls_score.bias": np.zeros(3, np.float32),
    }
    heuristic = _write_pickle(
        tmp_path / "r.pkl",
        {"model": arrays, "__author__": "torchvision", "matching_heuristics": True},
    )
    bare = _write_pickle(tmp_path / "bare.pkl", {"model": arrays}, protocol=5)
    for path in (heuristic, bare):
        loaded = load_weights(path)
        assert loaded.source_format == "detectron2-pkl"
        assert sorted(loaded.state_dict) == [
            "backbone.bottom_up.res2.0.conv1.norm.running_var",
            "backbone.bottom_up.stem.conv1.weight",
            "backbone.fpn_lateral2.weight",
            "roi_heads.box_predictor.cls_score.bias",
        ]
        stem = loaded.state_dict["backbone.bottom_up.stem.conv1.weight"]
        assert stem.dtype == torch.float32  # numpy float64 narrowed to float32
        assert stem.tolist() == [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]]


def test_bare_state_dict_pth_with_ddp_prefix_and_labels(tmp_path: Path) -> None:
    state = {"module.roi_heads.box_predictor.cls_score.weight": torch.ones(3, 2)}
    torch.save(state, tmp_path / "bare.pth")
    loaded = load_weights(tmp_path / "bare.pth")
    assert loaded.source_format == "detectron2-pth"
    assert list(loaded.state_dict) == ["roi_heads.box_predictor.cls_score.weight"]
    torch.save({"model": state, "labels": ["a", "b"]}, tmp_path / "labelled.pth")
    assert load_weights(tmp_path / "labelled.pth").labels == ["a", "b"]


def test_legacy_non_zip_torch_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pth"
    state = {"backbone.fpn_output3.bias": torch.arange(4.0)}
    torch.save({"model": state}, path, _use_new_zipfile_serialization=False)
    loaded = load_weights(path)
    assert torch.equal(loaded.state_dict["backbone.fpn_output3.bias"], torch.arange(4.0))


# ---------------------------------------------------------------- Caffe2 / Detectron v1
def test_caffe2_detector_converts_to_detectron2_layout(parity_case: Path, d2_pkl) -> None:
    c2 = load_weights(parity_case / "model_final_c2.pkl")
    raw = {
        k: torch.from_numpy(v)
        for k, v in _trusted_pickle(parity_case / "model_final_c2.pkl")["blobs"].items()
    }
    assert c2.source_format == "caffe2-pkl" and c2.labels is None
    expected_keys = {k for k in d2_pkl if not k.endswith("num_batches_tracked")}
    assert set(c2.state_dict) == expected_keys and len(expected_keys) == 302

    cls_w = c2.state_dict["roi_heads.box_predictor.cls_score.weight"]
    assert torch.equal(cls_w[:5], raw["cls_score_w"][1:])  # foreground classes first
    assert torch.equal(cls_w[5], raw["cls_score_w"][0])  # Caffe2's background row goes last
    assert torch.equal(
        c2.state_dict["roi_heads.box_predictor.bbox_pred.weight"], raw["bbox_pred_w"][4:]
    )
    assert c2.state_dict["roi_heads.box_predictor.bbox_pred.bias"].shape == (20,)
    assert torch.equal(
        c2.state_dict["roi_heads.mask_head.predictor.weight"], raw["mask_fcn_logits_w"][1:]
    )
    assert c2.state_dict["roi_heads.mask_head.predictor.bias"].shape == (5,)

    norm_keys = [k for k in expected_keys if ".norm." in k]
    assert len(norm_keys) == 52 * 4
    for key in expected_keys - set(norm_keys):  # convs, fcs and the heads: same weights
        assert torch.equal(c2.state_dict[key], d2_pkl[key]), key
    spot = {
        "backbone.bottom_up.stem.conv1.weight": "conv1_w",
        "backbone.bottom_up.res3.0.shortcut.weight": "res3_0_branch1_w",
        "backbone.fpn_lateral5.weight": "fpn_inner_res5_2_sum_w",
        "backbone.fpn_lateral2.bias": "fpn_inner_res2_2_sum_lateral_b",
        "backbone.fpn_output4.weight": "fpn_res4_5_sum_w",
        "proposal_generator.rpn_head.objectness_logits.weight": "rpn_cls_logits_fpn2_w",
        "roi_heads.box_head.fc2.weight": "fc7_w",
        "roi_heads.mask_head.mask_fcn3.weight": "_[mask]_fcn3_w",
        "roi_heads.mask_head.deconv.weight": "conv5_mask_w",
    }
    for d2_name, c2_name in spot.items():
        assert torch.equal(c2.state_dict[d2_name], raw[c2_name]), d2_name


@pytest.mark.numerics
def test_caffe2_folded_bn_matches_frozen_bn_math(parity_case: Path, d2_pkl) -> None:
    c2 = load_weights(parity_case / "model_final_c2.pkl").state_dict
    prefixes = sorted({k.rsplit(".", 1)[0] for k in c2 if k.endswith(".norm.weight")})
    assert len(prefixes) == 52
    for p in prefixes:
        w, b = d2_pkl[f"{p}.weight"], d2_pkl[f"{p}.bias"]
        mean, var = d2_pkl[f"{p}.running_mean"], d2_pkl[f"{p}.running_var"]
        scale = w * torch.rsqrt(var + EPS)
        torch.testing.assert_close(c2[f"{p}.weight"], scale, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(c2[f"{p}.bias"], b - mean * scale, rtol=1e-5, atol=1e-5)
        # detectron2 loads folded BN with identity statistics running_var 1 (not 1 - eps)
        assert torch.equal(c2[f"{p}.running_mean"], torch.zeros_like(mean))
        assert torch.equal(c2[f"{p}.running_var"], torch.ones_like(var))
    # so a FrozenBN fed the Caffe2 tensors computes x * s / sqrt(1 + eps) + b
    s, t = c2[f"{p}.weight"], c2[f"{p}.bias"]
    x = torch.randn(2, s.numel(), 3, 3)
    out = torch.nn.functional.batch_norm(
        x, c2[f"{p}.running_mean"], c2[f"{p}.running_var"], s, t, training=False, eps=EPS
    )
    torch.testing.assert_close(out, x * (s / (1 + EPS) ** 0.5)[:, None, None] + t[:, None, None])


def test_imagenet_caffe2_backbone_pkl(parity_case: Path, tmp_path: Path) -> None:
    blobs = _trusted_pickle(parity_case / "model_final_c2.pkl")["blobs"]
    backbone = {
        k: v for k, v in blobs.items() if k.startswith(("conv1_", "res_conv1_", "res2_", "res3_"))
    }
    extra = {
        "pred_w": np.zeros((1000, 128), np.float32),  # ImageNet classifier
        "pred_b": np.zeros(1000, np.float32),
        "conv1_w_momentum": np.zeros((64, 3, 7, 7), np.float32),  # optimizer state
    }
    path = _write_pickle(tmp_path / "R-50.pkl", {**backbone, **extra})
    loaded = load_weights(path)
    assert loaded.source_format == "caffe2-pkl"
    sd = loaded.state_dict
    assert all(k.startswith("backbone.bottom_up.") for k in sd)
    n_bn = sum(k.endswith("_bn_s") for k in backbone)
    n_conv = sum(k.endswith("_w") for k in backbone)
    assert len(sd) == n_conv + 4 * n_bn  # momentum and classifier dropped, BN stats added
    assert torch.equal(
        sd["backbone.bottom_up.stem.conv1.norm.weight"], torch.from_numpy(blobs["res_conv1_bn_s"])
    )
    assert torch.equal(
        sd["backbone.bottom_up.res2.1.conv2.weight"], torch.from_numpy(blobs["res2_1_branch2b_w"])
    )
    assert torch.equal(
        sd["backbone.bottom_up.res3.0.shortcut.norm.bias"],
        torch.from_numpy(blobs["res3_0_branch1_bn_b"]),
    )
    assert torch.equal(sd["backbone.bottom_up.res3.3.conv3.norm.running_var"], torch.ones(128))


# ---------------------------------------------------------------- torchvision
def test_torchvision_resnet50_converts_to_detectron2_names(tmp_path: Path, d2_pkl) -> None:
    state = torchvision.models.resnet50(weights=None).state_dict()
    assert len(state) == 320
    torch.save(state, tmp_path / "resnet50.pth")
    loaded = load_weights(tmp_path / "resnet50.pth")
    assert loaded.source_format == "torchvision"
    sd = loaded.state_dict
    assert len(sd) == 318  # fc.weight and fc.bias dropped
    renamed = {
        "conv1.weight": "stem.conv1.weight",
        "bn1.running_mean": "stem.conv1.norm.running_mean",
        "layer1.0.conv1.weight": "res2.0.conv1.weight",
        "layer1.0.downsample.0.weight": "res2.0.shortcut.weight",
        "layer1.0.downsample.1.running_var": "res2.0.shortcut.norm.running_var",
        "layer4.2.bn3.weight": "res5.2.conv3.norm.weight",
        "layer3.5.bn2.num_batches_tracked": "res4.5.conv2.norm.num_batches_tracked",
    }
    for old, new in renamed.items():
        assert torch.equal(sd["backbone.bottom_up." + new], state[old]), old
    # same names as detectron2's R50 (the narrow fixture lacks res2.0's shortcut only:
    # RES2_OUT_CHANNELS equals the stem width there)
    d2_backbone = {k for k in d2_pkl if k.startswith("backbone.bottom_up.")}
    shortcut = {k for k in sd if k.startswith("backbone.bottom_up.res2.0.shortcut.")}
    assert len(shortcut) == 6
    assert set(sd) == d2_backbone | shortcut


# ---------------------------------------------------------------- safety
class _OpensFile:
    """Unpickling this would create ``marker`` (builtins.open)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class _RunsShell:
    """Unpickling this would run a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_torch_file_is_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"model": {"a.weight": torch.zeros(1)}, "x": _OpensFile(marker)}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused to load.*open"):
        load_weights(path)
    legacy = tmp_path / "evil_legacy.pth"
    torch.save({"x": _RunsShell(marker)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"evil_legacy\.pth: refused to load.*system"):
        load_weights(legacy)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_malicious_pickle_is_refused_not_run(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    blobs = {"conv1_w": np.zeros((2, 3, 1, 1), np.float32), "evil": _RunsShell(marker)}
    path = _write_pickle(tmp_path / "evil.pkl", {"blobs": blobs}, protocol)
    with pytest.raises(CheckpointError, match=r"evil\.pkl: refused to load.*(posix|os)\.system"):
        load_weights(path)
    path = _write_pickle(tmp_path / "evil2.pkl", _OpensFile(marker), protocol)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_weights(path)
    assert not marker.exists()


def test_pickle_of_torch_tensors_is_refused(tmp_path: Path) -> None:
    path = _write_pickle(tmp_path / "t.pkl", {"model": {"a.b": torch.zeros(2)}}, 4)
    with pytest.raises(CheckpointError, match=r"t\.pkl: refused to load.*torch"):
        load_weights(path)


# ---------------------------------------------------------------- unreadable files
def test_missing_directory_and_corrupt_files(parity_case: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nope\.pth: no such file; expected a detectron2"):
        load_weights(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="is not a file"):
        load_weights(tmp_path)
    for name in ("model_final.pth", "model_final.pkl", "model_final_c2.pkl"):
        data = (parity_case / name).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(CheckpointError, match=rf"cut_{name}: truncated or corrupt file"):
            load_weights(cut)
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pkl: truncated or corrupt"):
        load_weights(empty)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"garbage\.pth: truncated or corrupt"):
        load_weights(garbage)


def test_unknown_layouts(tmp_path: Path) -> None:
    torch.save({"state_dict": {"a": torch.zeros(1)}}, tmp_path / "lightning.ckpt")
    with pytest.raises(CheckpointError, match=r"unknown checkpoint layout.*'state_dict'"):
        load_weights(tmp_path / "lightning.ckpt")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "vgg.pth")
    with pytest.raises(CheckpointError, match=r"vgg\.pth: unknown .*features\.0\.weight"):
        load_weights(tmp_path / "vgg.pth")
    _write_pickle(tmp_path / "list.pkl", [1, 2])
    with pytest.raises(CheckpointError, match="holds a list, not a dict"):
        load_weights(tmp_path / "list.pkl")
    _write_pickle(tmp_path / "strings.pkl", {"model": {"roi_heads.x": "text"}})
    with pytest.raises(
        CheckpointError, match=r"not tensors or numeric arrays: roi_heads\.x \(str\)"
    ):
        load_weights(tmp_path / "strings.pkl")


@pytest.mark.parametrize(
    ("caffe2", "detectron2"),
    [
        ("res_conv1_bn_b", "backbone.bottom_up.stem.conv1.norm.bias"),
        ("res4_22_branch2b_bn_rm", "backbone.bottom_up.res4.22.conv2.norm.running_mean"),
        ("res2_0_branch2a_gn_s", "backbone.bottom_up.res2.0.conv1.norm.weight"),
        ("fpn_inner_res3_3_sum_lateral_gn_b", "backbone.fpn_lateral3.norm.bias"),
        ("conv_rpn_w", "proposal_generator.rpn_head.conv.weight"),
        ("rpn_bbox_pred_fpn2_b", "proposal_generator.rpn_head.anchor_deltas.bias"),
        ("head_conv2_gn_s", "roi_heads.box_head.conv2.norm.weight"),
        ("_mask_fcn2_w", "roi_heads.mask_head.mask_fcn2.weight"),
        ("fc6_w_momentum", None),
        ("pred_b", None),
        ("fc6_s", "fc6_s"),  # unknown names stay as they are (then reported as unexpected)
        ("conv1_bn_w", "conv1_bn_w"),
    ],
)
def test_caffe2_names(caffe2: str, detectron2: str | None) -> None:
    assert caffe2_name(caffe2) == detectron2
