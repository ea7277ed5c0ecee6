"""Everything a training run decides before its first step: config, weights, device.

Kept apart from the loop so the CLI and tests can check choices without training.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from layoutft.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from layoutft.config import Config
    from layoutft.data.loader import PageRecord
    from layoutft.engine.settings import SolverSettings

#: ``--weights`` values that mean "train from scratch".
NO_WEIGHTS = ("", "none")
#: family aliases: the config's own registry entry of that family wins over the default.
_FAMILIES = {"publaynet": "publaynet", "imagenet": "imagenet"}


def shipped_configs() -> list[str]:
    """Names of the configs shipped in ``layoutft.configs`` (without ``.yaml``)."""
    root = resources.files("layoutft.configs")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A config file path, or the shipped config of that name (``quick_cpu``)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    name = str(name_or_path)
    stem = name[:-5] if name.endswith(".yaml") else name
    shipped = resources.files("layoutft.configs").joinpath(f"{stem}.yaml")
    if shipped.is_file():
        return Path(str(shipped))
    raise ConfigError(
        f"config {name!r} is neither a file nor a shipped config; shipped: "
        + ", ".join(shipped_configs())
    )


def resolve_weights(name_or_path: str | None, cfg: Config) -> Path | None:
    """The weights file to initialise from, or None for training from scratch.

    ``None`` uses ``cfg.MODEL.WEIGHTS``; ``""``/``"none"``: from scratch; ``publaynet`` /
    ``imagenet``: the config's own registry entry of that family when it names one,
    else the registry's alias; any other registry name or a file path as given.
    """
    from layoutft import pretrained

    text = str(cfg.MODEL.WEIGHTS) if name_or_path is None else str(name_or_path)
    if text.strip().lower() in NO_WEIGHTS:
        return None
    own = str(cfg.MODEL.WEIGHTS)
    family = _FAMILIES.get(text)
    if family and own.startswith(family) and pretrained.is_model_name(own):
        text = own
    return pretrained.resolve_weights(text)


@dataclass(frozen=True)
class TrainOptions:
    """What ``layoutft train`` was asked to do (paths as given; see :func:`run.train`).

    Never modified: what a run decides from it (the resolved device, config, notes) lives
    in :class:`layoutft.engine.run.TrainRun`.
    """

    config: str
    train: Path
    output: Path
    train_images: Path | None = None
    val: Path | None = None
    val_images: Path | None = None
    weights: str | None = None
    resume: bool = False
    overwrite: bool = False
    num_gpus: int = 1
    device: str = "auto"
    overrides: Sequence[str] = ()
    progress: bool = True
    #: wall-clock seconds for the whole run (``--budget``), None: the config's schedule
    budget: float | None = None
    #: seconds per iteration measured for ``budget`` (set by :func:`run.train`)
    s_per_iter: float | None = None
    #: when the budget runs out, epoch seconds (set by :func:`run.train`)
    deadline: float | None = None
    #: apply ``layoutft analyze``'s recommendation for the config and training set
    #: (``--fit-data``); explicit ``overrides`` win over it
    fit_data: bool = False


def fit_labels(cfg: Config, labels: list[str]) -> list[str]:
    """Set ``LAYOUTFT.LABELS`` and ``NUM_CLASSES`` from the dataset; return notes.

    The dataset defines the classes: a config with another class count is adapted (and
    told), since a mismatched head cannot train.
    """
    notes = []
    configured = int(cfg.MODEL.ROI_HEADS.NUM_CLASSES)
    if configured != len(labels):
        notes.append(
            f"MODEL.ROI_HEADS.NUM_CLASSES set to {len(labels)} from the dataset categories "
            f"{labels} (config said {configured})"
        )
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = len(labels)
    old = list(cfg.LAYOUTFT.LABELS or [])
    if old and old != labels:
        notes.append(f"LAYOUTFT.LABELS set to the dataset's {labels} (config said {old})")
    cfg.LAYOUTFT.LABELS = list(labels)
    return notes


def check_norm(cfg: Config, weights: Path | None) -> list[str]:
    """A note when FrozenBN is trained from scratch (it then normalises nothing)."""
    if weights is None and str(cfg.MODEL.RESNETS.NORM) == "FrozenBN":
        return [
            "warning: MODEL.RESNETS.NORM is FrozenBN but no weights are loaded: its statistics "
            "stay at mean 0 / var 1 and never train; use MODEL.RESNETS.NORM BN (or GN) for "
            "training from scratch, or pass --weights imagenet"
        ]
    return []


def amp_dtype(solver: SolverSettings, device: str) -> tuple[torch.dtype | None, list[str]]:
    """The autocast dtype (None: fp32) and notes, from ``solver.amp`` / ``solver.amp_dtype``
    (SOLVER.AMP.ENABLED / LAYOUTFT.SOLVER.AMP_DTYPE, checked when the settings were built)."""
    import torch

    if not solver.amp:
        return None, []
    if device != "cuda":
        return None, ["SOLVER.AMP.ENABLED is ignored on CPU (mixed precision needs CUDA)"]
    if solver.amp_dtype == "bfloat16" and not torch.cuda.is_bf16_supported():
        raise ConfigError("this GPU has no bfloat16 support; set LAYOUTFT.SOLVER.AMP_DTYPE float16")
    return {"bfloat16": torch.bfloat16, "float16": torch.float16}[solver.amp_dtype], []


def pick_seed(cfg: Config) -> int:
    """``cfg.SEED`` when >= 0, else a fresh random seed (recorded in config.yaml)."""
    seed = int(cfg.SEED)
    if seed < 0:
        seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    return seed


def check_solver(cfg: Config) -> None:
    """ConfigError, naming the key, for solver values no run can train with: MAX_ITER and
    IMS_PER_BATCH below 1, BASE_LR not a positive number (checked before any scaling rule
    divides by them)."""
    import math

    sol = cfg.SOLVER
    for key in ("MAX_ITER", "IMS_PER_BATCH"):
        if int(sol[key]) < 1:
            raise ConfigError(
                f"SOLVER.{key} is {sol[key]}; it must be at least 1 "
                f"(set it with SOLVER.{key} VALUE)"
            )
    lr = float(sol.BASE_LR)
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(
            f"SOLVER.BASE_LR is {sol.BASE_LR}; it must be a positive number "
            "(set it with SOLVER.BASE_LR VALUE)"
        )


def check_annotated(pages: Sequence[PageRecord], coco: str | Path) -> None:
    """DatasetError when the training pages hold no region at all (crowd regions do not
    count): such a run would learn only "no region anywhere", without a word."""
    from layoutft.errors import DatasetError

    if not any(len(page.boxes) for page in pages):
        raise DatasetError(
            f"{coco}: no annotations to train on ({len(pages)} images, 0 annotations); "
            "annotate some pages or check the file"
        )


def cap_regions(
    pages: list[PageRecord], limit: int | None = None
) -> tuple[list[PageRecord], list[str]]:
    """Pages with at most ``limit`` regions each (default
    :data:`layoutft.data.validate.MAX_REGIONS_PER_IMAGE`): a page with more keeps its
    ``limit`` largest by box area, in their original order, and a note says how many pages
    were cut. Matching anchors to regions needs memory proportional to their product, so a
    page with 100k regions would ask for tens of GB."""
    import dataclasses

    import numpy as np

    from layoutft.data.validate import MAX_REGIONS_PER_IMAGE

    limit = MAX_REGIONS_PER_IMAGE if limit is None else limit
    crowded = [i for i, page in enumerate(pages) if len(page.boxes) > limit]
    if not crowded:
        return pages, []
    capped = list(pages)
    for i in crowded:
        page = pages[i]
        area = (page.boxes[:, 2] - page.boxes[:, 0]) * (page.boxes[:, 3] - page.boxes[:, 1])
        keep = np.sort(np.argsort(-area, kind="stable")[:limit])
        capped[i] = dataclasses.replace(
            page,
            boxes=page.boxes[keep],
            classes=page.classes[keep],
            segmentations=[page.segmentations[k] for k in keep],
        )
    most = max(len(pages[i].boxes) for i in crowded)
    what = "page has" if len(crowded) == 1 else "pages have"
    note = (
        f"{len(crowded)} training {what} more than {limit} regions (at most {most}): "
        f"training keeps the {limit} largest of each"
    )
    return capped, [note]
