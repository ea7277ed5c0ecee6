"""A Ray Data pipeline of page records, for users who compose their own pipelines.

::

    from layoutft.distributed import page_dataset, detect_pages, page_from_row

    pages = page_dataset(["a.pdf", "scans/b.png"], ParseOptions(dpi=150))   # render
    parsed = detect_pages(pages, ModelSpec("publaynet"), workers=4, gpus_per_worker=1)
    for row in parsed.iter_rows():
        page = page_from_row(row)    # a layoutft.schema.Page, as `layoutft parse` writes it

Ray Data's streaming executor runs the stages concurrently with its own backpressure
(rendering is a ``flat_map`` of tasks; detection a ``map_batches`` over an actor pool whose
actors load the model once). Pages come out in no particular order and nothing is written:
:func:`layoutft.distributed.parse_corpus` writes result files and a manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.distributed.cluster import require_ray
from layoutft.distributed.workers import (
    ModelSource,
    ModelSpec,
    load_detector,
    opened_as_given,
    page_row,
    render_pages,
    rendered_page,
)
from layoutft.parsing.options import ParseOptions
from layoutft.render.pages import parse_page_spec
from layoutft.render.types import RenderedPage
from layoutft.schema import Page

#: the columns of :func:`detect_pages`' rows
DETECTED_COLUMNS = ("source", "page", "status", "error", "page_json")


def page_dataset(
    paths: Sequence[str | Path], options: ParseOptions | None = None, *, render_cpus: float = 1
) -> Any:
    """A ``ray.data.Dataset`` with one row per page of ``paths`` (PDFs and images),
    rendered as ``layoutft parse`` renders them with ``options`` (``dpi``, ``pages``,
    ``renderer``, ``max_pixels``, ``image_dpi``, ``text``).

    Row columns: ``source`` (the path as given), ``page`` (1-based), ``image`` (uint8
    [H,W,3] RGB), ``width_px``, ``height_px``, ``dpi``, ``error`` (why the page, or with
    ``page`` 0 the whole input, could not be rendered; else None) and ``record`` (the
    page's transform and words, pickled; :func:`~layoutft.distributed.workers.rendered_page`
    reads a row back). Inputs are opened on the workers from this process's working folder.
    """
    ray = require_ray()
    opts = options or ParseOptions()
    rows = [{"source": os.fspath(p)} for p in paths]
    ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
    return ds.flat_map(
        _render_file, fn_kwargs={"options": opts, "cwd": os.getcwd()}, num_cpus=render_cpus
    )


def detect_pages(
    pages: Any,
    model: ModelSource | None = None,
    options: ParseOptions | None = None,
    *,
    workers: int = 1,
    gpus_per_worker: float = 0,
    cpus_per_worker: float = 1,
    pages_per_call: int | None = None,
    model_name: str | None = None,
) -> Any:
    """The parsed pages of a :func:`page_dataset`: a ``ray.data.Dataset`` of rows
    ``source``, ``page``, ``status`` (``ok``/``error``), ``error`` and ``page_json`` (the
    page as ``layoutft parse`` writes it, JSON; None for an input that could not be
    opened; :func:`page_from_row` reads it).

    ``workers`` actors (``gpus_per_worker`` GPUs and ``cpus_per_worker`` CPUs each) load
    ``model`` (default: the bundled model) once and get ``pages_per_call`` pages per call
    (default: the model's batch size, at least 4). ``options`` as for the local engine.
    """
    require_ray()
    opts = options or ParseOptions()
    spec = model if model is not None else ModelSpec()
    if model_name is None and isinstance(spec, ModelSpec):
        model_name = spec.display_name
    return pages.map_batches(
        _DetectBatch,
        fn_constructor_args=(spec, opts, model_name),
        batch_size=pages_per_call or max(4, opts.batch_size or 1),
        batch_format="numpy",
        concurrency=workers,
        num_cpus=cpus_per_worker,
        num_gpus=gpus_per_worker,
    )


def page_from_row(row: dict[str, Any]) -> Page | None:
    """The :class:`~layoutft.schema.Page` of a :func:`detect_pages` row (None for an input
    that could not be opened: ``row["error"]`` says why)."""
    text = row.get("page_json")
    return None if text is None else Page.from_dict(json.loads(text))


def _render_file(row: dict[str, Any], options: ParseOptions, cwd: str) -> list[dict[str, Any]]:
    """The page rows of one input (one row with ``page`` 0 and its error when it cannot be
    opened)."""
    from layoutft.render import count_pages

    source = str(row["source"])
    try:
        with opened_as_given(source, os.path.abspath(os.path.join(cwd, source)), cwd) as where:
            numbers = parse_page_spec(options.pages, count_pages(where), where)
            rendered = render_pages(where, numbers, options)
    except Exception as exc:
        return [_failed_row(source, f"{type(exc).__name__}: {exc}")]
    return [page_row(source, page) for page in rendered]


def _failed_row(source: str, error: str) -> dict[str, Any]:
    from layoutft.geometry import PageTransform

    failed = RenderedPage(0, np.zeros((0, 0, 3), np.uint8), PageTransform(1, 1), "pdf", error)
    return page_row(source, failed)


class _DetectBatch:
    """The actor of :func:`detect_pages`: the model, loaded once."""

    def __init__(self, model: ModelSource, options: ParseOptions, model_name: str | None) -> None:
        from layoutft.parsing.parser import Parser

        self.parser = Parser(load_detector(model), options, model_name)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        count = len(batch["source"])
        rows = [{name: batch[name][i] for name in batch} for i in range(count)]
        openable = [i for i, row in enumerate(rows) if int(row["page"]) > 0]
        parsed = self.parser.parse_rendered([rendered_page(rows[i]) for i in openable])
        pages: dict[int, Page] = dict(zip(openable, parsed, strict=True))
        out: dict[str, list[Any]] = {name: [] for name in DETECTED_COLUMNS}
        for i, row in enumerate(rows):
            page = pages.get(i)
            out["source"].append(str(row["source"]))
            out["page"].append(int(row["page"]))
            out["status"].append("error" if page is None else page.status)
            out["error"].append(row["error"] if page is None else page.error)
            out["page_json"].append(None if page is None else json.dumps(page.to_dict()))
        return out
