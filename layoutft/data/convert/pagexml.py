"""PAGE XML (PRImA ``pagecontent`` 2010-2019 namespaces), one file per page image.

Inputs: PAGE files or folders of them (``*.xml``). ``<Page imageFilename imageWidth
imageHeight>`` names the image (found in ``--images``, then next to the XML). Coordinates are
image pixels, top-left origin, exactly as PAGE stores them.

Regions: every element whose name ends in ``Region`` is a region, at any depth (a text region
inside a table region, a region nested in another one): each is an annotation of its own, in
document order (a note counts the nested ones). Its outline is ``<Coords points="x,y x,y
...">`` (or 2010-style ``<Point>`` children). Text lines and words are not regions; other
outlined elements that are not regions (``PrintSpace``, ``Border``, Transkribus's
``TableCell``) are counted in a note.

Labels: ``Element:type`` when the region has a type, else the element name
(``TextRegion:heading``, ``TextRegion:body``, ``GraphicRegion:decoration``, ``TableRegion``,
``SeparatorRegion``, ...). The type comes from, in this order of precedence:

1. the ``custom`` attribute's structure tag, ``custom="structure {type:body;}"``: what a
   Transkribus user sets in its UI, and the only place for types outside PAGE's fixed list
   (DTA's ``body``, ``pageNum``, ``sig``, ``catch``, ...);
2. the PAGE standard ``type`` attribute (``type="heading"``).

When both are present and differ, the structure type is used and a note counts such regions.

``custom`` is parsed with the grammar Transkribus and OCR-D write, ``name {key:value;
key:value;} name {...}``: a value runs to the next ``;`` (spaces inside it are kept, leading
and trailing ones trimmed) and ``\\uXXXX`` escapes (``\\u0020`` for a space, ``\\u003b`` for
``;``, ...) are decoded; any other backslash is kept as written. A ``custom`` attribute
that does not follow the grammar is an error naming the file, the region id and the
character where it goes wrong.

Extra annotation fields:

* ``text``: the region's own ``TextEquiv/Unicode`` (of several ``TextEquiv``, the one with
  the lowest ``index``); without one, the ``TextEquiv/Unicode`` of its text lines joined
  with newlines. Absent when the region has no (non-empty) text.
* ``order``: the region's place in the page's reading order, 0-based, from ``<ReadingOrder>``
  when the page has one that names a region: groups are read depth-first, an ``OrderedGroup``
  by its children's ``index``, an ``UnorderedGroup`` in the order its members are written,
  a group's own ``regionRef`` before its children. Without it, from Transkribus's
  ``custom="readingOrder {index:N;}"``: siblings sorted by index, a region's indexed children
  right after it. A region in neither has no ``order``. References to unknown ids and
  regions referenced twice (the first place is kept) are counted in a note.

Map the labels with ``--labels``: ``pagexml-publaynet`` maps them into PubLayNet's five
classes (heading -> title, paragraph/body/note/caption/footnote/... -> text,
list-label/TOC-entry -> list, tables -> table, image/graphic/chart -> figure; header, footer,
page and column numbers, signature marks, catch words, separators and noise dropped);
``pagexml-transkribus`` keeps the book layout classes of DTA/Transkribus structure types
(text, heading, caption, note, header, page-number, signature-mark, catch-word, figure).
``layoutft convert --list-labels`` shows every label with its count before anything is mapped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")
_REF_TAGS = {"RegionRefIndexed", "RegionRef"}
_TEXT_TAGS = {"TextLine", "Word", "Glyph"}
_GROUP_TAGS = {
    "OrderedGroup",
    "UnorderedGroup",
    "OrderedGroupIndexed",
    "UnorderedGroupIndexed",
}


class CustomSyntaxError(ValueError):
    """A ``custom`` attribute that does not follow ``name {key:value;}``; the message says
    where (0-based character position) and what was expected."""


def parse_custom(value: str) -> list[tuple[str, dict[str, str]]]:
    """Parse a PAGE ``custom`` attribute, ``name {key:value; key:value;} name {...}``.

    Tags keep their order and may repeat (``textStyle`` once per styled span). Values are
    trimmed of surrounding whitespace, keep inner spaces and have ``\\uXXXX`` escapes
    decoded; a missing ``;`` before ``}`` is accepted.

    Example: ``parse_custom("readingOrder {index:3;} structure {type:body;}")`` is
    ``[("readingOrder", {"index": "3"}), ("structure", {"type": "body"})]``.

    Raises:
        CustomSyntaxError: the text does not follow the grammar.
    """
    tags: list[tuple[str, dict[str, str]]] = []
    pos, end = 0, len(value)

    def skip(p: int) -> int:
        while p < end and value[p].isspace():
            p += 1
        return p

    while True:
        pos = skip(pos)
        if pos == end:
            return tags
        name = _NAME.match(value, pos)
        if name is None:
            raise CustomSyntaxError(f"expected a tag name at character {pos}")
        pos = skip(name.end())
        if pos == end or value[pos] != "{":
            raise CustomSyntaxError(f"expected '{{' after {name.group()!r} at character {pos}")
        props: dict[str, str] = {}
        pos += 1
        while True:
            pos = skip(pos)
            if pos == end:
                raise CustomSyntaxError(f"{name.group()!r} is not closed with '}}'")
            if value[pos] == "}":
                pos += 1
                break
            key = _NAME.match(value, pos)
            if key is None:
                raise CustomSyntaxError(
                    f"expected key:value; inside {name.group()!r} at character {pos}"
                )
            pos = skip(key.end())
            if pos == end or value[pos] != ":":
                raise CustomSyntaxError(f"expected ':' after {key.group()!r} at character {pos}")
            stop = pos + 1
            while stop < end and value[stop] not in ";}":
                stop += 1
            if stop == end:
                raise CustomSyntaxError(f"{name.group()!r} is not closed with '}}'")
            raw = value[pos + 1 : stop].strip()
            props[key.group()] = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
            pos = stop + 1 if value[stop] == ";" else stop
        tags.append((name.group(), props))


def custom_value(tags: list[tuple[str, dict[str, str]]], name: str, key: str) -> str | None:
    """The first ``key`` of a ``name`` tag in parsed ``custom`` tags, else None."""
    for tag, props in tags:
        if tag == name and key in props:
            return props[key]
    return None


@dataclass
class _Region:
    """A region element while its page is read."""

    element: ET.Element
    tag: str
    record: str
    parent: int | None
    label: str = ""
    custom_index: int | None = None
    children: list[int] = field(default_factory=list)


@dataclass
class _Notes:
    """Non-fatal findings over all files, turned into one note each."""

    type_conflicts: list[str] = field(default_factory=list)
    nested: Counter[str] = field(default_factory=Counter)
    not_regions: Counter[str] = field(default_factory=Counter)
    unknown_refs: list[str] = field(default_factory=list)
    repeated_refs: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out: list[str] = []
        if self.type_conflicts:
            out.append(
                f"pagexml: {len(self.type_conflicts)} region(s) have a type attribute and a "
                "custom structure type that differ; the structure type is used "
                f"(first: {self.type_conflicts[0]})"
            )
        if self.nested:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.nested.items()))
            out.append(
                f"pagexml: {sum(self.nested.values())} region(s) lie inside another region and "
                f"are annotations of their own ({kinds})"
            )
        if self.not_regions:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.not_regions.items()))
            out.append(
                "pagexml: elements with an outline that are not regions are not annotations "
                f"({kinds})"
            )
        if self.unknown_refs:
            out.append(
                f"pagexml: {len(self.unknown_refs)} ReadingOrder reference(s) name no region of "
                f"their page and are ignored (first: {self.unknown_refs[0]})"
            )
        if self.repeated_refs:
            out.append(
                f"pagexml: {len(self.repeated_refs)} ReadingOrder reference(s) repeat a region "
                f"already placed; its first place is kept (first: {self.repeated_refs[0]})"
            )
        return out


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read PAGE XML files; see the module docstring."""
    dataset = SourceDataset()
    notes = _Notes()
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
            page = _page(page_el, ns, path, options, problems, notes)
            if page is not None:
                dataset.pages.append(page)
    dataset.notes.extend(notes.lines())
    return dataset


def _local(tag: str) -> str:
    return tag.split("}")[-1]


def _page(
    page_el: ET.Element,
    ns: str,
    path: Path,
    options: ReadOptions,
    problems: Problems,
    notes: _Notes,
) -> SourcePage | None:
    ref = page_el.get("imageFilename")
    w, h = to_float(page_el.get("imageWidth")), to_float(page_el.get("imageHeight"))
    where = f"{path}: Page {ref!r}"
    if not ref or w is None or h is None:
        problems.add(where, "<Page> needs imageFilename, imageWidth and imageHeight")
        return None
    found = locate_image(ref, options.search_dirs(path, workspace=True), problems, where)
    if found is None:
        return None
    page = SourcePage(found[1], found[0], where, size=(w, h))
    regions = _collect(page_el, ns, notes)
    for region in regions:
        _describe(region, f"{where}, {region.record}", problems, notes)
        if region.parent is not None:
            notes.nested[f"{region.tag} in {regions[region.parent].tag}"] += 1
    order = _reading_order(page_el, ns, regions, where, problems, notes)
    for i, region in enumerate(regions):
        polygon = _coords(region.element, ns, f"{where}, {region.record}", problems)
        if polygon is None:
            continue
        extra: dict[str, Any] = {}
        text = _text(region.element, ns)
        if text:
            extra["text"] = text
        if i in order:
            extra["order"] = order[i]
        page.regions.append(SourceRegion(region.label, region.record, [polygon], extra=extra))
    return page


def _collect(page_el: ET.Element, ns: str, notes: _Notes) -> list[_Region]:
    """Every region element under the page, in document order, with its enclosing region.
    Other elements with their own ``<Coords>`` (``PrintSpace``, ``Border``, Transkribus's
    ``TableCell``; text lines, words and glyphs aside) are counted in a note."""
    regions: list[_Region] = []

    def walk(element: ET.Element, parent: int | None) -> None:
        for child in element:
            tag = _local(child.tag)
            if tag.endswith("Region"):
                index = len(regions)
                record = f"{tag} id={child.get('id')!r}"
                regions.append(_Region(child, tag, record, parent))
                if parent is not None:
                    regions[parent].children.append(index)
                walk(child, index)
            else:
                if tag not in _TEXT_TAGS and child.find(f"{{{ns}}}Coords") is not None:
                    notes.not_regions[tag] += 1
                walk(child, parent)

    walk(page_el, None)
    return regions


def _describe(region: _Region, where: str, problems: Problems, notes: _Notes) -> None:
    """Set the region's label and its custom reading-order index (see the module docstring)."""
    element = region.element
    attr_type = element.get("type") or None
    structure: str | None = None
    custom = element.get("custom")
    if custom is not None:
        try:
            tags = parse_custom(custom)
        except CustomSyntaxError as exc:
            problems.add(
                where,
                f"custom attribute {custom!r} is malformed: {exc}; "
                "write it as 'name {key:value;} ...' (e.g. 'structure {type:body;}')",
            )
            tags = []
        structure = custom_value(tags, "structure", "type") or None
        index = custom_value(tags, "readingOrder", "index")
        if index is not None:
            try:
                region.custom_index = int(index)
            except ValueError:
                problems.add(
                    where, f"custom readingOrder index {index!r} is not an integer; fix 'index:N;'"
                )
    if structure and attr_type and structure != attr_type:
        notes.type_conflicts.append(f"{where}: type={attr_type!r}, structure {structure!r}")
    kind = structure or attr_type
    region.label = f"{region.tag}:{kind}" if kind else region.tag


def _reading_order(
    page_el: ET.Element,
    ns: str,
    regions: list[_Region],
    where: str,
    problems: Problems,
    notes: _Notes,
) -> dict[int, int]:
    """Region position -> 0-based reading order place, for the regions that have one."""
    by_id: dict[str, int] = {}
    for i, region in enumerate(regions):
        if region.element.get("id"):
            by_id.setdefault(region.element.get("id", ""), i)
    refs: list[str] = []
    ro = page_el.find(f"{{{ns}}}ReadingOrder")
    if ro is not None:
        for group in ro:
            if _local(group.tag) in _GROUP_TAGS:
                _flatten(group, refs, f"{where}, ReadingOrder", problems)
    if any(r in by_id for r in refs):
        order: dict[int, int] = {}
        for ref in refs:
            if ref not in by_id:
                notes.unknown_refs.append(f"{where}: {ref!r}")
            elif by_id[ref] in order:
                notes.repeated_refs.append(f"{where}: {ref!r}")
            else:
                order[by_id[ref]] = len(order)
        return order
    if refs:
        notes.unknown_refs.extend(f"{where}: {r!r}" for r in refs)
    # Transkribus custom indices: siblings by index, children right after their parent.
    places: dict[int, int] = {}

    def visit(members: list[int]) -> None:
        ranked = sorted(
            members,
            key=lambda i: (regions[i].custom_index is None, regions[i].custom_index or 0, i),
        )
        for i in ranked:
            if regions[i].custom_index is not None:
                places[i] = len(places)
            visit(regions[i].children)

    visit([i for i, r in enumerate(regions) if r.parent is None])
    return places


def _flatten(group: ET.Element, out: list[str], where: str, problems: Problems) -> None:
    """Append the region ids of a reading-order group, depth-first, in reading order."""
    if group.get("regionRef"):
        out.append(group.get("regionRef", ""))
    members = [c for c in group if _local(c.tag) in _REF_TAGS | _GROUP_TAGS]
    if _local(group.tag).startswith("OrderedGroup"):
        keyed: list[tuple[int, int, ET.Element]] = []
        for position, member in enumerate(members):
            index = member.get("index")
            try:
                keyed.append((int(index or ""), position, member))
            except ValueError:
                problems.add(
                    where,
                    f"{_ro_name(member)} in {_ro_name(group)} needs an integer index, "
                    f"got {index!r}",
                )
        members = [m for _, _, m in sorted(keyed, key=lambda k: k[:2])]
    for member in members:
        if _local(member.tag) not in _REF_TAGS:
            _flatten(member, out, where, problems)
        elif member.get("regionRef"):
            out.append(member.get("regionRef", ""))
        else:
            problems.add(where, f"{_local(member.tag)} without regionRef; name the region's id")


def _ro_name(element: ET.Element) -> str:
    """``RegionRefIndexed regionRef='r1'`` / ``OrderedGroup id='g1'``, for messages."""
    tag = _local(element.tag)
    key = "regionRef" if tag in _REF_TAGS else "id"
    return f"{tag} {key}={element.get(key)!r}"


def _text(element: ET.Element, ns: str) -> str | None:
    """The region's own text, else its lines' texts joined with newlines (module docstring)."""
    own = _text_equiv(element, ns)
    if own:
        return own
    lines = [_text_equiv(line, ns) for line in element.iterfind(f"{{{ns}}}TextLine")]
    joined = "\n".join(t for t in lines if t)
    return joined or None


def _text_equiv(element: ET.Element, ns: str) -> str | None:
    """``TextEquiv/Unicode`` of ``element`` itself; of several, the lowest ``index``."""
    equivs = element.findall(f"{{{ns}}}TextEquiv")
    if not equivs:
        return None

    def rank(item: tuple[int, ET.Element]) -> tuple[float, int]:
        index = to_float(item[1].get("index"))
        return (index if index is not None else float("inf"), item[0])

    best = min(enumerate(equivs), key=rank)[1]
    unicode = best.find(f"{{{ns}}}Unicode")
    return unicode.text if unicode is not None and unicode.text else None


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
