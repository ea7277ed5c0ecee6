"""Faster R-CNN (MASK_ON False) exports: an empty mask output and the same detections as
PyTorch. Tolerances as in test_export_models.py (TorchScript exact; ONNX boxes 1e-3 px in the
resized image, scores 1e-4)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from layoutft.model import Detections, LayoutModel
from layoutft.model_export import ExportedModel, export_onnx, export_torchscript

# float results against references: .ci/run reruns them under other CPU kernels
pytestmark = pytest.mark.numerics

CASE = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask"
LABELS = ["text", "title", "list", "table", "figure"]


def _onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def model() -> LayoutModel:
    """The parity checkpoint without its mask head (its mask weights are left unused)."""
    return LayoutModel.from_checkpoint(
        CASE / "model_final.pth",
        config=CASE / "config.yaml",
        overrides=[
            "INPUT.MIN_SIZE_TEST",
            "320",
            "INPUT.MAX_SIZE_TEST",
            "640",
            "MODEL.MASK_ON",
            "False",
        ],
        device="cpu",
        labels=LABELS,
    )


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    """A landscape crop of a fixture page (320×371 resized; the trace example is 416×320)."""
    image = cv2.imread(str(CASE / "images" / "doc001_p1.png"))
    return np.ascontiguousarray(image[: image.shape[0] * 2 // 3])


@pytest.fixture(scope="module")
def reference(model: LayoutModel, page: np.ndarray) -> Detections:
    (ref,) = model.predict(page, format="BGR")
    assert ref.masks is None and len(ref) > 0
    return ref


def _check(path: Path, model: LayoutModel, page: np.ndarray, ref: Detections, exact: bool) -> None:
    exported = ExportedModel(path)
    assert exported.metadata.mask_on is False
    (got,) = exported.predict(page, format="BGR")
    assert got.masks is None and got.labels == ref.labels
    np.testing.assert_array_equal(got.classes, ref.classes)
    tensor = model._prepare(page, "BGR")[0]
    factor = max(page.shape[0] / tensor.shape[-2], page.shape[1] / tensor.shape[-1])
    np.testing.assert_allclose(got.boxes, ref.boxes, rtol=0, atol=0 if exact else 1e-3 * factor)
    np.testing.assert_allclose(got.scores, ref.scores, rtol=0, atol=0 if exact else 1e-4)
    assert "mask_probs" not in exported.run(tensor.float())


def test_faster_rcnn_torchscript(
    model: LayoutModel, page: np.ndarray, reference: Detections, tmp_path: Path
) -> None:
    path = export_torchscript(model, tmp_path / "faster.ts")
    _check(path, model, page, reference, exact=True)


@pytest.mark.skipif(
    not _onnx_available(), reason="onnx/onnxruntime not installed (pip install 'layoutft[onnx]')"
)
def test_faster_rcnn_onnx(
    model: LayoutModel, page: np.ndarray, reference: Detections, tmp_path: Path
) -> None:
    path = export_onnx(model, tmp_path / "faster.onnx")
    _check(path, model, page, reference, exact=False)
