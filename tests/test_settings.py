"""pressroom.toml: typed tables with their defaults in pressroom.settings, and every mistake in the file
reported at once, in Chinese, naming the file and the key."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from pressroom.settings import (Approval, Compliance, PortalOutlet, Publish, SettingsError, TVOutlet,
                                load_settings)
from channels import configured as channels_configured
from tests.conftest import ROOT

PROJECT_TOML = (ROOT / "pressroom.toml").read_text(encoding="utf-8")


def variant(tmp_path: Path, *edits: tuple[str, str], append: str = "") -> Path:
    """A copy of the project's pressroom.toml with each (old, new) replaced once, plus ``append``."""
    text = PROJECT_TOML
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "pressroom.toml"
    path.write_text(text + append, encoding="utf-8")
    return path


def refused(path: Path) -> SettingsError:
    with pytest.raises(SettingsError) as e:
        load_settings(path)
    return e.value


def test_the_project_settings_load_as_typed_values(settings):
    assert settings.city.name == "淮南市" and settings.city.press_office == "淮南市人民政府新闻办公室"
    assert settings.tz == ZoneInfo("Asia/Shanghai")
    assert settings.approval.levels == ("责任编辑", "部门负责人", "分管领导")
    assert settings.approval.kinds == ("policy", "policy-document")
    assert settings.approval.important is True
    assert settings.approval.timeout_hours == 72 and isinstance(settings.approval.timeout_hours, float)
    assert settings.corrections.wechat_delete_old is False
    assert settings.outlet("newspaper")["papers"] == ("淮南日报", "淮河早报")
    assert settings.outlet("tv")["chars_per_minute"] == 270 and settings.outlet("tv")["slot_seconds"] == 90
    assert settings.outlet("portal")["base_url"] == "https://www.huainan.gov.cn/xwfb/"
    assert settings.site_names == ("淮南市人民政府门户网站", "淮南新闻网", "淮南网")
    assert settings.press_hall_name == "淮南新闻发布厅"
    assert settings.outlet("wechat")["author"] == "淮南市政府新闻办"
    assert dict(settings.transports) == {c: "outbox" for c in
                                         ("newspaper", "tv", "portal", "wechat", "weibo", "infographic", "h5", "video")}
    video = settings.outlet("video")
    assert (video["min_seconds"], video["max_seconds"], video["fps"]) == (20, 60, 25)
    # The suite runs with PRESSROOM_VIDEO=off (tests/conftest.py): the switch wins over the file's true.
    assert video["enabled"] is False and "video" not in channels_configured(settings)


def test_the_video_is_on_by_default(monkeypatch):
    from pressroom.settings import load_settings

    monkeypatch.delenv("PRESSROOM_VIDEO", raising=False)
    s = load_settings(ROOT / "pressroom.toml")
    assert s.outlet("video")["enabled"] is True and "video" in channels_configured(s)
    monkeypatch.setenv("PRESSROOM_VIDEO", "off")
    assert load_settings(ROOT / "pressroom.toml").outlet("video")["enabled"] is False


def test_a_missing_table_takes_its_defaults_from_the_settings_module(settings, monkeypatch):
    from pressroom.delivery.engine import retry_delays
    from pressroom.delivery import approval, schedule
    from pressroom.transports import ratelimit as concurrency
    from pressroom.sites import report

    monkeypatch.delenv("PRESSROOM_RETRY_DELAYS", raising=False)
    assert "[publish]" not in PROJECT_TOML and "[compliance]" not in PROJECT_TOML
    assert settings.publish == Publish() and Publish().retry_delays == (5, 30, 120)
    assert retry_delays(settings) == [5, 30, 120]
    assert schedule.preflight_lead(SimpleNamespace(settings=settings)) == timedelta(minutes=30)
    assert report.limits(settings) == {"opinion_hours": 48, "interpretation_grace_minutes": 60}
    limits = {lim.outlet: lim for lim in concurrency.limits_from(settings)}
    assert (limits["wechat"].per_second, limits["wechat"].burst) == (5, 10)
    assert limits["weibo"].per_second == pytest.approx(30 / 3600)
    assert approval.policy(settings).timeout_seconds == 72 * 3600


def test_the_compliance_default_is_the_notices_opinion_deadline():
    from pressroom.delivery import deadlines

    assert Compliance().opinion_hours == {rule: h for _, rule, h, _ in deadlines.RULES}["回应社会关切"]


def test_an_outlet_key_left_out_takes_its_one_default(tmp_path):
    from channels.base import RenderContext

    path = variant(tmp_path, ('base_url = "https://www.huainan.gov.cn/xwfb/"\n', ""),
                   ("chars_per_minute = 270\n", ""), ('[outlets.press_hall]\nname = "淮南新闻发布厅"\n', ""),
                   ('sites = ["淮南市人民政府门户网站", "淮南新闻网", "淮南网"]\n', ""))
    s = load_settings(path)
    assert s.outlet("portal")["base_url"] == PortalOutlet().base_url == "https://example.gov.cn/xwfb/"
    assert RenderContext(s).portal_base == "https://example.gov.cn/xwfb/"
    assert s.outlet("tv")["chars_per_minute"] == TVOutlet().chars_per_minute == 270
    assert s.press_hall_name == "淮南市新闻发布厅"  # from the city's name
    assert s.site_names == ("淮南市",)
    # A table replaced in code (as the channel tests do) still has every key.
    other = dataclasses.replace(s, outlets={**s.outlets, "tv": {"station": "示例台"}})
    assert other.outlet("tv")["station"] == "示例台" and other.outlet("tv")["column"] == "新闻发布"
    assert other.outlet("h5") == {}


def test_an_unknown_key_names_the_file_the_table_and_the_likely_key(tmp_path):
    e = refused(variant(tmp_path, ("timeout_hours = 72", "timeout_hour = 72")))
    assert [p.field for p in e.problems] == ["[approval] timeout_hour"]
    text = str(e.problems[0])
    assert text.startswith(str(tmp_path / "pressroom.toml") + "：")
    assert "[approval] 中的 timeout_hour 不是已知的设置项（是否想写 timeout_hours？）" in text


def test_an_unknown_table_is_refused_with_the_nearest_known_one(tmp_path):
    e = refused(variant(tmp_path, append='\n[notfy]\nbundle = ["xwb@example.gov.cn"]\n'))
    assert [p.field for p in e.problems] == ["[notfy]"]
    assert "[notfy] 不是已知的设置表（是否想写 [notify]？）" in str(e)
    assert "pressroom.toml" in str(e.problems[0])


def test_a_wrong_type_says_what_is_expected(tmp_path):
    e = refused(variant(tmp_path, ("timeout_hours = 72", 'timeout_hours = "72"')))
    assert [p.field for p in e.problems] == ["[approval] timeout_hours"]
    assert "[approval] 中的 timeout_hours 应为数字，现在是文本“72”" in str(e) and "timeout_hours = 72" in str(e)
    e = refused(variant(tmp_path, ("important = true", "important = 1")))
    assert [p.field for p in e.problems] == ["[approval] important"] and "true 或 false" in str(e)


def test_every_problem_is_reported_at_once(tmp_path):
    e = refused(variant(
        tmp_path, ("timeout_hours = 72", "timeout_hour = 72"), ("chars_per_minute = 270", 'chars_per_minute = "快"'),
        ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Huainan"'),
        append='\n[publish]\nretry_delays = [5, "30"]\n\n[transport.smtp]\nport = "587"\n\n[transport.smtp.desks]\n'
               'newspaper = "copy@hnrb.example.cn"\n\n[rate_limits]\nwechat = { per_secnd = 5 }\n\n[notfy]\n'))
    assert sorted(p.field for p in e.problems) == sorted([
        "[approval] timeout_hour", "[outlets.tv] chars_per_minute", "[city] timezone",
        "[publish] retry_delays", "[transport.smtp] port", "[transport.smtp.desks] newspaper",
        "[rate_limits.wechat] per_secnd", "[notfy]"])
    assert "第 2 项是文本“30”" in str(e) and "“Asia/Huainan”不是已知的时区" in str(e)
    assert all(str(p).startswith(e.file + "：") for p in e.problems)


def test_an_unknown_channel_in_transports_is_named_by_the_registry(tmp_path):
    import channels
    from pressroom.settings import load_settings

    settings = load_settings(variant(tmp_path, ('tv = "outbox"', 'tvv = "outbox"')))
    with pytest.raises(channels.UnknownChannel) as e:
        channels.configured(settings)
    assert "pressroom.toml：[transports] 中的“tvv”不是已知的发布渠道" in str(e.value) and "tv" in str(e.value)


def test_a_secret_in_the_file_is_refused_without_repeating_it(tmp_path):
    e = refused(variant(tmp_path, append='\n[transport.wechat]\nsecret = "wechat-SECRET-in-the-file"\n'))
    assert [p.field for p in e.problems] == ["[transport.wechat] secret"]
    assert "PRESSROOM_WECHAT_SECRET" in str(e) and "wechat-SECRET-in-the-file" not in str(e)


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path):
    e = refused(variant(tmp_path, ('name = "淮南市"', 'name = "淮南市')))
    assert len(e.problems) == 1 and "不是有效的 TOML（第 6 行" in str(e.problems[0])
    assert str(e.problems[0]).startswith(e.file + "：")


def test_the_settings_variants_of_the_other_tests_load(tmp_path):
    from tests.servers.harness import API_CHANNELS, DESKS, settings_text

    double = SimpleNamespace(url="http://127.0.0.1:9")
    o = SimpleNamespace(wechat=double, weibo=double, cms=double,
                        smtp=SimpleNamespace(port=2525, username="pressroom", cert="/tmp/cert.pem"))
    text = settings_text(tmp_path, o, API_CHANNELS, wechat_lookup_pages="5", weibo_lookup_count="100",
                         cms_token_block='"pressroom-test-cms-token"')
    text += ('\n[rate_limits]\nwechat = { per_second = 40, burst = 20 }\nweibo = { per_second = 20, burst = 10 }\n'
             '\n[notify]\nbundle = ["xwb@huainan.example.cn", "zwgk@huainan.example.cn"]\n')
    path = tmp_path / "pressroom.toml"
    path.write_text(text, encoding="utf-8")
    s = load_settings(path)
    assert s.transports["portal"] == "cms" and s.approval.levels == ()
    assert list(s.transport_tables["wechat"]["poll_delays"]) == [0, 0.01, 0.02, 0.05, 0.1]
    assert s.transport_tables["smtp"]["port"] == 2525
    assert {ch: list(a) for ch, a in s.transport_tables["smtp"]["desks"].items()} == DESKS
    assert s.transport_tables["cms"]["token_block"] == "pressroom-test-cms-token"
    assert s.rate_limits["wechat"]["per_second"] == 40 and s.notify.bundle[1] == "zwgk@huainan.example.cn"


def test_environment_overrides_still_apply(tmp_path, monkeypatch):
    path = variant(tmp_path)
    monkeypatch.setenv("PRESSROOM_CONFIG", str(path))
    monkeypatch.setenv("PRESSROOM_CONTENT", str(tmp_path / "c"))
    monkeypatch.setenv("PRESSROOM_OUTBOX", "elsewhere/outbox")
    monkeypatch.setenv("PRESSROOM_LEDGER_URL", "sqlite:///var/other.db")
    s = load_settings()
    assert s.root == tmp_path and s.content_dir == tmp_path / "c"
    assert s.outbox_dir == tmp_path / "elsewhere" / "outbox"
    assert s.ledger_url == f"sqlite:///{tmp_path / 'var' / 'other.db'}"


def test_the_cli_prints_the_problems_instead_of_a_traceback(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pressroom.cli import app

    path = variant(tmp_path, ("timeout_hours = 72", "timeout_hour = 72"), append="\n[notfy]\n")
    monkeypatch.setenv("PRESSROOM_CONFIG", str(path))
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    out = result.output.replace("\n", "")  # the console wraps long lines
    assert "2 处设置错误" in out and "timeout_hours？" in out and "[notify]？" in out
    assert "Traceback" not in out


def test_a_table_built_in_code_is_typed_too():
    a = Approval(levels=["责任编辑"], timeout_hours=1)
    assert a.levels == ("责任编辑",) and a.timeout_hours == 1.0 and isinstance(a.timeout_hours, float)
    assert a["important"] is True and dict(a)["kinds"] == ()


def test_a_database_password_quoted_in_an_error_is_masked_and_an_address_is_kept():
    """What serve and the notices log passes through ``redact``: a ledger or Prefect database URL quoted in an
    error loses its password, and a plain address (the UI's) stays readable."""
    from pressroom.secrets import redact

    said = redact("OperationalError: postgresql+psycopg://pressroom:Zq9-secret@db.local:5432/pressroom refused")
    assert "Zq9-secret" not in said and "postgresql+psycopg://pressroom:***@db.local:5432/pressroom" in said
    assert redact("Prefect 界面：http://127.0.0.1:4200/api") == "Prefect 界面：http://127.0.0.1:4200/api"
