"""Input sources: paths or bytes, their kind (PDF or image), hash, and folder expansion."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from layoutft.errors import RenderError

PDF_SUFFIXES = frozenset({".pdf"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
SUPPORTED_SUFFIXES = PDF_SUFFIXES | IMAGE_SUFFIXES

SourceKind = Literal["pdf", "image"]


@dataclass(frozen=True)
class Source:
    """One input: a file path or in-memory bytes, and whether it is a PDF or an image.

    Attributes:
        path: the file, or None for bytes input.
        data: the bytes, or None for a path.
        kind: ``"pdf"`` or ``"image"`` (PNG, JPEG, TIFF), from the file's first bytes.
        name: how messages name the input (the path, or ``"<bytes>"``).
    """

    path: Path | None
    data: bytes | None
    kind: SourceKind
    name: str

    def sha256(self) -> str:
        """Hex SHA-256 of the input's bytes (files are hashed in chunks)."""
        digest = hashlib.sha256()
        if self.data is not None:
            digest.update(self.data)
        else:
            assert self.path is not None
            with self.path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        return digest.hexdigest()


def _sniff(head: bytes) -> SourceKind:
    # PDF readers accept junk before the header, so look a little way in.
    return "pdf" if b"%PDF-" in head[:1024] else "image"


def resolve_source(source: str | Path | bytes | bytearray | Source) -> Source:
    """Turn a path or bytes into a :class:`Source`; RenderError if the path does not exist."""
    if isinstance(source, Source):
        return source
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        if not data:
            raise RenderError("<bytes>: the input is empty")
        return Source(None, data, _sniff(data), "<bytes>")
    path = Path(source)
    if not path.is_file():
        what = "is a folder (pass its files, or use the CLI)" if path.is_dir() else "not found"
        raise RenderError(f"{path}: {what}")
    with path.open("rb") as fh:
        head = fh.read(1024)
    if not head:
        raise RenderError(f"{path}: the file is empty")
    return Source(path, None, _sniff(head), str(path))


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files to parse: each file as given, each folder's supported files (sorted, not recursive).

    Raises RenderError naming every missing path, or a folder without PDFs or images.
    """
    files: list[Path] = []
    problems: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
            if not found:
                problems.append(f"{path}: folder has no .pdf/.png/.jpg/.jpeg/.tif/.tiff files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: not found")
    if problems:
        raise RenderError("; ".join(problems))
    return files
