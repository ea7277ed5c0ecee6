"""An interrupted `layoutft synth` leaves nothing a rerun mistakes for a finished dataset
(issue #27): no annotations.json until the set is complete, an old one gone before an
--overwrite run writes its first page, and a rerun into an interrupted folder refused in
one line unless --overwrite (which then generates the whole set again)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from typer.testing import CliRunner

import layoutft.cli
from layoutft.data.synth import dataset as synth_dataset
from layoutft.data.synth import latex as synth_latex

ARGS = ["--docs", "3", "--pages", "1", "--dpi", "36", "--quiet"]


def synth(out: Path, *extra: str) -> Any:
    return CliRunner().invoke(layoutft.cli.app, ["synth", "-o", str(out), *ARGS, *extra])


def fail_on_document(monkeypatch: pytest.MonkeyPatch, index: int) -> None:
    """The pymupdf engine dies (as if killed) when it starts document ``index``."""
    make = synth_dataset._make_document

    def dying(stem: str, *args: Any) -> Any:
        if stem == f"doc{index:03d}":
            raise KeyboardInterrupt
        return make(stem, *args)

    monkeypatch.setattr(synth_dataset, "_make_document", dying)


def interrupted_note(out: Path) -> str:
    return (
        f"Error: {out}: an earlier synth run into it was interrupted "
        f"({out / '.synth-incomplete'} is there): its pages may be incomplete; pass "
        "--overwrite to generate the dataset again, or choose another -o\n"
    )


def test_an_interrupted_run_is_refused_then_redone_with_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ds"
    fail_on_document(monkeypatch, 2)
    killed = synth(out)
    assert killed.exit_code == 130  # Ctrl-C
    assert sorted(p.name for p in (out / "images").iterdir()) == ["doc000_p0.png", "doc001_p0.png"]
    assert not (out / "annotations.json").exists()  # only a complete set has one
    monkeypatch.undo()

    again = synth(out)
    assert again.exit_code == 1 and again.stderr == interrupted_note(out)
    assert not (out / "annotations.json").exists()

    redone = synth(out, "--overwrite")
    assert redone.exit_code == 0, redone.output
    coco = json.loads((out / "annotations.json").read_text())
    assert [i["file_name"] for i in coco["images"]] == [
        "doc000_p0.png",
        "doc001_p0.png",
        "doc002_p0.png",
    ]
    assert not (out / ".synth-incomplete").exists()
    assert synth(out).exit_code == 1  # complete now: refused as an existing dataset


def test_an_interrupted_overwrite_leaves_no_old_annotations_beside_new_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ds"
    assert synth(out, "--seed", "1").exit_code == 0
    fail_on_document(monkeypatch, 1)
    assert synth(out, "--seed", "2", "--overwrite").exit_code == 130
    # doc000 was redrawn with seed 2: seed 1's annotations must not describe it
    assert not (out / "annotations.json").exists()
    assert not (out / "boxes_pt.json").exists()
    monkeypatch.undo()
    assert synth(out, "--seed", "2").stderr == interrupted_note(out)


def test_a_killed_latex_run_is_marked_interrupted_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pdflatex stood in for by a one-page PDF for the first article; killed on the second."""
    out = tmp_path / "ds"

    def compile_then_die(source: str, figures: Any, rng: Any, work: Path) -> Path:
        if (out / "pdfs" / "doc000.pdf").exists():
            raise KeyboardInterrupt
        pdf = pymupdf.open()
        pdf.new_page(width=612, height=792)
        pdf.save(work / "a.pdf")
        return work / "a.pdf"

    monkeypatch.setattr(synth_latex, "_pdflatex", lambda: None)
    monkeypatch.setattr(synth_latex, "_compile", compile_then_die)
    assert synth(out, "--engine", "latex").exit_code == 130
    assert (out / "images" / "doc000_p0.png").is_file()
    assert not (out / "annotations.json").exists()
    result = synth(out, "--engine", "latex")
    assert result.exit_code == 1 and result.stderr == interrupted_note(out)


def test_a_refused_argument_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert synth(out, "--seed", "1").exit_code == 0
    before = (out / "annotations.json").read_bytes()
    bad = CliRunner().invoke(
        layoutft.cli.app, ["synth", "-o", str(out), "--docs", "0", "--overwrite"]
    )
    assert bad.exit_code == 1 and "Error: synth: --docs" in bad.output
    assert (out / "annotations.json").read_bytes() == before  # put back
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    fresh = CliRunner().invoke(
        layoutft.cli.app, ["synth", "-o", str(tmp_path / "b"), "--docs", "0"]
    )
    assert fresh.exit_code == 1
    assert synth(tmp_path / "b").exit_code == 0  # not refused as interrupted


def test_stale_pages_from_an_earlier_run_are_named(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert synth(out).exit_code == 0
    result = CliRunner().invoke(
        layoutft.cli.app,
        ["synth", "-o", str(out), "--docs", "1", "--pages", "1", "--dpi", "36", "--overwrite"],
    )
    assert result.exit_code == 0, result.output
    assert (
        f"warning: {out / 'images'} holds 2 images not in annotations.json (doc001_p0.png, "
        "doc002_p0.png), left from an earlier run; delete them if they are not yours\n"
    ) in result.stderr
