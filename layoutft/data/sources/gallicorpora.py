"""Gallicorpora printed books (15th-18th century, BnF Gallica): ALTO v4 with SegmOnto zones.

Five repositories, one clone each. Reads ``data/<document>/*.xml`` (ALTO), one per page
image: ``*.chocomufin.xml`` files are a second transcription of the same page (same zones)
and are skipped, as are pages whose ``<fileName>`` image is not in the repository.
``data/<document>/`` is the document, whichever repository holds it: the same book
(``bpt6k15260973``, the same page images) is in three repositories, so a page already found
in an earlier repository of :data:`REPOS` is skipped (incunables first, then by century).

Page images are named ``f10.jpg`` in many documents; the conversion reads temporary copies
of the ALTO files whose ``<fileName>`` is prefixed with the document (``bpt6k1110784_f10.jpg``)
so that every output image name is unique.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from layoutft.data.sources.base import Page, Repo, Scan, SourceInfo, link_or_copy, local_path

_OWNER = "https://github.com/Gallicorpora/"
REPOS = (
    Repo("HTR-incunable-15e-siecle", _OWNER + "HTR-incunable-15e-siecle",
         "6e050f9146f584b991fe6288d0590621440b2bf9"),
    Repo("HTR-imprime-16e-siecle", _OWNER + "HTR-imprime-16e-siecle",
         "fb99875d3786e3489f246e3650ea9fab9daab8fc"),
    Repo("HTR-imprime-gothique-16e-siecle", _OWNER + "HTR-imprime-gothique-16e-siecle",
         "35b02f7fed1822ae0dff77366287eb32dc335786"),
    Repo("HTR-imprime-17e-siecle", _OWNER + "HTR-imprime-17e-siecle",
         "e03cc1b175bd3a1c4ff5dd23dc3087f020ff577a"),
    Repo("HTR-imprime-18e-siecle", _OWNER + "HTR-imprime-18e-siecle",
         "f22104fd237c359097a91fc4cea3d875f5de36c5"),
)  # fmt: skip

INFO = SourceInfo(
    name="gallicorpora",
    title="Gallicorpora printed books, 15th-18th century (ALTO, SegmOnto zones)",
    repos=REPOS,
    licence="CC BY 4.0 (LICENSE: Creative Commons Attribution 4.0)",
    reads=tuple(f"{r.name}/data/*/*" for r in REPOS),
    splits="no splits; one ALTO file per page image",
    fmt="alto",
    label_map="segmonto-doclaynet",
    # zones outline every text block, picture, running title, page number and quire mark;
    # headings, captions, notes and lists are not told apart (inside MainZone: Text)
    labelled=("Page-footer", "Page-header", "Picture", "Text", "Title"),
    documents="the data/<document>/ folder of each repository",
)

_FILE_NAME = re.compile(r"(<(?:\w+:)?fileName>)([^<]*)(</(?:\w+:)?fileName>)")


def scan(roots: dict[str, Path]) -> Scan:
    """ALTO pages (not ``*.chocomufin.xml``) whose image is present, of every clone given."""
    result = Scan()
    seen: set[tuple[str, str]] = set()
    for repo in REPOS:
        root = roots.get(repo.name)
        if root is None:
            continue
        second = missing = again = 0
        for xml in sorted(root.glob("data/*/*.xml")):
            if xml.name.endswith(".chocomufin.xml"):
                second += 1
                continue
            image = _image_of(xml)
            if image is None:
                missing += 1
                continue
            doc = xml.parent.name
            if (doc, image.name) in seen:
                again += 1
                continue
            seen.add((doc, image.name))
            rel = f"{repo.name}/data/{doc}"
            result.pages.append(Page(doc, f"{rel}/{image.name}", (f"{rel}/{xml.name}",)))
        if second:
            result.notes.append(f"{repo.name}: {second} *.chocomufin.xml (second transcriptions)")
        if missing:
            result.notes.append(f"{repo.name}: {missing} ALTO files without their image: skipped")
        if again:
            result.notes.append(f"{repo.name}: {again} pages of an earlier repository: skipped")
    return result


def _image_of(xml: Path) -> Path | None:
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError):
        return None
    name = next((el.text for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "fileName"), None)
    if not name or not name.strip():
        return None
    image = xml.parent / Path(name.strip()).name
    return image if image.is_file() else None


def unique_name(document: str, name: str) -> str:
    """``f10.jpg`` of ``bpt6k1110784`` -> ``bpt6k1110784_f10.jpg`` (kept if already prefixed)."""
    return name if name.startswith(document) else f"{document}_{name}"


def inputs(pages: Sequence[Page], roots: dict[str, Path], work: Path) -> list[Path]:
    """Copies of the ALTO files naming uniquely named links to their images."""
    out: list[Path] = []
    for page in pages:
        xml = local_path(roots, page.labels[0])
        image = local_path(roots, page.image)
        name = unique_name(page.document, image.name)
        text = _FILE_NAME.sub(rf"\g<1>{_escape(name)}\g<3>", xml.read_text(encoding="utf-8"), 1)
        dest = work / f"{Path(name).stem}.xml"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        link_or_copy(image, work / name)
        out.append(dest)
    return out


def _escape(name: str) -> str:
    """``name`` safe as XML text and as a regex replacement."""
    from xml.sax.saxutils import escape

    return escape(name).replace("\\", "\\\\")
