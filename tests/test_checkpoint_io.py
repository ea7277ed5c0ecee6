"""save_checkpoint / export_detectron2: round trips, weights-only loading, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import torch
from torch import nn

from layoutft.checkpoint import load_weights, save_checkpoint
from layoutft.checkpoint import save_detectron2 as export_detectron2
from layoutft.config import load_config
from layoutft.errors import CheckpointError

LABELS = ["text", "title", "list", "table", "figure"]


class _Model(nn.Module):
    """A class head and a frozen/BN norm under detectron2 names."""

    def __init__(self, classes: int = 5, frozen: bool = True) -> None:
        super().__init__()
        predictor = nn.Module()
        predictor.cls_score = nn.Linear(4, classes + 1)
        conv = nn.Conv2d(3, 2, 1)
        if frozen:
            conv.norm = nn.Module()
            for name in ("weight", "bias", "running_mean", "running_var"):
                conv.norm.register_buffer(name, torch.rand(2))
        else:
            conv.norm = nn.BatchNorm2d(2)
        self.roi_heads = nn.ModuleDict({"box_predictor": predictor})
        self.backbone = nn.ModuleDict({"fpn_lateral2": conv})


@pytest.fixture(scope="module")
def cfg():
    config = Path(__file__).parent / "fixtures/d2_parity/narrow_r50_mask/config.yaml"
    return load_config(config, ["LAYOUTFT.INPUT_DPI", "150"])


def test_save_checkpoint_round_trip(tmp_path: Path, cfg) -> None:
    model = _Model()
    path = save_checkpoint(tmp_path / "out" / "model.pth", model, cfg, LABELS, {"iteration": 7})
    assert path == tmp_path / "out" / "model.pth"
    assert [p.name for p in path.parent.iterdir()] == ["model.pth"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600

    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "layoutft/1" and isinstance(raw["config"], str)
    loaded = load_weights(path)
    assert loaded.source_format == "layoutft"
    assert loaded.labels == LABELS
    assert loaded.extra == {"iteration": 7}
    assert loaded.input_contract is not None
    assert (
        loaded.input_contract.to_dict()
        == raw["input_contract"]
        == {
            "format": "BGR",
            "pixel_mean": [103.53, 116.28, 123.675],
            "pixel_std": [1.0, 1.0, 1.0],
            "min_size_test": 800,
            "max_size_test": 1333,
            "size_divisibility": 32,  # FPN over res2..res5
            "dpi": 150,
        }
    )
    assert loaded.config is not None
    assert loaded.config["MODEL"]["ROI_HEADS"]["NUM_CLASSES"] == 5
    assert loaded.config["MODEL"]["RESNETS"]["WIDTH_PER_GROUP"] == 16
    assert loaded.state_dict.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict[key], value), key

    save_checkpoint(path, _Model(), cfg, LABELS)  # overwrite in place
    assert not torch.equal(
        load_weights(path).state_dict["backbone.fpn_lateral2.weight"],
        model.backbone.fpn_lateral2.weight,
    )


def test_save_checkpoint_refuses_inconsistent_input(tmp_path: Path, cfg) -> None:
    path = tmp_path / "m.pth"
    with pytest.raises(
        CheckpointError, match=r"m\.pth: 3 labels given but .*cls_score.weight has 6 rows"
    ):
        save_checkpoint(path, _Model(), cfg, ["a", "b", "c"])
    with pytest.raises(CheckpointError, match=r"extra\['opt'\]\['lr'\] is a PurePosixPath"):
        save_checkpoint(path, _Model(), cfg, LABELS, {"opt": {"lr": PurePosixPath("x")}})
    with pytest.raises(CheckpointError, match=r"extra\['loss'\] is a float64"):
        save_checkpoint(path, _Model(), cfg, LABELS, {"loss": np.float64(0.5)})
    with pytest.raises(CheckpointError, match=r"may not replace \['labels'\]"):
        save_checkpoint(path, _Model(), cfg, LABELS, {"labels": []})
    assert list(tmp_path.iterdir()) == []


def test_export_detectron2_has_exactly_the_model_keys(tmp_path: Path) -> None:
    frozen = _Model(frozen=True)
    path = export_detectron2(tmp_path / "d2.pth", frozen)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"model", "__author__"} and raw["__author__"] == "layoutft"
    assert list(raw["model"]) == list(frozen.state_dict())
    assert not any(k.endswith("num_batches_tracked") for k in raw["model"])
    for key, value in frozen.state_dict().items():
        assert torch.equal(raw["model"][key], value)

    bn = _Model(frozen=False)  # NORM "BN": detectron2's BatchNorm2d expects the counters
    raw = torch.load(export_detectron2(tmp_path / "bn.pth", bn), weights_only=True)
    assert list(raw["model"]) == list(bn.state_dict())
    assert "backbone.fpn_lateral2.norm.num_batches_tracked" in raw["model"]

    loaded = load_weights(export_detectron2(tmp_path / "l.pth", frozen.state_dict(), labels=LABELS))
    assert loaded.source_format == "detectron2-pth" and loaded.labels == LABELS
