"""The one place where detectron2's config tree becomes a model.

:func:`build_model` reads every ``MODEL.*`` / ``TEST.*`` key the network depends on, checks
it (a :class:`~layoutft.errors.ConfigError` naming the key), and passes plain typed values
to the modules' constructors, in the order detectron2 builds them (so a seeded build gives
detectron2's initial weights). Nothing below this module sees the config: every
hyper-parameter of a built model is visible here, and in the attributes of its modules
(``model.roi_heads.score_thresh``, ``model.proposal_generator.anchor_generator.sizes``).

Key -> argument, in short:

- ``MODEL.RESNETS.*``, ``MODEL.BACKBONE.FREEZE_AT`` -> :class:`ResNetSettings`
- ``MODEL.FPN.*`` -> :class:`FPN` (``in_features``, ``out_channels``, ``norm``, ``fuse_type``)
- ``MODEL.ANCHOR_GENERATOR.{SIZES, ASPECT_RATIOS, OFFSET}`` -> :class:`AnchorGenerator`
- ``MODEL.RPN.*``, ``MODEL.PROPOSAL_GENERATOR.MIN_SIZE`` -> :class:`RPN`,
  :class:`RPNLossSettings`
- ``MODEL.ROI_HEADS.{SCORE_THRESH_TEST, NMS_THRESH_TEST}``, ``TEST.DETECTIONS_PER_IMAGE`` ->
  :class:`StandardROIHeads` ``score_thresh``, ``nms_thresh``, ``detections_per_img``
- ``MODEL.ROI_HEADS.{IOU_*, BATCH_SIZE_PER_IMAGE, POSITIVE_FRACTION, PROPOSAL_APPEND_GT}`` ->
  :class:`ProposalSampling`
- ``MODEL.ROI_BOX_HEAD.*`` -> box pooler, :class:`FastRCNNConvFCHead`,
  :class:`FastRCNNOutputLayers`, ``box_weights``, :class:`BoxRegressionLoss`
- ``MODEL.ROI_MASK_HEAD.*`` (with ``MODEL.MASK_ON``) -> mask pooler,
  :class:`MaskRCNNConvUpsampleHead`
- ``MODEL.PIXEL_MEAN`` / ``PIXEL_STD`` -> :class:`GeneralizedRCNN`
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layoutft.errors import ConfigError
from layoutft.modeling.anchors import AnchorGenerator
from layoutft.modeling.box_coder import BoxWeights, as_weights
from layoutft.modeling.box_head import FastRCNNConvFCHead, FastRCNNOutputLayers
from layoutft.modeling.fpn import FPN
from layoutft.modeling.losses import (
    REG_LOSS_TYPES,
    BoxRegressionLoss,
    ProposalSampling,
    RPNLossSettings,
)
from layoutft.modeling.mask_head import MaskRCNNConvUpsampleHead
from layoutft.modeling.matching import Matcher
from layoutft.modeling.meta_arch import GeneralizedRCNN
from layoutft.modeling.poolers import ROIPooler
from layoutft.modeling.resnet import ResNetSettings, build_resnet
from layoutft.modeling.roi_heads import StandardROIHeads
from layoutft.modeling.rpn import RPN, StandardRPNHead, TrainTest

if TYPE_CHECKING:
    from layoutft.config import Config

#: {feature name: (channels, stride)} of the backbone's outputs.
Shapes = dict[str, tuple[int, int]]

__all__ = [
    "build_backbone",
    "build_model",
    "build_roi_heads",
    "build_rpn",
    "proposal_sampling",
    "resnet_settings",
    "roi_box_loss",
    "rpn_loss_settings",
]


def build_model(cfg: Config) -> GeneralizedRCNN:
    """detectron2's GeneralizedRCNN for ``cfg``, with detectron2's initialisation (weights
    random until a checkpoint is loaded).

    Raises ConfigError naming the key for architectures layoutft does not build and for
    sizes or counts no model has (``NUM_CLASSES -3``).
    """
    from layoutft.config.supported import check_values

    check_values(cfg)
    arch = str(cfg.MODEL.META_ARCHITECTURE)
    if arch != "GeneralizedRCNN":
        raise ConfigError(f"MODEL.META_ARCHITECTURE {arch!r}: only GeneralizedRCNN")
    if str(cfg.MODEL.PROPOSAL_GENERATOR.NAME) != "RPN":
        raise ConfigError("MODEL.PROPOSAL_GENERATOR.NAME must be 'RPN'")
    if bool(getattr(cfg.MODEL, "KEYPOINT_ON", False)):
        raise ConfigError("MODEL.KEYPOINT_ON is not supported")
    mean, std = list(cfg.MODEL.PIXEL_MEAN), list(cfg.MODEL.PIXEL_STD)
    if len(mean) != len(std):
        raise ConfigError(
            f"MODEL.PIXEL_MEAN {mean} and MODEL.PIXEL_STD {std} must have the same length"
        )
    backbone = build_backbone(cfg)
    shapes = backbone.output_shapes
    return GeneralizedRCNN(
        backbone=backbone,
        proposal_generator=build_rpn(cfg, shapes),
        roi_heads=build_roi_heads(cfg, shapes),
        pixel_mean=mean,
        pixel_std=std,
    )


# ----- backbone -------------------------------------------------------------------------------
def resnet_settings(cfg: Config) -> ResNetSettings:
    """``MODEL.RESNETS`` and ``MODEL.BACKBONE.FREEZE_AT`` as :class:`ResNetSettings`."""
    r = cfg.MODEL.RESNETS
    if any(getattr(r, "DEFORM_ON_PER_STAGE", ())):
        raise ConfigError("MODEL.RESNETS.DEFORM_ON_PER_STAGE (deformable convs) is not supported")
    return ResNetSettings(
        depth=int(r.DEPTH),
        out_features=tuple(r.OUT_FEATURES),
        norm=str(r.NORM),
        stem_out_channels=int(r.STEM_OUT_CHANNELS),
        res2_out_channels=int(r.RES2_OUT_CHANNELS),
        num_groups=int(r.NUM_GROUPS),
        width_per_group=int(r.WIDTH_PER_GROUP),
        stride_in_1x1=bool(r.STRIDE_IN_1X1),
        res5_dilation=int(r.RES5_DILATION),
        freeze_at=int(cfg.MODEL.BACKBONE.FREEZE_AT),
    )


def build_backbone(cfg: Config) -> FPN:
    """detectron2's ``build_resnet_fpn_backbone``: a ResNet from ``MODEL.RESNETS`` under an
    FPN from ``MODEL.FPN`` (input channels: ``len(MODEL.PIXEL_MEAN)``)."""
    name = str(cfg.MODEL.BACKBONE.NAME)
    if name != "build_resnet_fpn_backbone":
        raise ConfigError(
            f"MODEL.BACKBONE.NAME {name!r} is not supported; layoutft builds "
            "'build_resnet_fpn_backbone' (ResNet/ResNeXt + FPN)"
        )
    fpn = cfg.MODEL.FPN
    return FPN(
        build_resnet(resnet_settings(cfg), in_channels=len(cfg.MODEL.PIXEL_MEAN)),
        list(fpn.IN_FEATURES),
        int(fpn.OUT_CHANNELS),
        norm=str(fpn.NORM),
        fuse_type=str(fpn.FUSE_TYPE),
    )


# ----- RPN ------------------------------------------------------------------------------------
def _reg_loss_type(value: object, key: str) -> str:
    if value not in REG_LOSS_TYPES:
        raise ConfigError(f"{key}: unknown box loss {value!r}; use one of {list(REG_LOSS_TYPES)}")
    return str(value)


def rpn_loss_settings(cfg: Config) -> RPNLossSettings:
    """``MODEL.RPN``'s matching, sampling and loss keys as :class:`RPNLossSettings`."""
    rpn = cfg.MODEL.RPN
    loss_type = _reg_loss_type(rpn.BBOX_REG_LOSS_TYPE, "MODEL.RPN.BBOX_REG_LOSS_TYPE")
    return RPNLossSettings(
        matcher=Matcher(
            rpn.IOU_THRESHOLDS,
            rpn.IOU_LABELS,
            allow_low_quality_matches=True,
            config_key="MODEL.RPN.IOU_THRESHOLDS",
        ),
        batch_size_per_image=int(rpn.BATCH_SIZE_PER_IMAGE),
        positive_fraction=float(rpn.POSITIVE_FRACTION),
        regression=BoxRegressionLoss(
            weights=_rpn_box_weights(cfg),
            loss_type=loss_type,
            smooth_l1_beta=float(rpn.SMOOTH_L1_BETA),
            loss_weight=float(rpn.BBOX_REG_LOSS_WEIGHT),
        ),
        boundary_thresh=float(rpn.BOUNDARY_THRESH),
        loss_weight=float(rpn.LOSS_WEIGHT),
    )


def _rpn_box_weights(cfg: Config) -> BoxWeights:
    return as_weights(cfg.MODEL.RPN.BBOX_REG_WEIGHTS, "MODEL.RPN.BBOX_REG_WEIGHTS")


def build_rpn(cfg: Config, shapes: Shapes) -> RPN:
    """The RPN from ``MODEL.RPN``, ``MODEL.ANCHOR_GENERATOR`` and
    ``MODEL.PROPOSAL_GENERATOR.MIN_SIZE`` on the backbone outputs ``shapes``."""
    rpn = cfg.MODEL.RPN
    in_features = list(rpn.IN_FEATURES)
    missing = [f for f in in_features if f not in shapes]
    if missing or not in_features:
        raise ConfigError(
            f"MODEL.RPN.IN_FEATURES {in_features} must be backbone outputs {list(shapes)}"
        )
    if str(rpn.HEAD_NAME) != "StandardRPNHead":
        raise ConfigError(f"MODEL.RPN.HEAD_NAME {rpn.HEAD_NAME!r}: only StandardRPNHead")
    channels = {shapes[f][0] for f in in_features}
    if len(channels) != 1:
        raise ConfigError("MODEL.RPN.IN_FEATURES must all have the same number of channels")
    ag = cfg.MODEL.ANCHOR_GENERATOR
    anchor_generator = AnchorGenerator(
        ag.SIZES, ag.ASPECT_RATIOS, [shapes[f][1] for f in in_features], float(ag.OFFSET)
    )
    head = StandardRPNHead(channels.pop(), anchor_generator.num_anchors, list(rpn.CONV_DIMS))
    box_weights = _rpn_box_weights(cfg)
    return RPN(
        in_features=in_features,
        anchor_generator=anchor_generator,
        rpn_head=head,
        box_weights=box_weights,
        nms_thresh=float(rpn.NMS_THRESH),
        min_box_size=float(cfg.MODEL.PROPOSAL_GENERATOR.MIN_SIZE),
        pre_nms_topk=TrainTest(int(rpn.PRE_NMS_TOPK_TRAIN), int(rpn.PRE_NMS_TOPK_TEST)),
        post_nms_topk=TrainTest(int(rpn.POST_NMS_TOPK_TRAIN), int(rpn.POST_NMS_TOPK_TEST)),
        loss=rpn_loss_settings(cfg),
    )


# ----- ROI heads ------------------------------------------------------------------------------
def proposal_sampling(cfg: Config) -> ProposalSampling:
    """``MODEL.ROI_HEADS``' matching and sampling keys as :class:`ProposalSampling`."""
    heads = cfg.MODEL.ROI_HEADS
    return ProposalSampling(
        matcher=Matcher(
            heads.IOU_THRESHOLDS,
            heads.IOU_LABELS,
            allow_low_quality_matches=False,
            config_key="MODEL.ROI_HEADS.IOU_THRESHOLDS",
        ),
        num_classes=int(heads.NUM_CLASSES),
        batch_size_per_image=int(heads.BATCH_SIZE_PER_IMAGE),
        positive_fraction=float(heads.POSITIVE_FRACTION),
        append_gt=bool(heads.PROPOSAL_APPEND_GT),
    )


def roi_box_loss(cfg: Config) -> BoxRegressionLoss:
    """``MODEL.ROI_BOX_HEAD``'s regression loss keys as :class:`BoxRegressionLoss`."""
    box_head = cfg.MODEL.ROI_BOX_HEAD
    # Newer detectron2 keys (after 0.6); refuse them rather than silently train differently.
    for key in ("USE_SIGMOID_CE", "USE_FED_LOSS"):
        if getattr(box_head, key, False):
            raise ConfigError(f"MODEL.ROI_BOX_HEAD.{key}: not supported by layoutft; set it False")
    loss_type = _reg_loss_type(box_head.BBOX_REG_LOSS_TYPE, "MODEL.ROI_BOX_HEAD.BBOX_REG_LOSS_TYPE")
    return BoxRegressionLoss(
        weights=_roi_box_weights(cfg),
        loss_type=loss_type,
        smooth_l1_beta=float(box_head.SMOOTH_L1_BETA),
        loss_weight=float(box_head.BBOX_REG_LOSS_WEIGHT),
    )


def _roi_box_weights(cfg: Config) -> BoxWeights:
    return as_weights(
        cfg.MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS, "MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS"
    )


def _pooler(head: Config, strides: list[int]) -> ROIPooler:
    return ROIPooler(
        int(head.POOLER_RESOLUTION), strides, int(head.POOLER_SAMPLING_RATIO),
        str(head.POOLER_TYPE),
    )  # fmt: skip


def build_roi_heads(cfg: Config, shapes: Shapes) -> StandardROIHeads:
    """StandardROIHeads from ``MODEL.ROI_HEADS``, ``ROI_BOX_HEAD``, ``ROI_MASK_HEAD`` (with
    ``MODEL.MASK_ON``) and ``TEST.DETECTIONS_PER_IMAGE`` on the backbone outputs ``shapes``."""
    heads = cfg.MODEL.ROI_HEADS
    if str(heads.NAME) != "StandardROIHeads":
        raise ConfigError(
            f"MODEL.ROI_HEADS.NAME {heads.NAME!r} is not supported; use StandardROIHeads"
        )
    box_cfg, mask_cfg = cfg.MODEL.ROI_BOX_HEAD, cfg.MODEL.ROI_MASK_HEAD
    if str(box_cfg.NAME) != "FastRCNNConvFCHead":
        raise ConfigError(f"MODEL.ROI_BOX_HEAD.NAME {box_cfg.NAME!r}: only FastRCNNConvFCHead")
    if bool(box_cfg.TRAIN_ON_PRED_BOXES):
        raise ConfigError("MODEL.ROI_BOX_HEAD.TRAIN_ON_PRED_BOXES is not supported")
    in_features = list(heads.IN_FEATURES)
    missing = [f for f in in_features if f not in shapes]
    if missing or not in_features:
        raise ConfigError(
            f"MODEL.ROI_HEADS.IN_FEATURES {in_features} must be backbone outputs {list(shapes)}"
        )
    channels = {shapes[f][0] for f in in_features}
    if len(channels) != 1:
        raise ConfigError("MODEL.ROI_HEADS.IN_FEATURES must all have the same channels")
    in_channels = channels.pop()
    strides = [shapes[f][1] for f in in_features]
    num_classes = int(heads.NUM_CLASSES)
    box_pooler = _pooler(box_cfg, strides)
    if int(box_cfg.NUM_CONV) + int(box_cfg.NUM_FC) <= 0:
        raise ConfigError(
            "MODEL.ROI_BOX_HEAD needs NUM_CONV or NUM_FC > 0 (Base-RCNN-FPN: NUM_FC 2)"
        )
    box_head = FastRCNNConvFCHead(
        in_channels,
        int(box_cfg.POOLER_RESOLUTION),
        [int(box_cfg.CONV_DIM)] * int(box_cfg.NUM_CONV),
        [int(box_cfg.FC_DIM)] * int(box_cfg.NUM_FC),
        str(box_cfg.NORM),
    )
    box_predictor = FastRCNNOutputLayers(
        box_head.output_size, num_classes, bool(box_cfg.CLS_AGNOSTIC_BBOX_REG)
    )
    mask_pooler = mask_head = None
    if bool(cfg.MODEL.MASK_ON):
        if str(mask_cfg.NAME) != "MaskRCNNConvUpsampleHead":
            raise ConfigError(
                f"MODEL.ROI_MASK_HEAD.NAME {mask_cfg.NAME!r}: only MaskRCNNConvUpsampleHead"
            )
        mask_pooler = _pooler(mask_cfg, strides)
        mask_head = MaskRCNNConvUpsampleHead(
            in_channels,
            1 if bool(mask_cfg.CLS_AGNOSTIC_MASK) else num_classes,
            int(mask_cfg.CONV_DIM),
            int(mask_cfg.NUM_CONV),
            str(mask_cfg.NORM),
        )
    return StandardROIHeads(
        in_features=in_features,
        box_pooler=box_pooler,
        box_head=box_head,
        box_predictor=box_predictor,
        num_classes=num_classes,
        box_weights=_roi_box_weights(cfg),
        score_thresh=float(heads.SCORE_THRESH_TEST),
        nms_thresh=float(heads.NMS_THRESH_TEST),
        detections_per_img=int(cfg.TEST.DETECTIONS_PER_IMAGE),
        sampling=proposal_sampling(cfg),
        box_loss=roi_box_loss(cfg),
        mask_pooler=mask_pooler,
        mask_head=mask_head,
    )
