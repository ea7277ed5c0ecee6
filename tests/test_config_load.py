"""Loading detectron2 YAML files: _BASE_ chains, resolved values, file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from layoutft.config import default_config, load_config
from layoutft.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
D2_CONFIGS = FIXTURES / "d2_configs"
PARITY_CONFIG = FIXTURES / "d2_parity" / "narrow_r50_mask" / "config.yaml"
PUBLAYNET = D2_CONFIGS / "layout-parser" / "PubLayNet" / "mask_rcnn_R_50_FPN_3x" / "config.yml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_parity_config_resolves_file_base_and_defaults() -> None:
    cfg = load_config(PARITY_CONFIG)
    # from config.yaml itself
    assert cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS == [[0.1, 0.25, 0.5, 1.0, 2.0]]
    assert cfg.MODEL.RESNETS.WIDTH_PER_GROUP == 16
    assert cfg.MODEL.RESNETS.RES2_OUT_CHANNELS == 64
    assert cfg.MODEL.FPN.OUT_CHANNELS == 64
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 5
    assert cfg.MODEL.ROI_BOX_HEAD.FC_DIM == 256
    assert cfg.MODEL.ROI_MASK_HEAD.CONV_DIM == 64
    assert cfg.MODEL.MASK_ON is True
    assert cfg.MODEL.WEIGHTS == ""
    # from Base-RCNN-FPN.yaml; "(640, ...)" strings are read as tuples, like yacs
    assert cfg.INPUT.MIN_SIZE_TRAIN == (640, 672, 704, 736, 768, 800)
    assert cfg.SOLVER.STEPS == (60000, 80000)
    assert cfg.DATASETS.TRAIN == ("coco_2017_train",)
    assert cfg.MODEL.ANCHOR_GENERATOR.SIZES == [[32], [64], [128], [256], [512]]
    assert cfg.MODEL.RPN.IN_FEATURES == ["p2", "p3", "p4", "p5", "p6"]
    assert cfg.MODEL.ROI_HEADS.IN_FEATURES == ["p2", "p3", "p4", "p5"]
    assert cfg.MODEL.BACKBONE.NAME == "build_resnet_fpn_backbone"
    assert cfg.MODEL.ROI_BOX_HEAD.NUM_FC == 2
    assert cfg.MODEL.ROI_MASK_HEAD.NUM_CONV == 4
    assert cfg.SOLVER.BASE_LR == 0.02
    # detectron2 defaults for keys no file sets
    assert cfg.MODEL.PIXEL_MEAN == [103.53, 116.28, 123.675]
    assert cfg.MODEL.PIXEL_STD == [1.0, 1.0, 1.0]
    assert cfg.INPUT.FORMAT == "BGR"
    assert cfg.MODEL.RPN.NMS_THRESH == 0.7
    assert cfg.MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS == (10.0, 10.0, 5.0, 5.0)
    assert cfg.MODEL.ROI_BOX_HEAD.POOLER_TYPE == "ROIAlignV2"
    assert cfg.MODEL.ANCHOR_GENERATOR.OFFSET == 0.0
    assert cfg.TEST.DETECTIONS_PER_IMAGE == 100
    assert cfg.LAYOUTFT.LABELS == []
    assert cfg.LAYOUTFT.INPUT_DPI == 200


@pytest.mark.parametrize(
    ("name", "mask_on", "depth", "groups", "width", "stride_in_1x1"),
    [
        ("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml", True, 50, 1, 64, True),
        ("COCO-InstanceSegmentation/mask_rcnn_R_101_FPN_3x.yaml", True, 101, 1, 64, True),
        ("COCO-InstanceSegmentation/mask_rcnn_X_101_32x8d_FPN_3x.yaml", True, 101, 32, 8, False),
        ("COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml", False, 50, 1, 64, True),
    ],
)
def test_detectron2_zoo_configs(
    name: str, mask_on: bool, depth: int, groups: int, width: int, stride_in_1x1: bool
) -> None:
    cfg = load_config(D2_CONFIGS / name)
    assert cfg.MODEL.MASK_ON is mask_on
    assert cfg.MODEL.RESNETS.DEPTH == depth
    assert cfg.MODEL.RESNETS.NUM_GROUPS == groups
    assert cfg.MODEL.RESNETS.WIDTH_PER_GROUP == width
    assert cfg.MODEL.RESNETS.STRIDE_IN_1X1 is stride_in_1x1
    assert cfg.SOLVER.STEPS == (210000, 250000)
    assert cfg.SOLVER.MAX_ITER == 270000
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 80
    assert cfg.MODEL.FPN.IN_FEATURES == ["res2", "res3", "res4", "res5"]


def test_x101_config_sets_imagenet_std() -> None:
    cfg = load_config(D2_CONFIGS / "COCO-InstanceSegmentation/mask_rcnn_X_101_32x8d_FPN_3x.yaml")
    assert cfg.MODEL.PIXEL_STD == [57.375, 57.12, 58.395]
    assert cfg.MODEL.WEIGHTS == "detectron2://ImageNetPretrained/FAIR/X-101-32x8d.pkl"


def test_layout_parser_full_dump_loads() -> None:
    cfg = load_config(PUBLAYNET)
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 5
    assert cfg.MODEL.MASK_ON is True
    assert cfg.DATASETS.TRAIN == ("publaynet_train",)
    assert cfg.SOLVER.STEPS == (140000, 170000)
    assert cfg.SOLVER.IMS_PER_BATCH == 8
    # detectron2 <= 0.5 dumped a float here; 0.6's default is None and accepts it
    assert cfg.SOLVER.WEIGHT_DECAY_BIAS == 0.0001
    # keys of other architectures are in the dump and keep their values
    assert cfg.MODEL.RETINANET.NUM_CLASSES == 80
    assert cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES == 54
    # keys added after that detectron2 release keep 0.6's defaults
    assert cfg.MODEL.RPN.CONV_DIMS == [-1]
    assert cfg.SOLVER.REFERENCE_WORLD_SIZE == 0
    assert cfg.MODEL.ROI_BOX_HEAD.BBOX_REG_LOSS_TYPE == "smooth_l1"


def test_full_dump_matches_the_same_config_built_from_bases() -> None:
    """The self-contained dump resolves to what its _BASE_ form plus the changes give."""
    overrides = [
        "MODEL.ROI_HEADS.NUM_CLASSES", "5",
        "MODEL.WEIGHTS", "./outputs/publaynet/mask_rcnn_R_50_FPN_3x/model_final.pth",
        "DATASETS.TRAIN", "('publaynet_train',)",
        "DATASETS.TEST", "('publaynet_val',)",
        "SOLVER.IMS_PER_BATCH", "8",
        "SOLVER.BASE_LR", "0.01",
        "SOLVER.CHECKPOINT_PERIOD", "20000",
        "SOLVER.STEPS", "(140000, 170000)",
        "SOLVER.MAX_ITER", "180000",
        "SOLVER.WEIGHT_DECAY_BIAS", "0.0001",
        "OUTPUT_DIR", "./outputs/publaynet/mask_rcnn_R_50_FPN_3x",
    ]  # fmt: skip
    built = load_config(
        D2_CONFIGS / "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml", overrides
    )
    assert load_config(PUBLAYNET) == built


def test_base_relative_to_including_file_in_subfolders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "configs" / "Base-Root.yaml", "MODEL:\n  MASK_ON: True\nSEED: 1\n")
    write(
        tmp_path / "configs" / "common" / "Base-Mid.yaml",
        '_BASE_: "../Base-Root.yaml"\nSEED: 2\nMODEL:\n  RPN:\n    NMS_THRESH: 0.6\n',
    )
    leaf = write(
        tmp_path / "configs" / "exp" / "deep" / "run.yaml",
        '_BASE_: "../../common/Base-Mid.yaml"\nSEED: 3\n'
        "MODEL:\n  BACKBONE:\n    NAME: build_resnet_fpn_backbone\n"
        "  ROI_HEADS:\n    NAME: StandardROIHeads\n"
        "  ROI_BOX_HEAD:\n    NAME: FastRCNNConvFCHead\n",
    )
    monkeypatch.chdir(tmp_path / "configs" / "exp")  # cwd must not matter
    cfg = load_config(leaf)
    assert cfg.MODEL.MASK_ON is True  # from the root base
    assert cfg.MODEL.RPN.NMS_THRESH == 0.6  # from the middle base
    assert cfg.SEED == 3  # the including file wins over its bases


def test_base_list_applies_in_order(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "SEED: 1\nVIS_PERIOD: 5\n")
    write(tmp_path / "b.yaml", "SEED: 2\n")
    top = write(tmp_path / "top.yaml", "_BASE_: [a.yaml, b.yaml]\nCUDNN_BENCHMARK: True\n")
    cfg = load_config(top, check=False)
    assert (cfg.SEED, cfg.VIS_PERIOD, cfg.CUDNN_BENCHMARK) == (2, 5, True)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"^nope/config\.yaml: config file not found$"):
        load_config("nope/config.yaml")


def test_missing_base_names_including_file(tmp_path: Path) -> None:
    top = write(tmp_path / "top.yaml", '_BASE_: "../gone.yaml"\n')
    with pytest.raises(ConfigError) as info:
        load_config(top)
    assert str(info.value) == f"{top}: _BASE_ file {tmp_path / '..' / 'gone.yaml'} not found"


def test_base_loop(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "_BASE_: b.yaml\n")
    write(tmp_path / "b.yaml", "_BASE_: a.yaml\n")
    with pytest.raises(ConfigError, match="include each other in a loop"):
        load_config(tmp_path / "a.yaml")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "MODEL:\n  MASK_ON: [True\nSEED: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    message = str(info.value)
    assert message.startswith(f"{bad}: malformed YAML: ")
    assert "line 3" in message
    assert "\n" not in message


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    bad = write(tmp_path / "list.yaml", "- MODEL\n- SEED\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: a config file must be a mapping"):
        load_config(bad)


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.yaml", "")
    assert load_config(empty, check=False) == default_config()


def test_unknown_key_in_base_names_the_base(tmp_path: Path) -> None:
    base = write(tmp_path / "base" / "Base.yaml", "MODEL:\n  ROI_HEADS:\n    NUM_CLASS: 3\n")
    top = write(tmp_path / "config.yaml", '_BASE_: "base/Base.yaml"\n')
    with pytest.raises(ConfigError) as info:
        load_config(top)
    assert str(info.value) == (
        f"{base}: unknown key MODEL.ROI_HEADS.NUM_CLASS; did you mean MODEL.ROI_HEADS.NUM_CLASSES?"
    )


def test_wrong_type_in_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "SOLVER:\n  MAX_ITER: lots\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: wrong type for SOLVER.MAX_ITER: expected int (like 40000), got str 'lots'"
    )


def test_old_version_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "old.yaml", "VERSION: 1\n")
    with pytest.raises(ConfigError, match=r"old\.yaml: VERSION 1 is not supported"):
        load_config(path)


def test_python_tag_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = write(
        tmp_path / "config.yaml",
        "MODEL:\n  ANCHOR_GENERATOR:\n"
        f"    SIZES: !!python/object/apply:os.system ['touch {marker}']\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, check=False)
    assert str(info.value).startswith(
        f"{path}: MODEL.ANCHOR_GENERATOR.SIZES uses the YAML tag !!python/object/apply:os.system"
    )
    assert not marker.exists()


def test_python_tag_replaced_by_override_is_fine(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        "MODEL:\n  ANCHOR_GENERATOR:\n    SIZES: !!python/object/apply:eval ['[[32]]']\n",
    )
    cfg = load_config(path, ["MODEL.ANCHOR_GENERATOR.SIZES", "[[16], [32]]"], check=False)
    assert cfg.MODEL.ANCHOR_GENERATOR.SIZES == [[16], [32]]
