"""``layoutft serve`` stays up and answers only what it should, against the real uvicorn
server on 127.0.0.1 (request loops bounded in count and time, loopback addresses only):
idle and slow clients cannot starve it, upload memory does not grow with the number of
clients, task image downloads have a deadline and hold no place in the model's queue,
task images come only from allowed hosts, the Host header and credentials are checked,
and damaged inputs or absurd options are 4xx answers, not 500s."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from layoutft.cli.app import app as cli_app
from layoutft.errors import OptionError, ServeError
from layoutft.parsing.options import ParseOptions
from layoutft.serving import FetchSettings
from layoutft.serving.server import ConnectionLimits
from tests.serve_helpers import FileServer, SlowServer, call, free_port, rss_bytes
from tests.test_serve import CountingModel, Server, make_service, pdf_bytes, png_bytes

MB = 1024 * 1024
HOLD = 45  # connections the attackers open: more than the old limit (2 x 16 + 8)


def raw_connection(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def closed_by_server(sock: socket.socket, seconds: float) -> bool:
    """True once the server closes ``sock`` (within ``seconds``)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:  # reset: closed too
        return True
    return True


# -- idle and slow clients ------------------------------------------------------------------


def test_idle_and_slowloris_clients_cannot_take_the_server_down() -> None:
    limits = ConnectionLimits(header_timeout=2, keep_alive=1, max_connections=HOLD - 5)
    with Server(make_service(CountingModel()), limits) as running:
        idle = [raw_connection(running.port) for _ in range(HOLD)]
        slow = [raw_connection(running.port) for _ in range(HOLD)]
        try:
            for sock in slow:  # request heads that never end, a header line at a time
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            answers = []
            for round_ in range(3):
                for n, sock in enumerate(slow):
                    with contextlib.suppress(OSError):  # closed by the server already
                        sock.sendall(b"X-Slow-%d: %d\r\n" % (n, round_))
                answers.append(call(running.url + "/health", timeout=10))
                answers.append(call(running.url + "/parse", png_bytes(), timeout=30)[0])
                time.sleep(0.3)
            assert [a[0] for a in answers[0::2]] == [200] * 3, answers[0::2]
            assert answers[0][1]["status"] == "UP"
            assert answers[1::2] == [200] * 3
            # past the head deadline (2 s) every one of them was closed by the server
            assert all(closed_by_server(sock, 8) for sock in idle + slow)
        finally:
            for sock in idle + slow:
                sock.close()
        assert call(running.url + "/health")[0] == 200


def test_a_slow_body_is_cut_off_and_the_next_request_is_served() -> None:
    limits = ConnectionLimits(header_timeout=2, body_timeout=2, keep_alive=1)
    with Server(make_service(CountingModel()), limits) as running:
        sock = raw_connection(running.port)
        sock.sendall(
            b"POST /parse HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        sent = 0
        try:
            for _ in range(40):  # 100 bytes every 0.2 s: 8 s, if the server waited
                sock.sendall(b"x" * 100)
                sent += 100
                time.sleep(0.2)
        except OSError:
            pass
        assert closed_by_server(sock, 10)
        sock.close()
        assert sent < 40 * 100  # cut off long before the loop ended
        assert call(running.url + "/parse", png_bytes())[0] == 200


# -- upload memory --------------------------------------------------------------------------


def post_streamed(url: str, size: int, answers: list[int], sent: threading.Semaphore) -> None:
    """POST ``size`` bytes (a PDF head and zeros) in 1 MB chunks of one shared buffer."""
    chunk = b"%PDF-1.4\n" + b"\0" * (MB - 9)
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=120)
    conn.putrequest("POST", "/parse")
    conn.putheader("Content-Type", "application/pdf")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    for _ in range(size // MB):
        conn.send(chunk)
    sent.release()
    answers.append(conn.getresponse().status)
    conn.close()


def test_concurrent_large_uploads_do_not_grow_memory_with_the_number_of_clients() -> None:
    clients, size = 12, 20 * MB  # 240 MB of bodies waiting for the model at once
    model = CountingModel()
    model.release.clear()  # the model is busy: every upload waits for it, whole
    service = make_service(model, max_upload_bytes=32 * MB, max_queue=16)
    with Server(service) as running:
        holder: list[tuple[int, Any]] = []
        thread = threading.Thread(
            target=lambda: holder.append(call(running.url + "/parse", png_bytes()))
        )
        thread.start()
        assert model.entered.wait(30)
        before = rss_bytes()
        answers: list[int] = []
        sent = threading.Semaphore(0)
        threads = [
            threading.Thread(target=post_streamed, args=(running.url, size, answers, sent))
            for _ in range(clients)
        ]
        for worker in threads:
            worker.start()
        for _ in range(clients):
            assert sent.acquire(timeout=120)
        time.sleep(0.5)  # the last chunks reach the server
        grown = rss_bytes() - before
        model.release.set()
        for worker in threads:
            worker.join(120)
        thread.join(30)
    assert holder[0][0] == 200
    assert sorted(answers) == [422] * clients  # all received and answered; no 500
    assert grown < 96 * MB, f"memory grew {grown / MB:.0f} MB for {clients * size // MB} MB"


# -- task image downloads -------------------------------------------------------------------


def test_a_download_has_a_deadline_for_the_whole_transfer() -> None:
    with SlowServer(b"x" * 60, mode="drip", interval=0.25).running() as slow:
        fetch = FetchSettings(timeout_s=1.5, allow_hosts=("127.0.0.1",))
        with pytest.raises(ServeError) as caught:
            fetch.fetch(slow.url + "/page.png")
        assert str(caught.value) == (
            f"cannot fetch task image {slow.url}/page.png (the server log says why)"
        )
        assert caught.value.status == 502
    # each byte came well within the old per-read timeout; the whole download did not
    (entry,) = slow.log
    assert 1 <= entry["sent"] < 20


def predict_body(*urls: str) -> dict[str, Any]:
    tasks = [{"id": n, "data": {"image": url}} for n, url in enumerate(urls, 1)]
    return {"tasks": tasks, "label_config": None}


def test_slow_downloads_hold_no_model_slot_and_a_hung_up_client_is_dropped() -> None:
    image = png_bytes()
    model = CountingModel()
    with SlowServer(image, mode="hold").running() as slow:
        fetch = FetchSettings(timeout_s=30, allow_hosts=("127.0.0.1",))
        service = make_service(model, max_queue=4, max_downloads=5, fetch=fetch)
        with Server(service) as running:
            answers: list[tuple[int, Any]] = []
            waiting = [
                threading.Thread(
                    target=lambda: answers.append(
                        call(running.url + "/predict", predict_body(slow.url + "/a.png"))
                    )
                )
                for _ in range(4)
            ]
            for thread in waiting:
                thread.start()
            for _ in range(4):
                assert slow.requests.acquire(timeout=30)
            # four requests wait on downloads; the model (a queue of 4) is free for /parse
            statuses = [call(running.url + "/parse", png_bytes())[0] for _ in range(3)]
            assert statuses == [200, 200, 200]
            assert model.calls == 3

            # a client that hangs up: its download is dropped, its task never parsed
            body = json.dumps(predict_body(slow.url + "/gone.png")).encode()
            sock = raw_connection(running.port)
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            assert slow.requests.acquire(timeout=30)
            sock.close()
            deadline = time.monotonic() + 10
            while not slow.log[-1]["hung_up"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert slow.log[-1]["hung_up"]

            slow.release.set()
            for thread in waiting:
                thread.join(60)
        assert [status for status, _ in answers] == [200] * 4
        assert all(len(a["results"][0]["result"]) == 3 for _, a in answers)
        assert model.calls == 3 + 4  # the hung-up client's task was not parsed


# -- no server-side request forgery ---------------------------------------------------------


def test_task_images_come_only_from_allowed_hosts() -> None:
    image = png_bytes(40, 30)
    closed = f"http://127.0.0.1:{free_port()}/a.png"
    with FileServer({"/public/a.png": image}).running() as other:
        redirects = {
            "/data/upload/1/away.png": other.url + "/public/a.png",
            "/data/upload/1/meta.png": "http://169.254.169.254/latest/meta-data/",
        }
        files = {"/data/upload/1/a.png": image}
        with FileServer(files, token="k", redirects=redirects).running() as ls:
            default = FetchSettings(label_studio_url=ls.url, api_key="k", timeout_s=10)
            assert default.fetch("/data/upload/1/a.png") == image  # Label Studio's host
            refused = [
                other.url + "/public/a.png",  # loopback, another port: not Label Studio's
                closed,
                "http://localhost/a.png",
                "http://169.254.169.254/latest/meta-data/",
                "http://[::1]:80/a.png",
                "/data/upload/1/away.png",  # Label Studio redirects to another host
            ]
            for url in refused:
                with pytest.raises(ServeError, match="is not allowed") as caught:
                    default.fetch(url)
                assert caught.value.status == 403 and "--fetch-allow-host" in str(caught.value)
            assert other.seen == []  # nothing reached the other server

            # a pattern allows public hosts only: loopback and link-local stay refused
            public = FetchSettings(label_studio_url=ls.url, allow_hosts=("*",), timeout_s=10)
            for url in (other.url + "/public/a.png", "/data/upload/1/meta.png"):
                with pytest.raises(ServeError, match="is not allowed"):
                    public.fetch(url)

            # allowed explicitly: an open port and a closed one fail alike
            allowed = FetchSettings(allow_hosts=("127.0.0.1",), timeout_s=10)
            assert allowed.fetch(other.url + "/public/a.png") == image
            messages = []
            for url in (other.url + "/missing.png", closed):
                with pytest.raises(ServeError) as caught:
                    allowed.fetch(url)
                messages.append(str(caught.value).replace(url, "URL"))
            assert messages == ["cannot fetch task image URL (the server log says why)"] * 2
            port_only = FetchSettings(allow_hosts=(f"127.0.0.1:{other.url.rsplit(':', 1)[1]}",))
            assert port_only.fetch(other.url + "/public/a.png") == image
            with pytest.raises(ServeError, match="is not allowed"):
                port_only.fetch(closed)
    with pytest.raises(ServeError, match="--fetch-allow-host 'http://x/y'"):
        FetchSettings(allow_hosts=("http://x/y",))


def test_a_name_is_resolved_once_checked_and_connected_to_as_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = png_bytes(40, 30)
    real = socket.getaddrinfo
    answers = {
        "images.test": ["127.0.0.1"],  # an exact allow-list name: trusted
        "mixed.example.com": ["93.184.216.34", "127.0.0.1"],  # one private address
    }
    lookups: list[str] = []

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with FileServer({"/a.png": image}).running() as server:
        port = server.url.rsplit(":", 1)[1]
        fetch = FetchSettings(allow_hosts=("images.test", "*.example.com"), timeout_s=10)
        assert fetch.fetch(f"http://images.test:{port}/a.png") == image
        assert lookups == ["images.test"]
        with pytest.raises(ServeError, match="is not allowed"):
            fetch.fetch(f"http://mixed.example.com:{port}/a.png")
    assert server.seen == [("/a.png", None)]


def test_predict_refuses_other_hosts_without_telling_ports_apart() -> None:
    image = png_bytes()
    with FileServer({"/data/upload/1/a.png": image}, token="k").running() as ls:
        fetch = FetchSettings(label_studio_url=ls.url, api_key="k", timeout_s=10)
        with Server(make_service(fetch=fetch)) as running:
            urls = [
                "/data/upload/1/a.png",
                running.url + "/health",
                f"http://127.0.0.1:{free_port()}/",
            ]
            status, answer = call(running.url + "/predict", predict_body(*urls))
            assert status == 200
            first, *others = answer["results"]
            assert len(first["result"]) == 3
            for item, url in zip(others, urls[1:], strict=True):
                host = "127.0.0.1"
                assert item["error"] == (
                    f"task image {url}: host {host} is not allowed (layoutft serve fetches "
                    "from Label Studio's host; allow others with --fetch-allow-host)"
                )


# -- Host header, content types, credentials -------------------------------------------------


def test_the_host_header_and_json_content_types_are_checked() -> None:
    service = make_service(allowed_hosts=("layoutft.lan",))
    with Server(service) as running:
        for host in ("localhost", f"localhost:{running.port}", "127.0.0.1", "[::1]:9",
                     "10.1.2.3", "layoutft.lan", "LAYOUTFT.LAN:80"):  # fmt: skip
            assert call(running.url + "/health", headers={"Host": host})[0] == 200, host
        for host in ("rebind.attacker.example", "localhost.attacker.example", "lan"):
            for path, body in (("/health", None), ("/parse", png_bytes())):
                status, answer = call(running.url + path, body, {"Host": host})
                assert status == 421, (host, path)
                assert "--allowed-host" in answer["error"]
        config = {"schema": None}
        for ctype in ("text/plain", "application/x-www-form-urlencoded", ""):
            for path in ("/setup", "/predict", "/webhook"):
                status, answer = call(
                    running.url + path, json.dumps(config).encode(), {"Content-Type": ctype}
                )
                assert status == 415 and "application/json" in answer["error"], (path, ctype)
        assert call(running.url + "/webhook", {"action": "x"})[0] == 200


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_guard_everything_but_health() -> None:
    service = make_service(api_token="s3cret-token", basic_auth=("label-studio", "pw:1"))
    with Server(service) as running:
        assert call(running.url + "/health")[0] == 200
        assert call(running.url + "/")[0] == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Api-Key": "s3cret-token"},
                        {"Authorization": basic("label-studio", "pw")},
                        {"Authorization": "Basic !!!"}):  # fmt: skip
            for path, body in (("/parse", png_bytes()), ("/setup", {}), ("/versions", None)):
                status, answer = call(running.url + path, body, headers)
                assert status == 401, (path, headers)
                assert answer == {
                    "error": "this server needs credentials: Authorization: Bearer <token>"
                }
        token = {"Authorization": "Bearer s3cret-token"}
        assert call(running.url + "/parse", png_bytes(), token)[0] == 200
        label_studio = {"Authorization": basic("label-studio", "pw:1")}
        assert call(running.url + "/setup", {}, label_studio) == (
            200,
            {"model_version": "fixed-model"},
        )
        assert call(running.url + "/versions", None, token)[0] == 200


def test_the_cli_warns_when_it_listens_beyond_loopback_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    import layoutft.parsing.parser as parser_module
    from tests.test_parse_preannotations import FixedModel

    monkeypatch.setattr(parser_module, "load_model", lambda *a, **k: FixedModel())
    configs: list[Any] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: configs.append(self.config))
    monkeypatch.delenv("LAYOUTFT_API_TOKEN", raising=False)
    warned = "without credentials"
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert warned in result.output
    for args in (["--host", "0.0.0.0", "--api-token", "t"], ["--host", "127.0.0.1"]):
        result = CliRunner().invoke(cli_app, ["serve", *args])
        assert result.exit_code == 0 and warned not in result.output, result.output
    assert [c.limit_concurrency for c in configs] == [None] * 3
    result = CliRunner().invoke(cli_app, ["serve", "--basic-auth-user", "u"])
    assert result.exit_code == 1 and "--basic-auth-pass" in result.output
    result = CliRunner().invoke(cli_app, ["serve", "--max-connections", "40"])
    assert result.exit_code == 1 and "--max-connections must be above the 40" in result.output


# -- damaged inputs, absurd options ---------------------------------------------------------


def test_a_lying_pdf_and_absurd_dpis_are_client_errors(server: Server) -> None:
    lying = pdf_bytes(2).replace(b"/Count 2", b"/Count 99999999")
    assert b"/Count 99999999" in lying
    status, answer = call(server.url + "/parse", lying, {"Content-Type": "application/pdf"})
    assert status == 422, answer
    assert answer == {
        "error": "the upload is not a readable PDF or image: its structure is damaged"
    }
    status, answer = call(server.url + "/parse", b"not an image at all")
    assert status == 422 and not re.search(r"0x[0-9a-f]{6,}", answer["error"]), answer
    for dpi in ("1e-300", "inf", "-inf", "nan", "1e9"):
        for field in ("dpi", "image-dpi"):
            status, answer = call(server.url + f"/parse?{field}={dpi}", png_bytes())
            assert status == 400, (field, dpi, answer)
            assert f"{field} must be a positive resolution from 1 to 4800" in answer["error"]
    for dpi in (1e-300, float("inf")):
        with pytest.raises(OptionError, match="dpi must be a positive resolution"):
            ParseOptions(dpi=dpi)
    assert call(server.url + "/parse", png_bytes())[0] == 200


@pytest.fixture()
def server() -> Iterator[Server]:
    with Server(make_service(CountingModel())) as running:
        yield running
