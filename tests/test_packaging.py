"""Packaging: every sub-package ships in the wheel; configs and pretrained data too."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "layoutft").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert {"layoutft.configs", "layoutft.pretrained_data"} <= listed
    assert config["package-dir"] == {
        "layoutft.configs": "configs",
        "layoutft.pretrained_data": "pretrained",
    }


def test_shipped_configs_are_package_data() -> None:
    from importlib import resources

    configs = resources.files("layoutft.configs")
    assert configs.joinpath("Base-RCNN-FPN.yaml").is_file()
    assert configs.joinpath("zoo", "publaynet_mask_rcnn_R_50_FPN_3x.yaml").is_file()
    assert resources.files("layoutft.pretrained_data").joinpath("manifest.yaml").is_file()


def test_the_viewer_page_ships_as_package_data() -> None:
    from importlib import resources

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    names = ["viewer.html", "viewer.css", "viewer.js"]
    assert set(names) <= set(config["package-data"]["layoutft.parsing"])
    folder = resources.files("layoutft.parsing")
    page = folder.joinpath("viewer.html").read_text(encoding="utf-8")
    # the template's placeholders, each once; the style sheet and script are filled in
    for mark in ("__TITLE__", "__STYLE__", "__SCRIPT__", "__DATA__"):
        assert page.count(mark) == 1, mark
    assert "</script>" not in folder.joinpath("viewer.js").read_text(encoding="utf-8")
    assert folder.joinpath("viewer.css").read_text(encoding="utf-8").count("{") > 10
