"""COCO (PubLayNet, DocLayNet), YOLO and PDF+points inputs -> exact COCO output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from layoutft.data.convert import convert
from layoutft.errors import DatasetError
from tests.coco_helpers import ann, load, make_image

PUBLAYNET_CATS = [
    {"supercategory": "", "id": 1, "name": "text"},
    {"supercategory": "", "id": 2, "name": "title"},
    {"supercategory": "", "id": 3, "name": "list"},
    {"supercategory": "", "id": 4, "name": "table"},
    {"supercategory": "", "id": 5, "name": "figure"},
]


def test_coco_publaynet_layout(tmp_path: Path) -> None:
    # PubLayNet: val.json next to val/ holding the JPEGs; ids not in file-name order.
    make_image(tmp_path / "val" / "PMC2_00002.jpg", 120, 90)
    make_image(tmp_path / "val" / "PMC1_00001.jpg", 100, 80)
    src = {
        "images": [
            {"file_name": "PMC2_00002.jpg", "width": 120, "id": 5, "height": 90},
            {"file_name": "PMC1_00001.jpg", "width": 100, "id": 9, "height": 80},
        ],
        "annotations": [
            {
                "segmentation": [[10.5, 10, 40, 10, 40, 30, 10.5, 30, 10.5, 20]],
                "area": 590.0,
                "iscrowd": 0,
                "image_id": 5,
                "bbox": [10.5, 10, 29.5, 20],
                "category_id": 4,
                "id": 100,
            },
            {
                "segmentation": [[0, 0, 100, 0, 100.4, 80, 0, 80]],
                "area": 8000.0,
                "iscrowd": 0,
                "image_id": 9,
                "bbox": [0, 0, 100.4, 80],  # 0.4 px past the edge: clipped
                "category_id": 1,
                "id": 7,
            },
        ],
        "categories": PUBLAYNET_CATS,
    }
    (tmp_path / "val.json").write_text(json.dumps(src))
    convert("coco", [tmp_path / "val.json"], tmp_path / "out")
    assert load(tmp_path / "out") == {
        "images": [
            {"id": 1, "file_name": "PMC1_00001.jpg", "width": 100, "height": 80},
            {"id": 2, "file_name": "PMC2_00002.jpg", "width": 120, "height": 90},
        ],
        "annotations": [
            ann(1, 1, 1, [0.0, 0.0, 100.0, 80.0], 8000.0),
            ann(
                2,
                2,
                4,
                [10.5, 10.0, 29.5, 20.0],
                590.0,
                [[10.5, 10.0, 40.0, 10.0, 40.0, 30.0, 10.5, 30.0, 10.5, 20.0]],
            ),
        ],
        "categories": PUBLAYNET_CATS,
    }
    assert (tmp_path / "out" / "images" / "PMC2_00002.jpg").is_file()


def test_coco_doclaynet_fields_kept(tmp_path: Path) -> None:
    make_image(tmp_path / "PNG" / "abc.png", 1025, 1025)
    image = {
        "id": 1,
        "width": 1025,
        "height": 1025,
        "file_name": "abc.png",
        "doc_category": "financial_reports",
        "collection": "ann_reports_00_04_fancy",
        "doc_name": "NASDAQ_FFIN_2002.pdf",
        "page_no": 9,
    }
    src = {
        "info": {"description": "DocLayNet", "version": "1.0"},
        "licenses": [{"id": 1, "name": "CDLA-Permissive-1.0"}],
        "categories": [
            {"supercategory": "Caption", "id": 1, "name": "Caption"},
            {"supercategory": "Footnote", "id": 2, "name": "Footnote"},
        ],
        "images": [image],
        "annotations": [
            {
                "id": 33,
                "image_id": 1,
                "category_id": 2,
                "bbox": [100.0, 900.25, 400.5, 20.0],
                "segmentation": [[100.0, 900.25, 100.0, 920.25, 500.5, 920.25, 500.5, 900.25]],
                "area": 8010.0,
                "iscrowd": 0,
                "precedence": 0,
            }
        ],
    }
    (tmp_path / "COCO").mkdir()
    (tmp_path / "COCO" / "test.json").write_text(json.dumps(src))
    convert(
        "coco", [tmp_path / "COCO" / "test.json"], tmp_path / "out", images_dir=tmp_path / "PNG"
    )
    expected_image = {**image, "id": 1}
    assert load(tmp_path / "out") == {
        "info": src["info"],
        "licenses": src["licenses"],
        "images": [expected_image],
        "annotations": [
            ann(
                1,
                1,
                2,
                [100.0, 900.25, 400.5, 20.0],
                8010.0,
                [[100.0, 900.25, 100.0, 920.25, 500.5, 920.25, 500.5, 900.25]],
                precedence=0,
            ),
        ],
        "categories": src["categories"],
    }


def test_yolo_ultralytics_layout(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    make_image(root / "images" / "train" / "a.png", 200, 100)
    make_image(root / "images" / "val" / "b.png", 100, 100)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.4\n\n2 0.1 0.1 0.3 0.1 0.2 0.3\n"
    )
    # b.png has no label file: an empty page. data.yaml's path/train/val are ignored.
    (root / "data.yaml").write_text(
        "path: /somewhere/else\ntrain: images/train\nval: images/val\n"
        "names:\n  0: text\n  1: title\n  2: figure\n"
    )
    convert("yolo", [root / "data.yaml"], tmp_path / "out")
    assert load(tmp_path / "out") == {
        "images": [
            {"id": 1, "file_name": "train/a.png", "width": 200, "height": 100},
            {"id": 2, "file_name": "val/b.png", "width": 100, "height": 100},
        ],
        "annotations": [
            ann(1, 1, 1, [80.0, 30.0, 40.0, 40.0], 1600.0),
            ann(2, 1, 3, [20.0, 10.0, 40.0, 20.0], 400.0, [[20.0, 10.0, 60.0, 10.0, 40.0, 30.0]]),
        ],
        "categories": [
            {"id": 1, "name": "text", "supercategory": ""},
            {"id": 2, "name": "title", "supercategory": ""},
            {"id": 3, "name": "figure", "supercategory": ""},
        ],
    }
    assert (tmp_path / "out" / "images" / "val" / "b.png").is_file()


def test_yolo_roboflow_layout_with_classes_txt(tmp_path: Path) -> None:
    root = tmp_path / "rf"
    make_image(root / "train" / "images" / "p1.jpg", 50, 50)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "train" / "labels" / "p1.txt").write_text("1 0.5 0.5 1 1\n")
    (root / "classes.txt").write_text("text\ntable\n")
    convert("yolo", [root], tmp_path / "out")
    coco = load(tmp_path / "out")
    assert coco["images"] == [{"id": 1, "file_name": "train/p1.jpg", "width": 50, "height": 50}]
    assert coco["annotations"] == [ann(1, 1, 2, [0.0, 0.0, 50.0, 50.0], 2500.0)]


def _make_pdf(path: Path) -> None:
    pymupdf = pytest.importorskip("pymupdf")
    doc = pymupdf.open()
    doc.new_page(width=200, height=100)
    doc.new_page(width=100, height=100)
    doc.save(str(path))
    doc.close()


@pytest.mark.parametrize(
    ("origin", "bbox"),
    [("top-left", [10, 20, 60, 40]), ("bottom-left", [10, 60, 60, 80])],
)
def test_pdf_points_to_pixels(tmp_path: Path, origin: str, bbox: list[float]) -> None:
    _make_pdf(tmp_path / "doc.pdf")
    spec = {
        "origin": origin,
        "pages": [
            {
                "page": 1,
                "regions": [
                    {"label": "title", "bbox": bbox},
                    {
                        "label": "figure",
                        "polygon": [100, 10, 150, 10, 125, 30]
                        if origin == "top-left"
                        else [100, 90, 150, 90, 125, 70],
                    },
                ],
            },
            {"page": 2, "regions": []},
        ],
    }
    (tmp_path / "doc.json").write_text(json.dumps(spec))
    convert("pdf", [tmp_path / "doc.json"], tmp_path / "out", dpi=144)
    assert load(tmp_path / "out") == {
        "images": [
            {
                "id": 1,
                "file_name": "doc_p0001.png",
                "width": 400,
                "height": 200,
                "doc_name": "doc.pdf",
                "page_no": 1,
                "dpi": 144.0,
            },
            {
                "id": 2,
                "file_name": "doc_p0002.png",
                "width": 200,
                "height": 200,
                "doc_name": "doc.pdf",
                "page_no": 2,
                "dpi": 144.0,
            },
        ],
        "annotations": [
            ann(1, 1, 2, [20.0, 40.0, 100.0, 40.0], 4000.0),
            ann(
                2,
                1,
                1,
                [200.0, 20.0, 100.0, 40.0],
                2000.0,
                [[200.0, 20.0, 300.0, 20.0, 250.0, 60.0]],
            ),
        ],
        "categories": [
            {"id": 1, "name": "figure", "supercategory": ""},
            {"id": 2, "name": "title", "supercategory": ""},
        ],
    }
    with Image.open(tmp_path / "out" / "images" / "doc_p0001.png") as im:
        assert im.size == (400, 200)


def test_pdf_bad_input_reported(tmp_path: Path) -> None:
    _make_pdf(tmp_path / "doc.pdf")
    spec = {
        "pages": [
            {"page": 1, "regions": [{"label": "x", "bbox": [1, 2, 3]}, {"bbox": [1, 2, 3, 4]}]},
            {"page": 1, "regions": []},
        ]
    }
    (tmp_path / "doc.json").write_text(json.dumps(spec))
    with pytest.raises(DatasetError) as exc:
        convert("pdf", [tmp_path / "doc.pdf"], tmp_path / "out")
    where = f"{tmp_path / 'doc.json'}: pages"
    assert str(exc.value).splitlines()[1:4] == [
        f"  {where}[0] (page 1), regions[0]: 'bbox' must be [x0, y0, x1, y1]; "
        "'polygon' [x, y, ...] (>= 3 points)",
        f"  {where}[0] (page 1), regions[1]: a region needs a 'label' and a 'bbox' or 'polygon'",
        f"  {where}[1]: needs a unique 'page' number (1-based) and 'regions'",
    ]
    # A page the PDF lacks and a bad box on a page it has are reported together.
    spec = {
        "pages": [
            {"page": 5, "regions": []},
            {"page": 1, "regions": [{"label": "t", "bbox": [0, 0, 300, 50]}]},
        ]
    }
    (tmp_path / "doc.json").write_text(json.dumps(spec))
    with pytest.raises(DatasetError) as exc:
        convert("pdf", [tmp_path / "doc.json"], tmp_path / "out")
    lines = str(exc.value).splitlines()
    assert lines[0] == "2 problems in the pdf input:"
    assert lines[1].endswith("doc.pdf: page 5: out of range; the PDF has 2 page(s)")
    assert "doc.pdf: page 1, regions[0]: coordinates outside" in lines[2]
    spec = {"pages": [{"page": 1, "regions": [{"label": "t", "bbox": [0, 0, 300, 50]}]}]}
    (tmp_path / "doc.json").write_text(json.dumps(spec))
    with pytest.raises(DatasetError, match=r"doc\.pdf: page 1, regions\[0\]: coordinates outside"):
        convert("pdf", [tmp_path / "doc.json"], tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.json", "doc.pdf"]


def test_pdf_finds_synth_style_boxes_json(tmp_path: Path) -> None:
    _make_pdf(tmp_path / "doc.pdf")
    spec = {"origin": "top-left", "pages": [{"page": 2, "regions": []}]}
    (tmp_path / "doc.boxes.json").write_text(json.dumps(spec))
    for given in ("doc.pdf", "doc.boxes.json"):
        out = tmp_path / f"out_{given}"
        convert("pdf", [tmp_path / given], out, dpi=72)
        assert load(out)["images"] == [
            {
                "id": 1,
                "file_name": "doc_p0002.png",
                "width": 100,
                "height": 100,
                "doc_name": "doc.pdf",
                "page_no": 2,
                "dpi": 72.0,
            }
        ]
    (tmp_path / "other.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(DatasetError, match=r"other\.json: file not found"):
        convert("pdf", [tmp_path / "other.pdf"], tmp_path / "o")
    with pytest.raises(DatasetError, match=r"input not found: .*gone\.pdf"):
        convert("pdf", [tmp_path / "gone.pdf"], tmp_path / "o")
