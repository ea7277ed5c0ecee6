"""`layoutft parse`: PDFs and page images to layout JSON.

Flags become typed options (``cli/flags.py``) and one library call per mode: one input
(stdout or ``-o FILE``) :func:`layoutft.file_session.parse_files` (the order of its
stderr lines in its docstring), a corpus run (``-o DIR``)
:func:`layoutft.corpus_session.parse_corpus`. Order of reporting on stderr for a corpus
run: the model line (and Ray's workers), then per input in the order the run reports them
(skipped inputs first, then parsed ones, an ``Error:`` line after each that failed) under
the progress bar or its log lines, then Ray's nodes, the viewer's lines, the summary;
exit status 1 unless every planned input is done (see the corpus_session docstring).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from layoutft.cli.app import OVERRIDES_CONTEXT, check_options, command
from layoutft.errors import LayoutftError

if TYPE_CHECKING:
    from layoutft.file_session import FileOptions

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
    dpi: float | None = typer.Option(
        None, help="PDF rendering resolution (default: the model's training dpi, 200 for most)."
    ),
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
    flags = dict(locals())
    from layoutft.corpus_session import check_engine
    from layoutft.file_session import FileOptions
    from layoutft.parsing.preannotations import check_shape
    from layoutft.parsing.results import check_format

    check_options(args)
    inputs, overrides = split_overrides(args)
    if not inputs:
        raise LayoutftError("no INPUT given: pass PDFs, images or folders")
    check_format(format)
    check_engine(engine, address, ray_workers, gpus_per_worker)
    xml_map = _xml_labels(xml_labels, format)
    check_shape(shape)
    if is_corpus_run(inputs, output):
        if xml_labels is not None:
            raise LayoutftError("--xml-labels is for one input with -o FILE, not corpus runs")
        assert output is not None
        _parse_corpus(inputs, output, flags, overrides)
        return
    _refuse_corpus_flags(include, exclude, retry_failed, engine)
    files = FileOptions(output, format, shape, xml_map, visualize, view, overwrite, strict)
    _parse_files(inputs, files, flags, overrides)


def _refuse_corpus_flags(
    include: list[str] | None, exclude: list[str] | None, retry_failed: bool, engine: str
) -> None:
    """One-line error for a corpus-run flag given to a one-input run."""
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


def _parse_files(
    inputs: list[str], files: FileOptions, flags: dict[str, Any], overrides: list[str]
) -> None:
    """`layoutft parse INPUT [-o FILE]` (:func:`layoutft.file_session.parse_files`): the
    result on stdout or in FILE, its summary on stderr, exit status 1 when anything
    failed."""
    from layoutft.cli.flags import model_spec, parse_options
    from layoutft.file_session import parse_files

    options = parse_options(flags, visualize=None, progress=not flags["quiet"])
    summary = parse_files(inputs, model_spec(flags, overrides), options, files, _Echo())
    typer.echo(summary.line(files.output), err=True)
    if not summary.ok:
        raise typer.Exit(1)


def _xml_labels(path: Path | None, fmt: str) -> Any:
    """The XML label maps of ``--xml-labels`` (None without it); one-line errors."""
    if path is None:
        return None
    from layoutft.formats.types import load_xml_labels
    from layoutft.parsing.output_formats import output_format

    if output_format(fmt).writer != "xml":
        raise LayoutftError("--xml-labels is for --format pagexml, alto or hocr")
    return load_xml_labels(path)


def is_corpus_run(inputs: list[str], output: Path | None) -> bool:
    """A run into a folder: ``-o DIR`` with a folder input or several inputs, or ``-o`` an
    existing folder or ending in ``/``. One input to stdout or ``-o FILE`` is not."""
    if output is None:
        return False
    into_folder = output.is_dir() or str(output).endswith(("/", os.sep))
    return into_folder or len(inputs) > 1 or any(Path(p).is_dir() for p in inputs)


def _parse_corpus(
    inputs: list[str], out: Path, flags: dict[str, Any], overrides: list[str]
) -> None:
    """`layoutft parse INPUT... -o DIR`: the resumable corpus run
    (:func:`layoutft.corpus_session.parse_corpus`); its summary on stderr, exit status 1
    unless every planned input is done."""
    from layoutft.cli.flags import corpus_options, model_spec, parse_options
    from layoutft.corpus_session import parse_corpus

    options = parse_options(flags, visualize=None, progress=False)  # sinks draw pages
    spec = model_spec(flags, overrides)
    progress = _FilesProgress(enabled=not flags["quiet"])
    summary = parse_corpus(inputs, out, spec, options, corpus_options(flags), progress)
    typer.echo(summary.line(out), err=True)
    if not summary.ok:
        raise typer.Exit(1)


class _FilesProgress:
    """:class:`~layoutft.corpus.CorpusProgress` of a corpus run on stderr: the run's lines,
    and unless --quiet a bar over the files on a terminal, else (a log file) a progress
    line at most every :attr:`every` seconds."""

    every = 60.0

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.total = self.files = self.pages = 0
        self.start_time = self.last = 0.0
        self.log = enabled and not sys.stderr.isatty()
        self.bar: Any = None

    def start(self, planned: int) -> None:
        import time

        from tqdm import tqdm

        self.total = planned
        self.start_time = self.last = time.monotonic()
        show = self.enabled and sys.stderr.isatty()
        self.bar = tqdm(total=planned, unit="file", file=sys.stderr, disable=not show)

    def skipped(self, item: Any, state: str) -> None:
        self._update(0)

    def parsed(self, item: Any, entry: Any) -> None:
        self._update(entry.pages)

    def _update(self, pages: int) -> None:
        """One more file done (``pages`` parsed; 0 when skipped)."""
        import time

        self.files += 1
        self.pages += pages
        self.bar.update(1)
        now = time.monotonic()
        if self.log and now - self.last >= self.every:
            self.last = now
            rate = self.pages / (now - self.start_time)
            self.message(
                f"progress: {self.files} of {self.total} files, {self.pages} pages parsed, "
                f"{rate:.2f} pages/s"
            )

    def message(self, line: str) -> None:
        """A line on stderr that does not break the bar."""
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Echo(_FilesProgress):
    """The lines of a one-input run on stderr as they come (no bar: the parser draws its
    own over the pages)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)

    def message(self, line: str) -> None:
        typer.echo(line, err=True)
