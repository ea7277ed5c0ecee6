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


class SlowServer:
    """A local HTTP server for task-image downloads that take their time. Each GET gets
    ``body`` (Content-Length set) after the response head; ``mode``:

    - ``"drip"``: one byte of the body every ``interval`` seconds;
    - ``"hold"``: the whole body once ``release`` is set (checked every 20 ms, at most
      ``max_wait`` seconds).

    Per connection it records the bytes of body sent and whether the client hung up before
    the end (``hung_up``), in ``log``; ``requests`` counts the requests that arrived."""

    def __init__(
        self, body: bytes, mode: str = "drip", interval: float = 0.3, max_wait: float = 60
    ) -> None:
        self.body = body
        self.mode = mode
        self.interval = interval
        self.max_wait = max_wait
        self.release = threading.Event()
        self.log: list[dict[str, Any]] = []
        self.requests = threading.Semaphore(0)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _answer(self, conn: socket.socket) -> None:
        entry: dict[str, Any] = {"sent": 0, "hung_up": False}
        self.log.append(entry)
        with conn:
            conn.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.requests.release()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % len(self.body)
            )
            try:
                if self.mode == "drip":
                    for byte in self.body:
                        if self._stop.wait(self.interval):
                            return
                        conn.sendall(bytes([byte]))
                        entry["sent"] += 1
                else:
                    deadline = time.monotonic() + self.max_wait
                    while not self.release.wait(0.02):
                        if _peer_closed(conn):
                            entry["hung_up"] = True
                            return
                        if time.monotonic() > deadline or self._stop.is_set():
                            return
                    conn.sendall(self.body)
                    entry["sent"] = len(self.body)
            except OSError:
                entry["hung_up"] = True

    @contextmanager
    def running(self) -> Iterator[SlowServer]:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self.release.set()
            thread.join(10)
            for worker in self._threads:
                worker.join(10)
            self.sock.close()


def _peer_closed(conn: socket.socket) -> bool:
    """True when the other end of ``conn`` closed it (a read would return nothing)."""
    import select

    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def rss_bytes(pid: int | None = None) -> int:
    """The resident memory of a process (default: this one), from /proc."""
    path = f"/proc/{pid or 'self'}/status"
    with open(path) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in {path}")
