"""Fetching the image of a Label Studio task: the bytes behind a task's image URL.

What a task's image can be (the same URL kinds Label Studio's own ML backends read):

- ``/data/...`` (an upload, ``/data/upload/<project>/<file>``, or a *Local files* storage
  file, ``/data/local-files/?d=...``), ``/storage-data/...`` or ``upload/...``: fetched from
  the Label Studio host, ``label_studio_url`` (env ``LABEL_STUDIO_URL``), with its API key
  (env ``LABEL_STUDIO_API_KEY``): a legacy token is sent as ``Authorization: Token <key>``,
  a personal access token (a JWT) is first exchanged for an access token at
  ``/api/token/refresh/`` and sent as ``Authorization: Bearer <access>``.
- ``http://`` / ``https://``: fetched directly (the key only goes to the Label Studio host,
  and never along a redirect).
- ``file://`` URLs and plain paths: read only under ``files_root``; without one they are
  refused, so a task cannot read the server's files.

Every fetch has a timeout and a size cap (a larger file is refused while it streams, never
read whole). Errors are :class:`~layoutft.errors.ServeError` with one-line messages.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlparse

from layoutft.errors import ServeError

#: URL path prefixes that name a file on the Label Studio host
LABEL_STUDIO_PREFIXES = ("/data/", "/storage-data/")
_CHUNK = 1 << 16
_ACCESS_TTL_S = 60.0  # re-exchange a personal access token this often (LS: 5 min lifetime)


@dataclass
class FetchSettings:
    """Where task images may come from.

    Attributes:
        label_studio_url: the Label Studio host for ``/data/...`` URLs
            (``http://127.0.0.1:8080``); None: such tasks fail with a message saying so.
        api_key: its API key (legacy token or personal access token).
        files_root: the folder local paths and ``file://`` URLs must lie in; None refuses
            them.
        max_bytes: the largest image accepted.
        timeout_s: seconds to connect and between bytes received.
    """

    label_studio_url: str | None = None
    api_key: str | None = None
    files_root: Path | None = None
    max_bytes: int = 50 * 1024 * 1024
    timeout_s: float = 30.0
    _access: tuple[str, float] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_env(cls, **kwargs: Any) -> FetchSettings:
        """Settings with ``label_studio_url``/``api_key`` from ``LABEL_STUDIO_URL`` and
        ``LABEL_STUDIO_API_KEY`` unless given (None or empty means: from the env)."""
        url = kwargs.pop("label_studio_url", None) or os.environ.get("LABEL_STUDIO_URL") or None
        key = kwargs.pop("api_key", None) or os.environ.get("LABEL_STUDIO_API_KEY") or None
        return cls(label_studio_url=url, api_key=key, **kwargs)

    def __post_init__(self) -> None:
        if self.label_studio_url is not None:
            scheme = urlparse(self.label_studio_url).scheme
            if scheme not in ("http", "https"):
                raise ServeError(
                    f"LABEL_STUDIO_URL must start with http:// or https://, "
                    f"got {self.label_studio_url!r}"
                )
        if self.files_root is not None:
            self.files_root = Path(self.files_root).resolve()

    def fetch(self, url: str) -> bytes:
        """The bytes of a task's image ``url`` (see the module docstring for the kinds)."""
        if not isinstance(url, str) or not url.strip():
            raise ServeError("the task's image URL is empty")
        url = url.strip()
        if url.startswith(("upload/", "/upload/")):
            url = "/data/" + url.lstrip("/")
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https"):
            return self._http(url, self._auth_for(url))
        if parsed.scheme == "file":
            return self._local(unquote(parsed.path), url)
        if not parsed.scheme and url.startswith(LABEL_STUDIO_PREFIXES):
            if self.label_studio_url is None:
                raise ServeError(
                    f"task image {url} is on the Label Studio host: start layoutft serve with "
                    "LABEL_STUDIO_URL (and LABEL_STUDIO_API_KEY) set"
                )
            full = urljoin(self.label_studio_url.rstrip("/") + "/", url.lstrip("/"))
            return self._http(full, self._auth_for(full))
        if parsed.scheme and len(parsed.scheme) > 1:  # a Windows drive letter is a path
            raise ServeError(f"cannot fetch {_short(url)}: unsupported scheme {parsed.scheme!r}")
        return self._local(url, url)

    # -- local files ---------------------------------------------------------------------

    def _local(self, path: str, url: str) -> bytes:
        if self.files_root is None:
            raise ServeError(
                f"task image {_short(url)} is a local file: start layoutft serve with "
                "--files-root DIR to allow reading files under DIR"
            )
        target = Path(path)
        if not target.is_absolute():
            target = self.files_root / target
        real = target.resolve()
        if not real.is_relative_to(self.files_root):
            raise ServeError(f"task image {_short(url)} is outside --files-root {self.files_root}")
        if not real.is_file():
            raise ServeError(f"task image {_short(url)}: no such file", status=404)
        if real.stat().st_size > self.max_bytes:
            raise ServeError(f"task image {_short(url)} is larger than {self.max_bytes} bytes", 413)
        return real.read_bytes()

    # -- HTTP ----------------------------------------------------------------------------

    def _auth_for(self, url: str) -> str | None:
        """The Authorization header for ``url``: only for the Label Studio host."""
        if self.label_studio_url is None or not self.api_key:
            return None
        if urlparse(url).netloc != urlparse(self.label_studio_url).netloc:
            return None
        if not _looks_like_jwt(self.api_key):
            return f"Token {self.api_key}"
        return f"Bearer {self._access_token()}"

    def _access_token(self) -> str:
        """An access token for the personal access token ``api_key`` (cached a minute)."""
        with self._lock:
            now = time.monotonic()
            if self._access is not None and now - self._access[1] < _ACCESS_TTL_S:
                return self._access[0]
            assert self.label_studio_url is not None and self.api_key is not None
            url = urljoin(self.label_studio_url.rstrip("/") + "/", "api/token/refresh/")
            body = json.dumps({"refresh": self.api_key}).encode()
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with _opener().open(request, timeout=self.timeout_s) as response:
                    answer = json.loads(_read_capped(response, 1 << 20, url))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise ServeError(
                    f"cannot exchange LABEL_STUDIO_API_KEY for an access token at {url}: "
                    f"{_reason(exc)}",
                    status=502,
                ) from None
            access = answer.get("access") if isinstance(answer, dict) else None
            if not isinstance(access, str):
                raise ServeError(f"{url} answered without an access token", status=502)
            self._access = (access, now)
            return access

    def _http(self, url: str, authorization: str | None) -> bytes:
        request = urllib.request.Request(url, headers={"User-Agent": "layoutft-serve"})
        if authorization:
            # an unredirected header is not sent on to where a redirect points
            request.add_unredirected_header("Authorization", authorization)
        try:
            with _opener().open(request, timeout=self.timeout_s) as response:
                return _read_capped(response, self.max_bytes, url)
        except urllib.error.HTTPError as exc:
            hint = ""
            if exc.code in (401, 403) and authorization is None:
                hint = " (set LABEL_STUDIO_API_KEY for files on the Label Studio host)"
            raise ServeError(
                f"cannot fetch {_short(url)}: HTTP {exc.code} {exc.reason}{hint}", status=502
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise ServeError(f"cannot fetch {_short(url)}: {_reason(exc)}", status=502) from None


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) URLs only (never to ``file:`` or ``ftp:``)."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        if urlparse(newurl).scheme not in ("http", "https"):
            raise ServeError(f"{_short(req.full_url)} redirects to a non-HTTP URL", status=502)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # no proxy handler: task images come from the hosts they name
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _HttpOnlyRedirects())


def _read_capped(response: IO[bytes], limit: int, url: str) -> bytes:
    """The body of ``response``, refusing (413) one larger than ``limit`` bytes as soon as
    its Content-Length or the bytes read so far say so."""
    length = getattr(response, "headers", {}).get("Content-Length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ServeError(f"{_short(url)} is larger than {limit} bytes", status=413)
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = response.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise ServeError(f"{_short(url)} is larger than {limit} bytes", status=413)
        chunks.append(chunk)


def _looks_like_jwt(token: str) -> bool:
    """True for a JSON Web Token (Label Studio's personal access tokens), not a legacy key."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError:
        return False
    return isinstance(header, dict) and "alg" in header


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def _short(url: str, limit: int = 200) -> str:
    """``url`` for a one-line message, at most ``limit`` characters."""
    text = url.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
