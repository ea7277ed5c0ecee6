"""ALTO 4 (``ns-v4#``, schema 4.4) for one page, as libraries and archives keep OCR.

Each region is a block of :class:`~layoutft.formats.types.XmlLabels`' ALTO element
(``TextBlock``, ``Illustration`` for pictures) in reading order inside the ``PrintSpace``,
with ``ID="r<region id>"``, its box (``HPOS``/``VPOS``/``WIDTH``/``HEIGHT``, pixels), its
mask outline as ``Shape/Polygon`` when it is not the box, and ``TAGREFS`` naming a
``<Tags><OtherTag LABEL="<label>" DESCRIPTION="block type ...">``: the label itself, which
``layoutft convert --from alto`` reads back. A text block holds ``TextLine``/``String``
(``CONTENT``, with OCR words their boxes and ``WC``); without OCR words the lines have the
block's box and the strings no position.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from layoutft.formats.common import (
    int_box,
    ordered,
    outline_px,
    region_id,
    region_points,
    text_lines,
)
from layoutft.formats.types import XmlLabels
from layoutft.schema import Document, Page

NAMESPACE = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA_LOCATION = f"{NAMESPACE} http://www.loc.gov/alto/v4/alto-4-4.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _box_attrs(box: tuple[int, int, int, int]) -> dict[str, str]:
    x0, y0, x1, y1 = box
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(x1 - x0), "HEIGHT": str(y1 - y0)}


def alto_xml(
    document: Document,
    page: Page,
    image_filename: str,
    labels: XmlLabels | None = None,
    created: datetime | None = None,
) -> str:
    """The ALTO 4 text of one page.

    Args:
        document: the page's document (the model goes to the processing description).
        page: the page; coordinates are pixels of its image (``MeasurementUnit`` pixel).
        image_filename: ``sourceImageInformation/fileName``.
        labels: label -> element map; default :class:`XmlLabels`.
        created: the processing timestamp (UTC); default now.
    """
    labels = labels or XmlLabels()
    ET.register_namespace("", NAMESPACE)
    ET.register_namespace("xsi", _XSI)

    def q(tag: str) -> str:
        return f"{{{NAMESPACE}}}{tag}"

    root = ET.Element(
        q("alto"), {f"{{{_XSI}}}schemaLocation": SCHEMA_LOCATION, "SCHEMAVERSION": "4.4"}
    )
    description = ET.SubElement(root, q("Description"))
    ET.SubElement(description, q("MeasurementUnit")).text = "pixel"
    info = ET.SubElement(description, q("sourceImageInformation"))
    ET.SubElement(info, q("fileName")).text = image_filename
    processing = ET.SubElement(description, q("Processing"), {"ID": "layoutft"})
    stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    ET.SubElement(processing, q("processingDateTime")).text = stamp
    model = (document.model or {}).get("name", "")
    ET.SubElement(processing, q("processingStepDescription")).text = f"layout: {model}"
    software = ET.SubElement(processing, q("processingSoftware"))
    ET.SubElement(software, q("softwareName")).text = "layoutft"

    regions = ordered(page)
    tag_ids: dict[str, str] = {}
    for region in regions:
        tag_ids.setdefault(region.label, f"label{len(tag_ids)}")
    if tag_ids:
        tags = ET.SubElement(root, q("Tags"))
        for label, tag_id in tag_ids.items():
            ET.SubElement(
                tags,
                q("OtherTag"),
                {"ID": tag_id, "LABEL": label, "DESCRIPTION": f"block type {label}"},
            )
    layout = ET.SubElement(root, q("Layout"))
    page_el = ET.SubElement(
        layout,
        q("Page"),
        {
            "ID": f"page{page.number}",
            "PHYSICAL_IMG_NR": str(page.number),
            "WIDTH": str(int(page.width_px)),
            "HEIGHT": str(int(page.height_px)),
        },
    )
    space = ET.SubElement(
        page_el, q("PrintSpace"), _box_attrs((0, 0, int(page.width_px), int(page.height_px)))
    )
    for region in regions:
        block = labels.alto_block(region.label)
        box = int_box(region.bbox_px, page)
        attrs = {"ID": region_id(region), **_box_attrs(box), "TAGREFS": tag_ids[region.label]}
        element = ET.SubElement(space, q(block), attrs)
        if outline_px(region, page) is not None:  # a mask outline, fitted to the box
            shape = ET.SubElement(element, q("Shape"))
            points = " ".join(f"{x},{y}" for x, y in region_points(region, page))
            ET.SubElement(shape, q("Polygon"), {"POINTS": points})
        if block != "TextBlock":
            continue
        for n, line in enumerate(text_lines(region, page)):
            line_attrs = {"ID": f"{region_id(region)}_l{n}", **_box_attrs(line.box or box)}
            line_el = ET.SubElement(element, q("TextLine"), line_attrs)
            for k, word in enumerate(line.words):
                if k:
                    ET.SubElement(line_el, q("SP"))
                word_attrs = {"ID": f"{region_id(region)}_l{n}_w{k}", "CONTENT": word.text}
                if word.box is not None:
                    word_attrs.update(_box_attrs(word.box))
                if word.confidence is not None:
                    word_attrs["WC"] = f"{min(max(word.confidence, 0.0), 1.0):.4f}"
                ET.SubElement(line_el, q("String"), word_attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
