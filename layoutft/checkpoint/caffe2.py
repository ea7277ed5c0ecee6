"""Caffe2/Detectron (v1) blob names → detectron2 parameter names.

Covers the ImageNet backbones of the Detectron zoo (``R-50.pkl``, ``R-101.pkl``,
``X-101-32x8d.pkl``: ``conv1_w``, ``res_conv1_bn_s``, ``res2_0_branch2a_w`` …) and
Detectron v1 FPN Mask R-CNN detectors (``{"blobs": ...}``, e.g. the IBM PubLayNet
``model_final.pkl``). Besides renaming, three things differ from detectron2:

- Caffe2 puts the background class FIRST in ``cls_score``; detectron2 puts it LAST.
- ``bbox_pred`` and ``mask_fcn_logits`` carry a meaningless background slot (4 rows,
  1 channel) that detectron2's class-specific heads do not have.
- BatchNorm is folded into an affine ``_bn_s``/``_bn_b`` pair (scale
  ``gamma / sqrt(var + eps)``, shift ``beta - mean * scale``). detectron2 loads them as
  FrozenBN ``weight``/``bias`` with ``running_mean`` 0 and ``running_var`` 1 (not
  ``1 - eps``), so its output is ``x * s / sqrt(1 + eps) + b``; we write those statistics
  explicitly to reproduce it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

import torch

from layoutft.errors import CheckpointError

logger = logging.getLogger(__name__)

_BOTTOM_UP = "backbone.bottom_up."
_PARAM = {"w": "weight", "b": "bias"}
_NORM = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_BRANCH = {"1": "shortcut", "2a": "conv1", "2b": "conv2", "2c": "conv3"}

# (pattern on the whole Caffe2 name, builder of the detectron2 name from the match)
_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _rule(pattern: str, build: Callable[[re.Match[str]], str]) -> _Rule:
    return re.compile(pattern), build


def _layer(m: re.Match[str]) -> str:
    """Suffix for a ``..._w|_b`` conv/fc blob or a ``..._bn_x|_gn_x`` norm blob."""
    if m.group("norm"):
        return f"norm.{_NORM[m.group('norm')]}"
    return _PARAM[m.group("p")]


# parameter suffix of a blob name: _w/_b of a conv or fc, _bn_x/_gn_x of its norm
_P = r"(?:_[bg]n_(?P<norm>s|b|rm|riv)|_(?P<p>w|b))"

_RULES: list[_Rule] = [
    _rule(r"conv1" + _P, lambda m: f"{_BOTTOM_UP}stem.conv1.{_layer(m)}"),
    _rule(r"res_conv1" + _P, lambda m: f"{_BOTTOM_UP}stem.conv1.{_layer(m)}"),
    _rule(
        r"res(?P<s>\d)_(?P<i>\d+)_branch(?P<br>1|2a|2b|2c)" + _P,
        lambda m: f"{_BOTTOM_UP}res{m['s']}.{m['i']}.{_BRANCH[m['br']]}.{_layer(m)}",
    ),
    _rule(
        r"fpn_inner_res(?P<s>\d)_\d+_sum(?:_lateral)?" + _P,
        lambda m: f"backbone.fpn_lateral{m['s']}.{_layer(m)}",
    ),
    _rule(r"fpn_res(?P<s>\d)_\d+_sum" + _P, lambda m: f"backbone.fpn_output{m['s']}.{_layer(m)}"),
    _rule(r"conv_rpn(?:_fpn2)?" + _P, lambda m: f"proposal_generator.rpn_head.conv.{_layer(m)}"),
    _rule(
        r"rpn_cls_logits(?:_fpn2)?" + _P,
        lambda m: f"proposal_generator.rpn_head.objectness_logits.{_layer(m)}",
    ),
    _rule(
        r"rpn_bbox_pred(?:_fpn2)?" + _P,
        lambda m: f"proposal_generator.rpn_head.anchor_deltas.{_layer(m)}",
    ),
    _rule(r"fc6" + _P, lambda m: f"roi_heads.box_head.fc1.{_layer(m)}"),
    _rule(r"fc7" + _P, lambda m: f"roi_heads.box_head.fc2.{_layer(m)}"),
    _rule(r"head_conv(?P<n>\d+)" + _P, lambda m: f"roi_heads.box_head.conv{m['n']}.{_layer(m)}"),
    _rule(r"cls_score" + _P, lambda m: f"roi_heads.box_predictor.cls_score.{_layer(m)}"),
    _rule(r"bbox_pred" + _P, lambda m: f"roi_heads.box_predictor.bbox_pred.{_layer(m)}"),
    _rule(
        r"_(?:\[mask\]_)?(?:mask_)?fcn(?P<n>\d+)" + _P,
        lambda m: f"roi_heads.mask_head.mask_fcn{m['n']}.{_layer(m)}",
    ),
    _rule(r"conv5_mask" + _P, lambda m: f"roi_heads.mask_head.deconv.{_layer(m)}"),
    _rule(r"mask_fcn_logits" + _P, lambda m: f"roi_heads.mask_head.predictor.{_layer(m)}"),
]

# Optimizer state and the ImageNet classifier have no place in a detector.
_DROPPED = re.compile(r".*_momentum|pred_[wb]|fc1000_[wb]")


def caffe2_name(name: str) -> str | None:
    """detectron2 name of one Caffe2 blob; None for blobs to drop; unknown names unchanged."""
    if _DROPPED.fullmatch(name):
        return None
    for pattern, build in _RULES:
        match = pattern.fullmatch(name)
        if match:
            return build(match)
    return name


def looks_like_caffe2(names: Iterable[str]) -> bool:
    """True when the names are Caffe2 blob names (no dots; at least one we can convert)."""
    names = list(names)
    if not names or any("." in n for n in names):
        return False
    return any(caffe2_name(n) not in (None, n) for n in names)


def convert_caffe2(blobs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename Caffe2 blobs to detectron2 names and fix the class-head layouts.

    ``blobs``: Caffe2 name → float32 tensor. Returns detectron2 name → tensor: backbone
    names under ``backbone.bottom_up.``; ``cls_score`` rows [bg, c0..cK-1] → [c0..cK-1, bg];
    ``bbox_pred`` loses its first 4 rows; ``mask_fcn_logits`` loses its first channel
    (unless it has a single, class-agnostic one); folded BN gains ``running_mean`` 0 and
    ``running_var`` 1. Unknown blob names are kept unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    source: dict[str, str] = {}
    folded_bn: set[str] = set()
    for name, value in blobs.items():
        new = caffe2_name(name)
        if new is None:
            continue
        if new in out:
            raise CheckpointError(f"Caffe2 blobs {source[new]} and {name} both map to {new}")
        out[new] = _fix_layout(new, value)
        source[new] = name
        if re.search(r"_bn_[sb]$", name):
            folded_bn.add(new.rsplit(".", 1)[0])
    for prefix in sorted(folded_bn):
        channels = out[f"{prefix}.weight"].shape[0]
        out.setdefault(f"{prefix}.running_mean", torch.zeros(channels))
        out.setdefault(f"{prefix}.running_var", torch.ones(channels))
    logger.info(
        "converted %d Caffe2 blobs to %d detectron2 tensors (%d folded BN layers)",
        len(blobs),
        len(out),
        len(folded_bn),
    )
    return out


def _fix_layout(name: str, value: torch.Tensor) -> torch.Tensor:
    if name.startswith("roi_heads.box_predictor.cls_score."):
        return torch.cat([value[1:], value[:1]])
    if name.startswith("roi_heads.box_predictor.bbox_pred."):
        return value[4:].clone()
    if name.startswith("roi_heads.mask_head.predictor.") and value.shape[0] > 1:
        return value[1:].clone()
    return value
