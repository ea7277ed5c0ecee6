"""`layoutft export`: detectron2 weights round trip with labels, TorchScript/ONNX files that
predict like the checkpoint they came from, and one-line errors for user mistakes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import layoutft.cli
from layoutft.checkpoint import load_weights
from layoutft.model import LayoutModel
from layoutft.model_export import ExportedModel

CASE = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask"
LABELS = ["text", "title", "list", "table", "figure"]
SMALL = ["INPUT.MIN_SIZE_TEST", "320", "INPUT.MAX_SIZE_TEST", "640"]


@pytest.fixture(scope="module")
def model() -> LayoutModel:
    return LayoutModel.from_checkpoint(
        CASE / "model_final.pth",
        config=CASE / "config.yaml",
        overrides=SMALL,
        device="cpu",
        labels=LABELS,
    )


@pytest.fixture(scope="module")
def layoutft_ckpt(model: LayoutModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layoutft checkpoint (weights, config with the small test size, labels)."""
    path = tmp_path_factory.mktemp("ckpt") / "model.pth"
    model.save(path, format="layoutft")
    return path


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return cv2.imread(str(CASE / "images" / "doc002_p0.png"))


def _export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(layoutft.cli.app, ["export", *args])
    return result.exit_code, result.output


def test_detectron2_round_trip_keeps_keys_labels_and_predictions(
    model: LayoutModel, layoutft_ckpt: Path, page: np.ndarray, tmp_path: Path
) -> None:
    out = tmp_path / "d2" / "model_final.pth"
    code, text = _export(str(layoutft_ckpt), "--format", "detectron2", "-o", str(out))
    assert code == 0, text
    assert text.strip() == str(out)
    loaded = load_weights(out)
    assert loaded.labels == LABELS
    expected = model.model.state_dict()
    assert set(loaded.state_dict) == set(expected)  # what detectron2's checkpointer needs
    for key, value in expected.items():
        assert torch.equal(loaded.state_dict[key], value), key
    again = LayoutModel.from_checkpoint(out, config=CASE / "config.yaml", overrides=SMALL)
    assert again.labels == LABELS
    (want,), (got,) = model.predict(page, format="BGR"), again.predict(page, format="BGR")
    assert len(want) > 0 and got.labels == want.labels
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_array_equal(got.scores, want.scores)


def test_torchscript_from_detectron2_weights_with_config_and_overrides(
    model: LayoutModel, page: np.ndarray, tmp_path: Path
) -> None:
    out = tmp_path / "model.ts"
    args = [str(CASE / "model_final.pth"), *SMALL, "--config", str(CASE / "config.yaml")]
    code, text = _export(*args, "--format", "torchscript", "-o", str(out))
    assert code == 0, text
    exported = ExportedModel(out)
    # a detectron2 .pth carries no class names: class_i, as LayoutModel names them
    assert exported.labels == [f"class_{i}" for i in range(5)]
    assert (exported.metadata.min_size_test, exported.metadata.max_size_test) == (320, 640)
    (want,), (got,) = model.predict(page, format="BGR"), exported.predict(page, format="BGR")
    assert len(want) > 0
    np.testing.assert_array_equal(got.classes, want.classes)
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_array_equal(got.masks, want.masks)


def test_onnx_from_layoutft_checkpoint(layoutft_ckpt: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="ONNX export needs pip install 'layoutft[onnx]'")
    pytest.importorskip("onnx", reason="ONNX export needs pip install 'layoutft[onnx]'")
    out = tmp_path / "model.onnx"
    code, text = _export(str(layoutft_ckpt), "-f", "onnx", "-o", str(out))
    assert code == 0, text
    exported = ExportedModel(out)
    assert exported.backend == "onnx"
    assert exported.labels == LABELS
    assert exported.metadata.mask_on is True
    assert exported.metadata.dpi == 200  # the checkpoint's training dpi (LAYOUTFT.INPUT_DPI)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["CKPT", "--format", "tflite", "-o", "x"],
            "Error: unknown --format 'tflite'; "
            "choose one of layoutft, detectron2, torchscript, onnx",
        ),
        (["missing.pth", "--format", "onnx", "-o", "x"], "Error: weights file missing.pth"),
        (
            ["D2", "--format", "torchscript", "-o", "x"],
            "holds no config (it is a detectron2-pth checkpoint); pass the detectron2 YAML",
        ),
        (["A", "B", "--format", "onnx", "-o", "x"], "Error: export takes one checkpoint"),
    ],
)
def test_user_errors_are_one_line(
    args: list[str], message: str, layoutft_ckpt: Path, tmp_path: Path
) -> None:
    paths = {"CKPT": str(layoutft_ckpt), "D2": str(CASE / "model_final.pth")}
    paths.update({"A": str(layoutft_ckpt), "B": str(layoutft_ckpt)})
    code, text = _export(*[paths.get(a, a) for a in args])
    assert code == 1
    assert message in text
    assert "Traceback" not in text
    assert len(text.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_registry_name_uses_the_cards_config_and_labels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from layoutft import pretrained

    card = SimpleNamespace(
        name="tiny-test", config_path=CASE / "config.yaml", labels=list(reversed(LABELS))
    )
    monkeypatch.setattr(pretrained, "is_model_name", lambda name: name == "tiny-test")
    monkeypatch.setattr(pretrained, "get_card", lambda name: card)
    monkeypatch.setattr(pretrained, "weights_path", lambda name: CASE / "model_final.pth")
    out = tmp_path / "model.pth"
    code, text = _export("tiny-test", "--format", "detectron2", "-o", str(out))
    assert code == 0, text
    assert load_weights(out).labels == card.labels
