"""``pressroom doctor`` (``run_doctor``): every configured outlet checked against the doubles, a table an
editor can act on, nothing published, no secret printed."""

from __future__ import annotations

import pytest

from pressroom.delivery.doctor import run_doctor
from tests.servers.harness import CREDENTIALS, outlets  # noqa: F401

COLUMNS = ["渠道", "检查", "结果", "说明"]


def _nothing_published(o):
    return (o.wechat.drafts == [] and o.wechat.state.jobs == {} and o.weibo.posts == []
            and o.cms.pages == {} and o.smtp.messages == [])


def test_all_outlets_pass_and_nothing_is_published(outlets):
    rows = run_doctor(outlets.settings)
    assert rows and all(list(r) == COLUMNS for r in rows)
    assert all(r["结果"] == "通过" for r in rows), rows
    channels = " ".join(r["渠道"] for r in rows)
    for label in ("微信公众号", "微博", "门户网站", "报纸", "电视"):
        assert label in channels
    checks = {r["检查"] for r in rows}
    assert {"获取 access_token", "草稿/发布接口权限", "access_token", "rip（出口 IP）", "SMTP 连接与登录",
            "CMS 连通与令牌", "本地发件箱可写"} <= checks
    assert _nothing_published(outlets)
    assert outlets.smtp.logins == [f"{outlets.smtp.username}:ok"]  # STARTTLS and login really happened


def test_broken_outlets_are_named_with_what_to_fix(outlets, monkeypatch):
    outlets.wechat.inject("/cgi-bin/stable_token", "errcode", code=40164, extra={"errmsg": "invalid ip"})
    outlets.configure(weibo_rip='""')
    outlets.smtp.password = "rotated"
    outlets.cms.stop()
    monkeypatch.delenv("PRESSROOM_WEIBO_TOKEN")
    rows = {(r["渠道"], r["检查"]): r for r in run_doctor(outlets.settings)}
    failed = {k: r["说明"] for k, r in rows.items() if r["结果"] == "失败"}
    by_check = {k[1]: v for k, v in failed.items()}
    assert "白名单" in by_check["获取 access_token"] and "40164" in by_check["获取 access_token"]
    assert "rip" in by_check["rip（出口 IP）"]
    assert "PRESSROOM_WEIBO_TOKEN" in by_check["access_token"]  # where to put the missing token
    assert "拒绝登录" in by_check["SMTP 连接与登录"]
    assert "无法连接" in by_check["CMS 连通与令牌"]
    text = repr(rows)
    assert not [s for s in CREDENTIALS.values() if s in text and s != CREDENTIALS["PRESSROOM_WECHAT_APPID"]]
    assert _nothing_published(outlets)


# -- never a false pass --------------------------------------------------------------------------------

import socket
import time

from pressroom.delivery import doctor

NO_LIBRARY_TEXT = ("urllib3", "HTTPConnectionPool", "Errno", "Max retries", "NewConnectionError", "Traceback")


def _rows(outlets, **kw):
    return {(r["渠道"], r["检查"]): r for r in run_doctor(outlets.settings, **kw)}


def _of(rows, channel_label):
    return {k[1]: (r["结果"], r["说明"]) for k, r in rows.items() if channel_label in k[0]}


def test_revoked_weibo_token_fails_and_keeps_the_breaker_open(outlets):
    ledger = outlets.ledger()
    doctor.trip(ledger, "weibo", "微博发布微博失败：授权无效（error_code 21332）")
    outlets.weibo.token = "revoked"  # the office revoked the app's authorization
    weibo = _of(_rows(outlets, ledger=ledger), "微博")
    result, why = weibo["access_token"]
    assert result == "失败" and "21332" in why and "授权无效" in why, weibo
    assert weibo["熔断"][0] == "失败" and doctor.disabled_reason(ledger, "weibo")
    print("\nrevoked token:", why)


def test_timeline_404_is_not_a_pass_and_does_not_reopen_the_breaker(outlets):
    ledger = outlets.ledger()
    doctor.trip(ledger, "weibo", "微博：凭据被拒")
    outlets.weibo.timeline_status = 404  # the timeline API is not available to this app
    weibo = _of(_rows(outlets, ledger=ledger), "微博")
    assert weibo["access_token"][0] == "通过"  # get_uid confirmed the token positively
    result, why = weibo["查询最近微博"]
    assert result == "失败" and "HTTP 404" in why and "待核实" in why
    assert doctor.disabled_reason(ledger, "weibo")  # re-opened only on positive checks
    print("\ntimeline 404:", why)


def test_base_url_answering_404_fails_every_api_outlet(outlets):
    """base_url pointing at a web server that is not the platform: every answer is a 404 page."""
    from tests.servers.base import FakeServer, Response

    class NotFoundServer(FakeServer):
        def handle(self, req, fault=None):
            return Response(404, b"<html>404 Not Found</html>", "text/html")

    with NotFoundServer() as wrong:
        url = f'"{wrong.url}"'
        outlets.configure(wechat_base_url=url, weibo_base_url=url, cms_base_url=url)
        rows = _rows(outlets)
    failed = {k[1]: r["说明"] for k, r in rows.items() if r["结果"] == "失败"}
    assert {"获取 access_token", "access_token", "CMS 连通与令牌"} <= set(failed), rows
    assert "HTTP 404" in failed["获取 access_token"] and "base_url" in failed["获取 access_token"]
    assert "HTTP 404" in failed["access_token"] and "base_url" in failed["access_token"]
    assert "不是 JSON" in failed["CMS 连通与令牌"] or "404" in failed["CMS 连通与令牌"]
    assert not any(r["结果"] == "通过" for k, r in rows.items() if k[1] in ("草稿/发布接口权限", "查询最近微博"))
    for check in ("获取 access_token", "access_token", "CMS 连通与令牌"):
        print(f"\n404 {check}:", failed[check])


def _dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_dead_port_is_explained_in_chinese_with_the_action_within_5_s(outlets):
    port = _dead_port()
    url = f'"http://127.0.0.1:{port}"'
    outlets.configure(wechat_base_url=url, weibo_base_url=url, cms_base_url=url, smtp_port=str(port))
    started = time.monotonic()
    rows = _rows(outlets)
    elapsed = time.monotonic() - started
    failed = {(k[0], k[1]): r["说明"] for k, r in rows.items() if r["结果"] == "失败"}
    by = {k[1] if k[1] != "网络连接" else f"{k[0]} 网络连接": v for k, v in failed.items()}
    wechat = next(v for k, v in by.items() if k.startswith("微信") and "网络连接" in k)
    weibo = next(v for k, v in by.items() if k.startswith("微博") and "网络连接" in k)
    for why in (wechat, weibo, by["CMS 连通与令牌"], by["SMTP 连接与登录"]):
        assert "连接被拒绝" in why and not any(t in why for t in NO_LIBRARY_TEXT), why
    assert "[transport.wechat] base_url" in wechat and "[transport.weibo] base_url" in weibo
    assert "[transport.smtp] host 和 port" in by["SMTP 连接与登录"]
    assert not any(k[1] == "access_token" for k in failed)  # the token was never asked: not "token failed"
    assert elapsed < 5, elapsed
    print(f"\ndead port ({elapsed:.2f} s):", wechat, "|", weibo)


def test_an_outlet_that_never_answers_is_given_up_within_5_s(outlets):
    """A port that accepts connections and never answers (a firewall, a hung proxy)."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    try:
        url = f'"http://127.0.0.1:{hung.getsockname()[1]}"'
        outlets.configure(wechat_base_url=url)
        started = time.monotonic()
        rows = run_doctor(outlets.settings, only={"wechat"})
        elapsed = time.monotonic() - started
    finally:
        hung.close()
    (row,) = [r for r in rows if r["结果"] == "失败"]
    assert row["检查"] == "网络连接" and "超时" in row["说明"] and "base_url" in row["说明"]
    assert elapsed < 5, elapsed
    print(f"\nno answer ({elapsed:.2f} s):", row["说明"])


@pytest.mark.parametrize("code,words", [(40164, "IP白名单"), (48001, "2025 年 7 月")])
def test_wechat_refusals_say_what_to_do(outlets, code, words):
    path = "/cgi-bin/stable_token" if code == 40164 else "/cgi-bin/draft/batchget"
    outlets.wechat.inject(path, "errcode", code=code)
    wechat = _of(_rows(outlets), "微信")
    failed = [why for result, why in wechat.values() if result == "失败"]
    assert len(failed) == 1 and words in failed[0] and str(code) in failed[0]
    print(f"\n{code}:", failed[0])


def test_an_unexpected_reply_shape_fails(outlets):
    outlets.wechat.inject("/cgi-bin/draft/batchget", "errcode", code=0, extra={"errmsg": "ok"})  # no item list
    wechat = _of(_rows(outlets), "微信")
    assert wechat["草稿/发布接口权限"][0] == "失败" and "格式与文档不符" in wechat["草稿/发布接口权限"][1]


# -- the micro-video's encoder (channels/video.py ``doctor``) -------------------------------------------

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import replace

from tests.conftest import ROOT
from tests.servers.harness import API_CHANNELS

VIDEO = "微视频"
ENCODER_LIST = """Encoders:
 V..... = Video
 A..... = Audio
 ------
 V....D libx265              libx265 H.265 / HEVC (codec hevc)
 V....D mpeg4                MPEG-4 part 2
 A....D aac                  AAC (Advanced Audio Coding)
"""


def _with_video(outlets, monkeypatch, ffmpeg: str | None = None):
    monkeypatch.delenv("PRESSROOM_VIDEO", raising=False)  # on, as installed (tests/conftest.py turns it off)
    s = outlets.configure({**API_CHANNELS, "video": "outbox"})
    if ffmpeg is not None:
        s = replace(s, outlets=replace(s.outlets, video=replace(s.outlets.video, ffmpeg=ffmpeg)))
    return s


def _script(path, body: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nPATH=/usr/bin:/bin\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _video_rows(settings):
    """The video channel's own checks (its outbox transport is checked as well, in its own row)."""
    rows = run_doctor(settings, only={"video"})
    assert {"渠道": VIDEO, "检查": "本地发件箱可写", "结果": "通过", "说明": rows[0]["说明"]} == rows[0]
    return {r["检查"]: r for r in rows[1:] if r["渠道"] == VIDEO}


@pytest.mark.skipif(not shutil.which("ffprobe"), reason="ffmpeg not installed (scripts/system-deps.sh)")
def test_the_installed_ffmpeg_passes_with_its_encoders_and_ffprobe(outlets, monkeypatch):
    rows = _video_rows(_with_video(outlets, monkeypatch))
    assert set(rows) == {"ffmpeg", "ffmpeg 编码器 libx264、aac", "ffprobe"}
    assert all(r["结果"] == "通过" for r in rows.values()), rows


def test_an_ffmpeg_without_libx264_on_path_is_reported_before_delivery(outlets, monkeypatch, tmp_path):
    fake = _script(tmp_path / "bin" / "ffmpeg", f"cat <<'LIST'\n{ENCODER_LIST}LIST\n")
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    rows = _video_rows(_with_video(outlets, monkeypatch))  # the default setting: "ffmpeg", found on PATH
    assert rows["ffmpeg"]["结果"] == "通过" and str(fake) in rows["ffmpeg"]["说明"]
    enc = rows["ffmpeg 编码器 libx264、aac"]
    assert enc["结果"] == "失败"
    assert "缺少编码器 libx264" in enc["说明"] and "aac" not in enc["说明"].split("缺少编码器")[1].split("，")[0]
    assert "[outlets.video] ffmpeg" in enc["说明"] and "bash scripts/system-deps.sh" in enc["说明"]


def test_a_missing_ffmpeg_path_is_reported_with_the_setting_and_the_fix(outlets, monkeypatch, tmp_path):
    rows = _video_rows(_with_video(outlets, monkeypatch, ffmpeg=str(tmp_path / "nowhere" / "ffmpeg")))
    assert list(rows) == ["ffmpeg"] and rows["ffmpeg"]["结果"] == "失败"
    why = rows["ffmpeg"]["说明"]
    assert "找不到 ffmpeg" in why and str(tmp_path / "nowhere" / "ffmpeg") in why
    assert "[outlets.video] ffmpeg" in why and "bash scripts/system-deps.sh" in why


def test_an_ffmpeg_that_does_not_run_and_a_missing_ffprobe_fail(outlets, monkeypatch, tmp_path):
    broken = _script(tmp_path / "broken" / "ffmpeg", "echo 'error while loading shared libraries: libavdevice.so.59' >&2\nexit 127\n")
    rows = _video_rows(_with_video(outlets, monkeypatch, ffmpeg=str(broken)))
    assert rows["ffmpeg"]["结果"] == "失败"
    assert "无法运行" in rows["ffmpeg"]["说明"] and "127" in rows["ffmpeg"]["说明"]
    assert "libavdevice" in rows["ffmpeg"]["说明"]
    # A working ffmpeg whose ffprobe is neither beside it nor on PATH.
    good = _script(tmp_path / "alone" / "ffmpeg", "cat <<'LIST'\n" + ENCODER_LIST.replace("libx265", "libx264") + "LIST\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    rows = _video_rows(_with_video(outlets, monkeypatch, ffmpeg=str(good)))
    assert rows["ffmpeg 编码器 libx264、aac"]["结果"] == "通过"
    assert rows["ffprobe"]["结果"] == "失败" and "system-deps.sh" in rows["ffprobe"]["说明"]


def test_an_ffmpeg_that_hangs_is_given_up_within_5_s(outlets, monkeypatch, tmp_path):
    hangs = _script(tmp_path / "hangs" / "ffmpeg", "exec sleep 60\n")
    settings = _with_video(outlets, monkeypatch, ffmpeg=str(hangs))
    start = time.monotonic()
    rows = _video_rows(settings)
    assert time.monotonic() - start < 7
    assert rows["ffmpeg"]["结果"] == "失败" and "5 秒内没有结束" in rows["ffmpeg"]["说明"]


def test_no_video_check_when_the_video_is_off(outlets, monkeypatch):
    s = _with_video(outlets, monkeypatch, ffmpeg="/nonexistent/ffmpeg")
    off = replace(s, outlets=replace(s.outlets, video=replace(s.outlets.video, enabled=False)))
    rows = run_doctor(off)
    assert rows and not [r for r in rows if r["渠道"] == VIDEO or "ffmpeg" in r["检查"]]
    monkeypatch.setenv("PRESSROOM_VIDEO", "off")
    assert not [r for r in run_doctor(outlets.configure({**API_CHANNELS, "video": "outbox"})) if r["渠道"] == VIDEO]


def test_the_doctor_command_prints_the_setting_to_fix_and_exits_1(outlets, monkeypatch, tmp_path):
    _with_video(outlets, monkeypatch)
    path = outlets.root / "pressroom.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[outlets.video]\n", f'[outlets.video]\nffmpeg = "{tmp_path}/nope/ffmpeg"\n', 1),
                    encoding="utf-8")
    env = {**os.environ, "COLUMNS": "400", "PRESSROOM_CONFIG": str(path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", "from pressroom.cli import app; app()", "doctor"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if "找不到 ffmpeg" in ln)
    assert "微视频" in line and f"[outlets.video] ffmpeg = {tmp_path}/nope/ffmpeg" in line
    assert "bash scripts/system-deps.sh" in line
