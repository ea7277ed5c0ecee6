"""Check a COCO dataset and report every problem at once; optionally repair what is safe.

Error kinds (``layoutft validate`` exits 1 when any is present): ``malformed`` (missing or
mistyped field), ``duplicate_id``, ``missing_image``, ``unreadable_image``, ``size_mismatch``
(declared width/height differ from the file's), ``unknown_image``, ``unknown_category``,
``non_finite``, ``degenerate_box`` (zero or negative width/height), ``box_outside`` (box or
polygon beyond the image by more than :data:`TOLERANCE` pixels), ``empty_segmentation``,
``bad_labelled`` (an image's ``labelled_category_ids`` — or LVIS's ``neg_category_ids`` /
``not_exhaustive_category_ids`` — is not a list of distinct known integer category ids).
Warnings: ``empty_page`` (an image without regions — valid, reported for information),
``box_only`` (no segmentation: detection-only data; training uses the box as the mask),
``unused_category`` and ``unlabelled_annotation`` (an annotation of a class its image does not
label exhaustively: it still trains as an object of that class, but the image's other
instances of the class are not expected to be annotated).

Partial labels (see :mod:`layoutft.data.coco`): the report counts images per set of labelled
classes (:attr:`ValidationReport.labelled_sets`) and keeps each image's set.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from layoutft.data.coco import LABELLED_FIELDS, labelled_category_ids

#: Pixels a box may exceed the image by before it counts as outside (float rounding).
TOLERANCE = 1e-3

WARNING_KINDS = frozenset(
    {"empty_page", "box_only", "unused_category", "crowded_page", "unlabelled_annotation"}
)
#: Regions per page that training keeps (the largest; see layoutft.engine.setup.cap_regions):
#: matching anchors to regions takes memory proportional to their number.
MAX_REGIONS_PER_IMAGE = 1000

#: :attr:`ValidationReport.labelled_sets` key of the images that label every category.
ALL_LABELLED = "(all)"


@dataclass(frozen=True)
class Issue:
    """One problem: its kind, the record (``"annotation id=7"``) and a one-line message."""

    kind: str
    record: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.kind not in WARNING_KINDS

    def __str__(self) -> str:
        return f"{self.record}: {self.message}"


@dataclass
class ValidationReport:
    """Aggregated result of :func:`validate_coco`.

    Attributes:
        issues: every problem found, in record order.
        num_images, num_annotations, num_categories: record counts of the input.
        class_counts: annotations per category name (category order).
        class_images: images containing each category name.
        labelled_sets: images per set of labelled classes (names joined by ", " in category
            order; :data:`ALL_LABELLED` for images labelling every category).
        labelled_by_image: per image id, the names of its labelled classes, for the images
            that do not label every category.
        images_dir: the folder image files were looked for in (None: files not checked).
    """

    issues: list[Issue] = field(default_factory=list)
    num_images: int = 0
    num_annotations: int = 0
    num_categories: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    class_images: dict[str, int] = field(default_factory=dict)
    labelled_sets: dict[str, int] = field(default_factory=dict)
    labelled_by_image: dict[Any, list[str]] = field(default_factory=dict)
    images_dir: str | None = None

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if not i.is_error]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Number of issues per kind, sorted by kind."""
        return dict(sorted(Counter(i.kind for i in self.issues).items()))

    def format_labelled(self, images: list[dict[str, Any]]) -> str:
        """One line per image that does not label every class: id, file and its classes."""
        lines = []
        for img in images:
            names = self.labelled_by_image.get(img.get("id"))
            if names is not None:
                lines.append(f"{_image_record(img)}: {', '.join(names) or '(none)'}")
        return "\n".join(lines or ["every image labels every class"])

    def format(self, max_per_kind: int = 5) -> str:
        """Human-readable report: totals, per-class table, issues grouped by kind."""
        lines = [
            f"{self.num_images} images, {self.num_annotations} annotations, "
            f"{self.num_categories} categories",
            "annotations per class (images):",
        ]
        width = max((len(n) for n in self.class_counts), default=0)
        for name, count in self.class_counts.items():
            lines.append(f"  {name:<{width}}  {count:>7} ({self.class_images.get(name, 0)})")
        if self.labelled_by_image:  # only datasets with partial labels get this section
            lines.append("labelled classes (images):")
            for names, count in self.labelled_sets.items():
                lines.append(f"  {names or '(none)'}: {count}")
        for kind, count in self.counts().items():
            level = "warning" if kind in WARNING_KINDS else "error"
            lines.append(f"{level} {kind}: {count}")
            shown = [i for i in self.issues if i.kind == kind][:max_per_kind]
            lines += [f"  {issue}" for issue in shown]
            if count > len(shown):
                lines.append(f"  ... and {count - len(shown)} more")
        missing = self.counts().get("missing_image", 0)
        if self.num_images and missing == self.num_images:
            lines.append(
                f"none of the {missing} images is in {self.images_dir} (file_name is read "
                "relative to it); pass --images DIR, the folder holding the images"
            )
        n_err, n_warn = len(self.errors), len(self.warnings)
        lines.append("OK" if self.ok else f"{n_err} errors, {n_warn} warnings")
        return "\n".join(lines)


def read_image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image file from its header (no pixel decoding).

    Raises:
        OSError: missing or unreadable file (PIL's UnidentifiedImageError is an OSError).
    """
    from PIL import Image

    with Image.open(path) as im:
        return int(im.width), int(im.height)


def is_number(value: Any) -> TypeGuard[float]:
    """A JSON number (bools excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def bbox_of(ann: dict[str, Any]) -> list[float] | None:
    """The annotation's ``bbox`` as 4 numbers, or None if malformed."""
    bbox = ann.get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox):
        return [float(v) for v in bbox]
    return None


def polygons_of(ann: dict[str, Any]) -> list[list[float]] | None:
    """Polygon segmentation as float lists, [] if absent/empty, None for RLE or malformed."""
    seg = ann.get("segmentation")
    if seg is None or seg == []:
        return []
    if not isinstance(seg, list):
        return None
    if not all(isinstance(p, list) and all(is_number(v) for v in p) for p in seg):
        return None
    return [[float(v) for v in p] for p in seg]


def _image_record(img: dict[str, Any]) -> str:
    return f"image id={img.get('id')!r} ({img.get('file_name')!r})"


def image_sizes(
    images: list[dict[str, Any]], images_dir: Path | None, issues: list[Issue]
) -> dict[Any, tuple[float, float] | None]:
    """Check image records (and files when ``images_dir`` is given); size to check boxes by id.

    The size is the real one when the file was read, else the declared one, else None.
    """
    sizes: dict[Any, tuple[float, float] | None] = {}
    seen: set[Any] = set()
    for img in images:
        rec = _image_record(img)
        iid, name = _key(img.get("id")), img.get("file_name")
        w, h = img.get("width"), img.get("height")
        if not isinstance(iid, int) or isinstance(iid, bool):
            issues.append(Issue("malformed", rec, "'id' must be an integer"))
        elif iid in seen:
            issues.append(Issue("duplicate_id", rec, f"image id {iid} used more than once"))
        seen.add(iid)
        declared = (float(w), float(h)) if is_number(w) and is_number(h) else None
        if declared is None or not all(math.isfinite(v) and v > 0 for v in declared):
            issues.append(Issue("malformed", rec, "'width'/'height' must be positive numbers"))
            declared = None
        size = declared
        if not isinstance(name, str) or not name:
            issues.append(Issue("malformed", rec, "'file_name' must be a non-empty string"))
        elif images_dir is not None:
            size = _check_file(images_dir / name, declared, rec, issues) or declared
        sizes.setdefault(iid, size)
    return sizes


def _check_file(
    path: Path, declared: tuple[float, float] | None, rec: str, issues: list[Issue]
) -> tuple[float, float] | None:
    if not path.is_file():
        issues.append(Issue("missing_image", rec, f"file not found: {path}"))
        return None
    try:
        real = read_image_size(path)
    except OSError as exc:
        issues.append(Issue("unreadable_image", rec, f"cannot read {path}: {exc}"))
        return None
    if declared is not None and (declared[0], declared[1]) != (float(real[0]), float(real[1])):
        issues.append(
            Issue(
                "size_mismatch",
                rec,
                f"declared {declared[0]:g}x{declared[1]:g}, file is {real[0]}x{real[1]}",
            )
        )
    return float(real[0]), float(real[1])


def check_annotation(
    ann: dict[str, Any],
    sizes: dict[Any, tuple[float, float] | None],
    categories: dict[Any, str],
) -> list[Issue]:
    """Every problem of one annotation record."""
    rec = f"annotation id={ann.get('id')!r} (image {ann.get('image_id')!r})"
    issues: list[Issue] = []
    if _key(ann.get("image_id")) not in sizes:
        issues.append(Issue("unknown_image", rec, f"image_id {ann.get('image_id')!r} not found"))
    if _key(ann.get("category_id")) not in categories:
        cid = ann.get("category_id")
        issues.append(Issue("unknown_category", rec, f"category_id {cid!r} not found"))
    bbox = bbox_of(ann)
    size = sizes.get(_key(ann.get("image_id")))
    if bbox is None:
        issues.append(Issue("malformed", rec, "'bbox' must be 4 numbers [x, y, w, h]"))
    elif not all(math.isfinite(v) for v in bbox):
        issues.append(Issue("non_finite", rec, f"bbox {bbox} has non-finite values"))
    else:
        x, y, w, h = bbox
        if w <= 0 or h <= 0:
            issues.append(Issue("degenerate_box", rec, f"bbox {bbox} has zero or negative size"))
        elif size is not None and _outside([x, y, x + w, y + h], size):
            issues.append(
                Issue("box_outside", rec, f"bbox {bbox} outside the {size[0]:g}x{size[1]:g} image")
            )
            size = None  # one box_outside per annotation is enough
    if "area" in ann and (not is_number(ann["area"]) or not math.isfinite(ann["area"])):
        issues.append(Issue("non_finite", rec, f"area {ann['area']!r} is not a finite number"))
    issues += _check_segmentation(ann, rec, size)
    return issues


def _check_segmentation(
    ann: dict[str, Any], rec: str, size: tuple[float, float] | None
) -> list[Issue]:
    seg = ann.get("segmentation")
    if isinstance(seg, dict):
        ok = "counts" in seg and "size" in seg
        return [] if ok else [Issue("malformed", rec, "RLE segmentation needs 'counts', 'size'")]
    polys = polygons_of(ann)
    if polys is None:
        return [Issue("malformed", rec, "'segmentation' must be a list of [x0, y0, ...] lists")]
    if not polys:
        return [Issue("box_only", rec, "no segmentation; the box will be used as the mask")]
    if any(len(p) < 6 or len(p) % 2 for p in polys):
        return [Issue("empty_segmentation", rec, "segmentation has no polygon of >= 3 points")]
    if not all(math.isfinite(v) for p in polys for v in p):
        return [Issue("non_finite", rec, "segmentation has non-finite values")]
    if size is not None and any(_outside(p, size) for p in polys):
        return [Issue("box_outside", rec, "segmentation polygon outside the image")]
    return []


def _outside(flat: list[float], size: tuple[float, float]) -> bool:
    xs, ys = flat[0::2], flat[1::2]
    w, h = size
    return (
        min(xs) < -TOLERANCE
        or min(ys) < -TOLERANCE
        or max(xs) > w + TOLERANCE
        or (max(ys) > h + TOLERANCE)
    )


def check_categories(cats: list[dict[str, Any]], issues: list[Issue]) -> dict[Any, str]:
    """Check category records; returns name by id for the well-formed ones."""
    names: dict[Any, str] = {}
    seen_names: set[str] = set()
    for cat in cats:
        rec = f"category id={cat.get('id')!r} ({cat.get('name')!r})"
        cid, name = cat.get("id"), cat.get("name")
        if not isinstance(cid, int) or isinstance(cid, bool) or not isinstance(name, str):
            issues.append(Issue("malformed", rec, "needs an integer 'id' and a string 'name'"))
            continue
        if cid in names:
            issues.append(Issue("duplicate_id", rec, f"category id {cid} used more than once"))
            continue
        if name in seen_names:
            issues.append(Issue("duplicate_id", rec, f"category name {name!r} used twice"))
        names[cid] = name
        seen_names.add(name)
    return names


def _key(value: Any) -> Any:
    """``value`` usable as a dict key (a malformed id may be a list or a dict)."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def check_labelled(
    images: list[dict[str, Any]],
    anns: list[dict[str, Any]],
    categories: dict[Any, str],
    report: ValidationReport,
) -> None:
    """Check each image's labelled classes; fill the report's labelled summary."""
    cats_on: dict[Any, list[Any]] = {}
    for ann in anns:
        cats_on.setdefault(_key(ann.get("image_id")), []).append(_key(ann.get("category_id")))
    order = {cid: i for i, cid in enumerate(categories)}
    for img in images:
        rec = _image_record(img)
        bad = False
        for key in LABELLED_FIELDS:
            if key in img:
                problem = labelled_problem(img[key], categories)
                if problem:
                    report.issues.append(Issue("bad_labelled", rec, f"'{key}' {problem}"))
                    bad = True
        on_image = cats_on.get(_key(img.get("id")), [])
        ids = None if bad else labelled_category_ids(img, on_image)
        if ids is None or set(ids) >= set(categories):
            report.labelled_sets[ALL_LABELLED] = report.labelled_sets.get(ALL_LABELLED, 0) + 1
            continue
        names = [categories[c] for c in sorted(set(ids), key=order.__getitem__)]
        report.labelled_by_image[_key(img.get("id"))] = names
        key = ", ".join(names)
        report.labelled_sets[key] = report.labelled_sets.get(key, 0) + 1
        unlabelled = sorted(
            {categories[c] for c in on_image if c in categories and c not in set(ids)}
        )
        if unlabelled:
            report.issues.append(
                Issue(
                    "unlabelled_annotation",
                    rec,
                    f"has annotations of {unlabelled}, not among its labelled classes {names}: "
                    "they train as objects, but unannotated ones are not penalised; add the "
                    "class to 'labelled_category_ids' if every instance is annotated",
                )
            )


def labelled_problem(value: Any, categories: dict[Any, str]) -> str:
    """What is wrong with a list of labelled category ids ("" when nothing is)."""
    if not isinstance(value, list):
        return f"must be a list of category ids, got {type(value).__name__}"
    ints = [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    not_int = [v for v in value if not isinstance(v, int) or isinstance(v, bool)]
    unknown = sorted({v for v in ints if v not in categories})
    repeated = sorted({v for v in ints if ints.count(v) > 1})
    parts = []
    if not_int:
        parts.append(f"has non-integer entries {not_int[:5]}")
    if unknown:
        parts.append(f"names unknown category ids {unknown[:5]}")
    if repeated:
        parts.append(f"repeats ids {repeated[:5]}")
    return "; ".join(parts)


def validate_coco(coco: dict[str, Any], images_dir: str | Path | None = None) -> ValidationReport:
    """Check every record of a COCO dict (as returned by :func:`~layoutft.data.coco.load_coco`).

    Args:
        coco: the dataset; boxes XYWH in image pixels.
        images_dir: folder that ``file_name`` is relative to. When given, each image file
            must exist and its real size (read from the header) is compared with the record
            and used for the box checks.

    Returns:
        The report; ``report.ok`` is False when there is any error.
    """
    images = coco.get("images") or []
    anns = coco.get("annotations") or []
    cats = coco.get("categories") or []
    report = ValidationReport(
        num_images=len(images),
        num_annotations=len(anns),
        num_categories=len(cats),
        images_dir=str(images_dir) if images_dir is not None else None,
    )
    issues = report.issues
    categories = check_categories(cats, issues)
    sizes = image_sizes(images, Path(images_dir) if images_dir is not None else None, issues)
    seen: set[Any] = set()
    per_class: Counter[Any] = Counter()
    images_with: dict[Any, set[Any]] = {}
    for ann in anns:
        aid = ann.get("id")
        if not isinstance(aid, int) or isinstance(aid, bool):
            issues.append(Issue("malformed", f"annotation id={aid!r}", "'id' must be an integer"))
        elif aid in seen:
            rec = f"annotation id={aid}"
            issues.append(Issue("duplicate_id", rec, f"annotation id {aid} used more than once"))
        seen.add(aid)
        issues += check_annotation(ann, sizes, categories)
        per_class[_key(ann.get("category_id"))] += 1
        images_with.setdefault(_key(ann.get("category_id")), set()).add(_key(ann.get("image_id")))
    per_image = Counter(_key(ann.get("image_id")) for ann in anns)
    for img in images:
        count = per_image.get(_key(img.get("id")), 0)
        if not count:
            issues.append(Issue("empty_page", _image_record(img), "no regions"))
        elif count > MAX_REGIONS_PER_IMAGE:
            issues.append(
                Issue(
                    "crowded_page",
                    _image_record(img),
                    f"{count} regions, more than the {MAX_REGIONS_PER_IMAGE} that training "
                    "keeps (the largest)",
                )
            )
    check_labelled(images, anns, categories, report)
    for cid, name in categories.items():
        report.class_counts[name] = per_class[cid]
        report.class_images[name] = len(images_with.get(cid, ()))
        if not per_class[cid]:
            issues.append(Issue("unused_category", f"category id={cid} ({name!r})", "no regions"))
    return report
