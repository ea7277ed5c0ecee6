"""Mask outlines without OpenCV (layoutft.parsing.contours, mask_polygons), checked against
OpenCV (a dev dependency): the same contours, areas, and polygons covering the same pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from layoutft.parsing import contours
from layoutft.parsing.contours import outer_contours, polygon_area, simplify_closed
from layoutft.parsing.postprocess import mask_polygons


def _random_masks(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Noise of every density: many components, holes, islands in holes, 1-px lines."""
    return [rng.random(rng.integers(1, 40, 2)) < rng.uniform(0.05, 0.95) for _ in range(n)]


def _blobs(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Smooth blobs like the model's masks: coarse noise resized bilinearly, thresholded."""
    masks = []
    for _ in range(n):
        coarse = rng.random(rng.integers(3, 10, 2)).astype(np.float32)
        height, width = (int(v) for v in rng.integers(20, 300, 2))
        fine = Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR)
        masks.append(np.asarray(fine) > rng.uniform(0.3, 0.7))
    return masks


def _shapes() -> dict[str, np.ndarray]:
    """Structured masks: text blocks, an L, holes, islands, lines and single pixels."""
    shapes = {}
    block = np.zeros((120, 400), bool)
    block[10:110, 12:390] = True
    block[10:20, 300:390] = False  # a short last line
    shapes["text block"] = block
    ell = np.zeros((60, 60), bool)
    ell[5:55, 5:20] = True
    ell[40:55, 5:55] = True
    shapes["L"] = ell
    ring = np.zeros((60, 60), bool)
    ring[5:55, 5:55] = True
    ring[20:40, 20:40] = False
    shapes["hole"] = ring
    island = ring.copy()
    island[25:35, 25:35] = True  # inside the hole: no contour of its own (RETR_EXTERNAL)
    shapes["island in a hole"] = island
    several = np.zeros((50, 100), bool)
    several[5:20, 5:40] = True
    several[25:45, 50:95] = True
    several[30:32, 10:12] = True
    shapes["several"] = several
    touching = np.zeros((40, 40), bool)
    touching[5:15, 5:15] = True
    touching[15:25, 15:25] = True  # one component: the squares share a corner
    shapes["diagonal touch"] = touching
    line = np.zeros((30, 90), bool)
    line[10, 5:80] = True
    line[12:20, 40:60] = True  # beside a block, not touching it
    shapes["1-px line and a block"] = line
    dots = np.zeros((20, 20), bool)
    dots[3, 3] = dots[10, 15] = True
    shapes["single pixels"] = dots
    return shapes


def _cv2_contours(mask: np.ndarray) -> list[np.ndarray]:
    found, _ = cv2.findContours(
        np.pad(mask.astype(np.uint8), 1),
        cv2.RETR_EXTERNAL,
        cv2.CHAIN_APPROX_SIMPLE,
        offset=(-1, -1),
    )
    return [c.reshape(-1, 2) for c in found]


def _raster(polygons: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """bool [H, W]: pixels on or inside the polygons (continuous pixel coordinates)."""
    canvas = np.zeros(shape, np.uint8)
    for poly in polygons:
        cv2.fillPoly(canvas, [np.round(poly - 0.5).astype(np.int32).reshape(-1, 1, 2)], 1)
    return canvas.astype(bool)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _cv2_mask_polygons(mask: np.ndarray, min_fraction: float = 0.1) -> list[np.ndarray]:
    """mask_polygons as it was with OpenCV: findContours, contourArea, approxPolyDP."""
    found = _cv2_contours(mask)
    areas = [cv2.contourArea(c) for c in found]
    largest = max(areas, default=0.0)
    polygons = []
    for area, c in sorted(zip(areas, found, strict=True), key=lambda t: -t[0]):
        if area < min_fraction * largest or (largest > 0 and area == 0):
            continue
        simple = cv2.approxPolyDP(c.reshape(-1, 1, 2), 1.0, True).reshape(-1, 2)
        if len(simple) >= 3:
            polygons.append(simple.astype(np.float64) + 0.5)
    return polygons


def test_outer_contours_equal_opencv() -> None:
    rng = np.random.default_rng(0)
    masks = _random_masks(rng, 150) + _blobs(rng, 40) + list(_shapes().values())
    for mask in masks:
        ours = outer_contours(mask)
        # OpenCV lists the contour found last first
        theirs = _cv2_contours(mask)[::-1]
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
            assert polygon_area(a) == cv2.contourArea(b.reshape(-1, 1, 2))


def test_outer_contours_of_simple_shapes() -> None:
    shapes = _shapes()
    (rect,) = outer_contours(shapes["hole"])  # the hole has no contour
    assert sorted(map(tuple, rect.tolist())) == [(5, 5), (5, 54), (54, 5), (54, 54)]
    assert polygon_area(rect) == 49 * 49
    assert len(outer_contours(shapes["island in a hole"])) == 1
    assert len(outer_contours(shapes["diagonal touch"])) == 1
    assert [c.tolist() for c in outer_contours(shapes["single pixels"])] == [[[3, 3]], [[15, 10]]]
    line, block = outer_contours(shapes["1-px line and a block"])
    assert line.tolist() == [[5, 10], [79, 10]] and polygon_area(line) == 0
    assert polygon_area(block) == 19 * 7
    assert outer_contours(np.zeros((3, 4), bool)) == []
    assert outer_contours(np.ones((1, 1), bool))[0].tolist() == [[0, 0]]


def test_simplify_closed() -> None:
    # a rectangle's straight sides: only the corners stay
    square = np.array([[0, 0], [0, 5], [0, 10], [10, 10], [10, 5], [10, 0], [5, 0]])
    np.testing.assert_array_equal(
        simplify_closed(square, 1.0), [[0, 0], [0, 10], [10, 10], [10, 0]]
    )
    # a bump of 1 px goes, one of 2 px stays
    bumpy = np.array([[0, 0], [0, 20], [20, 20], [20, 11], [21, 10], [20, 9], [20, 0]])
    assert [21, 10] not in simplify_closed(bumpy, 1.0).tolist()
    bumpy[4] = [22, 10]
    assert [22, 10] in simplify_closed(bumpy, 1.0).tolist()
    # every dropped vertex lies within epsilon of the simplified outline
    rng = np.random.default_rng(1)
    for mask in _blobs(rng, 20):
        for contour in outer_contours(mask):
            simple = simplify_closed(contour, 1.0)
            assert set(map(tuple, simple.tolist())) <= set(map(tuple, contour.tolist()))
            if len(simple) >= 3:
                assert _distance_to_polygon(contour, simple).max() <= 1.0 + 1e-9


def _distance_to_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Distance of each point [K, 2] to the closed polyline ``polygon``."""
    p = points[:, None, :].astype(np.float64)
    a = polygon.astype(np.float64)[None]
    b = np.roll(polygon, -1, axis=0).astype(np.float64)[None]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab**2).sum(-1), 1e-12), 0, 1)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1).min(axis=1)


def test_long_spans_in_numpy_match_python(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    contours_ = [c for m in _blobs(rng, 20) for c in outer_contours(m) if len(c) > 100]
    assert contours_
    mixed = [simplify_closed(c, 1.0) for c in contours_]
    monkeypatch.setattr(contours, "_NUMPY_SPAN", 10**9)  # all in Python
    for c, expected in zip(contours_, mixed, strict=True):
        np.testing.assert_array_equal(simplify_closed(c, 1.0), expected)


@pytest.mark.parametrize("name", list(_shapes()))
def test_mask_polygons_cover_structured_masks(name: str) -> None:
    mask = _shapes()[name]
    ours, theirs = mask_polygons(mask), _cv2_mask_polygons(mask)
    assert len(ours) == len(theirs)
    if not ours:  # lines and single pixels: no polygon (the caller draws the box)
        assert name in ("single pixels",)
        return
    # vertices are centres of set pixels
    for poly in ours:
        xs, ys = (poly - 0.5).astype(int).T
        assert mask[ys, xs].all()
    covered = _raster(ours, mask.shape)
    filled = _raster(theirs, mask.shape)
    np.testing.assert_array_equal(covered, filled)
    if name not in ("hole", "island in a hole", "1-px line and a block"):
        assert _iou(covered, mask) >= 0.95  # holes and lines are not outlined


def test_mask_polygons_match_opencv_on_blobs() -> None:
    rng = np.random.default_rng(3)
    masks = _blobs(rng, 80)
    ious, ours_vertices, their_vertices = [], 0, 0
    for mask in masks:
        ours, theirs = mask_polygons(mask), _cv2_mask_polygons(mask)
        assert len(ours) == len(theirs)
        np.testing.assert_allclose(
            [polygon_area(p) for p in ours], [polygon_area(p) for p in theirs], rtol=0.03
        )
        ious.append(_iou(_raster(ours, mask.shape), _raster(theirs, mask.shape)))
        ours_vertices += sum(map(len, ours))
        their_vertices += sum(map(len, theirs))
    assert min(ious) >= 0.97 and np.median(ious) >= 0.995
    assert ours_vertices <= 1.05 * their_vertices
