"""The ONNX backend: the bundled model's ONNX export gives the torch backend's regions, parse
runs without torch and OpenCV (the base install), and whatever needs torch says so in one
line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from benchmarks.parse_speed import BOX_PX, SCORE_TOL, compare_detections
from layoutft.draw import color_for_label
from layoutft.errors import OptionError
from layoutft.parsing.onnx_model import OnnxDetector, paste_masks
from layoutft.parsing.parser import ParseOptions, Parser, choose_backend, load_model
from layoutft.pretrained import BUNDLED_MODEL
from layoutft.render import iter_pages

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample.pdf"
REAL = REPO.parent / "shared" / "real"

#: what the base install lacks (the torch extra; OpenCV is in the dev extra only)
NOT_IN_BASE = ("torch", "torchvision", "cv2")
#: put first on sys.meta_path, makes NOT_IN_BASE look uninstalled
BLOCKER = textwrap.dedent(
    f"""
    import sys

    class _NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {NOT_IN_BASE!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, _NotInstalled())
    """
)


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return {name: load_model(backend=name, device="cpu") for name in ("torch", "onnx")}


def _run_base_install(tmp_path: Path, *cli_args: str) -> subprocess.CompletedProcess[str]:
    """``layoutft CLI_ARGS`` in a fresh interpreter where torch and OpenCV cannot be imported;
    the process fails if one got imported anyway."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    code = (
        "import sys\n"
        "from layoutft.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        f"loaded = [m for m in {NOT_IN_BASE!r} if m in sys.modules]\n"
        "assert not loaded, f'{loaded} imported'\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-c", code, *cli_args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


def test_paste_masks_equals_torch_paste() -> None:
    import torch

    from layoutft.modeling.paste import paste_masks_in_image

    rng = np.random.default_rng(0)
    probs = rng.random((12, 28, 28), dtype=np.float32)
    probs[:4] = np.clip(probs[:4] * 2 - 0.5, 0, 1)  # large confident areas
    x0 = rng.uniform(-5, 150, 12).astype(np.float32)
    y0 = rng.uniform(-5, 100, 12).astype(np.float32)
    sizes = rng.uniform(0.7, 90, (12, 2)).astype(np.float32)  # sub-pixel to large
    boxes = np.stack([x0, y0, x0 + sizes[:, 0], y0 + sizes[:, 1]], axis=1)
    boxes = np.clip(boxes, 0, [160, 120, 160, 120]).astype(np.float32)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.5)
    ours = paste_masks(probs, boxes, (120, 160))
    ref = paste_masks_in_image(torch.from_numpy(probs), torch.from_numpy(boxes), (120, 160))
    assert ours.dtype == np.bool_ and ours.shape == (12, 120, 160)
    assert ours.sum() > 1000  # the masks are not all empty
    # float32 sums in another order: at most a pixel whose probability is 0.5 to 1e-6 flips
    assert (ours != ref.numpy()).sum() <= 2


def _bilinear_reference(mask: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float64 [H, W]: each pixel centre mapped into the XYXY ``box`` and sampled bilinearly
    from ``mask`` [M, M] (zero outside it), one pixel at a time."""
    m_rows, m_cols = mask.shape
    out = np.zeros(size)
    for y in range(size[0]):
        row = (y + 0.5 - box[1]) / (box[3] - box[1]) * m_rows - 0.5  # mask cell coordinates
        for x in range(size[1]):
            col = (x + 0.5 - box[0]) / (box[2] - box[0]) * m_cols - 0.5
            r0, c0 = int(np.floor(row)), int(np.floor(col))
            for r, wr in ((r0, 1 - (row - r0)), (r0 + 1, row - r0)):
                for c, wc in ((c0, 1 - (col - c0)), (c0 + 1, col - c0)):
                    if 0 <= r < m_rows and 0 <= c < m_cols:
                        out[y, x] += wr * wc * mask[r, c]
    return out


def test_paste_masks_equals_per_pixel_bilinear_sampling() -> None:
    rng = np.random.default_rng(1)
    size = (40, 56)
    probs = rng.random((10, 7, 7), dtype=np.float32)
    probs[:5] = np.clip(probs[:5] * 2 - 0.5, 0, 1)
    x0, y0 = rng.uniform(-3, 50, 10), rng.uniform(-3, 35, 10)
    sides = rng.uniform(0.6, 40, (10, 2))  # sub-pixel to larger than the mask
    boxes = np.stack([x0, y0, x0 + sides[:, 0], y0 + sides[:, 1]], axis=1)
    boxes = np.clip(boxes, 0, [56, 40, 56, 40]).astype(np.float32)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.5)
    pasted = paste_masks(probs, boxes, size)
    assert pasted.dtype == np.bool_ and pasted.shape == (10, *size)
    assert 100 < pasted.sum() < pasted.size / 2
    for mask, box, ours in zip(probs, boxes, pasted, strict=True):
        reference = _bilinear_reference(mask.astype(np.float64), box.astype(np.float64), size)
        # float32 steps against float64: only a probability within 1e-5 of 0.5 may flip
        sure = np.abs(reference - 0.5) > 1e-5
        np.testing.assert_array_equal(ours[sure], reference[sure] >= 0.5)


def test_bundled_onnx_equals_torch_on_the_sample(models: dict[str, Any]) -> None:
    assert isinstance(models["onnx"], OnnxDetector)
    assert models["onnx"].labels == models["torch"].labels
    pages = [p.image for p in iter_pages(SAMPLE, dpi=100)]
    for image in pages:
        found = [m.predict([image], 1, "RGB", 0.05)[0] for m in models.values()]
        diff = compare_detections(*found)
        assert len(found[0]) > 3 and diff["equal"], diff


@pytest.mark.skipif(not REAL.exists(), reason="../shared/real is absent")
def test_onnx_equals_torch_on_real_pages(models: dict[str, Any]) -> None:
    paths = sorted((REAL / "icdar2021-pages").glob("*.png"))[:2]
    paths += sorted((REAL / "publaynet-20").glob("*.jpg"))[:2]
    assert paths
    for path in paths:
        (page,) = iter_pages(path)
        torch_det, onnx_det = (m.predict([page.image], 1, "RGB", 0.5)[0] for m in models.values())
        diff = compare_detections(torch_det, onnx_det)
        assert len(torch_det) > 0 and diff["equal"], (path.name, diff)


def test_parse_runs_without_torch_or_opencv_and_gives_the_torch_regions(
    tmp_path: Path, models: dict[str, Any]
) -> None:
    out, drawn = tmp_path / "sample.json", tmp_path / "drawn"
    args = ("parse", str(SAMPLE), "--dpi", "100", "-o", str(out), "--visualize", str(drawn))
    result = _run_base_install(tmp_path, *args, "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"{BUNDLED_MODEL} (11 labels, onnx)" in result.stderr
    onnx_doc = json.loads(out.read_text())
    torch_doc = Parser(models["torch"], ParseOptions(dpi=100)).parse(SAMPLE).to_dict()
    assert len(onnx_doc["pages"]) == len(torch_doc["pages"]) == 2
    for ours, theirs in zip(onnx_doc["pages"], torch_doc["pages"], strict=True):
        a, b = ours["regions"], theirs["regions"]
        assert len(a) == len(b) > 3
        assert [r["label"] for r in a] == [r["label"] for r in b]
        for ra, rb in zip(a, b, strict=True):
            assert np.allclose(ra["bbox_px"], rb["bbox_px"], atol=BOX_PX)
            assert abs(ra["score"] - rb["score"]) <= SCORE_TOL
        # the polygons are traced mask outlines, not the boxes they fall back to
        traced = [r for r in a if sum(len(ring) for ring in r["polygon_pt"]) > 4]
        assert len(traced) >= len(a) / 2
    # --visualize: a PNG per page with the regions drawn, and the annotated PDF
    assert sorted(p.name for p in drawn.iterdir()) == [
        "sample-p1.png",
        "sample-p2.png",
        "sample.annotated.pdf",
    ]
    page = np.asarray(Image.open(drawn / "sample-p1.png").convert("RGB"))
    assert page.shape == (1100, 850, 3)  # US Letter at 100 dpi
    first = onnx_doc["pages"][0]["regions"][0]
    x0, y0, _, y1 = (round(v) for v in first["bbox_px"])
    edge = page[(y0 + y1) // 2, x0 - 1 : x0 + 2]  # the box's left edge, half way down
    assert any(tuple(px) == color_for_label(first["label"]) for px in edge)


@pytest.mark.parametrize(
    "args",
    [
        ("export", "layoutft-docs-narrow-r50", "-f", "onnx", "-o", "m.onnx"),
        ("train", "--config", "c.yaml", "--train", "t.json"),
        ("parse", str(SAMPLE), "--backend", "torch"),
        ("parse", str(SAMPLE), "--weights", str(REPO / "pretrained/layoutft_docs_narrow_r50.pth")),
    ],
    ids=["export", "train", "backend-torch", "pth-weights"],
)
def test_torch_commands_say_how_to_install_torch(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _run_base_install(tmp_path, *args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
    assert line.endswith("needs torch: pip install 'layoutft[torch]'"), line


def test_backend_choice() -> None:
    assert choose_backend("model.onnx") == "onnx"
    assert choose_backend("model.pth") == "torch"
    assert choose_backend(None, "cpu") == "onnx"
    assert choose_backend(None, "cpu", "torch") == "torch"
    assert choose_backend(None, "cpu", tuned=True) == "torch"  # overrides need the graph
    assert choose_backend(None, "cuda") == "torch"
    with pytest.raises(OptionError, match="is an ONNX model"):
        choose_backend("model.onnx", backend="torch")
    with pytest.raises(OptionError, match="torch checkpoint"):
        choose_backend("model.pth", backend="onnx")
    with pytest.raises(OptionError, match="choose one of"):
        choose_backend(None, backend="tensorrt")


def test_an_exported_file_runs_by_path(tmp_path: Path, models: dict[str, Any]) -> None:
    onnx = models["onnx"]
    copy = tmp_path / "mine.onnx"
    copy.write_bytes(onnx.path.read_bytes())
    detector = load_model(str(copy))
    assert isinstance(detector, OnnxDetector) and detector.name == "mine"
    assert detector.metadata == onnx.metadata
    assert detector.metadata.min_size_test == 448 and detector.metadata.input_format == "BGR"
    with pytest.raises(OptionError, match="torch checkpoints"):
        load_model(str(copy), labels=["a", "b", "c", "d", "e"])


def test_onnx_backend_refuses_bf16(models: dict[str, Any]) -> None:
    with pytest.raises(OptionError, match="needs the torch backend"):
        Parser(models["onnx"], ParseOptions(precision="bf16"))
