"""Box regression coding with detectron2's ``Box2BoxTransform`` semantics.

Boxes are XYXY in pixels of the image the network sees. Widths are ``x1 - x0`` (no +1,
unlike Detectron v1). Deltas are ``(dx, dy, dw, dh)`` multiplied by ``weights``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from layoutft.errors import ConfigError

# dw/dh larger than this would turn a 16 px box into a 1000 px one; clamping keeps exp() finite.
DEFAULT_SCALE_CLAMP = math.log(1000.0 / 16)

BoxWeights = tuple[float, float, float, float]


def _centers_sizes(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights, widths, heights


def encode_boxes(src: Tensor, target: Tensor, weights: BoxWeights) -> Tensor:
    """Deltas that turn ``src`` into ``target``.

    Args:
        src: float [N, 4] XYXY source boxes (anchors or proposals), positive widths/heights.
        target: float [N, 4] XYXY target boxes (ground truth), same coordinate space.
        weights: (wx, wy, ww, wh) multipliers, e.g. (1, 1, 1, 1) for the RPN,
            (10, 10, 5, 5) for the box head.

    Returns:
        [N, 4] deltas (dx, dy, dw, dh), dtype of the inputs.
    """
    sx, sy, sw, sh = _centers_sizes(src)
    tx, ty, tw, th = _centers_sizes(target)
    wx, wy, ww, wh = weights
    dx = wx * (tx - sx) / sw
    dy = wy * (ty - sy) / sh
    dw = ww * torch.log(tw / sw)
    dh = wh * torch.log(th / sh)
    return torch.stack((dx, dy, dw, dh), dim=1)


def decode_boxes(
    deltas: Tensor,
    boxes: Tensor,
    weights: BoxWeights,
    scale_clamp: float = DEFAULT_SCALE_CLAMP,
) -> Tensor:
    """Apply ``deltas`` to ``boxes``.

    Args:
        deltas: [N, 4k] deltas, k >= 1 (k boxes per row, e.g. one per class).
        boxes: [N, 4] XYXY reference boxes.
        weights: (wx, wy, ww, wh), the same as for :func:`encode_boxes`.
        scale_clamp: upper bound on dw/dh after dividing by the weights.

    Returns:
        float32 [N, 4k] XYXY boxes (decoding always runs in float32 for precision).
    """
    deltas = deltas.float()
    boxes = boxes.to(deltas.dtype)
    ctr_x, ctr_y, widths, heights = _centers_sizes(boxes)
    wx, wy, ww, wh = weights
    dx = deltas[:, 0::4] / wx
    dy = deltas[:, 1::4] / wy
    dw = torch.clamp(deltas[:, 2::4] / ww, max=scale_clamp)
    dh = torch.clamp(deltas[:, 3::4] / wh, max=scale_clamp)
    pred_cx = dx * widths[:, None] + ctr_x[:, None]
    pred_cy = dy * heights[:, None] + ctr_y[:, None]
    half_w = 0.5 * torch.exp(dw) * widths[:, None]
    half_h = 0.5 * torch.exp(dh) * heights[:, None]
    out = torch.stack((pred_cx - half_w, pred_cy - half_h, pred_cx + half_w, pred_cy + half_h), -1)
    return out.reshape(deltas.shape)


def as_weights(values: Sequence[float], key: str = "BBOX_REG_WEIGHTS") -> BoxWeights:
    """Four config numbers as a weights tuple (ConfigError naming ``key`` otherwise)."""
    if len(values) != 4:
        raise ConfigError(f"{key} must have 4 numbers (wx, wy, ww, wh), got {list(values)}")
    wx, wy, ww, wh = (float(v) for v in values)
    return wx, wy, ww, wh
