"""Test-time resizing exactly as detectron2's ResizeShortestEdge + ResizeTransform do it.

The uint8 image is resized with PIL bilinear (antialiased when shrinking) before any
normalization; resizing float tensors with torch gives different pixels on thin strokes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def shortest_edge_size(height: int, width: int, short_edge: int, max_size: int) -> tuple[int, int]:
    """(new_h, new_w): shorter side to ``short_edge``, longer side capped at ``max_size``.

    Rounds half up like detectron2's ``ResizeShortestEdge.get_output_shape``.
    """
    size = short_edge * 1.0
    scale = size / min(height, width)
    if height < width:
        new_h, new_w = size, scale * width
    else:
        new_h, new_w = scale * height, size
    if max(new_h, new_w) > max_size:
        scale = max_size * 1.0 / max(new_h, new_w)
        new_h, new_w = new_h * scale, new_w * scale
    return int(new_h + 0.5), int(new_w + 0.5)


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
