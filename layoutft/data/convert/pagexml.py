"""PAGE XML (PRImA ``pagecontent`` 2010-2019 namespaces), one file per page image.

Inputs: PAGE files or folders of them (``*.xml``). ``<Page imageFilename imageWidth
imageHeight>`` names the image (found in ``--images``, then next to the XML). Every element
whose name ends in ``Region`` is a region, at any depth (a table's cell regions too), in
document order; its outline is ``<Coords points="x,y x,y ...">`` (or 2010-style ``<Point>``
children), pixels. Text lines, words and the reading order are ignored.

Labels keep the raw PAGE type: ``TextRegion:<type>`` for a text region with a ``type``
(``TextRegion:paragraph``, ``TextRegion:heading``, ...), ``TextRegion`` without one, and the
element name for the others (``TableRegion``, ``ImageRegion``, ``GraphicRegion``,
``ChartRegion``, ``SeparatorRegion``, ``MathsRegion``, ``NoiseRegion``, ...). Map them with
``--labels``; ``--labels pagexml-publaynet`` is the built-in map into PubLayNet classes
(heading -> title, paragraph/caption/footnote/... -> text, list-label/TOC-entry -> list,
tables -> table, image/graphic/chart -> figure; header, footer, page-number, separators and
noise dropped).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from layoutft.data.coco import Problems
from layoutft.data.convert.common import (
    ReadOptions,
    SourceDataset,
    SourcePage,
    SourceRegion,
    locate_image,
    parse_xml,
    to_float,
)

PAGE_NAMESPACE_PREFIX = "http://schema.primaresearch.org/PAGE/gts/pagecontent/"


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read PAGE XML files; see the module docstring."""
    dataset = SourceDataset()
    files = [f for p in inputs for f in (sorted(p.glob("*.xml")) if p.is_dir() else [p])]
    for path in files:
        root = parse_xml(path, problems)
        if root is None:
            continue
        ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
        if not ns.startswith(PAGE_NAMESPACE_PREFIX) or root.tag != f"{{{ns}}}PcGts":
            problems.add(str(path), f"not PAGE XML: root is {root.tag!r}, expected PcGts")
            continue
        for page_el in root.iterfind(f"{{{ns}}}Page"):
            page = _page(page_el, ns, path, options, problems)
            if page is not None:
                dataset.pages.append(page)
    return dataset


def _page(
    page_el: ET.Element, ns: str, path: Path, options: ReadOptions, problems: Problems
) -> SourcePage | None:
    ref = page_el.get("imageFilename")
    w, h = to_float(page_el.get("imageWidth")), to_float(page_el.get("imageHeight"))
    where = f"{path}: Page {ref!r}"
    if not ref or w is None or h is None:
        problems.add(where, "<Page> needs imageFilename, imageWidth and imageHeight")
        return None
    found = locate_image(ref, options.search_dirs(path), problems, where)
    if found is None:
        return None
    page = SourcePage(found[1], found[0], where, size=(w, h))
    for element in page_el.iter():
        tag = element.tag.split("}")[-1]
        if element is page_el or not tag.endswith("Region"):
            continue
        label = (
            f"{tag}:{element.get('type')}" if tag == "TextRegion" and element.get("type") else tag
        )
        record = f"{tag} id={element.get('id')!r}"
        polygon = _coords(element, ns, f"{where}, {record}", problems)
        if polygon is not None:
            page.regions.append(SourceRegion(label, record, polygons=[polygon]))
    return page


def _coords(element: ET.Element, ns: str, where: str, problems: Problems) -> list[float] | None:
    """The region outline as a flat pixel polygon, from its own ``<Coords>`` child."""
    coords = element.find(f"{{{ns}}}Coords")
    if coords is None:
        problems.add(where, "region has no <Coords>")
        return None
    points = coords.get("points")
    try:
        if points is not None:
            flat = [float(v) for pair in points.split() for v in pair.split(",")]
        else:
            pts = coords.iterfind(f"{{{ns}}}Point")
            flat = [float(p.get(k, "")) for p in pts for k in ("x", "y")]
    except ValueError:
        problems.add(where, f"Coords points {points!r} are not 'x,y x,y ...' numbers")
        return None
    if len(flat) < 6 or len(flat) % 2:
        problems.add(where, f"Coords needs at least 3 points, got {points!r}")
        return None
    return flat
