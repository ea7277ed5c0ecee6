"""A training run's output folder: which files are the run's, whether a run may write
into the folder (``--resume``/``--overwrite``), and whether a resumed run's config matches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from layoutft.config import Config
    from layoutft.engine.setup import TrainOptions


#: Files a training run writes into its output folder; ``--overwrite`` removes these only.
RUN_FILES = ("config.yaml", "last_checkpoint", "metrics.jsonl")
RUN_PATTERNS = ("model_*.pth", "events.out.tfevents.*", ".model_*.pth.*.tmp")
#: held by the run writing the folder (see :func:`lock_run_folder`); never removed
LOCK_NAME = ".layoutft-train.lock"
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


@contextlib.contextmanager
def lock_run_folder(out: Path) -> Iterator[None]:
    """Hold the training run folder ``out`` for one run: LayoutftError when another run
    (another process) holds it, so two ``train --output SAMEDIR`` never write one folder.
    The folder is checked (not a file, writable) and created first."""
    from layoutft.errors import LayoutftError
    from layoutft.outputs import check_writable, exclusive_lock

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LayoutftError(f"--output {out} is a file; give a folder for the run")
    check_writable([out], "--output")
    busy = (
        f"{out} is being written by another layoutft run; wait for it to finish or "
        "choose another output folder (--output)"
    )
    with exclusive_lock(out / LOCK_NAME, busy):
        yield


def remove_run_files(out: Path) -> list[Path]:
    """``--overwrite``: delete the previous run's files (only those, see :data:`RUN_FILES`)."""
    removed = run_files(out)
    for path in removed:
        path.unlink()
    return removed


def read_run_config(out: Path) -> dict[str, Any] | None:
    """The run's ``config.yaml`` in ``out`` as plain data ({} when it is not a mapping), None
    when there is none; ConfigError (one line) when it cannot be read."""
    import yaml

    from layoutft.errors import ConfigError

    saved = out / "config.yaml"
    if not saved.is_file():
        return None
    try:
        old = yaml.safe_load(saved.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        kind = err.strerror if isinstance(err, OSError) else "not a readable YAML file"
        raise ConfigError(
            f"--resume: cannot read {saved} ({kind}); use --overwrite or another --output"
        ) from None
    return old if isinstance(old, dict) else {}


def check_resume_config(out: Path, cfg: Config) -> None:
    """ConfigError naming the keys in which ``cfg`` differs from the run's ``config.yaml``
    (keys in :data:`RESUME_MAY_CHANGE` aside); nothing when there is no ``config.yaml``."""
    import yaml

    from layoutft.errors import ConfigError

    old = read_run_config(out)
    if old is None:
        return
    before = _flatten(old)
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
            f"--resume: the config differs from the run's {out / 'config.yaml'} in "
            f"{shown}{more}; resume "
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
