"""Every shipped config loads, builds a model, and keeps its documented choices."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from layoutft.config import load_config
from layoutft.engine.setup import resolve_config_path, shipped_configs
from layoutft.modeling import build_model

CONFIGS = Path(__file__).parent.parent / "configs"
DOCUMENT_CONFIGS = [n for n in shipped_configs() if n not in ("Base-RCNN-FPN",)]


def test_shipped_configs_are_the_files_in_configs() -> None:
    assert shipped_configs() == sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    assert {"quick_cpu", "Base-Document", "mask_rcnn_R_50_FPN_publaynet"} <= set(shipped_configs())
    assert resolve_config_path("quick_cpu") == resolve_config_path("quick_cpu.yaml")


@pytest.mark.parametrize("name", shipped_configs())
def test_config_builds_a_model(name: str) -> None:
    cfg = load_config(resolve_config_path(name), ["MODEL.ROI_HEADS.NUM_CLASSES", "5"])
    torch.manual_seed(0)
    with torch.device("meta"):  # shapes only: no memory or time for the big backbones
        model = build_model(cfg)
    state = model.state_dict()
    depth = int(cfg.MODEL.RESNETS.DEPTH)
    # detectron2: R50 Mask R-CNN 307 tensors, R101/X101 562 (D2-NOTES); the mask head has 12
    expected = {50: 307, 101: 562}[depth] - (0 if cfg.MODEL.MASK_ON else 12)
    res = cfg.MODEL.RESNETS
    if res.RES2_OUT_CHANNELS == res.STEM_OUT_CHANNELS:  # narrow: res2.0 needs no shortcut conv
        expected -= 5
    assert len([k for k in state if not k.endswith("num_batches_tracked")]) == expected
    assert state["roi_heads.box_predictor.cls_score.weight"].shape[0] == 6  # 5 + background
    ratios = len(cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0])
    assert state["proposal_generator.rpn_head.objectness_logits.weight"].shape[0] == ratios


@pytest.mark.parametrize("name", DOCUMENT_CONFIGS)
def test_document_configs_keep_their_tuning(name: str) -> None:
    cfg = load_config(resolve_config_path(name))
    assert cfg.INPUT.RANDOM_FLIP == "none"
    assert cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS is False
    assert cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE in (128, 256, 512)  # 128: ~350 px inputs
    assert int(cfg.LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH) == int(cfg.SOLVER.IMS_PER_BATCH) or (
        "X_101" in name  # tuned at 8, run at 4: the rule rescales
    )
    if name == "quick_cpu":
        assert cfg.MODEL.RESNETS.NORM == "BN" and cfg.MODEL.WEIGHTS == ""
    elif name != "Base-Document":
        assert cfg.MODEL.WEIGHTS == "" or "publaynet" in name or "imagenet" in cfg.MODEL.WEIGHTS
