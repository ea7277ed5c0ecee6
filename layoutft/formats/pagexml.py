"""PAGE XML 2019 (``pagecontent/2019-07-15``) for one page, as OCR-D, Transkribus and
eScriptorium exchange it.

A region is its element and ``type`` from :class:`~layoutft.formats.types.XmlLabels`
(``TextRegion type="heading"``, ``TableRegion``, ...), with ``id="r<region id>"`` and
``<Coords points="x,y ...">`` in page-image pixels: its mask outline (fitted to the box:
:func:`layoutft.formats.common.region_points`) when it has one that is not its box, else
the box. ``Coords@conf`` is the detector's score. The page's reading order
is one ``ReadingOrder/OrderedGroup`` of ``RegionRefIndexed`` in region ``order``. Text
regions carry their text: with OCR words, ``TextLine``/``Word`` with their boxes and
``TextEquiv@conf``; the region's whole text is its own ``TextEquiv/Unicode`` (lines joined
by newlines).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime

from layoutft.formats.common import box_points, ordered, region_id, region_points, text_lines
from layoutft.formats.types import PAGE_TEXT_ELEMENTS, XmlLabels
from layoutft.schema import Document, Page

NAMESPACE = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
SCHEMA_LOCATION = f"{NAMESPACE} {NAMESPACE}/pagecontent.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _points(points: list[tuple[int, int]]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def _conf(value: float) -> str:
    return f"{min(max(float(value), 0.0), 1.0):.4f}"


def _custom_value(value: str) -> str:
    """``value`` escaped for PAGE's ``custom`` grammar (``;``, ``{``, ``}``, ``:``)."""
    return "".join(f"\\u{ord(c):04x}" if c in ";{}:\\" else c for c in value)


def page_xml(
    document: Document,
    page: Page,
    image_filename: str,
    labels: XmlLabels | None = None,
    created: datetime | None = None,
) -> str:
    """The PAGE XML text of one page.

    Args:
        document: the page's document (model and source go to the metadata).
        page: the page; coordinates are written in its image's pixels
            (``width_px`` x ``height_px``).
        image_filename: ``Page@imageFilename``, relative to the XML file as PAGE readers
            resolve it.
        labels: label -> element map; default :class:`XmlLabels`.
        created: the metadata timestamp (UTC); default now.
    """
    labels = labels or XmlLabels()
    ET.register_namespace("", NAMESPACE)
    ET.register_namespace("xsi", _XSI)

    def q(tag: str) -> str:
        return f"{{{NAMESPACE}}}{tag}"

    stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element(q("PcGts"), {f"{{{_XSI}}}schemaLocation": SCHEMA_LOCATION})
    meta = ET.SubElement(root, q("Metadata"))
    ET.SubElement(meta, q("Creator")).text = "layoutft"
    ET.SubElement(meta, q("Created")).text = stamp
    ET.SubElement(meta, q("LastChange")).text = stamp
    source = (document.source or {}).get("path") or "bytes"
    model = (document.model or {}).get("name", "")
    ET.SubElement(meta, q("Comments")).text = f"{source}, page {page.number}; model {model}"
    page_el = ET.SubElement(
        root,
        q("Page"),
        {
            "imageFilename": image_filename,
            "imageWidth": str(int(page.width_px)),
            "imageHeight": str(int(page.height_px)),
            "imageXResolution": f"{page.dpi:g}",
            "imageYResolution": f"{page.dpi:g}",
            "imageResolutionUnit": "PPI",
        },
    )
    regions = ordered(page)
    if regions:
        ro = ET.SubElement(page_el, q("ReadingOrder"))
        group = ET.SubElement(ro, q("OrderedGroup"), {"id": "ro", "caption": "reading order"})
        for index, region in enumerate(regions):
            ET.SubElement(
                group,
                q("RegionRefIndexed"),
                {"index": str(index), "regionRef": region_id(region)},
            )
    for region in regions:
        kind = labels.page_type(region.label)
        attrs = {"id": region_id(region)}
        if kind.type:
            attrs["type"] = kind.type
        if kind.structure:
            attrs["custom"] = f"structure {{type:{_custom_value(kind.structure)};}}"
        element = ET.SubElement(page_el, q(kind.element), attrs)
        ET.SubElement(
            element,
            q("Coords"),
            {"points": _points(region_points(region, page)), "conf": _conf(region.score)},
        )
        if kind.element not in PAGE_TEXT_ELEMENTS:
            continue
        lines = text_lines(region, page)
        for n, line in enumerate(lines if region.words else []):
            assert line.box is not None  # OCR lines have boxes
            line_id = f"{region_id(region)}_l{n}"
            line_el = ET.SubElement(element, q("TextLine"), {"id": line_id})
            ET.SubElement(line_el, q("Coords"), {"points": _points(box_points(line.box))})
            for k, word in enumerate(line.words):
                assert word.box is not None and word.confidence is not None
                word_el = ET.SubElement(line_el, q("Word"), {"id": f"{line_id}_w{k}"})
                ET.SubElement(word_el, q("Coords"), {"points": _points(box_points(word.box))})
                _text_equiv(word_el, q, word.text, word.confidence)
            _text_equiv(line_el, q, line.text, None)
        text = "\n".join(line.text for line in lines) if region.words else region.text
        if text:
            _text_equiv(element, q, text, None)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _text_equiv(parent: ET.Element, q: Callable[[str], str], text: str, conf: float | None) -> None:
    attrs = {} if conf is None else {"conf": _conf(conf)}
    equiv = ET.SubElement(parent, q("TextEquiv"), attrs)
    ET.SubElement(equiv, q("Unicode")).text = text
