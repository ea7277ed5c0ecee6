"""PDF text inside regions: word boxes in displayed points on rotated/cropped pages, order."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest

from layoutft.render import iter_pages
from layoutft.render.text import Words, text_in_box


def rotated_page_pdf(rotation: int) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=800)
    page.insert_text((120, 200), "alpha beta", fontsize=20)  # unrotated coordinates
    page.insert_text((120, 260), "gamma", fontsize=20)
    page.set_cropbox(pymupdf.Rect(60, 80, 560, 760))
    page.set_rotation(rotation)
    return doc.tobytes()


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_word_boxes_land_on_the_rendered_glyphs(rotation: int) -> None:
    (page,) = iter_pages(rotated_page_pdf(rotation), dpi=72, with_words=True)
    words = page.words
    assert words is not None and words.texts == ["alpha", "beta", "gamma"]
    ys, xs = np.nonzero(page.image[..., 0] < 128)
    ink = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=float)
    union = np.concatenate([words.boxes[:, :2].min(axis=0), words.boxes[:, 2:].max(axis=0)])
    # word boxes include the font's ascent/descent, so they contain the ink with a small margin
    assert (union[:2] <= ink[:2] + 1).all() and (union[2:] >= ink[2:] - 1).all()
    assert (np.abs(union - ink) < 12).all()
    # the whole page's text, read from a box around it
    everything = text_in_box(words, [0, 0, page.width_pt, page.height_pt])
    assert everything == "alpha beta\ngamma"


def words(rows: list[tuple[list[float], str, tuple[int, int, int]]]) -> Words:
    return Words(
        np.array([r[0] for r in rows], float),
        [r[1] for r in rows],
        np.array([r[2] for r in rows], np.int64),
    )


def test_text_in_box_order_and_centres() -> None:
    w = words(
        [
            ([10, 50, 40, 60], "second", (0, 1, 0)),  # block order differs from the page order
            ([10, 10, 40, 20], "first", (1, 0, 0)),
            ([45, 10, 80, 20], "line", (1, 0, 1)),
            ([100, 30, 130, 40], "cellB", (2, 0, 0)),  # same row as cellA, right of it
            ([10, 31, 40, 39], "cellA", (3, 0, 0)),
            ([150, 10, 250, 20], "outside", (4, 0, 0)),  # centre at x=200: outside
        ]
    )
    assert text_in_box(w, [0, 0, 190, 100]) == "first line\ncellA cellB\nsecond"
    assert text_in_box(w, [0, 0, 5, 5]) == ""
    assert text_in_box(None, [0, 0, 5, 5]) is None


def test_scanned_page_has_no_text_layer() -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=100, height=100)
    page.draw_rect(pymupdf.Rect(10, 10, 50, 50), fill=(0, 0, 0))
    (rendered,) = iter_pages(doc.tobytes(), dpi=72, with_words=True)
    assert rendered.words is not None and len(rendered.words) == 0
    assert text_in_box(rendered.words, [0, 0, 100, 100]) is None


def test_vertical_text_reads_along_its_direction() -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=400)
    # turned 90 degrees counter-clockwise: reads bottom to top, next line to the right
    page.insert_text((100, 300), "first line", fontsize=14, rotate=90)
    page.insert_text((120, 300), "second", fontsize=14, rotate=90)
    (rendered,) = iter_pages(doc.tobytes(), dpi=72, with_words=True)
    assert rendered.words is not None
    np.testing.assert_allclose(rendered.words.dirs, [[0, -1]] * 3, atol=1e-6)
    assert text_in_box(rendered.words, [0, 0, 300, 400]) == "first line\nsecond"
