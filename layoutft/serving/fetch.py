"""Fetching the image of a Label Studio task: the bytes behind a task's image URL.

What a task's image can be (the same URL kinds Label Studio's own ML backends read):

- ``/data/...`` (an upload, ``/data/upload/<project>/<file>``, or a *Local files* storage
  file, ``/data/local-files/?d=...``), ``/storage-data/...`` or ``upload/...``: fetched from
  the Label Studio host, ``label_studio_url`` (env ``LABEL_STUDIO_URL``), with its API key
  (env ``LABEL_STUDIO_API_KEY``): a legacy token is sent as ``Authorization: Token <key>``,
  a personal access token (a JWT) is first exchanged for an access token at
  ``/api/token/refresh/`` and sent as ``Authorization: Bearer <access>``.
- ``http://`` / ``https://``: fetched only from an allowed host (the key only goes to the
  Label Studio host, and never along a redirect).
- ``file://`` URLs and plain paths: read only under ``files_root``; without one they are
  refused, so a task cannot read the server's files.

Which hosts (no server-side request forgery): the Label Studio host (its URL's host and
port) and the ``allow_hosts`` entries. An exact name or address there is trusted whatever
it resolves to; a pattern (``*`` for any host, ``*.example.com``) only for names whose every
address is public (not loopback, private, link-local, shared or reserved). The name is
resolved once, checked, and the connection goes to the checked address (a second lookup
cannot point it elsewhere); every redirect is checked the same way.

Every fetch has a deadline for the whole download (connecting, redirects, every byte) and
a size cap (a larger file is refused while it streams, never read whole), and stops when
its ``cancel`` event is set. Errors are :class:`~layoutft.errors.ServeError` with one
line: a refused host says so; a failed download says only that it failed (the reason,
which would tell an open port from a closed one, goes to the server log).
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import http.client
import ipaddress
import json
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlparse, urlsplit

from layoutft.errors import ServeError

log = logging.getLogger("layoutft.serve")

#: URL path prefixes that name a file on the Label Studio host
LABEL_STUDIO_PREFIXES = ("/data/", "/storage-data/")
MAX_REDIRECTS = 5
_CHUNK = 1 << 16
_ACCESS_TTL_S = 60.0  # re-exchange a personal access token this often (LS: 5 min lifetime)
_REDIRECTS = (301, 302, 303, 307, 308)
_DEFAULT_PORTS = {"http": 80, "https": 443}


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
        timeout_s: seconds for a whole download (connecting, redirects, every byte).
        allow_hosts: other hosts images may come from: ``name``, ``name:port``, an IP
            address, or a pattern (``*``, ``*.example.com``) that matches public hosts only.
    """

    label_studio_url: str | None = None
    api_key: str | None = None
    files_root: Path | None = None
    max_bytes: int = 50 * 1024 * 1024
    timeout_s: float = 30.0
    allow_hosts: tuple[str, ...] = ()
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
            parsed = urlparse(self.label_studio_url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ServeError(
                    f"LABEL_STUDIO_URL must start with http:// or https://, "
                    f"got {self.label_studio_url!r}"
                )
        if self.files_root is not None:
            self.files_root = Path(self.files_root).resolve()
        if not 0 < self.timeout_s < float("inf"):
            raise ServeError(f"--fetch-timeout must be > 0 seconds, got {self.timeout_s}")
        self.allow_hosts = tuple(_host_entry(entry) for entry in self.allow_hosts)

    def fetch(self, url: str) -> bytes:
        """The bytes of a task's image ``url`` (see the module docstring for the kinds)."""
        with tempfile.SpooledTemporaryFile(max_size=1 << 20) as out:
            self.fetch_to(url, out)
            out.seek(0)
            return out.read()

    def fetch_to(self, url: str, out: IO[bytes], cancel: threading.Event | None = None) -> None:
        """Write the bytes of a task's image ``url`` to ``out``; give up (ServeError) once
        ``cancel`` is set or ``timeout_s`` has passed."""
        if not isinstance(url, str) or not url.strip():
            raise ServeError("the task's image URL is empty")
        url = url.strip()
        if url.startswith(("upload/", "/upload/")):
            url = "/data/" + url.lstrip("/")
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https"):
            self._http(url, out, cancel)
        elif parsed.scheme == "file":
            out.write(self._local(unquote(parsed.path), url))
        elif not parsed.scheme and url.startswith(LABEL_STUDIO_PREFIXES):
            if self.label_studio_url is None:
                raise ServeError(
                    f"task image {_short(url)} is on the Label Studio host: start layoutft "
                    "serve with LABEL_STUDIO_URL (and LABEL_STUDIO_API_KEY) set"
                )
            full = urljoin(self.label_studio_url.rstrip("/") + "/", url.lstrip("/"))
            self._http(full, out, cancel, shown=url)
        elif parsed.scheme and len(parsed.scheme) > 1:  # a Windows drive letter is a path
            raise ServeError(f"cannot fetch {_short(url)}: unsupported scheme {parsed.scheme!r}")
        else:
            out.write(self._local(url, url))

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
            raise ServeError(f"task image {_short(url)} is outside --files-root")
        if not real.is_file():
            raise ServeError(f"task image {_short(url)}: no such file", status=404)
        if real.stat().st_size > self.max_bytes:
            raise ServeError(f"task image {_short(url)} is larger than {self.max_bytes} bytes", 413)
        return real.read_bytes()

    # -- which hosts ---------------------------------------------------------------------

    def _label_studio_origin(self) -> tuple[str, int] | None:
        if self.label_studio_url is None:
            return None
        return _origin(self.label_studio_url)

    def _trust(self, url: str) -> str:
        """How ``url``'s host is allowed: ``"named"`` (Label Studio's or an exact
        ``allow_hosts`` entry: any address), ``"public"`` (a pattern: public addresses
        only); ServeError when it is not allowed at all."""
        host, port = _origin(url)
        if (host, port) == self._label_studio_origin():
            return "named"
        public = False
        for entry in self.allow_hosts:
            name, _, want = entry.rpartition("@")
            if want and int(want) != port:
                continue
            if "*" in name:
                public = public or fnmatch.fnmatchcase(host, name)
            elif _same_host(host, name):
                return "named"
        if public:
            return "public"
        raise _refused(url, host)

    def _address(self, url: str, trust: str) -> str:
        """The address to connect to for ``url``: its host resolved once; for a pattern
        match every address must be public."""
        host, port = _origin(url)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise _failed(url, f"cannot resolve {host}: {exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if trust == "public" and not all(_is_public(a) for a in addresses):
            raise _refused(url, host)
        return str(addresses[0])

    def _auth_for(self, url: str) -> str | None:
        """The Authorization header for ``url``: only for the Label Studio host."""
        if self.label_studio_url is None or not self.api_key:
            return None
        if _origin(url) != self._label_studio_origin():
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
            answer: Any = None
            with _Download(url, self.timeout_s, None) as download:
                try:
                    response = self._open(download, url, None, body)
                    if response.status == 200:
                        answer = json.loads(_read_capped(download, response, 1 << 20))
                except (OSError, ValueError, http.client.HTTPException) as exc:
                    log.warning("cannot exchange LABEL_STUDIO_API_KEY at %s: %s", url, exc)
            access = answer.get("access") if isinstance(answer, dict) else None
            if not isinstance(access, str):
                raise ServeError(
                    f"cannot exchange LABEL_STUDIO_API_KEY for an access token at {url}",
                    status=502,
                )
            self._access = (access, now)
            return access

    # -- HTTP ----------------------------------------------------------------------------

    def _http(
        self, url: str, out: IO[bytes], cancel: threading.Event | None, shown: str | None = None
    ) -> None:
        """Download ``url`` to ``out``; errors name ``shown`` (the task's URL)."""
        self._trust(url)  # refuse a host before anything else (no lookup, no token)
        authorization = self._auth_for(url)
        with _Download(url, self.timeout_s, cancel) as download:
            try:
                response = self._open(download, url, authorization)
                if response.status != 200:
                    hint = ""
                    if response.status in (401, 403) and authorization is None:
                        hint = " (set LABEL_STUDIO_API_KEY for files on the Label Studio host)"
                    raise _failed(url, f"HTTP {response.status} {response.reason}{hint}", shown)
                for chunk in _chunks(download, response, self.max_bytes, shown or url):
                    out.write(chunk)
            except ServeError:
                raise
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise _failed(url, download.why(exc), shown) from None

    def _open(
        self,
        download: _Download,
        url: str,
        authorization: str | None,
        body: bytes | None = None,
    ) -> http.client.HTTPResponse:
        """The response to ``url`` after redirects (each checked like the first URL); the
        Authorization header goes with the first request only."""
        for _ in range(MAX_REDIRECTS + 1):
            trust = self._trust(url)
            address = self._address(url, trust)
            parts = urlsplit(url)
            host, port = _origin(url)
            connection = download.connect(parts.scheme, host, port, address)
            headers = {"User-Agent": "layoutft-serve", "Accept-Encoding": "identity"}
            if authorization:
                headers["Authorization"] = authorization
            if body is not None:
                headers["Content-Type"] = "application/json"
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST" if body is not None else "GET", target, body, headers)
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status not in _REDIRECTS or not location:
                return response
            url = urljoin(url, location.strip())
            if urlparse(url).scheme not in ("http", "https"):
                raise ServeError(f"{_short(download.url)} redirects to a non-HTTP URL", 502)
            authorization = None  # the key never follows a redirect
            body = None
        raise ServeError(f"{_short(download.url)} redirects more than {MAX_REDIRECTS} times", 502)


class _Download:
    """One download's connections, deadline and cancel event: a watchdog thread closes the
    current connection at the deadline or on cancel, which ends any blocking read."""

    def __init__(self, url: str, timeout_s: float, cancel: threading.Event | None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.cancel = cancel
        self.expired = False
        self._connections: list[http.client.HTTPConnection] = []
        self._sockets: list[socket.socket] = []
        self._done = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _Download:
        self._watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._watchdog.join()
        for connection in self._connections:
            connection.close()
        for sock in self._sockets:  # a response may still hold one open: end it now
            _shut(sock)
            sock.close()

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0 or (self.cancel is not None and self.cancel.is_set()):
            self.expired = True
            raise TimeoutError("the download's deadline passed")
        return left

    def connect(
        self, scheme: str, host: str, port: int, address: str
    ) -> http.client.HTTPConnection:
        cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        connection = cls(host, port, address, self.remaining())
        self._connections.append(connection)
        connection.connect()
        # kept apart: http.client drops connection.sock once a response says "close"
        self._sockets.append(connection.sock)
        return connection

    def why(self, exc: BaseException) -> str:
        if self.expired or isinstance(exc, TimeoutError | socket.timeout):
            if self.cancel is not None and self.cancel.is_set():
                return "cancelled (the client went away)"
            return f"not done within --fetch-timeout {self.timeout_s:g} s"
        return f"{type(exc).__name__}: {exc}"

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            cancelled = self.cancel is not None and self.cancel.is_set()
            if cancelled or time.monotonic() >= self.deadline:
                self.expired = True
                for sock in list(self._sockets):
                    _shut(sock)
                return


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to ``host`` (its Host header) at the checked ``address``."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to ``host`` (its Host header and certificate name) at the
    checked ``address``."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _chunks(download: _Download, response: http.client.HTTPResponse, limit: int, url: str) -> Any:
    """The body of ``response`` in chunks, refusing (413) one larger than ``limit`` bytes as
    soon as its Content-Length or the bytes read so far say so."""
    length = response.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise ServeError(f"task image {_short(url)} is larger than {limit} bytes", status=413)
    total = 0
    while True:
        download.remaining()
        chunk = response.read1(_CHUNK)
        if not chunk:
            download.remaining()  # a connection the watchdog shut reads as the end
            return
        total += len(chunk)
        if total > limit:
            raise ServeError(f"task image {_short(url)} is larger than {limit} bytes", status=413)
        yield chunk


def _read_capped(download: _Download, response: http.client.HTTPResponse, limit: int) -> bytes:
    return b"".join(_chunks(download, response, limit, download.url))


def _origin(url: str) -> tuple[str, int]:
    """``(host, port)`` of an http(s) ``url``, the host lowercase without brackets."""
    parsed = urlparse(url)
    try:
        port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme, 80)
    except ValueError:
        raise ServeError(f"task image {_short(url)} is not a valid URL") from None
    return (parsed.hostname or "").lower(), port


def _host_entry(entry: str) -> str:
    """An ``allow_hosts`` entry as ``host@port`` (``host@`` for any port)."""
    text = entry.strip().lower()
    if text in ("*", "") or text.startswith("*."):
        if not text:
            raise ServeError("--fetch-allow-host needs a host name, an address or a pattern")
        return text + "@"
    try:
        parsed = urlsplit("//" + text)
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host = None
    if not host or "/" in text:
        raise ServeError(
            f"--fetch-allow-host {entry!r}: give a host name or address, optionally with "
            ":port (images.example.com, 10.0.0.5:8080, [::1]:9000), or a pattern "
            "(*.example.com, *)"
        )
    return f"{host}@{port or ''}"


def _same_host(host: str, name: str) -> bool:
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(name)
    except ValueError:
        return host.rstrip(".") == name.rstrip(".")


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _refused(url: str, host: str) -> ServeError:
    return ServeError(
        f"task image {_short(url)}: host {host} is not allowed (layoutft serve fetches from "
        "Label Studio's host; allow others with --fetch-allow-host)",
        status=403,
    )


def _failed(url: str, reason: str, shown: str | None = None) -> ServeError:
    """One line for a download that failed, naming ``shown`` (default ``url``); the reason
    goes to the log only."""
    log.warning("cannot fetch %s: %s", _short(url), reason)
    message = f"cannot fetch task image {_short(shown or url)} (the server log says why)"
    return ServeError(message, 502)


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


def _short(url: str, limit: int = 200) -> str:
    """``url`` for a one-line message, at most ``limit`` characters."""
    text = url.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
