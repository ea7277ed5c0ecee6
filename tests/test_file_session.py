"""layoutft.file_session: a one-input parse as one library call, the lines its observer is
told and its summary (the stand-in model of test_parse_pipeline: white pages parse, black
pages fail)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layoutft.corpus import NoProgress
from layoutft.errors import LayoutftError, OptionError
from layoutft.file_session import FileOptions, FilesSummary, parse_files
from layoutft.parsing.model_spec import ModelSpec, backend_of, model_line
from layoutft.parsing.options import ParseOptions
from tests.test_parse_pipeline import ColorBoxModel, page_png


class Lines(NoProgress):
    """The ``message`` lines it is told, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def message(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> ColorBoxModel:
    import layoutft.parsing.parser as parser_mod

    model = ColorBoxModel()
    monkeypatch.setattr(parser_mod, "load_model", lambda *args, **kwargs: model)
    return model


def stand_in_spec(tmp_path: Path) -> tuple[ModelSpec, str]:
    """A spec naming a weights file (the stand-in model is used) and its model line."""
    weights = tmp_path / "m.pth"
    weights.write_bytes(b"weights")
    return ModelSpec(weights=str(weights)), f"model: {weights} (5 labels)"


def two_pages(path: Path) -> Path:
    """A 2-page TIFF: page 1 white (parses), page 2 black (the stand-in fails on it)."""
    from PIL import Image

    white, black = Image.new("RGB", (120, 160), "white"), Image.new("RGB", (120, 160), "black")
    white.save(path, save_all=True, append_images=[black])
    return path


OPTIONS = ParseOptions(dpi=72, progress=False)


def test_a_failed_page_is_told_and_counted(tmp_path: Path, stand_in: ColorBoxModel) -> None:
    source = two_pages(tmp_path / "doc.tif")
    out, view = tmp_path / "doc.json", tmp_path / "view"
    recorder = Lines()
    spec, model = stand_in_spec(tmp_path)
    summary = parse_files([str(source)], spec, OPTIONS, FileOptions(out, view=view), recorder)
    assert recorder.lines == [
        model,
        f"Error: {source} page 2: prediction failed: cannot predict on a black page",
        f"viewer: {view / 'index.html'}",
    ]
    counts = (summary.files, summary.pages, summary.failed_inputs, summary.failed_pages)
    assert counts == (1, 2, 0, 1) and summary.failures == 1 and not summary.ok
    assert summary.line(out) == (
        f"parsed 1 file, 2 pages, 0 regions, 1 failure (1 of 2 pages failed) -> {out}"
    )
    written = json.loads(out.read_text())
    assert [p["status"] for p in written["pages"]] == ["ok", "error"]
    assert (view / "index.html").is_file()

    # --strict: the same run, and the summary says it stopped there
    strict = FileOptions(output=out, strict=True)
    summary = parse_files([str(source)], spec, OPTIONS, strict, NoProgress())
    assert summary.stopped and not summary.ok
    assert summary.line(out).endswith(
        "(1 of 2 pages failed; stopped at the first failure (--strict)) -> " + str(out)
    )


def test_an_unreadable_input_is_told_not_raised(
    tmp_path: Path, stand_in: ColorBoxModel, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    recorder = Lines()
    spec, model = stand_in_spec(tmp_path)
    summary = parse_files([str(bad)], spec, OPTIONS, FileOptions(), recorder)
    assert recorder.lines[0] == model
    assert len(recorder.lines) == 2 and recorder.lines[1].startswith("Error: ")
    assert str(bad) in recorder.lines[1]
    assert (summary.files, summary.failed_inputs, summary.ok) == (0, 1, False)
    assert summary.line(None) == (
        "parsed 0 of 1 file, 0 pages, 0 regions, 1 failure (1 of 1 inputs failed) -> stdout"
    )
    assert capsys.readouterr().out == ""  # nothing half-written to stdout
    assert stand_in.calls == []

    # --strict after the one failure: stopped, in the same line
    summary = parse_files([str(bad)], spec, OPTIONS, FileOptions(strict=True))
    assert summary.line(None) == (
        "parsed 0 of 1 file, 0 pages, 0 regions, 1 failure (1 of 1 inputs failed; "
        "stopped at the first failure (--strict)) -> stdout"
    )


def test_a_clean_run_writes_stdout_and_is_ok(
    tmp_path: Path, stand_in: ColorBoxModel, capsys: pytest.CaptureFixture[str]
) -> None:
    page = page_png(tmp_path / "a.png")
    spec, model = stand_in_spec(tmp_path)
    recorder = Lines()
    summary = parse_files([str(page)], spec, OPTIONS, None, recorder)
    assert recorder.lines == [model]
    assert summary.ok and not summary.stopped
    assert summary.line(None) == "parsed 1 file, 1 pages, 0 regions, 0 failures -> stdout"
    assert json.loads(capsys.readouterr().out)["source"]["page_count"] == 1
    assert stand_in.calls == [1]


def test_checks_come_before_the_model_loads(tmp_path: Path, stand_in: ColorBoxModel) -> None:
    a, b = page_png(tmp_path / "a.png"), page_png(tmp_path / "b.png")
    with pytest.raises(LayoutftError, match="several inputs"):
        parse_files([str(a), str(b)], ModelSpec(), OPTIONS, FileOptions(output=tmp_path / "o"))
    with pytest.raises(LayoutftError, match="choose another output file"):
        parse_files([str(a)], ModelSpec(), OPTIONS, FileOptions(output=a))
    unrelated = tmp_path / "notes.json"
    unrelated.write_text('{"mine": 1}')
    with pytest.raises(LayoutftError):
        parse_files([str(a)], ModelSpec(), OPTIONS, FileOptions(output=unrelated))
    assert json.loads(unrelated.read_text()) == {"mine": 1}
    with pytest.raises(OptionError, match="format"):
        FileOptions(format="docx")
    with pytest.raises(OptionError, match="shape"):
        FileOptions(shape="circle")
    assert stand_in.calls == []


def test_the_model_line() -> None:
    class Onnx:
        backend = "onnx"

    assert model_line("m", ["a", "b"], None, backend_of(Onnx())) == "model: m (2 labels, onnx)"
    assert model_line("m", ["a"], "w/m.pth") == "model: w/m.pth (1 labels)"
    assert backend_of(object()) == ""
    assert FilesSummary(inputs=1).ok
