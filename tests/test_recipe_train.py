"""The DocLayNet recipe end to end on tiny data: benchmarks.train_doclaynet merges three
built sources, an HTML-like set and a LaTeX set, prints the command; the command trains
configs/bundled_doclaynet.yaml (by path) from the bundled 5-class model with the
source-balanced sampler, and a finished run extended with --resume equals a straight run."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from benchmarks.train_doclaynet import CONFIG, main
from layoutft.checkpoint import load_weights
from layoutft.cli.app import app
from layoutft.data.labelmap import DOCLAYNET_CLASSES
from layoutft.engine.run import prepare_run, train
from layoutft.engine.setup import TrainOptions
from layoutft.errors import ConfigError
from layoutft.pretrained import resolve_weights
from tests.train_helpers import DATA, TINY

# the fixture's PubLayNet regions renamed per source (None: not annotated by that source)
SOURCES: dict[str, dict[str, str | None]] = {
    "built/ctdar": {"table": "Table"},
    "built/exams": {"text": "Text", "title": "Section-header", "list": "List-item"},
    "html": {"text": "Text", "title": "Title", "list": "List-item", "table": "Table",
             "figure": "Picture"},
}  # fmt: skip


def make_set(root: Path, rename: dict[str, str | None], categories: list[str]) -> Path:
    """The fixture pages with their regions renamed (others dropped), in ``root``."""
    coco = json.loads((DATA / "annotations.json").read_text())
    old = {c["id"]: c["name"] for c in coco["categories"]}
    cats = {name: i + 1 for i, name in enumerate(categories)}
    anns = []
    for a in coco["annotations"]:
        new = rename.get(old[a["category_id"]])
        if new is not None:
            anns.append({**a, "id": len(anns) + 1, "category_id": cats[new]})
    coco["annotations"] = anns
    coco["categories"] = [{"id": i, "name": n} for n, i in cats.items()]
    shutil.copytree(DATA / "images", root / "images")
    path = root / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


@pytest.fixture
def recipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[str], str]:
    """The driver's first-session command (split) and its printed summary."""
    for where, rename in SOURCES.items():
        folder = tmp_path / where / ("train" if where.startswith("built") else "")
        names = list(DOCLAYNET_CLASSES) if where == "html" else sorted(set(rename.values()))
        make_set(folder, rename, names)  # type: ignore[arg-type]
    latex = tmp_path / "latex"
    shutil.copytree(DATA, latex)  # PubLayNet classes, as `layoutft synth --engine latex`
    html = tmp_path / "html" / "annotations.json"
    main(["--sources", str(tmp_path / "built"), "--html", str(html),
          "--latex", str(latex / "annotations.json"), "--work", str(tmp_path / "mix"),
          "--output", str(tmp_path / "run"), "--weight", "html=2"])  # fmt: skip
    printed = capsys.readouterr().out
    line = printed.split("first session:\n  layoutft ")[1].splitlines()[0]
    return shlex.split(line), printed


def test_driver_merges_every_source_named_with_its_labelled_classes(
    tmp_path: Path, recipe: tuple[list[str], str]
) -> None:
    args, printed = recipe
    merged = json.loads((tmp_path / "mix" / "train.json").read_text())
    assert [c["name"] for c in merged["categories"]] == list(DOCLAYNET_CLASSES)
    by_source: dict[str, Any] = {}
    for img in merged["images"]:
        by_source.setdefault(img["source"], []).append(img.get("labelled_category_ids"))
    ids = {n: i + 1 for i, n in enumerate(DOCLAYNET_CLASSES)}
    assert by_source == {
        "ctdar": [[ids["Table"]]] * 2,
        "exams": [sorted(ids[n] for n in ("List-item", "Section-header", "Text"))] * 2,
        "html": [None, None],  # all 11 classes
        "latex": [[ids["Picture"], ids["Table"]]] * 2,  # only the exact part of PubLayNet's
    }
    fixture = json.loads((DATA / "annotations.json").read_text())
    n_tables = sum(a["category_id"] == 4 for a in fixture["annotations"])
    n_figures = sum(a["category_id"] == 5 for a in fixture["annotations"])
    latex_ids = {i["id"] for i in merged["images"] if i["source"] == "latex"}
    latex_anns = [a for a in merged["annotations"] if a["image_id"] in latex_ids]
    assert len(latex_anns) == n_tables + n_figures  # text, title, list dropped
    assert "latex: 2 pages" in printed and "labels Picture, Table" in printed
    assert "html: 2 pages" in printed and "labels all classes" in printed
    assert args[:3] == ["train", "--config", str(CONFIG)]
    assert args[-2:] == ["LAYOUTFT.DATALOADER.SOURCE_WEIGHTS", "[['html', 2.0]]"]
    assert "--resume SOLVER.MAX_ITER 1600" in printed


def options(args: list[str], output: Path, iters: int, resume: bool = False) -> TrainOptions:
    """The printed command as TrainOptions, made tiny (TINY, 2 pages per batch)."""
    opt = {args[i]: args[i + 1] for i in range(1, 11, 2)}
    overrides = [*args[11:], *TINY, "SOLVER.IMS_PER_BATCH", "2", "SOLVER.MAX_ITER", str(iters),
                 "SOLVER.CHECKPOINT_PERIOD", "0", "SOLVER.WARMUP_ITERS", "2"]  # fmt: skip
    return TrainOptions(
        config=opt["--config"],
        train=Path(opt["--train"]),
        weights=opt["--weights"],
        device=opt["--device"],
        output=output,
        resume=resume,
        progress=False,
        overrides=overrides,
    )


def test_the_printed_command_initialises_11_classes_from_the_bundled_model(
    tmp_path: Path, recipe: tuple[list[str], str]
) -> None:
    args, _ = recipe
    run = prepare_run(options(args, tmp_path / "run0", 1))
    assert run.inputs.labels == list(DOCLAYNET_CLASSES)
    cfg = run.inputs.config  # resolved once, then frozen: the run reads TrainSettings
    assert cfg.is_frozen() and run.inputs.settings.seed == int(cfg.SEED) >= 0
    assert run.max_iter == run.inputs.settings.solver.max_iter == int(cfg.SOLVER.MAX_ITER)
    with pytest.raises(ConfigError, match="frozen"):
        cfg.SOLVER.BASE_LR = 1.0
    note = next(n for n in run.notes if n.startswith("initialised from"))
    assert "3 of 11 classes matched by name; from INIT_CLASS_MAP: Caption<-text" in note
    assert "Section-header<-title" in note and "start from fresh weights" not in note
    old = load_weights(resolve_weights("layoutft-docs-narrow-r50"))
    assert old.labels == ["text", "title", "list", "table", "figure"]
    key = "roi_heads.box_predictor.cls_score.weight"
    new = run.model.state_dict()[key]
    src = {"Caption": 0, "Footnote": 0, "Formula": 0, "List-item": 2, "Page-footer": 0,
           "Page-header": 0, "Picture": 4, "Section-header": 1, "Table": 3, "Text": 0,
           "Title": 1}  # fmt: skip
    for j, name in enumerate(DOCLAYNET_CLASSES):
        assert torch.equal(new[j], old.state_dict[key][src[name]]), name
    assert torch.equal(new[11], old.state_dict[key][5])  # background
    # the sampler draws by source: 4 sources, html at 2/5 of the draws
    sampler = run.data._index_sampler  # type: ignore[attr-defined]
    assert sampler.source_p.tolist() == pytest.approx([0.2, 0.2, 0.4, 0.2])


@pytest.mark.timeout(600)
def test_extending_the_recipe_run_with_resume_equals_a_straight_run(
    tmp_path: Path, recipe: tuple[list[str], str]
) -> None:
    args, _ = recipe
    straight = train(options(args, tmp_path / "straight", 5))
    extended = train(options(args, tmp_path / "extended", 3))
    train(options(args, extended, 5, resume=True))
    a = torch.load(straight / "model_final.pth", map_location="cpu", weights_only=True)
    b = torch.load(extended / "model_final.pth", map_location="cpu", weights_only=True)
    assert a["iteration"] == b["iteration"] == 4
    assert a["labels"] == b["labels"] == list(DOCLAYNET_CLASSES)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    # the shipped file (weights, config, labels; no training state) stays under 40 MB
    shipped = tmp_path / "shipped.pth"
    cmd = ["export", str(straight / "model_final.pth"), "--format", "layoutft", "-o", str(shipped)]
    result = CliRunner().invoke(app, cmd)
    assert result.exit_code == 0, result.output
    assert shipped.stat().st_size < 40e6
    assert load_weights(shipped).labels == list(DOCLAYNET_CLASSES)
