"""COCO evaluation on hand-made predictions: exact AP values, masks, label mapping."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layoutft.engine.evaluation import (
    category_map,
    evaluate_coco,
    format_table,
    to_coco_results,
    write_json_nan_safe,
)
from layoutft.errors import DatasetError
from layoutft.parsing.detector import Detections

H, W = 100, 80
GT = {
    "images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
    "categories": [
        {"id": 5, "name": "text"},
        {"id": 9, "name": "table"},
        {"id": 11, "name": "figure"},
    ],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 5, "bbox": [10, 10, 40, 20]},
        {"id": 2, "image_id": 1, "category_id": 5, "bbox": [10, 50, 40, 20]},
        {"id": 3, "image_id": 1, "category_id": 9, "bbox": [0, 0, 20, 40]},
    ],
}
LABELS = ["text", "table", "figure"]  # model order; dataset ids 5, 9, 11


def det(boxes: list[list[float]], classes: list[int], masks: bool = False) -> Detections:
    b = np.array(boxes, np.float32).reshape(-1, 4)
    m = None
    if masks:
        m = np.zeros((len(b), H, W), bool)
        for i, (x0, y0, x1, y1) in enumerate(b.astype(int)):
            m[i, y0:y1, x0:x1] = True
    return Detections(
        boxes=b,
        scores=np.linspace(0.9, 0.5, len(b)).astype(np.float32),
        classes=np.array(classes, np.int64),
        labels=[LABELS[c] for c in classes],
        masks=m,
        image_size=(H, W),
    )


def evaluate(d: Detections, types: tuple[str, ...] = ("bbox",)) -> dict[str, Any]:
    results = to_coco_results(1, d, category_map(LABELS, GT["categories"]))
    return evaluate_coco(GT, results, types)


def test_perfect_predictions_score_one_and_absent_classes_are_nan() -> None:
    m = evaluate(det([[10, 10, 50, 30], [10, 50, 50, 70], [0, 0, 20, 40]], [0, 0, 1]))["bbox"]
    assert m["AP"] == pytest.approx(100.0) and m["AP50"] == pytest.approx(100.0)
    assert m["per_class"]["text"] == pytest.approx(100.0)
    assert math.isnan(m["per_class"]["figure"])  # no ground truth of that class
    assert math.isnan(m["APl"])  # no large regions (area > 96^2) on the page


def test_missed_region_and_loose_box_give_exact_ap() -> None:
    # one of two text regions found; the table box covers IoU 0.625 (passes .50, .55, .60)
    m = evaluate(det([[10, 10, 50, 30], [0, 0, 20, 25]], [0, 1]))["bbox"]
    assert m["per_class"]["text"] == pytest.approx(
        100 * 51 / 101
    )  # percent; precision 1 up to recall 0.5
    assert m["per_class"]["table"] == pytest.approx(30.0)
    assert m["AP50"] == pytest.approx(50 * (51 / 101 + 1))
    assert m["AP75"] == pytest.approx(50 * (51 / 101 + 0))


def test_no_predictions_score_zero() -> None:
    m = evaluate_coco(GT, [], ("bbox", "segm"))
    assert m["bbox"]["AP"] == 0.0 and m["segm"]["per_class"]["table"] == 0.0
    assert math.isnan(m["segm"]["per_class"]["figure"])


def test_masks_are_encoded_and_scored_as_segm() -> None:
    d = det([[10, 10, 50, 30], [10, 50, 50, 70], [0, 0, 20, 40]], [0, 0, 1], masks=True)
    results = to_coco_results(1, d, category_map(LABELS, GT["categories"]))
    assert results[0]["segmentation"]["size"] == [H, W]
    assert [r["category_id"] for r in results] == [5, 5, 9]
    assert results[0]["bbox"] == [10.0, 10.0, 40.0, 20.0]
    m = evaluate(d, ("bbox", "segm"))
    assert m["segm"]["AP"] == pytest.approx(100.0)  # box-only GT is scored as its rectangle


def test_results_are_scaled_to_the_record_size() -> None:
    results = to_coco_results(1, det([[10, 10, 50, 30]], [0], masks=True), {0: 5}, size=(200, 160))
    assert results[0]["bbox"] == [20.0, 20.0, 80.0, 40.0]
    assert results[0]["segmentation"]["size"] == [200, 160]


def test_category_map_by_name_index_fallback_and_error() -> None:
    assert category_map(["figure", "text", "list"], GT["categories"]) == {0: 11, 1: 5}
    assert category_map(["class_0", "class_1", "class_2"], GT["categories"]) == {0: 5, 1: 9, 2: 11}
    with pytest.raises(DatasetError, match="matches a dataset category"):
        category_map(["a", "b"], GT["categories"])


def test_table_and_json_output(tmp_path: Path) -> None:
    m = evaluate(det([[10, 10, 50, 30], [0, 0, 20, 25]], [0, 1]))
    table = format_table(m)
    assert "AP50  75.2" in table
    # per class: AP50 then AP; the table box has IoU 0.625: AP50 100, AP 30
    assert "class   bbox AP50    bbox AP" in table
    assert "table       100.0       30.0" in table and "figure          -          -" in table
    assert m["bbox"]["per_class_AP50"] == {
        "text": pytest.approx(100 * 51 / 101),
        "table": pytest.approx(100.0),
        "figure": pytest.approx(math.nan, nan_ok=True),
    }
    write_json_nan_safe(tmp_path / "m.json", m)
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["bbox"]["per_class"]["figure"] is None
    assert saved["bbox"]["per_class"]["table"] == pytest.approx(30.0)
