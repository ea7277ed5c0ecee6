"""The model room: a trained detector loaded once, below the parse wing, training, export
and serving, which all use it.

:mod:`~layoutft.model.layout_model` (:class:`LayoutModel`: load, identify, predict),
:mod:`~layoutft.model.preprocess` (test-time resize like detectron2),
:mod:`~layoutft.model.detections` (:class:`Detections`, what ``predict`` returns),
:mod:`~layoutft.model.identity` (what a ``--weights`` string names) and
:mod:`~layoutft.model.settings` (``predict``'s precision/workers checks, the default score
threshold). It imports none of ``parsing/``, ``engine/``, ``model_export/``, ``serving/``,
``corpus/``, ``distributed/``, ``cli/``. Importing it loads no torch (``LayoutModel``
imports torch when a model is built).
"""

from __future__ import annotations

from layoutft.model.detections import Detections
from layoutft.model.layout_model import LayoutModel

__all__ = ["Detections", "LayoutModel"]
