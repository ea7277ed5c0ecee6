"""Write a :class:`~layoutft.schema.Document` as PAGE XML, ALTO or hOCR files.

Layout of the files, for ``dest`` ``out/doc.mets.xml`` (PAGE, ALTO) or ``out/doc.hocr``::

    out/doc.mets.xml            METS: page images + per-page XML (an OCR-D workspace)
    out/images/doc-p1.png       the page images (written by the caller)
    out/page/doc-p1.xml         PAGE XML, one per page (``alto/`` for ALTO)
    out/doc.hocr                hOCR: every page in one file

References inside the XML are relative to ``dest``'s folder (the workspace), as OCR-D
resolves them. Files are written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from layoutft.formats.alto import alto_xml
from layoutft.formats.hocr import hocr
from layoutft.formats.mets import PageFiles, mets_xml
from layoutft.formats.pagexml import page_xml
from layoutft.formats.types import XmlLabels
from layoutft.outputs import atomic_path
from layoutft.schema import Document, Page

FORMATS = ("pagexml", "alto", "hocr")
SUFFIX = {"pagexml": ".mets.xml", "alto": ".mets.xml", "hocr": ".hocr"}
#: per-page folder (and METS file group) of each per-page format
FOLDER = {"pagexml": "page", "alto": "alto"}
GROUP = {"pagexml": "OCR-D-SEG-LAYOUTFT", "alto": "LAYOUTFT-ALTO"}
IMAGES = "images"


def stem_of(dest: Path, fmt: str) -> str:
    """``dest``'s name without the format's suffix (``doc.mets.xml`` -> ``doc``)."""
    name = dest.name
    return name[: -len(SUFFIX[fmt])] if name.endswith(SUFFIX[fmt]) else dest.stem


def image_name(stem: str, page: Page) -> str:
    """The page image's path relative to the output folder: ``images/<stem>-p<N>.png``."""
    return f"{IMAGES}/{stem}-p{page.number}.png"


def page_file(dest: Path, fmt: str, page: Page) -> Path:
    """Where the per-page XML of ``page`` goes (``page/<stem>-p<N>.xml``)."""
    return dest.parent / FOLDER[fmt] / f"{stem_of(dest, fmt)}-p{page.number}.xml"


def write_page(
    document: Document, page: Page, dest: Path, fmt: str, labels: XmlLabels | None = None
) -> Path:
    """Write one page's PAGE or ALTO file (see the module docstring); returns its path.
    The page image is expected at ``dest.parent / image_name(...)``."""
    path = page_file(dest, fmt, page)
    image = image_name(stem_of(dest, fmt), page)
    writer = page_xml if fmt == "pagexml" else alto_xml
    with atomic_path(path) as tmp:
        tmp.write_text(writer(document, page, image, labels), encoding="utf-8")
    return path


def write_index(document: Document, dest: Path, fmt: str, labels: XmlLabels | None = None) -> None:
    """Write ``dest``: the METS file of the ``ok`` pages (PAGE, ALTO) or the hOCR file."""
    stem = stem_of(dest, fmt)
    pages = [page for page in document.pages if page.status == "ok"]
    if fmt == "hocr":
        text = hocr(document, {p.number: image_name(stem, p) for p in pages}, labels)
    else:
        files = [
            PageFiles(p.number, image_name(stem, p), f"{FOLDER[fmt]}/{stem}-p{p.number}.xml")
            for p in pages
        ]
        text = mets_xml(files, fmt, GROUP[fmt])
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_document(
    document: Document,
    dest: str | Path,
    fmt: str,
    labels: XmlLabels | None = None,
    images: Mapping[int, Path] | None = None,
) -> list[Path]:
    """Write ``document`` as ``fmt`` (``pagexml``, ``alto``, ``hocr``) at ``dest``.

    Args:
        document: the parse result; coordinates are taken in its pages' image pixels.
        dest: the METS file (PAGE, ALTO) or the hOCR file; per-page files go beside it.
        fmt: one of :data:`FORMATS`.
        labels: label -> element maps; default :class:`XmlLabels`.
        images: page number -> an existing page image (e.g. rendered by ``layoutft
            parse --visualize`` or the input image itself) to copy to ``images/``;
            without it the XML names ``images/<stem>-p<N>.png`` for the caller to provide.

    Returns:
        The files written (``dest`` last).
    """
    import shutil

    dest = Path(dest)
    if fmt not in FORMATS:
        raise ValueError(f"unknown XML format {fmt!r}; choose one of {', '.join(FORMATS)}")
    written: list[Path] = []
    stem = stem_of(dest, fmt)
    for page in document.pages:
        if page.status != "ok":
            continue
        if images and page.number in images:
            target = dest.parent / image_name(stem, page)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(images[page.number], target)
            written.append(target)
        if fmt != "hocr":
            written.append(write_page(document, page, dest, fmt, labels))
    write_index(document, dest, fmt, labels)
    return [*written, dest]
