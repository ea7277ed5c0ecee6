"""Drawing regions on page images: colours per class, boxes, polygons, no input mutation."""

from __future__ import annotations

import numpy as np
import pytest

from layoutft.draw import color_for_label, draw_regions


def test_colors_are_stable_and_distinct() -> None:
    assert color_for_label("table") == (255, 127, 14)
    assert color_for_label("Table") == color_for_label("table")
    assert color_for_label("stamp") == color_for_label("stamp")  # CRC-32, not salted hash
    known = {color_for_label(n) for n in ["text", "title", "list", "table", "figure"]}
    assert len(known) == 5
    assert all(0 <= c <= 255 for c in color_for_label("anything else"))


def test_draw_regions_boxes_polygons_and_labels() -> None:
    image = np.full((200, 300, 3), 255, np.uint8)
    before = image.copy()
    poly = np.array([[150, 120], [250, 120], [250, 180], [150, 180]], float)
    out = draw_regions(
        image,
        [[20, 40, 120, 100], [150, 120, 250, 180]],
        ["table", "figure"],
        polygons=[[], [poly]],
        scores=[0.9, 0.8],
    )
    np.testing.assert_array_equal(image, before)  # input untouched
    assert out.shape == image.shape and out.dtype == np.uint8
    assert tuple(out[70, 20]) == color_for_label("table")  # left edge of the first box
    assert tuple(out[100, 70]) == color_for_label("table")  # bottom edge
    assert tuple(out[70, 70]) == (255, 255, 255)  # inside, no polygon: not filled
    fig = np.array(color_for_label("figure"))
    inside = out[150, 200].astype(int)  # translucent fill: between white and the colour
    np.testing.assert_allclose(inside, 0.3 * fig + 0.7 * 255, atol=1)
    assert (out[30:40, 20:60] != 255).any()  # the label band above the first box


def test_draw_regions_grayscale_and_checks() -> None:
    out = draw_regions(np.zeros((50, 50), np.uint8), np.zeros((0, 4)), [])
    assert out.shape == (50, 50, 3)
    with pytest.raises(ValueError, match="1 boxes but 2 labels"):
        draw_regions(np.zeros((50, 50, 3), np.uint8), [[0, 0, 5, 5]], ["a", "b"])
