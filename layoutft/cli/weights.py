"""`layoutft weights list | info | download | verify | path`: the model registry from the shell."""

from __future__ import annotations

import json

import typer

from layoutft.cli.app import app, handle_errors

weights_app = typer.Typer(help="Known pretrained models: list, inspect, download, verify, locate.")
app.add_typer(weights_app, name="weights")


@weights_app.command("list")
@handle_errors
def list_cmd(
    kind: str = typer.Option(None, help="Only 'detector', 'backbone' or 'bundled' entries."),
) -> None:
    """One line per registered model: name, kind, cache state, description.

    Cache states: cached (verified size), unverified (no record yet: checked on first use),
    changed (differs from its record: re-download with --force), partial (an interrupted
    download), - (not downloaded)."""
    from layoutft import pretrained

    for card in pretrained.list_models(kind):
        state = pretrained.cache_state(card)
        typer.echo(f"{card.name:38} {card.kind:9} {state:10} {card.description}")


@weights_app.command("info")
@handle_errors
def info_cmd(name: str = typer.Argument(..., help="Registry name or alias.")) -> None:
    """The model card as JSON (URL, checksum, config, labels, training data, accuracy)."""
    from layoutft import pretrained

    card = pretrained.get_card(name)
    info = card.to_dict()
    info["cached_path"] = str(pretrained.cached_path(card))
    info["cached"] = pretrained.cached_path(card).exists()
    info["cache_state"] = pretrained.cache_state(card)
    info["config_path"] = str(card.config_path)
    typer.echo(json.dumps(info, indent=2))


@weights_app.command("download")
@handle_errors
def download_cmd(
    name: str = typer.Argument(..., help="Registry name or alias."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Delete the cached file (and any partial download) and fetch it again.",
    ),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        min=0.001,
        help="Seconds to wait for the server (default: $LAYOUTFT_DOWNLOAD_TIMEOUT or 60).",
    ),
) -> None:
    """Download into the cache (resumes a partial file, verifies length, format and checksum)."""
    from layoutft import pretrained
    from layoutft.errors import CheckpointError

    card = pretrained.get_card(name)
    progress = None if not quiet else False
    if force and card.kind != "bundled":
        if pretrained.offline():
            raise CheckpointError(
                f"--force downloads {card.name} again but LAYOUTFT_OFFLINE is set; unset it "
                "(the cached file was left as it is)"
            )
        pretrained.remove_cached(card)
        path = pretrained.download_card(card, progress=progress, timeout=timeout)
    else:
        path = pretrained.weights_path(card.name, progress=progress, timeout=timeout)
    typer.echo(str(path))


@weights_app.command("verify")
@handle_errors
def verify_cmd(
    names: list[str] | None = typer.Argument(
        None, help="Registry names or aliases (default: every cached model)."
    ),
) -> None:
    """Re-hash cached files against their records (and the manifest's sha256); one line each,
    exit 1 when any differs."""
    from layoutft import pretrained
    from layoutft.errors import CheckpointError

    cards = (
        [pretrained.get_card(n) for n in names]
        if names
        else [c for c in pretrained.list_models() if c.kind != "bundled"]
    )
    bad = 0
    for card in cards:
        if card.kind == "bundled":
            continue
        if not pretrained.cached_path(card).exists():
            if names:
                typer.echo(f"{card.name}: not cached")
                bad += 1
            continue
        try:
            record = pretrained.check_cached(card, full=True)
        except CheckpointError as exc:
            typer.echo(f"{card.name}: FAILED: {exc}")
            bad += 1
        else:
            typer.echo(f"{card.name}: ok ({record['size']} bytes, sha256 {record['sha256']})")
    if bad:
        raise typer.Exit(1)


@weights_app.command("path")
@handle_errors
def path_cmd(name: str = typer.Argument(..., help="Registry name or alias.")) -> None:
    """Print the cached file's path; exit 1 when it is not downloaded yet."""
    from layoutft import pretrained

    typer.echo(str(pretrained.weights_path(name, download=False)))
