"""Process groups for data-parallel training: local spawn and torchrun, gloo or NCCL.

``launch(fn, num_procs, ...)`` runs ``fn(*args)`` in ``num_procs`` local processes (one per
GPU, or CPU processes with gloo), or once in this process when ``num_procs`` is 1 and
no torchrun environment (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``) is present. Under
torchrun the same command joins the job the environment describes.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

from layoutft.errors import LayoutftError


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Only rank 0 writes files and prints."""
    return get_rank() == 0


def barrier() -> None:
    if is_distributed() and get_world_size() > 1:
        dist.barrier()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def is_torchrun() -> bool:
    """Whether torchrun started this process (its RANK/WORLD_SIZE/LOCAL_RANK are set)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def launched_rank() -> int:
    """This process's global rank as torchrun set it (before :func:`launch`), else 0."""
    return int(os.environ["RANK"]) if is_torchrun() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(fn: Callable[..., Any], num_procs: int, device: str, args: tuple[Any, ...]) -> None:
    """Run ``fn(*args)`` data-parallel; see the module docstring.

    ``device`` is "cpu" (gloo) or "cuda" (NCCL, one GPU per local rank).
    """
    if is_torchrun():
        _init(device, int(os.environ["LOCAL_RANK"]), init_method="env://")
        _run(fn, args)
        return
    if num_procs <= 1:
        fn(*args)
        return
    if device == "cuda" and torch.cuda.device_count() < num_procs:
        raise LayoutftError(
            f"--num-gpus {num_procs} but only {torch.cuda.device_count()} CUDA devices are visible"
        )
    from torch.multiprocessing.spawn import ProcessException

    url = f"tcp://127.0.0.1:{_free_port()}"
    try:
        torch.multiprocessing.spawn(
            _spawned, args=(fn, num_procs, device, url, args), nprocs=num_procs, join=True
        )
    except ProcessException as exc:
        raise LayoutftError(f"a training process failed: {_last_line(str(exc))}") from None


def _last_line(text: str) -> str:
    """The child's error message: last traceback line without its ``pkg.Class:`` prefix."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "no message"
    match = re.match(r"^[\w.]+: (.*)$", lines[-1].strip())
    return match.group(1) if match else lines[-1].strip()


def _spawned(
    local_rank: int,
    fn: Callable[..., Any],
    world_size: int,
    device: str,
    url: str,
    args: tuple[Any, ...],
) -> None:
    _init(device, local_rank, init_method=url, rank=local_rank, world_size=world_size)
    _run(fn, args)


def _init(
    device: str,
    local_rank: int,
    *,
    init_method: str,
    rank: int | None = None,
    world_size: int | None = None,
) -> None:
    backend = "nccl" if device == "cuda" else "gloo"
    if device == "cuda":
        torch.cuda.set_device(local_rank)
    kwargs: dict[str, Any] = {}
    if rank is not None:
        kwargs = {"rank": rank, "world_size": world_size}
    dist.init_process_group(backend=backend, init_method=init_method, **kwargs)


def _run(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


def local_device(device: str) -> torch.device:
    """This process's device: ``cuda:LOCAL_RANK`` under DDP on GPUs, else ``device``."""
    if device == "cuda" and is_distributed():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(device)
