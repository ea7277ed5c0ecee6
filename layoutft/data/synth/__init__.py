"""Synthetic born-digital documents with known layout, for pretraining, tests and benchmarks.

:func:`generate_dataset` draws PDFs with PyMuPDF (one to three columns; titles, paragraphs,
bulleted/numbered lists, tables, figures with captions, running headers and page numbers;
Helvetica/Times/Courier and their bold faces; letter and A4; varied sizes and margins),
renders each page to PNG and writes the COCO dataset plus the same boxes in PDF points.

Boxes are the tight extent of the drawn ink: text boxes come from the glyph boxes of the
lines actually placed, tables and figures from the drawn rules, shapes and images.

Classes follow PubLayNet (text, title, list, table, figure):

- paragraphs, abstract, author lines and figure/table captions -> ``text`` (PubLayNet
  labels captions as text);
- document title and section headings -> ``title``;
- a whole list (all items and their markers) -> one ``list`` region;
- tables (rules and cell text, without their caption) -> ``table``;
- figures (charts, diagrams, pictures, without their caption) -> ``figure``;
- running headers and page numbers are drawn but NOT annotated, as in PubLayNet; pass a
  ``label_map`` to annotate them (or captions) as classes of their own.
"""

from layoutft.data.synth.dataset import PUBLAYNET_LABELS, generate_dataset

__all__ = ["PUBLAYNET_LABELS", "generate_dataset"]
