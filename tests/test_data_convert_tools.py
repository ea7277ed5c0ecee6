"""Label Studio, CVAT, VIA and PAGE XML exports (in each tool's real layout) -> exact COCO."""

from __future__ import annotations

import json
from pathlib import Path

from layoutft.data.convert import convert
from tests.coco_helpers import ann, cats, load, make_image

# --- Label Studio: JSON export (list of tasks) -------------------------------------------


def ls_result(rid, value, kind="rectanglelabels"):
    return {
        "original_width": 200,
        "original_height": 100,
        "image_rotation": 0,
        "value": value,
        "id": rid,
        "from_name": "label",
        "to_name": "image",
        "type": kind,
        "origin": "manual",
    }


LS_EXPORT = [
    {
        "id": 11,
        "annotations": [
            {"id": 1, "result": [], "was_cancelled": True, "ground_truth": False},
            {
                "id": 2,
                "completed_by": 1,
                "result": [
                    ls_result(
                        "a1",
                        {
                            "x": 10,
                            "y": 20,
                            "width": 30,
                            "height": 40,
                            "rotation": 0,
                            "rectanglelabels": ["Text"],
                        },
                    ),
                    ls_result(
                        "a2",
                        {
                            "x": 50,
                            "y": 10,
                            "width": 10,
                            "height": 20,
                            "rotation": 90,
                            "rectanglelabels": ["Title"],
                        },
                    ),
                    ls_result(
                        "a3",
                        {
                            "x": 50,
                            "y": 10,
                            "width": 10,
                            "height": 20,
                            "rotation": 30,
                            "rectanglelabels": ["Title"],
                        },
                    ),
                    ls_result(
                        "a4",
                        {
                            "points": [[10, 10], [50, 10], [30, 50]],
                            "closed": True,
                            "polygonlabels": ["Figure"],
                        },
                        kind="polygonlabels",
                    ),
                    {
                        "id": "b1",
                        "type": "brushlabels",
                        "from_name": "mask",
                        "to_name": "image",
                        "value": {"format": "rle", "rle": [0, 1], "brushlabels": ["Text"]},
                    },
                    {
                        "id": "c1",
                        "type": "choices",
                        "from_name": "quality",
                        "to_name": "image",
                        "value": {"choices": ["good"]},
                    },
                ],
                "was_cancelled": False,
                "ground_truth": False,
                "created_at": "2024-05-01T10:00:00.000000Z",
                "lead_time": 12.5,
                "task": 11,
            },
        ],
        "drafts": [],
        "predictions": [],
        "data": {"image": "/data/upload/1/6a4f2b1c-page1.png"},
        "meta": {},
        "created_at": "2024-05-01T09:00:00.000000Z",
        "project": 1,
    },
    {"id": 12, "annotations": [], "predictions": [], "data": {"image": "/data/upload/1/x.png"}},
]


def test_labelstudio_export(tmp_path: Path) -> None:
    make_image(tmp_path / "imgs" / "page1.png", 200, 100)
    export = tmp_path / "project-1.json"
    export.write_text(json.dumps(LS_EXPORT))
    result = convert("labelstudio", [export], tmp_path / "out", images_dir=tmp_path / "imgs")
    # a3: 20x20 px square at (100, 10) turned 30 degrees clockwise about its top-left corner.
    turned = [100.0, 10.0, 117.321, 20.0, 107.321, 37.321, 90.0, 27.321]
    assert load(tmp_path / "out") == {
        "images": [{"id": 1, "file_name": "page1.png", "width": 200, "height": 100}],
        "annotations": [
            ann(1, 1, 2, [20.0, 20.0, 60.0, 40.0], 2400.0),
            ann(
                2,
                1,
                3,
                [80.0, 10.0, 20.0, 20.0],
                400.0,
                [[100.0, 10.0, 100.0, 30.0, 80.0, 30.0, 80.0, 10.0]],
            ),
            ann(3, 1, 3, [90.0, 10.0, 27.321, 27.321], 400.017, [turned]),
            ann(4, 1, 1, [20.0, 10.0, 80.0, 40.0], 1600.0, [[20.0, 10.0, 100.0, 10.0, 60.0, 50.0]]),
        ],
        "categories": cats("Figure", "Text", "Title"),
    }
    assert (tmp_path / "out" / "images" / "page1.png").is_file()
    assert result.notes == [
        f"{export}: skipped 1 task(s) without annotations",
        f"{export}: skipped unsupported results: 1 brushlabels",
    ]


# --- CVAT for images 1.1 -----------------------------------------------------------------

CVAT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>4</id>
      <name>layout</name>
      <size>2</size>
      <mode>annotation</mode>
      <labels>
        <label><name>title</name><color>#ff0000</color><type>any</type><attributes/></label>
        <label>
          <name>text</name><color>#00ff00</color><type>any</type>
          <attributes>
            <attribute>
              <name>lang</name><mutable>False</mutable><input_type>select</input_type>
              <default_value>en</default_value><values>en
de</values>
            </attribute>
          </attributes>
        </label>
      </labels>
    </task>
    <dumped>2024-05-01 10:00:00.000000+00:00</dumped>
  </meta>
  <image id="0" name="scan/p1.png" subset="default" task_id="4" width="200" height="100">
    <box label="text" source="manual" occluded="1" xtl="10.50" ytl="20.00" xbr="60.50"
         ybr="40.00" z_order="1">
      <attribute name="lang">en</attribute>
    </box>
    <polygon label="title" source="manual" occluded="0"
             points="10.00,5.00;90.00,5.00;90.00,15.00;10.00,15.00" z_order="0">
    </polygon>
    <polyline label="text" source="manual" occluded="0" points="1.00,1.00;5.00,5.00" z_order="0">
    </polyline>
    <box label="text" source="auto" occluded="0" xtl="100.00" ytl="40.00" xbr="140.00"
         ybr="60.00" z_order="0" rotation="90.0">
    </box>
  </image>
  <image id="1" name="scan/p2.png" subset="default" task_id="4" width="100" height="100">
  </image>
</annotations>
"""


def test_cvat_for_images_xml(tmp_path: Path) -> None:
    make_image(tmp_path / "frames" / "scan" / "p1.png", 200, 100)
    make_image(tmp_path / "frames" / "scan" / "p2.png", 100, 100)
    xml = tmp_path / "annotations.xml"
    xml.write_text(CVAT_XML)
    result = convert("cvat", [xml], tmp_path / "out", images_dir=tmp_path / "frames")
    assert load(tmp_path / "out") == {
        "images": [
            {"id": 1, "file_name": "scan/p1.png", "width": 200, "height": 100},
            {"id": 2, "file_name": "scan/p2.png", "width": 100, "height": 100},
        ],
        "annotations": [
            ann(1, 1, 2, [10.5, 20.0, 50.0, 20.0], 1000.0),
            ann(2, 1, 1, [10.0, 5.0, 80.0, 10.0], 800.0),
            # a 40x20 box turned 90 degrees about its centre (120, 50)
            ann(
                3,
                1,
                2,
                [110.0, 30.0, 20.0, 40.0],
                800.0,
                [[130.0, 30.0, 130.0, 70.0, 110.0, 70.0, 110.0, 30.0]],
            ),
        ],
        "categories": cats("title", "text"),
    }
    assert (tmp_path / "out" / "images" / "scan" / "p2.png").is_file()
    assert result.notes == [f"{xml}: skipped unsupported shapes: 1 <polyline>"]


# --- VIA 2.x -------------------------------------------------------------------------------

VIA_PROJECT = {
    "_via_settings": {
        "ui": {"annotation_editor_height": 25, "leftsidebar_width": 18},
        "core": {"buffer_size": 18, "filepath": {}, "default_filepath": ""},
        "project": {"name": "layout"},
    },
    "_via_img_metadata": {
        "p1.png1234": {
            "filename": "p1.png",
            "size": 1234,
            "regions": [
                {
                    "shape_attributes": {"name": "rect", "x": 5, "y": 6, "width": 50, "height": 20},
                    "region_attributes": {"type": "text", "note": "x"},
                },
                {
                    "shape_attributes": {
                        "name": "polygon",
                        "all_points_x": [10, 60, 35],
                        "all_points_y": [40, 40, 80],
                    },
                    "region_attributes": {"type": "figure", "note": ""},
                },
                {
                    "shape_attributes": {"name": "circle", "cx": 5, "cy": 5, "r": 2},
                    "region_attributes": {"type": "text"},
                },
            ],
            "file_attributes": {},
        }
    },
    "_via_attributes": {
        "region": {
            "type": {
                "type": "dropdown",
                "description": "",
                "options": {"text": "", "title": "", "figure": ""},
                "default_options": {},
            },
            "note": {"type": "text", "description": "", "default_value": ""},
        },
        "file": {},
    },
    "_via_data_format_version": "2.0.10",
    "_via_image_id_list": ["p1.png1234"],
}


def test_via_project(tmp_path: Path) -> None:
    make_image(tmp_path / "p1.png", 100, 100)
    project = tmp_path / "via_project.json"
    project.write_text(json.dumps(VIA_PROJECT))
    result = convert("via", [project], tmp_path / "out")
    assert load(tmp_path / "out") == {
        "images": [{"id": 1, "file_name": "p1.png", "width": 100, "height": 100}],
        "annotations": [
            ann(1, 1, 1, [5.0, 6.0, 50.0, 20.0], 1000.0),
            ann(2, 1, 3, [10.0, 40.0, 50.0, 40.0], 1000.0, [[10.0, 40.0, 60.0, 40.0, 35.0, 80.0]]),
        ],
        "categories": cats("text", "title", "figure"),
    }
    assert result.notes == [f"{project}: skipped unsupported shapes: 1 circle"]


def test_via_plain_export_label_key_and_checkbox(tmp_path: Path) -> None:
    make_image(tmp_path / "img" / "a.jpg", 80, 60)
    export = {
        "a.jpg5000": {
            "filename": "a.jpg",
            "size": 5000,
            "regions": [
                {
                    "shape_attributes": {"name": "rect", "x": 0, "y": 0, "width": 10, "height": 5},
                    "region_attributes": {
                        "note": "ignored",
                        "kind": {"table": True, "list": False},
                    },
                }
            ],
            "file_attributes": {"caption": ""},
        }
    }
    path = tmp_path / "via_export.json"
    path.write_text(json.dumps(export))
    convert("via", [path], tmp_path / "out", images_dir=tmp_path / "img", label_key="kind")
    assert load(tmp_path / "out") == {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 60}],
        "annotations": [ann(1, 1, 1, [0.0, 0.0, 10.0, 5.0], 50.0)],
        "categories": cats("table"),
    }


# --- PAGE XML ----------------------------------------------------------------------------

PAGE_2019 = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15
    http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15/pagecontent.xsd">
  <Metadata>
    <Creator>test</Creator>
    <Created>2024-05-01T10:00:00</Created>
    <LastChange>2024-05-01T10:00:00</LastChange>
  </Metadata>
  <Page imageFilename="page1.png" imageWidth="200" imageHeight="100">
    <ReadingOrder>
      <OrderedGroup id="ro1" caption="Regions reading order">
        <RegionRefIndexed index="0" regionRef="r1"/>
        <RegionRefIndexed index="1" regionRef="r2"/>
      </OrderedGroup>
    </ReadingOrder>
    <TextRegion id="r1" type="heading">
      <Coords points="10,5 190,5 190,15 10,15"/>
      <TextLine id="l1">
        <Coords points="12,6 150,6 150,14 12,14"/>
        <TextEquiv><Unicode>Title</Unicode></TextEquiv>
      </TextLine>
    </TextRegion>
    <TextRegion id="r2" type="paragraph"><Coords points="10,20 100,20 100,60 10,60"/></TextRegion>
    <TableRegion id="t1">
      <Coords points="110,20 190,20 190,90 110,90"/>
      <TextRegion id="c1"><Coords points="115,25 150,25 150,40 115,40"/></TextRegion>
    </TableRegion>
    <SeparatorRegion id="s1"><Coords points="10,70 100,70 100,72 10,72"/></SeparatorRegion>
  </Page>
</PcGts>
"""


def test_pagexml_2019_raw_labels(tmp_path: Path) -> None:
    make_image(tmp_path / "page1.png", 200, 100)
    (tmp_path / "page1.xml").write_text(PAGE_2019)
    convert("pagexml", [tmp_path], tmp_path / "out")  # a folder of PAGE files
    assert load(tmp_path / "out") == {
        "images": [{"id": 1, "file_name": "page1.png", "width": 200, "height": 100}],
        "annotations": [
            # the heading's text from its line; order from <ReadingOrder>
            ann(1, 1, 4, [10.0, 5.0, 180.0, 10.0], 1800.0, text="Title", order=0),
            ann(2, 1, 5, [10.0, 20.0, 90.0, 40.0], 3600.0, order=1),
            ann(3, 1, 2, [110.0, 20.0, 80.0, 70.0], 5600.0),
            ann(4, 1, 3, [115.0, 25.0, 35.0, 15.0], 525.0),
            ann(5, 1, 1, [10.0, 70.0, 90.0, 2.0], 180.0),
        ],
        "categories": cats(
            "SeparatorRegion",
            "TableRegion",
            "TextRegion",
            "TextRegion:heading",
            "TextRegion:paragraph",
        ),
    }


def test_pagexml_builtin_publaynet_map(tmp_path: Path) -> None:
    make_image(tmp_path / "page1.png", 200, 100)
    (tmp_path / "page1.xml").write_text(PAGE_2019)
    convert("pagexml", [tmp_path / "page1.xml"], tmp_path / "out", labels="pagexml-publaynet")
    coco = load(tmp_path / "out")
    assert [(a["id"], a["category_id"]) for a in coco["annotations"]] == [
        (1, 2),
        (2, 1),
        (3, 4),
        (4, 1),  # title, text, table, text; separator dropped
    ]
    assert coco["categories"] == cats("text", "title", "list", "table", "figure")


def test_pagexml_2010_point_children(tmp_path: Path) -> None:
    make_image(tmp_path / "imgs" / "scan.png", 50, 40)
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2010-03-19">
  <Page imageFilename="scans/scan.png" imageWidth="50" imageHeight="40">
    <ImageRegion id="i1"><Coords><Point x="5" y="5"/><Point x="25" y="5"/><Point x="25" y="20"/>
      <Point x="5" y="20"/></Coords></ImageRegion>
  </Page>
</PcGts>"""
    (tmp_path / "scan.xml").write_text(xml)
    convert("pagexml", [tmp_path / "scan.xml"], tmp_path / "out", images_dir=tmp_path / "imgs")
    assert load(tmp_path / "out") == {
        "images": [{"id": 1, "file_name": "scan.png", "width": 50, "height": 40}],
        "annotations": [ann(1, 1, 1, [5.0, 5.0, 20.0, 15.0], 300.0)],
        "categories": cats("ImageRegion"),
    }


def test_pagexml_2013_several_pages_nested_regions(tmp_path: Path) -> None:
    """2013 namespace; a folder of PAGE files gives pages sorted by name; a region nested
    in another one (here an image inside a text region) is read too, in document order."""
    make_image(tmp_path / "b.png", 60, 40)
    make_image(tmp_path / "images" / "a.png", 50, 40)
    ns = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"
    (tmp_path / "b.xml").write_text(
        f'<?xml version="1.0"?><PcGts xmlns="{ns}"><Page imageFilename="b.png" '
        'imageWidth="60" imageHeight="40"><TextRegion id="t" type="caption">'
        '<Coords points="0,0 60,0 60,20 0,20"/><ImageRegion id="i">'
        '<Coords points="5,5 15,5 15,15 5,15"/></ImageRegion></TextRegion>'
        '<ChartRegion id="c"><Coords points="0,25 30,25 30,35"/></ChartRegion></Page></PcGts>'
    )
    (tmp_path / "a.xml").write_text(
        f'<PcGts xmlns="{ns}"><Page imageFilename="a.png" imageWidth="50" imageHeight="40">'
        "</Page></PcGts>"
    )
    convert("pagexml", [tmp_path], tmp_path / "out")
    assert load(tmp_path / "out") == {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 50, "height": 40},
            {"id": 2, "file_name": "b.png", "width": 60, "height": 40},
        ],
        "annotations": [
            ann(1, 2, 3, [0.0, 0.0, 60.0, 20.0], 1200.0),
            ann(2, 2, 2, [5.0, 5.0, 10.0, 10.0], 100.0),
            ann(3, 2, 1, [0.0, 25.0, 30.0, 10.0], 150.0, [[0.0, 25.0, 30.0, 25.0, 30.0, 35.0]]),
        ],
        "categories": cats("ChartRegion", "ImageRegion", "TextRegion:caption"),
    }
