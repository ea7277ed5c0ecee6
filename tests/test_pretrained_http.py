"""Downloads from a misbehaving HTTP server on 127.0.0.1 (started here, in a thread):
truncated bodies, stalls, HTML error pages, servers that ignore Range, HTTP errors; and
cached files that change after they were verified."""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft import pretrained
from layoutft.cli.app import app
from layoutft.errors import CheckpointError


def _checkpoint_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.arange(250_000, dtype=torch.float32)}}, buffer)
    return buffer.getvalue()


PAYLOAD = _checkpoint_bytes()  # a real (zip-based) torch file of ~1 MB
TINY_PICKLE = b"\x80\x02}q\x00X\x05\x00\x00\x00modelq\x01}q\x02s."  # {"model": {}}: 22 bytes
HTML = b"<!DOCTYPE html><html><body>Sign in to continue: secret-login-form</body></html>"


class Server:
    def __init__(self) -> None:
        self.ranges: list[str | None] = []  # Range header of each request, in order
        self.release = threading.Event()  # ends a stalled response
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.ranges.append(self.headers.get("Range"))
                name = self.path.lstrip("/")
                wanted = self.headers.get("Range")
                if name == "nolength.pth":  # no Content-Length: half the file, then hangs up
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
                    self.close_connection = True
                elif name == "empty.pkl":  # a valid tiny pickle without a tensor
                    self._send(200, TINY_PICKLE)
                elif name == "page.html":
                    self._send(200, HTML, "text/html")
                elif name == "missing.pth":
                    self._send(404, b"not here", "text/plain")
                elif name == "norange.pth":  # ignores Range: always the whole file
                    self._send(200, PAYLOAD)
                elif name == "stall.pth":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(PAYLOAD)))
                    self.end_headers()
                    self.wfile.write(PAYLOAD[:1000])
                    self.wfile.flush()
                    owner.release.wait(10)  # bounded: the fixture releases it at teardown
                elif name in ("model.pth", "truncated.pth"):
                    if wanted:
                        start = int(wanted.removeprefix("bytes=").split("-")[0])
                        self.send_response(206)
                        self.send_header("Content-Length", str(len(PAYLOAD) - start))
                        self.send_header(
                            "Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"
                        )
                        self.end_headers()
                        self.wfile.write(PAYLOAD[start:])
                    elif name == "truncated.pth":  # declares it all, sends half, hangs up
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(PAYLOAD)))
                        self.end_headers()
                        self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
                        self.close_connection = True
                    else:
                        self._send(200, PAYLOAD)
                else:
                    self._send(404, b"", "text/plain")

            def _send(self, code: int, body: bytes, kind: str = "application/octet-stream") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LAYOUTFT_HOME", str(home))
    monkeypatch.delenv("LAYOUTFT_OFFLINE", raising=False)
    monkeypatch.delenv("LAYOUTFT_DOWNLOAD_TIMEOUT", raising=False)
    return home


def _record(path: Path) -> dict[str, object]:
    data = json.loads(pretrained.record_path(path).read_text())
    assert isinstance(data, dict)
    return data


def _card(monkeypatch: pytest.MonkeyPatch, url: str) -> pretrained.ModelCard:
    """tablebank-faster-rcnn-r50 served by the local server (no manifest checksum)."""
    card = pretrained.get_card("tablebank-faster-rcnn-r50")
    patched = pretrained.ModelCard(**{**card.__dict__, "url": url, "mirrors": []})
    monkeypatch.setattr(pretrained, "get_card", lambda name: patched)
    return patched


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.timeout(60)
def test_truncated_download_is_not_cached_and_the_next_call_resumes(
    server: Server, cache_home: Path
) -> None:
    target = cache_home / "weights" / "m.pth"
    with pytest.raises(CheckpointError) as info:
        pretrained.download(server.url("truncated.pth"), target, timeout=5)
    half = len(PAYLOAD) // 2
    assert f"closed after {half} of {len(PAYLOAD)} bytes" in str(info.value)
    assert "resume" in str(info.value)
    assert not target.exists()
    part = target.with_name("m.pth.part")
    assert part.read_bytes() == PAYLOAD[:half]  # kept for the next call
    pretrained.download(server.url("truncated.pth"), target, timeout=5)
    assert server.ranges == [None, f"bytes={half}-"]
    assert target.read_bytes() == PAYLOAD and not part.exists()
    record = _record(target)
    assert record["size"] == len(PAYLOAD)
    assert record["sha256"] == pretrained.file_sha256(target)


@pytest.mark.timeout(60)
def test_a_server_that_ignores_range_restarts_the_file(server: Server, cache_home: Path) -> None:
    target = cache_home / "weights" / "m.pth"
    target.parent.mkdir(parents=True)
    part = target.with_name("m.pth.part")
    part.write_bytes(PAYLOAD[:300_000])
    pretrained.download(server.url("norange.pth"), target, timeout=5)
    assert server.ranges == ["bytes=300000-"]  # asked to resume, got 200 and the whole file
    assert target.read_bytes() == PAYLOAD  # not the part followed by the whole file


@pytest.mark.timeout(60)
def test_an_html_page_is_refused_in_one_line_without_its_content(
    server: Server, cache_home: Path
) -> None:
    target = cache_home / "weights" / "m.pth"
    with pytest.raises(CheckpointError) as info:
        pretrained.download(server.url("page.html"), target, timeout=5)
    message = str(info.value)
    assert "an HTML page" in message and "not a checkpoint" in message
    assert "secret-login-form" not in message and "\n" not in message
    assert not target.exists() and not target.with_name("m.pth.part").exists()


@pytest.mark.timeout(60)
def test_a_stalled_server_is_a_one_line_read_timeout(
    server: Server, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _card(monkeypatch, server.url("stall.pth"))
    monkeypatch.setenv("LAYOUTFT_DOWNLOAD_TIMEOUT", "0.5")
    code, text = invoke("weights", "download", "tablebank", "-q")
    assert code == 1
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: could not download")
    assert "stopped after 1000 bytes" in text and "read timeout" in text
    assert "LAYOUTFT_DOWNLOAD_TIMEOUT" in text and "Traceback" not in text
    # --timeout says the same without the environment variable
    monkeypatch.delenv("LAYOUTFT_DOWNLOAD_TIMEOUT")
    code, text = invoke("weights", "download", "tablebank", "-q", "--timeout", "0.3")
    assert code == 1 and "no data from the server for 0.3 s" in text


@pytest.mark.timeout(60)
def test_http_errors_are_one_line(server: Server, cache_home: Path) -> None:
    with pytest.raises(CheckpointError, match=r"missing\.pth: HTTP 404 Not Found$"):
        pretrained.download(server.url("missing.pth"), cache_home / "m.pth", timeout=5)


@pytest.mark.timeout(60)
def test_cached_file_changed_after_verification_is_caught_and_force_redownloads(
    server: Server, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = _card(monkeypatch, server.url("model.pth"))
    code, text = invoke("weights", "download", "tablebank", "-q")
    assert code == 0, text
    path = Path(text.strip())
    assert _record(path)["size"] == len(PAYLOAD) and _record(path)["source"] == "first use"
    code, text = invoke("weights", "list")
    assert any(line.startswith(card.name) and " cached " in line for line in text.splitlines())

    # one byte changed, size and mtime kept: a large file is only re-hashed by `verify`
    stat = path.stat()
    data = bytearray(PAYLOAD)
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    monkeypatch.setattr(pretrained, "HASH_ON_USE_BYTES", 0)
    assert pretrained.weights_path("tablebank") == path  # cheap check: size and mtime
    code, text = invoke("weights", "verify", "tablebank")
    assert code == 1 and "FAILED" in text and "changed since they were verified" in text
    assert f"layoutft weights download {card.name} --force" in text
    # touched (new mtime): re-hashed on use
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(CheckpointError, match="changed since they were verified"):
        pretrained.weights_path("tablebank")

    # truncated: the size differs from the record; `list` says so without hashing
    path.write_bytes(PAYLOAD[:1000])
    code, text = invoke("weights", "list")
    assert any(line.startswith(card.name) and " changed " in line for line in text.splitlines())
    code, text = invoke("weights", "path", "tablebank")
    assert code == 1 and text.startswith("Error: cached weights")
    assert "1000 bytes but were" in text and "--force" in text and len(text.splitlines()) == 1

    # the fix the message gives works
    code, text = invoke("weights", "download", "tablebank", "-q", "--force")
    assert code == 0, text
    assert path.read_bytes() == PAYLOAD
    code, text = invoke("weights", "verify", "tablebank")
    assert code == 0 and "tablebank-faster-rcnn-r50: ok" in text


@pytest.mark.timeout(60)
def test_parse_with_a_bad_cached_model_says_how_to_recover(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    card = _card(monkeypatch, "http://127.0.0.1:9/unused.pth")
    cached = pretrained.cached_path(card)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(HTML)  # e.g. saved by hand, or by an older layoutft
    code, text = invoke("weights", "list")
    assert any(line.startswith(card.name) and " unverified " in line for line in text.splitlines())
    import numpy as np
    from PIL import Image

    page = tmp_path / "page.png"
    Image.fromarray(np.full((64, 48, 3), 255, np.uint8)).save(page)
    code, text = invoke("parse", str(page), "--weights", card.name, "-o", str(tmp_path / "o.json"))
    assert code == 1
    line = text.strip().splitlines()[-1]
    assert line.startswith("Error: ") and "an HTML page" in line and "Traceback" not in text
    assert f"layoutft weights download {card.name} --force" in line
    assert "secret-login-form" not in text


@pytest.mark.timeout(20)
def test_a_download_cut_short_without_a_length_is_not_cached(
    server: Server, cache_home: Path
) -> None:
    """Without a Content-Length, a size or a checksum, only loading the file tells that it
    is cut short: it is loaded before it is cached, and `weights verify` never sees it."""
    target = cache_home / "weights" / "m.pth"
    url = server.url("nolength.pth")
    with pytest.raises(CheckpointError) as info:
        pretrained.download(url, target, timeout=5)
    message = str(info.value)
    assert message.startswith(f"{url}: does not load as weights (truncated or corrupt file")
    assert message.endswith("; retry the download") and "\n" not in message
    assert not target.exists() and not pretrained.record_path(target).exists()
    assert not target.with_name("m.pth.part").exists()


@pytest.mark.timeout(20)
def test_a_pickle_without_tensors_is_not_weights(server: Server, cache_home: Path) -> None:
    assert len(TINY_PICKLE) < 40
    target = cache_home / "weights" / "m.pkl"
    url = server.url("empty.pkl")
    with pytest.raises(CheckpointError) as info:
        pretrained.download(url, target, timeout=5)
    assert str(info.value).startswith(f"{url}: does not load as weights (")
    assert not target.exists()
    # a cached file that fails the same check says how to download it again
    card = _card_for(target)
    target.write_bytes(TINY_PICKLE)
    with pytest.raises(CheckpointError) as info:
        pretrained.check_cached(card)
    assert str(info.value).endswith(pretrained.redownload_hint(card))
    assert not pretrained.record_path(target).exists()


def _card_for(path: Path) -> pretrained.ModelCard:
    card = pretrained.get_card("tablebank-faster-rcnn-r50")
    return pretrained.ModelCard(
        **{**card.__dict__, "filename": path.name, "size": None, "sha256": None}
    )
