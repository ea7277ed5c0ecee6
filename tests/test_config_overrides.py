"""KEY VALUE overrides: literal parsing, type coercion, typo messages."""

from __future__ import annotations

from typing import Any

import pytest

from layoutft.config import default_config, load_config
from layoutft.errors import ConfigError


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("MODEL.ROI_HEADS.NUM_CLASSES", "5", 5),
        ("SOLVER.BASE_LR", "0.01", 0.01),
        ("SOLVER.BASE_LR", "1", 1.0),  # int accepted for a float key
        ("SOLVER.BASE_LR", "1e-3", 0.001),
        ("INPUT.MIN_SIZE_TRAIN", "(800, 1000)", (800, 1000)),
        ("INPUT.MIN_SIZE_TRAIN", "[640, 800]", (640, 800)),  # list -> tuple, like the default
        ("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", "[[0.1,0.5,1.0]]", [[0.1, 0.5, 1.0]]),
        ("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", "((0.5, 1.0),)", [(0.5, 1.0)]),
        ("MODEL.MASK_ON", "True", True),
        ("MODEL.DEVICE", "cpu", "cpu"),
        ("MODEL.WEIGHTS", "'quoted/model.pth'", "quoted/model.pth"),
        ("OUTPUT_DIR", "2024", "2024"),  # a string key keeps the string
        ("INPUT.FORMAT", "RGB", "RGB"),
        ("SOLVER.WEIGHT_DECAY_BIAS", "0.0", 0.0),  # None default takes any type
        ("SOLVER.WEIGHT_DECAY_BIAS", "None", None),
        ("DATASETS.TRAIN", "('a', 'b')", ("a", "b")),
    ],
)
def test_override_values_are_parsed_and_coerced(key: str, raw: str, expected: Any) -> None:
    cfg = load_config(None, [key, raw])
    value = cfg.get_path(key)
    assert value == expected
    assert type(value) is type(expected)


def test_overrides_apply_after_file_and_in_order() -> None:
    cfg = load_config(None, ["SOLVER.BASE_LR", "0.1", "SOLVER.BASE_LR", "0.2", "SEED", "7"])
    assert (cfg.SOLVER.BASE_LR, cfg.SEED) == (0.2, 7)


def test_non_string_override_values_pass_through() -> None:
    cfg = default_config()
    cfg.merge_from_list(["MODEL.ROI_HEADS.NUM_CLASSES", 3, "MODEL.PIXEL_STD", (1, 2, 3)])
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 3
    assert cfg.MODEL.PIXEL_STD == [1, 2, 3]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "MODEL.ROI_HEADS.NUM_CLASS",
            "override: unknown key MODEL.ROI_HEADS.NUM_CLASS; "
            "did you mean MODEL.ROI_HEADS.NUM_CLASSES?",
        ),
        (
            "MODEL.ROI_HEAD.NUM_CLASSES",
            "override: unknown key MODEL.ROI_HEAD.NUM_CLASSES; "
            "did you mean MODEL.ROI_HEADS.NUM_CLASSES?",
        ),
        (
            "MODEL.NUM_CLASSES",
            "override: unknown key MODEL.NUM_CLASSES; did you mean MODEL.ROI_HEADS.NUM_CLASSES?",
        ),
        ("SOLVR.BASE_LR", "override: unknown key SOLVR.BASE_LR; did you mean SOLVER.BASE_LR?"),
        ("NOTHING_LIKE_IT", "override: unknown key NOTHING_LIKE_IT"),
    ],
)
def test_unknown_override_key_suggests_nearest(key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [key, "5"])
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        (
            "SOLVER.BASE_LR",
            "fast",
            "override: wrong type for SOLVER.BASE_LR: expected float (like 0.001), got str 'fast'",
        ),
        (
            "SOLVER.MAX_ITER",
            "1.5",
            "override: wrong type for SOLVER.MAX_ITER: expected int (like 40000), got float 1.5",
        ),
        (
            "MODEL.MASK_ON",
            "1",
            "override: wrong type for MODEL.MASK_ON: expected bool (like False), got int 1",
        ),
        (
            "MODEL.ROI_HEADS.NUM_CLASSES",
            "True",
            "override: wrong type for MODEL.ROI_HEADS.NUM_CLASSES: "
            "expected int (like 80), got bool True",
        ),
        (
            "MODEL.PIXEL_MEAN",
            "0.5",
            "override: wrong type for MODEL.PIXEL_MEAN: "
            "expected list (like [103.53, 116.28, 123.675]), got float 0.5",
        ),
        ("MODEL.RPN", "5", "override: MODEL.RPN is a group of keys; got the value '5'"),
    ],
)
def test_wrong_override_type(key: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [key, raw])
    assert str(info.value) == message


def test_odd_override_list() -> None:
    with pytest.raises(ConfigError, match=r"KEY VALUE pairs; 'SEED' has no value"):
        load_config(None, ["SOLVER.BASE_LR", "0.1", "SEED"])


def test_base_key_not_allowed_in_overrides() -> None:
    with pytest.raises(ConfigError, match="override key '_BASE_'"):
        load_config(None, ["_BASE_", "x.yaml"])


def test_failed_merge_changes_nothing() -> None:
    cfg = default_config()
    with pytest.raises(ConfigError):
        cfg.merge_from_list(["SEED", "3", "MODEL.NOPE", "1"])
    assert cfg.SEED == -1
    assert cfg == default_config()


def test_new_keys_only_when_allowed() -> None:
    cfg = default_config()
    with pytest.raises(ConfigError, match=r"unknown key LAYOUTFT\.EXTRA"):
        cfg.merge_from_list(["LAYOUTFT.EXTRA", "1"])
    cfg.LAYOUTFT.set_new_allowed(True)
    cfg.merge_from_list(["LAYOUTFT.EXTRA", "[1, 2]"])
    cfg.merge_from_dict({"LAYOUTFT": {"GROUP": {"A": "(3, 4)"}}})
    assert cfg.LAYOUTFT.EXTRA == [1, 2]
    assert cfg.LAYOUTFT.GROUP.A == (3, 4)
    with pytest.raises(ConfigError, match=r"unknown key MODEL\.EXTRA"):
        cfg.merge_from_list(["MODEL.EXTRA", "1"])  # other nodes stay closed
