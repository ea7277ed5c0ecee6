"""PAGE XML as Transkribus/OCR-D write it: types in ``custom`` structure tags or the ``type``
attribute, nested regions, reading order, TextEquiv text, label listing and the book map."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from layoutft.cli import app
from layoutft.data.convert import convert
from layoutft.data.convert.pagexml import CustomSyntaxError, parse_custom
from layoutft.data.convert.survey import survey_labels
from layoutft.errors import DatasetError
from tests.coco_helpers import ann, cats, load, make_image

NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
DTA_BOOKS = Path(__file__).resolve().parents[2] / "shared" / "real" / "dta-books"


def page_xml(image: str, body: str, width: int = 200, height: int = 100) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<PcGts xmlns="{NS}">\n'
        "  <Metadata><Creator>Transkribus</Creator><Created>2024-05-01T10:00:00</Created>"
        "<LastChange>2024-05-01T10:00:00</LastChange></Metadata>\n"
        f'  <Page imageFilename="{image}" imageWidth="{width}" imageHeight="{height}">\n'
        f"{body}\n  </Page>\n</PcGts>\n"
    )


def box(x0: int, y0: int, x1: int, y1: int) -> str:
    return f'<Coords points="{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"/>'


# Transkribus convention: types and reading order in ``custom``; listed out of reading order.
TRANSKRIBUS = page_xml(
    "p1.png",
    f"""
    <TextRegion id="r_note" custom="readingOrder {{index:3;}} structure {{type:note;}}">
      {box(10, 80, 190, 95)}
      <TextLine id="l1" custom="readingOrder {{index:0;}}">{box(10, 80, 190, 87)}
        <TextEquiv><Unicode>1) Ezechiel 27, 29.</Unicode></TextEquiv></TextLine>
      <TextLine id="l2" custom="readingOrder {{index:1;}}">{box(10, 88, 190, 95)}
        <TextEquiv><Unicode>2) Klemm a. a. O.</Unicode></TextEquiv></TextLine>
    </TextRegion>
    <TextRegion id="r_head" type="heading"
        custom="readingOrder {{index:1;}} structure {{type:running\\u0020title;}}">
      {box(60, 2, 140, 8)}
      <TextEquiv index="2"><Unicode>alternative</Unicode></TextEquiv>
      <TextEquiv index="1"><Unicode>Syrien.</Unicode></TextEquiv>
    </TextRegion>
    <TextRegion id="r_num" custom="readingOrder {{index:0;}} structure {{ type : pageNum }}">
      {box(180, 2, 190, 8)}<TextEquiv><Unicode>197</Unicode></TextEquiv>
    </TextRegion>
    <TableRegion id="t1" custom="readingOrder {{index:2;}}">
      {box(10, 10, 190, 70)}
      <TextRegion id="c2" custom="readingOrder {{index:1;}} structure {{type:body;}}">
        {box(100, 10, 190, 70)}<TextEquiv><Unicode></Unicode></TextEquiv></TextRegion>
      <TextRegion id="c1" custom="readingOrder {{index:0;}} structure {{type:body;}}">
        {box(10, 10, 100, 70)}</TextRegion>
      <TableCell id="tc" row="0" col="0">{box(10, 10, 100, 70)}</TableCell>
    </TableRegion>
    <GraphicRegion id="g1">{box(150, 75, 160, 79)}</GraphicRegion>""",
)

# PAGE standard convention: ``type`` attributes and a <ReadingOrder> with nested groups.
STANDARD = page_xml(
    "p2.png",
    f"""
    <ReadingOrder>
      <OrderedGroup id="ro" caption="Regions reading order">
        <UnorderedGroupIndexed id="g_margin" index="2">
          <RegionRef regionRef="m2"/>
          <RegionRef regionRef="m1"/>
        </UnorderedGroupIndexed>
        <RegionRefIndexed index="0" regionRef="h"/>
        <OrderedGroupIndexed id="g_table" index="1" regionRef="tab">
          <RegionRefIndexed index="1" regionRef="cell2"/>
          <RegionRefIndexed index="0" regionRef="cell1"/>
        </OrderedGroupIndexed>
        <RegionRefIndexed index="3" regionRef="gone"/>
        <RegionRefIndexed index="4" regionRef="h"/>
      </OrderedGroup>
    </ReadingOrder>
    <PrintSpace>{box(5, 1, 195, 99)}</PrintSpace>
    <TextRegion id="h" type="heading" custom="readingOrder {{index:5;}}">{box(10, 2, 190, 10)}
      <TextLine id="hl">{box(10, 2, 190, 10)}
        <TextEquiv><Unicode>Vorrede</Unicode></TextEquiv></TextLine></TextRegion>
    <TableRegion id="tab">{box(10, 20, 150, 90)}
      <TextRegion id="cell1" type="paragraph">{box(10, 20, 80, 90)}</TextRegion>
      <TextRegion id="cell2" type="paragraph">{box(80, 20, 150, 90)}</TextRegion>
    </TableRegion>
    <TextRegion id="m1" type="marginalia">{box(160, 20, 190, 40)}</TextRegion>
    <TextRegion id="m2" type="marginalia">{box(160, 50, 190, 70)}</TextRegion>
    <SeparatorRegion id="sep">{box(10, 15, 190, 16)}</SeparatorRegion>
    <GraphicRegion id="deco" type="decoration">{box(160, 75, 190, 95)}</GraphicRegion>""",
)


NOTE_TEXT = "1) Ezechiel 27, 29.\n2) Klemm a. a. O."


def test_transkribus_custom_structure_types_order_text(tmp_path: Path) -> None:
    make_image(tmp_path / "p1.png", 200, 100)
    (tmp_path / "p1.xml").write_text(TRANSKRIBUS)
    result = convert("pagexml", [tmp_path / "p1.xml"], tmp_path / "out")
    assert load(tmp_path / "out") == {
        "images": [{"id": 1, "file_name": "p1.png", "width": 200, "height": 100}],
        "annotations": [
            # lines' text joined when the region has no TextEquiv of its own
            ann(1, 1, 4, [10.0, 80.0, 180.0, 15.0], 2700.0, text=NOTE_TEXT, order=5),
            # structure type (escaped space decoded) wins over type="heading";
            # the lowest TextEquiv index is the text
            ann(2, 1, 6, [60.0, 2.0, 80.0, 6.0], 480.0, text="Syrien.", order=1),
            # spaces around key, value and a missing final ';' are fine
            ann(3, 1, 5, [180.0, 2.0, 10.0, 6.0], 60.0, text="197", order=0),
            ann(4, 1, 2, [10.0, 10.0, 180.0, 60.0], 10800.0, order=2),
            # nested cells: annotations of their own, ordered by index right after the table;
            # an empty Unicode is no text
            ann(5, 1, 3, [100.0, 10.0, 90.0, 60.0], 5400.0, order=4),
            ann(6, 1, 3, [10.0, 10.0, 90.0, 60.0], 5400.0, order=3),
            ann(7, 1, 1, [150.0, 75.0, 10.0, 4.0], 40.0),  # no readingOrder: no order
        ],
        "categories": cats(
            "GraphicRegion",
            "TableRegion",
            "TextRegion:body",
            "TextRegion:note",
            "TextRegion:pageNum",
            "TextRegion:running title",
        ),
    }
    assert result.notes == [
        f"pagexml: 1 region(s) have a type attribute and a custom structure type that differ; "
        f"the structure type is used (first: {tmp_path / 'p1.xml'}: Page 'p1.png', TextRegion "
        "id='r_head': type='heading', structure 'running title')",
        "pagexml: 2 region(s) lie inside another region and are annotations of their own "
        "(TextRegion in TableRegion 2)",
        "pagexml: elements with an outline that are not regions are not annotations (TableCell 1)",
    ]


def test_standard_type_attribute_and_reading_order_element(tmp_path: Path) -> None:
    """``type`` attributes on any region kind; <ReadingOrder> wins over custom indices:
    ordered groups by index, a group's region before its members, unordered groups as
    written; unknown and repeated references are noted, unreferenced regions get no order."""
    make_image(tmp_path / "p2.png", 200, 100)
    (tmp_path / "p2.xml").write_text(STANDARD)
    result = convert("pagexml", [tmp_path], tmp_path / "out")
    assert load(tmp_path / "out") == {
        "images": [{"id": 1, "file_name": "p2.png", "width": 200, "height": 100}],
        "annotations": [
            ann(1, 1, 4, [10.0, 2.0, 180.0, 8.0], 1440.0, text="Vorrede", order=0),
            ann(2, 1, 3, [10.0, 20.0, 140.0, 70.0], 9800.0, order=1),
            ann(3, 1, 6, [10.0, 20.0, 70.0, 70.0], 4900.0, order=2),
            ann(4, 1, 6, [80.0, 20.0, 70.0, 70.0], 4900.0, order=3),
            ann(5, 1, 5, [160.0, 20.0, 30.0, 20.0], 600.0, order=5),
            ann(6, 1, 5, [160.0, 50.0, 30.0, 20.0], 600.0, order=4),
            ann(7, 1, 2, [10.0, 15.0, 180.0, 1.0], 180.0),
            ann(8, 1, 1, [160.0, 75.0, 30.0, 20.0], 600.0),
        ],
        "categories": cats(
            "GraphicRegion:decoration",
            "SeparatorRegion",
            "TableRegion",
            "TextRegion:heading",
            "TextRegion:marginalia",
            "TextRegion:paragraph",
        ),
    }
    where = f"{tmp_path / 'p2.xml'}: Page 'p2.png'"
    assert result.notes == [
        "pagexml: 2 region(s) lie inside another region and are annotations of their own "
        "(TextRegion in TableRegion 2)",
        "pagexml: elements with an outline that are not regions are not annotations (PrintSpace 1)",
        "pagexml: 1 ReadingOrder reference(s) name no region of their page and are ignored "
        f"(first: {where}: 'gone')",
        "pagexml: 1 ReadingOrder reference(s) repeat a region already placed; its first place "
        f"is kept (first: {where}: 'h')",
    ]


def test_malformed_custom_and_reading_order_reported_together(tmp_path: Path) -> None:
    make_image(tmp_path / "p.png", 200, 100)
    body = f"""
    <ReadingOrder><OrderedGroup id="ro">
      <RegionRefIndexed index="first" regionRef="a"/><RegionRefIndexed index="1"/>
    </OrderedGroup></ReadingOrder>
    <TextRegion id="a" custom="structure type:body;}}">{box(10, 10, 50, 50)}</TextRegion>
    <TextRegion id="b" custom="readingOrder {{index:2nd;}}">{box(60, 10, 90, 50)}</TextRegion>
    <TextRegion id="c" custom="structure {{type:note;">{box(60, 60, 90, 90)}</TextRegion>"""
    (tmp_path / "p.xml").write_text(page_xml("p.png", body))
    with pytest.raises(DatasetError) as exc:
        convert("pagexml", [tmp_path / "p.xml"], tmp_path / "out")
    where = f"{tmp_path / 'p.xml'}: Page 'p.png'"
    fix = "write it as 'name {key:value;} ...' (e.g. 'structure {type:body;}')"
    assert str(exc.value).splitlines() == [
        "5 problems in the pagexml input:",
        f"  {where}, TextRegion id='a': custom attribute 'structure type:body;}}' is malformed: "
        f"expected '{{' after 'structure' at character 10; {fix}",
        f"  {where}, TextRegion id='b': custom readingOrder index '2nd' is not an integer; "
        "fix 'index:N;'",
        f"  {where}, TextRegion id='c': custom attribute 'structure {{type:note;' is malformed: "
        f"'structure' is not closed with '}}'; {fix}",
        f"  {where}, ReadingOrder: RegionRefIndexed regionRef='a' in OrderedGroup id='ro' needs "
        "an integer index, got 'first'",
        f"  {where}, ReadingOrder: RegionRefIndexed without regionRef; name the region's id",
        "Fix the records above and convert again.",
    ]
    assert not (tmp_path / "out").exists()


def test_parse_custom_grammar() -> None:
    assert parse_custom("readingOrder {index:3;} structure {type:body;}") == [
        ("readingOrder", {"index": "3"}),
        ("structure", {"type": "body"}),
    ]
    escaped = r"structure {type:running\u0020title;} x {v:a\u003bb\u007d;p: C:\dir ;}"
    assert parse_custom(escaped) == [
        ("structure", {"type": "running title"}),
        ("x", {"v": "a;b}", "p": "C:\\dir"}),  # other backslashes kept as written
    ]
    spans = "textStyle {offset:0; length:5;bold:true;} textStyle {offset:9; length:2;}"
    assert parse_custom(spans) == [
        ("textStyle", {"offset": "0", "length": "5", "bold": "true"}),
        ("textStyle", {"offset": "9", "length": "2"}),
    ]
    assert parse_custom("  ") == []
    assert parse_custom("structure {type: table of contents }") == [
        ("structure", {"type": "table of contents"})
    ]
    for text, message in [
        ("{type:body;}", "expected a tag name at character 0"),
        ("structure {type body;}", "expected ':' after 'type' at character 16"),
        ("structure {:body;}", "expected key:value; inside 'structure' at character 11"),
        ("structure {}}", "expected a tag name at character 12"),
        ("structure {type:body", "'structure' is not closed with '}'"),
    ]:
        with pytest.raises(CustomSyntaxError, match=f"^{message}$".replace("{", "\\{")):
            parse_custom(text)


def test_transkribus_map_and_list_labels(tmp_path: Path) -> None:
    make_image(tmp_path / "p1.png", 200, 100)
    (tmp_path / "p1.xml").write_text(TRANSKRIBUS)
    runner = CliRunner()
    args = ["convert", "--from", "pagexml", str(tmp_path), "--list-labels"]
    result = runner.invoke(app, [*args, "--labels", "pagexml-transkribus"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:10] == [
        "pagexml: 1 pages, 7 regions, 6 labels, label map pagexml-transkribus",
        "  label                     regions  output",
        "  TextRegion:body                 2  text",
        "  GraphicRegion                   1  figure",
        "  TableRegion                     1  UNMAPPED",
        "  TextRegion:note                 1  note",
        "  TextRegion:pageNum              1  page-number",
        "  TextRegion:running title        1  UNMAPPED",
        "after the map: text 2, heading 0, caption 0, note 1, header 0, page-number 1, "
        "signature-mark 0, catch-word 0, figure 1, UNMAPPED 2",
        "2 label(s) UNMAPPED would stop the conversion: add them to the map's 'map' or "
        "'drop', or pass --keep-unmapped",
    ]
    assert result.output.splitlines()[10].startswith("note: pagexml: 1 region(s) have a type")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p1.png", "p1.xml"]  # wrote nothing

    result = runner.invoke(app, args)  # without a map: the raw labels
    assert result.output.splitlines()[:3] == [
        "pagexml: 1 pages, 7 regions, 6 labels",
        "  label                     regions",
        "  TextRegion:body                 2",
    ]
    result = runner.invoke(app, ["convert", "--from", "pagexml", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: convert needs -o/--out DIR (or --list-labels to only list labels)\n"
    )

    map_file = tmp_path / "books.yaml"
    map_file.write_text("map: {'TextRegion:running title': header, TableRegion: text}\n")
    (tmp_path / "p1.xml").rename(tmp_path / "p1.page")
    with pytest.raises(DatasetError, match=r"'TableRegion' \(1\), 'TextRegion:running title'"):
        convert("pagexml", [tmp_path / "p1.page"], tmp_path / "o", labels="pagexml-transkribus")
    convert(
        "pagexml",
        [tmp_path / "p1.page"],
        tmp_path / "out",
        labels="pagexml-transkribus",
        keep_unmapped=True,
    )
    coco = load(tmp_path / "out")
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert [names[a["category_id"]] for a in coco["annotations"]] == [
        "note",
        "TextRegion:running title",
        "page-number",
        "TableRegion",
        "text",
        "text",
        "figure",
    ]


@pytest.mark.skipif(not DTA_BOOKS.is_dir(), reason="needs ../shared/real/dta-books")
def test_real_dta_books_keep_every_region_type() -> None:
    """The 454 real Transkribus-style pages: every region keeps its custom structure type."""
    survey = survey_labels("pagexml", [DTA_BOOKS], labels="pagexml-transkribus")
    assert survey.pages == 454
    assert survey.counts == Counter(
        {
            "TextRegion:body": 486,
            "TextRegion:pageNum": 448,
            "TextRegion:note": 443,
            "TextRegion:header": 401,
            "GraphicRegion": 76,
            "TextRegion:sig": 55,
            "TextRegion:figure": 44,
            "TextRegion:catch": 21,
            "TextRegion:colNum": 4,
        }
    )
    assert "" not in survey.fates().values()  # the book map covers every type
    assert survey.notes == []
