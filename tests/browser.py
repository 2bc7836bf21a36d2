"""Browser checks with Debian's Chromium driven by Python Playwright (Playwright's own browser download does
not work on these machines). Import the ``browser`` fixture into a test module, then ``open_page``.

    from tests.browser import browser, open_page  # noqa: F401  (browser is a fixture)
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
SHOTS = Path("/tmp/pressroom-shots")  # screenshots to look at after a run
PHONE = {"width": 375, "height": 812}  # H5 designs are drawn 750 px wide = 375 CSS px
DESKTOP = {"width": 1280, "height": 800}
VIEWPORTS = {"375": PHONE, "1280": DESKTOP}


@contextmanager
def chromium():
    """A headless Chromium; skips the test (with the reason) when Debian's chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@dataclass
class PageCheck:
    scroll_width: int
    inner_width: int
    title_box: dict | None
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    shot: Path | None = None

    @property
    def overflows(self) -> bool:
        return self.scroll_width > self.inner_width

    @property
    def title_visible(self) -> bool:
        b = self.title_box
        return bool(b) and b["height"] > 0 and b["width"] > 0 and b["x"] >= 0 and b["x"] + b["width"] <= self.inner_width


def open_page(browser, path: Path, viewport: dict, title_selector: str = "#title", shot: str = "") -> PageCheck:
    """Open a local file at a viewport; measure horizontal overflow and the title's box; optionally take a
    full-page screenshot into SHOTS/<shot>.png."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda req: requests.append(req.url))
        page.goto(path.resolve().as_uri(), wait_until="load")
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        title = page.locator(title_selector).first
        box = title.bounding_box() if title.count() else None
        out = None
        if shot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            out = SHOTS / f"{shot}.png"
            page.screenshot(path=str(out), full_page=True)
        return PageCheck(scroll_width, inner_width, box, requests, out)
    finally:
        context.close()
