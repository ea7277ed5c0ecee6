"""The `layoutft` command line: a thin Typer layer over the library.

Each module below registers its commands on :data:`layoutft.cli.app.app`; heavy
imports (torch, PyMuPDF) happen inside the command functions so `layoutft --help`
is instant. A :class:`~layoutft.errors.LayoutftError` becomes one line on stderr
(``Error: ...``) and exit status 1, never a traceback.
"""

from __future__ import annotations

# Command modules are imported for the commands they register on `app` (one line each).
from layoutft.cli import (
    data,  # noqa: F401
    dataset,  # noqa: F401
    export,  # noqa: F401
    parse,  # noqa: F401
    serve,  # noqa: F401
    status,  # noqa: F401
    synth,  # noqa: F401
    train,  # noqa: F401
    view,  # noqa: F401
    weights,  # noqa: F401
)
from layoutft.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point.

    SIGTERM (``kill``, a job scheduler) exits through Python's normal unwinding, like
    Ctrl-C, so the ``finally`` blocks of atomic writers remove their temporary files.
    """
    import signal

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    app()
