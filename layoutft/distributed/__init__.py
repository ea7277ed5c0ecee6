"""Corpus parsing on Ray (``pip install 'layoutft[ray]'``): rendering in Ray tasks, the
model in Ray actors that load it once per worker (CPU or GPU), pages streamed with a bound
on how many are in flight, and the local corpus engine's result files and manifest
(:mod:`layoutft.corpus`), so a run resumes with either engine.

- :class:`RayEngine`: the Ray strategy of the one corpus loop
  (:func:`layoutft.corpus_session.parse_corpus` with ``CorpusOptions(engine="ray")`` is
  ``layoutft parse CORPUS -o OUT --engine ray`` as a function); kept entered, it serves
  repeated runs with one set of actors.
- :func:`page_dataset` and :func:`detect_pages`: a Ray Data pipeline of page records, for
  pipelines of your own (parsed pages come out as rows; nothing is written).

Importing this package does not import Ray; using it without Ray installed raises a
one-line LayoutftError with the install command. See docs/corpus.md.
"""

from __future__ import annotations

from layoutft.distributed.cluster import RayOptions, require_ray
from layoutft.distributed.data import detect_pages, page_dataset, page_from_row
from layoutft.distributed.engine import RayEngine
from layoutft.distributed.workers import ModelFacts, PageWorker
from layoutft.parsing.model_spec import ModelSpec

__all__ = [
    "ModelFacts",
    "ModelSpec",
    "PageWorker",
    "RayEngine",
    "RayOptions",
    "detect_pages",
    "page_dataset",
    "page_from_row",
    "require_ray",
]
