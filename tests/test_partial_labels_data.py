"""Partial labels through the data commands: the field (and LVIS's), validate (+ --fix),
convert (+ label maps, --labelled-classes), merge, split, show and the training loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.data.coco import labelled_category_ids
from layoutft.data.convert import convert
from layoutft.data.fix import fix_coco
from layoutft.data.labelmap import LabelMap, labelled_outputs
from layoutft.data.loader import load_pages, to_model_input
from layoutft.data.merge import MergeInput, merge_coco
from layoutft.data.show import show_coco
from layoutft.data.split import split_coco
from layoutft.data.validate import ALL_LABELLED, validate_coco
from layoutft.errors import DatasetError
from tests.coco_helpers import ann, cats, make_image

runner = CliRunner()


def dataset(root: Path, names: list[str], labelled: list[Any], anns: list[tuple[int, int]]) -> Path:
    """COCO file ``root/data.json``, images 1..N (60x40 px in ``root/images``) with
    ``labelled[i]`` as field value (``...`` = no field), annotations ``(image, category)``."""
    images = []
    for i, lab in enumerate(labelled, start=1):
        make_image(root / "images" / f"p{i}.png", 60, 40)
        img: dict[str, Any] = {"id": i, "file_name": f"p{i}.png", "width": 60, "height": 40}
        if lab is not ...:
            img["labelled_category_ids"] = lab
        images.append(img)
    records = [ann(k + 1, im, c, [5, 5 + 2 * k, 20, 2], 40) for k, (im, c) in enumerate(anns)]
    path = root / "data.json"
    path.write_text(
        json.dumps({"images": images, "annotations": records, "categories": cats(*names)})
    )
    return path


def test_field_absent_explicit_and_lvis_federated() -> None:
    assert labelled_category_ids({"id": 1}, [1, 2]) is None
    assert labelled_category_ids({"labelled_category_ids": [3]}, [1, 2]) == [3]
    # LVIS: (annotated - not exhaustive) | neg
    lvis = {"neg_category_ids": [7, 5], "not_exhaustive_category_ids": [2]}
    assert labelled_category_ids(lvis, [1, 2, 2, 4]) == [1, 4, 5, 7]
    assert labelled_category_ids({"neg_category_ids": []}, [3]) == [3]
    # labelled_category_ids wins over LVIS's fields
    assert labelled_category_ids({**lvis, "labelled_category_ids": []}, [1]) == []


def test_validate_reports_labelled_sets_bad_fields_and_unlabelled_annotations(
    tmp_path: Path,
) -> None:
    path = dataset(
        tmp_path,
        ["text", "table"],
        [[2], [2], ..., [1, 2], ["x", 9, 2, 2], [2]],
        [(1, 2), (2, 2), (3, 1), (6, 1)],
    )
    coco = json.loads(path.read_text())
    report = validate_coco(coco, tmp_path / "images")
    # images 1, 2, 6 label tables only; 3 has no field and 4 lists everything: all; 5 is bad
    assert report.labelled_sets == {"table": 3, ALL_LABELLED: 3}
    assert report.labelled_by_image == {1: ["table"], 2: ["table"], 6: ["table"]}
    bad = [i for i in report.issues if i.kind == "bad_labelled"]
    assert len(bad) == 1 and bad[0].record.startswith("image id=5")
    assert "non-integer entries ['x']" in bad[0].message
    assert "unknown category ids [9]" in bad[0].message and "repeats ids [2]" in bad[0].message
    warned = [i for i in report.issues if i.kind == "unlabelled_annotation"]
    assert [w.record for w in warned] == ["image id=6 ('p6.png')"]
    assert "['text']" in warned[0].message
    text = report.format()
    assert "labelled classes (images):\n  table: 3\n  (all): 3" in text
    assert "error bad_labelled: 1" in text and "warning unlabelled_annotation: 1" in text
    listing = report.format_labelled(coco["images"])
    assert listing.splitlines() == [
        "image id=1 ('p1.png'): table",
        "image id=2 ('p2.png'): table",
        "image id=6 ('p6.png'): table",
    ]
    # --fix keeps the known integer ids once each; the result is clean
    fixed = fix_coco(coco, tmp_path / "images")
    assert fixed.coco["images"][4]["labelled_category_ids"] == [2]
    assert fixed.changes == {
        "removed unknown, invalid or repeated ids from labelled_category_ids": 1
    }
    assert fixed.report.ok
    bad_type = {**coco, "images": [dict(coco["images"][0], labelled_category_ids="table")]}
    assert not fix_coco(bad_type).report.ok  # not a list: left for the user


def test_validate_cli_lists_images_and_fully_labelled_output_is_unchanged(tmp_path: Path) -> None:
    full = dataset(tmp_path / "full", ["text", "table"], [..., ...], [(1, 1), (2, 2)])
    result = runner.invoke(app, ["validate", str(full)])
    assert result.exit_code == 0 and "labelled classes" not in result.output
    partial = dataset(tmp_path / "part", ["text", "table"], [[2], ...], [(1, 2), (2, 1)])
    result = runner.invoke(app, ["validate", str(partial), "-v"])
    assert result.exit_code == 0, result.output
    assert "labelled classes (images):\n  table: 1\n  (all): 1" in result.output
    assert "image id=1 ('p1.png'): table" in result.output
    bad = dataset(tmp_path / "bad", ["text"], [[True, 1.5]], [(1, 1)])
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1 and "non-integer entries [True, 1.5]" in result.output


def test_loader_gives_a_class_mask_only_to_partial_pages(tmp_path: Path) -> None:
    path = dataset(tmp_path, ["text", "table", "figure"], [[2], [3, 1, 2], [], ...], [(1, 2)])
    pages, labels = load_pages(path)
    assert labels == ["text", "table", "figure"]
    assert pages[0].labelled is not None and pages[0].labelled.tolist() == [False, True, False]
    assert pages[1].labelled is None and pages[3].labelled is None  # all labelled
    assert pages[2].labelled is not None and not pages[2].labelled.any()  # nothing labelled
    from layoutft.data.augment import Sample

    image = np.zeros((40, 60, 3), np.uint8)
    sample = Sample(image, pages[0].boxes, None, None)
    record = to_model_input(sample, pages[0], "RGB", mask_on=False)
    assert record["labelled"].dtype.is_floating_point is False
    assert record["labelled"].tolist() == [False, True, False]
    full = Sample(image, pages[3].boxes, None, None)
    assert "labelled" not in to_model_input(full, pages[3], "RGB", mask_on=False)


def test_loader_strips_masks_when_partial_labels_are_off(tmp_path: Path) -> None:
    from layoutft.config import default_config
    from layoutft.data.loader import build_train_loader
    from layoutft.data.settings import DataSettings

    path = dataset(tmp_path, ["text", "table"], [[2], [2]], [(1, 2), (2, 2)])
    pages, _ = load_pages(path)
    cfg = default_config()
    cfg.SOLVER.IMS_PER_BATCH = 2
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.MODEL.MASK_ON = False
    batch = next(build_train_loader(pages, DataSettings.from_config(cfg), seed=0))
    assert [r["labelled"].tolist() for r in batch] == [[False, True]] * 2
    cfg.LAYOUTFT.PARTIAL_LABELS = False
    batch = next(build_train_loader(pages, DataSettings.from_config(cfg), seed=0))
    assert all("labelled" not in r for r in batch)


def test_merge_gives_a_table_only_set_its_field_and_renumbers_ids(tmp_path: Path) -> None:
    tables = dataset(tmp_path / "t", ["table"], [..., ...], [(1, 1), (2, 1)])
    full = dataset(tmp_path / "f", ["text", "title", "table"], [..., [3]], [(1, 1), (2, 3)])
    result = merge_coco([MergeInput(tables), MergeInput(full)], tmp_path / "m.json")
    merged = result.coco
    assert result.counts == [2, 2]
    ids = {c["name"]: c["id"] for c in merged["categories"]}
    assert ids == {"table": 1, "text": 2, "title": 3}
    fields = [im.get("labelled_category_ids") for im in merged["images"]]
    # table-only pages label tables only; the full set's first page labels its own
    # categories = all merged ones (no field); its second page's table id 3 -> 1
    assert fields == [[1], [1], None, [1]]
    assert validate_coco(merged, tmp_path).labelled_sets == {"table": 3, ALL_LABELLED: 1}

    # same category sets and no field: the merge is what it always was
    again = merge_coco([MergeInput(full), MergeInput(full)], tmp_path / "m.json").coco
    assert [im.get("labelled_category_ids") for im in again["images"]] == [None, [3], None, [3]]
    plain = dataset(tmp_path / "p", ["text"], [...], [(1, 1)])
    same = merge_coco([MergeInput(plain), MergeInput(plain)], tmp_path / "m.json").coco
    assert all("labelled_category_ids" not in im for im in same["images"])


def test_merge_renumbers_lvis_fields(tmp_path: Path) -> None:
    path = dataset(tmp_path / "l", ["cat", "dog", "cow"], [...], [(1, 1), (1, 2)])
    coco = json.loads(path.read_text())
    coco["images"][0].update(neg_category_ids=[3], not_exhaustive_category_ids=[2])
    path.write_text(json.dumps(coco))
    other = dataset(tmp_path / "o", ["cow", "cat"], [...], [(1, 1)])
    merged = merge_coco([MergeInput(other), MergeInput(path)], tmp_path / "m.json").coco
    ids = {c["name"]: c["id"] for c in merged["categories"]}  # cow 1, cat 2, dog 3
    img = merged["images"][1]
    assert img["neg_category_ids"] == [ids["cow"]]
    assert img["not_exhaustive_category_ids"] == [ids["dog"]]
    # labelled: (annotated {cat, dog} - {dog}) | {cow}
    assert img["labelled_category_ids"] == sorted([ids["cat"], ids["cow"]])


def test_split_keeps_the_field_per_image(tmp_path: Path) -> None:
    path = dataset(tmp_path, ["text", "table"], [[2], ..., [1], [2]], [(1, 2), (3, 1)])
    coco = json.loads(path.read_text())
    parts = split_coco(coco, [0.5, 0.5], seed=1, names=("a", "b"), group_by="image")
    by_id = {im["id"]: im for part in parts.values() for im in part["images"]}
    assert by_id == {im["id"]: im for im in coco["images"]}


def source_coco(root: Path) -> Path:
    """A COCO export with source labels Paragraph, Caption, Table, Noise."""
    return dataset(
        root,
        ["Paragraph", "Caption", "Table", "Noise"],
        [[1, 3], [1, 2], [3, 4], ..., [1, 2, 3]],
        [(1, 1), (1, 3), (2, 2), (3, 3), (4, 1), (5, 1)],
    )


LABEL_MAP = {
    "map": {"Paragraph": "text", "Caption": "text", "Table": "table"},
    "drop": ["Noise"],
    "categories": ["text", "table", "figure"],
}


def test_labelled_outputs_follow_the_label_map() -> None:
    target = {"Paragraph": "text", "Caption": "text", "Table": "table", "Noise": None}
    sources = list(target)
    outputs = ["text", "table", "figure"]
    assert labelled_outputs(["Paragraph", "Table"], sources, target, outputs) == ["table"]
    assert labelled_outputs(["Paragraph", "Caption"], sources, target, outputs) == ["text"]
    assert labelled_outputs(["Noise"], sources, target, outputs) == []
    # no source feeds "figure": never labelled by a partial page
    assert labelled_outputs(sources, sources, target, outputs) == ["text", "table"]


def test_convert_maps_labelled_classes_through_the_label_map(tmp_path: Path) -> None:
    src = source_coco(tmp_path / "src")
    out = convert("coco", [src], tmp_path / "out", labels=LabelMap.from_dict(LABEL_MAP)).coco
    assert [c["name"] for c in out["categories"]] == ["text", "table", "figure"]
    fields = [im.get("labelled_category_ids") for im in out["images"]]
    # p1 [Paragraph, Table]: text incomplete (Caption not labelled) -> table;
    # p2 [Paragraph, Caption] -> text; p3 [Table, Noise] -> table; p4: no field = all;
    # p5 [Paragraph, Caption, Table]: text and table but not figure (nothing feeds it)
    assert fields == [[2], [1], [2], None, [1, 2]]
    assert validate_coco(out, tmp_path / "out" / "images").ok

    # without a label map: ids renumbered, a full list is left out
    plain = convert("coco", [src], tmp_path / "plain").coco
    assert [c["name"] for c in plain["categories"]] == ["Paragraph", "Caption", "Table", "Noise"]
    assert [im.get("labelled_category_ids") for im in plain["images"]] == [
        [1, 3], [1, 2], [3, 4], None, [1, 2, 3]
    ]  # fmt: skip


def test_convert_labelled_classes_option_and_unchanged_full_datasets(tmp_path: Path) -> None:
    src = dataset(tmp_path / "src", ["text", "table"], [..., ...], [(1, 2), (2, 1)])
    before = convert("coco", [src], tmp_path / "a").coco
    assert all("labelled_category_ids" not in im for im in before["images"])
    result = runner.invoke(
        app,
        ["convert", str(src), "--from", "coco", "-o", str(tmp_path / "b"),
         "--labelled-classes", "table"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    after = json.loads((tmp_path / "b" / "annotations.json").read_text())
    assert [im["labelled_category_ids"] for im in after["images"]] == [[2], [2]]
    every = convert("coco", [src], tmp_path / "c", labelled_classes=["table", "text"]).coco
    assert (tmp_path / "c" / "annotations.json").read_bytes() == (
        tmp_path / "a" / "annotations.json"
    ).read_bytes()
    assert every == before
    with pytest.raises(DatasetError, match=r"\['tables'\] are not output classes"):
        convert("coco", [src], tmp_path / "d", labelled_classes=["tables"])
    assert not (tmp_path / "d").exists()


def test_convert_reports_bad_fields_of_coco_input(tmp_path: Path) -> None:
    src = dataset(tmp_path / "src", ["text"], [[5]], [(1, 1)])
    with pytest.raises(
        DatasetError, match=r"'labelled_category_ids' names unknown category ids \[5\]"
    ):
        convert("coco", [src], tmp_path / "out")


def test_show_captions_partial_pages_only(tmp_path: Path) -> None:
    path = dataset(tmp_path, ["text", "table"], [[2], ...], [(1, 2), (2, 1)])
    coco = json.loads(path.read_text())
    report = show_coco(coco, tmp_path / "images", tmp_path / "show", n=2)
    sizes = {p.name: Image.open(p).size for p in report.written}
    assert sizes["p2.png"] == (60, 40)  # fully labelled: drawn as before
    width, height = sizes["p1.png"]
    assert width == 60 and height > 40  # a caption band above the page
    band = np.asarray(Image.open(tmp_path / "show" / "p1.png"))[: height - 40]
    assert (band < 128).any() and (band == 255).mean() > 0.5  # dark text on white
    from layoutft.data.show import labelled_caption

    assert labelled_caption(coco, coco["images"][0]) == "labelled: table | not labelled: text"
    assert labelled_caption(coco, coco["images"][1]) is None
