"""Dev sets: whole documents of each source held out of training, fixed in a manifest.

The manifest (``devsets.json`` in this package, committed) holds metadata only: per source
the repositories' commits, the dev documents, and the SHA-256 of every image and label file
of the dev pages. A build takes exactly those documents as its dev split and checks every
hash, so the dev set cannot drift with a repository's later commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layoutft.data.coco import Problems, read_json
from layoutft.data.sources.base import Page, SourceInfo, local_path, sha256_file
from layoutft.errors import DatasetError
from layoutft.outputs import atomic_path

#: The committed manifest.
MANIFEST = Path(__file__).with_name("devsets.json")


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    """``{source name: entry}``; an absent file is an empty manifest."""
    if not path.exists():
        return {}
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise DatasetError(f"{path}: expected a dev-set manifest with a 'sources' object")
    sources: dict[str, Any] = data["sources"]
    return sources


def manifest_entry(
    info: SourceInfo,
    pages: Sequence[Page],
    documents: Sequence[str],
    roots: dict[str, Path],
    commits: dict[str, str],
) -> dict[str, Any]:
    """The manifest entry of ``documents``' pages: commits, documents, file hashes."""
    dev = [p for p in pages if p.document in set(documents)]
    files = sorted({f for p in dev for f in p.files})
    return {
        "repos": {name: commits[name] for name in sorted(commits)},
        "documents": sorted(documents),
        "pages": len(dev),
        "train_pages": len(pages) - len(dev),
        "images": sorted(p.image for p in dev),
        "sha256": {f: sha256_file(local_path(roots, f)) for f in files},
        "chosen_by": "layoutft dataset devset (whole documents in SHA-256 order of their names)",
        "source": info.name,
    }


def save_entry(path: Path, name: str, entry: dict[str, Any]) -> None:
    """Add or replace ``name``'s entry in the manifest at ``path`` (keys sorted, one per line)."""
    sources = load_manifest(path)
    sources[name] = entry
    data = {
        "about": "Dev sets of layoutft's training sources: whole documents held out of "
        "training. Metadata only (paths and SHA-256); see docs/training-data.md.",
        "sources": {k: sources[k] for k in sorted(sources)},
    }
    # pretty-printed, so that a change to one source's entry is a readable diff
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def split_pages(
    name: str, pages: Sequence[Page], entry: dict[str, Any] | None, manifest: Path
) -> tuple[list[Page], list[Page]]:
    """``(train, dev)``: dev is every page of the manifest's dev documents.

    Raises:
        DatasetError: the manifest has no entry for the source.
    """
    if entry is None:
        raise DatasetError(
            f"{manifest}: no dev set for {name}; choose one with "
            f"`layoutft dataset devset {name} CLONE... --manifest {manifest}`"
        )
    documents = set(entry.get("documents") or [])
    dev = [p for p in pages if p.document in documents]
    train = [p for p in pages if p.document not in documents]
    return train, dev


def check_dev(
    entry: dict[str, Any], dev: Sequence[Page], roots: dict[str, Path], manifest: Path
) -> int:
    """Check the dev pages against the manifest: same images, same bytes (SHA-256).

    Returns:
        The number of files checked.

    Raises:
        DatasetError: every missing, extra or changed file, listed together.
    """
    expected: dict[str, str] = entry.get("sha256") or {}
    problems = Problems()
    found = {f for p in dev for f in p.files}
    wanted_images = set(entry.get("images") or [])
    images = {p.image for p in dev}
    for path in sorted(wanted_images - images):
        problems.add(path, "dev page listed in the manifest is not in the clone")
    for path in sorted(images - wanted_images):
        problems.add(path, "page of a dev document that the manifest does not list")
    for path in sorted(found):
        if path not in expected:
            problems.add(path, "dev file without a hash in the manifest")
            continue
        actual = sha256_file(local_path(roots, path))
        if actual != expected[path]:
            problems.add(path, f"SHA-256 {actual[:12]}… differs from the manifest's")
    problems.raise_if_any(
        f"checking the dev set against {manifest}",
        "Check out the pinned commit; the dev set is fixed by these hashes.",
    )
    return len(found)
