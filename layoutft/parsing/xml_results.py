"""Parse results as PAGE XML, ALTO or hOCR (:mod:`layoutft.formats`), with the page images
beside them: a sink that writes each page's image (and its PAGE/ALTO file) as the page is
parsed, and the METS or hOCR file once the document is complete.

Files for ``dest`` ``out/doc.mets.xml`` (see :mod:`layoutft.formats.write`):
``out/images/doc-p<N>.png``, ``out/page/doc-p<N>.xml`` (``alto/`` for ALTO) and
``out/doc.mets.xml``; hOCR: ``out/images/...`` and ``out/doc.hocr``. Coordinates are pixels
of the page images written. Pages that failed are left out. numpy, Pillow; no torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layoutft.formats.types import XmlLabels
from layoutft.formats.write import FORMATS, image_name, stem_of, write_index, write_page
from layoutft.outputs import atomic_path
from layoutft.schema import Document, Page


class XmlSink:
    """Receives a document's pages from the parser and writes them as ``fmt``
    (``pagexml``, ``alto``, ``hocr``); ``abort`` removes what it wrote."""

    def __init__(self, dest: Path, fmt: str, labels: XmlLabels | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"not an XML format: {fmt!r}")
        self.dest = Path(dest)
        self.fmt = fmt
        self.labels = labels
        self.written: list[Path] = []

    def begin(self, document: Document) -> None:
        """Nothing is written before the first page."""

    def add(self, document: Document, page: Page, image: np.ndarray) -> None:
        from PIL import Image

        if page.status != "ok":
            return
        target = self.dest.parent / image_name(stem_of(self.dest, self.fmt), page)
        with atomic_path(target) as tmp:
            Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
        self.written.append(target)
        if self.fmt != "hocr":
            self.written.append(write_page(document, page, self.dest, self.fmt, self.labels))

    def end(self, document: Document) -> None:
        write_index(document, self.dest, self.fmt, self.labels)

    def abort(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written = []
