"""HiLEx exam question papers (GATE, JEE, SAT, GMAT, GRE, UPSC, UGC-NET, bank exams), COCO.

Reads ``HiLEx_Coco_Format/train`` and ``valid`` (``_annotations.coco.json`` and the images
beside it); ``test`` is never read. The pages are Roboflow exports, resized to 640x640.

Documents: file names are ``<8 hex>-<paper>_<page>_jpg.rf.<hash>.jpg`` with the page as
``_page-0008`` or ``_12``; the paper (``sat-practice-test-9``, ``GATE_CE1-2021``, or just the
exam, ``UGC``, ``BANK``, when the pages of several papers share a name) is the document.
HiLEx's own train/valid/test splits cut through papers; the dev set takes whole papers out
of both train and valid.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layoutft.data.coco import read_json, write_coco
from layoutft.data.sources.base import Page, Repo, Scan, SourceInfo, local_path

REPO = Repo(
    "HiLEx",
    "https://github.com/HiLEx-DLA/HiLEx",
    "3bb962636c14b2630d308a77df2b3f5b768bb434",
)
FOLDER = "HiLEx_Coco_Format"
SPLITS = ("train", "valid")
LABELS = "_annotations.coco.json"

INFO = SourceInfo(
    name="hilex",
    title="HiLEx exam question paper pages (640x640), question/answer/instruction blocks",
    repos=(REPO,),
    licence="CC BY 4.0 (README)",
    reads=tuple(f"{REPO.name}/{FOLDER}/{s}/*" for s in SPLITS),
    splits="train and valid; test never read",
    fmt="coco",
    label_map="hilex-doclaynet",
    labelled=("List-item", "Text"),
    documents="the exam paper in the file name (page number and Roboflow hashes removed)",
)

_PREFIX = re.compile(r"^(?:[0-9a-f]{8}-)+")
_ROBOFLOW = re.compile(r"_(?:jpg|jpeg|png)\.rf\.[0-9a-f]+\.(?:jpg|jpeg|png)$")
_PAGE = re.compile(r"(?:_page-\d+|_\d+)$")


def document_of(file_name: str) -> str:
    """``e483e760-sat-practice-test-1-digital_page-0008_jpg.rf.f2e2.jpg`` ->
    ``sat-practice-test-1-digital``."""
    stem = _ROBOFLOW.sub("", _PREFIX.sub("", file_name))
    return _PAGE.sub("", stem) or stem


def scan(roots: dict[str, Path]) -> Scan:
    """Pages of the train and valid COCO files whose image is present."""
    result = Scan()
    root = roots[REPO.name]
    for split in SPLITS:
        labels = f"{REPO.name}/{FOLDER}/{split}/{LABELS}"
        coco = read_json(root / FOLDER / split / LABELS)
        missing = 0
        for img in coco.get("images", []):
            name = img.get("file_name")
            if not isinstance(name, str) or not (root / FOLDER / split / name).is_file():
                missing += 1
                continue
            image = f"{REPO.name}/{FOLDER}/{split}/{name}"
            result.pages.append(Page(document_of(name), image, (labels,)))
        if missing:
            result.notes.append(f"{labels}: {missing} images not in the clone: skipped")
    return result


def inputs(pages: Sequence[Page], roots: dict[str, Path], work: Path) -> list[Path]:
    """One COCO file per HiLEx split holding only ``pages``, images named by absolute path."""
    wanted: dict[str, set[str]] = {}
    for page in pages:
        wanted.setdefault(page.labels[0], set()).add(page.image.rsplit("/", 1)[1])
    out: list[Path] = []
    for labels, names in sorted(wanted.items()):
        path = local_path(roots, labels)
        coco: dict[str, Any] = read_json(path)
        images = [
            {**img, "file_name": str((path.parent / img["file_name"]).resolve())}
            for img in coco["images"]
            if img.get("file_name") in names
        ]
        ids = {img["id"] for img in images}
        subset = {
            **coco,
            "images": images,
            "annotations": [a for a in coco["annotations"] if a.get("image_id") in ids],
        }
        dest = work / f"{path.parent.name}.json"
        write_coco(dest, subset)
        out.append(dest)
    return out
