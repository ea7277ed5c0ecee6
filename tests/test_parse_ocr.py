"""``parse --ocr``: Tesseract reads regions without a text layer into ``words`` (boxes in
page pixels, confidences) and ``text``, in the JSON and the XML formats. Needs the
``tesseract`` program with English (apt tesseract-ocr tesseract-ocr-eng) and pytesseract;
skipped without them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from layoutft.errors import OptionError
from layoutft.parsing.ocr import needs_ocr, ocr_page
from layoutft.parsing.options import ParseOptions
from layoutft.schema import Page, Region
from tests.test_parse_preannotations import run_parse

pytest.importorskip("pytesseract")
if shutil.which("tesseract") is None:
    pytest.skip("tesseract not installed (apt install tesseract-ocr)", allow_module_level=True)

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LINES = ["Layout analysis 2024", "reads every word"]


def text_image(w: int = 400, h: int = 300) -> np.ndarray:
    """White page with LINES in black at (30, 70) and (30, 110), 24 px DejaVu Sans."""
    if not FONT.is_file():
        pytest.skip("DejaVu Sans not installed")
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 24)
    for k, line in enumerate(LINES):
        draw.text((30, 70 + 40 * k), line, fill="black", font=font)
    return np.asarray(image)


def region(label: str, box: list[float], text: str | None = None) -> Region:
    return Region(0, label, 0.9, box, box, [], text, 0)


def test_ocr_reads_words_with_page_boxes() -> None:
    page = Page(1, 400, 300, dpi=72, width_px=400, height_px=300)
    page.regions = [region("text", [20, 60, 380, 150])]
    ocr_page(page, text_image(), "auto")
    reg = page.regions[0]
    assert reg.text == "\n".join(LINES)
    assert [w.line for w in reg.words] == [0, 0, 0, 1, 1, 1]
    for word in reg.words:
        x0, y0, x1, y1 = word.bbox_px
        assert 20 <= x0 < x1 <= 380 and 60 <= y0 < y1 <= 150  # page pixels, inside the region
        assert 0.5 <= word.confidence <= 1.0
    first = reg.words[0]
    assert abs(first.bbox_px[0] - 31) <= 3 and abs(first.bbox_px[1] - 75) <= 4


def test_modes_choose_regions() -> None:
    assert needs_ocr(region("text", [0, 0, 1, 1], ""), "auto")
    assert not needs_ocr(region("text", [0, 0, 1, 1], "has text"), "auto")
    assert needs_ocr(region("text", [0, 0, 1, 1], "has text"), "always")
    assert not needs_ocr(region("figure", [0, 0, 1, 1]), "always")
    assert not needs_ocr(region("text", [0, 0, 1, 1]), "never")
    with pytest.raises(OptionError, match="unknown ocr 'sometimes'"):
        ParseOptions(ocr="sometimes")


def test_missing_language_is_one_line() -> None:
    from layoutft.parsing.ocr import check_tesseract

    with pytest.raises(OptionError, match=r"xqz is not installed .*apt install tesseract-ocr-xqz"):
        check_tesseract("eng+xqz")


def test_parse_cli_ocr_to_json_and_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    image = tmp_path / "scan.png"
    Image.fromarray(text_image()).save(image)
    out = tmp_path / "doc.json"
    result = run_parse([str(image), "--ocr", "auto", "-o", str(out)], monkeypatch)
    assert result.exit_code == 0, result.output
    regions = json.loads(out.read_text())["pages"][0]["regions"]
    # FixedModel's title box (20,10)-(380,40) is empty; the text box (20,60)-(190,280)
    # cuts the lines: what is inside it is read, the figure is left alone
    by_label = {r["label"]: r for r in regions}
    assert "words" not in by_label["figure"] and by_label["figure"]["text"] is None
    text = by_label["text"]
    assert text["text"].split("\n")[0].startswith("Layout")
    # inside the region and its 4 px OCR margin
    assert all(16 <= w["bbox_px"][0] and w["bbox_px"][2] <= 194 for w in text["words"])
    mets = tmp_path / "x" / "doc.mets.xml"
    result = run_parse(
        [str(image), "--ocr", "auto", "--format", "pagexml", "-o", str(mets)], monkeypatch
    )
    assert result.exit_code == 0, result.output
    xml = tmp_path / "x" / "page" / "doc-p1.xml"
    schema = Path(__file__).parent / "fixtures" / "schemas" / "pagecontent-2019-07-15.xsd"
    xmlschema.XMLSchema(str(schema)).validate(str(xml))
    assert "<Word id=" in xml.read_text() and ">Layout</Unicode>" in xml.read_text()
