"""Parse results: sinks that receive a document's pages from the parser and write them as
JSON, JSON Lines (streamed, a line per page) or COCO results, atomically; or, with the page
images beside them, as pre-annotations for Label Studio, CVAT or a COCO dataset
(:mod:`layoutft.parsing.preannotations`).

A sink is driven by :meth:`Parser.run <layoutft.parsing.parser.Parser.run>`: ``begin``
with the document header, ``add`` for each page as soon as it is parsed, ``end`` with the
complete document, or ``abort`` when the run fails (a half-written file is removed).
"Export" in layoutft means models (:mod:`layoutft.model_export`); these are results.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from layoutft.errors import LayoutftError, OptionError
from layoutft.outputs import atomic_path, check_writable
from layoutft.parsing.output_formats import FORMATS, WITH_IMAGES, XML_FORMATS, output_format
from layoutft.schema import SCHEMA_ID, Document, Page


class ResultSink(Protocol):
    """Receives one document's pages from the parser (see the module docstring)."""

    def begin(self, document: Document) -> None: ...

    def add(self, document: Document, page: Page, image: np.ndarray) -> None: ...

    def end(self, document: Document) -> None: ...

    def abort(self) -> None: ...


def check_format(fmt: str) -> str:
    """``fmt`` if it is a known output format, else OptionError naming the choices."""
    return output_format(fmt).name


def output_suffix(fmt: str) -> str:
    """The file suffix of results in ``fmt`` (``.json``, ``.jsonl``, ``.coco.json``, ...)."""
    return output_format(fmt).suffix


def output_path(files: Sequence[Path], out: Path | None, fmt: str, many: bool) -> Path | None:
    """Where the result of a one-input run goes: None for stdout (no ``out``), else the file
    ``out``. Runs into a folder (several inputs, a folder input, ``-o DIR``) are corpus runs
    (:mod:`layoutft.corpus`), which place their own outputs.

    Raises OptionError for a format with page images and no ``out``; LayoutftError for
    several inputs (or a folder) without ``out``, or an ``out`` that would replace an input.
    """
    from layoutft.outputs import refuse_inputs

    if out is None and output_format(fmt).images:
        raise OptionError(
            "{format} {value} writes page images beside its file: pass {output} FILE "
            "(one input) or DIR",
            value=fmt,
        )
    if many or len(files) != 1:
        raise LayoutftError("several inputs (or a folder): pass -o DIR for the output files")
    if out is None:
        return None
    refuse_inputs([out], files, "choose another output file (-o)")
    return out


def output_folders(
    out: Path | None, fmt: str, visualize: Path | None, view: Path | None, *, corpus: bool
) -> list[tuple[str, Path]]:
    """The folders a parse run writes page images into, as ``(flag, folder)`` pairs for
    :func:`layoutft.outputs.refuse_input_folders`: ``--visualize``, ``--view``, and for the
    formats with page images the ``images/`` folder beside ``out`` (a one-input run) or
    ``out`` itself (a corpus run, with an ``images/`` beside each result)."""
    from layoutft.parsing.preannotations import IMAGES

    folders: list[tuple[str, Path]] = []
    if out is not None and output_format(fmt).images:
        folders.append(("-o", out) if corpus else ("page images", out.parent / IMAGES))
    folders += [(flag, p) for flag, p in (("--visualize", visualize), ("--view", view)) if p]
    return folders


def check_drawn_folders(visualize: Path | None, view: Path | None) -> None:
    """OSError-free one-line errors for unwritable ``--visualize`` / ``--view`` folders."""
    if visualize is not None:
        check_writable([visualize], "--visualize")
    if view is not None:
        check_writable([view], "--view")


def refuse_unrelated(dest: Path, source: Path, fmt: str, overwrite: bool) -> None:
    """LayoutftError when ``dest`` exists and is not an earlier result of ``source`` in
    ``fmt``, unless ``overwrite``.

    An earlier result is recognised by the source it records: a ``layoutft.document/1``
    document (``json``; the first line of ``jsonl``), Label Studio tasks (``data.source``)
    or a COCO dataset (``images[].source``) whose source has ``source``'s file name. COCO
    results and CVAT XML record no source: replacing one needs ``--overwrite``.
    """
    if overwrite or not os.path.lexists(dest):
        return
    if _recorded_source(dest, fmt) != source.name:
        raise LayoutftError(
            f"{dest} already exists and is not an earlier result of {source.name}; "
            "pass --overwrite to replace it or choose another -o"
        )


def _recorded_source(path: Path, fmt: str) -> str | None:
    """The file name of the source that the result file ``path`` records, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.readline() if fmt == "jsonl" else f.read())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    recorded: Any = None
    if fmt in ("json", "jsonl") and isinstance(data, dict) and data.get("schema") == SCHEMA_ID:
        recorded = (data.get("source") or {}).get("path")
    elif fmt == "labelstudio" and isinstance(data, list) and data:
        recorded = (data[0].get("data") or {}).get("source") if isinstance(data[0], dict) else None
    elif fmt == "coco-dataset" and isinstance(data, dict) and data.get("images"):
        first = data["images"][0]
        recorded = first.get("source") if isinstance(first, dict) else None
    return Path(recorded).name if isinstance(recorded, str) else None


class DocumentSink:
    """Writes the whole document when it is complete: ``json`` (``layoutft.document/1``) or
    ``coco`` (COCO detection results) to ``dest``, or stdout when ``dest`` is None."""

    def __init__(self, dest: Path | None, fmt: str = "json") -> None:
        if check_format(fmt) not in ("json", "coco"):
            raise LayoutftError("DocumentSink writes json or coco; see result_sink for the others")
        self.dest = dest
        self.fmt = fmt

    def begin(self, document: Document) -> None:
        """Nothing is written before the document is complete."""

    def add(self, document: Document, page: Page, image: np.ndarray) -> None:
        """Pages are kept by the parser in ``document``."""

    def end(self, document: Document) -> None:
        if self.fmt == "json":
            text = document.to_json()
        else:
            text = json.dumps(document.to_coco_results(), ensure_ascii=False)
        if self.dest is None:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            return
        with atomic_path(self.dest) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")

    def abort(self) -> None:
        """Nothing was written."""


class JsonLinesSink:
    """Writes a line per page as soon as the page is parsed (each line a one-page
    ``layoutft.document/1`` document) to ``dest`` (atomically, when the document is
    complete) or to stdout when ``dest`` is None."""

    def __init__(self, dest: Path | None) -> None:
        self.dest = dest
        self._target: AbstractContextManager[Path] | None = None
        self._stream: IO[str] | None = None

    def begin(self, document: Document) -> None:
        if self.dest is None:
            self._stream = sys.stdout
            return
        self._target = atomic_path(self.dest)
        self._stream = self._target.__enter__().open("w", encoding="utf-8")

    def add(self, document: Document, page: Page, image: np.ndarray) -> None:
        assert self._stream is not None, "begin() first"
        line = Document(document.source, document.model, [page]).to_dict()
        self._stream.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._stream.flush()

    def end(self, document: Document) -> None:
        self._close(None)

    def abort(self) -> None:
        self._close(sys.exc_info()[1] or RuntimeError("parse aborted"))

    def _close(self, error: BaseException | None) -> None:
        """Close the file; move it into place, or (``error``) remove it."""
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
        self._stream = None
        target, self._target = self._target, None
        if target is None:
            return
        if error is None:
            target.__exit__(None, None, None)
        else:
            target.__exit__(type(error), error, error.__traceback__)


def result_sink(
    dest: Path | None, fmt: str, xml_labels: Any = None, shape: str = "rect"
) -> ResultSink:
    """The sink writing ``fmt`` (one of :data:`FORMATS`; its ``writer`` in the
    :mod:`~layoutft.parsing.output_formats` table) to ``dest`` (None: stdout, except for the
    formats that write page images). ``xml_labels``: the
    :class:`~layoutft.formats.types.XmlLabels` of the XML formats (default: the built-in
    map); ``shape``: the region shape of the pre-annotation formats (rect, polygon, auto;
    :mod:`layoutft.parsing.preannotations`)."""
    spec = output_format(fmt)
    if spec.writer in ("xml", "preannotation"):
        if dest is None:
            raise OptionError("{format} {value} needs an output file", value=fmt)
        if spec.writer == "xml":
            from layoutft.parsing.xml_results import XmlSink

            return XmlSink(dest, fmt, xml_labels)
        from layoutft.parsing.preannotations import PreannotationSink

        return PreannotationSink(dest, fmt, shape)
    return JsonLinesSink(dest) if spec.writer == "jsonl" else DocumentSink(dest, fmt)


__all__ = [
    "FORMATS",
    "WITH_IMAGES",
    "XML_FORMATS",
    "DocumentSink",
    "JsonLinesSink",
    "ResultSink",
    "check_format",
    "output_folders",
    "output_path",
    "output_suffix",
    "refuse_unrelated",
    "result_sink",
]
