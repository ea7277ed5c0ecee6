"""``layoutft dataset``: public training sources (thin wrappers over layoutft.data.sources)."""

from __future__ import annotations

from pathlib import Path

import typer

from layoutft.cli.app import app, handle_errors

dataset_app = typer.Typer(
    help="Public training sources: list them, build one into train/dev COCO sets.",
    no_args_is_help=True,
)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("list")
@handle_errors
def list_cmd() -> None:
    """Describe every source: repository, pinned commit, clone command, licence, splits."""
    from layoutft.data.sources.build import source_infos

    for info in source_infos():
        typer.echo(f"{info.name}: {info.title}")
        for repo in info.repos:
            typer.echo(f"  repo: {repo.url} @ {repo.commit}")
            typer.echo(f"  clone: {repo.clone_command}")
        typer.echo(f"  licence: {info.licence}")
        typer.echo(f"  splits: {info.splits}")
        typer.echo(f"  labels: --from {info.fmt}, mapped with {info.label_map}")
        typer.echo(f"  labelled classes: {', '.join(info.labelled)}")
        typer.echo(f"  documents: {info.documents}")


@dataset_app.command("build")
@handle_errors
def build_cmd(
    name: str = typer.Argument(..., help="Source name (see `layoutft dataset list`)."),
    paths: list[Path] = typer.Argument(
        ..., metavar="CLONE_DIR... OUT", help="The source's clone(s), then the output folder."
    ),
    manifest: Path | None = typer.Option(
        None, "--dev-manifest", help="Dev-set manifest (default: the one shipped with layoutft)."
    ),
    allow_other_commit: bool = typer.Option(
        False, "--allow-other-commit", help="Build a clone that is not at the pinned commit."
    ),
    link: bool = typer.Option(False, "--link", help="Hard-link images instead of copying."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier build in OUT."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Build OUT/train and OUT/dev (COCO, DocLayNet classes) and OUT/source.json."""
    import sys

    from layoutft.data.sources.build import build_source
    from layoutft.data.sources.devset import MANIFEST
    from layoutft.errors import DatasetError

    if len(paths) < 2:
        raise DatasetError("dataset build needs CLONE_DIR... OUT (at least one clone and OUT)")
    *clones, out = paths
    result = build_source(
        name,
        clones,
        out,
        manifest=manifest or MANIFEST,
        allow_other_commit=allow_other_commit,
        overwrite=overwrite,
        link=link,
        progress=not quiet and sys.stderr.isatty(),
    )
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(result.summary())


@dataset_app.command("devset")
@handle_errors
def devset_cmd(
    name: str = typer.Argument(..., help="Source name."),
    clones: list[Path] = typer.Argument(..., help="The source's clone(s)."),
    manifest: Path = typer.Option(..., "--manifest", help="Manifest to add the dev set to."),
    allow_other_commit: bool = typer.Option(
        False, "--allow-other-commit", help="Use a clone that is not at the pinned commit."
    ),
) -> None:
    """Choose a source's dev documents and record them (paths, SHA-256) in a manifest."""
    from layoutft.data.sources.build import choose_devset

    entry = choose_devset(name, clones, manifest, allow_other_commit)
    typer.echo(
        f"{name}: {len(entry['documents'])} dev documents, {entry['pages']} dev pages, "
        f"{entry['train_pages']} train pages -> {manifest}"
    )
