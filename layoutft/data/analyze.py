"""Dataset statistics that set a document model's config, with the config they recommend.

All sizes are pixels. "Input" sizes are after detectron2's ``ResizeShortestEdge``
(shortest edge to ``min_size``, longest capped at ``max_size``), i.e. what the network
sees; aspect ratios are ``h / w`` like detectron2's ``ANCHOR_GENERATOR.ASPECT_RATIOS``.
Every rule treats all classes alike (no class name is special).

The recommendation starts from a :class:`Recipe` (the config you fine-tune, by default
``finetune_cpu``'s values) and changes only what the data calls for, so the YAML pastes into
that config and the pre-trained weights still load:

- ``INPUT``: sized from the :data:`SIZE_PERCENTILE` th percentile of the boxes' short sides
  (not the single smallest box): when that is under :data:`MIN_BOX_PX` at input, the input
  sizes (the recipe's training scales too) are scaled up to bring it there, in multiples of
  32. Boxes still under :data:`MIN_BOX_PX` at the recommended size are outliers, reported
  on their own (annotation id, image, class).
- ``ASPECT_RATIOS``: the recipe's ratios, same number and order (the RPN head's shape
  depends on the number). A :data:`RATIO_LADDER` step the recipe lacks is put in when at
  least :data:`NEED_SHARE` of the boxes are nearest to it, in place of a recipe ratio that
  under :data:`SPARE_SHARE` of the boxes are nearest to (the nearest such one); else a note
  says what adding it would take.
- ``SIZES``: five FPN levels (P2-P6) doubling from the largest power of two not above the
  1st percentile of box sqrt-areas at input (clamped to 8..64).
- ``ROI_HEADS.BATCH_SIZE_PER_IMAGE``: the power of two at or above twice the 95th
  percentile of regions per page, within 128..512.
- ``RPN.POST_NMS_TOPK_*``: at least 10x the busiest page (rounded up to 100, never below
  detectron2's 1000); ``PRE_NMS_TOPK_*`` raised to match when needed.
- ``TEST.DETECTIONS_PER_IMAGE``: twice the busiest page rounded up to 50, at least 100.

Cost: seconds per iteration estimated from the input pixels per page, relative to a measured
reference (:data:`REF_S_PER_ITER`, :data:`COST_FIXED_S`, :data:`COST_S_PER_MP`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from layoutft.data.coco import Problems
from layoutft.errors import DatasetError

#: Box short side (input pixels) the P2 level (stride 4) should still see: 2 cells.
MIN_BOX_PX = 8.0
#: Percentile of box short sides that sets the input size (one tiny box must not).
SIZE_PERCENTILE = 2.0
#: Candidate anchor aspect ratios (h / w).
RATIO_LADDER = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)
#: Share of boxes nearest to a ratio the recipe lacks that makes it worth an anchor.
NEED_SHARE = 0.05
#: A recipe ratio nearest to fewer boxes than this may give its place to a needed one.
SPARE_SHARE = 0.01
#: Reported quantile levels.
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
#: Outliers listed by name (all are counted).
OUTLIERS_LISTED = 10

# Cost model: s/iter = REF_S_PER_ITER * (COST_FIXED_S + COST_S_PER_MP * MP) /
# (COST_FIXED_S + COST_S_PER_MP * REF_MP), MP = input megapixels per page, 2 pages per
# iteration. REF_*: finetune_cpu's median 2.7 s/iter (wall clock) in
# benchmarks/results/finetune_real.md: DTA book scans 1600 x 2400 px at 640/1120 are
# 640 x 960 = 0.614 MP; 2-core AMD EPYC. COST_*: least-squares line through finetune_cpu's
# CPU seconds per iteration (one thread) measured by `python -m benchmarks.input_cost
# --coco <FUNSD training forms> --iters 3 --rounds 2` on 2026-12-07, same kind of CPU:
# 448 px 0.26 MP 0.92 s, 640 px 0.53 MP 1.78 s, 832 px 0.90 MP 3.11 s, 1024 px 1.37 MP 5.51 s
# (ROI batch 128; 256 at 832 px: 4.02 s). Cost is about proportional to pixels (intercept
# ~0); only the ratio to REF_MP is used, floored at MIN_COST_RATIO below the measured range.
REF_S_PER_ITER = 2.7
REF_MP = 0.614
COST_FIXED_S = -0.352
COST_S_PER_MP = 4.152
MIN_COST_RATIO = 0.1


@dataclass(frozen=True)
class Recipe:
    """The config keys the recommendation starts from (defaults: ``configs/finetune_cpu``).

    Attributes:
        name: for messages.
        min_size_test, max_size_test: input size analysed when none is given.
        min_size_train: training short edges; scaled with the input when it grows.
        max_size_train: training long-side cap; scaled likewise.
        aspect_ratios: ``ANCHOR_GENERATOR.ASPECT_RATIOS[0]``, order kept.
        batch_size_per_image: ``ROI_HEADS.BATCH_SIZE_PER_IMAGE``.
        ims_per_batch: pages per iteration (the cost estimate scales with it).
    """

    name: str = "finetune_cpu"
    min_size_test: int = 640
    max_size_test: int = 1120
    min_size_train: tuple[int, ...] = (576, 608, 640, 672, 704)
    max_size_train: int = 1232
    aspect_ratios: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
    batch_size_per_image: int = 256
    ims_per_batch: int = 2

    @classmethod
    def from_config(cls, cfg: Any, name: str) -> Recipe:
        """The recipe of a loaded config node (``layoutft.config.load_config``)."""
        return cls(
            name=name,
            min_size_test=int(cfg.INPUT.MIN_SIZE_TEST),
            max_size_test=int(cfg.INPUT.MAX_SIZE_TEST),
            min_size_train=tuple(int(s) for s in cfg.INPUT.MIN_SIZE_TRAIN),
            max_size_train=int(cfg.INPUT.MAX_SIZE_TRAIN),
            aspect_ratios=tuple(float(r) for r in cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0]),
            batch_size_per_image=int(cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE),
            ims_per_batch=int(cfg.SOLVER.IMS_PER_BATCH),
        )


@dataclass(frozen=True)
class ClassStats:
    """Per-class numbers at input: aspect (h/w), size (sqrt(w*h)), short side quantiles."""

    name: str
    count: int
    aspect: dict[str, float]
    size: dict[str, float]
    short_side: dict[str, float]


@dataclass(frozen=True)
class Analysis:
    """Statistics of a COCO dataset and the config they recommend (see module docstring).

    ``short_side_p``/``short_side_p_input``: the :data:`SIZE_PERCENTILE` th percentile of
    box short sides in image pixels and at input ``min_size``/``max_size``; ``outliers``:
    boxes under :data:`MIN_BOX_PX` at the recommended input (smallest first, at most
    :data:`OUTLIERS_LISTED`), ``outlier_count`` all of them; ``ratio_shares``: share of boxes
    nearest to each ratio (recipe's and ladder's); ``cost``: megapixels per page and
    estimated s/iter at the given and the recommended input.
    """

    recipe: str
    min_size: int
    max_size: int
    images: int
    annotations: int
    classes: list[ClassStats]
    regions_per_page_max: int
    regions_per_page_p95: float
    regions_per_page_p99: float
    short_side_p: float
    short_side_p_input: float
    outlier_count: int
    outliers: list[dict[str, Any]]
    ratio_shares: dict[str, float]
    cost: dict[str, float]
    recommended: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return asdict(self)

    def overrides(self) -> list[str]:
        """The recommended keys as ``KEY VALUE`` pairs for ``layoutft train`` (``INPUT.
        MIN_SIZE_TRAIN`` as a tuple)."""
        return flat_overrides(self.recommended)

    def to_yaml(self) -> str:
        """The recommended detectron2 config keys as YAML to paste into a config file."""
        import yaml

        class _Dumper(yaml.SafeDumper):
            """Block-style mappings, one-line lists (``ASPECT_RATIOS: [[0.5, 1.0, 2.0]]``)."""

        def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
            return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

        _Dumper.add_representer(list, _flow_list)
        return yaml.dump(self.recommended, Dumper=_Dumper, sort_keys=False)


def flat_overrides(keys: dict[str, Any], prefix: str = "") -> list[str]:
    """Nested config keys as flat ``KEY VALUE`` override pairs (``MIN_SIZE_TRAIN`` a tuple)."""
    out: list[str] = []
    for key, value in keys.items():
        if isinstance(value, dict):
            out += flat_overrides(value, f"{prefix}{key}.")
        else:
            text = str(tuple(value)) if key == "MIN_SIZE_TRAIN" else str(value)
            out += [f"{prefix}{key}", text]
    return out


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


@dataclass(frozen=True)
class _Boxes:
    """Usable annotations: ``wh`` [N,2] float px, ``img``/``cls`` [N] int indexes, ``ids``."""

    wh: np.ndarray
    img: np.ndarray
    cls: np.ndarray
    ids: list[Any]
    names: list[str]


def _boxes(coco: dict[str, Any]) -> _Boxes:
    """Per annotation: [w, h] px, image index, class name index, id; plus the class names.

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
    wh, img, cls, ids = [], [], [], []
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
            ids.append(ann.get("id", f"#{n}"))
    problems.raise_if_any("in the COCO annotations", "Fix them (layoutft validate lists them).")
    if not wh:
        raise DatasetError("analyze: the COCO file has no annotations to analyze")
    return _Boxes(np.array(wh), np.array(img), np.array(cls), ids, [names[c] for c in order])


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _input_wh(
    boxes: _Boxes, sizes: np.ndarray, min_size: int, max_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Box [w, h] at input, and input megapixels per image."""
    scales = np.array([resize_scale(int(h), int(w), min_size, max_size) for h, w in sizes])
    mp = sizes.prod(axis=1) * scales.prod(axis=1) / 1e6
    return boxes.wh * scales[boxes.img][:, ::-1], mp  # (x scale, y scale) per box


def analyze_coco(
    coco: dict[str, Any],
    min_size: int | None = None,
    max_size: int | None = None,
    recipe: Recipe | None = None,
) -> Analysis:
    """Statistics of a COCO detection dict at input ``min_size``/``max_size`` (default: the
    recipe's test size) and the config keys they recommend for ``recipe`` (default
    :class:`Recipe`, i.e. ``finetune_cpu``).

    Boxes with zero width or height are left out of the statistics.
    """
    recipe = recipe or Recipe()
    min_size = min_size or recipe.min_size_test
    max_size = max_size or recipe.max_size_test
    boxes = _boxes(coco)
    ok: np.ndarray = np.asarray((boxes.wh > 0).all(axis=1))
    if not ok.any():
        raise DatasetError("analyze: every box has zero width or height")
    sizes = np.array([[im["height"], im["width"]] for im in coco["images"]], dtype=np.float64)
    in_wh, mp = _input_wh(boxes, sizes, min_size, max_size)
    classes = [
        _class_stats(name, in_wh[ok & (boxes.cls == k)])
        for k, name in enumerate(boxes.names)
        if (ok & (boxes.cls == k)).any()
    ]
    short_p = float(np.percentile(boxes.wh[ok].min(axis=1), SIZE_PERCENTILE))
    short_p_in = float(np.percentile(in_wh[ok].min(axis=1), SIZE_PERCENTILE))
    factor = MIN_BOX_PX / short_p_in if short_p_in < MIN_BOX_PX else 1.0
    rec_min, rec_max = _scaled(min_size, factor), _scaled(max_size, factor)
    rec_wh, rec_mp = _input_wh(boxes, sizes, rec_min, rec_max)
    per_page = np.bincount(boxes.img, minlength=len(coco["images"]))
    shares = _ratio_shares(in_wh[ok, 1] / in_wh[ok, 0], recipe.aspect_ratios)
    ratios, notes = aspect_ratios(recipe.aspect_ratios, shares)
    p95 = float(np.quantile(per_page, 0.95))
    recommended = _recommend(
        recipe,
        (min_size, max_size),
        (rec_min, rec_max),
        ratios,
        np.sqrt(rec_wh[ok].prod(axis=1)),
        p95,
        int(per_page.max()),
    )
    outliers, count = _outliers(coco, boxes, ok, rec_wh)
    return Analysis(
        recipe=recipe.name,
        min_size=min_size,
        max_size=max_size,
        images=len(coco["images"]),
        annotations=len(boxes.wh),
        classes=classes,
        regions_per_page_max=int(per_page.max()),
        regions_per_page_p95=round(p95, 4),
        regions_per_page_p99=round(float(np.quantile(per_page, 0.99)), 4),
        short_side_p=round(short_p, 4),
        short_side_p_input=round(short_p_in, 4),
        outlier_count=count,
        outliers=outliers,
        ratio_shares={f"{r:g}": round(s, 4) for r, s in shares.items()},
        cost=_cost(float(mp.mean()), float(rec_mp.mean()), recipe.ims_per_batch),
        recommended=recommended,
        notes=notes,
    )


def _class_stats(name: str, wh: np.ndarray) -> ClassStats:
    """Quantiles of one class's boxes at input (``wh`` [N,2], all positive)."""
    return ClassStats(
        name,
        len(wh),
        _quantiles(wh[:, 1] / wh[:, 0]),
        _quantiles(np.sqrt(wh.prod(axis=1))),
        _quantiles(wh.min(axis=1)),
    )


def _outliers(
    coco: dict[str, Any], boxes: _Boxes, ok: np.ndarray, rec_wh: np.ndarray
) -> tuple[list[dict[str, Any]], int]:
    """Boxes under MIN_BOX_PX at the recommended input: the smallest few, and how many."""
    short_in = rec_wh.min(axis=1)
    small = np.flatnonzero(ok & (short_in < MIN_BOX_PX))
    small = small[np.argsort(short_in[small], kind="stable")]
    listed = [
        {
            "annotation_id": boxes.ids[i],
            "file_name": coco["images"][int(boxes.img[i])].get("file_name"),
            "class": boxes.names[int(boxes.cls[i])],
            "short_side": round(float(boxes.wh[i].min()), 4),
            "short_side_input": round(float(short_in[i]), 4),
        }
        for i in small[:OUTLIERS_LISTED]
    ]
    return listed, len(small)


def _round32(value: float) -> int:
    """``value`` rounded up to a multiple of 32 (a tiny tolerance absorbs float noise)."""
    return int(math.ceil(value / 32 - 1e-9) * 32)


def _scaled(size: int, factor: float) -> int:
    """``size`` unchanged when ``factor`` is 1, else ``size * factor`` rounded up to 32s."""
    return size if factor == 1.0 else _round32(size * factor)


def _ratio_shares(aspect: np.ndarray, ratios: Sequence[float]) -> dict[float, float]:
    """Share of boxes whose nearest ratio (log space) is each of ``ratios`` + the ladder."""
    candidates = sorted({*ratios, *RATIO_LADDER})
    dist = np.abs(np.log(aspect[:, None]) - np.log(np.array(candidates))[None, :])
    counts = np.bincount(dist.argmin(axis=1), minlength=len(candidates))
    return {r: float(c) / len(aspect) for r, c in zip(candidates, counts, strict=True)}


def aspect_ratios(
    ratios: Sequence[float], shares: dict[float, float]
) -> tuple[list[float], list[str]]:
    """The recipe's ``ratios`` with needed ladder steps put in place of spare ones, and notes.

    Needed: not in ``ratios`` and nearest to at least :data:`NEED_SHARE` of the boxes (most
    needed first). Spare: in ``ratios`` and nearest to under :data:`SPARE_SHARE`; of those,
    the one nearest to the needed ratio gives its place. The number and the positions of the
    other ratios are kept, so a checkpoint trained with ``ratios`` still loads (its RPN rows
    of the kept ratios keep their meaning).
    """
    out = list(ratios)
    needed = sorted(
        (r for r in RATIO_LADDER if r not in ratios and shares.get(r, 0.0) >= NEED_SHARE),
        key=lambda r: -shares[r],
    )
    spare = [r for r in ratios if shares.get(r, 0.0) < SPARE_SHARE]
    notes = []
    for want in needed:
        pct = f"{100 * shares[want]:.1f}%"
        if spare:  # of the spare ratios, the nearest: its RPN rows fit the new shape best
            gone = min(spare, key=lambda r: abs(math.log(r / want)))
            spare.remove(gone)
            out[out.index(gone)] = want
            notes.append(
                f"aspect ratio {want:g}: {pct} of boxes are nearest to it; it takes the place of "
                f"{gone:g} ({100 * shares.get(gone, 0.0):.2f}% of boxes), so the weights still load"
            )
        else:
            notes.append(
                f"aspect ratio {want:g}: {pct} of boxes are nearest to it, but every ratio of the "
                "config is in use; adding it as one more ratio changes the RPN head's shape "
                "(it then starts from fresh weights: train longer)"
            )
    return out, notes


def anchor_sizes(box_sizes: np.ndarray) -> list[list[int]]:
    """Five doubling sizes from the power of two at or below the p1 box size (8..64)."""
    p1 = float(np.quantile(box_sizes, 0.01))
    base = int(min(64, max(8, 2 ** math.floor(math.log2(max(p1, 1.0))))))
    return [[base * 2**i] for i in range(5)]


def roi_batch_size(regions_p95: float) -> int:
    """The power of two at or above ``2 * regions_p95``, within 128..512."""
    need = max(1.0, 2 * regions_p95)
    return int(min(512, max(128, 2 ** math.ceil(math.log2(need)))))


def estimate_s_per_iter(mp_per_page: float, ims_per_batch: int = 2) -> float:
    """Seconds per iteration on the reference 2-core CPU for pages of ``mp_per_page`` input
    megapixels (see the cost constants of this module)."""
    rel = (COST_FIXED_S + COST_S_PER_MP * mp_per_page) / (COST_FIXED_S + COST_S_PER_MP * REF_MP)
    return REF_S_PER_ITER * max(rel, MIN_COST_RATIO) * ims_per_batch / 2


def _cost(mp_given: float, mp_rec: float, ims_per_batch: int) -> dict[str, float]:
    return {
        "mp_per_page": round(mp_given, 4),
        "mp_per_page_recommended": round(mp_rec, 4),
        "s_per_iter": round(estimate_s_per_iter(mp_given, ims_per_batch), 2),
        "s_per_iter_recommended": round(estimate_s_per_iter(mp_rec, ims_per_batch), 2),
    }


def _recommend(
    recipe: Recipe,
    given: tuple[int, int],
    rec: tuple[int, int],
    ratios: list[float],
    areas: np.ndarray,
    regions_p95: float,
    busiest: int,
) -> dict[str, Any]:
    """Nested detectron2 config keys (see the module docstring for the rules)."""
    post = max(1000, math.ceil(10 * busiest / 100) * 100)
    grow = rec[0] / given[0]
    # The recipe's training scales follow the input: scaled by how much the input grows,
    # relative to the recipe's own test size when the given size is the recipe's.
    base = given[0] / recipe.min_size_test
    train = [_scaled(s, base * grow) for s in recipe.min_size_train]
    return {
        "INPUT": {
            "MIN_SIZE_TRAIN": train,
            "MAX_SIZE_TRAIN": max(rec[1], _scaled(recipe.max_size_train, base * grow)),
            "MIN_SIZE_TEST": rec[0],
            "MAX_SIZE_TEST": rec[1],
        },
        "MODEL": {
            "ANCHOR_GENERATOR": {"SIZES": anchor_sizes(areas), "ASPECT_RATIOS": [ratios]},
            "RPN": {
                "PRE_NMS_TOPK_TRAIN": max(2000, post),
                "PRE_NMS_TOPK_TEST": max(1000, post),
                "POST_NMS_TOPK_TRAIN": post,
                "POST_NMS_TOPK_TEST": post,
            },
            "ROI_HEADS": {"BATCH_SIZE_PER_IMAGE": roi_batch_size(regions_p95)},
        },
        "TEST": {"DETECTIONS_PER_IMAGE": max(100, math.ceil(2 * busiest / 50) * 50)},
    }
