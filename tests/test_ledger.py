"""The ledger's promises: one row per key, one claimer at a time, crashed claimers taken over."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from pressroom.delivery.ledger import DELIVERING, FAILED, PENDING, PUBLISHED, Ledger, worker_token


@pytest.fixture
def ledger(tmp_path):
    return Ledger(f"sqlite:///{tmp_path}/ledger.db")


def test_ensure_is_idempotent_and_versions_are_separate_rows(ledger):
    a = ledger.ensure("r1", "wechat", "v1")
    b = ledger.ensure("r1", "wechat", "v1")
    c = ledger.ensure("r1", "wechat", "v2")
    assert a.id == b.id and c.id != a.id
    assert a.state == PENDING
    assert len(ledger.rows("r1")) == 2


def test_only_one_claimer_wins_and_counts_attempts(ledger):
    row = ledger.ensure("r1", "weibo", "v1")
    first = ledger.claim(row, worker_token())
    assert first is not None and first.state == DELIVERING and first.attempts == 1
    assert ledger.claim(row, worker_token()) is None  # a live claimer holds it


def test_failed_row_is_claimed_again_and_published_is_final(ledger):
    row = ledger.ensure("r1", "tv", "v1")
    me = worker_token()
    ledger.mark_failed(ledger.claim(row, me), me, "503")
    again = ledger.claim(row, me)
    assert again.attempts == 2
    ledger.mark_published(again, me, "id-1", "https://x/1")
    assert ledger.get("r1", "tv", "v1").state == PUBLISHED
    assert ledger.claim(row, me) is None


def test_only_the_claimer_may_record_the_result(ledger):
    row = ledger.ensure("r1", "portal", "v1")
    me = worker_token()
    ledger.claim(row, me)
    ledger.mark_published(row, "someone-else", "x", "y")
    assert ledger.get("r1", "portal", "v1").state == DELIVERING


def test_claim_of_a_dead_process_is_taken_over(ledger, tmp_path):
    row = ledger.ensure("r1", "wechat", "v1")
    # A real process claims and dies without recording anything.
    code = (f"from pressroom.delivery.ledger import Ledger, worker_token; l = Ledger('sqlite:///{tmp_path}/ledger.db');"
            "r = l.get('r1','wechat','v1'); assert l.claim(r, worker_token())")
    subprocess.run([sys.executable, "-c", code], check=True)
    stuck = ledger.get("r1", "wechat", "v1")
    assert stuck.state == DELIVERING
    taken = ledger.claim(stuck, worker_token())
    assert taken is not None and taken.attempts == 2
    assert any(e["action"] == "takeover" for e in ledger.history("r1"))


def test_claim_with_expired_lease_is_taken_over(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path}/l.db", lease=timedelta(seconds=0))
    row = ledger.ensure("r1", "wechat", "v1")
    other_host = "elsewhere:1:abc"  # not this host: only the lease can free it
    ledger._update(row, state=DELIVERING, claimed_by=other_host, claimed_at=ledger.get("r1", "wechat", "v1").created_at)
    assert ledger.claim(row, worker_token()) is not None


def _race(url, n, q, done):
    led = Ledger(url)
    wins = 0
    for i in range(n):
        row = led.ensure(f"r{i}", "weibo", "v1")
        if led.claim(row, worker_token()):
            wins += 1
    q.put(wins)
    # Stay alive until the other process is done too: a claimer that has exited while its rows are still
    # "delivering" is a crashed one, and its rows are rightly taken over.
    done.wait(60)


def test_two_processes_racing_claim_each_row_once(tmp_path):
    url = f"sqlite:///{tmp_path}/race.db"
    Ledger(url)  # create the schema before the race
    ctx = mp.get_context("spawn")
    q, done = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_race, args=(url, 40, q, done)) for _ in range(2)]
    for p in procs:
        p.start()
    wins = [q.get(timeout=60) for _ in procs]
    done.set()
    for p in procs:
        p.join(60)
    assert sum(wins) == 40  # every row claimed exactly once across both processes


def test_the_action_is_part_of_the_key(ledger):
    from pressroom.delivery.ledger import CORRECT, PUBLISH, RETRACT

    me = worker_token()
    pub = ledger.ensure("r1", "portal", "v1")
    ledger.mark_published(ledger.claim(pub, me), me, "x", "https://x/1")
    withdrawal = ledger.ensure("r1", "portal", "v1", RETRACT)  # the withdrawal of v1: its own row
    assert withdrawal.id != pub.id and (withdrawal.version, withdrawal.action) == ("v1", RETRACT)
    assert ledger.get("r1", "portal", "v1").id == pub.id  # a version's own row, never its withdrawal
    assert ledger.get("r1", "portal", "v1", RETRACT).id == withdrawal.id
    assert ledger.published_elsewhere("r1", "portal", "v2").id == pub.id
    ledger.save_steps(withdrawal, {"withdrawal": {"reason": "误发"}})
    assert ledger.get("r1", "portal", "v1", RETRACT).steps == {"withdrawal": {"reason": "误发"}}
    assert ledger.get("r1", "portal", "v1").steps == {}
    taken = ledger.claim(withdrawal, me)
    assert taken.id == withdrawal.id and taken.state == DELIVERING
    assert [e["version"] for e in ledger.history("r1")] == ["v1"]  # the publication; the claim logs nothing

    ledger.mark_published(taken, me, url="https://x/1")
    assert ledger.history("r1")[-1]["version"] == "retract-v1"  # the audit trail names it as it always has

    row = ledger.ensure("r1", "wechat", "v2")  # a row not sent yet becomes the correction
    corr = ledger.ensure("r1", "wechat", "v2", CORRECT)
    assert corr.id == row.id and corr.action == CORRECT
    assert ledger.ensure("r1", "wechat", "v2").action == CORRECT  # and stays the version's own row
    assert ledger.ensure("r1", "tv", "v2", CORRECT).action == CORRECT
    assert {d.action for d in ledger.rows("r1")} == {PUBLISH, CORRECT, RETRACT}
    assert [d.id for d in ledger.rows("r1", action=RETRACT)] == [withdrawal.id]


def test_an_outlet_is_disabled_and_enabled_once_each_with_an_event(ledger):
    from pressroom.delivery.ledger import DISABLED, ENABLED, OUTLETS_ID

    assert ledger.outlet_state("wechat") is None
    assert not ledger.set_outlet_state("wechat", ENABLED, "never disabled")
    assert ledger.set_outlet_state("wechat", DISABLED, "40001", "worker")
    assert not ledger.set_outlet_state("wechat", DISABLED, "again")
    s = ledger.outlet_state("wechat")
    assert (s.state, s.reason, s.actor, s.disabled) == (DISABLED, "40001", "worker", True)
    assert ledger.set_outlet_state("wechat", ENABLED, "ok", "doctor") and not ledger.outlet_state("wechat").disabled
    assert [(e["channel"], e["action"], e["detail"]) for e in ledger.history(OUTLETS_ID)] == [
        ("wechat", "outlet-disabled", "40001"), ("wechat", "outlet-enabled", "ok")]


def test_a_decision_is_an_approval_and_history_shows_it_as_before(ledger):
    import json

    from pressroom.delivery.ledger import REJECT, SIGN_OFF

    ledger.log("doc", "", "v1", "published")
    ledger.add_approval("doc", "sig1", "责任编辑", SIGN_OFF, "王审稿", "责任编辑", "同意", "run-1", {"doc": "v1"})
    ledger.add_approval("doc", "sig2", "分管领导", REJECT, "李主任", comment="数字有误")
    assert [a.reviewer for a in ledger.approvals("doc")] == ["王审稿", "李主任"]
    assert [a.decision for a in ledger.approvals("doc", "sig2")] == [REJECT]
    entries = ledger.history("doc")
    assert [(e["action"], e["version"], e["actor"]) for e in entries] == [
        ("published", "v1", ""), ("signoff", "sig1", "王审稿"), ("rejected", "sig2", "李主任")]
    assert json.loads(entries[1]["detail"]) == {"level": "责任编辑", "role": "责任编辑", "comment": "同意",
                                                "run": "run-1", "versions": {"doc": "v1"}}
    with pytest.raises(ValueError):
        ledger.add_approval("doc", "sig1", "责任编辑", "maybe", "王审稿")


def test_step_ids_saved_at_once_by_two_writers_are_all_kept(ledger):
    """A delivery saving its draft id while a look-up saves the article id: neither overwrites the other."""
    import threading

    row = ledger.ensure("r1", "wechat", "v1")
    start = threading.Barrier(2)

    def writer(name):
        start.wait()
        for i in range(40):
            ledger.save_steps(row, {f"{name}-{i}": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("delivery", "lookup")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    steps = ledger.get("r1", "wechat", "v1").steps
    assert len(steps) == 80 and steps["delivery-39"] == 39 and steps["lookup-39"] == 39
