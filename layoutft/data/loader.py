"""COCO pages -> training batches in the model's input contract.

A batch is a ``list[dict]``; each dict holds ``"image"`` (``torch.uint8 [3, H, W]``, channel
order ``INPUT.FORMAT``, already resized and augmented), ``"boxes"`` (``float32 [N, 4]``
XYXY in that image's pixels), ``"classes"`` (``int64 [N]``, index into the label list), and
for Mask R-CNN either ``"polygons"`` (per instance a list of flat ``float32`` arrays in image
pixels) or ``"masks"`` (``uint8 [N, H, W]``, pages with RLE annotations); plus
``"image_id"`` and the original ``"height"``/``"width"``. A page that labels only some
classes (``labelled_category_ids``, see :mod:`layoutft.data.coco`) also has ``"labelled"``
(``bool [K]``, True for the class indices labelled exhaustively on it); the losses then
ignore what that page cannot say about the other classes.

Data order is a pure function of ``(seed, iteration)``: every rank computes the same global
batches (shuffled per epoch, grouped by page orientation) and takes its slice, and every
sample is augmented with its own seed. So workers, resume and DDP never change what is seen.

The loader reads :class:`~layoutft.data.settings.DataSettings`, built once at setup, never
the config tree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image, ImageOps

from layoutft.data.augment import AugmentSettings, Sample, augment
from layoutft.data.coco import default_images_dir
from layoutft.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    from layoutft.data.settings import DataSettings

#: Validation issues that training tolerates (the region's box stands in for its shape).
BOX_ONLY_OK = frozenset({"empty_segmentation"})

#: Instances whose augmented box is thinner than this (pixels) are dropped, as detectron2 does.
MIN_BOX_SIDE = 1e-5


@dataclass
class PageRecord:
    """One annotated page; boxes XYXY in the page image's pixels (origin top-left)."""

    image_id: int
    path: Path
    width: int
    height: int
    boxes: np.ndarray  # float32 [N, 4]
    classes: np.ndarray  # int64 [N]
    segmentations: list[Any]  # per instance: list of flat polygons, an RLE dict, or None
    source: str = ""  # the input dataset it came from (merge's image "source" field)
    labelled: np.ndarray | None = None  # bool [K]: classes labelled on it; None: all of them


def load_pages(
    coco_path: str | Path, images_dir: str | Path | None = None, *, validate: bool = True
) -> tuple[list[PageRecord], list[str]]:
    """Read and validate a COCO file; return its pages and label names in model order.

    Labels are the category names sorted by category id; class index i is ``labels[i]``.
    ``images_dir`` defaults to :func:`default_images_dir`. Crowd annotations are skipped.

    Raises:
        DatasetError: the file is malformed or validation found errors (all listed).
    """
    from layoutft.data.coco import load_coco
    from layoutft.data.validate import validate_coco

    coco_path = Path(coco_path)
    coco = load_coco(coco_path)
    root = Path(images_dir) if images_dir is not None else default_images_dir(coco_path, coco)
    if validate:
        report = validate_coco(coco, root)
        # box-only regions (no polygon) are fine for training: their rectangle is the mask
        fatal = [i for i in report.errors if i.kind not in BOX_ONLY_OK]
        if fatal:
            raise DatasetError(
                f"{coco_path} has errors (fix them or re-export):\n{report.format()}"
            )
    return pages_from_coco(coco, root)


def pages_from_coco(coco: dict[str, Any], images_dir: Path) -> tuple[list[PageRecord], list[str]]:
    """Pages and labels from a validated COCO dict (see :func:`load_pages`)."""
    from layoutft.data.coco import labelled_category_ids

    cats = sorted(coco["categories"], key=lambda c: c["id"])
    labels = [str(c["name"]) for c in cats]
    index = {c["id"]: i for i, c in enumerate(cats)}
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in coco["annotations"]:
        if not ann.get("iscrowd", 0):
            by_image.setdefault(ann["image_id"], []).append(ann)
    pages = []
    for img in coco["images"]:
        anns = by_image.get(img["id"], [])
        labelled = labelled_category_ids(img, [a["category_id"] for a in anns])
        boxes = np.array(
            [
                [
                    a["bbox"][0],
                    a["bbox"][1],
                    a["bbox"][0] + a["bbox"][2],
                    a["bbox"][1] + a["bbox"][3],
                ]
                for a in anns
            ],
            dtype=np.float32,
        ).reshape(-1, 4)
        pages.append(
            PageRecord(
                image_id=int(img["id"]),
                path=images_dir / img["file_name"],
                width=int(img["width"]),
                height=int(img["height"]),
                boxes=boxes,
                classes=np.array([index[a["category_id"]] for a in anns], dtype=np.int64),
                segmentations=[_usable(a.get("segmentation")) for a in anns],
                source=str(img.get("source", "")),
                labelled=_labelled_mask(labelled, index),
            )
        )
    return pages, labels


def _labelled_mask(ids: list[Any] | None, index: dict[Any, int]) -> np.ndarray | None:
    """bool [K] over class indices from labelled category ids; None when every class is
    labelled (so fully labelled pages take exactly the code path they always took)."""
    if ids is None:
        return None
    mask = np.zeros(len(index), dtype=bool)
    mask[[index[c] for c in ids if c in index]] = True
    return None if mask.all() else mask


def _usable(seg: Any) -> Any:
    """RLE dicts as they are; polygons of >= 3 points; None (use the box) otherwise."""
    if isinstance(seg, dict):
        return seg
    polys = [p for p in seg or [] if len(p) >= 6 and len(p) % 2 == 0]
    return polys or None


def read_rgb(path: Path) -> np.ndarray:
    """Page image as ``uint8 [H, W, 3]`` RGB, EXIF orientation applied."""
    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except OSError as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None


def _sample_of(page: PageRecord, image: np.ndarray) -> Sample:
    """Geometry in image pixels: polygons unless some instance is an RLE mask."""
    h, w = image.shape[:2]
    sx, sy = w / page.width, h / page.height  # the image file may differ from the record
    boxes = page.boxes * np.array([sx, sy, sx, sy], dtype=np.float32)
    segs = page.segmentations
    if any(isinstance(s, dict) for s in segs):
        return Sample(image, boxes, None, _masks(segs, boxes, page, h, w))
    polygons = []
    for seg, box in zip(segs, boxes, strict=True):
        if seg:  # flat [x0, y0, ...] lists in record pixels
            polygons.append([_scaled(p, sx, sy) for p in seg])
        else:  # box-only annotation: its rectangle is its shape
            x0, y0, x1, y1 = (float(v) for v in box)
            polygons.append([np.array([x0, y0, x1, y0, x1, y1, x0, y1], np.float32)])
    return Sample(image, boxes, polygons, None)


def _scaled(poly: Sequence[float], sx: float, sy: float) -> np.ndarray:
    out = np.asarray(poly, dtype=np.float32).copy()
    out[0::2] *= sx
    out[1::2] *= sy
    return out


def _masks(segs: list[Any], boxes: np.ndarray, page: PageRecord, h: int, w: int) -> np.ndarray:
    """uint8 [N, h, w] masks from polygons / RLE / boxes (record size, resized to the image)."""
    from pycocotools import mask as mask_util

    out = np.zeros((len(segs), page.height, page.width), np.uint8)
    for i, seg in enumerate(segs):
        if isinstance(seg, dict):
            rle = seg
            if isinstance(rle.get("counts"), list):
                rle = mask_util.frPyObjects(rle, *rle["size"])
            out[i] = mask_util.decode(rle)[: page.height, : page.width]
        elif seg:
            rles = mask_util.frPyObjects(
                [list(map(float, p)) for p in seg], page.height, page.width
            )
            out[i] = mask_util.decode(mask_util.merge(rles))
        else:
            x0, y0, x1, y1 = page.boxes[i]
            out[i, int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] = 1
    if (h, w) != (page.height, page.width):
        out = np.stack(
            [np.asarray(Image.fromarray(m).resize((w, h), Image.Resampling.NEAREST)) for m in out]
        )
    return out.reshape(len(segs), h, w)


class PageDataset(torch.utils.data.Dataset[dict[str, Any]]):
    """Map-style dataset keyed by ``(page index, sample seed)``; returns one model input dict."""

    def __init__(
        self, pages: list[PageRecord], settings: AugmentSettings, *, fmt: str, mask_on: bool
    ) -> None:
        self.pages, self.settings, self.fmt, self.mask_on = pages, settings, fmt, mask_on

    def __len__(self) -> int:
        return len(self.pages)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, seed = key
        page = self.pages[index]
        sample = _sample_of(page, read_rgb(page.path))
        sample = augment(sample, self.settings, np.random.default_rng(seed))
        return to_model_input(sample, page, self.fmt, self.mask_on)


def to_model_input(sample: Sample, page: PageRecord, fmt: str, mask_on: bool) -> dict[str, Any]:
    """Tensors per the model contract; instances with (near-)empty boxes are dropped."""
    boxes = sample.boxes
    keep = ((boxes[:, 2] - boxes[:, 0]) > MIN_BOX_SIDE) & (
        (boxes[:, 3] - boxes[:, 1]) > MIN_BOX_SIDE
    )
    image = sample.image if fmt == "RGB" else sample.image[:, :, ::-1]
    out: dict[str, Any] = {
        "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
        "boxes": torch.from_numpy(np.ascontiguousarray(boxes[keep], dtype=np.float32)),
        "classes": torch.from_numpy(page.classes[keep]),
        "image_id": page.image_id,
        "height": page.height,
        "width": page.width,
    }
    if page.labelled is not None:
        out["labelled"] = torch.from_numpy(page.labelled.copy())
    if mask_on and sample.masks is not None:
        out["masks"] = torch.from_numpy(np.ascontiguousarray(sample.masks[keep]))
    elif mask_on and sample.polygons is not None:
        out["polygons"] = [p for p, k in zip(sample.polygons, keep, strict=True) if k]
    return out


def sample_seed(seed: int, batch: int, position: int) -> int:
    """Seed of the augmentation of one sample of one global batch (independent streams)."""
    return int(np.random.SeedSequence([seed, batch, position]).generate_state(1)[0])


class TrainBatchSampler(torch.utils.data.Sampler[list[tuple[int, int]]]):
    """Infinite, resumable, sharded batch sampler with orientation grouping.

    Global batches of ``global_batch`` pages are drawn from a page stream; with grouping,
    portrait and landscape pages fill separate buckets and a batch is yielded when its
    bucket is full. Rank r gets the r-th slice of each global batch as ``(page index,
    sample seed)`` keys. Iteration starts at batch ``start_iter`` (resume), replaying the
    order without loading any image.

    The page stream is a fresh permutation of all pages per epoch (``seed``, epoch), or,
    with ``sources`` (the source index of every page) and ``weights`` (one per source,
    >= 0), source-balanced: each draw picks source s with probability ``weights[s] /
    sum(weights)``, then the next page of that source's own shuffled cycle (so a small
    source repeats its pages, a large one is subsampled, each without replacement within
    its cycle).
    """

    def __init__(
        self,
        landscape: Sequence[bool],
        global_batch: int,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        group: bool = True,
        shuffle: bool = True,
        start_iter: int = 0,
        sources: Sequence[int] | None = None,
        weights: Sequence[float] | None = None,
    ) -> None:
        if global_batch % world_size:
            raise DatasetError(
                f"SOLVER.IMS_PER_BATCH {global_batch} must be divisible by the number of "
                f"processes {world_size}"
            )
        if not landscape:
            raise DatasetError("the training set has no images")
        self.groups = (
            np.asarray(landscape, dtype=np.int64) if group else np.zeros(len(landscape), np.int64)
        )
        self.global_batch, self.seed, self.shuffle = global_batch, seed, shuffle
        self.per_rank, self.rank = global_batch // world_size, rank
        self.start_iter = start_iter
        self.source_pages: list[np.ndarray] | None = None
        self.source_p: np.ndarray | None = None
        if sources is not None:
            self._set_sources(sources, weights, len(landscape))

    def _set_sources(self, sources: Sequence[int], weights: Sequence[float] | None, n: int) -> None:
        index = np.asarray(sources, dtype=np.int64)
        count = int(index.max()) + 1 if len(index) else 0
        if len(index) != n or (len(index) and int(index.min()) < 0):
            raise DatasetError("sampler: give one source index >= 0 per page")
        w = np.ones(count) if weights is None else np.asarray(weights, dtype=np.float64)
        if len(w) != count or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise DatasetError(
                f"sampler: need {count} finite source weights >= 0, not all 0 (got {list(w)})"
            )
        self.source_pages = [np.flatnonzero(index == s) for s in range(count)]
        if any(len(p) == 0 and w[s] > 0 for s, p in enumerate(self.source_pages)):
            raise DatasetError("sampler: a source with a weight > 0 has no pages")
        self.source_p = w / w.sum()

    def page_stream(self) -> Iterator[int]:
        """Endless page indices in draw order (identical on every rank)."""
        if self.source_pages is None:
            n, epoch = len(self.groups), 0
            while True:
                order = (
                    np.random.default_rng([self.seed, epoch]).permutation(n)
                    if self.shuffle
                    else np.arange(n)
                )
                yield from order.tolist()
                epoch += 1
        assert self.source_p is not None
        cycles = [self._cycle(s, pages) for s, pages in enumerate(self.source_pages)]
        # its own stream (3 entropy words, unlike the 2 of the epoch permutations)
        chooser = np.random.default_rng([self.seed, 0, 1])
        while True:  # chunks of choices: the order does not depend on how far one reads
            for s in chooser.choice(len(cycles), size=_CHOICE_CHUNK, p=self.source_p).tolist():
                yield next(cycles[s])

    def _cycle(self, source: int, pages: np.ndarray) -> Iterator[int]:
        """Pages of one source, reshuffled every time all were drawn (4 entropy words)."""
        epoch = 0
        while True:
            order = (
                np.random.default_rng([self.seed, 1, source, epoch]).permutation(len(pages))
                if self.shuffle
                else np.arange(len(pages))
            )
            yield from pages[order].tolist()
            epoch += 1

    def global_batches(self) -> Iterator[list[int]]:
        """Endless global batches of page indices (identical on every rank)."""
        buckets: dict[int, list[int]] = {0: [], 1: []}
        for idx in self.page_stream():
            bucket = buckets[int(self.groups[idx])]
            bucket.append(idx)
            if len(bucket) == self.global_batch:
                yield bucket.copy()
                bucket.clear()

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        lo = self.rank * self.per_rank
        for k, batch in enumerate(self.global_batches()):
            if k < self.start_iter:
                continue
            yield [
                (i, sample_seed(self.seed, k, lo + j))
                for j, i in enumerate(batch[lo : lo + self.per_rank])
            ]


#: Source choices drawn at a time by the source-balanced stream (fixed: part of the order).
_CHOICE_CHUNK = 4096


def source_weights(
    pages: Sequence[PageRecord], listed: Sequence[tuple[str, float]]
) -> tuple[list[int], list[float]]:
    """Source index of every page and one weight per source (sorted names), from
    ``listed`` (:attr:`DataSettings.source_weights`, ``LAYOUTFT.DATALOADER.SOURCE_WEIGHTS``;
    unlisted sources weigh 1.0, so the default is equal weight per source). Pages without a
    source field form the source ``""``.

    Raises:
        ConfigError: a listed name no page has, or every source weighs 0.
    """
    names = sorted({p.source for p in pages})
    weight = dict(listed)  # a name listed twice: the last entry counts
    unknown = sorted(set(weight) - set(names))
    if unknown:
        raise ConfigError(
            f"LAYOUTFT.DATALOADER.SOURCE_WEIGHTS names {unknown}, which no training page has "
            f"(its sources: {names}; `layoutft merge FILE.json@NAME` names them)"
        )
    weights = [weight.get(name, 1.0) for name in names]
    if names and not any(weights):
        raise ConfigError(
            f"LAYOUTFT.DATALOADER.SOURCE_WEIGHTS gives every training source ({names}) "
            "weight 0; give one a weight > 0"
        )
    index = {name: i for i, name in enumerate(names)}
    return [index[p.source] for p in pages], weights


def train_pages(pages: list[PageRecord], settings: DataSettings) -> list[PageRecord]:
    """The pages the loader draws from: without empty pages when ``filter_empty``, and
    with their partial-label masks dropped when ``partial_labels`` is off."""
    if settings.filter_empty:
        pages = [p for p in pages if len(p.boxes)]
    if not settings.partial_labels:  # train as if every page labelled every class
        pages = [dataclasses.replace(p, labelled=None) for p in pages]
    return pages


def train_sampler(
    pages: Sequence[PageRecord],
    settings: DataSettings,
    *,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    start_iter: int = 0,
) -> TrainBatchSampler:
    """The batch sampler over ``pages`` (already :func:`train_pages`); loads no image, so
    setup builds one to refuse a bad batch size or source weights before the model loads.

    Raises:
        ConfigError: ``SOURCE_WEIGHTS`` names a source no page has, or weighs all 0.
        DatasetError: no pages, or a batch that does not split over the processes.
    """
    sources, weights = None, None
    if settings.sampler == "SourceBalancedSampler":
        sources, weights = source_weights(pages, settings.source_weights)
    return TrainBatchSampler(
        [p.width > p.height for p in pages],
        settings.ims_per_batch,
        seed=seed,
        rank=rank,
        world_size=world_size,
        group=settings.aspect_ratio_grouping,
        start_iter=start_iter,
        sources=sources,
        weights=weights,
    )


def _collate(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return batch


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # workers decode and resize; the model owns the cores


def build_train_loader(
    pages: list[PageRecord],
    settings: DataSettings,
    *,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    start_iter: int = 0,
) -> Iterator[list[dict[str, Any]]]:
    """Endless iterator of this rank's training batches (``list[dict]``, see module doc)."""
    pages = train_pages(pages, settings)
    dataset = PageDataset(
        pages, settings.augment, fmt=settings.image_format, mask_on=settings.mask_on
    )
    sampler = train_sampler(
        pages, settings, seed=seed, rank=rank, world_size=world_size, start_iter=start_iter
    )
    workers = settings.num_workers
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=_collate,
        num_workers=workers,
        worker_init_fn=_worker_init if workers else None,
        # a private generator: creating the iterator must not draw from the global RNG,
        # or a resumed run would diverge from an uninterrupted one
        generator=torch.Generator().manual_seed(seed),
    )
    return iter(loader)
