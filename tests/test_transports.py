"""The real transports against real servers on 127.0.0.1: a sample release published through WeChat,
Weibo, the portal CMS and SMTP to the desks, with what each server received checked; and no credential
anywhere it must not be."""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest

import channels
from pressroom.transports import TransientError
from tests.servers.harness import CREDENTIALS, DESKS, RIP, outlets, publish  # noqa: F401

SAMPLE = "water-price-rumor"


def _attachments(msg):
    return {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}


def test_publishes_the_sample_through_all_four_outlets(outlets, samples, rendered):
    r = samples[SAMPLE]
    outcomes = {ch: publish(outlets, r, rendered(ch)) for ch in ("wechat", "weibo", "portal", "newspaper", "tv")}
    assert {ch: o.state for ch, o in outcomes.items()} == dict.fromkeys(outcomes, "published"), \
        {ch: o.error for ch, o in outcomes.items()}

    # WeChat: cover as permanent material, one draft with it, one publication, its URL recorded.
    wx, draft = outlets.wechat, rendered("wechat").payload["articles"][0]
    assert len(wx.drafts) == 1 and len(wx.publications) == 1
    stored = wx.drafts[0][0]
    assert stored["title"] == draft["title"] and stored["digest"] == draft["digest"]
    assert stored["content_source_url"] == "https://www.huainan.gov.cn/xwfb/water-price-rumor.html"
    assert wx.state.materials[stored["thumb_media_id"]] == rendered("wechat").files["cover.png"]
    # Its only image is the 图解: uploaded, its URL substituted for the placeholder, nothing else changed.
    (poster,) = json.loads(rendered("wechat").files["wechat-manifest.json"])["images"]
    (url_,) = wx.state.images
    assert wx.state.images[url_] == rendered("wechat").files[poster["file"]]
    assert stored["content"] == draft["content"].replace(poster["placeholder"], url_)
    url = wx.publications[0]["content"]["news_item"][0]["url"]
    assert outcomes["wechat"].url == url and url.startswith("https://mp.weixin.qq.com/s/")
    assert len(wx.calls_to("/cgi-bin/freepublish/get")) <= 2  # polled sparingly (quota 100 a day)

    # Weibo: the status as rendered, the picture, the rip; the post's URL recorded.
    wb = outlets.weibo
    assert len(wb.posts) == 1
    post = wb.posts[0]
    assert wb.originals[post["idstr"]] == rendered("weibo").payload["status"]
    assert wb.pics[post["idstr"]] == rendered("weibo").files["weibo-pic.png"]
    share = wb.calls_to("/2/statuses/share.json")[-1]
    assert share.form["rip"] == RIP and "multipart/form-data" in share.headers["content-type"]
    assert outcomes["weibo"].url == f"https://weibo.com/{wb.uid}/{post['mid']}"

    # CMS: one page with every file, byte for byte as rendered but for the 发布时间 slot, filled with the
    # minute it went out (the sample's publish_at is past: late); the approved digest names it.
    from channels.base import fill_published

    page = outlets.cms.pages[f"/releases/{SAMPLE}"]
    shown = outcomes["portal"].shown_at
    assert shown is not None and outcomes["portal"].late_minutes > 0
    assert outlets.cms.puts == 1 and page["files"] == fill_published(rendered("portal").files, shown, outlets.settings.tz)
    assert page["files"] != dict(rendered("portal").files) and page["content_hash"] == rendered("portal").content_hash
    assert f'datetime="{shown.astimezone(outlets.settings.tz).isoformat()}"'.encode() in page["files"][f"{SAMPLE}.html"]
    assert page["version"] == r.version and page["page"] == f"{SAMPLE}.html"
    assert outcomes["portal"].url == f"https://www.huainan.gov.cn/xwfb/{SAMPLE}.html"

    # SMTP: one message per desk, copy as text, the rest attached, one stable Message-ID per channel.
    got = {m.rcpt_tos[0]: m for m in outlets.smtp.messages}
    assert sorted(got) == sorted(DESKS["newspaper"] + DESKS["tv"])
    assert all(len(m.rcpt_tos) == 1 and m.message["To"] == m.rcpt_tos[0] for m in got.values())
    for ch in ("newspaper", "tv"):
        rend = rendered(ch)
        copy = rend.files[f"{SAMPLE}.txt"].decode("utf-8-sig")
        for desk in DESKS[ch]:
            msg = got[desk].message
            assert msg["Message-ID"] == f"<{SAMPLE}.{ch}.{r.version}@pressroom>"
            assert msg.get_body(("plain",)).get_content().strip() == copy.strip()
            assert _attachments(msg) == {n: d for n, d in rend.files.items() if n != f"{SAMPLE}.txt"}
    assert "【报纸" in got[DESKS["newspaper"][0]].message["Subject"]
    assert all(entry.endswith(":ok") for entry in outlets.smtp.logins)

    # Everything the flow shows: each ledger row published, with the id it can be found by.
    ledger = outlets.ledger()
    rows = {ch: ledger.get(SAMPLE, ch, r.version) for ch in outcomes}
    assert rows["wechat"].steps["draft_media_id"] == wx.state.draft_order[0]
    assert rows["weibo"].external_id == post["idstr"]
    assert set(rows["newspaper"].steps["sent"]) == set(DESKS["newspaper"])


def test_wechat_body_images_are_uploaded_and_substituted(outlets, samples, rendered):
    rid = "rainstorm-2026-11"
    rend = rendered("wechat", rid)
    manifest = json.loads(rend.files["wechat-manifest.json"])
    assert manifest["images"], "the sample must have a body image for this test"
    assert publish(outlets, samples[rid], rend).state == "published"
    content = outlets.wechat.drafts[0][0]["content"]
    srcs = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', content)
    # The double keeps only images that came from uploadimg (as the platform does): every one survived.
    assert len(srcs) == len(manifest["images"]) and "pressroom-image:" not in content
    for up, src in zip(manifest["images"], srcs):
        assert outlets.wechat.state.images[src] == rend.files[up["file"]]
    assert len(outlets.wechat.calls_to("/cgi-bin/media/uploadimg")) == len(manifest["images"])


def test_a_second_run_sends_nothing(outlets, samples, rendered):
    r = samples[SAMPLE]
    chans = ("wechat", "weibo", "portal", "newspaper")
    for ch in chans:
        assert publish(outlets, r, rendered(ch)).state == "published"
    calls = (len(outlets.wechat.calls), len(outlets.weibo.calls), len(outlets.cms.calls), len(outlets.smtp.messages))
    again = [publish(outlets, r, rendered(ch)) for ch in chans]
    assert all(o.state == "published" and "未重复发送" in o.notes[0] for o in again)
    assert (len(outlets.wechat.calls), len(outlets.weibo.calls), len(outlets.cms.calls),
            len(outlets.smtp.messages)) == calls


def test_wechat_push_to_followers_goes_out_once(outlets, samples, rendered):
    """A pushed release is a 群发 instead of a 发表 (a published draft cannot be mass-sent: 40007)."""
    outlets.configure(wechat_push='"always"')
    r, rend = samples[SAMPLE], rendered("wechat")
    outlets.wechat.inject("/cgi-bin/message/mass/sendall", "drop-after")  # pushed, reply lost
    assert publish(outlets, r, rend).state == "published"
    assert len(outlets.wechat.state.mass) == 1
    (cid, sent), = outlets.wechat.state.mass.items()
    assert cid == f"{SAMPLE}.{r.version}" and sent["media_id"] == outlets.wechat.state.draft_order[0]
    assert len(outlets.wechat.calls_to("/cgi-bin/message/mass/sendall")) == 2  # retried, deduplicated
    row = outlets.row(SAMPLE, "wechat", r.version)
    assert row.steps["mass_msg_id"] == str(sent["msg_id"]) and row.external_id == f"mass:{sent['msg_id']}"
    assert outlets.wechat.calls_to("/cgi-bin/freepublish/submit") == []  # no 发表 of the same draft
    assert outlets.wechat.draft_box == []  # the 群发 consumed the draft
    from pressroom.delivery.engine import delete_one
    assert "群发消息" in delete_one(outlets.settings, row) and sent["deleted"]


def test_publish_job_finish_callback_wakes_the_poller(outlets, samples, rendered):
    import threading

    from pressroom.transports import wechat

    outlets.configure(wechat_poll_delays="[600]")  # without the callback this would wait ten minutes
    outlets.wechat.publish_polls = 0
    r, rend = samples[SAMPLE], rendered("wechat")
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("o", publish(outlets, r, rend)), daemon=True)
    t.start()
    while not outlets.wechat.state.jobs:
        t.join(0.02)
    (publish_id, job), = outlets.wechat.state.jobs.items()
    wechat.publish_event(f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Event><![CDATA[PUBLISHJOBFINISH]]></Event>"
                         f"<PublishEventInfo><publish_id>{publish_id}</publish_id><publish_status>0</publish_status>"
                         f"</PublishEventInfo></xml>")
    t.join(30)
    assert not t.is_alive() and result["o"].state == "published"
    assert len(outlets.wechat.calls_to("/cgi-bin/freepublish/get")) == 1  # the poll stays the source of truth


def test_no_credential_leaks_into_logs_errors_ledger_or_files(outlets, samples, rendered, caplog):
    """Fake credentials set; publish everything, including failures whose messages carry request URLs;
    then grep every log record, error, ledger row and file for the secrets and the WeChat token."""
    caplog.set_level(logging.DEBUG)
    r = samples[SAMPLE]
    outlets.configure(transports={"wechat": "wechat", "weibo": "weibo", "portal": "cms", "newspaper": "smtp",
                                  "tv": "smtp", "infographic": "outbox", "h5": "outbox"})
    errors = []
    # A WeChat call refused mid-way with the token in its URL (the server goes away after the token).
    wx = outlets.wechat
    t = outlets.transport("wechat")
    t._token()
    port = wx.httpd.server_address[1]
    wx.stop()
    try:
        t.http.request("POST", "/cgi-bin/draft/add", what="新建草稿", params={"access_token": t._token()})
    except TransientError as e:
        errors.append(str(e))
    # The message names the address to check and what went wrong, in Chinese; no token, no library text.
    assert errors and f"{port}" in errors[0] and "连接被拒绝" in errors[0] and "access_token" not in errors[0]
    assert "urllib3" not in errors[0] and "Errno" not in errors[0]
    from tests.servers.wechat import WeChatServer

    outlets.wechat = WeChatServer(appid=wx.appid, secret=wx.secret)
    outlets.wechat.start()
    outlets.configure(transports={"wechat": "wechat", "weibo": "weibo", "portal": "cms", "newspaper": "smtp",
                                  "tv": "smtp", "infographic": "outbox", "h5": "outbox"})
    try:
        outlets.weibo.inject("/2/statuses/share.json", "drop-after")  # lookup via timeline (token in URL)
        outlets.cms.inject("/releases/water-price-rumor", "5xx")
        for ch in ("wechat", "weibo", "portal", "newspaper", "tv", "infographic"):
            o = publish(outlets, r, rendered(ch))
            assert o.state == "published", o.error
            errors.append(o.error)
        # A refused credential: its error goes to the ledger and the breaker's event.
        outlets.weibo.token = "another-token"
        errors.append(publish(outlets, samples["rainstorm-2026-11"], rendered("weibo", "rainstorm-2026-11")).error)
    finally:
        outlets.wechat.stop()
    secrets = list(CREDENTIALS.values())[1:] + wx.tokens_issued() + outlets.wechat.tokens_issued()
    assert any("授权无效" in e for e in errors)
    ledger = outlets.ledger()
    haystacks = {"logs": caplog.text, "errors": "\n".join(errors),
                 "ledger rows": repr([d for d in ledger.rows()]),
                 "ledger events": repr(ledger.history(SAMPLE) + ledger.history("rainstorm-2026-11")
                                       + ledger.history("*outlets*"))}
    assert "access_token=" in caplog.text  # the URL log lines were there, redacted
    for path in outlets.root.rglob("*"):
        if path.is_file() and path.parent.name != "tls":
            data = path.read_bytes()
            haystacks[str(path)] = data.decode("utf-8", "replace") + base64.b64encode(data).decode()
    leaks = [(s[:6], where) for s in secrets for where, text in haystacks.items() if s in text]
    assert leaks == []
