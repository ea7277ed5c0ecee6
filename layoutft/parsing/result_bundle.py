"""One document's results in any output format as one file to hand over (``layoutft
serve``'s answer): the format's sink (:func:`~layoutft.parsing.results.result_sink`, chosen
through the :mod:`~layoutft.parsing.output_formats` table) writes into a temporary folder
laid out as ``layoutft parse -o DIR`` lays out its outputs (``<stem><suffix>``, and
``images/``, ``page/``... beside it), and the bundle is that results file (formats without
page images) or a zip of the folder (formats with page images). No torch.

Use::

    with ResultBundle("pagexml", "scan") as bundle:
        parser.run(source, [bundle.sink])
        path, media_type, name = bundle.finish()
        ...  # send path; the folder is removed on leaving the block
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any

from layoutft.parsing.output_formats import output_format
from layoutft.parsing.results import ResultSink, result_sink

ZIP_MEDIA_TYPE = "application/zip"
#: the stem of a bundle whose source has no usable file name
DEFAULT_STEM = "document"
_UNSAFE = re.compile(r"[^\w.-]+")
_STORED = (".png",)  # already compressed: stored as they are in the zip


def safe_stem(name: str | None) -> str:
    """A file stem for results of a file named ``name`` (an upload's client-given name):
    its last path part without its suffix, runs of characters other than letters, digits,
    ``.``, ``-`` and ``_`` as ``_``, at most 100 characters; :data:`DEFAULT_STEM` when
    nothing is left. ``"C:\\\\scans\\\\page 1.pdf"`` -> ``page_1``."""
    last = re.split(r"[\\/]", name or "")[-1]
    stem = _UNSAFE.sub("_", Path(last).stem).strip("._")[:100]
    return stem or DEFAULT_STEM


class ResultBundle:
    """A temporary folder receiving one document's results in ``fmt``, through :attr:`sink`.

    Args:
        fmt: an output format (OptionError naming the choices for an unknown one).
        stem: the results file's stem (``<stem><suffix>``; page images
            ``images/<stem>-p<N>.png``); made safe with :func:`safe_stem`.
        xml_labels: the XML formats' label map (default: the built-in one).
        shape: region shape of the pre-annotation formats (rect, polygon, auto).
    """

    def __init__(
        self, fmt: str, stem: str = DEFAULT_STEM, xml_labels: Any = None, shape: str = "rect"
    ) -> None:
        self.format = output_format(fmt)
        self._root = Path(tempfile.mkdtemp(prefix="layoutft-results-"))
        self.folder = self._root / "results"
        self.folder.mkdir()
        self.dest = self.folder / (safe_stem(stem) + self.format.suffix)
        self.sink: ResultSink = result_sink(self.dest, fmt, xml_labels, shape)

    def finish(self) -> tuple[Path, str, str]:
        """``(path, media type, file name)`` of the bundle once the sink has ended: the
        results file itself, or for formats with page images a zip of the folder (paths
        inside relative to it, ``/``-separated, sorted)."""
        if not self.format.images:
            return self.dest, self.format.media_type, self.dest.name
        name = self.dest.name[: -len(self.format.suffix)] + ".zip"
        archive = self._root / name
        with zipfile.ZipFile(archive, "w") as zf:
            for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
                stored = path.suffix.lower() in _STORED
                method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                zf.write(path, path.relative_to(self.folder).as_posix(), compress_type=method)
        return archive, ZIP_MEDIA_TYPE, name

    def close(self) -> None:
        """Remove the temporary folder and everything in it (idempotent)."""
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> ResultBundle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["DEFAULT_STEM", "ZIP_MEDIA_TYPE", "ResultBundle", "safe_stem"]
