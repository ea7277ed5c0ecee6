"""``layoutft train --output`` never destroys a run it was not asked to: ``--resume`` checks the
stored config first, ``--overwrite`` removes only the files training writes (issue #16)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app

DATA = Path(__file__).parent / "fixtures" / "train"
COCO = str(DATA / "annotations.json")
TINY = [
    "INPUT.MIN_SIZE_TRAIN", "(128,)", "INPUT.MAX_SIZE_TRAIN", "200",
    "INPUT.MIN_SIZE_TEST", "128", "INPUT.MAX_SIZE_TEST", "200",
    "MODEL.RPN.POST_NMS_TOPK_TRAIN", "128", "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    "DATALOADER.NUM_WORKERS", "0", "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "0",
    "SOLVER.MAX_ITER", "1", "SOLVER.CHECKPOINT_PERIOD", "1", "TEST.DETECTIONS_PER_IMAGE", "50",
    "SEED", "1",
]  # fmt: skip


def train(out: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        ["train", "--config", "quick_cpu", "--train", COCO, "--output", str(out),
         "--device", "cpu", "--quiet", *args],
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "runA"
    code, stdout, stderr = train(out, *TINY)
    assert code == 0, stdout + stderr
    return out


@pytest.fixture
def run_copy(finished: Path, tmp_path: Path) -> Path:
    out = tmp_path / "runA"
    shutil.copytree(finished, out)
    (out / "notes.txt").write_text("mine")
    (out / "data.json").write_text("{}")
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_folder_holding_a_run_needs_resume_or_overwrite(run_copy: Path) -> None:
    before = snapshot(run_copy)
    code, _, stderr = train(run_copy, *TINY)
    assert code == 1
    assert stderr.startswith(f"Error: --output {run_copy} already holds a training run (")
    assert "pass --resume to continue it, --overwrite to replace its files" in stderr
    assert len(stderr.splitlines()) == 1 and snapshot(run_copy) == before
    code, _, stderr = train(run_copy, "--resume", "--overwrite", *TINY)
    assert code == 1 and "exclude each other" in stderr and snapshot(run_copy) == before


def test_overwrite_removes_only_the_files_training_writes(run_copy: Path) -> None:
    (run_copy / "model_0000007.pth").write_bytes(b"from an older, longer run")
    code, stdout, stderr = train(run_copy, "--overwrite", *TINY)
    assert code == 0, stdout + stderr
    names = {p.name for p in run_copy.iterdir()}
    assert "model_0000007.pth" not in names  # the old run's checkpoint is gone
    assert {"notes.txt", "data.json", "config.yaml", "model_final.pth"} <= names
    assert (run_copy / "notes.txt").read_text() == "mine"
    assert (run_copy / "data.json").read_text() == "{}"


def test_resume_with_another_config_names_the_keys_and_keeps_config_yaml(
    run_copy: Path,
) -> None:
    before = snapshot(run_copy)
    other = [*TINY, "MODEL.RPN.POST_NMS_TOPK_TRAIN", "64"]
    code, _, stderr = train(run_copy, "--resume", *other)
    assert code == 1
    error = stderr.splitlines()[-1]  # after the notes on the dataset's classes
    assert error.startswith("Error: --resume: the config differs from the run's ")
    assert "MODEL.RPN.POST_NMS_TOPK_TRAIN (128 -> 64)" in error
    assert "Traceback" not in stderr and snapshot(run_copy) == before
    # a longer run is an extension, not a different config
    code, stdout, stderr = train(run_copy, "--resume", *TINY, "SOLVER.MAX_ITER", "1")
    assert code == 0, stdout + stderr


def test_resume_from_a_checkpoint_that_does_not_fit_is_one_line(run_copy: Path) -> None:
    (run_copy / "config.yaml").unlink()  # nothing to compare: the checkpoint itself misfits
    code, _, stderr = train(run_copy, "--resume", *TINY, "MODEL.ROI_BOX_HEAD.FC_DIM", "64")
    assert code == 1
    error = stderr.splitlines()[-1]
    assert error.startswith(f"Error: --resume: the last checkpoint in {run_copy} does not fit")
    assert "size mismatch for roi_heads.box_head.fc1.weight" in error
    assert "Traceback" not in stderr and stderr.count("Error") == 1
