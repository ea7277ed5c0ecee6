"""Class-name sets shared by datasets (``data/``) and parse output (``parsing/``).

The bottom layer: plain constants, no torch, no layoutft imports.
"""

from __future__ import annotations

#: PubLayNet's five classes, in its category-id order
PUBLAYNET_CLASSES = ("text", "title", "list", "table", "figure")

#: DocLayNet's eleven classes, in its category-id order
DOCLAYNET_CLASSES = (
    "Caption",
    "Footnote",
    "Formula",
    "List-item",
    "Page-footer",
    "Page-header",
    "Picture",
    "Section-header",
    "Table",
    "Text",
    "Title",
)

#: DocLayNet class -> PubLayNet class (``Page-header``/``Page-footer``: none, see below)
DOCLAYNET_TO_PUBLAYNET: dict[str, str] = {
    "Caption": "text",
    "Footnote": "text",
    "Formula": "text",
    "List-item": "list",
    "Picture": "figure",
    "Section-header": "title",
    "Table": "table",
    "Text": "text",
    "Title": "title",
}

#: DocLayNet classes PubLayNet has no class for: its pages' running heads and feet are
#: not annotated at all
DOCLAYNET_DROPPED_IN_PUBLAYNET = ("Page-footer", "Page-header")
