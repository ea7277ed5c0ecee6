"""Which model to load, as one typed, picklable value: what ``layoutft parse``, ``layoutft
serve`` and the Ray engine's workers are given (built once from the flags), and
:meth:`ModelSpec.load` the one call that loads it. No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from layoutft.model.identity import weights_ref
from layoutft.parsing.detector import Detector


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how: the arguments of
    :func:`~layoutft.parsing.parser.load_model` (a Ray worker loads it once, when its actor
    starts). The default is the bundled model.

    Attributes:
        weights: a weights file (.pth/.pkl/layoutft) or registry name; None: the bundled
            model. A file must exist at that path on every node.
        config: detectron2 YAML of ``weights`` (None: the checkpoint's or the registry's).
        overrides: ``KEY VALUE`` config overrides, flat.
        labels: class names in model order, for checkpoints without them.
        allow_partial: load a checkpoint that lacks some parameters.
        device: ``auto`` (CUDA when the worker was given a GPU), ``cpu`` or ``cuda``.
        backend: ``auto``, ``onnx`` or ``torch`` (see
            :func:`~layoutft.parsing.parser.load_model`).
    """

    weights: str | None = None
    config: str | None = None
    overrides: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None
    allow_partial: bool = False
    device: str = "auto"
    backend: str = "auto"

    def load(self) -> Detector:
        """The loaded model (on this process's device)."""
        from layoutft.parsing.parser import load_model

        return load_model(
            self.weights,
            self.config,
            list(self.overrides),
            self.device,
            None if self.labels is None else list(self.labels),
            allow_partial=self.allow_partial,
            backend=self.backend,
        )

    @property
    def display_name(self) -> str:
        """The JSON ``model.name`` written for these weights (a registry name as given,
        else the file's stem)."""
        return weights_ref(self.weights).name


def model_line(
    model_name: str, labels: Sequence[str], weights: str | None, backend: str = ""
) -> str:
    """``model: NAME (K labels, BACKEND)``: the weights as given, or the model's name."""
    shown = model_name if weights is None or model_name == weights else weights
    return f"model: {shown} ({len(labels)} labels{backend})"


def backend_of(model: Any) -> str:
    """``", onnx"`` or ``", torch"``: the backend a loaded detector runs on ("" for other
    detectors), for :func:`model_line`."""
    backend = getattr(model, "backend", None)
    return f", {backend}" if isinstance(backend, str) else ""


__all__ = ["ModelSpec", "backend_of", "model_line"]
