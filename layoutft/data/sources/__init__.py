"""Public training sources: real labelled pages from pinned git repositories.

``layoutft dataset build NAME CLONE... OUT`` turns a source's clone(s) into
``OUT/train`` and ``OUT/dev`` (COCO, DocLayNet's 11 classes, ``labelled_category_ids`` on
every image) and ``OUT/source.json``; the dev set is the whole documents fixed in the
committed manifest ``devsets.json``. One module per source (:data:`SOURCES`), shared code in
:mod:`.base` (clones, hashes), :mod:`.devset` (the manifest) and :mod:`.build`.
"""

from __future__ import annotations

#: Source name -> module (with ``INFO``, ``scan(roots)`` and ``inputs(pages, roots, work)``).
SOURCES = {
    "ctdar": "layoutft.data.sources.ctdar",
    "pod": "layoutft.data.sources.pod",
    "hilex": "layoutft.data.sources.hilex",
    "gallicorpora": "layoutft.data.sources.gallicorpora",
    "ocrd-structure": "layoutft.data.sources.ocrd",
}
