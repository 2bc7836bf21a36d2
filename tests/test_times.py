"""The 发布时间 every channel shows is the time the release actually went out (docs/requirements.md R4):
published late with an injected clock, the portal page, the H5 page, the press hall, the feeds (+08:00),
the search index, `pressroom status` and the report all show the same real minute and the ledger says how
late; published on schedule, they show ``publish_at`` and the pages are the approved renditions byte for
byte. Real Prefect (test harness), real SQLite ledger, real outbox."""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest

from tests.test_publish_flow import _prefect, run, workspace  # noqa: F401  (fixtures)

SAMPLE = "water-price-rumor"  # publish_at 2026-11-21 10:00, an opinion release on every channel
TZ = ZoneInfo("Asia/Shanghai")
LATE_CLOCK = "2026-12-02T07:31:42+08:00"  # the run delivers then: 15,691 minutes late, shown as 07:31
LATE_TEXT, LATE_ISO = "2026年12月2日 07:31", "2026-12-02T07:31:00+08:00"
ON_TIME_TEXT, ON_TIME_ISO = "2026年11月21日 10:00", "2026-11-21T10:00:00+08:00"
LATE_MINUTES = int((datetime(2026, 12, 2, 7, 31, tzinfo=TZ) - datetime(2026, 11, 21, 10, 0, tzinfo=TZ)).total_seconds() // 60)


def _slot(html: str) -> tuple[str, str]:
    """The page's 发布时间 as shown: (datetime attribute, text)."""
    m = re.search(r'<time datetime="([^"]+)" data-published="time">([^<]+)</time>', html)
    assert m, "the page has no 发布时间"
    return m.group(1), m.group(2)


def _pages(ws) -> dict[str, str]:
    out = ws.outbox
    return {
        "portal": (out / "portal" / f"{SAMPLE}.html").read_text(encoding="utf-8"),
        "h5": (out / "assets" / SAMPLE / f"{SAMPLE}-h5.html").read_text(encoding="utf-8"),
        "presshall": (out / "portal" / "presshall" / "releases" / f"{SAMPLE}.html").read_text(encoding="utf-8"),
    }


def _feed_times(ws) -> dict[str, str]:
    """The sample's entry date in each feed, as written."""
    out = {}
    rss = (ws.outbox / "portal" / "feed.xml").read_text(encoding="utf-8")
    item = rss[rss.index(f"{SAMPLE}.html"):]
    out["portal rss"] = re.search(r"<pubDate>([^<]+)</pubDate>", item).group(1)
    atom = (ws.outbox / "portal" / "atom.xml").read_text(encoding="utf-8")
    entry = atom[atom.index(f"{SAMPLE}.html"):]
    out["portal atom"] = re.search(r"<published>([^<]+)</published>", entry).group(1)
    hall = (ws.outbox / "portal" / "presshall" / "feed.xml").read_text(encoding="utf-8")
    item = hall[hall.index(f"releases/{SAMPLE}.html"):]
    out["presshall rss"] = re.search(r"<pubDate>([^<]+)</pubDate>", item).group(1)
    return out


def _search_time(ws) -> str:
    data = json.loads((ws.outbox / "portal" / "presshall" / "search-index.json").read_text(encoding="utf-8"))
    f = data["fields"]
    row = next(r for r in data["items"] if r[f.index("url")] == f"releases/{SAMPLE}.html")
    return row[f.index("date")]


def _status(ws) -> str:
    from typer.testing import CliRunner

    from pressroom.cli import app

    res = CliRunner().invoke(app, ["status", SAMPLE], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def test_a_late_release_shows_the_minute_it_went_out_on_every_channel(workspace, monkeypatch):
    monkeypatch.setenv("PRESSROOM_CLOCK", LATE_CLOCK)
    state = run(SAMPLE)
    assert state.is_completed()
    result = state.result()
    assert (result["shown_at"], result["late_minutes"]) == (LATE_ISO, LATE_MINUTES)

    for name, html in _pages(workspace).items():
        assert _slot(html) == (LATE_ISO, LATE_TEXT), name
        assert ON_TIME_TEXT not in html, f"{name} still shows the planned time as if it went out then"
    for name in ("portal", "presshall"):  # the government-site metadata states the same minute
        pubdate = re.search(r'<meta name="PubDate" content="([^"]*)"', _pages(workspace)[name])
        assert pubdate and pubdate.group(1) == "2026-12-02 07:31", name
    feeds = _feed_times(workspace)
    for name in ("portal rss", "presshall rss"):
        assert feeds[name] == "Wed, 02 Dec 2026 07:31:00 +0800", name
        assert parsedate_to_datetime(feeds[name]) == datetime.fromisoformat(LATE_ISO)
    assert feeds["portal atom"] == LATE_ISO
    assert _search_time(workspace) == "2026-12-02 07:31"
    index = (workspace.outbox / "portal" / "index.html").read_text(encoding="utf-8")
    assert f'<time datetime="{LATE_ISO}">2026年12月2日</time>' in index

    ledger = workspace.ledger()
    rows = [d for d in ledger.rows(SAMPLE) if d.state == "published"]
    assert len(rows) == 7  # every channel, one 发布时间 and one lateness for all
    assert {d.steps["shown_at"] for d in rows} == {LATE_ISO}
    assert {d.steps["late_minutes"] for d in rows} == {LATE_MINUTES}
    late_events = [e for e in ledger.history(SAMPLE) if e["action"] == "published-late"]
    assert len(late_events) == 7 and f"晚于发布时间 {LATE_MINUTES} 分钟" in late_events[0]["detail"]
    status = _status(workspace)
    assert f"2026-12-02 07:31（晚 {LATE_MINUTES} 分钟）" in status


def test_the_ledger_keeps_the_approved_digest_and_the_receipt_names_the_time(workspace, monkeypatch):
    """The approved rendition is not what changed: its digest is on the row and in the outbox receipt,
    while the files as written carry the real time."""
    import channels
    from pressroom.releases.catalog import validate
    from pressroom.settings import load_settings

    monkeypatch.setenv("PRESSROOM_CLOCK", LATE_CLOCK)
    assert run(SAMPLE).is_completed()
    catalog = validate(load_settings(), only=SAMPLE)
    approved = catalog.renditions[(SAMPLE, "portal")]
    row = workspace.ledger().get(SAMPLE, "portal", approved.version)
    assert row.content_hash == approved.content_hash
    receipt = json.loads((workspace.outbox / "portal" / "receipts" / f"{SAMPLE}.json").read_text(encoding="utf-8"))
    assert receipt["content_hash"] == approved.content_hash and receipt["shown_at"] == LATE_ISO
    page = (workspace.outbox / "portal" / f"{SAMPLE}.html").read_bytes()
    assert page != approved.files[f"{SAMPLE}.html"]
    assert page.replace(LATE_ISO.encode(), ON_TIME_ISO.encode()).replace(
        LATE_TEXT.encode(), ON_TIME_TEXT.encode()).replace(  # and the PubDate metadata
        b"2026-12-02 07:31", b"2026-11-21 10:00") == approved.files[f"{SAMPLE}.html"]
    assert channels.get("portal")  # the registry is intact after the run


def test_a_release_delivered_on_schedule_shows_its_publish_at_and_is_the_approved_page(workspace, monkeypatch):
    from pressroom.releases.catalog import validate
    from pressroom.settings import load_settings

    monkeypatch.setenv("PRESSROOM_CLOCK", "2026-11-21T10:00:37+08:00")  # inside the planned minute
    assert run(SAMPLE).is_completed()

    for name, html in _pages(workspace).items():
        assert _slot(html) == (ON_TIME_ISO, ON_TIME_TEXT), name
    feeds = _feed_times(workspace)
    assert feeds["portal rss"] == feeds["presshall rss"] == "Sat, 21 Nov 2026 10:00:00 +0800"
    assert feeds["portal atom"] == ON_TIME_ISO
    assert _search_time(workspace) == "2026-11-21 10:00"
    catalog = validate(load_settings(), only=SAMPLE)
    for ch, name in (("portal", f"portal/{SAMPLE}.html"), ("h5", f"assets/{SAMPLE}/{SAMPLE}-h5.html")):
        approved = catalog.renditions[(SAMPLE, ch)].files[name.rsplit("/", 1)[1]]
        assert (workspace.outbox / name).read_bytes() == approved, ch
    rows = [d for d in workspace.ledger().rows(SAMPLE) if d.state == "published"]
    assert {d.steps["late_minutes"] for d in rows} == {0}
    assert not [e for e in workspace.ledger().history(SAMPLE) if e["action"] == "published-late"]
    status = _status(workspace)
    assert "2026-11-21 10:00" in status and "晚" not in status


def test_the_report_lists_a_late_release_with_how_late(workspace, monkeypatch):
    from pressroom.sites import report as rp
    from pressroom.sites.presshall import published_times
    from pressroom.releases.catalog import validate
    from pressroom.settings import load_settings

    monkeypatch.setenv("PRESSROOM_CLOCK", LATE_CLOCK)
    assert run(SAMPLE).is_completed()
    settings = load_settings()
    catalog = validate(settings, render=False)
    rep = rp.build_report(catalog.releases.values(), catalog.registry, published_times(workspace.ledger().rows()),
                          rp.Period(2026), datetime(2026, 12, 31, tzinfo=TZ), settings)
    late = rep.flags_of(rp.LATE_PUBLICATION)
    assert [f.release_id for f in late] == [SAMPLE]
    assert late[0].evidence == "定于2026年11月21日 10:00发布，实际2026年12月2日 07:31发布，晚10天21小时（15691分钟）"
    assert "晚于发布时间发布" in rp.to_markdown(rep)


def test_the_slot_is_filled_in_every_form_and_a_body_cannot_forge_one(settings):
    """The one 发布时间 variable of page templates: as a <time>, a date, a <meta> for government-site
    metadata; body HTML (sanitized) cannot smuggle in a slot that delivery would rewrite."""
    from channels import markup
    from channels.base import Published, fill_published

    planned = datetime(2026, 11, 21, 10, 0, tzinfo=TZ)
    page = f"<head>{Published(planned).meta('PubDate')}</head><p>{Published(planned)}</p><p>{Published(planned).date}</p>"
    body = markup.to_html('<time datetime="x" data-published="time">2020年1月1日 00:00</time>')
    filled = fill_published({"a.html": (page + body).encode(), "a.txt": b"2026"}, datetime(2026, 12, 1, 23, 31, 5,
                            tzinfo=ZoneInfo("UTC")), TZ)
    html = filled["a.html"].decode()
    assert '<meta name="PubDate" content="2026-12-02 07:31" data-published="meta">' in html
    assert f'<time datetime="2026-12-02T07:31:05+08:00" data-published="time">{LATE_TEXT}</time>' in html
    assert '<time datetime="2026-12-02T07:31:05+08:00" data-published="date">2026年12月2日</time>' in html
    assert "data-published" not in body and "2020年1月1日 00:00" in html  # the body's text stays as written
    assert filled["a.txt"] == b"2026"
    # Another release's slot (an event's timeline): its own time when known, else left as planned.
    other = f"<li>{Published(planned, 'first')}</li><li>{Published(planned, 'later')}</li>".encode()
    went = datetime(2026, 11, 21, 10, 17, tzinfo=TZ)
    html = fill_published({"b.html": other}, went, TZ, {"first": went})["b.html"].decode()
    assert '<time datetime="2026-11-21T10:17:00+08:00" data-published="time" data-release="first">2026年11月21日 10:17</time>' in html
    assert '<time datetime="2026-11-21T10:00:00+08:00" data-published="time" data-release="later">2026年11月21日 10:00</time>' in html


@pytest.mark.parametrize("delivered, shown, late", [
    ("2026-11-21T10:00:59+08:00", "2026-11-21T10:00:00+08:00", 0),
    ("2026-11-21T10:01:00+08:00", "2026-11-21T10:01:00+08:00", 1),
    ("2026-11-21T09:58:10+08:00", "2026-11-21T09:58:00+08:00", 0),  # early (published now): its real minute
])
def test_the_shown_time_is_publish_at_within_its_minute_and_the_real_minute_otherwise(delivered, shown, late):
    from pressroom import clock

    at, n = clock.shown_time(datetime(2026, 11, 21, 10, 0, tzinfo=TZ), datetime.fromisoformat(delivered))
    assert (at.isoformat(), n) == (shown, late)


def test_an_events_timeline_shows_each_update_at_the_time_it_went_out(workspace, monkeypatch):
    """The portal page of an emergency's update lists the first release at the minute that one went out
    (not its planned time), and itself at its own."""
    monkeypatch.setenv("PRESSROOM_CLOCK", "2026-11-18T09:47:12+08:00")  # the first information: 17 min late
    assert run("rainstorm-2026-11", channels_only=["portal"]).is_completed()
    monkeypatch.setenv("PRESSROOM_CLOCK", "2026-11-18T16:00:20+08:00")  # the update: on schedule
    assert run("rainstorm-2026-11-update-1", channels_only=["portal"]).is_completed()
    html = (workspace.outbox / "portal" / "rainstorm-2026-11-update-1.html").read_text(encoding="utf-8")
    timeline = html[html.index('id="timeline-h"'):html.index("</section>", html.index('id="timeline-h"'))]
    assert ('<time datetime="2026-11-18T09:47:00+08:00" data-published="time" data-release="rainstorm-2026-11">'
            '2026年11月18日 09:47</time>') in timeline
    assert "09:30" not in timeline  # the first release's planned time is not shown as if it went out then
    assert _slot(html) == ("2026-11-18T16:00:00+08:00", "2026年11月18日 16:00")
