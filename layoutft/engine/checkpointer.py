"""Training checkpoints: periodic, atomic, resumable bit for bit.

Each checkpoint is a layoutft checkpoint (weights, full config, labels, input contract,
written by :func:`layoutft.checkpoint.save_checkpoint`, atomically) whose extra entries
hold the training state: ``optimizer``, ``scheduler``, ``scaler``, ``iteration`` (the
last finished, 0-based) and ``rng`` (torch, CUDA, numpy and Python generator states of
every rank). ``last_checkpoint`` (a text file with the file name) points at the newest.
``model_final.pth`` keeps the training state too (as detectron2's does), so a finished run
can be extended with ``--resume`` and a larger ``SOLVER.MAX_ITER``; ``model_best.pth``
holds weights only. The data order needs no state: it is a function of the seed and the
iteration. Ship a run's weights without the training state with
``layoutft export CKPT --format layoutft``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from layoutft.engine import ddp as comm
from layoutft.errors import CheckpointError
from layoutft.outputs import write_text_atomic

LAST = "last_checkpoint"


def rng_state() -> dict[str, Any]:
    """This process's generator states (tensors and plain values only: weights_only-safe)."""
    kind, keys, pos, has_gauss, gauss = cast(tuple[Any, ...], np.random.get_state())
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    inner = getattr(model, "module", model)
    return cast(torch.nn.Module, inner)


class Checkpointer:
    """Saves and restores the whole training state in ``out_dir``.

    ``save`` must be called on every rank (it gathers RNG states); only rank 0 writes.
    """

    def __init__(
        self,
        out_dir: Path,
        model: torch.nn.Module,
        cfg: Any,
        labels: list[str],
        *,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        scaler: Any = None,
    ) -> None:
        self.out_dir, self.model, self.cfg, self.labels = out_dir, model, cfg, labels
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler

    def save(self, name: str, iteration: int, *, training_state: bool = True) -> Path:
        """Write ``<name>.pth``; with training state also point ``last_checkpoint`` at it."""
        from layoutft.checkpoint import save_checkpoint

        extra: dict[str, Any] = {"iteration": iteration}
        if training_state:
            rngs: list[Any] = [rng_state()]
            if comm.get_world_size() > 1:
                rngs = [None] * comm.get_world_size()
                torch.distributed.all_gather_object(rngs, rng_state())
            extra.update(
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                rng=rngs,
            )
            if self.scaler is not None:
                extra["scaler"] = self.scaler.state_dict()
        path = self.out_dir / f"{name}.pth"
        if comm.is_main_process():
            save_checkpoint(path, unwrap(self.model), self.cfg, self.labels, extra=extra)
            if training_state:
                write_text_atomic(self.out_dir / LAST, path.name)
        return path

    def last(self) -> Path | None:
        """The checkpoint ``last_checkpoint`` names, or None when there is none."""
        marker = self.out_dir / LAST
        if not marker.exists():
            return None
        path = self.out_dir / marker.read_text(encoding="utf-8").strip()
        if not path.exists():
            raise CheckpointError(
                f"{marker} names {path.name}, which does not exist; delete {marker} to start over"
            )
        return path

    def resume(self, max_iter: int) -> int:
        """Restore the newest checkpoint; return the iteration to start at (0 if none).

        A finished run whose ``model_final.pth`` was reached at ``max_iter`` or later has
        nothing left to do (returns its iteration count). Given a larger ``max_iter`` it
        continues from the final checkpoint's training state exactly as an uninterrupted
        run to ``max_iter`` would (with a step LR schedule; the schedule follows the
        current config).
        """
        from layoutft.checkpoint import load_weights

        path = self.last()
        if path is None:
            return 0
        loaded = load_weights(path)
        extra = loaded.extra
        start = int(extra.get("iteration", -1)) + 1
        if start >= max_iter:  # finished: nothing left to do
            unwrap(self.model).load_state_dict(loaded.state_dict)
            return start
        if "optimizer" not in extra:
            raise CheckpointError(
                f"{path} holds no training state (optimizer, scheduler, rng) to resume from; "
                f"to train it further start a new run from its weights: --weights {path} "
                "--output NEW_FOLDER (without --resume)"
            )
        unwrap(self.model).load_state_dict(loaded.state_dict)
        self.optimizer.load_state_dict(extra["optimizer"])
        self.scheduler.load_state_dict(extra["scheduler"])
        if self.scaler is not None and "scaler" in extra:
            self.scaler.load_state_dict(extra["scaler"])
        rngs = extra["rng"]
        if len(rngs) == comm.get_world_size():
            set_rng_state(rngs[comm.get_rank()])
        else:  # resumed on another number of processes: same data, new random streams
            set_rng_state(rngs[0])
        return start
