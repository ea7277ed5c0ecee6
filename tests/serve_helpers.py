"""HTTP helpers shared by the ``layoutft serve`` tests: free ports, plain urllib calls,
multipart bodies, waiting for a server, and a small file server that checks tokens."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    url: str,
    body: bytes | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    timeout: float = 120,
) -> tuple[int, Any]:
    """``(status, parsed JSON or raw bytes)`` of one request (errors included)."""
    data = body
    all_headers = dict(headers or {})
    if isinstance(body, dict | list):
        data = json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    assert data is None or isinstance(data, bytes)
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, (filename, data, ctype) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def wait_until_up(url: str, seconds: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Poll ``url`` until it answers 200; AssertionError after ``seconds`` or once
    ``alive()`` is false (the server process ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert alive(), f"the server behind {url} exited"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not come up within {seconds} s")


class FileServer:
    """A local HTTP server of fixed files: ``files`` maps a path (``/data/upload/1/a.png``)
    to bytes; paths under ``/data/`` need ``Authorization: Token <token>`` (or ``Bearer
    <access>`` after ``POST /api/token/refresh/`` with ``{"refresh": <jwt>}``).
    ``redirects`` maps a path to a URL answered with 302. Every request's path and
    Authorization header is kept in ``seen``."""

    def __init__(
        self,
        files: dict[str, bytes],
        token: str = "",
        jwt: str = "",
        redirects: dict[str, str] | None = None,
    ) -> None:
        self.files = files
        self.token = token
        self.jwt = jwt
        self.redirects = redirects or {}
        self.seen: list[tuple[str, str | None]] = []
        self.access = "access-" + uuid.uuid4().hex
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.seen.append((self.path, self.headers.get("Authorization")))
                if (
                    self.path == "/api/token/refresh/"
                    and server.jwt
                    and body == {"refresh": server.jwt}
                ):
                    self._send(200, json.dumps({"access": server.access}).encode())
                else:
                    self._send(401, b'{"detail": "bad refresh token"}')

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization")
                server.seen.append((self.path, auth))
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.end_headers()
                    return
                allowed = {f"Token {server.token}", f"Bearer {server.access}"}
                if self.path.startswith("/data/") and auth not in allowed:
                    self._send(401, b'{"detail": "Authentication credentials were not provided."}')
                elif self.path in server.files:
                    self._send(200, server.files[self.path], "image/png")
                else:
                    self._send(404, b'{"detail": "not found"}')

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[FileServer]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            thread.join(10)
