"""The Typer application object and the decorator every command registers with."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from layoutft.errors import LayoutftError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="layoutft",
    help="Document layout analysis: parse PDFs to layout JSON, convert data, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def handle_errors(func: F) -> F:
    """Print a LayoutftError as one line, ``Error: <message>``, on stderr and exit 1.

    Users see the fix, not a traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LayoutftError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def command(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Register a CLI command on :data:`app` (same arguments as ``app.command``),
    with :func:`handle_errors` applied."""

    def decorator(func: F) -> F:
        app.command(*args, **kwargs)(handle_errors(func))
        return func

    return decorator
