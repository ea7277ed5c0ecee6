"""Document checks that COCO AP misses: duplicated and overlapping regions, word coverage.

AP rewards a second box on an already-found region only mildly, and says nothing about
whether every word of a page lands in one region; a reader of the layout (OCR, RAG
chunking) gets text twice or loses it. These checks count that, on the predictions kept at
the model's parse threshold (the raw model output, before ``parse``'s duplicate removal):

- ``duplicate_pct``: predictions with IoU >= 0.5 to a higher-scored prediction (any class).
- ``overlap_pct``: predictions whose intersection with another covers >= half of the
  smaller of the two boxes (duplicates included).
- Word coverage, for pages whose COCO image record names its PDF and whose page has a text
  layer: the share of words whose center lies in exactly one, no, or several predicted boxes
  (``words_in_one_region_pct`` etc.). The PDF is the record's ``pdf`` (what ``layoutft
  synth`` writes), else ``doc_name`` (PubLayNet, ``layoutft convert pdf``), else
  ``document`` + ``.pdf``, looked up next to the annotations file and then in the extra
  folders given (``layoutft eval --pdfs``); the page is ``page`` or ``page_no`` (1-based).

All values are percentages; boxes are COCO result records (XYWH pixels of the COCO image).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.geometry import box_area, pairwise_intersection, pairwise_iou

DUPLICATE_IOU = 0.5
OVERLAP_OF_SMALLER = 0.5


def duplicate_and_overlap_counts(boxes: np.ndarray) -> tuple[int, int]:
    """(duplicates, overlapping) among float [N,4] XYXY boxes sorted by descending score.

    A box is a duplicate when its IoU with an earlier (higher-scored) box is >= 0.5, and
    overlapping when its intersection with any other box covers >= half of the smaller box.
    """
    n = len(boxes)
    if n < 2:
        return 0, 0
    iou = pairwise_iou(boxes, boxes)
    duplicates = int((np.tril(iou, k=-1) >= DUPLICATE_IOU).any(axis=1).sum())
    inter = pairwise_intersection(boxes, boxes)
    area = box_area(boxes)
    smaller = np.minimum(area[:, None], area[None, :])
    share = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
    np.fill_diagonal(share, 0.0)
    return duplicates, int((share >= OVERLAP_OF_SMALLER).any(axis=1).sum())


def word_coverage_counts(centers: np.ndarray, boxes: np.ndarray) -> tuple[int, int, int]:
    """(in no box, in exactly one, in several) for float [W,2] word centers and [N,4] XYXY
    boxes, both in the same pixel space."""
    if len(centers) == 0:
        return 0, 0, 0
    x, y = centers[:, 0:1], centers[:, 1:2]
    inside = (x >= boxes[:, 0]) & (x <= boxes[:, 2]) & (y >= boxes[:, 1]) & (y <= boxes[:, 3])
    hits = inside.sum(axis=1)
    return int((hits == 0).sum()), int((hits == 1).sum()), int((hits > 1).sum())


def pdf_word_centers(pdf: Path, page: int, size: tuple[int, int]) -> np.ndarray | None:
    """Centers (float [W,2], pixels of an image of ``size`` (h, w) showing the whole page) of
    the words on 1-based ``page`` of ``pdf``; None when the page has no text layer.

    Cached per file version: the trainer's periodic evaluations ask for the same pages
    again. The array is read-only.
    """
    stat = pdf.stat()
    return _word_centers(str(pdf.resolve()), stat.st_mtime_ns, stat.st_size, page, size)


@functools.lru_cache(maxsize=4096)
def _word_centers(
    pdf: str, _mtime_ns: int, _size_bytes: int, page: int, size: tuple[int, int]
) -> np.ndarray | None:
    import pymupdf

    from layoutft.render.pdf import page_transform
    from layoutft.render.text import page_words

    with pymupdf.open(pdf) as doc:
        pdf_page = doc[page - 1]
        transform = page_transform(pdf_page, 72.0)  # displayed points
        words = page_words(pdf_page, transform)
    if len(words) == 0:
        return None
    scale = np.array([size[1] / transform.width_pt, size[0] / transform.height_pt])
    centers = np.asarray((words.boxes[:, :2] + words.boxes[:, 2:]) / 2 * scale, dtype=float)
    centers.setflags(write=False)
    return centers


def find_pdf_page(img: dict[str, Any], folders: Sequence[Path]) -> tuple[Path | None, int, bool]:
    """(PDF path or None, 1-based page, whether the record named a PDF) of a COCO image record."""
    named = [
        str(img[k]) for k in ("pdf", "doc_name") if str(img.get(k, "")).lower().endswith(".pdf")
    ]
    candidates = named + ([f"{img['document']}.pdf"] if img.get("document") else [])
    page = int(img.get("page", img.get("page_no", 1)))
    for name in candidates:
        for folder in folders:
            path = folder / name
            if path.is_file():
                return path, page, bool(named)
    return None, page, bool(named)


def _xyxy(records: Iterable[dict[str, Any]]) -> np.ndarray:
    """Float [N,4] XYXY boxes of COCO result records, highest score first."""
    ordered = sorted(records, key=lambda r: -float(r["score"]))
    xywh = np.array([r["bbox"] for r in ordered], dtype=float).reshape(-1, 4)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else float("nan")


def document_checks(
    gt: dict[str, Any],
    results: list[dict[str, Any]],
    pdf_folders: Sequence[Path],
    score_threshold: float,
) -> dict[str, Any]:
    """Duplicate/overlap rates and word coverage of ``results`` kept at ``score_threshold``.

    ``gt``: the COCO dataset the results were predicted on (its image records give sizes and,
    optionally, the PDF fields above); ``pdf_folders``: where PDFs are looked up, the
    annotations file's folder first. Returns percentages (NaN when undefined) and counts;
    ``missing_pdfs`` counts records naming a PDF that was not found.
    """
    kept: dict[int, list[dict[str, Any]]] = {}
    for r in results:
        if float(r["score"]) >= score_threshold:
            kept.setdefault(int(r["image_id"]), []).append(r)
    regions = duplicates = overlapping = 0
    words = [0, 0, 0]  # none, one, several
    pdf_pages = missing = 0
    for img in gt["images"]:
        boxes = _xyxy(kept.get(int(img["id"]), []))
        dup, over = duplicate_and_overlap_counts(boxes)
        regions, duplicates, overlapping = (
            regions + len(boxes),
            duplicates + dup,
            overlapping + over,
        )
        pdf, page, named = find_pdf_page(img, pdf_folders)
        if pdf is None:
            missing += int(named)
            continue
        centers = pdf_word_centers(pdf, page, (int(img["height"]), int(img["width"])))
        if centers is None:
            continue
        pdf_pages += 1
        words = [a + b for a, b in zip(words, word_coverage_counts(centers, boxes), strict=True)]
    total_words = sum(words)
    return {
        "score_threshold": score_threshold,
        "regions": regions,
        "duplicate_pct": _pct(duplicates, regions),
        "overlap_pct": _pct(overlapping, regions),
        "text_layer_pages": pdf_pages,
        "missing_pdfs": missing,
        "words": total_words,
        "words_in_one_region_pct": _pct(words[1], total_words),
        "words_in_no_region_pct": _pct(words[0], total_words),
        "words_in_several_regions_pct": _pct(words[2], total_words),
    }
