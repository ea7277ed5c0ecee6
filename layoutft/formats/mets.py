"""The METS file of a document written as PAGE or ALTO: its page images and per-page XML
files in two file groups and a physical structure map with a ``page`` per page, the
layout of an OCR-D workspace (``ocrd workspace -m <file> list-page`` reads it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

METS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"

#: the file group of the page images, as OCR-D names it
IMAGE_GROUP = "OCR-D-IMG"
MIMETYPES = {"pagexml": "application/vnd.prima.page+xml", "alto": "application/alto+xml"}


@dataclass(frozen=True)
class PageFiles:
    """One page's files, relative to the METS file's folder."""

    number: int
    image: str
    xml: str


def mets_xml(
    pages: Sequence[PageFiles], fmt: str, group: str, created: datetime | None = None
) -> str:
    """METS text for ``pages`` whose XML is ``fmt`` (``pagexml``/``alto``) in file group
    ``group``; paths are written as given (relative to the METS file)."""
    ET.register_namespace("mets", METS)
    ET.register_namespace("xlink", XLINK)

    def m(tag: str) -> str:
        return f"{{{METS}}}{tag}"

    stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element(m("mets"))
    header = ET.SubElement(root, m("metsHdr"), {"CREATEDATE": stamp})
    agent = ET.SubElement(
        header, m("agent"), {"ROLE": "CREATOR", "TYPE": "OTHER", "OTHERTYPE": "SOFTWARE"}
    )
    ET.SubElement(agent, m("name")).text = "layoutft"
    files = ET.SubElement(root, m("fileSec"))
    groups = ((IMAGE_GROUP, "image/png", "image"), (group, MIMETYPES[fmt], "xml"))
    for use, mimetype, attr in groups:
        grp = ET.SubElement(files, m("fileGrp"), {"USE": use})
        for page in pages:
            file_el = ET.SubElement(
                grp, m("file"), {"ID": f"{use}_{page.number:04d}", "MIMETYPE": mimetype}
            )
            ET.SubElement(
                file_el,
                m("FLocat"),
                {
                    "LOCTYPE": "OTHER",
                    "OTHERLOCTYPE": "FILE",
                    f"{{{XLINK}}}href": getattr(page, attr),
                },
            )
    smap = ET.SubElement(root, m("structMap"), {"TYPE": "PHYSICAL"})
    sequence = ET.SubElement(smap, m("div"), {"TYPE": "physSequence"})
    for page in pages:
        div = ET.SubElement(
            sequence,
            m("div"),
            {"TYPE": "page", "ID": f"PHYS_{page.number:04d}", "ORDER": str(page.number)},
        )
        for use in (IMAGE_GROUP, group):
            ET.SubElement(div, m("fptr"), {"FILEID": f"{use}_{page.number:04d}"})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
