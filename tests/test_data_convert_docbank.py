"""DocBank token TXT -> PubLayNet-style regions: paragraphs, columns, lists, figures, labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.data.convert import convert
from layoutft.errors import DatasetError
from tests.coco_helpers import load, make_image

# Token rows: (text, x0, y0, x1, y1, label) in DocBank's 0-1000 units.
Row = tuple[str, int, int, int, int, str]

#: Pages are 2000 x 1000 pixels: x units scale by 2, y units by 1.
W, H = 2000, 1000


def line(x0: int, y: int, x1: int, label: str = "paragraph", h: int = 12) -> list[Row]:
    """Words 4 units apart (a word gap), filling ``x0..x1`` at height ``y..y+h``; word widths
    vary with ``y`` so that gaps of successive lines do not line up."""
    words, x = [], x0
    widths = [22 + (y * 7 + 11 * i) % 23 for i in range(5)]
    while x + 45 <= x1:
        width = widths[len(words) % 5]
        words.append((f"w{len(words)}", x, y, x + width, y + h, label))
        x += width + 4
    last = words[-1]
    words[-1] = (last[0], last[1], y, x1, y + h, label)
    return words


def write_page(folder: Path, name: str, rows: list[Row], image: str = "_ori.jpg") -> Path:
    """DocBank's release layout: ``tokens/NAME.txt`` (CRLF) and ``images/NAME_ori.jpg``."""
    make_image(folder / "images" / f"{name}{image}", W, H)
    text = "".join(
        f"{t}\t{x0}\t{y0}\t{x1}\t{y1}\t0\t0\t0\tCMR10\t{label}\r\n"
        for t, x0, y0, x1, y1, label in rows
    )
    path = folder / "tokens" / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def regions(out: Path) -> list[tuple[str, list[float]]]:
    """(category, XYXY box in DocBank units) of every annotation, top to bottom."""
    data = load(out)
    names = {c["id"]: c["name"] for c in data["categories"]}
    boxes = []
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes.append((names[ann["category_id"]], [x / 2, y, (x + w) / 2, y + h]))
    return sorted(boxes, key=lambda r: (r[1][1], r[1][0]))


def convert_page(tmp_path: Path, rows: list[Row], **kwargs: Any) -> list[tuple[str, list[float]]]:
    write_page(tmp_path / "db", "paper_3", rows)
    convert("docbank", [tmp_path / "db"], tmp_path / "out", **kwargs)
    return regions(tmp_path / "out")


def test_paragraphs_split_at_indented_first_line(tmp_path: Path) -> None:
    rows = line(100, 100, 900) + line(100, 115, 900) + line(100, 130, 900)
    rows += line(115, 145, 900) + line(100, 160, 900) + line(100, 175, 600)  # indented start
    rows += [("5", 495, 950, 505, 962, "paragraph")]  # page number: dropped
    out = convert_page(tmp_path, rows)
    assert out == [
        ("paragraph", [100, 100, 900, 142]),
        ("paragraph", [100, 145, 900, 187]),
    ]
    data = load(tmp_path / "out")
    assert data["images"] == [{"id": 1, "file_name": "paper_3_ori.jpg", "width": W, "height": H}]


def test_short_last_line_ends_a_paragraph(tmp_path: Path) -> None:
    rows = line(100, 100, 900) + line(100, 115, 900) + line(100, 130, 400)
    rows += line(100, 145, 900) + line(100, 160, 900) + line(100, 175, 900)
    # A heading between blocks: its own region; the line gap keeps both texts apart from it.
    rows += line(100, 210, 300, "section", h=14) + line(100, 235, 900) + line(100, 250, 900)
    assert convert_page(tmp_path, rows) == [
        ("paragraph", [100, 100, 900, 142]),
        ("paragraph", [100, 145, 900, 187]),
        ("section", [100, 210, 300, 224]),
        ("paragraph", [100, 235, 900, 262]),
    ]


def test_two_columns_never_share_a_region(tmp_path: Path) -> None:
    # The gutter (494-506) is one em wide, like a word gap: only the column layout of the
    # whole page tells the two apart. Rows of both columns share their baselines.
    rows: list[Row] = []
    for i in range(12):
        rows += line(100, 100 + 15 * i, 494) + line(506, 100 + 15 * i, 900)
    out = convert_page(tmp_path, rows)
    assert out == [
        ("paragraph", [100, 100, 494, 277]),
        ("paragraph", [506, 100, 900, 277]),
    ]


def test_list_is_one_region_and_equation_number_joins_its_equation(tmp_path: Path) -> None:
    rows = line(100, 100, 900) + line(100, 115, 500)
    for y in (140, 175, 210):  # three items, 1.5 lines apart
        rows += [("\u2022", 110, y, 118, y + 12, "list"), *line(130, y, 900, "list")]
        rows += line(130, y + 15, 600, "list")
    rows += line(100, 260, 900) + line(100, 275, 900)
    rows += [*line(400, 310, 600, "equation"), ("(3)", 860, 310, 900, 322, "equation")]
    assert convert_page(tmp_path, rows) == [
        ("paragraph", [100, 100, 900, 127]),
        ("list", [110, 140, 900, 237]),
        ("paragraph", [100, 260, 900, 287]),
        ("equation", [400, 310, 900, 322]),
    ]


def test_figure_is_united_from_its_tokens(tmp_path: Path) -> None:
    rows: list[Row] = [
        ("##LTFigure##", 100, 100, 400, 300, "figure"),  # two panels 50 units apart
        ("##LTFigure##", 450, 100, 800, 300, "figure"),
        ("time", 200, 280, 240, 292, "paragraph"),  # an axis label DocBank calls paragraph
        ("(a)", 240, 303, 260, 315, "figure"),
        ("(b)", 600, 303, 620, 315, "figure"),
        ("##LTLine##", 100, 200, 800, 200, "paragraph"),  # a rule: not text
    ]
    rows += line(100, 340, 900, "caption") + line(100, 355, 500, "caption")
    assert convert_page(tmp_path, rows) == [
        ("figure", [100, 100, 800, 315]),
        ("caption", [100, 340, 900, 367]),
    ]


def test_figures_apart_stay_apart_when_text_lies_between(tmp_path: Path) -> None:
    rows: list[Row] = [("##LTFigure##", 100, 100, 800, 300, "figure")]
    rows += line(100, 305, 900)
    rows += [("##LTFigure##", 100, 320, 800, 500, "figure")]
    assert [r[0] for r in convert_page(tmp_path, rows)] == ["figure", "paragraph", "figure"]


def test_label_map_docbank_publaynet(tmp_path: Path) -> None:
    rows = line(100, 50, 900, "title", h=20)
    rows += line(100, 100, 900, "abstract") + line(100, 115, 400, "abstract")
    rows += line(100, 150, 300, "section") + line(100, 180, 900) + line(100, 195, 300)
    rows += line(400, 230, 600, "equation") + line(100, 260, 900, "caption")
    rows += [("##LTFigure##", 100, 300, 800, 500, "figure")]
    rows += [*line(100, 900, 900, "footer"), ("Bob", 100, 20, 140, 32, "author")]
    out = convert_page(tmp_path, rows, labels="docbank-publaynet")
    assert [r[0] for r in out] == [
        "author",
        "title",
        "text",
        "title",
        "text",
        "equation",
        "caption",
        "figure",
        "footer",
    ]
    names = [c["name"] for c in load(tmp_path / "out")["categories"]]
    assert names == [
        "text",
        "title",
        "list",
        "table",
        "figure",
        "caption",
        "equation",
        "footer",
        "reference",
        "author",
        "date",
    ]


def test_labels_without_map_keep_docbank_names(tmp_path: Path) -> None:
    out = convert_page(tmp_path, line(100, 100, 900, "reference"))
    assert out == [("reference", [100, 100, 900, 112])]
    names = [c["name"] for c in load(tmp_path / "out")["categories"]]
    assert names[:3] == ["abstract", "author", "caption"] and len(names) == 13


def test_malformed_lines_reported_together(tmp_path: Path) -> None:
    good = "w\t100\t100\t200\t112\t0\t0\t0\tCMR10\tparagraph"
    txt = write_page(tmp_path / "db", "p_1", [])
    txt.write_text(
        "\n".join(
            [
                good,
                "w\t100\t100\t200\t112\t0\t0\t0\tparagraph",  # 9 fields
                good,
                "w\t1OO\t100\t200\t112\t0\t0\t0\tCMR10\tparagraph",  # letter O
                "w\t100\t100\t200\t112\t0\t0\t0\tCMR10\tpicture",  # unknown label
                "w\t300\t100\t200\t112\t0\t0\t0\tCMR10\tparagraph",  # x0 > x1
            ]
        )
    )
    with pytest.raises(DatasetError) as info:
        convert("docbank", [tmp_path / "db"], tmp_path / "out")
    lines = str(info.value).splitlines()
    assert lines[0] == "4 problems in the docbank input:"
    assert lines[1] == (
        f"  {txt}:2: expected 10 tab-separated fields 'token x0 y0 x1 y1 R G B font label', got 9"
    )
    assert lines[2] == f"  {txt}:4: coordinates '1OO 100 200 112' are not numbers"
    assert lines[3].startswith(f"  {txt}:5: unknown label 'picture' (DocBank: abstract, ")
    assert lines[4] == (f"  {txt}:6: box 300 100 200 112 is not x0 <= x1, y0 <= y1 within 0-1000")
    assert not (tmp_path / "out").exists()


def test_txt_files_and_release_folders(tmp_path: Path) -> None:
    # The release: DocBank_500K_txt/ beside DocBank_500K_ori_img/ holding NAME_ori.jpg.
    root = tmp_path / "release"
    (root / "DocBank_500K_txt").mkdir(parents=True)
    (root / "DocBank_500K_txt" / "a_0.txt").write_text(
        "w\t100\t100\t200\t112\t0\t0\t0\tCMR10\tparagraph\n"
    )
    make_image(root / "DocBank_500K_ori_img" / "a_0_ori.jpg", W, H)
    convert("docbank", [root], tmp_path / "out1")
    assert regions(tmp_path / "out1") == [("paragraph", [100, 100, 200, 112])]
    # A TXT given directly; its image NAME.jpg in ../images; a TXT without image: one line.
    txt = write_page(tmp_path / "loose", "b_2", line(100, 100, 900), image=".jpg")
    convert("docbank", [txt], tmp_path / "out2")
    assert load(tmp_path / "out2")["images"][0]["file_name"] == "b_2.jpg"
    orphan = tmp_path / "loose" / "tokens" / "c_1.txt"
    orphan.write_text("")
    with pytest.raises(DatasetError, match=r"c_1\.txt: page image c_1_ori\.jpg or c_1\.jpg"):
        convert("docbank", [orphan], tmp_path / "out3")


def test_cli_from_docbank(tmp_path: Path) -> None:
    write_page(tmp_path / "db", "p_1", line(100, 100, 900) + line(100, 115, 500))
    out = tmp_path / "out"
    args = ["convert", "--from", "docbank", str(tmp_path / "db"), "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--labels", "docbank-publaynet"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 images, 1 annotations (text 1, title 0,")
