"""The whole publish flow (Prefect test harness, real ledger) with every API channel on its real transport
against the outlet doubles: one copy on each outlet, the platforms' URLs in the ledger, and a re-run that
sends nothing."""

from __future__ import annotations

import pytest

from tests.servers.harness import DESKS, outlets  # noqa: F401

SAMPLE = "water-price-rumor"
REAL = {"wechat": "wechat", "weibo": "weibo", "portal": "cms", "newspaper": "smtp", "tv": "smtp",
        "infographic": "outbox", "h5": "outbox"}


@pytest.fixture(autouse=True)
def _prefect(prefect_server, monkeypatch):
    monkeypatch.setenv("PRESSROOM_RETRY_DELAYS", "0.1,0.1,0.1")
    yield


def test_flow_publishes_through_the_real_transports_once(outlets):
    from flows.publish import publish_release

    outlets.configure(transports=REAL)
    outlets.wechat.inject("/cgi-bin/freepublish/submit", "drop-after")  # a lost reply on the way
    outlets.weibo.inject("/2/statuses/share.json", "error", code=20016)  # and posting too fast
    state = publish_release(SAMPLE, return_state=True)
    assert state.is_completed(), state.message
    rows = outlets.ledger().latest(SAMPLE)
    assert {ch: d.state for ch, d in rows.items()} == dict.fromkeys(REAL, "published")
    assert len(outlets.wechat.publications) == 1 and len(outlets.weibo.posts) == 1
    assert outlets.cms.puts == 1 and len(outlets.smtp.messages) == len(DESKS["newspaper"]) + len(DESKS["tv"])
    assert rows["wechat"].url.startswith("https://mp.weixin.qq.com/s/")
    assert rows["weibo"].url.startswith("https://weibo.com/") and rows["weibo"].attempts == 2
    assert rows["portal"].url == f"https://www.huainan.gov.cn/xwfb/{SAMPLE}.html"

    before = (len(outlets.wechat.calls), len(outlets.weibo.calls), len(outlets.cms.calls), len(outlets.smtp.messages))
    assert publish_release(SAMPLE, return_state=True).is_completed()
    assert (len(outlets.wechat.calls), len(outlets.weibo.calls), len(outlets.cms.calls),
            len(outlets.smtp.messages)) == before


def test_credentials_come_from_a_prefect_secret_block(outlets, monkeypatch):
    from prefect.blocks.system import Secret

    from pressroom import secrets
    from pressroom.delivery.doctor import run_doctor

    Secret(value=outlets.cms.token).save("pressroom-test-cms-token", overwrite=True)
    monkeypatch.delenv("PRESSROOM_CMS_TOKEN")
    settings = outlets.configure(cms_token_block='"pressroom-test-cms-token"')
    assert secrets.credential(settings, "cms", "token") == outlets.cms.token
    rows = [r for r in run_doctor(settings) if r["检查"] == "CMS 连通与令牌"]
    assert rows and rows[0]["结果"] == "通过"
    outlets.configure(cms_token_block='"no-such-block"')
    rows = [r for r in run_doctor(outlets.settings) if r["检查"] == "CMS 连通与令牌"]
    assert rows[0]["结果"] == "失败" and "“no-such-block”" in rows[0]["说明"], rows
