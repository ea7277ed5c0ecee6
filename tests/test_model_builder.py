"""The config boundary of the model: one builder reads the detectron2 tree, modules take
typed arguments (issue #17: no module under the model reads ``cfg``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import layoutft.modeling
from layoutft.config import Config, load_config
from layoutft.errors import ConfigError
from layoutft.modeling import build_model
from layoutft.modeling.build import build_model as builder_build_model

MODELING = Path(layoutft.modeling.__file__).parent
BUILDER = MODELING / "build.py"
CONFIG = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask" / "config.yaml"
TINY = [
    "MODEL.RESNETS.WIDTH_PER_GROUP", "4", "MODEL.FPN.OUT_CHANNELS", "32",
    "MODEL.ROI_BOX_HEAD.FC_DIM", "32", "MODEL.ROI_MASK_HEAD.CONV_DIM", "32",
]  # fmt: skip


def _cfg_mentions(tree: ast.AST) -> list[str]:
    """Parameters, names and attributes called ``cfg`` in ``tree``, as ``line: kind``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.arg == "cfg":
            found.append(f"{node.lineno}: parameter")
        elif isinstance(node, ast.Name) and node.id == "cfg":
            found.append(f"{node.lineno}: name")
        elif isinstance(node, ast.Attribute) and node.attr == "cfg":
            found.append(f"{node.lineno}: attribute")
    return found


def test_only_the_builder_mentions_cfg() -> None:
    modules = sorted(MODELING.glob("*.py"))
    assert BUILDER in modules and len(modules) > 10
    offenders = {}
    for path in modules:
        if path == BUILDER:
            continue
        text = path.read_text(encoding="utf-8")
        found = _cfg_mentions(ast.parse(text))
        found += [f"{i}: text" for i, line in enumerate(text.splitlines(), 1) if "cfg" in line]
        if found:
            offenders[path.name] = found
    assert offenders == {}
    assert _cfg_mentions(ast.parse(BUILDER.read_text(encoding="utf-8")))  # the check can see


def test_the_package_build_model_is_the_builder() -> None:
    assert build_model is builder_build_model


def _meta_model(*overrides: str) -> torch.nn.Module:
    cfg: Config = load_config(CONFIG, [*TINY, *overrides])
    with torch.device("meta"):
        return build_model(cfg)


def test_builder_maps_config_keys_to_constructor_values() -> None:
    model = _meta_model(
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.3", "MODEL.ROI_HEADS.NMS_THRESH_TEST", "0.4",
        "TEST.DETECTIONS_PER_IMAGE", "17", "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS",
        "[[0.25, 1.0, 4.0, 8.0]]",
        "MODEL.ANCHOR_GENERATOR.SIZES", "[[16], [32], [64], [128], [256]]",
        "MODEL.RPN.NMS_THRESH", "0.6", "MODEL.RPN.POST_NMS_TOPK_TEST", "321",
        "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "1234", "MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS",
        "(8.0, 8.0, 4.0, 4.0)", "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "64",
        "MODEL.ROI_HEADS.NUM_CLASSES", "7", "MODEL.RPN.SMOOTH_L1_BETA", "0.5",
        "MODEL.BACKBONE.FREEZE_AT", "3",
    )  # fmt: skip
    heads = model.roi_heads
    assert (heads.score_thresh, heads.nms_thresh, heads.detections_per_img) == (0.3, 0.4, 17)
    assert heads.box_weights == (8.0, 8.0, 4.0, 4.0) and heads.num_classes == 7
    assert heads.sampling.batch_size_per_image == 64 and heads.sampling.num_classes == 7
    assert heads.box_loss.weights == (8.0, 8.0, 4.0, 4.0)
    rpn = model.proposal_generator
    anchors = rpn.anchor_generator
    assert anchors.aspect_ratios == ((0.25, 1.0, 4.0, 8.0),) * 5  # broadcast to every level
    assert anchors.sizes == ((16.0,), (32.0,), (64.0,), (128.0,), (256.0,))
    assert anchors.num_anchors == 4 and anchors.strides == [4, 8, 16, 32, 64]
    assert rpn.rpn_head.objectness_logits.out_channels == 4
    assert rpn.nms_thresh == 0.6 and rpn.post_nms_topk.test == 321
    assert rpn.pre_nms_topk.train == 1234 and rpn.loss.regression.smooth_l1_beta == 0.5
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any(n.startswith("backbone.bottom_up.res3.") for n in frozen)
    assert not any(n.startswith("backbone.bottom_up.res4.") for n in frozen)
    assert heads.mask_on and model.mask_on


def test_builder_names_the_key_at_fault() -> None:
    with pytest.raises(ConfigError, match=r"MODEL\.RPN\.BBOX_REG_LOSS_TYPE"):
        _meta_model("MODEL.RPN.BBOX_REG_LOSS_TYPE", "l2")
    with pytest.raises(ConfigError, match=r"MODEL\.ROI_HEADS\.IOU_THRESHOLDS"):
        _meta_model("MODEL.ROI_HEADS.IOU_THRESHOLDS", "[0.7, 0.3]")
    with pytest.raises(ConfigError, match=r"MODEL\.ROI_BOX_HEAD\.BBOX_REG_WEIGHTS"):
        _meta_model("MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS", "(10.0, 10.0)")


def test_box_only_config_builds_no_mask_branch() -> None:
    model = _meta_model("MODEL.MASK_ON", "False")
    assert not model.mask_on and not hasattr(model.roi_heads, "mask_head")
