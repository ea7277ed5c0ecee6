"""`layoutft view` output in a real browser: headless Chromium loads ``index.html`` from
``file://`` (no server, no network) and the test reads the DOM it rendered and a screenshot.

Filters are given in the URL (``#page=2&hide=table&minScore=0.8``), which the viewer reads
like its own controls. Skipped when ``chromium`` is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layoutft.parsing.viewer import write_viewer
from tests.view_helpers import documents

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Dom(HTMLParser):
    """What the test reads from the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.regions: list[dict[str, str | None]] = []
        self.checkboxes: dict[str, bool] = {}
        self.slider: str | None = None
        self.tags: list[str] = []
        self.svg_page: str | None = None
        self.text: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        classes = (a.get("class") or "").split()
        if tag == "g" and "region" in classes:
            self.regions.append(a)
        if tag == "input" and a.get("type") == "checkbox":
            self.checkboxes[a.get("data-label") or ""] = "checked" in a
        if tag == "input" and a.get("id") == "score":
            self.slider = a.get("value")
        if tag == "svg" and a.get("id") == "page":
            self.svg_page = a.get("data-page")
        if a.get("id") in ("region-text", "where", "score-value"):
            self._open = a.get("id")

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text[self._open] = self.text.get(self._open, "") + data


def rendered(tmp_path: Path, index: Path, fragment: str = "") -> Dom:
    dom = Dom()
    dom.feed(chromium(tmp_path, "--dump-dom", index.as_uri() + fragment))
    return dom


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("view")
    write_viewer(documents(folder), folder / "out")
    return folder / "out" / "index.html"


def test_first_page_draws_every_region(viewer: Path, tmp_path: Path) -> None:
    dom = rendered(tmp_path, viewer)
    page = documents(tmp_path)[0].pages[0]
    assert dom.svg_page == "1"
    assert len(dom.regions) == len(page.regions)
    assert sorted(int(r["data-id"] or -1) for r in dom.regions) == [r.id for r in page.regions]
    assert all(dom.checkboxes.values()) and len(dom.checkboxes) == 4
    assert "5 of 5 regions shown" in dom.text["where"]


def test_url_filters_show_exactly_the_expected_regions(viewer: Path, tmp_path: Path) -> None:
    dom = rendered(tmp_path, viewer, "#page=1&hide=table&minScore=0.8")
    page = documents(tmp_path)[0].pages[0]
    expected = [r.id for r in page.regions if r.label != "table" and r.score >= 0.8]
    assert 0 < len(expected) < len(page.regions)
    assert sorted(int(r["data-id"] or -1) for r in dom.regions) == expected == [0, 2]
    assert dom.checkboxes["table"] is False and dom.checkboxes["text"] is True
    assert dom.slider == "0.8" and dom.text["score-value"] == "0.80"  # the controls follow

    dom = rendered(tmp_path, viewer, "?hide=text#page=2")  # query and hash both count
    assert dom.svg_page == "2" and dom.regions == []
    dom = rendered(tmp_path, viewer, "#doc=2")  # the document whose source is gone
    assert len(dom.regions) == 1 and "gone.pdf" in dom.text["where"]


def test_region_text_is_shown_as_text(viewer: Path, tmp_path: Path) -> None:
    dom = rendered(tmp_path, viewer, "#sel=0")
    assert dom.text["region-text"].startswith("end</script><img src=x")  # shown literally
    assert dom.tags.count("img") == 2  # the two thumbnails, no injected image
    assert dom.tags.count("script") == 2


def test_screenshot_is_not_blank(viewer: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900", viewer.as_uri())
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape[:2] == (900, 1200)
    assert (pixels < 250).any(axis=2).mean() > 0.01
    # the page image (its grey block) is drawn: in the thumbnail and under the regions
    grey = (np.abs(pixels.astype(int) - 120).max(axis=2) < 12).sum()
    assert grey > 1000
