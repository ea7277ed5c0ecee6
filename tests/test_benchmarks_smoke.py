"""Smoke tests of benchmarks/: each benchmark's core function on a tiny input.

They keep the scripts from rotting as the library changes: the rows must have the keys the
reports use and sane numbers (pages/s > 0, RSS > 0, split times that add up).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# benchmarks/ is a top-level folder, importable through pytest's `pythonpath = ["."]`
from benchmarks import accuracy, common, memory, parse_speed, train_speed, vs_detectron2
from benchmarks.inputs import load_model, render_images, synth_dataset, synth_pdf

# small network inputs keep each forward pass well under a second on a CPU
SMALL_TEST = ["INPUT.MIN_SIZE_TEST", "160", "INPUT.MAX_SIZE_TEST", "240"]
SMALL_TRAIN = ["INPUT.MIN_SIZE_TRAIN", "(128,)", "INPUT.MAX_SIZE_TRAIN", "200", *SMALL_TEST]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="module")
def pdf(work: Path) -> Path:
    return synth_pdf(work / "doc.pdf", 3, unique=2)


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model("narrow", "cpu", SMALL_TEST)


@pytest.fixture(scope="module")
def coco(work: Path) -> Path:
    return synth_dataset(work / "synth", docs=1, pages=2, dpi=36, seed=0)


def test_synth_pdf_repeats_pages(pdf: Path) -> None:
    import pymupdf

    with pymupdf.open(pdf) as doc:
        texts = [page.get_text() for page in doc]
    assert len(texts) == 3 and texts[2] == texts[0] and texts[1] != texts[0]


def test_parse_speed_row(pdf: Path, model: Any) -> None:
    row = parse_speed.measure_parse(pdf, model, dpi=72, batch_size=2)
    assert row["pages"] == 3 and row["errors"] == 0 and row["dpi"] == 72
    assert row["pages_per_s"] > 0 and row["peak_rss_mb"] > 0
    assert 0 < row["p50_latency_s"] <= row["p95_latency_s"] <= row["wall_s"]
    for key in ("render_s", "model_s", "resize_s", "paste_s", "post_s", "network_alone_s"):
        # stages overlap and run on a shared machine: their clocks are only checked for sign
        assert row[key] > 0, key
    assert row["model_s"] <= row["wall_s"]  # one model thread
    share = max(0.0, row["wall_s"] - row["network_alone_s"]) / row["wall_s"]
    assert math.isclose(row["render_post_pct"], 100 * share)
    verdict = parse_speed.check_target([{**row, "dpi": 200}])
    assert verdict["status"] == ("PASS" if row["render_post_pct"] < 15 else "FAIL")


@pytest.mark.parametrize("renderer", ["pymupdf", "pdf2image"])
def test_render_row(pdf: Path, renderer: str) -> None:
    if renderer == "pdf2image" and shutil.which("pdftoppm") is None:
        pytest.skip("poppler's pdftoppm is not installed")
    row = parse_speed.measure_render(pdf, 72, renderer, pages=2)
    assert row == {**row, "renderer": renderer, "pages": 2} and row["pages_per_s"] > 0


def test_memory_rows(pdf: Path, model: Any) -> None:
    rows, trace = memory.measure_memory(pdf, model, 72, checkpoints=[1, 3], batch_size=1)
    assert [r["pages"] for r in rows] == [1, 3] and len(trace) == 3
    assert all(r["rss_mb"] > 0 and r["peak_rss_mb"] >= r["rss_mb"] * 0.99 for r in rows)
    assert rows[1]["peak_rss_mb"] >= rows[0]["peak_rss_mb"]
    growth = rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"] - 1
    assert memory.check_target(rows)["status"] == ("PASS" if growth <= 0.10 else "FAIL")


def _dets(boxes: list[list[float]], scores: list[float], classes: list[int]) -> dict[str, Any]:
    return {
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "scores": np.asarray(scores, np.float32),
        "classes": np.asarray(classes, np.int64),
    }


def test_vs_detectron2_agreement_rule() -> None:
    ref = _dets([[0, 0, 100, 100], [10, 10, 50, 20]], [0.9, 0.2], [0, 1])
    same = _dets([[0, 0, 100.5, 100], [200, 200, 300, 300]], [0.905, 0.25], [0, 3])
    result = vs_detectron2.agreement([ref], [same], min_score=0.3)
    # the second detections score below the floors (0.32 and 0.34), so they need no twin
    assert result["agree"] and result["d2_detections"] == 1 and result["layoutft_detections"] == 1
    for other in (
        _dets([[0, 0, 100, 100]], [0.95], [0]),  # score off by 0.05
        _dets([[0, 0, 100, 100]], [0.9], [2]),  # another class
        _dets([[0, 0, 100, 90]], [0.9], [0]),  # IoU 0.9
    ):
        result = vs_detectron2.agreement([ref], [other], min_score=0.3)
        assert not result["agree"]
        assert result["d2_without_twin"] == 1 and result["layoutft_without_twin"] == 1


def test_vs_detectron2_compare_takes_turns_every_two_pages(pdf: Path, model: Any) -> None:
    from types import SimpleNamespace

    import torch

    images = render_images(pdf, 40)
    calls: list[str] = []

    def fake_d2(bgr: np.ndarray) -> dict[str, Any]:
        # stands in for DefaultPredictor: our own fp32 detections on the BGR page
        calls.append("d2")
        det = model.predict([bgr[:, :, ::-1].copy()], 1, "RGB", 0.5, "fp32", 1)[0]
        boxes = SimpleNamespace(tensor=torch.from_numpy(det.boxes))
        instances = SimpleNamespace(
            pred_boxes=boxes,
            scores=torch.from_numpy(det.scores),
            pred_classes=torch.from_numpy(det.classes),
        )
        instances.to = lambda _device: instances
        return {"instances": instances}

    class CountingModel:
        def __init__(self) -> None:
            self.device, self.default_batch_size = model.device, 1
            self.default_workers = 2

        def predict(self, pages: list[Any], *args: Any) -> Any:
            calls.append(f"ours x{len(pages)}")
            return model.predict(pages, *args)

    contenders = (("fp32", 1), ("fp32", None))
    rows, agree = vs_detectron2.compare(images, CountingModel(), fake_d2, 1, None, 0.5, contenders)
    assert [r["pages"] for r in rows] == [3, 3, 3] and [r["workers"] for r in rows] == [1, 1, 2]
    assert all(a["agree"] and a["d2_detections"] == a["layoutft_detections"] for a in agree)
    timed = calls[1 + 2 :]  # after one warm-up page for detectron2, one call per contender
    # pages 1-2, then page 3 with the order rotated: each turn, every library the same pages
    assert timed == ["d2", "d2", "ours x2", "ours x2", "ours x1", "ours x1", "d2"]


@pytest.mark.skipif(vs_detectron2.detectron2_available(), reason="detectron2 is importable")
def test_vs_detectron2_skips_without_detectron2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    vs_detectron2.main([])
    result = json.loads((tmp_path / "vs_detectron2.json").read_text())
    assert result["status"] == vs_detectron2.SKIPPED and result["rows"] == []
    assert result["targets"][0]["status"] == "SKIP"
    assert "detectron2 not importable; skipped" in (tmp_path / "vs_detectron2.md").read_text()


def test_train_speed_row(coco: Path) -> None:
    row = train_speed.measure_train(
        "quick_cpu", coco, iters=1, warmup=1, workers=0, overrides=SMALL_TRAIN
    )
    assert row["config"] == "quick_cpu" and row["precision"] == "fp32" and row["iters"] == 1
    assert row["s_per_iter"] > 0 and row["peak_rss_mb"] > 0
    assert row["data_wait_s"] >= 0 and row["s_per_iter"] > 0
    assert math.isfinite(row["total_loss"]) and row["total_loss"] > 0


def test_accuracy_row(coco: Path, tmp_path: Path) -> None:
    row, log = accuracy.train_and_evaluate(
        coco, coco, tmp_path, iters=1, overrides=[*SMALL_TRAIN, "DATALOADER.NUM_WORKERS", "0"]
    )
    assert row["iters"] == 1 and row["train_s"] > 0 and len(log) == 1
    for key in ("bbox_AP", "bbox_AP50", "segm_AP", "segm_AP50"):
        assert math.isnan(row[key]) or 0 <= row[key] <= 100, key
    assert accuracy.bundled_weights() is None or accuracy.bundled_weights().exists()


def test_schedule_scales_with_iters() -> None:
    pairs = dict(zip(*[iter(accuracy.schedule(100))] * 2, strict=True))
    assert pairs["SOLVER.MAX_ITER"] == "100" and pairs["SOLVER.STEPS"] == "(75, 93)"
    assert pairs["SOLVER.WARMUP_ITERS"] == "5"
    assert accuracy.schedule(None) == ["TEST.EVAL_PERIOD", "0"]  # the config's own schedule


def test_save_results_writes_json_and_markdown(tmp_path: Path) -> None:
    rows = [{"dpi": 200, "pages_per_s": 1.23456}]
    extra = {"model": "narrow", "renderers": [{"renderer": "pymupdf", "pages_per_s": 9.0}]}
    path = common.save_results("demo", rows, extra, out_dir=tmp_path)
    payload = json.loads(path.read_text())
    assert payload["rows"] == rows and payload["model"] == "narrow"
    assert {"cpu", "cores", "torch", "torchvision", "device"} <= set(payload["machine"])
    text = (tmp_path / "demo.md").read_text()
    assert "| 200 | 1.235 |" in text and "### renderers" in text and "| pymupdf | 9.000 |" in text
    assert common.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_results_say_how_much_cpu_time_was_stolen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # user, nice, system, idle, iowait, irq, softirq, steal (clock ticks since boot)
    start = [100, 0, 20, 500, 0, 0, 0, 30]
    monkeypatch.setattr(common, "cpu_times", lambda: [160, 0, 30, 520, 0, 0, 0, 40])
    assert common.steal_pct(start) == 10.0  # 10 of 100 ticks
    path = common.save_results("demo", [], out_dir=tmp_path, started=start)
    assert json.loads(path.read_text())["machine"]["cpu_steal_pct"] == 10.0
    assert common.steal_pct(None) is None


def test_corpus_same_regions_tolerates_only_last_digits() -> None:
    from benchmarks.corpus import same_regions

    def result(score: float, x0: float, label: str = "text") -> dict[str, bytes]:
        region = {"label": label, "score": score, "bbox_px": [x0, 10.0, 50.0, 60.0]}
        return {"a.json": json.dumps({"pages": [{"regions": [region]}]}).encode()}

    base = result(0.9123, 10.0)
    assert same_regions(base, result(0.9124, 10.3))  # another torch thread count
    assert not same_regions(base, result(0.95, 10.0))
    assert not same_regions(base, result(0.9123, 12.0))
    assert not same_regions(base, result(0.9123, 10.0, "title"))
    assert not same_regions(base, {})
