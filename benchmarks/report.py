"""Write ``benchmarks/README.md`` from the last results in ``benchmarks/results/``.

    python -m benchmarks.report

Run it after the benchmarks; the README then shows each result with its date, machine and
the exact command that produced it, and a summary of the targets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, markdown_table

README = Path(__file__).parent / "README.md"
FINDINGS = RESULTS / "findings.md"  # hand-written notes on the last run, included verbatim
ORDER = (
    "parse_speed",
    "vs_detectron2",
    "vs_detectron2_narrow",
    "memory",
    "train_speed",
    "accuracy",
    "finetune_real",
    "corpus",
)
# the runs the issue asks for: what the lead (or CI on a quiet machine) should run
FULL_COMMANDS = (
    "python -m benchmarks.parse_speed          # 50 pages, 150/200/300 dpi, CPU (+GPU)",
    "python -m benchmarks.parse_speed --backends --dpis 150,200  # torch vs ONNX, real pages",
    "python -m benchmarks.vs_detectron2        # needs detectron2 importable",
    "python -m benchmarks.vs_detectron2 --model narrow --rounds 4",
    "python -m benchmarks.memory               # 300 pages at 200 dpi",
    "python -m benchmarks.train_speed          # quick_cpu and R50-FPN, CPU (+GPU fp32/AMP)",
    "python -m benchmarks.accuracy             # synth_scratch from scratch, 800 its, 120/16 pages",
    "python -m benchmarks.finetune_real        # finetune_cpu from the bundled model on DTA books",
    "python -m benchmarks.active_loop          # layoutft serve learning from Label Studio, DTA",
    "python -m benchmarks.real_pages           # ../shared/real: PubLayNet, DocBank, ICDAR 2013",
    "python -m benchmarks.corpus               # local engine vs Ray (1, 2 workers) on real PDFs",
    "python -m benchmarks.install_size         # disk and time of the base install (PyPI)",
    "python -m benchmarks.report               # rewrites this README from results/",
)
INTRO = """# layoutft benchmarks

Reproducible measurements of layoutft. Each script runs as `python -m benchmarks.<name>`
(`--help` lists the size options), prints a Markdown table and PASS/FAIL per target, and
writes `results/<name>.json` (rows plus machine: CPU, cores, torch/torchvision, device),
`results/<name>.md` and, where a picture helps, `results/<name>.png`. Models and inputs are
made on the fly (`benchmarks/inputs.py`): synthetic born-digital PDFs from `layoutft synth`
pages; `narrow` is the detectron2-parity checkpoint (a narrow R50-FPN Mask R-CNN trained by
detectron2, tests/fixtures/d2_parity), `r50` detectron2's standard R50-FPN Mask R-CNN with
random weights (speed only; `TEST.DETECTIONS_PER_IMAGE` 20).

Full runs (the sizes the targets are defined for):

```
{commands}
```

`tests/test_benchmarks_smoke.py` runs each benchmark's core function on a tiny input.
"""


def _section(name: str, data: dict[str, Any]) -> str:
    machine = data.get("machine", {})
    lines = [f"## {name}", ""]
    lines.append(
        f"Run {machine.get('date', '?')} on {machine.get('cpu', '?')}, "
        f"{machine.get('cores', '?')} cores, torch {machine.get('torch', '?')}, "
        f"torchvision {machine.get('torchvision', '?')}, device "
        f"{machine.get('device', '?')}, load average {machine.get('load_avg_1m', '?')}:"
    )
    lines += ["", f"    {data.get('command', '?')}", ""]
    text = "\n".join(lines) + "\n"
    if data.get("rows"):
        text += markdown_table(data["rows"])
    for key, value in data.items():
        if key in ("benchmark", "machine", "rows", "command", "targets", "plot"):
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            text += f"\n{key}:\n\n{markdown_table(value)}"
        elif value not in ([], None, ""):
            text += f"\n- {key}: {value}\n"
    plot = data.get("plot", "")
    if isinstance(plot, str) and plot.endswith(".png"):
        text += f"\n![{name}](results/{plot})\n"
    return text


def build(results: Path = RESULTS) -> str:
    """The README text for the result files in ``results``."""
    found = {
        n: json.loads((results / f"{n}.json").read_text())
        for n in ORDER
        if (results / f"{n}.json").exists()
    }
    text = INTRO.format(commands="\n".join(FULL_COMMANDS))
    targets = [{"benchmark": n, **t} for n, d in found.items() for t in d.get("targets", [])]
    text += "\n## Targets (last run)\n\n" + markdown_table(targets)
    if FINDINGS.exists():
        text += "\n" + FINDINGS.read_text()
    for name, data in found.items():
        text += "\n" + _section(name, data)
    real = results / "real_pages.md"  # one entry per model, its own tables
    if real.exists():
        body = real.read_text().replace("\n## ", "\n### ")
        text += "\n#" + body + "\n![real_pages](results/real_pages.png)\n"
    missing = [n for n in ORDER if n not in found]
    if missing:
        text += "\nNot run yet: " + ", ".join(missing) + "\n"
    return text


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    README.write_text(build())
    print(f"wrote {README}")


if __name__ == "__main__":
    main()
