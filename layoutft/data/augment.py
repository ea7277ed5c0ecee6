"""Document augmentations for training: resize, skew, lighting, compression, blur, noise.

Images are ``np.uint8`` arrays ``[H, W, 3]`` in RGB; geometry travels with the pixels:
boxes are ``float32 [N, 4]`` XYXY and polygons are lists (one per instance) of flat
``float32`` arrays ``[x0, y0, x1, y1, ...]``, all in pixels of the current image (origin
top-left, x to the right). Every random choice comes from the ``numpy.random.Generator``
passed in, so one seed reproduces one augmented sample exactly (workers, resume, DDP).

The resize is detectron2's ``ResizeShortestEdge`` with PIL bilinear interpolation
(antialiased when shrinking), the same as at inference.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFilter

from layoutft.errors import ConfigError
from layoutft.geometry import shortest_edge_size

if TYPE_CHECKING:
    from layoutft.config import Config

Polygons = list[list[np.ndarray]]


@dataclass
class Sample:
    """One page being augmented: image plus geometry in that image's pixels."""

    image: np.ndarray  # uint8 [H, W, 3] RGB
    boxes: np.ndarray  # float32 [N, 4] XYXY pixels
    polygons: Polygons | None = None  # per instance, flat [x0, y0, ...] pixel arrays
    masks: np.ndarray | None = None  # uint8 [N, H, W] (RLE annotations), moved with pixels


@dataclass(frozen=True)
class AugmentSettings:
    """All augmentation knobs (read from ``INPUT.*`` and ``LAYOUTFT.AUG.*``)."""

    min_sizes: tuple[int, ...] = (800,)
    sampling: str = "choice"  # "choice": one of min_sizes; "range": integer in [min, max]
    max_size: int = 1333
    flip: str = "none"  # "none" | "horizontal" | "vertical"
    brightness: tuple[float, float] = (1.0, 1.0)
    contrast: tuple[float, float] = (1.0, 1.0)
    jpeg_prob: float = 0.0
    jpeg_quality: tuple[int, int] = (40, 95)
    blur_prob: float = 0.0
    blur_sigma: tuple[float, float] = (0.3, 1.0)
    noise_prob: float = 0.0
    noise_std: tuple[float, float] = (2.0, 8.0)
    rotation_prob: float = 0.0
    rotation_deg: float = 0.0

    @classmethod
    def from_config(cls, cfg: Config) -> AugmentSettings:
        """Settings from a layoutft Config (``INPUT`` and ``LAYOUTFT.AUG`` nodes)."""
        inp, aug = cfg.INPUT, cfg.LAYOUTFT.AUG
        sampling = str(inp.MIN_SIZE_TRAIN_SAMPLING)
        if sampling not in ("choice", "range"):
            raise ConfigError(
                f"INPUT.MIN_SIZE_TRAIN_SAMPLING {sampling!r} is not supported; use choice or range"
            )
        sizes = tuple(int(s) for s in _seq(inp.MIN_SIZE_TRAIN))
        if sampling == "range" and len(sizes) != 2:
            raise ConfigError(
                f"INPUT.MIN_SIZE_TRAIN must be (min, max) with sampling 'range', got {sizes}"
            )
        flip = str(inp.RANDOM_FLIP)
        if flip not in ("none", "horizontal", "vertical"):
            raise ConfigError(f"INPUT.RANDOM_FLIP {flip!r}: use none, horizontal or vertical")
        return cls(
            min_sizes=sizes,
            sampling=sampling,
            max_size=int(inp.MAX_SIZE_TRAIN),
            flip=flip,
            brightness=_pair(aug.BRIGHTNESS, float),
            contrast=_pair(aug.CONTRAST, float),
            jpeg_prob=float(aug.JPEG_PROB),
            jpeg_quality=_pair(aug.JPEG_QUALITY, int),
            blur_prob=float(aug.BLUR_PROB),
            blur_sigma=_pair(aug.BLUR_SIGMA, float),
            noise_prob=float(aug.NOISE_PROB),
            noise_std=_pair(aug.NOISE_STD, float),
            rotation_prob=float(aug.ROTATION_PROB),
            rotation_deg=float(aug.ROTATION_DEG),
        )


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else (value,)


def _pair(value: Any, kind: Any) -> tuple[Any, Any]:
    items = _seq(value)
    if len(items) != 2:
        raise ConfigError(f"expected a (low, high) pair in LAYOUTFT.AUG, got {value!r}")
    return (kind(items[0]), kind(items[1]))


def sample_train_size(
    h: int, w: int, settings: AugmentSettings, rng: np.random.Generator
) -> tuple[int, int]:
    """Random training size (height, width) per ``INPUT.MIN_SIZE_TRAIN`` and its sampling."""
    if settings.sampling == "range":
        short = int(rng.integers(settings.min_sizes[0], settings.min_sizes[1] + 1))
    else:
        short = int(settings.min_sizes[int(rng.integers(len(settings.min_sizes)))])
    return shortest_edge_size(h, w, short, settings.max_size)


def resize(sample: Sample, new_h: int, new_w: int) -> Sample:
    """Resize pixels (PIL bilinear) and scale the geometry with them."""
    h, w = sample.image.shape[:2]
    if (new_h, new_w) == (h, w):
        return sample
    image = np.asarray(
        Image.fromarray(sample.image).resize((new_w, new_h), Image.Resampling.BILINEAR)
    )
    sx, sy = new_w / w, new_h / h
    boxes = sample.boxes * np.array([sx, sy, sx, sy], dtype=np.float32)
    polygons = None
    if sample.polygons is not None:
        polygons = [[_scale_flat(p, sx, sy) for p in inst] for inst in sample.polygons]
    masks = None
    if sample.masks is not None:
        masks = (
            np.stack(
                [
                    np.asarray(Image.fromarray(m).resize((new_w, new_h), Image.Resampling.NEAREST))
                    for m in sample.masks
                ]
            )
            if len(sample.masks)
            else np.zeros((0, new_h, new_w), np.uint8)
        )
    return Sample(image, boxes.astype(np.float32), polygons, masks)


def _scale_flat(poly: np.ndarray, sx: float, sy: float) -> np.ndarray:
    out = np.asarray(poly, dtype=np.float32).copy()
    out[0::2] *= sx
    out[1::2] *= sy
    return out


def flip(sample: Sample, direction: str) -> Sample:
    """Mirror the page horizontally or vertically (off by default for documents)."""
    h, w = sample.image.shape[:2]
    axis = 1 if direction == "horizontal" else 0
    image = np.ascontiguousarray(np.flip(sample.image, axis=axis))
    boxes = sample.boxes.copy()
    coord, size = (0, w) if axis == 1 else (1, h)
    boxes[:, [coord, coord + 2]] = size - sample.boxes[:, [coord + 2, coord]]
    polygons = None
    if sample.polygons is not None:
        polygons = []
        for inst in sample.polygons:
            parts = []
            for p in inst:
                q = np.asarray(p, dtype=np.float32).copy()
                q[coord::2] = size - q[coord::2]
                parts.append(q)
            polygons.append(parts)
    masks = None if sample.masks is None else np.ascontiguousarray(np.flip(sample.masks, axis + 1))
    return Sample(image, boxes, polygons, masks)


def rotate(sample: Sample, degrees: float) -> Sample:
    """Rotate about the image centre (counter-clockwise), same size, white fill.

    Boxes are recomputed as the bounds of the rotated polygons (of the rotated box
    corners for instances without polygons), then clipped to the image.
    """
    h, w = sample.image.shape[:2]
    image = np.asarray(
        Image.fromarray(sample.image).rotate(
            degrees, resample=Image.Resampling.BILINEAR, fillcolor=(255, 255, 255)
        )
    )
    theta = math.radians(degrees)
    cx, cy = w / 2.0, h / 2.0
    cos, sin = math.cos(theta), math.sin(theta)

    def move(xy: np.ndarray) -> np.ndarray:
        # image y points down, so a counter-clockwise turn on screen is this matrix
        x, y = xy[:, 0] - cx, xy[:, 1] - cy
        return np.stack([cx + cos * x + sin * y, cy - sin * x + cos * y], axis=1)

    boxes = np.zeros_like(sample.boxes)
    polygons: Polygons | None = None if sample.polygons is None else []
    for i, box in enumerate(sample.boxes):
        x0, y0, x1, y1 = box
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        if sample.polygons is not None and sample.polygons[i]:
            parts = [move(np.asarray(p, np.float64).reshape(-1, 2)) for p in sample.polygons[i]]
            polygons.append([p.reshape(-1).astype(np.float32) for p in parts])  # type: ignore[union-attr]
            points = np.concatenate(parts)
        else:
            points = move(corners)
            if polygons is not None:
                polygons.append([points.reshape(-1).astype(np.float32)])
        boxes[i] = [points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()]
    boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
    masks = None
    if sample.masks is not None:
        masks = (
            np.stack(
                [
                    np.asarray(
                        Image.fromarray(m).rotate(degrees, resample=Image.Resampling.NEAREST)
                    )
                    for m in sample.masks
                ]
            )
            if len(sample.masks)
            else sample.masks
        )
    return Sample(image, boxes, polygons, masks)


def photometric(
    image: np.ndarray, settings: AugmentSettings, rng: np.random.Generator
) -> np.ndarray:
    """Brightness, contrast, blur, noise and JPEG re-compression (in that order)."""
    out = image
    b = float(rng.uniform(*settings.brightness))
    c = float(rng.uniform(*settings.contrast))
    if b != 1.0 or c != 1.0:
        f = out.astype(np.float32) * b
        f = (f - f.mean()) * c + f.mean()
        out = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    if rng.random() < settings.blur_prob:
        radius = float(rng.uniform(*settings.blur_sigma))
        out = np.asarray(Image.fromarray(out).filter(ImageFilter.GaussianBlur(radius)))
    if rng.random() < settings.noise_prob:
        std = float(rng.uniform(*settings.noise_std))
        noise = rng.normal(0.0, std, size=out.shape).astype(np.float32)
        out = np.clip(np.rint(out.astype(np.float32) + noise), 0, 255).astype(np.uint8)
    if rng.random() < settings.jpeg_prob:
        quality = int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1))
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=quality)
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


def augment(sample: Sample, settings: AugmentSettings, rng: np.random.Generator) -> Sample:
    """Full training augmentation: multi-scale resize, flip, skew, then photometric changes."""
    h, w = sample.image.shape[:2]
    sample = resize(sample, *sample_train_size(h, w, settings, rng))
    if settings.flip != "none" and rng.random() < 0.5:
        sample = flip(sample, settings.flip)
    if settings.rotation_deg > 0 and rng.random() < settings.rotation_prob:
        angle = float(rng.uniform(-settings.rotation_deg, settings.rotation_deg))
        sample = rotate(sample, angle)
    image = photometric(sample.image, settings, rng)
    return Sample(image, sample.boxes, sample.polygons, sample.masks)
