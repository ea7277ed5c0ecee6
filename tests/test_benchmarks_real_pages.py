"""benchmarks.real_pages: its scoring on tiny hand-made data, and its skip without the folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import real_pages as rp


def coco_gt() -> dict:
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(["text", "title", "caption"])]
    images = [{"id": 1, "file_name": "a.png", "width": 200, "height": 300}]
    boxes = [(1, [10, 10, 100, 50]), (2, [10, 80, 60, 20]), (3, [10, 200, 100, 30])]
    anns = [
        {"id": k + 1, "image_id": 1, "category_id": c, "bbox": b, "area": b[2] * b[3]}
        for k, (c, b) in enumerate(boxes)
    ]
    return {"images": images, "annotations": anns, "categories": cats}


def as_results(gt: dict, shift: float = 0.0) -> list[dict]:
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": [a["bbox"][0], a["bbox"][1] + shift, *a["bbox"][2:]],
            "score": 0.9,
        }
        for a in gt["annotations"]
    ]


def test_coco_scores_perfect_shifted_and_other_labels_ignored() -> None:
    gt = coco_gt()
    perfect = rp.coco_scores(gt, as_results(gt))["bbox"]
    assert perfect["AP"] == pytest.approx(100.0) and perfect["AP50"] == pytest.approx(100.0)
    assert perfect["per_class"]["text"] == {
        "AP": pytest.approx(100.0),
        "AP50": pytest.approx(100.0),
    }
    assert set(perfect["per_class"]) == {"text", "title"}  # caption: not a PubLayNet class
    # The title box moved down by its own height: IoU 0 -> that class scores 0.
    results = as_results(gt)
    results[1]["bbox"][1] += 20
    moved = rp.coco_scores(gt, results)["bbox"]
    assert moved["per_class"]["title"]["AP50"] == pytest.approx(0.0)
    assert moved["per_class"]["text"]["AP50"] == pytest.approx(100.0)
    assert moved["AP50"] == pytest.approx(50.0)
    # Detections below 0.05 do not count; a caption detection is ignored, not a false positive.
    low = as_results(gt)
    low[0]["score"] = 0.04
    assert rp.coco_scores(gt, low)["bbox"]["per_class"]["text"]["AP50"] == pytest.approx(0.0)


def test_table_scores_precision_recall_and_alternatives() -> None:
    truth = {"d": [{1: [[0, 0, 100, 100]], 2: [[0, 0, 50, 50]]}]}
    perfect = {("d", 1): [[0, 0, 100, 100]], ("d", 2): [[0, 0, 50, 50]], ("d", 3): []}
    assert rp.table_scores(perfect, truth) == {
        "tables": 2,
        "predicted": 2,
        "matched": 2,
        "precision": 1.0,
        "recall": 1.0,
    }
    shifted = {("d", 1): [[0, 60, 100, 160]], ("d", 2): [[0, 0, 50, 50], [0, 0, 52, 50]]}
    scores = rp.table_scores(shifted, truth)
    assert (scores["matched"], scores["precision"], scores["recall"]) == (1, 1 / 3, 0.5)
    # Two alternative ground truths (eu-009a/b): the better-matching one counts.
    alts = {"d": [{1: [[0, 0, 100, 40]]}, {1: [[0, 0, 100, 100]]}]}
    assert rp.table_scores({("d", 1): [[0, 0, 100, 100]]}, alts)["recall"] == 1.0
    # A page with tables the model missed: recall 0, precision undefined.
    missed = rp.table_scores({("d", 1): []}, {"d": [{1: [[0, 0, 10, 10]]}]})
    assert missed["recall"] == 0.0 and np.isnan(missed["precision"])


def test_icdar_regions_bottom_left_to_displayed_points(tmp_path: Path) -> None:
    pymupdf = pytest.importorskip("pymupdf")
    xml = tmp_path / "us-001-reg.xml"
    xml.write_text(
        "<document><table id='1'><region id='1' page='1'>"
        "<bounding-box x1='100' y1='100' x2='200' y2='300'/></region></table></document>"
    )
    doc = pymupdf.open()
    doc.new_page(width=600, height=800)
    page = doc.new_page(width=600, height=800)
    page.set_cropbox(pymupdf.Rect(50, 0, 600, 750))  # cropped 50 pt left and 50 pt bottom
    doc.save(tmp_path / "us-001.pdf")
    regions = rp.read_icdar_regions(xml)
    assert regions == {1: [[100.0, 100.0, 200.0, 300.0]]}
    shown = rp.user_to_displayed(tmp_path / "us-001.pdf", {1: regions[1], 2: regions[1]})
    assert shown[1] == [pytest.approx([100, 500, 200, 700])]  # y: 800 - 300, 800 - 100
    # PyMuPDF's CropBox is y-down: user-space y runs from 50 (bottom) to 800 (top).
    assert shown[2] == [pytest.approx([50, 500, 150, 700])]
    truths = rp.icdar_truths(tmp_path)
    assert list(truths) == ["us-001"] and truths["us-001"][1] == [
        {1: [pytest.approx([100, 500, 200, 700])]}
    ]


def test_label_free_counts() -> None:
    regions = [[0, 0, 100, 100], [0, 0, 100, 98], [200, 0, 300, 100]]  # a duplicate pair
    words = np.array([[50.0, 50.0], [250.0, 50.0], [500.0, 500.0]])
    counts = rp.label_free(regions, words)
    assert counts == (3, 1, 2, 1, 3)  # word 1 in two regions, word 2 in one, word 3 in none
    summary = rp.summarize_checks([counts])
    assert summary["words_in_one_region_pct"] == pytest.approx(100 / 3)
    assert summary["duplicate_pct"] == pytest.approx(100 / 3)


def test_skips_cleanly_without_the_real_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert rp.main(["--real", str(missing), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out == (
        f"real_pages: {missing} not found; skipped (see benchmarks/README.md)\n"
    )
    assert not (tmp_path / "out").exists()


def test_save_keeps_one_entry_per_model(tmp_path: Path) -> None:
    def entry(name: str, ap50: float) -> dict:
        per = {c: {"AP": 1.0, "AP50": ap50} for c in rp.PUBLAYNET_CLASSES}
        scores = {"AP": 1.0, "AP50": ap50, "per_class": per}
        checks = {"pages": 1, "regions": 2, "words": 3, "words_in_one_region_pct": 50.0}
        checks |= {"duplicate_pct": 0.0, "overlap_pct": 0.0}
        return {
            "model": name,
            "publaynet-20": {"bbox": scores},
            "docbank-100": {"bbox": scores},
            "icdar2013-tables": {"tables": 1, "predicted": 1, "matched": 1}
            | {"precision": 1.0, "recall": 1.0},
            "label_free": {"docbank-100/pdf": checks, "icdar2013-tables": checks},
            "parse_s_per_page": 0.5,
        }

    rp.save(entry("a", 10.0), tmp_path, "cmd", None)
    rp.save(entry("b", 20.0), tmp_path, "cmd", None)
    rp.save(entry("a", 30.0), tmp_path, "cmd", None)
    import json

    data = json.loads((tmp_path / "real_pages.json").read_text())
    assert sorted(data["models"]) == ["a", "b"]
    assert data["models"]["a"]["publaynet-20"]["bbox"]["AP50"] == 30.0
    md = (tmp_path / "real_pages.md").read_text()
    assert "| a | 30.0 | 1.0 |" in md and "| b | 20.0 | 1.0 |" in md


def doclaynet_gt(labelled: list[int]) -> dict:
    names = list(rp.DOCLAYNET_CLASSES)
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    images = [{"id": 1, "file_name": "a.png", "width": 200, "height": 300}]
    images[0]["labelled_category_ids"] = labelled
    kinds = ["Table", "Page-header", "Caption", "Text", "Section-header"]
    anns = [
        {"id": k + 1, "image_id": 1, "category_id": names.index(n) + 1, "bbox": [0, 0, 9, 9]}
        for k, n in enumerate(kinds)
    ]
    return {"images": images, "annotations": anns, "categories": cats}


def test_source_dev_sets_through_doclaynet_publaynet() -> None:
    table, text = rp.DOCLAYNET_CLASSES.index("Table") + 1, rp.DOCLAYNET_CLASSES.index("Text") + 1
    mapped, classes = rp.to_model_classes(doclaynet_gt([table]), rp.PUBLAYNET_CLASSES)
    assert classes == ["table"]  # a cTDaR-like page: only tables are scored
    names = {c["id"]: c["name"] for c in mapped["categories"]}
    # Caption and Text -> text, Section-header -> title; the page header has no class
    assert sorted(names[a["category_id"]] for a in mapped["annotations"]) == [
        "table",
        "text",
        "text",
        "title",
    ]
    _, classes = rp.to_model_classes(doclaynet_gt([table, text]), rp.PUBLAYNET_CLASSES)
    assert classes == ["text", "table"]
    # a DocLayNet model is scored on the labelled classes directly
    _, classes = rp.to_model_classes(doclaynet_gt([text]), rp.DOCLAYNET_CLASSES)
    assert classes == ["Text"]


def test_source_dev_sets_absent(tmp_path: Path) -> None:
    assert rp.source_dev_sets(None) == []
    assert rp.source_dev_sets(tmp_path / "none") == []
    (tmp_path / "ctdar/dev").mkdir(parents=True)
    (tmp_path / "ctdar/dev/annotations.json").write_text("{}")
    (tmp_path / "pod/train").mkdir(parents=True)
    assert rp.source_dev_sets(tmp_path) == [("ctdar", tmp_path / "ctdar/dev")]


def test_f1_at_threshold_and_alternatives_in_ap() -> None:
    from benchmarks.real_pages_json import f1_scores

    gt = coco_gt()
    results = as_results(gt)
    # a title detection below the threshold and a text duplicate elsewhere
    results[1] = {**results[1], "score": 0.3}
    results.append({"image_id": 1, "category_id": 1, "bbox": [120, 10, 50, 50], "score": 0.8})
    f = f1_scores(gt, results, 0.5)
    # text: 1 of 2 predictions right, its one truth found; title: missed; caption: not scored
    assert f["per_class"]["text"]["precision"] == 0.5 and f["per_class"]["text"]["recall"] == 1
    assert f["per_class"]["title"]["recall"] == 0 and "caption" not in f["per_class"]
    assert (f["matched"], f["predicted"]) == (1, 2)
    assert f["precision"] == 0.5 and f["recall"] == 0.5 and f["F1"] == 0.5
    assert f1_scores(gt, results, 0.2)["recall"] == 1.0
    # an alternative of the right class restores AP that its region alone lacks
    region = {**results[0], "category_id": 2}  # the text box read as a title
    alt = {**results[0], "score": 0.7, "alternative_of": 0}
    alone = rp.coco_scores(gt, [region, results[1]], classes=["text", "title"])["bbox"]
    both = rp.coco_scores(gt, [region, alt, results[1]], classes=["text", "title"])["bbox"]
    assert alone["per_class"]["text"]["AP50"] == 0
    assert both["per_class"]["text"]["AP50"] == pytest.approx(100)


def test_doclaynet_model_scored_on_publaynet_sets() -> None:
    from types import SimpleNamespace

    from layoutft.engine.evaluation import category_map

    cats = [{"id": i + 1, "name": n} for i, n in enumerate(rp.PUBLAYNET_CLASSES)]
    dl = SimpleNamespace(labels=list(rp.DOCLAYNET_CLASSES))
    aliases = rp.publaynet_aliases(dl)
    assert aliases is not None and rp.labels_view(dl) == "publaynet"
    got = category_map(dl.labels, cats, aliases)
    names = {i: rp.PUBLAYNET_CLASSES[c - 1] for i, c in got.items()}
    assert names == {
        0: "text",  # Caption
        1: "text",  # Footnote
        2: "text",  # Formula
        3: "list",  # List-item
        6: "figure",  # Picture
        7: "title",  # Section-header
        8: "table",
        9: "text",
        10: "title",
    }  # Page-footer (4) and Page-header (5) score nowhere
    dl_cats = [{"id": i + 1, "name": n} for i, n in enumerate(rp.DOCLAYNET_CLASSES)]
    assert rp.publaynet_aliases(dl, dl_cats) is None  # a DocLayNet set: scored directly
    assert rp.publaynet_aliases(dl, cats) == aliases
    pl = SimpleNamespace(labels=list(rp.PUBLAYNET_CLASSES))
    assert rp.publaynet_aliases(pl) is None and rp.labels_view(pl) == "native"
    assert category_map(pl.labels, cats) == {i: i + 1 for i in range(5)}


def test_docbank_extra_classes_of_a_doclaynet_model() -> None:
    """DocBank's caption/equation/footer regions score Caption, Formula and both footers."""
    from layoutft.engine.evaluation import category_map

    names = [*rp.PUBLAYNET_CLASSES, "caption", "equation", "footer", "reference"]
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    got = category_map(list(rp.DOCLAYNET_CLASSES), cats, rp.DOCBANK_EXTRA)
    by_label = {rp.DOCLAYNET_CLASSES[i]: names[c - 1] for i, c in got.items()}
    assert by_label == {
        "Caption": "caption",
        "Footnote": "footer",
        "Formula": "equation",
        "Page-footer": "footer",
    }
