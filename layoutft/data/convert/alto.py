"""ALTO XML v2, v3 and v4 (or without a namespace), one file per page image.

Inputs: ALTO files or folders of them (``*.xml``). The image is
``Description/sourceImageInformation/fileName`` (found in ``--images``, then next to the XML);
without one, an image named like the XML. Images of different folders that share a name
(``doc1/f12.jpg``, ``doc2/f12.jpg``) are written as ``<folder>/<name>``. One ALTO file per
image: a second file naming the same image (Gallicorpora keeps a ``.chocomufin.xml`` copy
beside each page) is an error, so pass only one of them.

Regions: every ``TextBlock``, ``Illustration``, ``GraphicalElement`` and ``ComposedBlock``
under the ``Page`` (in ``PrintSpace`` and the margins), in document order; a block inside a
``ComposedBlock`` is an annotation of its own (a note counts them). Lines and words are not
regions.

Labels: the zone type of the block's ``TAGREFS``, the ``LABEL`` of the ``<Tags>`` entry it
names, as written (SegmOnto as eScriptorium/Gallicorpora write it: ``MainZone``,
``MarginTextZone``, ``NumberingZone``, ``RunningTitleZone``, ``QuireMarksZone``,
``DropCapitalZone``, ``GraphicZone``, ..., with an optional subtype: ``MainZone#1``,
``MainZone:column``). Of several references, the first whose tag is described as a
``block type`` wins, else the first. Without ``TAGREFS``, the element name (``TextBlock``,
``Illustration``, ...). A reference to no tag of the file is an error.

Geometry: ``Shape/Polygon@POINTS`` (``"x,y x,y ..."`` or ``"x y x y ..."``) when present,
else the box ``HPOS``/``VPOS``/``WIDTH``/``HEIGHT``. ``MeasurementUnit`` ``pixel`` (the
default) is used as is and ``Page@WIDTH``/``HEIGHT`` is checked against the image;
``mm10`` (1/10 mm) and ``inch1200`` (1/1200 inch) are converted with the image resolution:
``--dpi`` when given, else the DPI the image file records; an image with neither is an error.

Extra annotation field ``text``: a ``TextBlock``'s words (``String@CONTENT``, a ``HYP``
appended to its word) joined with spaces per ``TextLine``, lines with newlines; absent when
the block has no text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from layoutft.data.coco import Problems
from layoutft.data.convert.common import (
    IMAGE_SUFFIXES,
    ReadOptions,
    SourceDataset,
    SourcePage,
    SourceRegion,
    find_image_like,
    finite,
    locate_image,
    parse_xml,
    to_float,
)

#: ALTO namespaces read ("" is a file without one).
NAMESPACES = (
    "http://www.loc.gov/standards/alto/ns-v2#",
    "http://www.loc.gov/standards/alto/ns-v3#",
    "http://www.loc.gov/standards/alto/ns-v4#",
    "",
)

#: Elements that are regions.
BLOCKS = ("TextBlock", "Illustration", "GraphicalElement", "ComposedBlock")

#: ``MeasurementUnit`` -> units per inch (None: pixels).
UNITS: dict[str, float | None] = {"pixel": None, "mm10": 254.0, "inch1200": 1200.0}

_TAG_KINDS = ("OtherTag", "LayoutTag", "StructureTag", "RoleTag", "NamedEntityTag")
_BOX_KEYS = ("HPOS", "VPOS", "WIDTH", "HEIGHT")


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read ALTO files; see the module docstring."""
    dataset = SourceDataset()
    nested: Counter[str] = Counter()
    files = [f for p in inputs for f in (sorted(p.glob("*.xml")) if p.is_dir() else [p])]
    for path in files:
        root = parse_xml(path, problems)
        if root is None:
            continue
        ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
        if root.tag.split("}")[-1] != "alto" or ns not in NAMESPACES:
            problems.add(str(path), f"not ALTO v2-v4: root is {root.tag!r}, expected alto")
            continue
        page = _page(root, ns, path, options, problems, nested)
        if page is not None:
            dataset.pages.append(page)
    _disambiguate(dataset)
    if nested:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(nested.items()))
        dataset.notes.append(
            f"alto: {sum(nested.values())} block(s) lie inside a ComposedBlock and are "
            f"annotations of their own ({kinds})"
        )
    return dataset


def _disambiguate(dataset: SourceDataset) -> None:
    """Images of different folders with one name (``doc1/f12.jpg``, ``doc2/f12.jpg``, as
    Gallicorpora keeps them) become ``<folder>/<name>`` in the output; one image named by
    two files stays a duplicate, for the builder to report."""
    sources: dict[str, set[Path]] = {}
    for page in dataset.pages:
        sources.setdefault(page.file_name, set()).add(page.source.resolve())
    clashes = {name for name, found in sources.items() if len(found) > 1}
    for page in dataset.pages:
        if page.file_name in clashes:
            page.file_name = f"{page.source.parent.name}/{page.file_name}"
    if clashes:
        dataset.notes.append(
            f"alto: {len(clashes)} image name(s) occur in several folders; those images are "
            "written as <folder>/<name>"
        )


def _page(
    root: ET.Element,
    ns: str,
    path: Path,
    options: ReadOptions,
    problems: Problems,
    nested: Counter[str],
) -> SourcePage | None:
    def q(tag: str) -> str:
        return f"{{{ns}}}{tag}" if ns else tag

    where = str(path)
    pages = root.findall(f"{q('Layout')}/{q('Page')}")
    if len(pages) != 1:
        problems.add(where, f"expected one Layout/Page, found {len(pages)}; split the file")
        return None
    unit_el = root.find(f"{q('Description')}/{q('MeasurementUnit')}")
    unit = (unit_el.text or "").strip() if unit_el is not None else "pixel"
    if unit not in UNITS:
        problems.add(where, f"MeasurementUnit {unit!r} unknown; expected one of {list(UNITS)}")
        return None
    dirs = options.search_dirs(path, workspace=True)
    name_el = root.find(f"{q('Description')}/{q('sourceImageInformation')}/{q('fileName')}")
    ref = (name_el.text or "").strip() if name_el is not None else ""
    if ref:
        found = locate_image(ref, dirs, problems, where)
    else:
        found = find_image_like(path, dirs)
        if found is None:
            names = ", ".join(path.stem + s for s in IMAGE_SUFFIXES)
            problems.add(
                where,
                "no Description/sourceImageInformation/fileName and no image "
                f"{names} was found; add the fileName or pass --images DIR",
            )
    if found is None:
        return None
    page = SourcePage(found[1], found[0], where)
    scale = _scale(unit, found[0], options, where, problems)
    if scale is None:
        return None
    size = [to_float(pages[0].get(k)) for k in ("WIDTH", "HEIGHT")]
    if UNITS[unit] is None and size[0] is not None and size[1] is not None:
        page.size = (size[0], size[1])
    tags = _tags(root, ns)
    for block, inside in _blocks(pages[0], ns):
        tag = block.tag.split("}")[-1]
        record = f"{tag} ID={block.get('ID')!r}"
        if inside:
            nested[tag] += 1
        label = _label(block, tag, tags, f"{where}: {record}", problems)
        region = _geometry(block, ns, scale, f"{where}: {record}", problems)
        if label is None or region is None:
            continue
        region.label, region.record = label, record
        text = _text(block, ns) if tag == "TextBlock" else ""
        if text:
            region.extra["text"] = text
        page.regions.append(region)
    return page


def _scale(
    unit: str, image: Path, options: ReadOptions, where: str, problems: Problems
) -> tuple[float, float] | None:
    """Pixels per ALTO unit ``(x, y)``: 1 for pixels, else from ``--dpi`` or the image."""
    per_inch = UNITS[unit]
    if per_inch is None:
        return (1.0, 1.0)
    dpi = (options.image_dpi, options.image_dpi) if options.image_dpi else _image_dpi(image)
    if dpi is None:
        problems.add(
            where,
            f"MeasurementUnit {unit} needs the image resolution, and {image.name} records no "
            "DPI; pass --dpi N (the resolution the page was scanned at)",
        )
        return None
    return (dpi[0] / per_inch, dpi[1] / per_inch)


def _image_dpi(image: Path) -> tuple[float, float] | None:
    """The ``(x, y)`` DPI an image file records (JFIF, PNG pHYs, TIFF), or None."""
    from PIL import Image

    try:
        with Image.open(image) as im:
            dpi = im.info.get("dpi")
    except OSError:
        return None  # the builder reports an unreadable image
    if not isinstance(dpi, tuple) or len(dpi) != 2:
        return None
    x, y = (to_float(v) for v in dpi)
    # JFIF without units and some writers store 1 or 0: an aspect ratio, not a resolution
    if x is None or y is None or not finite(x, y) or min(x, y) < 10:
        return None
    return (x, y)


def _tags(root: ET.Element, ns: str) -> dict[str, ET.Element]:
    """Tag ID -> its element in ``<Tags>`` (``OtherTag``, ``LayoutTag``, ...)."""
    out: dict[str, ET.Element] = {}
    for kind in _TAG_KINDS:
        for tag in root.iter(f"{{{ns}}}{kind}" if ns else kind):
            if tag.get("ID"):
                out.setdefault(tag.get("ID", ""), tag)
    return out


def _blocks(page: ET.Element, ns: str) -> list[tuple[ET.Element, bool]]:
    """``(block, inside a ComposedBlock)`` for every block under the page, document order."""
    out: list[tuple[ET.Element, bool]] = []

    def walk(element: ET.Element, inside: bool) -> None:
        for child in element:
            local = child.tag.split("}")[-1]
            if local in BLOCKS:
                out.append((child, inside))
                walk(child, inside or local == "ComposedBlock")
            elif local not in ("TextLine", "Shape"):
                walk(child, inside)

    walk(page, False)
    return out


def _label(
    block: ET.Element, tag: str, tags: dict[str, ET.Element], where: str, problems: Problems
) -> str | None:
    refs = (block.get("TAGREFS") or "").split()
    if not refs:
        return tag
    unknown = [r for r in refs if r not in tags]
    if unknown:
        problems.add(
            where,
            f"TAGREFS {' '.join(unknown)!r} names no tag in <Tags>; add the tag or fix TAGREFS",
        )
        return None
    named = [tags[r] for r in refs]
    chosen = next(
        (t for t in named if (t.get("DESCRIPTION") or "").lower().startswith("block type")),
        named[0],
    )
    label = (chosen.get("LABEL") or "").strip()
    if not label:
        problems.add(where, f"tag {chosen.get('ID')!r} in <Tags> has no LABEL; add one")
        return None
    return label


def _geometry(
    block: ET.Element, ns: str, scale: tuple[float, float], where: str, problems: Problems
) -> SourceRegion | None:
    """The block's polygon (``Shape/Polygon``) or box, in pixels; label set by the caller."""
    sx, sy = scale
    polygon = block.find(f"{{{ns}}}Shape/{{{ns}}}Polygon" if ns else "Shape/Polygon")
    if polygon is not None:
        points = polygon.get("POINTS", "")
        values = [to_float(v) for v in points.replace(",", " ").split()]
        if len(values) < 6 or len(values) % 2 or any(v is None for v in values):
            problems.add(
                where,
                f"Polygon POINTS {points!r} must be at least 3 points, 'x,y x,y ...' or "
                "'x y x y ...' numbers",
            )
            return None
        flat = [float(v or 0.0) * (sx if i % 2 == 0 else sy) for i, v in enumerate(values)]
        return SourceRegion("", "", [flat])
    box = [to_float(block.get(k)) for k in _BOX_KEYS]
    if any(v is None for v in box):
        problems.add(where, "block has no Shape/Polygon and no numeric HPOS, VPOS, WIDTH, HEIGHT")
        return None
    x, y, w, h = (float(v or 0.0) for v in box)
    return SourceRegion("", "", bbox=(x * sx, y * sy, (x + w) * sx, (y + h) * sy))


def _text(block: ET.Element, ns: str) -> str:
    """Words per ``TextLine`` joined with spaces, lines with newlines (module docstring)."""
    lines: list[str] = []
    for line in block.iter(f"{{{ns}}}TextLine" if ns else "TextLine"):
        words: list[str] = []
        for item in line:
            local = item.tag.split("}")[-1]
            if local == "String" and item.get("CONTENT"):
                words.append(item.get("CONTENT", ""))
            elif local == "HYP" and words:
                words[-1] += item.get("CONTENT", "-")
        if words:
            lines.append(" ".join(words))
    return "\n".join(lines)
