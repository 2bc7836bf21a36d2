"""Accessibility of every public page type (GB/T 37668-2019, which follows WCAG 2.0/2.1; docs/outlets.md
#accessibility): the sample site as it lands in the outbox — the portal column, the press hall, the H5 page
and the compliance report — run through axe-core in a real Chromium at 375 px and 1280 px, with no serious
and no critical violation; and the 适老化 mode (larger text, higher contrast) one click away, without script.

One browser for the module; each page is loaded once per width (``audit``), the tests read the results.
``python -m tests.test_accessibility`` prints the table of counts per page type."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import channels
from pressroom.sites import coverage, presshall
from pressroom.sites import report as rp
from tests.browser import (AXE_VERSION, DESKTOP, PHONE, AxeResult, axe_check, axe_pages, axe_source,  # noqa: F401
                           browser, shoot)  # (browser is a fixture)

WIDTHS = {"375": PHONE, "1280": DESKTOP}
# Page type -> the file in the sample outbox (below) that stands for it.
PAGES = {
    "portal index": "portal/index.html",
    "portal release": "portal/work-report-2026-q3.html",
    "policy document": "portal/notice-2017-78.html",
    "emergency": "portal/rainstorm-2026-11.html",
    "press-hall home": "portal/presshall/index.html",
    "hall 发布通知": "portal/presshall/notices/index.html",
    "hall 发布视频实录": "portal/presshall/videos/index.html",
    "hall 新闻发布政策": "portal/presshall/policies/index.html",
    "hall 新闻发布图片": "portal/presshall/images/index.html",
    "hall 媒体报道集": "portal/presshall/coverage/index.html",
    "hall 全部发布": "portal/presshall/releases/index.html",
    "hall release page": "portal/presshall/releases/notice-2017-78.html",
    "spokesperson page": "portal/presshall/spokespeople/index.html",
    "search": "portal/presshall/search.html?q=淮宣〔2017〕78号",  # hits shown
    "H5 routine": "h5/work-report-2026-q3-h5.html",
    "H5 emergency": "h5/rainstorm-2026-11-h5.html",
    "report": "report/report.html",
}


def build_sample_outbox(out: Path, samples, registry, settings) -> Path:
    """The samples as published: portal pages and column index, the press hall (with the sample media
    store), H5 pages and the year's compliance report, laid out like ``outbox/``."""
    published = {rid: r.publish_at for rid, r in samples.items()}
    portal_dir, h5_dir = out / "portal", out / "h5"
    for d in (portal_dir, h5_dir, out / "report"):
        d.mkdir(parents=True, exist_ok=True)
    for rid, r in samples.items():
        ctx = channels.context_for(r, samples, settings)
        for name, target in (("portal", portal_dir), ("h5", h5_dir)):
            if name in r.channels:
                for fname, data in channels.render(name, r, ctx).files.items():
                    (target / fname).parent.mkdir(parents=True, exist_ok=True)
                    (target / fname).write_bytes(data)
        if "infographic" in r.channels:  # the posters and their thumbnails, for the press hall's gallery
            for fname, data in channels.render("infographic", r, ctx).files.items():
                (out / "assets" / rid).mkdir(parents=True, exist_ok=True)
                (out / "assets" / rid / fname).write_bytes(data)
    (portal_dir / "index.html").write_bytes(channels.portal.index_page(samples.values(), settings, published))
    now = max(published.values()) + timedelta(days=1)
    presshall.build_site(list(samples.values()), published, registry, settings, portal_dir / "presshall",
                         media=coverage.load(settings.content_dir), now=now,
                         infographics=presshall.infographics_in_outbox(dataclasses.replace(settings, outbox_dir=out),
                                                                       published))
    year = max(published.values()).astimezone(settings.tz).year
    rep = rp.build_report(samples.values(), registry, published, rp.Period(year), now, settings)
    rp.write_report(rep, out / "report")
    return out


def url_of(root: Path, page: str) -> str:
    path, _, query = page.partition("?")
    return (root / path).resolve().as_uri() + (f"?{query}" if query else "")


def care_on(page) -> None:
    """Switch the 适老化 mode on the way a reader does: one click on its button in the page tools."""
    page.get_by_text("适老化", exact=True).first.click()


@pytest.fixture(scope="module")
def outbox(samples, registry, settings, tmp_path_factory):
    return build_sample_outbox(tmp_path_factory.mktemp("a11y"), samples, registry, settings)


@pytest.fixture(scope="module")
def audit(browser, outbox) -> dict[tuple[str, str], AxeResult]:
    axe_source()  # skip (with the reason) before building anything when axe-core is not installed
    urls = {kind: url_of(outbox, page) for kind, page in PAGES.items()}
    return {(kind, w): r for w, vp in WIDTHS.items() for kind, r in axe_pages(browser, urls, vp).items()}


def test_every_page_type_is_in_the_sample_outbox(outbox):
    missing = [p for p in PAGES.values() if not (outbox / p.partition("?")[0]).is_file()]
    assert not missing, missing
    gallery = (outbox / PAGES["hall 新闻发布图片"]).read_text(encoding="utf-8")
    assert "infographic-thumb.jpg" in gallery  # the posters are among the pictures checked


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", PAGES)
def test_no_serious_or_critical_axe_violation(audit, kind, width):
    result = audit[(kind, width)]
    assert not result.severe(), f"{kind} at {width} px ({result.url}):\n{result.describe()}"


def test_axe_finds_what_it_should(browser, tmp_path):
    """The check can fail: a page with grey #777 text on white (4.47:1) and an unlabelled, unfocusable
    scrolling table is reported serious."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>t</title></head><body>'
                   '<main><h1>标题</h1><p style="color:#777;background:#fff;font-size:14px">灰色小字</p>'
                   '<div style="overflow:auto;width:100px"><table><tr><td style="white-space:nowrap">' + "很长的表格内容" * 20 +
                   "</td></tr></table></div></main></body></html>", "utf-8")
    ids = {v["id"] for v in axe_check(browser, bad.as_uri(), PHONE).severe()}
    assert {"color-contrast", "scrollable-region-focusable"} <= ids, ids


# ---------------------------------------------------------------------------------------------
# 适老化 mode (国办公开办函〔2021〕28号: larger text, higher contrast), one click, no script

CARE_PAGES = {"portal release": PAGES["portal release"], "emergency": PAGES["emergency"],
              "press-hall home": PAGES["press-hall home"], "spokesperson page": PAGES["spokesperson page"]}


def _styles(page) -> dict:
    """The reading size of the page's content (the mean font size of its text, weighted by characters), its
    smallest text, the page's background and the body text colour."""
    return page.evaluate("""() => {
        const main = document.querySelector('main');
        let chars = 0, sum = 0, smallest = 1000;
        const walk = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
        while (walk.nextNode()) {
            const n = walk.currentNode.textContent.trim().length, e = walk.currentNode.parentElement;
            if (!n || !e.checkVisibility()) continue;
            const size = parseFloat(getComputedStyle(e).fontSize);
            chars += n; sum += n * size; smallest = Math.min(smallest, size);
        }
        const p = ['.body p', '.list .summary', '.lede', 'p'].map(q => main.querySelector(q)).find(e => e) || main;
        return {mean: sum / chars, smallest, body_bg: getComputedStyle(document.body).backgroundColor,
                text: getComputedStyle(p).color};
    }""")


@pytest.mark.parametrize("kind", CARE_PAGES)
def test_care_mode_is_one_click_away_and_larger_with_higher_contrast(browser, outbox, kind):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(url_of(outbox, CARE_PAGES[kind]), wait_until="load")
        before = _styles(page)
        care_on(page)
        after = _styles(page)
        shoot(page, f"care-{kind.replace(' ', '-')}-375", full_page=True)
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    finally:
        context.close()
    assert after["mean"] >= before["mean"] * 1.25, (before, after)  # a quarter larger, without script
    assert after["smallest"] >= 18, after  # no small print left (适老化: main content at least 18 px)
    assert after["text"] == "rgb(0, 0, 0)" and after["body_bg"] == "rgb(255, 255, 255)", after
    assert scroll <= inner, f"{kind}: the larger text overflows the 375 px phone ({scroll} > {inner})"


@pytest.mark.parametrize("width", WIDTHS)
def test_care_mode_pages_have_no_serious_axe_violation(browser, outbox, width):
    urls = {kind: url_of(outbox, CARE_PAGES[kind]) for kind in ("portal release", "spokesperson page")}
    failures = [f"{kind} (适老化) at {width} px:\n{r.describe()}"  # the portal frame and the press-hall frame
                for kind, r in axe_pages(browser, urls, WIDTHS[width], before=care_on).items() if r.severe()]
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# The table of counts (for the closing note): python -m tests.test_accessibility [--keep DIR]


def main(argv: list[str]) -> int:
    from pressroom.releases.loader import load_all, load_registry
    from pressroom.settings import load_settings
    from tests.browser import chromium
    from tests.conftest import ROOT

    settings = load_settings(ROOT / "pressroom.toml")
    registry = load_registry(settings.content_dir)
    samples, problems = load_all(settings, registry)
    assert not problems, problems
    out = Path(argv[argv.index("--keep") + 1]) if "--keep" in argv else Path("/tmp/pressroom-a11y")
    shutil.rmtree(out, ignore_errors=True)
    build_sample_outbox(out, samples, registry, settings)
    print(f"axe-core {AXE_VERSION} · {datetime.now():%Y-%m-%d %H:%M} · serious+critical nodes "
          "(rules) per width; 'moderate/minor' are shown after the slash")
    print(f"{'page type':32} {'375 px':>16} {'1280 px':>16}")
    with chromium() as b:
        urls = {kind: url_of(out, page) for kind, page in PAGES.items()}
        results = [axe_pages(b, urls, vp) for vp in WIDTHS.values()]
        for kind in PAGES:
            cells = []
            for r in (by_width[kind] for by_width in results):
                c = r.counts()
                severe = c.get("serious", 0) + c.get("critical", 0)
                cells.append(f"{severe} ({len(r.severe())}) / {c.get('moderate', 0) + c.get('minor', 0)}")
            print(f"{kind:32} {cells[0]:>16} {cells[1]:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
