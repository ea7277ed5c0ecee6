"""Dataset statistics that set a document model's config, with the config they recommend.

All sizes are pixels. "Input" sizes are after detectron2's ``ResizeShortestEdge``
(shortest edge to ``min_size``, longest capped at ``max_size``), i.e. what the network
sees; aspect ratios are ``h / w`` like detectron2's ``ANCHOR_GENERATOR.ASPECT_RATIOS``.

Recommendation rules (each documented on its helper):

- ``INPUT.MIN_SIZE_*``/``MAX_SIZE_*``: the given sizes, scaled up (to multiples of 32)
  when the smallest text box would be under :data:`MIN_BOX_PX` pixels high at input.
- ``ASPECT_RATIOS``: the :data:`RATIO_LADDER` steps from the lowest per-class 5th
  percentile to the highest per-class 95th percentile of ``h / w``.
- ``SIZES``: five FPN levels (P2-P6) doubling from the largest power of two not above the
  1st percentile of box sqrt-areas at input (clamped to 8..64).
- ``RPN.POST_NMS_TOPK_*``: at least 10x the busiest page (rounded up to 100, never below
  detectron2's 1000); ``PRE_NMS_TOPK_*`` raised to match when needed.
- ``TEST.DETECTIONS_PER_IMAGE``: twice the busiest page rounded up to 50, at least 100.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from layoutft.data.coco import Problems
from layoutft.errors import DatasetError

#: Smallest box height (input pixels) the P2 level (stride 4) should still see.
MIN_BOX_PX = 8.0
#: Candidate anchor aspect ratios (h / w).
RATIO_LADDER = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)
#: Reported quantile levels.
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class ClassStats:
    """Per-class numbers: aspect (h/w) and size (sqrt(w*h), input px) quantiles."""

    name: str
    count: int
    aspect: dict[str, float]
    size: dict[str, float]
    min_height: float


@dataclass(frozen=True)
class Analysis:
    """Statistics of a COCO dataset and the config they recommend (see module docstring)."""

    min_size: int
    max_size: int
    images: int
    annotations: int
    classes: list[ClassStats]
    regions_per_page_max: int
    regions_per_page_p99: float
    smallest_text_height: float
    smallest_text_height_input: float
    recommended: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return asdict(self)

    def to_yaml(self) -> str:
        """The recommended detectron2 config keys as YAML to paste into a config file."""
        import yaml

        class _Dumper(yaml.SafeDumper):
            """Block-style mappings, one-line lists (``ASPECT_RATIOS: [[0.5, 1.0, 2.0]]``)."""

        def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
            return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

        _Dumper.add_representer(list, _flow_list)
        return yaml.dump(self.recommended, Dumper=_Dumper, sort_keys=False)


def resize_scale(height: int, width: int, min_size: int, max_size: int) -> tuple[float, float]:
    """(y, x) scale factors of detectron2's ResizeShortestEdge, integer output size included."""
    scale = min_size / min(height, width)
    new_h, new_w = height * scale, width * scale
    if max(new_h, new_w) > max_size:
        cap = max_size / max(new_h, new_w)
        new_h, new_w = new_h * cap, new_w * cap
    return int(new_h + 0.5) / height, int(new_w + 0.5) / width


def _quantiles(values: np.ndarray) -> dict[str, float]:
    """``{"p1": ..., "p99": ...}`` with numpy's linear interpolation, rounded to 4 decimals."""
    qs = np.quantile(values, QUANTILES)
    return {f"p{round(q * 100)}": round(float(v), 4) for q, v in zip(QUANTILES, qs, strict=True)}


def _boxes(coco: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Per annotation: [w, h] px, image index, class name index; plus the class names.

    Raises one :class:`DatasetError` listing every annotation that cannot be used.
    """
    images = {im.get("id"): i for i, im in enumerate(coco["images"])}
    names = {c.get("id"): str(c.get("name")) for c in coco["categories"]}
    order = sorted(names, key=lambda k: (str(type(k)), k))
    index = {cid: i for i, cid in enumerate(order)}
    problems = Problems()
    for im in coco["images"]:
        size = (im.get("width"), im.get("height"))
        if not all(isinstance(v, int) and v > 0 for v in size):
            problems.add(f"image {im.get('id')!r}", f"width/height must be positive ints: {size}")
    wh, img, cls = [], [], []
    for n, ann in enumerate(coco["annotations"]):
        where = f"annotation {ann.get('id', f'#{n}')}"
        bbox = ann.get("bbox")
        if not (isinstance(bbox, Sequence) and len(bbox) == 4 and all(map(_finite, bbox))):
            problems.add(where, f"bbox must be 4 finite numbers [x, y, w, h], got {bbox!r}")
        elif ann.get("image_id") not in images:
            problems.add(where, f"image_id {ann.get('image_id')!r} is not in 'images'")
        elif ann.get("category_id") not in names:
            problems.add(where, f"category_id {ann.get('category_id')!r} is not in 'categories'")
        else:
            wh.append((float(bbox[2]), float(bbox[3])))
            img.append(images[ann["image_id"]])
            cls.append(index[ann["category_id"]])
    problems.raise_if_any("in the COCO annotations", "Fix them (layoutft validate lists them).")
    if not wh:
        raise DatasetError("analyze: the COCO file has no annotations to analyze")
    return np.array(wh), np.array(img), np.array(cls), [names[c] for c in order]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def analyze_coco(coco: dict[str, Any], min_size: int = 800, max_size: int = 1333) -> Analysis:
    """Statistics of a COCO detection dict at input size ``min_size``/``max_size``.

    Boxes with zero width or height are left out of aspect and size statistics. The
    "text" class (any letter case, e.g. DocLayNet's "Text") gives the smallest text height;
    without one, every class does.
    """
    wh, img, cls, names = _boxes(coco)
    sizes = np.array([[im["height"], im["width"]] for im in coco["images"]], dtype=np.float64)
    scales = np.array([resize_scale(int(h), int(w), min_size, max_size) for h, w in sizes])
    in_wh = wh * scales[img][:, ::-1]  # (x scale, y scale) per box
    ok = (wh > 0).all(axis=1)
    classes = []
    for k, name in enumerate(names):
        sel = ok & (cls == k)
        if not sel.any():
            continue
        aspect = in_wh[sel, 1] / in_wh[sel, 0]
        classes.append(
            ClassStats(
                name,
                int(sel.sum()),
                _quantiles(aspect),
                _quantiles(np.sqrt(in_wh[sel].prod(axis=1))),
                round(float(in_wh[sel, 1].min()), 4),
            )
        )
    per_page = np.bincount(img, minlength=len(coco["images"]))
    if not ok.any():
        raise DatasetError("analyze: every box has zero width or height")
    lower = [n.lower() for n in names]
    text = ok & (cls == lower.index("text")) if "text" in lower else ok
    if not text.any():
        text = ok
    small = float(wh[text, 1].min())
    small_in = float(in_wh[text, 1].min())
    rec_min, rec_max = min_size, max_size
    if small_in < MIN_BOX_PX:
        factor = MIN_BOX_PX / small_in
        rec_min, rec_max = _round32(min_size * factor), _round32(max_size * factor)
    rec_scales = np.array([resize_scale(int(h), int(w), rec_min, rec_max) for h, w in sizes])
    rec_areas = np.sqrt((wh * rec_scales[img][:, ::-1]).prod(axis=1))[ok]
    busiest = int(per_page.max())
    return Analysis(
        min_size=min_size,
        max_size=max_size,
        images=len(coco["images"]),
        annotations=len(wh),
        classes=classes,
        regions_per_page_max=busiest,
        regions_per_page_p99=round(float(np.quantile(per_page, 0.99)), 4),
        smallest_text_height=round(small, 4),
        smallest_text_height_input=round(small_in, 4),
        recommended=_recommend(rec_min, rec_max, classes, rec_areas, busiest),
    )


def _round32(value: float) -> int:
    """``value`` rounded up to a multiple of 32 (a tiny tolerance absorbs float noise)."""
    return int(math.ceil(value / 32 - 1e-9) * 32)


def _ladder_index(value: float) -> int:
    """Index of the :data:`RATIO_LADDER` step nearest to ``value`` in log space."""
    return int(np.argmin([abs(math.log(value / r)) for r in RATIO_LADDER]))


def aspect_ratios(classes: Sequence[ClassStats]) -> list[float]:
    """Ladder steps from the lowest per-class p5 to the highest per-class p95 of h/w."""
    lo = _ladder_index(min(c.aspect["p5"] for c in classes))
    hi = _ladder_index(max(c.aspect["p95"] for c in classes))
    return list(RATIO_LADDER[lo : hi + 1])


def anchor_sizes(box_sizes: np.ndarray) -> list[list[int]]:
    """Five doubling sizes from the power of two at or below the p1 box size (8..64)."""
    p1 = float(np.quantile(box_sizes, 0.01))
    base = int(min(64, max(8, 2 ** math.floor(math.log2(max(p1, 1.0))))))
    return [[base * 2**i] for i in range(5)]


def _recommend(
    min_size: int, max_size: int, classes: Sequence[ClassStats], areas: np.ndarray, busiest: int
) -> dict[str, Any]:
    """Nested detectron2 config keys (see the module docstring for the rules)."""
    post = max(1000, math.ceil(10 * busiest / 100) * 100)
    return {
        "INPUT": {
            "MIN_SIZE_TRAIN": [min_size],
            "MAX_SIZE_TRAIN": max_size,
            "MIN_SIZE_TEST": min_size,
            "MAX_SIZE_TEST": max_size,
        },
        "MODEL": {
            "ANCHOR_GENERATOR": {
                "SIZES": anchor_sizes(areas),
                "ASPECT_RATIOS": [aspect_ratios(classes)],
            },
            "RPN": {
                "PRE_NMS_TOPK_TRAIN": max(2000, post),
                "PRE_NMS_TOPK_TEST": max(1000, post),
                "POST_NMS_TOPK_TRAIN": post,
                "POST_NMS_TOPK_TEST": post,
            },
        },
        "TEST": {"DETECTIONS_PER_IMAGE": max(100, math.ceil(2 * busiest / 50) * 50)},
    }
