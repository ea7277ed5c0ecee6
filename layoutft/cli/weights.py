"""`layoutft weights list | info | download | path`: the model registry from the shell."""

from __future__ import annotations

import json

import typer

from layoutft.cli.app import app, handle_errors

weights_app = typer.Typer(help="Known pretrained models: list, inspect, download, locate.")
app.add_typer(weights_app, name="weights")


@weights_app.command("list")
@handle_errors
def list_cmd(
    kind: str = typer.Option(None, help="Only 'detector', 'backbone' or 'bundled' entries."),
) -> None:
    """One line per registered model: name, kind, cached or not, description."""
    from layoutft import pretrained

    for card in pretrained.list_models(kind):
        state = "cached" if pretrained.cached_path(card).exists() else "-"
        typer.echo(f"{card.name:38} {card.kind:9} {state:7} {card.description}")


@weights_app.command("info")
@handle_errors
def info_cmd(name: str = typer.Argument(..., help="Registry name or alias.")) -> None:
    """The model card as JSON (URL, checksum, config, labels, training data, accuracy)."""
    from layoutft import pretrained

    card = pretrained.get_card(name)
    info = card.to_dict()
    info["cached_path"] = str(pretrained.cached_path(card))
    info["cached"] = pretrained.cached_path(card).exists()
    info["config_path"] = str(card.config_path)
    typer.echo(json.dumps(info, indent=2))


@weights_app.command("download")
@handle_errors
def download_cmd(
    name: str = typer.Argument(..., help="Registry name or alias."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download into the cache (resumes a partial file, verifies the checksum)."""
    from layoutft import pretrained

    path = pretrained.weights_path(name, progress=None if not quiet else False)
    typer.echo(str(path))


@weights_app.command("path")
@handle_errors
def path_cmd(name: str = typer.Argument(..., help="Registry name or alias.")) -> None:
    """Print the cached file's path; exit 1 when it is not downloaded yet."""
    from layoutft import pretrained

    typer.echo(str(pretrained.weights_path(name, download=False)))
