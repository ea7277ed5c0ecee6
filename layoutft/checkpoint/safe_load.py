"""Read checkpoint files without ever running code from them.

Torch files go through ``torch.load(weights_only=True)``. Plain pickles (detectron2 and
Caffe2 ``.pkl``) go through an unpickler that may only build numpy arrays, dtypes and
plain containers; any other import the file asks for is refused before it happens.
Both kinds of refusal, and every unreadable file, become one-line
:class:`~layoutft.errors.CheckpointError` messages naming the file.
"""

from __future__ import annotations

import importlib
import pickle
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layoutft.errors import CheckpointError

EXPECTED = (
    "expected a detectron2 .pth/.pkl, a Caffe2/Detectron .pkl, a torchvision ResNet "
    "state dict or a layoutft checkpoint"
)

# torch.save's pre-1.6 (non-zip) format starts with this pickled integer.
_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_ZIP_MAGIC = b"PK\x03\x04"


def _numpy_core(submodule: str, name: str) -> Callable[[], Any]:
    """Resolve numpy's core helpers lazily; numpy 2 renamed ``numpy.core`` to ``numpy._core``."""

    def resolve() -> Any:
        try:
            module = importlib.import_module(f"numpy._core.{submodule}")
        except ImportError:
            module = importlib.import_module(f"numpy.core.{submodule}")
        return getattr(module, name)

    return resolve


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _codecs_encode() -> Any:
    # Python 3 pickles bytes at protocol 2 as _codecs.encode(text, "latin1").
    import _codecs

    return _codecs.encode


_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    **{
        (f"{core}.multiarray", name): _numpy_core("multiarray", name)
        for core in ("numpy.core", "numpy._core")
        for name in ("_reconstruct", "scalar")
    },
    **{
        (f"{core}.numeric", "_frombuffer"): _numpy_core("numeric", "_frombuffer")
        for core in ("numpy.core", "numpy._core")
    },
    ("numpy", "ndarray"): _constant(np.ndarray),
    ("numpy", "dtype"): _constant(np.dtype),
    ("collections", "OrderedDict"): _constant(OrderedDict),
    ("_codecs", "encode"): _codecs_encode,
    # Python 2 pickles name the builtins module "__builtin__".
    **{
        (module, name): _constant(value)
        for module in ("builtins", "__builtin__")
        for name, value in (("set", set), ("frozenset", frozenset), ("bytearray", bytearray))
    },
}


class ForbiddenGlobalError(pickle.UnpicklingError):
    """A pickle asked for an import outside the allow-list (it was not performed)."""

    def __init__(self, qualname: str) -> None:
        super().__init__(qualname)
        self.qualname = qualname


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        resolve = _ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise ForbiddenGlobalError(f"{module}.{name}")
        return resolve()


def _unsafe(path: Path, qualname: str) -> CheckpointError:
    return CheckpointError(
        f"{path}: refused to load: the file asks to import {qualname}, which could run code; "
        "layoutft only reads tensors, numpy arrays and plain containers. If you trust the "
        "file, re-save just its weights with torch.save(state_dict, ...)"
    )


def _corrupt(path: Path, detail: str) -> CheckpointError:
    detail = detail.strip().splitlines()[0] if detail.strip() else "unreadable"
    return CheckpointError(f"{path}: truncated or corrupt file ({detail}); {EXPECTED}")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file; {EXPECTED}")
    if not path.is_file():
        raise CheckpointError(f"{path}: is not a file; {EXPECTED}")


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        message = str(err)
        found = re.search(r"GLOBAL ([\w.]+)", message)
        if found or "Weights only load failed" in message:
            raise _unsafe(path, found.group(1) if found else "a Python object") from None
        raise _corrupt(path, message) from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise _corrupt(path, str(err)) from None


def _pickle_load(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            # Caffe2/Detectron files are Python 2 pickles: latin1 keeps their byte strings
            # (numpy array data) intact.
            return _RestrictedUnpickler(f, encoding="latin1").load()
    except ForbiddenGlobalError as err:
        raise _unsafe(path, err.qualname) from None
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read file ({err.strerror})") from None
    except Exception as err:  # garbage bytes raise many exception types; all mean corrupt
        raise _corrupt(path, f"{type(err).__name__}: {err}") from None


def read_checkpoint(path: Path) -> tuple[str, Any]:
    """Read ``path`` safely; returns ``("torch", obj)`` or ``("pickle", obj)``.

    The kind comes from the content, not the suffix: zip archives and legacy torch
    files are torch files, everything else must be a plain pickle.
    """
    _check_file(path)
    with path.open("rb") as f:
        head = f.read(4)
    if head == _ZIP_MAGIC:
        return "torch", _torch_load(path)
    obj = _pickle_load(path)
    if isinstance(obj, int) and obj == _LEGACY_TORCH_MAGIC:
        return "torch", _torch_load(path)
    return "pickle", obj


def tensor_state_dict(raw: Mapping[Any, Any], path: Path) -> dict[str, torch.Tensor]:
    """Copy a name → tensor/array mapping into a dict of CPU tensors.

    numpy floating arrays become float32 tensors (Caffe2 and detectron2 ``.pkl`` files
    store float32; float64 ones are narrowed); integer and bool arrays keep their dtype.
    Torch tensors are kept as they are. Anything else raises CheckpointError.
    """
    out: dict[str, torch.Tensor] = {}
    bad: list[str] = []
    for key, value in raw.items():
        if not isinstance(key, str):
            bad.append(repr(key))
        elif isinstance(value, torch.Tensor):
            out[key] = value
        elif isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "fiub":
            array = np.asarray(value)
            target = np.float32 if array.dtype.kind == "f" else array.dtype.newbyteorder("=")
            out[key] = torch.from_numpy(array.astype(target, copy=True))
        else:
            bad.append(f"{key} ({type(value).__name__})")
    if bad:
        shown = ", ".join(bad[:20]) + (f" and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise CheckpointError(
            f"{path}: {len(bad)} state dict entries are not tensors or numeric arrays: {shown}; "
            f"{EXPECTED}"
        )
    return out
