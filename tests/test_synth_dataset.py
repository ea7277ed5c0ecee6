"""layoutft synth: determinism, output layout, boxes that match the pixels, variety, CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import layoutft.cli
from layoutft.data.synth import PUBLAYNET_LABELS, generate_dataset
from layoutft.data.synth.page import PAGE_SIZES, random_style
from layoutft.errors import DatasetError

NAMES = ["text", "title", "list", "table", "figure"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 documents x 2 pages at 72 dpi (pixels = points)."""
    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, 3, 2, dpi=72, seed=5, quiet=True)
    return out


def test_same_seed_gives_identical_files(small: Path, tmp_path: Path) -> None:
    generate_dataset(tmp_path, 3, 2, dpi=72, seed=5, quiet=True)
    for name in ["annotations.json", "boxes_pt.json", "pdfs/doc001.boxes.json"]:
        assert (tmp_path / name).read_bytes() == (small / name).read_bytes(), name
    for png in sorted((small / "images").glob("*.png")):
        a = cv2.imread(str(png))
        b = cv2.imread(str(tmp_path / "images" / png.name))
        assert a is not None and b is not None and np.array_equal(a, b), png.name
    assert (tmp_path / "pdfs/doc002.pdf").read_bytes() == (small / "pdfs/doc002.pdf").read_bytes()


def test_other_seed_differs(small: Path, tmp_path: Path) -> None:
    generate_dataset(tmp_path, 1, 1, dpi=72, seed=6, quiet=True)
    other = json.loads((tmp_path / "annotations.json").read_text())
    ours = json.loads((small / "annotations.json").read_text())
    assert other["annotations"][0]["bbox"] != ours["annotations"][0]["bbox"]


def test_output_layout_and_coco_fields(small: Path) -> None:
    coco = json.loads((small / "annotations.json").read_text())
    assert [c["name"] for c in coco["categories"]] == NAMES
    assert [c["id"] for c in coco["categories"]] == [1, 2, 3, 4, 5]
    files = [im["file_name"] for im in coco["images"]]
    assert files == [f"doc{d:03d}_p{k}.png" for d in range(3) for k in range(2)]
    assert sorted(p.name for p in (small / "images").iterdir()) == files
    assert sorted(p.name for p in (small / "pdfs").glob("*.pdf")) == [
        "doc000.pdf",
        "doc001.pdf",
        "doc002.pdf",
    ]
    for im in coco["images"]:
        assert (im["document"], im["page"]) == (im["file_name"][:6], int(im["file_name"][-5]) + 1)
        assert (im["width"], im["height"]) in {(612, 792), (595, 842)}  # 72 dpi: px == pt
        assert (small / im["pdf"]).is_file() and im["pdf"] == f"pdfs/{im['document']}.pdf"
    assert [a["id"] for a in coco["annotations"]] == list(range(1, len(coco["annotations"]) + 1))
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        rect = [x, y, x + w, y, x + w, y + h, x, y + h]
        assert ann["segmentation"][0] == pytest.approx(rect, abs=0.011)
        assert ann["area"] == pytest.approx(w * h, abs=0.01)
        assert ann["iscrowd"] == 0 and 1 <= ann["category_id"] <= 5 and w > 0 and h > 0


def test_point_boxes_match_pixel_boxes(tmp_path: Path) -> None:
    generate_dataset(tmp_path, 2, 2, dpi=144, seed=3, quiet=True)
    coco = json.loads((tmp_path / "annotations.json").read_text())
    every = json.loads((tmp_path / "boxes_pt.json").read_text())
    doc = json.loads((tmp_path / "pdfs" / "doc001.boxes.json").read_text())
    assert every["documents"][1]["document"] == "doc001"
    assert every["documents"][1]["pages"] == doc["pages"] and doc["origin"] == "top-left"
    names = {c["id"]: c["name"] for c in coco["categories"]}
    pt_boxes = [
        (r["label"], r["bbox"])
        for d in every["documents"]
        for p in d["pages"]
        for r in p["regions"]
    ]
    assert len(pt_boxes) == len(coco["annotations"])
    for (label, (x0, y0, x1, y1)), ann in zip(pt_boxes, coco["annotations"], strict=True):
        assert names[ann["category_id"]] == label
        # 144 dpi: pixels are points times 2.
        assert ann["bbox"] == pytest.approx(
            [2 * x0, 2 * y0, 2 * (x1 - x0), 2 * (y1 - y0)], abs=0.02
        )


def _ink_box(ink: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(ink[y0:y1, x0:x1])
    return x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1


def test_boxes_are_the_tight_extent_of_the_drawn_ink(tmp_path: Path) -> None:
    """Every non-white pixel is in a box, and every box hugs its ink within 1.5 px."""
    every_kind = {kind: kind for kind in PUBLAYNET_LABELS}  # headers etc. annotated too
    generate_dataset(tmp_path, 4, 2, dpi=100, seed=11, label_map=every_kind, quiet=True)
    coco = json.loads((tmp_path / "annotations.json").read_text())
    worst = 0.0
    for im in coco["images"]:
        gray = cv2.imread(str(tmp_path / "images" / im["file_name"]), cv2.IMREAD_GRAYSCALE)
        ink = gray < 250
        covered = np.zeros_like(ink)
        for ann in (a for a in coco["annotations"] if a["image_id"] == im["id"]):
            x, y, w, h = ann["bbox"]
            x0, y0 = max(int(x) - 2, 0), max(int(y) - 2, 0)
            x1, y1 = int(np.ceil(x + w)) + 2, int(np.ceil(y + h)) + 2
            covered[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1] = True
            ix0, iy0, ix1, iy1 = _ink_box(ink, x0, y0, x1, y1)
            worst = max(worst, abs(ix0 - x), abs(iy0 - y), abs(ix1 - x - w), abs(iy1 - y - h))
        assert not (ink & ~covered).any(), f"ink outside every box in {im['file_name']}"
    assert worst <= 1.5


def test_variety_of_styles_and_classes(small: Path) -> None:
    styles = [random_style(random.Random(i)) for i in range(40)]
    assert {s.columns for s in styles} == {1, 2, 3}
    assert {s.size for s in styles} == set(PAGE_SIZES.values())
    assert {s.theme.family for s in styles} == {"helv", "tiro", "cour"}
    assert len({s.theme.body.size for s in styles}) >= 4
    assert len({round(s.margins[0]) for s in styles}) >= 10
    coco = json.loads((small / "annotations.json").read_text())
    assert {a["category_id"] for a in coco["annotations"]} == {1, 2, 3, 4, 5}


def test_label_map_sets_categories(tmp_path: Path) -> None:
    labels = {**PUBLAYNET_LABELS, "caption": "caption", "list": None}
    coco = json.loads(
        generate_dataset(tmp_path, 1, 1, dpi=36, seed=0, label_map=labels, quiet=True).read_text()
    )
    assert [c["name"] for c in coco["categories"]] == [
        "text",
        "caption",
        "title",
        "table",
        "figure",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"docs": 0}, "--docs"), ({"dpi": 10}, "--dpi"), ({"label_map": {"chart": "x"}}, "chart")],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"docs": 1, "pages": 1, **kwargs}
    with pytest.raises(DatasetError, match=message):
        generate_dataset(tmp_path, **args)


def test_cli_synth(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        layoutft.cli.app,
        [
            "synth",
            "-o",
            str(tmp_path),
            "--docs",
            "1",
            "--pages",
            "2",
            "--dpi",
            "36",
            "--seed",
            "2",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "annotations.json").read_text())
    assert f"wrote 2 pages, {len(coco['annotations'])} regions" in result.output
    bad = CliRunner().invoke(layoutft.cli.app, ["synth", "-o", str(tmp_path / "b"), "--docs", "0"])
    assert bad.exit_code == 1 and "Error: synth: --docs" in bad.output
    # an existing dataset is never written over without --overwrite
    before = (tmp_path / "annotations.json").read_bytes()
    again = CliRunner().invoke(layoutft.cli.app, ["synth", "-o", str(tmp_path), "--docs", "1"])
    assert again.exit_code == 1 and again.stderr == (
        f"Error: {tmp_path / 'annotations.json'} already exists; pass --overwrite to replace "
        "it or choose another -o\n"
    )
    assert (tmp_path / "annotations.json").read_bytes() == before
