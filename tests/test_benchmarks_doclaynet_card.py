"""benchmarks.doclaynet_card: the card's figures come from the files that produced the model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmarks import doclaynet_card as card


def test_card_from_run_data_sources_and_checkpoint(tmp_path: Path) -> None:
    cats = [{"id": 1, "name": "Table"}, {"id": 2, "name": "Text"}]
    train = {
        "categories": cats,
        "images": [
            {"id": 1, "file_name": "a.png", "source": "ctdar", "labelled_category_ids": [1]},
            {"id": 2, "file_name": "b.png", "source": "html"},
            {"id": 3, "file_name": "c.png", "source": "html"},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1},
            {"id": 2, "image_id": 2, "category_id": 2},
            {"id": 3, "image_id": 3, "category_id": 2},
            {"id": 4, "image_id": 3, "category_id": 1},
        ],
    }
    (tmp_path / "train.json").write_text(json.dumps(train))
    built = tmp_path / "built" / "ctdar"
    built.mkdir(parents=True)
    (built / "source.json").write_text(
        json.dumps(
            {
                "repos": [{"url": "https://example.org/r", "commit": "a" * 40, "name": "r"}],
                "licence": "BSD 2-Clause",
                "splits_used": "TrainSet only",
                "class_map": {"name": "ctdar-doclaynet"},
            }
        )
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(
        "SOLVER: {MAX_ITER: 30, STEPS: [20, 25], BASE_LR: 0.02, IMS_PER_BATCH: 4, "
        "WARMUP_ITERS: 5}\nINPUT: {MIN_SIZE_TRAIN: [448], MIN_SIZE_TEST: 448}\n"
        "LAYOUTFT: {DATALOADER: {SOURCE_WEIGHTS: [[html, 3.0]]}}\n"
    )
    (run / "metrics.jsonl").write_text(
        "\n".join(
            json.dumps({"iteration": i, "time": t}) for i, t in ((9, 2.0), (19, 3.0), (29, 1.0))
        )
    )
    model = tmp_path / "m.pth"
    model.write_bytes(b"weights")
    out = tmp_path / "results"
    assert (
        card.main(
            [
                *("--run", str(run), "--train", str(tmp_path / "train.json")),
                *("--sources", str(tmp_path / "built"), "--model", str(model)),
                *("--name", "m", "--out", str(out)),
            ]
        )
        == 0
    )
    data = json.loads((out / "doclaynet_model.json").read_text())
    assert data["data"] == {
        "ctdar": {"pages": 1, "regions": {"Table": 1}, "labelled": ["Table"]},
        "html": {"pages": 2, "regions": {"Text": 2, "Table": 1}, "labelled": ["Table", "Text"]},
    }
    assert data["model"]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert data["schedule"]["max_iter"] == 30
    assert data["schedule"]["s_per_iter_median"] == 2.0
    md = (out / "doclaynet_model.md").read_text()
    assert "| ctdar | 1 | 1 | Table | https://example.org/r@aaaaaaaaaa | BSD 2-Clause |" in md
    assert "decayed x0.1 at [20, 25]" in md
