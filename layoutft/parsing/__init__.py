"""The parse wing: PDFs and page images to layout documents, in the order data flows.

``render`` (:mod:`layoutft.render`: PDF/image -> page images with their pixel<->point
transform and text layer) -> :mod:`~layoutft.parsing.detector` (the :class:`Detector`
protocol; :mod:`layoutft.model` below this package is layoutft's Mask R-CNN behind it, with
its test-time resize in :mod:`~layoutft.model.preprocess`) ->
:mod:`~layoutft.parsing.postprocess` (score thresholds, duplicates, polygons: one function)
-> :mod:`~layoutft.parsing.assemble` (points, PDF text, :mod:`reading order
<layoutft.parsing.reading_order>`) -> sinks that receive the pages
(:mod:`~layoutft.parsing.results`: JSON, JSONL, COCO; :mod:`~layoutft.parsing.visualize`).
:mod:`~layoutft.parsing.parser` drives it; :mod:`~layoutft.parsing.options` validates its
settings once.

The package is named ``parsing`` because ``layoutft.parse`` is the public function: a
subpackage of that name would replace it as an attribute of ``layoutft`` once imported.
Importing this package loads no torch.
"""

from __future__ import annotations

from layoutft.parsing.detector import Detections, Detector
from layoutft.parsing.options import ParseOptions
from layoutft.parsing.parser import Parser, load_model, parse

__all__ = ["Detections", "Detector", "ParseOptions", "Parser", "load_model", "parse"]
