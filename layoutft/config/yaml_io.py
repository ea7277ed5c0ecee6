"""Reading detectron2 YAML config files and their ``_BASE_`` chains.

A file may name one base file or a list of them under ``_BASE_``; a relative base path is
relative to the folder of the file that names it (as in fvcore). Bases apply first, in
order, then the file itself, so the last file that sets a key wins. YAML is read safely:
``!!python/...`` tags (detectron2 configs such as Base-RetinaNet.yaml use
``!!python/object/apply:eval``) are never executed; the keys that carry one are set
aside and reported by :func:`reject_python_tags` unless a later file or override sets them.
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


class _SafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that turns Python tags into :class:`PythonTag` instead of failing."""


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
        data = yaml.load(text, Loader=_SafeLoader)  # safe: a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: malformed YAML: {_describe(error)}") from None
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
