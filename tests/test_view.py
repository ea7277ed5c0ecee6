"""The HTML viewer without a browser: escaping of the embedded results, page images,
missing sources, `layoutft view` and `layoutft parse --view`."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.parsing.viewer import Viewer, render_html, script_json, write_viewer
from layoutft.schema import Document
from tests.view_helpers import HOSTILE, documents, page_image


class Tags(HTMLParser):
    """Start tags and the text of each <script> of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def test_script_json_cannot_close_the_script_block() -> None:
    data = {"text": HOSTILE, "sep": "a\u2028b"}
    text = script_json(data)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data


def test_region_text_does_not_break_out_of_the_page() -> None:
    data = {"title": "<b>t</b>", "labels": [], "documents": [{"name": HOSTILE, "text": HOSTILE}]}
    page = render_html(data, title="<b>t</b></title><script>x()</script>")
    parsed = Tags()
    parsed.feed(page)
    names = [tag for tag, _ in parsed.tags]
    assert names.count("script") == 2 and "img" not in names and "b" not in names
    assert json.loads(parsed.scripts[0]) == data  # the data block holds exactly the results
    assert "onerror" not in parsed.scripts[1]  # the program holds no data
    assert "<title>&lt;b&gt;t&lt;/b&gt;&lt;/title&gt;" in page
    # the page writes results into the DOM as text only
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page
    assert "document.write" not in page


def embedded(index: Path) -> dict[str, Any]:
    parsed = Tags()
    parsed.feed(index.read_text(encoding="utf-8"))
    result: dict[str, Any] = json.loads(parsed.scripts[0])
    return result


def test_write_viewer_renders_pages_and_notes_missing_sources(tmp_path: Path) -> None:
    docs = documents(tmp_path)
    viewer = write_viewer(docs, tmp_path / "view")
    data = embedded(tmp_path / "view" / "index.html")
    first, missing = data["documents"]
    assert [p["image"] for p in first["pages"]] == ["pages/d001-p1.jpg", "pages/d001-p2.jpg"]
    with Image.open(tmp_path / "view" / first["pages"][0]["image"]) as im:
        assert im.size == (400, 300)  # page pixels: bbox_px lands on the image
        assert im.getpixel((100, 200))[0] < 160  # the grey block of the source page
    with Image.open(tmp_path / "view" / first["pages"][0]["thumb"]) as im:
        assert im.size[0] == 160
    assert [r["label"] for r in first["pages"][0]["regions"]][:2] == ["title", "table"]
    assert first["pages"][0]["regions"][0]["text"] == HOSTILE
    assert missing["pages"][0]["image"] is None
    assert (missing["pages"][0]["width"], missing["pages"][0]["height"]) == (850, 1100)
    assert missing["notes"] == viewer.notes and "source not found" in viewer.notes[0]
    assert [lab["name"] for lab in data["labels"]] == ["text", "title", "table", "figure"]
    assert data["labels"][0]["color"] == "#1f77b4"  # draw.py's colour for text


def test_source_found_next_to_the_results_file(tmp_path: Path, monkeypatch: Any) -> None:
    doc = documents(tmp_path)[0]
    doc.source["path"] = "page.tiff"  # relative to where parse ran, not here
    monkeypatch.chdir(tmp_path.parent)
    viewer = write_viewer([doc], tmp_path / "view", results=[tmp_path / "page.json"])
    assert viewer.notes == []
    assert (tmp_path / "view" / "pages" / "d001-p1.jpg").is_file()


def test_viewer_with_given_images_and_size_mismatch(tmp_path: Path) -> None:
    doc = documents(tmp_path)[0]
    viewer = Viewer(tmp_path / "v")
    viewer.add(doc, [np.zeros((300, 400, 3), np.uint8), None])
    viewer.write()
    pages = embedded(tmp_path / "v" / "index.html")["documents"][0]["pages"]
    assert pages[0]["image"] and pages[1]["image"] is None
    with pytest.raises(ValueError):
        viewer.add(doc, [None])


def test_cli_view(tmp_path: Path) -> None:
    docs = documents(tmp_path)
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "a.json").write_text(docs[0].to_json(), encoding="utf-8")
    (tmp_path / "res" / "b.jsonl").write_text(
        "\n".join(docs[1].to_jsonl_lines() * 2), encoding="utf-8"
    )
    (tmp_path / "res" / "a.coco.json").write_text("[]", encoding="utf-8")
    result = CliRunner().invoke(app, ["view", str(tmp_path / "res"), "-o", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    assert "source not found" in result.output and "2 documents, 4 pages" in result.output
    data = embedded(tmp_path / "v" / "index.html")
    assert [d["name"] for d in data["documents"]] == ["page.tiff", "gone.pdf"]
    assert data["documents"][0]["results"] == str(tmp_path / "res" / "a.json")

    (tmp_path / "bad.json").write_text('{"schema": "other"}', encoding="utf-8")
    bad = CliRunner().invoke(app, ["view", str(tmp_path / "bad.json"), "-o", str(tmp_path / "w")])
    assert bad.exit_code == 1 and "not layoutft results" in bad.output
    none = CliRunner().invoke(app, ["view", str(tmp_path / "nothing"), "-o", str(tmp_path / "w")])
    assert none.exit_code == 1 and "no such file" in none.output


class OneBoxModel:
    """Stand-in detector: one text box per page."""

    labels: ClassVar[list[str]] = ["text", "title"]

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> Any:
        from types import SimpleNamespace

        return [
            SimpleNamespace(
                boxes=np.array([[10, 10, 100, 60]], np.float32),
                scores=np.array([0.9], np.float32),
                classes=np.array([0]),
                labels=["text"],
                masks=None,
            )
            for _ in images
        ]


def test_parse_view_writes_the_viewer_in_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import layoutft.parsing.parser as parser_mod

    monkeypatch.setattr(parser_mod, "load_model", lambda *a, **k: OneBoxModel())
    png = str(tmp_path / "page.png")
    page_image().save(png)
    out, view = tmp_path / "page.json", tmp_path / "view"
    args = ["parse", png, "-o", str(out), "--quiet", "--view", str(view)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert re.search(r"viewer: .*index\.html", result.output)
    (doc,) = embedded(view / "index.html")["documents"]
    assert doc["name"] == "page.png" and len(doc["pages"]) == 1
    regions = doc["pages"][0]["regions"]
    assert [(r["label"], r["bbox_px"]) for r in regions] == [("text", [10.0, 10.0, 100.0, 60.0])]
    written = Document.from_json(out).pages[0].regions  # the same regions as the results
    assert [(r["id"], r["bbox_pt"], r["order"]) for r in regions] == [
        (r.id, r.bbox_pt, r.order) for r in written
    ]
    with Image.open(view / doc["pages"][0]["image"]) as im:
        assert im.size == (400, 300)


def test_alternatives_and_origin_reach_the_viewer(tmp_path: Path) -> None:
    from layoutft.schema import Alternative

    docs = documents(tmp_path)
    region = docs[0].pages[0].regions[0]
    region.alternatives = [Alternative("list", 0.61)]
    region.origin = "text-layer"
    write_viewer(docs, tmp_path / "view")
    shown = embedded(tmp_path / "view" / "index.html")["documents"][0]["pages"][0]["regions"]
    assert shown[0]["alternatives"] == [["list", 0.61]]
    assert shown[0]["origin"] == "text-layer" and shown[1]["origin"] == "model"
    assert shown[1]["alternatives"] == []
    assert 'row("alternatives"' in (tmp_path / "view" / "index.html").read_text()
