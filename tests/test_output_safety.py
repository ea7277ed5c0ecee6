"""No command destroys data it did not create: split, convert and show outputs (issue #16).

Through Typer's CliRunner: exit codes, one-line messages, and the files left untouched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app

runner = CliRunner()


def umask_mode(directory: bool = False) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def yolo_root(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for name in ("doc1_p1", "doc2_p1", "doc3_p1", "doc4_p1"):
        Image.new("RGB", (100, 50), "white").save(root / "images" / f"{name}.png")
        (root / "labels" / f"{name}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "classes.txt").write_text("text\n")
    return root


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A converted dataset: tmp/data/annotations.json + images/."""
    out = tmp_path / "data"
    result = runner.invoke(
        app, ["convert", "--from", "yolo", str(yolo_root(tmp_path / "y")), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_split_never_writes_over_its_input(dataset: Path) -> None:
    train = dataset / "train.json"
    train.write_bytes((dataset / "annotations.json").read_bytes())
    before = train.read_bytes()
    result = runner.invoke(app, ["split", str(train), "--ratios", "0.8,0.2"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {train}: the output would replace the input {train}; "
        "pass -o DIR or --names with other split names\n"
    )
    assert train.read_bytes() == before and not (dataset / "val.json").exists()


def test_split_keeps_existing_outputs_without_overwrite(dataset: Path) -> None:
    coco = dataset / "annotations.json"
    val = dataset / "val.json"
    val.write_text("my own val set")
    result = runner.invoke(app, ["split", str(coco), "--ratios", "0.5,0.5"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {val} already exists; pass --overwrite to replace it or pass -o DIR\n"
    )
    assert val.read_text() == "my own val set" and not (dataset / "train.json").exists()
    result = runner.invoke(app, ["split", str(coco), "--ratios", "0.5,0.5", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(val.read_text())["images"]) == 2
    assert val.stat().st_mode & 0o777 == umask_mode()  # not mkstemp's private 0600


def test_convert_into_the_current_folder_touches_only_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = yolo_root(tmp_path / "y")
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    result = runner.invoke(app, ["convert", "--from", "yolo", str(root), "-o", "."])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in work.iterdir()) == ["annotations.json", "images", "notes.txt"]
    result = runner.invoke(app, ["convert", "--from", "yolo", str(root), "-o", "."])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: annotations.json already exists; pass --overwrite")
    assert len(result.stderr.splitlines()) == 1
    result = runner.invoke(app, ["convert", "--from", "yolo", str(root), "-o", ".", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in work.iterdir()) == ["annotations.json", "images", "notes.txt"]
    assert (work / "notes.txt").read_text() == "mine"
    assert len(list((work / "images").iterdir())) == 4


def test_convert_output_follows_the_umask(tmp_path: Path) -> None:
    out = tmp_path / "coco"
    result = runner.invoke(
        app, ["convert", "--from", "yolo", str(yolo_root(tmp_path / "y")), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == umask_mode(directory=True)  # not mkdtemp's 0700
    assert (out / "annotations.json").stat().st_mode & 0o777 == umask_mode()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_show_with_a_negative_count_is_one_line(dataset: Path, tmp_path: Path) -> None:
    coco = dataset / "annotations.json"
    args = ["show", str(coco), "--images", str(dataset / "images"), "-o", str(tmp_path / "s")]
    result = runner.invoke(app, [*args, "-n", "-1"])
    assert result.exit_code == 1
    assert result.stderr == "Error: -n -1: the number of images to draw must be 1 or more\n"
    assert not (tmp_path / "s").exists()


def test_unusable_layoutft_home_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LAYOUTFT_HOME that cannot hold the weights cache: the path and the reason, no
    traceback (an OSError in any command is one line)."""
    home = tmp_path / "home"
    home.write_text("a file, not a folder")
    monkeypatch.setenv("LAYOUTFT_HOME", str(home))
    page = tmp_path / "page.png"
    Image.new("RGB", (60, 80), "white").save(page)
    result = runner.invoke(
        app, ["parse", str(page), "--weights", "publaynet", "-o", str(tmp_path / "o.json")]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {home}") and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output and home.read_text() == "a file, not a folder"


def test_validate_fix_and_eval_never_write_over_their_input(dataset: Path) -> None:
    coco = dataset / "annotations.json"
    before = coco.read_bytes()
    result = runner.invoke(app, ["validate", str(coco), "--fix", str(coco)])
    assert result.exit_code == 1 and coco.read_bytes() == before
    assert result.stderr == (
        f"Error: {coco}: the output would replace the input {coco}; "
        "write the repaired copy to another file\n"
    )
    result = runner.invoke(
        app, ["eval", "--weights", "unused.pth", "--data", str(coco), "-o", str(coco)]
    )
    assert result.exit_code == 1 and coco.read_bytes() == before
    assert "the output would replace the input" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_export_never_writes_over_its_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "model.pth"
    ckpt.write_bytes(b"weights that must survive")
    result = runner.invoke(app, ["export", str(ckpt), "--format", "detectron2", "-o", str(ckpt)])
    assert result.exit_code == 1 and ckpt.read_bytes() == b"weights that must survive"
    assert result.stderr == (
        f"Error: {ckpt}: the output would replace the input {ckpt}; choose another -o\n"
    )


@pytest.mark.timeout(180)
def test_sigterm_mid_parse_leaves_no_temporary_file(tmp_path: Path) -> None:
    """``kill`` while a JSON Lines output is being written: the process unwinds like Ctrl-C,
    its temporary file is removed and no partial output appears."""
    import signal
    import subprocess
    import sys
    import time

    import pymupdf

    pdf = pymupdf.open()
    for _ in range(200):
        pdf.new_page(width=300, height=400)
    source = tmp_path / "long.pdf"
    pdf.save(source)
    out = tmp_path / "out"
    out.mkdir()
    code = "import sys; from layoutft.cli import main; sys.argv[0] = 'layoutft'; main()"
    args = [str(source), "--format", "jsonl", "-o", str(out / "long.jsonl"), "--dpi", "20", "-q"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "parse", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # no deadline of its own: an output that never appears is the test's timeout
        while not list(out.glob(".long.jsonl.*.tmp")) and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "parse finished before it could be stopped"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(p.name for p in out.iterdir()) == []
