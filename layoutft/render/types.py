"""The page record every renderer yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from layoutft.geometry import PageTransform
from layoutft.text import Words


@dataclass
class RenderedPage:
    """One rendered page (or a record of why it could not be rendered).

    Attributes:
        number: 1-based page number in the source (frame number for multi-page TIFFs).
        image: uint8 [H,W,3] RGB page image, top-left origin; shape (0, 0, 3) when ``error``.
        transform: pixel <-> point conversions for this page (see :mod:`layoutft.geometry`).
        width_pt, height_pt: displayed page size in points (after rotation, CropBox).
        rotation: the PDF's ``/Rotate`` (0, 90, 180, 270); 0 for images.
        dpi: effective resolution of ``image`` (below the requested one if capped).
        source_kind: ``"pdf"`` or ``"image"``.
        error: why the page failed (then ``image`` is empty), else None.
        words: the page's text layer in displayed points when requested, else None.
    """

    number: int
    image: np.ndarray
    transform: PageTransform
    width_pt: float
    height_pt: float
    rotation: int
    dpi: float
    source_kind: Literal["pdf", "image"]
    error: str | None = None
    words: Words | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the page rendered."""
        return self.error is None


def failed_page(
    number: int, transform: PageTransform, kind: Literal["pdf", "image"], error: str
) -> RenderedPage:
    """A page record for a page that could not be rendered."""
    return RenderedPage(
        number=number,
        image=np.zeros((0, 0, 3), dtype=np.uint8),
        transform=transform,
        width_pt=transform.width_pt,
        height_pt=transform.height_pt,
        rotation=transform.rotation,
        dpi=transform.dpi,
        source_kind=kind,
        error=error,
    )
