"""FUNSD and XFUND form annotations (JSON): one region per entity.

Two layouts, told apart by the top-level key of each JSON file:

* **FUNSD**: one file per page image, ``{"form": [entity, ...]}``; the image has the
  file's name with an image suffix (``0000971160.json`` -> ``0000971160.png``), found in
  ``--images``, next to the JSON, in ``images/`` there or in ``../images/`` (FUNSD's own
  ``annotations/`` + ``images/`` folders).
* **XFUND**: one file for many pages, ``{"documents": [{"id", "img": {"fname", "width",
  "height"}, "document": [entity, ...]}]}``; ``fname`` is found in ``--images``, next to the
  JSON, in ``images/`` there, or in the folder named like the JSON (``zh.train.json`` ->
  ``zh.train/``, as XFUND's archives unpack). ``width``/``height`` are checked against the
  image.

An entity is ``{"id", "box": [x0, y0, x1, y1], "text", "label", "words", "linking"}``:
``box`` is in image pixels (top-left origin) and becomes the region's box; ``label``
(FUNSD: ``header``, ``question``, ``answer``, ``other``) its class. Extra annotation fields:
``text`` (the entity's text, when not empty), ``entity_id`` (the entity's ``id``) and
``linking`` (its ``[from_id, to_id]`` pairs as written, question -> answer; ids are
``entity_id`` values of the same page). Word boxes are not kept. Categories come in FUNSD's
order (header, question, answer, other; those present), then other labels sorted.
Input folders are searched for ``*.json``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from layoutft.data.coco import Problems
from layoutft.data.convert.common import (
    IMAGE_SUFFIXES,
    ReadOptions,
    SourceDataset,
    SourcePage,
    SourceRegion,
    find_image,
    locate_image,
    parse_json,
    to_float,
)

#: FUNSD's labels in the order its paper lists them: the category order of the output.
FUNSD_LABELS = ("header", "question", "answer", "other")


def read(inputs: list[Path], options: ReadOptions, problems: Problems) -> SourceDataset:
    """Read FUNSD or XFUND JSON files (or folders of them); see the module docstring."""
    dataset = SourceDataset()
    files = [f for p in inputs for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    dangling: list[str] = []
    what = 'a FUNSD page ({"form": [...]}) or an XFUND file ({"documents": [...]})'
    for path in files:
        data = parse_json(path, problems, dict, what)
        if data is None:
            continue
        if isinstance(data.get("form"), list):
            page = _funsd_page(data["form"], path, options, problems, dangling)
            if page is not None:
                dataset.pages.append(page)
        elif isinstance(data.get("documents"), list):
            for i, doc in enumerate(data["documents"]):
                page = _xfund_page(doc, i, path, options, problems, dangling)
                if page is not None:
                    dataset.pages.append(page)
        else:
            problems.add(str(path), f"expected {what}; found keys {sorted(data)[:5]}")
    seen = Counter(r.label for p in dataset.pages for r in p.regions)
    dataset.labels = [label for label in FUNSD_LABELS if label in seen]
    if dangling:
        dataset.notes.append(
            f"funsd: {len(dangling)} linking pair(s) name an entity id the page does not have "
            f"(kept as written; first: {dangling[0]})"
        )
    return dataset


def _image_dirs(path: Path, options: ReadOptions) -> list[Path]:
    """``--images``, next to the JSON, ``images/`` there, ``../images`` and ``<stem>/``."""
    extra = [path.parent.parent / "images", path.parent / path.stem]
    return list(dict.fromkeys([*options.search_dirs(path), *extra]))


def _funsd_page(
    entities: list[Any],
    path: Path,
    options: ReadOptions,
    problems: Problems,
    dangling: list[str],
) -> SourcePage | None:
    dirs = _image_dirs(path, options)
    found = next(
        (f for s in IMAGE_SUFFIXES if (f := find_image(path.stem + s, dirs)) is not None), None
    )
    if found is None:
        searched = ", ".join(str(d) for d in dirs)
        problems.add(
            str(path),
            f"no image named {path.stem}.png (or .jpg, ...) found (searched {searched}); "
            "pass --images DIR",
        )
        return None
    page = SourcePage(found[1], found[0], str(path))
    _entities(entities, page, str(path), problems, dangling)
    return page


def _xfund_page(
    doc: Any,
    index: int,
    path: Path,
    options: ReadOptions,
    problems: Problems,
    dangling: list[str],
) -> SourcePage | None:
    where = f"{path}: documents[{index}]"
    img = doc.get("img") if isinstance(doc, dict) else None
    if not isinstance(img, dict) or not isinstance(img.get("fname"), str):
        problems.add(where, 'needs "img": {"fname": ..., "width": ..., "height": ...}')
        return None
    if not isinstance(doc.get("document"), list):
        problems.add(where, 'needs "document": [entity, ...]')
        return None
    where = f"{where} ({doc.get('id', img['fname'])})"
    found = locate_image(img["fname"], _image_dirs(path, options), problems, where)
    if found is None:
        return None
    width, height = to_float(img.get("width")), to_float(img.get("height"))
    size = (width, height) if width is not None and height is not None else None
    page = SourcePage(found[1], found[0], where, size=size)
    _entities(doc["document"], page, where, problems, dangling)
    return page


def _entities(
    entities: list[Any], page: SourcePage, where: str, problems: Problems, dangling: list[str]
) -> None:
    """Append one region per entity to ``page``; bad entities are recorded in ``problems``."""
    ids = {e.get("id") for e in entities if isinstance(e, dict)}
    for n, entity in enumerate(entities):
        if not isinstance(entity, dict):
            problems.add(f"{where}, entity #{n}", "entity must be an object")
            continue
        record = f"entity id={entity.get('id', f'#{n}')}"
        box = entity.get("box")
        coords = [to_float(v) for v in box] if isinstance(box, list) and len(box) == 4 else None
        if coords is None or any(v is None for v in coords):
            problems.add(f"{where}, {record}", f"box must be [x0, y0, x1, y1] numbers, got {box!r}")
            continue
        label = entity.get("label")
        if not isinstance(label, str) or not label.strip():
            problems.add(f"{where}, {record}", f"label must be a non-empty string, got {label!r}")
            continue
        links = entity.get("linking", [])
        if not _pairs(links):
            problems.add(f"{where}, {record}", f"linking must be [[id, id], ...], got {links!r}")
            continue
        x0, y0, x1, y1 = (float(v or 0.0) for v in coords)
        extra: dict[str, Any] = {"entity_id": entity["id"]} if "id" in entity else {}
        text = entity.get("text")
        if isinstance(text, str) and text.strip():
            extra["text"] = text
        if links:
            extra["linking"] = [list(pair) for pair in links]
            dangling += [f"{where}, {record}: {pair}" for pair in links if set(pair) - ids]
        page.regions.append(SourceRegion(label.strip(), record, bbox=(x0, y0, x1, y1), extra=extra))


def _pairs(links: Any) -> bool:
    """``links`` is a list of ``[id, id]`` pairs (ints or strings)."""
    return isinstance(links, list) and all(
        isinstance(p, list | tuple)
        and len(p) == 2
        and all(isinstance(i, int | str) and not isinstance(i, bool) for i in p)
        for p in links
    )
