"""Preprocessing: page images in, the resized uint8 tensor the detector sees out.

Resizing is exactly detectron2's ResizeShortestEdge + ResizeTransform: the uint8 image is
resized with PIL bilinear (antialiased when shrinking) before any normalization; resizing
float tensors with torch gives different pixels on thin strokes. Images arrive as numpy
arrays (RGB or BGR), PIL images (RGB) or paths (read as BGR by
:func:`~layoutft.render.image.read_bgr`, the pixels ``cv2.imread`` gives); channels are put
in the model's ``INPUT.FORMAT``. torch is imported only by :func:`prepare_image`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Union, cast

import numpy as np
from PIL import Image

from layoutft.errors import ConfigError, LayoutftError
from layoutft.geometry import shortest_edge_size
from layoutft.render.image import read_bgr

if TYPE_CHECKING:
    import torch

ImageInput = Union[np.ndarray, "Image.Image", str, Path]


def resize_shortest_edge(image: np.ndarray, short_edge: int, max_size: int) -> np.ndarray:
    """Resized copy of ``image`` (uint8 [H, W, 3], any channel order); ``short_edge`` 0 = as is.

    Returns uint8 [H', W', 3] with (H', W') from :func:`shortest_edge_size`.
    """
    if short_edge == 0:
        return image
    height, width = image.shape[:2]
    new_h, new_w = shortest_edge_size(height, width, short_edge, max_size)
    resized = Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def prepare_pixels(
    item: ImageInput, format: str | None, model_format: str, min_size: int, max_size: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """Resized uint8 [h, w, 3] pixels in ``model_format`` channel order, and the input (H, W).

    ``format``: channel order of numpy inputs (default ``model_format``); the shortest edge is
    resized to ``min_size`` (0 = no resize) with the longest at most ``max_size`` (the
    INPUT.*_SIZE_TEST values). Shared by the torch and ONNX backends (no torch here).
    """
    image, order = _read(item, format or model_format)
    resized = resize_shortest_edge(np.ascontiguousarray(image), min_size, max_size)
    if order != model_format:
        # PIL resizes each channel alone, so the channels can swap after resizing: a copy
        # of the small image instead of the page (36 -> 16 ms at 200 dpi on one core)
        resized = np.ascontiguousarray(resized[:, :, ::-1])
    return resized, (int(image.shape[0]), int(image.shape[1]))


def prepare_image(
    item: ImageInput, format: str | None, model_format: str, min_size: int, max_size: int
) -> tuple[torch.Tensor, tuple[int, int]]:
    """:func:`prepare_pixels` as a uint8 tensor [3, h, w] (the torch backend's input)."""
    import torch

    resized, size = prepare_pixels(item, format, model_format, min_size, max_size)
    tensor = torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))
    return tensor, size


def as_list(images: ImageInput | Iterable[ImageInput]) -> list[ImageInput]:
    if isinstance(images, (np.ndarray, str, Path)) or hasattr(images, "getpixel"):
        return [cast(ImageInput, images)]
    return list(cast(Iterable[ImageInput], images))


def _read(item: ImageInput, numpy_format: str) -> tuple[np.ndarray, str]:
    """uint8 [H, W, 3] pixels and their channel order ("RGB"/"BGR")."""
    if isinstance(item, (str, Path)):
        return read_bgr(item), "BGR"
    if isinstance(item, np.ndarray):
        if numpy_format not in ("RGB", "BGR"):
            raise ConfigError(f"format must be 'RGB' or 'BGR', got {numpy_format!r}")
        return _three_channels(item), numpy_format
    if hasattr(item, "convert"):
        return np.asarray(item.convert("RGB")), "RGB"
    raise LayoutftError(
        f"cannot predict on a {type(item).__name__}; pass a numpy array, a PIL image or a path"
    )


def _three_channels(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise LayoutftError(f"images must be uint8 arrays (0-255), got dtype {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[:, :, :3]
    raise LayoutftError(f"images must be [H, W, 3] arrays, got shape {tuple(image.shape)}")


__all__ = [
    "ImageInput",
    "as_list",
    "prepare_image",
    "prepare_pixels",
    "resize_shortest_edge",
    "shortest_edge_size",
]
