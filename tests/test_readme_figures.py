"""Every figure the README states comes from a results file under benchmarks/results.

The README's benchmark table names, in its last column, the results files each row reads; each
number of a row's result must be in those files (equal after rounding to the README's
decimals, or as a percentage of a fraction). Elsewhere in the README, a number with a unit of
measurement (pages/s, s/page, ms, MB, %, x, AP50 ...) must be in some results file. Targets
("target 1.5x", "the 0.5x target") and dates are not measurements and are not checked.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"

NUMBER = re.compile(r"(?<![\w.\-/])\d+(?:\.\d+)?(?:e-?\d+)?(?![\w])")
#: numbers with a unit of measurement, or AP figures, in prose
FIGURE = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?) ?(?:pages/s|s/page|s/iter|ms\b|MB\b|MiB|GiB|GB\b|%|x\b)"
    r"|\bAP(?:50)? (\d+(?:\.\d+)?)"
)
TARGET = re.compile(r"(?:target[^;,)|]*|the [\d.]+x target)", re.IGNORECASE)
#: dates and the names of sets that hold a number ("ICDAR 2013")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}|ICDAR 20\d\d")
LINK = re.compile(r"benchmarks/results/([\w.-]+)\.md")


def _numbers(text: str) -> list[float]:
    found = []
    for token in NUMBER.findall(text):
        try:
            found.append(float(token))
        except ValueError:
            continue
    return found


def _matches(token: str, values: list[float]) -> bool:
    """``token`` (as the README writes it) is one of ``values`` rounded to its decimals, or
    one of them as a percentage."""
    wanted = float(token)
    if "e" in token:  # 3.7e-4: as many significant digits as written
        return any(math.isclose(v, wanted, rel_tol=0.05) for v in values)
    decimals = len(token.split(".")[1]) if "." in token else 0
    return any(round(v, decimals) == wanted or round(v * 100, decimals) == wanted for v in values)


def _results_text(stems: list[str]) -> str:
    texts = []
    for stem in stems:
        for suffix in (".md", ".json"):
            path = RESULTS / f"{stem}{suffix}"
            if path.is_file():
                texts.append(path.read_text())
    return "\n".join(texts)


def _measured(text: str) -> str:
    """``text`` without its targets and dates."""
    return DATE.sub(" ", TARGET.sub(" ", text))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _benchmark_rows() -> list[list[str]]:
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| what | result | from"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def test_benchmark_table_figures_come_from_the_files_each_row_names() -> None:
    rows = _benchmark_rows()
    assert len(rows) >= 8
    missing = []
    for what, result, source in rows:
        stems = LINK.findall(source)
        assert stems, f"row {what!r} names no results file in its last column"
        for stem in stems:
            assert (RESULTS / f"{stem}.md").is_file(), f"row {what!r}: no {stem}.md"
        values = _numbers(_results_text(stems))
        for token in NUMBER.findall(_measured(result)):
            if not _matches(token, values):
                missing.append(f"{what[:40]}: {token}")
    assert not missing, "README figures in no results file they cite: " + "; ".join(missing)


def test_prose_figures_come_from_some_results_file() -> None:
    stems = sorted(p.stem for p in RESULTS.glob("*.md"))
    values = _numbers(_results_text(stems))
    table = {"|".join(row) for row in _benchmark_rows()}
    missing = []
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if line.startswith("|") and "|".join(_cells(line)) in table:
            continue  # checked against its own files above
        for match in FIGURE.finditer(_measured(line)):
            token = match.group(1) or match.group(2)
            if not _matches(token, values):
                missing.append(f"line {number}: {match.group(0)}")
    assert not missing, "README figures in no results file: " + "; ".join(missing)
