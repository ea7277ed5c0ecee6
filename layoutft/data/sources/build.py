"""Build a source: check the clones, split off the dev documents, convert, describe.

Output of :func:`build_source` in ``OUT``::

    train/annotations.json, train/images/   the training pages (COCO, DocLayNet classes)
    dev/annotations.json, dev/images/       the dev documents (never in train)
    source.json                             repos, commits, paths read, licence, class map,
                                            labelled classes, counts, the dev set

Every image record gets ``labelled_category_ids``: the ids of the classes the source labels
exhaustively (a cTDaR page labels its tables, not its text).
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from layoutft.data.coco import LABELLED_KEY, write_coco, write_json
from layoutft.data.labelmap import BUILTIN_MAPS, load_label_map
from layoutft.data.sources import SOURCES
from layoutft.data.sources.base import (
    Page,
    Scan,
    SourceInfo,
    check_reserved,
    choose_dev_documents,
    match_clones,
)
from layoutft.data.sources.devset import (
    MANIFEST,
    check_dev,
    load_manifest,
    manifest_entry,
    save_entry,
    split_pages,
)
from layoutft.errors import DatasetError

#: The file describing a build.
SOURCE_FILE = "source.json"


@dataclass
class BuildResult:
    """Where the build went, what ``source.json`` says, and remarks for the user."""

    out_dir: Path
    description: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Pages and regions per class of each split, the labelled classes, the dev set."""
        d = self.description
        lines = [f"{d['source']}: {d['title']} -> {self.out_dir}"]
        for split in ("train", "dev"):
            c = d["counts"][split]
            per = ", ".join(f"{k} {v}" for k, v in c["regions_per_class"].items() if v)
            lines.append(f"  {split}: {c['pages']} pages, {c['regions']} regions ({per or 'none'})")
        lines.append(f"  labelled classes: {', '.join(d['labelled_classes'])}")
        dev = d["dev"]
        lines.append(
            f"  dev: {len(dev['documents'])} documents, {dev['pages']} pages, "
            f"{dev['files_checked']} files checked against {dev['manifest']}"
        )
        return "\n".join(lines)


def source_module(name: str) -> ModuleType:
    """The module of source ``name``; a one-line DatasetError naming the choices."""
    if name not in SOURCES:
        raise DatasetError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}")
    return importlib.import_module(SOURCES[name])


def source_infos() -> list[SourceInfo]:
    """Every source's description, in :data:`SOURCES` order."""
    return [source_module(name).INFO for name in SOURCES]


def scan_source(
    name: str, clones: Sequence[Path], allow_other_commit: bool = False
) -> tuple[ModuleType, dict[str, Path], dict[str, str], Scan]:
    """Check the clones and list the source's pages (only from the folders it uses)."""
    module = source_module(name)
    roots, commits, notes = match_clones(module.INFO, clones, allow_other_commit)
    scan: Scan = module.scan(roots)
    check_reserved(f for p in scan.pages for f in p.files)
    if not scan.pages:
        raise DatasetError(f"{name}: no labelled pages found in {', '.join(map(str, clones))}")
    scan.notes[:0] = notes
    return module, roots, commits, scan


def choose_devset(
    name: str,
    clones: Sequence[Path],
    manifest: Path = MANIFEST,
    allow_other_commit: bool = False,
) -> dict[str, Any]:
    """Choose ``name``'s dev documents (:func:`choose_dev_documents`) and write them, with
    the hashes of their files, into ``manifest`` (other sources' entries kept)."""
    module, roots, commits, scan = scan_source(name, clones, allow_other_commit)
    documents = choose_dev_documents(scan.pages)
    entry = manifest_entry(module.INFO, scan.pages, documents, roots, commits)
    save_entry(manifest, name, entry)
    return entry


def build_source(
    name: str,
    clones: Sequence[Path],
    out: Path,
    *,
    manifest: Path = MANIFEST,
    allow_other_commit: bool = False,
    overwrite: bool = False,
    link: bool = False,
    progress: bool = False,
) -> BuildResult:
    """Build source ``name`` from its clone(s) into ``out`` (see the module docstring).

    Args:
        clones: the repositories' clones (Gallicorpora: one per repository).
        manifest: the dev-set manifest (default: the committed one).
        allow_other_commit: build a clone at another commit than the pinned one (a note).
        overwrite: replace an earlier build's files in ``out`` (never anything else).
        link: hard-link images instead of copying them.

    Raises:
        DatasetError: a clone that is not the source's, at another commit, dev files that
            differ from the manifest, bad labels (every problem listed), an existing build.
    """
    from layoutft.data.convert import convert

    module, roots, commits, scan = scan_source(name, clones, allow_other_commit)
    info: SourceInfo = module.INFO
    source_json = out / SOURCE_FILE
    if source_json.exists() and not overwrite:
        raise DatasetError(f"{source_json} already exists; pass --overwrite or choose another OUT")
    entry = load_manifest(manifest).get(name)
    train, dev = split_pages(name, scan.pages, entry, manifest)
    assert entry is not None  # split_pages raised otherwise
    checked = check_dev(entry, dev, roots, manifest)
    label_map = load_label_map(info.label_map)
    counts: dict[str, Any] = {}
    for split, pages in (("train", train), ("dev", dev)):
        with tempfile.TemporaryDirectory(prefix=f"layoutft-{name}-") as work:
            inputs = module.inputs(pages, roots, Path(work))
            result = convert(
                info.fmt,
                inputs,
                out / split,
                labels=label_map,
                link=link,
                overwrite=overwrite,
                progress=progress,
            )
        coco = mark_labelled(result.coco, info.labelled)
        write_coco(out / split / "annotations.json", coco)
        counts[split] = count(coco)
        scan.notes.extend(f"{split}: {n}" for n in result.notes)
    description = describe(info, commits, scan, train, dev, counts, entry, manifest, checked)
    write_json(source_json, description)
    return BuildResult(out, description, scan.notes)


def mark_labelled(coco: dict[str, Any], labelled: Sequence[str]) -> dict[str, Any]:
    """Set ``labelled_category_ids`` on every image: the ids of the ``labelled`` classes."""
    ids = sorted(c["id"] for c in coco["categories"] if c["name"] in set(labelled))
    missing = sorted(set(labelled) - {c["name"] for c in coco["categories"]})
    if missing:
        raise DatasetError(f"labelled classes {missing} are not categories of the build")
    for img in coco["images"]:
        img[LABELLED_KEY] = list(ids)
    return coco


def count(coco: dict[str, Any]) -> dict[str, Any]:
    """Pages, regions, and regions per category name (every category listed)."""
    per = {c["name"]: 0 for c in coco["categories"]}
    names = {c["id"]: c["name"] for c in coco["categories"]}
    for ann in coco["annotations"]:
        per[names[ann["category_id"]]] += 1
    return {
        "pages": len(coco["images"]),
        "regions": len(coco["annotations"]),
        "regions_per_class": per,
    }


def describe(
    info: SourceInfo,
    commits: dict[str, str],
    scan: Scan,
    train: list[Page],
    dev: list[Page],
    counts: dict[str, Any],
    entry: dict[str, Any],
    manifest: Path,
    checked: int,
) -> dict[str, Any]:
    """The content of ``source.json``."""
    repos = [
        {**asdict(r), "clone": r.clone_command, "built_at": commits[r.name]}
        for r in info.repos
        if r.name in commits
    ]
    return {
        "source": info.name,
        "title": info.title,
        "repos": repos,
        "licence": info.licence,
        "paths_read": list(info.reads),
        "splits_used": info.splits,
        "format": info.fmt,
        "class_map": {"name": info.label_map, **BUILTIN_MAPS[info.label_map]},
        "labelled_classes": list(info.labelled),
        "documents": info.documents,
        "counts": counts,
        "dev": {
            "manifest": str(manifest),
            "documents": sorted(entry.get("documents") or []),
            "pages": len(dev),
            "files_checked": checked,
            "images": sorted(p.image for p in dev),
        },
        "train_documents": len({p.document for p in train}),
        "notes": list(scan.notes),
    }
