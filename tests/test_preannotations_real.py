"""Uncorrected pre-annotations of real pages round-trip: the bundled model's regions on real
scans and article pages, written as Label Studio tasks, CVAT XML and a COCO dataset (the
default rectangle shape) and converted back with ``layoutft convert``, give every region's
``bbox_px`` within 1 px (issue #30: mask outlines did not: thin regions came back 1-3 px off).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from layoutft.data.convert import convert
from layoutft.parsing.output_formats import output_format
from layoutft.parsing.parser import Parser, load_model
from layoutft.parsing.preannotations import PreannotationSink

REAL = Path(__file__).resolve().parents[2] / "shared" / "real"
PAGES = [
    REAL / "dta-books" / "altmann_elementarorganismen_1890_0061.png",
    REAL / "dta-books" / "avelallemant_gaunerthum02_1858_0112.png",
    REAL / "publaynet-20" / "PMC3576793_00004.jpg",
]
FROM = {"labelstudio": "labelstudio", "cvat": "cvat", "coco-dataset": "coco"}

pytestmark = pytest.mark.skipif(
    not all(p.is_file() for p in PAGES), reason="../shared/real (dta-books, publaynet-20) absent"
)


def boxes_of(coco: dict[str, object]) -> list[tuple[str, tuple[float, ...]]]:
    names = {c["id"]: c["name"] for c in coco["categories"]}  # type: ignore[index,union-attr]
    out = []
    for a in coco["annotations"]:  # type: ignore[union-attr]
        x, y, w, h = a["bbox"]  # type: ignore[index]
        out.append((str(names[a["category_id"]]), (x, y, x + w, y + h)))  # type: ignore[index]
    return sorted(out)


@pytest.mark.parametrize("fmt", ["labelstudio", "cvat", "coco-dataset"])
def test_uncorrected_round_trip_on_real_pages(fmt: str, tmp_path: Path) -> None:
    parser = Parser(load_model(device="cpu"))
    regions = within = 0
    for page_file in PAGES:
        dest = tmp_path / page_file.stem / f"{page_file.stem}{output_format(fmt).suffix}"
        document = parser.run(page_file, [PreannotationSink(dest, fmt)])
        [page] = document.pages
        want = sorted((r.label, tuple(float(v) for v in r.bbox_px)) for r in page.regions)
        out = tmp_path / page_file.stem / "back"
        convert(FROM[fmt], [dest], out, predictions=True, images_dir=dest.parent)
        got = boxes_of(json.loads((out / "annotations.json").read_text()))
        assert [g[0] for g in got] == [w[0] for w in want]
        error = np.abs(np.array([g[1] for g in got]) - np.array([w[1] for w in want]))
        regions += len(want)
        within += int((error.max(axis=1) <= 1.0).sum())
    assert regions >= 10  # real pages with real regions
    assert within == regions, f"{regions - within} of {regions} boxes more than 1 px off"
