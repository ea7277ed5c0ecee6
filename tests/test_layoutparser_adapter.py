"""``Page.to_layoutparser()`` / ``Page.from_layoutparser()`` with the real ``layoutparser``
package (kept in .venv-ocr by .ci/run: its opencv-python clashes with the main venv's
opencv-python-headless; skipped where it is not installed)."""

from __future__ import annotations

import pytest

from layoutft.schema import Page, Region, Word

lp = pytest.importorskip("layoutparser")


def page() -> Page:
    regions = [
        Region(0, "text", 0.875, [100, 300, 500, 400], [50, 150, 250, 200], [], "one\ntwo", 1),
        Region(1, "title", 0.95, [100, 50, 900, 120], [50, 25, 450, 60], [], "A title", 0),
        Region(2, "figure", 0.5, [100, 500, 800, 900], [50, 250, 400, 450], [], None, 2),
    ]
    regions[0].words = [
        Word("one", [100, 300, 160, 330], 0.9, 0),
        Word("two", [100, 340, 170, 370], 0.75, 1),
    ]
    return Page(1, 612, 792, dpi=144, width_px=1224, height_px=1584, regions=regions)


def test_to_layoutparser_gives_text_blocks_in_reading_order() -> None:
    layout = page().to_layoutparser()
    assert isinstance(layout, lp.Layout) and len(layout) == 3
    assert all(isinstance(b, lp.TextBlock) for b in layout)
    assert [b.type for b in layout] == ["title", "text", "figure"]
    assert [b.id for b in layout] == [1, 0, 2]
    assert [b.score for b in layout] == [0.95, 0.875, 0.5]
    assert [b.parent for b in layout] == [None, None, None]
    assert layout[0].coordinates == (100, 50, 900, 120)
    assert layout[1].text == "one\ntwo"
    # layout-parser's own operations work on it
    texts = layout.filter_by(lp.Rectangle(0, 0, 1224, 200), center=True)
    assert [b.type for b in texts] == ["title"]
    assert layout.page_data == {"width": 1224, "height": 1584, "dpi": 144, "number": 1}


def test_words_are_child_blocks() -> None:
    layout = page().to_layoutparser(words=True)
    words = [b for b in layout if b.type == "word"]
    assert [(w.text, w.parent, w.id, w.score) for w in words] == [
        ("one", 0, "0.0.0", 0.9),
        ("two", 0, "0.1.1", 0.75),
    ]


def test_round_trip() -> None:
    original = page()
    back = Page.from_layoutparser(original.to_layoutparser(words=True), 0, 0)
    assert (back.width_px, back.height_px, back.dpi) == (1224, 1584, 144)
    want = sorted(original.regions, key=lambda r: r.order)
    assert [(r.id, r.label, r.score, r.text, r.order) for r in back.regions] == [
        (r.id, r.label, r.score, r.text, r.order) for r in want
    ]
    assert [r.bbox_px for r in back.regions] == [r.bbox_px for r in want]
    assert [r.bbox_pt for r in back.regions] == [r.bbox_pt for r in want]
    assert back.regions[1].words == original.regions[0].words


def test_from_a_detector_layout() -> None:
    """What ``model.detect(image)`` returns: blocks with type and score, no ids."""
    layout = lp.Layout(
        [
            lp.TextBlock(lp.Rectangle(10, 20, 110, 220), type="Table", score=0.8),
            lp.TextBlock(lp.Rectangle(10, 230, 110, 260), type=None, score=None),
        ]
    )
    got = Page.from_layoutparser(layout, 200, 300, dpi=72)
    assert [(r.id, r.label, r.score, r.order, r.bbox_pt) for r in got.regions] == [
        (0, "Table", 0.8, 0, [10, 20, 110, 220]),
        (1, "text", 1.0, 1, [10, 230, 110, 260]),
    ]
    assert (got.width_pt, got.height_pt) == (200, 300)
