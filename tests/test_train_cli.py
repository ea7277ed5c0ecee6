"""``layoutft train`` / ``layoutft eval`` through the CLI: outputs, evaluation, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.config import load_config
from layoutft.engine.setup import check_norm, resolve_weights
from layoutft.engine.trainer import out_of_memory_advice

DATA = Path(__file__).parent / "fixtures" / "train"
COCO = str(DATA / "annotations.json")
TINY = [
    "INPUT.MIN_SIZE_TRAIN", "(128,)", "INPUT.MAX_SIZE_TRAIN", "200",
    "INPUT.MIN_SIZE_TEST", "128", "INPUT.MAX_SIZE_TEST", "200",
    "MODEL.RPN.POST_NMS_TOPK_TRAIN", "128", "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    "DATALOADER.NUM_WORKERS", "0", "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "0",
    "SOLVER.MAX_ITER", "2", "SOLVER.CHECKPOINT_PERIOD", "1", "TEST.EVAL_PERIOD", "2",
    "TEST.DETECTIONS_PER_IMAGE", "50",
    "LAYOUTFT.LOG_PERIOD", "1", "SEED", "1",
]  # fmt: skip


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code, text = invoke(
        "train", "--config", "quick_cpu", "--train", COCO, "--val", COCO, "--output", str(out),
        "--device", "cpu", "--quiet", *TINY,
    )  # fmt: skip
    assert code == 0, text
    return out


def test_train_writes_config_metrics_and_checkpoints(trained: Path) -> None:
    names = {p.name for p in trained.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "model_0000000.pth", "model_best.pth"} <= names
    assert {"model_final.pth", "last_checkpoint"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    cfg = load_config(trained / "config.yaml")  # the resolved config reads back
    assert list(cfg.LAYOUTFT.LABELS) == ["text", "title", "list", "table", "figure"]
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 5 and cfg.SEED == 1
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "time" in r]
    assert [r["iteration"] for r in steps] == [0, 1]
    assert {"loss_cls", "loss_mask", "total_loss", "lr", "data_time", "eta_seconds"} <= set(
        steps[0]
    )
    evals = [r for r in rows if "bbox/AP" in r]
    assert [r["iteration"] for r in evals] == [1] and "segm/AP50" in evals[0]
    assert 0.0 <= evals[0]["bbox/AP"] <= 100.0  # percent
    final = torch.load(trained / "model_final.pth", weights_only=True)
    assert final["labels"] == ["text", "title", "list", "table", "figure"]
    assert "optimizer" in final and "optimizer" in torch.load(  # final can be extended
        trained / "model_0000000.pth", weights_only=True
    )
    assert "optimizer" not in torch.load(trained / "model_best.pth", weights_only=True)


def test_resume_of_a_finished_run_does_nothing(trained: Path) -> None:
    before = (trained / "model_final.pth").stat().st_mtime_ns
    code, text = invoke(
        "train", "--config", "quick_cpu", "--train", COCO, "--output", str(trained),
        "--device", "cpu", "--resume", "--quiet", *TINY,
    )  # fmt: skip
    assert code == 0, text
    assert "resuming at iteration 2" in text
    assert (trained / "model_final.pth").stat().st_mtime_ns == before


def test_eval_command_prints_and_saves_metrics(trained: Path, tmp_path: Path) -> None:
    code, text = invoke(
        "eval", "--weights", str(trained / "model_final.pth"), "--data", COCO,
        "-o", str(tmp_path / "metrics.json"), "--predictions", str(tmp_path / "pred.json"),
        "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert code == 0, text
    assert "bbox:  AP" in text and "segm:  AP" in text and "figure" in text
    assert "regions (score >= 0.5)" in text
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == {"bbox", "segm", "document"}
    assert set(metrics["bbox"]["per_class"]) >= {"text"}
    assert metrics["document"]["score_threshold"] == 0.5
    results = json.loads((tmp_path / "pred.json").read_text())
    assert all(
        {"image_id", "category_id", "bbox", "score", "segmentation"} <= set(r) for r in results
    )
    kept = sum(r["score"] >= 0.5 for r in results)
    assert metrics["document"]["regions"] == kept


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_one_line_error(tmp_path: Path) -> None:
    code, text = invoke("train", "--config", "quick_cpu", "--train", COCO, "--device", "cuda")
    assert code == 1 and "--device cuda but no CUDA GPU is visible; use --device cpu" in text


def test_unknown_config_lists_shipped_ones() -> None:
    code, text = invoke("train", "--config", "quick_gpu", "--train", COCO, "--device", "cpu")
    assert code == 1 and "neither a file nor a shipped config" in text and "quick_cpu" in text


def test_odd_overrides_and_missing_weights_are_errors(tmp_path: Path) -> None:
    code, text = invoke("train", "--config", "quick_cpu", "--train", COCO, "SOLVER.MAX_ITER")
    assert code == 1 and "KEY VALUE pairs" in text
    code, text = invoke(
        "train", "--config", "quick_cpu", "--train", COCO, "--weights", str(tmp_path / "x.pth"),
        "--output", str(tmp_path), "--device", "cpu",
    )  # fmt: skip
    assert code == 1 and "x.pth does not exist" in text


def test_named_weights_resolve_through_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYOUTFT_OFFLINE", "1")
    monkeypatch.setenv("LAYOUTFT_HOME", str(tmp_path))
    x101 = load_config(
        DATA.parent.parent.parent / "configs" / "mask_rcnn_X_101_32x8d_FPN_publaynet.yaml"
    )
    with pytest.raises(Exception, match="publaynet-mask-rcnn-x101 is not cached"):
        resolve_weights("publaynet", x101)  # the config's own PubLayNet entry
    quick = load_config(DATA.parent.parent.parent / "configs" / "quick_cpu.yaml")
    with pytest.raises(Exception, match="publaynet-mask-rcnn-r50 is not cached"):
        resolve_weights("publaynet", quick)  # the registry's default alias
    assert resolve_weights("none", x101) is None and resolve_weights(None, quick) is None


def test_frozen_bn_from_scratch_and_oom_advice() -> None:
    cfg = load_config(DATA.parent.parent.parent / "configs" / "quick_cpu.yaml")
    assert check_norm(cfg, None) == []
    cfg.MODEL.RESNETS.NORM = "FrozenBN"
    assert "use MODEL.RESNETS.NORM BN (or GN)" in check_norm(cfg, None)[0]
    advice = out_of_memory_advice(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert advice is not None and "lower SOLVER.IMS_PER_BATCH" in str(advice)
    assert out_of_memory_advice(RuntimeError("shape mismatch")) is None


def test_resume_keeps_the_seed_the_run_started_with(trained: Path) -> None:
    from layoutft.engine.run import _previous_seed
    from layoutft.engine.setup import TrainOptions

    options = TrainOptions(config="quick_cpu", train=Path(COCO), output=trained, resume=True)
    assert _previous_seed(options) == 1  # config.yaml of the run; used when SEED is -1
