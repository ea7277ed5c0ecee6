"""Which files a corpus run parses and where each result goes.

:func:`plan_corpus` finds the inputs (folders recursively, filtered by include/exclude
patterns) and maps each to an output path that mirrors the input tree under OUT, so files
with one name in different folders never collide. No torch here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from layoutft.errors import LayoutftError, RenderError
from layoutft.parsing.results import output_suffix
from layoutft.render.source import SUPPORTED_SUFFIXES

#: the manifest's file name inside OUT (no output may take it)
MANIFEST_NAME = "layoutft-manifest.jsonl"


@dataclass(frozen=True)
class CorpusItem:
    """One input of a corpus run.

    Attributes:
        path: the file to open, as found (relative to the working directory when the input
            was given relative to it).
        input: its path relative to the corpus root, ``/``-separated: the manifest's key.
        output: its result's path relative to OUT, ``/``-separated.
    """

    path: Path
    input: str
    output: str


def corpus_root(inputs: Sequence[str | Path]) -> Path:
    """The folder input paths are relative to: the folder itself for one folder, else the
    common folder of the inputs (each folder given, and the folder of each file given).
    Absolute, symlinks not resolved."""
    if not inputs:
        raise LayoutftError("no INPUT given: pass PDFs, images or folders")
    places = [
        os.path.abspath(p) if Path(p).is_dir() else os.path.dirname(os.path.abspath(p))
        for p in inputs
    ]
    return Path(os.path.commonpath(places))


def plan_corpus(
    inputs: Sequence[str | Path],
    out: str | Path,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    fmt: str = "json",
    *,
    skip: Sequence[str | Path] = (),
) -> list[CorpusItem]:
    """The items of a corpus run, in a stable order (inputs as given, each folder's files
    sorted by their relative path).

    Args:
        inputs: files (always taken, whatever the patterns) and folders (searched
            recursively for .pdf/.png/.jpg/.jpeg/.tif/.tiff files; hidden files and folders,
            whose names start with ``.``, and ``out`` when it lies inside are skipped;
            symlinked folders are not followed).
        out: the output folder; outputs are relative to it.
        include: glob patterns; when given, a file found in a folder must match one.
        exclude: glob patterns; a file found in a folder that matches one is left out.
        fmt: the output format (gives the output suffix).
        skip: more folders the run writes into (visualizations, a viewer), never searched.

    A pattern without ``/`` matches a file's name (``*.pdf``) and, for ``exclude``, also
    the name of any folder on its path (``drafts``); a pattern with ``/`` matches the path
    relative to the corpus root (:func:`corpus_root`), where ``*`` also matches ``/``
    (``2023/*`` is everything under ``2023``). Matching is case-sensitive.

    Outputs mirror the inputs' folders relative to the corpus root:
    ``sub/a.pdf`` -> ``sub/a<suffix>``; two files of one folder with the same stem keep
    their suffix (``a.pdf`` -> ``a.pdf.json``, ``a.png`` -> ``a.png.json``).

    Raises RenderError naming every missing input and every folder without inputs, and
    LayoutftError for a file given twice or an output that would collide.
    """
    root = corpus_root(inputs)
    written = {os.path.abspath(p) for p in [out, *skip]}
    found: list[tuple[Path, str]] = []
    problems: list[str] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            files = _walk(path, root, written, include, exclude)
            if not files:
                what = "matching --include/--exclude " if include or exclude else ""
                problems.append(
                    f"{path}: folder has no {what}.pdf/.png/.jpg/.jpeg/.tif/.tiff files"
                )
            found.extend(files)
        elif path.is_file():
            found.append((path, Path(os.path.relpath(os.path.abspath(path), root)).as_posix()))
        else:
            problems.append(f"{path}: not found")
    if problems:
        raise RenderError("; ".join(problems))
    seen: dict[str, Path] = {}
    for path, rel in found:
        if rel in seen:
            which = str(path) if str(path) == str(seen[rel]) else f"{seen[rel]} (as {path})"
            raise LayoutftError(f"{which} is given twice; give each input once")
        seen[rel] = path
    return [
        CorpusItem(path, rel, output)
        for (path, rel), output in zip(found, _outputs([r for _, r in found], fmt), strict=True)
    ]


def _walk(
    folder: Path, root: Path, written: set[str], include: Sequence[str], exclude: Sequence[str]
) -> list[tuple[Path, str]]:
    """The supported files under ``folder`` that pass the patterns, sorted, with their
    paths relative to ``root`` (hidden ones and the ``written`` folders skipped)."""
    found: list[tuple[Path, str]] = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and os.path.abspath(os.path.join(here, d)) not in written
        )
        for name in names:
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                continue  # hidden: ._x.pdf (macOS metadata), .git/, caches
            path = Path(here) / name
            if not path.is_file():
                continue
            rel = Path(os.path.relpath(os.path.abspath(path), root)).as_posix()
            if include and not any(_matches(rel, p, folders=False) for p in include):
                continue
            if any(_matches(rel, p, folders=True) for p in exclude):
                continue
            found.append((path, rel))
    found.sort(key=lambda item: item[1])
    return found


def _matches(rel: str, pattern: str, *, folders: bool) -> bool:
    """Whether ``pattern`` matches the relative path ``rel`` (see :func:`plan_corpus`)."""
    pattern = pattern.removeprefix("./")
    if "/" in pattern.rstrip("/"):
        return fnmatchcase(rel, pattern.strip("/")) or fnmatchcase(rel, pattern.strip("/") + "/*")
    parts = rel.split("/")
    names = parts if folders else parts[-1:]
    return any(fnmatchcase(name, pattern.strip("/")) for name in names)


def _outputs(rels: Sequence[str], fmt: str) -> list[str]:
    """The output path of each input path (see :func:`plan_corpus`)."""
    suffix = output_suffix(fmt)
    stems = Counter((os.path.dirname(r), Path(r).stem) for r in rels)
    outputs = []
    for rel in rels:
        folder, name = os.path.split(rel)
        stem = Path(name).stem
        base = name if stems[(folder, stem)] > 1 else stem
        outputs.append(f"{folder}/{base}{suffix}" if folder else base + suffix)
    taken = set(outputs)
    for rel, output in zip(rels, outputs, strict=True):
        parts = output.split("/")
        clash = output == MANIFEST_NAME or any(
            "/".join(parts[:i]) in taken for i in range(1, len(parts))
        )
        if clash:
            raise LayoutftError(
                f"the result of {rel} would be written to {output}, which is taken by "
                "another output or the manifest; rename the input or leave it out (--exclude)"
            )
    return outputs
