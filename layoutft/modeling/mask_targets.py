"""Mask R-CNN training targets: ground-truth masks cropped to proposal boxes, M×M.

Follows detectron2 0.6: polygons are shifted and scaled into the box and rasterized by
pycocotools at M×M (``PolygonMasks.crop_and_resize``); bitmasks are resampled with aligned
RoIAlign and thresholded at 0.5 (``BitMasks.crop_and_resize``). Boxes and polygon coordinates
are XYXY / (x, y) pixels of the (resized) image the network sees, top-left origin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from layoutft.errors import DatasetError

# One instance is a list of polygons, each a flat [x0, y0, x1, y1, ...] array.
InstancePolygons = Sequence[ArrayLike]
# Ground-truth masks of one image: polygons per instance, or a bool/uint8 [N, H, W] tensor.
GtMasks = Sequence[InstancePolygons] | Tensor


def _as_polygons(instance: InstancePolygons) -> list[np.ndarray]:
    # A copy: the coordinates are shifted and scaled in place below.
    polygons = [np.array(p, dtype=np.float64).reshape(-1) for p in instance]
    for p in polygons:
        if p.size % 2 or p.size < 6:
            raise DatasetError(
                f"a polygon has {p.size} coordinates; polygons need at least 3 (x, y) points"
            )
    return polygons


def rasterize_polygons_in_box(
    instance: InstancePolygons, box: np.ndarray, mask_size: int
) -> np.ndarray:
    """Rasterize one instance's polygons inside ``box``, resized to ``mask_size`` squared.

    Args:
        instance: polygons of one instance (flat float arrays, image pixels).
        box: float32 [4] XYXY crop box in the same pixels.
        mask_size: M.

    Returns:
        bool [M, M] mask (all False for an instance without polygons).
    """
    import pycocotools.mask as mask_util

    polygons = _as_polygons(instance)
    if not polygons:
        return np.zeros((mask_size, mask_size), dtype=bool)
    width, height = box[2] - box[0], box[3] - box[1]
    # Very thin boxes would blow the polygons up; detectron2 floors the size at 0.1 px.
    ratio_w = mask_size / max(width, 0.1)
    ratio_h = mask_size / max(height, 0.1)
    for p in polygons:
        p[0::2] = (p[0::2] - box[0]) * ratio_w
        p[1::2] = (p[1::2] - box[1]) * ratio_h
    rles = mask_util.frPyObjects(polygons, mask_size, mask_size)
    return mask_util.decode(mask_util.merge(rles)).astype(bool)


def polygon_mask_targets(
    polygons: Sequence[InstancePolygons], boxes: Tensor, gt_index: Tensor, mask_size: int
) -> Tensor:
    """Targets from polygon annotations.

    Args:
        polygons: per ground-truth instance, its polygons (image pixels).
        boxes: float [F, 4] XYXY proposal boxes.
        gt_index: int64 [F], the ground-truth instance of each box.
        mask_size: M.

    Returns:
        bool [F, M, M] on the device of ``boxes``.
    """
    boxes_np = boxes.detach().to("cpu", torch.float32).numpy()
    index = gt_index.tolist()
    masks = [
        rasterize_polygons_in_box(polygons[g], b, mask_size)
        for g, b in zip(index, boxes_np, strict=True)
    ]
    if not masks:
        return torch.zeros((0, mask_size, mask_size), dtype=torch.bool, device=boxes.device)
    return torch.from_numpy(np.stack(masks)).to(boxes.device)


def bitmask_mask_targets(masks: Tensor, boxes: Tensor, gt_index: Tensor, mask_size: int) -> Tensor:
    """Targets from full-image bitmasks.

    Args:
        masks: bool/uint8 [N, H, W] ground-truth masks of the image (H, W: image size, unpadded).
        boxes: float [F, 4] XYXY proposal boxes.
        gt_index: int64 [F], the ground-truth instance of each box.
        mask_size: M.

    Returns:
        bool [F, M, M] on the device of ``boxes``.
    """
    from torchvision.ops import roi_align

    if boxes.shape[0] == 0:
        return torch.zeros((0, mask_size, mask_size), dtype=torch.bool, device=boxes.device)
    device = masks.device
    # Only convert the instances that are used: full-page float masks are large.
    used, batch_index = torch.unique(gt_index.to(device), return_inverse=True)
    inputs = masks[used].to(torch.float32)[:, None]
    rois = torch.cat([batch_index.to(torch.float32)[:, None], boxes.to(device, torch.float32)], 1)
    out = roi_align(inputs, rois, (mask_size, mask_size), 1.0, 0, aligned=True)
    return (out[:, 0] >= 0.5).to(boxes.device)


def mask_targets(gt_masks: GtMasks, boxes: Tensor, gt_index: Tensor, mask_size: int) -> Tensor:
    """Bool [F, M, M] targets for ``boxes`` from polygons or a bitmask tensor (see above)."""
    if isinstance(gt_masks, Tensor):
        return bitmask_mask_targets(gt_masks, boxes, gt_index, mask_size)
    return polygon_mask_targets(gt_masks, boxes, gt_index, mask_size)
