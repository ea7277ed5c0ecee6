"""Page assembly: a post-processed page's regions in pixels become a schema ``Page`` with
boxes and polygons in PDF points, the PDF's text inside each region and the reading order.

No torch here.
"""

from __future__ import annotations

import numpy as np

from layoutft.geometry import PageTransform
from layoutft.parsing.postprocess import Alternative, PageRegions
from layoutft.parsing.reading_order import order_ranks
from layoutft.render.text import text_in_box
from layoutft.render.types import RenderedPage
from layoutft.schema import ALTERNATIVE_BOX_TOLERANCE_PT, Page, Region
from layoutft.schema import Alternative as AlternativeRecord


def assemble_page(rendered: RenderedPage, regions: PageRegions, text: bool = True) -> Page:
    """The ``ok`` page of ``rendered`` holding ``regions`` (pixels of ``rendered.image``),
    sorted in reading order; ``text``: fill each region's text from the PDF text layer."""
    transform = rendered.transform
    boxes_pt = transform.px_to_pt(regions.boxes)
    ranks = order_ranks(boxes_pt)
    items = []
    for i, label in enumerate(regions.labels):
        rings = [transform.px_points_to_pt(ring).tolist() for ring in regions.polygons[i]]
        items.append(
            Region(
                id=i,
                label=label,
                score=float(regions.scores[i]),
                bbox_px=[float(v) for v in regions.boxes[i]],
                bbox_pt=[float(v) for v in boxes_pt[i]],
                polygon_pt=rings,
                text=text_in_box(rendered.words, boxes_pt[i]) if text else None,
                order=ranks[i],
                alternatives=alternative_records(
                    regions.alternatives[i] if regions.alternatives else [],
                    boxes_pt[i],
                    transform,
                ),
            )
        )
    page = empty_page(rendered, "ok", None)
    page.regions = sorted(items, key=lambda r: r.order)
    return page


def alternative_records(
    alternatives: list[Alternative], region_pt: np.ndarray, transform: PageTransform
) -> list[AlternativeRecord]:
    """The schema records of a region's ``alternatives`` (boxes in pixels), highest score
    first; each keeps its own box only when a side differs from the region's box
    ``region_pt`` [4] (points) by more than ``ALTERNATIVE_BOX_TOLERANCE_PT``."""
    records = []
    for alt in sorted(alternatives, key=lambda a: -a.score):
        box_pt = transform.px_to_pt(alt.box.reshape(1, 4))[0]
        own = float(np.abs(box_pt - region_pt).max()) > ALTERNATIVE_BOX_TOLERANCE_PT
        records.append(
            AlternativeRecord(
                label=alt.label,
                score=alt.score,
                bbox_px=[float(v) for v in alt.box] if own else None,
                bbox_pt=[float(v) for v in box_pt] if own else None,
            )
        )
    return records


def empty_page(rendered: RenderedPage, status: str, error: str | None) -> Page:
    """The page of ``rendered`` without regions (``status`` ``"error"`` says why in ``error``)."""
    height, width = rendered.image.shape[:2]
    return Page(
        number=rendered.number,
        width_pt=rendered.width_pt,
        height_pt=rendered.height_pt,
        rotation=rendered.rotation,
        dpi=rendered.dpi,
        width_px=int(width),
        height_px=int(height),
        status=status,
        error=error,
    )
