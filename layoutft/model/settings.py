"""The settings a model's ``predict`` takes and the defaults a model config implies.

Shared by the parse wing (which checks them once per run) and the model (which checks them
per call); plain values, no config tree beyond :func:`config_score_threshold`. No torch here.
"""

from __future__ import annotations

from typing import Any

from layoutft.errors import OptionError

PRECISIONS = ("fp32", "bf16", "fp16")
DEFAULT_SCORE_THRESHOLD = 0.5
# detectron2's default MODEL.ROI_HEADS.SCORE_THRESH_TEST: a recall setting for evaluation
# (AP needs low-score detections), not a choice of the model's author.
D2_DEFAULT_SCORE_THRESH_TEST = 0.05


def check_choice(parameter: str, value: object, choices: tuple[str, ...]) -> None:
    """OptionError naming ``parameter`` and its choices when ``value`` is not one of them."""
    if value in choices:
        return
    if parameter == "precision":  # the value's name first: "unknown precision 'int8'"
        template = "unknown precision {value!r} ({precision}); use one of {choices}"
    else:
        template = "unknown {" + parameter + "} {value!r}; choose one of {choices}"
    raise OptionError(template, value=value, choices=", ".join(choices))


def check_precision(precision: str, device_type: str) -> None:
    """OptionError for an unknown ``predict`` precision, or fp16 off CUDA (CPUs lack fast
    fp16 convolutions). ``device_type``: ``"cpu"`` or ``"cuda"``."""
    check_choice("precision", precision, PRECISIONS)
    if precision == "fp16" and device_type != "cuda":
        raise OptionError("{precision} fp16 needs a CUDA device; on CPU use bf16 (or fp32)")


def resolve_workers(workers: int | None, batch_size: int, device_type: str, default: int) -> int:
    """The number of pages ``predict`` runs at once: ``workers``, or ``default`` when None
    and pages go one per forward pass (``batch_size`` 1), else 1.

    OptionError for workers below 1, above 1 off the CPU (a GPU batches pages instead), or
    above 1 together with a batch size above 1 (workers run one page per forward pass).
    ``device_type``: ``"cpu"`` or ``"cuda"``.
    """
    if workers is None:
        return default if batch_size == 1 and device_type == "cpu" else 1
    if workers < 1:
        raise OptionError("{workers} must be >= 1, got {got}", got=workers)
    if workers > 1 and device_type != "cpu":
        raise OptionError("{workers} > 1 is for CPU inference; on a GPU use {batch_size}")
    if workers > 1 and batch_size > 1:
        raise OptionError(
            "{workers} {w} runs one page per forward pass; drop {batch_size} {b} or use "
            "{workers} 1",
            w=workers,
            b=batch_size,
        )
    return workers


def config_score_threshold(config: Any) -> float:
    """The default per-class threshold for a model config (a :class:`~layoutft.config.Config`).

    ``MODEL.ROI_HEADS.SCORE_THRESH_TEST`` when the config sets it (any value other than
    detectron2's default 0.05, e.g. ``0.3`` in the YAML or as a ``KEY VALUE`` override), else
    :data:`DEFAULT_SCORE_THRESHOLD` (0.5): at 0.05 a layout would be mostly noise. Configs
    without that key (None, or a model without a config) also give 0.5.
    """
    try:
        value = float(config.MODEL.ROI_HEADS.SCORE_THRESH_TEST)
    except (AttributeError, KeyError, TypeError, ValueError):
        return DEFAULT_SCORE_THRESHOLD
    if abs(value - D2_DEFAULT_SCORE_THRESH_TEST) < 1e-9 or not 0.0 <= value <= 1.0:
        return DEFAULT_SCORE_THRESHOLD
    return value
