"""Drawing regions on page images: colours per class, boxes, polygons, no input mutation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layoutft.draw import color_for_label, draw_regions, label_tag, place_tags


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


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0


def test_close_regions_get_tags_that_do_not_overlap_and_are_not_cut() -> None:
    # two form fields 4 px apart, the first at the top edge, the second at the right edge
    boxes = [[10, 0, 150, 14], [10, 18, 200, 32], [170, 40, 200, 60]]
    sizes = [(60, 12), (60, 12), (70, 12)]
    tags = place_tags(boxes, sizes, 200, 100)
    assert [(t[2] - t[0], t[3] - t[1]) for t in tags] == sizes
    for t in tags:  # inside the image: nothing cut
        assert 0 <= t[0] < t[2] <= 200 and 0 <= t[1] < t[3] <= 100
    assert all(_overlap(a, b) == 0 for i, a in enumerate(tags) for b in tags[i + 1 :])
    # no room above the first box (top edge): its tag goes inside its top-left corner
    assert tags[0] == (10, 0, 70, 12)
    assert tags[2][2] == 200  # the right-edge region's tag is moved left, not cut


def test_drawn_tags_of_a_dense_page_stay_legible() -> None:
    """Ten stacked fields on a gray page: every tag is drawn where place_tags puts it, in the
    class colour and uncovered, with its white text inside it."""
    image = np.full((260, 300, 3), 128, np.uint8)
    boxes = [[20, 10 + 24 * k, 280, 28 + 24 * k] for k in range(10)]
    labels = ["question", "answer"] * 5
    out = draw_regions(image, boxes, labels)
    tags = [label_tag(name, 300, 260) for name in labels]
    assert {tag.height for tag in tags} == {14}  # one height: the 12 px font, 1 px margins
    places = place_tags(boxes, [(tag.width, tag.height) for tag in tags], 300, 260)
    assert all(_overlap(a, b) == 0 for i, a in enumerate(places) for b in places[i + 1 :])
    white = (out >= 200).all(axis=2)  # only text is near white: the page is gray
    in_tags = np.zeros_like(white)
    for (x0, y0, x1, y1), name in zip(places, labels, strict=True):
        band = out[y0:y1, x0:x1].reshape(-1, 3)
        # mostly the class colour (no other tag drawn over it)
        assert (band == np.array(color_for_label(name))).all(axis=1).mean() > 0.5
        rows, cols = np.nonzero(white[y0:y1, x0:x1])
        # legible: the text runs across the tag and is at least an x-height high
        assert cols.max() - cols.min() >= 0.8 * (x1 - x0) and rows.max() - rows.min() >= 5
        in_tags[y0:y1, x0:x1] = True
    assert white.any() and not (white & ~in_tags).any()  # no text outside the tags


def test_label_tags_grow_with_the_page_and_fit_its_width() -> None:
    small, large = label_tag("table 0.93", 300, 200), label_tag("table 0.93", 1700, 2200)
    assert (small.width, small.height) < (large.width, large.height)
    assert large.height >= 2 * small.height - 2  # a 33 px font on a 200 dpi A4 page
    narrow = label_tag("a long class name " * 4, 120, 80)
    assert narrow.width <= 120 and narrow.height < small.height  # the font shrank to fit


def test_annotated_pdf_tags_of_close_regions_do_not_overlap(tmp_path: Path) -> None:
    import pymupdf

    from layoutft.parsing.visualize import annotate_pdf
    from layoutft.schema import Document, Page, Region

    pdf = pymupdf.open()
    pdf.new_page(width=300, height=200)
    source = tmp_path / "form.pdf"
    pdf.save(source)
    boxes = [[20, 0, 200, 10], [20, 14, 290, 24], [20, 28, 290, 38]]  # 4 pt apart, at the top
    regions = [
        Region(id=i, label=name, score=0.9, bbox_px=b, bbox_pt=b)
        for i, (name, b) in enumerate(zip(["question", "answer", "question"], boxes, strict=True))
    ]
    page = Page(number=1, width_pt=300, height_pt=200, regions=regions)
    annotate_pdf(source, Document(source={}, model={}, pages=[page]), tmp_path / "out.pdf")
    words = pymupdf.open(tmp_path / "out.pdf")[0].get_text("words")
    tags = [w for w in words if w[4] in ("question", "answer")]
    assert len(tags) == 3
    for w in tags:  # inside the page
        assert 0 <= w[0] < w[2] <= 300 and 0 <= w[1] < w[3] <= 200
    rects = [tuple(round(v) for v in w[:4]) for w in tags]
    assert all(_overlap(a, b) == 0 for i, a in enumerate(rects) for b in rects[i + 1 :])
