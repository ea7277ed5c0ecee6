"""One fine-tune of ``layoutft serve`` from Label Studio annotations, run as its own process
(``python -m layoutft.engine.labelstudio_finetune SPEC.json``) so the server keeps answering
while it trains and a crash of the training cannot take the server down. (It lives in
``engine/`` because it converts and trains; ``serving/`` imports neither.)

The server (:mod:`layoutft.serving.training`) has already fetched the project's annotated
tasks (``export.json``, each task's ``data.image`` the name of its file in ``images/``) and
writes the spec; this process:

1. converts the tasks (``layoutft convert --from labelstudio``) and puts the classes in the
   labelling config's order (a label the config lacks is dropped and counted);
2. holds pages back (:func:`heldout_pages`: a page is held out or not by its file name
   alone, so a page held out in one round stays held out in the next);
3. fine-tunes from the served model with ``layoutft train``'s recipe
   (:func:`layoutft.engine.run.train`, the spec's config and overrides; with ``epochs``,
   a schedule of that many passes over the training pages, :func:`schedule`);
4. evaluates the new model and the served one on the held-out pages (bbox AP50, percent)
   and writes the spec's ``result`` file (default ``result.json`` beside the spec):
   ``{"ok", "ap50", "ap50_before", "train_pages",
   "heldout_pages", "weights", "iterations", "notes"}`` or ``{"ok": false, "error"}``.

Coordinates are those of Label Studio's export (percent of ``original_width``/``_height``),
converted to pixels of the task images by ``convert``.
"""

from __future__ import annotations

import json
import math
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layoutft.errors import LayoutftError


def heldout_pages(names: Sequence[str], share: float) -> set[str]:
    """The file names held out for the check: those whose CRC-32 falls in the lowest
    ``share`` of its range (stable across rounds and machines); at least one page when there
    are two or more, and never all of them."""
    if not names or share <= 0:
        return set()
    held = {n for n in names if zlib.crc32(n.encode()) / 2**32 < share}
    ranked = sorted(names, key=lambda n: zlib.crc32(n.encode()))
    if not held and len(names) >= 2:
        held = {ranked[0]}
    if len(held) == len(names):
        held.discard(ranked[-1])
    return held


def ordered_classes(coco: dict[str, Any], labels: Sequence[str]) -> tuple[dict[str, Any], int]:
    """``coco`` with the categories ``labels`` (ids 1..K in that order); annotations whose
    class is not among them are dropped. Returns (the dataset, annotations dropped)."""
    names = {int(c["id"]): str(c["name"]) for c in coco["categories"]}
    new_id = {name: i for i, name in enumerate(labels, start=1)}
    kept, dropped = [], 0
    for ann in coco["annotations"]:
        target = new_id.get(names[int(ann["category_id"])])
        if target is None:
            dropped += 1
            continue
        kept.append({**ann, "category_id": target})
    categories = [{"id": i, "name": n, "supercategory": ""} for n, i in new_id.items()]
    return {**coco, "annotations": kept, "categories": categories}, dropped


def subset(coco: dict[str, Any], names: set[str], keep: bool) -> dict[str, Any]:
    """The images of ``coco`` whose file name is (``keep``) or is not in ``names``."""
    images = [img for img in coco["images"] if (img["file_name"] in names) == keep]
    ids = {img["id"] for img in images}
    annotations = [a for a in coco["annotations"] if a["image_id"] in ids]
    return {**coco, "images": images, "annotations": annotations}


def schedule(config: str, overrides: Sequence[str], epochs: float, pages: int) -> list[str]:
    """Overrides making a fine-tune ``epochs`` passes over ``pages`` pages (at least 20
    iterations): ``SOLVER.MAX_ITER``, the LR steps at 75% and 92.5% of it (as
    finetune_cpu's), warm-up 1/16 and one checkpoint at the end."""
    from layoutft.config import load_config
    from layoutft.engine.setup import resolve_config_path

    cfg = load_config(resolve_config_path(config), list(overrides))
    batch = max(int(cfg.SOLVER.IMS_PER_BATCH), 1)
    iters = max(20, math.ceil(epochs * pages / batch))
    steps = (max(1, round(0.75 * iters)), max(1, round(0.925 * iters)))
    return [
        "SOLVER.MAX_ITER", str(iters), "SOLVER.STEPS", str(steps),
        "SOLVER.WARMUP_ITERS", str(max(1, iters // 16)), "SOLVER.CHECKPOINT_PERIOD", str(iters),
    ]  # fmt: skip


def bbox_ap50(
    weights: str, gt: dict[str, Any], images: Path, device: str, spec: dict[str, Any]
) -> float:
    """bbox AP50 (percent) of the model ``weights`` on ``gt`` (NaN: no ground truth; 0 for
    a model none of whose classes the project labels, e.g. a DocLayNet model before its
    first fine-tune on a project with other class names)."""
    from layoutft.engine.evaluation import category_map, evaluate_coco, predict_dataset
    from layoutft.errors import DatasetError
    from layoutft.model import LayoutModel

    model = LayoutModel.from_checkpoint(
        weights,
        spec.get("config"),
        spec.get("model_overrides") or None,
        device=device,
        labels=spec.get("labels_of_weights"),
    )
    try:
        category_map(model.labels, gt["categories"])
    except DatasetError:
        return 0.0
    results = predict_dataset(model, gt, images)
    return float(evaluate_coco(gt, results, ("bbox",))["bbox"]["AP50"])


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """The job of ``spec`` (see the module docstring); the result to write."""
    from layoutft.data.coco import write_coco
    from layoutft.data.convert import convert
    from layoutft.engine.run import train
    from layoutft.engine.setup import TrainOptions

    work = Path(spec["work"])
    labels = [str(n) for n in spec["labels"]]
    converted = convert(
        "labelstudio",
        [work / "export.json"],
        work / "data",
        images_dir=work / "images",
        overwrite=True,
        link=True,
    )
    coco, dropped = ordered_classes(converted.coco, labels)
    notes = list(converted.notes)
    if dropped:
        notes.append(f"{dropped} region(s) with labels the labelling config lacks were left out")
    held = heldout_pages([img["file_name"] for img in coco["images"]], float(spec["holdout"]))
    train_part, test_part = subset(coco, held, False), subset(coco, held, True)
    write_coco(work / "data" / "train.json", train_part)
    write_coco(work / "data" / "heldout.json", test_part)
    images = work / "data" / "images"
    out = work / "run"
    overrides = list(spec["overrides"])
    if spec.get("epochs"):
        pages = len(train_part["images"])
        overrides += schedule(spec["config_train"], overrides, float(spec["epochs"]), pages)
    train(
        TrainOptions(
            config=str(spec["config_train"]),
            train=work / "data" / "train.json",
            train_images=images,
            output=out,
            weights=str(spec["weights"]),
            device=str(spec["device"]),
            overrides=overrides,
            overwrite=True,
            progress=False,
        )
    )
    final = out / "model_final.pth"
    after = bbox_ap50(str(final), test_part, images, spec["device"], {})
    before = bbox_ap50(str(spec["weights"]), test_part, images, spec["device"], spec)
    log = (out / "metrics.jsonl").read_text().splitlines()
    iterations = max((json.loads(line).get("iteration", -1) + 1 for line in log), default=0)
    return {
        "ok": True,
        "ap50": None if math.isnan(after) else round(after, 3),
        "ap50_before": None if math.isnan(before) else round(before, 3),
        "train_pages": len(train_part["images"]),
        "heldout_pages": len(test_part["images"]),
        "train_files": sorted(img["file_name"] for img in train_part["images"]),
        "heldout_files": sorted(img["file_name"] for img in test_part["images"]),
        "weights": str(final),
        "iterations": iterations,
        "overrides": overrides,
        "notes": notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job of the spec file ``argv[0]``; write its result (``spec["result"]``, default
    ``result.json`` beside the spec). Exit status 0 when the job ran (``ok`` true), 1 when it
    failed (the error in the result)."""
    from layoutft.outputs import atomic_path

    args = list(sys.argv[1:] if argv is None else argv)
    spec_path = Path(args[0])
    spec = json.loads(spec_path.read_text())
    try:
        result = run(spec)
    except LayoutftError as exc:
        result = {"ok": False, "error": " ".join(str(exc).split())}
    except Exception as exc:  # reported to the server, which keeps the old model
        import traceback

        traceback.print_exc()
        result = {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
    with atomic_path(spec.get("result") or spec_path.parent / "result.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
