"""VGG Image Annotator (VIA) 2.x JSON: a saved project or the exported annotations.

A project file holds the images under ``_via_img_metadata`` (and the label options under
``_via_attributes``, which then fix the category order); the plain export is that dict
itself: ``{"<filename><size>": {"filename", "size", "regions", "file_attributes"}}``.
Regions: ``shape_attributes`` ``rect`` (``x, y, width, height``) or ``polygon``
(``all_points_x``, ``all_points_y``), pixels; other shapes are skipped and counted in a note.
The label is the ``region_attributes`` value under ``--label-key`` (default: the region's
first attribute); a checkbox attribute (a dict) must have exactly one option set. VIA stores no
image size, so images are measured from the files.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from layoutft.data.coco import Problems
from layoutft.data.convert.common import (
    ReadOptions,
    SourceDataset,
    SourcePage,
    SourceRegion,
    locate_image,
    parse_json,
    to_float,
)


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read VIA 2.x JSON files; see the module docstring."""
    dataset = SourceDataset()
    for path in inputs:
        what = "a VIA project or annotation export (a JSON object)"
        data = parse_json(path, problems, dict, what)
        if data is None:
            continue
        meta = data.get("_via_img_metadata", data)
        dataset.labels += [n for n in _declared(data, options.label_key) if n not in dataset.labels]
        skipped: Counter[str] = Counter()
        for key, entry in meta.items() if isinstance(meta, dict) else []:
            page = _entry(entry, key, path, options, problems, skipped)
            if page is not None:
                dataset.pages.append(page)
        if skipped:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items()))
            dataset.notes.append(f"{path}: skipped unsupported shapes: {kinds}")
    return dataset


def _declared(data: dict[str, Any], key: str | None) -> list[str]:
    """Label options declared in a project's ``_via_attributes.region``."""
    attrs = (data.get("_via_attributes") or {}).get("region") or {}
    if not isinstance(attrs, dict) or not attrs:
        return []
    attr = attrs.get(key) if key else next(iter(attrs.values()))
    options = attr.get("options") if isinstance(attr, dict) else None
    return [str(o) for o in options] if isinstance(options, dict) else []


def _entry(
    entry: Any,
    key: str,
    path: Path,
    options: ReadOptions,
    problems: Problems,
    skipped: Counter[str],
) -> SourcePage | None:
    where = f"{path}: {key!r}"
    if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
        problems.add(where, "entry needs a 'filename'")
        return None
    found = locate_image(entry["filename"], options.search_dirs(path), problems, where)
    if found is None:
        return None
    page = SourcePage(found[1], found[0], where)
    regions = entry.get("regions") or []
    if isinstance(regions, dict):  # VIA 1.x kept regions in a dict keyed "0", "1", ...
        regions = list(regions.values())
    for index, region in enumerate(regions):
        record = f"region {index}"
        if not isinstance(region, dict):
            problems.add(f"{where}, {record}", "region must be an object")
            continue
        shape = region.get("shape_attributes") or {}
        kind = shape.get("name") if isinstance(shape, dict) else None
        if kind not in ("rect", "polygon"):
            skipped[str(kind)] += 1
            continue
        label, problem = _label(region.get("region_attributes"), options.label_key)
        if label is None:
            problems.add(f"{where}, {record}", problem)
            continue
        out = SourceRegion(label, record)
        if _geometry(shape, out, f"{where}, {record}", problems):
            page.regions.append(out)
    return page


def _label(attrs: Any, key: str | None) -> tuple[str | None, str]:
    """``(label, "")``, or ``(None, problem)`` when no single label can be read."""
    if not isinstance(attrs, dict) or not attrs:
        return None, "region has no region_attributes to take the label from"
    if key is not None and key not in attrs:
        return None, f"region_attributes has no key {key!r} (has {sorted(attrs)}); see --label-key"
    value = attrs[key] if key is not None else next(iter(attrs.values()))
    if isinstance(value, dict):  # checkbox: {"option": true, ...}
        chosen = [k for k, v in value.items() if v]
        if len(chosen) != 1:
            return None, f"expected one checked option, got {chosen}"
        return chosen[0], ""
    if not isinstance(value, str) or not value.strip():
        return None, f"empty label {value!r}"
    return value.strip(), ""


def _geometry(shape: dict[str, Any], out: SourceRegion, where: str, problems: Problems) -> bool:
    if shape["name"] == "rect":
        vals = [to_float(shape.get(k)) for k in ("x", "y", "width", "height")]
        if any(v is None for v in vals):
            problems.add(where, "rect needs numeric x, y, width, height")
            return False
        x, y, w, h = (float(v or 0.0) for v in vals)
        out.bbox = (x, y, x + w, y + h)
        return True
    xs, ys = shape.get("all_points_x"), shape.get("all_points_y")
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        problems.add(where, "polygon needs all_points_x and all_points_y of equal length")
        return False
    flat = [to_float(v) for pair in zip(xs, ys, strict=True) for v in pair]
    if any(v is None for v in flat):
        problems.add(where, "polygon has non-numeric points")
        return False
    out.polygons = [[float(v or 0.0) for v in flat]]
    return True
