"""DocBank token files (one TXT per page) grouped into PubLayNet-style regions.

Input: a DocBank root (TXT files in ``tokens/`` or in any sub-folder holding ``*.txt``, such
as the release's ``DocBank_500K_txt/``), folders of TXT files, or TXT files. Each TXT line is
one token, tab-separated ``token x0 y0 x1 y1 R G B font label`` with coordinates scaled to
0-1000 of the page width and height (top-left origin). The page image is ``NAME_ori.jpg``
(the release's ``DocBank_500K_ori_img/``) or ``NAME.jpg`` (``.png`` too), looked up in
``--images``, next to the TXT, in ``images/`` beside the TXT folder and in any sibling folder
whose name contains ``img`` or ``image``. Token boxes become image pixels with the real image
size: ``x_px = x / 1000 * width``.

DocBank labels tokens; a region is a group of neighbouring tokens with one label, drawn the
way PubLayNet draws regions (:func:`~layoutft.data.convert.docbank_groups.group_tokens`, in
its own module: this one reads files, that one groups tokens):

* lines: tokens on the same baseline with word-sized gaps; a line takes its tokens' majority
  label (a citation labelled ``reference`` inside a paragraph line stays in the paragraph);
  an equation number joins the equation on its left;
* blocks: consecutive lines of one label in one column with normal line spacing (lists may
  have wider gaps); a line of another label in between ends a block;
* a ``paragraph``/``abstract``/``footer`` block is split into paragraphs before an indented
  first line and after a short last line (justified blocks only); ``reference`` blocks are
  split per entry; a list, a caption, a heading and a display equation stay one region;
* ``figure`` and ``table`` tokens (with ``##LTFigure##`` pictures and ``##LTLine##`` rules)
  are united into one region per figure/table: neighbouring groups merge unless the merged
  box would take in lines of another label;
* a lone page number (a one-line block of digits or roman numerals above or below every
  other region) is dropped, as PubLayNet does not annotate page numbers.

Labels keep DocBank's names; ``--labels docbank-publaynet`` maps them to PubLayNet's five
classes and keeps the other six after them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from layoutft.data.coco import Problems
from layoutft.data.convert.common import ReadOptions, SourceDataset, SourcePage, SourceRegion
from layoutft.data.convert.docbank_groups import Token, group_tokens
from layoutft.data.validate import read_image_size

#: DocBank's token labels, in the order of its paper.
DOCBANK_LABELS = (
    "abstract",
    "author",
    "caption",
    "date",
    "equation",
    "figure",
    "footer",
    "list",
    "paragraph",
    "reference",
    "section",
    "table",
    "title",
)

#: Image name endings tried for ``NAME`` (the release's ``_ori`` images first).
IMAGE_ENDINGS = ("_ori.jpg", ".jpg", "_ori.png", ".png", ".jpeg")

_SCALE = 1000.0


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read DocBank TXT files and their page images; see the module docstring."""
    dataset = SourceDataset(labels=list(DOCBANK_LABELS))
    dropped = 0
    for path in _token_files(inputs, problems):
        image = _find_image(path, options)
        if image is None:
            dirs = ", ".join(str(d) for d in _image_dirs(path, options))
            problems.add(
                str(path),
                f"page image {path.stem}_ori.jpg or {path.stem}.jpg not found "
                f"(searched {dirs}); pass --images DIR",
            )
            continue
        try:
            width, height = read_image_size(image)
        except OSError as exc:
            problems.add(str(image), f"cannot read image ({exc})")
            continue
        tokens = read_tokens(path, width, height, problems)
        page = SourcePage(image.name, image, str(path))
        groups, n_dropped = group_tokens(tokens, width, height)
        dropped += n_dropped
        for group in groups:
            box = (group.x0, group.y0, group.x1, group.y1)
            page.regions.append(SourceRegion(group.label, group.record(), bbox=box))
        dataset.pages.append(page)
    if dropped:
        dataset.notes.append(
            f"dropped {dropped} page number(s) and running header/footer line(s) "
            "(PubLayNet does not label them)"
        )
    return dataset


def _token_files(inputs: Iterable[Path], problems: Problems) -> list[Path]:
    """TXT files of the inputs: files as given; a folder's own ``*.txt``, else those of its
    sub-folders (``tokens/``, ``DocBank_500K_txt/``, ...)."""
    files: list[Path] = []
    for given in inputs:
        if not given.is_dir():
            files.append(given)
            continue
        found = sorted(given.glob("*.txt"))
        if not found:
            found = sorted(
                p for sub in sorted(given.iterdir()) if sub.is_dir() for p in sub.glob("*.txt")
            )
        if not found:
            problems.add(
                str(given), "no DocBank *.txt token files in the folder or its sub-folders"
            )
        files += found
    return list(dict.fromkeys(files))


def _image_dirs(path: Path, options: ReadOptions) -> list[Path]:
    folder = path.parent
    dirs = [options.images_dir] if options.images_dir is not None else []
    dirs += [folder, folder.parent / "images"]
    if folder.parent.is_dir():
        dirs += sorted(
            d
            for d in folder.parent.iterdir()
            if d.is_dir() and d != folder and ("img" in d.name.lower() or "image" in d.name.lower())
        )
    return list(dict.fromkeys(dirs))


def _find_image(path: Path, options: ReadOptions) -> Path | None:
    for folder in _image_dirs(path, options):
        for ending in IMAGE_ENDINGS:
            candidate = folder / f"{path.stem}{ending}"
            if candidate.is_file():
                return candidate
    return None


def read_tokens(path: Path, width: int, height: int, problems: Problems) -> list[Token]:
    """Parse one DocBank TXT file into tokens in image pixels (``width`` x ``height``).

    Every malformed line is recorded in ``problems`` as ``FILE:LINE: what is wrong``.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        problems.add(str(path), f"cannot read ({exc.strerror or exc})")
        return []
    tokens: list[Token] = []
    sx, sy = width / _SCALE, height / _SCALE
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        fields = line.split("\t")
        if len(fields) < 10:
            problems.add(
                where,
                f"expected 10 tab-separated fields 'token x0 y0 x1 y1 R G B font label', "
                f"got {len(fields)}",
            )
            continue
        # A token holding a tab would add fields: the last nine are fixed.
        word, rest = "\t".join(fields[:-9]), fields[-9:]
        try:
            x0, y0, x1, y1 = (float(v) for v in rest[:4])
        except ValueError:
            problems.add(where, f"coordinates {' '.join(rest[:4])!r} are not numbers")
            continue
        label = rest[8].strip()
        if label not in DOCBANK_LABELS:
            problems.add(where, f"unknown label {label!r} (DocBank: {', '.join(DOCBANK_LABELS)})")
            continue
        if not (0 <= x0 <= x1 <= _SCALE and 0 <= y0 <= y1 <= _SCALE):
            problems.add(
                where,
                f"box {x0:g} {y0:g} {x1:g} {y1:g} is not x0 <= x1, y0 <= y1 within 0-1000",
            )
            continue
        tokens.append(Token(word, x0 * sx, y0 * sy, x1 * sx, y1 * sy, label, lineno))
    return tokens
