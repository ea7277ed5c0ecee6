"""Class-head remapping: carry per-class rows over by label name.

detectron2's class heads stack one block of rows per class along dim 0:

- ``box_predictor.cls_score``: K+1 rows, one per class, background LAST;
- ``box_predictor.bbox_pred``: 4 rows per class (4K), or 4 when class-agnostic;
- ``mask_head.predictor``: 1 channel per class (K), or 1 when class-agnostic.

When a checkpoint's classes differ from the model's, the rows of classes present in both
(by name, case-insensitive) are copied to the model's index of that class, the
background row is always copied, and the other rows keep the model's current (fresh
initialisation) values.

A class map (``LAYOUTFT.INIT_CLASS_MAP``) lets a model class that the checkpoint lacks
start from the rows of the closest checkpoint class: ``{"Caption": "text"}`` copies the
checkpoint's ``text`` rows to the model's ``Caption``. A name match always wins over the
map. :data:`BUILTIN_CLASS_MAPS` holds named maps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


#: Named class maps for ``LAYOUTFT.INIT_CLASS_MAP``: model class -> checkpoint class.
BUILTIN_CLASS_MAPS: dict[str, dict[str, str]] = {
    # DocLayNet's 11 classes from a PubLayNet model (text, title, list, table, figure):
    # every text-like class from text, headings and titles from title.
    "doclaynet-from-publaynet": {
        "Caption": "text",
        "Footnote": "text",
        "Formula": "text",
        "List-item": "list",
        "Page-footer": "text",
        "Page-header": "text",
        "Picture": "figure",
        "Section-header": "title",
        "Table": "table",
        "Text": "text",
        "Title": "title",
    },
    # FUNSD/XFUND forms (``convert --from funsd``) from a DocLayNet model: headers from
    # section headers, the short key and value fields and other text from Text.
    "forms-from-doclaynet": {
        "header": "Section-header",
        "question": "Text",
        "answer": "Text",
        "other": "Text",
    },
}


def resolve_class_map(entries: Sequence[Any]) -> dict[str, str]:
    """``LAYOUTFT.INIT_CLASS_MAP`` entries as one map (model class -> checkpoint class):
    each entry is a ``[model class, checkpoint class]`` pair or the name of a built-in map;
    later entries win.

    Raises:
        CheckpointError: an entry is neither (one line naming it and the built-in maps).
    """
    out: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, str) and entry in BUILTIN_CLASS_MAPS:
            out.update(BUILTIN_CLASS_MAPS[entry])
        elif (
            isinstance(entry, (list, tuple))
            and len(entry) == 2
            and all(isinstance(x, str) for x in entry)
        ):
            out[entry[0]] = entry[1]
        else:
            raise CheckpointError(
                f"LAYOUTFT.INIT_CLASS_MAP entry {entry!r}: write [model class, checkpoint "
                f"class] or a built-in map ({', '.join(sorted(BUILTIN_CLASS_MAPS))})"
            )
    return out


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
    aliases: Mapping[str, str] | None = None,
) -> tuple[torch.Tensor | None, str | None]:
    """Tensor to load into the model for one class-head parameter, and a note for the report.

    ``ckpt``/``current``: the checkpoint's and the model's tensor for ``key``; they must
    agree on every dim but 0 (the caller checks). Returns ``(None, note)`` when nothing
    of the checkpoint can be used; ``note`` is None when the tensor loads unchanged.
    ``aliases``: model class -> checkpoint class, for model classes without a name match.
    """
    ckpt = ckpt.to(device=current.device, dtype=current.dtype)
    rows_ck, rows_m = ckpt.shape[0], current.shape[0]
    if ckpt_labels is None or model_labels is None:
        if rows_ck == rows_m:
            return ckpt, None
        note = (
            f"checkpoint predicts {head.classes(rows_ck)} classes, the model "
            f"{head.classes(rows_m)}, and no label names match them: every class starts from "
            "fresh weights"
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
        return (
            None,
            "class-agnostic in one of checkpoint and model only: "
            "every class starts from fresh weights",
        )

    rows, note = class_rows(ckpt_labels, model_labels, aliases)
    r = head.rows_per_class
    out = current.detach().clone()
    for j, src in enumerate(rows):
        if src is not None:
            out[j * r : (j + 1) * r] = ckpt[src * r : (src + 1) * r]
    if head.background:
        out[-1] = ckpt[-1]
    return out, note


def class_rows(
    ckpt_labels: Sequence[str],
    model_labels: Sequence[str],
    aliases: Mapping[str, str] | None = None,
) -> tuple[list[int | None], str]:
    """For each model class, the checkpoint class index its rows come from (None: fresh),
    and a note saying which classes matched by name, which start from which checkpoint
    class (``aliases``: model class -> checkpoint class) and which start fresh."""
    index: dict[str, int] = {}
    for i, name in enumerate(ckpt_labels):
        index.setdefault(_norm(name), i)
    alias = {_norm(k): v for k, v in (aliases or {}).items()}
    rows: list[int | None] = []
    by_name = 0
    mapped: list[str] = []
    fresh: list[str] = []
    for name in model_labels:
        src = index.get(_norm(name))
        if src is not None:
            by_name += 1
        elif _norm(name) in alias and _norm(alias[_norm(name)]) in index:
            src = index[_norm(alias[_norm(name)])]
            mapped.append(f"{name}<-{ckpt_labels[src]}")
        else:
            fresh.append(name)
        rows.append(src)
    note = f"{by_name} of {len(model_labels)} classes matched by name"
    if mapped:
        note += f"; from INIT_CLASS_MAP: {', '.join(mapped)}"
    if fresh:
        note += f"; start from fresh weights: {', '.join(fresh)}"
    return rows, note
