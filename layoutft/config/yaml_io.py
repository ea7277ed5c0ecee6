"""Reading detectron2 YAML config files and their ``_BASE_`` chains.

A file may name one base file or a list of them under ``_BASE_``; a relative base path is
relative to the folder of the file that names it (as in fvcore). Bases apply first, in
order, then the file itself, so the last file that sets a key wins. YAML is read safely:
``!!python/...`` tags (detectron2 configs such as Base-RetinaNet.yaml use
``!!python/object/apply:eval``) are never executed; the keys that carry one are set
aside and reported by :func:`reject_python_tags` unless a later file or override sets them.

Hostile YAML is bounded: nesting deeper than :data:`MAX_DEPTH` levels and documents whose
aliases expand to more than :data:`MAX_VALUES` values (a "billion laughs" file) are refused
before anything walks them; :func:`check_structure` applies the same limits to configs
stored in checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from layoutft.config.values import decode_value
from layoutft.errors import ConfigError

BASE_KEY = "_BASE_"
SUPPORTED_VERSION = 2


@dataclass(frozen=True)
class PythonTag:
    """Stands in for a YAML value that carries a ``!!python/...`` tag."""

    tag: str


@dataclass(frozen=True)
class ConfigSource:
    """One file of a chain: its path as shown to users and its keys (without ``_BASE_``).

    ``python_tags`` maps dotted keys whose value used a Python YAML tag to that tag; those
    keys are removed from ``data``.
    """

    label: str
    data: dict[str, Any]
    python_tags: dict[str, str] = field(default_factory=dict)


# Limits no real config comes near (detectron2's full default config: ~600 values, depth 4).
MAX_DEPTH = 64
MAX_VALUES = 100_000


class StructureLimitError(ValueError):
    """Nested data too deep, or expanding (through shared aliases) to too many values."""


class _SafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that turns Python tags into :class:`PythonTag` instead of failing,
    and refuses nesting deeper than :data:`MAX_DEPTH` while composing."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self._depth >= MAX_DEPTH:
            raise StructureLimitError(f"nested deeper than the limit of {MAX_DEPTH} levels")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml_text(text: str) -> Any:
    """Safe YAML with the structure limits; raises yaml.YAMLError or StructureLimitError."""
    data = yaml.load(text, Loader=_SafeLoader)  # safe: a SafeLoader subclass
    check_structure(data)
    return data


def check_structure(value: Any, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH) -> None:
    """StructureLimitError when ``value`` (dicts, lists, tuples) nests deeper than
    ``max_depth`` or counts more than ``max_values`` values once shared containers are
    expanded (each use of a YAML alias, or of a list a pickle stores once, counts again).
    Shared containers are measured once, so the check itself stays fast."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (expanded values, height)
    busy: set[int] = set()

    def measure(item: Any, depth: int) -> tuple[int, int]:
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            return 1, 0
        key = id(item)
        if key in sizes:
            count, height = sizes[key]
        else:
            if key in busy:
                raise StructureLimitError("it contains itself (a recursive alias)")
            if depth >= max_depth:
                raise StructureLimitError(f"nested deeper than the limit of {max_depth} levels")
            busy.add(key)
            count, height = 1, 0
            for child in children:
                child_count, child_height = measure(child, depth + 1)
                count += child_count
                height = max(height, child_height + 1)
                if count > max_values:
                    break
            busy.discard(key)
            sizes[key] = (count, height)
        if depth + height > max_depth:
            raise StructureLimitError(f"nested deeper than the limit of {max_depth} levels")
        if count > max_values:
            raise StructureLimitError(
                f"expands to more than the limit of {max_values} values (aliases repeated "
                "inside aliases: a 'billion laughs' file?)"
            )
        return count, height

    measure(value, 0)


def _python_tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> PythonTag:
    return PythonTag(f"!!python/{suffix}")


_SafeLoader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)


def read_config_chain(path: str | Path) -> list[ConfigSource]:
    """The files to merge for ``path``, bases first and ``path`` itself last."""
    return _read_chain(str(path), [])


def reject_python_tags(tagged: Sequence[tuple[str, dict[str, str]]]) -> None:
    """Raise ConfigError for the first (file, {key: tag}) entry that has a tagged key."""
    for label, tags in tagged:
        for key, tag in tags.items():
            raise ConfigError(
                f"{label}: {key} uses the YAML tag {tag}, which would run Python code; "
                "layoutft does not execute it: write the value out as a plain list or number"
            )


def _read_chain(path: str, stack: list[str]) -> list[ConfigSource]:
    real = os.path.realpath(path)
    if real in stack:
        raise ConfigError(f"{path}: _BASE_ files include each other in a loop")
    data = _read_yaml(path)
    bases = data.pop(BASE_KEY, [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(base, str) for base in bases):
        raise ConfigError(f"{path}: _BASE_ must be a file path or a list of file paths")
    chain: list[ConfigSource] = []
    for base in bases:
        chain += _read_chain(_resolve_base(base, path), [*stack, real])
    _check_version(data, path)
    chain.append(ConfigSource(path, data, _pop_python_tags(data, "")))
    return chain


def _resolve_base(base: str, including: str) -> str:
    if base.startswith(("http://", "https://")):
        raise ConfigError(
            f"{including}: _BASE_ {base} is a URL; download it and name the local file instead"
        )
    # Relative to the including file, not to the working directory.
    resolved = os.path.join(os.path.dirname(including), os.path.expanduser(base))
    if not os.path.isfile(resolved):
        raise ConfigError(f"{including}: _BASE_ file {resolved} not found")
    return resolved


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a YAML text file (it is not UTF-8)") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file ({error.strerror})") from None
    try:
        data = load_yaml_text(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: malformed YAML: {_describe(error)}") from None
    except StructureLimitError as error:
        raise ConfigError(f"{path}: refused: the YAML {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: refused: the YAML is nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config file must be a mapping of keys, not a {type(data).__name__}"
        )
    return data


def _describe(error: yaml.YAMLError) -> str:
    """One line from a PyYAML error: the problem and where it is."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


def _check_version(data: dict[str, Any], path: str) -> None:
    version = decode_value(data.get("VERSION", SUPPORTED_VERSION))
    if version != SUPPORTED_VERSION:
        raise ConfigError(
            f"{path}: VERSION {version!r} is not supported; layoutft reads detectron2 "
            f"configs of VERSION {SUPPORTED_VERSION} (detectron2 0.1 and later)"
        )


def _pop_python_tags(data: dict[str, Any], prefix: str) -> dict[str, str]:
    """Remove the keys whose value holds a PythonTag; return {dotted key: tag}."""
    tags: dict[str, str] = {}
    for name in list(data):
        key = f"{prefix}{name}"
        value = data[name]
        if isinstance(value, dict):
            tags.update(_pop_python_tags(value, f"{key}."))
            continue
        tag = _find_tag(value)
        if tag is not None:
            tags[key] = tag
            del data[name]
    return tags


def _find_tag(value: Any) -> str | None:
    if isinstance(value, PythonTag):
        return value.tag
    if isinstance(value, (list, tuple)):
        for item in value:
            tag = _find_tag(item)
            if tag is not None:
                return tag
    return None
