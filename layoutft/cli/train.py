"""``layoutft train`` and ``layoutft eval``: thin wrappers over :mod:`layoutft.engine`."""

from __future__ import annotations

from pathlib import Path

import typer

from layoutft.cli.app import OVERRIDES_CONTEXT, check_options, command


@command("train", context_settings=OVERRIDES_CONTEXT)
def train_command(
    config: str = typer.Option(
        ..., "--config", help="Config YAML path or a shipped config name (e.g. quick_cpu)."
    ),
    train: Path = typer.Option(..., "--train", help="COCO annotations of the training set."),
    train_images: Path | None = typer.Option(
        None, "--train-images", help="Training images folder (default: next to the COCO file)."
    ),
    val: Path | None = typer.Option(
        None, "--val", help="COCO annotations evaluated every TEST.EVAL_PERIOD iterations."
    ),
    val_images: Path | None = typer.Option(None, "--val-images", help="Validation images."),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="publaynet, imagenet, registry name, file or none (default: MODEL.WEIGHTS).",
    ),
    output: Path = typer.Option(Path("output"), "--output", help="Output folder."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue the run in --output from last_checkpoint (its config.yaml must match; "
        "a larger SOLVER.MAX_ITER extends a finished run).",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace the run in --output: removes only the files training writes "
        "(checkpoints, last_checkpoint, metrics.jsonl, events, config.yaml).",
    ),
    num_gpus: int = typer.Option(
        1, "--num-gpus", min=1, help="Local processes (GPUs; CPU processes with --device cpu)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    budget: str | None = typer.Option(
        None,
        "--budget",
        help="Wall-clock time for the run (45m, 1.5h, 90s): a few iterations are timed, "
        "then SOLVER.MAX_ITER and STEPS are fitted to the time (evaluation not counted).",
    ),
    fit_data: bool = typer.Option(
        False,
        "--fit-data",
        help="Apply `layoutft analyze`'s recommendation for --config and --train (input size, "
        "anchors, RPN top-k, RoIs and detections per page); KEY VALUE overrides still win.",
    ),
    overrides: list[str] | None = typer.Argument(
        None, help="Config overrides: KEY VALUE pairs, e.g. SOLVER.MAX_ITER 300."
    ),
) -> None:
    """Train a layout model on COCO annotations (checkpoints, metrics, evaluation)."""
    from layoutft._compat import require_torch

    require_torch("`layoutft train`")
    from layoutft.engine.budget import parse_duration
    from layoutft.engine.run import train as run_train
    from layoutft.engine.setup import TrainOptions
    from layoutft.errors import ConfigError

    seconds = parse_duration(budget) if budget is not None else None
    pairs = list(overrides or [])
    check_options(pairs)
    if len(pairs) % 2:
        raise ConfigError(f"overrides must be KEY VALUE pairs; got an odd list {pairs}")
    out = run_train(
        TrainOptions(
            config=config,
            train=train,
            output=output,
            train_images=train_images,
            val=val,
            val_images=val_images,
            weights=weights,
            resume=resume,
            overwrite=overwrite,
            num_gpus=num_gpus,
            device=device,
            overrides=pairs,
            progress=not quiet,
            budget=seconds,
            fit_data=fit_data,
        )
    )
    typer.echo(f"done: {out / 'model_final.pth'}")


@command("eval")
def eval_command(
    weights: str = typer.Option(..., "--weights", help="Checkpoint file or registry name."),
    data: Path = typer.Option(..., "--data", "--coco", help="COCO annotations to evaluate on."),
    images: Path | None = typer.Option(
        None, "--images", help="Images folder (default: next to the COCO file)."
    ),
    config: str | None = typer.Option(
        None, "--config", help="Config (needed for detectron2 checkpoints without one)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the metrics as JSON to this file (metrics.json)."
    ),
    predictions: Path | None = typer.Option(
        None, "--predictions", help="Also write the predictions (COCO results JSON) here."
    ),
    pdfs: list[Path] = typer.Option(
        [], "--pdfs", help="Folder of the dataset's PDFs, for word coverage (repeatable)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, help="Images per forward pass (default: 1 on CPU, 4 on GPU)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """COCO bbox/segm AP (percent, overall and per class) plus document checks.

    Document checks: duplicated/overlapping predictions and, for pages whose PDF has a text
    layer, the share of words covered by exactly one predicted region.
    """
    import sys

    from layoutft._compat import require_torch

    require_torch("`layoutft eval`")
    from layoutft.data.coco import default_images_dir, load_coco
    from layoutft.engine.evaluation import evaluate_model, format_table, write_json_nan_safe
    from layoutft.engine.setup import resolve_config_path
    from layoutft.model import LayoutModel
    from layoutft.outputs import check_writable, refuse_inputs

    written = [p for p in (output, predictions) if p is not None]
    refuse_inputs(written, [data], "choose another -o/--predictions file")
    check_writable([p.parent for p in written])  # before the evaluation, not after it
    cfg = None if config is None else resolve_config_path(config)
    model = LayoutModel.from_checkpoint(weights, cfg, device=device)  # file or registry name
    gt = load_coco(data)
    root = images if images is not None else default_images_dir(data, gt)
    progress = not quiet and sys.stderr.isatty()
    metrics = evaluate_model(
        model,
        gt,
        root,
        pdf_folders=[data.parent, *pdfs],
        results_path=predictions,
        batch_size=batch_size,
        progress=progress,
    )
    typer.echo(format_table(metrics))
    if output is not None:
        write_json_nan_safe(output, metrics)
        typer.echo(f"saved {output}")
    if predictions is not None:
        typer.echo(f"saved {predictions}")
