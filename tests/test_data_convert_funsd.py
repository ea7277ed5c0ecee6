"""FUNSD (one JSON per page, ``annotations/`` + ``images/``) and XFUND (one JSON, many pages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import layoutft.cli
from layoutft.data.convert import convert
from layoutft.errors import DatasetError
from tests.coco_helpers import ann, cats, load, make_image


def entity(eid: int, box: list[float], label: str, text: str = "", links: Any = ()) -> Any:
    words = [{"box": box, "text": w} for w in text.split()]
    return {
        "box": box,
        "text": text,
        "label": label,
        "words": words,
        "linking": [list(p) for p in links],
        "id": eid,
    }


def funsd_tree(root: Path) -> Path:
    """FUNSD's layout: ``annotations/a.json`` + ``images/a.png`` (and b)."""
    make_image(root / "images" / "a.png", 200, 100)
    make_image(root / "images" / "b.png", 200, 100)
    a = [
        entity(0, [10, 5, 90, 20], "header", "ORDER FORM"),
        entity(1, [10, 30, 50, 40], "question", "Date:", [(1, 2)]),
        entity(2, [60, 30, 120, 40], "answer", "5/6/98", [(1, 2)]),
        entity(3, [150, 80, 190, 95], "other", ""),
    ]
    b = [entity(0, [5, 5, 195, 15], "question", "Name", [(0, 7)])]
    (root / "annotations").mkdir()
    (root / "annotations" / "a.json").write_text(json.dumps({"form": a}))
    (root / "annotations" / "b.json").write_text(json.dumps({"form": b}))
    return root / "annotations"


def test_funsd_folder_to_exact_coco(tmp_path: Path) -> None:
    annotations = funsd_tree(tmp_path / "funsd")
    result = convert("funsd", [annotations], tmp_path / "out")
    coco = load(tmp_path / "out")
    assert coco["categories"] == cats("header", "question", "answer", "other")
    assert [im["file_name"] for im in coco["images"]] == ["a.png", "b.png"]
    assert coco["annotations"] == [
        ann(1, 1, 1, [10, 5, 80, 15], 1200, entity_id=0, text="ORDER FORM"),
        ann(2, 1, 2, [10, 30, 40, 10], 400, entity_id=1, text="Date:", linking=[[1, 2]]),
        ann(3, 1, 3, [60, 30, 60, 10], 600, entity_id=2, text="5/6/98", linking=[[1, 2]]),
        ann(4, 1, 4, [150, 80, 40, 15], 600, entity_id=3),  # empty text: no "text" field
        ann(5, 2, 2, [5, 5, 190, 10], 1900, entity_id=0, text="Name", linking=[[0, 7]]),
    ]
    assert (tmp_path / "out" / "images" / "b.png").is_file()
    # entity 7 is not on page b: kept as written, counted in a note
    assert len(result.notes) == 1 and "1 linking pair(s)" in result.notes[0]
    assert "b.json, entity id=0: [0, 7]" in result.notes[0]


def test_xfund_one_file_many_pages_sizes_checked(tmp_path: Path) -> None:
    make_image(tmp_path / "zh.train" / "zh_1.jpg", 300, 200)
    make_image(tmp_path / "zh.train" / "zh_2.jpg", 300, 200)
    docs = [
        {
            "id": "zh_1",
            "uid": "x",
            "img": {"fname": "zh_1.jpg", "width": 300, "height": 200},
            "document": [
                entity(0, [1, 2, 31, 12], "question", "姓名", [(0, 1)]),
                entity(1, [40, 2, 90, 12], "answer", "张三", [(0, 1)]),
            ],
        },
        {
            "id": "zh_2",
            "img": {"fname": "zh_2.jpg", "width": 320, "height": 200},  # wrong width
            "document": [entity(0, [1, 2, 31, 12], "header", "表")],
        },
    ]
    path = tmp_path / "zh.train.json"
    path.write_text(json.dumps({"lang": "zh", "version": "0.1", "documents": docs}))
    with pytest.raises(DatasetError, match=r"export says 320x200 but image zh_2\.jpg is 300x200"):
        convert("funsd", [path], tmp_path / "out")
    docs[1]["img"]["width"] = 300
    path.write_text(json.dumps({"documents": docs}))
    convert("funsd", [path], tmp_path / "out")
    coco = load(tmp_path / "out")
    assert coco["categories"] == cats("header", "question", "answer")
    assert [(a["image_id"], a["category_id"], a["text"]) for a in coco["annotations"]] == [
        (1, 2, "姓名"),
        (1, 3, "张三"),
        (2, 1, "表"),
    ]
    assert coco["annotations"][0]["linking"] == [[0, 1]]


def test_bad_entities_all_reported_nothing_written(tmp_path: Path) -> None:
    make_image(tmp_path / "p.png", 100, 100)
    form = [
        entity(0, [10, 10, 20, 20], "question"),
        {"id": 1, "box": [1, 2, 3], "label": "answer"},
        {"id": 2, "box": [1, 2, 3, 4], "label": ""},
        {"id": 3, "box": [1, 2, 30, 40], "label": "answer", "linking": [[1, 2, 3]]},
        {"id": 4, "box": [50, 50, 50, 60], "label": "answer"},  # zero width
        "not an entity",
    ]
    (tmp_path / "p.json").write_text(json.dumps({"form": form}))
    (tmp_path / "q.json").write_text(json.dumps({"form": []}))  # no q.png anywhere
    (tmp_path / "r.json").write_text(json.dumps({"pages": []}))
    with pytest.raises(DatasetError) as info:
        convert("funsd", [tmp_path], tmp_path / "out")
    text = str(info.value)
    assert "7 problems" in text
    assert "entity id=1: box must be [x0, y0, x1, y1] numbers" in text
    assert "entity id=2: label must be a non-empty string" in text
    assert "entity id=3: linking must be [[id, id], ...]" in text
    assert "entity id=4" in text and "zero-size box" in text
    assert "entity #5: entity must be an object" in text
    assert "q.json: no image named q.png" in text and "pass --images DIR" in text
    assert "r.json: expected a FUNSD page" in text
    assert not (tmp_path / "out").exists()


def test_cli_list_labels_and_convert(tmp_path: Path) -> None:
    annotations = funsd_tree(tmp_path / "funsd")
    runner = CliRunner()
    listed = runner.invoke(
        layoutft.cli.app, ["convert", "--from", "funsd", str(annotations), "--list-labels"]
    )
    assert listed.exit_code == 0, listed.output
    assert "funsd: 2 pages, 5 regions, 4 labels" in listed.output
    out = runner.invoke(
        layoutft.cli.app,
        ["convert", "--from", "funsd", str(annotations), "-o", str(tmp_path / "o"), "-q"],
    )
    assert out.exit_code == 0, out.output
    assert "2 images, 5 annotations (header 1, question 2, answer 1, other 1)" in out.output
