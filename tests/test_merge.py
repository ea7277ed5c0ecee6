"""`layoutft merge`: COCO datasets as one, images left where they are."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.data.loader import load_pages
from tests.coco_helpers import ann, make_image

runner = CliRunner()


def dataset(root: Path, names: list[str], cats: list[tuple[int, str]], nested: bool) -> Path:
    """A COCO file in ``root`` naming ``names`` (images in ``root/images`` when ``nested``)."""
    images = root / "images" if nested else root
    records = []
    anns = []
    for i, name in enumerate(names, start=1):
        make_image(images / name, 60, 40)
        records.append({"id": 10 * i, "file_name": name, "width": 60, "height": 40})
        cat = cats[i % len(cats)][0]
        anns.append(ann(100 + i, 10 * i, cat, [5, 5, 20, 10], 200))
    coco = {
        "images": records,
        "annotations": anns,
        "categories": [{"id": c, "name": n} for c, n in cats],
    }
    path = root / "data.json"
    path.write_text(json.dumps(coco))
    return path


def test_merge_matches_categories_by_name_and_keeps_images_in_place(tmp_path: Path) -> None:
    a = dataset(tmp_path / "a", ["p1.png", "p2.png"], [(1, "text"), (2, "table")], nested=True)
    # same names, other ids and order; a category only this set has; a same-named image
    b = dataset(tmp_path / "b", ["p1.png"], [(7, "table"), (3, "figure"), (9, "text")], False)
    out = tmp_path / "mix" / "train.json"
    result = runner.invoke(app, ["merge", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote 3 images, 3 regions, 3 categories (2 from {a}, 1 from {b})" in result.output
    merged = json.loads(out.read_text())
    assert [(c["id"], c["name"]) for c in merged["categories"]] == [
        (1, "text"),
        (2, "table"),
        (3, "figure"),
    ]
    assert [i["id"] for i in merged["images"]] == [1, 2, 3]
    assert [i["file_name"] for i in merged["images"]] == [
        "../a/images/p1.png",
        "../a/images/p2.png",
        "../b/p1.png",
    ]
    # b's p1 (image id 10) had category 3 "figure" at index 1 % 3 -> id 3 in the merge
    names = {c["id"]: c["name"] for c in merged["categories"]}
    assert [(x["image_id"], names[x["category_id"]]) for x in merged["annotations"]] == [
        (1, "table"),
        (2, "text"),
        (3, "figure"),
    ]
    # each image names its input (the file stems, told apart by their folders); a labels
    # text and table only: its pages say so, b labels every merged category
    assert [i["source"] for i in merged["images"]] == ["a/data", "a/data", "b/data"]
    assert [i.get("labelled_category_ids") for i in merged["images"]] == [[1, 2], [1, 2], None]
    assert "a/data: labels only text, table (labelled_category_ids)" in result.output
    pages, labels = load_pages(out)  # the trainer's loader finds every image
    assert labels == ["text", "table", "figure"] and all(p.path.is_file() for p in pages)
    assert [p.source for p in pages] == ["a/data", "a/data", "b/data"]


def test_merge_refuses_missing_images_existing_output_and_inputs(tmp_path: Path) -> None:
    a = dataset(tmp_path / "a", ["p1.png", "p2.png"], [(1, "text")], nested=True)
    (tmp_path / "a" / "images" / "p2.png").unlink()
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["merge", str(a), "-o", str(out)])
    assert result.exit_code == 1
    assert "merge: 1 images not found" in result.output and "FILE.json:IMAGES_DIR" in result.output
    assert not out.exists()

    b = dataset(tmp_path / "b", ["q.png"], [(1, "text")], nested=False)
    result = runner.invoke(app, ["merge", str(b), "-o", str(b)])
    assert result.exit_code == 1 and "choose another -o" in result.output
    out.write_text("{}")
    result = runner.invoke(app, ["merge", str(b), "-o", str(out)])
    assert result.exit_code == 1 and json.loads(out.read_text()) == {}
    # an explicit images folder
    moved = tmp_path / "elsewhere"
    (tmp_path / "b" / "q.png").rename(tmp_path / "q.png")
    moved.mkdir()
    (tmp_path / "q.png").rename(moved / "q.png")
    result = runner.invoke(app, ["merge", f"{b}:{moved}", "-o", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["images"][0]["file_name"] == "elsewhere/q.png"
