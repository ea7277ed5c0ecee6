"""The ONNX backend: a model exported by ``layoutft export -f onnx`` run by onnxruntime.

No torch anywhere on this path: pages are resized like the torch backend
(:func:`~layoutft.model.preprocess.prepare_pixels`, the same code), the graph returns
boxes, scores, classes and M×M mask probabilities in pixels of the resized image, and
:func:`detections_from_arrays` scales them to the input image and pastes the masks with
numpy exactly as detectron2's ``paste_masks_in_image`` (bilinear, pixel centres, zero
outside the mask) does in the torch backend. :class:`OnnxDetector` satisfies
:class:`~layoutft.parsing.detector.Detector`.

The file carries what the runtime needs besides the graph (:class:`ExportMetadata`: class
names, channel order, test-time resize, score threshold) in its ``metadata_props``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from layoutft.errors import LayoutftError, OptionError
from layoutft.model.preprocess import ImageInput, as_list, prepare_pixels
from layoutft.parsing.detector import Detections

EXPORT_FORMAT = "layoutft.export/1"
METADATA_KEY = "layoutft.json"
#: graph inputs; files exported before ``min_score`` was added take ``image`` alone
INPUT_NAMES = ("image", "min_score")
OUTPUT_NAMES = ("boxes", "scores", "classes", "mask_probs")
MASK_THRESHOLD = 0.5  # detectron2's paste_masks_in_image threshold


@dataclass(frozen=True)
class ExportMetadata:
    """What a runtime needs besides the graph: labels and the test-time input contract.

    ``input_format``: channel order ("BGR"/"RGB"); ``min_size_test``/``max_size_test``:
    shortest-edge resize in pixels (0 = no resize); ``mask_on``: ``mask_probs`` is
    meaningful; ``score_thresh_test``: the config's ``MODEL.ROI_HEADS.SCORE_THRESH_TEST``
    (the parser's default score threshold reads it; None in files exported before it was
    stored); ``dpi``: the PDF rendering resolution the model was trained at (its input
    contract's; None when unknown, as in files exported before it was stored).
    """

    labels: list[str]
    input_format: str
    min_size_test: int
    max_size_test: int
    mask_on: bool
    format: str = EXPORT_FORMAT
    score_thresh_test: float | None = None
    dpi: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, source: str) -> ExportMetadata:
        """Parse metadata read from ``source`` (a file name, for the error message)."""
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("format") != EXPORT_FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise LayoutftError(
                f"{source}: not a layoutft export ({exc}); re-export it with `layoutft export`"
            ) from None


def onnxruntime() -> Any:
    """The onnxruntime module, or a one-line LayoutftError saying how to install it."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise LayoutftError(
            "the ONNX backend needs onnxruntime: pip install onnxruntime "
            "(it comes with `pip install layoutft`)"
        ) from None
    return ort


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxDetector:
    """An ONNX file from ``layoutft export -f onnx``, ready to predict on the CPU.

    Args:
        path: the ``.onnx`` file (its metadata gives labels and the input contract).
        threads: onnxruntime intra-op threads; None: one per available core (faster than
            one thread on 2 cores, benchmarks/parse_speed.py).
        name: the model name for the JSON ``model`` block (default: the file stem).
    """

    backend = "onnx"
    default_batch_size = 1
    #: pages in flight at once by default: the graph already uses every core, and two
    #: concurrent runs on 2 cores were no faster (benchmarks/parse_speed.py)
    default_workers = 1
    supported_precisions = ("fp32",)

    def __init__(
        self, path: str | os.PathLike[str], threads: int | None = None, name: str | None = None
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise LayoutftError(f"ONNX model {self.path} does not exist")
        ort = onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: the parser renders and post-processes
        # in other threads meanwhile (2 threads: 1.86 s/page without spinning, 2.40 with, on
        # a busy 2-core machine; benchmarks/parse_speed.py --backends)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise LayoutftError(f"{self.path}: not a readable ONNX model ({exc})") from None
        meta = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "")
        self.metadata = ExportMetadata.from_json(meta, str(self.path))
        self.name = name or self.path.stem
        self._takes_min_score = "min_score" in {i.name for i in self.session.get_inputs()}
        self._page_threads: tuple[int, ThreadPoolExecutor] | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.metadata.labels)

    @property
    def input_dpi(self) -> float | None:
        """The PDF rendering resolution the model was trained at (the export's metadata;
        None for files exported before it was stored: the parser then uses 200)."""
        return self.metadata.dpi

    @property
    def device(self) -> SimpleNamespace:
        """The device the parser reads (``type`` "cpu"): onnxruntime runs on the CPU."""
        return SimpleNamespace(type="cpu")

    @property
    def config(self) -> SimpleNamespace:
        """The part of the model config the parser reads: the default score threshold."""
        thresh = self.metadata.score_thresh_test
        return SimpleNamespace(
            MODEL=SimpleNamespace(ROI_HEADS=SimpleNamespace(SCORE_THRESH_TEST=thresh))
        )

    def run(self, pixels: np.ndarray, min_score: float = 0.0) -> dict[str, np.ndarray]:
        """Raw outputs for one resized image (uint8 [h, w, 3], model channel order):
        ``boxes`` float32 [N, 4] in its pixels, ``scores`` [N], ``classes`` int64 [N] and,
        for mask models, ``mask_probs`` float32 [N, 1, M, M]. Detections scored below
        ``min_score`` are left out by the graph before its mask head (files exported
        before the graph took ``min_score`` return them all)."""
        feeds = {"image": np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32)}
        if self._takes_min_score:
            feeds["min_score"] = np.array(min_score, dtype=np.float32)
        boxes, scores, classes, masks = self.session.run(None, feeds)
        out = {"boxes": boxes, "scores": scores, "classes": classes}
        if self.metadata.mask_on:
            out["mask_probs"] = masks
        return out

    def predict(
        self,
        images: ImageInput | Iterable[ImageInput],
        batch_size: int | None = None,
        format: str | None = None,
        min_score: float = 0.0,
        precision: str = "fp32",
        workers: int | None = None,
    ) -> list[Detections]:
        """Detections per image in input-image pixels, as ``LayoutModel.predict`` returns
        them (see there for ``images`` and ``format``).

        ``batch_size`` is accepted for the :class:`~layoutft.parsing.detector.Detector`
        protocol: the graph takes one page at a time. ``min_score`` drops detections before
        their masks are pasted. ``precision``: only ``"fp32"``. ``workers``: pages run at
        once in threads (onnxruntime sessions are thread-safe); None:
        :attr:`default_workers`.
        """
        if precision not in self.supported_precisions:
            raise OptionError(
                "{precision} " + precision + " needs the torch backend (--backend torch); "
                "the ONNX backend runs fp32"
            )
        items = as_list(images)
        count = self.default_workers if workers is None else max(1, workers)

        def one(item: ImageInput) -> Detections:
            return self._predict_one(item, format, min_score)

        if count <= 1 or len(items) <= 1:
            return [one(item) for item in items]
        if self._page_threads is None or self._page_threads[0] != count:
            if self._page_threads is not None:
                self._page_threads[1].shutdown(wait=False)
            self._page_threads = (count, ThreadPoolExecutor(count, "layoutft-onnx"))
        return list(self._page_threads[1].map(one, items))

    def _predict_one(self, item: ImageInput, format: str | None, min_score: float) -> Detections:
        meta = self.metadata
        pixels, size = prepare_pixels(
            item, format, meta.input_format, meta.min_size_test, meta.max_size_test
        )
        out = self.run(pixels, min_score)
        return detections_from_arrays(out, pixels.shape[:2], size, meta.labels, min_score)


def detections_from_arrays(
    out: dict[str, np.ndarray],
    resized: tuple[int, ...],
    size: tuple[int, int],
    labels: Sequence[str],
    min_score: float = 0.0,
) -> Detections:
    """Detections in input-image pixels from one image's graph outputs (``boxes``,
    ``scores``, ``classes``, optional ``mask_probs`` [N, 1, M, M]) in pixels of the
    ``resized`` (h, w) image: boxes scaled to ``size`` (H, W), clipped, empty ones and those
    scored below ``min_score`` dropped, masks pasted (threshold 0.5). The numpy twin of
    :func:`layoutft.model.layout_model.detections_from_outputs`."""
    height, width = size
    boxes = np.array(out["boxes"], dtype=np.float32).reshape(-1, 4)
    boxes[:, 0::2] *= np.float32(width / resized[1])
    boxes[:, 1::2] *= np.float32(height / resized[0])
    np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
    scores = np.asarray(out["scores"], dtype=np.float32).reshape(-1)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]) & (scores >= min_score)
    boxes, scores = boxes[keep], scores[keep]
    classes = np.asarray(out["classes"]).reshape(-1)[keep].astype(np.int64)
    masks = None
    if "mask_probs" in out:
        probs = np.asarray(out["mask_probs"], dtype=np.float32)[keep][:, 0]
        masks = paste_masks(probs, boxes, size)
    return Detections(
        boxes=boxes,
        scores=scores,
        classes=classes,
        labels=[labels[c] for c in classes],
        masks=masks,
        image_size=size,
    )


def paste_masks(
    probs: np.ndarray, boxes: np.ndarray, size: tuple[int, int], threshold: float = MASK_THRESHOLD
) -> np.ndarray:
    """bool [N, H, W] masks (probability >= ``threshold``) in image pixels.

    Args:
        probs: float32 [N, M, M] mask probabilities in [0, 1], each over its box.
        boxes: float32 [N, 4] XYXY in pixels of the target image (non-empty).
        size: (H, W) of the target image.

    Each pixel centre (x + 0.5, y + 0.5) of the box's whole-pixel window grown by 1 px is
    mapped into the box and sampled bilinearly from the mask, zero outside it: detectron2's
    ``paste_masks_in_image`` (``grid_sample``, ``align_corners=False``). The sampling grid is
    a product of rows and columns, so the mask is interpolated along rows first (two mask
    rows per pixel row), then along columns (two of those per pixel column), in float32.
    """
    height, width = size
    out = np.zeros((len(probs), height, width), dtype=np.bool_)  # calloc: see Detections
    for i, (mask, box) in enumerate(zip(probs, boxes, strict=True)):
        x0, y0 = (max(int(np.floor(v)) - 1, 0) for v in box[:2])
        x1 = min(int(np.ceil(box[2])) + 1, width)
        y1 = min(int(np.ceil(box[3])) + 1, height)
        padded = np.pad(np.asarray(mask, dtype=np.float32), 1)  # the zeros outside the mask
        top, bottom, w_top, w_bottom = _bilinear_taps(
            np.arange(y0, y1), box[1], box[3], mask.shape[0]
        )
        left, right, w_left, w_right = _bilinear_taps(
            np.arange(x0, x1), box[0], box[2], mask.shape[1]
        )
        # Gathers and elementwise products on this thread, no matrix product: numpy's @
        # wakes OpenBLAS's worker threads, which spin after each product and took the cores
        # from onnxruntime's threads (pasting took 0.36 s/page on a loaded 2-core machine;
        # benchmarks/parse_speed.py --backends). Columns first in memory ([m + 2, h]), so
        # both gathers copy whole rows.
        along_rows = padded[top] * w_top[:, None] + padded[bottom] * w_bottom[:, None]
        by_column = np.ascontiguousarray(along_rows.T)
        sampled = by_column[left]
        sampled *= w_left[:, None]
        second = by_column[right]
        second *= w_right[:, None]
        sampled += second
        np.greater_equal(sampled.T, threshold, out=out[i, y0:y1, x0:x1])
    return out


def _bilinear_taps(
    pixels: np.ndarray, lo: np.float32, hi: np.float32, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two mask cells each pixel centre of ``pixels`` (whole pixels) samples from, for a
    box side from ``lo`` to ``hi`` over ``m`` cells, and their float32 weights.

    Returns ``(first, second, w_first, w_second)``, each [n]: int64 indices into the mask
    padded by one zero cell each side (index 0 and m + 1 are outside the mask), weights
    summing to 1.
    """
    # the float32 steps of grid_sample: normalise to [-1, 1], then to mask cell coordinates
    grid = ((pixels.astype(np.float32) + np.float32(0.5)) - lo) / (hi - lo) * 2 - 1
    cell = ((grid + 1) * m - 1) / 2
    below = np.floor(cell)
    frac = (cell - below).astype(np.float32)
    below = below.astype(np.int64)
    # cells beyond the mask read the zero padding (cells -1 and m, padded 0 and m + 1)
    return np.clip(below, -1, m) + 1, np.clip(below + 1, -1, m) + 1, 1 - frac, frac


__all__ = [
    "EXPORT_FORMAT",
    "INPUT_NAMES",
    "METADATA_KEY",
    "OUTPUT_NAMES",
    "ExportMetadata",
    "OnnxDetector",
    "detections_from_arrays",
    "paste_masks",
]
