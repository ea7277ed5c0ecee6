"""detectron2 state-dict names: recognise them and complete the short forms.

Full names start at the GeneralizedRCNN (``backbone.bottom_up.res2.0.conv1.weight``).
Backbone files meant for detectron2's suffix matching (``"matching_heuristics": True``,
e.g. its ImageNet ``.pkl`` files converted from torchvision) use names relative to a
submodule (``stem.conv1.weight``, ``res2.0.conv1.norm.weight``); we prefix them with the
path of that submodule in the R-CNN instead of matching suffixes at load time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch

FULL_ROOTS = ("backbone.", "proposal_generator.", "roi_heads.")

_SHORT_ROOTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(stem|res[2-5])\."), "backbone.bottom_up."),
    (re.compile(r"fpn_(lateral|output)\d+\."), "backbone."),
    (re.compile(r"rpn_head\."), "proposal_generator."),
    (re.compile(r"(box_head|box_predictor|mask_head)\."), "roi_heads."),
]


def full_name(name: str) -> str | None:
    """The full detectron2 name of ``name``, or None when it is not a detectron2 name."""
    if name.startswith(FULL_ROOTS):
        return name
    for pattern, prefix in _SHORT_ROOTS:
        if pattern.match(name):
            return prefix + name
    return None


def looks_like_detectron2(names: Iterable[str]) -> bool:
    """True when at least one name is a (full or short) detectron2 R-CNN name."""
    return any(full_name(n) is not None for n in names)


def strip_ddp_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix that (Distributed)DataParallel adds to every key."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module.") :]: v for k, v in state.items()}
    return state


def complete_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Prefix short detectron2 names; other names (e.g. ``pixel_mean``) stay as they are."""
    return {full_name(k) or k: v for k, v in state.items()}
