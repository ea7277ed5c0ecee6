"""``ocrd-layoutft-segment``: layoutft as an OCR-D processor (OCR-D core 3's ``Processor``).

For each page of the input file group (images, or PAGE whose page image the workspace
resolves: the newest ``AlternativeImage``, cropped and deskewed as annotated) the model
segments the page image into regions; the output file group gets the input PAGE with those
regions and a ``ReadingOrder`` added (regions already there are replaced). The regions are
written by layoutft's own PAGE writer (:func:`layoutft.formats.pagexml.page_xml`: the
element, ``type`` and ``custom`` from the label map, the outline fitted to the box,
``Coords@conf``), then moved from the page image's pixels to the page's coordinates
(:func:`ocrd_utils.coordinates_for_segment`, for cropped or deskewed page images).

Needs the ``ocrd`` package (``pip install 'layoutft[ocrd]'``); its parameters are in
``ocrd-tool.json`` beside this file.
"""

from __future__ import annotations

import io
from typing import Any

from ocrd import Processor
from ocrd.processor.ocrd_page_result import OcrdPageResult
from ocrd_models.ocrd_page import OcrdPage, parseString
from ocrd_utils import coordinates_for_segment, points_from_polygon, polygon_from_points

from layoutft.errors import LayoutftError
from layoutft.formats.pagexml import page_xml
from layoutft.formats.types import XmlLabels
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.parser import Parser, load_model

EXECUTABLE = "ocrd-layoutft-segment"
#: PAGE's region elements (``Page/*Region``), which a new segmentation replaces
REGION_ELEMENTS = (
    "TextRegion",
    "ImageRegion",
    "LineDrawingRegion",
    "GraphicRegion",
    "TableRegion",
    "ChartRegion",
    "MapRegion",
    "SeparatorRegion",
    "MathsRegion",
    "ChemRegion",
    "MusicRegion",
    "AdvertRegion",
    "NoiseRegion",
    "UnknownRegion",
    "CustomRegion",
)


class LayoutftSegment(Processor):
    """Region segmentation and reading order by a layoutft model (see the module
    docstring); parameters: ``model``, ``score_threshold``, ``label_map``, ``dpi``,
    ``device``."""

    # one model per process: page-parallel forks would each load it
    max_workers = 1

    @property
    def metadata_filename(self) -> str:
        return "ocrd/ocrd-tool.json"

    @property
    def executable(self) -> str:
        return EXECUTABLE

    def setup(self) -> None:
        """Load the model and the label map once (OCR-D calls this after reading the
        parameters); a bad parameter raises ValueError naming it."""
        params = self.parameter
        try:
            self.labels = XmlLabels().merged({"pagexml": dict(params["label_map"])}, "label_map")
            threshold = float(params["score_threshold"]) or None
            model = load_model(params["model"] or None, device=params["device"])
            self.parser = Parser(model, ParseOptions(score_threshold=threshold))
        except LayoutftError as exc:
            raise ValueError(f"{EXECUTABLE}: {exc}") from None

    def process_page_pcgts(
        self, *input_pcgts: OcrdPage | None, page_id: str | None = None
    ) -> OcrdPageResult:
        """Segment one page: ``input_pcgts[0]`` with its regions and reading order replaced
        by the model's."""
        pcgts = input_pcgts[0]
        assert pcgts is not None  # one input file group, the base class skips missing pages
        page = pcgts.get_Page()
        image, coords, info = self.workspace.image_from_page(page, page_id)
        document = self.parser.run(_png(image, self._dpi(info)))
        result = document.pages[0]
        if result.status != "ok":
            raise RuntimeError(f"{EXECUTABLE}: page {page_id}: {result.error}")
        segmented = parseString(
            page_xml(document, result, page.get_imageFilename(), self.labels).encode("utf-8"),
            silence=True,
        ).get_Page()
        _replace_regions(page, segmented, image, coords)
        self.logger.info("page %s: %d regions", page_id, len(result.regions))
        return OcrdPageResult(pcgts)

    def _dpi(self, info: Any) -> float | None:
        """The page image's resolution (ppi): the ``dpi`` parameter, else the image's own
        metadata, else None (layoutft's default for images)."""
        if self.parameter["dpi"]:
            return float(self.parameter["dpi"])
        resolution = float(getattr(info, "resolution", 0) or 0)
        if getattr(info, "resolutionUnit", "inches") == "cm":
            resolution *= 2.54
        return resolution if resolution > 1 else None


def _png(image: Any, dpi: float | None) -> bytes:
    """``image`` (PIL) as PNG bytes, with ``dpi`` in its metadata when known."""
    buffer = io.BytesIO()
    extra = {} if dpi is None else {"dpi": (dpi, dpi)}
    image.save(buffer, format="PNG", **extra)
    return buffer.getvalue()


def _replace_regions(page: Any, segmented: Any, image: Any, coords: dict[str, Any]) -> None:
    """Move ``segmented``'s regions (PAGE objects in ``image``'s pixels) and reading order
    into ``page``, replacing the regions and reading order it had."""
    for element in REGION_ELEMENTS:
        getattr(page, f"set_{element}")([])
    page.set_ReadingOrder(segmented.get_ReadingOrder())
    for element in REGION_ELEMENTS:
        for region in getattr(segmented, f"get_{element}")():
            _to_page_coords(region, image, coords)
            getattr(page, f"add_{element}")(region)


def _to_page_coords(segment: Any, image: Any, coords: dict[str, Any]) -> None:
    """``segment``'s ``Coords`` (and its lines' and words') from the page image's pixels
    to the page's coordinates."""
    polygon = polygon_from_points(segment.get_Coords().get_points())
    points = coordinates_for_segment(polygon, image, coords)
    segment.get_Coords().set_points(points_from_polygon(points.clip(0)))
    for child in (*getattr(segment, "get_TextLine", list)(), *getattr(segment, "get_Word", list)()):
        _to_page_coords(child, image, coords)
