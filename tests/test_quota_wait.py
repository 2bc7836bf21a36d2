"""A used-up platform quota is a wait, not a failure: WeChat's daily quota (45009) and Weibo's hourly limit
(10022–10024) put the row into 等待配额 with the reset time (next 00:00 Beijing time, the next hour), in the
audit trail too; nothing is sent before the reset, and the first run after it sends once. ``pressroom
publish`` says when to run again, or schedules the retry on the Prefect server when it can."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from tests import reviewers

import channels
from pressroom.delivery.ledger import waiting_until
from pressroom.transports.wechat import quota_reset
from pressroom.transports.weibo import hourly_reset
from tests.servers.harness import outlets, publish  # noqa: F401

SAMPLE = "water-price-rumor"
SUBMIT = "/cgi-bin/freepublish/submit"
BEIJING = ZoneInfo("Asia/Shanghai")


def go(o, samples, rendered, channel):
    return publish(o, samples[SAMPLE], rendered(channel), channel)


def _reset_passes(o, samples, channel) -> None:
    """Time passes beyond the reset (the row's reset time moved into the past)."""
    ledger = o.ledger()
    row = o.row(SAMPLE, channel, samples[SAMPLE].version)
    ledger.save_steps(row, {"retry_at": (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()})


def test_reset_times():
    assert quota_reset(datetime(2026, 12, 1, 23, 30, tzinfo=BEIJING)) == datetime(2026, 12, 2, tzinfo=BEIJING)
    assert quota_reset(datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)) == datetime(2026, 12, 3, tzinfo=BEIJING)
    assert quota_reset(datetime(2026, 12, 1, 15, 59, tzinfo=timezone.utc)) == datetime(2026, 12, 2, tzinfo=BEIJING)
    assert hourly_reset(datetime(2026, 12, 1, 10, 59, 30, tzinfo=timezone.utc)) == datetime(2026, 12, 1, 11,
                                                                                             tzinfo=timezone.utc)


def test_wechat_daily_quota_waits_until_midnight_beijing_then_publishes_once(outlets, samples, rendered):
    outlets.wechat.quotas[SUBMIT] = 0
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "waiting-quota" and o.attempts == 1  # not retried in vain
    assert "45009" in o.error and "00:00（北京时间）额度恢复后再发送" in o.error
    row = outlets.row(SAMPLE, "wechat", samples[SAMPLE].version)
    assert waiting_until(row) == quota_reset()
    events = [e for e in outlets.ledger().history(SAMPLE) if e["action"] == "waiting-quota"]
    assert len(events) == 1 and quota_reset().isoformat() in events[0]["detail"]
    assert outlets.wechat.publications == []
    # Before the reset: not claimed, nothing asked of the platform.
    calls = len(outlets.wechat.calls)
    again = go(outlets, samples, rendered, "wechat")
    assert again.state == "waiting-quota" and again.attempts == 1 and len(outlets.wechat.calls) == calls
    assert "等待配额" in again.notes[0]
    # After it: claimed again, looked up first, published once.
    outlets.wechat.quotas[SUBMIT] = 100
    _reset_passes(outlets, samples, "wechat")
    done = go(outlets, samples, rendered, "wechat")
    assert done.state == "published" and done.attempts == 2
    assert len(outlets.wechat.publications) == 1 and len(outlets.wechat.drafts) == 1


def test_weibo_hourly_limit_waits_until_the_next_hour(outlets, samples, rendered, monkeypatch):
    from pressroom.cli import app
    from pressroom.cli.base import console

    monkeypatch.setattr(console, "_width", 300)  # the history table on one line per event
    outlets.weibo.hourly_limit = 0  # the account's 30 posts this hour are used up
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "waiting-quota" and o.attempts == 1 and "10023" in o.error and "本小时额度已用完" in o.error
    until = waiting_until(outlets.row(SAMPLE, "weibo", samples[SAMPLE].version))
    assert until == hourly_reset() and until.minute == 0 and until > datetime.now(timezone.utc)
    res = CliRunner().invoke(app, ["history", SAMPLE])
    assert res.exit_code == 0
    line = next(ln for ln in res.output.splitlines() if "waiting-quota" in ln)
    assert "10023" in line and until.isoformat() in line
    outlets.weibo.hourly_limit = 30
    _reset_passes(outlets, samples, "weibo")
    done = go(outlets, samples, rendered, "weibo")
    assert done.state == "published" and len(outlets.weibo.posts) == 1


def test_weibo_posting_too_fast_is_still_a_short_retry(outlets, samples, rendered):
    outlets.weibo.inject("/2/statuses/share.json", "error", code=20016)
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "published" and o.attempts == 2


def test_a_waiting_row_can_be_resolved(outlets, samples, rendered):
    outlets.wechat.quotas[SUBMIT] = 0
    assert go(outlets, samples, rendered, "wechat").state == "waiting-quota"
    from pressroom.cli import app

    from tests import reviewers

    res = CliRunner().invoke(app, ["resolve", SAMPLE, "wechat", "--not-published", "--reviewer", "王审稿",
                                   "--code", reviewers.code("王审稿")])
    assert res.exit_code == 0 and "原状态 等待配额" in res.output


# -- pressroom publish ------------------------------------------------------------------------------

def _drop_deployments():
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for d in client.read_deployments():
            client.delete_deployment(d.id)


@pytest.fixture
def wide(monkeypatch):
    from pressroom.cli.base import console, err

    monkeypatch.setattr(console, "_width", 300)  # one line per message
    monkeypatch.setattr(err, "_width", 300)


def test_cli_publish_says_when_to_run_again(outlets, prefect_server, wide):
    from pressroom.cli import app

    _drop_deployments()  # nothing to schedule a retry on
    outlets.wechat.quotas[SUBMIT] = 0
    res = CliRunner().invoke(app, ["publish", SAMPLE, "--now", "-c", "wechat", "--reviewer", "王审稿",
                                   "--code", reviewers.code("王审稿")])
    assert res.exit_code == 1
    when = f"{quota_reset().astimezone(outlets.settings.tz):%Y-%m-%d %H:%M}"
    assert f"平台额度已用完，{when} 恢复" in res.output
    assert f"请在 {when} 之后再运行 pressroom publish {SAMPLE}" in res.output
    from prefect.settings import PREFECT_API_URL

    # With a server (here the test harness's) the run's page in the UI is printed.
    assert re.search(rf"流程运行：{re.escape(PREFECT_API_URL.value().removesuffix('/api'))}/runs/flow-run/[0-9a-f-]{{36}}",
                     res.output), res.output


def test_cli_publish_schedules_the_retry_at_the_reset_on_a_server(outlets, prefect_server, deployed, wide):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    from pressroom.cli import app

    outlets.wechat.quotas[SUBMIT] = 0
    res = CliRunner().invoke(app, ["publish", SAMPLE, "--now", "-c", "wechat", "--reviewer", "王审稿",
                                   "--code", reviewers.code("王审稿")])
    assert res.exit_code == 1 and "已在 Prefect 上排定届时自动重试" in res.output
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["quota-retry"])))
        try:
            assert len(runs) == 1
            assert runs[0].expected_start_time == quota_reset()
            assert runs[0].parameters == {"release": SAMPLE, "channels_only": ["wechat"]}
            assert any(e["action"] == "retry-scheduled" for e in outlets.ledger().history(SAMPLE))
        finally:
            for r in runs:
                client.delete_flow_run(r.id)


from tests.test_schedule import deployed  # noqa: E402,F401  (fixture: the deployments of prefect.yaml)
