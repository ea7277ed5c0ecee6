"""The HTTP application of ``layoutft serve`` (Starlette): one loaded model behind
``POST /parse`` and Label Studio's ML backend endpoints.

Endpoints:

- ``GET /health`` (and ``GET /``): ``{"status": "UP", "model_class", "model_version",
  "labels"}``; open without credentials and never counted against any limit.
- ``POST /parse``: a PDF or image as the multipart field ``file`` or as the raw request
  body; parse options as query or form fields named like the ``layoutft parse`` flags
  (``dpi``, ``pages``, ``renderer``, ``no-text``, ``postprocess``, ``score-threshold``,
  ``max-pixels``, ``image-dpi``, ``labels-view``, ``cover-words``) -> the layout JSON
  ``layoutft parse`` writes
  (``layoutft.document/1``; a document whose pages failed says so in ``status`` and in
  each page's ``error``). ``format`` (the ``layoutft parse --format`` values; default the
  server's, ``json``) picks another answer, written by that format's sink
  (:class:`~layoutft.parsing.result_bundle.ResultBundle`): the results file of a format
  without page images, a zip of the results file and page images for the others.
  With ``async=1`` it answers at once (202) with ``{"job": {"id", "status", ...}}``;
  ``GET /jobs/<id>`` gives the job's status and progress, then its result, the JSON
  document (:mod:`layoutft.serving.jobs`; 429 when the job queue is full; 400 for another
  ``format``).
- Label Studio's ML backend protocol: ``POST /setup``, ``POST /predict`` (regions as
  rectangles unless the server's ``shape`` says otherwise), ``GET /versions``, and
  ``POST /webhook`` / ``POST /train``, which fine-tune the project's model from its
  annotations when the server has a data folder (:mod:`layoutft.serving.training`; else they
  answer that layoutft trains outside Label Studio); ``GET /train/status`` gives progress
  and the last result. A project's fine-tuned model serves its ``/predict`` and ``/setup``.
  Their bodies must be JSON (``Content-Type: application/json``; else 415).

Every request is checked, in this order: its ``Host`` header must name this server
(``allowed_hosts``, any IP address, or ``localhost``; else 421: a DNS-rebinding page
cannot reach it); with an ``api_token`` or ``basic_auth`` set, every endpoint but
``/health`` and ``/`` needs ``Authorization: Bearer <token>`` or Basic credentials (else
401); past ``max_requests`` requests at once the rest get 503.

Errors are ``{"error": "<one line>"}``: 400 for a bad option or request, 401, 413 for a body,
a page selection or a task image over the limits, 415, 421, 422 for an upload that is not
a readable PDF or image, 429 when the job queue is full, 502 for a task image that cannot
be fetched, 503 when ``max_queue``
requests are already waiting for the model, 500 for an internal failure (logged with its
traceback; the answer names nothing of the server's). No request can stop the server: each
failure ends that request only.

Memory and concurrency: request bodies and task images are spooled to temporary files (at
most 1 MB each in memory) and read into memory only under the model lock, so memory grows
with the one document being parsed, not with the number of clients. The model runs one
request at a time; requests wait for it in arrival order, at most ``max_queue`` of them
(the rest get 503 at once). A task image download holds no place in that queue (downloads
run ``max_downloads`` at a time); a request whose client went away is dropped (its
downloads stop, its parse is skipped unless already running). For more throughput run
several ``layoutft serve`` processes (each holds its own model) behind a reverse proxy.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import ipaddress
import json
import logging
import re
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from layoutft.errors import LayoutftError, OptionError, RenderError, ServeError
from layoutft.parsing.detector import Detector
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.output_formats import output_format
from layoutft.parsing.parser import Parser
from layoutft.parsing.preannotations import check_shape
from layoutft.parsing.result_bundle import ResultBundle
from layoutft.parsing.results import ResultSink
from layoutft.render import count_pages, resolve_source
from layoutft.render.pages import parse_page_spec
from layoutft.render.source import Source
from layoutft.schema import Document, loads_json
from layoutft.serving.fetch import FetchSettings
from layoutft.serving.jobs import JobQueue, Progress
from layoutft.serving.labelstudio import (
    ClientGone,
    parse_label_config,
    predict_tasks,
    task_image,
)
from layoutft.serving.options import (
    RequestLimits,
    option_error_message,
    request_format,
    request_options,
)
from layoutft.serving.training import TRAIN_ACTIONS, Trainer, project_id

log = logging.getLogger("layoutft.serve")
T = TypeVar("T")

MB = 1024 * 1024
#: the largest JSON body (``/setup``, ``/predict``, ...) read, whatever ``max_upload_bytes``
MAX_JSON_BYTES = 10 * MB
#: bytes of a body or task image kept in memory before it goes to a temporary file
SPOOL_BYTES = 1 * MB
#: Host header names always served (besides any IP address and ``allowed_hosts``)
LOCAL_NAMES = ("localhost",)
_JSON_PATHS = ("/setup", "/predict", "/webhook", "/train")
_TRUE = ("1", "true", "yes", "on")
_OPEN_PATHS = ("/", "/health")
_TRAINING_NOTE = (
    "this server does not train (start layoutft serve with --data-dir DIR to fine-tune from "
    "Label Studio's annotations), or export the annotations, then run layoutft convert "
    "--from labelstudio and layoutft train"
)


@dataclass
class ServeSettings:
    """Limits, access rules and Label Studio settings of a server.

    Attributes:
        max_upload_bytes: the largest request body and task image accepted (JSON bodies:
            at most :data:`MAX_JSON_BYTES`).
        max_pages: the most pages one ``/parse`` request may select.
        max_queue: requests that may wait for or hold the model at once; more get 503.
        max_requests: requests (other than ``/health``) in progress at once, uploads being
            received included; more get 503. None: ``2 * max_queue + 8``.
        max_downloads: task images downloaded at once (the other tasks wait, holding no
            place in the model's queue).
        model_version: the ``model_version`` of Label Studio predictions; default the
            model's name.
        fetch: where task images may come from (:class:`FetchSettings`).
        allowed_hosts: ``Host`` header names served besides ``localhost`` and IP
            addresses; ``"*"`` serves any (no DNS-rebinding check).
        api_token: the token every request but ``/health`` needs (``Authorization: Bearer
            <token>``); None: no token.
        basic_auth: ``(user, password)`` accepted as ``Authorization: Basic`` (what Label
            Studio sends for an ML backend with basic auth); None: not accepted.
        shape: region shape of ``/predict`` results: rect, polygon or auto
            (:mod:`layoutft.parsing.preannotations`).
        max_jobs: asynchronous ``/parse`` jobs queued or running at once; more get 429.
        job_ttl_s: seconds a finished job's result is kept.
        format: the output format of ``/parse`` answers whose request has no ``format``
            field (a ``layoutft parse --format`` value).
    """

    max_upload_bytes: int = 50 * MB
    max_pages: int = 100
    max_queue: int = 16
    max_requests: int | None = None
    max_downloads: int = 4
    model_version: str | None = None
    fetch: FetchSettings = field(default_factory=FetchSettings)
    allowed_hosts: tuple[str, ...] = ()
    api_token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    shape: str = "rect"
    max_jobs: int = 32
    job_ttl_s: float = 3600.0
    format: str = "json"

    def __post_init__(self) -> None:
        check_shape(self.shape)
        output_format(self.format)
        if self.max_requests is None:
            self.max_requests = 2 * self.max_queue + 8
        for name in ("max_upload_bytes", "max_pages", "max_queue", "max_requests", "max_downloads"):
            if getattr(self, name) < 1:
                raise OptionError("{" + name + "} must be >= 1, got {got}", got=getattr(self, name))
        self.allowed_hosts = tuple(_host_name(h) for h in self.allowed_hosts if h.strip())
        if self.api_token is not None and not self.api_token.strip():
            raise OptionError("{api_token} is empty; give a token or leave it out")
        if self.basic_auth is not None and not all(self.basic_auth):
            raise OptionError("{basic_auth} needs both a user and a password")

    @property
    def needs_credentials(self) -> bool:
        """True when requests (other than ``/health``) must authenticate."""
        return self.api_token is not None or self.basic_auth is not None


@dataclass(frozen=True)
class Served:
    """A model as served: its parser (detector + the server's options) and version."""

    model: Detector
    parser: Parser
    version: str


class LayoutService:
    """A loaded detector with the server's parse options; parses one request at a time.

    Each Label Studio project may have a model of its own (fine-tuned from its annotations,
    :meth:`switch`); other requests get the base model.

    Args:
        model: the detector (a :class:`~layoutft.model.LayoutModel`, or any
            :class:`~layoutft.parsing.detector.Detector`).
        options: the defaults each request starts from (its fields change them); ``dpi``
            None renders at the training dpi of the model serving the request.
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
        self._base = Served(model, self.parser, self.model_version)
        self._projects: dict[str, Served] = {}
        self._model_lock = threading.Lock()
        self._queue = threading.BoundedSemaphore(self.settings.max_queue)

    def served(self, project: str | None = None) -> Served:
        """The model serving ``project`` (its fine-tuned one, else the base model)."""
        return self._projects.get(project, self._base) if project is not None else self._base

    def version_of(self, project: str | None) -> str:
        """The ``model_version`` serving ``project``."""
        return self.served(project).version

    def switch(self, project: str, model: Detector, version: str) -> None:
        """Serve ``model`` as ``version`` for ``project`` from the next request on. One
        reference is replaced (atomic): a request that already took the old model finishes
        with it, none waits or fails."""
        parser = Parser(model, self.options, model_name=version)
        self._projects[project] = Served(model, parser, version)
        log.info("project %s: now serving %s", project, version)

    @property
    def labels(self) -> list[str]:
        """The model's class names, in model order."""
        return list(self.parser.labels)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """A place in the queue for the model; ServeError 503 when it is full."""
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

    def parse(
        self,
        upload: bytes | IO[bytes],
        options: ParseOptions | None = None,
        gone: threading.Event | None = None,
        project: str | None = None,
        sinks: Sequence[ResultSink] = (),
    ) -> Document:
        """Parse a PDF or image given as bytes or a file, with ``options`` (default: the
        server's) and the model serving ``project``, holding the model lock; a file is read
        only once the lock is held. ``sinks`` receive the pages as they are done.

        Raises ClientGone when ``gone`` is set by the time the lock is free, RenderError for
        bytes that are no readable PDF or image, ServeError (413) for more pages than
        ``max_pages``, OptionError for options the model rejects.
        """
        return self.parse_served(upload, options, gone, project, sinks)[0]

    def parse_served(
        self,
        upload: bytes | IO[bytes],
        options: ParseOptions | None = None,
        gone: threading.Event | None = None,
        project: str | None = None,
        sinks: Sequence[ResultSink] = (),
    ) -> tuple[Document, str]:
        """:meth:`parse`, and the ``model_version`` of the model that parsed it."""
        opts = options or self.options
        with self._model_lock:
            served = self.served(project)  # taken under the lock: the newest model
            parser = served.parser
            if opts != self.options:
                parser = Parser(served.model, opts, served.parser.model_name)
            if gone is not None and gone.is_set():
                raise ClientGone()
            if isinstance(upload, bytes):
                data = upload
            else:
                upload.seek(0)
                data = upload.read()
            source = resolve_source(data)
            selected = parse_page_spec(opts.pages, _page_count(source), "the upload")
            for sink in sinks:  # a job's progress: pages to parse
                if isinstance(sink, Progress):
                    sink.total = len(selected)
            if len(selected) > self.settings.max_pages:
                raise ServeError(
                    f"the upload has {len(selected)} pages to parse; this server parses at "
                    f"most {self.settings.max_pages} per request: select some with pages=",
                    status=413,
                )
            return parser.run(source, sinks), served.version

    @property
    def model_name(self) -> str:
        """The JSON ``model.name``."""
        return self.parser.model_name


def _page_count(source: Source) -> int:
    """The pages of ``source``; a file whose structure lies (a PDF page tree claiming pages
    it lacks) is a RenderError (422), not an internal failure."""
    try:
        return count_pages(source)
    except RenderError:
        raise
    except Exception as exc:  # the PDF library's own errors for a damaged file
        log.info("page count failed: %s: %s", type(exc).__name__, exc)
        raise RenderError(
            "the upload is not a readable PDF or image: its structure is damaged"
        ) from None


# -- request checks (host, credentials, load, body size) -------------------------------------


class BodyTooLarge(Exception):
    """A request body went past the limit while it was being received."""


class BodyLimit:
    """ASGI middleware: a request body larger than its limit (``max_bytes``; JSON endpoints
    at most :data:`MAX_JSON_BYTES`) gets 413 — at once when its Content-Length says so, else
    as soon as the bytes received pass the limit (the receive call raises
    :class:`BodyTooLarge`, which the endpoints answer with 413). The rest of such a body is
    never read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope["path"] in _JSON_PATHS:
            limit = min(limit, MAX_JSON_BYTES)
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _error(413, _too_large(limit))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(_too_large(limit))
            return message

        await self.app(scope, limited, send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than this server's limit of {_size(limit)}"


class Gate:
    """ASGI middleware: the ``Host`` header (421), credentials (401) and the number of
    requests in progress (503), in that order; ``GET /health`` and ``GET /`` pass the last
    two unchecked."""

    def __init__(self, app: ASGIApp, settings: ServeSettings) -> None:
        self.app = app
        self.settings = settings
        self.active = 0  # requests in progress (one event loop: no lock needed)
        self._bearer = None if settings.api_token is None else f"Bearer {settings.api_token}"
        self._basic = None
        if settings.basic_auth is not None:
            pair = ":".join(settings.basic_auth).encode()
            self._basic = "Basic " + base64.b64encode(pair).decode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        if host is not None and not self._serves(host):
            message = (
                f"this server does not answer to Host {host[:100]!r}; start layoutft serve "
                "with --allowed-host NAME for a name clients use"
            )
            await _error(421, message)(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD") and scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if not self._authorized(headers.get("authorization")):
            answer = _error(401, "this server needs credentials: Authorization: Bearer <token>")
            answer.headers["WWW-Authenticate"] = 'Bearer realm="layoutft"'
            await answer(scope, receive, send)
            return
        limit = self.settings.max_requests or 1
        if self.active >= limit:
            message = f"the server is busy ({limit} requests in progress); retry later"
            await _error(503, message)(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1

    def _serves(self, host: str) -> bool:
        name = _host_name(host)
        if "*" in self.settings.allowed_hosts or name in LOCAL_NAMES:
            return True
        if name in self.settings.allowed_hosts:
            return True
        try:  # an IP address cannot be rebound: a page can only reach it under its own origin
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def _authorized(self, authorization: str | None) -> bool:
        if not self.settings.needs_credentials:
            return True
        given = (authorization or "").strip()
        scheme, _, value = given.partition(" ")
        given = f"{scheme.capitalize()} {value.strip()}"
        if self._basic is not None and scheme.lower() == "basic":
            try:  # compare the decoded pair: clients differ in padding and spacing
                decoded = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(decoded, ":".join(self.settings.basic_auth or ()).encode())
        return self._bearer is not None and hmac.compare_digest(
            given.encode(), self._bearer.encode()
        )


def _host_name(host: str) -> str:
    """The name of a ``Host`` header value or ``--allowed-host``: lowercase, without the
    port, brackets or a trailing dot."""
    text = host.strip().lower()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


# -- the application ------------------------------------------------------------------------


Endpoint = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    # the rest of the body is never read: the connection closes after the answer
    headers = {"Connection": "close"} if status in (413, 503) else None
    return JSONResponse({"error": _scrubbed(message)}, status_code=status, headers=headers)


_OBJECT_REPR = re.compile(r"<[^<>\n]* at 0x[0-9a-fA-F]+>")


def _scrubbed(message: str) -> str:
    """``message`` on one line, with object reprs (memory addresses) and the name of an
    upload's bytes replaced by "the upload"."""
    text = _OBJECT_REPR.sub("the upload", message).replace("<bytes>", "the upload")
    return " ".join(text.split())


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
        except (ClientDisconnect, ClientGone):
            return _error(400, "the client went away before the answer was ready")
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return _error(500, "internal error; the server log has the details")

    return wrapper


def create_app(service: LayoutService, trainer: Trainer | None = None) -> ASGIApp:
    """The ASGI application serving ``service`` (run it with uvicorn, see
    :func:`layoutft.serving.server.uvicorn_config`, or test it in process); its limits and
    access rules are ``service.settings``. ``trainer``: fine-tunes from Label Studio on
    ``/webhook`` and ``/train`` (None: they answer that this server does not train).
    Asynchronous ``/parse`` jobs run in the queue ``app.state.jobs`` of the returned
    application's inner Starlette app (:class:`~layoutft.serving.jobs.JobQueue`)."""
    settings = service.settings
    limiters: dict[str, anyio.CapacityLimiter] = {}

    def run_job(upload: Path, options: ParseOptions, progress: Progress) -> Document:
        # no place in the request queue: the job waits for the model lock in its own thread
        return service.parse(upload.read_bytes(), options, sinks=[progress])

    jobs = JobQueue(run_job, settings.max_jobs, settings.job_ttl_s)

    def limiter(name: str, size: int) -> anyio.CapacityLimiter:
        # worker threads of their own: downloads never hold the threads parsing needs
        if name not in limiters:
            limiters[name] = anyio.CapacityLimiter(size)
        return limiters[name]

    async def run_parse(
        upload: bytes | IO[bytes],
        options: ParseOptions,
        gone: threading.Event,
        sinks: Sequence[ResultSink] = (),
    ) -> Document:
        with service.slot():
            return await anyio.to_thread.run_sync(
                service.parse,
                upload,
                options,
                gone,
                None,
                sinks,
                limiter=limiter("parse", settings.max_queue),
            )

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
        async with _received_upload(request) as (upload, fields, filename):
            asked = [v.strip().lower() for k, v in fields if k == "async"]
            fields = [(k, v) for k, v in fields if k != "async"]
            fmt, fields = request_format(fields, settings.format)
            limits = RequestLimits(service.options.max_pixels)
            options = request_options(service.options, fields, limits)
            if asked and asked[-1] in _TRUE:
                if fmt != "json":
                    raise ServeError(
                        f"format {fmt} needs a synchronous request (async jobs answer the "
                        "JSON document): leave out async or ask format=json"
                    )
                job = jobs.submit(upload, options)
                answer = {"job": job.describe(settings.job_ttl_s), "url": f"/jobs/{job.id}"}
                return JSONResponse(answer, status_code=202)
            if fmt != "json":
                return await parse_to_file(request, upload, options, fmt, filename)
            document = await _while_connected(
                request, lambda gone: run_parse(upload, options, gone)
            )
        return JSONResponse(document.to_dict())

    async def parse_to_file(
        request: Request, upload: IO[bytes], options: ParseOptions, fmt: str, filename: str
    ) -> Response:
        # written by the format's sink into a temporary folder, answered as its file (or a
        # zip of the folder); the folder goes once the answer is sent or the request fails
        bundle = ResultBundle(fmt, filename, shape=settings.shape)
        try:
            await _while_connected(
                request, lambda gone: run_parse(upload, options, gone, [bundle.sink])
            )
            path, media_type, name = await anyio.to_thread.run_sync(bundle.finish)
        except BaseException:
            bundle.close()
            raise
        return _TemporaryFileResponse(path, media_type, name, bundle.close)

    async def job_status(request: Request) -> Response:
        return JSONResponse(jobs.get(str(request.path_params["job_id"])).describe(jobs.ttl_s))

    def project_of(payload: dict[str, Any]) -> str | None:
        value = payload.get("project")
        return None if value is None or value == "" else project_id(value)

    async def setup(request: Request) -> Response:
        payload = await _json_object(request)
        parse_label_config(payload.get("schema") or payload.get("label_config"))
        return JSONResponse({"model_version": service.version_of(project_of(payload))})

    async def predict(request: Request) -> Response:
        payload = await _json_object(request)
        tasks = payload.get("tasks")
        if not isinstance(tasks, list):
            raise ServeError('the request needs "tasks": a list of Label Studio tasks')
        controls = parse_label_config(payload.get("label_config"))
        options = service.options.replace(pages="1")  # a task is one image (a PDF: page 1)
        project = project_of(payload)

        async def run_task(image: IO[bytes], gone: threading.Event) -> tuple[Document, str]:
            with service.slot():
                return await anyio.to_thread.run_sync(
                    service.parse_served,
                    image,
                    options,
                    gone,
                    project,
                    limiter=limiter("parse", settings.max_queue),
                )

        async def predictions(gone: threading.Event) -> list[dict[str, Any]]:
            async def document_of(task: Any) -> tuple[Document, str]:
                url = task_image(task, controls)
                with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as image:
                    await anyio.to_thread.run_sync(
                        settings.fetch.fetch_to,
                        url,
                        image,
                        gone,
                        limiter=limiter("fetch", settings.max_downloads),
                    )
                    if gone.is_set():
                        raise ClientGone()
                    return await run_task(image, gone)

            version = service.version_of(project)
            return await predict_tasks(tasks, controls, document_of, version, settings.shape)

        results = await _while_connected(request, predictions)
        return JSONResponse({"results": results})

    async def versions(request: Request) -> Response:
        return JSONResponse({"versions": [service.model_version]})

    async def training(request: Request) -> Response:
        payload = await _json_object(request)
        if trainer is None:
            return JSONResponse({"status": "ignored", "detail": _TRAINING_NOTE})
        action = payload.get("action")
        if request.url.path == "/train" and action is None:
            action = "START_TRAINING"  # Label Studio's older /train call
        if action not in TRAIN_ACTIONS:
            return JSONResponse({"status": "ignored", "detail": f"nothing to do for {action!r}"})
        answer = await anyio.to_thread.run_sync(trainer.request, payload.get("project"), action)
        return JSONResponse(answer, status_code=201 if answer["status"] == "started" else 200)

    async def training_status(request: Request) -> Response:
        if trainer is None:
            return JSONResponse({"status": "ignored", "detail": _TRAINING_NOTE})
        project = request.query_params.get("project")
        return JSONResponse(await anyio.to_thread.run_sync(trainer.status, project))

    routes = [
        Route("/", _json_errors(health), methods=["GET"]),
        Route("/health", _json_errors(health), methods=["GET"]),
        Route("/parse", _json_errors(parse), methods=["POST"]),
        Route("/setup", _json_errors(setup), methods=["POST"]),
        Route("/predict", _json_errors(predict), methods=["POST"]),
        Route("/versions", _json_errors(versions), methods=["GET"]),
        Route("/webhook", _json_errors(training), methods=["POST"]),
        Route("/train", _json_errors(training), methods=["POST"]),
        Route("/train/status", _json_errors(training_status), methods=["GET"]),
        Route("/jobs/{job_id}", _json_errors(job_status), methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _error(status, f"{request.method} {request.url.path}: {_reason(status)}")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.jobs = jobs
    return Gate(BodyLimit(app, settings.max_upload_bytes), settings)


def _reason(status: int) -> str:
    return "no such endpoint" if status == 404 else "method not allowed"


async def _while_connected(request: Request, work: Callable[[threading.Event], Awaitable[T]]) -> T:
    """``await work(gone)`` while the client stays: once it goes away the work is cancelled
    (a worker thread already running finishes first), ``gone`` is set (downloads watch it
    and stop) and ClientGone is raised. For use after the whole body was read."""
    gone = threading.Event()
    outcome: list[tuple[bool, Any]] = []

    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass
            gone.set()
            group.cancel_scope.cancel()

        async def run() -> None:
            try:  # kept, not raised here: a task group would wrap it in an ExceptionGroup
                outcome.append((True, await work(gone)))
            except Exception as exc:
                outcome.append((False, exc))
            finally:
                group.cancel_scope.cancel()

        group.start_soon(watch)
        group.start_soon(run)
    if not outcome:
        raise ClientGone()
    done, value = outcome[0]
    if not done:
        raise value
    result: T = value
    return result


class _TemporaryFileResponse(FileResponse):
    """The file at ``path`` as an attachment named ``filename``; ``cleanup()`` runs once it
    is sent, or when sending it failed (the client went away)."""

    def __init__(
        self, path: Path, media_type: str, filename: str, cleanup: Callable[[], None]
    ) -> None:
        super().__init__(path, media_type=media_type, filename=filename)
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:  # not in a worker thread: it must run even when the request is cancelled
            self.cleanup()


@asynccontextmanager
async def _received_upload(
    request: Request,
) -> AsyncIterator[tuple[IO[bytes], list[tuple[str, str]], str]]:
    """The uploaded file (spooled: at most :data:`SPOOL_BYTES` in memory, the rest in a
    temporary file), the option fields (query, then form fields) and the file name the
    client gave (the multipart file's; ``""`` for a raw body)."""
    fields = list(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        # Starlette spools file parts to temporary files the same way
        form = await request.form(max_files=1, max_fields=64, max_part_size=64 * 1024)
        try:
            upload: IO[bytes] | None = None
            filename = ""
            for name, value in form.multi_items():
                if isinstance(value, str):
                    fields.append((name, value))
                elif name == "file":
                    upload, filename = value.file, value.filename or ""
                else:
                    raise ServeError(f"unexpected file field {name!r}; send the file as 'file'")
            if upload is None:
                raise ServeError("no file: send the PDF or image as the multipart field 'file'")
            _check_not_empty(upload)
            yield upload, fields, filename
        finally:
            await form.close()
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        _check_not_empty(spool)
        yield spool, fields, ""


def _check_not_empty(upload: IO[bytes]) -> None:
    upload.seek(0, 2)
    if upload.tell() == 0:
        raise ServeError(
            "no file: send a PDF or image as the multipart field 'file' or as the request body"
        )


def _require_json(request: Request) -> None:
    """ServeError 415 unless the request says its body is JSON (a form a web page posts
    cannot say so without the browser asking first)."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ServeError(
            f"{request.url.path} takes JSON: send it with Content-Type: application/json",
            status=415,
        )


async def _json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; ServeError 415 for another content type, 400 for
    a body that is not a JSON object."""
    _require_json(request)
    body = await request.body()
    try:
        text = body.decode("utf-8")
        payload = loads_json(text, "the request body") if text.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ServeError("the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ServeError("the request body must be a JSON object")
    return payload
