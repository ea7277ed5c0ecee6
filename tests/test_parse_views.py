"""``labels_view="publaynet"``: a stand-in detector with DocLayNet's classes on a PDF made
here; mapping, list-item merging, reading order, JSON round trip, refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pymupdf
import pytest

from layoutft.errors import LayoutftError, OptionError
from layoutft.labels import DOCLAYNET_CLASSES, PUBLAYNET_CLASSES
from layoutft.parsing.parser import ParseOptions, Parser, parse
from layoutft.parsing.views import neighbours
from layoutft.schema import Document, Region, json_schema

#: (box in points = pixels at 72 dpi, score, DocLayNet class, text written inside or None)
PAGE = [
    ([40, 10, 360, 25], 0.91, "Page-header", "Running head"),
    ([40, 40, 200, 55], 0.90, "Section-header", "1 Intro"),
    ([40, 60, 360, 100], 0.89, "Text", "Some words of a paragraph"),
    ([40, 110, 360, 125], 0.80, "List-item", "- first item"),
    ([40, 127, 360, 155], 0.95, "List-item", "- second item"),
    ([55, 158, 360, 172], 0.70, "List-item", "- nested item"),  # indented 15 pt
    ([40, 185, 360, 220], 0.88, "Text", "More words"),
    ([40, 230, 360, 245], 0.75, "List-item", "- a lone item"),
    ([40, 290, 360, 305], 0.74, "List-item", "- far below"),  # 45 pt below: a new list
    ([40, 320, 200, 400], 0.87, "Picture", None),
    ([40, 405, 200, 420], 0.86, "Caption", "Figure 1"),
    ([40, 580, 360, 595], 0.85, "Page-footer", "page 1"),
    ([40, 110, 360, 125], 0.55, "Text", None),  # the first item read as text: alternative
]


@dataclass
class Dets:
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray | None = None


class FixedDetector:
    def __init__(self, labels: list[str], rows: list[tuple[list[int], float, str]]) -> None:
        self.labels = labels
        self.rows = rows

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> list[Dets]:
        boxes = np.array([r[0] for r in self.rows], np.float32).reshape(-1, 4)
        scores = np.array([r[1] for r in self.rows], np.float32)
        classes = np.array([self.labels.index(r[2]) for r in self.rows], np.int64)
        return [Dets(boxes, scores, classes) for _ in images]


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=600)
    for box, _, _, text in PAGE[:-1]:
        if text:
            page.insert_text((box[0] + 2, box[1] + 11), text, fontsize=10)
    path = tmp_path_factory.mktemp("views") / "page.pdf"
    doc.save(path)
    return path


def doclaynet() -> FixedDetector:
    return FixedDetector(list(DOCLAYNET_CLASSES), [(b, s, c) for b, s, c, _ in PAGE])


def test_publaynet_view_maps_merges_and_keeps_reading_order(pdf: Path) -> None:
    native = parse(pdf, model=doclaynet(), dpi=72)
    doc = parse(pdf, model=doclaynet(), dpi=72, labels_view="publaynet")
    assert [r.label for r in native.pages[0].regions][:3] == [
        "Page-header",
        "Section-header",
        "Text",
    ]
    regions = doc.pages[0].regions
    assert [(r.label, r.order) for r in regions] == [
        ("title", 0),
        ("text", 1),
        ("list", 2),  # the three first items, nested one included
        ("text", 3),
        ("list", 4),  # the lone item
        ("list", 5),  # the item 45 pt further down: another list
        ("figure", 6),
        ("text", 7),  # the caption
    ]
    merged = regions[2]
    assert merged.bbox_pt == [40.0, 110.0, 360.0, 172.0] and merged.bbox_px == merged.bbox_pt
    assert merged.score == pytest.approx(0.95)  # the best item's
    assert merged.text == "- first item\n- second item\n- nested item"
    assert len(merged.polygon_pt) == 3  # the items' outlines
    # the first item's "Text" reading, whose box was the item's, keeps the item's box
    assert [(a.label, a.bbox_pt) for a in merged.alternatives] == [
        ("text", [40.0, 110.0, 360.0, 125.0])
    ]
    # ids: 0..N-1 by descending score (the merged list holds the best score)
    assert sorted(r.id for r in regions) == list(range(8))
    assert merged.id == 0 and regions[0].id == 1  # the page head (0.91) is gone
    assert doc.model["labels"] == list(PUBLAYNET_CLASSES)
    assert doc.model["labels_view"] == "publaynet"
    assert doc.model["model_labels"] == list(DOCLAYNET_CLASSES)
    data = json.loads(doc.to_json())
    jsonschema.validate(data, json_schema())
    assert Document.from_json(doc.to_json()).to_dict() == data
    coco = doc.to_coco_results(alternatives=False)
    assert [r["category_id"] for r in coco][:3] == [2, 1, 3]  # title, text, list


def test_a_publaynet_model_is_unaffected_and_other_labels_are_refused(pdf: Path) -> None:
    rows = [([40, 60, 360, 100], 0.9, "text"), ([40, 110, 360, 125], 0.8, "list")]
    model = FixedDetector(list(PUBLAYNET_CLASSES), rows)
    native = parse(pdf, model=model, dpi=72).to_json()
    assert parse(pdf, model=model, dpi=72, labels_view="publaynet").to_json() == native
    other = FixedDetector(["paragraph", "heading"], [])
    with pytest.raises(OptionError) as error:
        Parser(other, ParseOptions(labels_view="publaynet"))
    message = str(error.value)
    assert "\n" not in message and "labels_view native" in message and "paragraph" in message
    with pytest.raises(LayoutftError, match="unknown labels_view 'doclaynet'"):
        ParseOptions(labels_view="doclaynet")


def test_list_item_neighbours() -> None:
    def item(box: list[float]) -> Region:
        return Region(0, "List-item", 0.9, box, box)

    top = item([40, 100, 300, 112])  # one 12 pt line (no words: its height)
    assert neighbours(top, item([40, 115, 300, 127]))  # 3 pt gap
    assert neighbours(top, item([40, 130, 300, 142]))  # 18 pt = 1.5 lines: still
    assert not neighbours(top, item([40, 131, 300, 143]))  # 19 pt: too far
    assert neighbours(top, item([76, 115, 300, 127]))  # indented 3 lines (36 pt)
    assert not neighbours(top, item([77, 115, 300, 127]))
    assert not neighbours(top, item([320, 100, 560, 112]))  # the next column
    assert not neighbours(top, item([40, 60, 300, 72]))  # above it


def test_request_field_and_corpus_fingerprint() -> None:
    from layoutft.corpus.manifest import output_options
    from layoutft.serving.options import request_options

    opts = request_options(ParseOptions(), [("labels-view", "publaynet")])
    assert opts.labels_view == "publaynet"
    assert "labels_view" not in output_options(ParseOptions(), "json")  # old runs match
    assert output_options(opts, "json")["labels_view"] == "publaynet"
