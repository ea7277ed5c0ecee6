"""Convert annotation exports to COCO: ``OUT_DIR/annotations.json`` + ``OUT_DIR/images/``.

Each format is one module with ``read(inputs, options, problems) -> SourceDataset``;
:func:`convert` runs it, applies the label map, checks every record against the real image
and writes the result atomically (everything is built in a temp folder next to ``OUT_DIR``
and renamed at the end, so a failed conversion leaves nothing behind).
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layoutft.data.coco import Problems, write_coco
from layoutft.data.convert.build import build_coco
from layoutft.data.convert.common import ReadOptions
from layoutft.data.labelmap import LabelMap, load_label_map
from layoutft.errors import DatasetError

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
    dpi: float = 200.0,
    labels: LabelMap | str | Path | None = None,
    keep_unmapped: bool = False,
    label_key: str | None = None,
    link: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> ConvertResult:
    """Convert ``inputs`` of format ``fmt`` into a COCO dataset folder ``out_dir``.

    Args:
        fmt: one of :data:`FORMATS`.
        inputs: export files or folders (see each format module).
        out_dir: output folder; must not exist or be empty unless ``overwrite``.
        images_dir: folder holding images the export only names.
        dpi: render resolution of PDF pages (``pdf`` format).
        labels: a :class:`LabelMap`, a label map file or a built-in map name.
        keep_unmapped: keep labels the map does not mention instead of failing.
        label_key: VIA region attribute holding the label.
        link: hard-link images instead of copying them (falls back to copying).
        overwrite: replace an existing non-empty ``out_dir``.
        progress: show progress bars on stderr (rendering, copying).

    Raises:
        DatasetError: bad input, with every problem listed; nothing is written.
    """
    if fmt not in FORMATS:
        raise DatasetError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not inputs:
        raise DatasetError(f"no input given for --from {fmt}")
    missing = [str(p) for p in inputs if not Path(p).exists()]
    if missing:
        raise DatasetError(f"input not found: {', '.join(missing)}")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise DatasetError(f"{out}: already exists and is not empty; pass --overwrite")
    if isinstance(labels, LabelMap) or labels is None:
        label_map = labels
    else:
        label_map = load_label_map(labels)
    if images_dir is not None and not Path(images_dir).is_dir():
        raise DatasetError(f"--images {images_dir}: not a folder")
    reader = importlib.import_module(FORMATS[fmt])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        staging = tmp / "images"
        staging.mkdir()
        options = ReadOptions(
            staging=staging,
            images_dir=Path(images_dir) if images_dir is not None else None,
            dpi=dpi,
            label_key=label_key,
            progress=progress,
        )
        problems = Problems()
        dataset = reader.read([Path(p) for p in inputs], options, problems)
        coco = build_coco(
            dataset,
            staging,
            label_map,
            keep_unmapped,
            link,
            progress,
            problems=problems,
            what=f"in the {fmt} input",
        )
        write_coco(tmp / "annotations.json", coco)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ConvertResult(out, coco, dataset.notes)


def _replace_dir(new: Path, dest: Path) -> None:
    """Move the finished folder into place; an old ``dest`` is removed only afterwards."""
    if not dest.exists():
        new.rename(dest)
        return
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    dest.rename(old)
    new.rename(dest)
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink()
