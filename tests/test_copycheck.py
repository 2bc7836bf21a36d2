"""The copy gate: 错敏 rules block (unless a release allows them), GB/T 15834 / 15835 rules warn."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from pressroom.text import copycheck
from pressroom.releases.catalog import copy_gate
from pressroom.errors import ValidationFailed

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "content" / "sensitive.yaml"


@pytest.fixture(scope="module")
def rules():
    return copycheck.load_sensitive_patterns(RULES_FILE)


def release_md(*body: str, title: str = "我市召开新闻发布会") -> str:
    """A release.md whose body lines start at line 9."""
    front = ["---", "id: test-release", f"title: {title}", "kind: routine", "department: 统计",
             "publish_at: 2026-11-20 10:00", "cover: images/cover,1.png", "---"]
    return "\n".join(front + list(body)) + "\n"


def blocking(issues):
    return [i for i in issues if i.blocking]


def warnings(issues):
    return [i for i in issues if not i.blocking]


# ---------------------------------------------------------------------------------------------
# 错敏 rules


def test_old_department_name_blocks_with_line_and_correct_form(rules):
    text = release_md("导语第一段。", "", "## 议题", "", "会议由市环保局主持。")
    [issue] = blocking(copycheck.check_copy(text, rules))
    assert issue.line == 13
    assert issue.rule == "old-environment-bureau"
    assert "“市环保局”" in issue.message and "市生态环境局" in issue.message


def test_wrong_name_in_the_title_blocks_at_the_title_line(rules):
    text = release_md("导语。", title="市卫生和计划生育委员会发布冬季防病提示")
    [issue] = blocking(copycheck.check_copy(text, rules))
    assert (issue.line, issue.rule) == (3, "old-health-commission")
    assert "市卫生健康委员会" in issue.message


def test_allow_list_lets_only_the_listed_rule_through(rules):
    text = release_md("原文：淮南市国土资源局、淮南市卫计委。")
    assert {i.rule for i in blocking(copycheck.check_copy(text, rules))} == {"old-land-bureau", "old-health-commission"}
    left = blocking(copycheck.check_copy(text, rules, allow={"old-land-bureau"}))
    assert [i.rule for i in left] == ["old-health-commission"]
    assert blocking(copycheck.check_copy(text, rules, allow={"old-land-bureau", "old-health-commission"})) == []


def test_regex_rule_fills_the_correct_form_from_the_match(rules):
    [issue] = blocking(copycheck.check_copy(release_md("在县委县政府的领导下。"), rules))
    assert "“县委县政府”应为“县委、县政府”" in issue.message


@pytest.mark.parametrize("good", [
    "环境保护部门加强执法。", "市人大常委会委员视察。", "全国政协代表团抵达。", "市工商联召开会议。",
    "市自然资源和规划局发布公告。", "市文化和旅游局举办活动。", "截至目前，报名已截止。", "党中央、国务院高度重视。",
    "市委、市政府部署工作。", "城市规划局",
])
def test_short_patterns_do_not_hit_correct_wording(rules, good):
    assert blocking(copycheck.check_copy(release_md(good), rules)) == []


def test_every_rule_is_documented_and_does_not_flag_its_own_correct_form(rules):
    assert 15 <= len(rules) <= 30
    assert len({r.id for r in rules}) == len(rules)
    for r in rules:
        assert r.note and r.correct
        if "\\" not in r.correct:
            assert not r.regex.search(r.correct), f"rule {r.id} flags its own correct form"


def test_link_targets_and_image_paths_are_not_checked_for_wrong_names(rules):
    # A bare URL ends at the first Chinese character (Chinese copy runs straight on after a URL).
    text = release_md("详见[通知原文](https://example.gov.cn/市环保局/notice.html)。", "![现场](images/市环保局.png)")
    assert blocking(copycheck.check_copy(text, rules)) == []


@pytest.mark.parametrize("content, where", [
    ("- id: a\n  pattern: x\n  correct: y\n  note: z\n- id: b\n  pattern: x\n  note: z\n", "第2条规则.correct"),
    ("- id: a\n  pattern: '市(环保局'\n  regex: true\n  correct: y\n  note: z\n", "第1条规则.pattern"),
    ("- id: a\n  pattern: x\n  correct: y\n  note: z\n- id: a\n  pattern: w\n  correct: y\n  note: z\n", "第2条规则.id"),
    ("- id: a\n  pattern: x\n  corect: y\n  note: z\n", "第1条规则.corect"),
    ("- id: a\n  pattern: 'a|'\n  regex: true\n  correct: y\n  note: z\n", "第1条规则.pattern"),
    ("- id: a\n  pattern: '(市委)'\n  regex: true\n  correct: '\\2、'\n  note: z\n", "第1条规则.correct"),
    ("- id: a\n  pattern: x\n  regex: yes please\n  correct: y\n  note: z\n", "第1条规则.regex"),
    ("id: a\npattern: x\n", ""),
])
def test_broken_rules_file_names_the_rule_and_field(tmp_path, content, where):
    path = tmp_path / "sensitive.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        copycheck.load_sensitive_patterns(path)
    fields = [p.field for p in e.value.problems]
    assert where in fields, fields
    assert all(p.file == "sensitive.yaml" and p.message and p.fix for p in e.value.problems)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "sensitive.yaml"
    path.write_text("- id: a\n  pattern: [unclosed\n  correct: y\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="YAML 格式错误（第"):
        copycheck.load_sensitive_patterns(path)


# ---------------------------------------------------------------------------------------------
# GB/T 15834 / 15835 warnings


@pytest.mark.parametrize("line, rule, shown", [
    ("全市经济平稳,稳中有进。", "GB/T 15834 全角标点", "“,”→“，”"),
    ("主要任务如下:一是加强领导。", "GB/T 15834 全角标点", "“:”→“：”"),
    ("水价会翻倍吗?不会。", "GB/T 15834 全角标点", "“?”→“？”"),
    ("请拨打热线(12345)咨询。", "GB/T 15834 全角标点", "“(”→“（”"),
    ("会议结束.下一步工作", "GB/T 15834 全角标点", "“.”→“。”"),
    ("一.背景依据", "GB/T 15834 全角标点", "“.”→“。”"),
    ("市民称“水价翻倍。", "GB/T 15834 标点成对", "前引号"),
    ("依据《价格法的规定。", "GB/T 15834 标点成对", "前书名号"),
    ("详见附件）。", "GB/T 15834 标点成对", "后括号"),
    ("【权威发布通知如下。", "GB/T 15834 标点成对", "前方头括号"),
    ("《关于“水价》的说明”。", "GB/T 15834 标点成对", "前引号"),
    ("群众反映排水不畅...", "GB/T 15834 省略号", "“...”"),
    ("雨水口、泵站…都要检查。", "GB/T 15834 省略号", "“…”"),
    ("雨水口、泵站………都要检查。", "GB/T 15834 省略号", "“………”"),
    ("这是关键--也是难点。", "GB/T 15834 破折号", "“--”"),
    ("全市 经济运行平稳。", "GB/T 15834 汉字间空格", "全市 经济"),
    ("依据《意见》、《方案》执行。", "GB/T 15834 并列书名号引号不用顿号", "》、《"),
    ("开设“权威发布”、“新闻发布”专栏。", "GB/T 15834 并列书名号引号不用顿号", "”、“"),
    ("截至23年5月底。", "GB/T 15835 年份不简写", "2023年"),
    ("较上年提高.8个百分点。", "GB/T 15835 小数点前补0", "0.8"),
])
def test_each_punctuation_rule_warns_with_its_line(rules, line, rule, shown):
    text = release_md("导语正常。", "", line)
    issues = copycheck.check_copy(text, rules)
    assert blocking(issues) == []
    hits = [i for i in issues if i.rule == rule]
    assert hits, issues
    assert hits[0].line == 11 and shown in hits[0].message


def test_prose_front_matter_values_are_checked_but_keys_and_paths_are_not(rules):
    text = release_md("导语。", title="我市经济平稳,稳中有进")
    issues = warnings(copycheck.check_copy(text, rules))
    assert [(i.line, i.rule) for i in issues] == [(3, "GB/T 15834 全角标点")]


@pytest.mark.parametrize("good", [
    "详见https://www.huainan.gov.cn/xwfb/a,b.html?x=1;y=2:3（市政府网站）。",
    "详见[市政府网站](https://www.huainan.gov.cn/a(b).html)。",
    "![现场图片，拍摄于上午](images/photo,1.png)",
    "配置项写作`chars_per_minute: 270`即可。",
    "会议于上午10:00开始，11:30结束。",
    "前三季度增长5.8%，总量达1386.5亿元，比上年提高0.6个百分点。",
    "每个部门确定1—2名新闻发言人，时间为9～16时。",
    "Hello, world: this is fine (really)... isn't it?",
    "本报讯 2月17日下午，座谈会举行。",
    "本报讯 市委宣传部印发通知。",
    "| 项目 | 2025年 | 2026年 |",
    "邮箱为xwb@huainan.gov.cn，欢迎来信。",
    "“2·1+N”工作机制；“权威发布”“新闻发布”专栏；《意见》《方案》。",
    "（一）实行“2·1+N”机制（半年1次）。淮宣〔2017〕78号",
    "用了23年时间；2023年5月；利用2年时间。",
    "雨水口、泵站……都要检查。…………（中略）",
    "<!-- 编辑备注,不发布 -->",
])
def test_no_false_positives(rules, good):
    assert copycheck.check_copy(release_md(good), rules) == []


def test_fenced_code_is_not_checked_for_punctuation(rules):
    text = release_md("```", "中文,代码(示例)...", "```", "正文。")
    assert copycheck.check_copy(text, rules) == []


def test_plain_text_without_front_matter_counts_lines_from_one(rules):
    issues = copycheck.check_copy("第一行。\n第二行,有问题。\n", rules)
    assert [(i.line, i.rule) for i in issues] == [(2, "GB/T 15834 全角标点")]


def test_line_numbers_are_the_editors_despite_bom_crlf_and_pasted_controls(rules):
    text = "\ufeff" + release_md("导语。\x0b续。\u2028同段。", "", "市环保局。").replace("\n", "\r\n")
    [issue] = blocking(copycheck.check_copy(text, rules))
    assert issue.line == 11


# ---------------------------------------------------------------------------------------------
# The gate over real releases


def test_sample_releases_pass_the_gate(samples, settings):
    assert len(samples) >= 6  # every sample is checked, however many there are
    for r in samples.values():
        problems, _warnings = copy_gate(r, settings)
        assert problems == [], (r.id, [str(p) for p in problems])


def test_gate_blocks_an_old_name_with_the_release_md_line(samples, settings, tmp_path):
    sample = samples["water-price-rumor"]
    folder = tmp_path / "water-price-rumor"
    shutil.copytree(sample.source, folder)
    md = folder / "release.md"
    lines = md.read_text(encoding="utf-8").splitlines()
    n = len(lines)
    lines.append("市物价局已会同市工商局开展检查。")
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    release = dataclasses.replace(sample, source=str(folder))
    problems, _ = copy_gate(release, settings)
    assert [p.field for p in problems] == [f"第{n + 1}行"]
    assert "市市场监督管理局" in problems[0].message and "copy_allow" in problems[0].fix
    allowed = dataclasses.replace(release, copy_allow=("old-commerce-bureau",))
    assert copy_gate(allowed, settings)[0] == []
