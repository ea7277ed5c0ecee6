"""Headless Chromium through Playwright: lay out a page's HTML, collect its regions, screenshot.

One browser for the whole run, one context at the run's device scale (``dpi / 96``: CSS
pixels are 1/96 inch) and one tab per worker. The system's Chromium is used
(``shutil.which("chromium")`` or ``$LAYOUTFT_CHROMIUM``); nothing is downloaded.
"""

from __future__ import annotations

import math
import os
import shutil
from importlib.resources import files
from typing import Any

from layoutft.errors import DatasetError

_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--font-render-hinting=none",
]


def chromium_path() -> str:
    """The Chromium executable, or a one-line DatasetError saying how to get one."""
    path = os.environ.get("LAYOUTFT_CHROMIUM") or next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )
    if not path:
        raise DatasetError(
            "synth --engine html needs Chromium: apt-get install chromium "
            "(or set LAYOUTFT_CHROMIUM to a Chrome/Chromium executable)"
        )
    return path


def collect_script() -> str:
    return files("layoutft.data.synth.html").joinpath("collect.js").read_text(encoding="utf-8")


class Browser:
    """``async with Browser(scale, tabs) as b: png, raw = await b.render(i, html, w, h)``."""

    def __init__(self, scale: float, tabs: int) -> None:
        self.scale = scale
        self.tabs = tabs
        self._script = collect_script()
        self._pw: Any = None
        self._browser: Any = None
        self.pages: list[Any] = []

    async def __aenter__(self) -> Browser:
        try:
            from playwright.async_api import async_playwright
        except ImportError:
            raise DatasetError(
                "synth --engine html needs Playwright: pip install 'layoutft[synth]' "
                "(the system's Chromium is used; no `playwright install` needed)"
            ) from None
        exe = chromium_path()
        self._pw = await async_playwright().start()
        try:
            self._browser = await self._pw.chromium.launch(executable_path=exe, args=_FLAGS)
        except Exception as exc:
            await self._pw.stop()
            raise DatasetError(f"synth --engine html: cannot start {exe}: {exc}") from None
        context = await self._browser.new_context(
            device_scale_factor=self.scale,
            viewport={"width": 800, "height": 1000},
            java_script_enabled=True,
            offline=True,
        )
        self.pages = [await context.new_page() for _ in range(self.tabs)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()

    async def render(
        self, tab: int, html: str, width: float, height: float
    ) -> tuple[bytes, dict[str, Any]]:
        """PNG bytes of the page (``width`` x ``height`` CSS px at the run's scale) and the
        raw regions ``collect.js`` returned (CSS px), after it pruned overflowing blocks."""
        page = self.pages[tab]
        await page.set_viewport_size({"width": math.ceil(width), "height": math.ceil(height)})
        await page.set_content(html, wait_until="load")
        raw = await page.evaluate(self._script)
        png = await page.screenshot(
            type="png",
            clip={"x": 0, "y": 0, "width": width, "height": height},
            animations="disabled",
            caret="hide",
        )
        return png, raw
