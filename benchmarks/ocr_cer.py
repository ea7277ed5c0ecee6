"""OCR character error rate on born-digital PDFs with the text layer taken away.

    python -m benchmarks.ocr_cer                     # every page of both sets
    python -m benchmarks.ocr_cer --max-pages 10      # a quick check: 10 pages per set

Sets: ``docbank-100/pdf`` and ``icdar2013-tables`` from ``--real`` (default
``../shared/real``; absent: one line, exit 0). Each PDF is parsed with the bundled model at
200 dpi with its text layer (``layoutft.parsing.parser.Parser``): the text of each region
is the reference. The page image the model saw (pixels only: no text layer) is then read by
Tesseract region by region (:func:`layoutft.parsing.ocr.ocr_region`, what ``parse --ocr``
runs), so both texts cover the same regions. Scored: the text regions (``text``, ``title``,
``list``) with a non-empty reference; both texts NFKC-normalised (ligatures) with
whitespace runs made one space. CER = total edit distance / total reference characters.

Output: ``results/ocr_cer.json`` and ``results/ocr_cer.md``, rewritten after every file
(``complete`` once every set is done).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETS = {"docbank-100/pdf": "docbank-100/pdf/*.pdf", "icdar2013-tables": "icdar2013-tables/*.pdf"}
TEXT_LABELS = ("text", "title", "list", "Text", "Title", "Section-header", "List-item")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions cost 1), one numpy row
    per character of ``a``."""
    if not a or not b:
        return max(len(a), len(b))
    bs = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    prev = steps.copy()
    for i, ch in enumerate(a, 1):
        cost = (bs != ord(ch)).astype(np.int64)
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        cur = steps + np.minimum.accumulate(cur - steps)  # insertions along the row
        prev = cur
    return int(prev[-1])


class _Images:
    """A sink keeping each page's image."""

    def __init__(self) -> None:
        self.images: dict[int, np.ndarray] = {}

    def begin(self, document: Any) -> None: ...

    def add(self, document: Any, page: Any, image: np.ndarray) -> None:
        self.images[page.number] = image

    def end(self, document: Any) -> None: ...

    def abort(self) -> None: ...


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "real")
    ap.add_argument("--max-pages", type=int, default=None, help="pages per set")
    ap.add_argument("--lang", default="eng")
    ap.add_argument("--jobs", type=int, default=2, help="Tesseract processes at once")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    if not args.real.is_dir():
        print(f"ocr_cer: {args.real} not found; nothing to measure")
        return 0
    from layoutft.parsing.parser import Parser, load_model

    parser = Parser(load_model(None, None, [], "cpu", None))
    pool = ThreadPoolExecutor(args.jobs)
    report: dict[str, Any] = {"model": parser.model_name, "lang": args.lang, "sets": {}}
    report["max_pages"] = args.max_pages
    for name, pattern in SETS.items():
        totals = dict.fromkeys(("pages", "regions", "reference_chars", "edit_distance"), 0)
        report["sets"][name] = totals
        pdfs = sorted(args.real.glob(pattern))
        totals["files"] = len(pdfs)
        for done, pdf in enumerate(pdfs, 1):
            if args.max_pages is not None and totals["pages"] >= args.max_pages:
                break
            sink = _Images()
            document = parser.run(pdf, [sink])
            for page in document.pages:
                if page.status != "ok" or (args.max_pages and totals["pages"] >= args.max_pages):
                    continue
                totals["pages"] += 1
                scored = [
                    (region, normalise(region.text or ""))
                    for region in page.regions
                    if region.label in TEXT_LABELS and normalise(region.text or "")
                ]
                image = sink.images[page.number]
                # Tesseract runs as a subprocess per region: threads keep --jobs cores busy
                read = partial(_ocr_text, image=image, lang=args.lang)
                hyps = list(pool.map(read, [region for region, _ in scored]))
                for (_, ref), hyp in zip(scored, hyps, strict=True):
                    totals["regions"] += 1
                    totals["reference_chars"] += len(ref)
                    totals["edit_distance"] += edit_distance(ref, hyp)
            totals["files_done"] = done
            chars = totals["reference_chars"]
            totals["cer"] = round(totals["edit_distance"] / chars, 4) if chars else None
            _write(report, args)  # after every file: a run cut short still reports
        print(name, totals, flush=True)
    pool.shutdown()
    report["complete"] = True
    _write(report, args)
    return 0


def _ocr_text(region: Any, image: np.ndarray, lang: str) -> str:
    """Tesseract's text of ``region`` in ``image``, normalised."""
    from layoutft.parsing.ocr import ocr_region, words_text

    return normalise(words_text(ocr_region(region, image, lang)))


def _write(report: dict[str, Any], args: argparse.Namespace) -> None:
    """``results/ocr_cer.json`` and ``results/ocr_cer.md`` for what is measured so far."""
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ocr_cer.json").write_text(json.dumps(report, indent=2) + "\n")
    flag = "" if args.max_pages is None else f" --max-pages {args.max_pages}"
    rows = [
        "# OCR character error rate (Tesseract, text layer removed)",
        "",
        f"Model: {report['model']}; Tesseract language {args.lang}; 200 dpi. Produced by "
        f"`python -m benchmarks.ocr_cer{flag}` (see its docstring for the method)"
        + ("." if report.get("complete") else "; partial: the run is still going or was cut."),
        "",
        "| set | files | pages | text regions | reference chars | CER |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in report["sets"].items():
        cer = "n/a" if s.get("cer") is None else f"{100 * s['cer']:.2f}%"
        rows.append(
            f"| {name} | {s.get('files_done', 0)}/{s['files']} | {s['pages']} | {s['regions']} "
            f"| {s['reference_chars']} | {cer} |"
        )
    (args.out / "ocr_cer.md").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    sys.exit(main())
