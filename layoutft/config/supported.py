"""Which detectron2 configs layoutft can build: GeneralizedRCNN with ResNet/ResNeXt-FPN.

Files of other architectures load (the defaults hold all of detectron2's keys), and
:func:`check_supported` then names the first key whose value layoutft cannot build.
"""

from __future__ import annotations

from typing import Any

from layoutft.config.node import Config
from layoutft.errors import ConfigError

_ARCH = "layoutft builds GeneralizedRCNN (Faster/Mask R-CNN) with ResNet/ResNeXt-FPN"

# (key, accepted values, why another value fails), checked in this order so that the
# most basic mismatch (the architecture) is the one reported.
_RULES: tuple[tuple[str, tuple[Any, ...], str], ...] = (
    ("MODEL.META_ARCHITECTURE", ("GeneralizedRCNN",), _ARCH),
    (
        "MODEL.BACKBONE.NAME",
        ("build_resnet_fpn_backbone",),
        "C4 and DC5 backbones are not built; " + _ARCH + " (build_resnet_fpn_backbone)",
    ),
    ("MODEL.PROPOSAL_GENERATOR.NAME", ("RPN",), "layoutft builds the standard RPN only"),
    ("MODEL.RPN.HEAD_NAME", ("StandardRPNHead",), "layoutft builds StandardRPNHead only"),
    (
        "MODEL.ANCHOR_GENERATOR.NAME",
        ("DefaultAnchorGenerator",),
        "layoutft builds axis-aligned anchors (DefaultAnchorGenerator) only",
    ),
    (
        "MODEL.ROI_HEADS.NAME",
        ("StandardROIHeads",),
        "C4 models use Res5ROIHeads; layoutft builds StandardROIHeads",
    ),
    (
        "MODEL.ROI_BOX_HEAD.NAME",
        ("FastRCNNConvFCHead",),
        "layoutft builds the FastRCNNConvFCHead box head only",
    ),
    ("MODEL.KEYPOINT_ON", (False,), "layoutft has no keypoint head"),
    ("MODEL.LOAD_PROPOSALS", (False,), "layoutft computes proposals with its RPN"),
    ("MODEL.FPN.FUSE_TYPE", ("sum", "avg"), "detectron2 FPNs fuse by 'sum' or 'avg'"),
)


def check_supported(cfg: Config) -> None:
    """Raise ConfigError naming the first setting layoutft cannot build; else return None."""
    for key, accepted, reason in _RULES:
        _require(cfg, key, accepted, reason)
    if cfg.get_path("MODEL.MASK_ON"):
        _require(
            cfg,
            "MODEL.ROI_MASK_HEAD.NAME",
            ("MaskRCNNConvUpsampleHead",),
            "layoutft builds the MaskRCNNConvUpsampleHead mask head only",
        )
    deform = cfg.get_path("MODEL.RESNETS.DEFORM_ON_PER_STAGE")
    if any(deform):
        raise ConfigError(
            f"MODEL.RESNETS.DEFORM_ON_PER_STAGE {list(deform)} is not supported; "
            "layoutft has no deformable convolutions (set all four to False)"
        )


# Sizes and counts the model is built from: (key, smallest valid value).
_MINIMUM: tuple[tuple[str, int], ...] = (
    ("MODEL.ROI_HEADS.NUM_CLASSES", 1),
    ("MODEL.RESNETS.NUM_GROUPS", 1),
    ("MODEL.RESNETS.WIDTH_PER_GROUP", 1),
    ("MODEL.RESNETS.STEM_OUT_CHANNELS", 1),
    ("MODEL.RESNETS.RES2_OUT_CHANNELS", 1),
    ("MODEL.FPN.OUT_CHANNELS", 1),
    ("MODEL.ROI_BOX_HEAD.NUM_FC", 0),
    ("MODEL.ROI_BOX_HEAD.FC_DIM", 1),
    ("MODEL.ROI_BOX_HEAD.NUM_CONV", 0),
    ("MODEL.ROI_BOX_HEAD.CONV_DIM", 1),
    ("MODEL.ROI_MASK_HEAD.NUM_CONV", 0),
    ("MODEL.ROI_MASK_HEAD.CONV_DIM", 1),
    ("TEST.DETECTIONS_PER_IMAGE", 1),
)


# Largest values: far beyond any real model, small enough that building it cannot ask
# for terabytes (NUM_CLASSES 999999999999 made a 1 PB class head).
_MAXIMUM: dict[str, int] = {
    "MODEL.ROI_HEADS.NUM_CLASSES": 100_000,
    "MODEL.RESNETS.NUM_GROUPS": 4096,
    "MODEL.RESNETS.WIDTH_PER_GROUP": 65_536,
    "MODEL.RESNETS.STEM_OUT_CHANNELS": 65_536,
    "MODEL.RESNETS.RES2_OUT_CHANNELS": 65_536,
    "MODEL.FPN.OUT_CHANNELS": 65_536,
    "MODEL.ROI_BOX_HEAD.NUM_FC": 64,
    "MODEL.ROI_BOX_HEAD.FC_DIM": 65_536,
    "MODEL.ROI_BOX_HEAD.NUM_CONV": 64,
    "MODEL.ROI_BOX_HEAD.CONV_DIM": 65_536,
    "MODEL.ROI_MASK_HEAD.NUM_CONV": 64,
    "MODEL.ROI_MASK_HEAD.CONV_DIM": 65_536,
    "TEST.DETECTIONS_PER_IMAGE": 1_000_000,
}


def check_values(cfg: Config) -> None:
    """ConfigError naming the first size or count the model cannot be built with (a negative
    NUM_CLASSES, zero channels, absurdly large sizes), before torch fails on it with a
    traceback or tries to allocate terabytes."""
    for key, minimum in _MINIMUM:
        value = cfg.get_path(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"{key} {value!r}: must be an integer >= {minimum}")
        maximum = _MAXIMUM[key]
        if value > maximum:
            raise ConfigError(f"{key} {value}: must be at most {maximum}")


def _require(cfg: Config, key: str, accepted: tuple[Any, ...], reason: str) -> None:
    value = cfg.get_path(key)
    # type check too: 0 == False in Python, but 0 is not a valid KEYPOINT_ON here
    if not any(type(value) is type(ok) and value == ok for ok in accepted):
        raise ConfigError(f"{key} {value} is not supported; {reason}")
