"""``train(options)``: a whole training run (single process, local DDP spawn or torchrun).

Output directory: ``config.yaml`` (the fully resolved config), ``metrics.jsonl``,
TensorBoard event files, ``model_XXXXXXX.pth`` every ``SOLVER.CHECKPOINT_PERIOD``
iterations with ``last_checkpoint``, ``model_best.pth`` (best bbox AP on ``--val``) and
``model_final.pth``; all are layoutft checkpoints (weights, config, labels, input contract).
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from layoutft.device import resolve_device
from layoutft.engine import ddp as comm
from layoutft.engine.run_folder import (
    check_output,
    check_resume_config,
    lock_run_folder,
    read_run_config,
    remove_run_files,
)
from layoutft.engine.settings import TrainSettings
from layoutft.engine.setup import (
    TrainOptions,
    amp_dtype,
    cap_regions,
    check_annotated,
    check_norm,
    check_solver,
    fit_labels,
    pick_seed,
    resolve_config_path,
    resolve_weights,
)
from layoutft.errors import OptionError

if TYPE_CHECKING:
    from layoutft.config import Config
    from layoutft.data.loader import PageRecord
    from layoutft.engine.checkpointer import Checkpointer
    from layoutft.engine.solver import WarmupLR
    from layoutft.engine.trainer import HookBase
    from layoutft.modeling.meta_arch import GeneralizedRCNN

#: One step's batch: a list of model input dicts (see layoutft.modeling.meta_arch).
Batch = list[dict[str, Any]]


def say(message: str) -> None:
    """A note for the user, printed once (rank 0) on stderr."""
    if comm.is_main_process():
        print(message, file=sys.stderr, flush=True)


def train(options: TrainOptions) -> Path:
    """Run training as ``options`` say; returns the output directory.

    Raises LayoutftError subclasses for bad configs, data, weights or devices.
    """
    device = resolve_device(options.device)
    resolve_config_path(options.config)  # fail before spawning
    check_output(options)
    resolved = dataclasses.replace(options, device=device)
    if options.budget is not None and not options.resume:
        resolved = _timed(resolved)
    if comm.launched_rank() != 0:  # torchrun: global rank 0 holds the folder for all
        comm.launch(_worker, options.num_gpus, device, (resolved,))
        return options.output
    with lock_run_folder(Path(options.output)):
        check_output(options)  # again, holding the folder: no other run got in between
        comm.launch(_worker, options.num_gpus, device, (resolved,))
    return options.output


def _timed(options: TrainOptions) -> TrainOptions:
    """``options`` with the seconds per iteration measured and what remains of the budget
    (see :mod:`layoutft.engine.budget`)."""
    from layoutft.engine.budget import TimingDone, TimingHook

    if options.num_gpus > 1 or comm.is_torchrun():
        raise OptionError("{budget} times one process; with several, pass SOLVER.MAX_ITER instead")
    assert options.budget is not None
    say("--budget: timing a few iterations ...")
    begin = time.perf_counter()
    timing = TimingHook()
    with tempfile.TemporaryDirectory(prefix="layoutft-budget.") as tmp:
        probe = dataclasses.replace(
            options, output=Path(tmp), val=None, val_images=None, progress=False, budget=None
        )
        run = prepare_run(probe, quiet=True)
        run.hooks[:] = [timing]  # no checkpoints, metrics or evaluation while timing
        with contextlib.suppress(TimingDone):
            fit(run)
    left = options.budget - (time.perf_counter() - begin)
    return dataclasses.replace(
        options, budget=left, s_per_iter=timing.s_per_iter(), deadline=time.time() + left
    )


@dataclass(frozen=True)
class RunInputs:
    """What a run trains on, decided before the model exists (:func:`setup_config`).

    Attributes:
        config: the fully resolved config (written to ``config.yaml``), frozen.
        labels: class names in model order, from the training data.
        pages: the training pages.
        weights: the checkpoint to initialise from, None for training from scratch.
        notes: what was adapted or is worth a warning (printed once).
        settings: the typed solver and run settings read from ``config`` once
            (:class:`~layoutft.engine.settings.TrainSettings`).
    """

    config: Config
    labels: list[str]
    pages: list[PageRecord]
    weights: Path | None
    notes: list[str]
    settings: TrainSettings


@dataclass
class TrainRun:
    """One process's training run: everything :func:`fit` needs, built once by
    :func:`prepare_run`.

    Attributes:
        options: what was asked (never modified).
        inputs: config, labels, pages and initial weights.
        model: the model being trained (DistributedDataParallel-wrapped with several
            processes; :func:`~layoutft.engine.checkpointer.unwrap` gives the model).
        optimizer, scheduler: the solver, from ``SOLVER.*``.
        checkpointer: saves and restores the training state in ``options.output``.
        amp_dtype: the CUDA autocast dtype, None for float32.
        start_iter: the first iteration to run (> 0 when resumed).
        data: this process's endless iterator of training batches, from ``start_iter``.
        hooks: run around every step, in order (LR schedule, checkpoints, eval, metrics).
        notes: every note said to the user while preparing the run.
    """

    options: TrainOptions
    inputs: RunInputs
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: WarmupLR
    checkpointer: Checkpointer
    amp_dtype: torch.dtype | None
    start_iter: int
    data: Iterator[Batch]
    hooks: list[HookBase]
    notes: list[str]

    @property
    def max_iter(self) -> int:
        return self.inputs.settings.solver.max_iter


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def setup_config(options: TrainOptions, world_size: int) -> RunInputs:
    """Resolved config, labels, training pages, init weights and the notes on them."""
    from layoutft.config import load_config
    from layoutft.data.loader import load_pages, train_pages, train_sampler
    from layoutft.engine.solver import scale_solver

    path = resolve_config_path(options.config)
    fitted, notes = fit_data_overrides(path, options) if options.fit_data else ([], [])
    cfg = load_config(path, [*fitted, *options.overrides])
    check_solver(cfg)
    pages, labels = load_pages(options.train, options.train_images)
    check_annotated(pages, options.train)
    pages, capped = cap_regions(pages)
    notes += capped
    notes += fit_labels(cfg, labels)
    weights = resolve_weights(options.weights, cfg)
    cfg.MODEL.WEIGHTS = "" if weights is None else str(weights)
    notes += check_norm(cfg, weights)
    notes += scale_solver(cfg, world_size, len(pages))
    notes += _budget_schedule(cfg, options)
    if int(cfg.SEED) < 0:  # a random seed; a resumed run keeps the one it started with
        previous = _previous_seed(options) if options.resume else None
        cfg.SEED = comm.broadcast_object(previous if previous is not None else pick_seed(cfg))
    cfg.OUTPUT_DIR = str(options.output)
    cfg.freeze()  # resolved: from here on the run reads TrainSettings, and nothing writes
    settings = TrainSettings.from_config(cfg)
    # the sampler loads no image: its refusals (batch vs processes, source weights) come
    # now, before the model loads, not when the loader is built
    data = settings.data
    train_sampler(train_pages(pages, data), data, seed=settings.seed, world_size=world_size)
    return RunInputs(cfg, labels, pages, weights, notes, settings)


def fit_data_overrides(config: Path, options: TrainOptions) -> tuple[list[str], list[str]]:
    """``--fit-data``: ``layoutft analyze``'s recommendation for ``config`` (with the user's
    overrides applied) from the training set, as ``KEY VALUE`` pairs less the keys the user
    set, and the notes that say what it chose."""
    from layoutft.config import load_config
    from layoutft.data.analyze import Recipe, analyze_coco
    from layoutft.data.coco import load_coco

    recipe = Recipe.from_config(load_config(config, list(options.overrides)), config.stem)
    analysis = analyze_coco(load_coco(options.train), recipe=recipe)
    pairs = analysis.overrides()
    user_keys = set(options.overrides[::2])
    chosen = [
        (key, value)
        for key, value in zip(pairs[::2], pairs[1::2], strict=True)
        if key not in user_keys
    ]
    kept = sorted(user_keys & set(pairs[::2]))
    note = "--fit-data (layoutft analyze on the training set): " + (
        " ".join(f"{key} {value}" for key, value in chosen) or "nothing to change"
    )
    if kept:
        note += f"; your overrides kept for {', '.join(kept)}"
    return [v for pair in chosen for v in pair], [note, *analysis.notes]


def _budget_schedule(cfg: Config, options: TrainOptions) -> list[str]:
    """With ``--budget``: the schedule fitted to it, or (resumed) the one the run started
    with; notes."""
    from layoutft.engine.budget import fit_schedule

    if options.budget is None:
        return []
    if options.resume:
        saved = read_run_config(Path(options.output))
        if saved is None:
            raise OptionError("{budget} with --resume needs the run's config.yaml")
        solver = saved.get("SOLVER", {})
        cfg.SOLVER.MAX_ITER = int(solver["MAX_ITER"])
        cfg.SOLVER.STEPS = tuple(int(s) for s in solver["STEPS"])
        cfg.SOLVER.WARMUP_ITERS = int(solver["WARMUP_ITERS"])
        return [f"--budget: the run's own schedule kept, SOLVER.MAX_ITER {cfg.SOLVER.MAX_ITER}"]
    assert options.s_per_iter is not None
    return fit_schedule(cfg, options.budget, options.s_per_iter)


def _previous_seed(options: TrainOptions) -> int | None:
    """The seed a run being resumed started with (its data order depends on it)."""
    seed = (read_run_config(Path(options.output)) or {}).get("SEED")
    return int(seed) if isinstance(seed, int) else None


def _worker(options: TrainOptions) -> None:
    """One process's run (rank from torch.distributed, or the only one)."""
    fit(prepare_run(options))


def prepare_run(options: TrainOptions, quiet: bool = False) -> TrainRun:
    """Build this process's run: resolve the config, write ``config.yaml`` (rank 0), seed,
    build and initialise the model, solver and checkpointer, resume, then the data loader
    and hooks (in this order, so a seeded run is reproducible). ``quiet``: collect the
    notes without printing them."""

    def _noted(notes: list[str], new: list[str]) -> None:
        for note in new if not quiet else ():
            say(note)
        notes.extend(new)

    from layoutft.checkpoint import apply_weights, load_weights
    from layoutft.checkpoint.heads import resolve_class_map
    from layoutft.engine.checkpointer import Checkpointer
    from layoutft.engine.solver import build_lr_scheduler, build_optimizer
    from layoutft.modeling import build_model
    from layoutft.outputs import write_text_atomic

    rank, world = comm.get_rank(), comm.get_world_size()
    inputs = setup_config(options, world)
    cfg = inputs.config
    notes: list[str] = []
    _noted(notes, inputs.notes)
    out = Path(options.output)
    if options.resume:
        check_resume_config(out, cfg)  # before config.yaml is written again
    if comm.is_main_process():
        if options.overwrite:
            removed = remove_run_files(out)
            if removed:
                _noted(
                    notes,
                    [f"--overwrite: removed {len(removed)} files of the previous run in {out}"],
                )
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.yaml", cfg.dump())
    settings = inputs.settings
    _seed_all(settings.seed + rank)
    device = comm.local_device(options.device)
    model = build_model(cfg).to(device)
    if inputs.weights is not None:
        aliases = resolve_class_map(list(settings.init_class_map))
        report = apply_weights(
            model, load_weights(inputs.weights), labels=inputs.labels, aliases=aliases
        )
        _noted(notes, [f"initialised from {inputs.weights}: {report.message()}"])
    optimizer = build_optimizer(settings.solver, model)
    scheduler = build_lr_scheduler(settings.solver, optimizer)
    dtype, amp_notes = amp_dtype(settings.solver, options.device)
    _noted(notes, amp_notes)
    max_iter = settings.solver.max_iter
    trainer_model: torch.nn.Module = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        trainer_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    checkpointer = Checkpointer(
        out,
        trainer_model,
        cfg,
        inputs.labels,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
    )
    start = 0
    if options.resume:
        start = _resume(checkpointer, max_iter, out)
        _noted(
            notes, [f"resuming at iteration {start}" if start else "no checkpoint to resume from"]
        )
    data = _train_loader(inputs, start)
    hooks = _hooks(options, inputs, trainer_model, scheduler, checkpointer)
    return TrainRun(
        options=options,
        inputs=inputs,
        model=trainer_model,
        optimizer=optimizer,
        scheduler=scheduler,
        checkpointer=checkpointer,
        amp_dtype=dtype,
        start_iter=start,
        data=data,
        hooks=hooks,
        notes=notes,
    )


def _resume(checkpointer: Checkpointer, max_iter: int, out: Path) -> int:
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


def _train_loader(inputs: RunInputs, start: int) -> Iterator[Batch]:
    from layoutft.data.loader import build_train_loader

    return build_train_loader(
        inputs.pages,
        inputs.settings.data,
        seed=inputs.settings.seed,
        rank=comm.get_rank(),
        world_size=comm.get_world_size(),
        start_iter=start,
    )


def _hooks(
    options: TrainOptions,
    inputs: RunInputs,
    model: torch.nn.Module,
    scheduler: WarmupLR,
    checkpointer: Checkpointer,
) -> list[HookBase]:
    """LR schedule, periodic checkpoints, evaluation on ``--val`` and metrics, in order."""
    from layoutft.engine.events import MetricsLog
    from layoutft.engine.hooks import CheckpointHook, EvalHook, LRSchedulerHook, MetricsHook

    settings = inputs.settings
    max_iter = settings.solver.max_iter
    log = None
    if comm.is_main_process():
        log = MetricsLog(Path(options.output), period=settings.log_period, max_iter=max_iter)
    hooks: list[HookBase] = [
        *_budget_guard(options, inputs.config, scheduler),
        LRSchedulerHook(scheduler),
        CheckpointHook(checkpointer, settings.solver.checkpoint_period),
    ]
    if options.val is not None:
        evaluate = _evaluator(options, inputs, model)
        hooks.append(EvalHook(settings.eval_period, evaluate, checkpointer, log))
    hooks.append(MetricsHook(log, progress=options.progress))
    return hooks


def _budget_guard(options: TrainOptions, cfg: Config, scheduler: WarmupLR) -> list[HookBase]:
    """``--budget``'s :class:`~layoutft.engine.budget.BudgetGuard` (none without a budget or
    when resuming, which keeps the run's schedule); a refit is said and written to the run's
    ``config.yaml`` (``cfg``, the run's resolved config, with the refitted schedule)."""
    from layoutft.engine.budget import BudgetGuard
    from layoutft.outputs import write_text_atomic

    if options.deadline is None or options.resume:
        return []
    out = Path(options.output)

    def refitted(max_iter: int, steps: list[int]) -> None:
        refit = cfg.clone()
        refit.SOLVER.MAX_ITER, refit.SOLVER.STEPS = max_iter, tuple(steps)
        write_text_atomic(out / "config.yaml", refit.dump())
        say(
            f"--budget: the run's own pace refits the schedule to SOLVER.MAX_ITER {max_iter}, "
            f"STEPS {steps} (config.yaml updated; these as overrides repeat the run)"
        )

    return [BudgetGuard(options.deadline, scheduler, refitted)]


def fit(run: TrainRun) -> None:
    """Train ``run`` from ``run.start_iter`` to ``SOLVER.MAX_ITER``; out-of-memory errors
    become one line with the fix."""
    from layoutft.engine.solver import clip_gradients
    from layoutft.engine.trainer import Trainer, out_of_memory_advice
    from layoutft.errors import LayoutftError

    solver = run.inputs.settings.solver
    trainer = Trainer(
        run.model,
        run.optimizer,
        run.data,
        max_iter=run.max_iter,
        start_iter=run.start_iter,
        clip=lambda params: clip_gradients(solver.clip, params),
        amp_dtype=run.amp_dtype,
        scaler=run.checkpointer.scaler,
        hooks=run.hooks,
    )
    try:
        trainer.train()
    except FloatingPointError as err:  # non-finite loss, boxes or weights
        raise LayoutftError(
            f"training diverged at iteration {trainer.iter} ({err}); lower SOLVER.BASE_LR "
            f"(now {solver.base_lr:g}), enable SOLVER.CLIP_GRADIENTS or check the "
            "annotations"
        ) from None
    except (RuntimeError, torch.OutOfMemoryError) as err:
        advice = out_of_memory_advice(err)
        if advice is not None:
            raise advice from None
        raise


def _evaluator(
    options: TrainOptions, inputs: RunInputs, model: torch.nn.Module
) -> Callable[[], dict[str, dict[str, Any]]]:
    """A function evaluating the current weights on ``--val`` (bbox/segm AP)."""
    from layoutft.data.coco import default_images_dir, load_coco
    from layoutft.engine.checkpointer import unwrap
    from layoutft.engine.evaluation import evaluate_model, format_table
    from layoutft.model import LayoutModel

    assert options.val is not None
    val = Path(options.val)
    gt = load_coco(val)
    images = Path(options.val_images) if options.val_images else default_images_dir(val, gt)

    def evaluate() -> dict[str, dict[str, Any]]:
        net = cast("GeneralizedRCNN", unwrap(model))
        predictor = LayoutModel(net, inputs.config, inputs.labels)  # switches to eval mode
        metrics = evaluate_model(predictor, gt, images, pdf_folders=[val.parent])
        say(format_table(metrics))
        return metrics

    return evaluate
