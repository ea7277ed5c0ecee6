"""``fit_polygon``: a region's mask outline made to agree with its box (the outline every
writer uses, so that it reads back as the box)."""

from __future__ import annotations

import numpy as np

from layoutft.geometry import clip_polygon, fit_polygon


def inside(point: tuple[float, float], ring: np.ndarray) -> bool:
    """Even-odd rule: is ``point`` inside polygon ``ring`` [K,2]?"""
    x, y = point
    hit = False
    for (x0, y0), (x1, y1) in zip(ring, np.roll(ring, -1, axis=0), strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def simple(ring: np.ndarray) -> bool:
    """No two non-adjacent edges of ``ring`` cross."""
    edges = list(zip(ring, np.roll(ring, -1, axis=0), strict=True))

    def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    for i, (p, q) in enumerate(edges):
        for j in range(i + 2, len(edges)):
            if i == 0 and j == len(edges) - 1:
                continue
            r, s = edges[j]
            if cross(p, q, r) * cross(p, q, s) < 0 and cross(r, s, p) * cross(r, s, q) < 0:
                return False
    return True


def test_clip_polygon_to_box() -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    clipped = clip_polygon(square, [5, -1, 20, 4])
    assert sorted(map(tuple, clipped.tolist())) == [(5, 0), (5, 4), (10, 0), (10, 4)]
    assert clip_polygon(square, [20, 20, 30, 30]).shape == (0, 2)


def test_outline_short_of_its_box_is_stretched_to_it() -> None:
    # an L-shaped mask outline 3 px short of the box on the left, 6 px at the bottom
    box = [100.0, 40.0, 400.0, 240.0]
    ring = np.array(
        [[103.5, 40.5], [399.5, 40.5], [399.5, 140.5], [250.5, 140.5], [250.5, 234.5],
         [103.5, 234.5]]
    )  # fmt: skip
    fitted = fit_polygon(ring, box)
    assert fitted.min(axis=0).tolist() == [100.0, 40.0]
    assert fitted.max(axis=0).tolist() == [400.0, 240.0]
    assert simple(fitted)
    # the notch of the L stays where it was: only the margins move
    assert [250.5, 140.5] in fitted.tolist()
    assert not inside((300.0, 200.0), fitted) and inside((200.0, 200.0), fitted)
    # what the outline held, the fitted polygon holds
    for point in [(104.0, 41.0), (398.0, 139.0), (249.0, 233.0), (104.0, 233.0)]:
        assert inside(point, ring) and inside(point, fitted)


def test_outline_beyond_its_box_is_clipped() -> None:
    box = [10.0, 10.0, 50.0, 30.0]
    ring = np.array([[8.0, 9.0], [52.0, 12.0], [49.0, 31.0], [11.0, 29.0]])
    fitted = fit_polygon(ring, box)
    assert fitted.min(axis=0).tolist() == [10.0, 10.0]
    assert fitted.max(axis=0).tolist() == [50.0, 30.0]
    assert simple(fitted)


def test_outline_outside_its_box_gives_the_box() -> None:
    box = [0.0, 0.0, 10.0, 10.0]
    assert fit_polygon([[20, 20], [30, 20], [30, 30]], box).tolist() == [
        [0, 0],
        [10, 0],
        [10, 10],
        [0, 10],
    ]
