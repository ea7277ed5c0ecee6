"""Coordinate spaces of a rendered page and the one place that converts between them.

Three spaces, all in XYXY boxes ``[N,4]`` (float64 numpy unless stated):

* **pixels** (``px``): the rendered page image, origin at its top-left corner, x right, y down.
* **points** (``pt``): PDF points (1/72 inch) of the page *as displayed*: after ``/Rotate``,
  relative to the CropBox, origin top-left, x right, y down. Width and height are those a
  viewer shows (swapped for 90/270 rotations). For a plain image, points are pixels scaled
  by ``72 / image_dpi``.
* **unrotated** (``unrot``): PDF points of the page before ``/Rotate`` is applied, relative to
  the CropBox, origin top-left, y down. This is what PyMuPDF's text extraction and drawing
  methods use.
* **PDF user space** (``user``): raw PDF coordinates, origin bottom-left, y up, unrotated; the
  CropBox lies at ``[crop_x0, crop_y0, crop_x1, crop_y1]`` in it.

``/Rotate`` turns the page clockwise when displayed, so with ``W, H`` the unrotated CropBox
size, an unrotated point ``(u, v)`` is displayed at ``(u, v)`` (0), ``(H - v, u)`` (90),
``(W - u, H - v)`` (180) or ``(v, W - u)`` (270).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

VALID_ROTATIONS = (0, 90, 180, 270)

BoxesLike = np.ndarray | Sequence[Sequence[float]] | Sequence[float]


def as_boxes(boxes: BoxesLike) -> np.ndarray:
    """Boxes as a float64 [N,4] array (a single box of 4 numbers becomes [1,4])."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.shape[-1] != 4:
        raise ValueError(f"expected boxes of shape [N,4], got {arr.shape}")
    return arr.reshape(-1, 4)


def _map_points(x: np.ndarray, y: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply the 2x3 affine matrix ``m`` to points given as coordinate arrays."""
    return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]


def _map_boxes(boxes: BoxesLike, m: np.ndarray) -> np.ndarray:
    """Apply an axis-aligned affine map (scale, flip, quarter turn) to XYXY boxes, re-sorted."""
    b = as_boxes(boxes)
    xa, ya = _map_points(b[:, 0], b[:, 1], m)
    xb, yb = _map_points(b[:, 2], b[:, 3], m)
    return np.stack(
        [np.minimum(xa, xb), np.minimum(ya, yb), np.maximum(xa, xb), np.maximum(ya, yb)], axis=1
    )


def _invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix."""
    full = np.vstack([m, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


@dataclass(frozen=True)
class PageTransform:
    """Converts between pixels, displayed points, unrotated points and PDF user space.

    Attributes:
        width_pt: displayed page width in points (after rotation, CropBox size).
        height_pt: displayed page height in points.
        rotation: the page's ``/Rotate``, one of 0, 90, 180, 270 (clockwise).
        scale_x: pixels per point along x (``dpi / 72`` for a PDF rendered at ``dpi``).
        scale_y: pixels per point along y.
        crop_x0: left edge of the CropBox in PDF user space (points).
        crop_y1: top edge of the CropBox in PDF user space (points, y up).
    """

    width_pt: float
    height_pt: float
    rotation: int = 0
    scale_x: float = 1.0
    scale_y: float = 1.0
    crop_x0: float = 0.0
    crop_y1: float = 0.0

    def __post_init__(self) -> None:
        if self.rotation not in VALID_ROTATIONS:
            raise ValueError(f"rotation must be one of {VALID_ROTATIONS}, got {self.rotation}")
        if self.scale_x <= 0 or self.scale_y <= 0:
            raise ValueError("scale_x and scale_y must be positive")

    @classmethod
    def for_dpi(
        cls,
        width_pt: float,
        height_pt: float,
        dpi: float,
        rotation: int = 0,
        crop_x0: float = 0.0,
        crop_y1: float | None = None,
    ) -> PageTransform:
        """Transform of a page rendered at ``dpi`` (same scale on both axes).

        ``crop_y1`` defaults to the unrotated CropBox height, i.e. a CropBox whose
        bottom-left corner is the user-space origin.
        """
        unrot_h = width_pt if rotation in (90, 270) else height_pt
        return cls(
            width_pt=float(width_pt),
            height_pt=float(height_pt),
            rotation=int(rotation),
            scale_x=dpi / 72.0,
            scale_y=dpi / 72.0,
            crop_x0=float(crop_x0),
            crop_y1=float(unrot_h if crop_y1 is None else crop_y1),
        )

    @property
    def dpi(self) -> float:
        """Effective horizontal resolution in pixels per inch."""
        return self.scale_x * 72.0

    @property
    def width_px(self) -> int:
        """Width of the rendered image in pixels (renderers round the edge up)."""
        return int(np.ceil(self.width_pt * self.scale_x - 1e-6))

    @property
    def height_px(self) -> int:
        """Height of the rendered image in pixels."""
        return int(np.ceil(self.height_pt * self.scale_y - 1e-6))

    @property
    def unrotated_size(self) -> tuple[float, float]:
        """``(W, H)`` of the CropBox before rotation, in points."""
        if self.rotation in (90, 270):
            return self.height_pt, self.width_pt
        return self.width_pt, self.height_pt

    def _unrot_to_pt_matrix(self) -> np.ndarray:
        w, h = self.unrotated_size
        return {
            0: np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
            90: np.array([[0.0, -1.0, h], [1.0, 0.0, 0.0]]),
            180: np.array([[-1.0, 0.0, w], [0.0, -1.0, h]]),
            270: np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w]]),
        }[self.rotation]

    def _user_to_unrot_matrix(self) -> np.ndarray:
        return np.array([[1.0, 0.0, -self.crop_x0], [0.0, -1.0, self.crop_y1]])

    def px_to_pt(self, boxes: BoxesLike) -> np.ndarray:
        """Boxes [N,4] in pixels -> displayed points [N,4]."""
        b = as_boxes(boxes)
        return b / np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y])

    def pt_to_px(self, boxes: BoxesLike) -> np.ndarray:
        """Boxes [N,4] in displayed points -> pixels [N,4] (not rounded)."""
        b = as_boxes(boxes)
        return b * np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y])

    def unrotated_to_pt(self, boxes: BoxesLike) -> np.ndarray:
        """Boxes in unrotated CropBox-relative points (PyMuPDF text space) -> displayed points."""
        return _map_boxes(boxes, self._unrot_to_pt_matrix())

    def pt_to_unrotated(self, boxes: BoxesLike) -> np.ndarray:
        """Displayed points -> unrotated CropBox-relative points (PyMuPDF drawing space)."""
        return _map_boxes(boxes, _invert(self._unrot_to_pt_matrix()))

    def pdf_user_to_pt(self, boxes: BoxesLike) -> np.ndarray:
        """Boxes in raw PDF user space (bottom-left origin, unrotated) -> displayed points."""
        return self.unrotated_to_pt(_map_boxes(boxes, self._user_to_unrot_matrix()))

    def pt_to_pdf_user(self, boxes: BoxesLike) -> np.ndarray:
        """Displayed points -> raw PDF user space boxes (XYXY with y0 < y1, y up)."""
        return _map_boxes(self.pt_to_unrotated(boxes), _invert(self._user_to_unrot_matrix()))

    def unrotated_points_to_pt(self, points: np.ndarray) -> np.ndarray:
        """Points [K,2] in unrotated CropBox-relative space -> displayed points [K,2]."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x, y = _map_points(p[:, 0], p[:, 1], self._unrot_to_pt_matrix())
        return np.stack([x, y], axis=1)

    def px_points_to_pt(self, points: np.ndarray) -> np.ndarray:
        """Points [K,2] in pixels -> displayed points [K,2] (for polygons)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return p / np.array([self.scale_x, self.scale_y])

    def scaled(self, factor: float) -> PageTransform:
        """The same page rendered ``factor`` times larger in pixels (points unchanged)."""
        return PageTransform(
            self.width_pt,
            self.height_pt,
            self.rotation,
            self.scale_x * factor,
            self.scale_y * factor,
            self.crop_x0,
            self.crop_y1,
        )


def clip_boxes(boxes: BoxesLike, width: float, height: float) -> np.ndarray:
    """Clip XYXY boxes [N,4] to ``[0, width] x [0, height]`` (any one space)."""
    b = as_boxes(boxes).copy()
    b[:, 0::2] = np.clip(b[:, 0::2], 0.0, width)
    b[:, 1::2] = np.clip(b[:, 1::2], 0.0, height)
    return b


def box_area(boxes: BoxesLike) -> np.ndarray:
    """Areas [N] of XYXY boxes (0 for degenerate boxes)."""
    b = as_boxes(boxes)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def pairwise_intersection(a: BoxesLike, b: BoxesLike) -> np.ndarray:
    """Intersection areas [N,M] between two sets of XYXY boxes."""
    a, b = as_boxes(a), as_boxes(b)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)


def pairwise_iou(a: BoxesLike, b: BoxesLike) -> np.ndarray:
    """IoU [N,M] between two sets of XYXY boxes (0 where both are empty)."""
    inter = pairwise_intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def shortest_edge_size(height: int, width: int, short_edge: int, max_size: int) -> tuple[int, int]:
    """(new_h, new_w): shorter side to ``short_edge``, longer side capped at ``max_size``.

    Rounds half up like detectron2's ``ResizeShortestEdge.get_output_shape``.
    """
    size = short_edge * 1.0
    scale = size / min(height, width)
    if height < width:
        new_h, new_w = size, scale * width
    else:
        new_h, new_w = scale * height, size
    if max(new_h, new_w) > max_size:
        scale = max_size * 1.0 / max(new_h, new_w)
        new_h, new_w = new_h * scale, new_w * scale
    return int(new_h + 0.5), int(new_w + 0.5)


def linked_groups(count: int, links: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components of items ``0..count-1`` joined by ``links`` (pairs of indices).

    Returns the groups in order of their first item, each group's items ascending: blocks
    built from lines, figures from their pieces.
    """
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in links:
        parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(count):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def clip_polygon(
    points: np.ndarray | Sequence[Sequence[float]], box: Sequence[float]
) -> np.ndarray:
    """The part [K,2] float64 of polygon ``points`` [N,2] inside the XYXY ``box`` (any one
    space), by Sutherland-Hodgman against the box's four sides; [0,2] when none is inside."""
    ring = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0, x1, y1 = (float(v) for v in box)
    # (axis, limit, keep the side >= limit?)
    for axis, limit, above in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if len(ring) == 0:
            break
        inside = ring[:, axis] >= limit if above else ring[:, axis] <= limit
        out: list[np.ndarray] = []
        for i in range(len(ring)):
            cur, prev = ring[i], ring[i - 1]
            if inside[i] != inside[i - 1]:  # the edge crosses the side: keep the crossing
                t = (limit - prev[axis]) / (cur[axis] - prev[axis])
                cross = prev + t * (cur - prev)
                cross[axis] = limit
                out.append(cross)
            if inside[i]:
                out.append(cur)
        ring = np.array(out, dtype=np.float64).reshape(-1, 2)
    return ring


def _stretch_axis(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` (one coordinate of a polygon inside ``[low, high]``) mapped so their
    extent becomes ``[low, high]``: only the margins are stretched (a monotone piecewise
    linear map, so the polygon stays simple); the middle of the polygon is unchanged."""
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    out = values.copy()
    for short, edge, inner, sign in ((lo - low, low, lo, 1.0), (high - hi, high, hi, -1.0)):
        if short <= 0:
            continue
        # the band [inner, inner + sign * margin] is stretched to reach the box's edge
        margin = min(4.0 * short + 1.0, span / 3.0)
        band = sign * (out - inner)
        near = (band >= 0) & (band < margin)
        out[near] = edge + sign * band[near] * (margin + short) / margin
    return out


def fit_polygon(points: np.ndarray | Sequence[Sequence[float]], box: Sequence[float]) -> np.ndarray:
    """A region's outline ``points`` [N,2] (e.g. its mask's) made to agree with its XYXY
    ``box`` (same space): clipped to the box, then its margins stretched so that its
    bounding box is exactly ``box``. This is the polygon every writer of a region's
    outline uses (PAGE, ALTO; annotation exports), so that reading the outline back gives
    the region's box. Returns [K,2] float64 (K >= 3), the box's four corners (clockwise from
    the top left) when less than a triangle of the outline lies inside the box."""
    x0, y0, x1, y1 = (float(v) for v in box)
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    ring = clip_polygon(points, box)
    if len(ring) < 3 or np.ptp(ring[:, 0]) <= 0 or np.ptp(ring[:, 1]) <= 0:
        return corners
    ring[:, 0] = _stretch_axis(ring[:, 0], x0, x1)
    ring[:, 1] = _stretch_axis(ring[:, 1], y0, y1)
    return ring
