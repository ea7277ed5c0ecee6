"""The Typer application object and the decorator every command registers with."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from layoutft._compat import TORCH_MODULES
from layoutft.errors import LayoutftError, OptionError, TorchMissingError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="layoutft",
    help="Document layout analysis: parse PDFs to layout JSON, convert data, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def handle_errors(func: F, name: str | None = None) -> F:
    """Print a LayoutftError as one line, ``Error: <message>``, on stderr and exit 1.

    Users see the fix, not a traceback. A missing torch (the base install has none) is one
    line naming the command ``name`` and the install command.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OptionError as exc:  # the library names parameters; the user typed flags
            typer.echo(f"Error: {exc.render(flag_name)}", err=True)
            raise typer.Exit(1) from None
        except LayoutftError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None
        except ImportError as exc:
            if exc.name not in TORCH_MODULES:
                raise
            # the base install has no torch: whatever reached for it says so in one line
            what = f"`layoutft {name or func.__name__}`"
            typer.echo(f"Error: {TorchMissingError(what)}", err=True)
            raise typer.Exit(1) from None
        except OSError as exc:  # a read-only folder, a full disk: the path and the reason
            typer.echo(f"Error: {os_error_message(exc)}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


#: Library parameters whose flag is not ``--`` + the name with dashes.
FLAGS = {"text": "--no-text", "progress": "--quiet"}


def flag_name(parameter: str) -> str:
    """The CLI flag of a library parameter: ``batch_size`` -> ``--batch-size``."""
    return FLAGS.get(parameter) or "--" + parameter.replace("_", "-")


def os_error_message(exc: OSError) -> str:
    """``<path>: <reason>; check ...`` for an OSError (never the contents of a file)."""
    where = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or type(exc).__name__
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    return f"{where}: {reason}; check that the path exists, is writable and the disk has room"


def check_options(args: list[str]) -> None:
    """LayoutftError for an argument that looks like an option but is none: commands whose
    trailing ``KEY VALUE`` overrides may hold negative numbers (``NUM_CLASSES -3``) accept
    unknown options as arguments, so a misspelt option would otherwise become an input."""
    for arg in args:
        if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
            raise LayoutftError(f"no such option: {arg} (see --help)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: context_settings of commands with trailing config overrides (see :func:`check_options`).
OVERRIDES_CONTEXT = {"ignore_unknown_options": True}


def command(*args: Any, **kwargs: Any) -> Callable[[F], F]:
    """Register a CLI command on :data:`app` (same arguments as ``app.command``),
    with :func:`handle_errors` applied."""

    def decorator(func: F) -> F:
        name = args[0] if args else kwargs.get("name")
        app.command(*args, **kwargs)(handle_errors(func, name))
        return func

    return decorator
