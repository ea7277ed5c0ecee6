"""`parse` renders PDFs at the model's training dpi (its input contract's) unless the user
sets one; 200 for models that record none (detectron2 checkpoints, older ONNX exports).
Checked through the Python API, the CLI (a real layoutft checkpoint trained "at 150 dpi"
and a detectron2 checkpoint), the corpus manifest, the server and the Ray driver's facts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from typer.testing import CliRunner

from layoutft.cli.app import app
from layoutft.corpus import MANIFEST_NAME, RunRecord, output_options
from layoutft.errors import OptionError
from layoutft.parsing.options import DEFAULT_DPI, ParseOptions, choose_dpi
from layoutft.parsing.parser import Parser, parse
from layoutft.schema import Document
from tests.test_parse_pipeline import ColorBoxModel

CASE = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask"
LABELS = ["text", "title", "list", "table", "figure"]
SMALL = ["INPUT.MIN_SIZE_TEST", "320", "INPUT.MAX_SIZE_TEST", "640"]
WIDTH_PT, HEIGHT_PT = 288, 360  # a 4 x 5 in page: 600 x 750 px at 150 dpi, 800 x 1000 at 200


class Trained150(ColorBoxModel):
    """The stand-in detector with a training resolution of 150 dpi."""

    input_dpi = 150.0


def make_pdf(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=WIDTH_PT, height=HEIGHT_PT)
    page.insert_text((36, 72), "A page to render", fontsize=14)
    doc.save(path)
    return path


def px(dpi: float) -> tuple[int, int]:
    """The page's size in pixels at ``dpi`` (pixels = points * dpi / 72)."""
    return round(WIDTH_PT * dpi / 72), round(HEIGHT_PT * dpi / 72)


def size(page: Any) -> tuple[int, int]:
    return page.width_px, page.height_px


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pdf(tmp_path_factory.mktemp("pdf") / "doc.pdf")


def test_choose_dpi_and_unset_options() -> None:
    assert ParseOptions().dpi is None  # the model's
    assert choose_dpi(None, 150) == 150.0 and choose_dpi(None, None) == DEFAULT_DPI == 200
    assert choose_dpi(300, 150) == 300.0  # the user's wins
    with pytest.raises(OptionError, match="dpi must be a positive resolution"):
        ParseOptions(dpi=0)


def test_parser_resolves_the_model_dpi_once(pdf: Path) -> None:
    parser = Parser(Trained150())
    assert parser.dpi == parser.options.dpi == 150.0
    page = parser.parse(pdf).pages[0]
    assert (page.dpi, size(page)) == (150.0, px(150)) == (150.0, (600, 750))
    page = parse(pdf, model=Trained150(), dpi=200).pages[0]
    assert (page.dpi, size(page)) == (200.0, px(200)) == (200.0, (800, 1000))
    # a detector without a training dpi (detectron2-style): 200
    assert not hasattr(ColorBoxModel(), "input_dpi")
    page = parse(pdf, model=ColorBoxModel()).pages[0]
    assert (page.dpi, size(page)) == (200.0, px(200))
    # the JSON's dpi field follows
    assert json.loads(parse(pdf, model=Trained150()).to_json())["pages"][0]["dpi"] == 150


# --- real checkpoints through the CLI --------------------------------------------------


@pytest.fixture(scope="module")
def ckpt150(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layoutft checkpoint whose input contract says 150 dpi (the parity model, small)."""
    from layoutft.model import LayoutModel

    model = LayoutModel.from_checkpoint(
        CASE / "model_final.pth",
        config=CASE / "config.yaml",
        overrides=[*SMALL, "LAYOUTFT.INPUT_DPI", "150"],
        device="cpu",
        labels=LABELS,
    )
    assert model.input_contract.dpi == model.input_dpi == 150
    path = tmp_path_factory.mktemp("ckpt") / "trained150.pth"
    model.save(path, format="layoutft")
    return path


def _cli_page(pdf: Path, out: Path, *args: str) -> Any:
    result = CliRunner().invoke(
        app, ["parse", str(pdf), "--device", "cpu", "-q", "-o", str(out), *args]
    )
    assert result.exit_code == 0, result.output
    return Document.from_json(out).pages[0]


def test_cli_parses_at_the_checkpoint_dpi_unless_given(
    pdf: Path, ckpt150: Path, tmp_path: Path
) -> None:
    from layoutft.checkpoint import load_weights

    contract = load_weights(ckpt150).input_contract
    assert contract is not None and contract.dpi == 150
    page = _cli_page(pdf, tmp_path / "a.json", "--weights", str(ckpt150))
    assert (page.dpi, size(page)) == (150.0, px(150))
    page = _cli_page(pdf, tmp_path / "b.json", "--weights", str(ckpt150), "--dpi", "200")
    assert (page.dpi, size(page)) == (200.0, px(200))


def test_cli_detectron2_checkpoint_parses_at_200(pdf: Path, tmp_path: Path) -> None:
    from layoutft.checkpoint import load_weights

    assert load_weights(CASE / "model_final.pth").input_contract is None
    args = ["--weights", str(CASE / "model_final.pth"), "--config", str(CASE / "config.yaml")]
    page = _cli_page(pdf, tmp_path / "d2.json", *args, "--labels", ",".join(LABELS), *SMALL)
    assert (page.dpi, size(page)) == (200.0, px(200))


def test_onnx_exports_carry_the_dpi(ckpt150: Path) -> None:
    from layoutft.model import LayoutModel
    from layoutft.model_export.core import export_metadata
    from layoutft.parsing.onnx_model import ExportMetadata, OnnxDetector
    from layoutft.parsing.parser import onnx_file

    meta = export_metadata(LayoutModel.from_checkpoint(ckpt150, device="cpu"))
    assert meta.dpi == 150
    assert ExportMetadata.from_json(meta.to_json(), "x.onnx").dpi == 150
    # the bundled model was trained at 200 dpi (exports made before the field read None: 200)
    bundled = OnnxDetector(onnx_file(None) or "", threads=1)
    assert bundled.input_dpi in (None, 200.0) and Parser(bundled).options.dpi == 200.0


# --- corpus runs, the server, the Ray driver ---------------------------------------------


class Runner:
    """`layoutft parse` through CliRunner with one stand-in model (pages counted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, model: ColorBoxModel) -> None:
        import layoutft.parsing.parser as parser_mod

        self.model = model
        monkeypatch.setattr(parser_mod, "load_model", lambda *a, **k: self.model)

    def parse(self, *args: str) -> Any:
        self.model.calls.clear()
        return CliRunner().invoke(app, ["parse", *args, "--quiet"])

    @property
    def pages(self) -> int:
        return sum(self.model.calls)


def _run_dpis(out: Path) -> list[float]:
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    return [r["options"]["dpi"] for r in map(json.loads, lines) if r["record"] == "run"]


def test_corpus_rerun_without_dpi_matches_the_manifest(
    pdf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    for name in ("a.pdf", "b.pdf"):
        (root / name).write_bytes(pdf.read_bytes())
    out = tmp_path / "out"
    cli = Runner(monkeypatch, ColorBoxModel())
    # a run made with --dpi 200 (the old default), then reruns without --dpi: all skipped
    assert cli.parse(str(root), "-o", str(out), "--dpi", "200").exit_code == 0
    assert cli.pages == 2
    for _ in range(2):
        result = cli.parse(str(root), "-o", str(out))
        assert result.exit_code == 0, result.output
        assert cli.pages == 0 and "2 skipped (done earlier)" in result.stderr
    assert _run_dpis(out) == [200.0, 200.0, 200.0]  # the resolved dpi, never null
    assert Document.from_json(out / "a.json").pages[0].dpi == 200.0
    # a model trained at 150 dpi resolves to 150: OUT's 200 is refused once it has loaded
    cli.model = Trained150()
    result = cli.parse(str(root), "-o", str(out))
    assert result.exit_code == 1 and cli.pages == 0
    assert "holds results of other settings (dpi 200.0 -> 150.0)" in result.stderr
    # a fresh OUT with that model, rerun without --dpi: everything skipped
    other = tmp_path / "out150"
    assert cli.parse(str(root), "-o", str(other)).exit_code == 0 and cli.pages == 2
    result = cli.parse(str(root), "-o", str(other))
    assert result.exit_code == 0 and cli.pages == 0
    assert _run_dpis(other) == [150.0, 150.0]
    assert size(Document.from_json(other / "b.json").pages[0]) == px(150)


def test_run_records_need_the_resolved_dpi() -> None:
    unresolved = output_options(ParseOptions(), "json")
    assert unresolved["dpi"] is None
    with pytest.raises(ValueError, match=r"output_options\(parser.options"):
        RunRecord.create({"name": "m"}, unresolved, ".", [], 0)
    resolved = output_options(Parser(Trained150()).options, "json")
    assert RunRecord.create({"name": "m"}, resolved, ".", [], 0).options["dpi"] == 150.0


def test_server_renders_at_each_model_dpi_and_keeps_the_request_field(pdf: Path) -> None:
    from layoutft.serving.app import LayoutService
    from layoutft.serving.options import request_options

    service = LayoutService(Trained150(), ParseOptions(), "m")
    assert service.options.dpi is None and service.parser.options.dpi == 150.0
    data = pdf.read_bytes()
    assert size(service.parse(data).pages[0]) == px(150)
    asked = request_options(service.options, [("dpi", "200")])
    assert size(service.parse(data, asked).pages[0]) == px(200)
    service.switch("p1", ColorBoxModel(), "v2")  # a project model without a dpi: 200
    assert size(service.parse(data, project="p1").pages[0]) == px(200)


def test_ray_model_facts_carry_the_dpi() -> None:
    from layoutft.distributed.workers import model_facts

    facts = model_facts(Trained150())
    assert facts.input_dpi == 150.0
    assert Parser(facts).options.dpi == 150.0  # the driver renders at the workers' dpi
    assert model_facts(ColorBoxModel()).input_dpi is None
