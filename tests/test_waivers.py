"""Waiving one finding of the fidelity audit (README "The fidelity audit"): only a registered reviewer proven
by a real one-time code, with a reason, for one release version; recorded in the ledger and shown by
``pressroom history`` and on the approval page. Nothing else silences a finding.

The finding is a real one: an outlet added the README's way (one module, one template, one registry entry)
whose notice template prints the city's service hotline, a number the release does not contain."""

from __future__ import annotations

import re
import sys

import pytest
from typer.testing import CliRunner

import channels
from channels import base
from tests.browser import browser, open_page, shoot  # noqa: F401  (browser is a fixture)
from tests.conftest import private_copy
from tests.reviewers import code

SAMPLE, OTHER = "water-price-rumor", "work-report-2026-q3"
REASON = "12319是市政府服务热线，公告栏模板的固定文字，不是稿件内容"

MODULE = '''
"""A 公告栏 (notice board): a short notice per release, with the city's service hotline."""
from channels.base import Channel, Rendition, render_template
from channels.corrections import manual_withdrawal

CHANNEL = Channel(name="noticeboard", label="社区公告栏", short="公告栏", carries="summary")


def render(release, ctx):
    text = render_template("noticeboard/notice.txt", title=release.title, url=ctx.url_for(release.id))
    return Rendition(channel="noticeboard", release_id=release.id, version=release.version, title=release.title,
                     files={f"{release.id}.txt": text.encode("utf-8")})


def correct(release, ctx, base, c, earlier, old):
    return base


def withdraw(release_id, ctx, w):
    return manual_withdrawal("noticeboard", CHANNEL.label, release_id, ctx, w)
'''


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A private workspace (content, settings, ledger, reviewers' secrets) with the notice-board outlet."""
    pkg = tmp_path / "outlets"
    pkg.mkdir()
    (pkg / "noticeboard.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "templates" / "noticeboard").mkdir(parents=True)
    (tmp_path / "templates" / "noticeboard" / "notice.txt").write_text(
        "【公告】{{ title }}\n详见：{{ url }}\n市民服务热线：12319\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(channels, "OUTLETS", [*channels.OUTLETS, "outlets.noticeboard"])
    monkeypatch.setattr(base, "TEMPLATE_DIRS", [*base.TEMPLATE_DIRS, tmp_path / "templates"])
    channels.reload()
    base.template_env.cache_clear()
    config = private_copy(tmp_path, levels="[]",  # no sign-offs: this is about the audit
                          edit=lambda text: text.replace('h5 = "outbox"\n', 'h5 = "outbox"\nnoticeboard = "outbox"\n', 1))
    monkeypatch.setenv("PRESSROOM_CONFIG", str(config))
    yield tmp_path
    channels.reload()
    base.template_env.cache_clear()
    sys.modules.pop("outlets.noticeboard", None)
    sys.modules.pop("outlets", None)


def _settings():
    from pressroom.settings import load_settings

    return load_settings()


def _ledger():
    from pressroom.delivery.ledger import Ledger

    return Ledger(_settings().ledger_url)


def _finding(release_id=SAMPLE):
    from pressroom.delivery import waivers
    from pressroom.releases import audit

    (f,) = audit.findings(waivers.validate(_settings(), only=release_id).audits[release_id])
    return f


def _refusal(*args) -> str:
    from pressroom.delivery import reviewers, waivers

    with pytest.raises(reviewers.Refused) as e:
        waivers.waive(_settings(), _ledger(), *args)
    return str(e.value)


def test_the_finding_blocks_and_its_message_says_how_to_waive_it(board):
    from pressroom.delivery import waivers

    catalog = waivers.validate(_settings())
    assert SAMPLE not in catalog.releases and OTHER not in catalog.releases
    f = _finding()
    (p,) = [p for p in catalog.problems[SAMPLE] if "核对项" in p.message]
    assert p.message == f"社区公告栏：出现了原稿、登记表和设置中都没有的数字“12319”（核对项 {f.id}）"
    assert f"pressroom waive {SAMPLE} {f.id} --reason 理由 --reviewer 姓名 --code 动态口令" in p.fix


def test_a_verified_reviewer_waives_one_finding_with_a_reason_and_nothing_else_silences_it(board):
    from pressroom.delivery import waivers
    from pressroom.releases.catalog import validate

    f = _finding()
    assert "理由" in _refusal(SAMPLE, f.id, "同意", "王审稿", code("王审稿"))
    assert "不正确或已过期" in _refusal(SAMPLE, f.id, REASON, "王审稿", "000000")
    assert "不在审核人名单" in _refusal(SAMPLE, f.id, REASON, "路人甲", "123196")
    assert "没有核对项 deadbeef" in _refusal(SAMPLE, "deadbeef", REASON, "王审稿", code("王审稿"))
    assert _ledger().waivers() == []  # nothing refused was recorded as a waiver

    the_code = code("王审稿")
    waived = waivers.waive(_settings(), _ledger(), SAMPLE, f.id, REASON, "王审稿", the_code)
    assert waived.id == f.id
    (row,) = _ledger().waivers(SAMPLE)
    assert (row["reviewer"], row["reason"], row["finding"], row["channel"]) == ("王审稿", REASON, f.id, "noticeboard")

    catalog = waivers.validate(_settings())
    assert SAMPLE in catalog.releases and SAMPLE not in catalog.problems  # it no longer blocks
    assert OTHER not in catalog.releases  # the same fact on another release: not waived
    assert SAMPLE not in validate(_settings()).releases  # validation without the ledger's waivers: blocked
    # The same code cannot waive a second finding (one code, one action), and a finding is waived once.
    assert "已经使用过" in _refusal(OTHER, _finding(OTHER).id, REASON, "王审稿", the_code)
    assert "已经豁免过" in _refusal(SAMPLE, f.id, REASON, "钱编辑", code("钱编辑"))


def test_an_edit_makes_a_new_version_and_the_waiver_no_longer_applies(board):
    from pressroom.delivery import waivers

    f = _finding()
    waivers.waive(_settings(), _ledger(), SAMPLE, f.id, REASON, "王审稿", code("王审稿"))
    assert SAMPLE in waivers.validate(_settings()).releases
    md = board / "content" / "releases" / SAMPLE / "release.md"
    md.write_text(md.read_text(encoding="utf-8").replace("digest: ", "digest: 市发展改革委回应。", 1), encoding="utf-8")
    catalog = waivers.validate(_settings())
    assert SAMPLE not in catalog.releases
    assert any(f"核对项 {f.id}" in p.message for p in catalog.problems[SAMPLE])


def test_waive_on_the_command_line_then_history_and_validate_show_it(board, monkeypatch):
    from pressroom.cli import app

    monkeypatch.setenv("COLUMNS", "250")  # table cells on one line each

    f = _finding()
    runner = CliRunner()
    result = runner.invoke(app, ["waive", SAMPLE, f.id, "--reason", REASON, "--reviewer", "钱编辑",
                                 "--code", code("钱编辑")])
    assert result.exit_code == 0, result.output
    assert f"钱编辑 已豁免 {SAMPLE} 的核对项 {f.id}" in result.output and REASON in result.output
    history = runner.invoke(app, ["history", SAMPLE])
    assert f"豁免保真核对项 {f.id}" in history.output and "钱编辑" in history.output
    assert "12319" in history.output and "市政府服务热线" in history.output
    out = runner.invoke(app, ["validate"]).output
    assert f"✓ {SAMPLE}" in out and OTHER in out  # the other release is still refused
    audit_out = runner.invoke(app, ["validate", "--audit", SAMPLE])
    assert audit_out.exit_code == 0 and "通过（豁免 1 项）" in audit_out.output and "已豁免" in audit_out.output
    wrong = runner.invoke(app, ["waive", OTHER, _finding(OTHER).id, "--reason", REASON, "--reviewer", "钱编辑",
                                "--code", "000000"])
    assert wrong.exit_code == 1 and "不正确或已过期" in wrong.output


def test_the_approval_page_shows_the_audit_and_the_waiver(board, browser):  # noqa: F811
    from pressroom.delivery import waivers
    from pressroom.sites.preview import build_preview

    f = _finding()
    waivers.waive(_settings(), _ledger(), SAMPLE, f.id, REASON, "王审稿", code("王审稿"))
    catalog = waivers.validate(_settings(), only=SAMPLE)
    page = build_preview(catalog.find(SAMPLE), catalog, board / "approval", _ledger())
    html = page.read_text(encoding="utf-8")
    section = re.search(rf'<section class="fidelity" id="fidelity-{SAMPLE}">(.*?)</section>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)
    assert len(rows) == 1 + len(catalog.find(SAMPLE).channels)
    board_row = next(r for r in rows if "社区公告栏" in r)
    assert "12319" in board_row and "通过（豁免 1 项）" in board_row
    assert f"核对项 <code>{f.id}</code>" in section and "已由 王审稿 于" in section and REASON in section
    check = open_page(browser, page, {"width": 375, "height": 812}, shot="approval-audit-375")
    assert not check.overflows
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        p = context.new_page()
        p.goto(page.resolve().as_uri(), wait_until="load")
        shoot(p.locator(f"#fidelity-{SAMPLE}"), "approval-audit")
        assert "保真核对" in p.locator(f"#fidelity-{SAMPLE}").inner_text()
    finally:
        context.close()


def test_publishing_is_refused_until_the_finding_is_waived_then_goes_out(board, prefect_server):
    from flows.publish import publish_release
    from pressroom.delivery import waivers

    state = publish_release(SAMPLE, now=True, return_state=True, **_person("王审稿"))
    assert state.is_failed() and "12319" in state.message
    assert not (board / "outbox").exists() or not any((board / "outbox").rglob(f"{SAMPLE}*"))
    f = _finding()
    waivers.waive(_settings(), _ledger(), SAMPLE, f.id, REASON, "钱编辑", code("钱编辑"))
    state = publish_release(SAMPLE, now=True, return_state=True, **_person("王审稿"))
    assert state.is_completed(), state.message
    rows = _ledger().latest(SAMPLE)
    assert rows["noticeboard"].state == "published"
    assert rows["noticeboard"].steps["audit"]["added"] == ["12319"]  # what was checked stays with the row
    notice = next((board / "outbox" / "noticeboard").rglob(f"{SAMPLE}.txt")).read_text(encoding="utf-8")
    assert "市民服务热线：12319" in notice


def _person(name):
    from tests.reviewers import person

    return person(name)


def test_the_approval_page_lists_the_warning_about_raw_html(board):
    from pressroom.delivery import waivers
    from pressroom.sites.preview import build_preview

    md = board / "content" / "releases" / SAMPLE / "release.md"
    text = md.read_text(encoding="utf-8").replace("\n## ", '\n<iframe src="https://v.example.gov.cn/1"></iframe>\n\n## ', 1)
    md.write_text(text, encoding="utf-8")
    f = _finding()
    waivers.waive(_settings(), _ledger(), SAMPLE, f.id, REASON, "王审稿", code("王审稿"))
    catalog = waivers.validate(_settings(), only=SAMPLE)
    html = build_preview(catalog.find(SAMPLE), catalog, board / "approval", _ledger()).read_text(encoding="utf-8")
    assert "原稿：导语含有 HTML 标签 &lt;iframe&gt;，发布时会被删除，嵌入的内容“https://v.example.gov.cn/1”不会发布" in html
