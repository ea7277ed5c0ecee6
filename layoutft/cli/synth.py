"""CLI: ``layoutft synth`` (synthetic dataset), ``show`` (draw annotations), ``analyze``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from layoutft.cli.app import command


@command("synth")
def synth(
    out: Path = typer.Option(
        ..., "-o", "--out", help="Output folder (images/, annotations.json; pdfs/ or pages/)."
    ),
    docs: int = typer.Option(10, "--docs", help="Number of documents."),
    pages: int = typer.Option(2, "--pages", help="Pages per document."),
    dpi: int | None = typer.Option(
        None, "--dpi", help="Resolution of the page images [default: 200; html: 150]."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same data."),
    engine: str = typer.Option(
        "pymupdf",
        "--engine",
        help="pymupdf: pages drawn block by block (fast, no dependencies); latex: articles "
        "typeset by pdflatex with matplotlib figures (looks like real papers; --pages is "
        "ignored: an article has as many pages as TeX gives it); html: pages of many kinds "
        "(reports, newspapers, slides, forms, ...) laid out by headless Chromium, DocLayNet's "
        "11 classes (needs chromium and the synth extra: Playwright).",
    ),
    kinds: str | None = typer.Option(
        None,
        "--kinds",
        help="--engine html only: comma-separated kinds to make (default all: report, "
        "newspaper, magazine, slides, form, exam, textbook, book, toc, code, paper).",
    ),
    scan_look: float = typer.Option(
        0.0,
        "--scan-look",
        help="--engine html only: probability that a page looks scanned (skew, blur, noise, "
        "JPEG artefacts, binarization; its labels move with it).",
    ),
    style: str = typer.Option(
        "articles",
        "--style",
        help="--engine latex only: articles (journal papers, one or two columns, floating "
        "tables) or reports (mostly one column, more and larger numeric tables with shaded "
        "rows, group rows and source notes).",
    ),
    labels: str = typer.Option(
        "publaynet",
        "--labels",
        help="--engine latex only: publaynet (text, title, list, table, figure) or doclaynet "
        "(DocLayNet's 11 classes; the articles also get footnotes, and footnotes, display "
        "formulas, running heads and page numbers are labelled; lists are not: List-item "
        "is unlabelled on these pages).",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace an existing OUT/annotations.json (and same-named pages). --engine html "
        "resumes an interrupted run into the same OUT without it.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Generate pages with known layout (born-digital PDFs, or Chromium-rendered HTML with
    --engine html), their page images and COCO annotations."""
    from contextlib import nullcontext

    from layoutft.data.coco import load_coco
    from layoutft.data.synth.marker import stale_images, synth_run
    from layoutft.errors import DatasetError
    from layoutft.outputs import check_writable, refuse_existing

    refuse_existing([out / "annotations.json"], overwrite, "choose another -o")
    check_writable([out])
    if engine != "html" and (kinds is not None or scan_look):
        raise DatasetError("synth: --kinds and --scan-look need --engine html")
    if engine != "latex" and labels != "publaynet":
        raise DatasetError("synth: --labels needs --engine latex")
    # html resumes an interrupted run itself; the other engines leave a marker until done
    settings = {
        "engine": engine,
        "docs": docs,
        "pages": pages,
        "dpi": dpi,
        "seed": seed,
        "labels": labels,
    }
    guard = nullcontext() if engine == "html" else synth_run(out, overwrite, settings)
    with guard:
        path = _generate(
            out, engine, style, labels, kinds, scan_look, docs, pages, dpi, seed, quiet, overwrite
        )
    coco = load_coco(path)
    typer.echo(f"wrote {len(coco['images'])} pages, {len(coco['annotations'])} regions: {path}")
    stale = stale_images(out, coco)
    if stale:
        listed = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        typer.echo(
            f"warning: {out / 'images'} holds {len(stale)} images not in annotations.json "
            f"({listed}), left from an earlier run; delete them if they are not yours",
            err=True,
        )


def _generate(
    out: Path,
    engine: str,
    style: str,
    labels: str,
    kinds: str | None,
    scan_look: float,
    docs: int,
    pages: int,
    dpi: int | None,
    seed: int,
    quiet: bool,
    overwrite: bool,
) -> Path:
    """Run the ``engine``; the path of the annotations.json it wrote."""
    from layoutft.errors import DatasetError

    if engine == "html":
        from layoutft.data.synth.html import generate_html_dataset

        if style != "articles":
            raise DatasetError("synth: --style needs --engine latex")
        chosen = None if kinds is None else [k.strip() for k in kinds.split(",") if k.strip()]
        path = generate_html_dataset(
            out,
            docs,
            pages,
            dpi=150 if dpi is None else dpi,
            seed=seed,
            kinds=chosen,
            scan_look=scan_look,
            overwrite=overwrite,
            quiet=quiet,
        )
    elif engine == "latex":
        from layoutft.data.synth.latex import generate_latex_dataset

        path = generate_latex_dataset(
            out,
            docs,
            dpi=200 if dpi is None else dpi,
            seed=seed,
            quiet=quiet,
            style=style,
            labels=labels,
        )
    elif style != "articles":
        raise DatasetError("synth: --style needs --engine latex")
    elif engine == "pymupdf":
        from layoutft.data.synth import generate_dataset

        path = generate_dataset(
            out, docs, pages, dpi=200 if dpi is None else dpi, seed=seed, quiet=quiet
        )
    else:
        raise DatasetError(f"synth: --engine must be pymupdf, latex or html (got {engine!r})")
    return path


@command("show")
def show(
    coco_path: Path = typer.Argument(..., metavar="COCO", help="COCO annotations JSON."),
    images: Path = typer.Option(..., "--images", help="Folder the COCO file_names are in."),
    out: Path = typer.Option(..., "-o", "--out", help="Folder for the drawn PNGs."),
    n: int = typer.Option(12, "-n", help="How many images to draw (a random sample)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample."),
) -> None:
    """Draw the annotations of a sample of images so a person can check them."""
    from layoutft.data.coco import check_ids, load_coco
    from layoutft.data.show import show_coco

    coco = load_coco(coco_path)
    check_ids(coco, coco_path)
    report = show_coco(coco, images, out, n=n, seed=seed)
    typer.echo(f"wrote {len(report.written)} images to {out}")
    if report.missing:
        listed = ", ".join(report.missing[:10])
        more = f" and {len(report.missing) - 10} more" if len(report.missing) > 10 else ""
        typer.echo(f"{len(report.missing)} images missing from {images}: {listed}{more}", err=True)
        raise typer.Exit(1)  # a sample with holes is a failed check, not a silent success


@command("analyze")
def analyze(
    coco_path: Path = typer.Argument(..., metavar="COCO", help="COCO annotations JSON."),
    config: str = typer.Option(
        "finetune_cpu",
        "--config",
        help="Config the recommendation starts from (path or shipped name); its anchor ratios "
        "keep their number so its weights still load.",
    ),
    min_size: int | None = typer.Option(
        None, "--min-size", help="Shortest edge at input (default: the config's MIN_SIZE_TEST)."
    ),
    max_size: int | None = typer.Option(
        None, "--max-size", help="Longest edge cap at input (default: the config's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print every number as JSON."),
) -> None:
    """Box statistics and the config keys they recommend for --config (YAML to paste)."""
    import shlex

    from layoutft.config import load_config
    from layoutft.data.analyze import MIN_BOX_PX, SIZE_PERCENTILE, Recipe, analyze_coco
    from layoutft.data.coco import check_ids, load_coco
    from layoutft.engine.setup import resolve_config_path

    coco = load_coco(coco_path)
    check_ids(coco, coco_path)
    recipe = Recipe.from_config(load_config(resolve_config_path(config)), Path(config).stem)
    result = analyze_coco(coco, min_size=min_size, max_size=max_size, recipe=recipe)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    size = f"{result.min_size}/{result.max_size}"
    typer.echo(
        f"{result.images} images, {result.annotations} boxes; regions per page: "
        f"p95 {result.regions_per_page_p95:g}, max {result.regions_per_page_max}"
    )
    typer.echo(
        f"box short side, {SIZE_PERCENTILE:g}nd percentile: {result.short_side_p:g} px "
        f"({result.short_side_p_input:g} px at input {size}; wanted >= {MIN_BOX_PX:g} px)"
    )
    typer.echo(f"{'class':<12}{'n':>7}  h/w p5 / p50 / p95        size(input px) p5 / p50 / p95")
    for c in result.classes:
        a, s = c.aspect, c.size
        typer.echo(
            f"{c.name:<12}{c.count:>7}  {a['p5']:>7.3g} {a['p50']:>7.3g} {a['p95']:>7.3g}"
            f"        {s['p5']:>7.4g} {s['p50']:>7.4g} {s['p95']:>7.4g}"
        )
    if result.outlier_count:
        share = 100 * result.outlier_count / result.annotations
        typer.echo(
            f"outliers: {result.outlier_count} boxes ({share:.1f}%) stay under {MIN_BOX_PX:g} px "
            "at the recommended input (they do not set the size; check them):"
        )
        for o in result.outliers:
            typer.echo(
                f"  annotation {o['annotation_id']} ({o['class']}, {o['file_name']}): short "
                f"side {o['short_side']:g} px, {o['short_side_input']:g} px at input"
            )
    for note in result.notes:
        typer.echo(f"note: {note}")
    cost = result.cost
    rec = result.recommended["INPUT"]
    typer.echo(
        f"cost: ~{cost['s_per_iter']:g} s/iter at {size} ({cost['mp_per_page']:.2f} MP/page)"
        + (
            f" -> ~{cost['s_per_iter_recommended']:g} s/iter at the recommended "
            f"{rec['MIN_SIZE_TEST']}/{rec['MAX_SIZE_TEST']} "
            f"({cost['mp_per_page_recommended']:.2f} MP/page)"
            if rec["MIN_SIZE_TEST"] != result.min_size
            else ""
        )
        + f"; estimated for {recipe.ims_per_batch} pages per iteration on a 2-core CPU"
    )
    typer.echo(f"\n# recommended for {recipe.name}: paste into a config based on it")
    typer.echo(result.to_yaml(), nl=False)
    line = " ".join(shlex.quote(part) for part in result.overrides())
    typer.echo(f"# or as overrides: layoutft train --config {config} ... {line}")
