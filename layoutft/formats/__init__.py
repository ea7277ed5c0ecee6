"""Layout results in the XML formats OCR pipelines exchange: PAGE XML (2019), ALTO 4 and
hOCR, plus the METS file that ties a document's per-page PAGE/ALTO files to its page
images.

The bottom layer, beside :mod:`layoutft.schema`: standard library only (ElementTree and
YAML for label maps), no torch, no parsing. :mod:`layoutft.formats.write` writes a whole
:class:`~layoutft.schema.Document`; ``layoutft parse --format pagexml|alto|hocr`` uses it
through a sink (:mod:`layoutft.parsing.xml_results`).
"""
