"""Pre-annotations: ``layoutft parse --format labelstudio|cvat|coco-dataset`` -> ``layoutft
convert --from labelstudio|cvat|coco`` gives the regions parse found (labels; boxes and
outlines within 0.01 px), and the exports have the structure the tools import."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from layoutft.cli.app import app
from layoutft.data.convert import convert
from layoutft.parsing.preannotations import labeling_config
from layoutft.schema import Document
from tests.test_parse_pipeline import LABELS, Dets

W, H = 400, 300
# boxes in page pixels (72 dpi PNG: pixels are points); the last one gets an L-shaped mask
BOXES = [(20.0, 10.0, 380.0, 40.0), (20.0, 60.0, 190.0, 280.0), (210.0, 60.0, 380.0, 280.0)]
CLASSES = [1, 0, 4]  # title, text, figure
SCORES = [0.95, 0.875, 0.8125]


class FixedModel:
    """Detects BOXES on every page, with rectangle masks except an L-shape for the last."""

    labels = LABELS

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> list[Dets]:
        return [self._one(image) for image in images]

    def _one(self, image: np.ndarray) -> Dets:
        masks = np.zeros((len(BOXES), *image.shape[:2]), bool)
        for k, (x0, y0, x1, y1) in enumerate(BOXES):
            masks[k, int(y0) : int(y1), int(x0) : int(x1)] = True
        masks[2, 60:170, 300:380] = False  # L: the top-right quarter cut away
        return Dets(
            np.array(BOXES, np.float32),
            np.array(SCORES, np.float32),
            np.array(CLASSES, np.int64),
            [LABELS[c] for c in CLASSES],
            masks,
        )


def run_parse(args: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    import layoutft.parsing.parser as parser_mod

    monkeypatch.setattr(parser_mod, "load_model", lambda *a, **k: FixedModel())
    return CliRunner().invoke(app, ["parse", *args, "--quiet", "--no-text"])


@pytest.fixture()
def page(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "page one.png"
    path.parent.mkdir()
    pixels = np.full((H, W, 3), 255, np.uint8)
    pixels[100:200, 100:300] = (200, 30, 30)
    Image.fromarray(pixels).save(path)
    return path


def parsed(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Document:
    out = tmp_path / "doc.json"
    result = run_parse([str(page), "-o", str(out)], monkeypatch)
    assert result.exit_code == 0, result.output
    return Document.from_json(out)


def expected(document: Document) -> list[tuple[str, list[float], list[float] | None]]:
    """(label, bbox XYXY px, outline flat px or None) per region of the one page."""
    from layoutft.parsing.preannotations import outline_px

    page = document.pages[0]
    rows = []
    for region in page.regions:
        outline = outline_px(region, page)
        flat = None if outline is None else [c for p in outline for c in p]
        rows.append((region.label, list(region.bbox_px), flat))
    return sorted(rows, key=lambda r: r[1])


def converted(fmt: str, export: Path, tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    out = tmp_path / f"conv-{fmt}"
    convert(fmt, [export], out, **kwargs)
    coco: dict[str, Any] = json.loads((out / "annotations.json").read_text())
    assert len(coco["images"]) == 1
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (W, H)
    return coco


def check_regions(coco: dict[str, Any], document: Document, outlines: bool) -> None:
    names = {c["id"]: c["name"] for c in coco["categories"]}
    want = expected(document)
    got = sorted(
        ((names[a["category_id"]], a["bbox"], a["segmentation"][0]) for a in coco["annotations"]),
        key=lambda r: [r[1][0], r[1][1], r[1][0] + r[1][2], r[1][1] + r[1][3]],
    )
    assert [g[0] for g in got] == [w[0] for w in want]
    assert sum(w[2] is not None for w in want) == 1  # the L-shaped mask is an outline
    for (_, bbox, seg), (_, box, outline) in zip(got, want, strict=True):
        if outline is None or not outlines:
            x, y, w, h = bbox
            np.testing.assert_allclose([x, y, x + w, y + h], box, atol=0.01)
        else:
            np.testing.assert_allclose(seg, outline, atol=0.01)
            xs, ys = outline[0::2], outline[1::2]
            x, y, w, h = bbox
            np.testing.assert_allclose(
                [x, y, x + w, y + h], [min(xs), min(ys), max(xs), max(ys)], atol=0.01
            )


def test_labelstudio_round_trip_and_structure(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = parsed(page, tmp_path, monkeypatch)
    out = tmp_path / "ls"
    out.mkdir()
    args = [str(page), "-o", str(out), "--format", "labelstudio", "--shape", "auto"]
    result = run_parse(args, monkeypatch)
    assert result.exit_code == 0, result.output
    tasks_file = out / "page one.labelstudio.json"
    tasks = json.loads(tasks_file.read_text())
    assert len(tasks) == 1
    task = tasks[0]
    assert task["data"] == {
        "image": "/data/local-files/?d=images/page%20one-p1.png",
        "source": str(page),
        "page": 1,
    }
    assert Image.open(out / "images" / "page one-p1.png").size == (W, H)
    [prediction] = task["predictions"]
    assert prediction["model_version"] == document.model["name"]
    assert prediction["score"] == pytest.approx(sum(SCORES) / 3, abs=1e-4)
    title = next(r for r in prediction["result"] if r["value"].get("rectanglelabels") == ["title"])
    assert title == {
        "id": title["id"],
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": W,
        "original_height": H,
        "image_rotation": 0,
        "score": 0.95,
        "value": {
            "x": 5.0,
            "y": pytest.approx(10 / 3, abs=1e-6),
            "width": 90.0,
            "height": 10.0,
            "rotation": 0,
            "rectanglelabels": ["title"],
        },
    }
    [polygon] = [r for r in prediction["result"] if r["type"] == "polygonlabels"]
    assert (polygon["from_name"], polygon["value"]["polygonlabels"]) == ("polygon", ["figure"])
    assert all(0 <= x <= 100 and 0 <= y <= 100 for x, y in polygon["value"]["points"])
    config = (out / "labeling-config.xml").read_text()
    assert config == labeling_config(LABELS)
    root = ET.fromstring(config)
    assert root.find("Image").attrib["value"] == "$image"  # type: ignore[union-attr]
    rect = root.find("RectangleLabels")
    assert rect is not None and rect.attrib == {"name": "label", "toName": "image"}
    assert [e.attrib["value"] for e in rect] == LABELS

    # without --predictions the un-annotated task is skipped, and the note says how to use it
    skipped = convert("labelstudio", [tasks_file], tmp_path / "conv-skip")
    assert skipped.coco["images"] == []
    assert any("1 with predictions: --predictions uses them" in n for n in skipped.notes)
    result = CliRunner().invoke(
        app, ["convert", "--from", "labelstudio", str(tasks_file), "--list-labels", "--predictions"]
    )
    assert result.exit_code == 0, result.output
    assert "figure" in result.output
    coco = converted("labelstudio", tasks_file, tmp_path, predictions=True)
    check_regions(coco, document, outlines=True)
    # an annotation wins over the prediction
    task["annotations"] = [{"result": prediction["result"][:1]}]
    tasks_file.write_text(json.dumps(tasks))
    out2 = tmp_path / "conv-ann"
    convert("labelstudio", [tasks_file], out2, predictions=True)
    assert len(json.loads((out2 / "annotations.json").read_text())["annotations"]) == 1


def test_cvat_round_trip_and_structure(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = parsed(page, tmp_path, monkeypatch)
    xml_file = tmp_path / "cv" / "p.cvat.xml"
    args = [str(page), "-o", str(xml_file), "--format", "cvat", "--shape", "auto"]
    result = run_parse(args, monkeypatch)
    assert result.exit_code == 0, result.output
    root = ET.parse(xml_file).getroot()
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    assert [n.text for n in root.iterfind("meta/task/labels/label/name")] == LABELS
    [image] = root.findall("image")
    assert image.attrib == {"id": "0", "name": "p-p1.png", "width": str(W), "height": str(H)}
    assert (tmp_path / "cv" / "images" / "p-p1.png").is_file()
    title = next(b for b in image.iter("box") if b.get("label") == "title")
    assert {k: title.get(k) for k in ("xtl", "ytl", "xbr", "ybr")} == {
        "xtl": "20.00",
        "ytl": "10.00",
        "xbr": "380.00",
        "ybr": "40.00",
    }
    assert [p.get("label") for p in image.iter("polygon")] == ["figure"]
    check_regions(converted("cvat", xml_file, tmp_path), document, outlines=True)


def test_coco_dataset_round_trip_and_structure(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = parsed(page, tmp_path, monkeypatch)
    out = tmp_path / "cc"
    out.mkdir()
    result = run_parse([str(page), "-o", str(out), "--format", "coco-dataset"], monkeypatch)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "page one.coco-dataset.json").read_text())
    assert [c["name"] for c in data["categories"]] == LABELS
    assert [c["id"] for c in data["categories"]] == [1, 2, 3, 4, 5]
    [image] = data["images"]
    assert {k: image[k] for k in ("id", "file_name", "width", "height", "page")} == {
        "id": 1,
        "file_name": "page one-p1.png",
        "width": W,
        "height": H,
        "page": 1,
    }
    title = next(a for a in data["annotations"] if a["category_id"] == 2)
    assert (title["bbox"], title["score"], title["iscrowd"]) == ([20, 10, 360, 30], 0.95, 0)
    # rect (the default): every segmentation is its box's corners, the L-shape's too
    figure = next(a for a in data["annotations"] if a["category_id"] == 5)
    x, y, w, h = figure["bbox"]
    assert figure["segmentation"] == [[x, y, x + w, y, x + w, y + h, x, y + h]]
    coco = converted("coco", out / "page one.coco-dataset.json", tmp_path)
    check_regions(coco, document, outlines=False)


@pytest.mark.parametrize("fmt", ["labelstudio", "cvat"])
def test_rectangles_by_default_and_polygons_on_request(
    fmt: str, page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default: every region a rectangle, converted back to its box exactly (to 0.01 px);
    --shape polygon: every region a polygon (the L-shape's outline, the others' corners)."""
    document = parsed(page, tmp_path, monkeypatch)
    suffix = ".labelstudio.json" if fmt == "labelstudio" else ".cvat.xml"
    shapes = {}
    for shape in ("rect", "polygon"):
        dest = tmp_path / shape / f"p{suffix}"
        extra = [] if shape == "rect" else ["--shape", shape]
        result = run_parse([str(page), "-o", str(dest), "--format", fmt, *extra], monkeypatch)
        assert result.exit_code == 0, result.output
        if fmt == "labelstudio":
            [task] = json.loads(dest.read_text())
            shapes[shape] = [r["type"] for r in task["predictions"][0]["result"]]
        else:
            [image] = ET.parse(dest).getroot().findall("image")
            shapes[shape] = [child.tag for child in image]
        out = tmp_path / f"conv-{shape}"
        convert(fmt, [dest], out, predictions=True)
        coco = json.loads((out / "annotations.json").read_text())
        check_regions(coco, document, outlines=shape == "polygon")
    rect, poly = (
        ("rectanglelabels", "polygonlabels") if fmt == "labelstudio" else ("box", "polygon")
    )
    assert shapes == {"rect": [rect] * 3, "polygon": [poly] * 3}
    bad = run_parse(
        [str(page), "-o", str(tmp_path / f"x{suffix}"), "--format", fmt, "--shape", "oval"],
        monkeypatch,
    )
    assert bad.exit_code != 0 and "rect, polygon, auto" in bad.output


def test_preannotations_need_an_output_file(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_parse([str(page), "--format", "cvat"], monkeypatch)
    assert result.exit_code == 1
    assert "--format cvat writes page images beside its file" in result.output
