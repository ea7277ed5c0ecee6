"""The output formats of a parse, one table: each format's file suffix, the sink that writes
it, whether page images go beside its file, whether ``layoutft view`` reads it, and its
media type.

``layoutft parse`` (one input and corpus runs), the Ray engine, ``layoutft serve``'s
``format`` field and the result sinks all read this table (:func:`output_format`); nothing
else lists the formats. No torch here, and no import of the sinks themselves (they import
it).
"""

from __future__ import annotations

from dataclasses import dataclass

from layoutft.errors import OptionError

#: the sinks: ``document`` and ``jsonl`` (:mod:`layoutft.parsing.results`),
#: ``preannotation`` (:mod:`layoutft.parsing.preannotations`), ``xml``
#: (:mod:`layoutft.parsing.xml_results`)
WRITERS = ("document", "jsonl", "preannotation", "xml")
XML = "application/xml"


@dataclass(frozen=True)
class OutputFormat:
    """One output format.

    Attributes:
        name: the ``--format`` value.
        suffix: the results file's suffix (``.json``, ``.coco.json``, ``.mets.xml``, ...).
        writer: the sink that writes it, one of :data:`WRITERS`.
        images: page images are written beside the file (no stdout; the Ray engine sends
            page images back to the driver).
        viewable: ``layoutft view`` reads the file (a ``layoutft.document/1`` document).
        media_type: the results file's media type (``layoutft serve`` answers formats with
            page images as ``application/zip``).
    """

    name: str
    suffix: str
    writer: str
    images: bool = False
    viewable: bool = False
    media_type: str = "application/json"


TABLE: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("json", ".json", "document", viewable=True),
        OutputFormat("jsonl", ".jsonl", "jsonl", viewable=True, media_type="application/x-ndjson"),
        OutputFormat("coco", ".coco.json", "document"),
        OutputFormat("labelstudio", ".labelstudio.json", "preannotation", images=True),
        OutputFormat("cvat", ".cvat.xml", "preannotation", images=True, media_type=XML),
        OutputFormat("coco-dataset", ".coco-dataset.json", "preannotation", images=True),
        OutputFormat("pagexml", ".mets.xml", "xml", images=True, media_type=XML),
        OutputFormat("alto", ".mets.xml", "xml", images=True, media_type=XML),
        OutputFormat("hocr", ".hocr", "xml", images=True, media_type="application/xhtml+xml"),
    )
}
FORMATS = tuple(TABLE)
#: formats that write page images beside their file (no stdout)
WITH_IMAGES = tuple(f.name for f in TABLE.values() if f.images)
#: the XML formats of OCR pipelines (:mod:`layoutft.parsing.xml_results`)
XML_FORMATS = tuple(f.name for f in TABLE.values() if f.writer == "xml")
#: the pre-annotation formats (:mod:`layoutft.parsing.preannotations`)
PREANNOTATION_FORMATS = tuple(f.name for f in TABLE.values() if f.writer == "preannotation")


def output_format(fmt: str) -> OutputFormat:
    """The row of ``fmt``; OptionError naming the choices for an unknown format."""
    found = TABLE.get(fmt)
    if found is None:
        raise OptionError(
            "unknown {format} {value!r}; choose one of {choices}",
            value=fmt,
            choices=", ".join(FORMATS),
        )
    return found


def viewable_file(name: str) -> bool:
    """Whether a results file named ``name`` is in a format ``layoutft view`` reads, by the
    longest suffix of the table it ends with (``a.coco.json`` is COCO, not JSON)."""
    matches = [f for f in TABLE.values() if name.endswith(f.suffix)]
    return bool(matches) and max(matches, key=lambda f: len(f.suffix)).viewable


__all__ = [
    "FORMATS",
    "PREANNOTATION_FORMATS",
    "TABLE",
    "WITH_IMAGES",
    "WRITERS",
    "XML_FORMATS",
    "OutputFormat",
    "output_format",
    "viewable_file",
]
