"""YOLO detection / segmentation label folders (Ultralytics, Roboflow, darknet layouts).

Input: the dataset root folder (or its ``data.yaml`` / ``classes.txt``). Class names come from
a ``*.yaml`` with ``names`` (list, or dict index -> name; its ``path``/``train``/``val`` keys
are ignored: the whole root is read), else ``classes.txt`` or ``obj.names`` in the root or
``labels/``. Every image under the root is a page; its labels are the ``.txt`` file at the
same path with the last ``images`` folder replaced by ``labels`` (``images/train/a.jpg`` ->
``labels/train/a.txt``; Roboflow's ``train/images`` -> ``train/labels``), or next to the
image when the path has no ``images`` folder. A missing label file means an empty page.
Output ``file_name`` is the image path below the root without the ``images`` folder
(``images/train/a.jpg`` -> ``train/a.jpg``).

Lines: ``cls cx cy w h`` (box) or ``cls x1 y1 x2 y2 x3 y3 ...`` (polygon, >= 3 points),
all normalized to [0, 1] by the image width and height.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from layoutft.data.coco import Problems
from layoutft.data.convert.common import ReadOptions, SourceDataset, SourcePage, SourceRegion
from layoutft.data.validate import read_image_size

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
_NAME_FILES = ("classes.txt", "obj.names", "labels/classes.txt")


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read YOLO dataset roots; see the module docstring."""
    dataset = SourceDataset()
    for given in inputs:
        root = given if given.is_dir() else given.parent
        names = _class_names(given, root, problems)
        if names is None:
            continue
        for name in names:
            if name not in dataset.labels:
                dataset.labels.append(name)
        used: set[Path] = set()
        for image in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            page = _page(image, root, names, problems, used)
            if page is not None:
                dataset.pages.append(page)
        for orphan in sorted(_label_files(root) - used):
            problems.add(str(orphan), "label file has no matching image")
    return dataset


def _class_names(given: Path, root: Path, problems: Problems) -> list[str] | None:
    import yaml

    yamls = [given] if given.suffix in (".yaml", ".yml") else sorted(root.glob("*.y*ml"))
    for path in yamls:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            problems.add(str(path), f"cannot read YAML ({str(exc).splitlines()[0]})")
            return None
        if isinstance(data, dict) and "names" in data:
            return _names_from_yaml(data["names"], path, problems)
    texts = [given] if given.suffix in (".txt", ".names") else [root / n for n in _NAME_FILES]
    for path in texts:
        if path.is_file():
            return [
                ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()
            ]
    problems.add(str(root), "no class names: add data.yaml with 'names' or classes.txt")
    return None


def _names_from_yaml(names: Any, path: Path, problems: Problems) -> list[str] | None:
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return list(names)
    if isinstance(names, dict) and sorted(names) == list(range(len(names))):
        return [str(names[i]) for i in range(len(names))]
    problems.add(str(path), "'names' must be a list or a dict 0..N-1 -> name")
    return None


def _label_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*.txt") if "labels" in p.relative_to(root).parts[:-1]}


def _paths(image: Path, root: Path) -> tuple[Path, str]:
    """Label file of an image and the image's output file name."""
    parts = list(image.relative_to(root).parts)
    if "images" in parts[:-1]:
        i = len(parts) - 2 - parts[:-1][::-1].index("images")
        label = root.joinpath(*parts[:i], "labels", *parts[i + 1 :]).with_suffix(".txt")
        return label, str(PurePosixPath(*parts[:i], *parts[i + 1 :]))
    return image.with_suffix(".txt"), str(PurePosixPath(*parts))


def _page(
    image: Path, root: Path, names: list[str], problems: Problems, used: set[Path]
) -> SourcePage | None:
    label_path, file_name = _paths(image, root)
    try:
        width, height = read_image_size(image)
    except OSError as exc:
        problems.add(str(image), f"cannot read image ({exc})")
        return None
    page = SourcePage(file_name, image, str(label_path))
    if not label_path.is_file():
        return page
    used.add(label_path)
    text = label_path.read_text(encoding="utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            region = _region(line, lineno, names, (width, height), label_path, problems)
            if region is not None:
                page.regions.append(region)
    return page


def _region(
    line: str,
    lineno: int,
    names: list[str],
    size: tuple[int, int],
    path: Path,
    problems: Problems,
) -> SourceRegion | None:
    where = f"{path}: line {lineno}"
    tokens = line.split()
    try:
        cls_f = float(tokens[0])
        values = [float(t) for t in tokens[1:]]
    except ValueError:
        problems.add(where, f"expected numbers, got {line.strip()!r}")
        return None
    if len(values) != 4 and (len(values) < 6 or len(values) % 2):
        problems.add(
            where, f"expected 'cls cx cy w h' or 'cls x1 y1 x2 y2 x3 y3 ...', got {line!r}"
        )
        return None
    if not cls_f.is_integer() or not 0 <= cls_f < len(names):
        problems.add(where, f"class {tokens[0]} not in 0..{len(names) - 1}")
        return None
    bad = [v for v in values if not 0.0 <= v <= 1.0]
    if bad:
        problems.add(where, f"value {bad[0]:g} outside [0, 1] (coordinates are normalized)")
        return None
    w, h = size
    record = f"line {lineno}"
    label = names[int(cls_f)]
    if len(values) == 4:
        cx, cy, bw, bh = values
        box = ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h)
        return SourceRegion(label, record, bbox=box)
    flat = [v * (w if i % 2 == 0 else h) for i, v in enumerate(values)]
    return SourceRegion(label, record, polygons=[flat])
