"""Flags -> typed library values, written once for `layoutft parse` and `layoutft serve`.

A command passes its flags (``dict(locals())`` at the top of its body) and gets back the
:class:`~layoutft.parsing.options.ParseOptions`, the
:class:`~layoutft.parsing.model_spec.ModelSpec` and (corpus runs) the
:class:`~layoutft.corpus_session.CorpusOptions` it hands the library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layoutft.parsing.model_spec import ModelSpec
from layoutft.parsing.options import ParseOptions

if TYPE_CHECKING:
    from layoutft.corpus_session import CorpusOptions

#: ParseOptions fields whose flag says the opposite (``--no-text``: ``text=False``)
_NEGATED = {"text": "no_text"}


def parse_options(flags: Mapping[str, Any], **fixed: Any) -> ParseOptions:
    """The :class:`ParseOptions` of a command's ``flags``: each field from the flag of the
    same name (``text`` from ``--no-text``), ``fixed`` values over them, defaults for the
    fields the command has no flag for. Validated (OptionError naming the flag)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(ParseOptions):
        if field.name in _NEGATED and _NEGATED[field.name] in flags:
            values[field.name] = not flags[_NEGATED[field.name]]
        elif field.name in flags:
            values[field.name] = flags[field.name]
    values.update(fixed)
    return ParseOptions(**values)


def label_names(text: str | None) -> list[str] | None:
    """``--labels text,title,...`` as class names (None without the flag)."""
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def model_spec(flags: Mapping[str, Any], overrides: Sequence[str]) -> ModelSpec:
    """The :class:`ModelSpec` of the model flags (``--weights``, ``--config``, ``--labels``,
    ``--device``, ``--allow-partial``, ``--backend``) and the ``KEY VALUE`` overrides."""
    config: Path | None = flags["config"]
    names = label_names(flags["labels"])
    return ModelSpec(
        weights=flags["weights"],
        config=None if config is None else str(config),
        overrides=tuple(overrides),
        labels=None if names is None else tuple(names),
        allow_partial=flags["allow_partial"],
        device=flags["device"],
        backend=flags["backend"],
    )


def corpus_options(flags: Mapping[str, Any]) -> CorpusOptions:
    """The :class:`CorpusOptions` of `layoutft parse`'s flags for a corpus run."""
    from layoutft.corpus_session import CorpusOptions

    return CorpusOptions(
        format=flags["format"],
        shape=flags["shape"],
        visualize=flags["visualize"],
        view=flags["view"],
        include=tuple(flags["include"] or ()),
        exclude=tuple(flags["exclude"] or ()),
        retry_failed=flags["retry_failed"],
        overwrite=flags["overwrite"],
        strict=flags["strict"],
        engine=flags["engine"],
        address=flags["address"],
        ray_workers=flags["ray_workers"],
        gpus_per_worker=flags["gpus_per_worker"],
    )
