"""check_supported: which detectron2 architectures load and which are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from layoutft.config import check_supported, load_config
from layoutft.errors import ConfigError

D2_CONFIGS = Path(__file__).parent / "fixtures" / "d2_configs"
FPN = D2_CONFIGS / "COCO-InstanceSegmentation" / "mask_rcnn_R_50_FPN_3x.yaml"


def test_retinanet_is_refused_before_its_python_tag() -> None:
    path = D2_CONFIGS / "COCO-Detection" / "retinanet_R_50_FPN_3x.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: MODEL.META_ARCHITECTURE RetinaNet is not supported; layoutft builds "
        "GeneralizedRCNN (Faster/Mask R-CNN) with ResNet/ResNeXt-FPN"
    )


@pytest.mark.parametrize("name", ["mask_rcnn_R_50_C4_3x.yaml", "mask_rcnn_R_50_DC5_3x.yaml"])
def test_c4_and_dc5_are_refused(name: str) -> None:
    path = D2_CONFIGS / "COCO-InstanceSegmentation" / name
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(
        f"{path}: MODEL.BACKBONE.NAME build_resnet_backbone is not supported; "
        "C4 and DC5 backbones are not built"
    )


def test_check_false_loads_unsupported_configs() -> None:
    cfg = load_config(
        D2_CONFIGS / "COCO-InstanceSegmentation" / "mask_rcnn_R_50_C4_3x.yaml", check=False
    )
    assert cfg.MODEL.ROI_HEADS.NAME == "Res5ROIHeads"
    assert cfg.MODEL.RPN.PRE_NMS_TOPK_TEST == 6000


def test_defaults_alone_are_not_checked() -> None:
    # detectron2's bare defaults describe a C4 model; load_config(None) still returns them
    assert load_config(None).MODEL.BACKBONE.NAME == "build_resnet_backbone"
    with pytest.raises(ConfigError, match=r"MODEL\.BACKBONE\.NAME build_resnet_backbone"):
        check_supported(load_config(None))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            ["MODEL.ROI_HEADS.NAME", "CascadeROIHeads"],
            "MODEL.ROI_HEADS.NAME CascadeROIHeads is not supported",
        ),
        (["MODEL.KEYPOINT_ON", "True"], "MODEL.KEYPOINT_ON True is not supported"),
        (["MODEL.LOAD_PROPOSALS", "True"], "MODEL.LOAD_PROPOSALS True is not supported"),
        (["MODEL.PROPOSAL_GENERATOR.NAME", "RRPN"], "MODEL.PROPOSAL_GENERATOR.NAME RRPN"),
        (["MODEL.RPN.HEAD_NAME", "MyHead"], "MODEL.RPN.HEAD_NAME MyHead is not supported"),
        (
            ["MODEL.ANCHOR_GENERATOR.NAME", "RotatedAnchorGenerator"],
            "MODEL.ANCHOR_GENERATOR.NAME RotatedAnchorGenerator is not supported",
        ),
        (["MODEL.FPN.FUSE_TYPE", "max"], "MODEL.FPN.FUSE_TYPE max is not supported"),
        (
            ["MODEL.ROI_MASK_HEAD.NAME", "PointRendMaskHead"],
            "MODEL.ROI_MASK_HEAD.NAME PointRendMaskHead is not supported",
        ),
        (
            ["MODEL.RESNETS.DEFORM_ON_PER_STAGE", "[False, True, True, True]"],
            "MODEL.RESNETS.DEFORM_ON_PER_STAGE [False, True, True, True] is not supported",
        ),
    ],
)
def test_unsupported_settings(override: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(FPN, override)
    assert str(info.value).startswith(f"{FPN}: {message}")


def test_supported_variants() -> None:
    cfg = load_config(FPN, ["MODEL.FPN.FUSE_TYPE", "avg", "MODEL.ANCHOR_GENERATOR.ANGLES", "[[0]]"])
    check_supported(cfg)
    # the mask head name only matters when masks are on
    faster = load_config(FPN, ["MODEL.MASK_ON", "False", "MODEL.ROI_MASK_HEAD.NAME", "Other"])
    assert faster.MODEL.MASK_ON is False
