"""Faults injected into the outlet doubles: every one ends in exactly one publication per channel, or a
clear failed / unconfirmed state carrying the platform's error — never a duplicate."""

from __future__ import annotations

import subprocess

import pytest

from pressroom.delivery.engine import attempt_for

import channels
from pressroom.delivery.ledger import Ledger
from tests.servers.harness import CREDENTIALS, DESKS, outlets, publish  # noqa: F401

SAMPLE = "water-price-rumor"
DRAFT_ADD, SUBMIT, GET = "/cgi-bin/draft/add", "/cgi-bin/freepublish/submit", "/cgi-bin/freepublish/get"
SHARE = "/2/statuses/share.json"
PAGE = f"/releases/{SAMPLE}"


def go(outlets, samples, rendered, channel, rid=SAMPLE):
    rend = rendered(channel, rid)
    return publish(outlets, samples[rid], rend, channel)


# -- WeChat ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,kind,kw", [
    (DRAFT_ADD, "5xx", {}),                        # gateway error: nothing done, retried
    (SUBMIT, "errcode", {"code": -1}),             # "system busy"
    (SUBMIT, "errcode", {"code": 45011}),          # per-minute limit
    (GET, "drop-after", {}),                       # a status poll lost: resume from the saved publish_id
])
def test_wechat_retry_resumes_from_saved_steps(outlets, samples, rendered, path, kind, kw):
    outlets.wechat.inject(path, kind, **kw)
    o = go(outlets, samples, rendered, "wechat")
    wx = outlets.wechat
    assert o.state == "published", o.error
    assert o.attempts == 2
    assert len(wx.drafts) == 1 and len(wx.publications) == 1
    assert len(wx.calls_to("/cgi-bin/material/add_material")) == 1  # the cover was not uploaded twice
    assert len(wx.state.jobs) == 1  # one freepublish/submit accepted


def test_wechat_token_expiring_mid_run_is_refreshed_once(outlets, samples, rendered):
    outlets.wechat.inject(SUBMIT, "expire-token")
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "published" and o.attempts == 1
    assert len(outlets.wechat.tokens_issued()) == 2
    assert len(outlets.wechat.publications) == 1


@pytest.mark.parametrize("path,kind", [(DRAFT_ADD, "drop-after"), (DRAFT_ADD, "slow"),
                                       (SUBMIT, "drop-after"), (SUBMIT, "slow")])
def test_wechat_lost_reply_after_acceptance_is_looked_up_not_resent(outlets, samples, rendered, path, kind):
    outlets.wechat.inject(path, kind, delay=1.0)
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "published", o.error
    assert o.attempts == 1 and len(outlets.wechat.drafts) == 1 and len(outlets.wechat.publications) == 1
    assert len(outlets.wechat.calls_to(path)) == 1


def test_wechat_lost_draft_reply_not_found_is_left_unconfirmed(outlets, samples, rendered):
    outlets.wechat.inject(DRAFT_ADD, "drop-before")  # the reply is lost; in fact nothing was made
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "unconfirmed"
    assert "草稿箱" in o.error and "pressroom resolve" in o.error
    assert outlets.wechat.publications == []
    again = go(outlets, samples, rendered, "wechat")  # never sent again without an explicit resolve
    assert again.state == "unconfirmed" and len(outlets.wechat.calls_to(DRAFT_ADD)) == 1


def test_wechat_publish_reported_failed_later_is_a_clear_failure(outlets, samples, rendered):
    outlets.wechat.inject(SUBMIT, "publish-fails", code=4)
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "failed" and o.attempts == 1
    assert "平台审核不通过" in o.error and "publish_status 4" in o.error
    assert outlets.wechat.publications == []
    # An explicit re-run submits the same draft again (nothing was public) and succeeds.
    again = go(outlets, samples, rendered, "wechat")
    assert again.state == "published" and len(outlets.wechat.drafts) == 1
    assert len(outlets.wechat.publications) == 1


def test_wechat_refusals_keep_the_platform_code(outlets, samples, rendered):
    outlets.wechat.inject(DRAFT_ADD, "errcode", code=53503, extra={"errmsg": "draft check failed"})
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "failed" and o.attempts == 1 and "53503" in o.error and "草稿未通过发布前检查" in o.error


def _dead_claimer() -> str:
    import socket

    p = subprocess.Popen(["true"])
    p.wait()
    return f"{socket.gethostname()}:{p.pid}:crashed"


def test_wechat_crash_after_submit_resumes_without_a_second_publication(outlets, samples, rendered):
    """A worker submits, then dies before recording anything but the step ids; the next run takes the
    row over and finishes from the saved publish_id."""
    r, rend = samples[SAMPLE], rendered("wechat")
    ledger = outlets.ledger()
    claimed = ledger.claim(ledger.ensure(SAMPLE, "wechat", r.version), _dead_claimer())
    t = outlets.transport("wechat")
    t.poll_delays = []  # "dies" right after submitting (no poll)
    with pytest.raises(Exception):
        t.deliver(rend, attempt_for(ledger, claimed))
    row = outlets.row(SAMPLE, "wechat", r.version)
    assert row.state == "delivering" and row.steps["publish_id"]
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "published" and o.attempts == 2
    assert len(outlets.wechat.state.jobs) == 1 and len(outlets.wechat.publications) == 1
    assert len(outlets.wechat.calls_to(DRAFT_ADD)) == 1


def test_wechat_quota_exhausted_waits_for_the_reset(outlets, samples, rendered):
    outlets.wechat.quotas[SUBMIT] = 0
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "waiting-quota" and "45009" in o.error and "额度恢复后再发送" in o.error
    assert outlets.wechat.publications == []  # (tests/test_quota_wait.py: the wait and the retry)


# -- Weibo -----------------------------------------------------------------------------------------

def test_weibo_posting_too_fast_backs_off_and_posts_once(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "error", code=20016)
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "published" and o.attempts == 2 and len(outlets.weibo.posts) == 1


@pytest.mark.parametrize("code", [10022, 10023, 10024])
def test_weibo_hourly_rate_limit_waits_for_the_next_hour(outlets, samples, rendered, code):
    outlets.weibo.inject(SHARE, "error", code=code)
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "waiting-quota" and o.attempts == 1 and f"error_code {code}" in o.error
    assert outlets.weibo.posts == []


def test_weibo_5xx_is_retried_after_looking(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "5xx")
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "published" and o.attempts == 2 and len(outlets.weibo.posts) == 1
    assert len(outlets.weibo.calls_to("/2/statuses/user_timeline.json")) == 1  # looked once, then posted


@pytest.mark.parametrize("kind", ["drop-after", "slow"])
def test_weibo_lost_reply_finds_the_post(outlets, samples, rendered, kind):
    outlets.weibo.inject(SHARE, kind, delay=1.0)
    o = go(outlets, samples, rendered, "weibo")
    post = outlets.weibo.posts[0]
    assert o.state == "published" and o.attempts == 1 and len(outlets.weibo.posts) == 1
    assert o.url == f"https://weibo.com/{outlets.weibo.uid}/{post['mid']}"


@pytest.mark.parametrize("code", [20017, 20019, 20111])
def test_weibo_repeated_content_adopts_the_existing_post(outlets, samples, rendered, code):
    outlets.weibo.inject(SHARE, "error-after", code=code)  # posted, and still answered "repeated"
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "published" and len(outlets.weibo.posts) == 1
    assert outlets.row(SAMPLE, "weibo", samples[SAMPLE].version).external_id == outlets.weibo.posts[0]["idstr"]


def test_weibo_repeated_content_not_found_is_unconfirmed(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "error", code=20019)
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "unconfirmed" and "内容重复" in o.error and outlets.weibo.posts == []


def test_weibo_connection_dropped_before_acceptance_is_unconfirmed(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "drop-before")
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "unconfirmed" and "请到微博核实" in o.error and outlets.weibo.posts == []


def test_weibo_refusals_name_the_platform_error(outlets, samples, rendered):
    outlets.weibo.safe_domain = "other.gov.cn"  # the app's safe domain no longer matches the portal
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "failed" and "10017" in o.error and "安全域名" in o.error


# -- CMS -------------------------------------------------------------------------------------------

def test_cms_5xx_is_retried_to_one_page(outlets, samples, rendered):
    outlets.cms.inject(PAGE, "5xx", times=2)  # the PUT, then the GET that looks before the retry
    o = go(outlets, samples, rendered, "portal")
    assert o.state == "published" and o.attempts == 2 and outlets.cms.puts == 1 and len(outlets.cms.pages) == 1


@pytest.mark.parametrize("kind", ["drop-after", "slow"])
def test_cms_lost_reply_is_found_by_get(outlets, samples, rendered, kind):
    outlets.cms.inject(PAGE, kind, delay=1.0)
    o = go(outlets, samples, rendered, "portal")
    assert o.state == "published" and o.attempts == 2
    assert outlets.cms.puts == 1 and len(outlets.cms.pages) == 1  # the GET found it: no second PUT


def test_cms_put_twice_leaves_one_page(outlets, samples, rendered):
    t = outlets.transport("portal")
    rend = rendered("portal")
    ledger = outlets.ledger()
    row = ledger.ensure(SAMPLE, "portal", rend.version)
    first, second = t.deliver(rend, attempt_for(ledger, row)), t.deliver(rend, attempt_for(ledger, row))
    assert first == second and outlets.cms.puts == 2 and list(outlets.cms.pages) == [PAGE]


# -- SMTP ------------------------------------------------------------------------------------------

def test_smtp_temporary_rejection_is_retried_without_duplicates(outlets, samples, rendered):
    outlets.smtp.inject("none")
    outlets.smtp.inject("451")  # the second desk's message is refused for now
    o = go(outlets, samples, rendered, "newspaper")
    assert o.state == "published" and o.attempts == 2
    assert sorted(m.rcpt_tos[0] for m in outlets.smtp.messages) == sorted(DESKS["newspaper"])


def test_smtp_dropped_after_data_is_unconfirmed_not_resent(outlets, samples, rendered):
    outlets.smtp.inject("none")
    outlets.smtp.inject("drop-after-data")  # the second desk got it; its 250 never came
    o = go(outlets, samples, rendered, "newspaper")
    assert o.state == "unconfirmed"
    assert DESKS["newspaper"][1] in o.error and "Message-ID" in o.error
    row = outlets.row(SAMPLE, "newspaper", samples[SAMPLE].version)
    assert list(row.steps["sent"]) == [DESKS["newspaper"][0]] and row.steps["unconfirmed"] == DESKS["newspaper"][1]
    go(outlets, samples, rendered, "newspaper")
    assert len(outlets.smtp.messages) == 2


def test_smtp_permanent_rejection_fails_with_the_server_reply(outlets, samples, rendered):
    outlets.smtp.inject("554")
    o = go(outlets, samples, rendered, "tv")
    assert o.state == "failed" and o.attempts == 1 and "554" in o.error and outlets.smtp.messages == []


def test_smtp_crash_after_all_desks_is_found_in_the_steps(outlets, samples, rendered):
    r, rend = samples[SAMPLE], rendered("newspaper")
    ledger = outlets.ledger()
    claimed = ledger.claim(ledger.ensure(SAMPLE, "newspaper", r.version), _dead_claimer())
    outlets.transport("newspaper").deliver(rend, attempt_for(ledger, claimed))  # sent; the worker dies before recording
    o = go(outlets, samples, rendered, "newspaper")
    assert o.state == "published" and o.attempts == 2 and len(outlets.smtp.messages) == 2


# -- dead credentials: the circuit breaker -----------------------------------------------------------

@pytest.mark.parametrize("channel,break_it", [
    ("wechat", lambda o: setattr(o.wechat, "secret", "rotated")),
    ("weibo", lambda o: setattr(o.weibo, "token", "revoked")),
    ("portal", lambda o: setattr(o.cms, "token", "rotated")),
    ("tv", lambda o: setattr(o.smtp, "password", "changed")),
])
def test_refused_credentials_disable_the_channel_until_doctor_passes(outlets, samples, rendered, channel, break_it):
    from pressroom.delivery import doctor

    break_it(outlets)
    first = go(outlets, samples, rendered, channel)
    assert first.state == "failed" and first.attempts == 1
    ledger = outlets.ledger()
    reason = doctor.channel_disabled(outlets.settings, ledger, channel)
    assert reason and "凭据被拒" in reason
    calls = (len(outlets.wechat.calls), len(outlets.weibo.calls), len(outlets.cms.calls), len(outlets.smtp.logins))
    later = go(outlets, samples, rendered, channel, rid="rainstorm-2026-11")
    assert later.state == "skipped" and "渠道已停用" in later.error  # shown as skipped, with the reason
    assert (len(outlets.wechat.calls), len(outlets.weibo.calls), len(outlets.cms.calls),
            len(outlets.smtp.logins)) == calls  # nothing was even tried
    assert not all(row["结果"] == "通过" for row in doctor.run_doctor(outlets.settings, ledger))
    assert doctor.channel_disabled(outlets.settings, ledger, channel)
    # Fixed: the doctor passes and re-enables it.
    outlets.wechat.secret = CREDENTIALS["PRESSROOM_WECHAT_SECRET"]
    outlets.weibo.token = CREDENTIALS["PRESSROOM_WEIBO_TOKEN"]
    outlets.cms.token = CREDENTIALS["PRESSROOM_CMS_TOKEN"]
    outlets.smtp.password = CREDENTIALS["PRESSROOM_SMTP_PASSWORD"]
    rows = doctor.run_doctor(outlets.settings, ledger)
    assert all(row["结果"] == "通过" for row in rows), rows
    assert doctor.channel_disabled(outlets.settings, Ledger(outlets.settings.ledger_url), channel) is None
    assert go(outlets, samples, rendered, channel, rid="rainstorm-2026-11").state == "published"
