"""TorchScript and ONNX exports predict what the PyTorch model predicts, on pages of other sizes.

Model: the narrow R50-FPN Mask R-CNN parity checkpoint at a small test size (shortest edge 320)
to stay fast. Exports are traced once per module on the synthetic example page (416×320); the
pages compared are a fixture page (414×320 after resizing), a landscape crop of another page
(320×371) and a blank page (320×448, no regions).

Tolerances: TorchScript runs the same kernels as eager PyTorch, so its outputs must be equal.
ONNX Runtime's convolutions sum in a different order (float32 differences ~1e-5 relative in
the features); boxes may differ by 1e-3 px in the resized image the network sees (1e-3 × the
resize factor in input-image pixels), scores by 1e-4, and pasted masks must overlap with
IoU >= 0.99.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from layoutft.model import Detections, LayoutModel
from layoutft.model_export import ExportedModel, export_onnx, export_torchscript
from layoutft.model_export.core import ExportableModel, example_image
from layoutft.model_export.torchscript import trace

# float results against references: .ci/run reruns them under other CPU kernels
pytestmark = pytest.mark.numerics

CASE = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask"
LABELS = ["text", "title", "list", "table", "figure"]
SMALL = ["INPUT.MIN_SIZE_TEST", "320", "INPUT.MAX_SIZE_TEST", "640"]


def _load(overrides: list[str]) -> LayoutModel:
    return LayoutModel.from_checkpoint(
        CASE / "model_final.pth",
        config=CASE / "config.yaml",
        overrides=SMALL + overrides,
        device="cpu",
        labels=LABELS,
    )


@pytest.fixture(scope="module")
def mask_model() -> LayoutModel:
    return _load([])


@pytest.fixture(scope="module")
def pages() -> list[np.ndarray]:
    """BGR uint8 pages: a fixture page, a landscape crop of another, a blank page."""
    first = cv2.imread(str(CASE / "images" / "doc000_p0.png"))
    second = cv2.imread(str(CASE / "images" / "doc001_p1.png"))
    crop = np.ascontiguousarray(second[: second.shape[0] * 2 // 3])
    return [first, crop, np.full((500, 700, 3), 255, np.uint8)]


@pytest.fixture(scope="module")
def reference(mask_model: LayoutModel, pages: list[np.ndarray]) -> list[Detections]:
    return mask_model.predict(pages, format="BGR")


@pytest.fixture(scope="module")
def exports(mask_model: LayoutModel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    paths = {"torchscript": export_torchscript(mask_model, folder / "model.ts")}
    if _onnx_available():
        paths["onnx"] = export_onnx(mask_model, folder / "model.onnx")
    return paths


def _onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


needs_onnx = pytest.mark.skipif(
    not _onnx_available(), reason="onnx/onnxruntime not installed (pip install 'layoutft[onnx]')"
)


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def assert_same(ref: Detections, got: Detections, box_tol: float, score_tol: float) -> None:
    """Same detections in the same order: classes and labels equal, boxes/scores within
    tolerance (input-image pixels), masks equal in presence and overlapping (IoU >= 0.99)."""
    assert got.image_size == ref.image_size
    assert len(got) == len(ref)
    np.testing.assert_array_equal(got.classes, ref.classes)
    assert got.labels == ref.labels
    np.testing.assert_allclose(got.boxes, ref.boxes, rtol=0, atol=box_tol)
    np.testing.assert_allclose(got.scores, ref.scores, rtol=0, atol=score_tol)
    if ref.masks is None:
        assert got.masks is None
        return
    assert got.masks is not None
    assert got.masks.shape == ref.masks.shape == (len(ref), *ref.image_size)
    for a, b in zip(ref.masks, got.masks, strict=True):
        assert _mask_iou(a, b) >= 0.99


def _resize_factor(page: np.ndarray, model: LayoutModel) -> float:
    tensor, _ = model._prepare(page, "BGR")
    return max(page.shape[0] / tensor.shape[-2], page.shape[1] / tensor.shape[-1])


def test_fixture_pages_have_regions_and_other_sizes(
    mask_model: LayoutModel, pages: list[np.ndarray], reference: list[Detections]
) -> None:
    # guards the other tests: real detections, and sizes unlike the traced example's
    sizes = [tuple(mask_model._prepare(p, "BGR")[0].shape[-2:]) for p in pages]
    assert sizes == [(414, 320), (320, 371), (320, 448)]
    assert tuple(example_image(mask_model).shape[-2:]) == (416, 320)
    assert [len(r) >= 10 for r in reference] == [True, True, False]
    assert len(reference[2]) == 0


def test_torchscript_equals_pytorch(
    exports: dict[str, Path], pages: list[np.ndarray], reference: list[Detections]
) -> None:
    exported = ExportedModel(exports["torchscript"])
    assert exported.backend == "torchscript"
    assert exported.labels == LABELS
    for ref, got in zip(reference, exported.predict(pages, format="BGR"), strict=True):
        assert_same(ref, got, box_tol=0.0, score_tol=0.0)


@needs_onnx
def test_onnx_equals_pytorch(
    mask_model: LayoutModel,
    exports: dict[str, Path],
    pages: list[np.ndarray],
    reference: list[Detections],
) -> None:
    exported = ExportedModel(exports["onnx"])
    assert exported.backend == "onnx"
    assert exported.metadata.min_size_test == 320
    assert exported.metadata.input_format == "BGR"
    got = exported.predict(pages, format="BGR")
    for page, ref, det in zip(pages, reference, got, strict=True):
        assert_same(ref, det, box_tol=1e-3 * _resize_factor(page, mask_model), score_tol=1e-4)


@needs_onnx
def test_onnx_min_score_filters_before_the_mask_head(
    mask_model: LayoutModel, exports: dict[str, Path], pages: list[np.ndarray]
) -> None:
    """The graph's ``min_score`` input drops low scores inside the graph (no mask rows for
    them) and keeps the others unchanged: the torch model's detections at that threshold."""
    exported = ExportedModel(exports["onnx"])
    image = mask_model._prepare(pages[0], "BGR")[0]
    everything, kept = exported.run(image), exported.run(image, min_score=0.5)
    scores = everything["scores"].numpy()
    assert (scores < 0.5).sum() >= 3 and (scores >= 0.5).sum() >= 3  # the page tests both
    assert len(kept["scores"]) == len(kept["mask_probs"]) == (scores >= 0.5).sum()
    want = mask_model.predict(pages, format="BGR", min_score=0.5)
    got = exported.predict(pages, format="BGR", min_score=0.5)
    for page, ref, det in zip(pages, want, got, strict=True):
        assert_same(ref, det, box_tol=1e-3 * _resize_factor(page, mask_model), score_tol=1e-4)


@needs_onnx
def test_onnx_raw_outputs_blank_page(mask_model: LayoutModel, exports: dict[str, Path]) -> None:
    """A page without regions gives N = 0 outputs with the documented shapes and dtypes."""
    out = ExportedModel(exports["onnx"]).run(torch.full((3, 352, 288), 255.0))
    assert out["boxes"].shape == (0, 4) and out["scores"].shape == (0,)
    assert out["classes"].dtype == torch.int64 and out["classes"].shape == (0,)
    assert out["mask_probs"].shape == (0, 1, 28, 28)


def test_trace_size_does_not_matter(
    mask_model: LayoutModel, pages: list[np.ndarray], reference: list[Detections]
) -> None:
    """Traced on a large page (where every FPN level has more than PRE_NMS_TOPK_TEST anchors),
    the graph still picks min(anchors, 1000) per level on the small pages."""
    big = torch.full((3, 704, 544), 255.0)
    big[:, 100:300, 50:500] = 40.0
    traced = trace(mask_model, example=big)
    wrapper = ExportableModel(mask_model.model)
    image = mask_model._prepare(pages[1], "BGR")[0].float()
    with torch.no_grad():
        want, got = wrapper(image), traced(image)
    assert len(want[0]) > 0
    for a, b in zip(want, got, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=0)
