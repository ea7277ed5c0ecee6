"""Checks that the installed torch and torchvision builds belong together.

torchvision wheels pin the exact torch release they were compiled against. When
another torch build is installed, torchvision's C++ ops fail to register and
users see ``operator torchvision::nms does not exist`` deep inside inference.
We read both packages' metadata (no torch import) and fail early with the fix, when
something needs torch (:func:`require_torch`): the base install parses without torch
(the ONNX backend), so ``import layoutft`` checks nothing.
"""

from __future__ import annotations

import re
from importlib import metadata

from layoutft.errors import EnvironmentMismatchError, TorchMissingError

_FIX = (
    "reinstall them together so torchvision picks its torch: "
    "pip install --force-reinstall torchvision=={tv} (or reinstall layoutft in a fresh venv)"
)


def _release(version: str) -> str:
    """'2.13.0+cpu' -> '2.13.0' (local build tags do not change the ABI release)."""
    return version.split("+", 1)[0]


def required_torch(torchvision_requires: list[str]) -> str | None:
    """The exact torch release a torchvision wheel pins, or None when it pins none."""
    for req in torchvision_requires:
        if ";" in req and "extra" in req.split(";", 1)[1]:
            continue
        match = re.match(r"^\s*torch\s*(?:\(\s*)?==\s*([0-9][^\s,;)]*)", req)
        if match:
            return match.group(1)
    return None


TORCH_MODULES = ("torch", "torchvision")


def torch_installed() -> bool:
    """True when torch and torchvision can be imported (found, not imported: no cost)."""
    from importlib.util import find_spec

    try:
        return all(find_spec(name) is not None for name in TORCH_MODULES)
    except (ImportError, ValueError):  # a blocked or broken installation
        return False


def require_torch(what: str) -> None:
    """TorchMissingError (one line: ``<what> needs torch: pip install 'layoutft[torch]'``)
    when torch or torchvision is missing, EnvironmentMismatchError when their builds do not
    belong together. Imports neither."""
    if not torch_installed():
        raise TorchMissingError(what)
    check_torch_torchvision()


def check_torch_torchvision() -> None:
    """Raise EnvironmentMismatchError when torchvision pins another torch release."""
    try:
        tv_version = metadata.version("torchvision")
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return  # a missing package fails later with its own clear ImportError
    pinned = required_torch(metadata.requires("torchvision") or [])
    if pinned is None or _release(pinned) == _release(torch_version):
        return
    raise EnvironmentMismatchError(
        f"torchvision {tv_version} was built for torch {pinned} but torch {torch_version} "
        f"is installed; its operators (e.g. torchvision::nms) will not load. "
        + _FIX.format(tv=tv_version)
    )


def check_torchvision_ops() -> None:
    """Raise EnvironmentMismatchError when torchvision's compiled ops are unavailable.

    Complements the metadata check for builds that pin nothing (e.g. from source).
    """
    import torch
    import torchvision  # importing registers the ops

    if not hasattr(torch.ops.torchvision, "nms"):
        raise EnvironmentMismatchError(
            f"torchvision {torchvision.__version__} cannot load its operators with torch "
            f"{torch.__version__}; " + _FIX.format(tv=torchvision.__version__)
        )
