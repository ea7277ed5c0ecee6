"""Reproducible measurements of layoutft: run each as ``python -m benchmarks.<name>``.

Every script prints a Markdown table and writes ``benchmarks/results/<name>.json`` and
``<name>.md`` with the machine description, so numbers are comparable across runs.
"""
