"""Writing parse results: JSON, JSON Lines (streamed per page) or COCO results; atomically."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from layoutft.errors import LayoutftError
from layoutft.outputs import atomic_path
from layoutft.schema import Document

if TYPE_CHECKING:
    from layoutft.pipeline import Parser

FORMATS = ("json", "jsonl", "coco")
_SUFFIX = {"json": ".json", "jsonl": ".jsonl", "coco": ".coco.json"}


def check_format(fmt: str) -> str:
    """``fmt`` if it is a known output format, else LayoutftError naming the choices."""
    if fmt not in FORMATS:
        raise LayoutftError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def output_paths(
    files: Sequence[Path], out: Path | None, fmt: str, many: bool
) -> list[Path | None]:
    """Where each input's result goes: None for stdout (one input, no ``out``), ``out`` itself
    (one input, ``out`` not a folder), else ``out/<stem><suffix>`` (``<name><suffix>`` when two
    inputs share a stem; inputs sharing a name too keep their folders relative to the
    inputs' common folder: ``x/a.png``, ``y/a.png`` -> ``out/x/a.json``, ``out/y/a.json``).

    Raises LayoutftError when an output would replace an input, or two inputs would
    write one output (the same file given twice).
    """
    from layoutft.outputs import refuse_inputs

    suffix = _SUFFIX[check_format(fmt)]
    if not many:
        if out is None:
            return [None]
        if not (out.is_dir() or str(out).endswith(("/", os.sep))):
            refuse_inputs([out], files, "choose another output file (-o)")
            return [out]
    if out is None:
        raise LayoutftError("several inputs (or a folder): pass -o DIR for the output files")
    stems = [f.stem for f in files]
    names = [(f.name if stems.count(f.stem) > 1 else f.stem) + suffix for f in files]
    dests = [out / name for name in names]
    if len(set(dests)) < len(dests):
        folders = [Path(os.path.abspath(f)).parent for f in files]
        common = Path(os.path.commonpath(folders))
        places = list(zip(folders, stems, strict=True))
        shared = {d for d in dests if dests.count(d) > 1}
        for i, (f, folder) in enumerate(zip(files, folders, strict=True)):
            if dests[i] in shared:
                local = f.stem if places.count((folder, f.stem)) == 1 else f.name
                dests[i] = out / folder.relative_to(common) / (local + suffix)
    seen: dict[Path, Path] = {}
    for source, dest in zip(files, dests, strict=True):
        if dest in seen:
            raise LayoutftError(
                f"{seen[dest]} and {source} would both be written to {dest}; give each input once"
            )
        seen[dest] = source
    refuse_inputs(dests, files, "choose another output folder (-o)")
    return list(dests)


def write_result(
    parser: Parser, source: str | Path | bytes, dest: Path | None, fmt: str
) -> Document:
    """Parse ``source`` with ``parser``, write it to ``dest`` (None: stdout) as ``fmt`` and
    return the document (its pages' ``status`` says what failed).

    ``jsonl`` writes one line per page as soon as the page is done (each line a one-page
    ``layoutft.document/1`` document); ``json`` and ``coco`` write when the input is done.
    """
    check_format(fmt)
    if fmt == "jsonl":
        return _write_jsonl(parser, source, dest)
    document = parser.parse(source)
    if fmt == "json":
        text = document.to_json()
    else:
        text = json.dumps(document.to_coco_results(), ensure_ascii=False)
    if dest is None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return document
    with atomic_path(dest) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return document


def _write_jsonl(parser: Parser, source: str | Path | bytes, dest: Path | None) -> Document:
    from layoutft.render import resolve_source

    src = resolve_source(source)
    header = parser.header(src)
    with contextlib.ExitStack() as stack:
        stream: IO[str]
        if dest is None:
            stream = sys.stdout
        else:
            tmp = stack.enter_context(atomic_path(dest))
            stream = stack.enter_context(tmp.open("w", encoding="utf-8"))
        for page in parser.iter_pages(src):
            header.pages.append(page)
            line = Document(header.source, header.model, [page]).to_dict()
            stream.write(json.dumps(line, ensure_ascii=False) + "\n")
            stream.flush()
    parser.finish(src, header)
    return header
