"""The loop of docs/human-in-the-loop.md, end to end on two synthetic pages with the real
bundled model: parse (+ viewer, + Label Studio pre-annotations) -> a person corrects the
regions in Label Studio (simulated: the tasks get the pages' true regions as annotations, in
Label Studio's export format) -> convert -> train from the model that made the
pre-annotations -> eval -> parse with the new model.

Each step is the command the document gives (same flags), run through Typer's CliRunner.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.pretrained import BUNDLED_MODEL

TINY_TRAIN = [
    "SOLVER.MAX_ITER", "2", "SOLVER.STEPS", "(1,)", "SOLVER.WARMUP_ITERS", "1",
    "SOLVER.IMS_PER_BATCH", "2", "SOLVER.CHECKPOINT_PERIOD", "2",
    "INPUT.MIN_SIZE_TRAIN", "(160,)", "INPUT.MAX_SIZE_TRAIN", "320",
    "MODEL.RPN.POST_NMS_TOPK_TRAIN", "256", "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    "DATALOADER.NUM_WORKERS", "0", "LAYOUTFT.SOLVER.REFERENCE_IMS_PER_BATCH", "0",
    "SEED", "3",
]  # fmt: skip


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def annotator(tasks: list[dict[str, Any]], truth: dict[str, Any]) -> list[dict[str, Any]]:
    """What a person's Label Studio export looks like after correcting every page: each task
    keeps its prediction and gains an annotation holding the page's true regions (percent
    coordinates of the task image, as Label Studio exports them)."""
    names = {c["id"]: c["name"] for c in truth["categories"]}
    by_page = {(Path(img["pdf"]).name, img["page"]): img for img in truth["images"]}
    exported = []
    for task in tasks:
        image = by_page[(Path(task["data"]["source"]).name, task["data"]["page"])]
        width, height = image["width"], image["height"]
        result = [
            {
                "id": f"r{a['id']}",
                "type": "rectanglelabels",
                "from_name": "label",
                "to_name": "image",
                "original_width": width,
                "original_height": height,
                "value": {
                    "x": 100 * a["bbox"][0] / width,
                    "y": 100 * a["bbox"][1] / height,
                    "width": 100 * a["bbox"][2] / width,
                    "height": 100 * a["bbox"][3] / height,
                    "rotation": 0,
                    "rectanglelabels": [names[a["category_id"]]],
                },
            }
            for a in truth["annotations"]
            if a["image_id"] == image["id"]
        ]
        exported.append({**task, "id": len(exported) + 1, "annotations": [{"result": result}]})
    return exported


def boxes(coco: dict[str, Any], image_id: int) -> list[tuple[str, list[float]]]:
    names = {c["id"]: c["name"] for c in coco["categories"]}
    rows = [(names[a["category_id"]], a["bbox"]) for a in coco["annotations"]]
    return sorted(
        r for r, a in zip(rows, coco["annotations"], strict=True) if a["image_id"] == image_id
    )


def test_parse_correct_convert_train_eval_loop(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    # new documents (two one-page PDFs) and, for the simulated annotator, their truth
    cli("synth", "-o", "new", "--docs", "2", "--pages", "1", "--dpi", "72", "--quiet")
    truth = json.loads(Path("new/annotations.json").read_text())
    # the pages corrected in an earlier round (here: other synthetic pages)
    cli("synth", "-o", "round1", "--docs", "1", "--pages", "1", "--dpi", "72", "--seed", "5")

    # 1. parse: Label Studio tasks with predictions, and the viewer, in one run
    cli(
        "parse", "new/pdfs", "--dpi", "72", "-o", "review", "--format", "labelstudio",
        "--view", "viewer", "--quiet", "--labels-view", "publaynet",
    )  # fmt: skip
    assert Path("viewer/index.html").is_file()
    assert '<Label value="table"' in Path("review/labeling-config.xml").read_text()
    tasks = [
        task
        for name in ("doc000", "doc001")
        for task in json.loads(Path(f"review/{name}.labelstudio.json").read_text())
    ]
    assert [t["data"]["page"] for t in tasks] == [1, 1]
    assert all(t["predictions"][0]["model_version"] == BUNDLED_MODEL for t in tasks)
    assert sum(len(t["predictions"][0]["result"]) for t in tasks) > 0

    # 2. the person corrects the pre-annotations and exports the project (JSON)
    Path("export.json").write_text(json.dumps(annotator(tasks, truth)))

    # 3. convert: the corrected regions, exactly, as a COCO dataset
    cli("convert", "--from", "labelstudio", "export.json", "--images", "review", "-o", "corrected")
    corrected = json.loads(Path("corrected/annotations.json").read_text())
    assert len(corrected["images"]) == 2
    for k, image in enumerate(sorted(truth["images"], key=lambda i: i["pdf"])):
        got, want = boxes(corrected, corrected["images"][k]["id"]), boxes(truth, image["id"])
        assert [g[0] for g in got] == [w[0] for w in want]
        np.testing.assert_allclose([g[1] for g in got], [w[1] for w in want], atol=0.01)

    # 4. hold pages back, keep the earlier round's, fine-tune from the previous model
    out = cli("split", "corrected/annotations.json", "--ratios", "0.5,0.5", "--names", "train,test")
    assert "train: 1 images" in out and "test: 1 images" in out
    cli("merge", "round1/annotations.json", "corrected/train.json", "-o", "mix/train.json")
    cli(
        "train", "--config", "bundled_real", "--train", "mix/train.json",
        "--weights", BUNDLED_MODEL, "--device", "cpu", "--output", "run", "--quiet", *TINY_TRAIN,
    )  # fmt: skip
    assert Path("run/model_final.pth").is_file()

    # 5. measure on the held-back page, then parse with the new model
    cli(
        "eval", "--weights", "run/model_final.pth", "--data", "corrected/test.json",
        "-o", "metrics.json", "--device", "cpu", "--quiet",
    )  # fmt: skip
    metrics = json.loads(Path("metrics.json").read_text())
    assert 0.0 <= metrics["bbox"]["AP50"] <= 100.0
    cli("parse", "new/pdfs/doc000.pdf", "--weights", "run/model_final.pth", "-o", "after.json")
    after = json.loads(Path("after.json").read_text())
    assert after["model"]["name"] == "model_final"
    # classes in the training set's order (the head rows were carried over by name)
    mix = json.loads(Path("mix/train.json").read_text())
    assert after["model"]["labels"] == [c["name"] for c in mix["categories"]]
    assert sorted(after["model"]["labels"]) == sorted(c["name"] for c in corrected["categories"])
