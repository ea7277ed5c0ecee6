"""The layoutft.document/1 model: round trips, JSON Schema, COCO results, no torch to read it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from layoutft.schema import SCHEMA_ID, Document, Page, Region, json_schema


def sample_document() -> Document:
    region = Region(
        id=0,
        label="table",
        score=0.98765,
        bbox_px=[100.0, 50.0, 300.5, 150.25],
        bbox_pt=[36.0, 18.0, 108.18, 54.09],
        polygon_pt=[[[36.0, 18.0], [108.18, 18.0], [108.18, 54.09], [36.0, 54.09]]],
        text="a b\nc",
        order=1,
    )
    title = Region(1, "title", 0.5, [0, 0, 10, 10], [0, 0, 3.6, 3.6], [], None, 0)
    pages = [
        Page(1, 612, 792, 90, 200.0, 1700, 2200, "ok", None, [title, region]),
        Page(3, 612, 792, 0, 200.0, 0, 0, "error", "render failed: boom", []),
    ]
    return Document(
        source={"path": "x.pdf", "sha256": "0" * 64, "page_count": 3},
        model={"name": "model_final", "labels": ["text", "title", "table"], "extra": 1},
        pages=pages,
    )


def test_round_trip_and_schema() -> None:
    doc = sample_document()
    text = doc.to_json()
    data = json.loads(text)
    assert data["schema"] == SCHEMA_ID
    jsonschema.validate(data, json_schema())
    again = Document.from_json(text)
    assert again.to_dict() == data
    assert again.pages[0].regions[1].text == "a b\nc"
    assert again.pages[0].regions[1].score == pytest.approx(0.9877)
    assert Document.from_dict(data).to_json() == text


def test_from_json_path_bytes_and_jsonl(tmp_path: Path) -> None:
    doc = sample_document()
    path = tmp_path / "out.json"
    path.write_text(doc.to_json())
    assert Document.from_json(path).to_dict() == doc.to_dict()
    assert Document.from_json(str(path)).to_dict() == doc.to_dict()
    assert Document.from_json(doc.to_json().encode()).to_dict() == doc.to_dict()
    lines = doc.to_jsonl_lines()
    assert len(lines) == 2
    for line in lines:
        jsonschema.validate(json.loads(line), json_schema())
    jsonl = tmp_path / "out.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    assert Document.from_json(jsonl).to_dict() == doc.to_dict()


def test_schema_rejects_bad_documents() -> None:
    data = sample_document().to_dict()
    data["pages"][0]["regions"][0]["bbox_px"] = [1, 2, 3]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())
    with pytest.raises(ValueError, match=r"not a layoutft\.document/1 document"):
        Document.from_dict({"schema": "other/2"})


def test_region_crop() -> None:
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    region = Region(0, "text", 1.0, [2.5, 3.2, 10.1, 8.0], [0, 0, 1, 1])
    crop = region.crop(image)
    assert crop.shape == (5, 9, 3)  # rows 3..7, cols 2..10
    np.testing.assert_array_equal(crop, image[3:8, 2:11])
    assert region.crop(image, pad=5).shape == (13, 16, 3)  # rows 0..12, cols 0..15: clipped
    outside = Region(0, "text", 1.0, [40, 40, 50, 50], [0, 0, 1, 1])
    assert outside.crop(image).size == 0


def test_coco_results() -> None:
    results = sample_document().to_coco_results()
    assert len(results) == 2
    table = next(r for r in results if r["label"] == "table")
    assert table["image_id"] == 1 and table["category_id"] == 3
    assert table["bbox"] == [100.0, 50.0, 200.5, 100.25]
    assert table["score"] == 0.9877
    # polygon points -> pixels at 200 dpi
    assert table["segmentation"][0][:4] == [100.0, 50.0, 300.5, 50.0]
    title = next(r for r in results if r["label"] == "title")
    assert title["segmentation"] == []
    assert sample_document().to_coco_results({1: 42, 3: 43})[0]["image_id"] == 42


def test_reading_json_needs_no_torch(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(sample_document().to_json())
    code = (
        "import sys, layoutft\n"
        f"doc = layoutft.Document.from_json({str(path)!r})\n"
        "assert doc.pages[0].regions[0].label == 'title'\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "import layoutft.render, layoutft.parsing.parser, layoutft.parsing.visualize\n"
        "assert 'torch' not in sys.modules, 'torch imported by the parse modules'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_alternatives_round_trip_schema_and_coco() -> None:
    from layoutft.schema import Alternative

    doc = sample_document()
    table = doc.pages[0].regions[1]
    table.alternatives = [
        Alternative("figure", 0.61239),
        Alternative("text", 0.3, [110.0, 60.0, 200.0, 100.0], [39.6, 21.6, 72.0, 36.0]),
    ]
    data = json.loads(doc.to_json())
    jsonschema.validate(data, json_schema())
    written = data["pages"][0]["regions"][1]["alternatives"]
    assert written == [
        {"label": "figure", "score": 0.6124},
        {
            "label": "text",
            "score": 0.3,
            "bbox_px": [110.0, 60.0, 200.0, 100.0],
            "bbox_pt": [39.6, 21.6, 72.0, 36.0],
        },
    ]
    again = Document.from_json(doc.to_json())
    assert again.to_dict() == data
    assert again.pages[0].regions[1].alternatives[1].bbox_px == [110.0, 60.0, 200.0, 100.0]
    # a region without alternatives writes no key: older output is unchanged
    assert "alternatives" not in data["pages"][0]["regions"][0]
    assert "alternatives" not in sample_document().to_dict()["pages"][0]["regions"][1]
    # COCO results: each alternative is one more detection of its label, marked
    results = doc.to_coco_results()
    assert [r["label"] for r in results] == ["title", "table", "figure", "text"]
    figure, text = results[2], results[3]
    assert figure["alternative_of"] == text["alternative_of"] == 0  # the table's id
    assert figure["bbox"] == [100.0, 50.0, 200.5, 100.25]  # the region's box
    assert figure["score"] == 0.6124 and figure["category_id"] == 0  # not a model label
    assert text["bbox"] == [110.0, 60.0, 90.0, 40.0] and text["category_id"] == 1
    assert text["segmentation"] == [[110.0, 60.0, 200.0, 60.0, 200.0, 100.0, 110.0, 100.0]]
    assert len(doc.to_coco_results(alternatives=False)) == 2
    bad = json.loads(doc.to_json())
    bad["pages"][0]["regions"][1]["alternatives"][0]["extra"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json_schema())
