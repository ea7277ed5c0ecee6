"""Synthetic pages of many kinds laid out with HTML/CSS and rendered by headless Chromium.

``layoutft synth --engine html`` generates each page as HTML (:mod:`.kinds`: annual and
financial reports, newspapers, magazines, 16:9 slides, forms, exam papers, textbooks,
books, tables of contents and indexes, code documentation, formula-heavy papers), lays it
out in the system's Chromium through Playwright (:mod:`.browser`), reads every labelled
element's geometry back from the DOM (``collect.js``; :mod:`.geometry`) and writes a COCO
dataset with DocLayNet's 11 classes (:mod:`.dataset`).

Labelling conventions (DocLayNet's, and where DocLayNet is vague, these):

- one ``Text`` box per paragraph; a paragraph broken across columns gives one box per piece;
- every list item is its own ``List-item`` (marker included); nested items too; exam
  questions (number + stem) and their answer options / sub-items are List-items;
- running heads, dates and publication lines at the top are ``Page-header``; page
  numbers are ``Page-footer`` at the bottom and ``Page-header`` at the top; slide footers
  are ``Page-footer``;
- ``Title`` only for the document's title (first page of a report/paper/exam/form, a
  newspaper's front-page masthead, the title slide); chapter, article and slide titles
  and newspaper headlines are ``Section-header``;
- display formulas are ``Formula`` (their equation number inside the box); inline math
  stays part of its Text;
- figure/table/listing captions are ``Caption``; notes under a table and page footnotes
  are ``Footnote``;
- tables of contents: the "Contents" heading is a Section-header and each entry (its
  number, title, leaders and page number) one ``Text``; indexes: each entry (with its
  page numbers; sub-entries separately) one ``Text``, letter headings Section-header;
- code listings: one ``Text`` per listing, line numbers included (DocLayNet has no code
  class);
- marginalia (side notes), pull quotes, bylines, key-figure boxes and boxed examples:
  ``Text``, one per note/quote/box;
- advertisements: one ``Picture`` for the whole ad (its text is part of the picture);
- forms: each field (its label and its entry box/line together) one ``Text``; each
  checkbox option (box + label) one ``List-item``; a grid of entry cells one ``Table``;
- charts (inline SVG) and photos are ``Picture`` (without their caption); financial
  statements and data tables are ``Table`` (header bands and notes column included).
"""

from layoutft.data.synth.html.dataset import generate_html_dataset
from layoutft.data.synth.html.kinds import KINDS

__all__ = ["KINDS", "generate_html_dataset"]
