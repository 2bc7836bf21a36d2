"""The outlet doubles against the documentation (docs/outlets.md), not against the transports: raw HTTP
requests written from the platforms' documented behaviour, so a double that drifted to suit the
transport would fail here."""

from __future__ import annotations

import json

import pytest
import requests

from tests.servers.weibo import WeiboServer
from tests.servers.wechat import WeChatServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
# docs/outlets.md#wechat: the fields of a freepublish/batchget news_item.
NEWS_ITEM_FIELDS = {"title", "author", "digest", "content", "content_source_url", "thumb_media_id", "thumb_url",
                    "need_open_comment", "only_fans_can_comment", "url", "is_deleted"}


class WeChat:
    def __init__(self, server: WeChatServer):
        self.s = server
        body = {"grant_type": "client_credential", "appid": server.appid, "secret": server.secret}
        self.token = requests.post(f"{server.url}/cgi-bin/stable_token", json=body).json()["access_token"]

    def call(self, path, body=None, **kw):
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        return requests.post(f"{self.s.url}{path}", params={"access_token": self.token, **kw.pop("params", {})},
                             data=data, **kw).json()

    def draft(self, title="标题", digest="摘要", url="https://www.huainan.gov.cn/xwfb/a.html") -> str:
        thumb = self.call("/cgi-bin/material/add_material", params={"type": "image"},
                          files={"media": ("c.png", PNG, "image/png")})["media_id"]
        article = {"title": title, "digest": digest, "content": "<p>正文</p>", "content_source_url": url,
                   "thumb_media_id": thumb}
        return self.call("/cgi-bin/draft/add", {"articles": [article]})["media_id"]

    def publish(self, media_id: str) -> dict:
        job = self.call("/cgi-bin/freepublish/submit", {"media_id": media_id})
        assert job["errcode"] == 0
        return self.call("/cgi-bin/freepublish/get", {"publish_id": job["publish_id"]})

    def box(self) -> list[str]:
        res = self.call("/cgi-bin/draft/batchget", {"offset": 0, "count": 20, "no_content": 1})
        return [i["media_id"] for i in res["item"]]


@pytest.fixture
def wx():
    with WeChatServer(publish_polls=0) as server:
        yield WeChat(server)


@pytest.fixture
def wb():
    with WeiboServer() as server:
        yield server


def test_wechat_a_published_draft_leaves_the_draft_box(wx):
    """docs/outlets.md#wechat: a draft leaves the draft box once it is published; its media_id cannot be
    submitted again (40007)."""
    media_id = wx.draft()
    assert wx.box() == [media_id]
    assert wx.publish(media_id)["publish_status"] == 0
    assert wx.box() == []
    assert wx.call("/cgi-bin/freepublish/submit", {"media_id": media_id})["errcode"] == 40007


def test_wechat_a_mass_sent_draft_leaves_the_draft_box(wx):
    media_id = wx.draft()
    body = {"filter": {"is_to_all": True}, "mpnews": {"media_id": media_id}, "msgtype": "mpnews",
            "send_ignore_reprint": 0, "clientmsgid": "r.1"}
    assert wx.call("/cgi-bin/message/mass/sendall", body)["errcode"] == 0
    assert wx.box() == []
    assert wx.call("/cgi-bin/freepublish/submit", {"media_id": media_id})["errcode"] == 40007
    again = wx.call("/cgi-bin/message/mass/sendall", body)  # the same clientmsgid: the earlier msg_id
    assert again["errcode"] == 45065 and again["msg_id"]


def test_wechat_published_items_carry_the_documented_fields(wx):
    wx.publish(wx.draft())
    res = wx.call("/cgi-bin/freepublish/batchget", {"offset": 0, "count": 20, "no_content": 0})
    (item,) = res["item"]
    assert res["total_count"] == res["item_count"] == 1 and item["article_id"]
    assert isinstance(item["update_time"], int) and item["update_time"] > 1_600_000_000
    (news,) = item["content"]["news_item"]
    assert set(news) == NEWS_ITEM_FIELDS and news["is_deleted"] is False
    assert news["url"].startswith("https://mp.weixin.qq.com/s/")


def test_wechat_fields_may_be_absent(wx):
    """docs/outlets.md#wechat: fields of news_item may be absent — a platform leaving some out."""
    wx.s.omit_fields = {"content_source_url", "digest"}
    wx.publish(wx.draft())
    res = wx.call("/cgi-bin/freepublish/batchget", {"offset": 0, "count": 20, "no_content": 1})
    news = res["item"][0]["content"]["news_item"][0]
    assert "content_source_url" not in news and "digest" not in news and news["title"] == "标题"


def _share(server, status, token=None):
    return requests.post(f"{server.url}/2/statuses/share.json",
                         data={"access_token": token or server.token, "status": status, "rip": "203.0.113.7"})


URL = "https://www.huainan.gov.cn/xwfb/" + "a" * 40 + ".html"


def test_weibo_length_counts_every_character_as_documented(wb):
    """docs/outlets.md#weibo: "不超过140个汉字" — every character one, a URL at its full length."""
    head = "详情：" + URL
    ok = "文" * (140 - len(head)) + head
    assert len(ok) == 140 and _share(wb, ok).status_code == 200
    too_long = "字" + ok
    r = _share(wb, too_long)
    assert r.json()["error_code"] == 20012
    weighted = WeiboServer(counting="weighted")  # a platform weighing like Sina's web client
    with weighted:
        assert _share(weighted, too_long).status_code == 200  # the URL counts as a 10-character short link


def test_weibo_repeated_means_the_same_as_the_last_post(wb):
    """docs/outlets.md#weibo: 20019 is the same text as the account's last post."""
    a, b = f"第一条。详情：{URL}", f"第二条。详情：{URL}"
    assert _share(wb, a).status_code == 200
    assert _share(wb, a).json()["error_code"] == 20019
    assert _share(wb, b).status_code == 200
    assert _share(wb, a).status_code == 200  # not the last post any more: accepted (a second copy)
    assert len(wb.posts) == 3


def test_weibo_timeline_may_be_unavailable(wb):
    """docs/outlets.md#weibo: statuses/user_timeline is restricted for many apps: an error or a 404."""
    params = {"access_token": wb.token, "count": 20}
    r = requests.get(f"{wb.url}/2/statuses/user_timeline.json", params=params)
    assert r.status_code == 200 and r.json()["statuses"] == []
    wb.timeline_status = 404
    r = requests.get(f"{wb.url}/2/statuses/user_timeline.json", params=params)
    assert r.status_code == 404 and "statuses" not in r.text
    wb.timeline_status = 403
    r = requests.get(f"{wb.url}/2/statuses/user_timeline.json", params=params)
    assert r.status_code == 403 and r.json()["error_code"] == 10014


def test_weibo_get_uid_names_the_tokens_account(wb):
    r = requests.get(f"{wb.url}/2/account/get_uid.json", params={"access_token": wb.token})
    assert r.json() == {"uid": wb.uid}
    r = requests.get(f"{wb.url}/2/account/get_uid.json", params={"access_token": "revoked"})
    assert r.status_code == 401 and r.json()["error_code"] == 21332
