"""Post-processing: thresholds, duplicate/nested suppression, clipping, mask polygons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from layoutft.errors import LayoutftError
from layoutft.model.settings import config_score_threshold
from layoutft.parsing.postprocess import (
    ScoreThresholds,
    mask_polygons,
    parse_score_threshold,
    postprocess,
    suppress_duplicates,
)

LABELS = ["text", "title", "list", "table", "figure"]


@dataclass
class Dets:
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    masks: np.ndarray | None = None


def dets(rows: list[tuple[list[float], float, int]], masks: np.ndarray | None = None) -> Dets:
    return Dets(
        np.array([r[0] for r in rows], dtype=np.float32),
        np.array([r[1] for r in rows], dtype=np.float32),
        np.array([r[2] for r in rows], dtype=np.int64),
        masks,
    )


def test_parse_score_threshold() -> None:
    assert parse_score_threshold(None) == ScoreThresholds(0.5, {})
    assert parse_score_threshold("0.6").for_label("table") == 0.6
    t = parse_score_threshold("table=0.7, figure=0.25", LABELS)
    assert (t.for_label("table"), t.for_label("figure"), t.for_label("text")) == (0.7, 0.25, 0.5)
    t = parse_score_threshold("0.3,table=0.9", LABELS)
    assert (t.for_label("title"), t.for_label("table")) == (0.3, 0.9)
    assert parse_score_threshold(0.4).default == 0.4


def test_default_threshold_comes_from_the_config() -> None:
    from layoutft.config import default_config

    cfg = default_config()
    assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.05
    assert config_score_threshold(cfg) == 0.5  # detectron2's eval default: not a choice
    cfg.merge_from_list(["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.3"])
    assert config_score_threshold(cfg) == 0.3
    cfg.merge_from_list(["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.8"])
    assert config_score_threshold(cfg) == 0.8
    assert config_score_threshold(None) == 0.5
    # classes the spec leaves out keep the config's default; a bare number replaces it
    t = parse_score_threshold("table=0.9", LABELS, default=0.3)
    assert (t.for_label("text"), t.for_label("table")) == (0.3, 0.9)
    assert parse_score_threshold(None, LABELS, default=0.3) == ScoreThresholds(0.3, {})
    assert parse_score_threshold("0.6", LABELS, default=0.3).for_label("text") == 0.6


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tabel=0.7", "unknown class tabel; the model's classes are text, title"),
        ("1.5", "'1.5' is not a score in \\[0, 1\\]"),
        ("table=high", "'high' is not a score"),
    ],
)
def test_bad_score_threshold(spec: str, message: str) -> None:
    with pytest.raises(LayoutftError, match=message):
        parse_score_threshold(spec, LABELS)


def test_thresholds_duplicates_nesting_and_clipping() -> None:
    d = dets(
        [
            ([10, 10, 110, 60], 0.95, 0),  # text kept
            ([12, 11, 111, 62], 0.90, 0),  # duplicate of the first (IoU > 0.5): dropped
            ([20, 20, 60, 40], 0.80, 0),  # nested in the first: dropped
            ([20, 20, 60, 40], 0.85, 3),  # inside the text box, other class: dropped too
            ([108, 50, 180, 90], 0.82, 3),  # another class touching the text box: kept
            ([0, 100, 100, 150], 0.40, 0),  # below 0.5: dropped
            ([150, 180, 260, 260], 0.70, 4),  # sticks out of the 200 x 250 page: clipped
            ([300, 300, 400, 400], 0.99, 1),  # entirely off the page: dropped
        ]
    )
    out = postprocess(d, LABELS, image_size=(250, 200))
    assert out.labels == ["text", "table", "figure"]
    np.testing.assert_allclose(out.scores, [0.95, 0.82, 0.70], atol=1e-6)
    np.testing.assert_allclose(out.boxes[2], [150, 180, 200, 250])
    # no masks: the polygon is the (clipped) box
    np.testing.assert_allclose(out.polygons[2][0], [[150, 180], [200, 180], [200, 250], [150, 250]])
    per_class = postprocess(d, LABELS, (250, 200), thresholds=parse_score_threshold("text=0.3"))
    assert per_class.labels == ["text", "table", "figure", "text"]


def test_none_keeps_raw_detections() -> None:
    d = dets([([10, 10, 110, 60], 0.2, 0), ([12, 11, 111, 62], 0.9, 0), ([-5, 0, 500, 9], 0.1, 2)])
    out = postprocess(d, LABELS, (100, 100), mode="none")
    np.testing.assert_array_equal(out.boxes, d.boxes.astype(np.float64))
    np.testing.assert_array_equal(out.scores, d.scores.astype(np.float64))
    assert out.labels == ["text", "text", "list"]
    with pytest.raises(LayoutftError, match="unknown postprocess 'raw'"):
        postprocess(d, LABELS, (100, 100), mode="raw")


def test_empty_detections() -> None:
    d = Dets(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    out = postprocess(d, LABELS, (10, 10))
    assert out.boxes.shape == (0, 4) and out.labels == [] and out.polygons == []
    assert suppress_duplicates(np.zeros((0, 4)), []).shape == (0,)


def test_mask_polygons() -> None:
    mask = np.zeros((100, 120), bool)
    mask[10:50, 20:80] = True  # a rectangle
    mask[60:95, 30:60] = True  # a second large blob
    mask[97:99, 110:112] = True  # a speck: dropped (< 10% of the largest)
    polys = mask_polygons(mask)
    assert len(polys) == 2
    # vertices are pixel centres: columns 20..79, rows 10..49
    np.testing.assert_allclose(
        sorted(map(tuple, polys[0])),
        sorted([(20.5, 10.5), (79.5, 10.5), (79.5, 49.5), (20.5, 49.5)]),
    )
    assert polys[1][:, 1].min() == 60.5
    # an L-shape keeps its 6 corners after simplification
    ell = np.zeros((60, 60), bool)
    ell[5:55, 5:20] = True
    ell[40:55, 5:55] = True
    assert len(mask_polygons(ell)[0]) == 6
    assert mask_polygons(np.zeros((5, 5), bool)) == []


def test_mask_polygons_touching_the_page_edge_and_shifted() -> None:
    # a mask filling the page's corner: its outline runs along the image edge
    corner = np.zeros((40, 50), bool)
    corner[:15, :20] = True
    np.testing.assert_allclose(
        sorted(map(tuple, mask_polygons(corner)[0])),
        sorted([(0.5, 0.5), (19.5, 0.5), (19.5, 14.5), (0.5, 14.5)]),
    )
    # the same two-blob shape anywhere on a larger page: the same polygons, shifted
    rng = np.random.default_rng(3)
    shape = rng.random((30, 40)) < 0.6
    shape[10:20, 5:35] = True
    alone = mask_polygons(shape)
    page = np.zeros((300, 400), np.uint8)  # non-bool masks count their non-zero pixels
    page[200:230, 111:151] = shape * 7
    shifted = mask_polygons(page)
    assert len(shifted) == len(alone) >= 1
    for a, b in zip(alone, shifted, strict=True):
        np.testing.assert_array_equal(b, a + np.array([111, 200]))


def test_masks_become_polygons_in_postprocess() -> None:
    masks = np.zeros((1, 50, 50), bool)
    masks[0, 5:25, 10:40] = True
    out = postprocess(dets([([10, 5, 40, 25], 0.9, 3)], masks), LABELS, (50, 50))
    assert len(out.polygons[0]) == 1 and out.polygons[0][0].shape == (4, 2)


def test_suppressed_readings_become_alternatives() -> None:
    d = dets(
        [
            ([10, 10, 110, 60], 0.95, 0),  # text kept
            ([12, 11, 111, 62], 0.90, 2),  # the same ink read as a list: alternative
            ([20, 20, 60, 40], 0.80, 0),  # a text nested in it: alternative (another extent)
            ([10, 30, 110, 90], 0.70, 0),  # a text over its lower half only: dropped
            ([15, 12, 108, 58], 0.40, 3),  # a table below the 0.5 threshold: dropped
            ([200, 10, 260, 60], 0.85, 4),  # a figure elsewhere: kept, no alternatives
            ([205, 12, 258, 58], 0.60, 3),  # the figure read as a table: alternative
        ]
    )
    out = postprocess(d, LABELS, (100, 300))
    assert out.labels == ["text", "figure"]
    text, figure = out.alternatives
    assert [(a.label, round(a.score, 2)) for a in text] == [("list", 0.9), ("text", 0.8)]
    np.testing.assert_allclose(text[1].box, [20, 20, 60, 40])
    assert [(a.label, round(a.score, 2)) for a in figure] == [("table", 0.6)]
    assert suppress_duplicates(d.boxes[[0, 1, 2, 3, 5, 6]], LABELS[:1] * 6).tolist() == [0, 4]
    # a lower per-class threshold lets the table in as a third alternative of the text
    low = postprocess(d, LABELS, (100, 300), thresholds=parse_score_threshold("table=0.3"))
    assert [a.label for a in low.alternatives[0]] == ["list", "text", "table"]
    # "none" keeps every detection as a region: none has alternatives
    assert postprocess(d, LABELS, (100, 300), mode="none").alternatives == [[]] * 7
