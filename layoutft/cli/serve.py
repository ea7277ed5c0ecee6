"""`layoutft serve`: an HTTP service that keeps the model loaded (POST /parse, Label Studio's
ML backend endpoints); see layoutft.serving and docs/serving.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from layoutft.cli.app import OVERRIDES_CONTEXT, check_options, command
from layoutft.cli.parse import split_overrides
from layoutft.errors import LayoutftError

INSTALL_HINT = "layoutft serve needs the serve extra: pip install 'layoutft[serve]'"


def check_serve_extra() -> None:
    """LayoutftError with the install command when starlette, uvicorn or python-multipart
    is missing."""
    import importlib.util

    missing = [
        name
        for name in ("starlette", "uvicorn", "multipart")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise LayoutftError(f"{INSTALL_HINT} ({', '.join(missing)} missing)")


@command("serve", context_settings=OVERRIDES_CONTEXT)
def serve_cmd(
    overrides_args: list[str] = typer.Argument(
        None, metavar="[KEY VALUE ...]", help="Config overrides, as for layoutft parse."
    ),
    weights: str | None = typer.Option(
        None, help="Weights file or registry name (layoutft weights list); default: bundled."
    ),
    config: Path | None = typer.Option(None, help="detectron2 YAML config of the weights."),
    labels: str | None = typer.Option(
        None, help="Class names in model order, comma-separated (detectron2 checkpoints)."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    backend: str = typer.Option(
        "auto", help="onnx, torch or auto (as `layoutft parse --backend`)."
    ),
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on (0.0.0.0: every interface; see the docs)."
    ),
    port: int = typer.Option(9090, help="Port to listen on (Label Studio's ML default)."),
    dpi: float | None = typer.Option(
        None,
        help="PDF rendering resolution of a request that sets none (default: the model's "
        "training dpi, 200 for most).",
    ),
    renderer: str = typer.Option("pymupdf", help="pymupdf or pdf2image (poppler)."),
    no_text: bool = typer.Option(False, "--no-text", help="Do not read the PDF text layer."),
    postprocess: str = typer.Option("default", help="default, or none for raw detections."),
    score_threshold: str | None = typer.Option(
        None, help="Minimum score: 0.6, or per class: table=0.7,figure=0.5."
    ),
    max_pixels: int = typer.Option(
        50_000_000, help="Cap on page image width*height (a request may only lower it)."
    ),
    image_dpi: float = typer.Option(72, help="DPI of images whose metadata has none."),
    labels_view: str = typer.Option(
        "native", help="native or publaynet (a DocLayNet model in PubLayNet's classes)."
    ),
    cover_words: str = typer.Option(
        "off", help="auto: text-layer words outside every region become text regions."
    ),
    batch_size: int | None = typer.Option(None, help="Pages per forward pass."),
    workers: int | None = typer.Option(None, help="Pages predicted at once on CPU."),
    precision: str = typer.Option("fp32", help="fp32, bf16 or fp16 (CUDA)."),
    allow_partial: bool = typer.Option(
        False, "--allow-partial", help="Load a checkpoint that lacks some parameters."
    ),
    max_upload_mb: float = typer.Option(
        50, help="Largest request body and task image, in MB (larger: 413)."
    ),
    max_pages: int = typer.Option(100, help="Most pages one /parse request may select."),
    max_queue: int = typer.Option(
        16, help="Requests that may wait for the model at once; more get 503."
    ),
    files_root: Path | None = typer.Option(
        None,
        help="Folder that Label Studio tasks may name local files (paths, file:// URLs) in; "
        "default: local files are refused.",
    ),
    label_studio_url: str | None = typer.Option(
        None,
        envvar="LABEL_STUDIO_URL",
        help="Label Studio host for task images under /data/ (env LABEL_STUDIO_URL).",
    ),
    label_studio_api_key: str | None = typer.Option(
        None,
        envvar="LABEL_STUDIO_API_KEY",
        show_default=False,
        help="Label Studio API key for those images (env LABEL_STUDIO_API_KEY; prefer the "
        "env var: a command line is visible to other users).",
    ),
    fetch_timeout: float = typer.Option(
        30, help="Seconds for a whole task image download (connecting, redirects, every byte)."
    ),
    fetch_allow_host: list[str] = typer.Option(
        [],
        help="Another host task images may come from (repeatable): NAME, NAME:PORT, an "
        "address, or a pattern for public hosts only (*.example.com, *). Default: only "
        "Label Studio's host.",
    ),
    max_downloads: int = typer.Option(4, help="Task images downloaded at once."),
    allowed_host: list[str] = typer.Option(
        [],
        help="A Host name clients reach this server by (repeatable; localhost and IP "
        "addresses always work; * for any). Other names get 421 (DNS rebinding).",
    ),
    api_token: str | None = typer.Option(
        None,
        envvar="LAYOUTFT_API_TOKEN",
        show_default=False,
        help="Token every request but /health needs, as Authorization: Bearer <token> (env "
        "LAYOUTFT_API_TOKEN; prefer the env var).",
    ),
    basic_auth_user: str | None = typer.Option(
        None,
        envvar="BASIC_AUTH_USER",
        help="User of Label Studio's basic auth for ML backends (env BASIC_AUTH_USER).",
    ),
    basic_auth_pass: str | None = typer.Option(
        None,
        envvar="BASIC_AUTH_PASS",
        show_default=False,
        help="Its password (env BASIC_AUTH_PASS; prefer the env var).",
    ),
    header_timeout: float = typer.Option(
        10, help="Seconds a connection has to send a complete request head."
    ),
    body_timeout: float = typer.Option(300, help="Seconds a request has to send its whole body."),
    max_connections: int = typer.Option(
        256, help="Open connections at most (past it the oldest idle one is closed)."
    ),
    model_version: str | None = typer.Option(
        None, help="model_version of Label Studio predictions (default: the model's name)."
    ),
    shape: str = typer.Option(
        "rect",
        help="Region shape of /predict results (and of /parse format=labelstudio, cvat, "
        "coco-dataset): rect, polygon or auto.",
    ),
    format: str = typer.Option(
        "json",
        "--format",
        help="Output format of /parse answers whose request has no format field: a "
        "layoutft parse --format value (json: the layout JSON; jsonl, coco: that file; the "
        "formats with page images: a zip).",
    ),
    data_dir: Path | None = typer.Option(
        None,
        help="Folder for the models fine-tuned from Label Studio annotations (/webhook, "
        "/train; a manifest per project; a restart serves the last good one). Default: no "
        "training.",
    ),
    train_config: str = typer.Option(
        "finetune_cpu", help="layoutft train config of those fine-tunes (name or YAML)."
    ),
    train_set: list[str] = typer.Option(
        [], help="A config override of those fine-tunes, KEY=VALUE (repeatable)."
    ),
    train_delay: float = typer.Option(
        10, help="Seconds without a new annotation before a fine-tune starts."
    ),
    train_epochs: float | None = typer.Option(
        None,
        help="Passes over the annotated pages per fine-tune (its iterations grow with the "
        "pages); default: the config's SOLVER.MAX_ITER.",
    ),
    max_jobs: int = typer.Option(32, help="Async /parse jobs queued or running; more get 429."),
    job_ttl: float = typer.Option(3600, help="Seconds an async job's result is kept."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Serve the model over HTTP: POST /parse (PDF or image -> layout JSON), GET /health,
    and Label Studio's ML backend endpoints (/setup, /predict) for pre-labelling.

    The model runs one request at a time; the rest wait in a queue (run several processes
    behind a proxy for more). Stop it with Ctrl-C.
    """
    flags = dict(locals())
    check_serve_extra()
    import logging

    import uvicorn

    from layoutft.cli.flags import model_spec, parse_options
    from layoutft.serving import LayoutService, create_app
    from layoutft.serving.server import is_loopback, uvicorn_config

    args = list(overrides_args or [])
    check_options(args)
    inputs, overrides = split_overrides(args)
    if inputs:
        raise LayoutftError(
            f"layoutft serve takes no inputs (got {inputs[0]!r}): POST files to /parse"
        )
    if not max_upload_mb > 0:
        raise LayoutftError(f"--max-upload-mb must be > 0, got {max_upload_mb}")
    if files_root is not None and not files_root.is_dir():
        raise LayoutftError(f"--files-root {files_root}: no such folder")
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise LayoutftError(f"unknown --log-level {log_level!r}; use debug, info, warning or error")
    options = parse_options(flags)
    settings, limits = _serve_settings(flags)
    spec = model_spec(flags, overrides)
    service = LayoutService(spec.load(), options, spec.display_name, settings)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    trainer = _trainer(flags, spec, service, settings.fetch)
    where = settings.fetch.label_studio_url or "not set (LABEL_STUDIO_URL)"
    typer.echo(
        f"model: {service.model_name} ({len(service.labels)} labels); Label Studio: {where}; "
        f"listening on http://{host}:{port}",
        err=True,
    )
    if not is_loopback(host) and not settings.needs_credentials:
        typer.echo(
            f"warning: listening on {host}, beyond this machine, without credentials: anyone "
            "who reaches the port can use the model; set LAYOUTFT_API_TOKEN (or "
            "BASIC_AUTH_USER/BASIC_AUTH_PASS for Label Studio)",
            err=True,
        )
    config_ = uvicorn_config(create_app(service, trainer), host, port, limits, log_level.lower())
    try:
        uvicorn.Server(config_).run()
    finally:
        if trainer is not None:
            trainer.close()


def _trainer(flags: dict[str, Any], spec: Any, service: Any, fetch: Any) -> Any:
    """The fine-tuner of Label Studio annotations (``--data-dir``; None without it), resumed:
    each project's last good model is served again (said on stderr)."""
    from layoutft.pretrained import BUNDLED_MODEL
    from layoutft.serving.training import BaseModel, Trainer, TrainSettings, loading_switch

    if flags["data_dir"] is None:
        return None
    train_set = flags["train_set"]
    if any("=" not in item for item in train_set):
        raise LayoutftError("--train-set takes KEY=VALUE, e.g. SOLVER.MAX_ITER=200")
    pairs = [part for item in train_set for part in item.partition("=")[::2]]
    trainer = Trainer(
        TrainSettings(
            flags["data_dir"],
            config=flags["train_config"],
            overrides=tuple(pairs),
            delay_s=flags["train_delay"],
            epochs=flags["train_epochs"],
            device=flags["device"],
        ),
        fetch,
        BaseModel(spec.weights or BUNDLED_MODEL, spec.config, spec.overrides, spec.labels),
        loading_switch(service.switch, flags["device"]),
    )
    for project in trainer.resume():
        typer.echo(f"project {project}: {service.version_of(project)}", err=True)
    return trainer


def _serve_settings(flags: dict[str, Any]) -> tuple[Any, Any]:
    """The service's :class:`~layoutft.serving.ServeSettings` (limits, task image fetching,
    credentials) and the server's :class:`~layoutft.serving.server.ConnectionLimits`, from
    the flags; one-line errors for pairs that do not fit."""
    from layoutft.serving import FetchSettings, ServeSettings
    from layoutft.serving.server import ConnectionLimits

    max_bytes = int(flags["max_upload_mb"] * 1024 * 1024)
    fetch = FetchSettings.from_env(
        label_studio_url=flags["label_studio_url"],
        api_key=flags["label_studio_api_key"],
        files_root=flags["files_root"],
        max_bytes=max_bytes,
        timeout_s=flags["fetch_timeout"],
        allow_hosts=tuple(flags["fetch_allow_host"]),
    )
    user, password = flags["basic_auth_user"], flags["basic_auth_pass"]
    if (user is None) != (password is None):
        raise LayoutftError("give both --basic-auth-user and --basic-auth-pass, or neither")
    host = flags["host"]
    bind = [] if host in ("0.0.0.0", "::", "") else [host]
    settings = ServeSettings(
        max_upload_bytes=max_bytes,
        max_pages=flags["max_pages"],
        max_queue=flags["max_queue"],
        max_downloads=flags["max_downloads"],
        model_version=flags["model_version"],
        fetch=fetch,
        allowed_hosts=(*bind, *flags["allowed_host"]),
        api_token=flags["api_token"],
        basic_auth=None if user is None else (user, password or ""),
        shape=flags["shape"],
        format=flags["format"],
        max_jobs=flags["max_jobs"],
        job_ttl_s=flags["job_ttl"],
    )
    limits = ConnectionLimits(
        header_timeout=flags["header_timeout"],
        body_timeout=flags["body_timeout"],
        max_connections=flags["max_connections"],
    )
    if limits.max_connections <= (settings.max_requests or 0):
        raise LayoutftError(
            f"--max-connections must be above the {settings.max_requests} requests served at "
            "once (2 x --max-queue + 8), so /health always finds a connection"
        )
    return settings, limits
