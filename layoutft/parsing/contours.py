"""Outlines of binary masks as polygons: outer contours, their areas, Douglas-Peucker.

numpy and Pillow only (no OpenCV, no torch). Coordinates are (x, y) pixel indices of the
mask (column, row; top-left origin): a contour's vertices are the centres of the boundary
pixels it runs through, without the +0.5 of continuous pixel coordinates.

:func:`outer_contours` follows each border pixel by pixel as Suzuki and Abe's border
following does (the algorithm of OpenCV's ``findContours``; ``RETR_EXTERNAL``,
``CHAIN_APPROX_SIMPLE``): foreground is 8-connected, each contour keeps the pixels where
its direction changes, and components inside another's holes are not reported. The tests
check that the vertex lists equal OpenCV's. :func:`simplify_closed` is Douglas-Peucker
(OpenCV's ``approxPolyDP`` picks other cut points and keeps slightly fewer vertices).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# Chain codes, counter-clockwise on screen from east: (dx, dy) of a step in direction k.
_STEPS = ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))
_EAST, _WEST = 0, 4


def outer_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Outer contours of the 8-connected components of ``mask`` (bool [H, W]) that lie in
    no other component's hole, in raster order of their first pixel.

    Each contour is int64 [K, 2] (x, y) pixel indices: the border pixels where the border
    changes direction, in tracing order (the first is the component's first pixel in raster
    order). A single pixel gives one vertex; a straight line of pixels gives its two ends.
    """
    padded = np.pad(np.asarray(mask, dtype=np.bool_), 1)  # no border check while tracing
    height, width = padded.shape
    pixels = padded.tobytes()  # indexing bytes is the fastest lookup from Python
    remaining = padded.ravel().copy()
    contours: list[np.ndarray] = []
    start = 0
    while True:
        # The first pixel left in raster order starts a component's outer border (its west
        # neighbour is unset): every pixel on or inside a traced outline has been unset.
        found = int(np.argmax(remaining[start:])) + start
        if not remaining[found]:
            return contours
        start = found
        chain = _trace(pixels, width, start)
        ys, xs = np.divmod(np.asarray(chain, dtype=np.int64), width)
        contours.append(np.stack([xs - 1, ys - 1], axis=1))
        _clear_inside(remaining.reshape(height, width), xs, ys)


def _trace(pixels: bytes, width: int, first: int) -> list[int]:
    """Flat indices of the vertices (direction changes) of the outer border that starts at
    pixel ``first`` (its west neighbour is background) in the ``width``-wide padded mask
    ``pixels`` (one byte per pixel, 0 or 1)."""
    deltas = [dx + dy * width for dx, dy in _STEPS]
    # the pixel before ``first`` on the border: the first set one clockwise from west
    step = _WEST
    for _ in range(8):
        step = (step - 1) & 7
        if pixels[first + deltas[step]]:
            break
    else:
        return [first]  # a lone pixel
    last = first + deltas[step]
    chain = []
    here = first
    previous = step ^ 4  # the direction of the step from ``last`` to ``first``
    while True:
        # the next border pixel: the first set one counter-clockwise after the one we came from
        step = (step + 1) & 7
        while not pixels[here + deltas[step]]:
            step = (step + 1) & 7
        if step != previous:
            chain.append(here)
            previous = step
        if here == last and here + deltas[step] == first:
            return chain
        here += deltas[step]
        step ^= 4  # now the direction back to the pixel we came from
        if step == _WEST:
            here = _east_along_bottom(pixels, width, here)
        elif step == _EAST and here != last:
            here = _west_along_top(pixels, width, here, last)


def _east_along_bottom(pixels: bytes, width: int, here: int) -> int:
    """Where an eastward walk along a bottom border, now at ``here``, turns: the tracing
    steps east while the three pixels below are unset and the next one east is set. Found
    with bytes.find (C), not pixel by pixel: the long edges of text blocks are most of
    their outline."""
    run_end = pixels.find(0, here + 1)  # the padding ends every row with a 0
    below = pixels.find(1, here + width - 1, run_end + width)
    stop = run_end - 1 if below < 0 else min(run_end - 1, max(here, below - width - 1))
    return stop


def _west_along_top(pixels: bytes, width: int, here: int, last: int) -> int:
    """:func:`_east_along_bottom` for a westward walk along a top border, stopping at
    ``last`` (the tracing ends with a step from there)."""
    run_start = pixels.rfind(0, 0, here) + 1  # the padding starts every row with a 0
    above = pixels.rfind(1, run_start - 1 - width, here - width + 2)
    stop = run_start if above < 0 else max(run_start, min(here, above + width + 1))
    return last if stop <= last < here else stop


def _clear_inside(remaining: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
    """Unset every pixel on or inside the closed polygon through (``xs``, ``ys``) in
    ``remaining`` (uint8/bool [H, W], changed in place): the traced component, its holes and
    whatever lies in them."""
    if len(xs) == 1:  # a lone pixel (Pillow draws no one-point polygon)
        remaining[ys[0], xs[0]] = False
        return
    x0, y0 = int(xs.min()), int(ys.min())
    size = (int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1)
    canvas = Image.new("1", size, 0)
    # the polygon's edges are horizontal, vertical or diagonal through pixel centres, so
    # its outline is exactly the traced pixels and the fill adds what lies within
    points = list(zip((xs - x0).tolist(), (ys - y0).tolist(), strict=True))
    ImageDraw.Draw(canvas).polygon(points, fill=1, outline=1)
    inside = np.asarray(canvas, dtype=np.bool_)
    window = remaining[y0 : y0 + size[1], x0 : x0 + size[0]]
    window &= ~inside


def polygon_area(points: np.ndarray) -> float:
    """Unsigned area (shoelace) of the closed polygon ``points`` [K, 2]; 0 for K < 3."""
    xy = np.asarray(points, dtype=np.float64)
    if len(xy) < 3:
        return 0.0
    x, y = xy[:, 0], xy[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2


def simplify_closed(points: np.ndarray, epsilon: float) -> np.ndarray:
    """Douglas-Peucker simplification of the closed polygon ``points`` [K, 2]: the kept
    vertices (a subset, in order) are such that every dropped one lies within ``epsilon``
    of the segment that replaced it.

    The polygon is cut at two far-apart vertices (the vertex farthest from the first, and
    the one farthest from that); both are kept and each half is simplified as an open curve.
    """
    xy = np.asarray(points)
    if len(xy) < 3:
        return xy.copy()
    z = xy[:, 0] + 1j * xy[:, 1]  # complex numbers: a cross product is one multiplication
    a = int(np.argmax(np.abs(z - z[0])))
    b = int(np.argmax(np.abs(z - z[a])))
    if a == b:
        return xy[[0]].copy()  # every vertex at the same place
    lo, hi = min(a, b), max(a, b)
    ring = np.concatenate([z[lo:], z[: lo + 1]])  # from lo round to lo
    cut = hi - lo
    keep = _simplify_open(ring[: cut + 1], epsilon)
    keep += [cut + i for i in _simplify_open(ring[cut:], epsilon)[1:-1]]
    return xy[sorted((lo + i) % len(xy) for i in keep)].copy()


#: spans longer than this are measured with numpy, shorter ones in Python (numpy's cost
#: per call is that of ~50 points in a Python loop)
_NUMPY_SPAN = 64


def _simplify_open(z: np.ndarray, epsilon: float) -> list[int]:
    """Indices kept by Douglas-Peucker on the open curve ``z`` (complex [K], x + iy; both
    ends always kept)."""
    values = z.tolist()
    keep = [0, len(values) - 1]
    spans = [(0, len(values) - 1)]
    while spans:
        first, last = spans.pop()
        if last - first < 2:
            continue
        origin = values[first]
        # |Im((p - origin) * conj(chord))| is the distance to the chord times its length;
        # a span whose ends meet (the curve comes back) measures the distance to that point
        chord = values[last] - origin
        turn, limit = (chord.conjugate(), epsilon * abs(chord)) if chord else (0, epsilon)
        if last - first > _NUMPY_SPAN:
            rel = z[first + 1 : last] - origin
            dist = np.abs((rel * turn).imag) if chord else np.abs(rel)
            far = first + 1 + int(np.argmax(dist))
            largest = float(dist[far - first - 1])
        else:
            far, largest = first, -1.0
            for i in range(first + 1, last):
                d = abs(((values[i] - origin) * turn).imag) if chord else abs(values[i] - origin)
                if d > largest:
                    far, largest = i, d
        if largest > limit:
            keep.append(far)
            spans += [(first, far), (far, last)]
    return sorted(keep)


__all__ = ["outer_contours", "polygon_area", "simplify_closed"]
