"""Reading order on constructed layouts (points, letter page 612 x 792)."""

from __future__ import annotations

import numpy as np

from layoutft.parsing.reading_order import order_ranks, reading_order

L, R = (50, 296), (316, 562)  # two columns with a 20 pt gutter


def col(side: tuple[int, int], y0: float, y1: float) -> list[float]:
    return [side[0], y0, side[1], y1]


def test_two_columns_with_full_width_title_and_figure() -> None:
    boxes = {
        "title": [50, 40, 562, 80],
        "l1": col(L, 100, 200),
        "l2": col(L, 210, 300),  # gaps line up with r1/r2: rows must not be read across
        "r1": col(R, 100, 200),
        "r2": col(R, 210, 300),
        "figure": [50, 320, 562, 480],
        "l3": col(L, 500, 600),
        "l4": col(L, 610, 740),
        "r3": col(R, 500, 740),
    }
    names = list(boxes)
    rng = np.random.default_rng(0)
    shuffled = [names[i] for i in rng.permutation(len(names))]
    order = reading_order([boxes[n] for n in shuffled])
    assert [shuffled[i] for i in order] == [
        "title",
        "l1",
        "l2",
        "r1",
        "r2",
        "figure",
        "l3",
        "l4",
        "r3",
    ]


def test_left_column_longer_than_right() -> None:
    boxes = [col(L, 100, 300), col(R, 100, 250), col(L, 310, 600), [50, 40, 562, 80]]
    assert reading_order(boxes) == [3, 0, 2, 1]


def test_three_columns() -> None:
    cols = [(40, 200), (220, 390), (410, 570)]
    boxes, names = [], []
    for c, side in enumerate(cols):
        for k, (y0, y1) in enumerate([(100, 300), (320, 500), (520, 700)]):
            boxes.append([side[0], y0, side[1], y1])
            names.append(f"c{c}{k}")
    boxes.append([40, 30, 570, 80])
    names.append("title")
    order = reading_order(boxes[::-1])
    assert [names[::-1][i] for i in order] == ["title"] + [
        f"c{c}{k}" for c in range(3) for k in range(3)
    ]


def test_single_column_and_slight_overlaps() -> None:
    boxes = [[72, 400, 540, 500], [72, 100, 540, 203], [72, 200, 300, 260], [72, 270, 540, 390]]
    assert reading_order(boxes) == [1, 2, 3, 0]
    # a box poking 1 pt into the gutter does not merge the columns
    two = [col(L, 100, 300), [316, 100, 562, 300], [50, 310, 297, 500], [316, 310, 562, 500]]
    assert reading_order(two) == [0, 2, 1, 3]


def test_ranks_and_empty() -> None:
    assert reading_order([]) == []
    assert order_ranks([[0, 50, 10, 60], [0, 0, 10, 10]]) == [1, 0]
    # identical boxes keep a deterministic order
    assert reading_order([[0, 0, 10, 10]] * 3) == [0, 1, 2]
