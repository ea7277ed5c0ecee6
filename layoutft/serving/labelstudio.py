"""The Label Studio side of ``layoutft serve``: which controls of a labelling config the
predictions fill, where a task keeps its image, and a page as one prediction.

Label Studio's ML backend protocol (what Label Studio sends and reads back):

- ``GET /health`` -> ``{"status": "UP", ...}``;
- ``POST /setup`` ``{"project", "schema" (the labelling config), "hostname", "access_token",
  "extra_params"}`` -> ``{"model_version": ...}`` (an ``{"error"}`` with a 4xx status makes
  Label Studio show the backend as failed, with the message);
- ``POST /predict`` ``{"tasks": [...], "project", "label_config", "params"}`` ->
  ``{"results": [{"result": [...], "score", "model_version"}, ...]}``, one item per task,
  in task order. A task whose image cannot be fetched or parsed gets an item with ``error``
  and no ``result``: Label Studio logs it and stores no prediction, so retrieving
  predictions again retries that task.

The region shapes come from :func:`layoutft.parsing.preannotations.labelstudio_results`
(the same as ``layoutft parse --format labelstudio``). No torch here.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from layoutft.errors import LayoutftError, ServeError
from layoutft.parsing.preannotations import labelstudio_results, labelstudio_score
from layoutft.schema import Document

log = logging.getLogger("layoutft.serve")

#: the largest labelling config read (Label Studio's own are a few kB)
MAX_CONFIG_CHARS = 1_000_000
_IMAGE_URL = re.compile(
    r"^(https?://|file://|/data/|/storage-data/|upload/)|\.(png|jpe?g|tiff?|bmp|webp|gif|pdf)$",
    re.IGNORECASE,
)


class ClientGone(Exception):
    """The client of a request went away; its remaining work was dropped."""


@dataclass(frozen=True)
class Controls:
    """The controls of a labelling config that layoutft's predictions fill.

    Attributes:
        to_name: the ``Image`` the controls label.
        value_key: the task data key of that image (``$image`` -> ``image``); None when the
            config does not say (the first data value that looks like an image is used).
        rectangles: the ``RectangleLabels`` control's ``name``, or None.
        polygons: the ``PolygonLabels`` control's ``name``, or None.
        labels: the label values of those controls (empty: any label is kept).
    """

    to_name: str = "image"
    value_key: str | None = "image"
    rectangles: str | None = "label"
    polygons: str | None = "polygon"
    labels: tuple[str, ...] = field(default_factory=tuple)

    def label_for(self, label: str) -> str | None:
        """``label`` as the config spells it (case-insensitive match), or None when the
        config has no such label."""
        if not self.labels:
            return label
        if label in self.labels:
            return label
        lowered = {name.lower(): name for name in self.labels}
        return lowered.get(label.lower())


def parse_label_config(config: str | None) -> Controls:
    """The :class:`Controls` of a Label Studio labelling config (XML); the controls of
    :func:`~layoutft.parsing.preannotations.labeling_config` when ``config`` is empty.

    Raises ServeError (400) for a config that is not XML or has no ``RectangleLabels`` or
    ``PolygonLabels`` control on an ``Image``.
    """
    if config is None or not str(config).strip():
        return Controls()
    if not isinstance(config, str) or len(config) > MAX_CONFIG_CHARS:
        raise ServeError("the labelling config must be XML text of at most 1 MB")
    try:
        root = ET.fromstring(config)
    except ET.ParseError as exc:
        raise ServeError(f"the labelling config is not valid XML: {exc}") from None
    images: dict[str, str | None] = {}
    controls: dict[str, list[ET.Element]] = {"rectanglelabels": [], "polygonlabels": []}
    for element in root.iter():
        tag = str(element.tag).lower()
        if tag == "image" and element.get("name"):
            value = element.get("value") or ""
            images[str(element.get("name"))] = value[1:] if value.startswith("$") else None
        elif tag in controls and element.get("name") and element.get("toName"):
            controls[tag].append(element)
    found = [c for tag in controls for c in controls[tag] if c.get("toName") in images]
    if not found:
        raise ServeError(
            "the labelling config has no RectangleLabels or PolygonLabels control on an "
            "Image; use layoutft's (layoutft.parsing.preannotations.labeling_config, or the "
            "labeling-config.xml of layoutft parse --format labelstudio)"
        )
    to_name = str(found[0].get("toName"))

    def first(tag: str) -> ET.Element | None:
        return next((c for c in controls[tag] if c.get("toName") == to_name), None)

    rect, poly = first("rectanglelabels"), first("polygonlabels")
    labels: list[str] = []
    for control in (rect, poly):
        if control is None:
            continue
        for child in control.iter():
            name = child.get("value") if str(child.tag).lower() == "label" else None
            if name and name not in labels:
                labels.append(name)
    return Controls(
        to_name=to_name,
        value_key=images[to_name],
        rectangles=None if rect is None else rect.get("name"),
        polygons=None if poly is None else poly.get("name"),
        labels=tuple(labels),
    )


def task_image(task: Any, controls: Controls) -> str:
    """The image URL of a Label Studio ``task``: ``task["data"][controls.value_key]``, or,
    when the config names no key, the first data value that looks like an image URL."""
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict):
        raise ServeError("the task has no data object")
    key = controls.value_key
    if key is not None:
        if key not in data:
            raise ServeError(f"the task's data has no {key!r} (the config's Image value ${key})")
        value = data[key]
        if not isinstance(value, str):
            raise ServeError(f"the task's data.{key} is not an image URL")
        return value
    for value in data.values():
        if isinstance(value, str) and _IMAGE_URL.search(value.strip()):
            return value
    raise ServeError("the task's data holds no image URL")


def page_prediction(
    document: Document, controls: Controls, model_version: str, shape: str = "rect"
) -> dict[str, Any]:
    """The first page of ``document`` as one Label Studio prediction: ``result`` (a region
    per item of ``shape``, rect by default; labels the config lacks left out), ``score`` and
    ``model_version``.

    Raises ServeError (422) when the page failed to parse.
    """
    if not document.pages:
        raise ServeError("the task's image has no pages", status=422)
    page = document.pages[0]
    if page.status != "ok":
        raise ServeError(f"the task's image could not be parsed: {page.error}", status=422)
    results = labelstudio_results(
        page,
        page.width_px,
        page.height_px,
        rectangles=controls.rectangles,
        polygons=controls.polygons,
        to_name=controls.to_name,
        shape=shape,
    )
    kept: list[dict[str, Any]] = []
    dropped: set[str] = set()
    for item in results:
        key = str(item["type"])
        label = controls.label_for(item["value"][key][0])
        if label is None:
            dropped.add(item["value"][key][0])
            continue
        item["value"][key] = [label]
        kept.append(item)
    if dropped:
        log.warning("labels not in the labelling config left out: %s", ", ".join(sorted(dropped)))
    return {"result": kept, "score": labelstudio_score(page), "model_version": model_version}


async def predict_tasks(
    tasks: Sequence[Any],
    controls: Controls,
    document_of: Callable[[Any], Awaitable[tuple[Document, str]]],
    model_version: str,
    shape: str = "rect",
) -> list[dict[str, Any]]:
    """One prediction per task, in order, from ``document_of(task)`` (the parsed task
    image and the ``model_version`` of the model that parsed it); a task that fails gets
    ``{"error", "model_version"}`` (no ``result``: Label Studio stores nothing for it) and
    is logged, the rest go on. Cancellation (the client went away) ends the loop."""
    out: list[dict[str, Any]] = []
    for task in tasks:
        task_id = task.get("id") if isinstance(task, dict) else None
        try:
            document, version = await document_of(task)
            out.append(page_prediction(document, controls, version, shape))
        except ClientGone:
            raise
        except LayoutftError as exc:
            log.warning("task %s: %s", task_id, exc)
            out.append({"model_version": model_version, "error": str(exc), "task": task_id})
        except Exception:
            log.exception("task %s failed", task_id)
            message = "internal error; the server log has the details"
            out.append({"model_version": model_version, "error": message, "task": task_id})
    return out
