"""PAGE XML and ALTO outputs of every file in ``../shared/real`` that ``parse`` reads:
schema validity and the round trip through ``layoutft convert``.

    python -m benchmarks.xml_outputs                    # every file (about 900 pages)
    python -m benchmarks.xml_outputs --max-files 3      # a quick check: 3 files per set

Each file is parsed once with the bundled model (``layoutft.parsing.parser.Parser``, default
options) into PAGE and ALTO (:class:`layoutft.parsing.xml_results.XmlSink`, the sink of
``layoutft parse --format pagexml|alto``); every PAGE file is validated against the PAGE
2019 XSD and every ALTO file against ALTO 4.4's, with ``xmlschema`` and the schema files in
``tests/fixtures/schemas``; every METS file against METS's. Then each set's PAGE and ALTO
folders are read back with ``layoutft.data.convert.convert`` (PAGE through the built-in
``pagexml-publaynet`` map, ALTO as written) and compared with the parse JSON: the same
number of regions per page, the same label and reading order, and the box read back of each
region within 1 px of its ``bbox_px``. ``masks`` counts the regions written as their mask
outline (fitted to the box by :func:`layoutft.geometry.fit_polygon`), the others are
written as their box.

Output: ``results/xml_outputs.json`` and ``results/xml_outputs.md``. Without ``--real`` (default
``../shared/real``) it prints one line and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tests" / "fixtures" / "schemas"
SETS = {
    "publaynet-20": "publaynet-20/*.jpg",
    "docbank-100/images": "docbank-100/images/*.jpg",
    "docbank-100/pdf": "docbank-100/pdf/*.pdf",
    "icdar2013-tables": "icdar2013-tables/*.pdf",
    "dta-books": "dta-books/*.png",
    "icdar2021_slp.pdf": "icdar2021_slp.pdf",
    "icdar2021-pages": "icdar2021-pages/*.png",
}


def _validator(name: str) -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMAS / name))


def round_trip(document: Any, folder: Path, images: Path, fmt: str, tmp: Path) -> dict[str, int]:
    """Compare the regions of ``document`` (one file's parse) with what ``convert`` reads
    back from ``folder`` (its PAGE or ALTO files); counts of regions and mismatches."""
    from layoutft.data.convert import convert
    from layoutft.data.labelmap import load_label_map
    from layoutft.formats.common import ordered, outline_px
    from layoutft.labels import DOCLAYNET_CLASSES

    out = tmp / f"convert-{fmt}"
    doclaynet = set(document.model.get("labels", [])) <= set(DOCLAYNET_CLASSES)
    page_map = "pagexml-doclaynet" if doclaynet else "pagexml-publaynet"
    labels = load_label_map(page_map) if fmt == "pagexml" else None
    result = convert(
        fmt, [folder], out, images_dir=images, labels=labels, overwrite=True, keep_unmapped=True
    )
    coco = result.coco
    names = {c["id"]: c["name"] for c in coco["categories"]}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    files = {Path(img["file_name"]).name: img["id"] for img in coco["images"]}
    counts = dict.fromkeys(("regions", "count", "label", "order", "box", "masks"), 0)
    stem = Path(document.source["path"]).stem
    for page in document.pages:
        if page.status != "ok":
            continue
        image_id = files.get(f"{stem}-p{page.number}.png")
        got = by_image.get(image_id, []) if image_id is not None else []
        want = ordered(page)
        counts["regions"] += len(want)
        if len(got) != len(want):
            counts["count"] += 1
            continue
        if fmt == "pagexml":
            got.sort(key=lambda a: a.get("order", 0))
        for region, ann in zip(want, got, strict=True):
            counts["label"] += names[ann["category_id"]] != region.label
            x, y, w, h = ann["bbox"]
            box = (x, y, x + w, y + h)
            counts["box"] += max(abs(a - b) for a, b in zip(box, region.bbox_px, strict=True)) > 1.0
            counts["masks"] += outline_px(region, page) is not None
        if fmt == "pagexml":
            counts["order"] += [a.get("order") for a in got] != list(range(len(got)))
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "real")
    ap.add_argument("--max-files", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    if not args.real.is_dir():
        print(f"xml_outputs: {args.real} not found; nothing to measure")
        return 0
    from layoutft.parsing.parser import Parser, load_model
    from layoutft.parsing.xml_results import XmlSink

    page_xsd = _validator("pagecontent-2019-07-15.xsd")
    alto_xsd = _validator("alto-4-4.xsd")
    mets_xsd = _validator("mets.xsd")
    parser = Parser(load_model(None, None, [], "cpu", None))
    report: dict[str, Any] = {"model": parser.model_name, "sets": {}}
    for name, pattern in SETS.items():
        files = sorted(args.real.glob(pattern))[: args.max_files]
        if not files:
            continue
        stats: dict[str, Any] = {"files": 0, "pages": 0, "page_valid": 0, "alto_valid": 0}
        stats.update({"mets_valid": 0, "mets_files": 0, "errors": []})
        trips: dict[str, dict[str, int]] = {}
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            for path in files:
                sinks = [XmlSink(tmp / f / f"{path.stem}.mets.xml", f) for f in ("pagexml", "alto")]
                document = parser.run(path, sinks)
                stats["files"] += 1
                for page in document.pages:
                    if page.status != "ok":
                        stats["errors"].append(f"{path.name} p{page.number}: {page.error}")
                        continue
                    stats["pages"] += 1
                    for fmt, schema in (("pagexml", page_xsd), ("alto", alto_xsd)):
                        xml = tmp / fmt / ("page" if fmt == "pagexml" else "alto")
                        xml = xml / f"{path.stem}-p{page.number}.xml"
                        errors = list(schema.iter_errors(str(xml)))
                        key = "page_valid" if fmt == "pagexml" else "alto_valid"
                        stats[key] += not errors
                        if errors:
                            stats["errors"].append(f"{xml.name} ({fmt}): {errors[0].reason}")
                for fmt in ("pagexml", "alto"):
                    stats["mets_files"] += 1
                    stats["mets_valid"] += mets_xsd.is_valid(
                        str(tmp / fmt / f"{path.stem}.mets.xml")
                    )
                for fmt in ("pagexml", "alto"):
                    folder = tmp / fmt / ("page" if fmt == "pagexml" else "alto")
                    single = tmp / f"one-{fmt}"
                    single.mkdir(exist_ok=True)
                    for old in single.glob("*.xml"):
                        old.unlink()
                    for xml in folder.glob(f"{path.stem}-p*.xml"):
                        (single / xml.name).symlink_to(xml)
                    counts = round_trip(document, single, tmp / fmt / "images", fmt, tmp)
                    total = trips.setdefault(fmt, {})
                    for key, value in counts.items():
                        total[key] = total.get(key, 0) + value
        stats["round_trip"] = trips
        stats["errors"] = stats["errors"][:10]
        report["sets"][name] = stats
        print(name, json.dumps({k: v for k, v in stats.items() if k != "errors"}), flush=True)
        _write(report, args.out)  # after every set: a run cut short still reports
    report["complete"] = True
    _write(report, args.out)
    return 0


def _write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "xml_outputs.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "xml_outputs.md").write_text(_markdown(report))


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# PAGE XML / ALTO outputs of ../shared/real",
        "",
        f"Model: {report['model']}. Produced by `python -m benchmarks.xml_outputs`"
        + ("." if report.get("complete") else "; partial: the sets done so far."),
        "",
        "| set | files | pages | PAGE valid | ALTO valid | METS valid | regions | "
        "PAGE mismatches (count/label/order/box) | ALTO mismatches (count/label/box) | "
        "regions written as mask outlines |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report["sets"].items():
        p, a = s["round_trip"].get("pagexml", {}), s["round_trip"].get("alto", {})
        lines.append(
            f"| {name} | {s['files']} | {s['pages']} | {s['page_valid']}/{s['pages']} | "
            f"{s['alto_valid']}/{s['pages']} | {s['mets_valid']}/{s['mets_files']} | "
            f"{p.get('regions', 0)} | {p.get('count', 0)}/{p.get('label', 0)}/"
            f"{p.get('order', 0)}/{p.get('box', 0)} | {a.get('count', 0)}/{a.get('label', 0)}/"
            f"{a.get('box', 0)} | {p.get('masks', 0)} |"
        )
    lines += [
        "",
        "count: pages whose number of regions differs; label, box: regions whose label "
        "differs or whose box read back is more than 1 px from the parse's `bbox_px`; "
        "order: pages whose reading order differs.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
