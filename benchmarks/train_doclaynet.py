"""The DocLayNet-class default model's recipe (issue #26): merge the sources, print the command.

    python -m benchmarks.train_doclaynet --sources built/ --html html/annotations.json \\
        --latex latex/annotations.json --work mix/ --output run/
    python -m benchmarks.train_doclaynet ... --weight html=2 --weight ctdar=0.5   # other shares

Inputs (each optional, at least one):

- ``--sources DIR``: the real sources as ``layoutft dataset build`` writes them, one folder
  per source, ``DIR/<name>/train/annotations.json`` (images next to it or in ``images/``);
  the source is named ``<name>``. Their category names must be DocLayNet's; a source that
  annotates only some classes (cTDaR: Table) is marked as labelling only those.
- ``--html FILE``: synthetic HTML pages with DocLayNet's 11 classes (source ``html``).
- ``--latex FILE``: ``layoutft synth --engine latex`` pages (source ``latex``). PubLayNet's
  classes are converted with the built-in label map ``publaynet-doclaynet`` into
  ``WORK/latex-doclaynet`` (images hard-linked): only table -> Table and figure -> Picture
  are exact, so these pages label only Table and Picture; a set already in DocLayNet's
  classes is merged as it is.

Output: ``WORK/train.json``, the merge (``layoutft merge`` with every source named and
DocLayNet's category order), a summary per source, and the ``layoutft train`` commands of the
first session and of the following ones (``--resume`` with a larger ``SOLVER.MAX_ITER``).
``--weight NAME=W`` sets a source's share (default: equal shares, see
``LAYOUTFT.DATALOADER.SOURCE_WEIGHTS``). Nothing is trained here.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.inputs import ROOT

CONFIG = ROOT / "configs" / "bundled_doclaynet.yaml"
WEIGHTS = "layoutft-docs-narrow-r50"
#: Iterations per session: the config's SOLVER.MAX_ITER, added by every --resume session.
SESSION_ITERS = 800


def latex_input(path: Path, work: Path) -> Any:
    """The LaTeX set as a MergeInput in DocLayNet's classes (converted when in PubLayNet's)."""
    from layoutft.data.coco import load_coco
    from layoutft.data.convert import convert
    from layoutft.data.labelmap import PUBLAYNET_CLASSES
    from layoutft.data.merge import MergeInput

    names = {str(c["name"]) for c in load_coco(path).get("categories", [])}
    if not names <= set(PUBLAYNET_CLASSES):
        return MergeInput(path, name="latex")
    out = work / "latex-doclaynet"
    convert("coco", [path], out, labels="publaynet-doclaynet", link=True, overwrite=True)
    return MergeInput(out / "annotations.json", name="latex")


def collect_inputs(
    sources: Path | None, html: Path | None, latex: Path | None, work: Path
) -> list[Any]:
    """MergeInputs of every source, named; DatasetError when there is none or a source's
    classes are not DocLayNet's."""
    from layoutft.data.coco import load_coco
    from layoutft.data.labelmap import DOCLAYNET_CLASSES
    from layoutft.data.merge import MergeInput
    from layoutft.errors import DatasetError

    inputs = []
    if sources is not None:
        found = sorted(sources.glob("*/train/annotations.json"))
        if not found:
            raise DatasetError(f"--sources {sources}: no <name>/train/annotations.json in it")
        inputs += [MergeInput(p, name=p.parent.parent.name) for p in found]
    if html is not None:
        inputs.append(MergeInput(html, name="html"))
    if latex is not None:
        inputs.append(latex_input(latex, work))
    if not inputs:
        raise DatasetError("give at least one of --sources, --html, --latex")
    for item in inputs:
        names = {str(c["name"]) for c in load_coco(item.coco).get("categories", [])}
        foreign = sorted(names - set(DOCLAYNET_CLASSES))
        if foreign:
            raise DatasetError(
                f"{item.coco}: categories {foreign} are not DocLayNet's "
                f"({', '.join(DOCLAYNET_CLASSES)}); convert it with a label map "
                "(layoutft convert --from coco --labels MAP)"
            )
    return inputs


def summary(coco: dict[str, Any]) -> list[str]:
    """One line per source: pages, regions, the classes its pages label."""
    by_id = {c["id"]: c["name"] for c in coco["categories"]}
    pages = Counter(str(i.get("source", "")) for i in coco["images"])
    source_of = {i["id"]: str(i.get("source", "")) for i in coco["images"]}
    regions = Counter(source_of[a["image_id"]] for a in coco["annotations"])
    labelled: dict[str, set[str]] = {}
    for img in coco["images"]:
        ids = img.get("labelled_category_ids")
        names = set(by_id.values()) if ids is None else {by_id[i] for i in ids}
        labelled.setdefault(str(img.get("source", "")), set()).update(names)
    order = list(by_id.values())
    return [
        f"{name}: {pages[name]} pages, {regions[name]} regions, labels "
        + (
            "all classes"
            if labelled[name] == set(order)
            else ", ".join(n for n in order if n in labelled[name])
        )
        for name in sorted(pages)
    ]


def parse_weights(items: list[str]) -> list[list[Any]]:
    """``NAME=W`` strings -> ``[[NAME, W], ...]`` (SystemExit on a malformed one)."""
    out: list[list[Any]] = []
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out.append([name, float(value)])
        except ValueError:
            sep = ""
        if not sep or not name:
            raise SystemExit(f"--weight {item!r}: write NAME=WEIGHT, e.g. ctdar=0.5")
    return out


def train_args(
    train: Path, output: Path, weights: list[list[Any]], config: Path = CONFIG
) -> list[str]:
    """``layoutft train`` arguments of the first session."""
    args = ["train", "--config", str(config), "--train", str(train), "--weights", WEIGHTS]
    args += ["--device", "cpu", "--output", str(output)]
    if weights:
        args += ["LAYOUTFT.DATALOADER.SOURCE_WEIGHTS", repr(weights)]
    return args


def build(
    sources: Path | None,
    html: Path | None,
    latex: Path | None,
    work: Path,
    config: Path = CONFIG,
) -> tuple[Path, dict[str, Any]]:
    """Merge every source into ``work/train.json``; returns its path and the COCO dict."""
    from layoutft.data.coco import write_coco
    from layoutft.data.labelmap import DOCLAYNET_CLASSES
    from layoutft.data.merge import merge_coco

    work.mkdir(parents=True, exist_ok=True)
    inputs = collect_inputs(sources, html, latex, work)
    out = work / "train.json"
    merged = merge_coco(inputs, out, categories=DOCLAYNET_CLASSES).coco
    write_coco(out, merged)
    return out, merged


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sources", type=Path, help="folder of built sources (<name>/train/...)")
    ap.add_argument("--html", type=Path, help="HTML synth annotations.json (11 classes)")
    ap.add_argument("--latex", type=Path, help="LaTeX synth annotations.json")
    ap.add_argument("--work", type=Path, required=True, help="folder for the merge")
    ap.add_argument("--output", type=Path, default=Path("run-doclaynet"), help="training run")
    ap.add_argument("--weight", action="append", default=[], help="NAME=W: a source's share")
    ap.add_argument("--config", type=Path, default=CONFIG, help="training config")
    args = ap.parse_args(argv)
    from layoutft.errors import LayoutftError

    try:
        train, merged = build(args.sources, args.html, args.latex, args.work, args.config)
    except LayoutftError as err:
        sys.exit(f"error: {err}")
    weights = parse_weights(args.weight)
    print(f"wrote {train}: {len(merged['images'])} pages, {len(merged['annotations'])} regions")
    for line in summary(merged):
        print(f"  {line}")
    first = train_args(train, args.output, weights, args.config)
    print("first session:\n  layoutft " + shlex.join(first))
    more = [*first, "--resume", "SOLVER.MAX_ITER", str(2 * SESSION_ITERS)]
    print("each next session (MAX_ITER + 800; the last one adds its LR decay, e.g.")
    print('SOLVER.STEPS "(<0.8 N>, <0.93 N>)" for a final MAX_ITER N):')
    print("  layoutft " + shlex.join(more))


if __name__ == "__main__":
    main()
