"""Run an exported model (TorchScript or ONNX) on page images like ``LayoutModel.predict``.

The same preparation and post-processing as the predictor are applied around the graph:
shortest-edge resize before, boxes scaled to the input image and masks pasted after.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layoutft.errors import LayoutftError
from layoutft.model.detections import Detections
from layoutft.model.layout_model import detections_from_outputs
from layoutft.model.preprocess import ImageInput, as_list, prepare_image
from layoutft.model_export.core import METADATA_KEY, ExportMetadata, quiet_tracing

_ZIP_MAGIC = b"PK\x03\x04"  # TorchScript archives are zip files; ONNX files are protobuf


class ExportedModel:
    """A ``.ts``/``.onnx`` file written by ``layoutft export``, ready to predict (on CPU).

    Attributes:
        backend: "torchscript" or "onnx".
        metadata: labels and input contract stored in the file.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise LayoutftError(f"exported model {self.path} does not exist")
        with self.path.open("rb") as f:
            zipped = f.read(4) == _ZIP_MAGIC
        self.backend = "torchscript" if zipped else "onnx"
        self._session: Any = None
        self._module: Any = None
        self._takes_min_score = False  # an ONNX graph exported with the min_score input
        if zipped:
            files = {METADATA_KEY: ""}
            with quiet_tracing():
                self._module = torch.jit.load(
                    str(self.path), map_location="cpu", _extra_files=files
                )
            text = files[METADATA_KEY]
        else:
            text = self._open_onnx(threads)
        self.metadata = ExportMetadata.from_json(text, str(self.path))

    def _open_onnx(self, threads: int | None) -> str:
        from layoutft.model_export.onnx import require

        ort = require("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise LayoutftError(
                f"{self.path}: neither a TorchScript archive nor a readable ONNX model ({exc})"
            ) from None
        self._takes_min_score = "min_score" in {i.name for i in self._session.get_inputs()}
        return str(self._session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, ""))

    @property
    def labels(self) -> list[str]:
        return list(self.metadata.labels)

    def run(self, image: torch.Tensor, min_score: float = 0.0) -> dict[str, torch.Tensor]:
        """Raw outputs for one resized image (float32 [3, H, W], model channel order, 0-255):
        ``boxes`` [N, 4] in its pixels, ``scores`` [N], ``classes`` int64 [N] and, for mask
        models, ``mask_probs`` [N, 1, M, M]. ONNX graphs with a ``min_score`` input leave
        out detections scored below ``min_score``; the others return them all."""
        image = image.to(torch.float32).cpu()
        if self._module is not None:
            with torch.no_grad():
                boxes, scores, classes, masks = self._module(image)
        else:
            feeds = {"image": image.numpy()}
            if self._takes_min_score:
                feeds["min_score"] = np.array(min_score, dtype=np.float32)
            arrays = self._session.run(None, feeds)
            boxes, scores, classes, masks = (torch.from_numpy(a) for a in arrays)
        out = {"boxes": boxes, "scores": scores, "classes": classes}
        if self.metadata.mask_on:
            out["mask_probs"] = masks
        return out

    def predict(
        self,
        images: ImageInput | Iterable[ImageInput],
        format: str | None = None,
        min_score: float = 0.0,
    ) -> list[Detections]:
        """Detections per image in input-image pixels, as ``LayoutModel.predict`` returns them.

        Args:
            images: numpy uint8 [H, W, 3] (channel order ``format``, default the model's),
                PIL images or paths, one or several.
            format: "RGB" or "BGR" for numpy inputs.
            min_score: drop detections scored below this before pasting their masks.
        """
        meta = self.metadata
        results = []
        for item in as_list(images):
            tensor, size = prepare_image(
                item, format, meta.input_format, meta.min_size_test, meta.max_size_test
            )
            out = self.run(tensor, min_score)
            results.append(
                detections_from_outputs(out, tuple(tensor.shape[-2:]), size, meta.labels, min_score)
            )
        return results
