"""Write checkpoints: layoutft's own format and detectron2's ``.pth``.

Both are ``torch.save`` dicts of tensors and plain Python values only, so they load with
``torch.load(weights_only=True)``, and both are written atomically
(:func:`layoutft.outputs.atomic_path`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from layoutft.checkpoint.contract import InputContract
from layoutft.checkpoint.heads import HEADS
from layoutft.checkpoint.loading import LAYOUTFT_FORMAT
from layoutft.errors import CheckpointError
from layoutft.outputs import atomic_path

_RESERVED = {"format", "model", "config", "labels", "input_contract"}
# exact types: numpy scalars subclass float but torch.load(weights_only=True) refuses them
_PLAIN = {type(None), bool, int, float, str, bytes}


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module | Mapping[str, torch.Tensor],
    cfg: Any,
    labels: Sequence[str],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save a layoutft checkpoint: weights, full config, label map and input contract.

    Writes ``{"format": "layoutft/1", "model": state_dict (CPU, detectron2 names),
    "config": cfg.dump() YAML text, "labels": [...], "input_contract": {"format",
    "pixel_mean", "pixel_std", "min_size_test", "max_size_test", "size_divisibility",
    "dpi"}, **extra}``. ``labels``: class names in class-index order; their number must
    match the model's class head. ``extra`` may only hold tensors and plain values (e.g.
    ``iteration``, an optimizer state dict). Returns the path written.
    """
    state = _cpu_state_dict(model)
    names = list(labels)
    if not all(isinstance(n, str) for n in names):
        raise CheckpointError(f"{path}: labels must be class names (str), got {names!r}")
    _check_label_count(state, names, path)
    payload: dict[str, Any] = {
        "format": LAYOUTFT_FORMAT,
        "model": state,
        "config": cfg.dump(),
        "labels": names,
        "input_contract": input_contract(cfg, model),
    }
    if extra:
        clash = sorted(_RESERVED & set(extra))
        if clash:
            raise CheckpointError(f"{path}: extra entries may not replace {clash}")
        for key, value in extra.items():
            _check_plain(value, f"extra[{key!r}]", path)
        payload.update(extra)
    return _atomic_save(payload, Path(path))


def save_detectron2(
    path: str | os.PathLike[str],
    model_or_state_dict: nn.Module | Mapping[str, torch.Tensor],
    *,
    labels: Sequence[str] | None = None,
) -> Path:
    """Save ``{"model": state_dict, "__author__": "layoutft"}`` for detectron2.

    The keys are exactly the model's state-dict keys (detectron2 names), so
    ``DetectionCheckpointer`` loads the file with no missing or unexpected keys into the
    same architecture: FrozenBN models carry no ``num_batches_tracked`` (detectron2's
    FrozenBN has none); a model trained with ``NORM: "BN"`` carries them, as
    detectron2's BatchNorm2d expects. ``labels`` (optional) are stored as a top-level
    ``labels`` list, which detectron2 ignores and :func:`load_weights` reads back.
    """
    payload: dict[str, Any] = {"model": _cpu_state_dict(model_or_state_dict)}
    payload["__author__"] = "layoutft"
    if labels is not None:
        payload["labels"] = [str(n) for n in labels]
    return _atomic_save(payload, Path(path))


def input_contract(cfg: Any, model: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """How images must be prepared for the model (:class:`InputContract`), as the plain
    values a checkpoint stores: ``format`` (channel order, "BGR"/"RGB"),
    ``pixel_mean``/``pixel_std`` (0-255 scale, in that channel order),
    ``min_size_test``/``max_size_test`` (shortest-edge resize, pixels), ``size_divisibility``
    (padding multiple) and ``dpi`` (PDF rendering resolution).
    """
    return InputContract.from_config(cfg, size_divisibility(cfg, model)).to_dict()


def size_divisibility(cfg: Any, model: nn.Module | Mapping[str, torch.Tensor]) -> int:
    """The backbone's padding multiple: the model's own value, else derived like detectron2.

    detectron2's FPN pads to the stride of its coarsest input feature (``res5``: 32);
    other backbones do not pad.
    """
    backbone = getattr(model, "backbone", None)
    value = getattr(backbone, "size_divisibility", None)
    if isinstance(value, int):
        return value
    if "fpn" not in str(cfg.MODEL.BACKBONE.NAME).lower():
        return 0
    return max(2 ** int(name[-1]) for name in cfg.MODEL.FPN.IN_FEATURES)


def _cpu_state_dict(model: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if isinstance(model, (nn.parallel.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    state = model.state_dict() if isinstance(model, nn.Module) else model
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"state dict entry {key} is a {type(value).__name__}, not a tensor"
            )
        tensor = value.detach().cpu()
        if tensor.untyped_storage().nbytes() > tensor.numel() * tensor.element_size():
            tensor = tensor.clone()  # a view: save only its own elements, not the whole storage
        out[key] = tensor
    return out


def _check_label_count(
    state: Mapping[str, torch.Tensor], labels: Sequence[str], path: str | os.PathLike[str]
) -> None:
    cls_head = HEADS[0]
    for key, value in state.items():
        if cls_head.pattern.search(key) and value.shape[0] != len(labels) + 1:
            raise CheckpointError(
                f"{path}: {len(labels)} labels given but {key} has {value.shape[0]} rows "
                f"({value.shape[0] - 1} classes plus background)"
            )


def _check_plain(value: Any, where: str, path: str | os.PathLike[str]) -> None:
    """Refuse values that ``torch.load(weights_only=True)`` could not read back."""
    if type(value) in _PLAIN or isinstance(value, torch.Tensor):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", path)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise CheckpointError(f"{path}: {where} has a {type(key).__name__} key")
            _check_plain(item, f"{where}[{key!r}]", path)
        return
    raise CheckpointError(
        f"{path}: {where} is a {type(value).__name__}; checkpoints may only hold tensors, "
        "numbers, strings, lists and dicts"
    )


def _atomic_save(payload: dict[str, Any], path: Path) -> Path:
    try:
        with atomic_path(path, fsync=True) as tmp, tmp.open("wb") as f:
            torch.save(payload, f)
    except OSError as err:
        raise CheckpointError(f"{path}: cannot write checkpoint ({err.strerror})") from None
    return path
