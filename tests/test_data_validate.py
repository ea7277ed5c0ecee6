"""validate_coco counts each problem kind; fix_coco repairs what is safe and says what it did."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from layoutft.data.coco import load_coco, write_coco
from layoutft.data.fix import fix_coco
from layoutft.data.validate import validate_coco
from layoutft.errors import DatasetError
from tests.coco_helpers import make_image


def ann(aid, image_id, cat, bbox, seg="rect", area=None):
    x, y, w, h = bbox
    segmentation = [[x, y, x + w, y, x + w, y + h, x, y + h]] if seg == "rect" else seg
    return {
        "id": aid,
        "image_id": image_id,
        "category_id": cat,
        "bbox": bbox,
        "area": w * h if area is None else area,
        "segmentation": segmentation,
        "iscrowd": 0,
    }


def bad_dataset(folder: Path) -> dict:
    make_image(folder / "a.png", 100, 50)
    make_image(folder / "b.png", 60, 60)
    (folder / "c.png").write_bytes(b"garbage")
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 100, "height": 50},
            {"id": 2, "file_name": "b.png", "width": 80, "height": 60},  # size_mismatch
            {"id": 3, "file_name": "c.png", "width": 10, "height": 10},  # unreadable_image
            {"id": 4, "file_name": "d.png", "width": 10, "height": 10},  # missing_image
            {"id": 4, "file_name": "e.png"},  # duplicate_id + malformed (no size)
        ],
        "annotations": [
            ann(1, 1, 1, [10, 10, 20, 20]),  # fine
            ann(2, 1, 1, [90, 10, 20, 20]),  # box_outside (x1=110 > 100)
            ann(3, 1, 1, [10, 10, 0, 5]),  # degenerate_box
            ann(4, 1, 1, [float("nan"), 1, 2, 2], seg=[]),  # non_finite + empty_seg
            ann(5, 1, 9, [1, 1, 2, 2]),  # unknown_category
            ann(6, 7, 1, [1, 1, 2, 2]),  # unknown_image
            ann(1, 1, 1, [1, 1, 2, 2], seg=[[1, 1, 2, 2]]),  # duplicate_id + empty_seg
            {"id": 8, "image_id": 1, "category_id": 1},  # malformed (no bbox)
        ],
        "categories": [{"id": 1, "name": "text"}, {"id": 2, "name": "title"}],
    }


def test_validate_counts_every_kind(tmp_path: Path) -> None:
    report = validate_coco(bad_dataset(tmp_path), tmp_path)
    assert report.counts() == {
        "box_outside": 1,
        "degenerate_box": 1,
        "duplicate_id": 2,
        "empty_page": 4,
        "box_only": 2,
        "empty_segmentation": 1,
        "malformed": 2,
        "missing_image": 2,
        "non_finite": 1,
        "size_mismatch": 1,
        "unknown_category": 1,
        "unknown_image": 1,
        "unreadable_image": 1,
        "unused_category": 1,
    }
    assert not report.ok
    assert len(report.errors) == 14 and len(report.warnings) == 7
    assert report.class_counts == {"text": 7, "title": 0}
    assert report.class_images == {"text": 2, "title": 0}
    issue = next(i for i in report.issues if i.kind == "size_mismatch")
    assert str(issue) == "image id=2 ('b.png'): declared 80x60, file is 60x60"
    issue = next(i for i in report.issues if i.kind == "box_outside")
    assert (
        str(issue)
        == "annotation id=2 (image 1): bbox [90.0, 10.0, 20.0, 20.0] outside the 100x50 image"
    )
    text = report.format(max_per_kind=1)
    assert (
        "error duplicate_id: 2\n  image id=4 ('e.png'): image id 4 used more than once\n"
        "  ... and 1 more" in text
    )
    assert text.splitlines()[:4] == [
        "5 images, 8 annotations, 2 categories",
        "annotations per class (images):",
        "  text         7 (2)",
        "  title        0 (0)",
    ]
    assert text.splitlines()[-1] == "14 errors, 7 warnings"


def test_validate_clean_dataset_without_images_dir() -> None:
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 50}],
        "annotations": [ann(1, 1, 1, [0, 0, 100, 50])],
        "categories": [{"id": 1, "name": "text"}],
    }
    report = validate_coco(coco)
    assert report.ok and report.issues == []
    assert report.format().splitlines()[-1] == "OK"


def test_fix_clips_drops_and_reports(tmp_path: Path) -> None:
    coco = bad_dataset(tmp_path)
    original = copy.deepcopy(coco)
    result = fix_coco(coco, tmp_path)
    assert coco == original  # input untouched
    assert dict(result.changes) == {
        "dropped images with missing or unreadable files": 3,
        "clipped boxes to the image": 1,
        "clipped polygons to the image": 1,
        "dropped degenerate boxes": 1,
        "dropped annotations with non-finite values": 1,
        "dropped annotations of unknown categories": 1,
        "dropped annotations of unknown or dropped images": 1,
        "replaced empty segmentation by the box rectangle": 1,
        "renumbered repeated or invalid annotation ids": 1,
        "dropped annotations with a malformed bbox": 1,
    }
    assert result.coco["images"] == original["images"][:2]
    assert result.coco["annotations"] == [
        ann(1, 1, 1, [10, 10, 20, 20]),
        ann(
            2, 1, 1, [90.0, 10.0, 10.0, 20.0], seg=[[90, 10, 100, 10, 100, 30, 90, 30]], area=200.0
        ),
        ann(3, 1, 1, [1, 1, 2, 2], area=4.0),  # was a second id 1; rectangle segmentation
    ]
    # What cannot be fixed safely stays reported: the declared size of b.png.
    assert result.report.counts() == {"empty_page": 1, "size_mismatch": 1, "unused_category": 1}
    assert result.format().splitlines()[0] == "dropped images with missing or unreadable files: 3"


def test_load_coco_structure_and_atomic_write(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"images": {}, "annotations": [1], "categories": []}))
    with pytest.raises(DatasetError) as exc:
        load_coco(path)
    assert str(exc.value).splitlines() == [
        f"2 problems in COCO file {path}:",
        f"  {path}: top-level 'images' must be a list, got dict",
        f"  {path}: 'annotations' items [0] are not objects",
    ]
    good = {"images": [], "annotations": [], "categories": []}
    write_coco(tmp_path / "sub" / "d.json", good)
    assert load_coco(tmp_path / "sub" / "d.json") == good
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["d.json"]
