"""ICDAR table XML: cTDaR 2019 and POD 2017 (pixels, one image per file) and the 2013 table
competition (PDF points, bottom-left origin, rendered pages), hostile input, the real set."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from layoutft.data.convert import convert
from layoutft.errors import DatasetError
from tests.coco_helpers import ann, cats, load, make_image

ICDAR2013 = Path(__file__).resolve().parents[2] / "shared" / "real" / "icdar2013-tables"


def coords(*points: tuple[int, int]) -> str:
    return '<Coords points="' + " ".join(f"{x},{y}" for x, y in points) + '"/>'


def test_ctdar_2019_trainset_layout_cells_counted(tmp_path: Path) -> None:
    """Annotations/TrainSet/x.xml finds Images/TrainSet/x.jpg; cells are not regions."""
    root = tmp_path / "cTDaR"
    make_image(root / "Images" / "TrainSet" / "t1.jpg", 300, 200)
    xml = root / "Annotations" / "TrainSet" / "t1.xml"
    xml.parent.mkdir(parents=True)
    xml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<document filename="t1.jpg">\n'
        f"  <table>{coords((10, 20), (10, 120), (210, 120), (210, 20))}\n"
        f'    <cell id="0" neighbors="1:R">{coords((10, 20), (60, 20), (60, 40))}</cell>\n'
        f'    <cell id="1" neighbors="0:L">{coords((60, 20), (210, 20), (210, 40))}</cell>\n'
        "  </table>\n"
        f"  <table>{coords((20, 150), (120, 150), (120, 190), (20, 190))}</table>\n</document>\n"
    )
    convert("ctdar", [xml.parent], tmp_path / "out")
    assert load(tmp_path / "out") == {
        "images": [{"id": 1, "file_name": "t1.jpg", "width": 300, "height": 200}],
        "annotations": [
            ann(1, 1, 1, [10.0, 20.0, 200.0, 100.0], 20000.0,
                [[10.0, 20.0, 10.0, 120.0, 210.0, 120.0, 210.0, 20.0]], cells=2),
            ann(2, 1, 1, [20.0, 150.0, 100.0, 40.0], 4000.0,
                [[20.0, 150.0, 120.0, 150.0, 120.0, 190.0, 20.0, 190.0]]),
        ],
        "categories": cats("table"),
    }  # fmt: skip


def test_pod_2017_region_kinds_and_image_named_like_xml(tmp_path: Path) -> None:
    """POD's tableRegion/figureRegion/formulaRegion are table/figure/formula; a document
    without filename uses the image named like the XML."""
    make_image(tmp_path / "POD_0001.png", 100, 100)
    (tmp_path / "POD_0001.xml").write_text(
        "<document>\n"
        f"  <formulaRegion>{coords((10, 10), (90, 10), (90, 20), (10, 20))}</formulaRegion>\n"
        f"  <!-- a comment -->\n"
        f"  <tableRegion>{coords((10, 30), (90, 30), (90, 60), (10, 60))}</tableRegion>\n"
        f"  <figureRegion>{coords((10, 70), (50, 70), (50, 95))}</figureRegion>\n"
        "</document>\n"
    )
    convert("ctdar", [tmp_path / "POD_0001.xml"], tmp_path / "out")
    coco = load(tmp_path / "out")
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert [(names[a["category_id"]], a["bbox"]) for a in coco["annotations"]] == [
        ("formula", [10.0, 10.0, 80.0, 10.0]),
        ("table", [10.0, 30.0, 80.0, 30.0]),
        ("figure", [10.0, 70.0, 40.0, 25.0]),
    ]
    assert coco["annotations"][2]["area"] == 500.0  # the triangle, not its box


def _reg_xml(*regions: tuple[str, str, str]) -> str:
    """2013 ``-reg.xml``: (table id, page, bounding-box attributes) per region."""
    body = "".join(
        f"<table id='{t}'><region id='1' page='{p}'><instruction instr-id='1'/>"
        f"<bounding-box {box}/></region></table>"
        for t, p, box in regions
    )
    return f"<?xml version='1.0'?><document filename='bm_x-reg.xml'>{body}</document>"


def _make_pdf(path: Path) -> None:
    """Page 1: 200 x 100 pt; page 2: a 100 x 300 pt MediaBox shown /Rotate 90 (300 x 100)."""
    pymupdf = pytest.importorskip("pymupdf")
    doc = pymupdf.open()
    doc.new_page(width=200, height=100)
    doc.new_page(width=100, height=300).set_rotation(90)
    doc.new_page(width=50, height=50)
    doc.save(str(path))
    doc.close()


def test_icdar2013_points_bottom_left_to_pixels_all_pages(tmp_path: Path) -> None:
    """Boxes are y-up points of the displayed page; a table over two pages is a region on
    each, sharing its table_id; the page without tables is rendered too (a negative)."""
    _make_pdf(tmp_path / "x.pdf")
    (tmp_path / "x-reg.xml").write_text(
        _reg_xml(
            ("1", "1", "x1='10' y1='60' x2='60' y2='80'"),
            ("2", "2", "x1='100' y1='10' x2='250' y2='90'"),
        ).replace(
            "</table></document>",
            "<region id='2' page='1'><bounding-box x1='150' y1='5' x2='190' y2='25'/></region>"
            "</table></document>",
        )
    )
    (tmp_path / "x-str.xml").write_text("<document><table id='1'/></document>")  # skipped
    convert("ctdar", [tmp_path], tmp_path / "out", dpi=144)
    coco = load(tmp_path / "out")
    assert [(i["file_name"], i["width"], i["height"], i["page_no"]) for i in coco["images"]] == [
        ("x_p0001.png", 400, 200, 1),
        ("x_p0002.png", 600, 200, 2),
        ("x_p0003.png", 100, 100, 3),
    ]
    assert coco["annotations"] == [
        ann(1, 1, 1, [20.0, 40.0, 100.0, 40.0], 4000.0, table_id="1"),
        ann(2, 1, 1, [300.0, 150.0, 80.0, 40.0], 3200.0, table_id="2"),
        ann(3, 2, 1, [200.0, 20.0, 300.0, 160.0], 48000.0, table_id="2"),
    ]


def test_icdar2013_second_ground_truth(tmp_path: Path) -> None:
    """``xb-reg.xml`` without ``xb.pdf`` is read against ``xa.pdf``, or skipped with a note
    when ``xa-reg.xml`` is converted too."""
    _make_pdf(tmp_path / "xa.pdf")
    (tmp_path / "xa-reg.xml").write_text(_reg_xml(("1", "1", "x1='10' y1='60' x2='60' y2='80'")))
    (tmp_path / "xb-reg.xml").write_text(_reg_xml(("1", "1", "x1='10' y1='50' x2='60' y2='80'")))
    both = convert("ctdar", [tmp_path], tmp_path / "both", dpi=72)
    assert [a["bbox"] for a in load(tmp_path / "both")["annotations"]] == [[10.0, 20.0, 50.0, 20.0]]
    assert any("xb-reg.xml: a second ground truth of xa.pdf, skipped" in n for n in both.notes)
    convert("ctdar", [tmp_path / "xb-reg.xml"], tmp_path / "b", dpi=72)
    assert [a["bbox"] for a in load(tmp_path / "b")["annotations"]] == [[10.0, 20.0, 50.0, 30.0]]


def test_hostile_input_reported_together(tmp_path: Path) -> None:
    """Every bad record of every dialect is listed in one error; nothing is written."""
    make_image(tmp_path / "a.jpg", 100, 100)
    (tmp_path / "a.xml").write_text(
        '<document filename="a.jpg">'
        "<table/>"  # no Coords
        '<table><Coords points="1,2 3,4"/></table>'  # two points
        '<table><Coords points="1,2 3,x 5,6"/></table>'  # not numbers
        '<table><Coords points="1 2 3 4 5 6"/></table>'  # not x,y pairs
        "</document>"
    )
    (tmp_path / "b.xml").write_text('<document filename="gone.jpg"><table/></document>')
    (tmp_path / "c.xml").write_text("<PcGts/>")
    (tmp_path / "d.xml").write_text("<document><table>")
    _make_pdf(tmp_path / "e.pdf")
    (tmp_path / "e-reg.xml").write_text(
        _reg_xml(
            ("1", "7", "x1='1' y1='1' x2='5' y2='5'"),  # beyond the PDF's 3 pages
            ("2", "one", "x1='1' y1='1' x2='5' y2='5'"),
            ("3", "1", "x1='1' y1='1' x2='5'"),
        )
    )
    (tmp_path / "f-reg.xml").write_text(_reg_xml(("1", "1", "x1='1' y1='1' x2='5' y2='5'")))
    with pytest.raises(DatasetError) as exc:
        convert("ctdar", [tmp_path], tmp_path / "out", dpi=72)
    message = str(exc.value)
    expected = [
        f"{tmp_path / 'a.xml'}: table 1: region has no <Coords",
        f"{tmp_path / 'a.xml'}: table 2: Coords points '1,2 3,4' must be at least 3 'x,y'",
        f"{tmp_path / 'a.xml'}: table 3: Coords points '1,2 3,x 5,6'",
        f"{tmp_path / 'a.xml'}: table 4: Coords points '1 2 3 4 5 6'",
        f"{tmp_path / 'b.xml'}: image 'gone.jpg' not found",
        f"{tmp_path / 'c.xml'}: not ICDAR table XML: root is 'PcGts', expected document",
        f"{tmp_path / 'd.xml'}: malformed XML",
        f"{tmp_path / 'e-reg.xml'}: table id='1', region id='1': page 7 is beyond e.pdf's 3",
        f"{tmp_path / 'e-reg.xml'}: table id='2', region id='1': page='one' must be a page",
        f"{tmp_path / 'e-reg.xml'}: table id='3', region id='1': needs <bounding-box",
        f"{tmp_path / 'f-reg.xml'}: PDF f.pdf not found",
    ]
    for line in expected:
        assert line in message, line
    assert "11 problems" in message
    assert not (tmp_path / "out").exists()


def _reference_2013(folder: Path, dpi: float) -> dict[tuple[str, int], list[list[float]]]:
    """Table boxes (XYWH pixels) per (PDF name, page), computed independently of layoutft:
    PyMuPDF's displayed page height flips the y-up boxes; ``b`` alternatives left out."""
    import pymupdf

    out: dict[tuple[str, int], list[list[float]]] = {}
    scale = dpi / 72.0
    for xml in sorted(folder.glob("*-reg.xml")):
        pdf = folder / (xml.name.removesuffix("-reg.xml") + ".pdf")
        if not pdf.exists():
            continue
        with pymupdf.open(pdf) as doc:
            for region in ET.parse(xml).getroot().iter("region"):
                box = region.find("bounding-box")
                assert box is not None
                x1, y1, x2, y2 = (float(box.get(k, "nan")) for k in ("x1", "y1", "x2", "y2"))
                number = int(region.get("page", "0"))
                height = doc[number - 1].rect.height
                xywh = [x1 * scale, (height - y2) * scale, (x2 - x1) * scale, (y2 - y1) * scale]
                out.setdefault((pdf.name, number), []).append(xywh)
    return out


@pytest.mark.skipif(not ICDAR2013.is_dir(), reason="../shared/real/icdar2013-tables absent")
def test_real_icdar2013_tables_match_reference(tmp_path: Path) -> None:
    """The whole real set: every table box matches the independent reference to 0.01 px at
    36 dpi (0.06 px at 200 dpi; the acceptance bound is 1 px)."""
    pytest.importorskip("pymupdf")
    dpi = 36.0  # small pages keep the test quick; the mapping is linear in dpi
    result = convert("ctdar", [ICDAR2013], tmp_path / "out", dpi=dpi)
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    images = {i["id"]: i for i in coco["images"]}
    got: dict[tuple[str, int], list[list[float]]] = {}
    for a in coco["annotations"]:
        image = images[a["image_id"]]
        got.setdefault((image["doc_name"], image["page_no"]), []).append(a["bbox"])
    reference = _reference_2013(ICDAR2013, dpi)
    assert set(got) == set(reference)
    assert sum(map(len, got.values())) == sum(map(len, reference.values())) == 156
    for key, boxes in reference.items():
        for want, have in zip(sorted(boxes), sorted(got[key]), strict=True):
            assert max(abs(w - h) for w, h in zip(want, have, strict=True)) <= 0.01, key
    assert len(coco["images"]) == 238  # every page of the 67 PDFs
    assert len([n for n in result.notes if "second ground truth" in n]) == 4
