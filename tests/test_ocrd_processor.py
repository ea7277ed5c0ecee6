"""``ocrd-layoutft-segment`` in a real OCR-D workspace (``ocrd workspace init/add``, then
``ocrd process``), run from the venv that has the ``ocrd`` package (``.venv-ocrd``, made by
.ci/run: its pins clash with layoutft's dev tools); skipped without it. The PAGE it writes
is compared with ``layoutft parse`` on the same image: the same regions in the same reading
order, elements and types through the label map, boxes within 1 px."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layoutft.formats.types import XmlLabels

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("LAYOUTFT_OCRD_VENV", ROOT / ".venv-ocrd"))
BIN = VENV / "bin"
SCHEMAS = Path(__file__).parent / "fixtures" / "schemas"
PC = "{http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15}"
needs_ocrd = pytest.mark.skipif(
    not (BIN / "ocrd-layoutft-segment").is_file(),
    reason=f"no OCR-D venv at {VENV} (.ci/run makes it)",
)

PARAGRAPH = (
    "Layout analysis finds the regions of a page: paragraphs, titles, lists, tables and "
    "figures, with their reading order. An OCR pipeline then reads each text region line by "
    "line. This paragraph is long enough to fill several lines of a column of running text "
    "as a scanned article would have it, so that a detector sees an ordinary text block. "
)


def ocrd(*args: str | Path, cwd: Path | None = None) -> str:
    """Run ``ocrd`` from the OCR-D venv (its processors on PATH); its stdout."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)  # the venv's editable layoutft is this checkout already
    # tesserocr's wheel looks for Tesseract's models here (Debian's tesseract-ocr-eng)
    found = sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata/eng.traineddata"))
    if found:
        env.setdefault("TESSDATA_PREFIX", str(found[-1].parent))
    done = subprocess.run(
        [str(BIN / "ocrd"), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def render_page(path: Path) -> None:
    """A one-column article page (title, three paragraphs) rendered to PNG at 150 dpi."""
    import pymupdf as fitz

    doc = fitz.open()
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(
        fitz.Rect(72, 60, 540, 100), "Layout Analysis in OCR Pipelines", fontsize=20
    )
    y = 120
    for _ in range(3):
        page.insert_textbox(fitz.Rect(72, y, 540, y + 150), PARAGRAPH * 2, fontsize=10)
        y += 170
    path.parent.mkdir(parents=True, exist_ok=True)
    page.get_pixmap(dpi=150).save(str(path))


def written_regions(path: Path) -> list[dict[str, Any]]:
    """The regions of a PAGE file in its reading order: element, type, custom, box."""
    root = ET.parse(path).getroot()
    page = root.find(f"{PC}Page")
    assert page is not None
    by_id = {}
    for element in page:
        coords = element.find(f"{PC}Coords")
        if coords is None or not element.tag.endswith("Region"):  # Border, ReadingOrder
            continue
        points = np.array(
            [[int(v) for v in p.split(",")] for p in coords.get("points", "").split()]
        )
        by_id[element.get("id")] = {
            "element": element.tag.removeprefix(PC),
            "type": element.get("type"),
            "custom": element.get("custom"),
            "box": [*points.min(axis=0).tolist(), *points.max(axis=0).tolist()],
        }
    refs = page.findall(f"{PC}ReadingOrder/{PC}OrderedGroup/{PC}RegionRefIndexed")
    refs.sort(key=lambda r: int(r.get("index", 0)))
    assert len(refs) == len(by_id)
    return [by_id[r.get("regionRef")] for r in refs]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@needs_ocrd
def test_ocrd_process_writes_the_regions_parse_finds(tmp_path: Path) -> None:
    import xmlschema

    from layoutft.parsing.options import ParseOptions
    from layoutft.parsing.parser import Parser, load_model

    workspace = tmp_path / "ws"
    ocrd("workspace", "-d", workspace, "init")
    render_page(workspace / "OCR-D-IMG" / "page1.png")
    ocrd(
        "workspace", "-d", workspace, "add", "-G", "OCR-D-IMG", "-i", "OCR-D-IMG_0001",
        "-g", "PHYS_0001", "-m", "image/png", "OCR-D-IMG/page1.png",
    )  # fmt: skip
    label_map = {"title": "TextRegion:heading/title", "text": "TextRegion:paragraph"}
    step = (
        "layoutft-segment -I OCR-D-IMG -O OCR-D-SEG -P device cpu -P score_threshold 0.4 "
        f"-P label_map '{json.dumps(label_map)}'"
    )
    # a second run reads PAGE instead of an image: cropped to the text by ocrd-tesserocr-crop
    # when it is installed (a Border: the page image is cut out, the regions must come back
    # to page coordinates), else the first run's output
    again = "layoutft-segment -I OCR-D-SEG -O OCR-D-SEG2 -P device cpu -P score_threshold 0.4"
    steps = [step, again]
    cropped = (BIN / "ocrd-tesserocr-crop").is_file()
    if cropped:
        steps[1:] = ["tesserocr-crop -I OCR-D-IMG -O OCR-D-CROP", again.replace("-SEG ", "-CROP ")]
    ocrd("process", "-m", workspace / "mets.xml", *steps)

    groups = ocrd("workspace", "-d", workspace, "list-group").split()
    assert {"OCR-D-SEG", "OCR-D-SEG2"} <= set(groups)
    xsd = xmlschema.XMLSchema(str(SCHEMAS / "pagecontent-2019-07-15.xsd"))
    outputs = []
    for group in ("OCR-D-SEG", "OCR-D-SEG2"):
        listed = ocrd("workspace", "-d", workspace, "find", "-G", group, "-k", "local_filename")
        (out,) = [workspace / name for name in listed.split()]
        xsd.validate(str(out))
        outputs.append(written_regions(out))
    got, from_page = outputs
    if cropped:  # the model saw another image (a region at its edge may go, a block may
        # split into smaller ones): every region it found matches one of the first run's
        # (IoU >= 0.5) or lies inside one (the crop moved it by more than 100 px: left in the
        # crop's coordinates, none would)
        border = ET.parse(next((workspace / "OCR-D-CROP").glob("*.xml"))).find(f".//{PC}Border")
        assert border is not None
        corner = min(tuple(map(int, p.split(","))) for p in border[0].get("points", "").split())
        assert min(corner) > 100  # a real crop: without moving them back boxes would be off
        assert len(got) - 1 <= len(from_page) <= len(got)
        for region in from_page:
            match = max(box_iou(region["box"], r["box"]) for r in got)
            inside = max(box_inside(region["box"], r["box"]) for r in got)
            assert match >= 0.5 or inside >= 0.9, (region, got)
    else:
        assert [r["box"] for r in from_page] == [r["box"] for r in got]

    # layoutft parse on the same image, with the same threshold and label map
    parser = Parser(load_model(None, device="cpu"), ParseOptions(score_threshold=0.4))
    document = parser.run(workspace / "OCR-D-IMG" / "page1.png")
    want = sorted(document.pages[0].regions, key=lambda r: r.order)
    labels = XmlLabels().merged({"pagexml": label_map}, "test")
    assert len(want) >= 3 and len(got) == len(want)
    for region, written in zip(want, got, strict=True):
        kind = labels.page_type(region.label)
        assert (written["element"], written["type"]) == (kind.element, kind.type)
        if kind.structure:
            assert written["custom"] == f"structure {{type:{kind.structure};}}"
        np.testing.assert_allclose(written["box"], region.bbox_px, atol=1.0)
    assert {r["type"] for r in got} >= {"heading", "paragraph"}


@needs_ocrd
def test_ocrd_tool_json_is_valid() -> None:
    tool = ROOT / "layoutft" / "ocrd" / "ocrd-tool.json"
    assert '<report valid="true">' in ocrd("ocrd-tool", tool, "validate")
    params = json.loads(tool.read_text())["tools"]["ocrd-layoutft-segment"]["parameters"]
    assert sorted(params) == ["device", "dpi", "label_map", "model", "score_threshold"]


def test_processor_without_ocrd_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from layoutft.cli.ocrd import main

    monkeypatch.setitem(sys.modules, "ocrd.decorators", None)  # as if ocrd were absent
    with pytest.raises(SystemExit) as exit_:
        main()
    assert "pip install 'layoutft[ocrd]'" in str(exit_.value.code)


def box_inside(a: list[int], b: list[int]) -> float:
    """The share of box ``a``'s area inside box ``b`` ([x0, y0, x1, y1] boxes)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = (a[2] - a[0]) * (a[3] - a[1])
    return max(0, w) * max(0, h) / area if area > 0 else 0.0


def box_iou(a: list[int], b: list[int]) -> float:
    """IoU of two [x0, y0, x1, y1] boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
