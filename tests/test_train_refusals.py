"""Training refuses what it cannot do in one line (issue #27): solver values that cannot
train, a diverging learning rate, data without annotations, pages with too many regions,
and two runs into one folder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.engine.run_folder import run_files
from tests.train_helpers import DATA, TINY

COCO = DATA / "annotations.json"


def train(
    out: Path, *args: str, coco: Path = COCO, images: Path | None = DATA / "images"
) -> tuple[int, str]:
    more = [] if images is None else ["--train-images", str(images)]
    result = CliRunner().invoke(
        app,
        ["train", "--config", "quick_cpu", "--train", str(coco), *more, "--output", str(out),
         "--device", "cpu", "--quiet", *TINY, "SOLVER.MAX_ITER", "1", *args],
    )  # fmt: skip
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)  # a one-line error, never a traceback
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("SOLVER.MAX_ITER", "-1", "SOLVER.MAX_ITER is -1; it must be at least 1"),
        ("SOLVER.MAX_ITER", "0", "SOLVER.MAX_ITER is 0; it must be at least 1"),
        ("SOLVER.IMS_PER_BATCH", "0", "SOLVER.IMS_PER_BATCH is 0; it must be at least 1"),
        ("SOLVER.IMS_PER_BATCH", "-2", "SOLVER.IMS_PER_BATCH is -2; it must be at least 1"),
        ("SOLVER.BASE_LR", "-0.5", "SOLVER.BASE_LR is -0.5; it must be a positive number"),
        ("SOLVER.BASE_LR", "0.0", "SOLVER.BASE_LR is 0.0; it must be a positive number"),
    ],
)
def test_solver_values_that_cannot_train_are_one_line(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    out = tmp_path / "run"
    code, stderr = train(out, key, value, "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "2")
    assert code == 1
    assert stderr == f"Error: {message} (set it with {key} VALUE)\n"
    assert run_files(out) == []  # nothing that blocks the next run


def test_a_diverging_learning_rate_is_one_line_and_leaves_no_broken_checkpoint(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    code, stderr = train(
        out, "SOLVER.BASE_LR", "1e8", "SOLVER.MAX_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "1",
        "SOLVER.CLIP_GRADIENTS.ENABLED", "False", "SOLVER.WARMUP_ITERS", "0",
    )  # fmt: skip
    assert code == 1
    last = stderr.splitlines()[-1]  # after the notes on the config
    assert last.startswith("Error: training diverged at iteration ")
    assert "lower SOLVER.BASE_LR (now 1e+08)" in last
    assert stderr.count("Error") == 1 and "Traceback" not in stderr
    assert not (out / "model_final.pth").exists()
    for ckpt in out.glob("model_*.pth"):  # what was saved holds finite weights only
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        weights = state["model"]
        assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    metrics = (out / "metrics.jsonl").read_text() if (out / "metrics.jsonl").exists() else ""
    assert "NaN" not in metrics and "Infinity" not in metrics


def test_a_dataset_without_annotations_is_refused(tmp_path: Path) -> None:
    coco = json.loads(COCO.read_text())
    coco["annotations"] = []
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(coco))
    out = tmp_path / "run"
    code, stderr = train(out, coco=empty)
    assert code == 1
    assert stderr == (
        f"Error: {empty}: no annotations to train on (2 images, 0 annotations); "
        "annotate some pages or check the file\n"
    )
    assert run_files(out) == []


def crowded(tmp_path: Path, count: int) -> Path:
    """The fixture's first page with ``count`` small boxes of growing size."""
    coco = json.loads(COCO.read_text())
    coco["images"] = coco["images"][:1]
    anns = []
    for i in range(count):
        side = 2 + (i % 50) * 0.1
        x, y = (i * 7) % 300, (i * 13) % 400
        box = [x, y, side, side]
        polygon = [x, y, x + side, y, x + side, y + side, x, y + side]
        anns.append(
            {"id": i + 1, "image_id": coco["images"][0]["id"], "category_id": 1, "bbox": box,
             "segmentation": [polygon], "area": side * side, "iscrowd": 0}
        )  # fmt: skip
    coco["annotations"] = anns
    path = tmp_path / "crowded.json"
    path.write_text(json.dumps(coco))
    return path


def test_validate_warns_about_a_page_with_too_many_regions(tmp_path: Path) -> None:
    from layoutft.data.validate import MAX_REGIONS_PER_IMAGE

    path = crowded(tmp_path, MAX_REGIONS_PER_IMAGE + 1)
    result = CliRunner().invoke(app, ["validate", str(path), "--images", str(DATA / "images")])
    assert result.exit_code == 0, result.output
    assert (
        f"{MAX_REGIONS_PER_IMAGE + 1} regions, more than the {MAX_REGIONS_PER_IMAGE} that "
        "training keeps" in result.output
    )


def test_training_keeps_the_largest_regions_of_a_crowded_page(tmp_path: Path) -> None:
    from layoutft.data.loader import load_pages
    from layoutft.engine.setup import cap_regions

    path = crowded(tmp_path, 60)
    pages, _ = load_pages(path, DATA / "images")
    capped, notes = cap_regions(pages, limit=20)
    areas = (pages[0].boxes[:, 2] - pages[0].boxes[:, 0]) * (
        pages[0].boxes[:, 3] - pages[0].boxes[:, 1]
    )
    kept = capped[0]
    assert len(kept.boxes) == len(kept.classes) == len(kept.segmentations) == 20
    kept_areas = (kept.boxes[:, 2] - kept.boxes[:, 0]) * (kept.boxes[:, 3] - kept.boxes[:, 1])
    assert math.isclose(float(kept_areas.min()), float(sorted(areas)[-20]), rel_tol=1e-6)
    assert notes == [
        "1 training page has more than 20 regions (at most 60): training keeps the 20 "
        "largest of each"
    ]
    assert cap_regions(pages, limit=60) == (pages, [])


def test_two_runs_into_one_folder_cannot_overlap(tmp_path: Path) -> None:
    from layoutft.engine.run_folder import lock_run_folder

    out = tmp_path / "run"
    with lock_run_folder(out):  # another run holds it
        code, stderr = train(out)
    assert code == 1
    assert stderr == (
        f"Error: {out} is being written by another layoutft run; wait for it to finish or "
        "choose another output folder (--output)\n"
    )
    assert run_files(out) == []
    code, stderr = train(out)  # released: the run goes ahead
    assert code == 0, stderr
    assert (out / "model_final.pth").is_file()
