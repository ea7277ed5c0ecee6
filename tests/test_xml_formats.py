"""PAGE XML, ALTO and hOCR outputs (``layoutft parse --format pagexml|alto|hocr``,
:mod:`layoutft.formats`): valid against the PAGE 2019, ALTO 4.4 and METS schemas (the XSDs
in tests/fixtures/schemas, validated with ``xmlschema``, nothing fetched), and read back by
``layoutft convert --from pagexml|alto`` as the same regions: labels through the map, boxes
within 1 px, reading order kept, text kept."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from layoutft.data.convert import convert
from layoutft.errors import DatasetError
from layoutft.formats.common import region_points
from layoutft.formats.pagexml import page_xml
from layoutft.formats.types import XmlLabels, load_xml_labels
from layoutft.formats.write import write_document
from layoutft.schema import Document, Page, Region, Word
from tests.test_parse_preannotations import page as page
from tests.test_parse_preannotations import run_parse

xmlschema = pytest.importorskip("xmlschema")
SCHEMAS = Path(__file__).parent / "fixtures" / "schemas"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real"
W, H = 1224, 1584  # 612 x 792 pt at 144 dpi


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    return {
        "pagexml": xmlschema.XMLSchema(str(SCHEMAS / "pagecontent-2019-07-15.xsd")),
        "alto": xmlschema.XMLSchema(str(SCHEMAS / "alto-4-4.xsd")),
        "mets": xmlschema.XMLSchema(str(SCHEMAS / "mets.xsd")),
    }


def region(i: int, label: str, box: list[float], order: int, **kw: Any) -> Region:
    pt = [v / 2 for v in box]
    ring = [[pt[0], pt[1]], [pt[2], pt[1]], [pt[2], pt[3]], [pt[0], pt[3]]]
    return Region(i, label, 0.9 - i / 100, box, pt, kw.pop("polygon", [ring]), order=order, **kw)


def doclaynet_document() -> Document:
    """Every DocLayNet class once, in a reading order that differs from the ids, with an
    L-shaped mask outline, OCR words, and text with PAGE's custom-grammar characters."""
    labels = [
        "Title",
        "Section-header",
        "Text",
        "List-item",
        "Caption",
        "Footnote",
        "Formula",
        "Page-header",
        "Page-footer",
        "Picture",
        "Table",
    ]
    regions = []
    for i, label in enumerate(labels):
        y = 40.0 + i * 130
        regions.append(region(i, label, [100.0, y, 1100.5, y + 100.25], (i * 7) % 11))
    regions[0].text = "A title; {with} braces: x"
    regions[2].words = [
        Word("line", [100, 300, 180, 330], 0.95, 0),
        Word("one", [190, 300, 260, 330], 0.5, 0),
        Word("two", [100, 340, 200, 370], 0.875, 1),
    ]
    regions[2].text = "line one\ntwo"
    regions[3].text = "• item"
    # L-shape: the picture's box minus its top-right quarter (points = px / 2)
    regions[9].polygon_pt = [[[50, 605], [300, 605], [300, 630], [550, 630], [550, 655], [50, 655]]]
    regions[9].bbox_px, regions[9].bbox_pt = [100.0, 1210.0, 1100.0, 1310.0], [50, 605, 550, 655]
    page = Page(1, 612, 792, dpi=144, width_px=W, height_px=H, regions=regions)
    source = {"path": "doc.pdf", "sha256": "0" * 64, "page_count": 1}
    return Document(source, {"name": "m", "labels": labels}, [page])


def written(tmp_path: Path, document: Document, fmt: str, **kw: Any) -> Path:
    image = tmp_path / "page.png"
    Image.fromarray(np.full((H, W, 3), 255, np.uint8)).save(image)
    suffix = ".hocr" if fmt == "hocr" else ".mets.xml"
    dest = tmp_path / fmt / f"doc{suffix}"
    files = write_document(document, dest, fmt, images={1: image}, **kw)
    assert files[-1] == dest and all(f.is_file() for f in files)
    return dest


def coco_of(fmt: str, folder: Path, tmp_path: Path, labels: str | None) -> dict[str, Any]:
    out = tmp_path / f"conv-{fmt}"
    convert(fmt, [folder], out, labels=labels)
    coco: dict[str, Any] = json.loads((out / "annotations.json").read_text())
    return coco


def check_round_trip(coco: dict[str, Any], document: Document, ordered: bool) -> None:
    """Same regions: label, box within 1 px of the written outline's (= the box for box
    regions), order and text."""
    page = document.pages[0]
    names = {c["id"]: c["name"] for c in coco["categories"]}
    anns = coco["annotations"]
    if ordered:
        anns = sorted(anns, key=lambda a: a["order"])
        assert [a["order"] for a in anns] == list(range(len(page.regions)))
    want = sorted(page.regions, key=lambda r: r.order)
    assert [names[a["category_id"]] for a in anns] == [r.label for r in want]
    for ann, reg in zip(anns, want, strict=True):
        x, y, w, h = ann["bbox"]
        np.testing.assert_allclose([x, y, x + w, y + h], reg.bbox_px, atol=1.0)
        assert ann.get("text") == (reg.text or None) or reg.label in ("Formula", "Picture", "Table")
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (W, H)


def test_pagexml_validates_and_round_trips(tmp_path: Path, schemas: dict[str, Any]) -> None:
    document = doclaynet_document()
    dest = written(tmp_path, document, "pagexml")
    xml = dest.parent / "page" / "doc-p1.xml"
    schemas["pagexml"].validate(str(xml))
    schemas["mets"].validate(str(dest))
    coco = coco_of("pagexml", dest.parent / "page", tmp_path, "pagexml-doclaynet")
    check_round_trip(coco, document, ordered=True)
    # the L-shaped mask outline is the polygon, not the box
    picture = next(
        a for a in coco["annotations"] if a["order"] == document.pages[0].regions[9].order
    )
    assert len(picture["segmentation"][0]) == 12
    root = ET.parse(xml).getroot()
    ns = {"pc": root.tag[1:].split("}")[0]}
    words = root.findall(".//pc:Word", ns)
    assert [w.find("pc:TextEquiv/pc:Unicode", ns).text for w in words] == ["line", "one", "two"]
    assert [w.find("pc:TextEquiv", ns).get("conf") for w in words] == ["0.9500", "0.5000", "0.8750"]
    assert root.find("pc:Page", ns).get("imageFilename") == "images/doc-p1.png"
    title = root.find(".//pc:TextRegion[@id='r0']", ns)
    assert (title.get("type"), title.get("custom")) == ("heading", "structure {type:title;}")


def test_alto_validates_and_round_trips(tmp_path: Path, schemas: dict[str, Any]) -> None:
    document = doclaynet_document()
    dest = written(tmp_path, document, "alto")
    xml = dest.parent / "alto" / "doc-p1.xml"
    schemas["alto"].validate(str(xml))
    schemas["mets"].validate(str(dest))
    coco = coco_of("alto", dest.parent / "alto", tmp_path, None)
    # ALTO keeps element order = reading order, and the label itself as the tag's LABEL
    anns = sorted(coco["annotations"], key=lambda a: a["id"])
    check_round_trip({**coco, "annotations": anns}, document, ordered=False)
    root = ET.parse(xml).getroot()
    ns = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
    strings = root.findall(".//a:String", ns)
    two = next(s for s in strings if s.get("CONTENT") == "two")
    assert (two.get("HPOS"), two.get("VPOS"), two.get("WIDTH"), two.get("WC")) == (
        "100",
        "340",
        "100",
        "0.8750",
    )


def test_publaynet_labels_round_trip_through_their_map(tmp_path: Path) -> None:
    document = doclaynet_document()
    names = ["title", "text", "list", "table", "figure"]
    page = document.pages[0]
    page.regions = page.regions[:5]
    for i, (reg, name) in enumerate(zip(page.regions, names, strict=True)):
        reg.label, reg.order, reg.text = name, i, None if name in ("table", "figure") else "x"
        reg.words = []
    dest = written(tmp_path, document, "pagexml")
    coco = coco_of("pagexml", dest.parent / "page", tmp_path, "pagexml-publaynet")
    check_round_trip(coco, document, ordered=True)


def test_hocr_structure(tmp_path: Path) -> None:
    dest = written(tmp_path, doclaynet_document(), "hocr")
    root = ET.parse(dest).getroot()
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    page = root.find(".//h:div[@class='ocr_page']", ns)
    assert (
        page is not None
        and page.get("title") == 'image "images/doc-p1.png"; bbox 0 0 1224 1584; ppageno 0'
    )
    blocks = [e for e in page if e.get("class", "").startswith("ocr_")]
    labels = [e.get("title").split("x_label ")[1].split(";")[0] for e in blocks]
    assert labels == [
        r.label for r in sorted(doclaynet_document().pages[0].regions, key=lambda r: r.order)
    ]
    classes = {e.get("title").split("x_label ")[1].split(";")[0]: e.get("class") for e in blocks}
    assert (classes["Table"], classes["Picture"], classes["Page-header"]) == (
        "ocr_table",
        "ocr_photo",
        "ocr_header",
    )
    words = root.findall(".//h:span[@class='ocrx_word']", ns)
    two = next(w for w in words if w.text == "two")
    assert two.get("title") == "bbox 100 340 200 370; x_wconf 88"


def test_xml_label_map_overrides(tmp_path: Path) -> None:
    spec = tmp_path / "map.yaml"
    spec.write_text("pagexml:\n  Title: TextRegion:caption\n  Picture: GraphicRegion:logo\n")
    labels = load_xml_labels(spec)
    text = page_xml(doclaynet_document(), doclaynet_document().pages[0], "p.png", labels)
    assert '<TextRegion id="r0" type="caption">' in text
    assert '<GraphicRegion id="r9" type="logo">' in text
    assert labels.page_type("Unlisted").structure == "Unlisted"
    spec.write_text("pagexml:\n  Title: TextRegion:title\nalto:\n  Table: Tabel\n")
    with pytest.raises(DatasetError) as err:
        load_xml_labels(spec)
    assert "type 'title' is not allowed for TextRegion" in str(err.value)
    assert "alto Table: 'Tabel' is not one of" in str(err.value)


def test_outline_points_are_mask_or_box() -> None:
    document = doclaynet_document()
    page = document.pages[0]
    assert region_points(page.regions[0], page) == [(100, 40), (1100, 40), (1100, 140), (100, 140)]
    assert len(region_points(page.regions[9], page)) == 6


def test_page_metadata_is_fixed_by_created() -> None:
    document = doclaynet_document()
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    text = page_xml(document, document.pages[0], "p.png", XmlLabels(), when)
    assert "<Created>2024-01-02T03:04:05</Created>" in text


@pytest.mark.parametrize("fmt", ["pagexml", "alto", "hocr"])
def test_parse_cli_writes_xml(
    fmt: str, page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schemas: dict[str, Any]
) -> None:
    suffix = ".hocr" if fmt == "hocr" else ".mets.xml"
    out = tmp_path / "out" / f"doc{suffix}"
    result = run_parse([str(page), "--format", fmt, "-o", str(out)], monkeypatch)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "images" / "doc-p1.png").is_file()
    if fmt == "hocr":
        assert "ocr_page" in out.read_text()
        return
    folder = tmp_path / "out" / ("page" if fmt == "pagexml" else "alto")
    schemas[fmt].validate(str(folder / "doc-p1.xml"))
    schemas["mets"].validate(str(out))
    labels = "pagexml-publaynet" if fmt == "pagexml" else None
    coco = coco_of(fmt, folder, tmp_path, labels)
    names = sorted(
        {c["id"]: c["name"] for c in coco["categories"]}[a["category_id"]]
        for a in coco["annotations"]
    )
    assert names == ["figure", "text", "title"]


def test_xml_labels_flag_needs_an_xml_format(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "map.yaml"
    spec.write_text("pagexml: {}\n")
    result = run_parse(
        [str(page), "-o", str(tmp_path / "x.json"), "--xml-labels", str(spec)], monkeypatch
    )
    assert result.exit_code != 0
    assert "--xml-labels is for --format pagexml, alto or hocr" in result.output


@pytest.mark.skipif(not (REAL / "docbank-100" / "pdf").is_dir(), reason="../shared/real absent")
def test_real_pages_pagexml_and_alto_validate_and_round_trip(
    tmp_path: Path, schemas: dict[str, Any]
) -> None:
    """Real pages through the bundled model (a born-digital PDF, a PubLayNet scan, a DTA book
    page): PAGE and ALTO validate, and read back as the same regions, every box within 1 px
    of ``bbox_px``, mask outlines included (benchmarks/results/xml_outputs.md: every file)."""
    from benchmarks.xml_outputs import round_trip
    from layoutft.parsing.parser import Parser, load_model
    from layoutft.parsing.xml_results import XmlSink

    files = [
        sorted((REAL / "docbank-100" / "pdf").glob("*.pdf"))[0],
        sorted((REAL / "publaynet-20").glob("*.jpg"))[0],
        sorted((REAL / "dta-books").glob("*.png"))[0],
    ]
    parser = Parser(load_model(None, None, [], "cpu", None))
    masks = 0
    for n, path in enumerate(files):
        sinks = [XmlSink(tmp_path / f"{fmt}{n}" / "d.mets.xml", fmt) for fmt in ("pagexml", "alto")]
        document = parser.run(path, sinks)
        assert document.pages[0].regions, path
        document.source["path"] = "d.pdf"
        for fmt, folder in (("pagexml", "page"), ("alto", "alto")):
            out = tmp_path / f"{fmt}{n}"
            schemas[fmt].validate(str(out / folder / "d-p1.xml"))
            counts = round_trip(document, out / folder, out / "images", fmt, tmp_path)
            assert counts["regions"] == len(document.pages[0].regions)
            assert (counts["count"], counts["label"], counts["order"], counts["box"]) == (0,) * 4
            masks += counts["masks"] if fmt == "pagexml" else 0
    assert masks >= 3  # mask outlines (not just boxes) made the trip
