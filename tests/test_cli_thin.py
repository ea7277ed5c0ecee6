"""The CLI stays thin: small functions, flags mapped to library values in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from layoutft.cli.flags import label_names, model_spec, parse_options
from layoutft.errors import OptionError
from layoutft.parsing.options import ParseOptions

CLI = Path(__file__).resolve().parents[1] / "layoutft" / "cli"
MAX_BODY_LINES = 60


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body, its docstring left out (a Typer command declares its
    flags in its signature, one option each: that is declaration, not logic)."""
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(body) > 1:
        first = body[1]
    assert node.end_lineno is not None
    return node.end_lineno - first.lineno + 1


def test_no_function_in_the_cli_is_long() -> None:
    long = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and body_lines(node) > MAX_BODY_LINES:
                long.append(f"{path.name}:{node.name} ({body_lines(node)} lines)")
    assert long == []
    # the measure itself: a 3-statement body after a docstring is 3 lines
    (fn,) = ast.parse('def f():\n    """doc."""\n    a = 1\n    b = 2\n    return a + b\n').body
    assert isinstance(fn, ast.FunctionDef) and body_lines(fn) == 3


def test_parse_options_are_built_only_by_cli_flags() -> None:
    # one mapping of flags to ParseOptions, shared by `parse` and `serve`
    built = [
        path.name
        for path in sorted(CLI.glob("*.py"))
        if "ParseOptions(" in path.read_text(encoding="utf-8")
    ]
    assert built == ["flags.py"]


def test_flags_to_parse_options() -> None:
    flags = {"dpi": 150.0, "no_text": True, "pages": "1-2", "quiet": True, "labels": "a,b"}
    options = parse_options(flags, progress=False)
    assert options == ParseOptions(dpi=150.0, text=False, pages="1-2", progress=False)
    assert parse_options({}) == ParseOptions()  # serve has no --pages: the default
    with pytest.raises(OptionError, match="dpi"):
        parse_options({"dpi": 0})


def test_flags_to_model_spec() -> None:
    flags = {
        "weights": "m.pth",
        "config": Path("c.yaml"),
        "labels": " text, title ,,figure",
        "device": "cpu",
        "allow_partial": True,
        "backend": "torch",
    }
    spec = model_spec(flags, ["MODEL.DEVICE", "cpu"])
    assert spec.weights == "m.pth" and spec.config == "c.yaml"
    assert spec.labels == ("text", "title", "figure")
    assert spec.overrides == ("MODEL.DEVICE", "cpu")
    assert (spec.device, spec.allow_partial, spec.backend) == ("cpu", True, "torch")
    assert spec.display_name == "m"
    assert label_names(None) is None and label_names("") == []
