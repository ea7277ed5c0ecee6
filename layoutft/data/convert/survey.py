"""List the labels of an export with their counts, before any label map renames, merges or
drops one (``layoutft convert --list-labels``). Nothing is written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from layoutft.data.coco import Problems
from layoutft.data.convert.common import DEFAULT_DPI, ReadOptions
from layoutft.data.labelmap import LabelMap, load_label_map
from layoutft.errors import DatasetError


@dataclass
class LabelSurvey:
    """The source labels of an export and what a label map would make of them.

    Attributes:
        fmt: the input format.
        pages: pages read.
        counts: regions per source label, exactly as the export names them.
        label_map: the map to apply, or None.
        notes: the reader's non-fatal remarks.
    """

    fmt: str
    pages: int
    counts: Counter[str]
    label_map: LabelMap | None = None
    notes: list[str] = field(default_factory=list)

    def fates(self) -> dict[str, str | None]:
        """Source label -> output name; None when the map drops it, ``""`` when the map
        neither maps nor drops it (the conversion would stop). Without a map, the label."""
        if self.label_map is None:
            return {label: label for label in self.counts}
        target, _ = self.label_map.resolve(self.counts, keep_unmapped=True)
        known = set(self.label_map.outputs)
        return {
            label: ("" if name is not None and name not in known else name)
            for label, name in target.items()
        }

    def format(self) -> str:
        """A table, most frequent label first: label, regions, output (or dropped/UNMAPPED);
        then the regions per output class when a map is given."""
        fates = self.fates()
        labels = sorted(self.counts, key=lambda k: (-self.counts[k], k))
        total = sum(self.counts.values())
        how = ""
        if self.label_map is not None:
            how = f", label map {self.label_map.source.removeprefix('label map ')}"
        lines = [f"{self.fmt}: {self.pages} pages, {total} regions, {len(labels)} labels{how}"]
        width = max([len(k) for k in labels] + [5])
        header = f"  {'label':<{width}}  regions"
        lines.append(header + ("  output" if self.label_map is not None else ""))
        for label in labels:
            row = f"  {label:<{width}}  {self.counts[label]:>7}"
            if self.label_map is not None:
                fate = fates[label]
                row += "  " + ("dropped" if fate is None else fate or "UNMAPPED")
            lines.append(row)
        if self.label_map is not None:
            per_output: Counter[str] = Counter()
            for label, n in self.counts.items():
                fate = fates[label]
                per_output["dropped" if fate is None else fate or "UNMAPPED"] += n
            extra = [k for k in ("dropped", "UNMAPPED") if k in per_output]
            names = [*self.label_map.outputs, *extra]
            listed = ", ".join(f"{n} {per_output[n]}" for n in names)
            lines.append(f"after the map: {listed}")
            unmapped = [k for k in labels if fates[k] == ""]
            if unmapped:
                lines.append(
                    f"{len(unmapped)} label(s) UNMAPPED would stop the conversion: add them to "
                    "the map's 'map' or 'drop', or pass --keep-unmapped"
                )
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def survey_labels(
    fmt: str,
    inputs: Sequence[str | Path],
    *,
    images_dir: str | Path | None = None,
    dpi: float | None = None,
    labels: LabelMap | str | Path | None = None,
    label_key: str | None = None,
    progress: bool = False,
    predictions: bool = False,
) -> LabelSurvey:
    """Read ``inputs`` like :func:`layoutft.data.convert.convert` and count their labels.

    Arguments mean what they mean for ``convert``; images the export names must exist
    (a page whose image is missing is a problem, as in a conversion). ``pdf`` pages are
    rendered into a temporary folder that is removed afterwards.

    Raises:
        DatasetError: unknown format, missing inputs, or the reader's problems, all listed.
    """
    from layoutft.data.convert import check_inputs, read_export

    check_inputs(fmt, inputs)
    if images_dir is not None and not Path(images_dir).is_dir():
        raise DatasetError(f"--images {images_dir}: not a folder")
    label_map = labels if isinstance(labels, LabelMap) or labels is None else load_label_map(labels)
    tmp = Path(tempfile.mkdtemp(prefix="layoutft-labels."))
    try:
        options = ReadOptions(
            staging=tmp,
            images_dir=Path(images_dir) if images_dir is not None else None,
            dpi=dpi if dpi is not None else DEFAULT_DPI,
            image_dpi=dpi,
            label_key=label_key,
            progress=progress,
            predictions=predictions,
        )
        problems = Problems()
        dataset = read_export(fmt, inputs, options, problems)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    problems.raise_if_any(f"in the {fmt} input", "Fix the records above and list again.")
    counts = Counter(r.label for p in dataset.pages for r in p.regions)
    return LabelSurvey(fmt, len(dataset.pages), counts, label_map, list(dataset.notes))
