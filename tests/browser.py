"""Browser checks with Debian's Chromium driven by Python Playwright (Playwright's own browser download does
not work on these machines). Import the ``browser`` fixture into a test module, then ``open_page``.

    from tests.browser import browser, open_page  # noqa: F401  (browser is a fixture)
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
# Screenshots to look at after a run, taken when PRESSROOM_SHOTS is set (a full-page shot costs about 0.3 s;
# the assertions never read them): `PRESSROOM_SHOTS=1 make test` puts them in /tmp/pressroom-shots.
SHOTS = Path("/tmp/pressroom-shots")
TAKE_SHOTS = bool(os.environ.get("PRESSROOM_SHOTS"))
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
            _PAGES.pop(id(b), None)
            b.close()


def shoot(page, name: str, **options) -> Path | None:
    """A screenshot into SHOTS/<name>.png when PRESSROOM_SHOTS is set; None otherwise."""
    if not TAKE_SHOTS:
        return None
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = SHOTS / f"{name}.png"
    page.screenshot(path=str(out), **options)
    return out


# One page per browser and viewport for open_page: a new context per file costs about 0.3 s, and the fit
# checks keep no state between files (tests that need a fresh context, cookies or no JavaScript make their own).
_PAGES: dict[int, dict[tuple, object]] = {}


def _page_at(browser, viewport: dict):
    pages = _PAGES.setdefault(id(browser), {})
    key = tuple(sorted(viewport.items()))
    if key not in pages or pages[key].is_closed():
        pages[key] = browser.new_context(viewport=viewport, device_scale_factor=1).new_page()
    return pages[key]


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
    """Open a local file at a viewport; measure horizontal overflow and the title's box; with PRESSROOM_SHOTS
    set, a full-page screenshot into SHOTS/<shot>.png."""
    page = _page_at(browser, viewport)
    requests: list[str] = []

    def asked(req) -> None:
        requests.append(req.url)

    page.on("request", asked)
    try:
        page.goto(path.resolve().as_uri(), wait_until="load")
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        title = page.locator(title_selector).first
        box = title.bounding_box() if title.count() else None
        out = shoot(page, shot, full_page=True) if shot else None
        return PageCheck(scroll_width, inner_width, box, requests, out)
    finally:
        page.remove_listener("request", asked)


# ---------------------------------------------------------------------------------------------
# axe-core (the accessibility engine the field uses), from the npm registry into the per-user cache by
# scripts/system-deps.sh --test; keep the version the same there.

AXE_VERSION = "4.14.1"
AXE_JS = (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
          / "pressroom" / f"axe-core-{AXE_VERSION}" / "node_modules" / "axe-core" / "axe.min.js")
SEVERE = ("serious", "critical")


@dataclass
class AxeResult:
    url: str
    width: int
    violations: list[dict]  # axe's own: id, impact, help, nodes[{target, failureSummary}]

    def severe(self) -> list[dict]:
        return [v for v in self.violations if v["impact"] in SEVERE]

    def counts(self) -> dict[str, int]:
        """impact -> number of failing nodes (what the field reports as 'N violations')."""
        out: dict[str, int] = {}
        for v in self.violations:
            out[v["impact"]] = out.get(v["impact"], 0) + len(v["nodes"])
        return out

    def describe(self, limit: int = 6) -> str:
        lines = []
        for v in self.severe():
            lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} nodes)")
            for n in v["nodes"][:limit]:
                summary = (n.get("failureSummary") or "").replace("\n", " ")[:220]
                lines.append(f"      {' '.join(map(str, n['target']))} — {summary}")
        return "\n".join(lines)


@lru_cache(maxsize=1)
def axe_source() -> str:
    if not AXE_JS.exists():
        pytest.skip(f"{AXE_JS} missing (bash scripts/system-deps.sh --test installs axe-core {AXE_VERSION})")
    return AXE_JS.read_text("utf-8")


def axe_run(page, url: str, before=None) -> AxeResult:
    """Load ``url`` in ``page``, optionally run ``before(page)`` (to switch a mode on), inject axe-core and run
    its default rule set (WCAG 2.0/2.1 A and AA plus best practices) on the whole page."""
    page.goto(url, wait_until="load")
    if before:
        before(page)
    page.add_script_tag(content=axe_source())
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target, failureSummary: n.failureSummary}))}));
    }""")
    return AxeResult(url, page.viewport_size["width"], found)


def axe_pages(browser, urls: dict, viewport: dict, before=None) -> dict:
    """``axe_run`` on each of ``urls`` (key -> URL), one after another in one page at ``viewport``."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    try:
        page = context.new_page()
        return {key: axe_run(page, url, before) for key, url in urls.items()}
    finally:
        context.close()


def axe_check(browser, url: str, viewport: dict, before=None) -> AxeResult:
    return axe_pages(browser, {url: url}, viewport, before)[url]
