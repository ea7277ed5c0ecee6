"""The input contract: how page images must be prepared for a model, one typed object.

Written into every layoutft checkpoint (``input_contract``), read back by
:func:`~layoutft.checkpoint.load_weights`, and built from a model's config by
:meth:`InputContract.from_config` (what :class:`~layoutft.model.LayoutModel` prepares
images with). No torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from layoutft.errors import CheckpointError


@dataclass(frozen=True)
class InputContract:
    """How images must be prepared for a model.

    Attributes:
        format: channel order of the network's input, ``"BGR"`` or ``"RGB"``.
        pixel_mean: per-channel mean on the 0-255 scale, in ``format``'s order.
        pixel_std: per-channel std on the 0-255 scale, in ``format``'s order.
        min_size_test: the shortest edge is resized to this many pixels (0: no resize).
        max_size_test: cap on the longest edge after that resize, pixels.
        size_divisibility: the backbone pads images to a multiple of this (0: no padding).
        dpi: the PDF rendering resolution the model was trained at
            (``LAYOUTFT.INPUT_DPI``), None when unknown (detectron2 checkpoints).
    """

    format: str
    pixel_mean: tuple[float, ...]
    pixel_std: tuple[float, ...]
    min_size_test: int
    max_size_test: int
    size_divisibility: int
    dpi: float | None = None

    @classmethod
    def from_config(cls, cfg: Any, size_divisibility: int) -> InputContract:
        """The contract a detectron2 config (:class:`~layoutft.config.Config`) sets."""
        return cls(
            format=str(cfg.INPUT.FORMAT),
            pixel_mean=tuple(float(v) for v in cfg.MODEL.PIXEL_MEAN),
            pixel_std=tuple(float(v) for v in cfg.MODEL.PIXEL_STD),
            min_size_test=int(cfg.INPUT.MIN_SIZE_TEST),
            max_size_test=int(cfg.INPUT.MAX_SIZE_TEST),
            size_divisibility=int(size_divisibility),
            dpi=_optional(cfg, "LAYOUTFT", "INPUT_DPI"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, numbers, str) as a checkpoint stores them."""
        return {
            "format": self.format,
            "pixel_mean": list(self.pixel_mean),
            "pixel_std": list(self.pixel_std),
            "min_size_test": self.min_size_test,
            "max_size_test": self.max_size_test,
            "size_divisibility": self.size_divisibility,
            "dpi": self.dpi,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "input_contract") -> InputContract:
        """The contract a checkpoint stored; CheckpointError naming ``where`` and the field
        when one is missing or of the wrong type."""
        try:
            return cls(
                format=str(data["format"]),
                pixel_mean=tuple(float(v) for v in data["pixel_mean"]),
                pixel_std=tuple(float(v) for v in data["pixel_std"]),
                min_size_test=int(data["min_size_test"]),
                max_size_test=int(data["max_size_test"]),
                size_divisibility=int(data["size_divisibility"]),
                dpi=data.get("dpi"),
            )
        except KeyError as exc:
            raise CheckpointError(f"{where}: no {exc.args[0]!r} field") from None
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{where}: {exc}") from None


def _optional(cfg: Any, *keys: str) -> Any:
    node = cfg
    for key in keys:
        try:
            node = getattr(node, key)
        except (AttributeError, KeyError):
            return None
    return node


__all__ = ["InputContract"]
