"""Two runs delivering the same row at once (two threads of real engine calls against the CMS double): the
second run read the row before the first one claimed it, and reaches its claim only after the first one
settled it. It must not claim the row again — it reports the first run's outcome and sends nothing."""

from __future__ import annotations

import threading

import pytest

import channels
from pressroom.delivery import engine
from pressroom.delivery.ledger import Ledger, worker_token
from tests.servers.harness import outlets  # noqa: F401

SAMPLE = "water-price-rumor"
PAGE = f"/releases/{SAMPLE}"


def _race(o, rendition, first_does):
    """Run B reads the row, then waits at its claim until run A has delivered; returns (A, B) outcomes."""
    job = engine.Job(SAMPLE, "portal", rendition.version)
    settled, b_read = threading.Event(), threading.Event()
    real_claim = Ledger.claim

    def claim(self, d, token, as_seen=False):
        if threading.current_thread().name == "run-b":
            b_read.set()
            assert settled.wait(30)
        return real_claim(self, d, token, as_seen)

    results = {}

    def run(name):
        try:
            results[name] = engine.deliver(job, rendition, o.settings, worker_token())
        except Exception as e:  # a transient error: the flow would retry
            results[name] = e

    first_does()
    Ledger.claim = claim
    try:
        b = threading.Thread(target=run, args=("b",), name="run-b")
        b.start()
        assert b_read.wait(30)  # B has read the row (not yet claimed)
        run("a")
        settled.set()
        b.join(30)
    finally:
        Ledger.claim = real_claim
    return results["a"], results["b"]


@pytest.fixture
def portal(samples, contexts):
    return channels.render("portal", samples[SAMPLE], contexts[SAMPLE])


def test_second_run_reports_a_permanent_failure_it_did_not_cause_again(outlets, portal):
    a, b = _race(outlets, portal, lambda: outlets.cms.inject(PAGE, "5xx", status=400))  # refused once
    assert a.state == "failed" and "HTTP 400" in a.error
    assert b.state == "failed" and b.error == a.error
    assert b.notes == ["由另一次运行处理：失败（本次未发送）"]
    assert len([c for c in outlets.cms.calls if c.method == "PUT"]) == 1  # B sent nothing
    row = outlets.row(SAMPLE, "portal", portal.version)
    assert row.attempts == 1 and row.state == "failed"


def test_second_run_reports_the_publication_of_the_first(outlets, portal):
    a, b = _race(outlets, portal, lambda: None)
    assert a.state == "published" and b.state == "published" and b.url == a.url
    assert b.notes == ["由另一次运行处理：已发布（本次未发送）"]
    assert outlets.cms.puts == 1


def test_a_later_explicit_run_still_retries_a_failed_row(outlets, portal):
    outlets.cms.inject(PAGE, "5xx", status=400)
    job = engine.Job(SAMPLE, "portal", portal.version)
    assert engine.deliver(job, portal, outlets.settings, worker_token()).state == "failed"
    again = engine.deliver(job, portal, outlets.settings, worker_token())  # read after it was settled
    assert again.state == "published" and outlets.cms.puts == 1
