"""Column-aware reading order of the regions on a page (recursive XY-cut).

The page is cut at whitespace: first into columns (vertical gaps that run through
the whole group), else into horizontal bands. Consecutive bands whose union still
has a column gap are regrouped first, so the paragraphs of a two-column section are
read column by column even when their gaps line up across the columns, while a
full-width title or figure, which bridges the gutter, stays in place between the
sections above and below it.

All boxes are XYXY in one space (points or pixels), top-left origin, y down.
"""

from __future__ import annotations

import numpy as np

from layoutft.geometry import BoxesLike, as_boxes


def reading_order(boxes: BoxesLike, tolerance: float | None = None) -> list[int]:
    """Indices of ``boxes`` in reading order (first region first).

    Args:
        boxes: [N,4] XYXY boxes of one page (any units, top-left origin).
        tolerance: how far boxes may overlap a gutter or band gap and still count as
            separated (same units as ``boxes``); default 0.5% of the boxes' extent.

    Returns:
        A permutation of ``range(N)``.
    """
    b = as_boxes(boxes)
    if len(b) == 0:
        return []
    if tolerance is None:
        extent = max(b[:, 2].max() - b[:, 0].min(), b[:, 3].max() - b[:, 1].min(), 1.0)
        tolerance = 0.005 * float(extent)
    return _order(b, np.arange(len(b)), tolerance)


def order_ranks(boxes: BoxesLike, tolerance: float | None = None) -> list[int]:
    """Per box, its 0-based position in the reading order (the inverse of :func:`reading_order`)."""
    ranks = [0] * len(as_boxes(boxes))
    for rank, index in enumerate(reading_order(boxes, tolerance)):
        ranks[index] = rank
    return ranks


def _groups(lo: np.ndarray, hi: np.ndarray, tol: float) -> list[np.ndarray]:
    """Split intervals ``[lo, hi]`` into runs separated by empty gaps, in increasing order.

    Each interval is shrunk by ``tol`` at both ends (never below its midpoint) so slight
    overlaps do not hide a gap. Returns index arrays into ``lo``/``hi``.
    """
    mid = (lo + hi) / 2
    a = np.minimum(lo + tol, mid)
    b = np.maximum(hi - tol, mid)
    order = np.argsort(a, kind="stable")
    groups: list[list[int]] = []
    reach = -np.inf
    for i in order:
        if not groups or a[i] > reach:
            groups.append([int(i)])
        else:
            groups[-1].append(int(i))
        reach = max(reach, b[i])
    return [np.array(g) for g in groups]


def _order(b: np.ndarray, idx: np.ndarray, tol: float) -> list[int]:
    if len(idx) == 1:
        return [int(idx[0])]
    sub = b[idx]
    columns = _groups(sub[:, 0], sub[:, 2], tol)
    if len(columns) > 1:
        return [i for col in columns for i in _order(b, idx[col], tol)]
    bands = _groups(sub[:, 1], sub[:, 3], tol)
    if len(bands) == 1:
        # Overlapping boxes with no clean cut: top to bottom, then left to right.
        keys = np.lexsort((sub[:, 0], sub[:, 1]))
        return [int(i) for i in idx[keys]]
    result: list[int] = []
    for group in _merge_bands(sub, bands, tol):
        result.extend(_order(b, idx[group], tol))
    return result


def _merge_bands(sub: np.ndarray, bands: list[np.ndarray], tol: float) -> list[np.ndarray]:
    """Join consecutive bands while their union still splits into columns."""
    merged: list[np.ndarray] = [bands[0]]
    for band in bands[1:]:
        candidate = np.concatenate([merged[-1], band])
        if len(_groups(sub[candidate, 0], sub[candidate, 2], tol)) > 1:
            merged[-1] = candidate
        else:
            merged.append(band)
    return merged
