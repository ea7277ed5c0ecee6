"""OCR-D ``gt_structure_text``: PAGE XML ground truth of German prints (1500-1900) from the
Deutsches Textarchiv, with fine-grained structure types.

Reads ``data/<document>/GT-PAGE/*.xml``; most pages' images are not in the repository (they
are fetched from the DTA by OCR-D tools), so only pages whose ``imageFilename`` (relative to
``data/<document>/``, OCR-D's workspace) is present are used. ``data/<document>/`` is the
document.

OCR-D writes some structure types as ``custom="#list_item"`` (also ``#heading_level1``,
``#column``, ``#cit``), which the PAGE reader refuses; the conversion reads a temporary copy
where such a value is written the Transkribus way, ``custom="structure {type:list_item;}"``,
so the region's label is ``TextRegion:list_item`` (see the ``pagexml-doclaynet`` map).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from layoutft.data.sources.base import Page, Repo, Scan, SourceInfo, link_or_copy, local_path
from layoutft.labels import DOCLAYNET_CLASSES

REPO = Repo(
    "gt_structure_text",
    "https://github.com/OCR-D/gt_structure_text",
    "379f597a8dada882e6c2e4f509dbf9fdf2ebffa1",
)

INFO = SourceInfo(
    name="ocrd-structure",
    title="OCR-D gt_structure_text: German prints 1500-1900, full PAGE structure",
    repos=(REPO,),
    licence="CC BY-SA 4.0 (LICENSE.md, README)",
    reads=(f"{REPO.name}/data/*/GT-PAGE/*",),
    splits="no splits; pages whose image is in the repository",
    fmt="pagexml",
    label_map="pagexml-doclaynet",
    # every class the map produces: the PAGE ground truth outlines every region of a page;
    # Title is never marked (a title is a heading there)
    labelled=tuple(c for c in DOCLAYNET_CLASSES if c != "Title"),
    documents="the data/<document>/ folder",
)

_HASH_CUSTOM = re.compile(r'custom="#([A-Za-z][A-Za-z0-9_-]*)"')


def scan(roots: dict[str, Path]) -> Scan:
    """PAGE files under ``data/*/GT-PAGE`` whose image is present."""
    result = Scan()
    root = roots[REPO.name]
    missing = 0
    for xml in sorted(root.glob("data/*/GT-PAGE/*.xml")):
        image = _image_of(xml)
        if image is None:
            missing += 1
            continue
        doc = xml.parent.parent.name
        rel_xml = xml.relative_to(root).as_posix()
        rel_image = image.relative_to(root).as_posix()
        result.pages.append(Page(doc, f"{REPO.name}/{rel_image}", (f"{REPO.name}/{rel_xml}",)))
    if missing:
        result.notes.append(f"{missing} PAGE files whose image is not in the repository: skipped")
    return result


def _image_of(xml: Path) -> Path | None:
    """The page image: ``imageFilename`` relative to the document folder, else next to the XML."""
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError):
        return None  # the converter never sees it; counted as a page without its image
    page = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Page"), None)
    ref = page.get("imageFilename") if page is not None else None
    if not ref:
        return None
    for candidate in (xml.parent.parent / ref, xml.parent / Path(ref).name):
        if candidate.is_file():
            return candidate
    return None


def inputs(pages: Sequence[Page], roots: dict[str, Path], work: Path) -> list[Path]:
    """Copies of the PAGE files (``#type`` customs rewritten) with their images linked beside."""
    out: list[Path] = []
    for page in pages:
        xml = local_path(roots, page.labels[0])
        image = local_path(roots, page.image)
        folder = work / page.document
        text = _HASH_CUSTOM.sub(r'custom="structure {type:\1;}"', xml.read_text(encoding="utf-8"))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / xml.name).write_text(text, encoding="utf-8")
        link_or_copy(image, folder / image.name)
        out.append(folder / xml.name)
    return out
