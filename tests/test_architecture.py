"""The layering docs/architecture.md describes, enforced on the source.

Imports are read from the AST of every module (function-level and TYPE_CHECKING imports
included: a cycle through a lazy import is still a cycle in the design).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "layoutft"

#: modules at the bottom: importing them must not load torch
NO_TORCH = [
    "layoutft.geometry",
    "layoutft.schema",
    "layoutft.errors",
    "layoutft.config",
    "layoutft.labels",
    "layoutft.formats.write",
]
#: wing -> packages it must never import (see docs/architecture.md)
FORBIDDEN = {
    "layoutft.data": [
        "layoutft.parsing",
        "layoutft.engine",
        "layoutft.model_export",
        "layoutft.corpus",
    ],
    "layoutft.render": [
        "layoutft.parsing",
        "layoutft.data",
        "layoutft.engine",
        "layoutft.modeling",
        "layoutft.corpus",
    ],
    "layoutft.parsing": [
        "layoutft.engine",
        "layoutft.data",
        "layoutft.model_export",
        "layoutft.corpus",
    ],
    # corpus runs sit above parsing/ and below cli/
    "layoutft.corpus": ["layoutft.engine", "layoutft.data", "layoutft.model_export"],
    "layoutft.modeling": ["layoutft.parsing", "layoutft.engine", "layoutft.data"],
    "layoutft.checkpoint": ["layoutft.parsing", "layoutft.engine", "layoutft.data"],
    "layoutft.config": [
        "layoutft.parsing",
        "layoutft.engine",
        "layoutft.data",
        "layoutft.modeling",
    ],
    "layoutft.geometry": ["layoutft."],
    "layoutft.errors": ["layoutft."],
    "layoutft.labels": ["layoutft."],
    "layoutft.schema": [
        "layoutft.parsing",
        "layoutft.render",
        "layoutft.modeling",
        "layoutft.formats",
    ],
    # PAGE/ALTO/hOCR writers: the bottom layer beside schema
    "layoutft.formats": [
        "layoutft.parsing",
        "layoutft.render",
        "layoutft.modeling",
        "layoutft.data",
        "layoutft.engine",
        "layoutft.corpus",
    ],
    # the OCR-D processor sits above parsing/ and formats/, below cli/
    "layoutft.ocrd": ["layoutft.engine", "layoutft.data", "layoutft.model_export"],
    # serving/ (layoutft serve) sits above parsing/ and below cli/
    "layoutft.serving": ["layoutft.engine", "layoutft.data", "layoutft.model_export"],
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The layoutft modules ``name`` imports (``from a import b`` counts ``a.b`` when that
    is a module, else ``a``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_package() -> None:
    edges = graph()
    assert "layoutft.parsing.parser" in edges
    assert "layoutft.parsing.postprocess" in edges["layoutft.parsing.parser"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    edges = graph()
    # a package's __init__ re-exporting its own modules is not a cycle of the design
    inner = {
        name: {m for m in deps if not (name.startswith(m + ".") and m in edges)}
        for name, deps in edges.items()
    }
    assert cycles(inner) == []


@pytest.mark.parametrize("wing", sorted(FORBIDDEN))
def test_wings_import_only_what_lies_below_them(wing: str) -> None:
    bad = []
    for name, deps in graph().items():
        if name == wing or name.startswith(wing + "."):
            for dep in deps:
                if any(
                    dep == f or dep.startswith(f if f.endswith(".") else f + ".")
                    for f in FORBIDDEN[wing]
                ):
                    bad.append(f"{name} -> {dep}")
    assert bad == []


def test_the_library_never_imports_the_cli() -> None:
    bad = [
        f"{name} -> {dep}"
        for name, deps in graph().items()
        if not name.startswith("layoutft.cli")
        for dep in deps
        if dep == "layoutft.cli" or dep.startswith("layoutft.cli.")
    ]
    assert bad == []


def test_only_the_cli_imports_serving() -> None:
    # the HTTP service is a top layer: parsing/, data/, render/... never depend on it
    bad = [
        f"{name} -> {dep}"
        for name, deps in graph().items()
        if not name.startswith(("layoutft.cli", "layoutft.serving"))
        for dep in deps
        if dep == "layoutft.serving" or dep.startswith("layoutft.serving.")
    ]
    assert bad == []


def test_no_loose_parse_modules_at_the_top() -> None:
    # the parse path lives in layoutft/parsing/, model export in layoutft/model_export/
    loose = {"pipeline", "predictor", "preprocess", "postprocess", "export", "visualize",
             "text", "reading_order"}  # fmt: skip
    assert sorted(loose & {p.stem for p in PACKAGE.glob("*.py")}) == []
    assert [p.name for p in PACKAGE.rglob("tracing.py")] == ["tracing.py"]


def test_bottom_modules_import_no_torch() -> None:
    code = (
        "import sys\n"
        f"for name in {NO_TORCH!r}:\n"
        "    __import__(name)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_onnx_parse_path_imports_no_torch() -> None:
    # the base install has no torch: `layoutft parse` with the ONNX backend must not need it
    sample = PACKAGE.parent / "examples" / "sample.pdf"
    code = (
        "import sys\n"
        "import layoutft\n"
        f"doc = layoutft.parse({str(sample)!r}, pages='1', dpi=50, backend='onnx')\n"
        "assert doc.pages[0].regions, 'no regions'\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'torchvision' not in sys.modules, 'torchvision was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
