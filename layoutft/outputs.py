"""Every file layoutft writes goes through here: one atomic writer, and the checks every
command makes before writing (never onto an input, never over an existing file without
``--overwrite``, never after the expensive work when the folder is not writable).

:func:`atomic_path` is the only temp-file-then-``os.replace`` in the package: parse
results, visualizations, checkpoints, COCO files, exported models, cache records and
synthetic PDFs all use it, so every output follows the user's umask and no exit path leaves
a temporary file behind. No torch here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
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


@contextlib.contextmanager
def atomic_path(path: str | Path, *, fsync: bool = False) -> Iterator[Path]:
    """A temp file next to ``path`` to write; moved onto ``path`` only if the block succeeds.

    The temp file (``.<name>.<random>.tmp`` in the target's folder, which is created) gets
    the mode ``open()`` would give under the umask (not ``mkstemp``'s private 0600) and is
    removed on every other exit path: an exception, Ctrl-C, SIGTERM through ``SystemExit``.
    ``fsync``: flush the file to disk before the rename (checkpoints).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise LayoutftError(
                f"{target}: no space left on the device (writing it failed); free some space "
                "or choose another output folder"
            ) from None
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


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


def refuse_input_folders(
    folders: Iterable[tuple[str, str | Path]], inputs: Sequence[str | Path]
) -> None:
    """LayoutftError when an output folder holds an input: an input file or folder at or
    below it. Its files (page drawings, viewer images, pre-annotation images) could replace an
    input, and a later run over the inputs would read them as new inputs.

    ``folders``: ``(what, folder)`` pairs, ``what`` naming the flag (``"--visualize"``).
    An output folder *inside* an input folder is fine: corpus runs skip it
    (:func:`layoutft.corpus.plan.plan_corpus`'s ``skip``).
    """
    for what, folder in folders:
        where = Path(os.path.abspath(folder))
        for given in inputs:
            source = Path(os.path.abspath(given))
            if source == where or where in source.parents or _inside(source, where):
                raise LayoutftError(
                    f"{what} {folder}: the folder holds the input {given}; "
                    "its files could replace inputs and later runs would read them as inputs; "
                    "choose a folder outside the inputs"
                )


def _inside(source: Path, folder: Path) -> bool:
    """``source`` lies at or below ``folder`` once symlinks are resolved."""
    try:
        real, where = source.resolve(), folder.resolve()
    except OSError:
        return False
    return real == where or where in real.parents


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


@contextlib.contextmanager
def exclusive_lock(path: str | Path, busy: str) -> Iterator[int]:
    """Hold an exclusive ``flock`` on the file ``path`` (created, with its folder, if needed;
    opened for appending) and yield its descriptor; LayoutftError ``busy`` when another
    process holds it. Released on exit, and by the OS when the process dies (a killed run
    never leaves a stale lock). One writer per corpus output folder and per training run
    folder.
    """
    import fcntl

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise LayoutftError(busy) from None
        yield fd
    finally:
        os.close(fd)  # releases the lock
