"""Resumable downloads: ``http(s)://`` and ``file://`` URLs into a ``.part`` file.

The transfer only: resuming with a Range request, checking the declared length, a progress
bar, one-line errors. What the file must be (a checkpoint of a known size and checksum),
its verification and the rename into place are :mod:`layoutft.pretrained`'s.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from layoutft.errors import CheckpointError

_CHUNK = 1 << 20
DEFAULT_TIMEOUT = 60.0


def download_timeout() -> float:
    """Seconds to wait for the server (connect, and each read): ``LAYOUTFT_DOWNLOAD_TIMEOUT``
    or 60."""
    text = os.environ.get("LAYOUTFT_DOWNLOAD_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise CheckpointError(
            f"LAYOUTFT_DOWNLOAD_TIMEOUT={text!r} is not a positive number of seconds"
        )
    return value


def fetch_part(
    url: str,
    part: Path,
    *,
    size: int | None = None,
    progress: bool | None = None,
    timeout: float | None = None,
    name: str | None = None,
) -> None:
    """Fetch ``url`` into ``part``, resuming what ``part`` holds.

    ``size``: the expected size in bytes, when known (a part file as long or longer starts
    over). The server's declared length is checked (a connection closed early keeps the
    part file, to be resumed by the next call); a server that ignores the Range request
    sends the whole file again, which replaces the part file. ``timeout``: seconds to wait
    for the server (default :func:`download_timeout`); ``name``: the progress bar's label.
    Every failure is a one-line CheckpointError.
    """
    wait = download_timeout() if timeout is None else timeout
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset >= size:
        part.unlink()  # nothing left to fetch, or too long: start over
        offset = 0
    try:
        stream, offset, total = _open(url, offset, wait)
    except (OSError, urllib.error.URLError, ValueError, http.client.HTTPException) as exc:
        raise CheckpointError(f"cannot download {url}: {_reason(exc, wait)}") from None
    if total is None and size is not None:
        total = size
    label = name or part.name
    try:
        with stream, open(part, "ab" if offset else "wb") as out:
            _copy(stream, out, _progress_bar(label, offset, total, progress))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        got = part.stat().st_size if part.exists() else 0
        raise CheckpointError(
            f"download of {url} stopped after {got} bytes: {_reason(exc, wait)}; "
            "run it again to resume"
        ) from None
    got = part.stat().st_size
    if total is not None and got != total:
        if got > total:
            part.unlink()
        raise CheckpointError(
            f"{url}: the connection closed after {got} of {total} bytes; run the download "
            "again to resume" + (" (the partial file was removed)" if got > total else "")
        )


def _reason(exc: BaseException, timeout: float) -> str:
    """One line for a network error (never a response body)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    inner = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(inner, (TimeoutError, socket.timeout)):
        return (
            f"no data from the server for {timeout:g} s (read timeout; set "
            "LAYOUTFT_DOWNLOAD_TIMEOUT to wait longer)"
        )
    if isinstance(inner, http.client.IncompleteRead):
        return "the connection closed early"
    text = getattr(inner, "strerror", None) or str(inner) or type(inner).__name__
    return " ".join(str(text).split())


def _open(url: str, offset: int, timeout: float) -> tuple[BinaryIO, int, int | None]:
    """Open ``url`` at ``offset``; returns the stream, the offset it starts at (0 when the
    server ignored the Range request) and the full size when known."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        handle = open(path, "rb")  # noqa: SIM115 (the caller closes it)
        size = path.stat().st_size
        if offset > size:
            offset = 0
        handle.seek(offset)
        return handle, offset, size
    if parsed.scheme not in ("http", "https"):
        raise CheckpointError(f"cannot download {url}: only http(s) and file URLs are supported")
    request = urllib.request.Request(url, headers={"User-Agent": "layoutft"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:  # the part file is no prefix of this file: start over
            return _open(url, 0, timeout)
        raise
    length = response.headers.get("Content-Length")
    declared = int(length) if length is not None and length.strip().isdigit() else None
    if offset and response.status == 206:
        start, total = _content_range(response.headers.get("Content-Range"))
        if start != offset:
            response.close()
            raise CheckpointError(
                f"cannot resume {url}: the server answered the request for bytes {offset}- "
                "with another range; delete the .part file and retry"
            )
        if total is None and declared is not None:
            total = offset + declared
        return response, offset, total
    # 200: the whole file (a server that ignores Range sends it all again)
    return response, 0, declared


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, full size) of a ``Content-Range: bytes a-b/size`` header."""
    import re

    found = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", header or "")
    if found is None:
        return None, None
    total = found.group(3)
    return int(found.group(1)), (int(total) if total != "*" else None)


def _copy(stream: BinaryIO, out: BinaryIO, update: Callable[[int], None]) -> None:
    # read1: what has arrived (up to a chunk), so a stall keeps the bytes before it
    read = getattr(stream, "read1", stream.read)
    try:
        while chunk := read(_CHUNK):
            out.write(chunk)
            update(len(chunk))
    finally:
        update(0)


def _progress_bar(
    name: str, offset: int, total: int | None, enabled: bool | None
) -> Callable[[int], None]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return lambda n: None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=name, file=sys.stderr)

    def update(n: int) -> None:
        if n:
            bar.update(n)
        else:
            bar.close()

    return update


__all__ = ["DEFAULT_TIMEOUT", "download_timeout", "fetch_part"]
