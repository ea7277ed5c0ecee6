"""Resumable corpus runs: parse a tree of PDFs and images into a folder that keeps a
manifest, so that a rerun of the same command finishes only what is left.

The pieces, each usable alone (the local engine :func:`run_corpus` is a loop over them, and
other engines reuse them):

- :func:`~layoutft.corpus.plan.plan_corpus`: the inputs (found recursively, filtered by
  include/exclude patterns) and the output path of each, mirroring the input tree.
- :class:`~layoutft.corpus.manifest.Manifest`: ``OUT/layoutft-manifest.jsonl``, one JSON
  record per line (a ``run`` record per run, an ``item`` record per input parsed), appended
  with fsync; :func:`~layoutft.corpus.manifest.fingerprint` of the model and the options that
  change outputs.
- :func:`~layoutft.corpus.run.parse_item`: one input -> its output file (atomic) and its
  manifest entry; a bad input gives a ``failed`` entry, never an exception.

Layering: above ``parsing/`` and ``render/``, below ``cli/``. The manifest format is
described in docs/corpus.md and ``layoutft/schemas/manifest-1.schema.json``.
"""

from __future__ import annotations

from layoutft.corpus.manifest import (
    MANIFEST_NAME,
    SCHEMA,
    Manifest,
    ManifestEntry,
    RunRecord,
    SettingsMismatchError,
    fingerprint,
    model_identity,
    output_options,
)
from layoutft.corpus.plan import CorpusItem, corpus_root, plan_corpus
from layoutft.corpus.run import (
    CorpusProgress,
    CorpusSummary,
    NoProgress,
    classify,
    parse_item,
    run_corpus,
    start_run,
)

__all__ = [
    "MANIFEST_NAME",
    "SCHEMA",
    "CorpusItem",
    "CorpusProgress",
    "CorpusSummary",
    "Manifest",
    "ManifestEntry",
    "NoProgress",
    "RunRecord",
    "SettingsMismatchError",
    "classify",
    "corpus_root",
    "fingerprint",
    "model_identity",
    "output_options",
    "parse_item",
    "plan_corpus",
    "run_corpus",
    "start_run",
]
