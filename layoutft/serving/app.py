"""The HTTP application of ``layoutft serve`` (Starlette): one loaded model behind
``POST /parse`` and Label Studio's ML backend endpoints.

Endpoints:

- ``GET /health`` (and ``GET /``): ``{"status": "UP", "model_class", "model_version",
  "labels"}``.
- ``POST /parse``: a PDF or image as the multipart field ``file`` or as the raw request
  body; parse options as query or form fields named like the ``layoutft parse`` flags
  (``dpi``, ``pages``, ``renderer``, ``no-text``, ``postprocess``, ``score-threshold``,
  ``max-pixels``, ``image-dpi``, ``labels-view``, ``cover-words``) -> the layout JSON
  ``layoutft parse`` writes
  (``layoutft.document/1``; a document whose pages failed says so in ``status`` and in
  each page's ``error``).
- Label Studio's ML backend protocol: ``POST /setup``, ``POST /predict``, ``GET /versions``,
  and ``POST /webhook`` / ``POST /train``, which answer that layoutft trains outside Label
  Studio (see :mod:`layoutft.serving.labelstudio`).

Errors are ``{"error": "<one line>"}``: 400 for a bad option or request, 413 for a body,
a page selection or a task image over the limits, 422 for an upload that is not a readable
PDF or image, 502 for a task image that cannot be fetched, 503 when ``max_queue`` requests
are already waiting for the model, 500 for an internal failure (logged with its
traceback). No request can stop the server: each failure ends that request only.

Concurrency: the model runs one request at a time (a lock); requests wait for it in
arrival order, at most ``max_queue`` of them (the rest get 503 at once). Uploads, task
image downloads and JSON encoding run outside the lock. For more throughput run several
``layoutft serve`` processes (each holds its own model) behind a reverse proxy.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from layoutft.errors import LayoutftError, OptionError, RenderError, ServeError
from layoutft.parsing.detector import Detector
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.parser import Parser
from layoutft.render import count_pages, resolve_source
from layoutft.render.pages import parse_page_spec
from layoutft.schema import Document, loads_json
from layoutft.serving.fetch import FetchSettings
from layoutft.serving.labelstudio import parse_label_config, predict_tasks
from layoutft.serving.options import RequestLimits, option_error_message, request_options

log = logging.getLogger("layoutft.serve")

MB = 1024 * 1024
_TRAINING_NOTE = (
    "layoutft does not train from Label Studio: export the annotations, then run "
    "layoutft convert --from labelstudio and layoutft train"
)


@dataclass
class ServeSettings:
    """Limits and Label Studio settings of a server.

    Attributes:
        max_upload_bytes: the largest request body (upload or ``/predict`` JSON) and task
            image accepted.
        max_pages: the most pages one ``/parse`` request may select.
        max_queue: requests that may wait for or hold the model at once; more get 503.
        model_version: the ``model_version`` of Label Studio predictions; default the
            model's name.
        fetch: where task images may come from (:class:`FetchSettings`).
    """

    max_upload_bytes: int = 50 * MB
    max_pages: int = 100
    max_queue: int = 16
    model_version: str | None = None
    fetch: FetchSettings = field(default_factory=FetchSettings)

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pages", "max_queue"):
            if getattr(self, name) < 1:
                raise OptionError("{" + name + "} must be >= 1, got {got}", got=getattr(self, name))


class LayoutService:
    """A loaded detector with the server's parse options; parses one request at a time.

    Args:
        model: the detector (a :class:`~layoutft.parsing.model.LayoutModel`, or any
            :class:`~layoutft.parsing.detector.Detector`).
        options: the defaults each request starts from (its fields change them).
        model_name: the JSON ``model.name`` (and default ``model_version``).
        settings: limits and Label Studio settings.

    Raises OptionError when ``options`` do not suit the model (checked at start-up).
    """

    def __init__(
        self,
        model: Detector,
        options: ParseOptions | None = None,
        model_name: str | None = None,
        settings: ServeSettings | None = None,
    ) -> None:
        self.options = (options or ParseOptions()).replace(visualize=None, progress=False)
        self.parser = Parser(model, self.options, model_name=model_name)
        self.model = model
        self.settings = settings or ServeSettings()
        self.model_version = self.settings.model_version or self.parser.model_name
        self._model_lock = threading.Lock()
        self._queue = threading.BoundedSemaphore(self.settings.max_queue)

    @property
    def labels(self) -> list[str]:
        """The model's class names, in model order."""
        return list(self.parser.labels)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """A place in the queue for the model; ServeError 503 when it is full. (A client
        that goes away does not free it early: the worker thread its request started runs to
        the end, holding the place, before the request is cancelled.)"""
        if not self._queue.acquire(blocking=False):
            raise ServeError(
                f"the server is busy ({self.settings.max_queue} requests waiting for the "
                "model); retry later",
                status=503,
            )
        try:
            yield
        finally:
            self._queue.release()

    def parse(self, data: bytes, options: ParseOptions | None = None) -> Document:
        """Parse a PDF or image given as bytes, with ``options`` (default: the server's),
        holding the model lock.

        Raises RenderError for bytes that are no readable PDF or image, ServeError (413)
        for more pages than ``max_pages``, OptionError for options the model rejects.
        """
        opts = options or self.options
        parser = self.parser if opts == self.options else Parser(self.model, opts, self.model_name)
        source = resolve_source(data)
        selected = parse_page_spec(opts.pages, count_pages(source), "the upload")
        if len(selected) > self.settings.max_pages:
            raise ServeError(
                f"the upload has {len(selected)} pages to parse; this server parses at most "
                f"{self.settings.max_pages} per request: select some with pages=",
                status=413,
            )
        with self._model_lock:
            return parser.run(source)

    @property
    def model_name(self) -> str:
        """The JSON ``model.name``."""
        return self.parser.model_name


# -- request body limit -------------------------------------------------------------------


class BodyTooLarge(Exception):
    """A request body went past the limit while it was being received."""


class BodyLimit:
    """ASGI middleware: a request body larger than ``max_bytes`` gets 413 — at once when its
    Content-Length says so, else as soon as the bytes received pass the limit (the receive
    call raises :class:`BodyTooLarge`, which the endpoints answer with 413). The rest of
    such a body is never read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            response = _error(413, self._message())
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"the request body is larger than this server's limit of {_size(self.max_bytes)}"


# -- the application ------------------------------------------------------------------------


Endpoint = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    # 413: the rest of the body is never read, so the connection closes after the answer
    headers = {"Connection": "close"} if status == 413 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _size(n: int) -> str:
    return f"{n / MB:g} MB" if n >= MB else f"{n} bytes"


def _json_errors(endpoint: Endpoint) -> Endpoint:
    """Every failure of ``endpoint`` as ``{"error": ...}`` with its status; never raised."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        except ServeError as exc:
            return _error(exc.status, str(exc))
        except OptionError as exc:
            return _error(400, option_error_message(exc))
        except RenderError as exc:
            return _error(422, str(exc))
        except LayoutftError as exc:
            return _error(400, str(exc))
        except HTTPException as exc:
            return _error(exc.status_code, str(exc.detail))
        except ClientDisconnect:
            return _error(400, "the client went away before sending the whole request")
        except Exception as exc:
            log.exception("%s %s failed", request.method, request.url.path)
            return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    return wrapper


def create_app(service: LayoutService) -> ASGIApp:
    """The ASGI application serving ``service`` (run it with uvicorn, or test it in
    process); its body limit is ``service.settings.max_upload_bytes``."""
    settings = service.settings

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "UP",
                "model_class": "layoutft",
                "model_version": service.model_version,
                "labels": service.labels,
            }
        )

    async def parse(request: Request) -> Response:
        data, fields = await _upload(request)
        limits = RequestLimits(service.options.max_pixels)
        options = request_options(service.options, fields, limits)
        with service.slot():
            document = await anyio.to_thread.run_sync(service.parse, data, options)
        return JSONResponse(document.to_dict())

    async def setup(request: Request) -> Response:
        payload = await _json_object(request)
        parse_label_config(payload.get("schema") or payload.get("label_config"))
        return JSONResponse({"model_version": service.model_version})

    async def predict(request: Request) -> Response:
        payload = await _json_object(request)
        tasks = payload.get("tasks")
        if not isinstance(tasks, list):
            raise ServeError('the request needs "tasks": a list of Label Studio tasks')
        controls = parse_label_config(payload.get("label_config"))
        options = service.options.replace(pages="1")  # a task is one image (a PDF: page 1)
        with service.slot():
            results = await anyio.to_thread.run_sync(
                lambda: predict_tasks(
                    tasks,
                    controls,
                    settings.fetch.fetch,
                    lambda data: service.parse(data, options),
                    service.model_version,
                )
            )
        return JSONResponse({"results": results})

    async def versions(request: Request) -> Response:
        return JSONResponse({"versions": [service.model_version]})

    async def training(request: Request) -> Response:
        return JSONResponse({"status": "ignored", "detail": _TRAINING_NOTE})

    routes = [
        Route("/", _json_errors(health), methods=["GET"]),
        Route("/health", _json_errors(health), methods=["GET"]),
        Route("/parse", _json_errors(parse), methods=["POST"]),
        Route("/setup", _json_errors(setup), methods=["POST"]),
        Route("/predict", _json_errors(predict), methods=["POST"]),
        Route("/versions", _json_errors(versions), methods=["GET"]),
        Route("/webhook", _json_errors(training), methods=["POST"]),
        Route("/train", _json_errors(training), methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _error(status, f"{request.method} {request.url.path}: {_reason(status)}")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    return BodyLimit(app, settings.max_upload_bytes)


def _reason(status: int) -> str:
    return "no such endpoint" if status == 404 else "method not allowed"


async def _upload(request: Request) -> tuple[bytes, list[tuple[str, str]]]:
    """The uploaded file's bytes and the option fields (query, then form fields)."""
    fields = list(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=64, max_part_size=64 * 1024)
        try:
            data: bytes | None = None
            for name, value in form.multi_items():
                if isinstance(value, str):
                    fields.append((name, value))
                elif name == "file":
                    data = await value.read()
                else:
                    raise ServeError(f"unexpected file field {name!r}; send the file as 'file'")
        finally:
            await form.close()
        if data is None:
            raise ServeError("no file: send the PDF or image as the multipart field 'file'")
    else:
        data = await request.body()
    if not data:
        raise ServeError(
            "no file: send a PDF or image as the multipart field 'file' or as the request body"
        )
    return data, fields


async def _json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; ServeError (400) otherwise."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
        payload = loads_json(text, "the request body") if text.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ServeError("the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ServeError("the request body must be a JSON object")
    return payload
