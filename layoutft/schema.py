"""The layout JSON document model (``layoutft.document/1``), with lossless round trips.

Reading or writing this format needs only the standard library and numpy (for
:meth:`Region.crop`); it never imports torch. The format is documented in
``docs/json-format.md`` and described by the JSON Schema shipped as
``layoutft/schemas/document-1.schema.json`` (see :func:`json_schema`).

Coordinates: ``bbox_px`` is in pixels of the rendered page image (top-left origin);
``bbox_pt`` and ``polygon_pt`` are in PDF points of the page as displayed (top-left
origin, after ``/Rotate``, relative to the CropBox). Boxes are ``[x0, y0, x1, y1]``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.errors import DatasetError

SCHEMA_ID = "layoutft.document/1"
_SCHEMA_FILE = "document-1.schema.json"

#: Largest page image side read from a document, in pixels (500 in at 200 dpi; JPEG stops
#: at 65535, PIL refuses ~180 Mpx images). Bigger sizes are refused when reading, so a
#: hostile results file cannot make a reader (the viewer) allocate gigabytes.
MAX_PAGE_SIDE_PX = 100_000


class DocumentError(DatasetError, ValueError):
    """A layout JSON document with a bad field; the message names the file (when read from
    one), the field (``pages[1].dpi``) and what it must be."""


def _floats(values: Iterable[Any], ndigits: int = 2) -> list[float]:
    """Plain Python floats rounded for compact, stable JSON."""
    return [round(float(v), ndigits) for v in values]


@dataclass
class Alternative:
    """Another reading of a region's ink that the de-duplication folded into the region.

    Attributes:
        label: class name: another class, or the region's own class with another extent.
        score: detector confidence in [0, 1].
        bbox_px, bbox_pt: the alternative's own box (as :class:`Region`'s) when it differs
            from the region's by more than :data:`ALTERNATIVE_BOX_TOLERANCE_PT` on some side,
            else None (the region's box).
    """

    label: str
    score: float
    bbox_px: list[float] | None = None
    bbox_pt: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the boxes only when the alternative has its own."""
        out: dict[str, Any] = {"label": self.label, "score": round(float(self.score), 4)}
        if self.bbox_px is not None:
            out["bbox_px"] = _floats(self.bbox_px)
        if self.bbox_pt is not None:
            out["bbox_pt"] = _floats(self.bbox_pt)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alternative:
        """Inverse of :meth:`to_dict`."""
        px, pt = d.get("bbox_px"), d.get("bbox_pt")
        return cls(
            label=str(d["label"]),
            score=float(d["score"]),
            bbox_px=None if px is None else [float(v) for v in px],
            bbox_pt=None if pt is None else [float(v) for v in pt],
        )


@dataclass
class Word:
    """One word recognised by OCR inside a region (``Region.words``).

    Attributes:
        text: the word as recognised.
        bbox_px: ``[x0, y0, x1, y1]`` in pixels of the rendered page image.
        confidence: the OCR engine's confidence in [0, 1].
        line: 0-based number of the word's text line within its region (words of one line
            share it; lines are numbered in reading order).
    """

    text: str
    bbox_px: list[float]
    confidence: float
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (box to 2 decimals, confidence to 4)."""
        return {
            "text": self.text,
            "bbox_px": _floats(self.bbox_px),
            "confidence": round(float(self.confidence), 4),
            "line": int(self.line),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        """Inverse of :meth:`to_dict`."""
        return cls(
            text=str(d["text"]),
            bbox_px=[float(v) for v in d["bbox_px"]],
            confidence=float(d["confidence"]),
            line=int(d.get("line", 0)),
        )


#: an alternative whose box is within this many points of its region's on every side is
#: written without a box (measured: up to 2 px at ~72 dpi changed no AP by 0.1 point)
ALTERNATIVE_BOX_TOLERANCE_PT = 2.0


@dataclass
class Region:
    """One detected layout region of a page.

    Attributes:
        id: index of the region on its page, unique within the page.
        label: class name (e.g. ``"table"``).
        score: detector confidence in [0, 1].
        bbox_px: ``[x0, y0, x1, y1]`` in pixels of the rendered page image.
        bbox_pt: the same box in displayed-page PDF points.
        polygon_pt: outline(s) in displayed-page points: a list of rings, each a list of
            ``[x, y]`` points (from the mask when the model has masks, else the box corners).
        text: the PDF's own text inside the region (reading order, lines joined by ``\\n``),
            or None for images, pages without a text layer, or when text is turned off.
        order: 0-based position of the region in the page's reading order.
        alternatives: other readings of the same ink the de-duplication folded into this
            region (another class, or its class with another extent), highest score first;
            written only when there are some.
        origin: ``"model"`` (a detection; not written) or ``"text-layer"`` (text-layer
            words no detection covered, grouped into a region by ``cover_words``).
        words: the words OCR recognised in the region (``ocr``), in reading order, with
            boxes in page pixels; written only when there are some. ``text`` is then their
            lines joined by ``\\n``.
    """

    id: int
    label: str
    score: float
    bbox_px: list[float]
    bbox_pt: list[float]
    polygon_pt: list[list[list[float]]] = field(default_factory=list)
    text: str | None = None
    order: int = 0
    alternatives: list[Alternative] = field(default_factory=list)
    origin: str = "model"
    words: list[Word] = field(default_factory=list)

    def crop(self, image: np.ndarray, pad: int = 0) -> np.ndarray:
        """The region cut out of its page image (for OCR), as a view of ``image``.

        Args:
            image: [H,W] or [H,W,C] array of the page rendered at this document's DPI.
            pad: extra pixels kept on every side (clipped to the image).

        Returns:
            ``image[y0:y1, x0:x1]`` with the box rounded outwards and clipped to the image.
        """
        height, width = image.shape[:2]
        x0, y0, x1, y1 = self.bbox_px
        left = max(0, math.floor(x0) - pad)
        top = max(0, math.floor(y0) - pad)
        right = min(width, math.ceil(x1) + pad)
        bottom = min(height, math.ceil(y1) + pad)
        return image[top : max(top, bottom), left : max(left, right)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (floats rounded to 2 decimals, 4 for the score); the
        ``alternatives`` and ``words`` keys only when there are some, ``origin`` only when
        not ``"model"``."""
        out = {
            "id": int(self.id),
            "label": self.label,
            "score": round(float(self.score), 4),
            "bbox_px": _floats(self.bbox_px),
            "bbox_pt": _floats(self.bbox_pt),
            "polygon_pt": [[_floats(p) for p in ring] for ring in self.polygon_pt],
            "text": self.text,
            "order": int(self.order),
        }
        if self.alternatives:
            out["alternatives"] = [a.to_dict() for a in self.alternatives]
        if self.origin != "model":
            out["origin"] = self.origin
        if self.words:
            out["words"] = [w.to_dict() for w in self.words]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Region:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=int(d["id"]),
            label=str(d["label"]),
            score=float(d["score"]),
            bbox_px=[float(v) for v in d["bbox_px"]],
            bbox_pt=[float(v) for v in d["bbox_pt"]],
            polygon_pt=[[[float(v) for v in p] for p in ring] for ring in d.get("polygon_pt", [])],
            text=d.get("text"),
            order=int(d.get("order", 0)),
            alternatives=[Alternative.from_dict(a) for a in d.get("alternatives", [])],
            origin=str(d.get("origin", "model")),
            words=[Word.from_dict(w) for w in d.get("words", [])],
        )


@dataclass
class Page:
    """One page of a document and its regions.

    Attributes:
        number: 1-based page number in the source (frame number for multi-page TIFFs).
        width_pt, height_pt: displayed page size in points (after rotation, CropBox).
        rotation: the PDF page's ``/Rotate`` (0, 90, 180, 270); 0 for images.
        dpi: effective resolution of the page image the model saw (lower than requested when
            ``max_pixels`` scaled a huge page down); pixels = points * dpi / 72.
        width_px, height_px: size of that page image in pixels.
        status: ``"ok"`` or ``"error"`` (the page could not be rendered or predicted).
        error: the error message when ``status == "error"``, else None.
        regions: regions sorted by ``order``.
    """

    number: int
    width_pt: float
    height_pt: float
    rotation: int = 0
    dpi: float = 72.0
    width_px: int = 0
    height_px: int = 0
    status: str = "ok"
    error: str | None = None
    regions: list[Region] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "number": int(self.number),
            "width_pt": round(float(self.width_pt), 2),
            "height_pt": round(float(self.height_pt), 2),
            "rotation": int(self.rotation),
            "dpi": round(float(self.dpi), 3),
            "width_px": int(self.width_px),
            "height_px": int(self.height_px),
            "status": self.status,
            "error": self.error,
            "regions": [r.to_dict() for r in self.regions],
        }

    def to_layoutparser(self, words: bool = False) -> Any:
        """The page's regions as a ``layoutparser.Layout`` of ``TextBlock`` blocks (needs the
        ``layoutparser`` package: ``pip install 'layoutft[layoutparser]'``).

        Each region, in reading order, is a ``TextBlock`` of a ``Rectangle`` in page-image
        pixels (``bbox_px``) with ``type`` (the label), ``score``, ``id`` (the region id),
        ``text`` and ``parent`` None. With ``words``, each OCR word follows its region as a
        ``TextBlock`` of ``type`` ``"word"``, its ``score`` the OCR confidence and
        ``parent`` the region's id (layout-parser's token hierarchy); its ``id`` is
        ``"<region id>.<line>.<n>"``. ``page_data`` holds ``width``, ``height`` (pixels), ``dpi``
        and ``number``. Mask outlines are not carried (rectangles, as layout-parser's own
        detectors give)."""
        import layoutparser as lp

        blocks = []
        for region in sorted(self.regions, key=lambda r: (r.order, r.id)):
            blocks.append(
                lp.TextBlock(
                    lp.Rectangle(*region.bbox_px),
                    text=region.text,
                    id=region.id,
                    type=region.label,
                    parent=None,
                    score=region.score,
                )
            )
            for n, word in enumerate(region.words if words else []):
                blocks.append(
                    lp.TextBlock(
                        lp.Rectangle(*word.bbox_px),
                        text=word.text,
                        id=f"{region.id}.{word.line}.{n}",
                        type="word",
                        parent=region.id,
                        score=word.confidence,
                    )
                )
        data = {"width": self.width_px, "height": self.height_px, "dpi": self.dpi}
        return lp.Layout(blocks, page_data={**data, "number": self.number})

    @classmethod
    def from_layoutparser(
        cls, layout: Any, width_px: int, height_px: int, dpi: float = 72.0, number: int = 1
    ) -> Page:
        """A page from a ``layoutparser.Layout`` (e.g. ``model.detect(image)`` or
        :meth:`to_layoutparser`): each block without a ``parent`` becomes a region, in the
        layout's order (its reading order), its box the block's bounding box in pixels
        (points = pixels * 72 / ``dpi``), label its ``type`` (``"text"`` when None), score
        its ``score`` (1.0 when None), id its ``id`` when an int (else its position), text
        its ``text``; blocks with a ``parent`` of type ``"word"`` become that region's
        words. ``width_px``/``height_px``: the image the layout was detected on (a
        ``Layout``'s ``page_data`` is used when it has them)."""
        data = getattr(layout, "page_data", None) or {}
        width_px = int(data.get("width", width_px))
        height_px = int(data.get("height", height_px))
        dpi = float(data.get("dpi", dpi))
        scale = 72.0 / dpi
        regions: list[Region] = []
        by_id: dict[Any, Region] = {}
        for block in layout:
            x0, y0, x1, y1 = (float(v) for v in block.block.coordinates)
            box_px = [x0, y0, x1, y1]
            if block.parent is not None and block.type == "word" and block.parent in by_id:
                owner = by_id[block.parent]
                parts = str(block.id).split(".")
                line = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0
                conf = 1.0 if block.score is None else float(block.score)
                owner.words.append(Word(str(block.text or ""), box_px, conf, line))
                continue
            pt = [v * scale for v in box_px]
            ring = [[pt[0], pt[1]], [pt[2], pt[1]], [pt[2], pt[3]], [pt[0], pt[3]]]
            region = Region(
                id=block.id if isinstance(block.id, int) else len(regions),
                label=str(block.type) if block.type is not None else "text",
                score=1.0 if block.score is None else float(block.score),
                bbox_px=box_px,
                bbox_pt=pt,
                polygon_pt=[ring],
                text=block.text,
                order=len(regions),
            )
            regions.append(region)
            by_id[block.id] = region
        return cls(
            number=number,
            width_pt=width_px * scale,
            height_pt=height_px * scale,
            dpi=dpi,
            width_px=width_px,
            height_px=height_px,
            regions=regions,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Page:
        """Inverse of :meth:`to_dict`.

        Raises DocumentError naming the field for a missing or malformed field, a size
        outside ``[0, MAX_PAGE_SIDE_PX]`` pixels, a dpi that is not a positive finite
        number, or non-finite region coordinates."""
        if not isinstance(d, dict):
            raise DocumentError(f"must be an object, got {type(d).__name__}")
        dpi = _real(d, "dpi", lambda v: v > 0, "> 0")
        width_pt = _real(d, "width_pt", lambda v: v >= 0, ">= 0")
        height_pt = _real(d, "height_pt", lambda v: v >= 0, ">= 0")
        side_pt = max(width_pt, height_pt)
        if side_pt * dpi / 72.0 > MAX_PAGE_SIDE_PX * 1.001:  # the viewer draws at pt * dpi / 72
            size = f"{width_pt * dpi / 72:.3g} x {height_pt * dpi / 72:.3g}"
            raise DocumentError(
                f"dpi: {dpi:g} makes the page {size} px, past {MAX_PAGE_SIDE_PX} px a side"
            )
        number = _integer(d, "number", 0, 2**31)
        rotation = _integer(d, "rotation", 0, 359, default=0)
        width_px = _integer(d, "width_px", 0, MAX_PAGE_SIDE_PX)
        height_px = _integer(d, "height_px", 0, MAX_PAGE_SIDE_PX)
        regions = []
        for i, r in enumerate(_field(d, "regions", [])):
            try:
                regions.append(_checked(Region.from_dict(r)))
            except (KeyError, TypeError, ValueError) as exc:
                raise DocumentError(f"regions[{i}]{_why(exc)}") from None
        return cls(
            number=number,
            width_pt=width_pt,
            height_pt=height_pt,
            rotation=rotation,
            dpi=dpi,
            width_px=width_px,
            height_px=height_px,
            status=str(d.get("status", "ok")),
            error=d.get("error"),
            regions=regions,
        )


@dataclass
class Document:
    """The parse result of one input (a PDF, an image or a multi-page TIFF).

    Attributes:
        source: ``{"path": str | None, "sha256": str, "page_count": int}`` (path is None for
            bytes input; page_count counts all pages of the source, parsed or not).
        model: ``{"name": str, "labels": [str, ...], ...}``; extra keys describe the settings.
        pages: the parsed pages in the order they were requested.
        schema: format identifier, always :data:`SCHEMA_ID`.

    :attr:`status` (``"ok"``, ``"partial"``, ``"error"``) is derived from the pages.
    """

    source: dict[str, Any]
    model: dict[str, Any]
    pages: list[Page] = field(default_factory=list)
    schema: str = SCHEMA_ID

    @property
    def status(self) -> str:
        """``"ok"`` when no page failed, ``"error"`` when every page failed (a document with
        pages), else ``"partial"``."""
        failed = sum(page.status != "ok" for page in self.pages)
        if failed == 0:
            return "ok"
        return "error" if failed == len(self.pages) else "partial"

    @property
    def failed_pages(self) -> list[Page]:
        """The pages whose ``status`` is not ``"ok"``."""
        return [page for page in self.pages if page.status != "ok"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the ``layoutft.document/1`` format (``status`` derived)."""
        return {
            "schema": self.schema,
            "status": self.status,
            "source": dict(self.source),
            "model": dict(self.model),
            "pages": [p.to_dict() for p in self.pages],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The document as JSON text (UTF-8 characters kept as is)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_jsonl_lines(self) -> list[str]:
        """One compact JSON line per page; each line is a one-page document (see docs)."""
        return [
            json.dumps(
                Document(self.source, self.model, [page]).to_dict(),
                ensure_ascii=False,
            )
            for page in self.pages
        ]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        """Inverse of :meth:`to_dict` (``status`` is derived again from the pages);
        rejects other formats or versions."""
        schema = d.get("schema") if isinstance(d, dict) else None
        if schema != SCHEMA_ID:
            raise ValueError(f"not a {SCHEMA_ID} document (schema field is {schema!r})")
        return cls(
            source=dict(d["source"]),
            model=dict(d["model"]),
            pages=[_page(i, p) for i, p in enumerate(d["pages"])],
            schema=schema,
        )

    @classmethod
    def from_json(cls, data: str | bytes | os.PathLike[str]) -> Document:
        """Read a document from JSON text, bytes, or a path to a ``.json``/``.jsonl`` file.

        A ``str`` that starts with ``{`` is JSON text; any other ``str`` is a path. JSON Lines
        (one single-page document per line, as written by ``--format jsonl``) are merged.
        """
        where = "JSON text"
        if isinstance(data, os.PathLike) or (
            isinstance(data, str) and not data.lstrip().startswith("{")
        ):
            where = os.fspath(data)
            data = Path(data).read_text(encoding="utf-8")
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        try:
            whole = loads_json(text, where)
        except json.JSONDecodeError:
            lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
            if len(lines) < 2 or not _parses(lines[0][1]):
                raise  # one malformed JSON document, not JSON Lines
            return cls.merge([_record(line, f"{where}: line {n}") for n, line in lines])
        try:
            return cls.from_dict(whole)
        except DocumentError as exc:
            raise DocumentError(f"{where}: {exc}") from None

    @classmethod
    def merge(cls, parts: Sequence[Document]) -> Document:
        """Join documents of the same source (e.g. JSON Lines records) into one."""
        if not parts:
            raise ValueError("nothing to merge")
        pages = [page for part in parts for page in part.pages]
        return cls(dict(parts[0].source), dict(parts[0].model), pages, parts[0].schema)

    def to_coco_results(
        self, image_ids: dict[int, int] | None = None, alternatives: bool = True
    ) -> list[dict[str, Any]]:
        """Regions as COCO detection results (the list ``COCO.loadRes`` reads).

        Args:
            image_ids: page number -> COCO ``image_id``; default: the page number itself.
            alternatives: also write each region's alternatives as detections of their own
                label and score (so COCO AP scores everything the model saw), marked with
                ``alternative_of`` (the region's ``id``).

        Returns:
            One dict per region: ``image_id``, ``category_id`` (1-based index in
            ``model["labels"]``), ``bbox`` ``[x, y, w, h]`` in page pixels, ``score``,
            ``segmentation`` (polygons in page pixels, flat ``[x0, y0, x1, y1, ...]``; an
            alternative's is its box), plus ``page`` and ``label`` for readers; then one
            per alternative.
        """
        labels = list(self.model.get("labels", []))
        results: list[dict[str, Any]] = []
        for page in self.pages:
            image_id = page.number if image_ids is None else image_ids[page.number]
            px_per_pt = page.dpi / 72.0
            for region in page.regions:
                segmentation = [
                    _floats(c * px_per_pt for point in ring for c in point)
                    for ring in region.polygon_pt
                    if len(ring) >= 3
                ]
                record = _coco_record(image_id, page.number, labels, region.label, region.score)
                record["bbox"] = _xywh(region.bbox_px)
                record["segmentation"] = segmentation
                results.append(record)
                for alt in region.alternatives if alternatives else []:
                    box = alt.bbox_px or region.bbox_px
                    extra = _coco_record(image_id, page.number, labels, alt.label, alt.score)
                    extra["bbox"] = _xywh(box)
                    x0, y0, x1, y1 = _floats(box)
                    extra["segmentation"] = [[x0, y0, x1, y0, x1, y1, x0, y1]]
                    extra["alternative_of"] = int(region.id)
                    results.append(extra)
        return results


def _page(index: int, data: Any) -> Page:
    """Page.from_dict with the page's position in the error (``pages[1].dpi: ...``)."""
    try:
        return Page.from_dict(data)
    except DocumentError as exc:
        raise DocumentError(f"pages[{index}]{_why(exc)}") from None


def _record(line: str, where: str) -> Document:
    """One JSON Lines record as a Document; errors name ``where`` (file and line)."""
    try:
        return Document.from_dict(loads_json(line, where))
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{where}: not JSON ({exc.msg}, column {exc.colno})") from None
    except DocumentError as exc:
        raise DocumentError(f"{where}: {exc}") from None


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _why(exc: Exception) -> str:
    """``exc`` as the rest of a ``field...: problem`` message: a nested field's path is
    joined with a dot, anything else follows a colon."""
    if isinstance(exc, DocumentError):
        return f".{exc}"
    if isinstance(exc, KeyError):
        return f": missing field {exc}"
    return f": {exc}"


def _field(d: dict[str, Any], key: str, default: Any = ...) -> Any:
    if key in d:
        return d[key]
    if default is ...:
        raise DocumentError(f"{key}: missing")
    return default


def _real(d: dict[str, Any], key: str, ok: Callable[[float], bool], bound: str) -> float:
    """``d[key]`` as a finite float satisfying ``ok``, else DocumentError naming ``key``."""
    value = _field(d, key)
    number = (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    )
    if number is None or not math.isfinite(number) or not ok(number):
        raise DocumentError(f"{key}: must be a finite number {bound}, got {value!r}")
    return number


def _integer(d: dict[str, Any], key: str, low: int, high: int, default: Any = ...) -> int:
    """``d[key]`` as an int in ``[low, high]`` (a whole float is accepted)."""
    value = _field(d, key, default)
    whole = isinstance(value, float) and math.isfinite(value) and value == int(value)
    if not (isinstance(value, int) and not isinstance(value, bool)) and not whole:
        raise DocumentError(f"{key}: must be an integer from {low} to {high}, got {value!r}")
    if not low <= int(value) <= high:
        raise DocumentError(f"{key}: must be an integer from {low} to {high}, got {value!r}")
    return int(value)


def _checked(region: Region) -> Region:
    """``region`` if its score and coordinates are finite, else DocumentError."""
    if not math.isfinite(region.score):
        raise DocumentError(f"score: must be a finite number, got {region.score!r}")
    for key in ("bbox_px", "bbox_pt"):
        box = getattr(region, key)
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise DocumentError(f"{key}: must be 4 finite numbers [x0, y0, x1, y1], got {box}")
    for ring in region.polygon_pt:
        if not all(len(p) == 2 and math.isfinite(p[0]) and math.isfinite(p[1]) for p in ring):
            raise DocumentError("polygon_pt: every point must be 2 finite numbers [x, y]")
    return region


def _coco_record(
    image_id: int, page: int, labels: list[str], label: str, score: float
) -> dict[str, Any]:
    """A COCO result record without its geometry (``category_id`` 0 for an unknown label)."""
    return {
        "image_id": image_id,
        "category_id": labels.index(label) + 1 if label in labels else 0,
        "bbox": [],
        "score": round(float(score), 4),
        "segmentation": [],
        "page": page,
        "label": label,
    }


def _xywh(box: Sequence[float]) -> list[float]:
    """XYXY -> COCO's ``[x, y, w, h]``, rounded."""
    x0, y0, x1, y1 = box
    return _floats([x0, y0, x1 - x0, y1 - y0])


def loads_json(text: str, where: str) -> Any:
    """json.loads; hostile input (nesting past the recursion limit, integers past
    Python's digit limit) is a one-line DatasetError naming ``where``. Malformed JSON raises
    json.JSONDecodeError for the caller to word."""
    import sys

    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise DatasetError(
            f"{where}: refused: the JSON nests arrays/objects deeper than Python's recursion "
            f"limit ({sys.getrecursionlimit()})"
        ) from None
    except ValueError:  # int() of more digits than sys.get_int_max_str_digits() allows
        raise DatasetError(
            f"{where}: refused: the JSON holds an integer of more than "
            f"{sys.get_int_max_str_digits()} digits"
        ) from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ``layoutft.document/1`` format."""
    text = resources.files("layoutft.schemas").joinpath(_SCHEMA_FILE).read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result
