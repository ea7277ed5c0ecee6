"""`layoutft status OUT`: what a corpus run's manifest says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from layoutft.cli.app import command
from layoutft.errors import LayoutftError

#: failed inputs listed before "... and N more"
SHOWN_FAILURES = 20


@command("status")
def status_cmd(
    out: Path = typer.Argument(..., metavar="OUT", help="Output folder of `layoutft parse`."),
    as_json: bool = typer.Option(
        False, "--json", help="Print everything (every failed input too) as one JSON object."
    ),
) -> None:
    """Read OUT/layoutft-manifest.jsonl: inputs ok, failed and not done yet, the failed ones
    with their errors, the model and options, pages and pages/s. Looks at no input file."""
    from layoutft.corpus.manifest import MANIFEST_NAME, Manifest, manifest_status

    if not (out / MANIFEST_NAME).is_file():
        what = "is not a folder" if not out.is_dir() else f"has no {MANIFEST_NAME}"
        raise LayoutftError(
            f"{out} {what}; pass the -o folder of a `layoutft parse` run of a folder or "
            "several inputs"
        )
    report = manifest_status(Manifest(out))
    if as_json:
        typer.echo(json.dumps(report, indent=1, ensure_ascii=False))
        return
    for line in status_lines(report):
        typer.echo(line)


def status_lines(report: dict[str, Any]) -> list[str]:
    """The human-readable report of :func:`~layoutft.corpus.manifest.manifest_status`."""
    model = report["model"] or {}
    options = report["options"] or {}
    lines = [f"manifest: {report['manifest']} ({report['runs']} runs, last {report['last_run']})"]
    sha = str(model.get("weights_sha256") or "")[:12]
    lines.append(
        f"model: {model.get('name')} (weights sha256 {sha}…, fingerprint {report['fingerprint']})"
    )
    lines.append("options: " + ", ".join(f"{k}={v}" for k, v in options.items()))
    counts = (
        f"inputs: {report['planned']} planned, {report['ok']} ok, {report['failed']} failed, "
        f"{report['not_done']} not done"
    )
    if report["other_settings"]:
        counts += f", {report['other_settings']} done with other settings (parse them again)"
    lines.append(counts)
    lines.append(
        f"pages: {report['pages']} ({report['failed_pages']} failed), {report['regions']} "
        f"regions, {report['seconds']:.1f} s parsing, {report['pages_per_second']:.2f} pages/s"
    )
    failures = report["failures"]
    if failures:
        lines.append("failed (--retry-failed parses them again):")
        lines.extend(f"  {f['input']}: {f['error']}" for f in failures[:SHOWN_FAILURES])
        if len(failures) > SHOWN_FAILURES:
            lines.append(f"  ... and {len(failures) - SHOWN_FAILURES} more (--json lists all)")
    if report["torn_last_line"]:
        lines.append("note: the last line was cut short (a killed run); the next run drops it")
    return lines
