"""Corrections and retractions end to end: the real flows (session Prefect harness), the real ledger,
the outbox, and the outlet doubles (WeChat, Weibo, CMS, SMTP) that show every duplicate and every deletion."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest

from tests.conftest import ROOT
from tests.reviewers import code, person
from tests.servers.cms import CMSServer
from tests.servers.harness import CREDENTIALS, DESKS, Outlets, settings_text
from tests.servers.smtp import SMTPServer
from tests.servers.wechat import WeChatServer
from tests.servers.weibo import WeiboServer

SAMPLE = "water-price-rumor"
WRONG, RIGHT = "共接到相关咨询137件", "共接到相关咨询173件"
API = {"wechat": "wechat", "weibo": "weibo", "portal": "cms", "newspaper": "smtp", "tv": "smtp",
       "infographic": "outbox", "h5": "outbox"}
OUTBOX = dict.fromkeys(API, "outbox")


@dataclass
class Desk:
    root: Path
    outlets: Outlets

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def configure(self, transports: dict, extra: str = ""):
        from pressroom.settings import load_settings

        text = settings_text(self.root, self.outlets, transports)
        text = re.sub(r'(?m)^content = .*$', f'content = "{self.root / "content"}"', text) + extra
        path = self.root / "pressroom.toml"
        path.write_text(text, encoding="utf-8")
        self.outlets.settings = load_settings(path)

    def edit(self, release_id: str, old: str, new: str) -> None:
        path = self.root / "content" / "releases" / release_id / "release.md"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def ledger(self):
        return self.outlets.ledger()

    def calls(self) -> tuple:
        o = self.outlets
        return (len(o.wechat.calls), len(o.weibo.calls), len(o.cms.calls), len(o.smtp.messages))


@pytest.fixture
def desk(tmp_path, monkeypatch, prefect_server):
    """A private copy of the content, the four outlet doubles running, settings pointing at them."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PRESSROOM_RETRY_DELAYS", "0.1,0.1")
    monkeypatch.setenv("PRESSROOM_CONFIG", str(tmp_path / "pressroom.toml"))
    servers = (WeChatServer(appid=CREDENTIALS["PRESSROOM_WECHAT_APPID"], secret=CREDENTIALS["PRESSROOM_WECHAT_SECRET"]),
               WeiboServer(token=CREDENTIALS["PRESSROOM_WEIBO_TOKEN"]), CMSServer(token=CREDENTIALS["PRESSROOM_CMS_TOKEN"]),
               SMTPServer(tmp_path / "tls", password=CREDENTIALS["PRESSROOM_SMTP_PASSWORD"]))
    for s in servers:
        s.start()
    d = Desk(tmp_path, Outlets(tmp_path, *servers))
    try:
        yield d
    finally:
        for s in servers:
            s.stop()


def publish(release=SAMPLE):
    from flows.publish import publish_release

    state = publish_release(release, now=True, return_state=True, **person("王审稿"))
    assert state.is_completed(), state.message


def correct(release=SAMPLE, **kw):
    from flows.correct import correct_release

    return correct_release(release, return_state=True, **kw)


def retract(release=SAMPLE, reason="误发：稿件尚未经过审核", **kw):
    from flows.correct import retract_release

    return retract_release(release, reason=reason, return_state=True, **kw)


def actions(ledger, release_id):
    return [(e["action"], e["channel"], e["version"], e["actor"]) for e in ledger.history(release_id)]


def body_of(message) -> str:
    return message.message.get_body(("plain",)).get_content()


# ---------------------------------------------------------------------------------------------
# The pure parts


def test_the_desks_diff_marks_the_changed_words_and_the_note_quotes_them():
    from pressroom.text.diff import summary, text_diff

    old = "标题\n截至11月21日9时，12345热线共接到相关咨询137件。\n未改动的一段。\n删去的一段。"
    new = "标题\n截至11月21日9时，12345热线共接到相关咨询173件。\n未改动的一段。\n增加的“一段”。"
    diff = text_diff(old, new)
    assert "【删】截至11月21日9时，12345热线共接到相关咨询1〖37〗件。" in diff or \
        "【删】截至11月21日9时，12345热线共接到相关咨询〖137〗件。" in diff, diff
    assert any(x.startswith("【增】") and "〖" in x and "73" in x for x in diff)
    assert "　　　标题" in diff and "　　　未改动的一段。" in diff  # context, aligned with the markers
    note = summary(old, new)
    assert "“12345热线共接到相关咨询137件”" in note and "“12345热线共接到相关咨询173件”" in note
    assert "‘一段’" in note  # a quote inside the quoted words becomes single quotes (GB/T 15834)
    assert summary(None, new) == "本文部分内容有误，现已更正。"


# ---------------------------------------------------------------------------------------------
# Correction


def test_a_correction_then_a_retraction_reach_every_outlet_once(desk):
    """Published, corrected (each outlet as it allows; a re-run sends nothing), then withdrawn."""
    desk.configure(API)
    o = desk.outlets
    publish()
    ledger = desk.ledger()
    old = ledger.latest(SAMPLE)
    old_article, old_post = old["wechat"].url, old["weibo"].url
    desk.edit(SAMPLE, WRONG, RIGHT)
    o.weibo.inject("/2/statuses/share.json", "error", code=20016)  # posting too fast: retried
    o.wechat.inject("/cgi-bin/freepublish/delete", "drop-after")  # deleted, the reply lost: asked again

    state = correct(delete_old=True, **person("钱编辑"))
    assert state.is_completed(), state.message
    rows = ledger.latest(SAMPLE)
    new_version = rows["portal"].version
    assert new_version != old["portal"].version
    assert {ch: (d.state, d.version) for ch, d in rows.items()} == dict.fromkeys(API, ("published", new_version))

    # WeChat: a new article marked 【更正】 linking the old one, which is deleted.
    assert len(o.wechat.drafts) == 2 and len(o.wechat.publications) == 1
    article = o.wechat.publications[0]["content"]["news_item"][0]
    assert article["title"].startswith("【更正】") and rows["wechat"].url == article["url"]
    assert f'href="{old_article}"' in article["content"] and "173件" in article["content"]
    assert ledger.get(SAMPLE, "wechat", old["wechat"].version).state == "retracted"
    # Weibo: a correction post pointing at the original, which stays.
    assert len(o.weibo.posts) == 2
    status = o.weibo.originals[o.weibo.posts[-1]["idstr"]]
    # The 更正说明 first: with every character counted (the documented length) the old post's link does
    # not fit beside it, so it is left out rather than the correction cut.
    assert status.startswith("【更正】") and "现更正为“12345政务服务便民热线共接到相关咨询173件”" in status
    assert len(status) <= 140 and (old_post in status or len(status) + len(f"原微博：{old_post} ") > 140)
    # Portal (CMS): the page replaced, with a dated 更正说明.
    assert o.cms.puts == 2
    page = o.cms.pages[f"/releases/{SAMPLE}"]["files"][f"{SAMPLE}.html"].decode("utf-8")
    assert "更正说明" in page and "“12345政务服务便民热线共接到相关咨询137件”有误" in page
    assert RIGHT in page and re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT", page)
    # Desks: a 更正通知 with the changed words marked, and the corrected copy.
    corrections = [m for m in o.smtp.messages if "【更正】" in m.message["Subject"]]
    assert len(corrections) == len(DESKS["newspaper"]) + len(DESKS["tv"])
    for m in corrections:
        text = body_of(m)
        assert text.startswith("更正通知") and "【删】" in text and "【增】" in text
        assert re.search(r"【删】.*〖[^〗]*37[^〗]*〗件", text) and re.search(r"【增】.*〖[^〗]*73[^〗]*〗件", text)
    assert {a for m in corrections for a in m.rcpt_tos} == {a for v in DESKS.values() for a in v}

    # A re-run sends nothing: no call reaches any outlet.
    before = desk.calls()
    again = correct(delete_old=True, **person("钱编辑"))
    assert again.is_completed(), again.message
    assert desk.calls() == before
    assert {ch: d.attempts for ch, d in ledger.latest(SAMPLE).items()} == {**dict.fromkeys(API, 1), "weibo": 2}

    # History: every step, in order, with who.
    steps = actions(ledger, SAMPLE)
    names = [s[0] for s in steps]
    first_v2 = min(i for i, s in enumerate(steps) if s[0] == "published" and s[2] == new_version)
    last_v1 = max(i for i, s in enumerate(steps) if s[0] == "published" and s[2] != new_version)
    requested = names.index("correction-requested")
    assert last_v1 < requested < first_v2
    assert steps[requested][3] == "钱编辑"
    assert sum(1 for s in steps if s[0] == "published" and s[2] == new_version) == len(API)
    assert ("retracted", "wechat", old["wechat"].version, "钱编辑") in steps  # the old article, deleted
    assert names[-1] == "correction-complete" and names.count("correction-complete") == 1

    # Then withdrawn (one publication serves both halves: a flow run is the slow part of these tests).
    o.weibo.inject("/2/statuses/destroy.json", "drop-after")  # deleted, the reply lost: a retry finds it gone
    state = retract(notice="本文系误发，特此撤回。", **person("李主任"))
    assert state.is_completed(), state.message
    assert o.wechat.publications == [] and o.weibo.posts == []  # the correction and the original post, gone
    page = o.cms.pages[f"/releases/{SAMPLE}"]["files"]
    assert list(page) == [f"{SAMPLE}.html"]
    html = page[f"{SAMPLE}.html"].decode("utf-8")
    assert "本文已撤回" in html and "本文系误发，特此撤回。" in html and "社会关切" not in html
    notices = [m for m in o.smtp.messages if "【撤稿】" in m.message["Subject"]]
    assert len(notices) == len(DESKS["newspaper"]) + len(DESKS["tv"])
    assert all("误发：稿件尚未经过审核" in body_of(m) and "请勿" in body_of(m) for m in notices)
    published = [d for d in ledger.rows(SAMPLE) if d.action != "retract"]
    assert {d.state for d in published} == {"retracted"}
    assert all("误发：稿件尚未经过审核" in d.last_error for d in published if d.version == new_version)
    assert {ch: d.state for ch, d in ledger.latest(SAMPLE).items()} == dict.fromkeys(API, "retracted")

    before = desk.calls()
    again = retract(**person("李主任"))
    assert again.is_completed(), again.message
    assert desk.calls() == before
    steps = actions(ledger, SAMPLE)
    names = [s[0] for s in steps]
    requested = names.index("retract-requested")
    assert names.index("correction-complete") < requested and steps[requested][3] == "李主任"
    after = steps[requested + 1:]
    assert {s[0] for s in after} == {"retracted", "published", "failed", "retraction-complete"}
    assert [s[1] for s in after if s[0] == "failed"] == ["weibo"]  # the lost reply, then the retry
    assert names[-1] == "retraction-complete" and names.count("retract-requested") == 1
    assert correct().is_failed()  # a withdrawn release is not corrected


def test_a_correction_on_the_outbox_updates_page_feed_and_desk_files(desk):
    desk.configure(OUTBOX)
    publish()
    feed = feedparser.parse((desk.outbox / "portal" / "atom.xml").read_bytes())
    entry = next(e for e in feed.entries if e.id.endswith(f"{SAMPLE}.html"))
    desk.edit(SAMPLE, WRONG, RIGHT)
    state = correct(note="原稿中咨询数量有误，应为173件。", **person("钱编辑"))
    assert state.is_completed(), state.message

    page = (desk.outbox / "portal" / f"{SAMPLE}.html").read_text(encoding="utf-8")
    assert "更正说明" in page and "原稿中咨询数量有误，应为173件。" in page and RIGHT in page
    for name in ("atom.xml", "feed.xml"):
        parsed = feedparser.parse((desk.outbox / "portal" / name).read_bytes())
        assert parsed.bozo == 0, name
        same = [e for e in parsed.entries if e.id == entry.id]
        assert len(same) == 1, name  # the same GUID: an updated entry, not a second one
        assert "原稿中咨询数量有误" in same[0].content[0].value
    updated = next(e for e in feedparser.parse((desk.outbox / "portal" / "atom.xml").read_bytes()).entries
                   if e.id == entry.id).updated_parsed
    assert updated > entry.updated_parsed
    copy = (desk.outbox / "newspaper" / SAMPLE / f"{SAMPLE}.txt").read_text(encoding="utf-8-sig")
    assert copy.startswith("更正通知") and "〖" in copy and RIGHT in copy.split("二、更正稿全文")[1]
    draft = (desk.outbox / "wechat" / SAMPLE / "wechat-draft.json").read_text(encoding="utf-8")
    assert '"title": "【更正】' in draft
    # Every page a reader may land on says it was corrected: the H5 page and the press hall's too.
    h5 = (desk.outbox / "assets" / SAMPLE / f"{SAMPLE}-h5.html").read_text(encoding="utf-8")
    hall = (desk.outbox / "portal" / "presshall" / "releases" / f"{SAMPLE}.html").read_text(encoding="utf-8")
    for page in (h5, hall):
        assert "更正说明" in page and "原稿中咨询数量有误，应为173件。" in page and RIGHT in page
        assert page.index("更正说明") < page.index(RIGHT)  # above the text, where it is seen first

    # The Prefect UI shows the correction with its channel table, like a publish run.
    import json

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        table = next(a for a in client.read_latest_artifacts() if a.key == f"correction-{SAMPLE}")
        run = client.read_flow_run(table.flow_run_id)
    assert run.name.startswith("更正: ") and "更正完成" in table.description
    rows = json.loads(table.data)
    assert len(rows) == len(OUTBOX) and {r["状态"] for r in rows} == {"已发布"}


# ---------------------------------------------------------------------------------------------
# Retraction of a bundle


def test_a_policy_bundle_retracts_as_a_unit_and_history_prints_every_step(desk):
    from typer.testing import CliRunner

    from pressroom.cli import app

    desk.configure(OUTBOX)
    publish("notice-2017-78")
    runner = CliRunner()
    res = runner.invoke(app, ["retract", "notice-2017-78-interpretation", "--reason", "文件尚未正式印发", "--yes",
                              "--reviewer", "李主任", "--code", code("李主任")])
    assert res.exit_code == 0, res.output
    ledger = desk.ledger()
    portal = desk.outbox / "portal"
    for rid in ("notice-2017-78", "notice-2017-78-interpretation"):
        assert {d.state for d in ledger.rows(rid)} == {"retracted"}, rid
        assert "本文已撤回" in (portal / f"{rid}.html").read_text(encoding="utf-8")
        assert "文件尚未正式印发" in (desk.outbox / "newspaper" / rid / f"{rid}.txt").read_text(encoding="utf-8-sig")
        assert (desk.outbox / "wechat" / rid / "wechat-withdrawn.txt").is_file()
        assert f"{rid}.html" not in (portal / "index.html").read_text(encoding="utf-8")
        assert not (portal / "presshall" / "releases" / f"{rid}.html").exists()
        assert rid not in (portal / "presshall" / "policies" / "index.html").read_text(encoding="utf-8")
    parsed = feedparser.parse((portal / "atom.xml").read_bytes())
    assert parsed.bozo == 0
    entries = parsed.entries
    withdrawn = [e for e in entries if e.title.startswith("【已撤回】")]
    assert len(withdrawn) == 2 and len({e.id for e in entries}) == len(entries)

    res = runner.invoke(app, ["history", "notice-2017-78"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = res.output
    order = [out.index(x) for x in ("published", "retract-requested", "retracted", "retraction-complete")]
    assert order == sorted(order), out
    assert "李主任" in out
    again = runner.invoke(app, ["retract", "notice-2017-78", "--reason", "文件尚未正式印发", "--yes"])
    assert again.exit_code == 0 and "已撤稿" in again.output


def test_marking_a_published_document_superseded_is_a_correction_by_a_verified_person(desk):
    """A superseded document changes a published page: the editor sets ``status: superseded`` and corrects it
    (docs/requirements.md, policy documents); the label reaches the portal and the press hall, and the history
    names the reviewer whose code was checked."""
    from typer.testing import CliRunner

    from pressroom.cli import app

    doc = "notice-2017-78"
    desk.configure(OUTBOX)
    publish(doc)
    portal = desk.outbox / "portal"
    hall = portal / "presshall" / "releases" / f"{doc}.html"
    assert "本文件已失效" not in (portal / f"{doc}.html").read_text(encoding="utf-8")
    desk.edit(doc, "topic: 综合政务\n", "topic: 综合政务\nstatus: superseded\n")
    runner = CliRunner()
    refused = runner.invoke(app, ["correct", doc, "--note", "本文件已失效。"])  # nobody verified: nothing sent
    assert refused.exit_code != 0
    assert "本文件已失效" not in (portal / f"{doc}.html").read_text(encoding="utf-8")
    res = runner.invoke(app, ["correct", doc, "--note", "本文件已失效，不再执行。",
                              "--reviewer", "钱编辑", "--code", code("钱编辑")])
    assert res.exit_code == 0, res.output
    for page in ((portal / f"{doc}.html").read_text(encoding="utf-8"), hall.read_text(encoding="utf-8")):
        assert "本文件已失效（已被新文件替代）" in page and "本文件已失效，不再执行。" in page
    steps = actions(desk.ledger(), doc)
    names = [s[0] for s in steps]
    assert steps[names.index("correction-requested")][3] == "钱编辑" and names[-1] == "correction-complete"
    history = runner.invoke(app, ["history", doc], env={"COLUMNS": "200"})
    assert history.exit_code == 0, history.output
    out = history.output
    assert out.index("published") < out.index("correction-requested") < out.index("correction-complete")
    assert "钱编辑" in out
