"""The Ray corpus engine (layoutft.distributed) on a Ray started in this process.

The engine must write what the local corpus engine writes: the same result files byte for
byte and the same manifest records (less ``seconds`` and ``time``), for the bundled model
on a small corpus of born-digital PDFs, a page image and a corrupt PDF. Also: a rerun skips
what is done, a run stopped part-way resumes, a lost worker fails only its input, the
formats with page images, the Ray Data pipeline, and the errors without Ray or with too
small a cluster.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
import pytest

from layoutft.corpus import (
    Manifest,
    NoProgress,
    RunRecord,
    corpus_root,
    model_identity,
    output_options,
    plan_corpus,
    run_corpus,
)
from layoutft.errors import LayoutftError, OptionError
from layoutft.parsing.parser import ParseOptions, Parser, default_model
from layoutft.pretrained import BUNDLED_MODEL
from tests.test_parse_pipeline import ColorBoxModel, page_png

ray = pytest.importorskip("ray")

from layoutft.distributed import (  # noqa: E402  (after the skip: needs Ray)
    ModelSpec,
    RayEngine,
    RayOptions,
    detect_pages,
    page_dataset,
    page_from_row,
)
from layoutft.distributed.workers import PageWorker  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ParseOptions(dpi=72)
#: timing fields: the only ones the engines may write differently
TIMES = ("seconds", "time")

pytestmark = pytest.mark.timeout(300)


def make_pdf(path: Path, pages: int, title: str) -> Path:
    """A born-digital article-like PDF: a title and two text columns per page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page(width=612, height=792)
        page.insert_textbox(pymupdf.Rect(50, 50, 560, 110), f"{title} {number + 1}", fontsize=20)
        page.insert_textbox(pymupdf.Rect(50, 150, 300, 700), "lorem ipsum dolor " * 80, fontsize=9)
        page.insert_textbox(pymupdf.Rect(320, 150, 560, 700), "sit amet elit " * 90, fontsize=9)
    doc.save(path)
    return path


def make_corpus(root: Path) -> Path:
    """a.pdf (3 pages), sub/b.pdf (2), sub/c.png (a page image), bad.pdf (corrupt)."""
    make_pdf(root / "a.pdf", 3, "A Study Of Layouts")
    make_pdf(root / "sub" / "b.pdf", 2, "Another Paper")
    with pymupdf.open(root / "sub" / "b.pdf") as doc:
        doc[0].get_pixmap(dpi=60).save(root / "sub" / "c.png")
    (root / "bad.pdf").write_bytes(b"%PDF-1.4 this is no PDF")
    return root


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    """Ray on this machine for the module: 4 logical CPUs (the `engine` fixture's 2 actors, a
    test's own engine of 1, and a render task: with fewer, render tasks wait forever for a
    CPU); the workers import this test package (the stand-in models live in it)."""
    ray.init(
        address="local",  # a new Ray, never a cluster `ray start` left (its address file)
        num_cpus=4,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        logging_level="WARNING",
        # pytest imports this file as `test_distributed` (tests/ is no package)
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}},
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def engine(ray_session: None) -> Iterator[RayEngine]:
    """Two actors with the bundled model, 2 pages per task (a.pdf spans two actor calls)."""
    with RayEngine(
        ModelSpec(device="cpu", backend="torch"),
        OPTIONS,
        RayOptions(ray_workers=2, pages_per_task=2),
    ) as started:
        yield started


@pytest.fixture(scope="module")
def local_parser() -> Iterator[Parser]:
    """The local engine's parser, on one torch thread as each actor (num_cpus=1: Ray sets
    OMP_NUM_THREADS=1): with another thread count, float sums run in another order and a
    score can differ in its last written digit."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield Parser(default_model("cpu"), OPTIONS, model_name=BUNDLED_MODEL)
    finally:
        torch.set_num_threads(threads)


def run_record(parser_labels: list[str], inputs: list[str], planned: int, fmt: str) -> RunRecord:
    identity = model_identity(BUNDLED_MODEL, parser_labels)
    return RunRecord.create(
        identity, output_options(OPTIONS, fmt), corpus_root(inputs), inputs, planned
    )


def local_run(parser: Parser, inputs: list[str], out: Path, fmt: str = "json") -> Manifest:
    items = plan_corpus(inputs, out, fmt=fmt)
    run_corpus(parser, items, out, run_record(parser.labels, inputs, len(items), fmt))
    return Manifest(out)


def ray_run(engine: RayEngine, inputs: list[str], out: Path, fmt: str = "json", **kw: Any) -> Any:
    items = plan_corpus(inputs, out, fmt=fmt)
    run = RunRecord.create(
        engine.model_identity(),
        output_options(engine.options, fmt),
        corpus_root(inputs),
        inputs,
        len(items),
    )
    return engine.run_corpus(items, out, run, **kw)


class Parsed(NoProgress):
    """Appends the ``input`` of each item parsed to ``inputs``."""

    def __init__(self, inputs: list[str]) -> None:
        self.inputs = inputs

    def parsed(self, item: Any, entry: Any) -> None:
        self.inputs.append(item.input)


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but the manifest, by relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "layoutft-manifest.jsonl"
    }


def entries(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """The manifest's latest entry per input, without its timing fields."""
    out = {}
    for key, entry in manifest.entries.items():
        record = entry.to_dict()
        for name in TIMES:
            record.pop(name)
        out[key] = record
    return out


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path`` with the corpus as the relative input ``corpus`` (paths in the
    JSON and the messages are as given, relative: the workers must open them the same way)."""
    make_corpus(tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_outputs_and_manifest_equal_the_local_engines(
    engine: RayEngine, local_parser: Parser, in_tmp: Path
) -> None:
    local = local_run(local_parser, ["corpus"], Path("local"))
    summary = ray_run(engine, ["corpus"], Path("ray"))

    assert files(Path("ray")) == files(Path("local"))  # byte for byte
    assert sorted(files(Path("ray"))) == ["a.json", "sub/b.json", "sub/c.json"]
    remote = Manifest(Path("ray"))
    assert entries(remote) == entries(local)
    assert remote.entries["bad.pdf"].status == "failed"
    assert remote.entries["bad.pdf"].output is None
    assert "corpus/bad.pdf: cannot open the PDF" in str(remote.entries["bad.pdf"].error)
    assert remote.entries["a.pdf"].pages == 3 and remote.entries["a.pdf"].status == "ok"
    run_local, run_ray = local.runs[-1].to_dict(), remote.runs[-1].to_dict()
    run_local.pop("time"), run_ray.pop("time")
    assert run_ray == run_local
    assert (summary.parsed, summary.failed_inputs, summary.pages) == (3, 1, 6)
    # both actors got work: a.pdf's 3 pages went out as two calls of at most 2 pages
    assert len({fact.node_id for fact in engine.facts}) == 1  # one node here


def test_rerun_skips_done_inputs_then_retries_failed_and_changed_ones(
    engine: RayEngine, in_tmp: Path
) -> None:
    out = Path("out")
    ray_run(engine, ["corpus"], out)
    before = files(out)
    parsed: list[str] = []
    again = ray_run(engine, ["corpus"], out, progress=Parsed(parsed))
    assert parsed == [] and again.skipped == 3 and again.failed_earlier == 1
    assert files(out) == before

    retried = ray_run(
        engine,
        ["corpus"],
        out,
        retry_failed=True,
        progress=Parsed(parsed),
    )
    assert parsed == ["bad.pdf"] and retried.failed_inputs == 1

    parsed.clear()
    make_pdf(Path("corpus") / "bad.pdf", 1, "Repaired")
    ray_run(engine, ["corpus"], out, progress=Parsed(parsed))
    assert parsed == ["bad.pdf"]
    assert Manifest(out).entries["bad.pdf"].status == "ok"
    assert sorted(files(out)) == ["a.json", "bad.json", "sub/b.json", "sub/c.json"]


def test_a_run_stopped_part_way_resumes_with_what_is_left(
    engine: RayEngine, local_parser: Parser, in_tmp: Path
) -> None:
    out = Path("out")

    class Stop(NoProgress):
        def parsed(self, item: Any, entry: Any) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ray_run(engine, ["corpus"], out, progress=Stop())
    first = Manifest(out)
    assert len(first.entries) == 1  # recorded before the stop; nothing else written
    parsed: list[str] = []
    ray_run(engine, ["corpus"], out, progress=Parsed(parsed))
    assert sorted(parsed) == sorted(
        {"a.pdf", "bad.pdf", "sub/b.pdf", "sub/c.png"} - set(first.entries)
    )
    local = local_run(local_parser, ["corpus"], Path("local"))
    assert files(out) == files(Path("local"))
    assert entries(Manifest(out)) == entries(local)


def test_formats_with_page_images_equal_the_local_engines(
    engine: RayEngine, local_parser: Parser, in_tmp: Path
) -> None:
    shutil.rmtree(Path("corpus") / "sub")  # a.pdf and bad.pdf
    local_run(local_parser, ["corpus"], Path("local"), fmt="labelstudio")
    ray_run(engine, ["corpus"], Path("ray"), fmt="labelstudio")
    written = files(Path("ray"))
    assert written == files(Path("local"))
    assert {"a.labelstudio.json", "images/a-p1.png", "images/a-p3.png"} <= set(written)


class CrashingModel(ColorBoxModel):
    """The coloured-box stand-in, whose process dies on an all-red page (a segfault in a
    native library, an out-of-memory kill)."""

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> Any:
        for image in images:
            if image.size and (image[..., 0] == 255).all() and not image[..., 1:].any():
                os._exit(3)
        return super().predict(images, *args, **kwargs)


def crashing_model() -> CrashingModel:
    return CrashingModel()


def test_a_lost_worker_fails_only_its_input(
    ray_session: None, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, color in [
        ("1.png", "white"),
        ("2.png", "black"),
        ("3.png", "red"),
        ("4.png", "white"),
    ]:
        page_png(Path("pngs") / name, color)
    with RayEngine(
        crashing_model, OPTIONS, RayOptions(ray_workers=1, pages_per_task=1), model_name="m"
    ) as crashing:
        ray_run(crashing, ["pngs"], Path("ray"))
    got = Manifest(Path("ray")).entries
    assert got["3.png"].status == "failed" and got["3.png"].output is None
    assert "the Ray worker parsing it was lost twice" in str(got["3.png"].error)
    assert got["1.png"].status == "ok" and got["4.png"].status == "ok"
    # a page the model raises on is an error page, as in the local engine
    assert got["2.png"].failed_pages == [1]

    (Path("pngs") / "3.png").unlink()
    local = Parser(ColorBoxModel(), OPTIONS, model_name="m")
    items = plan_corpus(["pngs"], Path("local"))
    run = RunRecord.create(
        {"name": "m", "weights_sha256": None, "config_sha256": None, "overrides": []}
        | {"labels": list(local.labels)},
        output_options(OPTIONS, "json"),
        corpus_root(["pngs"]),
        ["pngs"],
        len(items),
    )
    run_corpus(local, items, Path("local"), run)
    assert files(Path("ray")) == files(Path("local"))
    expected = entries(Manifest(Path("local")))
    assert {k: v for k, v in entries(Manifest(Path("ray"))).items() if k != "3.png"} == expected


class FakeRef:
    """A call of :class:`FakeRay`, run when submitted: its value or error."""

    def __init__(self, seq: int, call: Any) -> None:
        self.seq, self.value, self.error = seq, None, None
        try:
            self.value = call()
        except Exception as exc:
            self.error = exc


class TaskError(Exception):
    """Ray's wrapper of an error a task raised (``cause``)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class FakeRay:
    """The part of Ray the engine's driver loop uses, in this process and in order: each
    call runs when submitted and ``wait`` returns the oldest, so a run is deterministic."""

    def __init__(self) -> None:
        self.seq = itertools.count()

    def call(self, fn: Any, *args: Any) -> FakeRef:
        def run() -> Any:
            try:
                return fn(*[self.get(a) if isinstance(a, FakeRef) else a for a in args])
            except (TaskError, ray.exceptions.RayActorError):
                raise
            except Exception as exc:
                raise TaskError(exc) from exc

        return FakeRef(next(self.seq), run)

    def remote(self, fn: Any) -> Any:
        fake = self

        class Remote:
            def options(self, **_: Any) -> Remote:
                return self

            def remote(self, *args: Any) -> FakeRef:
                return fake.call(fn, *args)

        return Remote()

    def put(self, value: Any) -> FakeRef:
        return FakeRef(next(self.seq), lambda: value)

    def get(self, ref: FakeRef) -> Any:
        if ref.error is not None:
            raise ref.error
        return ref.value

    def wait(self, refs: list[FakeRef], num_returns: int, timeout: float) -> Any:
        oldest = min(refs, key=lambda ref: ref.seq)
        return [oldest], [ref for ref in refs if ref is not oldest]

    def cancel(self, ref: FakeRef) -> None:
        pass

    def available_resources(self) -> dict[str, float]:
        return {"CPU": 4.0}


def red(pages: Any) -> bool:
    return any((p.image[..., 0] == 255).all() and not p.image[..., 1:].any() for p in pages)


class FakeActor:
    """A model actor's handle (a :class:`PageWorker` with the coloured-box model) whose
    process dies on an all-red page and is restarted (a new PageWorker: a new incarnation).
    Ray hears of a death ``lag`` calls late: those calls fail unrun with
    ActorUnavailableError, as they do on a loaded machine. ``drop``: call numbers lost on
    the way while the actor lives; ``gone``: a death it never comes back from."""

    def __init__(self, fake: FakeRay, lag: int = 0, drop: tuple[int, ...] = ()) -> None:
        self.fake, self.lag, self.drop = fake, lag, drop
        self.worker = PageWorker(ColorBoxModel, OPTIONS, "m")
        self.unnoticed = 0
        self.gone = False
        self.calls = 0
        #: the sources of the pages each parse call ran on, and restarts
        self.ran: list[str] = []
        self.restarts = 0

    def _call(self, name: str, *args: Any) -> Any:
        self.calls += 1
        if self.gone:
            raise ray.exceptions.ActorDiedError()
        if self.unnoticed or self.calls in self.drop:
            self.unnoticed = max(0, self.unnoticed - 1)
            raise ray.exceptions.ActorUnavailableError("connection refused", None)
        if name == "parse":
            pages = args[0]
            self.ran.append(",".join(sorted({p.source_kind for p in pages})))
            if red(pages):
                self.worker = PageWorker(ColorBoxModel, OPTIONS, "m")
                self.restarts += 1
                self.unnoticed = self.lag
                raise ray.exceptions.ActorUnavailableError("connection reset", None)
        return getattr(self.worker, name)(*args)

    def __getattr__(self, name: str) -> Any:
        if name not in ("parse", "ping"):
            raise AttributeError(name)
        actor = self

        class Method:
            def remote(self, *args: Any) -> FakeRef:
                return actor.fake.call(actor._call, name, *args)

        return Method()


@pytest.fixture
def quick_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pings of a lost worker 1 ms apart (the engine waits up to 1 s between them)."""
    from layoutft.distributed import pipeline

    monkeypatch.setattr(pipeline, "PING_WAIT_S", 0.001)


def fake_engine(actors: int = 1, **actor_kw: Any) -> tuple[RayEngine, list[FakeActor]]:
    """A RayEngine whose driver loop runs on :class:`FakeRay` with :class:`FakeActor`s."""
    engine = RayEngine(
        ColorBoxModel, OPTIONS, RayOptions(ray_workers=actors, pages_per_task=1), "m"
    )
    fake = FakeRay()
    handles = [FakeActor(fake, **actor_kw) for _ in range(actors)]
    engine.ray, engine.actors = fake, handles
    engine._parser = Parser(ColorBoxModel(), OPTIONS, model_name="m")
    return engine, handles


def four_pngs() -> list[str]:
    """pngs/1-4.png: white, black (the model raises: an error page), red (kills the worker),
    white."""
    for name, color in [("1", "white"), ("2", "black"), ("3", "red"), ("4", "white")]:
        page_png(Path("pngs") / f"{name}.png", color)
    return ["pngs"]


@pytest.mark.parametrize("lag", [0, 1, 3, 8, 40])
def test_calls_failing_before_ray_hears_of_a_death_fail_no_other_input(
    in_tmp: Path, quick_pings: None, lag: int
) -> None:
    """The bug of a loaded machine, made deterministic: after 3.png kills the worker, the
    next ``lag`` calls fail unrun (Ray has not heard of the death yet). Counted as losses,
    they failed 1.png or 4.png, whichever came next; pinging the worker until a new process
    answers charges only 3.png, which ran (and killed the worker) exactly twice. However
    long the worker stays unavailable (40 pings: more than PINGS), it is not given up."""
    engine, (actor,) = fake_engine(lag=lag)
    summary = ray_run(engine, four_pngs(), Path("out"))
    got = Manifest(Path("out")).entries
    assert got["3.png"].status == "failed"
    assert "the Ray worker parsing it was lost twice" in str(got["3.png"].error)
    assert got["1.png"].status == "ok" and got["4.png"].status == "ok"
    assert got["2.png"].failed_pages == [1]
    assert (summary.parsed, summary.failed_inputs) == (3, 1)
    assert actor.restarts == 2 and len(actor.ran) == 5  # 1, 2, 4 once; 3 twice


def test_a_call_lost_on_the_way_goes_out_again_uncharged(in_tmp: Path, quick_pings: None) -> None:
    """A call that fails while the worker lives on (the same incarnation answers the ping)
    is sent again without counting as a loss: with the first two calls dropped, 1.png is
    still parsed, and 3.png still gets its two real tries."""
    engine, (actor,) = fake_engine(drop=(1, 3))
    ray_run(engine, four_pngs(), Path("out"))
    got = Manifest(Path("out")).entries
    assert {k: e.status for k, e in got.items()} == {
        "1.png": "ok", "2.png": "failed", "3.png": "failed", "4.png": "ok"
    }  # fmt: skip
    assert got["2.png"].failed_pages == [1]  # the model's own error, not a lost worker
    assert "lost twice" in str(got["3.png"].error) and actor.restarts == 2


def test_a_worker_that_never_comes_back_is_given_up(in_tmp: Path, quick_pings: None) -> None:
    """A worker found dead for good (ActorDiedError, not restarting) by PINGS pings in a row
    is given up for the run: its chunk goes to the other worker; with none left, the inputs
    still queued fail in one line."""
    engine, (first, second) = fake_engine(actors=2)
    first.gone = True
    ray_run(engine, four_pngs(), Path("two"))
    got = Manifest(Path("two")).entries
    assert [got[f"{n}.png"].status for n in "14"] == ["ok", "ok"]
    assert got["2.png"].failed_pages == [1]
    assert "lost twice" in str(got["3.png"].error)
    assert first.ran == [] and len(second.ran) == 5  # 1, 2, 4 once; 3 twice

    engine, (only,) = fake_engine()
    only.gone = True
    summary = ray_run(engine, ["pngs"], Path("none"))
    got = Manifest(Path("none")).entries
    assert summary.failed_inputs == 4
    assert all("no Ray model worker is left" in str(e.error) for e in got.values())


def test_the_library_corpus_call_runs_on_ray(ray_session: None, in_tmp: Path) -> None:
    from layoutft.corpus_session import CorpusOptions, parse_corpus

    seen: list[str] = []
    summary = parse_corpus(
        ["corpus"],
        Path("out"),
        ModelSpec(device="cpu", backend="torch"),
        OPTIONS,
        CorpusOptions(engine="ray", ray_workers=1, include=("*.pdf",)),
        progress=Parsed(seen),
    )
    manifest = Manifest(Path("out"))
    assert sorted(manifest.entries) == ["a.pdf", "bad.pdf", "sub/b.pdf"] == sorted(seen)
    assert summary.failed_inputs == 1 and not summary.ok  # bad.pdf
    assert manifest.entries["sub/b.pdf"].model["name"] == BUNDLED_MODEL
    assert ray.is_initialized()  # a Ray started by the caller stays up


def test_cli_engine_ray_writes_what_the_local_engine_writes(
    ray_session: None, local_parser: Parser, in_tmp: Path
) -> None:
    # local_parser: this process runs torch on one thread, as the actors do
    from typer.testing import CliRunner

    from layoutft.cli.app import app

    common = ["parse", "corpus", "--dpi", "72", "--device", "cpu", "--quiet"]
    local = CliRunner().invoke(app, [*common, "-o", "local"])
    assert local.exit_code == 1, local.output  # bad.pdf
    remote = CliRunner().invoke(
        app, [*common, "-o", "ray", "--engine", "ray", "--ray-workers", "1"]
    )
    assert remote.exit_code == 1, remote.output
    assert "Error: corpus/bad.pdf: cannot open the PDF" in remote.output
    assert "parsed 3 of 4 files, 6 pages" in remote.output
    assert files(Path("ray")) == files(Path("local"))
    assert entries(Manifest(Path("ray"))) == entries(Manifest(Path("local")))
    again = CliRunner().invoke(app, [*common, "-o", "ray", "--engine", "ray", "--ray-workers", "1"])
    assert "parsed 0 files" in again.output and "3 skipped (done earlier)" in again.output


def test_cli_ray_flags_need_engine_ray(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from layoutft.cli.app import app

    page = page_png(tmp_path / "in" / "a.png")
    for flags, message in [
        (["--engine", "spark"], "unknown --engine 'spark'; choose one of local, ray"),
        (["--ray-workers", "2"], "--ray-workers is for --engine ray"),
        (["--address", "auto"], "--address is for --engine ray"),
    ]:
        result = CliRunner().invoke(
            app, ["parse", str(page.parent), "-o", str(tmp_path / "o"), *flags]
        )
        assert result.exit_code == 1 and f"Error: {message}" in result.output, result.output
    single = CliRunner().invoke(app, ["parse", str(page), "--engine", "ray"])
    assert "--engine ray is for corpus runs" in single.output


def test_page_dataset_and_detect_pages_give_the_local_pages(
    ray_session: None, local_parser: Parser, in_tmp: Path
) -> None:
    paths = ["corpus/a.pdf", "corpus/sub/c.png", "corpus/bad.pdf"]
    pages = page_dataset(paths, OPTIONS)
    parsed = detect_pages(pages, ModelSpec(device="cpu", backend="torch"), OPTIONS, workers=1)
    rows = sorted(parsed.take_all(), key=lambda row: (row["source"], row["page"]))
    assert [(r["source"], r["page"]) for r in rows] == [
        ("corpus/a.pdf", 1),
        ("corpus/a.pdf", 2),
        ("corpus/a.pdf", 3),
        ("corpus/bad.pdf", 0),
        ("corpus/sub/c.png", 1),
    ]
    bad = rows[3]
    assert bad["status"] == "error" and "cannot open the PDF" in bad["error"]
    assert page_from_row(bad) is None
    for path in ("corpus/a.pdf", "corpus/sub/c.png"):
        expected = [page.to_dict() for page in local_parser.parse(path).pages]
        got = [page_from_row(r) for r in rows if r["source"] == path]
        assert [p.to_dict() for p in got if p is not None] == expected


class CpuHolder:
    """Other work on the cluster, holding a CPU."""

    def ping(self) -> bool:
        return True


def test_a_run_starved_of_render_cpus_says_so_then_goes_on(
    engine: RayEngine, in_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 4 CPUs: `engine` holds 2, this run's worker 1, and other work takes the last one
    holder = ray.remote(num_cpus=1)(CpuHolder).remote()
    assert ray.get(holder.ping.remote())
    shutil.rmtree(Path("corpus") / "sub")
    options = RayOptions(ray_workers=1, stall_warning_s=1)
    with RayEngine(ModelSpec(device="cpu", backend="torch"), OPTIONS, options) as starved:
        freed = threading.Timer(6, lambda: ray.kill(holder))  # the other work ends
        freed.start()
        try:
            with caplog.at_level(logging.WARNING, logger="layoutft.distributed"):
                summary = ray_run(starved, ["corpus"], Path("out"))
        finally:
            freed.cancel()
    warned = [r.getMessage() for r in caplog.records if r.name == "layoutft.distributed"]
    assert len(warned) == 1 and "no CPU of the cluster is free for a render task" in warned[0]
    assert (summary.parsed, summary.failed_inputs, summary.pages) == (1, 1, 3)


def test_without_ray_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from layoutft.distributed import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(LayoutftError, match=r"pip install 'layoutft\[ray\]'"):
        require_ray()


def test_a_cluster_too_small_for_the_workers_is_an_option_error() -> None:
    assert RayOptions().worker_count({"CPU": 2}) == 1
    assert RayOptions(gpus_per_worker=0.5).worker_count({"CPU": 8, "GPU": 2}) == 4
    with pytest.raises(OptionError, match=r"needs 3\.0 CPUs; the cluster has 2\.0"):
        RayOptions(ray_workers=2).worker_count({"CPU": 2})
    with pytest.raises(OptionError, match="needs a cluster with GPUs"):
        RayOptions(gpus_per_worker=1).worker_count({"CPU": 4})
    with pytest.raises(OptionError, match="ray_workers must be >= 1"):
        RayOptions(ray_workers=0)
