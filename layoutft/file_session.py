"""One input parsed from start to summary: ``layoutft parse INPUT [-o FILE]`` as a function.

:func:`parse_files` checks the output (``-o FILE``, ``--visualize``, ``--view``) before the
model loads, loads the model, parses the input into its result (stdout, or the file) and
the ``--visualize``/``--view`` folders, and returns a :class:`FilesSummary`. It prints
nothing and never exits: lines for the user go to the ``message`` of a
:class:`~layoutft.corpus.run.CorpusProgress` (its other calls are for corpus runs and are
not made), the summary line and the exit status are the caller's (the CLI prints
``summary.line(files.output)`` and exits 1 unless ``summary.ok``).

Order of ``message`` lines (byte for byte as ``layoutft parse`` prints them on stderr):

1. ``model: NAME (K labels, BACKEND)``;
2. ``Error: <why>`` when the input cannot be read, else ``Error: <input> page N: <why>``
   for each page that failed;
3. with ``view``, ``viewer: <index.html>``.

Runs into a folder (several inputs, a folder, ``-o DIR``) are corpus runs
(:mod:`layoutft.corpus_session`); :func:`parse_files` refuses them. Layering: beside
``corpus_session`` (it reuses ``corpus``'s observer), below ``cli/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from layoutft.corpus import CorpusProgress, NoProgress
from layoutft.corpus.run import counts_line
from layoutft.errors import RenderError
from layoutft.formats.types import XmlLabels
from layoutft.parsing.model_spec import ModelSpec, backend_of, model_line
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.preannotations import check_shape
from layoutft.parsing.results import check_format
from layoutft.schema import Document


@dataclass(frozen=True)
class FileOptions:
    """Where and how a one-input run writes, besides its :class:`ParseOptions` and model.

    Attributes:
        output: the result file; None: stdout (formats without page images only).
        format: output format (``json``, ``jsonl``, ``coco``, ``labelstudio``, ...).
        shape: region shape of the pre-annotation formats (``rect``, ``polygon``, ``auto``).
        xml_labels: the label map of the XML formats (None: the built-in one).
        visualize: folder for page PNGs with regions drawn and an annotated PDF copy.
        view: folder for an HTML viewer of the result.
        overwrite: replace an ``output`` that is not an earlier result of the input.
        strict: say in the summary that the run stopped at its failure (``--strict``).
    """

    output: Path | None = None
    format: str = "json"
    shape: str = "rect"
    xml_labels: XmlLabels | None = None
    visualize: Path | None = None
    view: Path | None = None
    overwrite: bool = False
    strict: bool = False

    def __post_init__(self) -> None:
        check_format(self.format)
        check_shape(self.shape)


@dataclass
class FilesSummary:
    """Counts of a one-input run for its summary line."""

    inputs: int = 0
    files: int = 0
    pages: int = 0
    regions: int = 0
    failed_inputs: int = 0
    failed_pages: int = 0
    stopped: bool = False

    def add(self, document: Document) -> None:
        """Count one parsed input (its failed pages included)."""
        self.files += 1
        self.pages += len(document.pages)
        self.regions += sum(len(page.regions) for page in document.pages)
        self.failed_pages += len(document.failed_pages)

    @property
    def failures(self) -> int:
        """Inputs that could not be read plus pages that failed."""
        return self.failed_inputs + self.failed_pages

    @property
    def ok(self) -> bool:
        """Nothing failed (exit status 0)."""
        return self.failures == 0

    def line(self, where: Path | None) -> str:
        """``parsed 1 file, 3 pages, 12 regions, 0 failures -> OUT`` (``stdout`` for None),
        with what failed in parentheses."""
        text = counts_line(
            self.files,
            self.inputs,
            self.pages,
            self.regions,
            self.failed_inputs,
            self.failed_pages,
            self.stopped,
        )
        return f"{text} -> {'stdout' if where is None else where}"


def check_files(inputs: Sequence[str], files: FileOptions) -> tuple[Path, Path | None]:
    """The input file and the result's path (None: stdout), after the checks that come
    before the model loads: one input, not a folder; no output replacing an input or an
    unrelated file (unless ``overwrite``); writable output, ``visualize`` and ``view``
    folders, none inside an input folder. Raises LayoutftError (OptionError) naming the
    flag to change."""
    from layoutft.outputs import check_writable, refuse_input_folders
    from layoutft.parsing.results import (
        check_drawn_folders,
        output_folders,
        output_path,
        refuse_unrelated,
    )
    from layoutft.render import expand_inputs

    found = expand_inputs(inputs)
    many = len(found) > 1 or any(Path(p).is_dir() for p in inputs)
    dest = output_path(found, files.output, files.format, many)
    written = output_folders(dest, files.format, files.visualize, files.view, corpus=False)
    refuse_input_folders(written, inputs)
    if dest is not None:
        refuse_unrelated(dest, found[0], files.format, files.overwrite)
    check_writable([] if dest is None else [dest.parent])
    check_drawn_folders(files.visualize, files.view)
    return found[0], dest


def parse_files(
    inputs: Sequence[str],
    spec: ModelSpec,
    options: ParseOptions,
    files: FileOptions | None = None,
    progress: CorpusProgress | None = None,
) -> FilesSummary:
    """Parse the one input of ``inputs`` (a PDF or image) into ``files.output`` (None:
    stdout) in ``files.format``; returns the run's summary (``ok``: nothing failed).

    ``options.visualize`` is replaced by ``files.visualize`` (checked before the model
    loads). ``progress.message`` is told the lines the module docstring gives. Raises
    LayoutftError for what stops the run before it parses (several inputs or a folder,
    a bad output, a model that does not load); an unreadable input or failed pages are in
    the summary, not raised.
    """
    from layoutft.parsing.parser import Parser
    from layoutft.parsing.results import result_sink
    from layoutft.parsing.viewer import Viewer

    files = files if files is not None else FileOptions()
    progress = progress if progress is not None else NoProgress()
    path, dest = check_files(inputs, files)
    model = spec.load()
    parser = Parser(model, options.replace(visualize=files.visualize), spec.display_name)
    progress.message(model_line(parser.model_name, parser.labels, spec.weights, backend_of(model)))
    summary = FilesSummary(inputs=1)
    viewer = None if files.view is None else Viewer(files.view)
    try:
        sinks = [result_sink(dest, files.format, files.xml_labels, files.shape)]
        document = parser.run(path, sinks + ([viewer.sink()] if viewer else []))
    except RenderError as exc:
        summary.failed_inputs += 1
        progress.message(f"Error: {exc}")
    else:
        summary.add(document)
        for page in document.failed_pages:
            progress.message(f"Error: {path} page {page.number}: {page.error}")
    if viewer is not None:
        progress.message(f"viewer: {viewer.write()}")
    summary.stopped = files.strict and not summary.ok
    return summary
