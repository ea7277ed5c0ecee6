"""layoutft show: class colours on box edges, file count, sample determinism, missing images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import layoutft.cli
from layoutft.data.show import category_colors, sample_images, show_coco, with_caption
from layoutft.draw import color_for_label
from layoutft.errors import DatasetError


def _dataset(root: Path, n_images: int = 6) -> dict[str, Any]:
    """White 300x200 PNGs under root/imgs, each with a text box and a table box."""
    (root / "imgs").mkdir()
    images, anns = [], []
    for i in range(n_images):
        name = f"sub/page{i}.jpg" if i == 0 else f"page{i}.png"
        (root / "imgs" / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(root / "imgs" / name), np.full((200, 300, 3), 255, np.uint8))
        images.append({"id": i + 1, "file_name": name, "width": 300, "height": 200})
        for k, (cat, box) in enumerate([(1, [20, 40, 100, 50]), (2, [150, 60, 120, 120])]):
            x, y, w, h = box
            anns.append(
                {
                    "id": 2 * i + k + 1,
                    "image_id": i + 1,
                    "category_id": cat,
                    "bbox": box,
                    "area": w * h,
                    "iscrowd": 0,
                    "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                }
            )
    cats = [{"id": 1, "name": "text"}, {"id": 2, "name": "table"}]
    return {"images": images, "annotations": anns, "categories": cats}


def test_box_edges_have_the_class_colour(tmp_path: Path) -> None:
    coco = _dataset(tmp_path)
    report = show_coco(coco, tmp_path / "imgs", tmp_path / "out", n=6, seed=0)
    assert report.missing == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["sub__page0.png", *(f"page{i}.png" for i in range(1, 6))]
    )
    drawn = cv2.imread(str(tmp_path / "out" / "page3.png"))[:, :, ::-1]
    # Left edges at x=20 (text) and x=150 (table), half way down each box.
    assert tuple(drawn[65, 20]) == color_for_label("text")
    assert tuple(drawn[120, 150]) == color_for_label("table")
    assert tuple(drawn[190, 5]) == (255, 255, 255)  # outside every box: untouched


def test_sample_size_and_determinism(tmp_path: Path) -> None:
    coco = _dataset(tmp_path)
    first = show_coco(coco, tmp_path / "imgs", tmp_path / "a", n=3, seed=7)
    again = show_coco(coco, tmp_path / "imgs", tmp_path / "b", n=3, seed=7)
    assert len(first.written) == 3 == len(list((tmp_path / "a").iterdir()))
    assert [p.name for p in first.written] == [p.name for p in again.written]
    picked = [im["file_name"] for im in sample_images(coco, 3, 7)]
    assert [p.name for p in first.written] == [f.replace("/", "__")[:-4] + ".png" for f in picked]
    samples = {tuple(im["id"] for im in sample_images(coco, 3, s)) for s in range(10)}
    assert len(samples) > 1  # the seed matters
    assert len(sample_images(coco, 50, 0)) == 6


def test_missing_images_are_reported_and_others_drawn(tmp_path: Path) -> None:
    coco = _dataset(tmp_path)
    (tmp_path / "imgs" / "page2.png").unlink()
    (tmp_path / "imgs" / "page4.png").unlink()
    report = show_coco(coco, tmp_path / "imgs", tmp_path / "out", n=6)
    assert report.missing == ["page2.png", "page4.png"]
    assert len(report.written) == 4
    with pytest.raises(DatasetError, match="none of the 6 sampled images"):
        show_coco(coco, tmp_path / "nowhere", tmp_path / "out2", n=6)
    assert not (tmp_path / "out2").exists()


def test_bad_records_listed_together_before_drawing(tmp_path: Path) -> None:
    coco = _dataset(tmp_path)
    del coco["annotations"][0]["bbox"]
    coco["annotations"][3]["bbox"] = [1, 2, float("nan"), 4]
    coco["annotations"][5]["segmentation"] = [[1, 2, 3]]
    with pytest.raises(DatasetError) as exc:
        show_coco(coco, tmp_path / "imgs", tmp_path / "out", n=6)
    assert str(exc.value).splitlines()[:4] == [
        "3 problems in the sampled records:",
        "  annotation id=1 (image 1): 'bbox' must be 4 finite numbers, got None",
        "  annotation id=4 (image 2): 'bbox' must be 4 finite numbers, got [1, 2, nan, 4]",
        "  annotation id=6 (image 3): 'segmentation' must be polygons [x0, y0, ...] of >= 3 points",
    ]
    assert not (tmp_path / "out").exists()


def test_cli_show(tmp_path: Path) -> None:
    coco = _dataset(tmp_path)
    (tmp_path / "imgs" / "page1.png").unlink()
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    args = ["show", str(path), "--images", str(tmp_path / "imgs"), "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(layoutft.cli.app, [*args, "-n", "6", "--seed", "1"])
    assert result.exit_code == 1, result.output  # the others drawn, the hole reported as a failure
    assert "wrote 5 images" in result.output
    assert "1 images missing" in result.output and "page1.png" in result.output
    assert len(list((tmp_path / "o").iterdir())) == 5
    (tmp_path / "imgs" / "page1.png").write_bytes((tmp_path / "imgs" / "page2.png").read_bytes())
    complete = CliRunner().invoke(layoutft.cli.app, [*args, "-n", "6", "--seed", "1"])
    assert complete.exit_code == 0 and "missing" not in complete.output


def test_classes_sharing_a_hash_colour_get_distinct_colours() -> None:
    names = [f"class{i}" for i in range(40)]
    first = names[0]
    twin = next(n for n in names[1:] if color_for_label(n) == color_for_label(first))
    colors = category_colors(["text", first, twin, "table"])
    assert colors["text"] == color_for_label("text")
    assert colors[first] == color_for_label(first)
    assert colors["table"] == color_for_label("table")
    assert colors[twin] != colors[first]
    assert len(set(colors.values())) == 4


def test_caption_band_above_the_image() -> None:
    image = np.full((200, 300, 3), 128, np.uint8)
    out = with_caption(image, "labelled: table | not labelled: text")
    band = out[: out.shape[0] - 200]
    np.testing.assert_array_equal(out[band.shape[0] :], image)  # the image below, unchanged
    assert band.shape[0] == 20  # the 12 px font's line and 4 px margins
    dark = (band < 100).all(axis=2)  # black text on white
    rows, cols = np.nonzero(dark)
    assert rows.min() >= 3 and rows.max() <= band.shape[0] - 4  # inside the margins
    assert cols.min() >= 3 and cols.max() > 150  # from the left margin, most of the way across
    assert (band[~dark] > 100).all()  # the rest white or grey text edges
