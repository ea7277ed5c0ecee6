"""cTDaR 2019 (modern track A) training pages, as relabelled by the supplement of Li, Yin and
Liu: about 600 report and statistics pages with their tables (only tables are labelled)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from layoutft.data.sources.base import Page, Repo, Scan, SourceInfo
from layoutft.data.sources.icdar import ANNOTATIONS, IMAGES, scan_trainset, xml_inputs

REPO = Repo(
    "ICDAR2019_cTDaR_dataset_supplement",
    "https://github.com/cndplab-founder/ICDAR2019_cTDaR_dataset_supplement",
    "e838cb177e5e44b964f6268e5c41557f6f1a3544",
)

INFO = SourceInfo(
    name="ctdar",
    title="ICDAR 2019 cTDaR modern pages (reports, statistics), tables only",
    repos=(REPO,),
    licence="BSD 2-Clause (LICENSE)",
    reads=(f"{REPO.name}/{ANNOTATIONS}/*.xml", f"{REPO.name}/{IMAGES}/*.jpg"),
    splits="TrainSet only; TestSet (and Visualization) never read",
    fmt="ctdar",
    label_map="ctdar-doclaynet",
    labelled=("Table",),
    documents="one page = one document (file names carry no document; numbering is shuffled)",
)


def scan(roots: dict[str, Path]) -> Scan:
    """The TrainSet pages."""
    return scan_trainset(REPO.name, roots[REPO.name])


def inputs(pages: Sequence[Page], roots: dict[str, Path], work: Path) -> list[Path]:
    """Converter inputs of ``pages``."""
    return xml_inputs(pages, roots, work)
