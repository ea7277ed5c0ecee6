"""``POST /parse`` with ``format``: the answer is what ``layoutft parse --format F`` writes,
by the same sinks (the results file, or a zip of it and the page images laid out as
``parse -o DIR`` lays them out); ``json`` stays today's answer byte for byte; an unknown
format is one 400 line naming the choices; the temporary folder never outlives a request."""

from __future__ import annotations

import io
import json
import re
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from starlette.responses import JSONResponse
from typer.testing import CliRunner

from layoutft.cli.app import app as cli_app
from layoutft.errors import OptionError
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.output_formats import FORMATS
from layoutft.parsing.parser import Parser
from layoutft.parsing.result_bundle import ResultBundle, safe_stem
from layoutft.parsing.results import result_sink
from layoutft.serving import ServeSettings
from tests.serve_helpers import multipart
from tests.test_parse_preannotations import FixedModel
from tests.test_serve import H, Server, W, direct, make_service, pdf_bytes, png_bytes

_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")  # METS/PAGE creation times


@pytest.fixture()
def server() -> Iterator[Server]:
    with Server(make_service()) as running:
        yield running


def post(
    url: str, data: bytes, fields: dict[str, str] | None = None, filename: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, raw body)`` of a POST: ``data`` as the multipart file
    ``filename`` with ``fields``, or as the raw body when ``filename`` is None."""
    headers: dict[str, str] = {}
    if filename is not None:
        data, headers["Content-Type"] = multipart(
            fields or {}, {"file": (filename, data, "image/png")}
        )
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def library_files(data: bytes, fmt: str, dest: Path) -> dict[str, bytes]:
    """The files the library's sink for ``fmt`` writes for ``data`` into ``dest``'s folder
    (what ``layoutft parse --format fmt`` writes), by path relative to it."""
    dest.parent.mkdir(parents=True)
    Parser(FixedModel(), ParseOptions(text=False), "fixed-model").run(
        data, [result_sink(dest, fmt)]
    )
    return {
        p.relative_to(dest.parent).as_posix(): p.read_bytes()
        for p in dest.parent.rglob("*")
        if p.is_file()
    }


def unzipped(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def boxes_by_label(document: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Each region's pixel box, rounded as the XML writers round it (labels are distinct)."""
    return {
        r["label"]: tuple(round(v) for v in r["bbox_px"]) for r in document["pages"][0]["regions"]
    }


def test_json_answer_is_unchanged_byte_for_byte(server: Server) -> None:
    image = png_bytes()
    today = JSONResponse(direct(image)).body  # what POST /parse answered before formats
    for fields in ({}, {"format": "json"}):
        status, headers, body = post(server.url + "/parse", image, fields, "page.png")
        assert status == 200 and headers["content-type"] == "application/json"
        assert body == today
    status, _, body = post(server.url + "/parse?format=JSON", image)
    assert status == 200 and body == today


def test_coco_and_jsonl_answer_the_results_file(server: Server, tmp_path: Path) -> None:
    image = png_bytes()
    document = direct(image)
    status, headers, body = post(server.url + "/parse", image, {"format": "coco"}, "page.png")
    assert status == 200 and headers["content-type"] == "application/json"
    assert (
        body == library_files(image, "coco", tmp_path / "coco" / "page.coco.json")["page.coco.json"]
    )
    results = json.loads(body)
    boxes = [r["bbox"] for r in results if "alternative_of" not in r]
    expected = [r["bbox_px"] for r in document["pages"][0]["regions"]]
    assert boxes == [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in expected]
    assert {r["image_id"] for r in results} == {1}

    status, headers, body = post(server.url + "/parse?format=jsonl", image)
    assert status == 200 and headers["content-type"] == "application/x-ndjson"
    assert (
        body
        == library_files(image, "jsonl", tmp_path / "jsonl" / "document.jsonl")["document.jsonl"]
    )
    assert [json.loads(line) for line in body.splitlines()] == [document]  # one page


def test_pagexml_answer_is_a_zip_laid_out_as_parse_writes(server: Server, tmp_path: Path) -> None:
    image = png_bytes()
    status, headers, body = post(server.url + "/parse", image, {"format": "pagexml"}, "page.png")
    assert status == 200, body
    assert headers["content-type"] == "application/zip"
    assert 'filename="page.zip"' in headers["content-disposition"]
    files = unzipped(body)
    assert sorted(files) == ["images/page-p1.png", "page.mets.xml", "page/page-p1.xml"]
    library = library_files(image, "pagexml", tmp_path / "out" / "page.mets.xml")
    assert sorted(library) == sorted(files)
    for name, data in files.items():  # the same sink's bytes, but for creation times
        assert _STAMP.sub(b"T", data) == _STAMP.sub(b"T", library[name]), name
    pixels = np.asarray(Image.open(io.BytesIO(files["images/page-p1.png"])).convert("RGB"))
    assert np.array_equal(pixels, np.asarray(Image.open(io.BytesIO(image)).convert("RGB")))
    assert pixels.shape == (H, W, 3)

    root = ET.fromstring(files["page/page-p1.xml"])
    ns = {"pc": root.tag[1:].partition("}")[0]}
    page = root.find("pc:Page", ns)
    assert page is not None and page.get("imageFilename") == "images/page-p1.png"
    assert (page.get("imageWidth"), page.get("imageHeight")) == (str(W), str(H))
    document = direct(image)
    by_id = {f"r{r['id']}": r["label"] for r in document["pages"][0]["regions"]}
    regions: dict[str, tuple[int, ...]] = {}
    for element in page:
        coords = element.find("pc:Coords", ns)
        if coords is None:
            continue
        points = [tuple(map(int, p.split(","))) for p in (coords.get("points") or "").split()]
        xs, ys = [x for x, _ in points], [y for _, y in points]
        regions[by_id[element.get("id", "")]] = (min(xs), min(ys), max(xs), max(ys))
    assert regions == boxes_by_label(document)
    assert len(regions) == 3


def test_hocr_answer_and_the_servers_default_format() -> None:
    image = png_bytes()
    with Server(make_service(format="hocr")) as running:
        status, headers, body = post(running.url + "/parse", image)  # no format: the server's
        assert status == 200 and headers["content-type"] == "application/zip"
        files = unzipped(body)
        assert sorted(files) == ["document.hocr", "images/document-p1.png"]  # no file name
        root = ET.fromstring(files["document.hocr"])
        regions: dict[str, tuple[int, ...]] = {}
        for element in root.iter():
            title = element.get("title", "")
            if "x_label" in title:
                props = dict(part.strip().split(" ", 1) for part in title.split(";"))
                regions[props["x_label"]] = tuple(int(v) for v in props["bbox"].split())
        assert regions == boxes_by_label(direct(image))
        pages = [e for e in root.iter() if e.get("class") == "ocr_page"]
        assert len(pages) == 1 and 'image "images/document-p1.png"' in pages[0].get("title", "")
        # the request's format wins over the server's
        status, _, body = post(running.url + "/parse?format=json", image)
        assert status == 200 and json.loads(body) == direct(image)


def test_unknown_format_repeated_format_and_async_are_400(server: Server) -> None:
    image = png_bytes()
    choices = ", ".join(FORMATS)
    for url, fields, words in [
        ("/parse?format=docx", {}, f"unknown format 'docx'; choose one of {choices}"),
        ("/parse?format=coco", {"format": "hocr"}, "option 'format' is given twice"),
        ("/parse?async=1", {"format": "pagexml"}, "format pagexml needs a synchronous request"),
    ]:
        status, headers, body = post(server.url + url, image, fields, "page.png")
        assert status == 400 and headers["content-type"] == "application/json"
        answer = json.loads(body)
        assert set(answer) == {"error"} and words in answer["error"], answer
        assert "\n" not in answer["error"]
    status, _, body = post(server.url + "/parse?async=1&format=json", image)
    assert status == 202 and "job" in json.loads(body)
    with pytest.raises(OptionError, match="unknown"):
        ServeSettings(format="docx")
    result = CliRunner().invoke(cli_app, ["serve", "--format", "docx"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--format 'docx'" in lines[0] and choices in lines[0], lines


def test_the_temporary_folder_goes_with_the_request(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pdf = pdf_bytes(2)
    status, _, body = post(server.url + "/parse", pdf, {"format": "alto"}, "two pages.pdf")
    assert status == 200
    assert sorted(unzipped(body)) == [
        "alto/two_pages-p1.xml",
        "alto/two_pages-p2.xml",
        "images/two_pages-p1.png",
        "images/two_pages-p2.png",
        "two_pages.mets.xml",
    ]
    # a failed request (a page the PDF lacks) leaves nothing either
    status, _, body = post(server.url + "/parse?pages=7", pdf, {"format": "cvat"}, "a.pdf")
    assert status == 422, body
    deadline = time.monotonic() + 30  # the folder goes right after the answer's last byte
    while any(tmp_path.glob("layoutft-results-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(tmp_path.glob("layoutft-results-*"))


def test_result_bundle_names_and_cleanup() -> None:
    assert safe_stem("page.png") == "page"
    assert safe_stem("C:\\scans\\page 1.pdf") == "page_1"
    assert safe_stem("../../etc/passwd") == "passwd"
    assert safe_stem("..") == safe_stem("") == safe_stem(None) == "document"
    with ResultBundle("coco", "../x.pdf") as bundle:
        root = bundle.folder.parent
        assert bundle.dest == bundle.folder / "x.coco.json"
    assert not root.exists()
    with pytest.raises(OptionError, match="choose one of"):
        ResultBundle("docx")
