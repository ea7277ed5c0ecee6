"""An output folder being written by ``layoutft synth``: a marker file says so until the
dataset is complete, so a rerun never mistakes an interrupted run's pages for a dataset.

Every engine writes ``annotations.json`` last and atomically; the marker covers the pages
written before it (and an old ``annotations.json`` that an ``--overwrite`` run would
otherwise leave beside its new pages).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from layoutft.errors import LayoutftError

MARKER = ".synth-incomplete"
#: Files of a finished dataset that an --overwrite run removes before it writes a page.
_FINISHED = ("annotations.json", "boxes_pt.json")


@contextmanager
def synth_run(out: str | Path, overwrite: bool, settings: dict[str, Any]) -> Iterator[None]:
    """Mark ``out`` as being written for the ``with`` body; the marker stays when the body
    fails or the process is killed after writing pages, and a later run into ``out`` is
    refused unless ``overwrite``. With ``overwrite``, a finished dataset's
    ``annotations.json`` and ``boxes_pt.json`` are set aside first (deleted when the run
    completes; put back when it fails before writing a page, e.g. a refused argument).
    ``settings`` (the command's options) go into the marker for a person to read."""
    folder = Path(out)
    marker = folder / MARKER
    if marker.exists() and not overwrite:
        raise LayoutftError(
            f"{folder}: an earlier synth run into it was interrupted ({marker} is there): its "
            "pages may be incomplete; pass --overwrite to generate the dataset again, or "
            "choose another -o"
        )
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time_ns()
    marker.write_text(json.dumps({"incomplete": True, **settings}) + "\n", encoding="utf-8")
    aside = [(folder / name, folder / f".{name}.replaced") for name in _FINISHED]
    if overwrite:
        for path, hidden in aside:
            if path.exists():
                os.replace(path, hidden)
    try:
        yield
    except BaseException:
        if not _written_since(folder, started):  # nothing to mistake: as before the run
            for path, hidden in aside:
                if hidden.exists():
                    os.replace(hidden, path)
            marker.unlink(missing_ok=True)
        raise
    for _, hidden in aside:
        hidden.unlink(missing_ok=True)
    marker.unlink()


def _written_since(folder: Path, started_ns: int) -> bool:
    """Whether a file in ``folder/images`` or ``folder/pdfs`` was written since then."""
    for sub in ("images", "pdfs"):
        if (folder / sub).is_dir():
            with os.scandir(folder / sub) as entries:
                if any(e.stat().st_mtime_ns >= started_ns for e in entries):
                    return True
    return False


def stale_images(out: str | Path, coco: dict[str, Any]) -> list[str]:
    """Names of the files in ``out/images`` that ``coco`` does not list (left by an earlier
    run with more documents or pages), sorted."""
    folder = Path(out) / "images"
    listed = {str(image.get("file_name")) for image in coco.get("images", [])}
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in listed)
