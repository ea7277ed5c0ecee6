"""docs/ocr-pipelines.md runs: every fenced ``bash`` and ``python`` block of the guide is
read from the document (so the guide and the test cannot drift) and run in order in one
folder holding what the guide starts from: ``scan.pdf`` (a page with no text layer: an
image of text) and ``page1.png``. ``layoutft`` commands run through Typer's CliRunner,
``ocrd`` commands in the OCR-D venv (``.venv-ocrd``, made by .ci/run; those blocks are
skipped without it, and the ``tesserocr-recognize`` step is left out when that venv lacks
``ocrd-tesserocr``); the layout-parser block needs ``layoutparser`` (.ci/run runs it in
``.venv-ocr``). Then the files the guide promises are checked."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.formats.types import XmlLabels

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "ocr-pipelines.md"
OCRD_BIN = Path(os.environ.get("LAYOUTFT_OCRD_VENV", ROOT / ".venv-ocrd")) / "bin"
SCHEMAS = Path(__file__).parent / "fixtures" / "schemas"
PC = "{http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15}"
TITLE = "Reading Scanned Pages"
WORDS = "Tesseract reads every region of this scanned page in reading order"


def blocks(lang: str) -> list[str]:
    """The fenced ``lang`` blocks of the guide, in order."""
    return re.findall(rf"^```{lang}\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.M | re.S)


def commands(block: str) -> list[list[str]]:
    """The commands of a bash block: lines joined at a trailing backslash, shell-split."""
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def make_inputs(folder: Path) -> None:
    """``scan.pdf``: one page that is an image of a title and two paragraphs (no text
    layer); ``page1.png``: that page image (150 dpi)."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(pymupdf.Rect(72, 60, 540, 100), TITLE, fontsize=20)
    for y in (130, 330):
        page.insert_textbox(pymupdf.Rect(72, y, 540, y + 160), f"{WORDS}. " * 9, fontsize=12)
    pixmap = page.get_pixmap(dpi=150)
    pixmap.save(str(folder / "page1.png"))
    scan = pymupdf.open()
    scan.new_page(width=612, height=792).insert_image(page.rect, filename=str(folder / "page1.png"))
    scan.save(str(folder / "scan.pdf"))
    assert not scan[0].get_text().strip()  # a scan: no text layer


def run_layoutft(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--quiet"] if args[0] == "parse" else args)
    assert result.exit_code == 0, (args, result.output)


def run_ocrd(args: list[str], folder: Path) -> str:
    tesserocr = (OCRD_BIN / "ocrd-tesserocr-recognize").is_file()
    if args[:1] == ["process"] and not tesserocr:
        args = [a for a in args if not a.startswith("tesserocr-")]
    env = {**os.environ, "PATH": f"{OCRD_BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    env.setdefault("TESSDATA_PREFIX", tessdata())
    done = subprocess.run(
        [str(OCRD_BIN / "ocrd"), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (args, done.stderr[-3000:])
    return done.stdout


def tessdata() -> str:
    """Debian's Tesseract language folder (tesseract-ocr-eng), for tesserocr."""
    found = sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata/eng.traineddata"))
    return str(found[-1].parent) if found else ""


def test_guide_blocks_are_the_commands_the_test_knows() -> None:
    """Every bash command is a layoutft or ocrd command; the label-map YAML loads."""
    import yaml

    programs = {cmd[0] for block in blocks("bash") for cmd in commands(block)}
    assert programs == {"layoutft", "ocrd"}
    steps = [c for b in blocks("bash") for c in commands(b) if c[:2] == ["ocrd", "process"]]
    assert any(a.startswith("layoutft-segment ") for s in steps for a in s)
    assert any(a.startswith("tesserocr-recognize ") for s in steps for a in s)
    (spec,) = blocks("yaml")
    labels = XmlLabels().merged(yaml.safe_load(spec), "guide")
    assert labels.page_type("Stamp").element == "GraphicRegion"
    assert len(blocks("python")) == 2


@pytest.mark.slow
@pytest.mark.timeout(2400)
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_every_command_of_the_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xmlschema

    pytest.importorskip("pytesseract")
    monkeypatch.chdir(tmp_path)
    make_inputs(tmp_path)
    ocrd_ran = []
    for block in blocks("bash"):
        for cmd in commands(block):
            if cmd[0] == "layoutft":
                run_layoutft(cmd[1:])
            elif (OCRD_BIN / "ocrd").is_file():
                ocrd_ran.append(run_ocrd(cmd[1:], tmp_path))
    for code in blocks("python"):
        if "to_layoutparser" in code and not has_layoutparser():
            continue  # .ci/run runs it with layoutparser (test_layoutparser_block)
        exec(compile(code, str(GUIDE), "exec"), {})

    # scan -> layoutft -> Tesseract -> PAGE: valid, regions with the OCR text
    page_xsd = xmlschema.XMLSchema(str(SCHEMAS / "pagecontent-2019-07-15.xsd"))
    page_xsd.validate("out/page/scan-p1.xml")
    text = " ".join(
        e.text or ""
        for e in ET.parse("out/page/scan-p1.xml").iter(f"{PC}Unicode")
        if e.text and "\n" not in e.text
    )
    assert TITLE.split()[0] in text and "Tesseract reads every region" in text
    xmlschema.XMLSchema(str(SCHEMAS / "alto-4-4.xsd")).validate("out-alto/alto/scan-p1.xml")
    assert "ocrx_word" in Path("out/scan.hocr").read_text()
    regions = len(ET.parse("out/page/scan-p1.xml").findall(f".//{PC}TextRegion"))
    for dataset in ("dataset", "dataset-alto"):
        coco = json.loads((tmp_path / dataset / "annotations.json").read_text())
        assert len(coco["annotations"]) >= regions >= 2
    page_xsd.validate("py/page/scan-p1.xml")

    if not ocrd_ran:
        pytest.skip(f"the OCR-D blocks need the OCR-D venv ({OCRD_BIN.parent})")
    groups = ocrd_ran[3].split()  # `ocrd workspace -d ws list-group`
    assert "OCR-D-SEG" in groups
    assert ocrd_ran[4].split() == ["PHYS_0001"]  # list-page of layoutft's own METS
    if (OCRD_BIN / "ocrd-tesserocr-recognize").is_file():
        assert "OCR-D-OCR" in groups
        ocr = next((tmp_path / "ws" / "OCR-D-OCR").glob("*.xml"))
        words = ET.parse(ocr).findall(f".//{PC}Word/{PC}TextEquiv/{PC}Unicode")
        assert "Tesseract" in {w.text for w in words}


def has_layoutparser() -> bool:
    try:
        import layoutparser  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not has_layoutparser(), reason="layoutparser not installed (.venv-ocr)")
def test_layoutparser_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_inputs(tmp_path)
    (code,) = [b for b in blocks("python") if "to_layoutparser" in b]
    scope: dict[str, object] = {}
    exec(compile(code, str(GUIDE), "exec"), scope)
    layout, page = scope["layout"], scope["page"]
    assert len(page.regions) == len(layout) >= 2  # type: ignore[attr-defined, arg-type]
    assert scope["texts"]
