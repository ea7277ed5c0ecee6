"""Paste M×M mask probabilities into an image the way detectron2's paste_masks_in_image does.

Each image pixel centre (x + 0.5, y + 0.5) is mapped into the box and sampled bilinearly from
the mask (grid_sample, zero outside); torchvision's paste_masks_in_image (expand + resize +
integer box) gives visibly different masks on thin text lines.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def _paste_one(mask: Tensor, box: Tensor, height: int, width: int) -> tuple[Tensor, int, int]:
    """Pasted probabilities over the box's bounding window (±1 px) and the window's origin."""
    x0_int = int(torch.clamp(box[0].floor() - 1, min=0))
    y0_int = int(torch.clamp(box[1].floor() - 1, min=0))
    x1_int = int(torch.clamp(box[2].ceil() + 1, max=width))
    y1_int = int(torch.clamp(box[3].ceil() + 1, max=height))
    x0, y0, x1, y1 = box[0], box[1], box[2], box[3]
    ys = torch.arange(y0_int, y1_int, device=mask.device, dtype=torch.float32) + 0.5
    xs = torch.arange(x0_int, x1_int, device=mask.device, dtype=torch.float32) + 0.5
    ys = (ys - y0) / (y1 - y0) * 2 - 1
    xs = (xs - x0) / (x1 - x0) * 2 - 1
    grid = torch.stack(
        [xs[None, :].expand(len(ys), len(xs)), ys[:, None].expand(len(ys), len(xs))], dim=2
    )
    pasted = F.grid_sample(
        mask[None, None].float(), grid[None].to(torch.float32), align_corners=False
    )
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
    out = torch.zeros((len(masks), height, width), dtype=torch.bool, device=masks.device)
    for i in range(len(masks)):
        pasted, y0, x0 = _paste_one(masks[i], boxes[i], height, width)
        out[i, y0 : y0 + pasted.shape[0], x0 : x0 + pasted.shape[1]] = pasted >= threshold
    return out
