"""Writing a synthetic dataset: PDFs, rendered page PNGs, COCO annotations, point boxes.

Pixel boxes are the point boxes times ``dpi / 72`` (the page is rendered from its
top-left corner); both use a top-left origin with y down.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pymupdf
from tqdm import tqdm

from layoutft.data.coco import write_coco, write_json
from layoutft.data.synth.blocks import Region
from layoutft.data.synth.page import compose_page, random_style
from layoutft.errors import DatasetError
from layoutft.outputs import atomic_path

#: PubLayNet-style mapping of drawn element kinds to classes (``None``: drawn, not annotated).
PUBLAYNET_LABELS: dict[str, str | None] = {
    "paragraph": "text",
    "author": "text",
    "caption": "text",
    "doc_title": "title",
    "heading": "title",
    "list": "list",
    "table": "table",
    "figure": "figure",
    "header": None,
    "footer": None,
    "page_number": None,
}


def _categories(label_map: Mapping[str, str | None]) -> list[str]:
    """Class names in order of first appearance in ``label_map`` (ids 1..K)."""
    names: list[str] = []
    for name in label_map.values():
        if name is not None and name not in names:
            names.append(name)
    return names


def _check_args(docs: int, pages: int, dpi: int, label_map: Mapping[str, str | None]) -> None:
    if docs < 1 or pages < 1:
        raise DatasetError(f"synth: --docs and --pages must be >= 1 (got {docs}, {pages})")
    if not 36 <= dpi <= 600:
        raise DatasetError(f"synth: --dpi must be within 36..600 (got {dpi})")
    unknown = sorted(set(label_map) - set(PUBLAYNET_LABELS))
    if unknown:
        raise DatasetError(
            f"synth: label_map has unknown element kinds {unknown}; "
            f"known: {sorted(PUBLAYNET_LABELS)}"
        )


def _clip(box: tuple[float, float, float, float], w: float, h: float) -> list[float]:
    x0, y0, x1, y1 = box
    return [max(0.0, x0), max(0.0, y0), min(w, x1), min(h, y1)]


def _make_document(
    stem: str, pages: int, rng: random.Random, out: Path, dpi: int, bar: tqdm
) -> list[tuple[str, int, int, float, float, list[Region]]]:
    """Draw, save and render one PDF; returns per page (file, px w, px h, pt w, pt h, regions)."""
    style = random_style(rng)
    pdf = pymupdf.open()
    result = []
    for k in range(pages):
        page = pdf.new_page(width=style.size[0], height=style.size[1])
        regions = compose_page(page, rng, style, k)
        pix = page.get_pixmap(dpi=dpi, alpha=False)
        name = f"{stem}_p{k}.png"
        pix.save(out / "images" / name)
        result.append((name, pix.width, pix.height, page.rect.width, page.rect.height, regions))
        bar.update(1)
    # no_new_id keeps the trailer /ID out, so a seed gives the same bytes each run.
    with atomic_path(out / "pdfs" / f"{stem}.pdf") as tmp:
        pdf.save(tmp, garbage=3, deflate=True, no_new_id=True)
    pdf.close()
    return result


def generate_dataset(
    out_dir: str | Path,
    docs: int,
    pages: int,
    dpi: int = 200,
    seed: int = 0,
    label_map: Mapping[str, str | None] | None = None,
    quiet: bool = False,
) -> Path:
    """Generate ``docs`` born-digital PDFs of ``pages`` pages each with their layout dataset.

    Writes ``out_dir/pdfs/docNNN.pdf``, ``out_dir/pdfs/docNNN.boxes.json`` (regions in PDF
    points, top-left origin: ``{"origin": "top-left", "pages": [{"page": 1, "regions":
    [{"label", "bbox": [x0, y0, x1, y1]}]}]}``), ``out_dir/images/docNNN_pK.png`` (K
    0-based, rendered at ``dpi``), ``out_dir/boxes_pt.json`` (all documents' point boxes)
    and ``out_dir/annotations.json`` (COCO, boxes XYWH in pixels at ``dpi``; image records
    also carry ``document``, 1-based ``page`` and ``pdf``, the PDF relative to it). The same
    ``seed`` gives byte-identical JSON files and identical images.

    Args:
        label_map: element kind -> class name or ``None`` (not annotated); defaults to
            :data:`PUBLAYNET_LABELS`. Category ids follow first appearance, from 1.
        quiet: no progress bar (it is also off when stderr is not a terminal).

    Returns:
        Path of ``annotations.json``.
    """
    labels = dict(PUBLAYNET_LABELS if label_map is None else label_map)
    _check_args(docs, pages, dpi, labels)
    out = Path(out_dir)
    (out / "pdfs").mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    names = _categories(labels)
    cat_id = {name: i + 1 for i, name in enumerate(names)}
    scale = dpi / 72.0
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    all_boxes: list[dict[str, Any]] = []
    digits = max(3, len(str(docs - 1)))
    bar = tqdm(
        total=docs * pages,
        desc="synth",
        unit="page",
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
    )
    with bar:
        for d in range(docs):
            stem = f"doc{d:0{digits}d}"
            rng = random.Random(seed * 1_000_003 + d)
            doc_pages = []
            for k, (name, pw, ph, w_pt, h_pt, regions) in enumerate(
                _make_document(stem, pages, rng, out, dpi, bar)
            ):
                image_id = len(images) + 1
                images.append(
                    {
                        "id": image_id,
                        "file_name": name,
                        "width": pw,
                        "height": ph,
                        "document": stem,
                        "page": k + 1,
                        "pdf": f"pdfs/{stem}.pdf",  # its text layer, for `layoutft eval`
                    }
                )
                page_regions = []
                for region in regions:
                    label = labels.get(region.kind)
                    if label is None:
                        continue
                    box = _clip(region.box, w_pt, h_pt)
                    page_regions.append({"label": label, "bbox": [round(v, 3) for v in box]})
                    anns.append(_annotation(len(anns) + 1, image_id, cat_id[label], box, scale))
                doc_pages.append({"page": k + 1, "regions": page_regions})
            doc_boxes = {"origin": "top-left", "pages": doc_pages}
            write_json(out / "pdfs" / f"{stem}.boxes.json", doc_boxes)
            all_boxes.append({"document": stem, "pdf": f"pdfs/{stem}.pdf", **doc_boxes})
    write_json(out / "boxes_pt.json", {"origin": "top-left", "documents": all_boxes})
    coco = {
        "info": {"description": "layoutft synthetic layouts", "seed": seed, "dpi": dpi},
        "images": images,
        "annotations": anns,
        "categories": [{"id": cat_id[n], "name": n, "supercategory": "layout"} for n in names],
    }
    path = out / "annotations.json"
    write_coco(path, coco)
    return path


def _annotation(
    ann_id: int, image_id: int, category: int, box_pt: list[float], scale: float
) -> dict[str, Any]:
    """COCO annotation of a point box: XYWH pixels, rectangle polygon, area."""
    x0, y0, x1, y1 = (round(v * scale, 2) for v in box_pt)
    w, h = round(x1 - x0, 2), round(y1 - y0, 2)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category,
        "bbox": [x0, y0, w, h],
        "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]],
        "area": round(w * h, 2),
        "iscrowd": 0,
    }
