"""``cover_words="auto"``: text-layer words outside every detected region become ``text``
regions; a stand-in detector and a PDF made here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pymupdf
import pytest

from layoutft.geometry import box_area, pairwise_intersection
from layoutft.parsing.cover import OVERLAP_TOLERANCE, TEXT_LAYER, TEXT_LAYER_SCORE, uncovered
from layoutft.parsing.parser import parse
from layoutft.render.pdf import page_transform
from layoutft.render.text import page_words
from layoutft.schema import Document, json_schema

LABELS = ["text", "title", "list", "table", "figure"]
#: lines written on the page: (x, baseline y, text), 10 pt Helvetica
LINES = [
    (50, 60, "A heading the model found"),
    (50, 100, "first line of a paragraph the model found"),
    (50, 114, "second line of that paragraph"),
    (50, 200, "a paragraph the model missed"),  # three stacked lines: one block
    (50, 214, "that goes on for a while"),
    (50, 228, "and ends here"),
    (320, 200, "a note in the margin"),  # the same rows, another column: its own block
    (50, 400, "page 7"),  # a lone line far below
]
#: detections in points (the stand-in scales them to the page image)
DETECTED = [([45, 48, 300, 64], 0.9, "title"), ([45, 88, 300, 118], 0.8, "text")]


@dataclass
class Dets:
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray | None = None


class FixedDetector:
    labels = LABELS

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> list[Dets]:
        scores = np.array([r[1] for r in DETECTED], np.float32)
        classes = np.array([LABELS.index(r[2]) for r in DETECTED], np.int64)
        out = []
        for image in images:
            px_per_pt = image.shape[1] / 450
            boxes = np.array([r[0] for r in DETECTED], np.float32) * px_per_pt
            out.append(Dets(boxes, scores, classes))
        return out


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=450, height=450)
    for x, y, text in LINES:
        page.insert_text((x, y), text, fontsize=10)
    path = tmp_path_factory.mktemp("cover") / "page.pdf"
    doc.save(path)
    return path


def test_words_outside_every_region_end_up_in_one(pdf: Path) -> None:
    off = parse(pdf, model=FixedDetector(), dpi=144)
    doc = parse(pdf, model=FixedDetector(), dpi=144, cover_words="auto")
    with pymupdf.open(pdf) as src:
        words = page_words(src[0], page_transform(src[0], 72.0))
    before = np.array([r.bbox_pt for r in off.pages[0].regions])
    after = np.array([r.bbox_pt for r in doc.pages[0].regions])
    assert len(uncovered(words, before)) == 21  # the 5 missed lines' words
    assert len(uncovered(words, after)) == 0
    detected = [r for r in doc.pages[0].regions if r.origin == "model"]
    added = [r for r in doc.pages[0].regions if r.origin == TEXT_LAYER]
    # the detections are untouched: same ids, boxes and text
    assert [r.to_dict() | {"order": 0} for r in detected] == [
        r.to_dict() | {"order": 0} for r in off.pages[0].regions
    ]
    # in reading order: the left column down to its foot, then the margin column
    assert [r.text for r in added] == [
        "a paragraph the model missed\nthat goes on for a while\nand ends here",
        "page 7",
        "a note in the margin",
    ]
    assert {r.label for r in added} == {"text"} and {r.score for r in added} == {TEXT_LAYER_SCORE}
    assert sorted(r.id for r in added) == [2, 3, 4]  # after the detections' ids
    assert [r.order for r in doc.pages[0].regions] == [0, 1, 2, 3, 4]
    block = added[0]
    assert block.bbox_px == pytest.approx([v * 2 for v in block.bbox_pt])  # 144 dpi
    assert 185 < block.bbox_pt[1] < 192 and 228 < block.bbox_pt[3] < 233
    # no new region overlaps a detected one (or another new one) beyond the tolerance
    boxes = np.array([r.bbox_pt for r in added])
    inter = pairwise_intersection(boxes, after)
    share = inter / box_area(boxes)[:, None]
    share[np.arange(len(added)), np.arange(2, 2 + len(added))] = 0  # itself
    assert share.max() <= OVERLAP_TOLERANCE
    data = json.loads(doc.to_json())
    jsonschema.validate(data, json_schema())
    assert Document.from_json(doc.to_json()).to_dict() == data
    assert data["pages"][0]["regions"][2]["origin"] == TEXT_LAYER
    assert "origin" not in data["pages"][0]["regions"][0]
    assert doc.model["cover_words"] == "auto" and "cover_words" not in off.model


def test_cover_needs_a_text_layer(pdf: Path) -> None:
    no_text = parse(pdf, model=FixedDetector(), dpi=72, cover_words="auto", text=False)
    assert [r.origin for r in no_text.pages[0].regions] == ["model", "model"]
    raw = parse(pdf, model=FixedDetector(), dpi=72, cover_words="auto", postprocess="none")
    assert len(raw.pages[0].regions) == 2


def test_a_line_cut_by_a_tight_box_grows_the_region() -> None:
    from layoutft.parsing.cover import GROW_LINES, cover_words
    from layoutft.render.text import Words
    from layoutft.schema import Page, Region

    # three 10 pt lines; the detected box stops 3 pt into the third (its centre is outside)
    boxes = np.array([[50, 100, 150, 110], [50, 112, 150, 122], [50, 124, 120, 134]], float)
    words = Words(boxes, ["one", "two", "three"], np.array([[0, 0, 0], [0, 1, 0], [0, 2, 0]]))
    region = Region(0, "text", 0.9, [100, 198, 300, 254], [50, 99, 150, 127], [], "one\ntwo")
    far = Words(  # a line 8 pt (0.8 lines) below the box: a region of its own
        boxes + np.array([0, 35, 0, 35]),
        ["a", "b", "c"],
        np.array([[0, 0, 0], [0, 1, 0], [0, 2, 0]]),
    )
    page = Page(1, 400, 400, dpi=144.0, regions=[region])
    grown = cover_words(page, words).regions
    assert GROW_LINES == 0.5 and len(grown) == 1
    assert grown[0].bbox_pt == [50.0, 99.0, 150.0, 134.0]
    assert grown[0].bbox_px == [100.0, 198.0, 300.0, 268.0]
    assert grown[0].text == "one\ntwo\nthree" and grown[0].origin == "model"
    region = Region(0, "text", 0.9, [100, 198, 300, 254], [50, 99, 150, 127], [], "")
    apart = cover_words(Page(1, 400, 400, dpi=144.0, regions=[region]), far).regions
    assert [r.origin for r in apart] == ["model", TEXT_LAYER]
    assert apart[0].bbox_pt == [50.0, 99.0, 150.0, 127.0]  # not grown
