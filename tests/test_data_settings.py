"""DataSettings (issue #29): the training loader's typed, frozen view of the config, built
once at setup; bad values are one-line ConfigErrors naming the key, before the model loads."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.config import default_config, load_config
from layoutft.data.augment import AugmentSettings
from layoutft.data.settings import DataSettings
from layoutft.engine.run import setup_config
from layoutft.engine.run_folder import run_files
from layoutft.engine.setup import TrainOptions
from layoutft.errors import ConfigError, DatasetError
from tests.train_helpers import DATA, TINY

CONFIGS = Path(__file__).parent.parent / "configs"
COCO = DATA / "annotations.json"
SAMPLER_MESSAGE = (
    "LAYOUTFT.DATALOADER.SAMPLER_TRAIN 'Random': must be one of TrainingSampler, "
    "SourceBalancedSampler"
)


def settings_with(*overrides: str) -> DataSettings:
    return DataSettings.from_config(load_config(CONFIGS / "quick_cpu.yaml", list(overrides)))


def test_values_are_read_typed_from_the_config() -> None:
    data = settings_with(
        "INPUT.FORMAT", "RGB",
        "MODEL.MASK_ON", "True",
        "SOLVER.IMS_PER_BATCH", "6",
        "DATALOADER.FILTER_EMPTY_ANNOTATIONS", "False",
        "DATALOADER.ASPECT_RATIO_GROUPING", "False",
        "DATALOADER.NUM_WORKERS", "3",
        "LAYOUTFT.PARTIAL_LABELS", "False",
        "LAYOUTFT.DATALOADER.SAMPLER_TRAIN", "SourceBalancedSampler",
        "LAYOUTFT.DATALOADER.SOURCE_WEIGHTS", "[['html', 2], ['ctdar', 0.5]]",
        "LAYOUTFT.AUG.JPEG_PROB", "0.25",
    )  # fmt: skip
    assert (data.image_format, data.mask_on, data.ims_per_batch) == ("RGB", True, 6)
    assert (data.filter_empty, data.aspect_ratio_grouping, data.partial_labels) == (
        False,
        False,
        False,
    )
    assert (data.num_workers, data.sampler) == (3, "SourceBalancedSampler")
    assert data.source_weights == (("html", 2.0), ("ctdar", 0.5))
    assert all(isinstance(w, float) for _, w in data.source_weights)
    assert data.augment.jpeg_prob == 0.25
    cfg = load_config(CONFIGS / "quick_cpu.yaml")
    assert data.augment == dataclasses.replace(AugmentSettings.from_config(cfg), jpeg_prob=0.25)


def test_settings_are_frozen() -> None:
    data = settings_with()
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.sampler = "SourceBalancedSampler"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.augment.max_size = 10  # type: ignore[misc]
    assert hash(data) == hash(settings_with())  # tuples all the way down: hashable, equal


def test_a_bad_sampler_is_one_line_naming_the_key() -> None:
    cfg = default_config()
    cfg.LAYOUTFT.DATALOADER.SAMPLER_TRAIN = "Random"
    with pytest.raises(ConfigError) as err:
        DataSettings.from_config(cfg)
    assert str(err.value) == SAMPLER_MESSAGE


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (["exams"], "entry ['exams']: write [name, weight]"),
        (["exams", "3"], "entry ['exams', '3']: write [name, weight]"),
        ([3, 1.0], "entry [3, 1.0]: write [name, weight]"),
        (["exams", True], "entry ['exams', True]: write [name, weight]"),
        (["exams", -1.0], "entry ['exams', -1.0]: the weight must be a finite number >= 0"),
        (["exams", math.inf], "entry ['exams', inf]: the weight must be a finite number >= 0"),
    ],
)
def test_a_bad_source_weights_entry_is_one_line_naming_the_key(
    entry: list[object], message: str
) -> None:
    cfg = default_config()
    cfg.LAYOUTFT.DATALOADER.SOURCE_WEIGHTS = [["html", 1.0], entry]
    with pytest.raises(ConfigError) as err:
        DataSettings.from_config(cfg)
    assert str(err.value) == f"LAYOUTFT.DATALOADER.SOURCE_WEIGHTS {message}"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("INPUT.FORMAT", "'YUV'", "INPUT.FORMAT must be 'RGB' or 'BGR', got 'YUV'"),
        ("DATALOADER.NUM_WORKERS", "-1", "DATALOADER.NUM_WORKERS is -1; it must be 0 or more"),
    ],
)
def test_other_bad_values_are_one_line_naming_the_key(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_with(key, value)
    assert str(err.value) == message


def options(tmp_path: Path, *overrides: str) -> TrainOptions:
    return TrainOptions(
        config="quick_cpu",
        train=COCO,
        train_images=DATA / "images",
        output=tmp_path / "run",
        weights="none",
        device="cpu",
        overrides=[*TINY, *overrides],
    )


def test_setup_builds_the_data_settings_once_from_the_frozen_config(tmp_path: Path) -> None:
    inputs = setup_config(options(tmp_path, "SOLVER.IMS_PER_BATCH", "2"), world_size=1)
    assert inputs.settings.data == DataSettings.from_config(inputs.config)
    assert inputs.settings.data.ims_per_batch == inputs.settings.solver.ims_per_batch == 2


def test_setup_refuses_what_the_loader_would_refuse(tmp_path: Path) -> None:
    balanced = ["LAYOUTFT.DATALOADER.SAMPLER_TRAIN", "SourceBalancedSampler"]
    unknown = [*balanced, "LAYOUTFT.DATALOADER.SOURCE_WEIGHTS", "[['html', 2.0]]"]
    with pytest.raises(ConfigError, match=r"SOURCE_WEIGHTS names \['html'\], which no training"):
        setup_config(options(tmp_path, *unknown), world_size=1)
    nothing = [*balanced, "LAYOUTFT.DATALOADER.SOURCE_WEIGHTS", "[['', 0.0]]"]
    with pytest.raises(ConfigError, match=r"every training source \(\[''\]\) weight 0"):
        setup_config(options(tmp_path, *nothing), world_size=1)
    with pytest.raises(DatasetError, match="IMS_PER_BATCH 3 must be divisible"):
        setup_config(options(tmp_path, "SOLVER.IMS_PER_BATCH", "3"), world_size=2)


def test_train_refuses_a_bad_sampler_in_one_line_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_model(cfg: object) -> None:
        raise AssertionError("the model was built before the config was checked")

    monkeypatch.setattr("layoutft.modeling.build_model", no_model)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        ["train", "--config", "quick_cpu", "--train", str(COCO), "--train-images",
         str(DATA / "images"), "--output", str(out), "--device", "cpu", "--weights", "none",
         "--quiet", *TINY, "SOLVER.MAX_ITER", "1",
         "LAYOUTFT.DATALOADER.SAMPLER_TRAIN", "Random"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {SAMPLER_MESSAGE}\n"
    assert run_files(out) == []
