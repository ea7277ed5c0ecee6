"""``load_weights``: read any supported weights file into detectron2-named tensors.

Formats (recognised from the content, not the file name):

- ``layoutft``: our own ``torch.save`` dict, ``{"format": "layoutft/1", "model": ...,
  "config": YAML text, "labels": [...], "input_contract": {...}}``.
- ``detectron2-pth``: ``{"model": state_dict, ...}`` from detectron2's trainer, or a bare
  state dict with detectron2 names.
- ``detectron2-pkl``: ``{"model": {name: numpy array}, "__author__": ...}`` (the zoo's
  ``.pkl``), with or without ``__author__``/``matching_heuristics``.
- ``caffe2-pkl``: Caffe2/Detectron v1 blobs, ``{"blobs": {...}}`` or a bare blob dict.
- ``torchvision``: a torchvision ResNet state dict (backbone only).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from layoutft.checkpoint.caffe2 import convert_caffe2, looks_like_caffe2
from layoutft.checkpoint.contract import InputContract
from layoutft.checkpoint.detectron2 import complete_names, looks_like_detectron2, strip_ddp_prefix
from layoutft.checkpoint.safe_load import EXPECTED, read_checkpoint, tensor_state_dict
from layoutft.checkpoint.torchvision_resnet import (
    convert_torchvision_resnet,
    looks_like_torchvision_resnet,
)
from layoutft.config.yaml_io import StructureLimitError, check_structure, load_yaml_text
from layoutft.errors import CheckpointError

logger = logging.getLogger(__name__)

LAYOUTFT_FORMAT = "layoutft/1"
SOURCE_FORMATS = ("layoutft", "detectron2-pth", "detectron2-pkl", "caffe2-pkl", "torchvision")
# top-level entries of a checkpoint dict that are described by LoadedWeights' own fields
_DESCRIBED = {"format", "model", "config", "labels", "input_contract", "blobs"}


@dataclass
class LoadedWeights:
    """Weights read from a file, in detectron2's names, on the CPU.

    ``state_dict``: detectron2 name → tensor (float32 for numpy sources; torch sources keep
    their dtypes). ``source_format``: one of :data:`SOURCE_FORMATS`. ``labels``: class
    names in model order when the file records them (layoutft checkpoints, or a top-level
    ``labels`` list in a detectron2 file), else None. ``config``: the training config as a
    dict (layoutft checkpoints), else None. ``input_contract``: how images must be
    prepared (an :class:`~layoutft.checkpoint.contract.InputContract`; layoutft
    checkpoints). ``extra``: the file's other top-level entries (e.g. ``iteration``,
    ``optimizer``). ``path``: the file read.
    """

    state_dict: dict[str, torch.Tensor]
    source_format: str
    labels: list[str] | None = None
    config: dict[str, Any] | None = None
    input_contract: InputContract | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = None


def load_weights(path: str | os.PathLike[str]) -> LoadedWeights:
    """Read a weights file of any supported format without running code from it.

    Raises CheckpointError (naming the file and what was expected) for a missing,
    truncated, corrupt or unsafe file and for layouts we do not recognise.
    """
    file = Path(path)
    kind, obj = read_checkpoint(file)
    if not isinstance(obj, Mapping):
        raise _unknown(file, f"the file holds a {type(obj).__name__}, not a dict")
    if kind == "torch" and "format" in obj:
        loaded = _from_layoutft(obj, file)
    elif "blobs" in obj:
        if not isinstance(obj["blobs"], Mapping):
            raise _unknown(file, "'blobs' is not a dict")
        loaded = _from_names(obj["blobs"], file, "caffe2-pkl")
    elif isinstance(obj.get("model"), Mapping):
        default = "detectron2-pth" if kind == "torch" else "detectron2-pkl"
        loaded = _from_names(obj["model"], file, default)
        loaded.labels = _labels(obj.get("labels"), file)
    else:
        nested = [str(k) for k, v in obj.items() if isinstance(v, Mapping)]
        if nested:
            raise _unknown(file, f"no 'model' or 'blobs' entry; top-level keys: {nested[:10]}")
        default = "detectron2-pth" if kind == "torch" else "detectron2-pkl"
        return _from_names(obj, file, default)
    loaded.extra = {k: v for k, v in obj.items() if k not in _DESCRIBED}
    return loaded


def _unknown(file: Path, detail: str) -> CheckpointError:
    return CheckpointError(f"{file}: unknown checkpoint layout ({detail}); {EXPECTED}")


def _from_names(raw: Mapping[Any, Any], file: Path, default: str) -> LoadedWeights:
    """Classify a name → tensor/array mapping by its names and convert it."""
    state = strip_ddp_prefix(tensor_state_dict(raw, file))
    if looks_like_caffe2(state):
        return LoadedWeights(convert_caffe2(state), source_format="caffe2-pkl", path=str(file))
    if looks_like_torchvision_resnet(state):
        logger.info(
            "%s: torchvision ResNet weights; they expect RESNETS.STRIDE_IN_1X1 False, RGB input "
            "and ImageNet PIXEL_MEAN/PIXEL_STD",
            file,
        )
        return LoadedWeights(
            convert_torchvision_resnet(state), source_format="torchvision", path=str(file)
        )
    if looks_like_detectron2(state):
        return LoadedWeights(complete_names(state), source_format=default, path=str(file))
    shown = ", ".join(sorted(state)[:5]) or "no tensors"
    raise _unknown(file, f"tensor names such as {shown} are not detectron2, Caffe2 or torchvision")


def _from_layoutft(obj: Mapping[str, Any], file: Path) -> LoadedWeights:
    version = obj["format"]
    if version != LAYOUTFT_FORMAT:
        raise CheckpointError(
            f"{file}: checkpoint format {version!r} is not supported (this layoutft reads "
            f"{LAYOUTFT_FORMAT!r}); use the layoutft version that wrote it or upgrade"
        )
    if not isinstance(obj.get("model"), Mapping):
        raise _unknown(file, "layoutft checkpoint without a 'model' state dict")
    contract = obj.get("input_contract")
    return LoadedWeights(
        state_dict=tensor_state_dict(obj["model"], file),
        labels=_labels(obj.get("labels"), file),
        config=_config(obj.get("config"), file),
        source_format="layoutft",
        input_contract=(
            InputContract.from_dict(contract, f"{file}: input_contract")
            if isinstance(contract, Mapping)
            else None
        ),
        path=str(file),
    )


def _labels(value: Any, file: Path) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise CheckpointError(f"{file}: 'labels' must be a list of class names, got {value!r}")
    return list(value)


def _config(text: Any, file: Path) -> dict[str, Any] | None:
    """The stored config as a dict, within the config limits (depth, expanded size)."""
    if text is None:
        return None
    try:
        if isinstance(text, Mapping):
            check_structure(text)
            return dict(text)
        config = load_yaml_text(text) if isinstance(text, str) else None
    except yaml.YAMLError as err:
        detail = " ".join(str(err).split())
        raise CheckpointError(f"{file}: its 'config' is not valid YAML ({detail})") from None
    except StructureLimitError as err:
        raise CheckpointError(f"{file}: refused: its stored 'config' {err}") from None
    except RecursionError:
        raise CheckpointError(
            f"{file}: refused: its stored 'config' is nested too deeply"
        ) from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{file}: its 'config' must be YAML mapping text")
    return config
