"""Label maps: rename, merge and drop source labels, and fix the output category order.

A label map file is YAML (or JSON)::

    map:                 # source label -> output label (several sources may share one: merge)
      Paragraph: text
      Heading: title
      Caption: text
    drop: [Noise, Separator]          # source labels removed with their regions
    categories: [text, title, list, table, figure]   # output names in id order (optional)

Rules: a source label found in ``map`` is renamed; one in ``drop`` is removed; one that is
already an output name (listed in ``categories``) is kept as is. Any other label is
*unknown*: conversion stops and lists the unknown labels with their counts, unless
``keep_unmapped`` is set (then they keep their own names, after the listed categories, sorted).
Without ``categories`` the output order is the order of the targets in ``map``.

Instead of a file, ``--labels`` accepts a built-in map name (see :data:`BUILTIN_MAPS`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layoutft.errors import DatasetError
from layoutft.formats.types import PAGE_TYPES
from layoutft.labels import (
    DOCLAYNET_CLASSES,
    DOCLAYNET_DROPPED_IN_PUBLAYNET,
    DOCLAYNET_TO_PUBLAYNET,
    PUBLAYNET_CLASSES,
)

#: Output classes of ``pagexml-transkribus``: the layout of printed books.
BOOK_CLASSES = (
    "text",
    "heading",
    "caption",
    "note",
    "header",
    "page-number",
    "signature-mark",
    "catch-word",
    "figure",
)

#: PAGE 2019's ``type`` values of graphic and chart regions (``GraphicRegion:logo``, ...).
_GRAPHIC_TYPES = PAGE_TYPES["GraphicRegion"]
_CHART_TYPES = PAGE_TYPES["ChartRegion"]

#: SegmOnto zone types (https://segmonto.github.io) that are not page content: dropped.
_SEGMONTO_DROP = (
    "CustomZone",
    "DamageZone",
    "DigitizationArtefactZone",
    "DropCapitalZone",
    "MusicZone",
    "SealZone",
    "StampZone",
)

#: Built-in maps, usable as ``--labels NAME``.
BUILTIN_MAPS: dict[str, dict[str, Any]] = {
    # PAGE XML labels as produced by layoutft.data.convert.pagexml, into PubLayNet's classes.
    # DTA's custom structure types (body, note, figure = a figure's caption text) are text;
    # its forme work (pageNum, colNum, sig, catch) is dropped like PAGE's page-number etc.
    "pagexml-publaynet": {
        "map": {
            "TextRegion": "text",
            "TextRegion:paragraph": "text",
            "TextRegion:heading": "title",
            "TextRegion:caption": "text",
            "TextRegion:credit": "text",
            "TextRegion:floating": "text",
            "TextRegion:marginalia": "text",
            "TextRegion:footnote": "text",
            "TextRegion:footnote-continued": "text",
            "TextRegion:endnote": "text",
            "TextRegion:other": "text",
            "TextRegion:body": "text",
            "TextRegion:note": "text",
            "TextRegion:figure": "text",
            "TextRegion:list-label": "list",
            "TextRegion:TOC-entry": "list",
            "TextRegion:list": "list",  # layoutft parse --format pagexml (PubLayNet's list)
            "MathsRegion": "text",
            "TableRegion": "table",
            "ImageRegion": "figure",
            "GraphicRegion": "figure",
            **{f"GraphicRegion:{t}": "figure" for t in _GRAPHIC_TYPES},
            "ChartRegion": "figure",
            **{f"ChartRegion:{t}": "figure" for t in _CHART_TYPES},
            "LineDrawingRegion": "figure",
            "ChemRegion": "figure",
            "MusicRegion": "figure",
            "AdvertRegion": "figure",
        },
        "drop": [
            "TextRegion:header",
            "TextRegion:footer",
            "TextRegion:page-number",
            "TextRegion:drop-capital",
            "TextRegion:signature-mark",
            "TextRegion:catch-word",
            "TextRegion:pageNum",
            "TextRegion:colNum",
            "TextRegion:sig",
            "TextRegion:catch",
            "SeparatorRegion",
            "NoiseRegion",
            "UnknownRegion",
            "CustomRegion",
        ],
        "categories": list(PUBLAYNET_CLASSES),
    },
    # Transkribus/DTA structure types (``custom="structure {type:...;}"``) and their PAGE
    # standard synonyms, kept apart as book layout classes. DTA's ``figure`` text regions are
    # the caption text of a figure ("Fig. 56."), the picture itself is a GraphicRegion;
    # ``colNum`` (dictionary column numbers) numbers like ``pageNum``. Any other label stops
    # the conversion with its count, for the user to decide.
    "pagexml-transkribus": {
        "map": {
            "TextRegion": "text",
            "TextRegion:body": "text",
            "TextRegion:paragraph": "text",
            "TextRegion:heading": "heading",
            "TextRegion:figure": "caption",
            "TextRegion:caption": "caption",
            "TextRegion:note": "note",
            "TextRegion:marginalia": "note",
            "TextRegion:footnote": "note",
            "TextRegion:footnote-continued": "note",
            "TextRegion:endnote": "note",
            "TextRegion:header": "header",
            "TextRegion:pageNum": "page-number",
            "TextRegion:page-number": "page-number",
            "TextRegion:colNum": "page-number",
            "TextRegion:sig": "signature-mark",
            "TextRegion:signature-mark": "signature-mark",
            "TextRegion:catch": "catch-word",
            "TextRegion:catch-word": "catch-word",
            "GraphicRegion": "figure",
            "ImageRegion": "figure",
            "LineDrawingRegion": "figure",
        },
        "drop": ["SeparatorRegion", "NoiseRegion"],
        "categories": list(BOOK_CLASSES),
    },
    # DocBank token labels as grouped by layoutft.data.convert.docbank: the five PubLayNet
    # classes first; the labels PubLayNet has no class for keep their names after them.
    "docbank-publaynet": {
        "map": {
            "paragraph": "text",
            "abstract": "text",
            "title": "title",
            "section": "title",
            "list": "list",
            "table": "table",
            "figure": "figure",
        },
        "categories": [
            *PUBLAYNET_CLASSES,
            "caption",
            "equation",
            "footer",
            "reference",
            "author",
            "date",
        ],
    },
    # ICDAR table competition XML (cTDaR 2019, POD 2017; layoutft.data.convert.ctdar) into
    # DocLayNet's classes.
    "ctdar-doclaynet": {
        "map": {"table": "Table", "figure": "Picture", "formula": "Formula"},
        "categories": list(DOCLAYNET_CLASSES),
    },
    # HiLEx exam pages: question, instruction and description blocks are text (a block may
    # hold several paragraphs, formulas and figures: coarser than DocLayNet's Text); an
    # answer block (the options of one question) is one List-item. The two containers
    # (the question + answer pair, the whole paper area) have no DocLayNet class.
    "hilex-doclaynet": {
        "map": {
            "Question_Block": "Text",
            "Instruction": "Text",
            "Description": "Text",
            "Answer_Block": "List-item",
        },
        "drop": ["Question_Answer_Block", "Question_Paper_Area", "class_check"],
        "categories": list(DOCLAYNET_CLASSES),
    },
    # SegmOnto zones of printed books (Gallicorpora ALTO): the main text blocks and margin
    # notes are Text (a MainZone is a whole text block or column, headings included);
    # running titles and page numbers (at the top on 97% of Gallicorpora pages) are
    # Page-header, quire marks (signatures, at the bottom) Page-footer.
    "segmonto-doclaynet": {
        "map": {
            "MainZone": "Text",
            **{f"MainZone#{i}": "Text" for i in range(1, 5)},
            "MainZone:column": "Text",
            "MarginTextZone": "Text",
            "MarginTextZone:notes": "Text",
            "GraphicZone": "Picture",
            "GraphicZone:illustration": "Picture",
            "GraphicZone:ornamentation": "Picture",
            "TableZone": "Table",
            "TitlePageZone": "Title",
            "RunningTitleZone": "Page-header",
            "NumberingZone": "Page-header",
            "QuireMarksZone": "Page-footer",
        },
        "drop": list(_SEGMONTO_DROP),
        "categories": list(DOCLAYNET_CLASSES),
    },
    # PAGE XML labels (layoutft.data.convert.pagexml, incl. OCR-D's ``#list_item``-style
    # custom types rewritten by the ocrd-structure source) into DocLayNet's classes. Page
    # numbers sit in the header line of the OCR-D books (all 22 of gt_structure_text's);
    # signature marks and catch words at the bottom. Artefacts of the scan or the copy
    # (barcodes, stamps, handwriting) and drop capitals are dropped.
    "pagexml-doclaynet": {
        "map": {
            **{
                f"TextRegion{t}": "Text"
                for t in (
                    "",
                    ":paragraph",
                    ":body",
                    ":column",
                    ":cit",
                    ":credit",
                    ":floating",
                    ":marginalia",
                    ":note",
                    ":other",
                )
            },
            "TextRegion:heading": "Section-header",
            "TextRegion:title": "Title",  # layoutft parse --format pagexml (heading/title)
            "TextRegion:heading_level1": "Section-header",
            "TextRegion:heading_level2": "Section-header",
            "TextRegion:heading_level3": "Section-header",
            "TextRegion:caption": "Caption",
            "TextRegion:figure": "Caption",
            "TextRegion:footnote": "Footnote",
            "TextRegion:footnote-continued": "Footnote",
            "TextRegion:endnote": "Footnote",
            "TextRegion:list_item": "List-item",
            "TextRegion:list-label": "List-item",
            "TextRegion:TOC-entry": "List-item",
            "TextRegion:header": "Page-header",
            "TextRegion:page-number": "Page-header",
            "TextRegion:pageNum": "Page-header",
            "TextRegion:colNum": "Page-header",
            "TextRegion:footer": "Page-footer",
            "TextRegion:signature-mark": "Page-footer",
            "TextRegion:sig": "Page-footer",
            "TextRegion:catch-word": "Page-footer",
            "TextRegion:catch": "Page-footer",
            "MathsRegion": "Formula",
            "TableRegion": "Table",
            "ImageRegion": "Picture",
            "GraphicRegion": "Picture",
            **{
                f"GraphicRegion:{t}": "Picture"
                for t in ("logo", "letterhead", "decoration", "frame", "signature", "other")
            },
            "ChartRegion": "Picture",
            **{f"ChartRegion:{t}": "Picture" for t in _CHART_TYPES},
            "LineDrawingRegion": "Picture",
            "ChemRegion": "Picture",
        },
        "drop": [
            "TextRegion:drop-capital",
            *(
                f"GraphicRegion:{t}"
                for t in ("barcode", "handwritten-annotation", "stamp", "paper-grow", "punch-hole")
            ),
            "SeparatorRegion",
            "NoiseRegion",
            "UnknownRegion",
            "CustomRegion",
            "MusicRegion",
            "AdvertRegion",
        ],
        "categories": list(DOCLAYNET_CLASSES),
    },
    # PubLayNet's classes into DocLayNet's, the exact part only: table and figure mean the
    # same thing in both; PubLayNet's text also holds captions, footnotes and formulas, its
    # title both the document title and section headings, its list a whole list (DocLayNet
    # boxes each item), so those are dropped. The output has just Table and Picture: merged
    # into a DocLayNet set, its pages label only those (`layoutft merge` writes their
    # labelled_category_ids), so training ignores what they say about the other classes.
    "publaynet-doclaynet": {
        "map": {"table": "Table", "figure": "Picture"},
        "drop": ["text", "title", "list"],
        "categories": ["Table", "Picture"],
    },
    # DocLayNet's 11 classes.
    # (the same map as ``layoutft parse --labels-view publaynet``: layoutft/labels.py)
    "doclaynet-publaynet": {
        "map": dict(DOCLAYNET_TO_PUBLAYNET),
        "drop": list(DOCLAYNET_DROPPED_IN_PUBLAYNET),
        "categories": list(PUBLAYNET_CLASSES),
    },
}


@dataclass(frozen=True)
class LabelMap:
    """Parsed label map (see the module docstring for the rules)."""

    mapping: dict[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()
    categories: tuple[str, ...] = ()
    source: str = "label map"

    @property
    def outputs(self) -> list[str]:
        """Output category names in id order."""
        if self.categories:
            return list(self.categories)
        return list(dict.fromkeys(self.mapping.values()))

    @classmethod
    def from_dict(cls, data: Any, source: str = "label map") -> LabelMap:
        """Build from the YAML structure; every mistake is listed in one :class:`DatasetError`."""
        if not isinstance(data, Mapping):
            raise DatasetError(f"{source}: expected a mapping with 'map', 'drop', 'categories'")
        errors: list[str] = []
        extra = sorted(set(data) - {"map", "drop", "categories"})
        if extra:
            errors.append(f"unknown keys {extra} (allowed: map, drop, categories)")
        mapping = data.get("map") or {}
        drop = data.get("drop") or []
        cats = data.get("categories") or []
        if not isinstance(mapping, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            errors.append("'map' must map label names to label names")
            mapping = {}
        if not _is_str_list(drop):
            errors.append("'drop' must be a list of label names")
            drop = []
        if not _is_str_list(cats):
            errors.append("'categories' must be a list of label names")
            cats = []
        both = sorted(set(mapping) & set(drop))
        if both:
            errors.append(f"labels both mapped and dropped: {both}")
        if cats:
            missing = sorted(set(mapping.values()) - set(cats))
            if missing:
                errors.append(f"map targets {missing} are not in 'categories'")
        dupes = sorted(name for name, n in Counter(cats).items() if n > 1)
        if dupes:
            errors.append(f"'categories' lists {dupes} more than once")
        if errors:
            raise DatasetError(f"{source}: " + "; ".join(errors))
        return cls(dict(mapping), frozenset(drop), tuple(cats), source)

    def resolve(
        self, counts: Mapping[str, int], keep_unmapped: bool = False
    ) -> tuple[dict[str, str | None], list[str]]:
        """Decide the output of every source label.

        Args:
            counts: number of regions per source label.
            keep_unmapped: keep unknown labels under their own names instead of failing.

        Returns:
            ``(target, categories)``: ``target[label]`` is the output name or ``None`` (dropped);
            ``categories`` is the output category order.

        Raises:
            DatasetError: unknown labels, listed with their counts and the fix.
        """
        outputs = self.outputs
        known = set(outputs)
        target: dict[str, str | None] = {}
        unknown: dict[str, int] = {}
        for label in counts:
            if label in self.drop:
                target[label] = None
            elif label in self.mapping:
                target[label] = self.mapping[label]
            elif label in known:
                target[label] = label
            else:
                unknown[label] = counts[label]
                target[label] = label
        if unknown and not keep_unmapped:
            listed = ", ".join(f"{name!r} ({unknown[name]})" for name in sorted(unknown))
            raise DatasetError(
                f"{self.source}: {len(unknown)} label(s) neither mapped nor dropped: {listed}; "
                "add them to 'map' or 'drop', or pass --keep-unmapped"
            )
        return target, outputs + sorted(unknown)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def load_label_map(spec: str | Path) -> LabelMap:
    """Read a label map file, or a built-in map by name (:data:`BUILTIN_MAPS`)."""
    import yaml

    path = Path(spec)
    if not path.exists() and str(spec) in BUILTIN_MAPS:
        return LabelMap.from_dict(BUILTIN_MAPS[str(spec)], source=f"label map {spec}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        names = ", ".join(sorted(BUILTIN_MAPS))
        raise DatasetError(f"{path}: label map not found (built-in maps: {names})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read label map ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: cannot read label map ({_yaml_problem(exc)})") from None
    return LabelMap.from_dict(data, source=str(path))


def _yaml_problem(exc: Exception) -> str:
    """What is wrong and where (line:column), without quoting the file's contents."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "not valid YAML"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def labelled_outputs(
    labelled: Iterable[str],
    sources: Iterable[str],
    target: Mapping[str, str | None],
    outputs: Sequence[str],
) -> list[str]:
    """Output classes labelled exhaustively on a page that labels the source labels ``labelled``.

    An output class is labelled only when at least one source label maps onto it and every
    source label that does (renamed, merged, or kept under its own name) is labelled: a
    merged class is complete only if all its parts are. Dropped labels disappear.

    Args:
        labelled: source labels the page annotates exhaustively.
        sources: every source label of the input (declared or seen).
        target: source label -> output name, None when dropped; a source label missing
            here has no output.
        outputs: output category names in id order.

    Returns:
        The labelled output names, in ``outputs`` order.
    """
    done = set(labelled)
    feeders: dict[str, set[str]] = {}
    for label in sources:
        name = target.get(label)
        if name is not None:
            feeders.setdefault(name, set()).add(label)
    return [n for n in outputs if feeders.get(n) and feeders[n] <= done]


def identity_categories(declared: Sequence[str], counts: Mapping[str, int]) -> list[str]:
    """Output order without a label map: declared labels first, then the others sorted."""
    extra = sorted(set(counts) - set(declared))
    return list(dict.fromkeys(declared)) + extra
