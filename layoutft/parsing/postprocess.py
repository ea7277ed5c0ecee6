"""From a detector's detections to layout regions: thresholds, duplicate removal, clipping,
polygons, in :func:`postprocess`, the one place a parse applies its score thresholds.

The thresholds come from one source, :func:`parse_score_threshold` (the ``score_threshold``
option over the detector's ``default_score_threshold``: its config's ``SCORE_THRESH_TEST``,
else 0.5; see :func:`layoutft.model.settings.config_score_threshold`). The detector is handed
their minimum only to skip work on detections this step would drop anyway (the box head's
own ``SCORE_THRESH_TEST`` filter is part of the model, as in detectron2).

Everything here works in pixels of the page image the model saw (top-left origin,
XYXY boxes) and needs only numpy and Pillow (no torch, no OpenCV).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from layoutft.errors import OptionError
from layoutft.geometry import box_area, clip_boxes, pairwise_intersection, pairwise_iou
from layoutft.model.settings import DEFAULT_SCORE_THRESHOLD
from layoutft.parsing.contours import outer_contours, polygon_area, simplify_closed

DUPLICATE_IOU = 0.5
CONTAINED_FRACTION = 0.9
OVERLAP_OF_SMALLER = 0.5
MODES = ("default", "none")


@dataclass(frozen=True)
class ScoreThresholds:
    """Minimum score per class name; ``default`` for classes not listed."""

    default: float = DEFAULT_SCORE_THRESHOLD
    per_class: Mapping[str, float] = field(default_factory=dict)

    def for_label(self, label: str) -> float:
        """The threshold of class ``label``."""
        return float(self.per_class.get(label, self.default))

    @property
    def minimum(self) -> float:
        """The lowest threshold of any class: nothing scored below it can be kept."""
        return min([self.default, *self.per_class.values()])

    def to_dict(self) -> dict[str, Any]:
        """``{"default": x, "per_class": {...}}`` for the JSON ``model`` block."""
        return {"default": self.default, "per_class": dict(self.per_class)}


def parse_score_threshold(
    spec: str | float | ScoreThresholds | None,
    labels: Sequence[str] | None = None,
    default: float = DEFAULT_SCORE_THRESHOLD,
) -> ScoreThresholds:
    """Parse a ``score_threshold``: ``"0.6"``, ``"table=0.7,figure=0.5"`` or ``"0.4,table=0.7"``.

    ``default`` is the threshold of classes the spec does not set (a detector's
    ``default_score_threshold``, see :func:`layoutft.model.settings.config_score_threshold`;
    detectron2's 0.05 counts as "not set" there because configs are stored whole). Class
    names are checked against ``labels`` when given.
    Raises OptionError with the fix for a malformed value, a value outside [0, 1] or an
    unknown class.
    """
    if spec is None:
        return ScoreThresholds(default)
    if isinstance(spec, ScoreThresholds):
        return spec
    if isinstance(spec, int | float):
        return ScoreThresholds(_threshold(str(spec), str(spec)))
    per_class: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if "=" in part:
            name, value = (s.strip() for s in part.split("=", 1))
            per_class[name] = _threshold(value, spec)
        else:
            default = _threshold(part, spec)
    unknown = sorted(set(per_class) - set(labels)) if labels is not None else []
    if unknown:
        raise OptionError(
            "{score_threshold} {spec!r}: unknown class {unknown}; the model's classes are {labels}",
            spec=spec,
            unknown=", ".join(unknown),
            labels=", ".join(labels or []),
        )
    return ScoreThresholds(default, per_class)


def _threshold(value: str, spec: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise OptionError(
            "{score_threshold} {spec!r}: {value!r} is not a score in [0, 1]; "
            "use e.g. 0.6 or table=0.7,figure=0.5",
            spec=spec,
            value=value,
        )
    return number


@dataclass(frozen=True)
class Alternative:
    """A detection the de-duplication folded into a region: another reading of its ink.

    Attributes:
        label: class name (another class, or the region's own class with another extent).
        score: detector confidence in [0, 1].
        box: float64 [4] XYXY pixels of the page image (clipped to the page).
    """

    label: str
    score: float
    box: np.ndarray


@dataclass
class PageRegions:
    """Detections of one page after post-processing, in page pixels.

    Attributes:
        boxes: float64 [N,4] XYXY pixels.
        scores: float64 [N].
        labels: N class names.
        polygons: per region, outline rings as float64 [K,2] pixel arrays (the box when the
            model has no masks).
        alternatives: per region, the detections folded into it (see
            :func:`resolve_duplicates`), highest score first; empty lists for ``"none"``.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: list[str]
    polygons: list[list[np.ndarray]]
    alternatives: list[list[Alternative]] = field(default_factory=list)


def detection_labels(detections: Any, model_labels: Sequence[str]) -> list[str]:
    """Class name of each detection: from ``classes`` indexes into ``model_labels``."""
    classes = np.asarray(detections.classes, dtype=np.int64).reshape(-1)
    names = list(model_labels)
    return [names[c] if 0 <= c < len(names) else f"class_{c}" for c in classes]


def postprocess(
    detections: Any,
    model_labels: Sequence[str],
    image_size: tuple[int, int],
    mode: str = "default",
    thresholds: ScoreThresholds | None = None,
) -> PageRegions:
    """Turn one page's detections into regions.

    Args:
        detections: ``boxes`` [N,4] XYXY pixels, ``scores`` [N], ``classes`` [N] int indexes
            into ``model_labels``, ``masks`` bool [N,H,W] or None (a ``Detections``).
        model_labels: the model's class names, in class-index order.
        image_size: ``(height, width)`` of the page image in pixels.
        mode: ``"default"``: per-class score thresholds, then a region loses to a
            higher-scored one of any class sharing more than half of the smaller box (of the
            same class: IoU > 0.5 or > 90% nested), then clipping to the page; a loser that
            read the same ink as another class (or as a nested box of the same class) is
            kept as one of the winner's ``alternatives`` (:func:`resolve_duplicates`).
            ``"none"``: the detections unchanged.
        thresholds: per-class score thresholds (default 0.5 for every class; the parser
            passes :func:`parse_score_threshold`).

    Returns:
        Regions sorted by descending score (``"none"`` keeps the model's order).
    """
    if mode not in MODES:
        raise OptionError(
            "unknown {postprocess} {mode!r}; choose one of {choices}",
            mode=mode,
            choices=", ".join(MODES),
        )
    boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(detections.scores, dtype=np.float64).reshape(-1)
    labels = detection_labels(detections, model_labels)
    masks = getattr(detections, "masks", None)
    keep = np.arange(len(boxes))
    folded: dict[int, list[int]] = {}
    if mode == "default":
        limits = thresholds or ScoreThresholds()
        passing = np.array([s >= limits.for_label(n) for s, n in zip(scores, labels, strict=True)])
        keep = keep[passing.astype(bool)] if len(keep) else keep
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        kept, owner = resolve_duplicates(boxes[keep], [labels[i] for i in keep])
        height, width = image_size
        boxes = clip_boxes(boxes, width, height)
        nonempty = box_area(boxes) > 0
        for loser, winner in enumerate(owner):
            if winner >= 0 and nonempty[keep[loser]]:
                folded.setdefault(int(keep[winner]), []).append(int(keep[loser]))
        keep = keep[kept]
        keep = keep[nonempty[keep]]
    polygons = [mask_polygons(masks[i]) if masks is not None else [] for i in keep]
    polygons = [p or [box_polygon(boxes[i])] for p, i in zip(polygons, keep, strict=True)]
    alternatives = [
        [Alternative(labels[j], float(scores[j]), boxes[j].copy()) for j in folded.get(int(i), [])]
        for i in keep
    ]
    return PageRegions(boxes[keep], scores[keep], [labels[i] for i in keep], polygons, alternatives)


def suppress_duplicates(
    boxes: np.ndarray,
    labels: Sequence[str],
    iou: float = DUPLICATE_IOU,
    contained: float = CONTAINED_FRACTION,
    overlap: float = OVERLAP_OF_SMALLER,
) -> np.ndarray:
    """Indices to keep among ``boxes`` [N,4] sorted by descending score.

    A box is dropped when a higher-scored kept box of the same label overlaps it with
    IoU > ``iou`` or holds more than ``contained`` of the smaller box (one nested in the
    other), or when a higher-scored kept box of any label shares more than ``overlap`` of
    the smaller box's area: layout regions tile a page, so two regions over the same ink
    are one right answer and one wrong one (a paragraph also read as a list, a table cell
    read as text, one figure read as two).
    """
    return resolve_duplicates(boxes, labels, iou, contained, overlap)[0]


def resolve_duplicates(
    boxes: np.ndarray,
    labels: Sequence[str],
    iou: float = DUPLICATE_IOU,
    contained: float = CONTAINED_FRACTION,
    overlap: float = OVERLAP_OF_SMALLER,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`suppress_duplicates` that also says where each dropped box went.

    Args:
        boxes: float [N,4] XYXY, sorted by descending score; ``labels``: their N classes.

    Returns:
        ``(kept, owner)``: int64 indices of the kept boxes, and int64 [N] ``owner``: for a
        dropped box that is an alternative reading of a kept one, that kept box's index;
        -1 for kept boxes and for dropped boxes that are no alternative.

    A dropped box is an alternative of the kept box it overlaps most (IoU) when it is the
    same class nested in it or at IoU > ``iou`` (another extent of the same class), or
    another class sharing more than ``overlap`` of the smaller box (another class for the
    same ink). A box of the same class that only shares more than ``overlap`` (a partial
    overlap) is dropped without a trace: on publaynet-20 and docbank-100 (the data of
    ``benchmarks.real_pages``) keeping those too moved AP50 by under 0.2 points (down on
    one set, up on the other), while the nested same-class boxes are worth 2.6 AP50 points
    on publaynet-20.
    """
    n = len(boxes)
    owner = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64), owner
    ious = pairwise_iou(boxes, boxes)
    inter = pairwise_intersection(boxes, boxes)
    areas = box_area(boxes)
    smaller = np.minimum(areas[:, None], areas[None, :])
    share = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
    kept: list[int] = []
    for i in range(n):
        same = [j for j in kept if labels[j] == labels[i]]
        nested = [j for j in same if ious[i, j] > iou or share[i, j] > contained]
        partial = [j for j in same if share[i, j] > overlap]
        other = [j for j in kept if labels[j] != labels[i] and share[i, j] > overlap]
        if nested or other:
            if not partial or nested:
                owner[i] = max(nested or other, key=lambda j: ious[i, j])
        elif not partial:
            kept.append(i)
    return np.array(kept, dtype=np.int64), owner


def mask_polygons(mask: np.ndarray, min_fraction: float = 0.1) -> list[np.ndarray]:
    """Outline(s) of a binary [H,W] mask as float64 [K,2] pixel polygons (largest first).

    Keeps outer contours whose area is at least ``min_fraction`` of the largest one, each
    simplified with Douglas-Peucker (epsilon 1 px: a 20 px tall text line keeps its shape).
    Vertices are the centres of boundary pixels in continuous pixel coordinates (pixel
    ``x`` spans ``[x, x+1]``), so a mask covering columns 20..79 gives x from 20.5 to 79.5.
    Returns [] for an empty mask.
    """
    window = _mask_window(mask)
    if window is None:
        return []
    crop, (x0, y0) = window
    # Contours of the mask's bounding window only (a full-page scan per region cost ~7 ms
    # at 200 dpi); the last found first, as OpenCV lists them, for the order of equal areas
    contours = outer_contours(crop)[::-1]
    areas = [polygon_area(c) for c in contours]
    largest = max(areas)
    polygons = []
    for area, contour in sorted(zip(areas, contours, strict=True), key=lambda t: -t[0]):
        if area < min_fraction * largest or (largest > 0 and area == 0):
            continue
        simple = simplify_closed(contour, 1.0).astype(np.float64)
        if len(simple) >= 3:
            polygons.append(simple + np.array([x0 + 0.5, y0 + 0.5]))
    return polygons


def _mask_window(mask: np.ndarray) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The bool crop of ``mask`` [H,W] around its set pixels and the crop's (x, y) origin;
    None for an empty mask."""
    binary = np.asarray(mask)
    if binary.dtype != np.bool_:
        binary = binary > 0
    rows = np.flatnonzero(binary.any(axis=1))
    if rows.size == 0:
        return None
    band = binary[rows[0] : rows[-1] + 1]
    cols = np.flatnonzero(band.any(axis=0))
    crop = np.ascontiguousarray(band[:, cols[0] : cols[-1] + 1])
    return crop, (int(cols[0]), int(rows[0]))


def box_polygon(box: np.ndarray) -> np.ndarray:
    """The four corners [4,2] of an XYXY box, clockwise from the top-left."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
