"""benchmarks.finetune_real on tiny fake data: the book split and the target line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import finetune_real as fr

# (book, pages): 10 books, 40 pages; two volumes of one work are different books
BOOKS = {
    "beck_eisen01_1884": 6,
    "beck_eisen02_1895": 9,
    "brunner_rechtsgeschichte01_1887": 7,
    "brunner_rechtsgeschichte02_1892": 2,
    "altmann_elementarorganismen_1890": 1,
    "laband_staatsrecht0301_1880": 4,
    "laband_staatsrecht0302_1882": 3,
    "heffter_voelkerrecht_1844": 2,
    "siebold_suesswasserfische_1863": 5,
    "mayer_verwaltungsrecht01_1895": 1,
}


def fake_coco() -> dict[str, Any]:
    images, anns = [], []
    for book, pages in BOOKS.items():
        for p in range(pages):
            iid = len(images) + 1
            images.append(
                {"id": iid, "file_name": f"{book}_{61 + 7 * p:04d}.png", "width": 16, "height": 24}
            )
            anns.append({"id": len(anns) + 1, "image_id": iid, "category_id": 1 + iid % 2})
            anns.append({"id": len(anns) + 1, "image_id": iid, "category_id": 1})
    cats = [{"id": 1, "name": "text"}, {"id": 2, "name": "note"}, {"id": 3, "name": "heading"}]
    return {"images": images, "annotations": anns, "categories": cats}


def test_book_is_the_file_name_minus_its_page() -> None:
    assert fr.book_of("beck_eisen02_1895_0061.png") == "beck_eisen02_1895"
    brunner = "brunner_rechtsgeschichte01_1887"
    assert fr.book_of(f"{brunner}_0112.png") == brunner
    assert fr.book_of("heffter_voelkerrecht_1844_7.png") == "heffter_voelkerrecht_1844"


def test_split_keeps_each_book_on_one_side() -> None:
    coco = fake_coco()
    train, test, train_books, test_books = fr.split_books(coco)
    assert not set(train_books) & set(test_books)
    assert sorted(train_books + test_books) == sorted(BOOKS)
    for part, books in ((train, train_books), (test, test_books)):
        assert sorted({fr.book_of(i["file_name"]) for i in part["images"]}) == books
        ids = {i["id"] for i in part["images"]}
        assert {a["image_id"] for a in part["annotations"]} <= ids
    # every page lands on exactly one side, with all its annotations
    assert len(train["images"]) + len(test["images"]) == 40
    assert len(train["annotations"]) + len(test["annotations"]) == 80
    assert sum(BOOKS[b] for b in test_books) == len(test["images"])
    assert 4 <= len(test["images"]) <= 12  # ~20% of 40 pages, in whole books
    # fixed seed: the same split every time, whatever the input order
    shuffled = {**coco, "images": list(reversed(coco["images"]))}
    assert fr.split_books(shuffled)[3] == test_books


def test_instance_counts_keep_empty_classes_in_category_order() -> None:
    counts = fr.instance_counts(fake_coco())
    assert list(counts) == ["text", "note", "heading"]
    assert counts == {"text": 60, "note": 20, "heading": 0}


def test_target_counts_only_classes_with_50_training_instances() -> None:
    counts = {"text": 400, "note": 50, "caption": 49, "catch-word": 3, "heading": 0}
    ap50 = {"text": 90.0, "note": 60.0, "caption": 0.0, "catch-word": 0.0, "heading": math.nan}
    row = fr.check_target(ap50, counts)
    assert row["status"] == "PASS"  # (90 + 60) / 2 = 75; caption and catch-word do not count
    assert row["value"] == 75.0
    assert row["classes"] == ["text", "note"]
    assert row["line"] == (
        "Target: mean bbox AP50 >= 70 over the region types with >= 50 training instances: "
        "PASS (75.0)"
    )
    row = fr.check_target({**ap50, "note": 49.0}, counts)
    assert row["status"] == "FAIL" and row["value"] == 69.5
    assert row["line"].endswith(": FAIL (69.5)")
    # a class that high caption counts would pass with does not enter when under 50
    row = fr.check_target({**ap50, "note": 49.0, "caption": 100.0}, counts)
    assert row["status"] == "FAIL"


def test_target_leaves_out_classes_without_held_out_instances() -> None:
    row = fr.check_target({"text": 71.0, "note": math.nan}, {"text": 60, "note": 80})
    assert row["status"] == "PASS" and row["classes"] == ["text"]
    assert "no held-out instances: note" in row["detail"]
    row = fr.check_target({"text": math.nan}, {"text": 60, "note": 10})
    assert row["status"] == "SKIP" and row["line"].endswith(": SKIP (-)")


def test_schedule_and_size_overrides() -> None:
    assert fr.schedule(None) == []
    pairs = dict(zip(fr.schedule(800)[::2], fr.schedule(800)[1::2], strict=True))
    assert pairs["SOLVER.MAX_ITER"] == "800" and pairs["SOLVER.STEPS"] == "(600, 740)"
    assert fr.size_overrides(256)[:2] == ["INPUT.MIN_SIZE_TRAIN", "(256,)"]


def test_skips_in_one_line_without_the_real_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fr.main(["--real", str(tmp_path / "absent")])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("finetune_real: skipped")


def test_finetune_config_loads_the_bundled_model_but_new_class_rows() -> None:
    labels = ["text", "heading", "caption", "note", "figure"]
    report = fr.init_report(labels)
    assert report["complete"] and report["loaded"] == report["model_tensors"]
    assert set(report["heads"]) == {
        "roi_heads.box_predictor.cls_score",
        "roi_heads.box_predictor.bbox_pred",
        "roi_heads.mask_head.predictor",
    }
    for note in report["heads"].values():
        assert note.startswith("2 of 5 classes matched by name")
        assert note.endswith("start from fresh weights: heading, caption, note")


def test_funsd_set_skips_in_one_line_without_the_clone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fr.main(["--set", "funsd", "--funsd", str(tmp_path / "absent")])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("finetune_real: skipped, no FUNSD clone")
    (tmp_path / "clone" / "dataset" / "training_data" / "annotations").mkdir(parents=True)
    (tmp_path / "clone" / "dataset" / "testing_data" / "annotations").mkdir(parents=True)
    train = fr.funsd_training(tmp_path / "clone")
    assert train == tmp_path / "clone" / "dataset" / "training_data" / "annotations"
    # the reserved testing_data is never named, so never read
    assert "testing_data" not in str(train) and not hasattr(fr, "funsd_dirs")


def test_analyze_recommendation_becomes_overrides_finetune_cpu_accepts() -> None:
    from layoutft.config import load_config
    from layoutft.data.analyze import analyze_coco

    images = [{"id": 1, "file_name": "f.png", "width": 762, "height": 1000}]
    boxes = [[0, 0, 400, 20]] * 10 + [[0, 0, 50, 50]] * 90  # 10% thin
    anns = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": b} for i, b in enumerate(boxes)]
    coco = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "answer"}]}
    overrides = analyze_coco(coco).overrides()
    assert overrides[:2] == ["INPUT.MIN_SIZE_TRAIN", "(576, 608, 640, 672, 704)"]
    cfg = load_config(fr.CONFIG, overrides)
    assert tuple(cfg.INPUT.MIN_SIZE_TRAIN) == (576, 608, 640, 672, 704)
    assert list(cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0]) == [0.05, 0.25, 0.5, 1.0, 2.0, 4.0]
    assert cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE == 256  # 100 regions on the page


def test_thin_recall_counts_thin_and_other_boxes_apart() -> None:
    gt = {
        "annotations": [
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 5]},  # thin, found
            {"image_id": 1, "category_id": 1, "bbox": [0, 50, 100, 5]},  # thin, missed
            {"image_id": 1, "category_id": 2, "bbox": [0, 100, 40, 40]},  # other, found
        ]
    }
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 6], "score": 0.9},
        {"image_id": 1, "category_id": 2, "bbox": [0, 50, 100, 5], "score": 0.9},  # wrong class
        {"image_id": 1, "category_id": 1, "bbox": [0, 50, 100, 5], "score": 0.2},  # low score
        {"image_id": 1, "category_id": 2, "bbox": [2, 100, 40, 40], "score": 0.8},
    ]
    assert fr.thin_recall(gt, results) == {"thin": 50.0, "other": 100.0}


def test_funsd_targets_need_the_mean_every_class_and_thin_recall() -> None:
    ap50 = {"header": 25.0, "question": 60.0, "answer": 50.0, "other": 30.0}
    passed = fr.funsd_targets(41.25, ap50, {"thin": 52.0, "other": 60.0})
    assert [c["status"] for c in passed] == ["PASS", "PASS"]
    assert passed[0]["detail"] == "mean 41.2, lowest header 25.0"
    one_class_low = fr.funsd_targets(45.0, {**ap50, "header": 19.9}, {"thin": 40.0, "other": 60.0})
    assert [c["status"] for c in one_class_low] == ["FAIL", "FAIL"]
    assert one_class_low[1]["detail"] == "40.0% vs 60.0%"
