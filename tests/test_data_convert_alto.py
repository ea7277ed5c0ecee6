"""ALTO v2-v4: a Gallicorpora/eScriptorium page round-trips (SegmOnto zone types, polygons,
text), namespace variants, mm10/inch1200 units, polygon syntaxes, hostile input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from layoutft.data.convert import convert
from layoutft.errors import DatasetError
from tests.coco_helpers import load, make_image

V4 = "http://www.loc.gov/standards/alto/ns-v4#"

# Structure of a Gallicorpora HTR-imprime page (eScriptorium export), text and numbers made up.
GALLICORPORA = f"""<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
      xmlns="{V4}"
      xsi:schemaLocation="{V4} http://www.loc.gov/standards/alto/v4/alto-4-2.xsd">
  <Description>
    <MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation>
      <fileName>doc_f11.tif.jpeg</fileName>
    </sourceImageInformation>
  </Description>
  <Tags>
    <OtherTag ID="BT12" LABEL="RunningTitleZone" DESCRIPTION="block type RunningTitleZone"/>\
<OtherTag ID="BT11" LABEL="NumberingZone" DESCRIPTION="block type NumberingZone"/>\
<OtherTag ID="BT10" LABEL="MainZone" DESCRIPTION="block type MainZone"/>\
<OtherTag ID="BT9" LABEL="GraphicZone" DESCRIPTION="block type GraphicZone"/>\
<OtherTag ID="BT8" LABEL="MainZone#1" DESCRIPTION="block type MainZone#1"/>
    <OtherTag ID="LT5" LABEL="DefaultLine" DESCRIPTION="line type DefaultLine"/>\
<OtherTag ID="LT6" LABEL="HeadingLine" DESCRIPTION="line type HeadingLine"/>
  </Tags>
  <Layout>
    <Page WIDTH="400" HEIGHT="600" PHYSICAL_IMG_NR="0" ID="eSc_dummypage_">
      <PrintSpace HPOS="0" VPOS="0" WIDTH="400" HEIGHT="600">
        <TextBlock HPOS="40" VPOS="20" WIDTH="300" HEIGHT="30" ID="eSc_textblock_a1"
                   TAGREFS="BT12">
          <Shape><Polygon POINTS="40 20 340 22 338 50 41 49"/></Shape>
          <TextLine ID="line_1" TAGREFS="LT6" BASELINE="45 45 335 46"
                    HPOS="45" VPOS="22" WIDTH="290" HEIGHT="26">
            <Shape><Polygon POINTS="45 45 45 22 335 23 335 48 45 48"/></Shape>
            <String CONTENT="TITRE COURANT" HPOS="45" VPOS="22" WIDTH="290" HEIGHT="26"></String>
          </TextLine>
        </TextBlock>
        <TextBlock HPOS="350" VPOS="20" WIDTH="30" HEIGHT="20" ID="eSc_textblock_a2"
                   TAGREFS="BT11">
          <Shape><Polygon POINTS="350 20 380 20 380 40 350 40"/></Shape>
          <TextLine ID="line_2" TAGREFS="LT5" BASELINE="352 38 378 38"
                    HPOS="352" VPOS="21" WIDTH="26" HEIGHT="18">
            <Shape><Polygon POINTS="352 38 352 21 378 21 378 38"/></Shape>
            <String CONTENT="12" HPOS="352" VPOS="21" WIDTH="26" HEIGHT="18"></String>
          </TextLine>
        </TextBlock>
        <TextBlock HPOS="40" VPOS="60" WIDTH="310" HEIGHT="500" ID="eSc_textblock_a3"
                   TAGREFS="BT10">
          <Shape><Polygon POINTS="45 60 40 555 345 560 350 65 200 58"/></Shape>
          <TextLine ID="line_3" TAGREFS="LT5" BASELINE="50 90 340 92"
                    HPOS="50" VPOS="66" WIDTH="290" HEIGHT="30">
            <Shape><Polygon POINTS="50 90 50 66 340 66 340 96 50 96"/></Shape>
            <String CONTENT="Premiere ligne du" HPOS="50" VPOS="66" WIDTH="290" HEIGHT="30"/>
          </TextLine>
          <TextLine ID="line_4" TAGREFS="LT5" BASELINE="50 130 340 132"
                    HPOS="50" VPOS="100" WIDTH="290" HEIGHT="30">
            <Shape><Polygon POINTS="50 130 50 100 340 100 340 132 50 132"/></Shape>
            <String CONTENT="texte." HPOS="50" VPOS="100" WIDTH="290" HEIGHT="30"/>
          </TextLine>
        </TextBlock>
        <TextBlock HPOS="60" VPOS="565" WIDTH="100" HEIGHT="30" ID="eSc_textblock_a4"
                   TAGREFS="BT9">
          <Shape><Polygon POINTS="60 565 160 565 160 595 60 595"/></Shape>
        </TextBlock>
        <TextBlock HPOS="200" VPOS="565" WIDTH="100" HEIGHT="30" ID="eSc_textblock_a5"
                   TAGREFS="BT8">
          <Shape><Polygon POINTS="200 565 300 565 300 595"/></Shape>
        </TextBlock>
      </PrintSpace>
    </Page>
  </Layout>
</alto>
"""


def _expected(xml: str) -> list[tuple[str, list[float], str | None]]:
    """(label, polygon, text) per block, parsed from the fixture with regular expressions
    (independently of the reader)."""
    tags = dict(re.findall(r'<OtherTag ID="(\w+)" LABEL="([^"]+)"', xml))
    out = []
    for block in re.findall(r"<TextBlock .*?</TextBlock>", xml, re.S):
        label = tags[re.search(r'TAGREFS="(\w+)"', block).group(1)]  # type: ignore[union-attr]
        points = re.search(r'POINTS="([^"]+)"', block).group(1)  # type: ignore[union-attr]
        lines = [" ".join(re.findall(r'CONTENT="([^"]+)"', line))
                 for line in re.findall(r"<TextLine .*?</TextLine>", block, re.S)]  # fmt: skip
        out.append((label, [float(v) for v in points.split()], "\n".join(lines) or None))
    return out


def _got(out: Path) -> list[tuple[str, list[float], str | None]]:
    coco = load(out)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    return [
        (names[a["category_id"]], a["segmentation"][0], a.get("text")) for a in coco["annotations"]
    ]


def test_gallicorpora_page_round_trips(tmp_path: Path) -> None:
    """Zone types (subtype kept), polygons and text exactly as in the XML."""
    make_image(tmp_path / "doc" / "doc_f11.tif.jpeg", 400, 600)
    (tmp_path / "doc" / "doc_f11.xml").write_text(GALLICORPORA)
    convert("alto", [tmp_path / "doc"], tmp_path / "out")
    expected = _expected(GALLICORPORA)
    assert [e[0] for e in expected] == [
        "RunningTitleZone",
        "NumberingZone",
        "MainZone",
        "GraphicZone",
        "MainZone#1",
    ]
    assert expected[2][2] == "Premiere ligne du\ntexte."
    assert _got(tmp_path / "out") == expected
    coco = load(tmp_path / "out")
    assert coco["images"] == [
        {"id": 1, "file_name": "doc_f11.tif.jpeg", "width": 400, "height": 600}
    ]
    assert coco["annotations"][4]["bbox"] == [200.0, 565.0, 100.0, 30.0]
    assert coco["annotations"][4]["area"] == 1500.0


def _alto(
    ns: str, unit: str, body: str, image: str = "p.png", tags: str = "", size: int = 1
) -> str:
    xmlns = f' xmlns="{ns}"' if ns else ""
    return (
        f'<?xml version="1.0"?><alto{xmlns}><Description><MeasurementUnit>{unit}'
        f"</MeasurementUnit><sourceImageInformation><fileName>{image}</fileName>"
        f"</sourceImageInformation></Description><Tags>{tags}</Tags><Layout>"
        f'<Page ID="p1" WIDTH="{size}" HEIGHT="{size}">{body}</Page></Layout></alto>'
    )


VARIANT_BODY = (
    "<TopMargin>"
    '<TextBlock ID="t1" HPOS="{a}" VPOS="{a}" WIDTH="{b}" HEIGHT="{b}" TAGREFS="L1 S1">'
    '<TextLine><String CONTENT="Kap."/><SP/><String CONTENT="Vor"/><HYP CONTENT="-"/>'
    "</TextLine></TextBlock></TopMargin>"
    "<PrintSpace>"
    '<ComposedBlock ID="c1" HPOS="{a}" VPOS="{c}" WIDTH="{b}" HEIGHT="{b}">'
    '<Illustration ID="i1" HPOS="{a}" VPOS="{c}" WIDTH="{b}" HEIGHT="{b}">'
    '<Shape><Polygon POINTS="{poly}"/></Shape></Illustration>'
    "</ComposedBlock>"
    '<GraphicalElement ID="g1" HPOS="{c}" VPOS="{c}" WIDTH="{b}" HEIGHT="{b}"/>'
    "</PrintSpace>"
)
VARIANT_TAGS = (
    '<LayoutTag ID="L1" LABEL="heading" DESCRIPTION="logical"/>'
    '<OtherTag ID="S1" LABEL="RunningTitleZone:chapter" DESCRIPTION="block type"/>'
)


@pytest.mark.parametrize(
    ("ns", "unit", "per_inch", "dpi_in_file", "dpi_given"),
    [
        ("http://www.loc.gov/standards/alto/ns-v2#", "mm10", 254, 300, None),
        ("http://www.loc.gov/standards/alto/ns-v3#", "inch1200", 1200, None, 150.0),
        # --dpi wins over the file's resolution
        ("http://www.loc.gov/standards/alto/ns-v3#", "mm10", 254, 72, 300.0),
        ("", "pixel", None, None, None),
    ],
)
def test_namespaces_units_polygons(
    tmp_path: Path,
    ns: str,
    unit: str,
    per_inch: float | None,
    dpi_in_file: int | None,
    dpi_given: float | None,
) -> None:
    """Boxes and polygons (both point syntaxes) in ALTO units land on the same pixels."""
    dpi = dpi_given or dpi_in_file or 1
    to_unit = (lambda px: px * per_inch / dpi) if per_inch else (lambda px: px)
    a, b, c = (f"{to_unit(v):g}" for v in (10, 60, 100))
    if unit == "pixel":
        poly = "100,100 160,100 130,160"  # the "x,y x,y" syntax
    else:
        poly = " ".join(f"{to_unit(v):g}" for v in (100, 100, 160, 100, 130, 160))
    body = VARIANT_BODY.format(a=a, b=b, c=c, poly=poly)
    Image.new("RGB", (300, 300), "white").save(
        tmp_path / "p.png", **({"dpi": (dpi_in_file, dpi_in_file)} if dpi_in_file else {})
    )
    (tmp_path / "p.xml").write_text(_alto(ns, unit, body, tags=VARIANT_TAGS, size=300))
    result = convert("alto", [tmp_path / "p.xml"], tmp_path / "out", dpi=dpi_given)
    coco = load(tmp_path / "out")
    names = {c["id"]: c["name"] for c in coco["categories"]}
    got = [(names[x["category_id"]], x["bbox"], x.get("text")) for x in coco["annotations"]]
    assert got == [
        # the "block type" tag wins over the first reference
        ("RunningTitleZone:chapter", [10.0, 10.0, 60.0, 60.0], "Kap. Vor-"),
        ("ComposedBlock", [10.0, 100.0, 60.0, 60.0], None),
        ("Illustration", [100.0, 100.0, 60.0, 60.0], None),  # the polygon, not HPOS...
        ("GraphicalElement", [100.0, 100.0, 60.0, 60.0], None),
    ]
    assert coco["annotations"][2]["segmentation"] == [[100.0, 100.0, 160.0, 100.0, 130.0, 160.0]]
    assert any("1 block(s) lie inside a ComposedBlock" in n for n in result.notes)


def test_hostile_input_reported_together(tmp_path: Path) -> None:
    """Every bad record is listed in one error naming the file, block and fix."""
    make_image(tmp_path / "p.png", 100, 100)  # no DPI recorded
    blocks = (
        '<PrintSpace><TextBlock ID="a" TAGREFS="BT404" HPOS="1" VPOS="1" WIDTH="5" HEIGHT="5"/>'
        '<TextBlock ID="b"><Shape><Polygon POINTS="1 2 3 4"/></Shape></TextBlock>'
        '<TextBlock ID="c"><Shape><Polygon POINTS="1,2 3,x 5,6"/></Shape></TextBlock>'
        '<Illustration ID="d" HPOS="1" VPOS="1"/>'
        '<TextBlock ID="e" TAGREFS="T1" HPOS="1" VPOS="1" WIDTH="5" HEIGHT="5"/></PrintSpace>'
    )
    (tmp_path / "a.xml").write_text(_alto(V4, "pixel", blocks, tags='<OtherTag ID="T1"/>'))
    (tmp_path / "b.xml").write_text(_alto(V4, "mm10", ""))
    (tmp_path / "c.xml").write_text(_alto(V4, "pixel", "", image="gone.png"))
    (tmp_path / "d.xml").write_text(_alto(V4, "furlong", ""))
    (tmp_path / "e.xml").write_text('<alto xmlns="http://example.org/alto"/>')
    (tmp_path / "f.xml").write_text("<alto><Layout>")
    two = _alto("", "pixel", "").replace("</Layout>", '<Page ID="p2"/></Layout>')
    (tmp_path / "g.xml").write_text(two)
    with pytest.raises(DatasetError) as exc:
        convert("alto", [tmp_path], tmp_path / "out")
    message = str(exc.value)
    a = tmp_path / "a.xml"
    expected = [
        f"{a}: TextBlock ID='a': TAGREFS 'BT404' names no tag in <Tags>",
        f"{a}: TextBlock ID='b': Polygon POINTS '1 2 3 4' must be at least 3 points",
        f"{a}: TextBlock ID='c': Polygon POINTS '1,2 3,x 5,6'",
        f"{a}: Illustration ID='d': block has no Shape/Polygon and no numeric HPOS",
        f"{a}: TextBlock ID='e': tag 'T1' in <Tags> has no LABEL",
        f"{tmp_path / 'b.xml'}: MeasurementUnit mm10 needs the image resolution, and p.png "
        "records no DPI; pass --dpi N",
        f"{tmp_path / 'c.xml'}: image 'gone.png' not found",
        f"{tmp_path / 'd.xml'}: MeasurementUnit 'furlong' unknown",
        f"{tmp_path / 'e.xml'}: not ALTO v2-v4",
        f"{tmp_path / 'f.xml'}: malformed XML",
        f"{tmp_path / 'g.xml'}: expected one Layout/Page, found 2",
        # a: the pixel page says 1x1, the image is 100x100 (checked by the builder)
        f"{a}: export says 1x1 but image p.png is 100x100",
    ]
    for line in expected:
        assert line in message, line
    assert message.startswith("12 problems")
    assert not (tmp_path / "out").exists()


def test_same_image_name_in_two_folders(tmp_path: Path) -> None:
    """doc1/f1.jpg and doc2/f1.jpg become <folder>/f1.jpg; an image named by two ALTO files
    (Gallicorpora's .chocomufin.xml copies) is reported."""
    body = '<PrintSpace><TextBlock ID="b" HPOS="1" VPOS="1" WIDTH="5" HEIGHT="5"/></PrintSpace>'
    for doc in ("doc1", "doc2"):
        make_image(tmp_path / doc / "f1.jpg", 10, 10)
        (tmp_path / doc / "f1.xml").write_text(_alto(V4, "pixel", body, "f1.jpg", size=10))
    make_image(tmp_path / "doc3" / "f2.jpg", 10, 10)
    (tmp_path / "doc3" / "f2.xml").write_text(_alto(V4, "pixel", body, "f2.jpg", size=10))
    result = convert(
        "alto", [tmp_path / "doc1", tmp_path / "doc2", tmp_path / "doc3"], tmp_path / "o"
    )
    assert [i["file_name"] for i in load(tmp_path / "o")["images"]] == [
        "doc1/f1.jpg",
        "doc2/f1.jpg",
        "f2.jpg",
    ]
    assert (tmp_path / "o" / "images" / "doc2" / "f1.jpg").is_file()
    assert any("1 image name(s) occur in several folders" in n for n in result.notes)
    (tmp_path / "doc3" / "f2.chocomufin.xml").write_text(
        _alto(V4, "pixel", body, "f2.jpg", size=10)
    )
    with pytest.raises(DatasetError, match=r"image 'f2.jpg' already used by .*f2\.chocomufin"):
        convert("alto", [tmp_path / "doc3"], tmp_path / "o2")
