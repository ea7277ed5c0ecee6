"""No command replaces an input, and no run reads its own outputs as inputs (issue #27).

`layoutft parse` with the counting stand-in model of test_corpus: every kind of output
(-o, --visualize, --view, the page images of pre-annotation formats) is checked against
the inputs before the model loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layoutft.corpus import plan_corpus
from tests.test_corpus import Runner
from tests.test_parse_pipeline import page_png


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("flag", ["--visualize", "--view"])
def test_corpus_run_never_draws_into_its_input_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    """`parse DIR --visualize DIR` drew a.png's page as a-p1.png over the input a-p1.png,
    and every rerun parsed the drawings as new inputs."""
    root = tmp_path / "in"
    page_png(root / "a.png")
    page_png(root / "a-p1.png")
    page_png(root / "pages" / "d001-p1.jpg")  # a --view page image's name
    before = tree(root)
    cli = Runner(monkeypatch)
    result = cli.parse(str(root), "-o", str(tmp_path / "out"), flag, str(root))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {flag} {root}: the folder holds the input {root}; its files could replace "
        "inputs and later runs would read them as inputs; choose a folder outside the inputs\n"
    )
    assert cli.loads == 0 and tree(root) == before


def test_one_input_never_draws_over_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "scans"
    page = folder / "a-p1.png"
    page_png(page)
    page_png(folder / "a.png")
    before = tree(folder)
    cli = Runner(monkeypatch)
    result = cli.parse(str(folder / "a.png"), "-o", str(tmp_path / "a.json"), "--view", str(folder))
    assert result.exit_code == 1 and cli.loads == 0 and tree(folder) == before
    assert f"--view {folder}: the folder holds the input {folder / 'a.png'}" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_preannotation_images_never_replace_an_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--format labelstudio -o x.labelstudio.json writes images/<stem>-p1.png beside it."""
    page = tmp_path / "images" / "x-p1.png"
    page_png(page)
    before = page.read_bytes()
    cli = Runner(monkeypatch)
    dest = tmp_path / "x.labelstudio.json"
    result = cli.parse(str(page), "--format", "labelstudio", "-o", str(dest))
    assert result.exit_code == 1 and cli.loads == 0 and page.read_bytes() == before
    assert result.stderr == (
        f"Error: page images {tmp_path / 'images'}: the folder holds the input {page}; its files "
        "could replace inputs and later runs would read them as inputs; choose a folder outside "
        "the inputs\n"
    )
    # a corpus run into its own input folder with page images: the same refusal
    root = tmp_path / "c"
    page_png(root / "images" / "a-p1.png")
    result = cli.parse(str(root), "--format", "labelstudio", "-o", str(root))
    assert result.exit_code == 1 and cli.loads == 0
    assert "the folder holds the input" in result.stderr


def test_corpus_results_into_the_input_folder_are_not_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON results beside the inputs are allowed (never an input suffix); the folders a
    run writes inside the corpus are never searched."""
    root = tmp_path / "in"
    page_png(root / "a.png")
    cli = Runner(monkeypatch)
    vis = root / "vis"
    result = cli.parse(str(root), "-o", str(root), "--visualize", str(vis))
    assert result.exit_code == 0, result.output
    assert (root / "a.json").is_file() and (vis / "a-p1.png").is_file()
    result = cli.parse(str(root), "-o", str(root), "--visualize", str(vis))
    assert result.exit_code == 0, result.output
    assert cli.pages == 0  # nothing new: the drawing is not an input
    assert [i.input for i in plan_corpus([root], root, skip=[vis])] == ["a.png"]


def test_parse_output_file_over_an_unrelated_file_needs_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "a.png"
    page_png(page)
    dest = tmp_path / "notes.json"
    dest.write_text('{"my": "notes"}')
    cli = Runner(monkeypatch)
    result = cli.parse(str(page), "-o", str(dest))
    assert result.exit_code == 1 and cli.loads == 0
    assert result.stderr == (
        f"Error: {dest} already exists and is not an earlier result of {page.name}; "
        "pass --overwrite to replace it or choose another -o\n"
    )
    assert dest.read_text() == '{"my": "notes"}'
    result = cli.parse(str(page), "-o", str(dest), "--overwrite")
    assert result.exit_code == 0, result.output
    first = json.loads(dest.read_text())
    assert first["schema"] == "layoutft.document/1"
    # its own earlier output (a layoutft document of the same source): replaced freely
    result = cli.parse(str(page), "-o", str(dest))
    assert result.exit_code == 0, result.output
    assert cli.pages == 1
    # ... but not the result of another source
    other = tmp_path / "b.png"
    page_png(other)
    result = cli.parse(str(other), "-o", str(dest))
    assert result.exit_code == 1 and "is not an earlier result of b.png" in result.stderr
    # JSON Lines: the first line tells
    lines = tmp_path / "a.jsonl"
    assert cli.parse(str(page), "--format", "jsonl", "-o", str(lines)).exit_code == 0
    assert cli.parse(str(page), "--format", "jsonl", "-o", str(lines)).exit_code == 0
