"""Ray itself: importing it lazily (``layoutft[ray]`` is optional), joining or starting a
cluster, and the resources a run needs from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from layoutft.errors import LayoutftError, OptionError

INSTALL_HINT = "pip install 'layoutft[ray]'"


def require_ray() -> ModuleType:
    """The ``ray`` module; LayoutftError with the install command when it is missing."""
    try:
        import ray
    except ImportError:
        raise LayoutftError(
            f"the Ray engine needs Ray, which is not installed: {INSTALL_HINT}"
        ) from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a Ray run goes.

    Attributes:
        address: a running cluster (``"auto"``, ``"HOST:PORT"`` of its head, or
            ``"ray://HOST:10001"``); None: the cluster this process already joined
            (``ray.init`` called before), else a new one on this machine, stopped at the end.
        ray_workers: model actors, each loading the model once; None: one per
            ``gpus_per_worker`` of the cluster's GPUs with GPUs, else one per
            ``cpus_per_worker`` of its CPUs, keeping ``render_cpus`` for rendering.
        gpus_per_worker: GPUs per actor (0: CPU inference; 0.5: two actors share a GPU).
        cpus_per_worker: CPUs each actor holds (its torch threads).
        render_cpus: CPUs per render task (tasks run where Ray places them).
        pages_per_task: pages rendered by one task and parsed by one actor call.
        max_pages_in_flight: pages rendered but not yet parsed, at most (the backpressure
            bound: memory is about this many page images); None: ``2 * pages_per_task`` per
            actor, at least ``pages_per_task``.
        num_cpus: CPUs of a cluster started here (None: this machine's cores, or more when
            the actors and one render task need more).
        object_store_memory: bytes of the object store of a cluster started here (None:
            Ray's default).
        stall_warning_s: warn (logger ``layoutft.distributed``) when no task or call of the
            run finished for this long while render tasks wait and no CPU of the cluster is
            free for them (other work holding the cluster's CPUs stalls a run silently).
    """

    address: str | None = None
    ray_workers: int | None = None
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    render_cpus: float = 1.0
    pages_per_task: int = 4
    max_pages_in_flight: int | None = None
    num_cpus: int | None = None
    object_store_memory: int | None = None
    stall_warning_s: float = 60.0

    def __post_init__(self) -> None:
        if self.ray_workers is not None and self.ray_workers < 1:
            raise OptionError("{ray_workers} must be >= 1, got {got}", got=self.ray_workers)
        if self.gpus_per_worker < 0:
            raise OptionError("{gpus_per_worker} must be >= 0, got {got}", got=self.gpus_per_worker)
        if self.cpus_per_worker <= 0 or self.render_cpus <= 0:
            raise OptionError(
                "{cpus_per_worker} and {render_cpus} must be > 0, got {a} and {b}",
                a=self.cpus_per_worker,
                b=self.render_cpus,
            )
        if self.pages_per_task < 1:
            raise OptionError("{pages_per_task} must be >= 1, got {got}", got=self.pages_per_task)
        if self.max_pages_in_flight is not None and self.max_pages_in_flight < 1:
            raise OptionError(
                "{max_pages_in_flight} must be >= 1, got {got}", got=self.max_pages_in_flight
            )

    def local_cpus(self) -> int:
        """CPUs for a cluster started on this machine (logical: Ray schedules by them)."""
        if self.num_cpus is not None:
            return self.num_cpus
        cores = os.cpu_count() or 1
        need = (self.ray_workers or 1) * self.cpus_per_worker + self.render_cpus
        return max(cores, int(-(-need // 1)))

    def worker_count(self, resources: dict[str, float]) -> int:
        """Actors to start on a cluster with ``resources`` (``ray.cluster_resources()``);
        OptionError when they (and one render task) do not fit."""
        cpus = float(resources.get("CPU", 0))
        gpus = float(resources.get("GPU", 0))
        if self.gpus_per_worker > 0 and gpus < self.gpus_per_worker:
            raise OptionError(
                "{gpus_per_worker} {g} needs a cluster with GPUs; it has {n}: use 0 for CPU "
                "inference, or join a cluster with GPUs ({address})",
                g=self.gpus_per_worker,
                n=gpus,
            )
        workers = self.ray_workers
        if workers is None:
            if self.gpus_per_worker > 0:
                workers = int(gpus // self.gpus_per_worker)
            else:
                workers = int((cpus - self.render_cpus) // self.cpus_per_worker)
            workers = max(1, workers)
        need = workers * self.cpus_per_worker + self.render_cpus
        if need > cpus + 1e-9:
            raise OptionError(
                "{ray_workers} {w} with {cpus_per_worker} {c} and {render_cpus} {r} needs {n} "
                "CPUs; the cluster has {have}: use fewer workers or a larger cluster",
                w=workers,
                c=self.cpus_per_worker,
                r=self.render_cpus,
                n=need,
                have=cpus,
            )
        if workers * self.gpus_per_worker > gpus + 1e-9:
            raise OptionError(
                "{ray_workers} {w} with {gpus_per_worker} {g} needs {n} GPUs; the cluster has "
                "{have}",
                w=workers,
                g=self.gpus_per_worker,
                n=workers * self.gpus_per_worker,
                have=gpus,
            )
        return workers

    def in_flight(self, workers: int) -> int:
        """The bound on pages rendered and not yet parsed."""
        if self.max_pages_in_flight is not None:
            return max(self.max_pages_in_flight, 1)
        return max(2 * self.pages_per_task * workers, self.pages_per_task)


class Connection:
    """Joins the cluster a :class:`RayOptions` names (or starts one here) on entry; on exit
    shuts down what it started or joined, never a connection made before it."""

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self.ray = require_ray()
        self.owned = False

    def __enter__(self) -> Connection:
        ray = self.ray
        if ray.is_initialized():
            if self.options.address is not None:
                raise LayoutftError(
                    "Ray is already initialized in this process; drop address (the run uses "
                    "that cluster) or call ray.shutdown() first"
                )
            return self
        common: dict[str, Any] = {"logging_level": "WARNING", "log_to_driver": True}
        try:
            if self.options.address is not None:
                ray.init(address=self.options.address, **common)
            else:
                ray.init(
                    # "local": always a new Ray here, never a cluster found through
                    # RAY_ADDRESS or a stale /tmp/ray/ray_current_cluster (--address auto
                    # joins the running one)
                    address="local",
                    num_cpus=self.options.local_cpus(),
                    object_store_memory=self.options.object_store_memory,
                    include_dashboard=False,
                    **common,
                )
        except ConnectionError as exc:
            if _refused_for_token(exc):
                raise LayoutftError(
                    f"the Ray cluster at {self.options.address} refused this process: it uses "
                    "token authentication; set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
                    "RAY_AUTH_TOKEN_PATH) as on its nodes"
                ) from None
            raise LayoutftError(
                f"cannot join the Ray cluster at {self.options.address}: {exc}; start it with "
                "`ray start --head` or check the address (--address)"
            ) from None
        self.owned = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            self.ray.shutdown()
            self.owned = False

    def resources(self) -> dict[str, float]:
        """The cluster's total resources (``CPU``, ``GPU``, ...)."""
        return {str(k): float(v) for k, v in self.ray.cluster_resources().items()}


def _refused_for_token(exc: BaseException) -> bool:
    """Whether joining failed for want of the cluster's authentication token (Ray raises a
    ConnectionError caused by its AuthenticationError)."""
    seen: BaseException | None = exc
    while seen is not None:
        if "AuthenticationError" in type(seen).__name__ or "InvalidAuthToken" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
