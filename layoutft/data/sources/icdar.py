"""Shared by cTDaR 2019 and POD 2017 supplements: ``Annotations/TrainSet/<name>.xml`` labels
``Images/TrainSet/<name>.jpg`` (ICDAR table XML, ``layoutft convert --from ctdar``).

Their file names carry no document (the pages are numbered in shuffled order: neighbouring
numbers have unrelated page sizes), so each page is its own document.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from layoutft.data.sources.base import Page, Scan, local_path

ANNOTATIONS = "Annotations/TrainSet"
IMAGES = "Images/TrainSet"


def scan_trainset(repo: str, root: Path) -> Scan:
    """Pages of ``Annotations/TrainSet`` whose image is in ``Images/TrainSet``."""
    scan = Scan()
    missing = 0
    for xml in sorted((root / ANNOTATIONS).glob("*.xml")):
        image = root / IMAGES / f"{xml.stem}.jpg"
        if not image.is_file():
            missing += 1
            continue
        scan.pages.append(
            Page(xml.stem, f"{repo}/{IMAGES}/{image.name}", (f"{repo}/{ANNOTATIONS}/{xml.name}",))
        )
    if missing:
        scan.notes.append(f"{missing} label files of {ANNOTATIONS} without an image: skipped")
    return scan


def xml_inputs(pages: Sequence[Page], roots: dict[str, Path], work: Path) -> list[Path]:
    """The label files themselves (the reader finds each image in ``Images/TrainSet``)."""
    return [local_path(roots, p.labels[0]) for p in pages]
