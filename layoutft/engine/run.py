"""``train(options)``: a whole training run (single process, local DDP spawn or torchrun).

Output directory: ``config.yaml`` (the fully resolved config), ``metrics.jsonl``,
TensorBoard event files, ``model_XXXXXXX.pth`` every ``SOLVER.CHECKPOINT_PERIOD``
iterations with ``last_checkpoint``, ``model_best.pth`` (best bbox AP on ``--val``) and
``model_final.pth``; all are layoutft checkpoints (weights, config, labels, input contract).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from layoutft.device import resolve_device
from layoutft.engine import distributed as comm
from layoutft.engine.setup import (
    TrainOptions,
    amp_dtype,
    check_norm,
    fit_labels,
    pick_seed,
    resolve_config_path,
    resolve_weights,
)

if TYPE_CHECKING:
    from layoutft.modeling.meta_arch import GeneralizedRCNN


def say(message: str) -> None:
    """A note for the user, printed once (rank 0) on stderr."""
    if comm.is_main_process():
        print(message, file=sys.stderr, flush=True)


def train(options: TrainOptions) -> Path:
    """Run training as ``options`` say; returns the output directory.

    Raises LayoutftError subclasses for bad configs, data, weights or devices.
    """
    device = resolve_device(options.device)
    options.device = device
    resolve_config_path(options.config)  # fail before spawning
    check_output(options)
    comm.launch(_worker, options.num_gpus, device, (options,))
    return options.output


#: Files a training run writes into its output folder; ``--overwrite`` removes these only.
RUN_FILES = ("config.yaml", "last_checkpoint", "metrics.jsonl")
RUN_PATTERNS = ("model_*.pth", "events.out.tfevents.*", ".model_*.pth.*.tmp")
#: Config keys a resumed run may change: its length (extending a finished run), how often it
#: logs, saves and evaluates, loader processes, and where it is and starts from.
RESUME_MAY_CHANGE = frozenset(
    {
        "SOLVER.MAX_ITER",
        "SOLVER.STEPS",
        "SOLVER.CHECKPOINT_PERIOD",
        "TEST.EVAL_PERIOD",
        "LAYOUTFT.LOG_PERIOD",
        "DATALOADER.NUM_WORKERS",
        "OUTPUT_DIR",
        "MODEL.WEIGHTS",
    }
)


def run_files(out: Path) -> list[Path]:
    """The files of a training run in ``out`` (see :data:`RUN_FILES`), sorted."""
    if not out.is_dir():
        return []
    found = {out / name for name in RUN_FILES if (out / name).is_file()}
    for pattern in RUN_PATTERNS:
        found.update(p for p in out.glob(pattern) if p.is_file())
    return sorted(found)


def check_output(options: TrainOptions) -> None:
    """Refuse to train into a folder holding a run unless ``--resume`` or ``--overwrite``
    says what to do with it; check the folder is writable. Nothing is removed here."""
    from layoutft.errors import LayoutftError
    from layoutft.outputs import check_writable

    out = Path(options.output)
    if options.resume and options.overwrite:
        raise LayoutftError("--resume and --overwrite exclude each other: continue or replace")
    if out.exists() and not out.is_dir():
        raise LayoutftError(f"--output {out} is a file; give a folder for the run")
    existing = run_files(out)
    if existing and not (options.resume or options.overwrite):
        names = ", ".join(p.name for p in existing[:4]) + (", ..." if len(existing) > 4 else "")
        raise LayoutftError(
            f"--output {out} already holds a training run ({names}); pass --resume to "
            "continue it, --overwrite to replace its files, or another --output"
        )
    check_writable([out], "--output")


def remove_run_files(out: Path) -> list[Path]:
    """``--overwrite``: delete the previous run's files (only those, see :data:`RUN_FILES`)."""
    removed = run_files(out)
    for path in removed:
        path.unlink()
    return removed


def check_resume_config(out: Path, cfg: Any) -> None:
    """ConfigError naming the keys in which ``cfg`` differs from the run's ``config.yaml``
    (keys in :data:`RESUME_MAY_CHANGE` aside); nothing when there is no ``config.yaml``."""
    import yaml

    from layoutft.errors import ConfigError

    saved = out / "config.yaml"
    if not saved.is_file():
        return
    try:
        old = yaml.safe_load(saved.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        kind = err.strerror if isinstance(err, OSError) else "not a readable YAML file"
        raise ConfigError(
            f"--resume: cannot read {saved} ({kind}); use --overwrite or another --output"
        ) from None
    before = _flatten(old if isinstance(old, dict) else {})
    now = _flatten(yaml.safe_load(cfg.dump()) or {})
    missing = object()
    differ = sorted(
        key
        for key in before.keys() | now.keys()
        if key not in RESUME_MAY_CHANGE and before.get(key, missing) != now.get(key, missing)
    )
    if differ:
        shown = ", ".join(
            f"{key} ({_short(before.get(key))} -> {_short(now.get(key))})" for key in differ[:6]
        )
        more = f" and {len(differ) - 6} more" if len(differ) > 6 else ""
        raise ConfigError(
            f"--resume: the config differs from the run's {saved} in {shown}{more}; resume "
            "with the same config, overrides and data, or start over with --overwrite or "
            "another --output"
        )


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def setup_config(options: TrainOptions, world_size: int) -> tuple[Any, Any, list[Any], Path | None]:
    """Resolved config, labels, training pages and init weights (notes go to options.notes)."""
    from layoutft.config import load_config
    from layoutft.data.loader import load_pages
    from layoutft.engine.solver import scale_solver

    cfg = load_config(resolve_config_path(options.config), list(options.overrides))
    pages, labels = load_pages(options.train, options.train_images)
    options.notes += fit_labels(cfg, labels)
    weights = resolve_weights(options.weights, cfg)
    cfg.MODEL.WEIGHTS = "" if weights is None else str(weights)
    options.notes += check_norm(cfg, weights)
    options.notes += scale_solver(cfg, world_size, len(pages))
    if int(cfg.SEED) < 0:  # a random seed; a resumed run keeps the one it started with
        previous = _previous_seed(options) if options.resume else None
        cfg.SEED = comm.broadcast_object(previous if previous is not None else pick_seed(cfg))
    cfg.OUTPUT_DIR = str(options.output)
    return cfg, labels, pages, weights


def _previous_seed(options: TrainOptions) -> int | None:
    """The seed a run being resumed started with (its data order depends on it)."""
    import yaml

    saved = Path(options.output) / "config.yaml"
    if not saved.exists():
        return None
    seed = (yaml.safe_load(saved.read_text(encoding="utf-8")) or {}).get("SEED")
    return int(seed) if isinstance(seed, int) else None


def _worker(options: TrainOptions) -> None:
    """One process's run (rank from torch.distributed, or the only one)."""
    from layoutft.checkpoint import apply_weights, load_weights
    from layoutft.engine.checkpointer import Checkpointer
    from layoutft.engine.solver import build_lr_scheduler, build_optimizer
    from layoutft.modeling import build_model
    from layoutft.outputs import write_text_atomic

    rank, world = comm.get_rank(), comm.get_world_size()
    cfg, labels, pages, weights = setup_config(options, world)
    for note in options.notes:
        say(note)
    out = Path(options.output)
    if options.resume:
        check_resume_config(out, cfg)  # before config.yaml is written again
    if comm.is_main_process():
        if options.overwrite:
            removed = remove_run_files(out)
            if removed:
                say(f"--overwrite: removed {len(removed)} files of the previous run in {out}")
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.yaml", cfg.dump())
    _seed_all(int(cfg.SEED) + rank)
    device = comm.local_device(options.device)
    model = build_model(cfg).to(device)
    if weights is not None:
        report = apply_weights(model, load_weights(weights), labels=labels)
        say(f"initialised from {weights}: {report.message()}")
    optimizer = build_optimizer(cfg, model)
    scheduler = build_lr_scheduler(cfg, optimizer)
    dtype, notes = amp_dtype(cfg, options.device)
    for note in notes:
        say(note)
    max_iter = int(cfg.SOLVER.MAX_ITER)
    trainer_model: torch.nn.Module = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        trainer_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    checkpointer = Checkpointer(
        out, trainer_model, cfg, labels, optimizer=optimizer, scheduler=scheduler, scaler=scaler
    )
    start = 0
    if options.resume:
        start = _resume(checkpointer, max_iter, out)
        say(f"resuming at iteration {start}" if start else "no checkpoint to resume from")
    _fit(
        options, cfg, labels, pages, trainer_model, optimizer, scheduler, checkpointer, start, dtype
    )


def _resume(checkpointer: Any, max_iter: int, out: Path) -> int:
    """``checkpointer.resume`` with torch's multi-line state-dict errors made one line."""
    from layoutft.errors import CheckpointError

    try:
        return int(checkpointer.resume(max_iter))
    except (RuntimeError, ValueError, KeyError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        telling = [line for line in lines if line.startswith(("size mismatch", "Missing", "Unex"))]
        first = (telling or lines or [type(err).__name__])[0].rstrip(".")
        raise CheckpointError(
            f"--resume: the last checkpoint in {out} does not fit this model and config "
            f"({first[:200]}); start over with --overwrite or another --output"
        ) from None


def _fit(
    options: TrainOptions,
    cfg: Any,
    labels: list[str],
    pages: list[Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    checkpointer: Any,
    start: int,
    dtype: Any,
) -> None:
    from layoutft.data.loader import build_train_loader
    from layoutft.engine.events import MetricsLog
    from layoutft.engine.hooks import CheckpointHook, EvalHook, LRSchedulerHook, MetricsHook
    from layoutft.engine.solver import clip_gradients
    from layoutft.engine.trainer import Trainer, out_of_memory_advice

    max_iter = int(cfg.SOLVER.MAX_ITER)
    data = build_train_loader(
        pages,
        cfg,
        seed=int(cfg.SEED),
        rank=comm.get_rank(),
        world_size=comm.get_world_size(),
        start_iter=start,
    )
    log = None
    if comm.is_main_process():
        log = MetricsLog(
            Path(options.output), period=int(cfg.LAYOUTFT.LOG_PERIOD), max_iter=max_iter
        )
    hooks: list[Any] = [
        LRSchedulerHook(scheduler),
        CheckpointHook(checkpointer, int(cfg.SOLVER.CHECKPOINT_PERIOD)),
    ]
    if options.val is not None:
        evaluate = _evaluator(options, cfg, labels, model)
        hooks.append(EvalHook(int(cfg.TEST.EVAL_PERIOD) or max_iter, evaluate, checkpointer, log))
    hooks.append(MetricsHook(log, progress=options.progress))
    trainer = Trainer(
        model,
        optimizer,
        data,
        max_iter=max_iter,
        start_iter=start,
        clip=lambda params: clip_gradients(cfg, params),
        amp_dtype=dtype,
        scaler=checkpointer.scaler,
        hooks=hooks,
    )
    try:
        trainer.train()
    except (RuntimeError, torch.OutOfMemoryError) as err:
        advice = out_of_memory_advice(err)
        if advice is not None:
            raise advice from None
        raise


def _evaluator(options: TrainOptions, cfg: Any, labels: list[str], model: torch.nn.Module) -> Any:
    """A function evaluating the current weights on ``--val`` (bbox/segm AP)."""
    from layoutft.data.coco import load_coco
    from layoutft.data.loader import default_images_dir
    from layoutft.engine.checkpointer import unwrap
    from layoutft.engine.evaluation import evaluate_model, format_table
    from layoutft.predictor import LayoutModel

    assert options.val is not None
    val = Path(options.val)
    gt = load_coco(val)
    images = Path(options.val_images) if options.val_images else default_images_dir(val, gt)

    def evaluate() -> dict[str, dict[str, Any]]:
        net = cast("GeneralizedRCNN", unwrap(model))
        predictor = LayoutModel(net, cfg, labels)  # switches to eval mode
        metrics = evaluate_model(predictor, gt, images, pdf_folders=[val.parent])
        say(format_table(metrics))
        return metrics

    return evaluate
