"""Resumable corpus runs (`layoutft parse CORPUS -o OUT`, layoutft.corpus): the manifest,
skipping what is done, redoing what changed or failed, refusing other settings, the
mirrored output tree, `layoutft status`, and a run killed with SIGKILL then finished.

The model is the stand-in of test_parse_pipeline (coloured boxes; black pages fail), so
model calls can be counted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from layoutft.cli.app import app
from layoutft.corpus import (
    MANIFEST_NAME,
    CorpusItem,
    Manifest,
    ManifestEntry,
    RunRecord,
    parse_item,
    plan_corpus,
)
from layoutft.corpus.manifest import manifest_schema
from layoutft.errors import LayoutftError
from layoutft.parsing.parser import ParseOptions, Parser
from layoutft.pretrained import BUNDLED_MODEL
from tests.test_parse_pipeline import ColorBoxModel, page_png

MODEL: dict[str, Any] = {
    "name": "m",
    "weights_sha256": "0" * 64,
    "config_sha256": None,
    "overrides": [],
    "labels": ["text"],
}
OPTIONS: dict[str, Any] = {
    "format": "json",
    "dpi": 72.0,
    "pages": None,
    "precision": "fp32",
    "renderer": "pymupdf",
    "text": True,
    "postprocess": "default",
    "score_threshold": None,
    "max_pixels": 50_000_000,
    "image_dpi": 72.0,
}


def corpus(root: Path) -> Path:
    """x/a.png, y/a.png (one name, two folders), b.png and b.jpg (one stem), z/deep/c.png."""
    for rel in ["x/a.png", "y/a.png", "b.png", "b.jpg", "z/deep/c.png"]:
        page_png(root / rel)
    return root


class Runner:
    """`layoutft parse` through CliRunner with one counting stand-in model."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import layoutft.parsing.parser as parser_mod

        self.model = ColorBoxModel()
        self.loads = 0

        def fake_load(*args: Any, **kwargs: Any) -> ColorBoxModel:
            self.loads += 1
            return self.model

        monkeypatch.setattr(parser_mod, "load_model", fake_load)

    def parse(self, *args: str, quiet: bool = True) -> Any:
        self.model.calls.clear()
        self.loads = 0
        return CliRunner().invoke(app, ["parse", *args, *(["--quiet"] if quiet else [])])

    @property
    def pages(self) -> int:
        return sum(self.model.calls)


def snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    """Every result file under ``out`` (the manifest aside) with its bytes and mtime."""
    return {
        str(p.relative_to(out)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]


def test_plan_mirrors_the_tree_and_keeps_same_named_files_apart(tmp_path: Path) -> None:
    root = corpus(tmp_path / "in")
    items = plan_corpus([root], tmp_path / "out")
    assert [(i.input, i.output) for i in items] == [
        ("b.jpg", "b.jpg.json"),
        ("b.png", "b.png.json"),
        ("x/a.png", "x/a.json"),
        ("y/a.png", "y/a.json"),
        ("z/deep/c.png", "z/deep/c.json"),
    ]
    assert items[2].path == root / "x" / "a.png"
    # two folders: paths relative to their common folder; explicit files as well
    two = plan_corpus([root / "x", root / "y"], tmp_path / "out", fmt="jsonl")
    assert [(i.input, i.output) for i in two] == [
        ("x/a.png", "x/a.jsonl"),
        ("y/a.png", "y/a.jsonl"),
    ]
    files = plan_corpus([root / "b.png", root / "z" / "deep" / "c.png"], tmp_path / "out")
    assert [i.output for i in files] == ["b.json", "z/deep/c.json"]
    with pytest.raises(LayoutftError, match="is given twice"):
        plan_corpus([root / "b.png", root / "b.png"], tmp_path / "out")


def test_include_and_exclude_patterns(tmp_path: Path) -> None:
    root = corpus(tmp_path / "in")
    page_png(root / "drafts" / "d.png")
    out = tmp_path / "out"

    def inputs(include: list[str], exclude: list[str]) -> list[str]:
        return [i.input for i in plan_corpus([root], out, include, exclude)]

    assert inputs(["*.jpg"], []) == ["b.jpg"]  # no "/": the file name
    assert inputs([], ["drafts", "*.jpg"]) == ["b.png", "x/a.png", "y/a.png", "z/deep/c.png"]
    assert inputs(["z/*"], []) == ["z/deep/c.png"]  # with "/": the relative path, * crosses /
    assert inputs(["*/a.png"], ["y/*"]) == ["x/a.png"]
    with pytest.raises(LayoutftError, match="no matching --include/--exclude"):
        inputs(["*.tif"], [])
    # hidden files and folders are skipped unless named
    page_png(root / "._b.png")
    page_png(root / ".cache" / "e.png")
    assert inputs([], []) == [
        "b.jpg",
        "b.png",
        "drafts/d.png",
        "x/a.png",
        "y/a.png",
        "z/deep/c.png",
    ]
    named = plan_corpus([root, root / "._b.png"], out)
    assert [i.input for i in named][-1] == "._b.png"
    # an output folder inside the corpus is never searched
    page_png(root / "res" / "images" / "p.png")
    assert "res/images/p.png" not in [i.input for i in plan_corpus([root], root / "res")]
    skipped = plan_corpus([root], tmp_path / "o", skip=[root / "res"])  # e.g. --visualize
    assert "res/images/p.png" not in [i.input for i in skipped]


def test_manifest_round_trip_schema_and_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = RunRecord.create(MODEL, OPTIONS, tmp_path, ["in"], 2)
    entry = ManifestEntry(
        input="sub/a.pdf",
        size=3,
        mtime_ns=1,
        sha256="a" * 64,
        status="failed",
        error="page 2: prediction failed: x",
        output="sub/a.json",
        pages=2,
        failed_pages=[2],
        regions=4,
        seconds=0.5,
        model={"name": "m", "weights_sha256": "0" * 64},
        fingerprint=run.fingerprint,
        options=dict(OPTIONS),
        layoutft_version="0.1.0",
    )
    manifest = Manifest(out)
    with pytest.raises(RuntimeError, match="lock"):
        manifest.record(entry)
    with manifest.lock():
        manifest.begin(run)
        manifest.record(entry)
    again = Manifest(out)
    assert again.runs == [run] and again.entries == {"sub/a.pdf": entry}
    for record in records(out):
        jsonschema.validate(record, manifest_schema())
    # a kill mid-write leaves a last line without its newline: ignored, then cut off
    with (out / MANIFEST_NAME).open("a") as fh:
        fh.write('{"record": "item", "input": "b.pd')
    torn = Manifest(out)
    assert torn.torn and torn.entries == {"sub/a.pdf": entry}
    with torn.lock():
        torn.record(ManifestEntry(**{**entry.__dict__, "input": "b.pdf", "status": "ok"}))
    assert [r.get("input") for r in records(out)] == [None, "sub/a.pdf", "b.pdf"]
    # a broken line that is not the last is an error naming the line
    text = (out / MANIFEST_NAME).read_text().splitlines()
    (out / MANIFEST_NAME).write_text("\n".join([text[0], "{oops", *text[1:]]) + "\n")
    with pytest.raises(LayoutftError, match=f"{MANIFEST_NAME} line 2 is not a manifest record"):
        Manifest(out)


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    with (
        Manifest(tmp_path).lock(),
        pytest.raises(LayoutftError, match="being written by another layoutft run"),
        Manifest(tmp_path).lock(),
    ):
        pass


def test_parse_item_never_raises_for_a_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "in" / "bad.pdf"
    bad.parent.mkdir()
    bad.write_bytes(b"%PDF-1.4 nonsense")
    black = page_png(tmp_path / "in" / "black.png", "black")
    parser = Parser(ColorBoxModel(), ParseOptions(dpi=72))  # type: ignore[arg-type]
    run = RunRecord.create(MODEL, OPTIONS, tmp_path / "in", ["in"], 2)
    out = tmp_path / "out"
    entry = parse_item(parser, CorpusItem(bad, "bad.pdf", "bad.json"), out, run)
    assert (entry.status, entry.output, entry.size) == ("failed", None, 17)
    assert entry.error is not None and str(bad) in entry.error
    assert not (out / "bad.json").exists()
    entry = parse_item(parser, CorpusItem(black, "black.png", "black.json"), out, run)
    assert (entry.status, entry.output, entry.failed_pages) == ("failed", "black.json", [1])
    assert entry.error == "page 1: prediction failed: cannot predict on a black page"
    assert json.loads((out / "black.json").read_text())["status"] == "error"
    gone = parse_item(parser, CorpusItem(tmp_path / "gone.png", "gone.png", "g.json"), out, run)
    assert gone.status == "failed" and gone.size is None and "cannot read it" in str(gone.error)


def test_rerun_skips_done_files_without_touching_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = corpus(tmp_path / "in")
    out = tmp_path / "out"
    cli = Runner(monkeypatch)
    result = cli.parse(str(root), "-o", str(out), "--dpi", "72")
    assert result.exit_code == 0, result.output
    assert cli.pages == 5
    before = snapshot(out)
    assert sorted(before) == ["b.jpg.json", "b.png.json", "x/a.json", "y/a.json", "z/deep/c.json"]
    result = cli.parse(str(root), "-o", str(out), "--dpi", "72")
    assert result.exit_code == 0, result.output
    assert cli.pages == 0 and snapshot(out) == before  # same bytes, same mtimes
    assert result.stderr.splitlines()[-1].startswith(
        "parsed 0 files, 0 pages, 0 regions, 0 failures; 5 skipped (done earlier); "
    )
    # touched but unchanged: hashed, not parsed; changed: parsed again, alone
    os.utime(root / "x" / "a.png", ns=(1, 1))
    page_png(root / "y" / "a.png", "lightgray")
    result = cli.parse(str(root), "-o", str(out), "--dpi", "72")
    assert result.exit_code == 0, result.output
    assert cli.pages == 1
    after = snapshot(out)
    assert [k for k in before if before[k] != after[k]] == ["y/a.json"]
    assert Manifest(out).entries["x/a.png"].mtime_ns == 1  # not read again next time
    # a result file removed by hand is written again
    (out / "b.png.json").unlink()
    result = cli.parse(str(root), "-o", str(out), "--dpi", "72")
    assert cli.pages == 1 and (out / "b.png.json").read_bytes() == before["b.png.json"][0]
    kinds = [(r["record"], r.get("input")) for r in records(out)]
    assert kinds.count(("run", None)) == 4 and len(kinds) == 4 + 5 + 1 + 1 + 1  # x/a: moved


def test_failed_inputs_are_kept_until_retry_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "in"
    page_png(root / "a.png")
    black = page_png(root / "black.png", "black")
    (root / "bad.pdf").write_bytes(b"%PDF-1.4 nonsense")
    out = tmp_path / "out"
    cli = Runner(monkeypatch)
    result = cli.parse(str(root), "-o", str(out))
    assert result.exit_code == 1
    assert f"Error: {black}: page 1: prediction failed" in result.stderr
    assert f"Error: {root / 'bad.pdf'}: cannot open the PDF" in result.stderr
    assert "(1 of 3 inputs failed; 1 of 2 pages failed)" in result.stderr
    assert sorted(snapshot(out)) == ["a.json", "black.json"]  # the good and the partial one
    # rerun: nothing parsed, the failures counted and the exit status still 1
    result = cli.parse(str(root), "-o", str(out))
    assert result.exit_code == 1 and cli.pages == 0
    assert "1 skipped (done earlier); 2 failed earlier (--retry-failed parses them" in (
        result.stderr
    )
    result = cli.parse(str(root), "-o", str(out), "--retry-failed")
    assert result.exit_code == 1 and cli.pages == 1  # black again; bad.pdf has no pages
    assert "parsed 1 of 2 files" in result.stderr and "1 skipped" in result.stderr
    # fixed inputs are parsed again without the flag (they changed)
    page_png(black, "white")
    (root / "bad.pdf").unlink()
    result = cli.parse(str(root), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert cli.pages == 1


def test_other_settings_are_refused_unless_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = corpus(tmp_path / "in")
    out = tmp_path / "out"
    cli = Runner(monkeypatch)
    assert cli.parse(str(root), "-o", str(out), "--dpi", "72").exit_code == 0
    before = snapshot(out)
    result = cli.parse(str(root), "-o", str(out), "--dpi", "100", "--no-text")
    assert result.exit_code == 1 and cli.loads == 0  # refused before the model loads
    assert result.stderr == (
        f"Error: {out} holds results of other settings (dpi 72.0 -> 100.0, text true -> "
        "false); rerun with the settings it was made with, choose another output folder (-o), "
        "or pass --overwrite to parse every file again with the new settings\n"
    )
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"other weights")
    result = cli.parse(str(root), "-o", str(out), "--dpi", "72", "--weights", str(weights))
    assert result.exit_code == 1 and f"model name {BUNDLED_MODEL} -> w" in (result.stderr)
    assert "model weights_sha256" in result.stderr and snapshot(out) == before
    result = cli.parse(str(root), "-o", str(out), "--dpi", "100", "--overwrite")
    assert result.exit_code == 0, result.output
    assert cli.pages == 5 and records(out)[-1]["options"]["dpi"] == 100.0
    # OUT now follows the new settings: the old ones are refused
    result = cli.parse(str(root), "-o", str(out), "--dpi", "72")
    assert result.exit_code == 1 and "dpi 100.0 -> 72.0" in result.stderr
    # inputs under another folder would land elsewhere in the tree: refused too
    result = cli.parse(str(root / "x"), "-o", str(out), "--dpi", "100")
    assert result.exit_code == 1 and cli.loads == 0
    assert result.stderr.startswith(
        f"Error: {out} holds results of the inputs under {root}, this run's are under {root / 'x'}"
    )


def test_corpus_flags_need_a_corpus_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = page_png(tmp_path / "a.png")
    cli = Runner(monkeypatch)
    result = cli.parse(str(page), "-o", str(tmp_path / "a.json"), "--retry-failed")
    assert result.exit_code == 1 and result.stderr == (
        "Error: --retry-failed is for corpus runs: pass a folder or several inputs with -o DIR\n"
    )
    result = cli.parse(str(page), "-o", str(tmp_path / "a.json"))  # one file: no manifest
    assert result.exit_code == 0 and not (tmp_path / MANIFEST_NAME).exists()


def test_visualize_and_view_mirror_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = corpus(tmp_path / "in")
    out, vis, view = tmp_path / "out", tmp_path / "vis", tmp_path / "view"
    cli = Runner(monkeypatch)
    args = [str(root), "-o", str(out), "--dpi", "72", "--visualize", str(vis), "--view", str(view)]
    result = cli.parse(*args, "--exclude", "z")
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(vis)) for p in vis.rglob("*.png")) == [
        "b.jpg-p1.png",  # b.png and b.jpg share a stem: named like their results
        "b.png-p1.png",
        "x/a-p1.png",
        "y/a-p1.png",
    ]
    result = cli.parse(*args)  # z/deep/c.png is new; the others are read back for the viewer
    assert result.exit_code == 0, result.output
    assert cli.pages == 1
    html = (view / "index.html").read_text()
    assert all(name in html for name in ["x/a.png", "y/a.png", "deep/c.png"])


def test_progress_lines_in_a_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = corpus(tmp_path / "in")
    cli = Runner(monkeypatch)
    monkeypatch.setattr("layoutft.cli.parse._FilesProgress.every", 0.0)
    result = cli.parse(str(root), "-o", str(tmp_path / "out"), quiet=False)
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("progress: ")]
    assert len(progress) == 5 and progress[-1].startswith("progress: 5 of 5 files, 5 pages ")
    result = cli.parse(str(root), "-o", str(tmp_path / "out"))  # --quiet: none
    assert "progress: " not in result.stderr


def test_status_reads_the_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = corpus(tmp_path / "in")
    page_png(root / "black.png", "black")
    out = tmp_path / "out"
    cli = Runner(monkeypatch)
    assert cli.parse(str(root), "-o", str(out), "--dpi", "72").exit_code == 1
    result = CliRunner().invoke(app, ["status", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].startswith(f"model: {BUNDLED_MODEL} (weights sha256 ")
    assert lines[2].startswith("options: format=json, dpi=72.0, pages=None, ")
    assert lines[3] == "inputs: 6 planned, 5 ok, 1 failed, 0 not done"
    assert lines[4].startswith("pages: 6 (1 failed), 0 regions, ")
    assert lines[5:] == [
        "failed (--retry-failed parses them again):",
        "  black.png: page 1: prediction failed: cannot predict on a black page",
    ]
    from layoutft.cli.view import results_files

    assert MANIFEST_NAME not in [p.name for p in results_files([out])]  # `layoutft view OUT`
    report = json.loads(CliRunner().invoke(app, ["status", str(out), "--json"]).stdout)
    assert (report["ok"], report["failed"], report["planned"]) == (5, 1, 6)
    result = CliRunner().invoke(app, ["status", str(tmp_path)])
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {tmp_path} has no ")


# --- killed with SIGKILL, then finished ----------------------------------------------------

CHILD = """
import os, sys, time
import numpy as np
import layoutft.parsing.parser as parser_mod
from layoutft.cli import main

class Dets:
    def __init__(self, image):
        h, w = image.shape[:2]
        self.boxes = np.array([[2, 2, w - 2, h // 2]], np.float32)
        self.scores = np.array([0.5 + image.mean() / 600], np.float32)
        self.classes = np.array([int(image.mean()) % 5], np.int64)
        self.masks = None

class SlowModel:
    labels = ["text", "title", "list", "table", "figure"]

    def predict(self, images, batch_size=1, format="RGB", min_score=0.0, precision="fp32",
                workers=None):
        time.sleep(DELAY)
        return [Dets(image) for image in images]

DELAY = float(os.environ["CORPUS_TEST_DELAY"])
parser_mod.load_model = lambda *args, **kwargs: SlowModel()
sys.argv[0] = "layoutft"
main()
"""


def run_child(args: list[str], delay: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CORPUS_TEST_DELAY": str(delay)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, "parse", *args, "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )


def done_entries(out: Path) -> list[dict[str, Any]]:
    path = out / MANIFEST_NAME
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")[:-1]  # complete lines only
    return [r for r in map(json.loads, lines) if r["record"] == "item" and r["status"] == "ok"]


@pytest.mark.timeout(240)
def test_sigkill_then_rerun_finishes_the_rest_without_redoing_anything(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "corpus"
    for i in range(8):
        path = root / f"d{i % 3}" / f"p{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (90 + 7 * i, 120), (20 * i, 200 - 10 * i, 90)).save(path)
    out = tmp_path / "out"
    proc = run_child([str(root), "-o", str(out)], delay=0.6)
    try:
        # no deadline of its own: a child that never finishes an input is the test's timeout
        while len(done_entries(out)) < 2:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    first = {r["input"]: r for r in done_entries(out)}
    assert 2 <= len(first) < 8, "the run was killed part-way"
    finished = {name: (out / r["output"]).stat().st_mtime_ns for name, r in first.items()}

    again = run_child([str(root), "-o", str(out)], delay=0.0)
    _, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr.decode()
    assert f"{len(first)} skipped (done earlier)" in stderr.decode()
    entries = Manifest(out).entries
    assert sorted(entries) == sorted(f"d{i % 3}/p{i}.png" for i in range(8))
    assert all(e.status == "ok" for e in entries.values())
    for name, mtime in finished.items():  # finished files were not parsed again
        assert entries[name].time == first[name]["time"]
        assert entries[name].seconds == first[name]["seconds"]
        assert (out / entries[name].output).stat().st_mtime_ns == mtime  # type: ignore[operator]
    items = [r for r in records(out) if r["record"] == "item"]
    assert len(items) == 8  # each input recorded once

    clean = tmp_path / "clean"
    whole = run_child([str(root), "-o", str(clean)], delay=0.0)
    _, stderr = whole.communicate(timeout=120)
    assert whole.returncode == 0, stderr.decode()
    # equal to an uninterrupted run's (a temporary file of the killed write may be left)
    assert {k: v[0] for k, v in snapshot(out).items() if not k.endswith(".tmp")} == {
        k: v[0] for k, v in snapshot(clean).items()
    }
