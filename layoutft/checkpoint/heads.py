"""Class-head remapping: carry per-class rows over by label name.

detectron2's class heads stack one block of rows per class along dim 0:

- ``box_predictor.cls_score``: K+1 rows, one per class, background LAST;
- ``box_predictor.bbox_pred``: 4 rows per class (4K), or 4 when class-agnostic;
- ``mask_head.predictor``: 1 channel per class (K), or 1 when class-agnostic.

When a checkpoint's classes differ from the model's, the rows of classes present in both
(by name, case-insensitive) are copied to the model's index of that class, the
background row is always copied, and the other rows keep the model's current (fresh
initialisation) values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from layoutft.errors import CheckpointError


@dataclass(frozen=True)
class ClassHead:
    """One kind of class head: which keys, rows per class, whether a background row ends it."""

    kind: str
    pattern: re.Pattern[str]
    rows_per_class: int
    background: bool

    def classes(self, rows: int) -> int:
        """Number of classes a head with ``rows`` rows predicts (1 block when agnostic)."""
        return rows - 1 if self.background else rows // self.rows_per_class


HEADS = (
    ClassHead(
        "cls_score", re.compile(r"(^|\.)box_predictor(\.\d+)?\.cls_score\.(weight|bias)$"), 1, True
    ),
    ClassHead(
        "bbox_pred", re.compile(r"(^|\.)box_predictor(\.\d+)?\.bbox_pred\.(weight|bias)$"), 4, False
    ),
    ClassHead(
        "mask_predictor", re.compile(r"(^|\.)mask_head\.predictor\.(weight|bias)$"), 1, False
    ),
)


def class_head(key: str) -> ClassHead | None:
    """The class head ``key`` belongs to, or None for other parameters."""
    return next((h for h in HEADS if h.pattern.search(key)), None)


def _norm(name: str) -> str:
    return name.strip().casefold()


def _check_fits(head: ClassHead, rows: int, labels: Sequence[str], what: str, key: str) -> bool:
    """True when the head is class-agnostic; raises when ``labels`` cannot describe it."""
    k = len(labels)
    if head.background:
        if rows != k + 1:
            raise CheckpointError(
                f"{what} lists {k} labels but its {key} has {rows} rows (expected {k + 1}: "
                "one per class plus background)"
            )
        return False
    if rows == head.rows_per_class * k:
        return False
    if rows == head.rows_per_class:
        return True  # one class-agnostic block
    raise CheckpointError(
        f"{what} lists {k} labels but its {key} has {rows} rows "
        f"(expected {head.rows_per_class * k}, or {head.rows_per_class} if class-agnostic)"
    )


def remap_head(
    key: str,
    head: ClassHead,
    ckpt: torch.Tensor,
    current: torch.Tensor,
    ckpt_labels: Sequence[str] | None,
    model_labels: Sequence[str] | None,
) -> tuple[torch.Tensor | None, str | None]:
    """Tensor to load into the model for one class-head parameter, and a note for the report.

    ``ckpt``/``current``: the checkpoint's and the model's tensor for ``key``; they must
    agree on every dim but 0 (the caller checks). Returns ``(None, note)`` when nothing
    of the checkpoint can be used; ``note`` is None when the tensor loads unchanged.
    """
    ckpt = ckpt.to(device=current.device, dtype=current.dtype)
    rows_ck, rows_m = ckpt.shape[0], current.shape[0]
    if ckpt_labels is None or model_labels is None:
        if rows_ck == rows_m:
            return ckpt, None
        note = (
            f"checkpoint predicts {head.classes(rows_ck)} classes, the model "
            f"{head.classes(rows_m)}, and no label names match them: class rows keep "
            "their initial values"
        )
        if not head.background:
            return None, note
        out = current.detach().clone()
        out[-1] = ckpt[-1]
        return out, note + " (background row loaded)"

    agnostic_ck = _check_fits(head, rows_ck, ckpt_labels, "the checkpoint", key)
    agnostic_m = _check_fits(head, rows_m, model_labels, "the model's label list", key)
    same_names = [_norm(n) for n in ckpt_labels] == [_norm(n) for n in model_labels]
    if (same_names or (agnostic_ck and agnostic_m)) and rows_ck == rows_m:
        return ckpt, None
    if agnostic_ck != agnostic_m:
        return None, "class-agnostic in one of checkpoint and model only: initial values kept"

    index: dict[str, int] = {}
    for i, name in enumerate(ckpt_labels):
        index.setdefault(_norm(name), i)
    r = head.rows_per_class
    out = current.detach().clone()
    unmatched: list[str] = []
    for j, name in enumerate(model_labels):
        src = index.get(_norm(name))
        if src is None:
            unmatched.append(name)
        else:
            out[j * r : (j + 1) * r] = ckpt[src * r : (src + 1) * r]
    if head.background:
        out[-1] = ckpt[-1]
    matched = len(model_labels) - len(unmatched)
    note = f"{matched} of {len(model_labels)} classes matched by name"
    if unmatched:
        note += f"; initial values kept for {', '.join(unmatched)}"
    return out, note
