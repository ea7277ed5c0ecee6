"""The detector layoutft ships: load a detectron2-compatible model once, predict on pages.

``LayoutModel.predict`` reproduces detectron2's ``DefaultPredictor``: the uint8 image is
resized with PIL like ``ResizeShortestEdge`` (:mod:`layoutft.model.preprocess`), the
network sees it in ``cfg.INPUT.FORMAT``, and boxes/masks are mapped back to the input image
(:func:`detections_from_outputs`, detectron2's ``detector_postprocess``). It satisfies the
parser's :class:`~layoutft.parsing.detector.Detector` protocol (structurally: nothing here
imports the parse wing). torch is imported when a model is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from layoutft.device import resolve_device
from layoutft.errors import ConfigError
from layoutft.model.detections import Detections
from layoutft.model.preprocess import ImageInput, as_list, prepare_image
from layoutft.model.settings import check_precision, config_score_threshold, resolve_workers

if TYPE_CHECKING:
    import torch

    from layoutft.checkpoint.contract import InputContract
    from layoutft.config import Config
    from layoutft.modeling.meta_arch import GeneralizedRCNN


def default_labels(cfg: Config) -> list[str]:
    """``cfg.LAYOUTFT.LABELS`` when set, else ``class_0`` … ``class_{K-1}``."""
    labels = list(cfg.get("LAYOUTFT.LABELS", None) or [])
    return labels or [f"class_{i}" for i in range(int(cfg.MODEL.ROI_HEADS.NUM_CLASSES))]


class LayoutModel:
    """A built, weight-loaded, eval-mode model plus its config and class names."""

    backend = "torch"  # the parse backend it is (the ONNX one: OnnxDetector)

    def __init__(self, model: GeneralizedRCNN, config: Config, labels: Sequence[str]) -> None:
        if str(config.INPUT.FORMAT) not in ("RGB", "BGR"):
            raise ConfigError(f"INPUT.FORMAT must be 'RGB' or 'BGR', got {config.INPUT.FORMAT!r}")
        num_classes = int(config.MODEL.ROI_HEADS.NUM_CLASSES)
        if len(labels) != num_classes:
            raise ConfigError(
                f"{len(labels)} labels given but MODEL.ROI_HEADS.NUM_CLASSES is {num_classes}"
            )
        self.model = model.eval()
        self.config = config
        self.labels = list(labels)
        # Threads for predict(workers > 1), kept between calls: fresh threads per call would
        # each take a new malloc arena, and a long parse's memory would creep up.
        self._page_threads: tuple[int, ThreadPoolExecutor] | None = None

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def default_batch_size(self) -> int:
        """Pages per forward pass when none is given: 4 on a GPU, 1 on a CPU.

        On CPUs batching does not help: the convolutions already use every core, and a batch
        of page-sized images runs ~1.7x slower per page than one page at a time
        (benchmarks/vs_detectron2.py, 2 cores).
        """
        return 4 if self.device.type == "cuda" else 1

    @property
    def default_workers(self) -> int:
        """Pages predicted at once when none is given and pages go one per forward pass:
        2 on a CPU with two or more torch threads, else 1.

        About a third of a page's CPU time runs on one core (torchvision's RoIAlign, NMS,
        Python); a second page in flight fills the idle cores. Each worker uses torch's full
        thread count, so the numbers equal one page at a time bit for bit (1.2-1.6x pages/s
        on 2 cores, benchmarks/results/findings.md).
        """
        import torch

        return 2 if self.device.type == "cpu" and torch.get_num_threads() >= 2 else 1

    @property
    def input_contract(self) -> InputContract:
        """How this model's images are prepared (channel order, test-time resize, padding,
        training dpi), read from its config: the object layoutft checkpoints store."""
        from layoutft.checkpoint.contract import InputContract

        size_divisibility = int(getattr(self.model.backbone, "size_divisibility", 0))
        return InputContract.from_config(self.config, size_divisibility)

    @property
    def input_dpi(self) -> float | None:
        """The PDF rendering resolution this model was trained at (its input contract's
        ``dpi``, ``LAYOUTFT.INPUT_DPI``): what a parse renders at unless told otherwise."""
        return self.input_contract.dpi

    @property
    def default_score_threshold(self) -> float:
        """The score threshold of classes a parse sets none for: the config's
        ``MODEL.ROI_HEADS.SCORE_THRESH_TEST`` unless it is detectron2's 0.05, else 0.5
        (:func:`~layoutft.model.settings.config_score_threshold`)."""
        return config_score_threshold(self.config)

    # ----- construction -----------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        config_or_path: Config | str | Path,
        overrides: Sequence[str] | None = None,
        device: str | torch.device = "auto",
    ) -> LayoutModel:
        """A model with detectron2's random initialisation (no weights) for a config."""
        cfg = _config(config_or_path, overrides)
        return cls(_build(cfg, resolve_device(device)), cfg, default_labels(cfg))

    @classmethod
    def from_checkpoint(
        cls,
        weights: str | Path,
        config: Config | str | Path | None = None,
        overrides: Sequence[str] | None = None,
        device: str | torch.device = "auto",
        labels: Sequence[str] | None = None,
        *,
        allow_partial: bool = False,
    ) -> LayoutModel:
        """Load weights in any supported format (detectron2 .pth/.pkl, Caffe2 .pkl, layoutft).

        ``weights`` is a file or a registry name (``layoutft weights list``; downloaded once
        into the cache). ``config`` None uses the config stored in a layoutft checkpoint, else
        the registry card's config. Class names come from ``labels``, else the checkpoint,
        else the registry card, else ``cfg.LAYOUTFT.LABELS``, else ``class_i``.

        A checkpoint that lacks any of the model's parameters (they would keep their random
        initial values and predict noise) raises CheckpointError saying how many were found,
        unless ``allow_partial=True``. Fine-tuning (``layoutft train``) does not come through
        here: it may start from a backbone alone.
        """
        from layoutft import pretrained
        from layoutft.checkpoint import apply_weights, load_weights
        from layoutft.model.identity import weights_ref

        card_labels: list[str] | None = None
        if weights_ref(weights).kind == "registry":
            card = pretrained.get_card(str(weights))
            card_labels = card.labels
            weights = pretrained.weights_path(card.name)
            loaded = load_weights(weights)
            if config is None and loaded.config is None:
                config = card.config_path
        else:
            loaded = load_weights(pretrained.resolve_weights(weights))
        if config is None:
            if loaded.config is None:
                raise ConfigError(
                    f"{weights} holds no config (it is a {loaded.source_format} checkpoint); "
                    "pass the detectron2 YAML it was trained with (--config)"
                )
            from layoutft.config import default_config

            config = default_config()
            config.merge_from_dict(loaded.config, source=str(weights))
        cfg = _config(config, overrides)
        num_classes = int(cfg.MODEL.ROI_HEADS.NUM_CLASSES)
        if labels is not None and len(labels) != num_classes:
            raise ConfigError(
                f"{len(labels)} labels given for a model with {num_classes} classes "
                f"(MODEL.ROI_HEADS.NUM_CLASSES); give one name per class, in model order"
            )
        names = list(labels or loaded.labels or card_labels or default_labels(cfg))
        model = _build(cfg, resolve_device(device))
        if not allow_partial:
            _refuse_partial(weights, model, loaded.state_dict)
        apply_weights(model, loaded, labels=names)
        return cls(model, cfg, names)

    def save(self, path: str | Path, format: str = "layoutft") -> None:
        """Write the weights as a layoutft checkpoint (config + labels) or a detectron2 .pth."""
        from layoutft.checkpoint import save_checkpoint, save_detectron2

        if format == "layoutft":
            save_checkpoint(path, self.model, self.config, self.labels)
        elif format == "detectron2":
            save_detectron2(path, self.model, labels=self.labels)
        else:
            raise ConfigError(f"unknown checkpoint format {format!r}; use layoutft or detectron2")

    # ----- inference ----------------------------------------------------------------------
    def predict(
        self,
        images: ImageInput | Iterable[ImageInput],
        batch_size: int | None = None,
        format: str | None = None,
        min_score: float = 0.0,
        precision: str = "fp32",
        workers: int | None = None,
    ) -> list[Detections]:
        """Detections for each image, in input order.

        Args:
            images: one or several of: numpy uint8 [H, W, 3] (channel order ``format``, default
                cfg.INPUT.FORMAT), PIL images (RGB), or paths (read as BGR, see
                :func:`~layoutft.render.image.read_bgr`).
            batch_size: images per forward pass (images of the same padded size are batched
                together); results do not depend on it. None: :attr:`default_batch_size`.
            format: "RGB" or "BGR" for numpy inputs.
            min_score: drop detections scored below this before the mask head runs and
                masks are pasted (work spent on detections a caller discards anyway); the
                detections kept are those of ``min_score=0``. 0 keeps all, as detectron2 does.
            precision: ``"fp32"`` (detectron2's numbers), or ``"bf16"`` / ``"fp16"`` (CUDA
                only) for the backbone and RPN head convolutions: ~1.4-1.8x faster on CPUs
                with AMX (Xeon 4th generation and later) and faster on GPUs, but
                approximate: scores move by a few hundredths and regions near the threshold
                or overlapping others can change (benchmarks/results/findings.md); slower
                than fp32 on CPUs without bfloat16 units. Box decoding, NMS and the ROI
                heads stay float32.
            workers: pages predicted at once on CPU, one page per forward pass, each in its
                own thread with torch's full thread count (the detections equal those of
                ``workers=1`` bit for bit). Faster where part of a page runs on one core
                (RoIAlign, NMS, Python); each page in flight holds its own activations.
                None: :attr:`default_workers` when pages go one per forward pass, else 1.
        """
        import torch

        conv_dtype = conv_dtype_for(precision, self.device)
        batch_size = self.default_batch_size if batch_size is None else batch_size
        items = as_list(images)
        workers = resolve_workers(workers, batch_size, self.device.type, self.default_workers)
        if workers > 1 and len(items) > 1:
            return self._predict_in_threads(items, workers, format, min_score, conv_dtype)
        results: list[Detections | None] = [None] * len(items)
        # Images are batched only with images of the same padded size: padding changes the
        # features near the border, and detectron2's DefaultPredictor pads each image alone.
        pending: dict[tuple[int, int], list[tuple[int, torch.Tensor, tuple[int, int]]]] = {}
        with torch.inference_mode():
            for index, item in enumerate(items):
                tensor, size = self._prepare(item, format)
                bucket = pending.setdefault(self._padded_shape(tensor), [])
                bucket.append((index, tensor, size))
                if len(bucket) >= max(1, batch_size):
                    bucket = pending.pop(self._padded_shape(tensor))
                    self._store(bucket, results, min_score, conv_dtype)
            for bucket in pending.values():
                self._store(bucket, results, min_score, conv_dtype)
        return [r for r in results if r is not None]

    def _store(
        self,
        bucket: list[tuple[int, torch.Tensor, tuple[int, int]]],
        results: list[Detections | None],
        min_score: float,
        conv_dtype: torch.dtype | None,
    ) -> None:
        """Predict ``bucket`` (index, tensor, input size) and put each result at its index."""
        pages = [(tensor, size) for _, tensor, size in bucket]
        for (index, _, _), det in zip(bucket, self._run(pages, min_score, conv_dtype), strict=True):
            results[index] = det

    def _predict_in_threads(
        self,
        items: list[ImageInput],
        workers: int,
        format: str | None,
        min_score: float,
        conv_dtype: torch.dtype | None,
    ) -> list[Detections]:
        """One page per forward pass, ``workers`` pages at a time (see :meth:`predict`)."""
        import torch

        def one(item: ImageInput) -> Detections:
            with torch.inference_mode():  # grad mode is per thread
                (det,) = self._run([self._prepare(item, format)], min_score, conv_dtype)
            return det

        # These threads take torch's global thread count, as the caller's does, so each
        # convolution runs the same oneDNN kernels. Oversubscribed, libgomp stops
        # busy-waiting, so the teams share the cores instead of spinning on them.
        if self._page_threads is None or self._page_threads[0] != workers:
            if self._page_threads is not None:
                self._page_threads[1].shutdown(wait=False)
            self._page_threads = (workers, ThreadPoolExecutor(workers, "layoutft-page"))
        return list(self._page_threads[1].map(one, items))

    def _padded_shape(self, tensor: torch.Tensor) -> tuple[int, int]:
        div = max(1, int(self.model.backbone.size_divisibility))
        return -(-tensor.shape[-2] // div) * div, -(-tensor.shape[-1] // div) * div

    def _run(
        self,
        pages: list[tuple[torch.Tensor, tuple[int, int]]],
        min_score: float,
        conv_dtype: torch.dtype | None,
    ) -> list[Detections]:
        """Detections of ``pages`` (resized tensor, input (H, W)) in one forward pass."""
        outputs = self.model([{"image": tensor} for tensor, _ in pages], min_score, conv_dtype)
        return [
            detections_from_outputs(out, tuple(tensor.shape[-2:]), size, self.labels, min_score)
            for (tensor, size), out in zip(pages, outputs, strict=True)
        ]

    def predict_proposals(
        self, images: ImageInput | Iterable[ImageInput], format: str | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """RPN proposals per image: float32 [P, 4] XYXY in pixels of the RESIZED image the
        network sees, and their objectness logits [P], best first (for debugging/parity)."""
        import torch

        out = []
        with torch.inference_mode():
            for item in as_list(images):
                tensor, _ = self._prepare(item, format)
                (props,) = self.model.proposals([{"image": tensor}])
                out.append((props.boxes.cpu().numpy(), props.objectness_logits.cpu().numpy()))
        return out

    def _prepare(
        self, item: ImageInput, format: str | None
    ) -> tuple[torch.Tensor, tuple[int, int]]:
        contract = self.input_contract
        return prepare_image(
            item, format, contract.format, contract.min_size_test, contract.max_size_test
        )


def conv_dtype_for(precision: str, device: torch.device) -> torch.dtype | None:
    """The convolution dtype of a checked ``predict`` precision on ``device`` (None: fp32)."""
    import torch

    check_precision(precision, device.type)
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


def detections_from_outputs(
    out: dict[str, torch.Tensor],
    resized: tuple[int, ...],
    size: tuple[int, int],
    labels: Sequence[str],
    min_score: float = 0.0,
) -> Detections:
    """Detections in input-image pixels from one image's model outputs (``boxes``, ``scores``,
    ``classes``, optional ``mask_probs``) in pixels of the ``resized`` (h, w) image: boxes are
    scaled to ``size`` (H, W), clipped, empty ones and those scored below ``min_score``
    dropped, masks pasted (threshold 0.5). Shared with exported-model runtimes."""
    from layoutft.modeling.paste import paste_masks_in_image
    from layoutft.modeling.rpn import clip_boxes, nonempty

    height, width = size
    boxes = out["boxes"].clone()
    boxes[:, 0::2] *= width / resized[1]
    boxes[:, 1::2] *= height / resized[0]
    boxes = clip_boxes(boxes, size)
    keep = nonempty(boxes) & (out["scores"] >= min_score)
    boxes, scores, classes = boxes[keep], out["scores"][keep], out["classes"][keep]
    masks = None
    if "mask_probs" in out:
        probs = out["mask_probs"][keep][:, 0]
        masks = paste_masks_in_image(probs, boxes, size).cpu().numpy()
    cls = classes.cpu().numpy().astype(np.int64)
    return Detections(
        boxes=boxes.cpu().numpy().astype(np.float32),
        scores=scores.cpu().numpy().astype(np.float32),
        classes=cls,
        labels=[labels[c] for c in cls],
        masks=masks,
        image_size=size,
    )


def _config(config: Config | str | Path, overrides: Sequence[str] | None) -> Config:
    from layoutft.config import load_config

    if isinstance(config, (str, Path)):
        return load_config(config, overrides)
    cfg = config.clone()
    if overrides:
        cfg.merge_from_list(list(overrides))
    return cfg


def _refuse_partial(
    weights: str | Path, model: torch.nn.Module, state: dict[str, torch.Tensor]
) -> None:
    """CheckpointError when ``state`` lacks parameters of ``model``: they would keep their
    random initial values (BN batch counters, which detectron2 checkpoints omit, aside)."""
    from layoutft.checkpoint.apply import group_keys
    from layoutft.errors import CheckpointError

    wanted = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    missing = [k for k in wanted if k not in state]
    if not missing:
        return
    raise CheckpointError(
        f"{weights}: holds {len(wanted) - len(missing)} of the model's {len(wanted)} parameter "
        f"tensors (missing: {group_keys(missing)}); the rest would predict from random "
        "weights. Check --weights and --config, or pass --allow-partial "
        "(allow_partial=True) to load it anyway"
    )


def _build(cfg: Config, device: str) -> GeneralizedRCNN:
    from layoutft._compat import check_torchvision_ops
    from layoutft.modeling import build_model

    check_torchvision_ops()
    return build_model(cfg).to(device).eval()


__all__ = [
    "Detections",
    "ImageInput",
    "LayoutModel",
    "conv_dtype_for",
    "default_labels",
    "detections_from_outputs",
]
