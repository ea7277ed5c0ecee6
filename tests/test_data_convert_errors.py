"""Bad input is reported together, naming file and record; label maps; atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layoutft.data.convert import convert
from layoutft.data.labelmap import LabelMap, load_label_map
from layoutft.errors import DatasetError
from tests.coco_helpers import make_image


def yolo_dataset(root: Path, lines: str, names: str = "text\ntitle\nfigure\n") -> Path:
    make_image(root / "images" / "a.png", 100, 50)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "a.txt").write_text(lines)
    (root / "classes.txt").write_text(names)
    return root


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_yolo_bad_lines_all_reported(tmp_path: Path) -> None:
    root = yolo_dataset(
        tmp_path / "ds",
        "0 0.5 0.5 0.2 0.2\n0 1.2 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n0 a b c d\n0 0.5 0.5\n",
    )
    with pytest.raises(DatasetError) as exc:
        convert("yolo", [root], tmp_path / "out")
    label_file = root / "labels" / "a.txt"
    assert str(exc.value).splitlines() == [
        "4 problems in the yolo input:",
        f"  {label_file}: line 2: value 1.2 outside [0, 1] (coordinates are normalized)",
        f"  {label_file}: line 3: class 7 not in 0..2",
        f"  {label_file}: line 4: expected numbers, got '0 a b c d'",
        f"  {label_file}: line 5: expected 'cls cx cy w h' or 'cls x1 y1 x2 y2 x3 y3 ...', "
        "got '0 0.5 0.5'",
        "Fix the records above and convert again.",
    ]
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == []


def test_labelstudio_percent_out_of_range_names_task_and_result(tmp_path: Path) -> None:
    make_image(tmp_path / "p.png", 200, 100)
    result = {
        "id": "r9",
        "type": "rectanglelabels",
        "original_width": 200,
        "original_height": 100,
        "value": {"x": 104, "y": 0, "width": 5, "height": 5, "rectanglelabels": ["Text"]},
    }
    export = tmp_path / "ls.json"
    export.write_text(
        json.dumps([{"id": 3, "data": {"image": "p.png"}, "annotations": [{"result": [result]}]}])
    )
    with pytest.raises(
        DatasetError,
        match=r"ls\.json: task id 3, result 'r9': percent value 104 "
        r"outside \[0, 100\]",
    ):
        convert("labelstudio", [export], tmp_path / "out")


def test_labelstudio_names_a_task_by_its_id_else_its_position(tmp_path: Path) -> None:
    """'task id 17' is the task's own id; 'task #2 (no id)' the 1-based position of a task
    without one: never the position for a task that has an id."""
    make_image(tmp_path / "p.png", 200, 100)
    bad = {"id": "r1", "type": "rectanglelabels", "original_width": 200, "original_height": 100}
    tasks = [
        {"id": 17, "data": {"image": "p.png"}, "annotations": [{"result": [bad]}]},
        {"data": {"image": "p.png"}, "annotations": [{"result": [bad]}]},
        {"id": 0, "data": {"image": "gone.png"}, "annotations": [{"result": []}]},
        ["not a task"],
    ]
    export = tmp_path / "ls.json"
    export.write_text(json.dumps(tasks))
    with pytest.raises(DatasetError) as exc:
        convert("labelstudio", [export], tmp_path / "out")
    lines = str(exc.value).splitlines()
    need = "needs 'value', 'original_width' and 'original_height'"
    assert lines[1] == f"  {export}: task id 17, result 'r1': {need}"
    assert lines[2] == f"  {export}: task #2 (no id), result 'r1': {need}"
    assert lines[3].startswith(f"  {export}: task id 0: image 'gone.png' not found")
    assert lines[4] == f"  {export}: task #4 (no id): a task needs a 'data' object"


def test_labelstudio_rotated_image_rejected(tmp_path: Path) -> None:
    """A result drawn on a rotated image view (image_rotation != 0) is refused, not misread."""
    make_image(tmp_path / "p.png", 200, 100)
    result = {
        "id": "r1",
        "type": "rectanglelabels",
        "original_width": 200,
        "original_height": 100,
        "image_rotation": 90,
        "value": {"x": 10, "y": 10, "width": 5, "height": 5, "rectanglelabels": ["Text"]},
    }
    export = tmp_path / "ls.json"
    task = {"id": 4, "data": {"image": "p.png"}, "annotations": [{"result": [result]}]}
    export.write_text(json.dumps([task]))
    with pytest.raises(DatasetError) as exc:
        convert("labelstudio", [export], tmp_path / "out")
    assert str(exc.value).splitlines()[1] == (
        f"  {export}: task id 4, result 'r1': image_rotation is not supported; "
        "export without rotating the image"
    )
    assert leftovers(tmp_path) == []


def test_malformed_json_and_xml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 1,,}]')
    with pytest.raises(DatasetError, match=r"bad\.json: malformed JSON at line 1, column 11"):
        convert("labelstudio", [bad], tmp_path / "out")
    xml = tmp_path / "annotations.xml"
    xml.write_text("<annotations><image name='a.png'></annotations>")
    with pytest.raises(DatasetError, match=r"annotations\.xml: malformed XML at line 1, column"):
        convert("cvat", [xml], tmp_path / "out")


def test_unreadable_and_missing_images(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not a png")
    xml = tmp_path / "annotations.xml"
    xml.write_text(
        "<annotations><version>1.1</version>"
        '<image id="0" name="broken.png" width="10" height="10"/>'
        '<image id="1" name="gone.png" width="10" height="10"/></annotations>'
    )
    with pytest.raises(DatasetError) as exc:
        convert("cvat", [xml], tmp_path / "out")
    # The reader's problem (missing file) and the builder's (unreadable file) come together.
    lines = str(exc.value).splitlines()
    assert lines[0] == "2 problems in the cvat input:"
    assert lines[1].startswith(f"  {xml}: image id='1' (gone.png): image 'gone.png' not found")
    assert lines[1].endswith("pass --images DIR")
    assert lines[2].startswith(f"  {xml}: image id='0' (broken.png): cannot read image")
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == []


def test_size_mismatch_and_geometry_problems(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png", 100, 100)
    xml = tmp_path / "annotations.xml"
    xml.write_text(
        "<annotations><version>1.1</version>"
        '<image id="0" name="a.png" width="100" height="100">'
        '<box label="t" xtl="10" ytl="10" xbr="10" ybr="20"/>'
        '<box label="t" xtl="10" ytl="10" xbr="150" ybr="20"/>'
        '<box label="t" xtl="99" ytl="10" xbr="100.5" ybr="20"/>'
        '<polygon label="t" points="1,1;5,5;9,9"/>'
        "</image>"
        '<image id="1" name="a.png" width="80" height="100"/></annotations>'
    )
    with pytest.raises(DatasetError) as exc:
        convert("cvat", [xml], tmp_path / "out")
    where = f"{xml}: image id="
    assert str(exc.value).splitlines()[1:5] == [
        f"  {where}'1' (a.png): image 'a.png' already used by {where}'0' (a.png); "
        "each image may appear once",
        f"  {where}'0' (a.png), <box> #0 (label 't'): zero-size box [10, 10, 10, 20]",
        f"  {where}'0' (a.png), <box> #1 (label 't'): coordinates outside the 100x100 image",
        f"  {where}'0' (a.png), <polygon> #3 (label 't'): polygon has zero area",
    ]
    assert f"{where}'1' (a.png): export says 80x100 but image a.png is 100x100" in str(exc.value)


def test_existing_output_needs_overwrite_which_keeps_other_files(tmp_path: Path) -> None:
    root = yolo_dataset(tmp_path / "ds", "0 0.5 0.5 0.2 0.2\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    convert("yolo", [root], out)  # other files in the folder are no conflict
    assert sorted(p.name for p in out.iterdir()) == ["annotations.json", "images", "notes.txt"]
    (out / "images" / "stale.png").write_bytes(b"old")
    with pytest.raises(DatasetError, match=r"annotations.json already exists; pass --overwrite"):
        convert("yolo", [root], out)
    convert("yolo", [root], out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["annotations.json", "images", "notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "images").iterdir()) == ["a.png"]  # replaced whole
    assert leftovers(tmp_path) == [] and leftovers(out) == []


# --- label maps ----------------------------------------------------------------------------

LINES = "0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n2 0.5 0.5 0.2 0.2\n3 0.5 0.5 0.2 0.2\n"
NAMES = "Paragraph\nCaption\nHeading\nNoise\n"


def categories_of(out: Path) -> tuple[list[str], list[int]]:
    coco = json.loads((out / "annotations.json").read_text())
    names = [c["name"] for c in coco["categories"]]
    return names, [a["category_id"] for a in coco["annotations"]]


def test_label_map_rename_merge_drop(tmp_path: Path) -> None:
    root = yolo_dataset(tmp_path / "ds", LINES, NAMES)
    (tmp_path / "map.yaml").write_text(
        "map: {Paragraph: text, Caption: text, Heading: title}\n"
        "drop: [Noise]\n"
        "categories: [text, title, figure]\n"
    )
    convert("yolo", [root], tmp_path / "out", labels=tmp_path / "map.yaml")
    assert categories_of(tmp_path / "out") == (["text", "title", "figure"], [1, 1, 2])


def test_label_map_unknown_labels_listed_with_counts(tmp_path: Path) -> None:
    root = yolo_dataset(tmp_path / "ds", LINES + "3 0.5 0.5 0.1 0.1\n", NAMES)
    label_map = LabelMap.from_dict({"map": {"Paragraph": "text"}}, source="map.yaml")
    with pytest.raises(DatasetError) as exc:
        convert("yolo", [root], tmp_path / "out", labels=label_map)
    assert str(exc.value).splitlines()[1] == (
        "  map.yaml: 3 label(s) neither mapped nor dropped: 'Caption' (1), 'Heading' (1), "
        "'Noise' (2); add them to 'map' or 'drop', or pass --keep-unmapped"
    )
    convert("yolo", [root], tmp_path / "out", labels=label_map, keep_unmapped=True)
    assert categories_of(tmp_path / "out") == (
        ["text", "Caption", "Heading", "Noise"],
        [1, 2, 3, 4, 4],
    )


def test_label_map_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("map: {a: x}\ndrop: [a]\ncategories: [y, y]\nextra: 1\n")
    with pytest.raises(DatasetError) as exc:
        load_label_map(path)
    assert str(exc.value) == (
        f"{path}: unknown keys ['extra'] (allowed: map, drop, categories); labels both mapped "
        "and dropped: ['a']; map targets ['x'] are not in 'categories'; 'categories' lists "
        "['y'] more than once"
    )
    with pytest.raises(
        DatasetError,
        match=r"label map not found \(built-in maps: ctdar-doclaynet, docbank-publaynet, "
        r"doclaynet-publaynet, hilex-doclaynet, pagexml-doclaynet, pagexml-publaynet, "
        r"pagexml-transkribus, publaynet-doclaynet, segmonto-doclaynet\)",
    ):
        load_label_map(tmp_path / "nope.yaml")
    assert load_label_map("doclaynet-publaynet").outputs == [
        "text",
        "title",
        "list",
        "table",
        "figure",
    ]


def test_link_hard_links_images(tmp_path: Path) -> None:
    root = yolo_dataset(tmp_path / "ds", "0 0.5 0.5 0.2 0.2\n")
    convert("yolo", [root], tmp_path / "out", link=True)
    linked = tmp_path / "out" / "images" / "a.png"
    assert linked.stat().st_ino == (root / "images" / "a.png").stat().st_ino


def test_unknown_labels_listed_with_the_other_problems(tmp_path: Path) -> None:
    root = yolo_dataset(tmp_path / "ds", LINES + "0 0.5 0.5 0.2\n", NAMES)
    label_map = LabelMap.from_dict({"map": {"Paragraph": "text"}, "drop": ["Noise", "Caption"]})
    with pytest.raises(DatasetError) as exc:
        convert("yolo", [root], tmp_path / "out", labels=label_map)
    lines = str(exc.value).splitlines()
    assert lines[0] == "2 problems in the yolo input:"
    assert lines[1].endswith(
        "line 5: expected 'cls cx cy w h' or 'cls x1 y1 x2 y2 x3 y3 ...', got '0 0.5 0.5 0.2'"
    )
    assert "1 label(s) neither mapped nor dropped: 'Heading' (1)" in lines[2]
    assert leftovers(tmp_path) == []


def test_images_folder_searched_once(tmp_path: Path) -> None:
    export = tmp_path / "ls.json"
    task = {"id": 1, "data": {"image": "gone.png"}, "annotations": [{"result": []}]}
    export.write_text(json.dumps([task]))
    with pytest.raises(DatasetError) as exc:
        convert("labelstudio", [export], tmp_path / "out", images_dir=tmp_path)
    assert f"(searched {tmp_path}, {tmp_path / 'images'})" in str(exc.value)


def test_labelstudio_json_min_export_gets_a_hint(tmp_path: Path) -> None:
    export = tmp_path / "min.json"
    row = {"image": "/data/upload/1/p.png", "id": 2, "label": [{"x": 1, "y": 1}]}
    export.write_text(json.dumps([row]))
    with pytest.raises(DatasetError) as exc:
        convert("labelstudio", [export], tmp_path / "out")
    assert str(exc.value).splitlines()[1] == (
        f"  {export}: task id 2: a task needs a 'data' object "
        "(this looks like a 'JSON-MIN' export: export the project as 'JSON')"
    )


def test_label_map_yaml_error_names_the_place_not_the_contents(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("map: {secret_label_xyz: [unclosed\n")
    with pytest.raises(DatasetError) as exc:
        load_label_map(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: cannot read label map (") and "line 2, column 1" in message
    assert "secret_label_xyz" not in message and "\n" not in message
