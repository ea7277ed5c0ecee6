"""`layoutft view`: a static HTML viewer of parse results."""

from __future__ import annotations

from pathlib import Path

import typer

from layoutft.cli.app import command
from layoutft.errors import LayoutftError


def results_files(inputs: list[Path]) -> list[Path]:
    """The results files named by ``inputs``: files as given, folders searched (recursively,
    sorted) for results of the formats the viewer reads (``*.json`` and ``*.jsonl``: the
    ``viewable`` ones of :mod:`layoutft.parsing.output_formats`; COCO results,
    ``*.coco.json``, the other formats and a corpus run's ``layoutft-manifest.jsonl`` are
    skipped)."""
    from layoutft.corpus.plan import MANIFEST_NAME
    from layoutft.parsing.output_formats import viewable_file

    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(
                p
                for p in item.rglob("*")
                if p.is_file()
                and viewable_file(p.name)
                and p.name != MANIFEST_NAME  # a corpus run's manifest
            )
            if not found:
                raise LayoutftError(f"{item}: no .json or .jsonl results in this folder")
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            raise LayoutftError(f"{item}: no such file or folder")
    return files


@command("view")
def view_cmd(
    results: list[Path] = typer.Argument(
        ...,
        metavar="RESULTS...",
        help="layoutft parse results (.json or .jsonl) or folders of them.",
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Folder for index.html and the page images."
    ),
    renderer: str = typer.Option("pymupdf", help="pymupdf or pdf2image (poppler)."),
    title: str = typer.Option("layoutft results", help="Title of the page."),
) -> None:
    """Write a self-contained HTML viewer of parse results to OUTPUT/index.html: pages with
    their regions, classes, scores, reading order and text. Needs no server or network:
    open the file in a browser. Pages are rendered from the source files at the results'
    dpi; a missing source gives empty pages and a note.
    """
    from layoutft.outputs import check_writable, refuse_inputs
    from layoutft.parsing.viewer import write_viewer
    from layoutft.render import RENDERERS
    from layoutft.schema import Document, DocumentError

    if renderer not in RENDERERS:
        choices = ", ".join(RENDERERS)
        raise LayoutftError(f"unknown --renderer {renderer!r}; choose one of {choices}")
    files = results_files(results)
    refuse_inputs([output / "index.html"], files, "choose another output folder (-o)")
    check_writable([output], "-o")
    documents = []
    for path in files:
        try:
            documents.append(Document.from_json(path))
        except DocumentError:
            raise  # names the file and the field
        except (ValueError, KeyError, TypeError) as exc:
            raise LayoutftError(
                f"{path}: not layoutft results (layoutft parse --format json or jsonl): {exc}"
            ) from None
    viewer = write_viewer(documents, output, results=files, renderer=renderer, title=title)
    for note in viewer.notes:
        typer.echo(f"note: {note}", err=True)
    pages = sum(len(d.pages) for d in documents)
    typer.echo(
        f"viewer: {len(documents)} document{'s' if len(documents) != 1 else ''}, {pages} "
        f"page{'s' if pages != 1 else ''} -> {output / 'index.html'}",
        err=True,
    )
