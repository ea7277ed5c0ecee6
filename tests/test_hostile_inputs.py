"""Hostile inputs fail fast, in one line naming the file and the limit: YAML and stored-config
alias bombs, pickles that ask for huge arrays, huge page ranges, decompression-bomb images,
JSON nested too deeply or with giant integers, absurd config sizes. Every file is made here,
small; every test is bounded in time (60 s where it takes a second: room for a loaded
machine, while the blow-ups these inputs aim at run for hours)."""

from __future__ import annotations

import json
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.checkpoint import load_weights
from layoutft.cli.app import app
from layoutft.config import load_config
from layoutft.data.coco import load_coco
from layoutft.errors import CheckpointError, ConfigError, DatasetError, RenderError
from layoutft.render import iter_pages
from layoutft.render.pages import parse_page_spec
from layoutft.schema import Document


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def laughs_yaml() -> str:
    """A 'billion laughs' YAML: nine levels of nine aliases (9**9 values once expanded)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(60)
def test_billion_laughs_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(laughs_yaml())
    assert path.stat().st_size < 400
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: refused") and "limit of 100000 values" in message
    page = tmp_path / "page.png"
    Image.fromarray(np.full((64, 48, 3), 255, np.uint8)).save(page)
    weights = "layoutft-synth-narrow-r50"
    code, text = invoke("parse", str(page), "--weights", weights, "--config", str(path))
    assert code == 1 and text.startswith("Error: ") and "limit of 100000 values" in text


@pytest.mark.timeout(60)
def test_deeply_nested_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("MODEL: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"nested deeper than the limit of 64 levels"):
        load_config(path)


def _shared_lists() -> list[object]:
    level: list[object] = ["lol"] * 9
    for _ in range(8):
        level = [level] * 9  # the same list nine times: pickled once, 9**9 values expanded
    return level


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stored", ["dict", "yaml"])
def test_alias_bomb_in_a_checkpoints_stored_config_is_refused(tmp_path: Path, stored: str) -> None:
    config: object = {"MODEL": {"PIXEL_MEAN": _shared_lists()}}
    if stored == "yaml":
        config = laughs_yaml()
    path = tmp_path / "bomb.pth"
    torch.save({"format": "layoutft/1", "model": {}, "config": config, "labels": []}, path)
    assert path.stat().st_size < 20_000
    with pytest.raises(CheckpointError) as info:
        load_weights(path)
    message = str(info.value)
    assert message.startswith(f"{path}: refused: its stored 'config'")
    assert "limit of 100000 values" in message


def _pickle(body: bytes) -> bytes:
    return b"\x80\x02" + body + b"."


RECONSTRUCT = b"cnumpy.core.multiarray\n_reconstruct\n"
NDARRAY = b"cnumpy\nndarray\n"
FOUR_GB = b"\x8a\x05\x00\x00\x00\x00\x01"  # LONG1: 2**32
INT8 = b"U\x01b"  # the dtype code 'b'


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "body",
    [
        # numpy.core.multiarray._reconstruct(numpy.ndarray, (2**32,), 'b'): a 4 GB array
        RECONSTRUCT + NDARRAY + FOUR_GB + b"\x85" + INT8 + b"\x87R",
        # numpy.ndarray((2**32,), 'b') called directly
        NDARRAY + FOUR_GB + b"\x85" + INT8 + b"\x86R",
        # bytearray(200 MB of zeros)
        b"cbuiltins\nbytearray\nJ\x00\xc2\xeb\x0b\x85R",
    ],
    ids=["reconstruct", "ndarray", "bytearray"],
)
def test_pickle_asking_for_more_memory_than_its_size_justifies_is_refused(
    tmp_path: Path, body: bytes
) -> None:
    path = tmp_path / "bomb.pkl"
    path.write_bytes(_pickle(body))
    assert path.stat().st_size < 80
    size = path.stat().st_size
    with pytest.raises(CheckpointError) as info:
        load_weights(path)
    message = str(info.value)
    assert message.startswith(f"{path}: refused to load")
    assert f"past the limit of {2 * size + 64 * 2**20} bytes for a {size}-byte file" in message


@pytest.mark.timeout(30)
def test_one_array_under_many_keys_counts_every_copy_the_loader_makes(tmp_path: Path) -> None:
    """A small pickle creates one 32 MiB array (within the budget) and names it under many
    keys; loading copies it once per key into a tensor, so the copies count too."""
    name = lambda text: b"X" + struct.pack("<I", len(text)) + text.encode()  # noqa: E731
    key = lambda i: name(f"backbone.w{i:03d}")  # noqa: E731
    body = (
        b"}"
        + name("model")
        + b"}"
        + key(0)
        + RECONSTRUCT
        + NDARRAY
        + b"J"
        + struct.pack("<i", 2**25)
        + b"\x85"
    )
    body += INT8 + b"\x87Rq\x00s"
    for i in range(1, 4):
        body += key(i) + b"h\x00s"
    body += b"s"  # {"model": {...}}
    path = tmp_path / "shared.pkl"
    path.write_bytes(_pickle(body))
    size = path.stat().st_size
    assert size < 4096
    with pytest.raises(CheckpointError) as info:
        load_weights(path)
    message = str(info.value)
    assert message.startswith(f"{path}: refused to load: its arrays become tensors of ")
    assert f"past the limit of {2 * size + 64 * 2**20} bytes for a {size}-byte file" in message


def test_pickled_arrays_within_the_budget_still_load(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "ok.pkl"
    weights = {"model": {"backbone.bottom_up.stem.conv1.weight": np.ones((8, 3, 7, 7), "f4")}}
    path.write_bytes(pickle.dumps(weights, protocol=2))
    loaded = load_weights(path)
    assert float(loaded.state_dict["backbone.bottom_up.stem.conv1.weight"].sum()) == 8 * 3 * 49


@pytest.mark.timeout(60)
def test_huge_page_range_is_refused_before_it_is_built() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RenderError) as info:
            parse_page_spec("1-30000000", 3, "doc.pdf")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        "doc.pdf: pages 1-30000000 out of range; it has 3 page(s), numbered from 1"
    )
    assert peak < 1_000_000
    assert parse_page_spec("2-3,1", 3) == [2, 3, 1]  # ranges inside the document still work


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header declaring width x height grey pixels, with one row of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * (width + 1), 9)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


@pytest.mark.timeout(120)
def test_decompression_bomb_png_fails_alone_and_the_folder_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_bomb.png").write_bytes(_png_header_only(50_000, 50_000))
    assert (folder / "a_bomb.png").stat().st_size < 200
    Image.fromarray(np.full((120, 90, 3), 255, np.uint8)).save(folder / "b_page.png")
    out = tmp_path / "out"
    code, text = invoke("parse", str(folder), "-o", str(out), "--quiet", "--no-text")
    assert code == 1
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "a_bomb.png" in errors[0]
    assert "more pixels than Pillow decodes (limit 178956970 pixels" in errors[0]
    assert json.loads((out / "b_page.json").read_text())["pages"][0]["status"] == "ok"


@pytest.mark.timeout(60)
def test_max_pixels_bounds_image_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000), 255).save(path)  # 9 M pixels in a small file
    with pytest.raises(RenderError) as info:
        list(iter_pages(path, max_pixels=1_000_000))
    assert str(info.value) == (
        f"{path}: page 1 failed: the image is 3000 x 3000 = 9000000 pixels, more than "
        "4 x --max-pixels (4000000) that layoutft decodes before scaling down; downscale it "
        "or raise --max-pixels"
    )
    # within 4x the cap it is decoded and scaled down to the cap, as before
    page = next(iter_pages(path, max_pixels=3_000_000))
    assert page.image.shape[0] * page.image.shape[1] <= 3_000_000


@pytest.mark.timeout(60)
def test_coco_with_a_giant_integer_or_deep_nesting_is_one_line(tmp_path: Path) -> None:
    digits = tmp_path / "digits.json"
    rest = '}], "annotations": [], "categories": []}'
    digits.write_text('{"images": [{"id": ' + "9" * 5000 + rest)
    with pytest.raises(DatasetError) as info:
        load_coco(digits)
    assert str(info.value) == (
        f"{digits}: refused: the JSON holds an integer of more than 4300 digits"
    )
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DatasetError, match=r"deep\.json: refused: the JSON nests"):
        load_coco(deep)
    code, text = invoke("validate", str(deep))
    assert code == 1 and text.startswith(f"Error: {deep}: refused") and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1


@pytest.mark.timeout(60)
def test_layout_json_with_a_giant_integer_or_deep_nesting_names_the_file(tmp_path: Path) -> None:
    digits = tmp_path / "doc.json"
    digits.write_text('{"schema": "layoutft.document/1", "pages": ' + "1" * 5000 + "}")
    with pytest.raises(DatasetError, match=r"doc\.json: refused: .* more than 4300 digits"):
        Document.from_json(digits)
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(DatasetError, match=r"deep\.json: refused: the JSON nests"):
        Document.from_json(deep)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-3", "Error: MODEL.ROI_HEADS.NUM_CLASSES -3: must be an integer >= 1"),
        ("999999999999", "Error: MODEL.ROI_HEADS.NUM_CLASSES 999999999999: must be at most 100000"),
    ],
)
def test_invalid_num_classes_override_is_one_line(
    tmp_path: Path, value: str, expected: str
) -> None:
    page = tmp_path / "page.png"
    Image.fromarray(np.full((64, 48, 3), 255, np.uint8)).save(page)
    code, text = invoke("parse", str(page), "MODEL.ROI_HEADS.NUM_CLASSES", value)
    assert code == 1 and "Traceback" not in text
    assert text.strip().splitlines()[-1] == expected
