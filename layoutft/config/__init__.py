"""Configs: detectron2 YAML files (with ``_BASE_``), detectron2 0.6 defaults, overrides.

>>> cfg = load_config("mask_rcnn_R_50_FPN_3x.yaml", ["MODEL.ROI_HEADS.NUM_CLASSES", "5"])
>>> cfg.MODEL.ROI_HEADS.NUM_CLASSES
5

Every user mistake (missing file, malformed YAML, unknown key, wrong type, unsupported
architecture) is a one-line :class:`~layoutft.errors.ConfigError`. This package does not
import torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layoutft.config.defaults import D2_DEFAULTS
from layoutft.config.layoutft_defaults import LAYOUTFT_DEFAULTS
from layoutft.config.node import Config
from layoutft.config.supported import check_supported
from layoutft.config.yaml_io import read_config_chain, reject_python_tags
from layoutft.errors import ConfigError

__all__ = ["Config", "check_supported", "default_config", "load_config"]


def default_config() -> Config:
    """detectron2 0.6's default config plus layoutft's ``LAYOUTFT`` node (a fresh copy)."""
    return Config.from_dict({**D2_DEFAULTS, "LAYOUTFT": LAYOUTFT_DEFAULTS})


def load_config(
    path: str | Path | None = None,
    overrides: Sequence[str] | None = None,
    *,
    check: bool = True,
) -> Config:
    """Read a detectron2 YAML config onto the defaults and apply ``KEY VALUE`` overrides.

    Args:
        path: YAML file (its ``_BASE_`` files are read first); None for the defaults.
        overrides: flat list ``["MODEL.ROI_HEADS.NUM_CLASSES", "5", ...]``; string values
            are read as Python literals when they are one (``"(800, 1000)"``, ``"True"``).
        check: call :func:`check_supported` on the result when a file is given
            (detectron2's bare defaults describe a C4 model, so they are not checked).

    Raises:
        ConfigError: one line naming the file and key at fault.
    """
    cfg = default_config()
    pending_tags: dict[str, tuple[str, str]] = {}  # key -> (file, tag) not yet set again
    if path is not None:
        sources = read_config_chain(path)
        for source in sources:
            cfg.merge_from_dict(source.data, source=source.label)
            _forget_set_keys(pending_tags, source.data)
            for key, tag in source.python_tags.items():
                pending_tags[key] = (source.label, tag)
    if overrides:
        cfg.merge_from_list(overrides)
        for key in overrides[0::2]:
            pending_tags.pop(key, None)
    if check and path is not None:
        try:
            check_supported(cfg)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    reject_python_tags([(label, {key: tag}) for key, (label, tag) in pending_tags.items()])
    return cfg


def _forget_set_keys(
    pending: dict[str, tuple[str, str]], data: dict[str, Any], prefix: str = ""
) -> None:
    """Drop from ``pending`` the keys that ``data`` sets (a later file overrides a tag)."""
    for name, value in data.items():
        key = f"{prefix}{name}"
        pending.pop(key, None)
        if isinstance(value, dict):
            _forget_set_keys(pending, value, f"{key}.")
