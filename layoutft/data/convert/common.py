"""What every format reader produces, and helpers they share.

Readers turn an export into a :class:`SourceDataset`: pages (an image file plus regions in
that image's pixels, top-left origin) and labels exactly as the tool wrote them. The
builder (:mod:`layoutft.data.convert.build`) then maps labels, checks geometry against the
real image size and writes COCO.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from layoutft.data.coco import Problems, read_json
from layoutft.errors import DatasetError

#: Resolution PDF pages are rendered at when no ``--dpi`` is given.
DEFAULT_DPI = 200.0

#: Image suffixes tried for an export that does not name its image (``<stem><suffix>``).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")

#: Label Studio prefixes uploaded files with 8 hex digits and a dash.
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


@dataclass
class SourceRegion:
    """One labelled region in image pixels (top-left origin, x right, y down).

    Attributes:
        label: the source tool's label.
        record: where it came from, for messages (``"task 3, result 'a1'"``).
        polygons: flat polygons ``[x0, y0, x1, y1, ...]``; empty for a plain box.
        bbox: XYXY box; None means the bounding box of ``polygons``.
        rle: a COCO RLE segmentation kept verbatim (COCO input only), with ``area``.
        area: area for ``rle`` regions (pixels²).
        extra: extra annotation fields to keep (COCO input).
    """

    label: str
    record: str
    polygons: list[list[float]] = field(default_factory=list)
    bbox: tuple[float, float, float, float] | None = None
    rle: dict[str, Any] | None = None
    area: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourcePage:
    """One page image and its regions.

    Attributes:
        file_name: output path relative to ``OUT_DIR/images`` (posix, no ``..``).
        source: the image file to copy (or already written into the staging folder).
        record: file and record naming this page, for messages.
        size: ``(width, height)`` the export declares, checked against the file; or None.
        extra: extra image fields to keep.
        labelled: source labels annotated exhaustively on this page (every instance of them
            is a region); None: every label (see ``labelled_category_ids`` in
            :mod:`layoutft.data.coco`). The builder maps them through the label map.
    """

    file_name: str
    source: Path
    record: str
    regions: list[SourceRegion] = field(default_factory=list)
    size: tuple[float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    labelled: list[str] | None = None


@dataclass
class SourceDataset:
    """Everything a reader found.

    Attributes:
        pages: the pages, any order (the builder sorts by file name).
        labels: label order the export declares (COCO categories, YOLO names, CVAT labels).
        supercategories: supercategory per source label, where the export has one.
        extra: top-level COCO keys to keep (``info``, ``licenses``).
        notes: non-fatal remarks shown to the user (e.g. skipped shape kinds).
    """

    pages: list[SourcePage] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    supercategories: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReadOptions:
    """Options readers may use.

    Attributes:
        images_dir: folder holding the images the export names (``--images``).
        staging: folder where readers that create images (PDF pages) write them; it
            becomes ``OUT_DIR/images``.
        dpi: render resolution for PDF pages.
        image_dpi: resolution of page images the user gave (``--dpi``), for exports in
            physical units (ALTO ``mm10``/``inch1200``); None when not given.
        label_key: VIA region attribute holding the label (None: the first attribute).
        progress: show tqdm progress bars on stderr for long steps.
        predictions: Label Studio: a task without annotations is read from its first
            prediction (pre-annotations, e.g. ``layoutft parse --format labelstudio``).
    """

    staging: Path
    images_dir: Path | None = None
    dpi: float = DEFAULT_DPI
    image_dpi: float | None = None
    label_key: str | None = None
    progress: bool = False
    predictions: bool = False

    def search_dirs(self, export_file: Path, workspace: bool = False) -> list[Path]:
        """Folders to look for images in: ``--images``, then next to the export; with
        ``workspace`` (PAGE and ALTO files) also the folder above it: in an OCR-D workspace,
        or ``layoutft parse --format pagexml|alto`` output, per-page XML in a file-group
        folder names images relative to the workspace."""
        base = export_file.parent
        dirs = [self.images_dir] if self.images_dir is not None else []
        above = [base.parent] if workspace else []
        # Each folder once (``--images`` is often the export's own folder), in this order.
        return list(dict.fromkeys([*dirs, base, base / "images", *above]))


def find_image(ref: str, dirs: Sequence[Path]) -> tuple[Path, str] | None:
    """Locate the image an export names; ``(path, output file_name)`` or None.

    ``ref`` may be a relative path, an absolute path, a URL, a Label Studio upload path
    (``/data/upload/3/1a2b3c4d-page.png``) or local-files URL (``/data/local-files/?d=a/p.png``).
    Tried in each folder: the relative path as written, its base name, and the base name
    without Label Studio's 8-hex upload prefix.
    """
    ref = _url_path(ref).replace("\\", "/")
    rel = PurePosixPath(ref)
    tries: list[str] = []
    if not rel.is_absolute() and ".." not in rel.parts and str(rel) != rel.name:
        tries.append(str(rel))
    tries.append(rel.name)
    bare = _UPLOAD_PREFIX.sub("", rel.name)
    if bare != rel.name:
        tries.append(bare)
    for folder in dirs:
        for name in tries:
            if name and (folder / name).is_file():
                return folder / name, name
    if rel.is_absolute() and Path(ref).is_file():
        return Path(ref), rel.name
    return None


def find_image_like(export_file: Path, dirs: Sequence[Path]) -> tuple[Path, str] | None:
    """An image named like the export (``x.xml`` -> ``x.jpg``, ``x.png``, ...), or None."""
    for suffix in IMAGE_SUFFIXES:
        found = find_image(export_file.stem + suffix, dirs)
        if found is not None:
            return found
    return None


def _url_path(ref: str) -> str:
    parsed = urlparse(ref)
    local = parse_qs(parsed.query).get("d")
    if local:
        return unquote(local[0])
    if parsed.scheme in ("http", "https", "s3", "gs", "file"):
        return unquote(parsed.path)
    return ref


def finite(*values: float) -> bool:
    """All values are finite numbers."""
    return all(math.isfinite(v) for v in values)


def to_float(value: Any) -> float | None:
    """A number (int, float or numeric string) as float, else None."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_xml(path: Path, problems: Problems) -> ET.Element | None:
    """Parse an XML file, recording a one-line problem (file, line, column) if malformed."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, col = exc.position
        problems.add(str(path), f"malformed XML at line {line}, column {col}")
    except OSError as exc:
        problems.add(str(path), f"cannot read ({exc.strerror or exc})")
    return None


def parse_json(path: Path, problems: Problems, expected: type, what: str) -> Any | None:
    """Read a JSON export whose top level must be ``expected``; on a read error or another
    top level, record one problem (the file and ``what`` was expected) and return None."""
    try:
        data = read_json(path)
    except DatasetError as exc:
        problems.add_line(str(exc))
        return None
    if not isinstance(data, expected):
        problems.add(str(path), f"expected {what}")
        return None
    return data


def locate_image(
    ref: str, dirs: Sequence[Path], problems: Problems, where: str
) -> tuple[Path, str] | None:
    """:func:`find_image`, recording a not-found problem (folders searched, the fix)."""
    found = find_image(ref, dirs)
    if found is None:
        searched = ", ".join(str(d) for d in dirs)
        problems.add(where, f"image {ref!r} not found (searched {searched}); pass --images DIR")
    return found
