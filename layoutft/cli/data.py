"""Dataset commands: ``convert``, ``validate``, ``split``, ``merge`` (thin wrappers over
layoutft.data)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from layoutft.cli.app import command

if TYPE_CHECKING:
    from layoutft.data.merge import MergeInput


@command("convert")
def convert_cmd(
    inputs: list[Path] = typer.Argument(..., help="Export files or folders to convert."),
    fmt: str = typer.Option(
        ...,
        "--from",
        help="Input format: coco, yolo, labelstudio, cvat, via, pagexml, pdf, docbank, "
        "alto (ALTO v2-v4), ctdar (ICDAR 2013/2017/2019 table XML), funsd (FUNSD/XFUND JSON).",
    ),
    out: Path | None = typer.Option(
        None, "-o", "--out", help="Output folder (annotations.json, images/)."
    ),
    images: Path | None = typer.Option(
        None, "--images", help="Folder with the images the export names."
    ),
    dpi: float | None = typer.Option(
        None,
        "--dpi",
        help="Render resolution of PDF pages (default 200); alto: resolution of the page "
        "images for mm10/inch1200 units (default: each image's own).",
    ),
    labels: str | None = typer.Option(
        None, "--labels", help="Label map YAML (map/drop/categories) or a built-in map name."
    ),
    keep_unmapped: bool = typer.Option(
        False, "--keep-unmapped", help="Keep labels the map does not mention."
    ),
    label_key: str | None = typer.Option(
        None, "--label-key", help="VIA region attribute holding the label (default: first)."
    ),
    link: bool = typer.Option(False, "--link", help="Hard-link images instead of copying."),
    predictions: bool = typer.Option(
        False,
        "--predictions",
        help="labelstudio: read a task without annotations from its first prediction "
        "(pre-annotations) instead of skipping it.",
    ),
    labelled_classes: str | None = typer.Option(
        None,
        "--labelled-classes",
        help="Classes (names after --labels, comma-separated) the input annotates "
        "exhaustively, e.g. table for a table-only source; stored on every image as "
        "labelled_category_ids so training ignores what it cannot say about the others.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    list_labels: bool = typer.Option(
        False,
        "--list-labels",
        help="Only list the labels found, with counts (and what --labels makes of them).",
    ),
) -> None:
    """Convert annotations to COCO: OUT/annotations.json and OUT/images/."""
    import sys

    from layoutft.data.convert import convert
    from layoutft.errors import DatasetError

    if list_labels:
        from layoutft.data.convert.survey import survey_labels

        survey = survey_labels(
            fmt,
            inputs,
            images_dir=images,
            dpi=dpi,
            labels=labels,
            label_key=label_key,
            progress=not quiet and sys.stderr.isatty(),
            predictions=predictions,
        )
        typer.echo(survey.format())
        return
    if out is None:
        raise DatasetError("convert needs -o/--out DIR (or --list-labels to only list labels)")
    result = convert(
        fmt,
        inputs,
        out,
        images_dir=images,
        dpi=dpi,
        labels=labels,
        keep_unmapped=keep_unmapped,
        label_key=label_key,
        link=link,
        overwrite=overwrite,
        progress=not quiet and sys.stderr.isatty(),
        predictions=predictions,
        labelled_classes=_names(labelled_classes),
    )
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(result.summary())


def _names(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; None stays None."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _default_images_dir(coco_path: Path) -> Path:
    """``images/`` next to the COCO file (convert's layout), else a folder named like the file
    (PubLayNet's ``val.json`` + ``val/``), else the file's own folder."""
    for folder in (coco_path.parent / "images", coco_path.parent / coco_path.stem):
        if folder.is_dir():
            return folder
    return coco_path.parent


@command("validate")
def validate_cmd(
    coco: Path = typer.Argument(..., help="COCO annotations file."),
    images: Path | None = typer.Option(
        None, "--images", help="Image folder (default: images/ or <stem>/ next to the file)."
    ),
    fix: Path | None = typer.Option(
        None, "--fix", help="Write a repaired copy here (clip boxes, drop degenerate ones)."
    ),
    max_per_kind: int = typer.Option(5, "--show", help="Problems listed per kind."),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Also list each image that labels only some classes, with those classes.",
    ),
) -> None:
    """Check a COCO dataset; exit 1 on errors (after --fix: on errors left in the fixed file)."""
    from layoutft.data.coco import load_coco, write_coco
    from layoutft.data.fix import fix_coco
    from layoutft.data.validate import validate_coco
    from layoutft.outputs import refuse_inputs

    if fix is not None:
        refuse_inputs([fix], [coco], "write the repaired copy to another file")
    data = load_coco(coco)
    folder = images if images is not None else _default_images_dir(coco)
    report = validate_coco(data, folder)
    typer.echo(report.format(max_per_kind))
    if verbose:
        typer.echo(report.format_labelled(data["images"]))
    if fix is not None:
        result = fix_coco(data, folder)
        write_coco(fix, result.coco)
        typer.echo(f"--fix wrote {fix}:")
        typer.echo(result.format())
        report = result.report
        kinds = sorted({i.kind for i in report.errors})
        left = f"{len(report.errors)} errors left ({', '.join(kinds)})"
        typer.echo("fixed file: OK" if report.ok else f"fixed file: {left}")
    if not report.ok:
        raise typer.Exit(1)


@command("split")
def split_cmd(
    coco: Path = typer.Argument(..., help="COCO annotations file."),
    ratios: str = typer.Option("0.8,0.1,0.1", "--ratios", help="Fractions per split."),
    seed: int = typer.Option(0, "--seed", help="Shuffle seed."),
    group_by: str = typer.Option("document", "--group-by", help="'document' or 'image'."),
    doc_pattern: str | None = typer.Option(
        None, "--doc-pattern", help="Regex on file_name whose 'doc' group (or group 1) is the doc."
    ),
    names: str | None = typer.Option(
        None, "--names", help="Split names (default: train,val,test or train,val)."
    ),
    out: Path | None = typer.Option(
        None, "-o", "--out", help="Output folder (default: next to COCO)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace existing split files (never the input)."
    ),
) -> None:
    """Split a COCO file into train/val/test files, pages of a document kept together."""
    import re

    from layoutft.data.coco import load_coco, write_coco
    from layoutft.data.split import document_key, parse_ratios, split_coco
    from layoutft.errors import DatasetError
    from layoutft.outputs import check_writable, refuse_existing, refuse_inputs

    parts = parse_ratios(ratios)
    default = ["train", "val", "test"] if len(parts) == 3 else ["train", "val"]
    split_names = [n.strip() for n in names.split(",")] if names else default
    if len(split_names) != len(set(split_names)):
        raise DatasetError(f"--names {names!r}: split names must differ")
    folder = out if out is not None else coco.parent
    paths = {name: folder / f"{name}.json" for name in split_names}
    splits = split_coco(load_coco(coco), parts, seed, split_names, group_by, doc_pattern)
    refuse_inputs(paths.values(), [coco], "pass -o DIR or --names with other split names")
    refuse_existing(list(paths.values()), overwrite, "pass -o DIR")
    check_writable([folder])
    pattern = re.compile(doc_pattern) if doc_pattern else None
    for name, subset in splits.items():
        path = paths[name]
        write_coco(path, subset)
        docs = (
            {document_key(img, pattern) for img in subset["images"]}
            if group_by == "document"
            else ()
        )
        typer.echo(
            f"{name}: {len(subset['images'])} images, {len(subset['annotations'])} annotations"
            + (f", {len(docs)} documents" if docs else "")
            + f" -> {path}"
        )


@command("merge")
def merge_cmd(
    inputs: list[str] = typer.Argument(
        ...,
        metavar="FILE.json[:IMAGES_DIR][@NAME]...",
        help="COCO files, each optionally with its images folder (default: next to the file) "
        "and the source name recorded on its images (default: the file's stem).",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="Merged COCO file to write."),
    categories: str | None = typer.Option(
        None,
        "--categories",
        help="Comma-separated category names taking the first ids in this order (listed "
        "even when no input has them); others follow in first-seen order.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
) -> None:
    """Merge COCO datasets into one (categories by name; images stay where they are: their
    file_name is relative to OUT's folder; each image's "source" names its input)."""
    from layoutft.data.coco import write_coco
    from layoutft.data.merge import merge_coco, repeated_inputs
    from layoutft.outputs import check_writable, refuse_existing, refuse_inputs

    items = [parse_merge_input(item) for item in inputs]
    refuse_inputs([out], [i.coco for i in items], "choose another -o")
    refuse_existing([out], overwrite, "choose another -o")
    check_writable([out.parent])
    for warning in repeated_inputs([item.coco for item in items]):
        typer.echo(warning, err=True)
    wanted = [c.strip() for c in categories.split(",") if c.strip()] if categories else None
    result = merge_coco(items, out, wanted)
    merged = result.coco
    write_coco(out, merged)
    parts = ", ".join(
        f"{n} from {i.coco}" + (f" as {name}" if i.name is not None else "")
        for i, n, name in zip(items, result.counts, result.names, strict=True)
    )
    typer.echo(
        f"wrote {len(merged['images'])} images, {len(merged['annotations'])} regions, "
        f"{len(merged['categories'])} categories ({parts}): {out}"
    )
    for name, labelled in zip(result.names, result.partial, strict=True):
        if labelled:
            typer.echo(f"  {name}: labels only {', '.join(labelled)} (labelled_category_ids)")


def parse_merge_input(item: str) -> MergeInput:
    """``FILE.json[:IMAGES_DIR][@NAME]`` -> MergeInput (a file whose name holds ':' or '@'
    is taken whole when it exists)."""
    from layoutft.data.merge import MergeInput

    if Path(item).exists():
        return MergeInput(Path(item))
    name: str | None = None
    rest, at, tail = item.rpartition("@")
    if at and tail and not {":", "/"} & set(tail) and rest:
        item, name = rest, tail
    path, sep, images = item.rpartition(":")
    if Path(item).exists() or not sep:
        return MergeInput(Path(item), None, name)
    return MergeInput(Path(path), Path(images) if images else None, name)
