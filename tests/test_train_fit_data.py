"""``layoutft train --fit-data`` (issue #31): analyze's recommendation for the config and the
training set becomes the run's config; the user's explicit overrides win over it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from layoutft.config import load_config
from layoutft.data.analyze import Recipe, analyze_coco
from layoutft.engine.run import setup_config
from layoutft.engine.setup import TrainOptions, resolve_config_path


def forms_like(tmp_path: Path) -> Path:
    """One 762x1000 page with 100 regions, 10 of them one-line boxes 20x wider than high."""
    Image.fromarray(np.full((1000, 762, 3), 255, np.uint8)).save(tmp_path / "f.png")
    boxes = [[10, 10 * i, 400, 20] for i in range(10)] + [[500, 9 * i, 50, 50] for i in range(90)]
    coco = {
        "images": [{"id": 1, "file_name": "f.png", "width": 762, "height": 1000}],
        "annotations": [
            {"id": i + 1, "image_id": 1, "category_id": 1, "bbox": b, "area": b[2] * b[3]}
            for i, b in enumerate(boxes)
        ],
        "categories": [{"id": 1, "name": "answer"}],
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(coco))
    return path


def options(train: Path, *overrides: str, fit_data: bool = True) -> TrainOptions:
    return TrainOptions(
        config="finetune_cpu",
        train=train,
        train_images=train.parent,
        output=train.parent / "run",
        weights="none",
        fit_data=fit_data,
        overrides=list(overrides),
    )


def test_fit_data_applies_analyze_and_keeps_the_users_keys(tmp_path: Path) -> None:
    train = forms_like(tmp_path)
    user = ("INPUT.MIN_SIZE_TEST", "512", "SOLVER.MAX_ITER", "3")
    cfg = setup_config(options(train, *user), world_size=1).config
    # what `layoutft analyze --config finetune_cpu --min-size 512` recommends, by hand
    base = load_config(resolve_config_path("finetune_cpu"), list(user))
    expected = analyze_coco(json.loads(train.read_text()), recipe=Recipe.from_config(base, "x"))
    rec = expected.recommended
    assert list(cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0]) == [0.05, 0.25, 0.5, 1.0, 2.0, 4.0]
    assert tuple(cfg.INPUT.MIN_SIZE_TRAIN) == tuple(rec["INPUT"]["MIN_SIZE_TRAIN"])
    assert cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE == 256  # 100 regions on the page
    assert cfg.TEST.DETECTIONS_PER_IMAGE == rec["TEST"]["DETECTIONS_PER_IMAGE"]
    assert (cfg.INPUT.MIN_SIZE_TEST, cfg.SOLVER.MAX_ITER) == (512, 3)  # the user's values win


def test_fit_data_says_what_it_chose(tmp_path: Path) -> None:
    train = forms_like(tmp_path)
    notes = setup_config(options(train, "INPUT.MIN_SIZE_TEST", "512"), world_size=1).notes
    fitted = next(n for n in notes if n.startswith("--fit-data"))
    assert "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS [[0.05, 0.25, 0.5, 1.0, 2.0, 4.0]]" in fitted
    assert fitted.endswith("your overrides kept for INPUT.MIN_SIZE_TEST")
    assert any("aspect ratio 0.05" in n for n in notes)  # analyze's own note comes along


def test_without_fit_data_the_config_is_untouched(tmp_path: Path) -> None:
    cfg = setup_config(options(forms_like(tmp_path), fit_data=False), world_size=1).config
    assert list(cfg.MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS[0]) == [0.1, 0.25, 0.5, 1.0, 2.0, 4.0]
