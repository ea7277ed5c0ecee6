"""The layering docs/architecture.md describes, enforced on the source.

Imports are read from the AST of every module (function-level and TYPE_CHECKING imports
included: a cycle through a lazy import is still a cycle in the design).
"""

from __future__ import annotations

import ast
import functools
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
DOCS = PACKAGE.parent / "docs" / "architecture.md"
#: the parse side and the training side of docs/architecture.md: neither imports the other
PARSE_SIDE = [
    "parsing",
    "corpus",
    "corpus_session",
    "file_session",
    "serving",
    "distributed",
    "model_export",
]
TRAIN_SIDE = ["data", "engine"]
#: modules that load layoutft modules by name (importlib) -> the dict naming them (in
#: that module, or in the one given)
DYNAMIC = {
    "layoutft": ("layoutft", "_LAZY"),
    "layoutft.data.convert": ("layoutft.data.convert", "FORMATS"),
    "layoutft.data.sources.build": ("layoutft.data.sources", "SOURCES"),
}


def floors() -> dict[str, int]:
    """package (or top-level module) -> its floor, read from docs/architecture.md."""
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("<!-- floors: begin -->")[1].split("<!-- floors: end -->")[0]
    found: dict[str, int] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].isdigit():
            for name in cells[1].split(","):
                found[name.strip().strip("`")] = int(cells[0])
    return found


def unit(module: str) -> str:
    """The package or top-level module a module belongs to (``parsing``, ``errors``, ...);
    ``""`` for the root package."""
    return module.split(".")[1] if "." in module else ""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
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
    if name in DYNAMIC:  # modules loaded by name: the values of the declared dict
        holder, table = DYNAMIC[name]
        found |= dynamic_targets(modules()[holder], table)
    return {m for m in found if m in known and m != name}


def dynamic_targets(path: Path, table: str) -> set[str]:
    """The module names in the dict literal ``table`` of ``path`` (its values)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == table for t in targets):
            value = node.value
            assert isinstance(value, ast.Dict), table
            return {v.value for v in value.values if isinstance(v, ast.Constant)}
    raise AssertionError(f"{path}: no {table} dict")


@functools.cache
def graph() -> dict[str, set[str]]:
    """module -> the layoutft modules it imports (read-only: cached for all tests)."""
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


def test_every_package_has_a_floor() -> None:
    placed = floors()
    units = {unit(name) for name in modules()} - {""}
    assert sorted(units - set(placed)) == [], "place these in docs/architecture.md's floors"
    assert sorted(set(placed) - units) == [], "docs/architecture.md names what is not there"
    assert placed["errors"] == 1 and placed["cli"] == max(placed.values())


def test_imports_go_down_a_floor() -> None:
    placed = floors()
    bad = [
        f"{name} -> {dep}"
        for name, deps in graph().items()
        if unit(name)
        for dep in deps
        if unit(dep) and unit(dep) != unit(name) and placed[unit(dep)] >= placed[unit(name)]
    ]
    assert bad == []


def test_the_root_package_gives_the_library_only_its_version() -> None:
    used = []
    for name, path in modules().items():
        if not unit(name):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "layoutft" and not node.level:
                names = {alias.name for alias in node.names}
                used += [f"{name}: {n}" for n in names - {"__version__", "pretrained"}]
    assert used == []


@pytest.mark.parametrize(("side", "other"), [(PARSE_SIDE, TRAIN_SIDE), (TRAIN_SIDE, PARSE_SIDE)])
def test_the_two_flows_do_not_cross(side: list[str], other: list[str]) -> None:
    bad = [
        f"{name} -> {dep}"
        for name, deps in graph().items()
        if unit(name) in side
        for dep in deps
        if unit(dep) in other
    ]
    assert bad == []


def test_the_model_room_serves_both_flows_and_imports_neither() -> None:
    bad = [
        f"{name} -> {dep}"
        for name, deps in graph().items()
        if unit(name) == "model"
        for dep in deps
        if unit(dep) in PARSE_SIDE + TRAIN_SIDE
    ]
    assert bad == []
    edges = graph()
    assert "layoutft.model" in edges["layoutft.engine.evaluation"]


def test_modules_loaded_by_name_are_declared() -> None:
    # importlib.import_module of a layoutft module hides an edge from the AST: each such
    # module names its targets in one dict, whose values graph() adds as edges
    loaders = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
            ):
                loaders.add(name)
    # safe_load imports numpy's own modules; model_export.onnx the optional onnx packages
    assert loaders - set(DYNAMIC) == {"layoutft.checkpoint.safe_load", "layoutft.model_export.onnx"}
    assert set(DYNAMIC) <= loaders
    edges = graph()
    assert "layoutft.parsing.parser" in edges["layoutft"]
    assert any(m.startswith("layoutft.data.convert.") for m in edges["layoutft.data.convert"])


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
        "assert 'cv2' not in sys.modules, 'cv2 was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_library_never_imports_opencv() -> None:
    # OpenCV is in the dev extra only (the tests' reference), not in the base install
    found = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(name, a.name) for a in node.names if a.name.split(".")[0] == "cv2"]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "cv2":
                found.append((name, node.module))
    assert found == []
