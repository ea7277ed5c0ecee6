"""Which XML element (and type) each layout label becomes in PAGE, ALTO and hOCR.

The default map covers DocLayNet's eleven classes and PubLayNet's five; it is chosen so
that ``layoutft convert --from pagexml --labels pagexml-doclaynet`` (``pagexml-publaynet``
for PubLayNet's classes) reads the labels back, and ALTO keeps the label itself as the
``LABEL`` of the block's tag. Override it with a YAML file (``--xml-labels FILE``)::

    pagexml:                 # label -> Element[:type][/structure]
      Title: TextRegion:heading/title
      Stamp: GraphicRegion:stamp
    alto:                    # label -> TextBlock | Illustration | GraphicalElement | ComposedBlock
      Table: ComposedBlock
    hocr:                    # label -> hOCR class
      Table: ocr_table

A PAGE ``type`` must be one of PAGE 2019's values for that element; a ``/structure`` is
written as ``custom="structure {type:...;}"`` (what Transkribus and OCR-D read, and what
``layoutft convert`` prefers over ``type``). Labels the map does not name become
``TextRegion`` with ``custom="structure {type:LABEL;}"`` (PAGE), ``TextBlock`` (ALTO) and
``ocr_carea`` (hOCR).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layoutft.errors import DatasetError

#: PAGE 2019 region elements and the ``type`` values each accepts (empty: no ``type``)
PAGE_TYPES: dict[str, tuple[str, ...]] = {
    "TextRegion": (
        "paragraph",
        "heading",
        "caption",
        "header",
        "footer",
        "page-number",
        "drop-capital",
        "credit",
        "floating",
        "signature-mark",
        "catch-word",
        "marginalia",
        "footnote",
        "footnote-continued",
        "endnote",
        "TOC-entry",
        "list-label",
        "other",
    ),
    "ImageRegion": (),
    "LineDrawingRegion": (),
    "GraphicRegion": (
        "logo",
        "letterhead",
        "decoration",
        "frame",
        "handwritten-annotation",
        "stamp",
        "signature",
        "barcode",
        "paper-grow",
        "punch-hole",
        "other",
    ),
    "TableRegion": (),
    "ChartRegion": ("bar", "line", "pie", "scatter", "surface", "other"),
    "MathsRegion": (),
    "ChemRegion": (),
    "MusicRegion": (),
    "AdvertRegion": (),
    "NoiseRegion": (),
    "UnknownRegion": (),
    "CustomRegion": (),
}
#: PAGE elements that hold text lines and ``TextEquiv``
PAGE_TEXT_ELEMENTS = ("TextRegion",)

ALTO_BLOCKS = ("TextBlock", "Illustration", "GraphicalElement", "ComposedBlock")

HOCR_CLASSES = (
    "ocr_carea",
    "ocr_par",
    "ocr_header",
    "ocr_footer",
    "ocr_caption",
    "ocr_photo",
    "ocr_image",
    "ocr_table",
    "ocr_math",
    "ocr_chem",
    "ocr_float",
    "ocr_textfloat",
    "ocr_separator",
    "ocr_pageno",
)

DEFAULT_PAGE: dict[str, str] = {
    # DocLayNet
    "Text": "TextRegion:paragraph",
    "Section-header": "TextRegion:heading",
    "Title": "TextRegion:heading/title",
    "Caption": "TextRegion:caption",
    "Footnote": "TextRegion:footnote",
    "List-item": "TextRegion/list_item",
    "Page-header": "TextRegion:header",
    "Page-footer": "TextRegion:footer",
    "Formula": "MathsRegion",
    "Picture": "ImageRegion",
    "Table": "TableRegion",
    # PubLayNet
    "text": "TextRegion:paragraph",
    "title": "TextRegion:heading",
    "list": "TextRegion/list",
    "table": "TableRegion",
    "figure": "ImageRegion",
}
DEFAULT_ALTO: dict[str, str] = {"Picture": "Illustration", "figure": "Illustration"}
DEFAULT_HOCR: dict[str, str] = {
    "Text": "ocr_par",
    "text": "ocr_par",
    "Section-header": "ocr_par",
    "Title": "ocr_par",
    "title": "ocr_par",
    "Caption": "ocr_caption",
    "Page-header": "ocr_header",
    "Page-footer": "ocr_footer",
    "Formula": "ocr_math",
    "Picture": "ocr_photo",
    "figure": "ocr_photo",
    "Table": "ocr_table",
    "table": "ocr_table",
}


@dataclass(frozen=True)
class PageType:
    """A PAGE region: ``element`` (``TextRegion``), its ``type`` attribute and its custom
    ``structure`` type (None: not written)."""

    element: str
    type: str | None = None
    structure: str | None = None


@dataclass(frozen=True)
class XmlLabels:
    """Label -> element maps of the three formats (see the module docstring)."""

    page: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PAGE))
    alto: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ALTO))
    hocr: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_HOCR))

    def page_type(self, label: str) -> PageType:
        """The PAGE region ``label`` is written as."""
        spec = self.page.get(label)
        if spec is None:
            return PageType("TextRegion", None, label)
        return parse_page_type(spec)

    def alto_block(self, label: str) -> str:
        """The ALTO block element ``label`` is written as."""
        return self.alto.get(label, "TextBlock")

    def hocr_class(self, label: str) -> str:
        """The hOCR class ``label`` is written as."""
        return self.hocr.get(label, "ocr_carea")

    def merged(self, data: Mapping[str, Any], source: str) -> XmlLabels:
        """These maps updated with a YAML structure ``{pagexml: {...}, alto: ..., hocr:
        ...}``; every mistake is listed in one DatasetError naming ``source``."""
        if not isinstance(data, Mapping):
            raise DatasetError(f"{source}: expected a mapping with pagexml, alto, hocr")
        errors: list[str] = []
        extra = sorted(set(data) - {"pagexml", "alto", "hocr"})
        if extra:
            errors.append(f"unknown keys {extra} (allowed: pagexml, alto, hocr)")
        maps: dict[str, dict[str, str]] = {}
        for key in ("pagexml", "alto", "hocr"):
            given = data.get(key) or {}
            if not isinstance(given, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in given.items()
            ):
                errors.append(f"'{key}' must map label names to element names")
                given = {}
            maps[key] = dict(given)
        for label, spec in maps["pagexml"].items():
            try:
                parse_page_type(spec)
            except ValueError as exc:
                errors.append(f"pagexml {label}: {exc}")
        for label, block in maps["alto"].items():
            if block not in ALTO_BLOCKS:
                errors.append(f"alto {label}: {block!r} is not one of {', '.join(ALTO_BLOCKS)}")
        for label, cls in maps["hocr"].items():
            if cls not in HOCR_CLASSES:
                errors.append(f"hocr {label}: {cls!r} is not one of {', '.join(HOCR_CLASSES)}")
        if errors:
            raise DatasetError(f"{source}: " + "; ".join(errors))
        return XmlLabels(
            {**self.page, **maps["pagexml"]},
            {**self.alto, **maps["alto"]},
            {**self.hocr, **maps["hocr"]},
        )


def parse_page_type(spec: str) -> PageType:
    """``"TextRegion:heading/title"`` -> PageType; ValueError naming what is wrong."""
    head, _, structure = spec.partition("/")
    element, _, kind = head.partition(":")
    if element not in PAGE_TYPES:
        raise ValueError(f"{element!r} is not a PAGE 2019 region element")
    if kind and kind not in PAGE_TYPES[element]:
        allowed = ", ".join(PAGE_TYPES[element]) or "none"
        raise ValueError(f"type {kind!r} is not allowed for {element} (allowed: {allowed})")
    if structure and element not in PAGE_TEXT_ELEMENTS and structure != structure.strip():
        raise ValueError(f"structure {structure!r} has surrounding spaces")
    return PageType(element, kind or None, structure or None)


def load_xml_labels(path: str | Path | None) -> XmlLabels:
    """The default maps, overridden by the YAML file ``path`` (None: the defaults)."""
    labels = XmlLabels()
    if path is None:
        return labels
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the XML label map ({exc.strerror})") from None
    except yaml.YAMLError:
        raise DatasetError(f"{path}: the XML label map is not valid YAML") from None
    return labels.merged(data or {}, str(path))
