"""Checks every command makes before writing: never onto an input, never over an existing file
without ``--overwrite``, and never after the expensive work when the folder is not writable.

Also :func:`umask_mode`: the permissions a file created with ``open()`` would get, for atomic
writers whose temp files start private (``mkstemp``: 0600, ``mkdtemp``: 0700).
No torch here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

from layoutft.errors import LayoutftError


def umask_mode(directory: bool = False) -> int:
    """0666 (0777 for a folder) minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def chmod_umask(path: str | Path, directory: bool = False) -> None:
    """Give ``path`` the mode ``open()``/``mkdir()`` would have given it under the umask."""
    os.chmod(path, umask_mode(directory))


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` name one file (symlinks and hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist: compare the absolute paths
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def refuse_inputs(outputs: Iterable[str | Path], inputs: Iterable[str | Path], fix: str) -> None:
    """LayoutftError when an output would replace one of the inputs.

    ``fix`` ends the message, e.g. ``"choose another -o"``.
    """
    sources = [Path(p) for p in inputs]
    for out in outputs:
        for source in sources:
            if same_file(out, source):
                raise LayoutftError(f"{out}: the output would replace the input {source}; {fix}")


def refuse_existing(outputs: Sequence[str | Path], overwrite: bool, fix: str = "") -> None:
    """LayoutftError naming the output files that exist, unless ``overwrite``."""
    if overwrite:
        return
    existing = [str(p) for p in outputs if os.path.lexists(p)]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise LayoutftError(
            f"{existing[0]} already exists{more}; pass --overwrite to replace it"
            + (f" or {fix}" if fix else "")
        )


def check_writable(folders: Iterable[str | Path], what: str = "output") -> None:
    """LayoutftError when a file cannot be created in one of ``folders`` (checked before the
    work starts). A folder that does not exist yet is checked at its nearest existing parent.
    """
    seen: set[Path] = set()
    for folder in folders:
        path = Path(os.path.abspath(folder))
        if path in seen:
            continue
        seen.add(path)
        probe_at = path
        while not probe_at.exists() and probe_at != probe_at.parent:
            probe_at = probe_at.parent
        if not probe_at.is_dir():
            raise LayoutftError(
                f"{what} folder {folder}: {probe_at} is a file, not a folder; choose another path"
            )
        try:
            _probe(probe_at)
        except OSError as err:
            raise LayoutftError(
                f"{what} folder {folder} is not writable ({err.strerror}); "
                "choose a writable folder or fix its permissions"
            ) from None


def _probe(folder: Path) -> None:
    """Create and remove an empty file in ``folder`` (os.access lies for root and on NFS)."""
    probe = folder / f".layoutft-write-test.{secrets.token_hex(4)}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.unlink(probe)
