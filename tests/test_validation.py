"""Every validation rule has a bad-input case in tests/bad_inputs/<case>/ (a release folder and
expect.yaml naming the field and the Chinese message). Each case must fail for its stated reason, name its
file, and reach no channel; the baseline case must validate, so the cases fail only for what they break."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from pressroom.releases.catalog import validate

CORPUS = Path(__file__).parent / "bad_inputs"
ALL_CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_"))


def expectation(case: str) -> dict:
    return yaml.safe_load((CORPUS / case / "expect.yaml").read_text(encoding="utf-8"))


# A case is a release that must be refused, or (``valid: true``) one that must validate with the warning it
# names (or without the one it names in ``no_warning``).
CASES = [c for c in ALL_CASES if not expectation(c).get("valid")]
VALID_CASES = [c for c in ALL_CASES if expectation(c).get("valid")]


def content_with(tmp_path: Path, *folders: str) -> Path:
    content = tmp_path / "content"
    shutil.copytree(CORPUS / "_registry", content)
    for name in folders:
        shutil.copytree(CORPUS / name, content / "releases" / name, symlinks=True)
    return content


@pytest.fixture
def corpus_settings(settings, tmp_path):
    def make(*folders):
        return dataclasses.replace(settings, content_dir=content_with(tmp_path, *folders))
    return make


def test_baseline_case_is_valid(corpus_settings):
    catalog = validate(corpus_settings("_valid"), render=False)
    assert catalog.problems == {} and list(catalog.releases) == ["valid-release"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_with_a_clear_error(case, corpus_settings):
    expect = expectation(case)
    catalog = validate(corpus_settings(case, *expect.get("companions", [])), render=expect.get("render", False))
    assert case not in {Path(r.source).name for r in catalog.releases.values()}, "the bad release validated"
    problems = catalog.problems.get(case)
    assert problems, f"no problem reported for {case}"
    # ``also``: further problems the same round must report (one problem never hides another)
    for want in [expect, *expect.get("also", [])]:
        matching = [p for p in problems if p.field.startswith(want["field"]) and want["message"] in p.message]
        assert matching, "\n".join(map(str, problems))
    if "fix" in expect:
        assert any(expect["fix"] in p.fix for p in problems), "\n".join(map(str, problems))
    assert len(problems) >= expect.get("at_least", 1)
    for p in problems:
        assert p.file.startswith(f"releases/{case}/"), p.file  # names the file
        assert p.fix, p  # and says what to do


@pytest.mark.parametrize("case", VALID_CASES)
def test_good_input_validates_with_the_warning_it_deserves(case, corpus_settings):
    expect = expectation(case)
    catalog = validate(corpus_settings(case), render=expect.get("render", False))
    assert catalog.problems == {}, {k: list(map(str, v)) for k, v in catalog.problems.items()}
    (release,) = catalog.releases.values()
    warnings = catalog.warnings[release.id]
    for want in filter(None, [expect.get("warning"), *expect.get("also_warnings", [])]):
        assert any(want in w for w in warnings), "\n".join(warnings)
    if "no_warning" in expect:
        assert not any(expect["no_warning"] in w for w in warnings), "\n".join(warnings)


def test_all_problems_of_a_release_are_reported_together(settings, tmp_path):
    content = content_with(tmp_path, "_valid")
    md = content / "releases" / "_valid" / "release.md"
    text = md.read_text(encoding="utf-8")
    text = text.replace("department: 发改委", "department: 宇宙局").replace("publish_at: 2026-11-20 10:00",
                                                                          "publish_at: 2026-11-20")
    text = text.replace("## 社会关切", "## 其他")
    md.write_text(text, encoding="utf-8")
    catalog = validate(dataclasses.replace(settings, content_dir=content), render=False)
    fields = {p.field for p in catalog.problems["_valid"]}
    assert {"department", "publish_at", "## 社会关切"} <= fields


def test_publish_at_without_offset_is_read_as_shanghai_time(corpus_settings):
    r = validate(corpus_settings("_valid"), render=False).releases["valid-release"]
    assert r.publish_at.utcoffset().total_seconds() == 8 * 3600
    assert (r.publish_at.hour, r.publish_at.minute) == (10, 0)


def test_registry_needs_one_or_two_spokespersons_and_a_liaison(tmp_path, settings):
    from pressroom.errors import ValidationFailed
    from pressroom.releases.loader import load_registry

    content = content_with(tmp_path)
    people = content / "spokespeople.yaml"
    text = people.read_text(encoding="utf-8")
    text = text.replace("  liaison: {name: 测试联二, title: 办公室主任, phone: \"0554-0000002\"}\n", "")
    text = text.replace("    - {name: 测试乙, title: 市发展改革委副主任}\n",
                        "    - {name: 测试乙, title: 副主任}\n    - {name: 测试戊, title: 副主任}\n")
    people.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        load_registry(content)
    text = str(e.value)
    assert "3 名新闻发言人" in text and "1—2名" in text
    assert "教育.liaison" in text and "联络员" in text


def test_the_sample_content_validates_clean(settings):
    catalog = validate(settings)
    assert catalog.problems == {}, {k: list(map(str, v)) for k, v in catalog.problems.items()}
    kinds = {r.kind for r in catalog.releases.values()}
    assert kinds == {"policy-document", "policy", "emergency", "opinion", "routine"}


def test_cli_validate_exits_1_and_lists_problems(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pressroom.cli import app

    content = content_with(tmp_path, "_valid", "missing-section", "unknown-speaker")
    cfg = tmp_path / "pressroom.toml"
    cfg.write_text((Path(__file__).parent.parent / "pressroom.toml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("PRESSROOM_CONFIG", str(cfg))
    monkeypatch.setenv("PRESSROOM_CONTENT", str(content))
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1
    out = result.output
    assert "releases/missing-section/release.md" in out and "社会关切" in out
    assert "张三丰" in out and "2 篇稿件未通过校验" in out
    assert "✓ valid-release" in out


def test_cli_new_scaffolds_a_release_that_lists_its_required_sections(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pressroom.cli import app

    content = content_with(tmp_path)
    (content / "releases").mkdir()
    cfg = tmp_path / "pressroom.toml"
    cfg.write_text((Path(__file__).parent.parent / "pressroom.toml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("PRESSROOM_CONFIG", str(cfg))
    monkeypatch.setenv("PRESSROOM_CONTENT", str(content))
    runner = CliRunner()
    assert runner.invoke(app, ["new", "emergency", "flood-2026", "--department", "发改委"]).exit_code == 0
    text = (content / "releases" / "flood-2026" / "release.md").read_text(encoding="utf-8")
    for heading in ("## 事件情况", "## 工作进展", "## 责任认定"):
        assert heading in text
    assert "speakers: [测试甲]" in text  # the department's head first
    # Unfilled, it does not validate: the placeholders are named.
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1 and "占位符" in result.output


def test_an_event_after_the_injected_clock_is_refused(corpus_settings):
    from datetime import datetime, timezone

    s = corpus_settings("_valid")  # event_at 2026-11-19 08:00 (Asia/Shanghai)
    before = validate(s, render=False, now=datetime(2026, 11, 18, 23, 0, tzinfo=timezone.utc))
    (p,) = before.problems["_valid"]
    assert p.field == "event_at" and "2026-11-19 08:00 晚于当前时间" in p.message
    after = validate(s, render=False, now=datetime(2026, 11, 19, 0, 0, tzinfo=timezone.utc))
    assert after.problems == {} and "valid-release" in after.releases


def test_an_id_used_by_two_folders_blocks_both(corpus_settings):
    catalog = validate(corpus_settings("duplicate-id", "_valid"), render=False)
    assert catalog.releases == {}
    for folder, other in (("duplicate-id", "_valid"), ("_valid", "duplicate-id")):
        assert any(p.field == "id" and f"与 {other} 重复" in p.message for p in catalog.problems[folder]), folder


def test_a_dateline_typed_into_the_lead_reaches_only_the_newspaper_and_tv_as_theirs(corpus_settings):
    catalog = validate(corpus_settings("dateline-in-lead"))
    texts = {}
    for (rid, ch), rendition in catalog.renditions.items():
        texts[ch] = "".join(data.decode("utf-8", "ignore") for name, data in rendition.files.items()
                            if name.endswith((".html", ".txt", ".json", ".srt")))
        if rendition.payload:
            texts[ch] += repr(rendition.payload)
    for ch in ("portal", "wechat", "h5", "weibo"):
        assert "本报讯" not in texts[ch], ch
    for ch in ("portal", "wechat", "h5"):
        assert "市发展改革委11月20日回应网络关切" in texts[ch], ch
    newspaper = texts["newspaper"].splitlines()
    assert sum(ln.startswith("本报讯") for ln in newspaper) == 1
    assert "本报讯 市发展改革委11月20日回应网络关切。" in newspaper
    assert "本台消息" in texts["tv"] and "本报讯" not in texts["tv"]


def test_a_document_whose_interpretation_has_field_problems_is_told_which_one(corpus_settings):
    s = corpus_settings("interpretation-failed-to-load", "_broken-interpretation")
    md = s.content_dir / "releases" / "_broken-interpretation" / "release.md"
    md.write_text(md.read_text(encoding="utf-8").replace("digest：", "digest: ").replace("department: 发改委",
                                                                                      "department: 宇宙局"),
                  encoding="utf-8")
    catalog = validate(s, render=False)
    assert any("部门“宇宙局”" in p.message for p in catalog.problems["_broken-interpretation"])
    (p,) = [p for p in catalog.problems["interpretation-failed-to-load"] if p.field == "id"]
    assert "解读稿 broken-interpretation（releases/_broken-interpretation/release.md）未通过校验" in p.message
    assert "没有对应的政策解读" not in p.message and "不要另建解读稿" in p.fix


def test_validate_on_a_fresh_checkout_creates_no_ledger(tmp_path, settings):
    from pressroom.delivery import waivers

    fresh = dataclasses.replace(settings, content_dir=content_with(tmp_path, "_valid"),
                                ledger_url=f"sqlite:///{tmp_path}/var/ledger.db")
    assert waivers.active(fresh) == frozenset() and not (tmp_path / "var").exists()
    assert "valid-release" in waivers.validate(fresh, render=False).releases and not (tmp_path / "var").exists()
