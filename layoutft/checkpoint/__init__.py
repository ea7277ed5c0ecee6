"""Checkpoints: read detectron2, Caffe2/Detectron, torchvision and layoutft weights safely,
load them into a detectron2-named model (with class-head remapping by label name), and
write layoutft and detectron2 checkpoints.

Nothing here ever runs code from a weights file: torch files are read with
``weights_only=True`` and pickles with an unpickler restricted to numpy arrays and
plain containers.
"""

from __future__ import annotations

from layoutft.checkpoint.apply import LoadReport, apply_weights
from layoutft.checkpoint.contract import InputContract
from layoutft.checkpoint.io import input_contract, save_checkpoint, save_detectron2
from layoutft.checkpoint.loading import LAYOUTFT_FORMAT, SOURCE_FORMATS, LoadedWeights, load_weights

__all__ = [
    "LAYOUTFT_FORMAT",
    "SOURCE_FORMATS",
    "InputContract",
    "LoadReport",
    "LoadedWeights",
    "apply_weights",
    "input_contract",
    "load_weights",
    "save_checkpoint",
    "save_detectron2",
]
