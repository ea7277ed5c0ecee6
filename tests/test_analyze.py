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
from layoutft.data.analyze import (
    REF_MP,
    REF_S_PER_ITER,
    Recipe,
    analyze_coco,
    estimate_s_per_iter,
    resize_scale,
    roi_batch_size,
)
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


#: A recipe at 800/1333 with one training scale, so numbers are easy to follow by hand.
R800 = Recipe(
    name="r800", min_size_test=800, max_size_test=1333, min_size_train=(800,), max_size_train=1333
)
ROOT = Path(__file__).resolve().parent.parent


def _page_coco(boxes: list[tuple[int, list[float]]], pages: int = 1) -> dict[str, Any]:
    """Pages 800x1000 px; boxes ``(image_id, [x, y, w, h])``, all of class "region"."""
    images = [
        {"id": i, "file_name": f"p{i}.png", "width": 800, "height": 1000}
        for i in range(1, pages + 1)
    ]
    anns = [
        {"id": n + 1, "image_id": im, "category_id": 1, "bbox": bbox, "area": 1, "iscrowd": 0}
        for n, (im, bbox) in enumerate(boxes)
    ]
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "region"}]}


def test_quantiles_and_counts_at_scale_one() -> None:
    result = analyze_coco(_coco(), recipe=R800)
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
    assert figure.size["p50"] == 200.0 and text.short_side["p50"] == 30.0
    assert result.images == 3 and result.annotations == 8
    assert result.regions_per_page_max == 5
    assert result.regions_per_page_p99 == 4.96  # counts [0, 3, 5]: 3 + 0.98 * 2
    assert result.regions_per_page_p95 == 4.8
    # short sides 10, 20, 30, 40, 50, 200 x3: p2 at index 0.14 -> 11.4
    assert (result.short_side_p, result.short_side_p_input) == (11.4, 11.4)
    assert result.outlier_count == 0 and result.outliers == []
    rec = result.recommended
    assert rec["INPUT"] == {
        "MIN_SIZE_TRAIN": [800],
        "MAX_SIZE_TRAIN": 1333,
        "MIN_SIZE_TEST": 800,
        "MAX_SIZE_TEST": 1333,
    }
    # nearest ratios: 0.1; 0.2, 0.3 -> 0.25; 0.4, 0.5 -> 0.5; figures 1.0: the recipe's stay
    assert result.ratio_shares["0.25"] == 0.25 and result.ratio_shares["1"] == 0.375
    assert rec["MODEL"]["ANCHOR_GENERATOR"]["ASPECT_RATIOS"] == [[0.1, 0.25, 0.5, 1.0, 2.0, 4.0]]
    assert result.notes == []
    # p1 of box sqrt-areas is 32.5 -> 32.
    assert rec["MODEL"]["ANCHOR_GENERATOR"]["SIZES"] == [[32], [64], [128], [256], [512]]
    assert rec["MODEL"]["RPN"]["POST_NMS_TOPK_TEST"] == 1000
    assert rec["MODEL"]["ROI_HEADS"]["BATCH_SIZE_PER_IMAGE"] == 128
    assert rec["TEST"]["DETECTIONS_PER_IMAGE"] == 100


def test_one_tiny_outlier_box_does_not_set_the_size() -> None:
    boxes = [(1, [10, 10 * k, 300, 20]) for k in range(100)] + [(1, [10, 5, 40, 2])]
    result = analyze_coco(_page_coco(boxes), recipe=R800)
    # sorted short sides [2, 20 x 100]: the 2nd percentile is 20, not the 2 px box
    assert result.short_side_p_input == 20.0
    assert result.recommended["INPUT"]["MIN_SIZE_TEST"] == 800
    assert result.cost["s_per_iter_recommended"] == result.cost["s_per_iter"]
    assert result.outlier_count == 1
    assert result.outliers == [
        {
            "annotation_id": 101,
            "file_name": "p1.png",
            "class": "region",
            "short_side": 2.0,
            "short_side_input": 2.0,
        }
    ]


def test_small_input_is_scaled_from_the_percentile() -> None:
    result = analyze_coco(_coco(), min_size=400, max_size=1333, recipe=R800)
    assert result.short_side_p_input == 5.7  # 11.4 at half the size
    assert result.classes[0].size["p50"] == round(float(np.sqrt(100 * 30)) / 2, 4)
    # 5.7 px < 8 px: x1.4035 -> 561.4 and 1870.9, rounded up to multiples of 32
    inp = result.recommended["INPUT"]
    assert (inp["MIN_SIZE_TEST"], inp["MAX_SIZE_TEST"]) == (576, 1888)
    # the recipe's training scale (800 for test 800) follows: 800 * 400/800 * 576/400
    assert (inp["MIN_SIZE_TRAIN"], inp["MAX_SIZE_TRAIN"]) == ([576], 1888)
    # at 576 (x0.72) the 10 px box is 7.2 px: the one outlier
    assert result.outlier_count == 1 and result.outliers[0]["short_side_input"] == 7.2
    # at 0.72x the text boxes' p1 sqrt-area is 23.4 -> 16.
    sizes = result.recommended["MODEL"]["ANCHOR_GENERATOR"]["SIZES"]
    assert sizes == [[16], [32], [64], [128], [256]]
    cost = result.cost
    assert cost["mp_per_page"] == 0.2 and cost["mp_per_page_recommended"] == 0.4147
    assert cost["s_per_iter_recommended"] > cost["s_per_iter"]


def test_recipe_training_scales_follow_the_input() -> None:
    coco = _page_coco([(1, [0, 0, 100, 5])] * 50)  # 800 px wide pages: 4 px high at 640
    result = analyze_coco(coco, recipe=Recipe())
    inp = result.recommended["INPUT"]
    # 8 / 4 = 2x: 640 -> 1280, 1120 -> 2240; finetune_cpu's training scales x2
    assert (inp["MIN_SIZE_TEST"], inp["MAX_SIZE_TEST"]) == (1280, 2240)
    assert inp["MIN_SIZE_TRAIN"] == [1152, 1216, 1280, 1344, 1408]
    assert inp["MAX_SIZE_TRAIN"] == 2464  # 1232 x 2
    assert result.outlier_count == 0


def test_thin_boxes_take_the_place_of_a_spare_ratio() -> None:
    thin = [(1, [0, 0, 400, 20])] * 10  # h/w 0.05: 10% of the boxes
    square = [(1, [0, 0, 50, 50])] * 90
    result = analyze_coco(_page_coco(thin + square), recipe=R800)
    assert result.ratio_shares["0.05"] == 0.1
    # every recipe ratio but 1.0 is spare; 0.1 is the nearest to 0.05: the others keep their place
    ratios = result.recommended["MODEL"]["ANCHOR_GENERATOR"]["ASPECT_RATIOS"]
    assert ratios == [[0.05, 0.25, 0.5, 1.0, 2.0, 4.0]]
    assert result.notes == [
        "aspect ratio 0.05: 10.0% of boxes are nearest to it; it takes the place of 0.1 "
        "(0.00% of boxes), so the weights still load"
    ]
    # too few thin boxes (4%): the recipe's ratios stay
    few = analyze_coco(_page_coco(thin[:4] + square), recipe=R800)
    assert few.recommended["MODEL"]["ANCHOR_GENERATOR"]["ASPECT_RATIOS"][0] == list(
        R800.aspect_ratios
    )


def test_needed_ratio_without_a_spare_one_is_a_note_only() -> None:
    shapes = [[0, 0, 400, 20], [0, 0, 100, 10], [0, 0, 100, 25], [0, 0, 100, 50]]
    shapes += [[0, 0, 50, 50], [0, 0, 50, 100], [0, 0, 25, 100]]  # 0.05 .. 4: one of each
    result = analyze_coco(_page_coco([(1, b) for b in shapes]), recipe=R800)
    ratios = result.recommended["MODEL"]["ANCHOR_GENERATOR"]["ASPECT_RATIOS"]
    assert ratios == [list(R800.aspect_ratios)]
    assert len(result.notes) == 1
    assert "every ratio of the config is in use" in result.notes[0]


def test_roi_batch_size_from_regions_per_page() -> None:
    assert [roi_batch_size(n) for n in (5, 64, 98, 130, 400)] == [128, 128, 256, 512, 512]
    dense = [(p, [0, 0, 50, 20]) for p in range(1, 11) for _ in range(100)]
    result = analyze_coco(_page_coco(dense, pages=10), recipe=R800)
    assert result.regions_per_page_p95 == 100.0
    assert result.recommended["MODEL"]["ROI_HEADS"]["BATCH_SIZE_PER_IMAGE"] == 256


def test_cost_is_relative_to_the_measured_reference() -> None:
    assert estimate_s_per_iter(REF_MP) == pytest.approx(REF_S_PER_ITER)
    assert estimate_s_per_iter(REF_MP, ims_per_batch=4) == pytest.approx(2 * REF_S_PER_ITER)
    assert estimate_s_per_iter(2 * REF_MP) > REF_S_PER_ITER > estimate_s_per_iter(REF_MP / 2)


def test_default_recipe_is_finetune_cpu() -> None:
    """One source of truth: the numbers analyze starts from are the shipped recipe's."""
    from layoutft.config import load_config

    cfg = load_config(ROOT / "configs" / "finetune_cpu.yaml")
    assert Recipe.from_config(cfg, "finetune_cpu") == Recipe()


def test_yaml_is_ready_to_paste(tmp_path: Path) -> None:
    thin = [(1, [0, 0, 400, 20])] * 10
    busy = [(2, [0, 0, 50, 50])] * 150
    result = analyze_coco(_page_coco(thin + busy, pages=2))
    text = result.to_yaml()
    assert yaml.safe_load(text) == result.recommended
    assert "ASPECT_RATIOS: [[0.1, 0.25, 0.5, 1.0, 2.0, 4.0]]" not in text
    from layoutft.config import load_config

    (tmp_path / "cfg.yaml").write_text(f"_BASE_: {ROOT / 'configs' / 'finetune_cpu.yaml'}\n" + text)
    cfg = load_config(tmp_path / "cfg.yaml")
    base = load_config(ROOT / "configs" / "finetune_cpu.yaml")
    assert cfg.TEST.DETECTIONS_PER_IMAGE == 300
    assert cfg.MODEL.RPN.POST_NMS_TOPK_TRAIN == 1500
    # same number of ratios: the RPN head keeps its shape, the bundled weights load
    ratios = [list(r) for r in cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS]
    assert len(ratios[0]) == len(base.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0])
    assert 0.05 in ratios[0]
    assert json.loads(json.dumps(result.to_dict()))["classes"][0]["name"] == "region"


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
    config = str(ROOT / "configs" / "finetune_cpu.yaml")
    runner = CliRunner()
    args = ["analyze", str(path), "--config", config, "--min-size", "400", "--max-size", "1333"]
    out = runner.invoke(layoutft.cli.app, args)
    assert out.exit_code == 0, out.output
    assert "box short side, 2nd percentile: 11.4 px (5.7 px at input 400/1333" in out.output
    assert "text box" not in out.output  # class-neutral
    assert "outliers: 1 boxes (12.5%) stay under 8 px" in out.output
    assert "annotation 1 (text, p1.png): short side 10 px" in out.output
    assert "MIN_SIZE_TEST: 576" in out.output
    assert "layoutft train --config " in out.output
    assert "INPUT.MIN_SIZE_TRAIN '(576, 608, 640, 672, 704)' " not in out.output  # scaled
    assert "INPUT.MIN_SIZE_TEST 576 " in out.output
    assert "s/iter at 400/1333" in out.output and "at the recommended 576/1888" in out.output
    as_json = runner.invoke(layoutft.cli.app, ["analyze", str(path), "--config", config, "--json"])
    assert json.loads(as_json.output)["regions_per_page_max"] == 5
    assert json.loads(as_json.output)["min_size"] == 640  # the config's MIN_SIZE_TEST
    missing = runner.invoke(layoutft.cli.app, ["analyze", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and "file not found" in missing.output
