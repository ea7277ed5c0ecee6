"""Acceptance test: layoutft reproduces detectron2 0.6's recorded predictions.

The fixture case (tests/fixtures/d2_parity/narrow_r50_mask, see its README) holds a narrow
R50-FPN Mask R-CNN in three checkpoint formats and what detectron2's DefaultPredictor
returned for each page image. Models are built once per module to keep the file fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_util

from layoutft.geometry import pairwise_iou
from layoutft.model import Detections, LayoutModel

# float results against references: .ci/run reruns them under other CPU kernels
pytestmark = pytest.mark.numerics

CASE = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask"
CONFIG = CASE / "config.yaml"
LABELS = ["text", "title", "list", "table", "figure"]

# A detectron2 detection at or above REF_MIN must have a layoutft twin (same class, box IoU
# >= BOX_IOU, score within SCORE_TOL), and every layoutft detection at or above OURS_MIN a
# detectron2 twin; matched masks overlap with IoU >= MASK_IOU. The gap between the two
# score floors absorbs detections whose score sits right at the floor.
REF_MIN, OURS_MIN, BOX_IOU, SCORE_TOL, MASK_IOU = 0.30, 0.32, 0.98, 0.02, 0.95


def _expected(name: str) -> list[dict[str, Any]]:
    return json.loads((CASE / name).read_text())["images"]


def _load(weights: str, overrides: list[str] | None = None) -> LayoutModel:
    return LayoutModel.from_checkpoint(
        CASE / weights, config=CONFIG, overrides=overrides, device="cpu", labels=LABELS
    )


def _twins(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    other: Detections | dict,
    floor: float,
) -> tuple[list[tuple[int, int]], list[int]]:
    """For each detection scoring >= floor: its twin in ``other`` (pairs), or a miss."""
    o_boxes = np.asarray(other["boxes"] if isinstance(other, dict) else other.boxes, np.float64)
    o_scores = np.asarray(other["scores"] if isinstance(other, dict) else other.scores)
    o_classes = np.asarray(other["classes"] if isinstance(other, dict) else other.classes)
    iou = pairwise_iou(boxes.astype(np.float64), o_boxes.reshape(-1, 4))
    pairs, misses = [], []
    for i in np.flatnonzero(scores >= floor):
        ok = (
            (o_classes == classes[i])
            & (iou[i] >= BOX_IOU)
            & (np.abs(o_scores - scores[i]) <= SCORE_TOL)
        )
        if ok.any():
            pairs.append((int(i), int(np.argmax(np.where(ok, iou[i], -1)))))
        else:
            misses.append(int(i))
    return pairs, misses


def compare(ref: dict[str, Any], got: Detections) -> dict[str, float]:
    """Assert the matching rules; return (max box IoU deficit, max score diff, min mask IoU)."""
    rb, rs, rc = (np.asarray(ref[k]) for k in ("boxes", "scores", "classes"))
    rb = rb.reshape(-1, 4)
    assert got.image_size == (ref["height"], ref["width"])
    pairs, misses = _twins(rb, rs, rc, got, REF_MIN)
    assert not misses, f"{ref['file_name']}: detectron2 detections {misses} have no twin"
    _, extra = _twins(got.boxes, got.scores, got.classes, ref, OURS_MIN)
    assert not extra, f"{ref['file_name']}: layoutft detections {extra} have no twin"
    stats = {"iou_deficit": 0.0, "score_diff": 0.0, "mask_iou": 1.0}
    for r, g in pairs:
        iou = float(pairwise_iou(rb[r : r + 1], got.boxes[g : g + 1].astype(np.float64))[0, 0])
        stats["iou_deficit"] = max(stats["iou_deficit"], 1.0 - iou)
        stats["score_diff"] = max(stats["score_diff"], abs(float(rs[r]) - float(got.scores[g])))
    if ref["masks_rle"] and pairs:
        assert got.masks is not None
        ours = got.masks[[g for _, g in pairs]].transpose(1, 2, 0)
        ours_rle = mask_util.encode(np.asfortranarray(ours.astype(np.uint8)))
        theirs_rle = [ref["masks_rle"][r] for r, _ in pairs]
        ious = np.diag(mask_util.iou(ours_rle, theirs_rle, [0] * len(pairs)))
        stats["mask_iou"] = float(ious.min())
    assert stats["mask_iou"] >= MASK_IOU, f"{ref['file_name']}: mask IoU {stats['mask_iou']:.3f}"
    return stats


@pytest.fixture(scope="module")
def pth_model() -> LayoutModel:
    return _load("model_final.pth")


@pytest.fixture(scope="module")
def pth_run(pth_model: LayoutModel) -> tuple[list[Detections], list[Any]]:
    """Predictions on every fixture image, plus the RPN proposals captured in the same pass."""
    captured: list[Any] = []
    hook = pth_model.model.proposal_generator.register_forward_hook(
        lambda _module, _inputs, output: captured.extend(output[0])
    )
    try:
        paths = [CASE / "images" / r["file_name"] for r in _expected("expected.json")]
        return pth_model.predict(paths, batch_size=4), captured
    finally:
        hook.remove()


def test_state_dict_keys_equal_detectron2(pth_model: LayoutModel) -> None:
    ref = torch.load(CASE / "model_final.pth", map_location="cpu", weights_only=True)["model"]
    ref_keys = {k for k in ref if not k.endswith("num_batches_tracked")}
    ours = pth_model.model.state_dict()
    assert set(ours) == ref_keys
    assert len(ours) == 302
    assert all(ours[k].shape == ref[k].shape for k in ours)
    assert "pixel_mean" not in ours


def test_pth_matches_detectron2(pth_run: tuple[list[Detections], list[Any]]) -> None:
    for ref, got in zip(_expected("expected.json"), pth_run[0], strict=True):
        stats = compare(ref, got)
        assert stats["iou_deficit"] < 1e-3 and stats["score_diff"] < 1e-4, stats
        assert got.labels == [LABELS[c] for c in got.classes]
        assert got.boxes.dtype == np.float32 and got.classes.dtype == np.int64
        assert got.masks is not None and got.masks.dtype == np.bool_


def test_rpn_proposals_match_detectron2(pth_run: tuple[list[Detections], list[Any]]) -> None:
    refs = _expected("expected.json")
    assert len(pth_run[1]) == len(refs)
    for ref, props in zip(refs, pth_run[1], strict=True):
        want = np.asarray(ref["rpn_proposals_resized"])
        np.testing.assert_allclose(props.boxes[: len(want)].numpy(), want, atol=2e-3, rtol=0)
        logits = props.objectness_logits[: len(want)].numpy()
        np.testing.assert_allclose(logits, ref["rpn_objectness_logits"], atol=1e-4, rtol=0)


# The .pkl holds bit-identical weights (asserted) and the Caffe2 file the same weights with
# folded BN, so one page each keeps the default run fast; the slow variants cover every page.
_EVERY = len(_expected("expected.json"))


@pytest.mark.parametrize(
    "count", [1, pytest.param(_EVERY, marks=pytest.mark.slow)], ids=["one", "all"]
)
def test_pkl_matches_detectron2(pth_model: LayoutModel, count: int) -> None:
    model = _load("model_final.pkl")
    ours, theirs = model.model.state_dict(), pth_model.model.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    refs = _expected("expected.json")[-count:]
    got = model.predict([CASE / "images" / r["file_name"] for r in refs], batch_size=4)
    for ref, det in zip(refs, got, strict=True):
        compare(ref, det)


@pytest.mark.parametrize(
    "count", [1, pytest.param(_EVERY, marks=pytest.mark.slow)], ids=["one", "all"]
)
def test_caffe2_pkl_matches_detectron2(count: int) -> None:
    model = _load("model_final_c2.pkl")
    refs = _expected("expected_c2.json")[-count:]
    got = model.predict([CASE / "images" / r["file_name"] for r in refs], batch_size=4)
    for ref, det in zip(refs, got, strict=True):
        stats = compare(ref, det)
        assert stats["iou_deficit"] < 1e-3 and stats["score_diff"] < 1e-4, stats


def _same(a: Detections, b: Detections) -> None:
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3, rtol=0)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5, rtol=0)
    assert a.masks is not None and b.masks is not None
    assert (a.masks != b.masks).sum() <= 10


def test_batch_size_and_input_kind_do_not_change_results(
    pth_model: LayoutModel, pth_run: tuple[list[Detections], list[Any]]
) -> None:
    """batch_size 1 gives what the batch of 4 gave; a PIL image is read as RGB."""
    from PIL import Image

    (single,) = pth_model.predict(Image.open(CASE / "images" / "doc001_p0.png"), batch_size=1)
    _same(single, pth_run[0][2])


def test_faster_rcnn_has_no_masks() -> None:
    model = _load("model_final.pth", ["MODEL.MASK_ON", "False"])
    assert not any(k.startswith("roi_heads.mask_head") for k in model.model.state_dict())
    ref = _expected("expected.json")[0]
    (det,) = model.predict(CASE / "images" / ref["file_name"])
    assert det.masks is None
    compare({**ref, "masks_rle": []}, det)


def test_page_without_detections_gives_empty_arrays() -> None:
    overrides = ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "1.0", "INPUT.MIN_SIZE_TEST", "320"]
    model = _load("model_final.pth", overrides)
    (det,) = model.predict(CASE / "images" / "doc000_p0.png")
    assert len(det) == 0 and det.labels == []
    assert det.boxes.shape == (0, 4) and det.boxes.dtype == np.float32
    assert det.scores.shape == (0,) and det.classes.shape == (0,)
    assert det.masks is not None and det.masks.shape == (0, 1100, 850)
    assert det.masks.dtype == np.bool_
