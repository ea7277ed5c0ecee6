"""Alternatives through the whole parse: a stand-in detector with fixed detections, a PDF
made here, the JSON, JSON Lines and COCO writers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pymupdf

from layoutft.parsing.parser import ParseOptions, Parser
from layoutft.parsing.results import result_sink
from layoutft.schema import Document, json_schema

LABELS = ["text", "title", "list", "table", "figure"]


@dataclass
class Dets:
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray | None = None


class FixedDetector:
    """Returns the same detections (pixel boxes, scores, class names) for every image."""

    labels = LABELS

    def __init__(self, rows: list[tuple[list[float], float, str]]) -> None:
        self.rows = rows

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> list[Dets]:
        boxes = np.array([r[0] for r in self.rows], np.float32).reshape(-1, 4)
        scores = np.array([r[1] for r in self.rows], np.float32)
        classes = np.array([LABELS.index(r[2]) for r in self.rows], np.int64)
        return [Dets(boxes, scores, classes) for _ in images]


def one_page_pdf(path: Path) -> Path:
    doc = pymupdf.open()
    doc.new_page(width=400, height=400)
    doc.save(path)
    return path


def test_alternatives_in_json_jsonl_and_coco(tmp_path: Path) -> None:
    pdf = one_page_pdf(tmp_path / "a.pdf")
    detector = FixedDetector(
        [
            ([100, 100, 300, 200], 0.9, "text"),
            ([101, 100, 300, 201.5], 0.8, "list"),  # same box within 2 pt: no box of its own
            ([100, 150, 300, 200], 0.7, "table"),  # its lower half: a box of its own
            ([100, 250, 300, 300], 0.6, "figure"),
        ]
    )
    parser = Parser(detector, ParseOptions(dpi=144, text=False))  # 2 px per point
    out = tmp_path / "a.jsonl"
    doc = parser.run(pdf, [result_sink(out, "jsonl")])
    text, figure = doc.pages[0].regions
    assert (text.label, figure.label, figure.alternatives) == ("text", "figure", [])
    assert [(a.label, a.score) for a in text.alternatives] == [
        ("list", np.float32(0.8).item()),
        ("table", np.float32(0.7).item()),
    ]
    assert text.alternatives[0].bbox_px is None and text.alternatives[0].bbox_pt is None
    assert text.alternatives[1].bbox_px == [100.0, 150.0, 300.0, 200.0]
    assert text.alternatives[1].bbox_pt == [50.0, 75.0, 150.0, 100.0]
    data = json.loads(doc.to_json())
    jsonschema.validate(data, json_schema())
    assert Document.from_json(doc.to_json()).to_dict() == data
    line = json.loads(out.read_text().splitlines()[0])
    assert line["pages"][0]["regions"] == data["pages"][0]["regions"]
    coco = doc.to_coco_results()
    assert [(r["label"], r.get("alternative_of")) for r in coco] == [
        ("text", None),
        ("list", 0),
        ("table", 0),
        ("figure", None),
    ]
    assert coco[1]["bbox"] == [100.0, 100.0, 200.0, 100.0]  # the region's box
    # --postprocess none: every detection a region, no alternatives
    raw = Parser(detector, ParseOptions(dpi=144, text=False, postprocess="none")).parse(pdf)
    assert len(raw.pages[0].regions) == 4
    assert all(not r.alternatives for r in raw.pages[0].regions)
