"""Per-request parse options of ``POST /parse``: query or form fields with the names of the
``layoutft parse`` flags (``dpi``, ``pages``, ``score-threshold``, ...), validated by
:class:`~layoutft.parsing.options.ParseOptions` like the CLI's. No torch here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from layoutft.errors import OptionError, ServeError
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.output_formats import output_format

#: request field -> (ParseOptions field, kind); ``_`` may stand for ``-`` in a field name
FIELDS: dict[str, tuple[str, str]] = {
    "dpi": ("dpi", "float"),
    "pages": ("pages", "str"),
    "renderer": ("renderer", "str"),
    "no-text": ("text", "no"),
    "postprocess": ("postprocess", "str"),
    "score-threshold": ("score_threshold", "str"),
    "max-pixels": ("max_pixels", "int"),
    "image-dpi": ("image_dpi", "float"),
    "labels-view": ("labels_view", "str"),
    "cover-words": ("cover_words", "str"),
}
#: the request field choosing the answer's output format (``layoutft parse --format``)
FORMAT_FIELD = "format"
_TRUE = {"", "1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def field_name(parameter: str) -> str:
    """The request field of a :class:`ParseOptions` parameter: ``max_pixels`` ->
    ``max-pixels``, ``text`` -> ``no-text`` (what OptionError messages name)."""
    for name, (target, _) in FIELDS.items():
        if target == parameter:
            return name
    return parameter.replace("_", "-")


def option_error_message(exc: OptionError) -> str:
    """``exc``'s message naming request fields (``max-pixels``) instead of parameters."""
    return exc.render(field_name)


@dataclass(frozen=True)
class RequestLimits:
    """What one request may ask for: ``max_pixels`` no higher than the server's."""

    max_pixels: int | None


def request_options(
    base: ParseOptions, fields: Iterable[tuple[str, str]], limits: RequestLimits | None = None
) -> ParseOptions:
    """``base`` changed by the request's ``(name, value)`` fields.

    Raises ServeError (400) for an unknown or repeated field, a value that is not a number
    or boolean, or a ``max-pixels`` above the server's; the OptionError of
    :class:`ParseOptions` (also 400) for a value it rejects.
    """
    changes: dict[str, object] = {}
    seen: set[str] = set()
    for raw, value in fields:
        name = raw.replace("_", "-")
        if name not in FIELDS:
            raise ServeError(f"unknown option {raw!r}; use one of {', '.join(FIELDS)}")
        if name in seen:
            raise ServeError(f"option {name!r} is given twice")
        seen.add(name)
        target, kind = FIELDS[name]
        changes[target] = _convert(name, value, kind)
    cap = (limits or RequestLimits(base.max_pixels)).max_pixels
    asked = changes.get("max_pixels")
    if cap is not None and isinstance(asked, int) and asked > cap:
        raise ServeError(f"max-pixels may be at most this server's {cap}, got {asked}")
    return base.replace(**changes) if changes else base


def request_format(
    fields: Iterable[tuple[str, str]], default: str = "json"
) -> tuple[str, list[tuple[str, str]]]:
    """The output format a request asks for (its ``format`` field, else ``default``) and its
    other fields.

    Raises ServeError (400) for ``format`` given twice; the OptionError of
    :func:`~layoutft.parsing.output_formats.output_format` (400, naming the choices) for an
    unknown format.
    """
    items = list(fields)
    asked = [value.strip().lower() for name, value in items if name == FORMAT_FIELD]
    if len(asked) > 1:
        raise ServeError(f"option {FORMAT_FIELD!r} is given twice")
    fmt = output_format(asked[0] if asked else default).name
    return fmt, [(name, value) for name, value in items if name != FORMAT_FIELD]


def _convert(name: str, value: str, kind: str) -> object:
    text = value.strip()
    if kind == "str":
        return text
    if kind == "no":  # a flag: present (or true) means the option is off
        if text.lower() in _TRUE:
            return False
        if text.lower() in _FALSE:
            return True
        raise ServeError(f"{name} must be true or false, got {value!r}")
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        what = "an integer" if kind == "int" else "a number"
        raise ServeError(f"{name} must be {what}, got {value!r}") from None
