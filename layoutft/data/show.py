"""Drawing a sample of a COCO dataset's annotations, for a person to check before training.

Boxes (COCO XYWH) and polygons are in pixels of the image files, top-left origin. A page
that labels only some classes (``labelled_category_ids``, see :mod:`layoutft.data.coco`)
gets a caption band above it naming the classes labelled on it and those that are not.
"""

from __future__ import annotations

import colorsys
import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.errors import DatasetError
from layoutft.outputs import check_writable, write_bytes_atomic


@dataclass
class ShowReport:
    """What :func:`show_coco` did: files written and sampled images that were not found."""

    written: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def sample_images(coco: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` image records (all if fewer) chosen with ``seed``, in their file order."""
    images = coco["images"]
    picks = sorted(random.Random(seed).sample(range(len(images)), min(n, len(images))))
    return [images[i] for i in picks]


def _check_records(coco: dict[str, Any], sample: list[dict[str, Any]]) -> None:
    """Raise one :class:`DatasetError` listing every sampled record that cannot be drawn.

    Image records need ``id`` and ``file_name``; their annotations a ``bbox`` of 4 finite
    numbers and a ``segmentation`` that is absent, an RLE dict or polygons of >= 3 points.
    """
    from layoutft.data.coco import Problems
    from layoutft.data.validate import bbox_of, polygons_of

    problems = Problems()
    for im in sample:
        if "id" not in im or not isinstance(im.get("file_name"), str):
            problems.add(f"image {im.get('id')!r}", "needs an 'id' and a 'file_name'")
    ids = {im.get("id") for im in sample}
    for ann in coco["annotations"]:
        if ann.get("image_id") not in ids:
            continue
        where = f"annotation id={ann.get('id')!r} (image {ann.get('image_id')!r})"
        bbox = bbox_of(ann)
        if bbox is None or not all(np.isfinite(bbox)):
            problems.add(where, f"'bbox' must be 4 finite numbers, got {ann.get('bbox')!r}")
        polys = polygons_of(ann) if not isinstance(ann.get("segmentation"), dict) else []
        if polys is None or any(
            len(p) < 6 or len(p) % 2 or not np.isfinite(p).all() for p in polys
        ):
            problems.add(where, "'segmentation' must be polygons [x0, y0, ...] of >= 3 points")
    problems.raise_if_any("in the sampled records", "Run `layoutft validate` (and --fix).")


def _regions(
    coco: dict[str, Any], image_id: Any
) -> tuple[np.ndarray, list[str], list[list[np.ndarray]]]:
    """Boxes [N,4] XYXY px, class names and polygon lists of one image (RLE masks: none)."""
    names = {c["id"]: str(c["name"]) for c in coco["categories"]}
    boxes, labels, polys = [], [], []
    for ann in coco["annotations"]:
        if ann.get("image_id") != image_id:
            continue
        x, y, w, h = (float(v) for v in ann["bbox"])
        boxes.append([x, y, x + w, y + h])
        labels.append(names.get(ann.get("category_id"), str(ann.get("category_id"))))
        seg = ann.get("segmentation")
        polys.append(
            [np.asarray(p, dtype=np.float64) for p in seg] if isinstance(seg, list) else []
        )
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), labels, polys


def category_colors(names: list[str]) -> dict[str, tuple[int, int, int]]:
    """RGB colour per class name, distinct within the dataset.

    Each name keeps :func:`~layoutft.draw.color_for_label`'s colour (the colour parse
    drawings use) unless an earlier name took it; then it gets the first unused hue of a
    golden-angle sequence, so two classes never share a colour on one sheet.
    """
    from layoutft.draw import color_for_label

    colors: dict[str, tuple[int, int, int]] = {}
    used: set[tuple[int, int, int]] = set()
    step = 0
    for name in names:
        color = color_for_label(name)
        while color in used:
            step += 1
            r, g, b = colorsys.hsv_to_rgb((step * 0.618034) % 1.0, 0.8, 0.8)
            color = (round(r * 255), round(g * 255), round(b * 255))
        colors[name] = color
        used.add(color)
    return colors


def labelled_caption(coco: dict[str, Any], image: dict[str, Any]) -> str | None:
    """``"labelled: table | not labelled: text, title"`` for a page that labels only some
    classes; None for a page that labels all of them."""
    from layoutft.data.coco import labelled_category_ids

    on_image = [
        a.get("category_id") for a in coco["annotations"] if a.get("image_id") == image["id"]
    ]
    ids = labelled_category_ids(image, on_image)
    if not isinstance(ids, list):
        return None
    names = [(c.get("id"), str(c.get("name"))) for c in coco["categories"]]
    chosen = {i for i in ids if isinstance(i, int)}
    yes = [n for cid, n in names if cid in chosen]
    no = [n for cid, n in names if cid not in chosen]
    if not no:
        return None
    return f"labelled: {', '.join(yes) or '(none)'} | not labelled: {', '.join(no)}"


def with_caption(image: np.ndarray, text: str) -> np.ndarray:
    """uint8 [H + band, W, 3] RGB: a white band with ``text`` in black above ``image``
    (in the font size of the region tags; a caption wider than the image is cut at its
    right edge)."""
    from PIL import Image, ImageDraw

    from layoutft.draw import label_font_size, text_tag

    height, width = image.shape[:2]
    tag = text_tag(text, label_font_size(width, height))
    band = Image.new("RGB", (width, tag.height + 6), (255, 255, 255))
    ImageDraw.Draw(band).text(
        (4 - tag.left, 4 + tag.ascent), text, fill=(0, 0, 0), font=tag.font, anchor="ls"
    )
    return np.concatenate([np.asarray(band), image], axis=0)


def _out_name(file_name: str) -> str:
    """Flat PNG name of an image path (sub-folders joined with ``__``)."""
    return str(Path(file_name).with_suffix(".png")).replace("/", "__").replace("\\", "__")


def show_coco(
    coco: dict[str, Any], images_dir: str | Path, out_dir: str | Path, n: int = 12, seed: int = 0
) -> ShowReport:
    """Draw the annotations of ``n`` sampled images into ``out_dir`` (one PNG per image).

    Images missing from ``images_dir`` (or unreadable) are listed in the report and
    skipped; the others are still drawn. Raises :class:`DatasetError`, before writing
    anything, when a sampled record cannot be drawn (all such records listed) or when none
    of the sampled images exists.
    """
    from PIL import Image

    from layoutft.draw import draw_regions
    from layoutft.errors import RenderError
    from layoutft.render.image import read_bgr

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DatasetError(f"-n {n}: the number of images to draw must be 1 or more")
    out = Path(out_dir)
    check_writable([out])
    report = ShowReport()
    colors = category_colors([str(c.get("name")) for c in coco["categories"]])
    sample = sample_images(coco, n, seed)
    _check_records(coco, sample)
    for im in sample:
        path = Path(images_dir) / str(im["file_name"])
        try:
            rgb = read_bgr(path)[:, :, ::-1]  # missing or unreadable: reported, not fatal
        except RenderError:
            report.missing.append(str(im["file_name"]))
            continue
        boxes, labels, polys = _regions(coco, im["id"])
        drawn = draw_regions(rgb, boxes, labels, polygons=polys, label_colors=colors)
        caption = labelled_caption(coco, im)
        if caption is not None:
            drawn = with_caption(drawn, caption)
        out.mkdir(parents=True, exist_ok=True)  # only once something is drawn
        target = out / _out_name(str(im["file_name"]))
        png = io.BytesIO()
        Image.fromarray(drawn).save(png, format="PNG")
        write_bytes_atomic(target, png.getvalue())
        report.written.append(target)
    if report.missing and not report.written:
        raise DatasetError(
            f"show: none of the {len(report.missing)} sampled images is in {images_dir} "
            f"(e.g. {report.missing[0]}); pass the folder the COCO file_names are relative to "
            "with --images"
        )
    return report
