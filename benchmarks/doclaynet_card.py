"""The card of the DocLayNet-class default model (issue #26), written from what produced it.

    python -m benchmarks.doclaynet_card --run RUN --train mix/train.json --sources built/ \\
        --model pretrained/layoutft_doclaynet_narrow_r50.pth --name layoutft-doclaynet-narrow-r50

Every figure comes from a file: the run's ``config.yaml`` and ``metrics.jsonl`` (schedule,
iterations, seconds per iteration), the merged training set (pages and regions per source
and class), each source's ``source.json`` written by ``layoutft dataset build`` (repository,
commit, licence, paths read, splits used, class map), the shipped checkpoint (size, sha256)
and ``results/real_pages.json`` / ``results/real_pages_sources.json`` (the model's scores).
The commands of the recipe are the ones in :data:`COMMANDS`. Output:
``results/doclaynet_model.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import RESULTS, markdown_table
from layoutft.pretrained import file_sha256

NAME = "doclaynet_model"

#: The recipe, in order (``layoutft`` commands; the clones are those of each source.json).
COMMANDS = [
    "# real sources: clone each repository at the commit below, then",
    "layoutft dataset build ctdar ICDAR2019_cTDaR_dataset_supplement built/ctdar --link",
    "layoutft dataset build pod ICDAR2017_POD_dataset_supplement built/pod --link",
    "layoutft dataset build hilex HiLEx built/hilex --link",
    "layoutft dataset build gallicorpora HTR-incunable-15e-siecle HTR-imprime-16e-siecle "
    "HTR-imprime-gothique-16e-siecle HTR-imprime-17e-siecle HTR-imprime-18e-siecle "
    "built/gallicorpora --link",
    "layoutft dataset build ocrd-structure gt_structure_text built/ocrd-structure --link",
    "# synthetic pages",
    "layoutft synth --engine html -o html --docs 1000 --pages 2 --dpi 100 --seed 101 "
    "--scan-look 0.25",
    "layoutft synth --engine latex --labels doclaynet -o latex-dl --docs 100 --dpi 100 --seed 11",
    "# merge (DocLayNet's classes, every source named) and print the training command",
    "python -m benchmarks.train_doclaynet --sources built --html html/annotations.json "
    "--latex latex-dl/annotations.json --work mix --output run --weight html=3 --weight latex=2 "
    "--weight ocrd-structure=0.25",
    "# session 1 (iterations 0-1200, constant LR after warm-up)",
    "layoutft train --config bundled_doclaynet --train mix/train.json "
    "--weights layoutft-docs-narrow-r50 --device cpu --output run SOLVER.MAX_ITER 1200 "
    "LAYOUTFT.DATALOADER.SOURCE_WEIGHTS \"[['html', 3.0], ['latex', 2.0], "
    "['ocrd-structure', 0.25]]\"",
    "# session 2: the same command + --resume, extended to 3600 with the LR decayed twice",
    'layoutft train ... --resume SOLVER.MAX_ITER 3600 SOLVER.STEPS "(2900, 3350)"',
    "# session 3: --resume again, extended to 5600: the LR back at 0.02 (the new steps lie",
    "# ahead), decayed twice at the end",
    'layoutft train ... --resume SOLVER.MAX_ITER 5600 SOLVER.STEPS "(4900, 5300)"',
    "layoutft export run/model_final.pth --format layoutft -o layoutft_doclaynet_narrow_r50.pth",
    "layoutft export layoutft_doclaynet_narrow_r50.pth -f onnx "
    "-o layoutft_doclaynet_narrow_r50.onnx",
]


def source_counts(train: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per source of a merged set: pages, regions per class, labelled classes."""
    names = {int(c["id"]): str(c["name"]) for c in train["categories"]}
    source_of = {int(i["id"]): str(i.get("source", "?")) for i in train["images"]}
    out: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"pages": 0, "regions": Counter(), "labelled": set()}
    )
    for img in train["images"]:
        entry = out[source_of[int(img["id"])]]
        entry["pages"] += 1
        labelled = img.get("labelled_category_ids")
        ids = names if labelled is None else labelled
        entry["labelled"].update(names[int(i)] for i in ids)
    for ann in train["annotations"]:
        out[source_of[int(ann["image_id"])]]["regions"][names[int(ann["category_id"])]] += 1
    return {
        k: {
            "pages": v["pages"],
            "regions": dict(v["regions"]),
            "labelled": sorted(v["labelled"]),
        }
        for k, v in sorted(out.items())
    }


def provenance(sources: Path | None) -> dict[str, dict[str, Any]]:
    """``source.json`` of each built source: repositories, licence, paths, splits, map."""
    if sources is None:
        return {}
    out = {}
    for manifest in sorted(sources.glob("*/source.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        out[manifest.parent.name] = {
            "repos": [{k: r[k] for k in ("url", "commit")} for r in data.get("repos", [])],
            "licence": data.get("licence"),
            "paths_read": data.get("paths_read"),
            "splits_used": data.get("splits_used"),
            "class_map": (data.get("class_map") or {}).get("name"),
        }
    return out


def schedule(run: Path) -> dict[str, Any]:
    """Iterations, LR, steps, sampler weights and the mean seconds per iteration of a run."""
    cfg = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    times = [float(r["time"]) for r in rows if "time" in r]
    sol = cfg["SOLVER"]
    return {
        "max_iter": int(sol["MAX_ITER"]),
        "steps": list(sol["STEPS"]),
        "base_lr": float(sol["BASE_LR"]),
        "ims_per_batch": int(sol["IMS_PER_BATCH"]),
        "warmup_iters": int(sol["WARMUP_ITERS"]),
        "min_size_train": list(cfg["INPUT"]["MIN_SIZE_TRAIN"]),
        "min_size_test": int(cfg["INPUT"]["MIN_SIZE_TEST"]),
        "source_weights": cfg["LAYOUTFT"]["DATALOADER"]["SOURCE_WEIGHTS"],
        "s_per_iter_median": sorted(times)[len(times) // 2] if times else None,
        "last_logged_iteration": max((int(r["iteration"]) for r in rows), default=None),
    }


def model_scores(results: Path, name: str) -> dict[str, Any]:
    """The model's entries in ``real_pages.json`` and ``real_pages_sources.json``."""
    out: dict[str, Any] = {}
    for file, key in (("real_pages.json", "real_pages"), ("real_pages_sources.json", "sources")):
        path = results / file
        if path.exists():
            entry = json.loads(path.read_text(encoding="utf-8")).get("models", {}).get(name)
            if entry is not None:
                out[key] = entry
    return out


def render(card: dict[str, Any]) -> str:
    """The card as Markdown."""
    lines = [f"# {card['name']}: DocLayNet's 11 classes, every kind of page", ""]
    m = card["model"]
    lines += [
        f"- file: `{m['file']}`, {m['size_mb']:.1f} MB, sha256 `{m['sha256']}`",
        f"- classes (model order): {', '.join(m['labels'])}; `--labels-view publaynet` gives "
        "PubLayNet's five (layoutft/labels.py)",
        "",
        "## Training data (pages and regions per source, as trained)",
        "",
    ]
    rows = []
    for name, c in card["data"].items():
        p = card["provenance"].get(name, {})
        repos = ", ".join(f"{r['url']}@{r['commit'][:10]}" for r in p.get("repos", []))
        rows.append(
            {
                "source": name,
                "pages": c["pages"],
                "regions": sum(c["regions"].values()),
                "labelled classes": ", ".join(c["labelled"]),
                "repository@commit": repos or "made by layoutft (commands below)",
                "licence": p.get("licence") or "Apache-2.0 (generated here)",
                "splits used": p.get("splits_used") or "-",
            }
        )
    lines += [markdown_table(rows), "", "## Schedule", ""]
    s = card["schedule"]
    lines += [
        f"{s['max_iter']} iterations x {s['ims_per_batch']} pages, SGD LR {s['base_lr']:g} "
        f"(warm-up {s['warmup_iters']}), decayed x0.1 at {s['steps']}; train sizes "
        f"{s['min_size_train']}, test {s['min_size_test']}; source weights "
        f"{s['source_weights']} (others 1.0); median {s['s_per_iter_median']:.2f} s/iteration "
        "on 2 CPU cores shared with other work. The final checkpoint is shipped (none was "
        "picked on an evaluation set).",
        "",
        "## Commands",
        "",
        "```",
        *card["commands"],
        "```",
        "",
    ]
    scores = card.get("scores", {})
    if scores:
        lines += ["## Scores (benchmarks/results/real_pages*.md)", ""]
        rp = scores.get("real_pages", {})
        for set_name in ("publaynet-20", "docbank-100"):
            if set_name in rp:
                lines.append(f"- {set_name}: bbox AP50 {rp[set_name]['bbox']['AP50']:.1f}")
        if "icdar2013-tables" in rp:
            i = rp["icdar2013-tables"]
            lines.append(
                f"- icdar2013-tables: precision {i['precision']:.3f}, recall {i['recall']:.3f}"
            )
        for set_name, e in scores.get("sources", {}).get("sets", {}).items():
            lines.append(f"- {set_name} dev: bbox AP50 {e.get('AP50', float('nan')):.1f}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="the training run folder")
    ap.add_argument("--train", type=Path, required=True, help="the merged training set")
    ap.add_argument("--sources", type=Path, default=None, help="the built sources folder")
    ap.add_argument("--model", type=Path, required=True, help="the shipped checkpoint")
    ap.add_argument("--name", required=True, help="the model's registry name")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    train = json.loads(args.train.read_text(encoding="utf-8"))
    labels = [c["name"] for c in sorted(train["categories"], key=lambda c: c["id"])]
    card = {
        "name": args.name,
        "model": {
            "file": args.model.name,
            "size_mb": args.model.stat().st_size / 2**20,
            "sha256": file_sha256(args.model),
            "labels": labels,
        },
        "data": source_counts(train),
        "provenance": provenance(args.sources),
        "schedule": schedule(args.run),
        "commands": COMMANDS,
        "scores": model_scores(args.out, args.name),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{NAME}.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    (args.out / f"{NAME}.md").write_text(render(card), encoding="utf-8")
    print(f"wrote {args.out / (NAME + '.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
