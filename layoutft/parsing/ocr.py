"""OCR of regions without a text layer, with Tesseract (``pytesseract``; Debian's
``tesseract-ocr`` and its language packs).

``ocr="auto"``: regions whose text-layer text is empty or missing (every region of an image
input or a scanned PDF page); ``"always"``: every region; ``"never"``: none. Pictures and
figures are left alone. Each region is cropped from the page image (4 px of margin), read
as one block of text (``--psm 6``) in ``lang`` and gets ``words`` (boxes in page pixels,
confidences in [0, 1], line numbers in reading order) and ``text`` (the words of a line
joined by spaces, lines by newlines). Regions are read in reading order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layoutft.errors import OptionError
from layoutft.schema import Page, Region, Word

OCR_MODES = ("never", "auto", "always")
#: labels OCR leaves alone (no running text inside)
NO_TEXT_LABELS = frozenset({"figure", "Picture"})
_PAD = 4


def check_tesseract(lang: str) -> None:
    """OptionError in one line when pytesseract, the ``tesseract`` program or the language
    pack for ``lang`` (``eng``, ``deu+eng``) is missing, naming the install."""
    try:
        import pytesseract
    except ImportError:
        raise OptionError(
            "{ocr} needs pytesseract: pip install 'layoutft[ocr]' (and apt install tesseract-ocr)"
        ) from None
    try:
        installed = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError):
        raise OptionError(
            "{ocr} needs the tesseract program: apt install tesseract-ocr tesseract-ocr-eng"
        ) from None
    missing = [part for part in lang.split("+") if part not in installed]
    if missing:
        pack = "tesseract-ocr-" + missing[0].lower().replace("_", "-")
        raise OptionError(
            "{ocr_lang} "
            + missing[0]
            + " is not installed (have: "
            + ", ".join(sorted(installed))
            + f"); apt install {pack}"
        )


def needs_ocr(region: Region, mode: str) -> bool:
    """Whether ``mode`` OCRs ``region`` (see the module docstring)."""
    if mode == "never" or region.label in NO_TEXT_LABELS:
        return False
    return mode == "always" or not (region.text or "").strip()


def ocr_page(page: Page, image: np.ndarray, mode: str, lang: str = "eng") -> Page:
    """OCR ``page``'s regions that ``mode`` selects, in reading order, in place.

    Args:
        page: the parsed page; boxes in pixels of ``image``.
        image: [H,W,3] uint8 RGB page image the page was parsed from.
        mode: one of :data:`OCR_MODES`.
        lang: Tesseract language(s), e.g. ``"eng"`` or ``"deu+eng"``.

    Returns:
        ``page``, its OCR'd regions with ``words`` and ``text`` set.
    """
    for region in sorted(page.regions, key=lambda r: (r.order, r.id)):
        if needs_ocr(region, mode):
            region.words = ocr_region(region, image, lang)
            region.text = words_text(region.words)
    return page


def ocr_region(region: Region, image: np.ndarray, lang: str) -> list[Word]:
    """Tesseract's words in ``region``'s crop of ``image``, boxes in page pixels."""
    import pytesseract

    crop = region.crop(image, pad=_PAD)
    if crop.size == 0 or min(crop.shape[:2]) < 4:
        return []
    x0, y0, _, _ = region.bbox_px
    left = max(0, int(np.floor(x0)) - _PAD)
    top = max(0, int(np.floor(y0)) - _PAD)
    data: dict[str, list[Any]] = pytesseract.image_to_data(
        np.ascontiguousarray(crop), lang=lang, config="--psm 6", output_type=pytesseract.Output.DICT
    )
    words: list[Word] = []
    lines: dict[tuple[int, int, int], int] = {}
    for i, text in enumerate(data["text"]):
        conf = float(data["conf"][i])
        if not str(text).strip() or conf < 0:
            continue
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        line = lines.setdefault(key, len(lines))
        x, y = left + int(data["left"][i]), top + int(data["top"][i])
        box = [
            float(x),
            float(y),
            float(x + int(data["width"][i])),
            float(y + int(data["height"][i])),
        ]
        words.append(Word(str(text).strip(), box, min(max(conf / 100.0, 0.0), 1.0), line))
    return words


def words_text(words: list[Word]) -> str:
    """Words joined by spaces within a line, lines by newlines."""
    lines: dict[int, list[str]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word.text)
    return "\n".join(" ".join(parts) for _, parts in sorted(lines.items()))
