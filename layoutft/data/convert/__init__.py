"""Convert annotation exports to COCO: ``OUT_DIR/annotations.json`` + ``OUT_DIR/images/``.

Each format is one module with ``read(inputs, options, problems) -> SourceDataset``;
:func:`convert` runs it, applies the label map, checks every record against the real image
and writes the result atomically (everything is built in a temp folder next to ``OUT_DIR``,
or inside it when it exists, and renamed at the end, so a failed conversion leaves nothing
behind). Only ``annotations.json`` and ``images/`` are ever replaced in ``OUT_DIR``.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layoutft.data.coco import Problems, write_coco
from layoutft.data.convert.build import build_coco
from layoutft.data.convert.common import DEFAULT_DPI, ReadOptions, SourceDataset
from layoutft.data.labelmap import LabelMap, load_label_map
from layoutft.errors import DatasetError
from layoutft.outputs import check_writable, chmod_umask, refuse_inputs

#: What convert writes into its output folder; nothing else there is touched.
OWN_FILE = "annotations.json"
OWN_FOLDER = "images"

#: Format name -> reader module.
FORMATS = {
    "coco": "layoutft.data.convert.coco",
    "yolo": "layoutft.data.convert.yolo",
    "labelstudio": "layoutft.data.convert.labelstudio",
    "cvat": "layoutft.data.convert.cvat",
    "via": "layoutft.data.convert.via",
    "pagexml": "layoutft.data.convert.pagexml",
    "pdf": "layoutft.data.convert.pdf",
    "docbank": "layoutft.data.convert.docbank",
    "alto": "layoutft.data.convert.alto",
    "ctdar": "layoutft.data.convert.ctdar",
    "funsd": "layoutft.data.convert.funsd",
}


@dataclass
class ConvertResult:
    """Where the dataset went, the COCO dict written, and remarks for the user."""

    out_dir: Path
    coco: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``N images, M annotations`` plus annotations per class."""
        counts = {c["id"]: 0 for c in self.coco["categories"]}
        for ann in self.coco["annotations"]:
            counts[ann["category_id"]] += 1
        per_class = ", ".join(f"{c['name']} {counts[c['id']]}" for c in self.coco["categories"])
        return (
            f"{len(self.coco['images'])} images, {len(self.coco['annotations'])} annotations "
            f"({per_class}) -> {self.out_dir}"
        )


def convert(
    fmt: str,
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    images_dir: str | Path | None = None,
    dpi: float | None = None,
    labels: LabelMap | str | Path | None = None,
    keep_unmapped: bool = False,
    label_key: str | None = None,
    link: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    predictions: bool = False,
    labelled_classes: Sequence[str] | None = None,
) -> ConvertResult:
    """Convert ``inputs`` of format ``fmt`` into a COCO dataset folder ``out_dir``.

    Args:
        fmt: one of :data:`FORMATS`.
        inputs: export files or folders (see each format module).
        out_dir: output folder; may hold other files (never touched), but not an
            ``annotations.json`` or ``images/`` unless ``overwrite``.
        images_dir: folder holding images the export only names.
        dpi: render resolution of PDF pages (``pdf``, ``ctdar`` 2013; default
            :data:`DEFAULT_DPI`); ``alto``: resolution of the page images, for ``mm10`` and
            ``inch1200`` units (default: each image file's own).
        labels: a :class:`LabelMap`, a label map file or a built-in map name.
        keep_unmapped: keep labels the map does not mention instead of failing.
        label_key: VIA region attribute holding the label.
        link: hard-link images instead of copying them (falls back to copying).
        overwrite: replace ``out_dir``'s ``annotations.json`` and ``images/``.
        progress: show progress bars on stderr (rendering, copying).
        predictions: ``labelstudio``: read a task without annotations from its first
            prediction (pre-annotations) instead of skipping it.
        labelled_classes: the output classes (names after the label map) the input annotates
            exhaustively, stored on every image as ``labelled_category_ids`` (left out when
            they are all the classes); None: what the reader says per page (default: all).

    Raises:
        DatasetError: bad input, with every problem listed; nothing is written.
    """
    check_inputs(fmt, inputs)
    out = Path(out_dir)
    owned = [out / OWN_FILE, out / OWN_FOLDER]
    if out.exists() and not out.is_dir():
        raise DatasetError(f"-o {out}: is a file, not a folder; choose a folder for the dataset")
    refuse_inputs([owned[0]], inputs, "write the dataset to another folder (-o)")
    present = [str(p) for p in owned if os.path.lexists(p)]
    if present and not overwrite:
        raise DatasetError(
            f"{present[0]} already exists; pass --overwrite to replace convert's output "
            f"({OWN_FILE} and {OWN_FOLDER}/; other files in {out} are kept) or choose another -o"
        )
    if isinstance(labels, LabelMap) or labels is None:
        label_map = labels
    else:
        label_map = load_label_map(labels)
    if images_dir is not None and not Path(images_dir).is_dir():
        raise DatasetError(f"--images {images_dir}: not a folder")
    absolute = Path(os.path.abspath(out))  # "." has no name and no parent of its own
    # staged next to the output folder, or inside it when it exists (it may hold other files)
    stage_in = absolute if absolute.is_dir() else absolute.parent
    check_writable([stage_in], "output")
    stage_in.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{absolute.name}.", suffix=".tmp", dir=stage_in))
    try:
        chmod_umask(tmp, directory=True)  # mkdtemp makes 0700; a renamed folder keeps it
        staging = tmp / OWN_FOLDER
        staging.mkdir()
        options = ReadOptions(
            staging=staging,
            images_dir=Path(images_dir) if images_dir is not None else None,
            dpi=dpi if dpi is not None else DEFAULT_DPI,
            image_dpi=dpi,
            label_key=label_key,
            progress=progress,
            predictions=predictions,
        )
        problems = Problems()
        dataset = read_export(fmt, inputs, options, problems)
        coco = build_coco(
            dataset,
            staging,
            label_map,
            keep_unmapped,
            link,
            progress,
            problems=problems,
            what=f"in the {fmt} input",
            labelled_classes=labelled_classes,
        )
        write_coco(tmp / OWN_FILE, coco)
        _install(tmp, absolute)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ConvertResult(out, coco, dataset.notes)


def check_inputs(fmt: str, inputs: Sequence[str | Path]) -> None:
    """Raise DatasetError for an unknown ``fmt``, no inputs, or inputs that do not exist."""
    if fmt not in FORMATS:
        raise DatasetError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not inputs:
        raise DatasetError(f"no input given for --from {fmt}")
    missing = [str(p) for p in inputs if not Path(p).exists()]
    if missing:
        raise DatasetError(f"input not found: {', '.join(missing)}")


def read_export(
    fmt: str, inputs: Sequence[str | Path], options: ReadOptions, problems: Problems
) -> SourceDataset:
    """Run ``fmt``'s reader over ``inputs``; bad records are added to ``problems``."""
    reader = importlib.import_module(FORMATS[fmt])
    dataset: SourceDataset = reader.read([Path(p) for p in inputs], options, problems)
    return dataset


def _install(new: Path, dest: Path) -> None:
    """Move the finished dataset in ``new`` into place: ``new`` itself becomes ``dest`` when
    there is none; else only ``annotations.json`` and ``images/`` are replaced (an old
    ``images/`` is removed after the new one is in place) and ``new`` is removed."""
    if not dest.exists():
        new.rename(dest)
        return
    old_images = new / f".{OWN_FOLDER}.old"
    images, had_images = dest / OWN_FOLDER, os.path.lexists(dest / OWN_FOLDER)
    if had_images:
        images.rename(old_images)
    try:
        (new / OWN_FOLDER).rename(images)
        os.replace(new / OWN_FILE, dest / OWN_FILE)
    except BaseException:  # put the old images back before the caller removes ``new``
        if not (new / OWN_FOLDER).exists() and os.path.lexists(images):
            images.rename(new / OWN_FOLDER)
        if had_images:
            old_images.rename(images)
        raise
    if old_images.is_dir() and not old_images.is_symlink():
        shutil.rmtree(old_images)
    elif os.path.lexists(old_images):
        old_images.unlink()
    shutil.rmtree(new)
