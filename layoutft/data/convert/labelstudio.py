"""Label Studio JSON export (a list of tasks), ``rectanglelabels`` and ``polygonlabels``.

Per task: the image is ``data["image"]`` (else the first string in ``data``), found in
``--images`` by path, base name, or base name without Label Studio's upload prefix. The
first annotation that is not cancelled is used; a task without annotations is skipped
(noted), unless ``predictions`` is set (``convert --predictions``): then its first prediction
is used (pre-annotations, e.g. ``layoutft parse --format labelstudio``; noted). Predictions
are never used for a task that has an annotation. A task whose annotation has no regions is
an empty page.

Coordinates are percent of ``original_width``/``original_height`` (checked against the image
file). A rectangle's ``rotation`` (degrees, clockwise on screen, around its top-left corner
``(x, y)``) is honored: the region is the rotated rectangle's polygon and its bounding box.
Results with a non-zero ``image_rotation`` are rejected (re-export without rotating the image).
Errors name a task by its id (``task id 17``), else by position (``task #3 (no id)``).
"""

from __future__ import annotations

import math
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

_KINDS = ("rectanglelabels", "polygonlabels")


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read Label Studio JSON exports; see the module docstring."""
    dataset = SourceDataset()
    for path in inputs:
        what = "a JSON list of tasks (Label Studio 'JSON' export)"
        tasks = parse_json(path, problems, list, what)
        if tasks is None:
            continue
        skipped = predicted = unused = 0
        other: Counter[str] = Counter()
        for index, task in enumerate(tasks):
            page = _task(task, index, path, options, problems, other)
            if isinstance(task, dict) and not _annotation(task):
                if page is None and not _annotation(task, options.predictions):
                    skipped += 1
                    unused += _annotation(task, True) is not None
                elif page is not None:
                    predicted += 1
            if page is not None:
                dataset.pages.append(page)
        if skipped:
            hint = f" ({unused} with predictions: --predictions uses them)" if unused else ""
            dataset.notes.append(f"{path}: skipped {skipped} task(s) without annotations{hint}")
        if predicted:
            dataset.notes.append(
                f"{path}: {predicted} task(s) without annotations read from their prediction"
            )
        if other:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(other.items()))
            dataset.notes.append(f"{path}: skipped unsupported results: {kinds}")
    return dataset


def _annotation(task: dict[str, Any], predictions: bool = False) -> dict[str, Any] | None:
    """The first annotation that is not cancelled; with ``predictions``, when there is none,
    the first prediction."""
    for ann in task.get("annotations") or []:
        if isinstance(ann, dict) and not ann.get("was_cancelled"):
            return ann
    if predictions:
        for pred in task.get("predictions") or []:
            if isinstance(pred, dict):
                return pred
    return None


def task_name(task: Any, index: int) -> str:
    """How errors name a task: ``task id 17`` (its Label Studio id) when it has one, else
    ``task #3 (no id)``, its 1-based position in the export."""
    tid = task.get("id") if isinstance(task, dict) else None
    return f"task #{index + 1} (no id)" if tid is None else f"task id {tid}"


def _task(
    task: Any,
    index: int,
    path: Path,
    options: ReadOptions,
    problems: Problems,
    other: Counter[str],
) -> SourcePage | None:
    where = f"{path}: {task_name(task, index)}"
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        hint = ""
        if isinstance(task, dict) and "data" not in task and "image" in task:
            hint = " (this looks like a 'JSON-MIN' export: export the project as 'JSON')"
        problems.add(where, f"a task needs a 'data' object{hint}")
        return None
    ann = _annotation(task, options.predictions)
    if ann is None:
        return None
    data = task["data"]
    ref = data.get("image")
    if not isinstance(ref, str):
        ref = next((v for v in data.values() if isinstance(v, str)), None)
    if ref is None:
        problems.add(where, "'data' names no image")
        return None
    found = locate_image(ref, options.search_dirs(path), problems, where)
    if found is None:
        return None
    page = SourcePage(found[1], found[0], where)
    for result in ann.get("result") or []:
        kind = result.get("type") if isinstance(result, dict) else None
        if isinstance(kind, str) and kind.endswith("labels") and kind not in _KINDS:
            other[kind] += 1  # brush masks, keypoints...: region-like but not convertible
        region = _result(result, page, problems)
        if region is not None:
            page.regions.append(region)
    return page


def _result(result: Any, page: SourcePage, problems: Problems) -> SourceRegion | None:
    if not isinstance(result, dict) or result.get("type") not in _KINDS:
        return None  # choices, text areas, relations...: not regions
    kind = result["type"]
    where = f"{page.record}, result {result.get('id')!r}"
    value = result.get("value")
    w, h = to_float(result.get("original_width")), to_float(result.get("original_height"))
    if not isinstance(value, dict) or w is None or h is None:
        problems.add(where, "needs 'value', 'original_width' and 'original_height'")
        return None
    if page.size is not None and page.size != (w, h):
        problems.add(where, f"original size {w:g}x{h:g} differs from other results")
        return None
    page.size = (w, h)
    if to_float(result.get("image_rotation")) not in (None, 0.0):
        problems.add(where, "image_rotation is not supported; export without rotating the image")
        return None
    labels = value.get(kind)
    if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
        problems.add(where, f"'{kind}' must hold exactly one label, got {labels!r}")
        return None
    record = f"result {result.get('id')!r}"
    if kind == "rectanglelabels":
        polygon = _rectangle(value, w, h, where, problems)
    else:
        polygon = _polygon(value, w, h, where, problems)
    if polygon is None:
        return None
    return SourceRegion(labels[0], record, polygons=[polygon])


def _percent(values: list[float | None], where: str, problems: Problems) -> bool:
    for v in values:
        if v is None:
            problems.add(where, "missing or non-numeric coordinate")
            return False
        if not 0.0 <= v <= 100.0:
            problems.add(where, f"percent value {v:g} outside [0, 100]")
            return False
    return True


def _rectangle(
    value: dict[str, Any], w: float, h: float, where: str, problems: Problems
) -> list[float] | None:
    """The rectangle's 4 corners in pixels, rotated about the top-left corner."""
    x, y, bw, bh = (to_float(value.get(k)) for k in ("x", "y", "width", "height"))
    if not _percent([x, y, bw, bh], where, problems):
        return None
    assert x is not None and y is not None and bw is not None and bh is not None
    x0, y0, rw, rh = x * w / 100, y * h / 100, bw * w / 100, bh * h / 100
    theta = math.radians(to_float(value.get("rotation")) or 0.0)
    cos, sin = math.cos(theta), math.sin(theta)
    corners = [(0.0, 0.0), (rw, 0.0), (rw, rh), (0.0, rh)]
    if theta == 0.0:
        return [c for dx, dy in corners for c in (x0 + dx, y0 + dy)]
    # y points down, so a positive angle turns clockwise on screen.
    return [c for dx, dy in corners for c in (x0 + dx * cos - dy * sin, y0 + dx * sin + dy * cos)]


def _polygon(
    value: dict[str, Any], w: float, h: float, where: str, problems: Problems
) -> list[float] | None:
    points = value.get("points")
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
        problems.add(where, "'points' must be a list of [x, y] percent pairs")
        return None
    flat = [to_float(v) for p in points for v in p]
    if not _percent(flat, where, problems):
        return None
    return [float(v or 0.0) * (w if i % 2 == 0 else h) / 100 for i, v in enumerate(flat)]
