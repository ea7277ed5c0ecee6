"""``ocrd-layoutft-segment``: the OCR-D command line of :mod:`layoutft.ocrd.processor`
(OCR-D's own options: ``-I``/``-O`` file groups, ``-P name value``, ``-m`` METS, ``-g``
pages, ``--help``, ``--dump-json``)."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the processor's command line; one line and exit status 1 without ``ocrd``."""
    try:
        import click
        from ocrd.decorators import ocrd_cli_options, ocrd_cli_wrap_processor
    except ImportError:
        sys.exit(
            "ocrd-layoutft-segment needs the ocrd package: pip install 'layoutft[ocrd]' "
            "(in a venv of its own: its pins clash with layoutft's dev tools)"
        )
    from layoutft.ocrd.processor import LayoutftSegment

    @click.command()
    @ocrd_cli_options
    def cli(*args: object, **kwargs: object) -> None:
        ocrd_cli_wrap_processor(LayoutftSegment, *args, **kwargs)

    cli()
