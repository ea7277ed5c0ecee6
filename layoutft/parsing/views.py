"""Label views: the classes a parse writes, the model's own (``native``) or PubLayNet's five.

``publaynet`` turns a DocLayNet model's eleven classes into PubLayNet's with the map of
:mod:`layoutft.labels` (the ``doclaynet-publaynet`` label map of ``layoutft convert``):
``Page-header`` and ``Page-footer`` regions are dropped (PubLayNet does not annotate running
heads and feet), and neighbouring ``List-item`` regions become one ``list`` region, as
PubLayNet annotates a whole list (see :func:`neighbours`). A model whose classes already are
PubLayNet's is left as it is.

Works on assembled pages (boxes in points, reading order known). No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from layoutft.errors import OptionError
from layoutft.labels import (
    DOCLAYNET_CLASSES,
    DOCLAYNET_DROPPED_IN_PUBLAYNET,
    DOCLAYNET_TO_PUBLAYNET,
    PUBLAYNET_CLASSES,
)
from layoutft.render.text import Words
from layoutft.schema import Alternative, Page, Region

LABEL_VIEWS = ("native", "publaynet")
LIST_ITEM = "List-item"
#: largest gap between two list items of one list, in line heights. On the DocBank pages
#: of ../shared/real (52 pairs of consecutive lines inside lists) the gap was at most 1.13
#: line heights (95th percentile 0.74); paragraphs usually sit closer, but anything read
#: between two items (another region) keeps them apart anyway.
LIST_GAP_LINES = 1.5
#: largest difference of the left edges of two items of one list, in line heights: a
#: nested item's indent (about 2 em) stays in its list.
LIST_INDENT_LINES = 3.0
#: smallest horizontal overlap of two items of one list, as a share of the narrower one
#: (one column)
LIST_COLUMN_OVERLAP = 0.5


def view_labels(view: str, labels: Sequence[str]) -> list[str]:
    """The class names a parse with ``view`` writes for a model with ``labels``.

    Raises OptionError for an unknown view, or ``publaynet`` for a model whose classes are
    neither DocLayNet's nor PubLayNet's.
    """
    if view not in LABEL_VIEWS:
        raise OptionError(
            "unknown {labels_view} {value!r}; choose one of {choices}",
            value=view,
            choices=", ".join(LABEL_VIEWS),
        )
    if view == "native" or set(labels) <= set(PUBLAYNET_CLASSES):
        return list(labels)
    if not set(labels) <= set(DOCLAYNET_CLASSES):
        raise OptionError(
            "{labels_view} publaynet maps DocLayNet's classes to PubLayNet's; this model's "
            "classes are {labels}: use {labels_view} native",
            labels=", ".join(labels),
        )
    return list(PUBLAYNET_CLASSES)


def maps_labels(view: str, labels: Sequence[str]) -> bool:
    """Whether ``view`` changes the regions of a model with ``labels`` (checked)."""
    return view_labels(view, labels) != list(labels)


def publaynet_view(page: Page, words: Words | None = None) -> Page:
    """``page`` (regions of a DocLayNet model) in PubLayNet's classes, as a new page.

    Regions are relabelled, page heads/feet dropped, neighbouring list items merged into one
    ``list`` region: the union box, the items' outlines, their texts joined by ``\\n``, the
    highest score, the first item's place in the reading order; alternatives relabelled too.
    ``words``: the page's text layer (points), for line heights; None: see
    :func:`neighbours`. Ids are renumbered by descending score, orders 0..N-1.
    """
    ordered = sorted(page.regions, key=lambda r: r.order)
    kept = [r for r in ordered if r.label not in DOCLAYNET_DROPPED_IN_PUBLAYNET]
    groups: list[list[Region]] = []
    for region in kept:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and region.label == last.label == LIST_ITEM
            and neighbours(last, region, words)
        ):
            groups[-1].append(region)
        else:
            groups.append([region])
    merged = [_merge(group) for group in groups]
    by_score = sorted(range(len(groups)), key=lambda k: min(r.id for r in groups[k]))
    for new_id, k in enumerate(by_score):
        merged[k].id = new_id
    for order, region in enumerate(merged):
        region.order = order
    return Page(
        number=page.number,
        width_pt=page.width_pt,
        height_pt=page.height_pt,
        rotation=page.rotation,
        dpi=page.dpi,
        width_px=page.width_px,
        height_px=page.height_px,
        status=page.status,
        error=page.error,
        regions=merged,
    )


def neighbours(upper: Region, lower: Region, words: Words | None = None) -> bool:
    """Whether list item ``lower``, read right after ``upper``, continues its list.

    Both in one column (horizontal overlap over :data:`LIST_COLUMN_OVERLAP` of the narrower
    box), left edges within :data:`LIST_INDENT_LINES` line heights, and ``lower`` starting
    below ``upper`` with a gap of at most :data:`LIST_GAP_LINES` line heights (an overlap of
    up to half a line counts as a gap of 0). The line height is the median height of the
    text-layer ``words`` whose centres lie in either item; without such words, the smaller
    item's height (an item has at least one line: a looser test for multi-line items).
    """
    a, b = np.asarray(upper.bbox_pt, float), np.asarray(lower.bbox_pt, float)
    line = _line_height(a, b, words)
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    narrower = min(a[2] - a[0], b[2] - b[0])
    if narrower <= 0 or overlap <= LIST_COLUMN_OVERLAP * narrower:
        return False
    if abs(a[0] - b[0]) > LIST_INDENT_LINES * line:
        return False
    gap = b[1] - a[3]
    return -0.5 * line <= gap <= LIST_GAP_LINES * line


def _line_height(a: np.ndarray, b: np.ndarray, words: Words | None) -> float:
    """Median word height (points) of the words centred in box ``a`` or ``b``, else the
    smaller box's height."""
    if words is not None and len(words):
        boxes = np.asarray(words.boxes, float).reshape(-1, 4)
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        inside = np.zeros(len(boxes), bool)
        for box in (a, b):
            inside |= (cx >= box[0]) & (cx <= box[2]) & (cy >= box[1]) & (cy <= box[3])
        if inside.any():
            return float(np.median(boxes[inside, 3] - boxes[inside, 1]))
    return float(min(a[3] - a[1], b[3] - b[1]))


def _merge(group: list[Region]) -> Region:
    """One PubLayNet region of ``group`` (one region, or list items read in order)."""
    first = group[0]
    label = DOCLAYNET_TO_PUBLAYNET.get(first.label, first.label)
    # an alternative without a box had its item's box, no longer the region's when merged
    alone = len(group) == 1
    alternatives = [
        Alternative(
            DOCLAYNET_TO_PUBLAYNET[a.label],
            a.score,
            a.bbox_px if a.bbox_px is not None or alone else list(r.bbox_px),
            a.bbox_pt if a.bbox_pt is not None or alone else list(r.bbox_pt),
        )
        for r in group
        for a in r.alternatives
        if a.label in DOCLAYNET_TO_PUBLAYNET
    ]
    alternatives.sort(key=lambda a: -a.score)
    if alone:
        return Region(
            first.id,
            label,
            first.score,
            list(first.bbox_px),
            list(first.bbox_pt),
            first.polygon_pt,
            first.text,
            first.order,
            alternatives,
            first.origin,
        )
    texts = [r.text for r in group if r.text is not None]
    return Region(
        id=first.id,
        label=label,
        score=max(r.score for r in group),
        bbox_px=_union([r.bbox_px for r in group]),
        bbox_pt=_union([r.bbox_pt for r in group]),
        polygon_pt=[ring for r in group for ring in r.polygon_pt],
        text="\n".join(texts) if texts else None,
        order=first.order,
        alternatives=alternatives,
    )


def _union(boxes: list[list[float]]) -> list[float]:
    """The box [x0, y0, x1, y1] around XYXY ``boxes``."""
    array = np.asarray(boxes, float)
    low, high = array[:, :2].min(axis=0), array[:, 2:].max(axis=0)
    return [float(v) for v in (*low, *high)]
