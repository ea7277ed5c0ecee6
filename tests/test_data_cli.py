"""`layoutft convert`, `validate` and `split` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app

runner = CliRunner()


def yolo_root(root: Path, lines: str) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for name in ("doc1_p1", "doc1_p2", "doc2_p1", "doc3_p1"):
        Image.new("RGB", (100, 50), "white").save(root / "images" / f"{name}.png")
        (root / "labels" / f"{name}.txt").write_text(lines)
    (root / "classes.txt").write_text("text\ntitle\n")
    return root


def test_convert_validate_split(tmp_path: Path) -> None:
    root = yolo_root(tmp_path / "ds", "0 0.5 0.5 0.2 0.2\n1 0.5 0.2 0.4 0.1\n")
    out = tmp_path / "coco"
    result = runner.invoke(app, ["convert", "--from", "yolo", str(root), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"4 images, 8 annotations (text 4, title 4) -> {out}\n"

    result = runner.invoke(app, ["validate", str(out / "annotations.json")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "4 images, 8 annotations, 2 categories",
        "annotations per class (images):",
        "  text         4 (4)",
        "  title        4 (4)",
        "OK",
    ]

    args = ["split", str(out / "annotations.json"), "--ratios", "0.5,0.5", "--names", "a,b"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "splits")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [ln.split(" -> ")[0] for ln in lines] == [
        "a: 2 images, 4 annotations, 1 documents",
        "b: 2 images, 4 annotations, 2 documents",
    ]
    a = json.loads((tmp_path / "splits" / "a.json").read_text())
    b = json.loads((tmp_path / "splits" / "b.json").read_text())
    assert [i["file_name"] for i in a["images"]] == ["doc1_p1.png", "doc1_p2.png"]
    assert [i["file_name"] for i in b["images"]] == ["doc2_p1.png", "doc3_p1.png"]


def test_validate_errors_exit_1_and_fix(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    Image.new("RGB", (100, 50), "white").save(tmp_path / "images" / "a.png")
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 50}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [90, 0, 20, 10],
                "segmentation": [[90, 0, 110, 0, 110, 10, 90, 10]],
                "area": 200,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [5, 5, 0, 3],
                "segmentation": [],
                "area": 0,
                "iscrowd": 0,
            },
        ],
        "categories": [{"id": 1, "name": "text"}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "error box_outside: 1" in result.output
    assert "error degenerate_box: 1" in result.output
    assert result.output.splitlines()[-1] == "2 errors, 1 warnings"

    fixed = tmp_path / "fixed.json"
    result = runner.invoke(app, ["validate", str(path), "--fix", str(fixed)])
    assert result.exit_code == 0, result.output
    tail = result.output.split(f"--fix wrote {fixed}:\n")[1]
    assert tail.splitlines() == [
        "clipped boxes to the image: 1",
        "clipped polygons to the image: 1",
        "dropped degenerate boxes: 1",
        "fixed file: OK",
    ]
    anns = json.loads(fixed.read_text())["annotations"]
    assert [(a["id"], a["bbox"], a["area"]) for a in anns] == [(1, [90.0, 0.0, 10.0, 10.0], 100.0)]


def test_errors_are_one_line_per_problem_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {bad}: malformed JSON at line 1, column 2")
    assert "Traceback" not in result.output
    out = tmp_path / "o"
    result = runner.invoke(app, ["convert", "--from", "nope", str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert "Error: unknown format 'nope'; choose one of coco, yolo, labelstudio" in result.output
    result = runner.invoke(app, ["split", str(bad), "--ratios", "a"])
    assert result.exit_code == 1
    assert "Error: --ratios 'a': expected numbers like 0.8,0.1,0.1" in result.output


def test_fix_reports_only_errors_left(tmp_path: Path) -> None:
    """After --fix, the summary counts errors only (an empty page is a warning)."""
    (tmp_path / "images").mkdir()
    Image.new("RGB", (100, 50), "white").save(tmp_path / "images" / "a.png")
    Image.new("RGB", (100, 50), "white").save(tmp_path / "images" / "b.png")
    coco = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 120, "height": 50},
            {"id": 2, "file_name": "b.png", "width": 100, "height": 50},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 100},
        ],
        "categories": [{"id": 1, "name": "text"}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    fixed = tmp_path / "fixed.json"
    result = runner.invoke(app, ["validate", str(path), "--fix", str(fixed)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "fixed file: 1 errors left (size_mismatch)"


def test_validate_images_elsewhere_hint_then_images_option(tmp_path: Path) -> None:
    pages = tmp_path / "scans"
    pages.mkdir()
    Image.new("RGB", (100, 50), "white").save(pages / "p1.png")
    coco = {
        "images": [{"id": 1, "file_name": "p1.png", "width": 100, "height": 50}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100}
        ],
        "categories": [{"id": 1, "name": "text"}],
    }
    (tmp_path / "labels").mkdir()
    path = tmp_path / "labels" / "train.json"
    path.write_text(json.dumps(coco))
    missing = runner.invoke(app, ["validate", str(path)])
    assert missing.exit_code == 1
    assert "missing_image: 1" in missing.output
    assert f"none of the 1 images is in {tmp_path / 'labels'}" in missing.output
    assert "pass --images DIR" in missing.output
    found = runner.invoke(app, ["validate", str(path), "--images", str(pages)])
    assert found.exit_code == 0, found.output
    assert found.output.rstrip().endswith("OK") and "none of" not in found.output
