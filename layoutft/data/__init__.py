"""Datasets: COCO input/output, validation, converters, synthetic data and statistics.

Light to import (no torch): the COCO helpers below only need the standard library,
PyYAML and Pillow (imported when used).
"""

from __future__ import annotations

from layoutft.data.coco import load_coco, write_coco
from layoutft.data.convert import ConvertResult, convert
from layoutft.data.fix import FixResult, fix_coco
from layoutft.data.labelmap import LabelMap, load_label_map
from layoutft.data.split import document_key, split_coco
from layoutft.data.validate import Issue, ValidationReport, validate_coco

__all__ = [
    "ConvertResult",
    "FixResult",
    "Issue",
    "LabelMap",
    "ValidationReport",
    "convert",
    "document_key",
    "fix_coco",
    "load_coco",
    "load_label_map",
    "split_coco",
    "validate_coco",
    "write_coco",
]
