"""`layoutft parse`: PDFs and page images to layout JSON."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from layoutft.cli.app import OVERRIDES_CONTEXT, check_options, command
from layoutft.errors import LayoutftError

_CONFIG_KEY = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")


def split_overrides(args: list[str]) -> tuple[list[str], list[str]]:
    """Split positional arguments into inputs and trailing ``KEY VALUE`` config overrides.

    Overrides start at the first argument that looks like a config key
    (``MODEL.ROI_HEADS.SCORE_THRESH_TEST``) and is not an existing path.
    """
    for i, arg in enumerate(args):
        if _CONFIG_KEY.match(arg) and not Path(arg).exists():
            inputs, overrides = args[:i], args[i:]
            if len(overrides) % 2:
                raise LayoutftError(
                    f"config overrides must be KEY VALUE pairs; {overrides[-1]!r} has no value"
                )
            return inputs, overrides
    return args, []


@command("parse", context_settings=OVERRIDES_CONTEXT)
def parse_cmd(
    args: list[str] = typer.Argument(
        ...,
        metavar="INPUT... [KEY VALUE ...]",
        help="PDFs, images (PNG/JPEG/TIFF) or folders of them, then optional config overrides.",
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Output file (one input) or folder (several inputs)."
    ),
    weights: str | None = typer.Option(
        None,
        help="Weights file (.pth/.pkl/layoutft) or registry name (layoutft weights list); "
        "default: the bundled model.",
    ),
    config: Path | None = typer.Option(None, help="detectron2 YAML config of the weights."),
    labels: str | None = typer.Option(
        None,
        help="Class names in model order, comma-separated, for checkpoints without names "
        "(detectron2's), e.g. text,title,list,table,figure.",
    ),
    dpi: float = typer.Option(200, help="PDF rendering resolution."),
    pages: str | None = typer.Option(None, help="1-based pages, e.g. '1-3,7' or '5-'."),
    batch_size: int | None = typer.Option(
        None, help="Pages per forward pass (default: 1 on CPU, 4 on GPU)."
    ),
    workers: int | None = typer.Option(
        None,
        help="Pages predicted at once on CPU; the same detections as one at a time "
        "(default: 2 on a multi-core CPU without --batch-size, else 1).",
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    backend: str = typer.Option(
        "auto",
        help="onnx (onnxruntime on the CPU: the base install, no torch), torch, or auto: "
        "torch for a torch checkpoint (.pth/.pkl), CUDA or config overrides when torch is "
        "installed, else ONNX (the bundled model and .onnx files from layoutft export).",
    ),
    precision: str = typer.Option(
        "fp32",
        help="Convolution precision: fp32 (detectron2's detections), bf16 (faster on CPUs "
        "with AMX and on GPUs; approximate: scores move by a few hundredths, regions near "
        "the threshold can change) or fp16 (CUDA only).",
    ),
    renderer: str = typer.Option("pymupdf", help="pymupdf or pdf2image (poppler)."),
    format: str = typer.Option(
        "json",
        "--format",
        help="json, jsonl (a line per page), coco (results), or with page images beside the "
        "file (needs -o): labelstudio (tasks with predictions), cvat (CVAT for images 1.1), "
        "coco-dataset, pagexml (PAGE 2019, a file per page, and a METS file: -o DOC.mets.xml), "
        "alto (ALTO 4, likewise) or hocr (-o DOC.hocr).",
    ),
    shape: str = typer.Option(
        "rect",
        "--shape",
        help="--format labelstudio/cvat/coco-dataset: region shape: rect (each region's box), "
        "polygon (its mask outline, else its box's corners) or auto (an outline where it is "
        "not the box).",
    ),
    xml_labels: Path | None = typer.Option(
        None,
        "--xml-labels",
        help="--format pagexml/alto/hocr: YAML mapping labels to PAGE region types, ALTO "
        "blocks and hOCR classes (overrides the built-in map; docs/ocr-pipelines.md).",
    ),
    no_text: bool = typer.Option(False, "--no-text", help="Do not read the PDF text layer."),
    visualize: Path | None = typer.Option(
        None, help="Folder for page PNGs with regions drawn and an annotated PDF copy."
    ),
    view: Path | None = typer.Option(
        None, help="Folder for an HTML viewer of the results (index.html; see layoutft view)."
    ),
    postprocess: str = typer.Option("default", help="default, or none for raw detections."),
    score_threshold: str | None = typer.Option(
        None,
        help="Minimum score: 0.6, or per class: table=0.7,figure=0.5 (default: the config's "
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST if it sets one, else 0.5).",
    ),
    max_pixels: int = typer.Option(50_000_000, help="Cap on page image width*height."),
    image_dpi: float = typer.Option(72, help="DPI of images whose metadata has none."),
    labels_view: str = typer.Option(
        "native",
        help="native (the model's classes) or publaynet (a DocLayNet model's regions in "
        "PubLayNet's five classes: page heads/feet dropped, neighbouring list items merged).",
    ),
    cover_words: str = typer.Option(
        "off",
        help="auto: text-layer words outside every region become text regions marked "
        '"origin": "text-layer" (PDFs with a text layer); off: detections only.',
    ),
    ocr: str = typer.Option(
        "never",
        help="OCR with Tesseract: auto (regions without text-layer text: every region of an "
        "image or a scanned page), always, never. Words with boxes and confidences go to the "
        "JSON (words) and the XML formats (pip install 'layoutft[ocr]'; apt tesseract-ocr).",
    ),
    ocr_lang: str = typer.Option(
        "eng", help="Tesseract language(s) for --ocr, e.g. eng or deu+eng (its language packs)."
    ),
    allow_partial: bool = typer.Option(
        False,
        "--allow-partial",
        help="Load a checkpoint that lacks some of the model's parameters (they keep random "
        "values); without it that is an error.",
    ),
    strict: bool = typer.Option(
        False,
        "--strict/--keep-going",
        help="--strict: stop after the first input with a failed page or file; --keep-going "
        "(default): parse every input. Either way the exit status is 1 when anything failed.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    include: list[str] | None = typer.Option(
        None,
        "--include",
        help="Corpus runs: parse only the files in folders matching this glob (repeatable; "
        "without / it matches the file name, with / the path below the corpus root).",
    ),
    exclude: list[str] | None = typer.Option(
        None,
        "--exclude",
        help="Corpus runs: leave out files in folders matching this glob (repeatable; without "
        "/ it matches the file name or any folder name on its path).",
    ),
    retry_failed: bool = typer.Option(
        False,
        "--retry-failed",
        help="Corpus runs: parse again the inputs that failed in an earlier run (default: "
        "skip them, and count them in the summary and the exit status).",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Corpus runs: accept an output folder made with another model or other options; "
        "every file is parsed again with the new ones. One input: replace an -o FILE that is "
        "not an earlier result of that input.",
    ),
    engine: str = typer.Option(
        "local",
        help="Corpus runs: local (this process) or ray (render tasks and model actors on a Ray "
        "cluster; pip install 'layoutft[ray]'). The same files and manifest either way.",
    ),
    address: str | None = typer.Option(
        None,
        help="--engine ray: the cluster to join (auto, HOST:PORT of its head, ray://HOST:PORT); "
        "default: a Ray started on this machine for the run.",
    ),
    ray_workers: int | None = typer.Option(
        None,
        help="--engine ray: model actors, each loading the model once (default: one per "
        "--gpus-per-worker of the cluster's GPUs, else one per CPU less one for rendering).",
    ),
    gpus_per_worker: float = typer.Option(
        0.0, help="--engine ray: GPUs per model actor (0: CPU; 0.5: two actors per GPU)."
    ),
) -> None:
    """Detect layout regions and write layout JSON (stdout for one input without -o).

    With -o DIR and a folder or several inputs this is a resumable corpus run: folders are
    searched recursively, outputs mirror the input tree, and DIR/layoutft-manifest.jsonl
    records every input, so the same command run again parses only what is left (see
    `layoutft status DIR`).

    Prints the model used, one line per failed input or page and a summary on stderr; exits
    with status 1 when any input or page failed.
    """
    from layoutft.errors import RenderError
    from layoutft.outputs import check_writable, refuse_input_folders
    from layoutft.parsing.parser import ParseOptions, Parser, load_model, model_display_name
    from layoutft.parsing.preannotations import check_shape
    from layoutft.parsing.results import (
        check_format,
        output_folders,
        output_path,
        refuse_unrelated,
        result_sink,
    )
    from layoutft.parsing.viewer import Viewer
    from layoutft.render import expand_inputs

    check_options(args)
    inputs, overrides = split_overrides(args)
    if not inputs:
        raise LayoutftError("no INPUT given: pass PDFs, images or folders")
    check_format(format)
    _check_engine(engine, address, ray_workers, gpus_per_worker)
    xml_map = _xml_labels(xml_labels, format)
    check_shape(shape)
    if is_corpus_run(inputs, output):
        if xml_labels is not None:
            raise LayoutftError("--xml-labels is for one input with -o FILE, not corpus runs")
        assert output is not None
        _parse_corpus(
            inputs,
            overrides,
            output,
            CorpusFlags(
                weights=weights,
                config=config,
                labels=labels,
                device=device,
                allow_partial=allow_partial,
                format=format,
                shape=shape,
                backend=backend,
                visualize=visualize,
                view=view,
                include=include or [],
                exclude=exclude or [],
                retry_failed=retry_failed,
                overwrite=overwrite,
                strict=strict,
                quiet=quiet,
                engine=engine,
                address=address,
                ray_workers=ray_workers,
                gpus_per_worker=gpus_per_worker,
            ),
            ParseOptions(
                dpi=dpi,
                pages=pages,
                batch_size=batch_size,
                workers=workers,
                precision=precision,
                renderer=renderer,
                text=not no_text,
                postprocess=postprocess,
                score_threshold=score_threshold,
                max_pixels=max_pixels,
                image_dpi=image_dpi,
                progress=False,
                labels_view=labels_view,
                cover_words=cover_words,
                ocr=ocr,
                ocr_lang=ocr_lang,
            ),
        )
        return
    corpus_flags = [
        name
        for name, given in (
            ("--include", include),
            ("--exclude", exclude),
            ("--retry-failed", retry_failed),
            ("--engine ray", engine == "ray"),
        )
        if given
    ]
    if corpus_flags:
        raise LayoutftError(
            f"{corpus_flags[0]} is for corpus runs: pass a folder or several inputs with -o DIR"
        )
    files = expand_inputs(inputs)
    many = len(files) > 1 or any(Path(p).is_dir() for p in inputs)
    dest = output_path(files, output, format, many)
    refuse_input_folders(output_folders(dest, format, visualize, view, corpus=False), inputs)
    if dest is not None:
        refuse_unrelated(dest, files[0], format, overwrite)
    check_writable([] if dest is None else [dest.parent])
    if visualize is not None:
        check_writable([visualize], "--visualize")
    if view is not None:
        check_writable([view], "--view")
    options = ParseOptions(
        dpi=dpi,
        pages=pages,
        batch_size=batch_size,
        workers=workers,
        precision=precision,
        renderer=renderer,
        text=not no_text,
        postprocess=postprocess,
        score_threshold=score_threshold,
        max_pixels=max_pixels,
        image_dpi=image_dpi,
        visualize=visualize,
        progress=not quiet,
        labels_view=labels_view,
        cover_words=cover_words,
        ocr=ocr,
        ocr_lang=ocr_lang,
    )
    names = None if labels is None else [n.strip() for n in labels.split(",") if n.strip()]
    model = load_model(
        weights, config, overrides, device, names, allow_partial=allow_partial, backend=backend
    )
    parser = Parser(model, options, model_name=model_display_name(weights))
    shown = parser.model_name if weights is None or parser.model_name == weights else weights
    typer.echo(f"model: {shown} ({len(parser.labels)} labels{backend_of(model)})", err=True)
    tally = _Tally()
    viewer = None if view is None else Viewer(view)
    for path in files:
        try:
            sink = result_sink(dest, format, xml_map, shape)
            sinks = [sink] + ([viewer.sink()] if viewer else [])
            document = parser.run(path, sinks)
        except RenderError as exc:
            tally.failed_inputs += 1
            typer.echo(f"Error: {exc}", err=True)
        else:
            tally.add(document)
            for page in document.failed_pages:
                typer.echo(f"Error: {path} page {page.number}: {page.error}", err=True)
        if strict and tally.failures:
            break
    if viewer is not None:
        typer.echo(f"viewer: {viewer.write()}", err=True)
    where = "stdout" if dest is None else str(output)
    typer.echo(tally.summary(len(files), where, stopped=strict and tally.failures > 0), err=True)
    if tally.failures:
        raise typer.Exit(1)


def _xml_labels(path: Path | None, fmt: str) -> Any:
    """The XML label maps of ``--xml-labels`` (None without it); one-line errors."""
    if path is None:
        return None
    from layoutft.formats.types import load_xml_labels
    from layoutft.parsing.results import XML_FORMATS

    if fmt not in XML_FORMATS:
        raise LayoutftError("--xml-labels is for --format pagexml, alto or hocr")
    return load_xml_labels(path)


class _Tally:
    """Counts of one parse run for its summary line."""

    def __init__(self) -> None:
        self.files = self.pages = self.regions = 0
        self.failed_inputs = self.failed_pages = 0

    def add(self, document: Any) -> None:
        self.files += 1
        self.pages += len(document.pages)
        self.regions += sum(len(page.regions) for page in document.pages)
        self.failed_pages += len(document.failed_pages)

    @property
    def failures(self) -> int:
        return self.failed_inputs + self.failed_pages

    def summary(self, total_files: int, where: str, stopped: bool) -> str:
        parsed = f"{self.files} of {total_files}" if self.files != total_files else f"{self.files}"
        text = (
            f"parsed {parsed} file{'s' if total_files != 1 else ''}, {self.pages} pages, "
            f"{self.regions} regions, {self.failures} failure{'s' if self.failures != 1 else ''}"
        )
        details = []
        if self.failed_inputs:
            details.append(f"{self.failed_inputs} of {total_files} inputs failed")
        if self.failed_pages:
            details.append(f"{self.failed_pages} of {self.pages} pages failed")
        if stopped:
            details.append("stopped at the first failure (--strict)")
        if details:
            text += f" ({'; '.join(details)})"
        return f"{text} -> {where}"


def backend_of(model: Any) -> str:
    """``", onnx"`` or ``", torch"``: the backend a loaded detector runs on ("" for other
    detectors)."""
    backend = getattr(model, "backend", None)
    return f", {backend}" if isinstance(backend, str) else ""


def is_corpus_run(inputs: list[str], output: Path | None) -> bool:
    """A run into a folder: ``-o DIR`` with a folder input or several inputs, or ``-o`` an
    existing folder or ending in ``/``. One input to stdout or ``-o FILE`` is not."""
    if output is None:
        return False
    into_folder = output.is_dir() or str(output).endswith(("/", os.sep))
    return into_folder or len(inputs) > 1 or any(Path(p).is_dir() for p in inputs)


@dataclass(frozen=True)
class CorpusFlags:
    """The flags of `layoutft parse` a corpus run uses besides its ParseOptions."""

    weights: str | None
    config: Path | None
    labels: str | None
    device: str
    allow_partial: bool
    format: str
    visualize: Path | None
    view: Path | None
    include: list[str]
    exclude: list[str]
    retry_failed: bool
    overwrite: bool
    strict: bool
    quiet: bool
    engine: str = "local"
    backend: str = "auto"
    address: str | None = None
    ray_workers: int | None = None
    gpus_per_worker: float = 0.0
    shape: str = "rect"


def _output_options(options: Any, flags: CorpusFlags) -> dict[str, Any]:
    """The manifest's output options; ``shape`` only when not the default (rect), so the
    runs made before --shape existed keep their fingerprint."""
    from layoutft.corpus import output_options

    values = output_options(options, flags.format)
    return values if flags.shape == "rect" else {**values, "shape": flags.shape}


def _parse_corpus(
    inputs: list[str], overrides: list[str], out: Path, flags: CorpusFlags, options: Any
) -> None:
    """`layoutft parse INPUT... -o DIR`: the resumable corpus run (layoutft.corpus)."""
    from layoutft.corpus import (
        Manifest,
        RunRecord,
        corpus_root,
        model_identity,
        plan_corpus,
        run_corpus,
    )
    from layoutft.outputs import check_writable, refuse_input_folders
    from layoutft.parsing.parser import Parser, load_model, model_display_name
    from layoutft.parsing.results import output_folders, output_suffix
    from layoutft.parsing.viewer import Viewer
    from layoutft.parsing.visualize import VisualizationSink
    from layoutft.render import resolve_source
    from layoutft.schema import Document

    written = [p for p in (flags.visualize, flags.view) if p is not None]
    refuse_input_folders(
        output_folders(out, flags.format, flags.visualize, flags.view, corpus=True), inputs
    )
    items = plan_corpus(inputs, out, flags.include, flags.exclude, flags.format, skip=written)
    check_writable([out])
    if flags.visualize is not None:
        check_writable([flags.visualize], "--visualize")
    if flags.view is not None:
        check_writable([flags.view], "--view")
    if not flags.overwrite:  # options first: before the model loads
        Manifest(out).check(None, _output_options(options, flags), corpus_root(inputs))
    weights = flags.weights
    names = (
        None if flags.labels is None else [n.strip() for n in flags.labels.split(",") if n.strip()]
    )
    ray_engine = None
    if flags.engine == "ray":  # the model loads on the cluster's workers, not here
        ray_engine = _ray_engine(flags, overrides, names, options)
        parser = ray_engine.parser
    else:
        model = load_model(
            weights,
            flags.config,
            overrides,
            flags.device,
            names,
            allow_partial=flags.allow_partial,
            backend=flags.backend,
        )
        parser = Parser(model, options, model_name=model_display_name(weights))
    shown = parser.model_name if weights is None or parser.model_name == weights else weights
    typer.echo(f"model: {shown} ({len(parser.labels)} labels)", err=True)
    if ray_engine is not None:
        typer.echo(f"ray: {ray_engine.describe()}", err=True)
    identity = model_identity(parser.model_name, parser.labels, weights, flags.config, overrides)
    run = RunRecord.create(
        identity, _output_options(options, flags), corpus_root(inputs), inputs, len(items)
    )
    viewer = None if flags.view is None else Viewer(flags.view)
    readable = flags.format in ("json", "jsonl")
    unviewed = 0

    def extra_sinks(item: Any) -> list[Any]:
        sinks: list[Any] = []
        if flags.visualize is not None:
            folder = flags.visualize / Path(item.output).parent
            # the result's name without its suffix: ``x.pdf``/``x.png`` when both are inputs
            stem = Path(item.output).name[: -len(output_suffix(flags.format))]
            sinks.append(VisualizationSink(folder, resolve_source(item.path), stem))
        if viewer is not None:
            sinks.append(viewer.sink())
        return sinks

    bar = _FilesProgress(len(items), not flags.quiet)

    def on_parsed(item: Any, entry: Any) -> None:
        bar.update(entry.pages)
        if entry.error is not None:
            where = str(item.path)
            line = entry.error if entry.error.startswith(where) else f"{where}: {entry.error}"
            bar.write(f"Error: {line}")

    def on_skipped(item: Any, state: str) -> None:
        nonlocal unviewed
        bar.update(0)
        result = out / item.output
        if viewer is None or not result.is_file():  # done, or failed with pages written
            return
        if not readable:
            unviewed += 1
            return
        try:
            viewer.add(Document.from_json(result), results=result)
        except (LayoutftError, ValueError, KeyError, TypeError) as exc:  # edited by hand
            # since: the run goes on without it
            bar.write(f"viewer: left out {result}: {exc}")

    try:
        settings: dict[str, Any] = {
            "retry_failed": flags.retry_failed,
            "overwrite": flags.overwrite,
            "strict": flags.strict,
            "extra_sinks": extra_sinks,
            "on_parsed": on_parsed,
            "on_skipped": on_skipped,
        }
        if ray_engine is None:
            summary = run_corpus(parser, items, out, run, **settings)
        else:
            drawn = flags.visualize is not None or flags.view is not None
            summary = ray_engine.run_corpus(items, out, run, keep_images=drawn, **settings)
    finally:
        bar.close()
        if ray_engine is not None:
            ray_engine.__exit__(None, None, None)
    if ray_engine is not None and ray_engine.nodes_used:
        count = len(ray_engine.nodes_used)
        typer.echo(f"ray: pages parsed on {count} {'node' if count == 1 else 'nodes'}", err=True)
    if viewer is not None:
        if unviewed:
            typer.echo(
                f"viewer: {unviewed} files done earlier are not in it (--format "
                f"{flags.format} cannot be read back; layoutft view reads json and jsonl)",
                err=True,
            )
        typer.echo(f"viewer: {viewer.write()}", err=True)
    typer.echo(summary.line(out), err=True)
    if not summary.ok:
        raise typer.Exit(1)


ENGINES = ("local", "ray")


def _check_engine(
    engine: str, address: str | None, ray_workers: int | None, gpus_per_worker: float
) -> None:
    """One-line errors for --engine and the flags that need --engine ray."""
    from layoutft.parsing.options import check_choice

    check_choice("engine", engine, ENGINES)
    if engine == "ray":
        return
    given = [
        name
        for name, value in (
            ("--address", address is not None),
            ("--ray-workers", ray_workers is not None),
            ("--gpus-per-worker", gpus_per_worker != 0),
        )
        if value
    ]
    if given:
        raise LayoutftError(f"{given[0]} is for --engine ray; add --engine ray or drop it")


def _ray_engine(
    flags: CorpusFlags, overrides: list[str], names: list[str] | None, options: Any
) -> Any:
    """The started :class:`layoutft.distributed.RayEngine` of a corpus run (the caller
    leaves it)."""
    from layoutft.distributed import ModelSpec, RayEngine, RayOptions

    spec = ModelSpec(
        weights=flags.weights,
        config=None if flags.config is None else str(flags.config),
        overrides=tuple(overrides),
        labels=None if names is None else tuple(names),
        allow_partial=flags.allow_partial,
        device=flags.device,
        backend=flags.backend,
    )
    cluster = RayOptions(
        address=flags.address,
        ray_workers=flags.ray_workers,
        gpus_per_worker=flags.gpus_per_worker,
    )
    return RayEngine(spec, options, cluster).__enter__()


class _FilesProgress:
    """Progress of a corpus run on stderr, unless --quiet: a bar over the files on a
    terminal, else (a log file) a line at most every :attr:`every` seconds."""

    every = 60.0

    def __init__(self, total: int, enabled: bool) -> None:
        import time

        from tqdm import tqdm

        self.total, self.files, self.pages = total, 0, 0
        self.start = self.last = time.monotonic()
        self.log = enabled and not sys.stderr.isatty()
        show = enabled and sys.stderr.isatty()
        self.bar = tqdm(total=total, unit="file", file=sys.stderr, disable=not show)

    def update(self, pages: int) -> None:
        """One more file done (``pages`` parsed; 0 when skipped)."""
        import time

        self.files += 1
        self.pages += pages
        self.bar.update(1)
        now = time.monotonic()
        if self.log and now - self.last >= self.every:
            self.last = now
            rate = self.pages / (now - self.start)
            typer.echo(
                f"progress: {self.files} of {self.total} files, {self.pages} pages parsed, "
                f"{rate:.2f} pages/s",
                err=True,
            )

    def write(self, line: str) -> None:
        """A line on stderr that does not break the bar."""
        self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()
