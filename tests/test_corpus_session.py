"""layoutft.corpus_session: a corpus run as one library call, and the order in which its
CorpusProgress observer hears of it (the stand-in model of test_parse_pipeline: white
pages parse, black pages fail)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from layoutft.corpus import Manifest, NoProgress
from layoutft.corpus_session import CorpusOptions, check_engine, parse_corpus
from layoutft.errors import OptionError
from layoutft.parsing.model_spec import ModelSpec
from layoutft.parsing.options import ParseOptions
from tests.test_parse_pipeline import ColorBoxModel, page_png


class Recorder(NoProgress):
    """Every call it hears, in order, as a tuple."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def start(self, planned: int) -> None:
        self.events.append(("start", planned))

    def skipped(self, item: Any, state: str) -> None:
        self.events.append(("skipped", item.input, state))

    def parsed(self, item: Any, entry: Any) -> None:
        self.events.append(("parsed", item.input, entry.status, entry.pages))

    def message(self, line: str) -> None:
        self.events.append(("message", line))

    def close(self) -> None:
        self.events.append(("close",))


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> ColorBoxModel:
    import layoutft.parsing.parser as parser_mod

    model = ColorBoxModel()
    monkeypatch.setattr(parser_mod, "load_model", lambda *args, **kwargs: model)
    return model


def test_the_observer_hears_the_run_in_the_documented_order(
    tmp_path: Path, stand_in: ColorBoxModel
) -> None:
    page_png(tmp_path / "in" / "a.png")
    black = page_png(tmp_path / "in" / "b.png", "black")
    out = tmp_path / "out"
    weights = tmp_path / "m.pth"  # hashed into the manifest; the stand-in model is used
    weights.write_bytes(b"weights")
    spec, options = ModelSpec(weights=str(weights)), ParseOptions(dpi=72, progress=False)

    def run(**corpus: Any) -> tuple[list[tuple[Any, ...]], Any]:
        recorder = Recorder()
        summary = parse_corpus([str(tmp_path / "in")], out, spec, options,
                               CorpusOptions(**corpus), recorder)  # fmt: skip
        return recorder.events, summary

    model = ("message", f"model: {weights} (5 labels)")
    error = (
        "message",
        f"Error: {black}: page 1: prediction failed: cannot predict on a black page",
    )
    events, summary = run()
    assert events == [
        model,
        ("start", 2),
        ("parsed", "a.png", "ok", 1),
        ("parsed", "b.png", "failed", 1),
        error,
        ("close",),
    ]
    assert (summary.parsed, summary.failures, summary.ok) == (2, 1, False)

    # rerun: a.png is done and skipped first; b.png failed earlier: parsed again when asked
    events, summary = run(retry_failed=True)
    assert events == [
        model,
        ("start", 2),
        ("skipped", "a.png", "done"),
        ("parsed", "b.png", "failed", 1),
        error,
        ("close",),
    ]
    assert (summary.skipped, summary.todo, summary.failed_earlier) == (1, 1, 0)
    events, summary = run()  # without --retry-failed both are skipped, in plan order
    assert events == [
        model,
        ("start", 2),
        ("skipped", "a.png", "done"),
        ("skipped", "b.png", "failed"),
        ("close",),
    ]
    assert (summary.todo, summary.failed_earlier, summary.ok) == (0, 1, False)
    assert stand_in.calls == [1, 1, 1]  # a.png once, b.png twice: nothing parsed a third time
    assert Manifest(out).entries["a.png"].status == "ok"


def test_the_viewer_reads_back_results_done_earlier(
    tmp_path: Path, stand_in: ColorBoxModel
) -> None:
    page_png(tmp_path / "in" / "a.png")
    out, view = tmp_path / "out", tmp_path / "view"
    spec, options = ModelSpec(), ParseOptions(dpi=72, progress=False)
    inputs = [str(tmp_path / "in")]
    parse_corpus(inputs, out, spec, options, CorpusOptions(view=view), NoProgress())
    (out / "a.json").write_text("{not json")  # edited by hand
    page_png(tmp_path / "in" / "b.png")  # new: parsed, and drawn into the viewer
    recorder = Recorder()
    summary = parse_corpus(inputs, out, spec, options, CorpusOptions(view=view), recorder)
    assert summary.ok and (summary.skipped, summary.parsed) == (1, 1)
    lines = [e[1] for e in recorder.events if e[0] == "message"]
    assert lines[1].startswith(f"viewer: left out {out / 'a.json'}: ")
    assert lines[2:] == [f"viewer: {view / 'index.html'}"]
    skipped = recorder.events.index(("skipped", "a.png", "done"))
    assert recorder.events[skipped + 1] == ("message", lines[1])  # right after its input


def test_ray_settings_need_the_ray_engine() -> None:
    with pytest.raises(OptionError) as raised:
        CorpusOptions(ray_workers=2)
    assert str(raised.value) == "ray_workers is for engine ray; add engine ray or drop it"
    assert raised.value.render(lambda p: "--" + p.replace("_", "-")) == (
        "--ray-workers is for --engine ray; add --engine ray or drop it"
    )
    with pytest.raises(OptionError, match="unknown engine 'spark'; choose one of local, ray"):
        check_engine("spark", None, None, 0.0)
    assert CorpusOptions(engine="ray", address="auto").draws is False
