"""``Config``: a nested, typo-checked tree of config values, like detectron2's ``CfgNode``.

Each node maps UPPER_CASE names to leaves (numbers, strings, bools, ``None``, lists or
tuples) or to child nodes. Keys are fixed by the defaults: setting or merging a key that
does not exist raises :class:`~layoutft.errors.ConfigError` with the nearest valid key,
unless :meth:`Config.set_new_allowed` was called. Values keep the type of the default they
replace (see :mod:`layoutft.config.values`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from layoutft.config import values
from layoutft.errors import ConfigError

BASE_KEY = "_BASE_"
_MISSING = object()


class Config(Mapping[str, Any]):
    """One node of a config tree; the root is what :func:`load_config` returns.

    Access a key as an attribute (``cfg.MODEL.RPN.NMS_THRESH``), an item
    (``cfg["MODEL"]``) or a dotted path (``cfg["MODEL.RPN.NMS_THRESH"]``,
    ``cfg.get_path(...)``, ``"MODEL.MASK_ON" in cfg``). Equality compares contents, with
    lists and tuples equal when their items are.
    """

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, new_allowed: bool = False, prefix: str = ""
    ) -> None:
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_frozen", False)
        object.__setattr__(self, "_new_allowed", new_allowed)
        object.__setattr__(self, "_prefix", prefix)
        for name, value in (data or {}).items():
            self._data[name] = self._wrap(name, value)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """A config holding exactly the keys of ``data`` (nested mappings become nodes).

        To restore a saved full config while keeping defaults for keys added since, use
        ``default_config()`` then :meth:`merge_from_dict` instead.
        """
        return cls(data)

    # ----- access --------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(self._unknown(name, [])) from None

    def __getitem__(self, key: str) -> Any:
        value = self._lookup(key)
        if value is _MISSING:
            raise KeyError(self._unknown_path(key))
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """Value of a key or dotted path, or ``default`` when there is none."""
        value = self._lookup(key)
        return default if value is _MISSING else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not _MISSING

    def get_path(self, path: str) -> Any:
        """Value at a dotted path such as ``"MODEL.RPN.NMS_THRESH"``; ConfigError if unknown."""
        value = self._lookup(path)
        if value is _MISSING:
            raise ConfigError(self._unknown_path(path))
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self._data]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.to_dict() == values.plain(_to_plain_dict(other))

    __hash__ = None  # type: ignore[assignment]  # mutable, like dict

    def __repr__(self) -> str:
        return f"Config({self.to_dict()!r})"

    def __str__(self) -> str:
        return self.dump()

    # ----- assignment ----------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __setitem__(self, name: str, value: Any) -> None:
        """Set an existing key or, with new keys allowed, add one.

        The value is converted like an override (a string such as ``"0.1"`` is read as a
        literal) and must fit the type of the current value.
        """
        self._check_mutable(name)
        if name in self._data:
            current = self._data[name]
            if isinstance(current, Config):
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{self._key(name)} is a group of keys, not a value")
                value = Config(value, new_allowed=current._new_allowed, prefix=self._key(name))
            else:
                value = values.coerce_value(value, current, self._key(name))
            self._data[name] = value
        elif self._new_allowed:
            self._data[name] = self._wrap(name, value)
        else:
            raise ConfigError(self._unknown(name, []))

    # ----- merging -------------------------------------------------------------------
    def merge_from_dict(self, data: Mapping[str, Any], *, source: str | None = None) -> None:
        """Merge a nested mapping (as read from YAML) into this config, all or nothing.

        String values are decoded as Python literals; ``source`` (a file name) prefixes
        error messages.
        """
        self._merge_all([(data, source)])

    def merge_from_list(self, overrides: Sequence[Any]) -> None:
        """Apply ``["KEY", "VALUE", ...]`` pairs (``"MODEL.ROI_HEADS.NUM_CLASSES", "5"``)."""
        if isinstance(overrides, str):
            raise ConfigError(f"overrides must be a list of KEY VALUE items, not {overrides!r}")
        if len(overrides) % 2:
            raise ConfigError(f"overrides must be KEY VALUE pairs; {overrides[-1]!r} has no value")
        merges: list[tuple[Mapping[str, Any], str | None]] = []
        for key, value in zip(overrides[0::2], overrides[1::2], strict=True):
            if not isinstance(key, str) or not key or key == BASE_KEY:
                raise ConfigError(f"override key {key!r} is not a config key like MODEL.DEVICE")
            nested: Any = value
            for part in reversed(key.split(".")):
                nested = {part: nested}
            merges.append((nested, "override"))
        self._merge_all(merges)

    def merge_from_file(self, path: str | Path) -> None:
        """Merge a detectron2 YAML file (following its ``_BASE_`` chain) into this config."""
        from layoutft.config.yaml_io import read_config_chain, reject_python_tags

        sources = read_config_chain(path)
        reject_python_tags([(source.label, source.python_tags) for source in sources])
        self._merge_all([(source.data, source.label) for source in sources])

    def _merge_all(self, merges: Sequence[tuple[Mapping[str, Any], str | None]]) -> None:
        if self._frozen_anywhere():
            raise ConfigError("cannot merge into the config: it is frozen; use a clone() instead")
        trial = self.clone()  # validate everything first so a failure changes nothing
        for data, source in merges:
            trial._merge(data, source)
        for data, source in merges:
            self._merge(data, source)

    def _merge(self, data: Mapping[str, Any], source: str | None) -> None:
        where = f"{source}: " if source else ""
        for name, raw in data.items():
            key = self._key(str(name))
            if name not in self._data:
                if not self._new_allowed:
                    raise ConfigError(where + self._unknown(str(name), _single_path(raw)))
                if isinstance(raw, Mapping):  # a new group: merged so its strings decode too
                    self._data[name] = self._wrap(name, {})
                    self._data[name]._merge(raw, source)
                else:
                    self._data[name] = self._wrap(name, values.decode_value(raw))
                continue
            current = self._data[name]
            if isinstance(current, Config):
                if not isinstance(raw, Mapping):
                    raise ConfigError(f"{where}{key} is a group of keys; got the value {raw!r}")
                current._merge(raw, source)
            elif isinstance(raw, Mapping):
                raise ConfigError(f"{where}{key} is a single value; got a mapping of keys")
            else:
                try:
                    self._data[name] = values.coerce_value(raw, current, key)
                except ConfigError as error:
                    raise ConfigError(f"{where}{error}") from None

    # ----- copies and output ---------------------------------------------------------
    def clone(self) -> Config:
        """A deep, unfrozen copy (new-key permissions are kept)."""
        copy = Config(prefix=self._prefix, new_allowed=self._new_allowed)
        for name, value in self._data.items():
            copy._data[name] = value.clone() if isinstance(value, Config) else _copy(value)
        return copy

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists (tuples become lists); safe to modify."""
        return {
            name: value.to_dict() if isinstance(value, Config) else values.plain(value)
            for name, value in self._data.items()
        }

    def dump(self) -> str:
        """YAML text of the whole tree (keys sorted, like detectron2's dump)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=True, default_flow_style=False)

    # ----- state ---------------------------------------------------------------------
    def freeze(self) -> None:
        """Make this node and its children read-only: setting a key raises ConfigError."""
        self._set_recursive("_frozen", True)

    def defrost(self) -> None:
        """Undo :meth:`freeze`."""
        self._set_recursive("_frozen", False)

    def is_frozen(self) -> bool:
        return bool(self._frozen)

    def set_new_allowed(self, allowed: bool) -> None:
        """Allow (or forbid again) adding keys to this node and its children."""
        self._set_recursive("_new_allowed", allowed)

    def is_new_allowed(self) -> bool:
        return bool(self._new_allowed)

    # ----- helpers -------------------------------------------------------------------
    def _set_recursive(self, attribute: str, flag: bool) -> None:
        object.__setattr__(self, attribute, flag)
        for value in self._data.values():
            if isinstance(value, Config):
                value._set_recursive(attribute, flag)

    def _check_mutable(self, name: str) -> None:
        if self._frozen:
            raise ConfigError(
                f"cannot set {self._key(name)}: the config is frozen; use a clone() instead"
            )

    def _frozen_anywhere(self) -> bool:
        children = (value for value in self._data.values() if isinstance(value, Config))
        return bool(self._frozen) or any(child._frozen_anywhere() for child in children)

    def _lookup(self, path: str) -> Any:
        node: Any = self
        for part in path.split("."):
            if not isinstance(node, Config) or part not in node._data:
                return _MISSING
            node = node._data[part]
        return node

    def _unknown_path(self, path: str) -> str:
        """Message for an unknown dotted path, hinting from the deepest node that exists."""
        node, parts = self, path.split(".")
        while len(parts) > 1 and isinstance(node._data.get(parts[0]), Config):
            node, parts = node._data[parts[0]], parts[1:]
        return node._unknown(parts[0], parts[1:])

    def _key(self, name: str) -> str:
        return f"{self._prefix}.{name}" if self._prefix else name

    def _wrap(self, name: Any, value: Any) -> Any:
        if not isinstance(name, str) or not name or "." in name or name.startswith("_"):
            raise ConfigError(
                f"{self._key(str(name))}: a config key must be a name without dots "
                "that does not start with '_'"
            )
        if isinstance(value, Mapping):
            return Config(value, new_allowed=self._new_allowed, prefix=self._key(name))
        return _copy(values.check_leaf(value, self._key(name)))

    def _unknown(self, name: str, rest: list[str]) -> str:
        """Message for an unknown key ``name`` (followed by ``rest``) below this node."""
        wrong = ".".join([self._key(name), *rest])
        sibling = values.closest(name, self._data)
        hint: str | None = None
        if sibling is not None:
            below = ".".join([sibling, *rest])
            hint = self._key(below if below in self else sibling)
        else:
            found = values.closest(".".join([name, *rest]), _leaf_paths(self))
            hint = self._key(found) if found else None
        return f"unknown key {wrong}" + (f"; did you mean {hint}?" if hint else "")


def _single_path(value: Any) -> list[str]:
    """Keys of a one-key-per-level mapping (an override's nested form), else []."""
    path: list[str] = []
    while isinstance(value, Mapping) and len(value) == 1:
        name, value = next(iter(value.items()))
        path.append(str(name))
    return path if not isinstance(value, Mapping) else []


def _leaf_paths(node: Config) -> list[str]:
    paths: list[str] = []
    for name, value in node.items():
        if isinstance(value, Config):
            paths += [f"{name}.{sub}" for sub in _leaf_paths(value)]
        else:
            paths.append(name)
    return paths


def _copy(value: Any) -> Any:
    """Copy of a leaf; lists are copied deeply so defaults are never shared."""
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_copy(item) for item in value)
    return value


def _to_plain_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: _to_plain_dict(value) if isinstance(value, Mapping) else value
        for name, value in mapping.items()
    }
