"""ICDAR table competition XML: cTDaR 2019, POD 2017 (as relabelled by the cTDaR supplements)
and the 2013 table competition's ``*-reg.xml``; the dialect is told per file from its content.

Inputs: XML files or folders of them (``*.xml``; in a folder, 2013 structure files
``*-str.xml`` are skipped: they hold cells, not table regions).

cTDaR 2019 / POD 2017: one file per page image, pixels, top-left origin::

    <document filename="cTDaR_t10000.jpg">
      <table><Coords points="113,94 113,449 680,449 680,94"/><cell ...>...</cell></table>
      <figureRegion><Coords points="..."/></figureRegion>
    </document>

Every child of ``<document>`` is a region; its outline is its ``<Coords points="x,y x,y ...">``
(kept as a polygon) and its label the element name without a ``Region`` suffix (``table``,
``figure``, ``formula``). Cells are not regions: a region with cells gets a ``cells`` field
(their count). The image (``filename``) is found in ``--images``, next to the XML, or in the
datasets' layout ``Images/<split>/`` beside ``Annotations/<split>/``; without ``filename``,
an image named like the XML.

ICDAR 2013 (``<document><table id><region id page="N"><bounding-box x1 y1 x2 y2/>``): boxes in
PDF points, origin bottom-left of the page as displayed (on a ``/Rotate`` 90 page too, as the
competition's ground truth has it) on page N of ``<name>.pdf`` for
``<name>-reg.xml`` (found in ``--images`` or next to the XML). Every page of the PDF is
rendered at ``--dpi`` (the ground truth lists every table of the document, so a page without
one is a true negative) as ``<name>_p0001.png``, with ``doc_name``, ``page_no`` and ``dpi``
image fields. A table split over pages is one ``table`` region per page, each with the
table's ``table_id``. ``<base>b-reg.xml`` without its own PDF is a second ground truth of
``<base>a.pdf`` (the competition's alternatives): read against that PDF, or skipped with a
note when ``<base>a-reg.xml`` is converted too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from layoutft.data.coco import Problems
from layoutft.data.convert.common import (
    IMAGE_SUFFIXES,
    ReadOptions,
    SourceDataset,
    SourcePage,
    SourceRegion,
    find_image,
    find_image_like,
    finite,
    locate_image,
    parse_xml,
    to_float,
)
from layoutft.data.convert.pdf import render_pages
from layoutft.errors import LayoutftError

_REG_SUFFIX = "-reg"
_STR_SUFFIX = "-str"


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read ICDAR table XML files; see the module docstring."""
    dataset = SourceDataset()
    files = [f for p in inputs for f in (_folder_files(p) if p.is_dir() else [p])]
    given = {f.resolve() for f in files}
    for path in files:
        root = parse_xml(path, problems)
        if root is None:
            continue
        if root.tag != "document":
            problems.add(str(path), f"not ICDAR table XML: root is {root.tag!r}, expected document")
        elif path.stem.endswith(_STR_SUFFIX):
            problems.add(
                str(path),
                "an ICDAR 2013 structure file (cells only); convert the -reg.xml next to it",
            )
        elif any(t.find("region") is not None for t in root.iter("table")):
            dataset.pages += _read_2013(root, path, given, options, problems, dataset.notes)
        else:
            page = _read_image_xml(root, path, options, problems)
            if page is not None:
                dataset.pages.append(page)
    return dataset


def _folder_files(folder: Path) -> list[Path]:
    """``*.xml`` in ``folder`` except 2013 structure files (``*-str.xml``)."""
    return [f for f in sorted(folder.glob("*.xml")) if not f.stem.endswith(_STR_SUFFIX)]


# --- cTDaR 2019 / POD 2017: one image per file -------------------------------------------


def _read_image_xml(
    root: ET.Element, path: Path, options: ReadOptions, problems: Problems
) -> SourcePage | None:
    dirs = _image_dirs(path, options)
    ref = root.get("filename")
    if ref:
        found = locate_image(ref, dirs, problems, str(path))
    else:
        found = find_image_like(path, dirs)
        if found is None:
            names = ", ".join(path.stem + s for s in IMAGE_SUFFIXES)
            problems.add(
                str(path),
                f"<document> has no filename and no image {names} was found; "
                "add filename= or pass --images DIR",
            )
    if found is None:
        return None
    page = SourcePage(found[1], found[0], str(path))
    for index, element in enumerate(root):
        record = f"{element.tag} {index + 1}"
        polygon = _polygon(element, f"{path}: {record}", problems)
        if polygon is None:
            continue
        label = element.tag.removesuffix("Region") or element.tag
        region = SourceRegion(label, record, [polygon])
        cells = len(element.findall("cell"))
        if cells:
            region.extra["cells"] = cells
        page.regions.append(region)
    return page


def _image_dirs(path: Path, options: ReadOptions) -> list[Path]:
    """:meth:`ReadOptions.search_dirs`, then ``Images/<split>`` for ``Annotations/<split>/x.xml``
    (the cTDaR and POD supplements' layout)."""
    dirs = options.search_dirs(path)
    split = path.parent
    if split.parent.name.lower() == "annotations":
        for images in ("Images", "images"):
            dirs.append(split.parent.parent / images / split.name)
    return list(dict.fromkeys(dirs))


def _polygon(element: ET.Element, where: str, problems: Problems) -> list[float] | None:
    """The element's ``<Coords points="x,y x,y ...">`` as a flat pixel polygon."""
    coords = element.find("Coords")
    if coords is None or coords.get("points") is None:
        problems.add(where, 'region has no <Coords points="x,y x,y ..."/>; add its outline')
        return None
    points = coords.get("points", "")
    try:
        flat = [float(v) for pair in points.split() for v in pair.split(",", 1)]
    except ValueError:
        flat = []
    pairs = points.split()
    if (
        len(pairs) < 3
        or len(flat) != 2 * len(pairs)
        or any("," not in p for p in pairs)
        or not finite(*flat)
    ):
        problems.add(where, f"Coords points {points!r} must be at least 3 'x,y' number pairs")
        return None
    return flat


# --- ICDAR 2013: table regions in PDF points ---------------------------------------------


def _read_2013(
    root: ET.Element,
    path: Path,
    given: set[Path],
    options: ReadOptions,
    problems: Problems,
    notes: list[str],
) -> list[SourcePage]:
    name = path.stem.removesuffix(_REG_SUFFIX)
    regions = _regions_2013(root, path, problems)
    dirs = options.search_dirs(path)
    found = find_image(f"{name}.pdf", dirs)
    if found is None and name.endswith("b"):
        # A second ground truth of <base>a.pdf: skipped when <base>a-reg.xml is read too.
        first = path.with_name(f"{name[:-1]}a{_REG_SUFFIX}.xml")
        found = find_image(f"{name[:-1]}a.pdf", dirs)
        if found is not None and first.resolve() in given:
            notes.append(
                f"{path}: a second ground truth of {found[0].name}, skipped "
                f"({first.name} is converted; convert this file alone to use it instead)"
            )
            return []
    if found is None:
        searched = ", ".join(str(d) for d in dirs)
        problems.add(
            str(path), f"PDF {name}.pdf not found (searched {searched}); pass --images DIR"
        )
        return []
    pdf = found[0]
    try:
        from layoutft.render import count_pages

        total = count_pages(pdf)
    except LayoutftError as exc:
        problems.add(str(pdf), str(exc))
        return []
    spec: dict[int, list[tuple[str, dict[str, Any]]]] = {n: [] for n in range(1, total + 1)}
    for number, record, region in regions:
        if number > total:
            problems.add(
                f"{path}: {record}", f"page {number} is beyond {pdf.name}'s {total} page(s)"
            )
        else:
            spec[number].append((record, region))
    pages = render_pages(pdf, spec, "displayed-bottom-left", options, problems)
    for page in pages:
        for out, (_, region) in zip(page.regions, spec[page.extra["page_no"]], strict=True):
            out.extra["table_id"] = region["table_id"]
    return pages


def _regions_2013(
    root: ET.Element, path: Path, problems: Problems
) -> list[tuple[int, str, dict[str, Any]]]:
    """``(page, record, {"label", "bbox", "table_id"})`` per table region (bbox in points)."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    for t_index, table in enumerate(root.findall("table"), start=1):
        table_id = table.get("id") or str(t_index)
        for r_index, region in enumerate(table.findall("region"), start=1):
            record = f"table id={table_id!r}, region id={region.get('id') or str(r_index)!r}"
            where = f"{path}: {record}"
            page = region.get("page")
            number = int(page) if page is not None and page.strip().isdigit() else 0
            if number < 1:
                problems.add(where, f"page={page!r} must be a page number (1-based)")
                continue
            box = region.find("bounding-box")
            values = [to_float(box.get(k)) if box is not None else None for k in _BOX_KEYS]
            if any(v is None for v in values) or not finite(*(v or 0.0 for v in values)):
                problems.add(
                    where, "needs <bounding-box x1= y1= x2= y2=/> with numbers (PDF points)"
                )
                continue
            bbox = [float(v or 0.0) for v in values]
            out.append((number, record, {"label": "table", "bbox": bbox, "table_id": table_id}))
    return out


_BOX_KEYS = ("x1", "y1", "x2", "y2")
