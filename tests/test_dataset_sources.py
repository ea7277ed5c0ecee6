"""`layoutft dataset list/devset/build` on tiny fake clones of each source (git repos made
here, in each source's real layout and label format), with poisoned TestSet/test/
Visualization files that would fail a build reading them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.data.sources.base import Page, choose_dev_documents
from layoutft.data.sources.hilex import document_of

runner = CliRunner()

POISON = "<not xml"  # a build that reads one of these fails on it


def git_commit(root: Path) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fixture")
    return git("rev-parse", "HEAD")


def image(path: Path, size: tuple[int, int] = (200, 300)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "white").save(path)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def ctdar_xml(name: str, tables: int) -> str:
    body = "".join(
        f'<table><Coords points="10,{20 + 60 * i} 10,{60 + 60 * i} 150,{60 + 60 * i} '
        f'150,{20 + 60 * i}"/><cell id="0" neighbors=""><Coords points="10,20 10,30 20,30 20,20"'
        "/></cell></table>"
        for i in range(tables)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><document filename="{name}.jpg">{body}</document>'
    )


def icdar_clone(root: Path, names: dict[str, int]) -> Path:
    """``names``: page name -> number of tables."""
    for name, tables in names.items():
        image(root / "Images/TrainSet" / f"{name}.jpg")
        write(root / "Annotations/TrainSet" / f"{name}.xml", ctdar_xml(name, tables))
    for split in ("TestSet", "TrainSet"):
        write(root / "Visualization" / split / "x.xml", POISON)
    write(root / "Annotations/TestSet/t1.xml", POISON)
    image(root / "Images/TestSet/t1.jpg")
    git_commit(root)
    return root


HILEX_CATS = [
    {"id": 0, "name": "class_check", "supercategory": "none"},
    *(
        {"id": i, "name": n, "supercategory": "class_check"}
        for i, n in enumerate(
            [
                "Answer_Block",
                "Description",
                "Instruction",
                "Question_Answer_Block",
                "Question_Block",
                "Question_Paper_Area",
            ],
            start=1,
        )
    ),
]


def hilex_clone(root: Path) -> Path:
    splits = {
        "train": ["1a2b3c4d-GATE_CE1-2021_6", "0f0f0f0f-GATE_CE1-2021_7", "aaaa0000-UGC_525"],
        "valid": ["bbbb1111-UGC_526"],
    }
    for split, stems in splits.items():
        folder = root / "HiLEx_Coco_Format" / split
        images, anns = [], []
        for i, stem in enumerate(stems):
            name = f"{stem}_jpg.rf.0123abcd.jpg"
            image(folder / name, (640, 640))
            images.append({"id": i, "file_name": name, "width": 640, "height": 640})
            for cat, box in (
                (6, [10, 10, 600, 600]),
                (5, [20, 20, 300, 50]),
                (1, [20, 80, 300, 90]),
            ):
                anns.append(
                    {
                        "id": len(anns),
                        "image_id": i,
                        "category_id": cat,
                        "bbox": box,
                        "area": box[2] * box[3],
                        "segmentation": [],
                        "iscrowd": 0,
                    }
                )
        coco = {"images": images, "annotations": anns, "categories": HILEX_CATS}
        write(folder / "_annotations.coco.json", json.dumps(coco))
    write(root / "HiLEx_Coco_Format/test/_annotations.coco.json", POISON)
    image(root / "HiLEx_Coco_Format/test/cccc2222-UGC_1_jpg.rf.00.jpg", (640, 640))
    git_commit(root)
    return root


def alto(file_name: str, zones: list[tuple[str, list[int]]]) -> str:
    labels = sorted({z for z, _ in zones})
    tags = "".join(f'<OtherTag ID="BT{i}" LABEL="{z}"/>' for i, z in enumerate(labels))
    blocks = "".join(
        f'<TextBlock ID="b{i}" HPOS="{x}" VPOS="{y}" WIDTH="{w}" HEIGHT="{h}" '
        f'TAGREFS="BT{labels.index(z)}"><Shape><Polygon POINTS="{x} {y} {x + w} {y} '
        f'{x + w} {y + h} {x} {y + h}"/></Shape></TextBlock>'
        for i, (z, (x, y, w, h)) in enumerate(zones)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Description>'
        "<MeasurementUnit>pixel</MeasurementUnit><sourceImageInformation>"
        f"<fileName>{file_name}</fileName></sourceImageInformation></Description>"
        f'<Tags>{tags}</Tags><Layout><Page WIDTH="200" HEIGHT="300" ID="p">'
        f'<PrintSpace HPOS="0" VPOS="0" WIDTH="200" HEIGHT="300">{blocks}</PrintSpace>'
        "</Page></Layout></alto>"
    )


ZONES = [
    ("RunningTitleZone", [20, 5, 100, 15]),
    ("NumberingZone", [150, 5, 20, 15]),
    ("MainZone", [20, 30, 160, 200]),
    ("GraphicZone", [20, 235, 60, 40]),
    ("QuireMarksZone", [120, 280, 30, 10]),
    ("StampZone", [150, 240, 30, 30]),
]


def gallicorpora_clones(tmp: Path) -> list[Path]:
    """Two repositories; ``shared`` is in both (the same pages), ``a1``/``b1`` in one each."""
    repos = {
        "HTR-incunable-15e-siecle": {"a1": ["f1", "f2"], "shared": ["f1"]},
        "HTR-imprime-16e-siecle": {"b1": ["b1_f3"], "shared": ["f1"]},
    }
    clones = []
    for repo, docs in repos.items():
        root = tmp / repo
        for doc, pages in docs.items():
            for page in pages:
                image(root / "data" / doc / f"{page}.jpg")
                write(root / "data" / doc / f"{page}.xml", alto(f"{page}.jpg", ZONES))
                # a second transcription of the same page: never converted
                write(root / "data" / doc / f"{page}.chocomufin.xml", POISON)
            write(root / "data" / f"{doc}.xml", POISON)  # the book's TEI, not a page
        write(root / "data" / "a1" / "f9.xml", alto("f9.tif", ZONES))  # image not in the repo
        git_commit(root)
        clones.append(root)
    return clones


def page_xml(image_ref: str, regions: str) -> str:
    ns = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><PcGts xmlns="{ns}">'
        f'<Page imageFilename="{image_ref}" imageWidth="200" imageHeight="300">{regions}'
        "</Page></PcGts>"
    )


def region(tag: str, rid: str, box: tuple[int, int, int, int], attrs: str = "") -> str:
    x0, y0, x1, y1 = box
    return (
        f'<{tag} id="{rid}" {attrs}><Coords points="{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"/>'
        f"</{tag}>"
    )


def ocrd_clone(root: Path) -> Path:
    regions = "".join(
        [
            region("TextRegion", "r1", (20, 5, 60, 20), 'type="page-number"'),
            region(
                "TextRegion", "r2", (20, 30, 180, 50), 'type="heading" custom="#heading_level1"'
            ),
            region("TextRegion", "r3", (20, 60, 180, 100), 'type="paragraph" custom="#list_item"'),
            region("TextRegion", "r4", (20, 110, 180, 250), 'type="paragraph"'),
            region("SeparatorRegion", "r5", (20, 255, 180, 258)),
            region("GraphicRegion", "r6", (150, 260, 190, 290), 'type="barcode"'),
        ]
    )
    for doc, pages in {"alpha_buch_1800": ["0001", "0002"], "beta_lied_1700": ["0005"]}.items():
        for page in pages:
            name = f"{doc}_{page}"
            image(root / "data" / doc / "GT-PAGE" / f"{name}.jpg")
            write(
                root / "data" / doc / "GT-PAGE" / f"{name}.xml",
                page_xml(f"GT-PAGE/{name}.jpg", regions),
            )
        write(root / "data" / doc / "mets.xml", POISON)
    # a page whose image is fetched elsewhere (not in the repository): skipped
    write(root / "data/beta_lied_1700/GT-PAGE/beta_lied_1700_0009.xml", page_xml("x.tif", ""))
    git_commit(root)
    return root


def run(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def devset_and_build(
    name: str, clones: list[Path], tmp: Path
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], Path]:
    """(source.json, train COCO, dev COCO, manifest) of a build at the fixture's commit."""
    manifest = tmp / "devsets.json"
    result = run("dataset", "devset", name, *clones, "--manifest", manifest, "--allow-other-commit")
    assert result.exit_code == 0, result.output
    out = tmp / "out"
    result = run(
        "dataset", "build", name, *clones, out, "--dev-manifest", manifest, "--allow-other-commit"
    )
    assert result.exit_code == 0, result.output
    source = json.loads((out / "source.json").read_text())
    train = json.loads((out / "train/annotations.json").read_text())
    dev = json.loads((out / "dev/annotations.json").read_text())
    return source, train, dev, manifest


def per_class(coco: dict[str, Any]) -> dict[str, int]:
    names = {c["id"]: c["name"] for c in coco["categories"]}
    out: dict[str, int] = {}
    for a in coco["annotations"]:
        out[names[a["category_id"]]] = out.get(names[a["category_id"]], 0) + 1
    return out


def labelled_names(coco: dict[str, Any]) -> set[str]:
    names = {c["id"]: c["name"] for c in coco["categories"]}
    values = {tuple(img["labelled_category_ids"]) for img in coco["images"]}
    assert len(values) == 1  # the same on every page
    return {names[i] for i in values.pop()}


DOCLAYNET = [
    "Caption",
    "Footnote",
    "Formula",
    "List-item",
    "Page-footer",
    "Page-header",
    "Picture",
    "Section-header",
    "Table",
    "Text",
    "Title",
]


def test_ctdar_build(tmp_path: Path) -> None:
    clone = icdar_clone(
        tmp_path / "ICDAR2019_cTDaR_dataset_supplement",
        {"cTDaR_t10000": 1, "cTDaR_t10001": 2, "cTDaR_t10002": 1},
    )
    source, train, dev, manifest = devset_and_build("ctdar", [clone], tmp_path)
    assert [c["name"] for c in train["categories"]] == DOCLAYNET
    # one page = one document: the dev set is a single page, and no page is in both
    assert len(dev["images"]) == 1
    assert len(train["images"]) == 2
    assert {i["file_name"] for i in train["images"]}.isdisjoint(
        i["file_name"] for i in dev["images"]
    )
    assert per_class(train)["Table"] + per_class(dev)["Table"] == 4
    assert labelled_names(train) == labelled_names(dev) == {"Table"}
    assert source["labelled_classes"] == ["Table"]
    assert source["class_map"]["map"]["table"] == "Table"
    assert source["counts"]["train"]["pages"] == 2
    assert source["dev"]["pages"] == 1
    assert source["repos"][0]["commit"] == "e838cb177e5e44b964f6268e5c41557f6f1a3544"
    entry = json.loads(manifest.read_text())["sources"]["ctdar"]
    assert len(entry["sha256"]) == 2  # the dev page's image and XML
    assert all("TestSet" not in p and "Visualization" not in p for p in entry["sha256"])


def test_pod_build_and_changed_dev_file(tmp_path: Path) -> None:
    clone = icdar_clone(
        tmp_path / "ICDAR2017_POD_dataset_supplement",
        {"POD_0001": 1, "POD_0003": 1, "POD_0004": 3, "POD_0007": 1},
    )
    source, _, _, manifest = devset_and_build("pod", [clone], tmp_path)
    assert source["counts"]["train"]["pages"] + source["counts"]["dev"]["pages"] == 4
    assert (
        source["counts"]["train"]["regions_per_class"]["Table"]
        + source["counts"]["dev"]["regions_per_class"]["Table"]
        == 6
    )
    dev_image = json.loads(manifest.read_text())["sources"]["pod"]["images"][0]
    # a dev file that no longer matches its hash stops the build, naming it
    image(clone / dev_image.split("/", 1)[1], (201, 300))
    result = run(
        "dataset", "build", "pod", clone, tmp_path / "again", "--dev-manifest", manifest,
        "--allow-other-commit",
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"{dev_image}: SHA-256" in result.output
    assert not (tmp_path / "again").exists()


def test_hilex_build_by_paper(tmp_path: Path) -> None:
    clone = hilex_clone(tmp_path / "HiLEx")
    source, train, dev, _ = devset_and_build("hilex", [clone], tmp_path)
    docs = {
        split: {document_of(i["file_name"]) for i in coco["images"]}
        for split, coco in (("train", train), ("dev", dev))
    }
    # whole papers: UGC's train page and valid page go together; GATE's two pages too
    assert docs["train"].isdisjoint(docs["dev"])
    assert docs["train"] | docs["dev"] == {"GATE_CE1-2021", "UGC"}
    assert len(train["images"]) + len(dev["images"]) == 4
    # containers dropped; question blocks Text, answer blocks List-item
    counts = {k: per_class(train).get(k, 0) + per_class(dev).get(k, 0) for k in DOCLAYNET}
    assert counts["Text"] == 4 and counts["List-item"] == 4 and sum(counts.values()) == 8
    assert labelled_names(train) == {"Text", "List-item"}
    assert source["paths_read"] == [
        "HiLEx/HiLEx_Coco_Format/train/*",
        "HiLEx/HiLEx_Coco_Format/valid/*",
    ]


def test_gallicorpora_build(tmp_path: Path) -> None:
    clones = gallicorpora_clones(tmp_path)
    source, train, dev, _ = devset_and_build("gallicorpora", clones, tmp_path)
    names = sorted(i["file_name"] for i in train["images"] + dev["images"])
    # the shared book's page once; f1 of two books named apart; f9 (no image) skipped
    assert names == ["a1_f1.jpg", "a1_f2.jpg", "b1_f3.jpg", "shared_f1.jpg"]
    counts = {k: per_class(train).get(k, 0) + per_class(dev).get(k, 0) for k in DOCLAYNET}
    assert counts == {
        **dict.fromkeys(DOCLAYNET, 0),
        "Page-header": 8,
        "Text": 4,
        "Picture": 4,
        "Page-footer": 4,
    }
    assert labelled_names(dev) == {"Page-footer", "Page-header", "Picture", "Text", "Title"}
    dev_docs = {n.rsplit("_f", 1)[0] for n in (i["file_name"] for i in dev["images"])}
    train_docs = {n.rsplit("_f", 1)[0] for n in (i["file_name"] for i in train["images"])}
    assert dev_docs and dev_docs.isdisjoint(train_docs)
    assert [r["name"] for r in source["repos"]] == [
        "HTR-incunable-15e-siecle",
        "HTR-imprime-16e-siecle",
    ]
    assert any("1 pages of an earlier repository" in n for n in source["notes"])


def test_ocrd_build(tmp_path: Path) -> None:
    clone = ocrd_clone(tmp_path / "gt_structure_text")
    source, train, dev, _ = devset_and_build("ocrd-structure", [clone], tmp_path)
    assert len(train["images"]) + len(dev["images"]) == 3  # the page without image skipped
    counts = {k: per_class(train).get(k, 0) + per_class(dev).get(k, 0) for k in DOCLAYNET}
    # per page: page number -> Page-header, #heading_level1 -> Section-header,
    # #list_item -> List-item, paragraph -> Text; separator and barcode dropped
    assert counts == {
        **dict.fromkeys(DOCLAYNET, 0),
        "Page-header": 3,
        "Section-header": 3,
        "List-item": 3,
        "Text": 3,
    }
    assert "Title" not in labelled_names(train)
    dev_names = {i["file_name"] for i in dev["images"]}
    assert dev_names == {"beta_lied_1700_0005.jpg"}  # the smallest whole document
    assert any("1 PAGE files whose image" in n for n in source["notes"])


def test_commit_and_clone_checks(tmp_path: Path) -> None:
    clone = icdar_clone(tmp_path / "ICDAR2019_cTDaR_dataset_supplement", {"cTDaR_t10000": 1})
    manifest = tmp_path / "m.json"
    result = run("dataset", "devset", "ctdar", clone, "--manifest", manifest)
    assert result.exit_code == 1
    assert "not the pinned e838cb177e5e" in result.output
    assert "--allow-other-commit" in result.output
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run("dataset", "build", "ctdar", plain, tmp_path / "out")
    assert result.exit_code == 1
    assert "not a git clone" in result.output
    # no dev set in the manifest for this source: the build says how to make one
    result = run(
        "dataset", "build", "ctdar", clone, tmp_path / "out", "--dev-manifest", manifest,
        "--allow-other-commit",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no dev set for ctdar" in result.output
    result = run("dataset", "build", "nosuch", clone, tmp_path / "out")
    assert result.exit_code == 1
    assert "unknown source 'nosuch'" in result.output


def test_list_names_every_source() -> None:
    result = run("dataset", "list")
    assert result.exit_code == 0, result.output
    for name in ("ctdar:", "pod:", "hilex:", "gallicorpora:", "ocrd-structure:"):
        assert name in result.output
    assert "git -C HiLEx checkout 3bb962636c14b2630d308a77df2b3f5b768bb434" in result.output
    assert result.output.count("repo: https://github.com/Gallicorpora/") == 5


def test_committed_manifest_holds_whole_documents() -> None:
    from layoutft.data.sources.devset import load_manifest

    sources = load_manifest()
    assert set(sources) == {"ctdar", "pod", "hilex", "gallicorpora", "ocrd-structure"}
    for name, entry in sources.items():
        assert entry["pages"] == len(entry["images"]), name
        assert all(len(h) == 64 for h in entry["sha256"].values())
        for path in entry["sha256"]:
            assert not {"TestSet", "test", "Visualization"} & set(path.split("/")), path
    assert sources["ctdar"]["pages"] == 72 and sources["hilex"]["pages"] == 214


def test_choose_dev_documents_whole_and_bounded() -> None:
    pages = [Page(f"d{i // 4}", f"r/d{i // 4}/{i}.jpg", ()) for i in range(400)]  # 100 docs x 4
    docs = choose_dev_documents(pages)
    held = [p for p in pages if p.document in docs]
    assert 48 <= len(held) <= 60  # max(12%, 50 pages), at most 15%
    assert len(held) == 4 * len(docs)
    assert choose_dev_documents(pages) == docs  # fixed by the names alone
    # a document larger than the cap is never taken when a smaller one fits
    pages += [Page("huge", f"r/huge/{i}.jpg", ()) for i in range(300)]
    assert "huge" not in choose_dev_documents(pages)


@pytest.mark.parametrize(
    ("name", "doc"),
    [
        ("e483e760-sat-test-1-digital_page-0008_jpg.rf.f2e284.jpg", "sat-test-1-digital"),
        ("ba383c1c-0a00d56a-Kaplan-GMAT-Questions_3_jpg.rf.00.jpg", "Kaplan-GMAT-Questions"),
        ("0f86f819-GATE_CE1-2021_6_jpg.rf.37767d.jpg", "GATE_CE1-2021"),
        ("1f4a5bc3-jee_2_659_jpg.rf.ba0c61.jpg", "jee_2"),
    ],
)  # fmt: skip
def test_hilex_document_of(name: str, doc: str) -> None:
    assert document_of(name) == doc
