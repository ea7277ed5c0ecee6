"""CVAT for images 1.1 XML (``annotations.xml`` of a task, job or project export).

Each ``<image name width height>`` is a page, found in ``--images`` (then next to the XML)
by its ``name`` or base name. ``<box xtl ytl xbr ybr>`` and ``<polygon points="x,y;x,y;...">``
are regions (pixels); a box's ``rotation`` (degrees, clockwise, about its centre) gives the
rotated rectangle's polygon. ``occluded``, ``z_order``, ``source``, ``group_id`` and
``<attribute>`` children are ignored. Other shapes (polyline, points, mask, ellipse, cuboid,
skeleton, tag) are skipped and counted in a note. The labels declared under ``<meta>`` fix the
category order.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from layoutft.data.coco import Problems
from layoutft.data.convert.common import (
    ReadOptions,
    SourceDataset,
    SourcePage,
    SourceRegion,
    locate_image,
    parse_xml,
    to_float,
)


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read CVAT for images 1.1 XML files; see the module docstring."""
    dataset = SourceDataset()
    for path in inputs:
        root = parse_xml(path, problems)
        if root is None:
            continue
        if root.tag != "annotations":
            problems.add(str(path), f"root element is <{root.tag}>, expected <annotations>")
            continue
        if root.find("track") is not None:
            problems.add(
                str(path),
                "tracks (CVAT for video) are not supported; "
                "export the task as 'CVAT for images 1.1'",
            )
            continue
        for name in root.iterfind("meta//labels/label/name"):
            if name.text and name.text not in dataset.labels:
                dataset.labels.append(name.text)
        skipped: Counter[str] = Counter()
        for image in root.iter("image"):
            page = _image(image, path, options, problems, skipped)
            if page is not None:
                dataset.pages.append(page)
        if skipped:
            kinds = ", ".join(f"{n} <{k}>" for k, n in sorted(skipped.items()))
            dataset.notes.append(f"{path}: skipped unsupported shapes: {kinds}")
    return dataset


def _image(
    image: ET.Element, path: Path, options: ReadOptions, problems: Problems, skipped: Counter[str]
) -> SourcePage | None:
    name = image.get("name")
    where = f"{path}: image id={image.get('id')!r} ({name})"
    w, h = to_float(image.get("width")), to_float(image.get("height"))
    if not name or w is None or h is None:
        problems.add(where, "<image> needs name, width and height")
        return None
    found = locate_image(name, options.search_dirs(path), problems, where)
    if found is None:
        return None
    page = SourcePage(found[1], found[0], where, size=(w, h))
    for index, shape in enumerate(image):
        record = f"<{shape.tag}> #{index} (label {shape.get('label')!r})"
        if shape.tag not in ("box", "polygon"):
            skipped[shape.tag] += 1
            continue
        label = shape.get("label")
        if not label:
            problems.add(f"{where}, {record}", "shape has no label")
            continue
        region = SourceRegion(label, record)
        ok = (_box if shape.tag == "box" else _polygon)(
            shape, region, f"{where}, {record}", problems
        )
        if ok:
            page.regions.append(region)
    return page


def _box(shape: ET.Element, region: SourceRegion, where: str, problems: Problems) -> bool:
    """Set the region's box, or for a rotated box the polygon of its 4 corners."""
    coords = [to_float(shape.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
    if any(c is None for c in coords):
        problems.add(where, "<box> needs numeric xtl, ytl, xbr, ybr")
        return False
    x0, y0, x1, y1 = (float(c or 0.0) for c in coords)
    angle = to_float(shape.get("rotation")) or 0.0
    if angle == 0.0:
        region.bbox = (x0, y0, x1, y1)
        return True
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    # y points down, so a positive angle turns clockwise on screen.
    region.polygons = [
        [
            c
            for x, y in corners
            for c in (cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos)
        ]
    ]
    return True


def _polygon(shape: ET.Element, region: SourceRegion, where: str, problems: Problems) -> bool:
    text = shape.get("points", "")
    try:
        flat = [float(v) for pair in text.split(";") for v in pair.split(",")]
    except ValueError:
        problems.add(where, f"points {text!r} are not 'x,y;x,y;...' numbers")
        return False
    if len(flat) < 6 or len(flat) % 2:
        problems.add(where, f"polygon needs at least 3 x,y points, got {text!r}")
        return False
    region.polygons = [flat]
    return True
