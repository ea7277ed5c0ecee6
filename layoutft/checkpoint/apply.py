"""``apply_weights``: load detectron2-named weights into a model and say what happened."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from layoutft.checkpoint.heads import class_head, remap_head
from layoutft.checkpoint.loading import LoadedWeights
from layoutft.errors import CheckpointError

logger = logging.getLogger(__name__)

# Checkpoint entries that detectron2 itself ignores when the model has no such key:
# BN counters (FrozenBN has none), normalisation constants (taken from the config) and
# anchors (recomputed), which old detectron2 versions saved as buffers.
_IGNORABLE = re.compile(r"(^|\.)(num_batches_tracked|pixel_mean|pixel_std)$|anchor_generator\.")
_TRAILING_DIGITS = re.compile(r"\d+$")


@dataclass
class LoadReport:
    """What :func:`apply_weights` did. Key lists hold model/checkpoint state-dict names.

    ``loaded``: keys whose values came from the checkpoint (class heads included);
    ``missing``: model keys the checkpoint lacks (they keep their current values);
    ``unexpected``: checkpoint keys the model does not have (ignored);
    ``skipped``: ``"key: checkpoint shape vs model shape"`` for mismatches skipped with
    ``strict_shapes=False``; ``heads``: class-head module → how its rows were mapped.
    """

    source_format: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every model key was loaded and the checkpoint had nothing left over."""
        return not (self.missing or self.unexpected or self.skipped)

    def message(self) -> str:
        """One readable summary line (keys grouped by module prefix)."""
        parts = [f"loaded {len(self.loaded)} tensors ({self.source_format})"]
        if self.missing:
            parts.append(f"missing in checkpoint: {group_keys(self.missing)}")
        if self.unexpected:
            parts.append(f"not used by the model: {group_keys(self.unexpected)}")
        if self.skipped:
            parts.append(f"skipped for shape mismatch: {_first(self.skipped, 5)}")
        by_note: dict[str, list[str]] = {}  # every head maps the same classes: say it once
        for module, note in self.heads.items():
            by_note.setdefault(note, []).append(module)
        parts.extend(f"{', '.join(modules)}: {note}" for note, modules in by_note.items())
        return "; ".join(parts)


def _first(items: Sequence[str], n: int) -> str:
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def group_keys(keys: Sequence[str]) -> str:
    """``"roi_heads.mask_head.* (10 keys), backbone.fpn_lateral*.* (8 keys), pixel_mean"``.

    Keys are grouped by their first two name components (digits at the end of the
    second folded, so ``fpn_lateral2..5`` form one group); a group of one shows the key.
    """
    groups: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split(".")
        prefix = (
            parts[0] if len(parts) < 3 else parts[0] + "." + _TRAILING_DIGITS.sub("*", parts[1])
        )
        groups.setdefault(prefix, []).append(key)
    return ", ".join(
        members[0] if len(members) == 1 else f"{prefix}.* ({len(members)} keys)"
        for prefix, members in groups.items()
    )


def apply_weights(
    model: nn.Module,
    loaded: LoadedWeights,
    labels: Sequence[str] | None = None,
    *,
    strict_shapes: bool = True,
    aliases: Mapping[str, str] | None = None,
) -> LoadReport:
    """Copy ``loaded``'s tensors into ``model`` (detectron2 state-dict names) in place.

    ``labels``: the model's class names in class-index order; with ``loaded.labels`` they
    let class heads whose classes differ keep the rows of classes matched by name (see
    :mod:`layoutft.checkpoint.heads`; ``aliases``, model class -> checkpoint class, start
    model classes the checkpoint lacks from the rows of another class). Missing keys are
    allowed and reported (e.g. an ImageNet backbone into a detector). A shape mismatch
    outside the class heads raises CheckpointError listing all of them, unless
    ``strict_shapes=False`` (then skipped and reported). Logs one summary line.
    """
    source = loaded.path or "checkpoint"
    target = model.state_dict()
    report = LoadReport(source_format=loaded.source_format)
    to_load: dict[str, torch.Tensor] = {}
    mismatched: list[str] = []
    for key, value in loaded.state_dict.items():
        if key not in target:
            if not _IGNORABLE.search(key):
                report.unexpected.append(key)
            continue
        current = target[key]
        head = class_head(key)
        if head is not None and value.shape[1:] == current.shape[1:]:
            try:
                new, note = remap_head(key, head, value, current, loaded.labels, labels, aliases)
            except CheckpointError as err:
                raise CheckpointError(f"{source}: {err}") from None
            if note:
                report.heads[key.rsplit(".", 1)[0]] = note
            if new is None:
                continue
            value = new
        elif value.shape != current.shape:
            mismatched.append(f"{key}: {tuple(value.shape)} vs {tuple(current.shape)}")
            continue
        to_load[key] = value
    if mismatched and strict_shapes:
        raise CheckpointError(
            f"{source}: {len(mismatched)} tensors do not fit the model (checkpoint shape vs "
            f"model shape): {_first(mismatched, 20)}; check that the config (depth, widths, "
            "NUM_CLASSES, MASK_ON, ...) matches the checkpoint"
        )
    report.skipped = mismatched
    model.load_state_dict(to_load, strict=False)
    report.loaded = list(to_load)
    report.missing = [
        k for k in target if k not in loaded.state_dict and not k.endswith("num_batches_tracked")
    ]
    level = logging.INFO if report.complete else logging.WARNING
    logger.log(level, "%s: %s", source, report.message())
    return report
