"""`layoutft merge` for a multi-source training set: source names (FILE.json@NAME), a
fixed category order (--categories), partial labels carried across renumbered ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.cli.data import parse_merge_input
from layoutft.data.merge import MergeInput, default_names, merge_coco
from layoutft.errors import DatasetError
from tests.coco_helpers import ann, make_image

runner = CliRunner()


def dataset(root: Path, cats: list[tuple[int, str]], images: int = 2, **extra: object) -> Path:
    """``root/train/annotations.json`` (as `layoutft dataset build` lays out a source):
    ``images`` pages, page i with one region of category ``cats[i % len(cats)]``;
    ``extra`` fields on every image record."""
    folder = root / "train"
    records, anns = [], []
    for i in range(images):
        make_image(folder / "images" / f"p{i}.png", 60, 40)
        records.append({"id": 5 + i, "file_name": f"p{i}.png", "width": 60, "height": 40,
                        **extra})  # fmt: skip
        anns.append(ann(50 + i, 5 + i, cats[i % len(cats)][0], [5, 5, 20, 10], 200))
    coco = {"images": records, "annotations": anns,
            "categories": [{"id": c, "name": n} for c, n in cats]}  # fmt: skip
    path = folder / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


def test_names_categories_and_partial_labels(tmp_path: Path) -> None:
    ctdar = dataset(tmp_path / "ctdar", [(4, "Table")])
    full = dataset(tmp_path / "html", [(1, "Text"), (2, "Title"), (3, "Table")])
    # a page that already says what it labels, with its own ids: Title (9) only
    partial = dataset(tmp_path / "exams", [(8, "Text"), (9, "Title")], labelled_category_ids=[9])
    out = tmp_path / "mix" / "train.json"
    order = "Title,Text,Table,Picture"
    args = ["merge", f"{full}@html", f"{ctdar}@ctdar", str(partial), "--categories", order]
    result = runner.invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    merged = json.loads(out.read_text())
    # --categories fixes the first ids, a class no input has (Picture) included
    assert [(c["id"], c["name"]) for c in merged["categories"]] == [
        (1, "Title"), (2, "Text"), (3, "Table"), (4, "Picture")]  # fmt: skip
    images = merged["images"]
    # unnamed: the stem told apart by its folders (all three are train/annotations.json)
    assert [i["source"] for i in images] == ["html"] * 2 + ["ctdar"] * 2 + [
        "exams/train/annotations"] * 2  # fmt: skip
    # html lacks Picture, so it too labels only some classes: [Title, Text, Table]; the
    # exams pages keep what they said (Title: their id 9, merged id 1)
    assert [i.get("labelled_category_ids") for i in images] == [[1, 2, 3]] * 2 + [[3]] * 2 + [
        [1]] * 2  # fmt: skip
    assert "ctdar: labels only Table" in result.output
    names = {c["id"]: c["name"] for c in merged["categories"]}
    assert [names[a["category_id"]] for a in merged["annotations"]] == [
        "Text", "Title", "Table", "Table", "Text", "Title"]  # fmt: skip


def test_names_of_merged_files_survive_a_second_merge(tmp_path: Path) -> None:
    a = dataset(tmp_path / "a", [(1, "Text")], images=1)
    b = dataset(tmp_path / "b", [(1, "Text")], images=1)
    first = tmp_path / "first.json"
    assert runner.invoke(app, ["merge", f"{a}@A", f"{b}@B", "-o", str(first)]).exit_code == 0
    c = dataset(tmp_path / "c", [(1, "Text")], images=1)
    again = merge_coco([MergeInput(first), MergeInput(c)], tmp_path / "second.json")
    assert [i["source"] for i in again.coco["images"]] == ["A", "B", "annotations"]
    renamed = merge_coco([MergeInput(first, name="old")], tmp_path / "third.json")
    assert [i["source"] for i in renamed.coco["images"]] == ["old", "old"]
    # same categories everywhere: nothing is marked partial
    assert all("labelled_category_ids" not in i for i in again.coco["images"])


def test_argument_syntax_and_bad_names(tmp_path: Path) -> None:
    assert parse_merge_input("x/a.json:imgs@ctdar") == MergeInput(
        Path("x/a.json"), Path("imgs"), "ctdar"
    )
    assert parse_merge_input("a.json@b") == MergeInput(Path("a.json"), None, "b")
    assert parse_merge_input("a.json:im@g/s") == MergeInput(Path("a.json"), Path("im@g/s"))
    weird = tmp_path / "odd@name.json"
    weird.write_text("{}")
    assert parse_merge_input(str(weird)) == MergeInput(weird)
    assert default_names([Path("d/x.json"), Path("e/x.json"), Path("y.json")]) == [
        "d/x", "e/x", "y"]  # fmt: skip
    a = dataset(tmp_path / "a", [(1, "Text")], images=1)
    with pytest.raises(DatasetError, match="source name ' bad' must start"):
        merge_coco([MergeInput(a, name=" bad")], tmp_path / "m.json")
    # ids the file does not define are dropped (validate reports them in the input)
    bad = dataset(tmp_path / "bad", [(1, "Text"), (2, "Title")], images=1,
                  labelled_category_ids=[1, 7])  # fmt: skip
    out = merge_coco([MergeInput(bad), MergeInput(a)], tmp_path / "m.json").coco
    assert [i.get("labelled_category_ids") for i in out["images"]] == [[1], [1]]
