"""Document checks of `layoutft eval`: duplicates, overlaps and word coverage, exact counts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
import pytest

from layoutft.engine.layout_checks import (
    document_checks,
    duplicate_and_overlap_counts,
    find_pdf_page,
    pdf_word_centers,
    word_coverage_counts,
)


def test_duplicates_and_overlaps_are_counted_once_per_box() -> None:
    boxes = np.array(
        [
            [0, 0, 100, 50],  # kept
            [2, 0, 100, 52],  # IoU ~0.94 with the first: duplicate (and overlapping)
            [0, 60, 100, 100],  # alone
            [10, 70, 30, 80],  # inside the third: overlapping, IoU 0.05: no duplicate
        ],
        dtype=float,
    )
    assert duplicate_and_overlap_counts(boxes) == (1, 4)
    assert duplicate_and_overlap_counts(boxes[:1]) == (0, 0)
    assert duplicate_and_overlap_counts(np.zeros((0, 4))) == (0, 0)


def test_word_coverage_counts_none_one_several() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 20, 10]], dtype=float)
    centers = np.array([[2, 5], [7, 5], [15, 5], [50, 5]], dtype=float)
    assert word_coverage_counts(centers, boxes) == (1, 2, 1)
    assert word_coverage_counts(centers, np.zeros((0, 4))) == (4, 0, 0)


def make_pdf(path: Path, rotate: int = 0) -> None:
    """A 200 x 100 pt page with words at known places, and a second page without text."""
    doc = pymupdf.open()
    page = doc.new_page(width=200, height=100)
    for x, y, word in [(10, 20, "alpha"), (10, 40, "beta"), (120, 20, "gamma"), (120, 80, "delta")]:
        page.insert_text((x, y), word, fontsize=10)
    page.set_rotation(rotate)
    doc.new_page(width=200, height=100)
    doc.save(path)


def test_word_centers_are_in_image_pixels(tmp_path: Path) -> None:
    make_pdf(tmp_path / "d.pdf")
    centers = pdf_word_centers(tmp_path / "d.pdf", 1, (200, 400))  # 2 px per point
    assert centers is not None and centers.shape == (4, 2)
    first = centers[0]
    assert 20 < first[0] < 70 and 25 < first[1] < 40  # "alpha" near (10..37, 13..22) pt
    assert pdf_word_centers(tmp_path / "d.pdf", 2, (200, 400)) is None  # no text layer


def test_word_centers_are_read_once_per_file_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.pdf"
    make_pdf(path)
    opened: list[Any] = []
    real_open = pymupdf.open

    def counting_open(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(pymupdf, "open", counting_open)
    first = pdf_word_centers(path, 1, (200, 400))
    again = pdf_word_centers(path, 1, (200, 400))
    assert first is not None and again is first and len(opened) == 1
    assert not first.flags.writeable
    doc = real_open()
    doc.new_page(width=200, height=100).insert_text((10, 20), "one word", fontsize=10)
    doc.save(path)  # the file changed: read again
    changed = pdf_word_centers(path, 1, (200, 400))
    assert changed is not None and len(changed) == 2 and len(opened) == 2


def test_word_centers_follow_page_rotation(tmp_path: Path) -> None:
    make_pdf(tmp_path / "r.pdf", rotate=90)
    centers = pdf_word_centers(tmp_path / "r.pdf", 1, (200, 100))  # displayed 100 x 200 pt
    assert centers is not None
    # /Rotate 90 turns the page clockwise: "alpha" (top-left unrotated) ends up top-right.
    assert centers[0][0] > 70 and centers[0][1] < 60


def test_find_pdf_page_by_record_fields(tmp_path: Path) -> None:
    (tmp_path / "pdfs").mkdir()
    make_pdf(tmp_path / "pdfs" / "doc.pdf")
    folders = [tmp_path, tmp_path / "pdfs"]
    assert find_pdf_page({"pdf": "pdfs/doc.pdf", "page": 2}, folders) == (
        tmp_path / "pdfs" / "doc.pdf",
        2,
        True,
    )
    assert find_pdf_page({"doc_name": "doc.pdf", "page_no": 3}, folders)[:2] == (
        tmp_path / "pdfs" / "doc.pdf",
        3,
    )
    assert find_pdf_page({"document": "doc"}, folders)[:2] == (tmp_path / "pdfs" / "doc.pdf", 1)
    assert find_pdf_page({"pdf": "gone.pdf"}, folders) == (None, 1, True)
    assert find_pdf_page({"document": "gone"}, folders) == (None, 1, False)


def record(image_id: int, box: list[float], score: float) -> dict[str, Any]:
    x0, y0, x1, y1 = box
    return {
        "image_id": image_id,
        "category_id": 1,
        "bbox": [x0, y0, x1 - x0, y1 - y0],
        "score": score,
    }


def test_document_checks_on_a_pdf_dataset(tmp_path: Path) -> None:
    make_pdf(tmp_path / "d.pdf")
    gt = {
        "images": [
            {"id": 1, "file_name": "p1.png", "width": 400, "height": 200, "pdf": "d.pdf"},
            {"id": 2, "file_name": "p2.png", "width": 400, "height": 200, "pdf": "lost.pdf"},
        ]
    }
    results = [
        record(1, [0, 0, 200, 100], 0.9),  # left column, top: alpha and beta (pixels, 2x)
        record(1, [0, 0, 200, 110], 0.8),  # its duplicate
        record(1, [220, 0, 400, 60], 0.7),  # gamma
        record(1, [220, 0, 400, 200], 0.1),  # below the threshold: ignored
        record(2, [0, 0, 10, 10], 0.9),
    ]
    checks = document_checks(gt, results, [tmp_path], score_threshold=0.5)
    assert checks["regions"] == 4 and checks["duplicate_pct"] == pytest.approx(25.0)
    assert checks["overlap_pct"] == pytest.approx(50.0)
    assert checks["text_layer_pages"] == 1 and checks["missing_pdfs"] == 1
    assert checks["words"] == 4
    assert checks["words_in_several_regions_pct"] == pytest.approx(50.0)  # alpha, beta twice
    assert checks["words_in_one_region_pct"] == pytest.approx(25.0)  # gamma
    assert checks["words_in_no_region_pct"] == pytest.approx(25.0)  # delta


def test_document_checks_without_pdfs_are_nan_for_words() -> None:
    gt = {"images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}]}
    checks = document_checks(gt, [], [], score_threshold=0.5)
    assert checks["regions"] == 0 and math.isnan(checks["duplicate_pct"])
    assert checks["words"] == 0 and math.isnan(checks["words_in_one_region_pct"])
