"""Nothing fetched from the training sources is committed: no tracked file looks like one of
their images or label files, or has the bytes of a dev file listed in the manifest."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from layoutft.data.sources.devset import load_manifest

ROOT = Path(__file__).resolve().parent.parent

#: File names of the sources' pages and labels.
SOURCE_NAMES = re.compile(
    r"^(cTDaR_t\d+|POD_\d+|bpt6k\w+|btv1b\w+|f\d+(\.chocomufin)?)\.(jpe?g|png|tiff?|xml)$"
    r"|_jpg\.rf\.[0-9a-f]+\.jpg$"  # HiLEx (Roboflow) images
    r"|^_annotations\.coco\.json$"
    r"|^\w+_\d{4}(_B)?\.(xml|jpe?g|tiff?)$",  # OCR-D GT-PAGE pages (<doc>_<page>)
    re.IGNORECASE,
)

#: Folders of the sources' layouts.
SOURCE_FOLDERS = {"TrainSet", "TestSet", "GT-PAGE", "HiLEx_Coco_Format", "Visualization"}

#: Scanned-page formats that have no business in the repository outside these folders.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".tif", ".tiff"}
ALLOWED_IMAGE_DIRS = ("tests/fixtures/", "docs/", "benchmarks/results/", "examples/")


def tracked() -> list[str]:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("not a git checkout")
    return [p for p in done.stdout.decode("utf-8").split("\0") if p]


def test_no_source_file_names_or_folders() -> None:
    bad = []
    for path in tracked():
        parts = PurePosixPath(path)
        named = SOURCE_NAMES.search(parts.name) or SOURCE_FOLDERS & set(parts.parts)
        scan = parts.suffix.lower() in IMAGE_SUFFIXES and not path.startswith(ALLOWED_IMAGE_DIRS)
        if named or scan:
            bad.append(path)
    assert bad == [], f"files that look fetched from a training source are tracked: {bad[:10]}"


def test_no_dev_file_bytes_committed() -> None:
    listed = {h for entry in load_manifest().values() for h in entry["sha256"].values()}
    assert listed, "the manifest lists dev files"
    hits = []
    for path in tracked():
        file = ROOT / path
        is_file = file.is_file() and not file.is_symlink()
        if is_file and hashlib.sha256(file.read_bytes()).hexdigest() in listed:
            hits.append(path)
    assert hits == [], f"tracked files with the bytes of a source's dev file: {hits[:10]}"


def test_the_guard_catches_source_names() -> None:
    names = [
        "cTDaR_t10000.jpg",
        "POD_0001.xml",
        "f10.chocomufin.xml",
        "bpt6k1110784.xml",
        "e483e760-sat_page-0008_jpg.rf.f2e284fb.jpg",
        "_annotations.coco.json",
        "clauren_mimil_1815_0031.xml",
    ]
    assert all(SOURCE_NAMES.search(n) for n in names)
    assert not any(SOURCE_NAMES.search(n) for n in ("build.py", "devsets.json", "README.md"))
