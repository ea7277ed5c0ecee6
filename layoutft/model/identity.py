"""What a ``--weights`` string names, worked out in one place.

Parsing, loading, corpus manifests and the Ray engine all ask the same questions of a
weights argument: is it the bundled model, a registry name, an ONNX file or a checkpoint
file; what is its JSON ``model.name``; where is its ONNX export; what checksum identifies
it. :func:`weights_ref` answers them once. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from layoutft import pretrained

#: what a weights argument names
KINDS = ("bundled", "registry", "onnx", "file")


@dataclass(frozen=True)
class WeightsRef:
    """A weights argument, classified.

    Attributes:
        given: the argument as given (None: the bundled default model).
        kind: ``"bundled"`` (None), ``"registry"`` (a name or alias of
            ``layoutft weights list``), ``"onnx"`` (a ``.onnx`` file) or ``"file"`` (a torch
            checkpoint file: layoutft, detectron2 .pth/.pkl, Caffe2 .pkl).
        name: the JSON ``model.name``: the registry name as given, the bundled model's name,
            else the file's stem.
    """

    given: str | None
    kind: str
    name: str

    @property
    def registry_name(self) -> str | None:
        """The registry name or alias (bundled and registry models), else None."""
        if self.kind == "bundled":
            return pretrained.BUNDLED_MODEL
        return self.given if self.kind == "registry" else None

    def onnx_path(self) -> Path | None:
        """The ONNX file: the bundled model's export, a registry model's (None when it has
        none), the path itself for a ``.onnx`` file; None for torch checkpoint files."""
        if self.registry_name is not None:
            return pretrained.onnx_path(self.registry_name)
        return Path(str(self.given)) if self.kind == "onnx" else None

    def sha256(self) -> str:
        """The lowercase sha256 identifying the weights: a registry model's published
        checksum, else its cached file's (never downloading); a file's own."""
        if self.registry_name is not None:
            card = pretrained.get_card(self.registry_name)
            if self.kind == "registry" and card.sha256:
                return card.sha256.lower()
            return pretrained.file_sha256(
                pretrained.weights_path(self.registry_name, download=False)
            )
        return pretrained.file_sha256(Path(str(self.given)).expanduser())


def weights_ref(weights: str | Path | None) -> WeightsRef:
    """What ``weights`` names (see :class:`WeightsRef`); nothing is opened or downloaded."""
    if weights is None:
        return WeightsRef(None, "bundled", pretrained.BUNDLED_MODEL)
    text = str(weights)
    if pretrained.is_model_name(text):
        return WeightsRef(text, "registry", text)
    kind = "onnx" if text.lower().endswith(".onnx") else "file"
    return WeightsRef(text, kind, Path(weights).stem)


__all__ = ["KINDS", "WeightsRef", "weights_ref"]
