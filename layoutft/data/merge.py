"""Several COCO datasets as one: for training on a mix (stage 1 data plus new pages, a
public set plus your own, several sources for a new default model).

Categories are matched by name (ids renumbered in first-seen order, or in the order given
as ``categories``); image and annotation ids are renumbered; each image's ``file_name``
becomes its path relative to the merged file's folder, so the merged file finds every
input's images without copying them.

Every merged image records its input in a ``"source"`` field: the name given for that
input, else the ``source`` the image already had (a merged file merged again keeps its
sources), else the input file's stem (``data.json`` -> ``data``), with as many parent
folders as it takes to tell inputs apart (``a/train/annotations``,
``b/train/annotations``). Training can balance the sources
(``LAYOUTFT.DATALOADER.SAMPLER_TRAIN: SourceBalancedSampler``).

Partial labels: an input whose categories are only some of the merged ones labels only
those (a table-only set says nothing about text). Its images get ``labelled_category_ids``
(:data:`layoutft.data.coco.LABELLED_KEY`) naming its categories, so training does not take
its unlabelled text for background; images that already say what they label keep it, with
ids renumbered like the categories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layoutft.data.coco import load_coco
from layoutft.data.loader import default_images_dir
from layoutft.errors import DatasetError

#: Image field naming the input dataset an image came from.
SOURCE_KEY = "source"
#: Image field: category ids labelled exhaustively on the image (absent: all of them).
LABELLED_KEY = "labelled_category_ids"
#: Image fields holding category ids (LVIS's federated fields too), renumbered by the merge.
ID_LIST_KEYS = (LABELLED_KEY, "neg_category_ids", "not_exhaustive_category_ids")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@dataclass(frozen=True)
class MergeInput:
    """One input: its COCO file, its images folder (None: next to the file, or its
    ``images/``), and the source name of its images (None: see the module doc)."""

    coco: Path
    images: Path | None = None
    name: str | None = None


@dataclass
class MergeResult:
    """The merged COCO dict, per input the image count and source name, and per input the
    category names its images were marked as labelling only (empty: all of them)."""

    coco: dict[str, Any]
    counts: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    partial: list[list[str]] = field(default_factory=list)


def default_names(paths: Sequence[Path]) -> list[str]:
    """Each path without its suffix, shortened to the fewest trailing parts that still tell
    the paths apart (``["a/x.json", "b/y.json"]`` -> ``["x", "y"]``)."""
    parts = [Path(p).with_suffix("").parts for p in paths]
    for k in range(1, max((len(p) for p in parts), default=1) + 1):
        names = ["/".join(p[-k:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    return ["/".join(p) for p in parts]  # the same file twice: one source


def check_source_name(name: str) -> str:
    """``name`` when it is a usable source name (letters, digits, ``._-/``), else DatasetError."""
    if not _NAME.match(name):
        raise DatasetError(
            f"merge: source name {name!r} must start with a letter or digit and hold only "
            "letters, digits and . _ - /"
        )
    return name


def merge_coco(
    inputs: Sequence[MergeInput], out: Path, categories: Sequence[str] | None = None
) -> MergeResult:
    """Merge the inputs into one COCO dict meant to be written at ``out``.

    ``categories``: names taking the first ids in this order (a class no input has is
    still listed, so the model's class list is fixed); other names follow in first-seen
    order. Raises DatasetError when an input has no images, an image is missing, or an
    image's category id list names a category its input does not have.
    """
    if not inputs:
        raise DatasetError("merge: give at least one COCO file")
    names: dict[str, int] = {}
    for name in categories or []:
        names.setdefault(name, len(names) + 1)
    cat_records: dict[int, dict[str, Any]] = {}
    merged: dict[str, Any] = {"images": [], "annotations": [], "categories": []}
    result = MergeResult(merged)
    defaults = default_names([i.coco for i in inputs])
    missing: list[str] = []
    bad_ids: list[str] = []
    own_cats: list[set[int]] = []
    first_image: list[int] = []
    for item, default in zip(inputs, defaults, strict=True):
        path = item.coco
        coco = load_coco(path)
        root = item.images if item.images is not None else default_images_dir(path, coco)
        name = check_source_name(item.name) if item.name is not None else default
        cat_map = {}
        for cat in coco.get("categories", []):
            cat_name = str(cat["name"])
            new_id = names.setdefault(cat_name, len(names) + 1)
            cat_records.setdefault(new_id, {**cat, "id": new_id})
            cat_map[cat["id"]] = new_id
        own_cats.append(set(cat_map.values()))
        first_image.append(len(merged["images"]))
        image_map = {}
        for img in coco.get("images", []):
            source = root / img["file_name"]
            if not source.is_file():
                missing.append(str(source))
            image_map[img["id"]] = len(merged["images"]) + 1
            relative = os.path.relpath(source.resolve(), out.parent.resolve())
            record = {**img, "id": image_map[img["id"]], "file_name": Path(relative).as_posix()}
            if item.name is not None or not isinstance(img.get(SOURCE_KEY), str):
                record[SOURCE_KEY] = name
            for key in ID_LIST_KEYS:
                if isinstance(img.get(key), list):
                    unknown = [c for c in img[key] if c not in cat_map]
                    if unknown:
                        bad_ids.append(f"{path} image {img['id']} {key} {unknown}")
                    record[key] = sorted(cat_map[c] for c in img[key] if c in cat_map)
            merged["images"].append(record)
        for ann in coco.get("annotations", []):
            merged["annotations"].append(
                {
                    **ann,
                    "id": len(merged["annotations"]) + 1,
                    "image_id": image_map[ann["image_id"]],
                    "category_id": cat_map[ann["category_id"]],
                }
            )
        result.counts.append(len(image_map))
        result.names.append(name)
    _raise_problems(missing, bad_ids)
    if not merged["images"]:
        raise DatasetError("merge: the inputs have no images")
    merged["categories"] = [
        cat_records.get(i, {"id": i, "name": n, "supercategory": ""}) for n, i in names.items()
    ]
    by_id = {i: n for n, i in names.items()}
    ends = [*first_image[1:], len(merged["images"])]
    for own, start, end in zip(own_cats, first_image, ends, strict=True):
        partial = len(own) < len(names)
        result.partial.append([by_id[i] for i in sorted(own)] if partial else [])
        if partial:
            _mark_labelled(merged["images"][start:end], sorted(own))
    return result


def _mark_labelled(images: list[dict[str, Any]], ids: list[int]) -> None:
    """Images that do not say which classes they label get ``ids`` (their input's classes)."""
    for img in images:
        if not any(key in img for key in ID_LIST_KEYS):
            img[LABELLED_KEY] = list(ids)


def _raise_problems(missing: list[str], bad_ids: list[str]) -> None:
    if missing:
        raise DatasetError(
            f"merge: {len(missing)} images not found ({_few(missing)}); pass the images "
            "folder as FILE.json:IMAGES_DIR"
        )
    if bad_ids:
        raise DatasetError(
            f"merge: {len(bad_ids)} images list category ids their file does not define "
            f"({_few(bad_ids)}); fix those fields or the categories"
        )


def _few(items: list[str]) -> str:
    more = f" and {len(items) - 3} more" if len(items) > 3 else ""
    return ", ".join(items[:3]) + more
