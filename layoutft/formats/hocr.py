"""hOCR 1.2 (HTML) for a whole document, as Tesseract-based tools read and write it.

One ``div.ocr_page`` per page (``image`` the page image, ``bbox`` its size, ``ppageno``);
each region, in reading order, an element of :class:`~layoutft.formats.types.XmlLabels`'
hOCR class (``ocr_par``, ``ocr_table``, ``ocr_photo``, ``ocr_header``, ...) with ``id``,
``bbox`` and the engine-specific properties ``x_label`` (the layout label) and
``x_score`` (the detector's score). Text goes in ``span.ocr_line``; OCR words are
``span.ocrx_word`` with ``bbox`` and ``x_wconf`` (0-100); without OCR words a line has
the region's box.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from layoutft.formats.common import int_box, ordered, region_id, text_lines
from layoutft.formats.types import XmlLabels
from layoutft.schema import Document

_BLOCK_TAGS = {"ocr_par": "p"}


def _bbox(box: tuple[int, int, int, int]) -> str:
    return "bbox {} {} {} {}".format(*box)


def hocr(
    document: Document, image_names: Mapping[int, str], labels: XmlLabels | None = None
) -> str:
    """The hOCR text of ``document``'s ``ok`` pages.

    Args:
        document: the document.
        image_names: page number -> the page image's file name, relative to the hOCR file.
        labels: label -> hOCR class map; default :class:`XmlLabels`.
    """
    labels = labels or XmlLabels()
    html = ET.Element("html", {"xmlns": "http://www.w3.org/1999/xhtml", "lang": "en"})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = str((document.source or {}).get("path") or "layoutft")
    ET.SubElement(
        head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"}
    )
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": "layoutft"})
    capabilities = "ocr_page ocr_carea ocr_par ocr_line ocrx_word " + " ".join(
        sorted({labels.hocr_class(r.label) for p in document.pages for r in p.regions})
    )
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": capabilities.strip()})
    body = ET.SubElement(html, "body")
    for index, page in enumerate(document.pages):
        if page.status != "ok":
            continue
        page_box = (0, 0, int(page.width_px), int(page.height_px))
        title = f'image "{image_names.get(page.number, "")}"; {_bbox(page_box)}; ppageno {index}'
        page_el = ET.SubElement(
            body, "div", {"class": "ocr_page", "id": f"page_{page.number}", "title": title}
        )
        for region in ordered(page):
            cls = labels.hocr_class(region.label)
            box = int_box(region.bbox_px, page)
            props = f"{_bbox(box)}; x_label {region.label}; x_score {region.score:.4f}"
            tag = _BLOCK_TAGS.get(cls, "div")
            element = ET.SubElement(
                page_el,
                tag,
                {"class": cls, "id": f"p{page.number}_{region_id(region)}", "title": props},
            )
            for n, line in enumerate(text_lines(region, page)):
                line_id = f"p{page.number}_{region_id(region)}_l{n}"
                line_el = ET.SubElement(
                    element,
                    "span",
                    {"class": "ocr_line", "id": line_id, "title": _bbox(line.box or box)},
                )
                for k, word in enumerate(line.words):
                    if word.box is None:
                        span = ET.SubElement(line_el, "span", {"class": "ocrx_word"})
                    else:
                        conf = round(100 * (word.confidence or 0.0))
                        span = ET.SubElement(
                            line_el,
                            "span",
                            {
                                "class": "ocrx_word",
                                "id": f"{line_id}_w{k}",
                                "title": f"{_bbox(word.box)}; x_wconf {conf}",
                            },
                        )
                    span.text = word.text
                    span.tail = " "
    ET.indent(html)
    doctype = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + doctype
        + ET.tostring(html, encoding="unicode")
        + "\n"
    )
