"""The fidelity audit (README "What validation checks"; R1, R5): every full-text channel carries every fact
of the approved source, no channel adds a number, registered name or quote from nowhere. The renditions are
the real ones of the samples; a test takes one fact out of a real rendition (or puts one in) and expects
the problem to name the fact and the channel, in Chinese."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import channels
from channels import infographic
from pressroom.releases import audit
from pressroom.releases.catalog import audit_release, validate

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = "work-report-2026-q3"
FULL = ("portal", "wechat", "newspaper", "h5")
# Summary channels; the infographic's words are read back from its drawing instructions (``words``).
SUMMARY = ("tv", "weibo", "infographic")


@pytest.fixture(scope="module")
def catalog(settings):
    return validate(settings)


def _edit(data: bytes, name: str, change) -> bytes:
    if name.endswith(".docx"):
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                body = src.read(item)
                if item.filename == "word/document.xml":
                    body = change(body.decode("utf-8")).encode("utf-8")
                dst.writestr(item, body)
        return out.getvalue()
    if name.endswith((".html", ".txt", ".json", ".srt")):
        return change(data.decode("utf-8")).encode("utf-8")
    return data


def edited(rendition, change):
    files = {name: _edit(data, name, change) for name, data in rendition.files.items()}
    payload = rendition.payload and json.loads(change(json.dumps(rendition.payload, ensure_ascii=False)))
    return dataclasses.replace(rendition, files=files, payload=payload)


def audit_with(catalog, channel, rendition):
    r = catalog.releases[SAMPLE]
    renditions = {channel: rendition}
    declared = {channel: (channels.get(channel).label, channels.get(channel).carries)}
    from pressroom.releases.catalog import _furniture

    return audit.audit_release(r, catalog.registry, renditions, declared, _furniture(r, catalog))


def messages(result) -> list[str]:
    return [p.message for p in audit.problems(result, "content/releases/x/release.md")]


def test_the_samples_audits_are_clean_on_every_channel(catalog):
    assert not catalog.problems, catalog.problems
    assert set(catalog.audits) == set(catalog.releases)
    for rid, result in catalog.audits.items():
        assert result.clean, (rid, audit.table(result))
        full = [c for c in result.channels if c.carries == "full"]
        assert full and all(len(c.kept) == len(result.facts) for c in full), rid


def test_the_source_facts_are_numbers_dates_names_and_the_document_number(catalog):
    facts = {(f.kind, f.shown) for f in catalog.audits[SAMPLE].facts}
    assert ("money", "1386.5亿元") in facts and ("percent", "5.8%") in facts
    assert ("percent", "1.8个百分点") in facts and ("date", "11月17日") in facts
    doc = {(f.kind, f.shown) for f in catalog.audits["notice-2017-78"].facts}
    assert ("docnum", "淮宣〔2017〕78号") in doc
    rain = {(f.kind, f.shown) for f in catalog.audits["rainstorm-2026-11"].facts}
    assert ("image", "images/waterlogged-street.jpg") in rain


@pytest.mark.parametrize("channel", FULL)
def test_a_full_text_channel_that_drops_a_fact_fails_naming_fact_and_channel(catalog, channel):
    base = catalog.renditions[(SAMPLE, channel)]
    assert audit_with(catalog, channel, base).clean
    dropped = edited(base, lambda s: s.replace("598.7亿元", "").replace("598.7", ""))
    found = messages(audit_with(catalog, channel, dropped))
    label = channels.get(channel).label
    assert any(m.startswith(f"{label}：") and "漏掉了原稿中的金额“598.7亿元”" in m for m in found), found


@pytest.mark.parametrize("channel", FULL + SUMMARY)
def test_any_channel_that_adds_a_number_fails_naming_fact_and_channel(catalog, channel):
    base = catalog.renditions[(SAMPLE, channel)]
    added = edited(base, lambda s: s.replace("同比增长5.8%", "同比增长5.8%，增速居全省第12.5%", 1))
    found = messages(audit_with(catalog, channel, added))
    label = channels.get(channel).label
    assert any(m.startswith(f"{label}：") and "没有的百分比“12.5%”" in m for m in found), found


@pytest.mark.parametrize("channel", SUMMARY)
def test_a_summary_channel_may_leave_facts_out(catalog, channel):
    base = catalog.renditions[(SAMPLE, channel)]
    result = audit_with(catalog, channel, edited(base, lambda s: s.replace("1386.5亿元", "")))
    assert result.clean and result.channels[0].dropped


def test_a_poster_that_draws_a_figure_from_nowhere_fails_naming_the_infographic_and_the_figure(catalog, settings):
    r = catalog.releases[SAMPLE]
    ctx = catalog.context(r)
    poster, cover = infographic.poster_layout(r, ctx), infographic.cover_layout(r, ctx)
    assert audit_with(catalog, "infographic", infographic.rendition(r, poster, cover)).clean
    # A template change that draws one more line under the points: a number the source never gave.
    last = poster.texts[-1]
    extra = infographic.TextOp("sections", "全市新增就业岗位2.3万个", 34, False, (last.xy[0], last.xy[1] + 60), last.fill)
    forged = dataclasses.replace(poster, ops=poster.ops + [extra])
    found = messages(audit_with(catalog, "infographic", infographic.rendition(r, forged, cover)))
    assert any(m.startswith("图解：") and "没有的数字“2.3万”" in m for m in found), found
    # On the cover too (the WeChat cover is this cover when the release brings none of its own).
    title = next(op for op in cover.texts if op.field == "title" and "5.8%" in op.text)
    forged = dataclasses.replace(cover, ops=[dataclasses.replace(op, text=op.text.replace("5.8%", "6.8%"))
                                             if op is title else op for op in cover.ops])
    found = messages(audit_with(catalog, "infographic", infographic.rendition(r, poster, forged)))
    assert any(m.startswith("图解：") and "没有的百分比“6.8%”" in m for m in found), found


def test_a_pictures_words_join_the_lines_a_break_split(catalog):
    """A number broken over two lines ("24" | "小时") is read as the one fact, not as "24" and "小时"."""
    op = infographic.TextOp
    layout = infographic.Layout((1080, 400), [
        op("title", "暴雨预警发布后24", 64, True, (72, 100), infographic.INK),
        op("title", "小时内完成转移", 64, True, (72, 188), infographic.INK),
        op("key_figures", "143", 96, True, (104, 300), infographic.RED, "ls"),
        op("key_figures", "人", 34, True, (300, 300), infographic.RED, "ls"),
        op("key_figures", "转移安置群众", 30, False, (104, 340), infographic.GREY)])
    words = infographic.words(layout)
    assert words == "暴雨预警发布后24小时内完成转移\n143人\n转移安置群众\n"
    keys = {f.key for f in audit.text_facts(words, 2026)}
    assert "24小时内" in keys and "143人" in keys and "24" not in keys


def test_a_name_from_another_department_is_an_addition(catalog):
    other = next(s for s in catalog.registry.speakers.values() if s.department != "统计")
    base = catalog.renditions[(SAMPLE, "weibo")]
    found = messages(audit_with(catalog, "weibo", edited(base, lambda s: s.replace("前三季度", f"{other.name}说，前三季度", 1))))
    assert any(f"人名或机构名“{other.name}”" in m for m in found), found


def test_a_sound_bite_that_is_no_marked_quote_is_an_invented_quote(catalog):
    base = catalog.renditions[(SAMPLE, "tv")]
    bite = "【同期声】00:30—00:40\n画面：发布会现场，蒲晓明讲话\n字幕：蒲晓明　市统计局局长\n我们有信心完成全年目标。\n"
    forged = edited(base, lambda s: s + "\n" + bite if not s.lstrip().startswith(("{", "<", "1\n")) else s)
    found = messages(audit_with(catalog, "tv", forged))
    assert any("引语“我们有信心完成全年目标。”" in m for m in found), found


def test_same_fact_tolerates_full_width_digits_and_a_missing_own_year(catalog):
    facts = audit.text_facts("２０２６年１１月１７日，增长５．８％", 2026)
    again = audit.text_facts("11月17日，增长5.8%", 2026)
    assert {f.key for f in facts} == {f.key for f in again} == {"2026-11-17", "5.8%"}


def test_a_drop_is_a_validation_problem_of_the_release(catalog, settings):
    r = catalog.releases[SAMPLE]
    result = audit_release(r, catalog)
    assert result.clean
    broken = dataclasses.replace(result, channels=tuple(
        dataclasses.replace(c, dropped=(result.facts[0],)) if c.channel == "portal" else c for c in result.channels))
    (p,) = audit.problems(broken, "content/releases/work-report-2026-q3/release.md")
    assert p.message.startswith("门户网站") and result.facts[0].shown in p.message and p.fix


def test_validate_audit_prints_the_table_and_exits_0_for_a_clean_sample():
    proc = subprocess.run([sys.executable, "-c", "from pressroom.cli import app; app()", "validate", "--audit", SAMPLE],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin",
                                                                                       "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "各渠道事实核对" in proc.stdout and "1386.5亿元" in proc.stdout
    assert re.search(r"H5 页面\s*│\s*全文\s*│\s*23", proc.stdout), proc.stdout


# -- tables on the text channels -------------------------------------------------------------------

TABLE = """补贴标准如下：

| 对象 | 标准 | 期限 |
|---|---|---|
| 高校毕业生 | 每人每月500元 | 12个月 |
| 退役军人 | 每人每月600元 | 24个月 |
| 就业困难人员 | 每人每月800元 | 36个月 |
"""


@pytest.fixture
def with_table():
    from pressroom.model import Section
    from tests.test_channel_portal import make_release

    return dataclasses.replace(make_release(), sections=(Section("惠民利民举措", TABLE),))


def test_the_newspaper_keeps_a_table_as_sentences_and_a_real_word_table(with_table, ctx):
    import docx

    from channels import newspaper

    rd = newspaper.render(with_table, ctx)
    copy = rd.files[f"{with_table.id}.txt"].decode("utf-8-sig")
    assert "对象：退役军人；标准：每人每月600元；期限：24个月。" in copy
    doc = docx.Document(io.BytesIO(rd.files[f"{with_table.id}.docx"]))
    (grid,) = doc.tables
    assert [[c.text for c in row.cells] for row in grid.rows] == [
        ["对象", "标准", "期限"], ["高校毕业生", "每人每月500元", "12个月"],
        ["退役军人", "每人每月600元", "24个月"], ["就业困难人员", "每人每月800元", "36个月"]]


def test_the_tv_script_reads_a_table_row_by_row_with_its_time_counted(with_table, ctx):
    from channels import tv

    blocks, _ = tv.build_blocks(with_table, ctx)
    (card,) = [b for b in blocks if b.picture.startswith("字幕卡：")]
    assert "列：对象、标准、期限" in card.picture
    for figure in ("每人每月500元", "每人每月600元", "每人每月800元", "36个月"):
        assert figure in card.text
    timed = tv.timed(blocks, 270)
    row = next(b for b in timed if b.text == card.text)
    assert row.end - row.start == pytest.approx(tv.spoken_chars(card.text) * 60 / 270) and row.end - row.start > 10


def test_full_text_channels_keep_a_links_address(ctx):
    from pressroom.model import Section
    from tests.test_channel_portal import make_release

    url = "https://rsj.huainan.gov.cn/sb"
    r = dataclasses.replace(make_release(), sections=(Section("主要内容", f"申报请登录[市人社局网站]({url})办理。"),))
    for ch in FULL:
        said = audit.read_back(channels.render(ch, r, ctx))
        assert url in "\n".join(said.text) or url in said.links, ch
    copy = channels.render("newspaper", r, ctx).files[f"{r.id}.txt"].decode("utf-8-sig")
    assert f"申报请登录市人社局网站（网址：{url}）办理。" in copy


def test_a_summary_channel_that_leaves_a_table_out_says_so(catalog):
    warnings = catalog.warnings["employment-subsidy-2026-interpretation"]
    assert any(w.startswith("图解：未能呈现“主要内容”一节的表格") for w in warnings), warnings
    assert not any(w.startswith("报纸") and "表格" in w for w in warnings)


def test_the_new_policy_pair_carries_table_link_image_and_quote_everywhere_it_must(catalog):
    result = catalog.audits["employment-subsidy-2026-interpretation"]
    kinds = {f.kind for f in result.facts}
    assert {"cell", "link", "image", "quote", "docnum"} <= kinds
    assert ("image", "images/subsidy poster.png") in {(f.kind, f.shown) for f in result.facts}
    assert result.clean
    for c in result.channels:
        if c.carries == "full":
            assert len(c.kept) == len(result.facts), c.channel
