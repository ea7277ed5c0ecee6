"""PageTransform: round trips, and boxes land where real renderers put the ink."""

from __future__ import annotations

import shutil

import numpy as np
import pymupdf
import pytest

from layoutft.geometry import PageTransform, clip_boxes, pairwise_iou
from layoutft.render import iter_pages

MEDIABOX = "[100 200 700 1000]"
CROPBOX = "[150 260 650 900]"  # unrotated CropBox 500 x 640 pt, away from the origin
RECT_USER = (300.0, 400.0, 400.0, 450.0)  # x0, y0, x1, y1 in PDF user space (y up)


def make_pdf(rotation: int, mediabox: str = MEDIABOX, cropbox: str = CROPBOX) -> bytes:
    """One page with a black rectangle drawn by a raw content stream at RECT_USER."""
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=800)
    xref = page.xref
    doc.xref_set_key(xref, "MediaBox", mediabox)
    doc.xref_set_key(xref, "CropBox", cropbox)
    doc.xref_set_key(xref, "Rotate", str(rotation))
    stream = doc.get_new_xref()
    doc.update_object(stream, "<<>>")
    x0, y0, x1, y1 = RECT_USER
    doc.update_stream(stream, f"0 g {x0} {y0} {x1 - x0} {y1 - y0} re f".encode())
    doc.xref_set_key(xref, "Contents", f"{stream} 0 R")
    return doc.tobytes()


def ink_box(image: np.ndarray) -> np.ndarray:
    """XYXY pixel box of the dark pixels (x1, y1 exclusive)."""
    ys, xs = np.nonzero(image[..., 0] < 128)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)


ROTATIONS = [0, 90, 180, 270]


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_round_trips(rotation: int) -> None:
    w, h = (640.0, 500.0) if rotation in (90, 270) else (500.0, 640.0)
    t = PageTransform.for_dpi(w, h, 137, rotation, crop_x0=150, crop_y1=900)
    rng = np.random.default_rng(rotation)
    xy = rng.uniform(0, 400, size=(20, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 100, size=(20, 2))], axis=1)
    np.testing.assert_allclose(t.px_to_pt(t.pt_to_px(boxes)), boxes, atol=1e-9)
    np.testing.assert_allclose(t.unrotated_to_pt(t.pt_to_unrotated(boxes)), boxes, atol=1e-9)
    np.testing.assert_allclose(t.pdf_user_to_pt(t.pt_to_pdf_user(boxes)), boxes, atol=1e-9)
    assert t.dpi == pytest.approx(137)


@pytest.mark.parametrize(
    ("rotation", "expected_pt"),
    [
        # unrotated (u, v) = (x - 150, 900 - y): u 150..250, v 450..500, W=500, H=640
        (0, [150, 450, 250, 500]),
        (90, [140, 150, 190, 250]),  # (H - v, u)
        (180, [250, 140, 350, 190]),  # (W - u, H - v)
        (270, [450, 250, 500, 350]),  # (v, W - u)
    ],
)
def test_user_space_to_displayed_points(rotation: int, expected_pt: list[float]) -> None:
    w, h = (640.0, 500.0) if rotation in (90, 270) else (500.0, 640.0)
    t = PageTransform.for_dpi(w, h, 72, rotation, crop_x0=150, crop_y1=900)
    np.testing.assert_allclose(t.pdf_user_to_pt(RECT_USER)[0], expected_pt)


@pytest.mark.parametrize("rotation", ROTATIONS)
@pytest.mark.parametrize("renderer", ["pymupdf", "pdf2image"])
def test_rendered_ink_lands_where_pt_to_px_says(rotation: int, renderer: str) -> None:
    if renderer == "pdf2image" and shutil.which("pdftoppm") is None:
        pytest.skip("poppler's pdftoppm is not installed")
    (page,) = list(iter_pages(make_pdf(rotation), dpi=100, renderer=renderer))
    t = page.transform
    assert page.rotation == rotation
    expected_size = (640, 500) if rotation in (90, 270) else (500, 640)
    assert (page.width_pt, page.height_pt) == expected_size
    # Renderers round the page size up: 500 pt at 100 dpi is 694.4 px -> 695.
    height, width = page.image.shape[:2]
    assert abs(height - t.height_px) <= 1 and abs(width - t.width_px) <= 1
    assert t.width_px == (889 if rotation in (90, 270) else 695)
    expected_px = t.pt_to_px(t.pdf_user_to_pt(RECT_USER))[0]
    np.testing.assert_allclose(ink_box(page.image), expected_px, atol=1.0)


def test_clip_and_iou() -> None:
    boxes = np.array([[-5, -5, 20, 10], [90, 40, 120, 80]], dtype=float)
    np.testing.assert_allclose(clip_boxes(boxes, 100, 50), [[0, 0, 20, 10], [90, 40, 100, 50]])
    iou = pairwise_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou, [[50 / 150, 0.0]])


def test_rejects_bad_rotation() -> None:
    with pytest.raises(ValueError, match="rotation"):
        PageTransform(100, 100, rotation=45)


def test_linked_groups_are_connected_components_in_first_item_order() -> None:
    from layoutft.geometry import linked_groups

    assert linked_groups(6, [(4, 1), (2, 3), (1, 0)]) == [[0, 1, 4], [2, 3], [5]]
    assert linked_groups(3, []) == [[0], [1], [2]]
    assert linked_groups(0, []) == []
