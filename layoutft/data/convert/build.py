"""Turn a reader's :class:`SourceDataset` into a COCO dict and stage its images.

Conventions of the output (documented for users in the README):

* images sorted by ``file_name``, ids 1..N; ``width``/``height`` read from the image file;
* annotations in page order then source order, ids 1..M; categories ids 1..K in the label
  map's order, or the export's declared label order followed by other labels sorted;
* coordinates and areas rounded to 3 decimals; ``bbox`` XYWH pixels; ``segmentation`` the
  source polygons, or the box rectangle for box-only regions; ``area`` the polygon area
  (sum over polygons) or the box area; ``iscrowd`` 0 unless the source says otherwise;
* a coordinate beyond the image by at most :data:`CLIP_TOLERANCE` of the image side is
  clipped; further out, zero-size boxes, zero-area polygons and non-finite numbers are errors;
* ``labelled_category_ids`` on an image that does not label every output category: the
  reader's per-page labelled source labels mapped through the label map
  (:func:`~layoutft.data.labelmap.labelled_outputs`), or ``--labelled-classes`` for every page.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layoutft.data.coco import (
    LABELLED_KEY,
    Problems,
    num,
    polygon_area,
    polygons_bbox,
    rect_polygon,
)
from layoutft.data.convert.common import SourceDataset, SourcePage, SourceRegion, finite
from layoutft.data.labelmap import LabelMap, identity_categories, labelled_outputs
from layoutft.data.validate import read_image_size
from layoutft.errors import DatasetError

#: Fraction of the image width/height a coordinate may overshoot before it is an error.
CLIP_TOLERANCE = 0.01

_RESERVED = frozenset({"id", "image_id", "category_id", "bbox", "area", "segmentation"})


def build_coco(
    dataset: SourceDataset,
    staging: Path,
    label_map: LabelMap | None = None,
    keep_unmapped: bool = False,
    link: bool = False,
    progress: bool = False,
    *,
    problems: Problems | None = None,
    what: str = "in the input",
    labelled_classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build the COCO dict and copy (or hard-link) page images into ``staging``.

    Args:
        labelled_classes: output class names labelled exhaustively on every page (replaces
            what the reader found); None: the reader's per-page labels (default: all).
        problems: problems already found (by the reader); they are raised together with
            the ones found here, so the user sees every problem of the input at once.
        what: the header of the error (``"N problems <what>:"``).

    Raises:
        DatasetError: unknown labels, unreadable images, size mismatches, bad geometry and
            the given ``problems`` — all listed together; nothing is copied in that case.
    """
    from tqdm import tqdm

    problems = problems if problems is not None else Problems()
    _check_unique_names(dataset.pages, problems)
    counts = Counter(r.label for p in dataset.pages for r in p.regions)
    if label_map is not None:
        try:
            target, names = label_map.resolve(counts, keep_unmapped)
        except DatasetError as exc:  # unknown labels: listed with the other problems
            problems.add_line(str(exc))
            target, names = label_map.resolve(counts, keep_unmapped=True)
    else:
        target, names = {k: k for k in counts}, identity_categories(dataset.labels, counts)
    cat_id = {name: i + 1 for i, name in enumerate(names)}
    declared = _declared_labelled(labelled_classes, names, problems)
    sources = {*dataset.labels, *counts, *(x for p in dataset.pages for x in p.labelled or [])}
    full_target = {
        s: target[s] if s in target else _target_of(s, label_map, names) for s in sources
    }
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    pages = sorted(dataset.pages, key=lambda p: p.file_name)
    for image_id, page in enumerate(pages, start=1):
        size = _real_size(page, problems)
        if size is None:
            continue
        record = {"id": image_id, "file_name": page.file_name, "width": size[0], "height": size[1]}
        image = {**record, **page.extra}
        labelled = declared
        if labelled is None and page.labelled is not None:
            labelled = labelled_outputs(page.labelled, sources, full_target, names)
        if labelled is not None and set(labelled) != set(names):
            image[LABELLED_KEY] = sorted(cat_id[n] for n in set(labelled))
        images.append(image)
        for region in page.regions:
            name = target[region.label]
            if name is None:
                continue
            ann = _annotation(region, size, problems, f"{page.record}, {region.record}")
            if ann is not None:
                ids = {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": cat_id[name],
                }
                annotations.append({**ids, **ann})
    problems.raise_if_any(what, "Fix the records above and convert again.")
    for page in tqdm(pages, desc="images", unit="img", disable=not progress, file=sys.stderr):
        _stage(page, staging, link)
    categories = [
        {"id": cat_id[n], "name": n, "supercategory": dataset.supercategories.get(n, "")}
        for n in names
    ]
    return {
        **dataset.extra,
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def _target_of(label: str, label_map: LabelMap | None, names: list[str]) -> str | None:
    """Output of a source label without regions (declared, or only named as labelled)."""
    if label_map is not None:
        if label in label_map.drop:
            return None
        label = label_map.mapping.get(label, label)
    return label if label in names else None


def _declared_labelled(
    labelled: Sequence[str] | None, names: list[str], problems: Problems
) -> list[str] | None:
    """``--labelled-classes`` checked against the output classes (unknown names: a problem)."""
    if labelled is None:
        return None
    unknown = [n for n in labelled if n not in names]
    if unknown:
        problems.add(
            "--labelled-classes",
            f"{unknown} are not output classes; choose among {names} (names after --labels)",
        )
    return [n for n in labelled if n in names]


def _check_unique_names(pages: list[SourcePage], problems: Problems) -> None:
    seen: dict[str, str] = {}
    for page in pages:
        if page.file_name in seen:
            problems.add(
                page.record,
                f"image {page.file_name!r} already used by {seen[page.file_name]}; "
                "each image may appear once",
            )
        seen.setdefault(page.file_name, page.record)


def _real_size(page: SourcePage, problems: Problems) -> tuple[int, int] | None:
    try:
        size = read_image_size(page.source)
    except OSError as exc:
        problems.add(page.record, f"cannot read image {page.source}: {exc}")
        return None
    if page.size is not None and (float(size[0]), float(size[1])) != tuple(page.size):
        w, h = page.size
        problems.add(
            page.record,
            f"export says {w:g}x{h:g} but image {page.source.name} is {size[0]}x{size[1]}",
        )
    return size


def _annotation(
    region: SourceRegion, size: tuple[int, int], problems: Problems, where: str
) -> dict[str, Any] | None:
    """COCO annotation fields (without ids) for a region, or None after recording problems."""
    w, h = size
    values = [v for p in region.polygons for v in p] + list(region.bbox or ())
    if not finite(*values):
        problems.add(where, "non-finite coordinate")
        return None
    if any(len(p) < 6 or len(p) % 2 for p in region.polygons):
        problems.add(where, "polygon needs at least 3 points")
        return None
    polygons = [_clip(p, w, h) for p in region.polygons]
    if any(p is None for p in polygons) or (region.bbox and _clip(list(region.bbox), w, h) is None):
        problems.add(where, f"coordinates outside the {w}x{h} image")
        return None
    polys = [p for p in polygons if p is not None]
    if region.bbox is not None:
        box = _clip(list(region.bbox), w, h) or list(region.bbox)
    elif polys:
        box = list(polygons_bbox(polys))
    else:
        problems.add(where, "region has neither a box nor a polygon")
        return None
    x0, y0, x1, y1 = (num(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        problems.add(where, f"zero-size box [{x0:g}, {y0:g}, {x1:g}, {y1:g}]")
        return None
    rounded = [[num(v) for v in p] for p in polys]
    if any(polygon_area(p) <= 0 for p in rounded):
        problems.add(where, "polygon has zero area")
        return None
    if region.rle is not None:
        seg: Any = region.rle
        area = region.area if region.area is not None else (x1 - x0) * (y1 - y0)
    else:
        seg = rounded or [rect_polygon(x0, y0, x1, y1)]
        area = sum(polygon_area(p) for p in seg)
    ann: dict[str, Any] = {"bbox": [x0, y0, num(x1 - x0), num(y1 - y0)], "area": num(area)}
    ann.update(segmentation=seg, iscrowd=0)
    ann.update({k: v for k, v in region.extra.items() if k not in _RESERVED})
    return ann


def _clip(flat: list[float], w: int, h: int) -> list[float] | None:
    """Clamp coordinates into the image; None if one overshoots beyond the tolerance."""
    tx, ty = CLIP_TOLERANCE * w, CLIP_TOLERANCE * h
    xs, ys = flat[0::2], flat[1::2]
    if min(xs) < -tx or max(xs) > w + tx or min(ys) < -ty or max(ys) > h + ty:
        return None
    return [min(max(v, 0.0), float(w if i % 2 == 0 else h)) for i, v in enumerate(flat)]


def _stage(page: SourcePage, staging: Path, link: bool) -> None:
    """Put the page image at ``staging/file_name`` (copy, or hard link when asked)."""
    dest = staging / page.file_name
    if dest.resolve() == page.source.resolve():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(page.source, dest)
            return
        except OSError:
            pass  # other filesystem or no hard links: copy instead
    shutil.copyfile(page.source, dest)
