"""Parse results as pre-annotations for annotation tools: Label Studio tasks with
``predictions``, CVAT for images 1.1 XML, and a COCO dataset (images + annotations +
categories). Each writes the page images beside its file, in ``images/``, named
``<output stem>-p<N>.png``, so the tool (and ``layoutft convert``) can show and find them.

One region is one shape (both shapes for one object would be two regions to correct in the
tool and two annotations after ``convert``), chosen by ``shape`` (:data:`SHAPES`):

- ``rect`` (the default): every region is its box ``bbox_px``: one drag to correct, and
  converted back unchanged it gives the same box (a mask outline of a one-line title comes
  back a pixel or more off its box);
- ``polygon``: every region is a polygon: its mask outline, else its box's four corners;
- ``auto``: a polygon where the model gave the region an outline that is not its box (a
  mask outline of one ring), else a rectangle.

The COCO dataset keeps both (``bbox``, and a ``segmentation`` of that shape). Pages that
failed are left out. Coordinates are pixels of the page image written (Label Studio: percent
of ``original_width``/``original_height``).

Label Studio serves local images through a *Local files* storage: start it with
``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` set to the folder holding the tasks file, add a
*Local files* source storage for that folder's ``images`` (without syncing it: the tasks
file is the import), then import the tasks; ``data.image`` is
``/data/local-files/?d=images/<name>.png``, relative to that document root.
:func:`labeling_config` is the matching labelling interface, written beside the tasks as
``labeling-config.xml``. numpy, Pillow; no torch.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from layoutft.errors import OptionError
from layoutft.formats.common import outline_px
from layoutft.outputs import atomic_path
from layoutft.parsing.output_formats import PREANNOTATION_FORMATS, output_format
from layoutft.schema import Document, Page, Region

#: the region shapes pre-annotations can take (see the module docstring)
SHAPES = ("rect", "polygon", "auto")
IMAGES = "images"
CONFIG_NAME = "labeling-config.xml"


def labeling_config(labels: Sequence[str]) -> str:
    """The Label Studio labelling interface for tasks of ``--format labelstudio``: the page
    image (``$image``), ``RectangleLabels`` named ``label`` and ``PolygonLabels`` named
    ``polygon``, both with ``labels`` (the model's classes, in model order)."""
    view = ET.Element("View")
    ET.SubElement(view, "Image", name="image", value="$image", zoom="true")
    for tag, name in (("RectangleLabels", "label"), ("PolygonLabels", "polygon")):
        control = ET.SubElement(view, tag, name=name, toName="image")
        for label in labels:
            ET.SubElement(control, "Label", value=label)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


@dataclass
class _Written:
    page: Page
    name: str  # file name in images/
    width: int
    height: int


class PreannotationSink:
    """Receives a document's pages from the parser: writes each page image (``ok`` pages) to
    ``images/`` beside ``dest`` as it comes, then ``dest`` (and for Label Studio the
    labelling config) once the document is complete; ``abort`` removes the images."""

    def __init__(self, dest: Path, fmt: str, shape: str = "rect") -> None:
        if fmt not in PREANNOTATION_FORMATS:
            raise ValueError(f"not a pre-annotation format: {fmt!r}")
        self.dest = Path(dest)
        self.fmt = fmt
        self.shape = check_shape(shape)
        name = self.dest.name
        suffix = output_format(fmt).suffix
        self.stem = name[: -len(suffix)] if name.endswith(suffix) else self.dest.stem
        self.images = self.dest.parent / IMAGES
        self.written: list[_Written] = []

    def begin(self, document: Document) -> None:
        """Nothing is written before the first page."""

    def add(self, document: Document, page: Page, image: np.ndarray) -> None:
        from PIL import Image

        if page.status != "ok":
            return
        name = f"{self.stem}-p{page.number}.png"
        with atomic_path(self.images / name) as tmp:
            Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
        height, width = image.shape[:2]
        self.written.append(_Written(page, name, int(width), int(height)))

    def end(self, document: Document) -> None:
        labels = [str(v) for v in document.model.get("labels", [])]
        for page in self.written:  # a label the model does not list (should not happen)
            labels += [r.label for r in page.page.regions if r.label not in labels]
        if self.fmt == "labelstudio":
            tasks = labelstudio_tasks(document, self.written, self.shape)
            text = json.dumps(tasks, indent=2)
            with atomic_path(self.dest.parent / CONFIG_NAME) as tmp:
                tmp.write_text(labeling_config(labels), encoding="utf-8")
        elif self.fmt == "cvat":
            text = cvat_xml(self.written, labels, self.shape)
        else:
            text = json.dumps(coco_dataset(document, self.written, labels, self.shape), indent=2)
        with atomic_path(self.dest) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")

    def abort(self) -> None:
        for page in self.written:
            (self.images / page.name).unlink(missing_ok=True)
        self.written = []


def check_shape(shape: str) -> str:
    """``shape`` if it is one of :data:`SHAPES`, else OptionError naming them."""
    if shape not in SHAPES:
        raise OptionError(
            "{shape} must be one of {choices}, got {value!r}",
            value=shape,
            choices=", ".join(SHAPES),
        )
    return shape


def region_polygon(region: Region, page: Page, shape: str = "rect") -> list[list[float]] | None:
    """The polygon ``[[x, y], ...]`` (page pixels) a pre-annotation gives ``region`` with
    ``shape``, or None when it is a rectangle (its ``bbox_px``): ``rect`` -> None;
    ``polygon`` -> its outline (:func:`~layoutft.formats.common.outline_px`), else its box's
    corners; ``auto`` -> its outline when it has one that is not its box, else None."""
    if check_shape(shape) == "rect":
        return None
    outline = outline_px(region, page)
    if outline is None and shape == "polygon":
        x0, y0, x1, y1 = box_px(region)
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    return outline


def box_px(region: Region) -> tuple[float, float, float, float]:
    """``region.bbox_px`` (page pixels) rounded as the JSON writes it (0.01 px): the box a
    pre-annotation gives, the same whichever engine or process parsed the page."""
    x0, y0, x1, y1 = (round(float(v), 2) for v in region.bbox_px)
    return x0, y0, x1, y1


def _pct(value: float, size: int) -> float:
    return round(float(value) * 100.0 / size, 6)


def labelstudio_results(
    page: Page,
    width: int,
    height: int,
    *,
    rectangles: str | None = "label",
    polygons: str | None = "polygon",
    to_name: str = "image",
    shape: str = "rect",
) -> list[dict[str, Any]]:
    """The Label Studio ``result`` items of one page: a region per item, with its ``score``,
    in percent of the ``width`` x ``height`` page image (``original_width``/``_height``).

    ``rectangles``/``polygons``: the ``name`` of the labelling config's ``RectangleLabels``
    and ``PolygonLabels`` controls (:func:`labeling_config`: ``label``, ``polygon``), and
    ``to_name`` their ``Image``. ``shape`` (:data:`SHAPES`) picks each region's shape
    (:func:`region_polygon`); with one of the two controls missing (None) every region
    takes the other shape (a polygon's box, or a box's four corners).
    """
    if rectangles is None and polygons is None:
        raise ValueError("labelstudio_results needs a rectangles or a polygons control name")
    results = []
    for region in page.regions:
        common: dict[str, Any] = {
            "id": f"p{page.number}r{region.id}",
            "to_name": to_name,
            "original_width": width,
            "original_height": height,
            "image_rotation": 0,
            "score": round(float(region.score), 4),
        }
        outline = region_polygon(region, page, shape)
        if polygons is None or (outline is None and rectangles is not None):
            x0, y0, x1, y1 = box_px(region)
            value = {
                "x": _pct(x0, width),
                "y": _pct(y0, height),
                "width": _pct(x1 - x0, width),
                "height": _pct(y1 - y0, height),
                "rotation": 0,
                "rectanglelabels": [region.label],
            }
            results.append(
                {**common, "from_name": rectangles, "type": "rectanglelabels", "value": value}
            )
        else:
            outline = outline or region_polygon(region, page, "polygon")
            assert outline is not None
            points = [[_pct(x, width), _pct(y, height)] for x, y in outline]
            value = {"points": points, "closed": True, "polygonlabels": [region.label]}
            results.append(
                {**common, "from_name": polygons, "type": "polygonlabels", "value": value}
            )
    return results


def labelstudio_score(page: Page) -> float:
    """A page prediction's ``score``: the mean score of its regions (0.0 without regions)."""
    scores = [float(r.score) for r in page.regions]
    return round(sum(scores) / len(scores), 4) if scores else 0.0


def labelstudio_tasks(
    document: Document, written: Sequence[_Written], shape: str = "rect"
) -> list[dict[str, Any]]:
    """One Label Studio task per page: ``data`` (``image``, ``source``, ``page``) and one
    prediction (``model_version``, mean region ``score``, ``result`` of ``shape``)."""
    tasks = []
    version = str(document.model.get("name", "layoutft"))
    for w in written:
        page = w.page
        tasks.append(
            {
                "data": {
                    "image": "/data/local-files/?d=" + quote(f"{IMAGES}/{w.name}", safe="/"),
                    "source": document.source.get("path"),
                    "page": page.number,
                },
                "predictions": [
                    {
                        "model_version": version,
                        "score": labelstudio_score(page),
                        "result": labelstudio_results(page, w.width, w.height, shape=shape),
                    }
                ],
            }
        )
    return tasks


def _num(value: float) -> str:
    return f"{float(value):.2f}"


def cvat_xml(written: Sequence[_Written], labels: Sequence[str], shape: str = "rect") -> str:
    """CVAT for images 1.1: ``<meta>`` with the labels, an ``<image>`` per page with a
    ``<box>`` or ``<polygon>`` (``shape``: :func:`region_polygon`) per region
    (``source="auto"``; the score as an attribute is not part of CVAT's format, so it is
    left out)."""
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    meta = ET.SubElement(root, "meta")
    task = ET.SubElement(meta, "task")
    ET.SubElement(task, "size").text = str(len(written))
    ET.SubElement(task, "mode").text = "annotation"
    label_list = ET.SubElement(task, "labels")
    for label in labels:
        node = ET.SubElement(label_list, "label")
        ET.SubElement(node, "name").text = label
        ET.SubElement(node, "type").text = "any"
        ET.SubElement(node, "attributes")
    for index, w in enumerate(written):
        image = ET.SubElement(
            root, "image", id=str(index), name=w.name, width=str(w.width), height=str(w.height)
        )
        for region in w.page.regions:
            common = {"label": region.label, "source": "auto", "occluded": "0", "z_order": "0"}
            outline = region_polygon(region, w.page, shape)
            if outline is None:
                x0, y0, x1, y1 = (_num(v) for v in region.bbox_px)
                ET.SubElement(image, "box", common, xtl=x0, ytl=y0, xbr=x1, ybr=y1)
            else:
                points = ";".join(f"{_num(x)},{_num(y)}" for x, y in outline)
                ET.SubElement(image, "polygon", common, points=points)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def coco_dataset(
    document: Document, written: Sequence[_Written], labels: Sequence[str], shape: str = "rect"
) -> dict[str, Any]:
    """A COCO dataset: ``images`` (``file_name`` in ``images/``, ``page``, ``source``),
    ``annotations`` (``bbox`` XYWH pixels, polygon ``segmentation`` in pixels: the box's
    corners for ``shape`` rect, else every ring of the region's outline (``auto``: the
    box's corners for a region without one), ``area`` of the box, ``iscrowd`` 0,
    ``score``) and ``categories`` (ids 1..K in model order)."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, w in enumerate(written, start=1):
        page = w.page
        images.append(
            {
                "id": image_id,
                "file_name": w.name,
                "width": w.width,
                "height": w.height,
                "page": page.number,
                "source": document.source.get("path"),
            }
        )
        scale = page.dpi / 72.0
        for region in page.regions:
            x0, y0, x1, y1 = box_px(region)
            segmentation = [
                [round(float(c) * scale, 2) for point in ring for c in point]
                for ring in region.polygon_pt
                if len(ring) >= 3 and check_shape(shape) != "rect"
            ]
            if not segmentation:
                segmentation = [[x0, y0, x1, y0, x1, y1, x0, y1]]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": labels.index(region.label) + 1,
                    "bbox": [round(v, 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                    "area": round((x1 - x0) * (y1 - y0), 2),
                    "segmentation": segmentation,
                    "iscrowd": 0,
                    "score": round(float(region.score), 4),
                }
            )
    categories = [{"id": i, "name": n, "supercategory": ""} for i, n in enumerate(labels, 1)]
    return {"images": images, "annotations": annotations, "categories": categories}
