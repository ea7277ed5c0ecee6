"""layoutft inside OCR-D: the ``ocrd-layoutft-segment`` processor
(:mod:`layoutft.ocrd.processor`, needs the ``ocrd`` package: ``pip install
'layoutft[ocrd]'``) and its ``ocrd-tool.json``. Nothing is imported here, so that layoutft
itself never needs ``ocrd``."""
