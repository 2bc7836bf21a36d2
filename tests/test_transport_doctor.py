"""``pressroom doctor`` (``run_doctor``): every configured outlet checked against the doubles, a table an
editor can act on, nothing published, no secret printed."""

from __future__ import annotations

from pressroom.delivery.doctor import run_doctor
from tests.servers.harness import CREDENTIALS, outlets  # noqa: F401

COLUMNS = ["渠道", "检查", "结果", "说明"]


def _nothing_published(o):
    return (o.wechat.drafts == [] and o.wechat.state.jobs == {} and o.weibo.posts == []
            and o.cms.pages == {} and o.smtp.messages == [])


def test_all_outlets_pass_and_nothing_is_published(outlets):
    rows = run_doctor(outlets.settings)
    assert rows and all(list(r) == COLUMNS for r in rows)
    assert all(r["结果"] == "通过" for r in rows), rows
    channels = " ".join(r["渠道"] for r in rows)
    for label in ("微信公众号", "微博", "门户网站", "报纸", "电视"):
        assert label in channels
    checks = {r["检查"] for r in rows}
    assert {"获取 access_token", "草稿/发布接口权限", "access_token", "rip（出口 IP）", "SMTP 连接与登录",
            "CMS 连通与令牌", "本地发件箱可写"} <= checks
    assert _nothing_published(outlets)
    assert outlets.smtp.logins == [f"{outlets.smtp.username}:ok"]  # STARTTLS and login really happened


def test_broken_outlets_are_named_with_what_to_fix(outlets, monkeypatch):
    outlets.wechat.inject("/cgi-bin/stable_token", "errcode", code=40164, extra={"errmsg": "invalid ip"})
    outlets.configure(weibo_rip='""')
    outlets.smtp.password = "rotated"
    outlets.cms.stop()
    monkeypatch.delenv("PRESSROOM_WEIBO_TOKEN")
    rows = {(r["渠道"], r["检查"]): r for r in run_doctor(outlets.settings)}
    failed = {k: r["说明"] for k, r in rows.items() if r["结果"] == "失败"}
    by_check = {k[1]: v for k, v in failed.items()}
    assert "白名单" in by_check["获取 access_token"] and "40164" in by_check["获取 access_token"]
    assert "rip" in by_check["rip（出口 IP）"]
    assert "PRESSROOM_WEIBO_TOKEN" in by_check["access_token"]  # where to put the missing token
    assert "拒绝登录" in by_check["SMTP 连接与登录"]
    assert "无法连接" in by_check["CMS 连通与令牌"]
    text = repr(rows)
    assert not [s for s in CREDENTIALS.values() if s in text and s != CREDENTIALS["PRESSROOM_WECHAT_APPID"]]
    assert _nothing_published(outlets)
