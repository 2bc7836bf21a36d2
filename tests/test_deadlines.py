"""Event clocks: 5 h first information and 24 h press conference for an emergency, 48 h for an opinion case,
with time controlled by the test and publications taken from a real ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pressroom.delivery import deadlines as dl
from pressroom.releases.catalog import validate
from pressroom.delivery.ledger import Ledger

EVENT, UPDATE = "rainstorm-2026-11", "rainstorm-2026-11-update-1"


@pytest.fixture
def catalog(settings):
    return validate(settings, render=False)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(f"sqlite:///{tmp_path}/ledger.db")


def publish(ledger, release, channel="portal"):
    d = ledger.ensure(release.id, channel, release.version)
    claimed = ledger.claim(d, "test")
    ledger.mark_published(claimed, "test", url="https://example/")
    return ledger.get(release.id, channel, release.version).published_at


def clock(clocks, event, rule):
    return next(c for c in clocks if c.event_id == event and c.rule == rule)


def test_an_event_groups_its_updates(catalog):
    events = dl.events(catalog)
    assert [r.id for r in events[EVENT]] == [EVENT, UPDATE]
    assert UPDATE not in events


def test_clocks_run_from_the_event_time(catalog, ledger):
    start = catalog.releases[EVENT].event_at
    early = dl.clocks(catalog, ledger, start + timedelta(hours=2))
    assert clock(early, EVENT, "首发权威信息").status == dl.OPEN
    assert clock(early, EVENT, "首发权威信息").due == start + timedelta(hours=5)
    assert clock(early, EVENT, "召开新闻发布会").due == start + timedelta(hours=24)
    assert clock(dl.clocks(catalog, ledger, start + timedelta(hours=4, minutes=30)), EVENT,
                 "首发权威信息").status == dl.WARNING
    late = dl.clocks(catalog, ledger, start + timedelta(hours=25))
    assert clock(late, EVENT, "召开新闻发布会").status == dl.BREACHED  # flagged after 24 h
    assert clock(late, EVENT, "首发权威信息").status == dl.BREACHED


def test_a_publication_meets_the_first_information_clock_but_not_the_conference(catalog, ledger):
    when = publish(ledger, catalog.releases[EVENT])
    clocks = dl.clocks(catalog, ledger, when)
    first = clock(clocks, EVENT, "首发权威信息")
    assert first.met_at == when and first.status in (dl.MET, dl.LATE)
    # The sample event happened days before this test ran: published now, it is late, and says so.
    assert first.status == (dl.MET if when <= first.due else dl.LATE)
    assert clock(clocks, EVENT, "召开新闻发布会").met_at is None


def test_a_press_conference_update_meets_the_24_hour_clock(catalog, ledger):
    import dataclasses

    update = dataclasses.replace(catalog.releases[UPDATE], press_conference=True)
    catalog.releases[UPDATE] = update
    when = publish(ledger, update)
    c = clock(dl.clocks(catalog, ledger, when), EVENT, "召开新闻发布会")
    assert c.met_at == when


def test_an_opinion_case_has_a_48_hour_clock(catalog, ledger):
    opinion = next(r for r in catalog.releases.values() if r.kind == "opinion")
    c = clock(dl.clocks(catalog, ledger, opinion.event_at + timedelta(hours=47)), opinion.id, "回应社会关切")
    assert c.due == opinion.event_at + timedelta(hours=48) and c.status == dl.WARNING
