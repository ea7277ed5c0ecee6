"""The page record every renderer yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from layoutft.geometry import PageTransform
from layoutft.render.text import Words


@dataclass
class RenderedPage:
    """One rendered page (or a record of why it could not be rendered).

    Attributes:
        number: 1-based page number in the source (frame number for multi-page TIFFs).
        image: uint8 [H,W,3] RGB page image, top-left origin; shape (0, 0, 3) when ``error``.
        transform: pixel <-> point conversions for this page (see :mod:`layoutft.geometry`);
            the page size, rotation and dpi below are read from it.
        source_kind: ``"pdf"`` or ``"image"``.
        error: why the page failed (then ``image`` is empty), else None.
        words: the page's text layer in displayed points when requested, else None.
    """

    number: int
    image: np.ndarray
    transform: PageTransform
    source_kind: Literal["pdf", "image"]
    error: str | None = None
    words: Words | None = field(default=None, repr=False)

    @property
    def width_pt(self) -> float:
        """Displayed page width in points (after rotation, CropBox)."""
        return self.transform.width_pt

    @property
    def height_pt(self) -> float:
        """Displayed page height in points (after rotation, CropBox)."""
        return self.transform.height_pt

    @property
    def rotation(self) -> int:
        """The PDF's ``/Rotate`` (0, 90, 180, 270); 0 for images."""
        return self.transform.rotation

    @property
    def dpi(self) -> float:
        """Effective resolution of ``image`` (below the requested one if capped)."""
        return self.transform.dpi

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
        source_kind=kind,
        error=error,
    )
