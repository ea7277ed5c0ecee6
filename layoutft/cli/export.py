"""`layoutft export`: a checkpoint as layoutft or detectron2 weights, TorchScript or ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from layoutft.cli.app import command
from layoutft.cli.parse import split_overrides
from layoutft.errors import LayoutftError

if TYPE_CHECKING:
    from layoutft.model import LayoutModel

FORMATS = ("layoutft", "detectron2", "torchscript", "onnx")


@command("export")
def export_cmd(
    args: list[str] = typer.Argument(
        ...,
        metavar="CKPT [KEY VALUE ...]",
        help="Weights file or registry name, then optional config overrides.",
    ),
    format: str = typer.Option(
        ..., "--format", "-f", help="layoutft, detectron2, torchscript or onnx."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="File to write."),
    config: Path | None = typer.Option(
        None, help="detectron2 YAML of the weights (not needed for layoutft checkpoints)."
    ),
) -> None:
    """Export a model: a layoutft checkpoint without training state (weights, config, labels:
    what to ship from a run's model_final.pth), a detectron2 .pth (labels kept), or a
    TorchScript/ONNX graph that takes one resized image [3, H, W] float32 of any size and
    returns boxes, scores, classes, mask_probs."""
    from layoutft._compat import require_torch

    require_torch("`layoutft export`")
    if format not in FORMATS:
        raise LayoutftError(f"unknown --format {format!r}; choose one of {', '.join(FORMATS)}")
    inputs, overrides = split_overrides(args)
    if len(inputs) != 1:
        raise LayoutftError(f"export takes one checkpoint (file or registry name), got {inputs}")
    from layoutft.outputs import check_writable, refuse_inputs

    source = Path(inputs[0])
    refuse_inputs([output], [source] if source.exists() else [], "choose another -o")
    check_writable([output.parent])
    if format == "onnx":
        from layoutft.model_export.onnx import require

        require("onnx")  # before the slow model load
    model = _load(inputs[0], config, overrides)
    if format in ("layoutft", "detectron2"):
        model.save(output, format=format)
    elif format == "torchscript":
        from layoutft.model_export.torchscript import export_torchscript

        export_torchscript(model, output)
    else:
        from layoutft.model_export.onnx import export_onnx

        export_onnx(model, output)
    typer.echo(str(output))


def _load(ckpt: str, config: Path | None, overrides: list[str]) -> LayoutModel:
    """The CPU LayoutModel of a file or registry name (its card gives config and labels)."""
    from layoutft.model import LayoutModel

    return LayoutModel.from_checkpoint(ckpt, config=config, overrides=overrides, device="cpu")
