"""layoutft analyze: exact statistics and recommendations on constructed COCO dicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import layoutft.cli
from layoutft.data.analyze import analyze_coco, resize_scale
from layoutft.errors import DatasetError


def _coco(extra_boxes_on_page3: int = 0) -> dict[str, Any]:
    """Pages 800x1000 px: page 1 has 5 text boxes 100 wide, 10..50 high; page 2 three
    200x200 figures; page 3 (optional) many 20x20 figures."""
    images = [{"id": i, "file_name": f"p{i}.png", "width": 800, "height": 1000} for i in (1, 2, 3)]
    boxes = [(1, 1, [10, 10, 100, h]) for h in (10, 20, 30, 40, 50)]
    boxes += [(2, 2, [0, 0, 200, 200])] * 3
    boxes += [(3, 2, [0, 0, 20, 20])] * extra_boxes_on_page3
    anns = [
        {"id": i + 1, "image_id": im, "category_id": cat, "bbox": bbox, "area": 1, "iscrowd": 0}
        for i, (im, cat, bbox) in enumerate(boxes)
    ]
    cats = [{"id": 1, "name": "text"}, {"id": 2, "name": "figure"}]
    return {"images": images, "annotations": anns, "categories": cats}


def test_resize_scale_follows_resize_shortest_edge() -> None:
    assert resize_scale(1000, 800, 800, 1333) == (1.0, 1.0)
    assert resize_scale(1000, 800, 400, 1333) == (0.5, 0.5)
    # Long page: the 1333 cap wins; sizes are rounded to whole pixels as detectron2 does.
    sy, sx = resize_scale(3000, 1000, 800, 1333)
    assert (round(3000 * sy), round(1000 * sx)) == (1333, 444)


def test_quantiles_and_counts_at_scale_one() -> None:
    result = analyze_coco(_coco(), min_size=800, max_size=1333)
    text, figure = result.classes
    assert (text.name, text.count, figure.name, figure.count) == ("text", 5, "figure", 3)
    # h/w = 0.1..0.5: numpy linear quantiles.
    assert text.aspect == {
        "p1": 0.104,
        "p5": 0.12,
        "p25": 0.2,
        "p50": 0.3,
        "p75": 0.4,
        "p95": 0.48,
        "p99": 0.496,
    }
    assert figure.aspect["p1"] == figure.aspect["p99"] == 1.0
    sizes = np.sqrt(100 * np.array([10, 20, 30, 40, 50]))
    assert text.size["p50"] == round(float(sizes[2]), 4)
    assert figure.size["p50"] == 200.0 and text.min_height == 10.0
    assert result.images == 3 and result.annotations == 8
    assert result.regions_per_page_max == 5
    assert result.regions_per_page_p99 == 4.96  # counts [0, 3, 5]: 3 + 0.98 * 2
    assert (result.smallest_text_height, result.smallest_text_height_input) == (10.0, 10.0)
    rec = result.recommended
    assert rec["INPUT"] == {
        "MIN_SIZE_TRAIN": [800],
        "MAX_SIZE_TRAIN": 1333,
        "MIN_SIZE_TEST": 800,
        "MAX_SIZE_TEST": 1333,
    }
    # p5 0.12 snaps to 0.1, p95 of figures 1.0 to 1.0.
    assert rec["MODEL"]["ANCHOR_GENERATOR"]["ASPECT_RATIOS"] == [[0.1, 0.25, 0.5, 1.0]]
    # p1 of box sqrt-areas is 32.5 -> 32.
    assert rec["MODEL"]["ANCHOR_GENERATOR"]["SIZES"] == [[32], [64], [128], [256], [512]]
    assert rec["MODEL"]["RPN"]["POST_NMS_TOPK_TEST"] == 1000
    assert rec["TEST"]["DETECTIONS_PER_IMAGE"] == 100


def test_small_input_raises_min_size_and_lowers_anchor_sizes() -> None:
    result = analyze_coco(_coco(), min_size=400, max_size=1333)
    assert result.smallest_text_height_input == 5.0
    assert result.classes[0].size["p50"] == round(float(np.sqrt(100 * 30)) / 2, 4)
    # 5 px < 8 px: x1.6 -> 640 and 2132.8 rounded up to multiples of 32.
    assert result.recommended["INPUT"]["MIN_SIZE_TEST"] == 640
    assert result.recommended["INPUT"]["MAX_SIZE_TRAIN"] == 2144
    # At 640 the text boxes are 0.8x: p1 sqrt-area 26 -> 16.
    sizes = result.recommended["MODEL"]["ANCHOR_GENERATOR"]["SIZES"]
    assert sizes == [[16], [32], [64], [128], [256]]


def test_busy_page_raises_topk_and_detections() -> None:
    result = analyze_coco(_coco(extra_boxes_on_page3=150))
    assert result.regions_per_page_max == 150
    rpn = result.recommended["MODEL"]["RPN"]
    assert rpn == {
        "PRE_NMS_TOPK_TRAIN": 2000,
        "PRE_NMS_TOPK_TEST": 1500,
        "POST_NMS_TOPK_TRAIN": 1500,
        "POST_NMS_TOPK_TEST": 1500,
    }
    assert result.recommended["TEST"]["DETECTIONS_PER_IMAGE"] == 300


def test_yaml_is_ready_to_paste(tmp_path: Path) -> None:
    result = analyze_coco(_coco(extra_boxes_on_page3=150))
    text = result.to_yaml()
    assert yaml.safe_load(text) == result.recommended
    assert "ASPECT_RATIOS: [[0.1, 0.25, 0.5, 1.0]]" in text
    from layoutft.config import load_config

    base = (
        Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask" / "Base-RCNN-FPN.yaml"
    )
    (tmp_path / "cfg.yaml").write_text(f"_BASE_: {base}\n" + text)
    cfg = load_config(tmp_path / "cfg.yaml")
    assert cfg.TEST.DETECTIONS_PER_IMAGE == 300
    assert cfg.MODEL.RPN.POST_NMS_TOPK_TRAIN == 1500
    assert [list(r) for r in cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS] == [[0.1, 0.25, 0.5, 1.0]]
    assert json.loads(json.dumps(result.to_dict()))["classes"][0]["name"] == "text"


def test_bad_records_are_listed_together() -> None:
    coco = _coco()
    coco["annotations"][0]["image_id"] = 99
    coco["annotations"][1]["category_id"] = 7
    del coco["annotations"][2]["bbox"]
    coco["annotations"][3]["bbox"] = [10, 10, None, 5]
    coco["annotations"][4]["bbox"] = [10, 10, float("inf"), 5]
    with pytest.raises(DatasetError, match="5 problems") as info:
        analyze_coco(coco)
    assert "image_id 99" in str(info.value) and "category_id 7" in str(info.value)
    assert "annotation 4: bbox must be 4 finite numbers" in str(info.value)
    assert "annotation 5: bbox must be 4 finite numbers" in str(info.value)
    with pytest.raises(DatasetError, match="no annotations"):
        analyze_coco({**coco, "annotations": []})


def test_cli_analyze(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_coco()))
    runner = CliRunner()
    out = runner.invoke(layoutft.cli.app, ["analyze", str(path), "--min-size", "400"])
    assert out.exit_code == 0, out.output
    assert "smallest text box height: 10 px (5 px at input 400/1333)" in out.output
    assert "MIN_SIZE_TEST: 640" in out.output
    as_json = runner.invoke(layoutft.cli.app, ["analyze", str(path), "--json"])
    assert json.loads(as_json.output)["regions_per_page_max"] == 5
    missing = runner.invoke(layoutft.cli.app, ["analyze", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and "file not found" in missing.output


def test_text_class_found_in_any_letter_case() -> None:
    coco = _coco()
    coco["categories"][0]["name"] = "Text"
    coco["annotations"][5]["bbox"] = [0, 0, 200, 4]  # a thin figure must not count as text
    assert analyze_coco(coco).smallest_text_height == 10.0
