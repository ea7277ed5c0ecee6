"""The output formats table: one row per format, read by every sink and engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from layoutft.errors import OptionError
from layoutft.parsing.output_formats import (
    FORMATS,
    TABLE,
    WITH_IMAGES,
    output_format,
    viewable_file,
)
from layoutft.parsing.preannotations import PreannotationSink
from layoutft.parsing.results import (
    DocumentSink,
    JsonLinesSink,
    output_path,
    output_suffix,
    result_sink,
)
from layoutft.parsing.xml_results import XmlSink


def test_the_table_rows() -> None:
    assert FORMATS == (
        "json", "jsonl", "coco", "labelstudio", "cvat", "coco-dataset", "pagexml", "alto", "hocr"
    )  # fmt: skip
    assert {f.name: f.suffix for f in TABLE.values()} == {
        "json": ".json",
        "jsonl": ".jsonl",
        "coco": ".coco.json",
        "labelstudio": ".labelstudio.json",
        "cvat": ".cvat.xml",
        "coco-dataset": ".coco-dataset.json",
        "pagexml": ".mets.xml",
        "alto": ".mets.xml",
        "hocr": ".hocr",
    }
    assert WITH_IMAGES == ("labelstudio", "cvat", "coco-dataset", "pagexml", "alto", "hocr")
    assert [f.name for f in TABLE.values() if f.viewable] == ["json", "jsonl"]
    assert output_suffix("coco") == ".coco.json"
    with pytest.raises(OptionError, match=r"unknown.*'yaml'.*json, jsonl, coco"):
        output_format("yaml")


@pytest.mark.parametrize("fmt", FORMATS)
def test_result_sink_is_the_tables_writer(fmt: str, tmp_path: Path) -> None:
    writers = {
        "document": DocumentSink,
        "jsonl": JsonLinesSink,
        "preannotation": PreannotationSink,
        "xml": XmlSink,
    }
    sink = result_sink(tmp_path / f"a{output_format(fmt).suffix}", fmt)
    assert type(sink) is writers[output_format(fmt).writer]
    if output_format(fmt).images:  # page images: a file is needed, never stdout
        with pytest.raises(OptionError, match="needs an output file"):
            result_sink(None, fmt)
        with pytest.raises(OptionError, match="writes page images beside its file"):
            output_path([tmp_path / "in.pdf"], None, fmt, many=False)


def test_viewable_files_by_their_longest_suffix() -> None:
    assert viewable_file("a.json") and viewable_file("a.jsonl")
    assert not viewable_file("a.coco.json")  # COCO results end in .json too
    assert not viewable_file("a.labelstudio.json") and not viewable_file("a.coco-dataset.json")
    assert not viewable_file("a.mets.xml") and not viewable_file("notes.txt")
