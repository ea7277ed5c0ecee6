"""``synth --engine html``: pages laid out by headless Chromium, labels read from the DOM.

Checks the labels against the rendered pixels and the DOM (boxes on ink, text regions not
overlapping, one List-item per generated item, a table's box around all its cells, a
paragraph wrapped around a float masked without the float, a paragraph broken across
columns split into pieces), determinism, resuming a killed run, and the scanned look.
Skipped without Chromium or Playwright (``.ci/run`` installs both).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

pytest.importorskip("playwright")
from layoutft.data.synth.html import generate_html_dataset
from layoutft.data.synth.html.browser import Browser, chromium_path
from layoutft.data.synth.html.geometry import regions_of
from layoutft.data.synth.html.kinds import new_doc, page_html
from layoutft.data.synth.html.text import SCRIPTS, available_scripts
from layoutft.errors import DatasetError
from layoutft.labels import DOCLAYNET_CLASSES

try:
    chromium_path()
    HAVE_CHROMIUM = True
except DatasetError:
    HAVE_CHROMIUM = False
pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="chromium is not installed")

KINDS = ["report", "exam", "magazine"]
TEXTLIKE = {"Text", "List-item", "Section-header", "Caption", "Footnote", "Title",
            "Page-header", "Page-footer"}  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    generate_html_dataset(out, 3, 2, dpi=96, seed=4, kinds=KINDS, quiet=True)
    return out


def _coco(out: Path) -> dict[str, Any]:
    return json.loads((out / "annotations.json").read_text())


def _by_image(coco: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    anns: dict[int, list[dict[str, Any]]] = {im["id"]: [] for im in coco["images"]}
    for a in coco["annotations"]:
        anns[a["image_id"]].append(a)
    return anns


def _ink_share(gray: np.ndarray, bbox: list[float], dark: float) -> tuple[float, float, float]:
    """Inside ``bbox`` (XYWH): share of dark pixels, and the dark pixels' extent as a share
    of the box width and height."""
    x, y, w, h = bbox
    crop = gray[int(y) : int(np.ceil(y + h)), int(x) : int(np.ceil(x + w))]
    ink = crop < dark
    if not ink.any():
        return 0.0, 0.0, 0.0
    ys, xs = np.nonzero(ink)
    return (
        float(ink.mean()),
        (xs.max() - xs.min() + 1) / crop.shape[1],
        (ys.max() - ys.min() + 1) / crop.shape[0],
    )


def test_classes_kinds_and_boxes_on_ink(run: Path) -> None:
    coco = _coco(run)
    assert [c["name"] for c in coco["categories"]] == list(DOCLAYNET_CLASSES)
    assert [c["id"] for c in coco["categories"]] == list(range(1, 12))
    assert sorted({im["kind"] for im in coco["images"]}) == sorted(KINDS)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    seen = set()
    for im, anns in zip(coco["images"], _by_image(coco).values(), strict=True):
        gray = np.asarray(Image.open(run / "images" / im["file_name"]).convert("L"))
        assert gray.shape == (im["height"], im["width"])
        assert len(anns) >= 3  # a title page: title, subtitle, picture
        for a in anns:
            x, y, w, h = a["bbox"]
            assert (
                0 <= x and 0 <= y and x + w <= im["width"] + 0.01 and y + h <= im["height"] + 0.01
            )
            share, wide, tall = _ink_share(gray, a["bbox"], 200)
            label = names[a["category_id"]]
            seen.add(label)
            assert share > 0.005, (im["file_name"], label, a["bbox"])
            if label in TEXTLIKE:  # boxes are tight to their text: the ink spans them
                assert wide > 0.5 and tall > 0.4, (im["file_name"], label, a["bbox"], wide, tall)
    assert {"Text", "List-item", "Table", "Picture", "Page-footer", "Section-header"} <= seen


def _mask_overlap(a: dict[str, Any], b: dict[str, Any]) -> tuple[int, int]:
    """Pixels in both masks, and in the smaller mask (polygons rasterised over both boxes)."""
    x0 = int(min(a["bbox"][0], b["bbox"][0]))
    y0 = int(min(a["bbox"][1], b["bbox"][1]))
    x1 = int(max(a["bbox"][0] + a["bbox"][2], b["bbox"][0] + b["bbox"][2])) + 1
    y1 = int(max(a["bbox"][1] + a["bbox"][3], b["bbox"][1] + b["bbox"][3])) + 1
    masks = []
    for ann in (a, b):
        img = Image.new("1", (x1 - x0, y1 - y0), 0)
        for poly in ann["segmentation"]:
            pts = [(poly[i] - x0, poly[i + 1] - y0) for i in range(0, len(poly), 2)]
            ImageDraw.Draw(img).polygon(pts, fill=1)
        masks.append(np.asarray(img))
    return int((masks[0] & masks[1]).sum()), int(min(m.sum() for m in masks))


def test_text_regions_do_not_overlap(run: Path) -> None:
    coco = _coco(run)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    pairs = 0
    for anns in _by_image(coco).values():
        texts = [a for a in anns if names[a["category_id"]] in TEXTLIKE]
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                both, smaller = _mask_overlap(a, b)
                assert both <= 0.05 * smaller, (a["bbox"], b["bbox"])
                pairs += 1
    assert pairs > 100


def test_one_list_item_per_generated_item(run: Path) -> None:
    coco = _coco(run)
    list_id = DOCLAYNET_CLASSES.index("List-item") + 1
    total = 0
    for im, anns in zip(coco["images"], _by_image(coco).values(), strict=True):
        page = json.loads((run / "pages" / im["file_name"].replace(".png", ".json")).read_text())
        n = sum(a["category_id"] == list_id for a in anns)
        assert n == page["dom_counts"].get("List-item", 0)
        total += n
    assert total >= 5  # the exam pages are mostly questions and options


PROBE = """
<!DOCTYPE html><html><head><style>
body{margin:0} #page{position:relative;width:600px;height:500px;font:14px/1.4 "DejaVu Sans"}
.flow{position:absolute;overflow:hidden}
</style></head><body><div id=page>
<div class="flow" style="left:20px;top:20px;width:560px;height:200px">
 <div id=fl style="float:left;width:150px;height:90px;margin:0 10px 4px 0;background:#48c"></div>
 <p data-l="Text" style="margin:0">%s</p>
</div>
<div class="flow" style="left:20px;top:240px;width:560px;height:80px;column-count:2;
 column-gap:20px;column-fill:auto"><p data-l="Text" style="margin:0">%s</p></div>
<table data-l="Table" data-g="box" style="position:absolute;left:40px;top:340px;
 border-collapse:collapse"><tr><td>alpha</td><td>12.5</td></tr><tr><td>beta gamma</td>
 <td>7</td></tr></table>
</div></body></html>
"""


def _point_in(poly: list[float], x: float, y: float) -> bool:
    inside = False
    pts = list(zip(poly[0::2], poly[1::2], strict=True))
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def test_dom_geometry_float_columns_and_table_cells() -> None:
    words = " ".join(["lorem ipsum dolor sit amet"] * 12)
    html = PROBE % (words, " ".join(["consectetur adipiscing"] * 8))

    async def go() -> tuple[dict[str, Any], list[list[float]], list[float]]:
        async with Browser(2.0, 1) as b:
            _, raw = await b.render(0, html, 600, 500)
            page = b.pages[0]
            cells = await page.evaluate(
                "() => [...document.querySelectorAll('td')].map(td => {"
                "const r = td.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]})"
            )
            fl = await page.evaluate(
                "() => {const r = document.getElementById('fl').getBoundingClientRect();"
                "return [r.left, r.top, r.right, r.bottom]}"
            )
        return raw, cells, fl

    raw, cells, fl = asyncio.run(go())
    regions = regions_of(raw, 2.0, 2.0)
    texts = [r for r in regions if r.label == "Text"]
    (table,) = [r for r in regions if r.label == "Table"]
    for c in cells:  # the table's box (image px, scale 2) encloses every cell
        assert table.box[0] <= 2 * c[0] + 0.01 and table.box[2] >= 2 * c[2] - 0.01
        assert table.box[1] <= 2 * c[1] + 0.01 and table.box[3] >= 2 * c[3] - 0.01
    wrapped = texts[0]
    cx, cy = (fl[0] + fl[2]) * 1.0, (fl[1] + fl[3]) * 1.0  # the float's centre, image px
    x0, y0, x1, y1 = wrapped.box
    assert x0 <= cx <= x1 and y0 <= cy <= y1  # the box covers the float ...
    (poly,) = wrapped.polygons
    assert not _point_in(list(poly), cx, cy)  # ... the mask leaves it out
    assert _point_in(list(poly), (2 * fl[2] + x1) / 2, cy)  # and keeps the text beside it
    assert _point_in(list(poly), cx, y1 - 4)  # and the full-width lines under it
    pieces = sorted(texts[1:], key=lambda r: r.box[0])
    assert len(pieces) == 2  # the paragraph broken across the two columns: two regions
    assert pieces[0].box[2] <= 2 * (20 + 270) + 1 and pieces[1].box[0] >= 2 * (20 + 290) - 1


def test_same_seed_same_dataset_and_a_killed_run_resumes(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-c", "from layoutft.cli import main; main()", "synth", "-o", str(out),
           "--docs", "3", "--pages", "2", "--dpi", "96", "--seed", "4", "--engine", "html",
           "--kinds", ",".join(KINDS), "-q"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "pages").glob("*.json"))) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its browser
    proc.wait()
    assert not (out / "annotations.json").exists()  # nothing a rerun could take as done
    done = len(list((out / "pages").glob("*.json")))
    assert 2 <= done < 6
    stale = out / "images" / ".doc000_p1.png.0123456789ab.tmp"  # a temp file of a kill
    stale.write_bytes(b"partial")
    generate_html_dataset(out, 3, 2, dpi=96, seed=4, kinds=KINDS, quiet=True)
    assert not stale.exists()
    assert (out / "annotations.json").read_bytes() == (run / "annotations.json").read_bytes()
    for png in (run / "images").glob("*.png"):
        a = np.asarray(Image.open(png))
        b = np.asarray(Image.open(out / "images" / png.name))
        assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).mean() < 0.5
    # a page made with other settings is not taken as this run's
    with pytest.raises(DatasetError, match="another run"):
        generate_html_dataset(out, 3, 2, dpi=96, seed=5, kinds=KINDS, quiet=True)


def test_scan_look_keeps_boxes_on_ink(tmp_path: Path) -> None:
    args = {"dpi": 96, "seed": 2, "kinds": ["book", "report"], "quiet": True}
    generate_html_dataset(tmp_path / "clean", 2, 1, **args)  # type: ignore[arg-type]
    generate_html_dataset(tmp_path / "scan", 2, 1, scan_look=1.0, **args)  # type: ignore[arg-type]
    generate_html_dataset(tmp_path / "scan2", 2, 1, scan_look=1.0, **args)  # type: ignore[arg-type]
    scan_json = (tmp_path / "scan" / "annotations.json").read_bytes()
    assert scan_json == (tmp_path / "scan2" / "annotations.json").read_bytes()
    clean, scan = _coco(tmp_path / "clean"), json.loads(scan_json)
    assert all(im["scan_look"] for im in scan["images"])
    assert len(clean["annotations"]) == len(scan["annotations"])
    moved = 0
    for im, anns, before in zip(
        scan["images"], _by_image(scan).values(), _by_image(clean).values(), strict=True
    ):
        gray = np.asarray(Image.open(tmp_path / "scan" / "images" / im["file_name"]).convert("L"))
        paper = float(np.median(gray))
        for a, b in zip(anns, before, strict=True):
            assert a["category_id"] == b["category_id"]
            share, wide, tall = _ink_share(gray, a["bbox"], paper - 60)
            assert share > 0.005 and wide > 0.5 and tall > 0.4, (im["file_name"], a["bbox"])
            ax, ay, aw, ah = a["bbox"]
            bx, by, bw, bh = b["bbox"]
            iw = min(ax + aw, bx + bw) - max(ax, bx)
            ih = min(ay + ah, by + bh) - max(ay, by)
            assert iw > 0 and ih > 0 and aw * ah >= 0.95 * bw * bh
            moved += abs(ax - bx) + abs(ay - by) > 0.5
    assert moved > 0  # the skew moved the boxes with the page


@pytest.fixture(scope="module")
def script_pages() -> dict[str, tuple[bytes, dict[str, Any], bool]]:
    """A book page in each script some installed font covers, rendered in one browser."""
    import random

    docs = {
        script: new_doc("book", random.Random(1), 2, available_scripts(), script=script)
        for script in available_scripts()
        if script != "latin"
    }

    async def go() -> dict[str, tuple[bytes, dict[str, Any], bool]]:
        pages = {}
        async with Browser(1.0, 1) as b:
            for script, doc in docs.items():
                png, raw = await b.render(0, page_html(doc, 1, random.Random(2)), *doc.size)
                pages[script] = (png, raw, doc.style.rtl)
        return pages

    return asyncio.run(go())


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s != "latin"])
def test_scripts_beyond_latin_render_on_ink(
    script: str, script_pages: dict[str, tuple[bytes, dict[str, Any], bool]]
) -> None:
    if script not in script_pages:
        pytest.skip(f"no font for {script} (fc-list :lang={SCRIPTS[script].fc_lang})")
    png, raw, rtl = script_pages[script]
    assert rtl == SCRIPTS[script].rtl
    gray = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    texts = [r for r in regions_of(raw, 1.0, 1.0) if r.label == "Text"]
    assert len(texts) >= 3
    for r in texts:
        x0, y0, x1, y1 = r.box
        if x1 - x0 < 60:  # a "* * *" scene break: little ink up and down
            continue
        share, wide, tall = _ink_share(gray, [x0, y0, x1 - x0, y1 - y0], 200)
        assert share > 0.01 and wide > 0.5 and tall > 0.4, (script, r.box)


def test_cli_refuses_html_options_elsewhere_and_unknown_kinds(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    import layoutft.cli  # noqa: F401  (registers the commands)
    from layoutft.cli.app import app

    runner = CliRunner()
    result = runner.invoke(app, ["synth", "-o", str(tmp_path / "a"), "--kinds", "report"])
    assert result.exit_code != 0 and "need --engine html" in result.output
    result = runner.invoke(
        app, ["synth", "-o", str(tmp_path / "b"), "--engine", "html", "--kinds", "report,poem"]
    )
    assert result.exit_code != 0 and "unknown kinds ['poem']" in result.output
    assert not (tmp_path / "b" / "annotations.json").exists()
