"""POD 2017 training pages (scientific papers), as relabelled by the supplement of Li, Yin and
Liu: 549 pages with tables, about 702 tables (figures and formulas are not labelled)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from layoutft.data.sources.base import Page, Repo, Scan, SourceInfo
from layoutft.data.sources.icdar import ANNOTATIONS, IMAGES, scan_trainset, xml_inputs

REPO = Repo(
    "ICDAR2017_POD_dataset_supplement",
    "https://github.com/cndplab-founder/ICDAR2017_POD_dataset_supplement",
    "76d5b9b56636fec7c1115dd657abe996b0c27b57",
)

INFO = SourceInfo(
    name="pod",
    title="ICDAR 2017 POD pages of scientific papers, tables only",
    repos=(REPO,),
    licence="none stated in the repository (no LICENSE file)",
    reads=(f"{REPO.name}/{ANNOTATIONS}/*.xml", f"{REPO.name}/{IMAGES}/*.jpg"),
    splits="TrainSet only; TestSet (and Visualization) never read",
    fmt="ctdar",
    label_map="ctdar-doclaynet",
    labelled=("Table",),
    documents="one page = one document (file names POD_NNNN carry no document)",
)


def scan(roots: dict[str, Path]) -> Scan:
    """The TrainSet pages."""
    return scan_trainset(REPO.name, roots[REPO.name])


def inputs(pages: Sequence[Page], roots: dict[str, Path], work: Path) -> list[Path]:
    """Converter inputs of ``pages``."""
    return xml_inputs(pages, roots, work)
