"""Deterministic splits that keep the pages of a document together."""

from __future__ import annotations

import re

import pytest

from layoutft.data.split import document_key, parse_ratios, split_coco
from layoutft.errors import DatasetError


def dataset(pages_per_doc: dict[str, int]) -> dict:
    images, anns = [], []
    for doc, pages in sorted(pages_per_doc.items()):
        for p in range(1, pages + 1):
            iid = len(images) + 1
            images.append({"id": iid, "file_name": f"{doc}_p{p}.png", "width": 10, "height": 10})
            anns.append({"id": iid, "image_id": iid, "category_id": 1, "bbox": [0, 0, 5, 5]})
    return {
        "info": {"v": 1},
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "text"}],
    }


@pytest.mark.parametrize(
    ("image", "key"),
    [
        ({"file_name": "doc12_p3.png"}, "doc12"),
        ({"file_name": "doc12-page-003.png"}, "doc12"),
        ({"file_name": "doc12_0003.png"}, "doc12"),
        ({"file_name": "PMC4_00012.jpg"}, "PMC4"),
        ({"file_name": "scan_2021_0003.tif"}, "scan_2021"),
        ({"file_name": "a/doc12_p3.png"}, "a/doc12"),
        ({"file_name": "single.png"}, "single"),
        ({"file_name": "x_p1.png", "doc_name": "report.pdf"}, "doc_name:report.pdf"),
        ({"file_name": "x_p1.png", "pdf": "r.pdf", "doc_name": "other"}, "pdf:r.pdf"),
    ],
)
def test_document_key(image: dict, key: str) -> None:
    assert document_key(image) == key


def test_document_key_custom_pattern() -> None:
    pattern = re.compile(r"^(?P<doc>[^/]+)/")
    assert document_key({"file_name": "book7/page_9.png", "doc_name": "x"}, pattern) == "book7"
    assert document_key({"file_name": "loose.png"}, pattern) == "loose.png"


def test_split_is_deterministic_and_groups_documents() -> None:
    coco = dataset({f"doc{i}": 1 + i % 4 for i in range(40)})
    splits = split_coco(coco, [0.8, 0.1, 0.1], seed=3)
    assert list(splits) == ["train", "val", "test"]
    reversed_input = {**coco, "images": coco["images"][::-1]}
    again = split_coco(reversed_input, [0.8, 0.1, 0.1], seed=3)
    ids = {n: sorted(i["id"] for i in s["images"]) for n, s in splits.items()}
    assert ids == {n: sorted(i["id"] for i in s["images"]) for n, s in again.items()}
    assert [len(s["images"]) for s in splits.values()] == [
        81,
        10,
        9,
    ]  # whole documents of 1-4 pages
    docs = [{document_key(i) for i in s["images"]} for s in splits.values()]
    assert not (docs[0] & docs[1] or docs[0] & docs[2] or docs[1] & docs[2])
    assert sum(len(d) for d in docs) == 40
    for subset in splits.values():
        kept = {i["id"] for i in subset["images"]}
        assert sorted(a["image_id"] for a in subset["annotations"]) == sorted(kept)
        assert subset["categories"] == coco["categories"] and subset["info"] == {"v": 1}
    other = split_coco(coco, [0.8, 0.1, 0.1], seed=4)
    assert ids != {n: sorted(i["id"] for i in s["images"]) for n, s in other.items()}


def test_split_by_image_and_zero_ratio() -> None:
    coco = dataset({"big": 10})
    by_doc = split_coco(coco, [0.5, 0.5], names=("train", "val"))
    assert [len(s["images"]) for s in by_doc.values()] == [10, 0]
    by_image = split_coco(coco, [0.5, 0.5, 0.0], group_by="image")
    assert [len(s["images"]) for s in by_image.values()] == [5, 5, 0]


def test_split_bad_arguments() -> None:
    assert parse_ratios("8,1,1") == [0.8, 0.1, 0.1]
    with pytest.raises(DatasetError, match=r"--ratios '0\.8,x': expected numbers"):
        parse_ratios("0.8,x")
    with pytest.raises(DatasetError, match="ratios must be >= 0 with a positive sum"):
        parse_ratios("1,-1")
    with pytest.raises(DatasetError, match="do not fit split names"):
        split_coco(dataset({"a": 1}), [0.5, 0.5])
    with pytest.raises(DatasetError, match="--doc-pattern '\\(': invalid regex"):
        split_coco(dataset({"a": 1}), [1.0], names=["all"], doc_pattern="(")
