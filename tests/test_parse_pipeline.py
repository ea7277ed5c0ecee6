"""parse() end to end with a stand-in model that finds coloured boxes on the page image.

The stand-in "detects" rectangles filled with a class colour, so every region's true
position is known: the tests check pixels, points (rotated and cropped pages), PDF text,
reading order, per-page errors, output formats, visualisation and the CLI.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import numpy as np
import pymupdf
import pytest
import torch
from typer.testing import CliRunner

import layoutft
import layoutft.cli
from layoutft.cli.app import app
from layoutft.corpus import MANIFEST_NAME
from layoutft.errors import LayoutftError
from layoutft.labels import DOCLAYNET_CLASSES
from layoutft.parsing.parser import ParseOptions, Parser, parse
from layoutft.pretrained import BUNDLED_MODEL
from layoutft.schema import Document, json_schema

LABELS = ["text", "title", "list", "table", "figure"]
FILL = {"text": (0.8, 0.9, 1.0), "title": (1.0, 0.85, 0.7)}


@dataclass
class Dets:
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    labels: list[str]
    masks: np.ndarray | None


class ColorBoxModel:
    """Finds boxes filled with a FILL colour (RGB input); raises on all-black pages."""

    labels = LABELS

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.precisions: list[str] = []

    def predict(
        self,
        images: list[np.ndarray],
        batch_size: int = 4,
        format: str = "RGB",
        min_score: float = 0.0,
        precision: str = "fp32",
        workers: int | None = None,
    ) -> Any:
        assert format == "RGB"
        self.calls.append(len(images))
        self.precisions.append(precision)
        return [self._one(image) for image in images]

    def _one(self, image: np.ndarray) -> Dets:
        if image.max() == 0:
            raise RuntimeError("cannot predict on a black page")
        boxes, classes, masks = [], [], []
        for label, rgb in FILL.items():
            target = np.array(rgb) * 255
            hit = (np.abs(image.astype(float) - target).sum(axis=2) < 12).astype(np.uint8)
            hit = cv2.morphologyEx(hit, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
            n, comp, stats, _ = cv2.connectedComponentsWithStats(hit)
            for k in range(1, n):
                x, y, w, h, area = stats[k]
                if area < 50:
                    continue
                boxes.append([x, y, x + w, y + h])
                classes.append(LABELS.index(label))
                masks.append(comp == k)
        n = len(boxes)
        shape = image.shape[:2]
        return Dets(
            np.array(boxes, np.float32).reshape(-1, 4),
            np.full(n, 0.9, np.float32),
            np.array(classes, np.int64),
            [LABELS[c] for c in classes],
            np.array(masks, bool).reshape(n, *shape),
        )


def box(page: pymupdf.Page, rect: tuple[float, float, float, float], label: str, text: str) -> None:
    """A filled class-coloured rectangle with words inside (unrotated page coordinates)."""
    page.draw_rect(pymupdf.Rect(rect), color=None, fill=FILL[label], width=0)
    if text:
        page.insert_textbox(
            pymupdf.Rect(rect[0] + 4, rect[1] + 4, rect[2] - 4, rect[3] - 4), text, fontsize=9
        )


def make_pdf() -> bytes:
    """Page 1: letter, two columns under a title. Page 2: rotated 90 with a CropBox."""
    doc = pymupdf.open()
    p1 = doc.new_page(width=612, height=792)
    box(p1, (50, 40, 562, 90), "title", "A Full Width Title")
    box(p1, (50, 110, 296, 400), "text", "left column words")
    box(p1, (316, 110, 562, 400), "text", "right column words")
    p2 = doc.new_page(width=600, height=800)
    box(p2, (100, 150, 300, 250), "text", "rotated page words")
    p2.set_cropbox(pymupdf.Rect(50, 100, 550, 700))  # unrotated 500 x 600, origin (50, 100)
    p2.set_rotation(90)
    return doc.tobytes()


# On page 2 the box is at unrotated CropBox-relative (50, 50, 250, 150); W=500, H=600.
# Rotated 90 clockwise, (u, v) -> (H - v, u): displayed (450, 50, 550, 250).
ROTATED_BOX_PT = [450.0, 50.0, 550.0, 250.0]


@pytest.fixture(scope="module")
def pdf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "sample.pdf"
    path.write_bytes(make_pdf())
    return path


@pytest.fixture(scope="module")
def document(pdf_path: Path) -> Document:
    return parse(pdf_path, model=ColorBoxModel(), dpi=100)  # type: ignore[arg-type]


def test_document_matches_drawing(document: Document, pdf_path: Path) -> None:
    data = document.to_dict()
    jsonschema.validate(data, json_schema())
    assert data["source"]["path"] == str(pdf_path)
    assert data["source"]["page_count"] == 2
    assert data["model"]["labels"] == LABELS
    p1, p2 = document.pages
    assert (p1.number, p1.status, p1.rotation, p1.dpi, p1.width_px) == (1, "ok", 0, 100, 850)
    assert [r.label for r in p1.regions] == ["title", "text", "text"]
    assert [r.order for r in p1.regions] == [0, 1, 2]
    assert [r.text for r in p1.regions] == [
        "A Full Width Title",
        "left column words",
        "right column words",
    ]
    np.testing.assert_allclose(p1.regions[1].bbox_pt, [50, 110, 296, 400], atol=1.0)
    for region in p1.regions:
        np.testing.assert_allclose(
            np.array(region.bbox_px), np.array(region.bbox_pt) * 100 / 72, atol=0.02
        )
        ring = np.array(region.polygon_pt[0])
        assert ring.shape == (4, 2)
        np.testing.assert_allclose(ring.min(axis=0), region.bbox_pt[:2], atol=1.0)
    assert (p2.rotation, p2.width_pt, p2.height_pt) == (90, 600, 500)
    (rotated,) = p2.regions
    np.testing.assert_allclose(rotated.bbox_pt, ROTATED_BOX_PT, atol=1.0)
    assert rotated.text == "rotated page words"


def test_batching_streams_and_does_not_change_results(pdf_path: Path, document: Document) -> None:
    model = ColorBoxModel()
    parser = Parser(model, ParseOptions(dpi=100, batch_size=1), model_name="x")  # type: ignore[arg-type]
    pages = list(parser.iter_pages(pdf_path))
    assert model.calls == [1, 1]
    assert [p.to_dict() for p in pages] == [p.to_dict() for p in document.pages]


def test_the_model_predicts_the_next_batch_while_pages_are_finished(pdf_path: Path) -> None:
    import threading

    finishing = threading.Event()  # set while page 1 is being turned into a Page
    overlapped: list[bool] = []

    class WaitingModel(ColorBoxModel):
        def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> Any:
            if self.calls:  # batch 2 waits until page 1 is post-processed
                overlapped.append(finishing.wait(timeout=20))
            return super().predict(images, *args, **kwargs)

    class RecordingParser(Parser):
        def _page(self, rendered: Any, detections: Any) -> Any:
            finishing.set()
            return super()._page(rendered, detections)

    model = WaitingModel()
    pages = list(RecordingParser(model, ParseOptions(dpi=100, batch_size=1)).iter_pages(pdf_path))  # type: ignore[arg-type]
    assert overlapped == [True] and model.calls == [1, 1]
    assert [p.status for p in pages] == ["ok", "ok"] and [p.number for p in pages] == [1, 2]


def test_precision_and_workers_reach_the_model(pdf_path: Path) -> None:
    model: Any = ColorBoxModel()
    doc = parse(pdf_path, model=model, dpi=36, precision="bf16", workers=2)
    assert model.precisions == ["bf16"] and model.calls == [2]  # both pages in one call
    assert doc.model["precision"] == "bf16"  # the JSON says which numbers these are


def test_workers_on_a_gpu_fail_before_any_page() -> None:
    model: Any = ColorBoxModel()
    model.device = torch.device("cuda")  # only its type is read
    with pytest.raises(LayoutftError, match=r"workers > 1 is for CPU inference"):
        Parser(model, ParseOptions(workers=2))
    with pytest.raises(LayoutftError, match=r"workers 2 runs one page per forward pass"):
        Parser(ColorBoxModel(), ParseOptions(workers=2, batch_size=4))  # type: ignore[arg-type]


def test_parser_takes_the_models_default_workers_unless_batching(pdf_path: Path) -> None:
    model: Any = ColorBoxModel()
    model.default_workers = 2  # LayoutModel's choice on a multi-core CPU
    parse(pdf_path, model=model, dpi=36)
    assert model.calls == [2]  # both pages handed over at once
    assert Parser(model, ParseOptions(batch_size=3)).workers == 1
    assert Parser(model, ParseOptions(workers=1)).workers == 1
    model.device = torch.device("cuda")
    assert Parser(model, ParseOptions()).workers == 1  # a GPU batches instead


def test_options_text_pages_bytes_and_thresholds(pdf_path: Path) -> None:
    model: Any = ColorBoxModel()
    doc = parse(pdf_path.read_bytes(), model=model, dpi=50, pages="2", text=False)
    assert doc.source["path"] is None and doc.source["page_count"] == 2
    assert [p.number for p in doc.pages] == [2]
    assert doc.pages[0].regions[0].text is None
    assert doc.pages[0].dpi == 50
    none = parse(pdf_path, model=model, dpi=50, pages=[1], score_threshold="text=0.95")
    assert [r.label for r in none.pages[0].regions] == ["title"]
    assert none.model["score_thresholds"] == {"default": 0.5, "per_class": {"text": 0.95}}


def test_default_threshold_from_model_config(pdf_path: Path) -> None:
    from layoutft.config import default_config

    model: Any = ColorBoxModel()  # every detection scores 0.9
    model.config = default_config()  # SCORE_THRESH_TEST 0.05: default 0.5, all kept
    doc = parse(pdf_path, model=model, dpi=36, pages=[1])
    assert doc.model["score_thresholds"]["default"] == 0.5
    assert len(doc.pages[0].regions) == 3
    model.config.merge_from_list(["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.95"])
    doc = parse(pdf_path, model=model, dpi=36, pages=[1], score_threshold="text=0.8")
    assert doc.model["score_thresholds"] == {"default": 0.95, "per_class": {"text": 0.8}}
    assert [r.label for r in doc.pages[0].regions] == ["text", "text"]


def test_image_input_has_no_text(tmp_path: Path) -> None:
    image = np.full((200, 300, 3), 255, np.uint8)
    image[50:100, 20:280] = np.array(FILL["title"]) * 255
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), image[:, :, ::-1])
    doc = parse(path, model=ColorBoxModel(), image_dpi=144)  # type: ignore[arg-type]
    (region,) = doc.pages[0].regions
    assert region.text is None and region.label == "title"
    np.testing.assert_allclose(region.bbox_px, [20, 50, 280, 100])
    np.testing.assert_allclose(region.bbox_pt, [10, 25, 140, 50])
    assert (doc.pages[0].width_pt, doc.pages[0].dpi) == (150, 144)


def test_failed_pages_do_not_stop_the_document(
    pdf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import layoutft.render.pdf as pdf_mod

    def broken(page: Any, scale: float) -> np.ndarray:
        if page.number == 0:
            raise RuntimeError("content stream error")
        return np.zeros((10, 10, 3), np.uint8)  # black: the model fails on it

    monkeypatch.setattr(pdf_mod, "_render_pymupdf", broken)
    doc = parse(pdf_path, model=ColorBoxModel(), dpi=72, batch_size=2)  # type: ignore[arg-type]
    jsonschema.validate(doc.to_dict(), json_schema())
    p1, p2 = doc.pages
    assert (p1.status, p2.status) == ("error", "error")
    assert p1.error == "render failed: content stream error"
    assert p2.error == "prediction failed: cannot predict on a black page"
    assert p1.width_pt == 612 and p1.regions == [] and p2.width_px == 10


def test_no_model_uses_the_bundled_model_offline(
    pdf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYOUTFT_OFFLINE", "1")
    doc = parse(pdf_path, dpi=72)
    assert doc.model["name"] == BUNDLED_MODEL == "layoutft-doclaynet-narrow-r50"
    assert doc.model["labels"] == list(DOCLAYNET_CLASSES)
    assert [page.status for page in doc.pages] == ["ok", "ok"]
    assert all(0.0 <= r.score <= 1.0 for page in doc.pages for r in page.regions)
    with pytest.raises(LayoutftError, match="config and labels need weights"):
        parse(pdf_path, config="x.yaml")


def test_visualize_png_and_annotated_pdf(pdf_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "vis"
    doc = parse(pdf_path, model=ColorBoxModel(), dpi=72, visualize=out)  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == [
        "sample-p1.png",
        "sample-p2.png",
        "sample.annotated.pdf",
    ]
    png = cv2.imread(str(out / "sample-p1.png"))[:, :, ::-1]
    assert png.shape == (792, 612, 3)
    # the title box outline is drawn in the title colour at its pixel box
    x0, y0, _, y1 = (round(v) for v in doc.pages[0].regions[0].bbox_px)
    assert tuple(png[(y0 + y1) // 2, x0]) == layoutft.draw.color_for_label("title")
    # annotated PDF: the rotated page's outline lies on the region's box as displayed
    annotated = pymupdf.open(out / "sample.annotated.pdf")
    page = annotated[1]
    assert page.rotation == 90
    pix = page.get_pixmap(dpi=144)
    img = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3).astype(int)
    blue = np.array(layoutft.draw.color_for_label("text"))
    on_line = np.abs(img - blue).sum(axis=2) < 30
    ys, xs = np.nonzero(on_line)
    outline = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]) / 2  # back to points
    # the label text above the box shares the colour: compare the box's sides below it
    np.testing.assert_allclose(outline[[0, 2, 3]], np.array(ROTATED_BOX_PT)[[0, 2, 3]], atol=1.5)
    # the annotation is on top of the original content, which is kept
    assert "rotated page words" in page.get_text()


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    import layoutft.parsing.parser as pipeline_mod

    seen: dict[str, Any] = {}

    def fake_load(
        weights: Any,
        config: Any,
        overrides: Any,
        device: str,
        labels: Any,
        allow_partial: bool,
        backend: str = "auto",
    ) -> ColorBoxModel:
        seen.update(weights=weights, overrides=overrides, device=device, labels=labels)
        seen.update(allow_partial=allow_partial, backend=backend)
        return ColorBoxModel()

    monkeypatch.setattr(pipeline_mod, "load_model", fake_load)
    result = CliRunner().invoke(app, ["parse", *args])
    result.seen = seen
    return result


def test_cli_stdout_file_and_overrides(
    pdf_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [str(pdf_path), "--dpi", "72", "--weights", "w/model_final.pth", "--quiet"]
    overrides = ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.3"]
    result = run_cli([*args, "--device", "cpu", *overrides], monkeypatch)
    assert result.exit_code == 0, result.output
    assert result.seen["overrides"] == overrides
    assert (result.seen["weights"], result.seen["device"]) == ("w/model_final.pth", "cpu")
    doc = Document.from_json(result.stdout)
    assert doc.model["name"] == "model_final"
    assert len(doc.pages) == 2
    out = tmp_path / "x.json"
    result = run_cli([*args, "-o", str(out), "--pages", "2"], monkeypatch)
    assert result.exit_code == 0, result.output
    assert [p.number for p in Document.from_json(out).pages] == [2]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_cli_folder_jsonl_and_coco(
    pdf_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(pdf_path.read_bytes())
    (folder / "b.pdf").write_bytes(pdf_path.read_bytes())
    out = tmp_path / "out"
    result = run_cli([str(folder), "-o", str(out), "--format", "jsonl", "--dpi", "50"], monkeypatch)
    assert result.exit_code == 0, result.output
    # a folder into -o DIR is a corpus run: its manifest lies beside the results
    assert sorted(p.name for p in out.iterdir()) == ["a.jsonl", "b.jsonl", MANIFEST_NAME]
    lines = (out / "a.jsonl").read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        jsonschema.validate(json.loads(line), json_schema())
    assert len(Document.from_json(out / "a.jsonl").pages) == 2
    result = run_cli([str(pdf_path), "--format", "coco", "--dpi", "72"], monkeypatch)
    assert result.exit_code == 0, result.output
    coco = json.loads(result.stdout)
    assert {r["image_id"] for r in coco} == {1, 2}
    title = next(r for r in coco if r["category_id"] == 2)
    assert title["bbox"] == pytest.approx([50, 40, 512, 50], abs=1.0)


def test_cli_errors(pdf_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli([str(pdf_path), "--pages", "1-x"], monkeypatch)
    assert result.exit_code == 1
    assert "Error: bad page selection '1-x'" in result.stderr
    result = run_cli([str(pdf_path), str(pdf_path)], monkeypatch)
    assert result.exit_code == 1 and "pass -o DIR" in result.stderr
    result = run_cli([str(pdf_path), "--format", "xml"], monkeypatch)
    assert result.exit_code == 1 and "unknown --format 'xml'" in result.stderr
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 nonsense")
    out = tmp_path / "o"
    result = run_cli([str(bad), str(pdf_path), "-o", str(out), "--dpi", "36"], monkeypatch)
    assert result.exit_code == 1
    assert "bad.pdf" in result.stderr and "1 of 2 inputs failed" in result.stderr
    # the good input was written, under its folder relative to the inputs' common folder
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.json"))
    assert written == [f"{pdf_path.parent.name}/sample.json"]
    result = run_cli([str(pdf_path), "MODEL.X"], monkeypatch)
    assert result.exit_code == 1 and "KEY VALUE pairs" in result.stderr
    result = run_cli([str(pdf_path), "--renderer", "ghostscript"], monkeypatch)
    assert result.exit_code == 1 and "unknown --renderer 'ghostscript'" in result.stderr
    result = run_cli([str(pdf_path), "--workers", "0"], monkeypatch)
    assert result.exit_code == 1 and "--workers must be >= 1, got 0" in result.stderr
    result = run_cli([str(pdf_path), "--precision", "fp64"], monkeypatch)
    assert result.exit_code == 1
    assert "unknown precision 'fp64' (--precision); use one of fp32, bf16, fp16" in result.stderr
    result = run_cli([str(pdf_path), "--precision", "fp16"], monkeypatch)
    assert result.exit_code == 1 and "fp16 needs a CUDA device" in result.stderr
    for flag, value in [("--dpi", "0"), ("--image-dpi", "-1"), ("--max-pixels", "0")]:
        result = run_cli([str(pdf_path), flag, value], monkeypatch)
        assert result.exit_code == 1, (flag, result.output)
        assert result.stderr.startswith(f"Error: {flag} must be a positive"), result.output
        assert len(result.stderr.strip().splitlines()) == 1


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from layoutft.parsing.parser import _progress

    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert _progress(5, "a.pdf", enabled=True).disable
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    bar = _progress(5, "a.pdf", enabled=True)
    assert not bar.disable
    bar.close()
    assert _progress(5, "a.pdf", enabled=False).disable  # --quiet
    assert _progress(1, "a.pdf", enabled=True).disable  # single page: no bar


# --- honest status, safe outputs (issue #16) ---------------------------------------------


def page_png(path: Path, color: str = "white") -> Path:
    """A page image: white (parses, no regions) or black (the stand-in model fails on it)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (120, 160), color).save(path)
    return path


def test_document_status_is_derived_from_its_pages() -> None:
    def page(status: str) -> layoutft.schema.Page:
        return layoutft.schema.Page(1, 10, 10, status=status, error=None if status == "ok" else "x")

    doc = Document({"path": None, "sha256": "0" * 64, "page_count": 2}, {"name": "m", "labels": []})
    assert doc.status == "ok"
    doc.pages = [page("ok"), page("error")]
    assert doc.status == "partial" and [p.status for p in doc.failed_pages] == ["error"]
    doc.pages = [page("error"), page("error")]
    assert doc.status == "error"
    data = json.loads(doc.to_json())
    assert data["status"] == "error"
    jsonschema.validate(data, json_schema())
    assert Document.from_json(doc.to_json()).status == "error"


def test_cli_every_page_failed_exits_1_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    black = page_png(tmp_path / "black.png", "black")
    out = tmp_path / "black.json"
    result = run_cli([str(black), "-o", str(out)], monkeypatch)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"model: {BUNDLED_MODEL} (5 labels)"  # named once, first (a stand-in model)
    assert lines[1] == (f"Error: {black} page 1: prediction failed: cannot predict on a black page")
    assert lines[2] == (
        f"parsed 1 file, 1 pages, 0 regions, 1 failure (1 of 1 pages failed) -> {out}"
    )
    assert len(lines) == 3 and "Traceback" not in result.output
    data = json.loads(out.read_text())  # the document is still written, marked as failed
    assert data["status"] == "error" and data["model"]["name"] == BUNDLED_MODEL


def test_cli_keep_going_is_the_default_and_strict_stops(
    pdf_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    black = page_png(tmp_path / "in" / "a_black.png", "black")
    good = tmp_path / "in" / "b_good.pdf"
    good.write_bytes(pdf_path.read_bytes())
    out = tmp_path / "out"
    result = run_cli([str(black), str(good), "-o", str(out), "--dpi", "36"], monkeypatch)
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a_black.json", "b_good.json", MANIFEST_NAME]
    assert result.stderr.splitlines()[-1].startswith("parsed 2 files, 3 pages, ")
    assert "1 failure (1 of 3 pages failed)" in result.stderr
    strict = tmp_path / "strict"
    args = [str(black), str(good), "-o", str(strict), "--dpi", "36", "--strict"]
    result = run_cli(args, monkeypatch)
    assert result.exit_code == 1
    assert sorted(p.name for p in strict.iterdir()) == ["a_black.json", MANIFEST_NAME]  # stopped
    assert "parsed 1 of 2 files" in result.stderr and "(--strict)" in result.stderr


def test_cli_inputs_with_one_name_get_their_own_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = page_png(tmp_path / "x" / "a.png")
    b = page_png(tmp_path / "y" / "a.png")
    out = tmp_path / "out"
    result = run_cli([str(a), str(b), "-o", str(out)], monkeypatch)
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.json"))
    assert written == ["x/a.json", "y/a.json"]
    assert json.loads((out / "y" / "a.json").read_text())["source"]["path"] == str(b)
    result = run_cli([str(a), str(a), "-o", str(out)], monkeypatch)
    assert result.exit_code == 1 and f"{a} is given twice" in result.stderr


def test_cli_never_writes_over_an_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = page_png(tmp_path / "page.png")
    before = page.read_bytes()
    result = run_cli([str(page), "-o", str(page)], monkeypatch)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {page}: the output would replace the input {page}; "
        "choose another output file (-o)\n"
    )
    assert page.read_bytes() == before and "allow_partial" not in result.seen  # no model


def test_cli_unwritable_output_fails_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = page_png(tmp_path / "page.png")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli([str(page), "-o", str(blocker / "out") + "/"], monkeypatch)
    assert result.exit_code == 1 and result.seen == {}  # nothing was parsed
    assert result.stderr.startswith("Error: output folder ") and "is a file" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and blocker.read_text() == "not a folder"
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_cli([str(page), "-o", str(locked / "page.json")], monkeypatch)
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 1 and result.seen == {}
    assert "is not writable (Permission denied)" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_cli_non_utf8_file_name_and_negative_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = page_png(tmp_path / os.fsdecode(b"\xff-page.png"))
    out = tmp_path / "out.json"
    result = run_cli([str(page), "-o", str(out)], monkeypatch)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["source"]["path"].endswith("\\xff-page.png")
    result = run_cli([str(page), "MODEL.ROI_HEADS.NUM_CLASSES", "-3"], monkeypatch)
    assert result.exit_code == 0  # -3 reaches the loader as an override value
    assert result.seen["overrides"] == ["MODEL.ROI_HEADS.NUM_CLASSES", "-3"]
    result = run_cli([str(page), "--dpii", "3"], monkeypatch)
    assert result.exit_code == 1 and result.stderr == "Error: no such option: --dpii (see --help)\n"


def test_negative_num_classes_is_one_line_without_traceback(tmp_path: Path) -> None:
    page = page_png(tmp_path / "page.png")
    result = CliRunner().invoke(app, ["parse", str(page), "MODEL.ROI_HEADS.NUM_CLASSES", "-3"])
    assert result.exit_code == 1
    assert result.stderr == "Error: MODEL.ROI_HEADS.NUM_CLASSES -3: must be an integer >= 1\n"
