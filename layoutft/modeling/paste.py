"""Paste M×M mask probabilities into an image the way detectron2's paste_masks_in_image does.

Each image pixel centre (x + 0.5, y + 0.5) is mapped into the box and sampled bilinearly from
the mask (grid_sample, zero outside); torchvision's paste_masks_in_image (expand + resize +
integer box) gives visibly different masks on thin text lines.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F


def _paste_one(
    mask: Tensor, box: Tensor, window: tuple[int, int, int, int]
) -> tuple[Tensor, int, int]:
    """Pasted probabilities over ``window`` (x0, y0, x1, y1 in whole pixels) and its origin."""
    x0_int, y0_int, x1_int, y1_int = window
    x0, y0, x1, y1 = box[0], box[1], box[2], box[3]
    ys = torch.arange(y0_int, y1_int, device=mask.device, dtype=torch.float32) + 0.5
    xs = torch.arange(x0_int, x1_int, device=mask.device, dtype=torch.float32) + 0.5
    ys = (ys - y0) / (y1 - y0) * 2 - 1
    xs = (xs - x0) / (x1 - x0) * 2 - 1
    # filled by broadcasting: stacking the two expanded coordinate planes cost as much as
    # the sampling itself
    grid = torch.empty((1, len(ys), len(xs), 2), dtype=torch.float32, device=mask.device)
    grid[0, :, :, 0] = xs[None, :]
    grid[0, :, :, 1] = ys[:, None]
    pasted = F.grid_sample(mask[None, None].float(), grid, align_corners=False)
    return pasted[0, 0], y0_int, x0_int


def paste_masks_in_image(
    masks: Tensor, boxes: Tensor, image_size: tuple[int, int], threshold: float = 0.5
) -> Tensor:
    """bool [N, H, W] masks (probability >= ``threshold``) in image pixels.

    Args:
        masks: float [N, M, M] probabilities in [0, 1].
        boxes: float32 [N, 4] XYXY in pixels of the target image.
        image_size: (H, W) of the target image.
    """
    height, width = image_size
    out = _zeros_bool((len(masks), height, width), masks.device)
    # each mask is pasted only over its box's whole-pixel window grown by 1 px (as detectron2
    # does on CPU); windows are computed on the CPU at once to avoid a GPU sync per mask
    cpu_boxes = boxes.detach().float().cpu()
    lo = torch.clamp(cpu_boxes[:, :2].floor() - 1, min=0).to(torch.int64)
    hi_x = torch.clamp(cpu_boxes[:, 2].ceil() + 1, max=width).to(torch.int64)
    hi_y = torch.clamp(cpu_boxes[:, 3].ceil() + 1, max=height).to(torch.int64)
    windows = torch.stack([lo[:, 0], lo[:, 1], hi_x, hi_y], dim=1).tolist()
    for i, window in enumerate(windows):
        pasted, y0, x0 = _paste_one(masks[i], boxes[i], tuple(window))
        out[i, y0 : y0 + pasted.shape[0], x0 : x0 + pasted.shape[1]] = pasted >= threshold
    return out


def _zeros_bool(shape: tuple[int, int, int], device: torch.device) -> Tensor:
    """A zero bool tensor; on the CPU from calloc'd memory (numpy), whose pages the OS maps
    only once written: torch.zeros memsets all N page-sized masks (17 ms for 10 masks of a
    200 dpi page) although only the boxes' windows are ever written."""
    if device.type == "cpu":
        return torch.from_numpy(np.zeros(shape, dtype=np.bool_))
    return torch.zeros(shape, dtype=torch.bool, device=device)
