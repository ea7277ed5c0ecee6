"""COCO detection files: reading, atomic writing, and the geometry helpers converters share.

A COCO dict has ``images`` (``id``, ``file_name`` relative to the images folder, ``width``,
``height`` in pixels), ``annotations`` (``id``, ``image_id``, ``category_id``, ``bbox`` as
``[x, y, w, h]`` in image pixels with a top-left origin, ``area`` in square pixels,
``segmentation`` as a list of flat polygons ``[x0, y0, x1, y1, ...]`` or an RLE dict,
``iscrowd``) and ``categories`` (``id``, ``name``, ``supercategory``).

Partial labels: an image may carry ``labelled_category_ids`` (:data:`LABELLED_KEY`), the
category ids labelled *exhaustively* on it (every instance of those classes is annotated;
other classes may be present unannotated). Absent, every category of the dataset is
labelled. LVIS's federated fields are read too (:func:`labelled_category_ids`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from layoutft.errors import DatasetError
from layoutft.outputs import atomic_path
from layoutft.schema import loads_json

#: How many problems a :class:`DatasetError` message lists before "... and N more".
MAX_LISTED = 20

#: Decimals kept for coordinates and areas written by the converters (1/1000 pixel).
DECIMALS = 3


class Problems:
    """Collects every bad record of one job, then raises them together.

    Each problem is one line naming the file and the record, e.g.
    ``export.json: task 12, result 'a1': percent x=104 outside [0, 100]``.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        """Record one problem; ``where`` names the file and record."""
        self.lines.append(f"{where}: {message}")

    def add_line(self, line: str) -> None:
        """Record a problem whose text already names its file (e.g. a RenderError message)."""
        self.lines.append(line)

    def __len__(self) -> int:
        return len(self.lines)

    def raise_if_any(self, what: str, fix: str = "") -> None:
        """Raise one :class:`DatasetError` listing the first problems, if there are any.

        Args:
            what: what was being done, e.g. ``"converting labelstudio export"``.
            fix: an optional closing sentence telling the user what to do.
        """
        if not self.lines:
            return
        raise DatasetError(format_problems(self.lines, what, fix))


#: Image field: category ids labelled exhaustively on that image (absent: all categories).
LABELLED_KEY = "labelled_category_ids"

#: LVIS's federated image fields: categories verified absent / not exhaustively annotated.
LVIS_NEG_KEY = "neg_category_ids"
LVIS_NOT_EXHAUSTIVE_KEY = "not_exhaustive_category_ids"

#: Image fields holding category ids that say what is labelled.
LABELLED_FIELDS = (LABELLED_KEY, LVIS_NEG_KEY, LVIS_NOT_EXHAUSTIVE_KEY)


def labelled_category_ids(image: dict[str, Any], annotated: Iterable[Any]) -> list[Any] | None:
    """Category ids labelled exhaustively on one image record, or None for "all of them".

    ``labelled_category_ids`` wins when present (returned as written, unchecked:
    :func:`layoutft.data.validate.validate_coco` checks it). Otherwise, when the image has
    LVIS's ``neg_category_ids`` and/or ``not_exhaustive_category_ids``, labelled is
    ``(annotated - not_exhaustive) | neg``: the classes annotated on it, minus those LVIS
    marks as not exhaustively annotated, plus those verified absent (sorted ids; entries
    that are not lists are read as empty).

    Args:
        image: a COCO image record.
        annotated: category ids of the image's annotations.
    """
    if LABELLED_KEY in image:
        value = image[LABELLED_KEY]
        return list(value) if isinstance(value, list) else value
    if LVIS_NEG_KEY not in image and LVIS_NOT_EXHAUSTIVE_KEY not in image:
        return None
    neg = image.get(LVIS_NEG_KEY)
    not_exhaustive = image.get(LVIS_NOT_EXHAUSTIVE_KEY)
    labelled = (set(_ids(list(annotated))) - set(_ids(not_exhaustive))) | set(_ids(neg))
    return sorted(labelled, key=_id_key)


def _ids(value: Any) -> list[Any]:
    """The hashable entries of a JSON list (anything else: none)."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, (int, float, str)) or v is None]


def _id_key(value: Any) -> tuple[int, float, str]:
    """Sort key putting integer ids first, ascending, then anything else by its repr."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, repr(value))


def format_problems(lines: Sequence[str], what: str, fix: str = "") -> str:
    """Summary line plus the first :data:`MAX_LISTED` problem lines."""
    count = len(lines)
    head = f"{count} problem{'s' if count != 1 else ''} {what}"
    body = [f"  {line}" for line in lines[:MAX_LISTED]]
    if count > MAX_LISTED:
        body.append(f"  ... and {count - MAX_LISTED} more")
    if fix:
        body.append(fix)
    return "\n".join([head + ":", *body])


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; a missing or malformed file raises a one-line :class:`DatasetError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    try:
        return loads_json(text, str(path))
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def load_coco(path: str | Path) -> dict[str, Any]:
    """Read a COCO file and check its top-level structure.

    Only the structure is checked here (a dict with ``images``, ``annotations`` and
    ``categories`` lists of objects); :func:`layoutft.data.validate.validate_coco` checks
    the records themselves and reports every problem at once.

    Raises:
        DatasetError: the file is missing, not JSON, or not shaped like COCO.
    """
    data = read_json(path)
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a COCO object, got a JSON {type(data).__name__}")
    problems = Problems()
    for key in ("images", "annotations", "categories"):
        value = data.get(key)
        if not isinstance(value, list):
            problems.add(str(path), f"top-level '{key}' must be a list, got {_kind(value)}")
            continue
        bad = [i for i, item in enumerate(value) if not isinstance(item, dict)]
        if bad:
            problems.add(str(path), f"'{key}' items {bad[:5]} are not objects")
    problems.raise_if_any(f"in COCO file {path}")
    return data


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (:func:`layoutft.outputs.atomic_path`)."""
    try:
        with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, allow_nan=False)
            fh.write("\n")
    except ValueError:  # NaN or infinity somewhere: JSON cannot hold it
        raise DatasetError(
            f"{path}: cannot write non-finite numbers (NaN/Infinity); "
            "run `layoutft validate --fix` on the input first"
        ) from None


def check_ids(coco: dict[str, Any], path: str | Path) -> None:
    """DatasetError naming the first image, category or annotation whose id (or
    ``image_id``/``category_id``) is not an integer or a string (a list, say), for readers
    that look records up by id."""
    fields = (("images", "image", ("id",)), ("categories", "category", ("id",)),
              ("annotations", "annotation", ("image_id", "category_id")))  # fmt: skip
    for key, what, names in fields:
        for n, record in enumerate(coco.get(key, []), 1):
            for name in names:
                value = record.get(name) if isinstance(record, dict) else None
                if not isinstance(value, int | str):
                    raise DatasetError(
                        f"{path}: {what} {n}: {name!r} must be an integer or a string, got "
                        f"{value!r}; run `layoutft validate` on it"
                    )


def write_coco(path: str | Path, coco: dict[str, Any]) -> None:
    """Write a COCO dict atomically (never a half-written file)."""
    write_json(path, coco)


def num(value: float) -> float:
    """A coordinate rounded to :data:`DECIMALS` (and never ``-0.0``)."""
    return round(float(value), DECIMALS) + 0.0


def polygon_area(flat: Sequence[float]) -> float:
    """Area (shoelace, absolute) of one flat polygon ``[x0, y0, x1, y1, ...]`` in pixels²."""
    xs, ys = flat[0::2], flat[1::2]
    n = len(xs)
    twice = sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))
    return abs(twice) / 2.0


def polygons_bbox(polygons: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """XYXY bounding box of flat polygons (at least one point overall)."""
    xs = [x for p in polygons for x in p[0::2]]
    ys = [y for p in polygons for y in p[1::2]]
    return min(xs), min(ys), max(xs), max(ys)


def rect_polygon(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """The rectangle XYXY as one flat polygon, clockwise from the top-left corner."""
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def default_images_dir(coco_path: Path, coco: dict[str, Any]) -> Path:
    """The COCO file's folder, or its ``images/`` subfolder when the files are there."""
    first = next((img.get("file_name") for img in coco.get("images", [])), None)
    nested = coco_path.parent / "images"
    if first and not (coco_path.parent / first).exists() and (nested / first).exists():
        return nested
    return coco_path.parent
