"""``layoutft serve``: POST /parse answers what the library parses, every bad request is one
JSON error with its 4xx/5xx status and leaves the server serving, the model runs one request
at a time behind a bounded queue, and Label Studio's ML backend endpoints turn tasks into
predictions (task images fetched from a local Label Studio stand-in with its token)."""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
import pytest
from PIL import Image
from typer.testing import CliRunner

from layoutft.cli.app import app as cli_app
from layoutft.errors import ServeError
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.parser import Parser
from layoutft.parsing.preannotations import labeling_config, labelstudio_results
from layoutft.serving import FetchSettings, LayoutService, ServeSettings, create_app
from layoutft.serving.labelstudio import parse_label_config
from layoutft.serving.options import request_options
from layoutft.serving.server import ConnectionLimits, uvicorn_config
from tests.serve_helpers import FileServer, call, multipart
from tests.test_parse_preannotations import BOXES, SCORES, FixedModel

W, H = 400, 300
LIMIT = 300_000  # bytes: the test server's body limit


def png_bytes(width: int = W, height: int = H) -> bytes:
    pixels = np.full((height, width, 3), 255, np.uint8)
    pixels[100:200, 100:300] = (200, 30, 30)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def pdf_bytes(pages: int = 2) -> bytes:
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=400, height=300)
        page.insert_text((40, 60), f"Page {n + 1} heading", fontsize=18)
    data = doc.tobytes()
    doc.close()
    return bytes(data)


class CountingModel(FixedModel):
    """FixedModel that records how many predict calls overlap, and can be held in predict
    until ``release`` is set."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail = False
        self._lock = threading.Lock()

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.inside += 1
            self.calls += 1
            self.most = max(self.most, self.inside)
        self.entered.set()
        try:
            if self.fail:
                raise ValueError("nan")
            self.release.wait(30)
            time.sleep(0.02)  # long enough for a second request to overlap if it could
            return super().predict(images, *args, **kwargs)
        finally:
            with self._lock:
                self.inside -= 1


class Server:
    """``create_app(service)`` served by uvicorn in a thread on a free port, configured as
    ``layoutft serve`` configures it (:func:`uvicorn_config`)."""

    def __init__(self, service: LayoutService, limits: ConnectionLimits | None = None) -> None:
        import socket

        import uvicorn

        self.service = service
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        limits = limits or ConnectionLimits(keep_alive=1)
        config = uvicorn_config(create_app(service), "127.0.0.1", self.port, limits, "warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, args=([self.sock],), daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        # no deadline of its own: a server that never starts is the test's timeout
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def make_service(model: Any = None, **settings: Any) -> LayoutService:
    options = ParseOptions(text=False)
    serve = ServeSettings(**{"max_upload_bytes": LIMIT, **settings})
    return LayoutService(model or FixedModel(), options, "fixed-model", serve)


@pytest.fixture()
def server() -> Iterator[Server]:
    with Server(make_service(CountingModel())) as running:
        yield running


def direct(data: bytes, **changes: Any) -> dict[str, Any]:
    """What the library parses from ``data`` with the server's options and ``changes``."""
    options = ParseOptions(text=False).replace(**changes)
    result: dict[str, Any] = Parser(FixedModel(), options, "fixed-model").parse(data).to_dict()
    return result


# -- POST /parse ----------------------------------------------------------------------------


def test_health_names_the_model(server: Server) -> None:
    status, body = call(server.url + "/health")
    assert status == 200
    assert body["status"] == "UP"
    assert body["model_version"] == "fixed-model"
    assert body["labels"] == ["text", "title", "list", "table", "figure"]
    assert call(server.url + "/")[1] == body


def test_parse_an_image_upload_as_the_library_does(server: Server) -> None:
    image = png_bytes()
    body, ctype = multipart({}, {"file": ("page.png", image, "image/png")})
    status, document = call(server.url + "/parse", body, {"Content-Type": ctype})
    assert status == 200, document
    assert document == direct(image)
    assert [r["label"] for r in document["pages"][0]["regions"]] == ["title", "text", "figure"]
    # the raw body works too, and options come as query or form fields with the CLI's names
    status, raw = call(
        server.url + "/parse?score-threshold=0.9", image, {"Content-Type": "image/png"}
    )
    assert status == 200
    assert raw == direct(image, score_threshold="0.9")
    assert [r["score"] for r in raw["pages"][0]["regions"]] == [SCORES[0]]
    body, ctype = multipart(
        {"score_threshold": "title=0.99", "postprocess": "default"},
        {"file": ("page.png", image, "image/png")},
    )
    status, form = call(server.url + "/parse", body, {"Content-Type": ctype})
    assert status == 200
    assert [r["label"] for r in form["pages"][0]["regions"]] == ["text", "figure"]


def test_parse_a_pdf_with_pages_and_dpi(server: Server) -> None:
    pdf = pdf_bytes(3)
    status, document = call(
        server.url + "/parse?pages=2-3&dpi=144", pdf, {"Content-Type": "application/pdf"}
    )
    assert status == 200, document
    assert document == direct(pdf, pages="2-3", dpi=144)
    assert [p["number"] for p in document["pages"]] == [2, 3]
    assert document["pages"][0]["width_px"] == 800  # 400 pt at 144 dpi
    assert document["source"]["page_count"] == 3
    assert len(document["pages"][0]["regions"]) == len(BOXES)


def test_bad_requests_get_json_errors_and_the_server_goes_on(server: Server) -> None:
    url = server.url + "/parse"
    image = png_bytes()
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        (url, b"this is no PDF", {}, 422, "not a readable PDF or image"),
        (url, b"", {}, 400, "no file"),
        (url + "?dpi=-5", image, {}, 400, "dpi must be a positive resolution"),
        (url + "?dpi=high", image, {}, 400, "dpi must be a number"),
        (url + "?workers=9", image, {}, 400, "unknown option 'workers'"),
        (url + "?dpi=100&dpi=200", image, {}, 400, "given twice"),
        (url + "?renderer=gs", image, {}, 400, "unknown renderer 'gs'"),
        (url + "?score-threshold=chair=0.5", image, {}, 400, "score-threshold"),
        (url + "?max-pixels=999999999999", image, {}, 400, "at most this server's"),
        (url + "?pages=7", pdf_bytes(2), {}, 422, "7"),
        (url, b"--x\r\nbroken", {"Content-Type": "multipart/form-data; boundary=x"}, 400, ""),
        (url, b"x" * (LIMIT + 1), {}, 413, "larger than this server's limit"),
        (server.url + "/nowhere", b"", {}, 404, "no such endpoint"),
    ]
    for target, body, headers, status, words in cases:
        got, answer = call(target, body, headers, method="POST")
        assert got == status, (target, answer)
        assert isinstance(answer, dict) and set(answer) == {"error"}, answer
        assert words in answer["error"] and "\n" not in answer["error"]
    got, answer = call(server.url + "/parse")
    assert got == 405 and "method not allowed" in answer["error"]
    body, ctype = multipart({}, {"upload": ("a.png", image, "image/png")})
    got, answer = call(url, body, {"Content-Type": ctype})
    assert got == 400 and "'file'" in answer["error"]
    assert call(url, image)[0] == 200  # still serving, the same as before


def test_an_oversized_upload_is_refused_while_it_streams(server: Server) -> None:
    """A chunked body without Content-Length is cut off at the limit, not read whole."""
    chunk = b"x" * 65536
    total = 2000 * len(chunk)  # 128 MB if the server kept reading
    sent = 0
    status: int | None = None
    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=30)
    conn.putrequest("POST", "/parse")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/pdf")
    conn.endheaders()
    try:
        while sent < total:
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        conn.send(b"0\r\n\r\n")
    except OSError:  # the server answered and closed the connection mid-upload
        pass
    try:
        response = conn.getresponse()
        status, answer = response.status, json.loads(response.read())
        assert "larger than this server's limit" in answer["error"]
    except (OSError, http.client.HTTPException):
        status = None  # the answer was lost with the connection the server closed
    finally:
        conn.close()
    assert status in (413, None)
    # the server closed the connection near the limit (socket buffers took a few MB more)
    assert sent < total
    assert call(server.url + "/parse", png_bytes())[0] == 200


def test_an_internal_failure_is_a_500_and_the_next_request_works(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = server.service.model
    assert isinstance(model, CountingModel)
    original = server.service.parse

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(server.service, "parse", broken)
    status, answer = call(server.url + "/parse", png_bytes())
    assert status == 500
    assert answer == {"error": "internal error; the server log has the details"}
    monkeypatch.setattr(server.service, "parse", original)
    # a model failure is the page's error, in the document, not a failed request
    monkeypatch.setattr(model, "fail", True)
    status, document = call(server.url + "/parse", png_bytes())
    assert status == 200 and document["status"] == "error"
    assert "prediction failed: nan" in document["pages"][0]["error"]
    monkeypatch.undo()
    assert call(server.url + "/parse", png_bytes())[0] == 200


def test_concurrent_requests_take_turns_on_the_model(server: Server) -> None:
    model = server.service.model
    assert isinstance(model, CountingModel)
    image = png_bytes()
    answers: list[tuple[int, Any]] = []

    def post() -> None:
        answers.append(call(server.url + "/parse", image))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [status for status, _ in answers] == [200] * 6
    assert all(body == answers[0][1] for _, body in answers)
    assert model.calls == 6 and model.most == 1


def test_a_full_queue_answers_503_at_once() -> None:
    model = CountingModel()
    model.release.clear()
    with Server(make_service(model, max_queue=1)) as running:
        first: list[tuple[int, Any]] = []
        holder = threading.Thread(
            target=lambda: first.append(call(running.url + "/parse", png_bytes()))
        )
        holder.start()
        assert model.entered.wait(30)
        status, answer = call(running.url + "/parse", png_bytes())
        assert status == 503 and "busy" in answer["error"]
        # "at once": answered while the first request still holds the model (it is released
        # only below), without reaching the model
        assert first == [] and holder.is_alive() and model.calls == 1
        model.release.set()
        holder.join(30)
        assert first[0][0] == 200
        assert call(running.url + "/parse", png_bytes())[0] == 200


# -- request options ------------------------------------------------------------------------


def test_request_options_use_the_cli_names_and_validation() -> None:
    base = ParseOptions(max_pixels=1000)
    got = request_options(base, [("dpi", "150"), ("no-text", ""), ("score_threshold", "0.3")])
    assert (got.dpi, got.text, got.score_threshold) == (150.0, False, "0.3")
    assert request_options(base, [("no_text", "false")]).text is True
    for fields, words in [
        ([("no-text", "maybe")], "no-text must be true or false"),
        ([("max-pixels", "2000")], "at most this server's 1000"),
        ([("max-pixels", "1.5")], "max-pixels must be an integer"),
        ([("batch-size", "2")], "unknown option 'batch-size'"),
    ]:
        with pytest.raises(ServeError, match=words):
            request_options(base, fields)


# -- Label Studio ---------------------------------------------------------------------------


def test_label_config_controls() -> None:
    default = parse_label_config(labeling_config(["text", "title"]))
    assert (default.to_name, default.value_key, default.rectangles, default.polygons) == (
        "image",
        "image",
        "label",
        "polygon",
    )
    assert default.labels == ("text", "title")
    custom = parse_label_config(
        '<View><Header value="$title"/><Image name="page" value="$img"/>'
        '<RectangleLabels name="box" toName="page"><Label value="Title"/>'
        '<Label value="Figure"/></RectangleLabels></View>'
    )
    assert (custom.to_name, custom.value_key, custom.rectangles, custom.polygons) == (
        "page",
        "img",
        "box",
        None,
    )
    assert custom.label_for("title") == "Title" and custom.label_for("table") is None
    for bad in ["<View><Image name='i' value='$i'/></View>", "<View", "<View><Labels/></View>"]:
        with pytest.raises(ServeError):
            parse_label_config(bad)


def ls_task(task_id: int, url: str, key: str = "image") -> dict[str, Any]:
    return {"id": task_id, "project": 1, "data": {key: url}, "annotations": [], "predictions": []}


def expected_results(image: bytes, **names: Any) -> list[dict[str, Any]]:
    page = Parser(FixedModel(), ParseOptions(text=False, pages="1")).parse(image).pages[0]
    return labelstudio_results(page, page.width_px, page.height_px, **names)


def test_label_studio_setup_predict_and_training(tmp_path: Path) -> None:
    image = png_bytes()
    big = png_bytes(1200, 1200) + b"\0" * LIMIT  # a valid PNG over the size cap
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "local page.png").write_bytes(image)
    (tmp_path / "secret.png").write_bytes(image)
    files = {"/data/upload/1/page.png": image, "/public/page.png": image, "/big.png": big}
    with FileServer(files, token="sekrit").running() as ls:
        fetch = FetchSettings(
            label_studio_url=ls.url,
            api_key="sekrit",
            files_root=tmp_path / "root",
            max_bytes=LIMIT,
            timeout_s=10,
        )
        with Server(make_service(fetch=fetch)) as running:
            config = labeling_config(["text", "title", "list", "table", "figure"])
            status, answer = call(running.url + "/setup", {"project": "1.1", "schema": config})
            assert (status, answer) == (200, {"model_version": "fixed-model"})
            status, answer = call(running.url + "/setup", {"schema": "<View></View>"})
            assert status == 400 and "RectangleLabels or PolygonLabels" in answer["error"]
            tasks = [
                ls_task(1, "/data/upload/1/page.png"),
                ls_task(2, ls.url + "/public/page.png"),
                ls_task(3, "file://" + str(tmp_path / "root" / "local%20page.png")),
                ls_task(4, "local page.png"),
                ls_task(5, "/data/upload/1/missing.png"),
                ls_task(6, str(tmp_path / "secret.png")),
                ls_task(7, ls.url + "/big.png"),
                ls_task(8, "ftp://example.invalid/a.png"),
                {"id": 9, "data": {"text": "no image here"}},
            ]
            request = {"tasks": tasks, "project": "1.1", "label_config": config, "params": {}}
            status, answer = call(running.url + "/predict", request)
            assert status == 200, answer
            results = answer["results"]
            assert len(results) == len(tasks)
            want = expected_results(image)
            assert {r["type"] for r in want} == {"rectanglelabels"}  # rectangles by default
            for item in results[:4]:
                assert item["result"] == want
                assert item["model_version"] == "fixed-model"
                assert item["score"] == pytest.approx(sum(SCORES) / 3, abs=1e-4)
            errors = [r["error"] for r in results[4:]]
            assert all("result" not in r for r in results[4:])
            assert errors[0] == (
                "cannot fetch task image /data/upload/1/missing.png (the server log says why)"
            )
            assert "outside --files-root" in errors[1]
            assert f"larger than {LIMIT} bytes" in errors[2]
            assert "unsupported scheme 'ftp'" in errors[3]
            assert "no 'image'" in errors[4]
            # the token went to the Label Studio host for /data/ files only
            auth = dict(ls.seen)
            assert auth["/data/upload/1/page.png"] == "Token sekrit"
            assert auth["/public/page.png"] == "Token sekrit"  # same host as LABEL_STUDIO_URL

            # another config: its names, its labels (case-insensitive), boxes only
            custom = (
                '<View><Image name="page" value="$img"/><RectangleLabels name="box" '
                'toName="page"><Label value="Title"/><Label value="Figure"/>'
                "</RectangleLabels></View>"
            )
            request = {
                "tasks": [ls_task(1, "/data/upload/1/page.png", "img")],
                "label_config": custom,
            }
            status, answer = call(running.url + "/predict", request)
            assert status == 200
            result = answer["results"][0]["result"]
            assert [r["value"]["rectanglelabels"] for r in result] == [["Title"], ["Figure"]]
            assert {(r["from_name"], r["to_name"], r["type"]) for r in result} == {
                ("box", "page", "rectanglelabels")
            }
            boxes = expected_results(image, polygons=None, rectangles="box", to_name="page")
            assert [r["value"]["x"] for r in result] == [
                boxes[0]["value"]["x"],
                boxes[2]["value"]["x"],
            ]

            for path in ("/webhook", "/train"):
                status, answer = call(running.url + path, {"action": "START_TRAINING"})
                assert status == 200 and "layoutft train" in answer["detail"]
            assert call(running.url + "/versions")[1] == {"versions": ["fixed-model"]}
            status, answer = call(running.url + "/predict", {"tasks": "all"})
            assert status == 400 and "tasks" in answer["error"]
            json_type = {"Content-Type": "application/json"}
            status, answer = call(running.url + "/predict", b"[" * 100_000, json_type)
            assert status == 400


def test_fetch_without_label_studio_or_files_root_refuses(tmp_path: Path) -> None:
    fetch = FetchSettings()
    with pytest.raises(ServeError, match="LABEL_STUDIO_URL"):
        fetch.fetch("/data/upload/1/page.png")
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(ServeError, match="--files-root"):
        fetch.fetch(str(tmp_path / "a.png"))
    with pytest.raises(ServeError, match="http:// or https://"):
        FetchSettings(label_studio_url="127.0.0.1:8080")


def test_the_key_never_follows_a_redirect_and_a_personal_token_is_exchanged() -> None:
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2ln"
    image = png_bytes(40, 30)
    with FileServer({"/public/a.png": image}).running() as other:
        redirects = {"/data/upload/1/moved.png": other.url + "/public/a.png"}
        files = {"/data/upload/1/a.png": image}
        with FileServer(files, token="legacy", jwt=jwt, redirects=redirects).running() as ls:
            legacy = FetchSettings(
                label_studio_url=ls.url, api_key="legacy", allow_hosts=("127.0.0.1",)
            )
            assert legacy.fetch("/data/upload/1/moved.png") == image
            assert other.seen == [("/public/a.png", None)]
            personal = FetchSettings(label_studio_url=ls.url + "/", api_key=jwt)
            assert personal.fetch("upload/1/a.png") == image
            assert personal.fetch("/data/upload/1/a.png") == image
            assert ls.seen[-3:] == [
                ("/api/token/refresh/", None),
                ("/data/upload/1/a.png", f"Bearer {ls.access}"),
                ("/data/upload/1/a.png", f"Bearer {ls.access}"),  # the access token is reused
            ]
            wrong = FetchSettings(label_studio_url=ls.url, api_key=jwt.replace("c2ln", "eA"))
            with pytest.raises(ServeError, match="access token"):
                wrong.fetch("/data/upload/1/a.png")


# -- the command ----------------------------------------------------------------------------


def test_cli_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name)
    )
    result = CliRunner().invoke(cli_app, ["serve"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: layoutft serve needs the serve extra: pip install 'layoutft[serve]' "
        "(uvicorn missing)"
    )


def test_cli_user_errors_are_one_line(tmp_path: Path) -> None:
    for args, words in [
        (["paper.pdf"], "takes no inputs"),
        (["--max-queue", "0"], "--max-queue must be >= 1"),
        (["--files-root", str(tmp_path / "none")], "no such folder"),
        (["--label-studio-url", "localhost:8080"], "http:// or https://"),
        (["--max-upload-mb", "0"], "--max-upload-mb must be > 0"),
    ]:
        result = CliRunner().invoke(cli_app, ["serve", *args])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], lines
