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


def command(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Register a CLI command on :data:`app` (same arguments as ``app.command``).

    A :class:`LayoutftError` raised inside the command is printed as one line,
    ``Error: <message>``, on stderr and exits with status 1: users see the fix,
    not a traceback.
    """

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*f_args: Any, **f_kwargs: Any) -> Any:
            try:
                return func(*f_args, **f_kwargs)
            except LayoutftError as exc:
                typer.echo(f"Error: {exc}", err=True)
                raise typer.Exit(1) from None

        app.command(*args, **kwargs)(wrapper)
        return func

    return decorator
