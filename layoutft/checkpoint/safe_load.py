"""Read checkpoint files without ever running code from them.

Torch files go through ``torch.load(weights_only=True)``. Plain pickles (detectron2 and
Caffe2 ``.pkl``) go through an unpickler that may only build numpy arrays, dtypes and
plain containers; any other import the file asks for is refused before it happens.
Both kinds of refusal, and every unreadable file, become one-line
:class:`~layoutft.errors.CheckpointError` messages naming the file.

The allowed constructors can be asked for far more memory than the file holds (a 40-byte
pickle can ask numpy for a 4 GB array, or ``bytearray`` for 4 GB of zeros): the sizes of
the arrays and byte strings a pickle creates are added up and refused, before they are
allocated, once they pass :func:`creation_budget` (the file's size twice plus 64 MiB; the
data of real checkpoints is part of the file).
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


class TooLargeError(pickle.UnpicklingError):
    """A pickle asked for more memory than its file size justifies (it was not allocated)."""

    def __init__(self, what: str, requested: int, budget: int) -> None:
        super().__init__(what)
        self.what, self.requested, self.budget = what, requested, budget


def creation_budget(file_size: int) -> int:
    """Bytes of arrays and byte strings a pickle of ``file_size`` bytes may create in all."""
    return 2 * file_size + 64 * 2**20


_LATIN1 = {"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1"}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, *, budget: int, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.budget, self.created = budget, 0

    def _spend(self, what: str, nbytes: int) -> None:
        self.created += max(0, nbytes)
        if self.created > self.budget:
            raise TooLargeError(what, self.created, self.budget)

    def find_class(self, module: str, name: str) -> Any:
        resolve = _ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise ForbiddenGlobalError(f"{module}.{name}")
        value = resolve()
        if name == "_reconstruct":
            return self._guard_reconstruct(value)
        if name == "scalar":
            return self._guard_scalar(value)
        if value is np.ndarray:
            return _NdarrayToken(self)
        if value is bytearray:
            return self._guard_bytearray
        if (module, name) == ("_codecs", "encode"):
            return self._guard_encode
        return value

    def _array_bytes(self, shape: Any, dtype: Any) -> int:
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        count = 1
        for dim in dims:
            count *= max(0, int(dim))
        return count * np.dtype(dtype).itemsize

    def _guard_reconstruct(self, reconstruct: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(subtype: Any, shape: Any, dtype: Any, *args: Any) -> Any:
            self._spend("an array", self._array_bytes(shape, dtype))
            if isinstance(subtype, _NdarrayToken):
                subtype = np.ndarray
            return reconstruct(subtype, shape, dtype, *args)

        return guarded

    def _guard_scalar(self, scalar: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(dtype: Any, *args: Any) -> Any:
            self._spend("a numpy scalar", np.dtype(dtype).itemsize)
            return scalar(dtype, *args)

        return guarded

    def _guard_bytearray(self, *args: Any) -> bytearray:
        if args and isinstance(args[0], int):
            self._spend("a byte string", args[0])
        return bytearray(*args)

    def _guard_encode(self, obj: Any, encoding: str = "utf-8", *args: Any) -> Any:
        # pickles write bytes as encode(text, "latin1"): one byte per character, no growth
        if str(encoding).lower() not in _LATIN1:
            raise ForbiddenGlobalError(f"_codecs.encode(..., {encoding!r})")
        import _codecs

        return _codecs.encode(obj, encoding, *args)


class _NdarrayToken:
    """Stands in for ``numpy.ndarray`` in a pickle: ``_reconstruct`` gets the real class;
    called directly (``ndarray(shape, dtype)``) the size is checked first."""

    def __init__(self, unpickler: _RestrictedUnpickler) -> None:
        self.unpickler = unpickler

    def __call__(self, shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> Any:
        self.unpickler._spend("an array", self.unpickler._array_bytes(shape, dtype))
        return np.ndarray(shape, dtype, *args, **kwargs)


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
            budget = creation_budget(path.stat().st_size)
            # Caffe2/Detectron files are Python 2 pickles: latin1 keeps their byte strings
            # (numpy array data) intact.
            return _RestrictedUnpickler(f, budget=budget, encoding="latin1").load()
    except ForbiddenGlobalError as err:
        raise _unsafe(path, err.qualname) from None
    except TooLargeError as err:
        raise CheckpointError(
            f"{path}: refused to load: the pickle asks for {err.what} that brings what it "
            f"creates to {err.requested} bytes, past the limit of {err.budget} bytes for a "
            f"{path.stat().st_size}-byte file (twice its size plus 64 MiB); the file is "
            "corrupt or hostile"
        ) from None
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

    Each array is copied, once per key naming it (a pickle may name one array under many
    keys): the copies count against :func:`creation_budget` of the file's size, checked
    before each is made, so a small file cannot make the loader build gigabytes.
    """
    out: dict[str, torch.Tensor] = {}
    bad: list[str] = []
    budget = creation_budget(path.stat().st_size) if path.is_file() else None
    built = 0
    for key, value in raw.items():
        if not isinstance(key, str):
            bad.append(repr(key))
        elif isinstance(value, torch.Tensor):
            out[key] = value
        elif isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "fiub":
            array = np.asarray(value)
            target = np.float32 if array.dtype.kind == "f" else array.dtype.newbyteorder("=")
            built += array.size * np.dtype(target).itemsize
            if budget is not None and built > budget:
                raise CheckpointError(
                    f"{path}: refused to load: its arrays become tensors of {built} bytes or "
                    f"more, past the limit of {budget} bytes for a {path.stat().st_size}-byte "
                    "file (twice its size plus 64 MiB; one array named under many keys is "
                    "copied for each); the file is corrupt or hostile"
                )
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
