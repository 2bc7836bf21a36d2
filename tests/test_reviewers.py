"""三审 that proves who signed (R3): the reviewer registry (content/reviewers.yaml), a different registered
reviewer allowed for each level, each sign-off proven by the reviewer's one-time code (TOTP, RFC 6238), wrong,
replayed and someone else's codes refused and recorded, the lock-out, every action that changes what the
public sees naming a verified person, no secret or code anywhere it should not be, and the approval page in
Chromium (375 px, 1280 px, printed: one sheet per release)."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from tests.browser import SHOTS, TAKE_SHOTS, browser, open_page, shoot  # noqa: F401  (browser is a fixture)
from tests.reviewers import code, enroll, person, secrets
from tests.test_publish_flow import run, workspace  # noqa: F401  (fixture)

DOC, INTERP = "notice-2017-78", "notice-2017-78-interpretation"
THREE = ["责任编辑", "部门负责人", "分管领导"]


@pytest.fixture
def desk(workspace):  # noqa: F811
    workspace.configure(approval_levels=THREE)
    return workspace


def _ctx(release=DOC):
    from pressroom.delivery.ledger import Ledger
    from pressroom.releases.catalog import validate
    from pressroom.settings import load_settings

    settings = load_settings()
    catalog = validate(settings, render=False, only=release)
    return settings, Ledger(settings.ledger_url), catalog.bundle_of(catalog.find(release))


def sign(name, the_code=None, approve=True, comment="", level=""):
    from pressroom.delivery import approval

    settings, ledger, parts = _ctx()
    return approval.sign(settings, ledger, parts, approve, name, code(name) if the_code is None else the_code,
                         comment, level=level)


def refused(fn, *args, **kw) -> str:
    from pressroom.delivery.reviewers import Refused

    with pytest.raises(Refused) as e:
        fn(*args, **kw)
    return str(e.value)


def history(release=DOC):
    _, ledger, _ = _ctx()
    return ledger.history(release)


# ---------------------------------------------------------------------------------------------
# Who may sign


def test_one_person_cannot_sign_two_levels(desk):
    assert sign("李主任") == "责任编辑"  # 李主任 may sign both 责任编辑 and 部门负责人 …
    why = refused(sign, "李主任")  # … but not both of one release
    assert "同一人不能签署两个审核级别" in why and "责任编辑" in why
    assert sign("演示主任") == "部门负责人"
    assert sign("孙秘书长") == "分管领导"
    signed = [(e["actor"], json.loads(e["detail"])["level"]) for e in history() if e["action"] == "signoff"]
    assert signed == [("李主任", "责任编辑"), ("演示主任", "部门负责人"), ("孙秘书长", "分管领导")]
    assert [e["actor"] for e in history(INTERP) if e["action"] == "signoff"] == ["李主任", "演示主任", "孙秘书长"]


def test_an_unregistered_name_is_refused(desk):
    why = refused(sign, "张编辑", "123456")
    assert "“张编辑”不在审核人名单" in why and "reviewers.yaml" in why
    assert not [e for e in history() if e["action"] == "signoff"]


def test_a_reviewer_not_allowed_for_the_level_is_refused(desk):
    sign("钱编辑")
    why = refused(sign, "王审稿")
    assert "不能签署“部门负责人”" in why and "可签署：责任编辑" in why
    # 部门负责人 comes from the release's own department (市委宣传部), not another's.
    why = refused(sign, "周主任")
    assert "须由稿件所属部门（市委宣传部）" in why and "市应急办" in why
    assert [e["actor"] for e in history() if e["action"] == "signoff"] == ["钱编辑"]


def test_a_made_up_level_and_a_completed_release_are_refused(desk):
    assert "没有“主编”这一审核级别" in refused(sign, "钱编辑", level="主编")
    for name in ("钱编辑", "演示主任", "孙秘书长"):
        sign(name)
    assert "各级审核均已签署" in refused(sign, "王审稿")


def test_a_dated_delegation_lets_a_stand_in_sign_for_the_absent_reviewer(desk):
    path = desk.root / "content" / "reviewers.yaml"
    today = datetime.now(timezone(timedelta(hours=8))).date()
    base = path.read_text(encoding="utf-8").replace("delegations: []", "delegations:")

    def delegate(start, end):
        path.write_text(base + f"\n  - {{absent: 李主任, stand_in: 吴副主任, from: {start}, to: {end}, "
                               "levels: [部门负责人]}\n", encoding="utf-8")

    sign("王审稿")
    delegate(today - timedelta(days=10), today - timedelta(days=1))  # over
    assert "不能签署“部门负责人”" in refused(sign, "吴副主任")
    delegate(today, today + timedelta(days=3))
    assert sign("吴副主任") == "部门负责人"
    (entry,) = [e for e in history() if e["action"] == "signoff" and e["actor"] == "吴副主任"]
    assert "代 李主任" in json.loads(entry["detail"])["role"]


def test_validate_reports_a_broken_reviewer_registry(desk):
    from pressroom.cli import app

    cli = CliRunner()
    assert cli.invoke(app, ["validate"]).exit_code == 0
    path = desk.root / "content" / "reviewers.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("王审稿: {department: 市政府新闻办, levels: [责任编辑]}",
                                                             "王审稿: {department: 新闻中心, levels: [主编]}"),
                    encoding="utf-8")
    out = cli.invoke(app, ["validate"])
    text = out.output.replace("\n", "")
    assert out.exit_code == 1 and "“新闻中心”不在 departments.yaml 中" in text and "级别“主编”" in text, text


# ---------------------------------------------------------------------------------------------
# The codes


def test_wrong_replayed_and_other_reviewers_codes_are_refused_and_recorded(desk):
    from pressroom.delivery import reviewers

    enroll("王审稿", "钱编辑")
    assert "动态口令不正确或已过期" in refused(sign, "王审稿", "000000")
    assert "动态口令不正确或已过期" in refused(sign, "王审稿", code("钱编辑"))  # someone else's
    assert "6 位数字" in refused(sign, "王审稿", "12ab56")
    settings, ledger, _ = _ctx()
    good = code("王审稿")
    assert reviewers.verify(settings, ledger, "王审稿", good, "测试") == "王审稿"
    assert "已经使用过" in refused(sign, "王审稿", good)  # the same code again: a replay
    # Every refusal is in the audit trail, naming the reviewer and the rule, never the code.
    entries = [e for e in history() if e["action"] == "code-refused"]
    assert [e["actor"] for e in entries] == ["王审稿"] * 4
    assert not any(c in e["detail"] for e in entries for c in ("000000", good, "12ab56"))
    assert sign("王审稿") == "责任编辑"  # a fresh code works


def test_a_code_typed_into_a_form_is_checked_against_when_it_was_typed(desk):
    """A resumed run reads the form a minute after it was sent: the code is checked against the server's
    time of receipt, and only for a receipt no longer ago than ten minutes."""
    import pyotp

    from pressroom.delivery import reviewers

    enroll("王审稿")
    settings, ledger, _ = _ctx()
    totp = pyotp.TOTP(secrets()["王审稿"])
    typed = datetime.now(timezone.utc) - timedelta(seconds=95)
    old = totp.at(typed)
    assert "不正确或已过期" in refused(reviewers.verify, settings, ledger, "王审稿", old, "测试")
    assert reviewers.verify(settings, ledger, "王审稿", old, "测试", given_at=typed) == "王审稿"
    long_ago = datetime.now(timezone.utc) - timedelta(minutes=11)
    assert "不正确或已过期" in refused(reviewers.verify, settings, ledger, "王审稿", totp.at(long_ago), "测试",
                                       given_at=long_ago)


def test_five_wrong_codes_lock_the_reviewer_for_five_minutes(desk):
    enroll("王审稿")
    for i in range(4):
        assert "已被锁定" not in refused(sign, "王审稿", f"00000{i}")
    started = datetime.now(timezone.utc)
    assert "已被锁定至" in refused(sign, "王审稿", "000009")
    # Locked: even the right code is refused, and does not extend the lock.
    assert "已被锁定至" in refused(sign, "王审稿")
    settings, ledger, _ = _ctx()
    until = ledger.locked_until("王审稿")
    assert timedelta(minutes=4.9) < until - started < timedelta(minutes=5.1)
    assert ledger.locked_until("钱编辑") is None and sign("钱编辑") == "责任编辑"  # per reviewer
    # Five minutes later (the lock's end moved back instead of waiting): the right code works again.
    from pressroom.delivery import reviewers
    from pressroom.delivery.schema import reviewer_locks

    with ledger.engine.begin() as conn:
        conn.execute(reviewer_locks.update().values(locked_until=started - timedelta(seconds=1)))
    assert ledger.locked_until("王审稿") is None

    assert reviewers.verify(settings, ledger, "王审稿", code("王审稿"), "测试") == "王审稿"


def test_the_secrets_file_is_private_and_outside_content(desk):
    from pressroom.delivery import reviewers

    enroll("王审稿")
    settings, ledger, _ = _ctx()
    path = settings.reviewer_secrets
    assert path.is_file() and path.stat().st_mode & 0o777 == 0o600
    assert settings.content_dir not in path.parents
    assert not any(secrets()["王审稿"].encode() in p.read_bytes() for p in settings.content_dir.rglob("*") if p.is_file())
    os.chmod(path, 0o644)
    assert "权限是 644" in refused(reviewers.verify, settings, ledger, "王审稿", "123456", "测试")
    os.chmod(path, 0o600)
    # Re-enrolment (a lost phone) voids the old secret.
    old = secrets()["王审稿"]
    enroll("王审稿")
    assert secrets()["王审稿"] != old


def test_enroll_prints_a_qr_code_and_revoke_needs_another_reviewer(desk):
    from pressroom.cli import app

    cli = CliRunner()
    out = cli.invoke(app, ["reviewer", "enroll", "王审稿"])
    assert out.exit_code == 0 and "█" in out.output and "已为 王审稿 开通动态口令" in out.output, out.output
    assert cli.invoke(app, ["reviewer", "enroll", "王审稿"]).exit_code == 1  # already: --again to replace
    out = cli.invoke(app, ["reviewer", "enroll", "张编辑"])
    assert out.exit_code == 1 and "不在审核人名单" in out.output
    out = cli.invoke(app, ["reviewer", "revoke", "王审稿", "--reviewer", "王审稿", "--code", code("王审稿")])
    assert out.exit_code == 2
    out = cli.invoke(app, ["reviewer", "revoke", "王审稿", "--reviewer", "钱编辑", "--code", code("钱编辑")])
    assert out.exit_code == 0, out.output
    assert "尚未开通动态口令" in refused(sign, "王审稿", "123456")
    assert [e["actor"] for e in history("*reviewers*") if e["action"] == "reviewer-revoked"] == ["钱编辑"]


# ---------------------------------------------------------------------------------------------
# Actions that change what the public sees


def test_actions_that_change_what_the_public_sees_name_a_verified_person(desk, prefect_server):
    from pressroom.cli import app

    rumor = "water-price-rumor"
    desk.configure()  # no sign-offs needed: only the person who acts is asked for
    cli = CliRunner()
    out = cli.invoke(app, ["publish", rumor, "--now"])
    assert out.exit_code == 2 and "--reviewer" in out.output and not desk.ledger().rows(rumor)
    assert run(rumor, now=True).is_failed()  # the flow (a UI or API run) asks too: nobody named …
    assert run(rumor, now=True, reviewer="王审稿", code="000000").is_failed()  # … or not proven
    assert not desk.ledger().rows(rumor)
    state = run(rumor, now=True, **person("王审稿"))
    assert state.is_completed(), state.message
    # Correcting, retracting, settling a delivery: each refused without a reviewer's code.
    desk.edit(rumor, r"^(## .*\n)", "\\1\n补充说明：以物价部门公告为准。\n")
    for args in (["correct", rumor], ["retract", rumor, "--reason", "误发", "--yes"],
                 ["resolve", rumor, "wechat", "--not-published"]):
        out = cli.invoke(app, args)
        assert out.exit_code == 2, (args, out.output)
    assert {d.state for d in desk.ledger().rows(rumor)} == {"published"}
    out = cli.invoke(app, ["correct", rumor, "--reviewer", "钱编辑", "--code", code("钱编辑")])
    assert out.exit_code == 0, out.output
    entries = history(rumor)
    assert [e["actor"] for e in entries if e["action"] == "embargo-override"] == ["王审稿"]
    assert {e["actor"] for e in entries if e["action"].startswith("correction")} == {"钱编辑"}
    assert "cli" not in {e["actor"] for e in entries}


# ---------------------------------------------------------------------------------------------
# No secret or code where it should not be


CODE_RE = "(?<![0-9A-Za-z]){}(?![0-9A-Za-z])"


def _artifacts_text() -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return "\n".join(f"{a.key} {a.description} {a.data}" for a in client.read_artifacts())


def test_no_secret_or_code_in_logs_artifacts_ledger_or_outbox(desk, prefect_server, caplog):
    """Sign two levels on the CLI (one wrong code first), the third through the paused run's form, publish;
    then grep every log record, CLI output, Prefect artifact, the ledger database and every outbox file for
    each reviewer's secret and every code typed."""
    from prefect.flow_runs import resume_flow_run

    from pressroom.cli import app
    from tests.test_bundle import _paused_run_id

    caplog.set_level(logging.DEBUG)
    enroll("钱编辑", "演示主任", "孙秘书长")
    cli, outputs, codes = CliRunner(), [], ["000000"]
    outputs.append(cli.invoke(app, ["approve", DOC, "--reviewer", "钱编辑", "--code", "000000"]).output)
    for name in ("钱编辑", "演示主任"):
        codes.append(code(name))
        out = cli.invoke(app, ["approve", DOC, "--reviewer", name, "--code", codes[-1]])
        assert out.exit_code == 0, out.output
        outputs.append(out.output)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("state", run(DOC)), daemon=True)
    t.start()
    codes.append(code("孙秘书长"))
    resume_flow_run(_paused_run_id(), run_input={"reviewer": "孙秘书长", "code": codes[-1], "approve": True})
    t.join(300)
    assert result["state"].is_completed(), result["state"].message
    haystacks = {"logs": caplog.text, "cli": "\n".join(outputs), "artifacts": _artifacts_text()}
    db = desk.root / "ledger.db"
    haystacks["ledger"] = db.read_bytes().decode("utf-8", "replace")
    with sqlite3.connect(db) as conn:
        haystacks["ledger rows"] = repr([conn.execute(f"SELECT * FROM {t}").fetchall() for t in
                                         ("events", "approvals", "deliveries", "code_uses", "reviewer_locks")])
    for path in desk.outbox.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            haystacks[str(path)] = data.decode("utf-8", "replace") + "\n" + base64.b64encode(data).decode()
    assert len(haystacks) > 20 and "孙秘书长" in haystacks["ledger rows"]
    leaks = [(name, where) for name, s in secrets().items() for where, text in haystacks.items() if s in text]
    text_only = {k: v for k, v in haystacks.items() if not k.endswith((".png", ".jpg", ".docx"))}
    leaks += [(c, where) for c in codes for where, text in text_only.items() if re.search(CODE_RE.format(c), text)]
    assert leaks == []


# ---------------------------------------------------------------------------------------------
# The approval page


def _page(desk):
    from pressroom.sites.preview import build_preview

    from pressroom.releases.catalog import validate

    settings, _, _ = _ctx()
    catalog = validate(settings, only=DOC)
    return build_preview(catalog.find(DOC), catalog, desk.root / "approval")


def _audit_inputs(r):
    """What the audit of ``r`` is computed from, independently of the page: a fresh validation's renditions."""
    import channels
    from pressroom.releases.catalog import _furniture, validate
    from pressroom.settings import load_settings

    catalog = validate(load_settings(), only=r.id)
    rendered = {ch: catalog.renditions[(r.id, ch)] for ch in r.channels}
    declared = {ch: (channels.get(ch).label, channels.get(ch).carries) for ch in rendered}
    return catalog.registry, rendered, declared, _furniture(r, catalog)


def test_the_approval_page_shows_what_is_signed_and_who_signed(desk):
    sign("钱编辑", comment="同意")
    page = _page(desk)
    html = page.read_text(encoding="utf-8")
    _, _, parts = _ctx()
    from pressroom.delivery import approval

    assert approval.signature(parts) in html
    for r in parts:  # both halves of the bundle
        assert f'id="sheet-{r.id}"' in html and r.title in html
    states = re.findall(r'data-level="([^"]+)" data-state="([^"]+)"', html)
    assert states[:3] == [("责任编辑", "signed"), ("部门负责人", "waiting"), ("分管领导", "waiting")]
    assert "钱编辑" in html and "可签：李主任、演示主任" in html
    assert '"articles"' not in html and "wechat-draft.json" in html  # the draft is a file, never shown as JSON
    article = (page.parent / DOC / "wechat" / "wechat-article.html").read_text(encoding="utf-8")
    assert parts[0].title in article and "<p" in article and "thumb_media_id" not in article
    assert re.search(r"\d+ / 140 字", html)  # the Weibo card's count
    # The fidelity audit of each half: a row per channel with what it keeps, leaves out and adds, and the verdict.
    import html as htmllib

    from pressroom.releases import audit

    for r in parts:
        section = re.search(rf'<section class="fidelity" id="fidelity-{r.id}">(.*?)</section>', html, re.S)
        assert section, r.id
        rows = re.findall(r"<tr>(.*?)</tr>", section.group(1), re.S)
        cells = [[htmllib.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)] for row in rows]
        expected = audit.table(audit.audit_release(r, *_audit_inputs(r)))
        assert cells[0] == list(expected[0]) and cells[1:] == [[str(v) for v in e.values()] for e in expected]
        assert all(row[-1] == "通过" for row in cells[1:]) and len(cells) - 1 == len(r.channels)


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_the_approval_page_fits_a_phone_and_prints_one_sheet_per_release(desk, browser):  # noqa: F811
    sign("钱编辑")
    page = _page(desk)
    for name, viewport in (("375", {"width": 375, "height": 812}), ("1280", {"width": 1280, "height": 800})):
        check = open_page(browser, page, viewport, shot=f"approval-{name}")
        assert not check.overflows, (name, check.scroll_width)
        assert check.title_visible, name
    context = browser.new_context(viewport={"width": 375, "height": 812})
    try:
        p = context.new_page()
        p.goto(page.resolve().as_uri(), wait_until="load")
        frame = p.locator('[data-channel="wechat"] iframe').first
        frame.scroll_into_view_if_needed()
        box = frame.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        wechat = next(f for f in p.frames if f.url.endswith("wechat-article.html"))
        assert wechat.locator("h1").first.inner_text() == "关于进一步加强政务公开新闻发布工作的通知"
        assert wechat.evaluate("document.documentElement.scrollWidth") <= wechat.evaluate("window.innerWidth")
        shoot(p.locator('[data-channel="wechat"]').first, "approval-wechat-375")
        shoot(p.locator('[data-channel="weibo"]').first, "approval-weibo-375")
        pdf = p.pdf(format="A4", print_background=True)
        if TAKE_SHOTS:
            (SHOTS / "approval.pdf").write_bytes(pdf)
        assert _pdf_pages(pdf) == 2  # a bundle: one 发稿审签单 per release
        p.emulate_media(media="print")
        assert p.locator(".channels").first.is_hidden() and p.locator(".form-title").first.is_visible()
        shoot(p, "approval-print", full_page=True)
    finally:
        context.close()
