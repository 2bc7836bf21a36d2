"""``pressroom resolve`` on each state a row can be in, against the outlet doubles: an editor settles what
is not published (待核实, 失败, 等待配额, 发布中 whose process died), the outlet's id is recorded so a
retraction deletes the post, and a row settled as "not published" is looked up again before it is sent."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.parse
import urllib.request

import pytest
from typer.testing import CliRunner

import channels
from pressroom.cli import app
from pressroom.delivery import engine
from pressroom.delivery.ledger import worker_token
from tests.servers.harness import CREDENTIALS, RIP, outlets, publish  # noqa: F401

SAMPLE = "water-price-rumor"
SHARE, TIMELINE = "/2/statuses/share.json", "/2/statuses/user_timeline.json"


def go(o, samples, rendered, channel):
    return publish(o, samples[SAMPLE], rendered(channel), channel)


def resolve(*args, input=None):
    from tests import reviewers

    person = "王审稿"  # a registered reviewer: settling a row changes what the ledger says is public
    return CliRunner().invoke(app, ["resolve", SAMPLE, *args, "--reviewer", person, "--code", reviewers.code(person)],
                              input=input)


def _post_by_hand(o, status: str) -> dict:
    form = {"access_token": CREDENTIALS["PRESSROOM_WEIBO_TOKEN"], "rip": RIP, "status": status}
    req = urllib.request.Request(o.weibo.url + SHARE, data=urllib.parse.urlencode(form).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _wechat(o, path: str, body: dict) -> dict:
    def call(p, b, params=""):
        req = urllib.request.Request(o.wechat.url + p + params, data=json.dumps(b).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    token = call("/cgi-bin/stable_token", {"grant_type": "client_credential", "appid": o.wechat.appid,
                                           "secret": o.wechat.secret})["access_token"]
    return call(path, body, "?access_token=" + token)


def _dead_claimer() -> str:
    p = subprocess.Popen(["true"])
    p.wait()
    return f"{socket.gethostname()}:{p.pid}:crashed"


# -- 待核实 ------------------------------------------------------------------------------------------

def test_unconfirmed_resolved_published_records_the_id_and_a_retraction_deletes_the_post(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "drop-before")  # the reply is lost; nothing was posted
    assert go(outlets, samples, rendered, "weibo").state == "unconfirmed"
    post = _post_by_hand(outlets, json.loads(rendered("weibo").files["weibo-share.json"])["status"])
    url = f"https://weibo.com/{outlets.weibo.uid}/{post['mid']}"
    res = resolve("weibo", "--published", url)
    assert res.exit_code == 0, res.output
    assert "已发布" in res.output and f"平台 id {post['idstr']}" in res.output
    row = outlets.row(SAMPLE, "weibo", samples[SAMPLE].version)
    assert (row.state, row.url, row.external_id) == ("published", url, post["idstr"])
    assert "resolved-published" in [e["action"] for e in outlets.ledger().history(SAMPLE)]
    # The retraction can delete it: the id came from the URL.
    assert engine.delete_one(outlets.settings, row) == f"已删除微博 {post['idstr']}"
    assert outlets.weibo.posts == []


def test_unconfirmed_resolved_not_published_is_looked_up_before_it_is_sent(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "drop-before")
    assert go(outlets, samples, rendered, "weibo").state == "unconfirmed"
    res = resolve("weibo", "--not-published")
    assert res.exit_code == 0, res.output
    assert "先到平台查询" in res.output
    before = len(outlets.weibo.calls)
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "published" and len(outlets.weibo.posts) == 1
    paths = [c.path for c in outlets.weibo.calls[before:]]
    assert paths.index(TIMELINE) < paths.index(SHARE)  # looked on the account first, then posted


def test_resolved_not_published_but_there_after_all_is_adopted_not_posted_again(outlets, samples, rendered):
    outlets.weibo.inject(SHARE, "drop-before")
    assert go(outlets, samples, rendered, "weibo").state == "unconfirmed"
    assert resolve("weibo", "--not-published").exit_code == 0
    post = _post_by_hand(outlets, json.loads(rendered("weibo").files["weibo-share.json"])["status"])  # a colleague posted
    o = go(outlets, samples, rendered, "weibo")
    assert o.state == "published" and len(outlets.weibo.posts) == 1
    assert outlets.row(SAMPLE, "weibo", samples[SAMPLE].version).external_id == post["idstr"]


def test_smtp_desk_in_doubt_resolved_not_published_gets_its_copy(outlets, samples, rendered):
    outlets.smtp.inject("none")
    outlets.smtp.inject("drop-after-data")  # the second desk's 250 never came
    assert go(outlets, samples, rendered, "newspaper").state == "unconfirmed"
    outlets.smtp.messages.pop()  # the desk says it has nothing: its server lost it
    assert resolve("newspaper", "--not-published").exit_code == 0
    assert go(outlets, samples, rendered, "newspaper").state == "published"
    assert len(outlets.smtp.messages) == 2  # the first desk was not mailed again


# -- 失败 ------------------------------------------------------------------------------------------

def test_failed_wechat_row_live_on_the_platform_is_resolved_with_the_article_id(outlets, samples, rendered):
    outlets.wechat.inject("/cgi-bin/freepublish/submit", "errcode", code=53503)
    o = go(outlets, samples, rendered, "wechat")
    assert o.state == "failed"
    # The editor published the draft by hand in the platform's console.
    media_id = outlets.wechat.state.draft_order[0]
    job = _wechat(outlets, "/cgi-bin/freepublish/submit", {"media_id": media_id})
    while (got := _wechat(outlets, "/cgi-bin/freepublish/get", {"publish_id": job["publish_id"]}))["publish_status"]:
        pass
    url = got["article_detail"]["item"][0]["article_url"]
    res = resolve("wechat", "--published", url, input=f"{got['article_id']}\n")  # asked for the id
    assert res.exit_code == 0, res.output
    assert "article_id" in res.output and f"平台 id {got['article_id']}" in res.output
    row = outlets.row(SAMPLE, "wechat", samples[SAMPLE].version)
    assert (row.state, row.external_id) == ("published", got["article_id"])
    assert engine.delete_one(outlets.settings, row) == f"已删除公众号文章 {got['article_id']}"
    assert outlets.wechat.publications == []


def test_resolved_with_an_explicit_id(outlets, samples, rendered):
    outlets.wechat.inject("/cgi-bin/draft/add", "errcode", code=53503)
    assert go(outlets, samples, rendered, "wechat").state == "failed"
    res = resolve("wechat", "--published", "https://mp.weixin.qq.com/s/abc", "--id", "ARTICLE_X")
    assert res.exit_code == 0, res.output
    assert outlets.row(SAMPLE, "wechat", samples[SAMPLE].version).external_id == "ARTICLE_X"


# -- 发布中 ------------------------------------------------------------------------------------------

def test_delivering_with_a_dead_claimer_can_be_resolved(outlets, samples, rendered):
    ledger = outlets.ledger()
    ledger.claim(ledger.ensure(SAMPLE, "weibo", samples[SAMPLE].version), _dead_claimer())
    res = resolve("weibo", "--not-published")
    assert res.exit_code == 0, res.output
    assert "原状态 发布中" in res.output
    assert go(outlets, samples, rendered, "weibo").state == "published" and len(outlets.weibo.posts) == 1


def test_delivering_with_a_live_claimer_is_refused(outlets, samples, rendered):
    ledger = outlets.ledger()
    ledger.claim(ledger.ensure(SAMPLE, "weibo", samples[SAMPLE].version), worker_token())  # this process: alive
    res = resolve("weibo", "--not-published")
    assert res.exit_code == 1 and "仍在运行" in res.output
    assert outlets.row(SAMPLE, "weibo", samples[SAMPLE].version).state == "delivering"


# -- nothing to settle -------------------------------------------------------------------------------

def test_published_and_never_sent_rows_are_refused(outlets, samples, rendered):
    assert go(outlets, samples, rendered, "weibo").state == "published"
    res = resolve("weibo", "--not-published")
    assert res.exit_code == 1 and "已发布" in res.output
    outlets.ledger().ensure(SAMPLE, "tv", samples[SAMPLE].version)
    res = resolve("tv", "--not-published")
    assert res.exit_code == 1 and "尚未发送过" in res.output
    res = resolve("portal", "--not-published")
    assert res.exit_code == 1 and "无记录" in res.output


def test_one_of_published_or_not_published_is_required(outlets):
    assert resolve("weibo").exit_code == 2
