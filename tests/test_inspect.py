"""The inspection watchdog on a real outbox and ledger: each machine-checkable one-strike and deduction item
is found on what is live, a column about to go stale is reported days before, and the press office is
alerted once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

import channels
from pressroom.delivery import engine
from pressroom.delivery.ledger import Ledger, worker_token
from pressroom.releases.catalog import validate
from pressroom.settings import load_settings
from pressroom.sites import inspect as watchdog
from pressroom.sites.site import refresh_portal_column
from tests.conftest import private_copy

LIVE = ("water-price-rumor", "work-report-2026-q3")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Two samples published on the portal now (column, feeds and press hall built), in a private copy."""
    monkeypatch.setenv("PRESSROOM_CONFIG", str(private_copy(tmp_path)))
    settings = load_settings()
    catalog = validate(settings, render=False)
    ledger = Ledger(settings.ledger_url)
    for rid in LIVE:
        r = catalog.releases[rid]
        rd = channels.render("portal", r, catalog.context(r))
        assert engine.deliver(engine.Job(rid, "portal", r.version), rd, settings, worker_token()).state == "published"
    refresh_portal_column(settings, catalog, ledger)
    return settings, catalog, ledger


def run(site, days: float = 0, warn_days: int = 3):
    settings, catalog, ledger = site
    return watchdog.inspect_site(settings, catalog, ledger, datetime.now(timezone.utc) + timedelta(days=days), warn_days)


def items(result, severity=None):
    return {(f.item, f.where) for f in result.findings if severity is None or f.severity == severity}


def test_a_fresh_site_has_no_freshness_finding_and_a_stale_one_fails(site):
    assert not [f for f in run(site).findings if "未更新" in f.item]
    soon = run(site, days=12)
    assert ("栏目将满14天未更新", "门户“新闻发布”栏目") in items(soon, watchdog.SOON)
    assert all("还剩" in f.detail for f in soon.of(watchdog.SOON))
    stale = run(site, days=15)
    assert ("栏目超过14天未更新", "门户“新闻发布”栏目") in items(stale, watchdog.FAIL) and not stale.passed
    assert ("栏目超过14天未更新", "新闻发布厅“全部发布”") in items(stale, watchdog.FAIL)


def test_a_press_conference_column_has_six_months(site):
    import dataclasses

    settings, catalog, ledger = site
    rid = "work-report-2026-q3"
    catalog.releases[rid] = dataclasses.replace(catalog.releases[rid], press_conference=True)
    assert not [f for f in run(site, days=30).findings if "发布通知" in f.where and "未更新" in f.item]
    assert ("栏目超过183天未更新", "新闻发布厅“发布通知”") in items(run(site, days=190), watchdog.FAIL)


def test_a_page_without_time_or_source_and_an_oversized_page_are_found(site):
    settings = site[0]
    page = settings.outbox_dir / "portal" / "water-price-rumor.html"
    html = page.read_text(encoding="utf-8")
    page.write_text(re.sub(r"<time\b[^>]*>", "<span>", html).replace("来源：", ""), encoding="utf-8")
    heavy = settings.outbox_dir / "portal" / "assets" / "work-report-2026-q3" / "heavy.png"
    heavy.parent.mkdir(parents=True, exist_ok=True)
    heavy.write_bytes(b"\0" * (1100 * 1024))
    other = settings.outbox_dir / "portal" / "work-report-2026-q3.html"
    other.write_text(other.read_text(encoding="utf-8").replace(
        "</article>", '<img src="assets/work-report-2026-q3/heavy.png" alt="大图"></article>'), encoding="utf-8")
    result = run(site)
    assert ("信息无发布时间", "portal/water-price-rumor.html") in items(result, watchdog.FAIL)
    assert ("信息未注明来源", "portal/water-price-rumor.html") in items(result, watchdog.DEDUCT)
    assert ("页面过大", "portal/work-report-2026-q3.html") in items(result, watchdog.DEDUCT)


def test_blank_columns_and_broken_links_are_found(site):
    settings = site[0]
    result = run(site)
    assert ("空白栏目", "新闻发布厅“媒体报道集”") in items(result, watchdog.DEDUCT)
    page = settings.outbox_dir / "portal" / "work-report-2026-q3.html"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "</article>", '<p><a href="gone-2025.html">往期发布</a></p></article>'), encoding="utf-8")
    broken = [f for f in run(site).findings if f.item == "链接不可用"]
    assert [f.where for f in broken] == ["work-report-2026-q3.html"] and "gone-2025.html" in broken[0].detail


def test_a_wording_rule_added_after_publishing_finds_the_live_mistake(site):
    settings, catalog, ledger = site
    rules = settings.content_dir / "sensitive.yaml"
    title = catalog.releases["water-price-rumor"].title
    rules.write_text(rules.read_text(encoding="utf-8") + f"\n- id: test-live-rule\n  pattern: 居民生活用水\n"
                     f"  correct: 居民用水\n  note: 测试\n", encoding="utf-8")
    result = run(site)
    assert ("严重错误表述", f"{title}（water-price-rumor）") in items(result, watchdog.FAIL)


def test_the_cli_reports_writes_the_page_exits_1_and_alerts_once(site):
    from pressroom.cli import app

    settings, _, ledger = site
    (settings.outbox_dir / "portal" / "water-price-rumor.html").write_text("<p>无时间</p>", encoding="utf-8")
    first = CliRunner().invoke(app, ["inspect", "--alert"])
    assert first.exit_code == 1, first.output
    assert "信息无发布时间" in first.output and "单项否决" in first.output
    page = next((settings.outbox_dir / "inspection").glob("*.html"))
    assert "信息无发布时间" in page.read_text(encoding="utf-8")
    notices = list((settings.outbox_dir / "notices").glob("inspection-*.txt"))
    assert len(notices) == 1 and "【单项否决】信息无发布时间" in notices[0].read_text(encoding="utf-8")
    again = CliRunner().invoke(app, ["inspect", "--alert"])
    assert again.exit_code == 1
    assert sum(e["action"] == "notified" for e in ledger.history("*site*")) == 1  # once per day and finding set


def test_a_page_dated_other_than_when_it_went_out_fails_and_a_true_one_passes(site):
    """A backdated or forged 发布时间 is a one-strike failure: the page's time is checked against the ledger."""
    settings, catalog, ledger = site
    assert not [f for f in run(site).findings if f.item == "信息发布时间与实际不符"]
    page = settings.outbox_dir / "portal" / "water-price-rumor.html"
    html = page.read_text(encoding="utf-8")
    backdated = re.sub(r'<time datetime="[^"]+" data-published="time">[^<]+</time>',
                       '<time datetime="2026-11-21T10:00:00+08:00" data-published="time">2026年11月21日 10:00</time>', html)
    assert backdated != html
    page.write_text(backdated, encoding="utf-8")
    [f] = [f for f in run(site).findings if f.item == "信息发布时间与实际不符"]
    assert f.severity == watchdog.FAIL and f.where == "portal/water-price-rumor.html"
    assert "页面显示 2026-11-21 10:00" in f.detail and "台账记录实际发出" in f.detail
