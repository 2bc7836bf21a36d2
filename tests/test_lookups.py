"""Each transport's look-up answers one of three things — found, not found, could not look — against the
outlet doubles, and "could not look" never becomes "not found": the delivery engine then sends nothing
and leaves the row 待核实 with the reason."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

import channels
from pressroom.delivery.engine import attempt_for
from pressroom.transports import Attempt, CouldNotLook, Found, NotFound
from tests.servers.harness import DESKS, outlets, publish  # noqa: F401

SAMPLE = "water-price-rumor"
OTHER = "rainstorm-2026-11"
SHARE, TIMELINE = "/2/statuses/share.json", "/2/statuses/user_timeline.json"
SUBMIT, BATCHGET = "/cgi-bin/freepublish/submit", "/cgi-bin/freepublish/batchget"


class Crash(BaseException):
    """The process dies here (nothing after it runs, nothing catches it)."""


def _dead_claimer() -> str:
    import socket

    p = subprocess.Popen(["true"])
    p.wait()
    return f"{socket.gethostname()}:{p.pid}:crashed"


def blank(outlets, channel, rend, steps=None) -> Attempt:
    """An attempt for this version's row as a fresh run would hold it, with only ``steps`` recorded."""
    ledger = outlets.ledger()
    row = ledger.ensure(rend.release_id, channel, rend.version)
    return Attempt(row=dataclasses.replace(row, steps=dict(steps or {}), attempts=2))


def crashing(outlets, channel, rend, when):
    """Claim the row as a worker that then dies the moment it would save a step for which ``when(steps)``."""
    ledger = outlets.ledger()
    claimed = ledger.claim(ledger.ensure(rend.release_id, channel, rend.version), _dead_claimer())
    attempt = attempt_for(ledger, claimed)

    def save(steps):
        if when(steps):
            raise Crash(steps)
        ledger.save_steps(claimed, steps)

    attempt.save = save
    return attempt


# -- WeChat ----------------------------------------------------------------------------------------

def test_wechat_not_found_then_found_by_title_and_source_url(outlets, samples, rendered):
    rend, t = rendered("wechat"), outlets.transport("wechat")
    assert isinstance(t.lookup(rend, blank(outlets, "wechat", rend)), NotFound)
    assert publish(outlets, samples[SAMPLE], rend).state == "published"
    answer = t.lookup(rend, blank(outlets, "wechat", rend))
    article = outlets.wechat.publications[0]
    assert answer == Found(dataclasses.replace(answer.receipt, external_id=article["article_id"],
                                               url=article["content"]["news_item"][0]["url"]))


def test_wechat_found_by_title_and_digest_when_the_platform_omits_the_url(outlets, samples, rendered):
    outlets.wechat.omit_fields = {"content_source_url"}
    rend = rendered("wechat")
    assert publish(outlets, samples[SAMPLE], rend).state == "published"
    assert "content_source_url" not in outlets.wechat.publications[0]["content"]["news_item"][0]
    answer = outlets.transport("wechat").lookup(rend, blank(outlets, "wechat", rend, {"submitted_at": 1}))
    assert isinstance(answer, Found) and answer.receipt.external_id == outlets.wechat.publications[0]["article_id"]
    # Outside the run's time window (submitted an hour after the article appeared): not this run's.
    later = {"submitted_at": outlets.wechat.publications[0]["update_time"] + 3600}
    assert isinstance(outlets.transport("wechat").lookup(rend, blank(outlets, "wechat", rend, later)), NotFound)


def test_wechat_two_candidates_could_not_look(outlets, samples, rendered):
    """Two published articles with the same title (a follow-up published under the same title): which is
    ours cannot be told — could not look (待核实), never a guess."""
    rend, t = rendered("wechat"), outlets.transport("wechat")
    ledger = outlets.ledger()
    for token in ("a", "b"):  # two independent deliveries (rows outside the ledger's knowledge)
        row = ledger.ensure(SAMPLE, "wechat", rend.version)
        t.deliver(rend, Attempt(row=dataclasses.replace(row, steps={}, attempts=1)))
    assert len(outlets.wechat.publications) == 2
    answer = t.lookup(rend, blank(outlets, "wechat", rend))
    assert isinstance(answer, CouldNotLook) and "2 篇" in answer.reason and "发表记录" in answer.reason


@pytest.mark.parametrize("kind,kw,words", [("5xx", {}, "HTTP 503"), ("errcode", {"code": 48001}, "48001")])
def test_wechat_could_not_look_when_the_list_cannot_be_read(outlets, rendered, kind, kw, words):
    rend = rendered("wechat")
    outlets.wechat.inject(BATCHGET, kind, **kw)
    answer = outlets.transport("wechat").lookup(rend, blank(outlets, "wechat", rend))
    assert isinstance(answer, CouldNotLook) and words in answer.reason


def test_wechat_crash_after_accepted_submit_is_found_once_published(outlets, samples, rendered):
    outlets.wechat.publish_polls = 0  # published by the time the re-run looks
    rend = rendered("wechat")
    attempt = crashing(outlets, "wechat", rend, lambda steps: "publish_id" in steps)
    with pytest.raises(Crash):
        outlets.transport("wechat").deliver(rend, attempt)
    assert len(outlets.wechat.state.jobs) == 1  # accepted; the job id never reached the ledger
    o = publish(outlets, samples[SAMPLE], rend)
    assert o.state == "published" and len(outlets.wechat.publications) == 1
    assert len(outlets.wechat.calls_to(SUBMIT)) == 1  # never submitted again
    assert outlets.row(SAMPLE, "wechat", rend.version).external_id == outlets.wechat.publications[0]["article_id"]


def test_wechat_crash_after_accepted_submit_still_publishing_is_unconfirmed(outlets, samples, rendered):
    outlets.wechat.publish_polls = 100  # the platform is slow: the article is not on the list yet
    rend = rendered("wechat")
    attempt = crashing(outlets, "wechat", rend, lambda steps: "publish_id" in steps)
    with pytest.raises(Crash):
        outlets.transport("wechat").deliver(rend, attempt)
    o = publish(outlets, samples[SAMPLE], rend)
    assert o.state == "unconfirmed" and "未再次提交" in o.error and "发表记录" in o.error
    assert "草稿仍在草稿箱" in o.error  # what was found where
    assert len(outlets.wechat.calls_to(SUBMIT)) == 1 and outlets.wechat.publications == []


def test_wechat_resubmit_of_a_consumed_draft_reconciles(outlets, samples, rendered):
    """A row that kept the draft's id but lost the publication (the draft has left the draft box): the
    re-submit is answered 40007, which leads to the published list, not to a permanent failure."""
    rend, t = rendered("wechat"), outlets.transport("wechat")
    row = outlets.ledger().ensure(SAMPLE, "wechat", rend.version)
    t.deliver(rend, Attempt(row=dataclasses.replace(row, steps={}, attempts=1)))  # published; steps lost
    media_id = outlets.wechat.state.draft_order[0]
    assert media_id not in outlets.wechat.draft_box
    again = Attempt(row=dataclasses.replace(row, steps={"draft_media_id": media_id}, attempts=1))
    receipt = t.deliver(rend, again)
    assert receipt.external_id == outlets.wechat.publications[0]["article_id"]
    assert len(outlets.wechat.publications) == 1 and len(outlets.wechat.calls_to(SUBMIT)) == 2


def test_wechat_push_is_found_by_its_recorded_mass_send(outlets, samples, rendered):
    outlets.configure(wechat_push='"always"')
    rend, t = rendered("wechat"), outlets.transport("wechat")
    assert isinstance(t.lookup(rend, blank(outlets, "wechat", rend)), NotFound)
    assert publish(outlets, samples[SAMPLE], rend).state == "published"
    answer = t.lookup(rend, attempt_for(outlets.ledger(), outlets.row(SAMPLE, "wechat", rend.version)))
    (sent,) = outlets.wechat.state.mass.values()
    assert isinstance(answer, Found) and answer.receipt.external_id == f"mass:{sent['msg_id']}"


# -- Weibo -----------------------------------------------------------------------------------------

def test_weibo_found_with_another_post_in_between(outlets, samples, rendered):
    rend, t = rendered("weibo"), outlets.transport("weibo")
    answer = t.lookup(rend, blank(outlets, "weibo", rend))
    assert isinstance(answer, NotFound) and "最近 0 条" in answer.detail
    assert publish(outlets, samples[SAMPLE], rend).state == "published"
    assert publish(outlets, samples[OTHER], rendered("weibo", OTHER)).state == "published"
    answer = t.lookup(rend, blank(outlets, "weibo", rend))
    assert isinstance(answer, Found) and answer.receipt.external_id == outlets.weibo.posts[0]["idstr"]


@pytest.mark.parametrize("setup,words", [
    (lambda wb: setattr(wb, "timeline_status", 404), "HTTP 404"),
    (lambda wb: setattr(wb, "timeline_status", 403), "10014"),
    (lambda wb: wb.inject(TIMELINE, "no-statuses"), "statuses"),
    (lambda wb: wb.inject(TIMELINE, "5xx"), "HTTP 503"),
])
def test_weibo_could_not_look_is_never_an_empty_timeline(outlets, rendered, setup, words):
    rend = rendered("weibo")
    setup(outlets.weibo)
    answer = outlets.transport("weibo").lookup(rend, blank(outlets, "weibo", rend))
    assert isinstance(answer, CouldNotLook) and words in answer.reason


def test_weibo_lost_reply_with_timeline_unavailable_is_unconfirmed_not_reposted(outlets, samples, rendered):
    """The duplicate of the issue: the post accepted, the reply lost, another post in between, and the
    timeline answering 404 — the row is 待核实 and nothing is posted again."""
    rend = rendered("weibo")
    outlets.weibo.timeline_status = 404
    outlets.weibo.inject(SHARE, "drop-after")
    o = publish(outlets, samples[SAMPLE], rend)
    assert publish(outlets, samples[OTHER], rendered("weibo", OTHER)).state == "published"
    again = publish(outlets, samples[SAMPLE], rend)
    assert o.state == again.state == "unconfirmed" and "HTTP 404" in o.error and "请到微博核实" in o.error
    assert [outlets.weibo.originals[p["idstr"]] for p in outlets.weibo.posts].count(rend.payload["status"]) == 1


def test_weibo_retry_after_5xx_with_timeline_unavailable_sends_nothing(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "5xx")
    outlets.weibo.timeline_status = 404
    o = publish(outlets, samples[SAMPLE], rendered("weibo"))
    assert o.state == "unconfirmed" and "无法查询账号最近的微博" in o.error and "未重新发送" in o.error
    assert outlets.weibo.posts == [] and len(outlets.weibo.calls_to(SHARE)) == 1


def test_weibo_repeated_content_says_what_was_actually_done(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "error", code=20019)
    outlets.weibo.timeline_status = 404
    o = publish(outlets, samples[SAMPLE], rendered("weibo"))
    assert o.state == "unconfirmed" and "内容重复" in o.error and "HTTP 404" in o.error
    assert "最近 20 条" not in o.error  # no search is claimed that never happened
    outlets.weibo.timeline_status = 200
    outlets.weibo.inject(SHARE, "error", code=20019)
    o = publish(outlets, samples[OTHER], rendered("weibo", OTHER))
    assert o.state == "unconfirmed" and "已查询账号最近 0 条微博" in o.error


# -- SMTP ------------------------------------------------------------------------------------------

def test_smtp_answers_from_what_was_recorded(outlets, samples, rendered):
    rend, t = rendered("newspaper"), outlets.transport("newspaper")
    desk1, desk2 = DESKS["newspaper"]
    assert isinstance(t.lookup(rend, blank(outlets, "newspaper", rend)), NotFound)
    assert isinstance(t.lookup(rend, blank(outlets, "newspaper", rend, {"sent": {desk1: "x"}})), NotFound)
    found = t.lookup(rend, blank(outlets, "newspaper", rend, {"sent": {desk1: "x", desk2: "y"}}))
    assert isinstance(found, Found) and found.receipt.external_id.startswith(f"<{SAMPLE}.newspaper.")
    doubt = t.lookup(rend, blank(outlets, "newspaper", rend, {"sent": {desk1: "x"}, "sending": desk2}))
    assert isinstance(doubt, CouldNotLook) and desk2 in doubt.reason and "Message-ID" in doubt.reason


def test_smtp_crash_after_the_message_left_is_unconfirmed_not_resent(outlets, samples, rendered):
    rend = rendered("newspaper")
    attempt = crashing(outlets, "newspaper", rend, lambda steps: "sent" in steps)  # dies before recording 250
    with pytest.raises(Crash):
        outlets.transport("newspaper").deliver(rend, attempt)
    assert len(outlets.smtp.messages) == 1
    o = publish(outlets, samples[SAMPLE], rend, "newspaper")
    assert o.state == "unconfirmed" and DESKS["newspaper"][0] in o.error
    # The desk in doubt is never mailed again; the other desk, which certainly has nothing, gets its copy.
    assert sorted(m.rcpt_tos[0] for m in outlets.smtp.messages) == sorted(DESKS["newspaper"])


# -- CMS and outbox --------------------------------------------------------------------------------

def test_cms_answers(outlets, samples, rendered):
    rend, t = rendered("portal"), outlets.transport("portal")
    assert isinstance(t.lookup(rend, blank(outlets, "portal", rend)), NotFound)
    assert publish(outlets, samples[SAMPLE], rend).state == "published"
    assert isinstance(t.lookup(rend, blank(outlets, "portal", rend)), Found)
    outlets.cms.inject(f"/releases/{SAMPLE}", "5xx")
    answer = t.lookup(rend, blank(outlets, "portal", rend))
    assert isinstance(answer, CouldNotLook) and answer.resend_safe and "503" in answer.reason
    outlets.cms.token = "rotated"
    answer = t.lookup(rend, blank(outlets, "portal", rend))
    assert isinstance(answer, CouldNotLook) and "401" in answer.reason


def test_outbox_answers(outlets, samples, rendered):
    outlets.configure(transports={"portal": "outbox"})
    rend, t = rendered("portal"), outlets.transport("portal")
    assert isinstance(t.lookup(rend, blank(outlets, "portal", rend)), NotFound)
    assert publish(outlets, samples[SAMPLE], rend).state == "published"
    assert isinstance(t.lookup(rend, blank(outlets, "portal", rend)), Found)
    t._receipt_path(rend).write_text("{not json", encoding="utf-8")
    answer = t.lookup(rend, blank(outlets, "portal", rend))
    assert isinstance(answer, CouldNotLook) and answer.resend_safe
