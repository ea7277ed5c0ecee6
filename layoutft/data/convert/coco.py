"""Re-read COCO files (incl. PubLayNet and DocLayNet) into a fresh, validated COCO dataset.

Inputs: one or more COCO JSON files. Images are looked up by ``file_name`` in ``--images``,
then next to the JSON, in ``images/`` and in a folder named like the JSON (PubLayNet's
``train.json`` + ``train/``). Extra fields are kept: image fields (DocLayNet's
``doc_category``, ``collection``, ``doc_name``, ``page_no``, ...), annotation fields
(``iscrowd``, DocLayNet's ``precedence``, ...) and the top-level ``info``/``licenses``.
``bbox`` and polygon ``segmentation`` are kept (clipped if slightly outside, rounded);
``area`` is recomputed; RLE segmentations are kept as they are with their ``area``.
An image's ``labelled_category_ids`` (or LVIS's ``neg_category_ids`` /
``not_exhaustive_category_ids``, see :func:`layoutft.data.coco.labelled_category_ids`)
becomes the page's labelled labels, written again with the output's category ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from layoutft.data.coco import LABELLED_FIELDS, Problems, labelled_category_ids, load_coco
from layoutft.data.convert.common import (
    ReadOptions,
    SourceDataset,
    SourcePage,
    SourceRegion,
    locate_image,
)
from layoutft.data.validate import bbox_of, is_number, labelled_problem, polygons_of
from layoutft.errors import DatasetError

_IMAGE_KEYS = {"id", "file_name", "width", "height", *LABELLED_FIELDS}
_ANN_KEYS = {"id", "image_id", "category_id", "bbox", "area", "segmentation"}


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read COCO files; see the module docstring."""
    dataset = SourceDataset()
    for path in inputs:
        try:
            coco = load_coco(path)
        except DatasetError as exc:
            lines = str(exc).splitlines()
            for line in lines[1:] if len(lines) > 1 else lines:
                problems.add_line(line.strip())
            continue
        names = _categories(coco, path, dataset, problems)
        pages = _pages(coco, path, options, problems)
        on_image: dict[Any, list[Any]] = {}
        for ann in coco["annotations"]:
            if _hashable(ann.get("image_id")):
                on_image.setdefault(ann.get("image_id"), []).append(ann.get("category_id"))
            region = _region(ann, names, path, problems)
            page = pages.get(ann.get("image_id")) if _hashable(ann.get("image_id")) else None
            if region is None:
                continue
            if page is None:
                problems.add(f"{path}: annotation id={ann.get('id')!r}", "unknown image_id")
                continue
            page.regions.append(region)
        _labelled(coco, pages, on_image, names, path, problems)
        dataset.pages += pages.values()
        for key in ("info", "licenses"):
            if key in coco:
                dataset.extra.setdefault(key, coco[key])
    return dataset


def _categories(
    coco: dict[str, Any], path: Path, dataset: SourceDataset, problems: Problems
) -> dict[Any, str]:
    names: dict[Any, str] = {}
    for cat in sorted(coco["categories"], key=_id_order):
        cid, name = cat.get("id"), cat.get("name")
        if not isinstance(name, str) or cid is None or not _hashable(cid) or cid in names:
            problems.add(f"{path}: category id={cid!r}", "needs a unique 'id' and a 'name'")
            continue
        names[cid] = name
        if name not in dataset.labels:
            dataset.labels.append(name)
        if isinstance(cat.get("supercategory"), str):
            dataset.supercategories.setdefault(name, cat["supercategory"])
    return names


def _hashable(value: Any) -> bool:
    """Whether ``value`` can be an id (a malformed one may be a list or a dict)."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _labelled(
    coco: dict[str, Any],
    pages: dict[Any, SourcePage],
    on_image: dict[Any, list[Any]],
    names: dict[Any, str],
    path: Path,
    problems: Problems,
) -> None:
    """Set each page's labelled labels from its image record's fields."""
    for img in coco["images"]:
        page = pages.get(img.get("id")) if _hashable(img.get("id")) else None
        if page is None:
            continue
        where = f"{path}: image id={img.get('id')!r}"
        bad = [k for k in LABELLED_FIELDS if k in img and labelled_problem(img[k], names)]
        for key in bad:
            problems.add(where, f"'{key}' {labelled_problem(img[key], names)}")
        ids = None if bad else labelled_category_ids(img, on_image.get(img.get("id"), []))
        if ids is not None:
            page.labelled = [names[c] for c in ids if c in names]


def _id_order(record: dict[str, Any]) -> tuple[bool, int]:
    """Sort key: integer ids ascending, others last in file order."""
    rid = record.get("id")
    return (False, rid) if isinstance(rid, int) else (True, 0)


def _pages(
    coco: dict[str, Any], path: Path, options: ReadOptions, problems: Problems
) -> dict[Any, SourcePage]:
    dirs = [*options.search_dirs(path), path.parent / path.stem]
    pages: dict[Any, SourcePage] = {}
    for img in coco["images"]:
        where = f"{path}: image id={img.get('id')!r}"
        iid, ref = img.get("id"), img.get("file_name")
        if iid is None or not _hashable(iid) or iid in pages or not isinstance(ref, str):
            problems.add(where, "needs a unique 'id' and a 'file_name'")
            continue
        found = locate_image(ref, dirs, problems, where)
        if found is None:
            continue
        w, h = img.get("width"), img.get("height")
        size = (float(w), float(h)) if is_number(w) and is_number(h) else None
        extra = {k: v for k, v in img.items() if k not in _IMAGE_KEYS}
        pages[iid] = SourcePage(found[1], found[0], f"{where} ({ref})", size=size, extra=extra)
    return pages


def _region(
    ann: dict[str, Any], names: dict[Any, str], path: Path, problems: Problems
) -> SourceRegion | None:
    where = f"{path}: annotation id={ann.get('id')!r}"
    cid = ann.get("category_id")
    name = names.get(cid) if _hashable(cid) else None
    bbox = bbox_of(ann)
    seg = ann.get("segmentation")
    polys = polygons_of(ann)
    if name is None:
        problems.add(where, f"unknown category_id {ann.get('category_id')!r}")
        return None
    if bbox is None:
        problems.add(where, "'bbox' must be 4 numbers [x, y, w, h]")
        return None
    if polys is None and not (isinstance(seg, dict) and "counts" in seg and "size" in seg):
        problems.add(where, "'segmentation' must be polygons or an RLE dict")
        return None
    x, y, w, h = bbox
    extra = {k: v for k, v in ann.items() if k not in _ANN_KEYS}
    region = SourceRegion(name, f"annotation id={ann.get('id')!r}", bbox=(x, y, x + w, y + h))
    region.extra = extra
    if isinstance(seg, dict):
        region.rle = seg
        area = ann.get("area")
        region.area = float(area) if is_number(area) else None
    else:
        region.polygons = polys or []
    return region
