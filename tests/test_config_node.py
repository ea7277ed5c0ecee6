"""The Config object: access, assignment rules, freezing, copies, dump round trips."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from layoutft.config import Config, default_config, load_config
from layoutft.config.defaults import D2_DEFAULTS
from layoutft.errors import ConfigError

PARITY_CONFIG = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask" / "config.yaml"


def leaf_paths(tree: dict, prefix: str = "") -> list[str]:
    paths: list[str] = []
    for name, value in tree.items():
        if isinstance(value, dict):
            paths += leaf_paths(value, f"{prefix}{name}.")
        else:
            paths.append(prefix + name)
    return paths


def test_defaults_are_detectron2s() -> None:
    cfg = default_config()
    # detectron2 0.6 default tree (defaults.py as of the fetched source): 192 leaves
    assert len(leaf_paths(D2_DEFAULTS)) == 192
    assert set(cfg) == {*D2_DEFAULTS, "LAYOUTFT"}
    # values and Python types as detectron2 writes them
    assert cfg.VERSION == 2
    assert cfg.MODEL.META_ARCHITECTURE == "GeneralizedRCNN"
    assert cfg.MODEL.BACKBONE.NAME == "build_resnet_backbone"
    assert cfg.MODEL.ROI_HEADS.NAME == "Res5ROIHeads"
    assert cfg.INPUT.MIN_SIZE_TRAIN == (800,)
    assert cfg.MODEL.RPN.BBOX_REG_WEIGHTS == (1.0, 1.0, 1.0, 1.0)
    assert cfg.MODEL.RPN.PRE_NMS_TOPK_TEST == 6000
    assert cfg.MODEL.RPN.IOU_THRESHOLDS == [0.3, 0.7]
    assert cfg.MODEL.ROI_KEYPOINT_HEAD.CONV_DIMS == (512,) * 8
    assert cfg.MODEL.ROI_BOX_CASCADE_HEAD.IOUS == (0.5, 0.6, 0.7)
    assert cfg.SOLVER.WARMUP_FACTOR == 0.001
    assert cfg.SOLVER.WEIGHT_DECAY_BIAS is None
    assert cfg.MODEL.PANOPTIC_FPN.COMBINE.ENABLED is True
    assert cfg.INPUT.CROP.SIZE == [0.9, 0.9]
    assert cfg.TEST.AUG.MIN_SIZES == (400, 500, 600, 700, 800, 900, 1000, 1100, 1200)
    assert cfg.GLOBAL.HACK == 1.0
    assert cfg.OUTPUT_DIR == "./output"
    for path in ("DATASETS.TRAIN", "SOLVER.STEPS", "MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS"):
        assert isinstance(cfg.get_path(path), tuple)


def test_default_config_is_a_fresh_copy() -> None:
    first = default_config()
    first.MODEL.PIXEL_MEAN.append(0.0)
    first.MODEL.ANCHOR_GENERATOR.SIZES[0].append(1024)
    assert default_config().MODEL.PIXEL_MEAN == [103.53, 116.28, 123.675]
    assert D2_DEFAULTS["MODEL"]["ANCHOR_GENERATOR"]["SIZES"] == [[32, 64, 128, 256, 512]]


def test_access_styles_agree() -> None:
    cfg = default_config()
    assert cfg.MODEL.RPN.NMS_THRESH == 0.7
    assert cfg["MODEL"]["RPN"]["NMS_THRESH"] == 0.7
    assert cfg["MODEL.RPN.NMS_THRESH"] == 0.7
    assert cfg.get_path("MODEL.RPN.NMS_THRESH") == 0.7
    assert cfg.get("MODEL.RPN.NMS_THRESH", 1) == 0.7
    assert cfg.get("MODEL.RPN.NOPE", 1) == 1
    assert "MODEL.RPN.NMS_THRESH" in cfg
    assert "MODEL" in cfg
    assert "MODEL.RPN.NOPE" not in cfg
    assert isinstance(cfg.MODEL.RPN, Config)


def test_unknown_lookups_suggest() -> None:
    cfg = default_config()
    message = "unknown key MODEL.RPN.NMS_TRESH; did you mean MODEL.RPN.NMS_THRESH?"
    with pytest.raises(ConfigError) as info:
        cfg.get_path("MODEL.RPN.NMS_TRESH")
    assert str(info.value) == message
    with pytest.raises(AttributeError, match=r"did you mean MODEL\.RPN\.NMS_THRESH"):
        _ = cfg.MODEL.RPN.NMS_TRESH
    with pytest.raises(KeyError, match=r"did you mean MODEL\.RPN\.NMS_THRESH"):
        _ = cfg["MODEL.RPN.NMS_TRESH"]


def test_assignment_is_type_checked_and_typo_protected() -> None:
    cfg = default_config()
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 5
    cfg["SOLVER"]["BASE_LR"] = 1
    cfg.SOLVER.STEPS = [10, 20]
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 5
    assert cfg.SOLVER.BASE_LR == 1.0 and type(cfg.SOLVER.BASE_LR) is float
    assert cfg.SOLVER.STEPS == (10, 20)
    with pytest.raises(ConfigError) as info:
        cfg.MODEL.ROI_HEADS.NUM_CLASS = 5
    assert str(info.value) == (
        "unknown key MODEL.ROI_HEADS.NUM_CLASS; did you mean MODEL.ROI_HEADS.NUM_CLASSES?"
    )
    with pytest.raises(ConfigError, match=r"wrong type for MODEL\.DEVICE: expected str"):
        cfg.MODEL.DEVICE = 0
    with pytest.raises(ConfigError, match=r"MODEL\.RPN is a group of keys"):
        cfg.MODEL.RPN = 3
    cfg.set_new_allowed(True)
    cfg.MODEL.MY_KEY = "x"
    assert cfg.MODEL.MY_KEY == "x"


def test_freeze() -> None:
    cfg = default_config()
    cfg.freeze()
    assert cfg.is_frozen() and cfg.MODEL.RPN.is_frozen()
    with pytest.raises(ConfigError) as info:
        cfg.MODEL.RPN.NMS_THRESH = 0.5
    assert str(info.value) == (
        "cannot set MODEL.RPN.NMS_THRESH: the config is frozen; use a clone() instead"
    )
    with pytest.raises(ConfigError, match="frozen"):
        cfg.merge_from_list(["SEED", "1"])
    partly = default_config()
    partly.MODEL.freeze()
    with pytest.raises(ConfigError, match="frozen"):
        partly.merge_from_list(["MODEL.MASK_ON", "True"])
    assert partly.MODEL.MASK_ON is False
    thawed = cfg.clone()
    assert not thawed.is_frozen()
    thawed.SEED = 1
    assert cfg.SEED == -1
    cfg.defrost()
    cfg.SEED = 2
    assert cfg.SEED == 2


def test_clone_is_deep_and_equal() -> None:
    cfg = load_config(PARITY_CONFIG)
    twin = cfg.clone()
    assert twin == cfg
    twin.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0].append(4.0)
    twin.MODEL.ROI_HEADS.NUM_CLASSES = 7
    assert cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS == [[0.1, 0.25, 0.5, 1.0, 2.0]]
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 5
    assert twin != cfg


def test_to_dict_is_plain() -> None:
    cfg = load_config(PARITY_CONFIG)
    data = cfg.to_dict()
    assert type(data["MODEL"]) is dict
    assert data["INPUT"]["MIN_SIZE_TRAIN"] == [640, 672, 704, 736, 768, 800]
    assert data["MODEL"]["ROI_BOX_HEAD"]["BBOX_REG_WEIGHTS"] == [10.0, 10.0, 5.0, 5.0]
    data["MODEL"]["PIXEL_MEAN"].append(1.0)
    assert len(cfg.MODEL.PIXEL_MEAN) == 3


def test_from_dict_and_equality_with_lists_and_tuples() -> None:
    cfg = Config.from_dict({"A": {"B": (1, 2), "C": "x"}, "D": None})
    assert cfg.A.B == (1, 2)
    assert cfg == Config.from_dict({"A": {"B": [1, 2], "C": "x"}, "D": None})
    assert cfg == {"A": {"B": [1, 2], "C": "x"}, "D": None}
    assert cfg != Config.from_dict({"A": {"B": [1, 3], "C": "x"}, "D": None})
    with pytest.raises(ConfigError, match="a config value must be"):
        Config.from_dict({"A": {1, 2}})


def test_dump_load_round_trip(tmp_path: Path) -> None:
    cfg = load_config(PARITY_CONFIG, ["OUTPUT_DIR", "out dir/2024", "SOLVER.BASE_LR", "1e-5"])
    text = cfg.dump()
    assert "!!python" not in text
    assert yaml.safe_load(text)["MODEL"]["ROI_HEADS"]["NUM_CLASSES"] == 5
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(text, encoding="utf-8")
    again = load_config(dumped)
    assert again == cfg
    assert again.INPUT.MIN_SIZE_TRAIN == (640, 672, 704, 736, 768, 800)  # tuples come back
    assert again.OUTPUT_DIR == "out dir/2024"
    assert load_config(dumped).dump() == text


def test_default_dump_round_trip(tmp_path: Path) -> None:
    dumped = tmp_path / "defaults.yaml"
    dumped.write_text(default_config().dump(), encoding="utf-8")
    assert load_config(dumped, check=False) == default_config()


def test_merge_from_file_method(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("SEED: 4\n", encoding="utf-8")
    cfg = default_config()
    cfg.merge_from_file(path)
    assert cfg.SEED == 4


def test_pickle_and_deepcopy() -> None:
    cfg = load_config(PARITY_CONFIG)
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert copy.deepcopy(cfg) == cfg


def test_public_reexport() -> None:
    import layoutft

    assert layoutft.load_config is load_config


def test_config_package_does_not_import_torch() -> None:
    code = (
        "import sys, layoutft.config as c; c.load_config(None); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
