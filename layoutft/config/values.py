"""Rules for config values, shared by files, overrides and assignments.

They follow yacs (the library behind detectron2's ``CfgNode``): a string is read as a
Python literal when it is one (``"(800, 1000)"`` becomes a tuple, ``"True"`` a bool), and
a new value must have the type of the value it replaces, except that lists and tuples
interchange (the replaced value's kind is kept) and ``None`` matches anything. Two
deliberate, more forgiving differences: an ``int`` is accepted where a ``float`` is
expected (``SOLVER.BASE_LR 1`` gives ``1.0``), and a string set on a string key stays
that string even when it reads as another literal (``OUTPUT_DIR 2024`` gives ``"2024"``).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable
from typing import Any

from layoutft.errors import ConfigError

# Leaf value types a config may hold (yacs' valid types).
LEAF_TYPES = (tuple, list, str, int, float, bool, type(None))


def decode_value(raw: Any) -> Any:
    """Read a string as a Python literal when it is one; return anything else unchanged."""
    if not isinstance(raw, str):
        return raw
    try:
        return ast.literal_eval(raw)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        # Not a literal (a path, a name such as "BGR"): it is meant as a plain string.
        return raw


def type_name(value: Any) -> str:
    """User-facing name of a value's type (YAML speaks of lists, not tuples)."""
    if isinstance(value, (list, tuple)):
        return "list"
    if value is None:
        return "null"
    return type(value).__name__


def check_leaf(value: Any, key: str) -> Any:
    """Return ``value`` if a config may hold it, else raise :class:`ConfigError`."""
    if type(value) not in LEAF_TYPES:
        raise ConfigError(
            f"{key}: a config value must be a number, string, bool, null or list; "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def coerce_value(raw: Any, current: Any, key: str) -> Any:
    """Decode ``raw`` and convert it to the type of ``current``, the value it replaces.

    Raises :class:`ConfigError` naming ``key`` when the types cannot match.
    """
    value = decode_value(raw)
    if type(current) is str and isinstance(raw, str):
        return value if isinstance(value, str) else raw
    if type(value) in LEAF_TYPES:
        if current is None or value is None or type(value) is type(current):
            return value
        if isinstance(current, (list, tuple)) and isinstance(value, (list, tuple)):
            return type(current)(value)
        if type(current) is float and type(value) is int:
            return float(value)
    raise ConfigError(
        f"wrong type for {key}: expected {type_name(current)} (like {current!r}), "
        f"got {type_name(value)} {value!r}"
    )


def plain(value: Any) -> Any:
    """Deep copy of a leaf value with every tuple turned into a list (YAML/JSON shape)."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name`` (difflib ratio >= 0.6), or None."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
