"""parse() with the real detectron2 parity checkpoint: parity with detectron2 through the
whole pipeline, and identical regions on a rotated PDF page that displays the same image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import numpy as np
import pymupdf
import pytest
from pycocotools import mask as mask_util

from layoutft.geometry import pairwise_iou
from layoutft.parsing.parser import parse
from layoutft.schema import Document, json_schema

CASE = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask"
LABELS = ["text", "title", "list", "table", "figure"]
IMAGE = CASE / "images" / "doc000_p0.png"  # 850 x 1100 px, 100 dpi


@pytest.fixture(scope="module")
def model() -> Any:
    predictor = pytest.importorskip("layoutft.model.layout_model")
    return predictor.LayoutModel.from_checkpoint(
        CASE / "model_final.pth", config=CASE / "config.yaml", device="cpu", labels=LABELS
    )


def expected(name: str) -> dict[str, Any]:
    data = json.loads((CASE / "expected.json").read_text())
    return next(e for e in data["images"] if e["file_name"] == name)


@pytest.mark.numerics
def test_raw_output_matches_detectron2(model: Any) -> None:
    doc = parse(IMAGE, model=model, postprocess="none")
    data = json.loads(doc.to_json())
    jsonschema.validate(data, json_schema())
    page = Document.from_dict(data).pages[0]
    assert (page.dpi, page.width_px, page.height_px) == (100, 850, 1100)
    ref = expected(IMAGE.name)
    regions = sorted(page.regions, key=lambda r: r.id)  # model order
    assert len(regions) == len(ref["boxes"]) > 10
    np.testing.assert_allclose([r.bbox_px for r in regions], ref["boxes"], atol=0.01)
    np.testing.assert_allclose([r.score for r in regions], ref["scores"], atol=1e-4)
    assert [r.label for r in regions] == [LABELS[c] for c in ref["classes"]]
    assert all(r.text is None for r in regions)
    # polygons (points) rasterised back to pixels cover detectron2's masks
    for region, rle in zip(regions, ref["masks_rle"], strict=True):
        truth = mask_util.decode(rle).astype(bool)
        if truth.sum() < 2000:
            continue
        drawn = np.zeros(truth.shape, dtype=np.uint8)
        # vertices are pixel centres: back to pixel indices
        rings = [np.array(r) * 100 / 72 - 0.5 for r in region.polygon_pt]
        cv2.fillPoly(drawn, [np.round(r).astype(np.int32) for r in rings], 1)
        inter = np.logical_and(drawn, truth).sum()
        assert inter / np.logical_or(drawn, truth).sum() > 0.95


def make_pdf() -> bytes:
    """Page 1: the image upright. Page 2: the image drawn turned, on a /Rotate 90 page, so
    that it displays upright; both render to exactly the original pixels at 100 dpi."""
    doc = pymupdf.open()
    width, height = 850 * 0.72, 1100 * 0.72
    upright = doc.new_page(width=width, height=height)
    upright.insert_image(upright.rect, filename=str(IMAGE))
    turned = doc.new_page(width=height, height=width)
    turned.insert_image(turned.rect, filename=str(IMAGE), rotate=90)
    turned.set_rotation(90)
    return doc.tobytes()


@pytest.mark.numerics
def test_rotated_page_gives_the_same_regions(model: Any) -> None:
    doc = parse(make_pdf(), model=model, dpi=100, batch_size=2)
    jsonschema.validate(doc.to_dict(), json_schema())
    upright, turned = doc.pages
    assert (upright.rotation, turned.rotation) == (0, 90)
    assert (turned.width_pt, turned.height_pt) == pytest.approx((612, 792))
    assert len(upright.regions) == len(turned.regions) > 5
    for a, b in zip(upright.regions, turned.regions, strict=True):
        assert (a.label, a.order) == (b.label, b.order)
        np.testing.assert_allclose(a.bbox_pt, b.bbox_pt, atol=0.01)
        np.testing.assert_allclose(np.array(a.bbox_px), np.array(a.bbox_pt) * 100 / 72, atol=1e-6)
    # default post-processing: scores >= 0.5, no same-class duplicates, boxes on the page
    boxes = np.array([r.bbox_px for r in upright.regions])
    labels = [r.label for r in upright.regions]
    assert min(r.score for r in upright.regions) >= 0.5
    iou = pairwise_iou(boxes, boxes)
    same = np.equal.outer(labels, labels) & ~np.eye(len(labels), dtype=bool)
    assert (iou[same] <= 0.5).all()
    assert boxes.min() >= 0 and boxes[:, 2].max() <= 850 and boxes[:, 3].max() <= 1100
    assert sorted(r.order for r in upright.regions) == list(range(len(upright.regions)))


def test_cli_loads_weights_and_writes_files(
    model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import layoutft.cli  # noqa: F401  (registers the commands)
    from layoutft.cli.app import app
    from layoutft.model import LayoutModel

    calls: list[dict[str, Any]] = []

    def from_checkpoint(cls: Any, weights: Any, **kwargs: Any) -> Any:
        calls.append({"weights": weights, **kwargs})
        return model  # already built once for this module

    monkeypatch.setattr(LayoutModel, "from_checkpoint", classmethod(from_checkpoint))
    out, vis = tmp_path / "page.json", tmp_path / "vis"
    args = ["parse", str(IMAGE), "--weights", str(CASE / "model_final.pth")]
    args += ["--config", str(CASE / "config.yaml"), "--device", "cpu", "-o", str(out)]
    args += ["--visualize", str(vis), "--score-threshold", "0.8,table=0.9", "-q"]
    args += ["--labels", "text, title,list,table,figure"]
    result = CliRunner().invoke(app, [*args, "MODEL.ROI_HEADS.NMS_THRESH_TEST", "0.4"])
    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "weights": str(CASE / "model_final.pth"),
            "config": str(CASE / "config.yaml"),  # as the ModelSpec holds it
            "overrides": ["MODEL.ROI_HEADS.NMS_THRESH_TEST", "0.4"],
            "device": "cpu",
            "labels": LABELS,
            "allow_partial": False,
        }
    ]
    doc = Document.from_json(out)
    jsonschema.validate(doc.to_dict(), json_schema())
    assert doc.model["name"] == "model_final"
    assert doc.pages[0].regions and min(r.score for r in doc.pages[0].regions) >= 0.8
    assert [p.name for p in vis.iterdir()] == ["doc000_p0-p1.png"]


@pytest.mark.numerics
def test_min_score_skips_mask_work_and_keeps_the_rest_identical(model: Any) -> None:
    mask_rois: list[int] = []
    hook = model.model.roi_heads.mask_head.register_forward_hook(
        lambda _m, args, _out: mask_rois.append(len(args[0]))
    )
    try:
        everything = model.predict([IMAGE])[0]
        kept = model.predict([IMAGE], min_score=0.5)[0]
    finally:
        hook.remove()
    selected = everything.scores >= 0.5
    # the mask head saw every detection, then only those parse keeps
    assert mask_rois == [len(everything.scores), int(selected.sum())]
    assert 0 < selected.sum() < len(everything.scores)
    np.testing.assert_array_equal(kept.boxes, everything.boxes[selected])
    np.testing.assert_array_equal(kept.scores, everything.scores[selected])
    np.testing.assert_array_equal(kept.classes, everything.classes[selected])
    assert everything.masks is not None and kept.masks is not None
    np.testing.assert_array_equal(kept.masks, everything.masks[selected])


@pytest.mark.numerics
def test_bf16_runs_the_convolutions_in_bfloat16_and_keeps_the_regions(model: Any) -> None:
    import torch

    dtypes: list[torch.dtype] = []
    hook = model.model.backbone.register_forward_hook(
        lambda _m, _args, out: dtypes.append(out["p2"].dtype)
    )
    try:
        exact = model.predict([IMAGE], min_score=0.5)[0]
        fast = model.predict([IMAGE], min_score=0.5, precision="bf16")[0]
    finally:
        hook.remove()
    assert dtypes == [torch.float32, torch.bfloat16]
    assert fast.boxes.dtype == np.float32 and fast.masks is not None
    # every confident fp32 region is found again: same class, nearly the same box and score
    iou = pairwise_iou(exact.boxes, fast.boxes)
    confident = np.flatnonzero(exact.scores >= 0.6)
    assert len(confident) >= 5
    for i in confident:
        twin = (
            (fast.classes == exact.classes[i])
            & (iou[i] >= 0.9)
            & (np.abs(fast.scores - exact.scores[i]) <= 0.06)
        )
        assert twin.any(), (i, exact.scores[i])
    from layoutft.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown precision 'int8'"):
        model.predict([IMAGE], precision="int8")


@pytest.mark.numerics
def test_workers_predict_pages_in_parallel_threads_with_the_same_detections(model: Any) -> None:
    import threading

    import torch

    pages = sorted((CASE / "images").glob("*.png"))[:3]
    seen: dict[int, int] = {}  # thread -> torch threads it ran the backbone with

    def record(*_: Any) -> None:
        seen[threading.get_ident()] = torch.get_num_threads()

    hook = model.model.backbone.register_forward_hook(record)
    before = torch.get_num_threads()
    try:
        alone = model.predict(pages, min_score=0.5, workers=1)
        assert list(seen) == [threading.get_ident()]
        seen.clear()
        together = model.predict(pages, min_score=0.5, workers=2)
    finally:
        hook.remove()
    assert len(seen) == 2 and threading.get_ident() not in seen
    assert set(seen.values()) == {before} == {torch.get_num_threads()}  # full count each
    for a, b in zip(alone, together, strict=True):  # in input order, bit for bit
        assert a.image_size == b.image_size and len(a) == len(b) > 0
        for field in ("classes", "boxes", "scores", "masks"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_default_workers_two_pages_at_once_on_a_multicore_cpu(model: Any) -> None:
    import threading

    import torch

    from layoutft.errors import ConfigError

    pages = sorted((CASE / "images").glob("*.png"))[:2]
    threads: set[int] = set()
    hook = model.model.backbone.register_forward_hook(lambda *_: threads.add(threading.get_ident()))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert model.default_workers == 2
        model.predict(pages)
        assert len(threads) == 2 and threading.get_ident() not in threads
        threads.clear()
        model.predict(pages, batch_size=2)  # batches run in the caller's thread
        assert threads == {threading.get_ident()}
        torch.set_num_threads(1)
        assert model.default_workers == 1  # one core: nothing to overlap
    finally:
        hook.remove()
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match=r"workers 2 runs one page per forward pass"):
        model.predict(pages, batch_size=2, workers=2)


def test_labels_name_the_classes_of_a_detectron2_checkpoint() -> None:
    from layoutft.errors import ConfigError
    from layoutft.model import LayoutModel

    weights, config = CASE / "model_final.pth", CASE / "config.yaml"
    unnamed = LayoutModel.from_checkpoint(weights, config=config, device="cpu")
    assert unnamed.labels == [f"class_{i}" for i in range(5)]  # detectron2 stores no names
    with pytest.raises(ConfigError, match="2 labels given for a model with 5 classes"):
        LayoutModel.from_checkpoint(weights, config=config, device="cpu", labels=["a", "b"])


def test_cpu_parses_one_page_per_forward_pass_unless_told(model: Any) -> None:
    from layoutft.parsing.parser import ParseOptions, Parser

    # batching page-sized images slows CPUs down (benchmarks/vs_detectron2.py)
    assert model.default_batch_size == 1
    assert Parser(model).batch_size == 1
    assert Parser(model, ParseOptions(batch_size=3)).batch_size == 3
