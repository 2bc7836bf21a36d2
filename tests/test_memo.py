"""Validation kept between commands (pressroom.releases.memo): the verdict and every rendition are the same
with the cache as without it, a release edited is checked again and only it, and a changed template, font,
setting or code module is a miss, never a stale rendition. A release that fails stays out of publishing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from channels import base
from tests.conftest import ROOT, private_copy
from tests.test_waivers import REASON, board  # noqa: F401  (board is a fixture)

SAMPLE = "water-price-rumor"
OTHER = "work-report-2026-q3"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A copy of the content and settings, with its own ledger and cache folders."""
    monkeypatch.setenv("PRESSROOM_CONFIG", str(private_copy(tmp_path)))
    monkeypatch.delenv("PRESSROOM_CACHE", raising=False)
    return tmp_path


def _settings():
    from pressroom.settings import load_settings

    return load_settings()


def _validate(cache: bool, **kwargs):
    from datetime import datetime, timezone

    from pressroom.releases.catalog import validate

    # an injected clock: no in-process memo, so each call checks (or reads the cache) for real
    return validate(_settings(), now=datetime.now(timezone.utc), cache=cache, **kwargs)


def _same(a, b) -> None:
    """Two catalogs say the same: problems, warnings, valid releases, every rendition's bytes, the audits."""
    assert a.problems == b.problems
    assert a.warnings == b.warnings
    assert sorted(a.releases) == sorted(b.releases)
    assert sorted(a.renditions) == sorted(b.renditions)
    for k in a.renditions:
        x, y = a.renditions[k], b.renditions[k]
        assert (x.files, x.payload, x.warnings, x.url, x.title) == (y.files, y.payload, y.warnings, y.url, y.title), k
    assert sorted(a.audits) == sorted(b.audits)
    for rid in a.audits:
        assert a.audits[rid] == b.audits[rid], rid


@pytest.fixture
def checks(monkeypatch):
    """The releases actually checked (rendered), not answered from the cache."""
    from pressroom.releases import catalog

    seen: list[str] = []
    real = catalog._check

    def counted(r, cat, render, draft):
        seen.append(r.id)
        return real(r, cat, render, draft)

    monkeypatch.setattr(catalog, "_check", counted)
    return seen


def _break_copy(workspace, rid: str) -> None:
    """An old department name the 错敏 gate blocks (content/sensitive.yaml)."""
    page = workspace / "content" / "releases" / rid / "release.md"
    page.write_text(page.read_text(encoding="utf-8").replace("。", "。市卫计委表示支持。", 1), encoding="utf-8")


def test_the_verdict_and_every_rendition_are_the_same_with_the_cache_cold_warm_and_without(workspace, checks):
    _break_copy(workspace, OTHER)  # one release that fails, as a draft
    fresh = _validate(cache=False)
    assert OTHER not in fresh.releases and any("市卫计委" in p.message for p in fresh.problems[OTHER])
    checks.clear()
    cold = _validate(cache=True)
    assert sorted(checks) == sorted([*fresh.releases, OTHER])  # everything checked once, the draft too
    checks.clear()
    warm = _validate(cache=True)
    assert checks == []  # nothing checked again: every verdict and rendition from the cache
    assert list((workspace / "var" / "cache" / "validation").glob("*.made"))
    _same(fresh, cold)
    _same(fresh, warm)
    assert OTHER not in warm.releases  # the failing release stays out of what can be published


def test_an_edited_release_is_the_only_one_checked_again(workspace, checks):
    _validate(cache=True)
    page = workspace / "content" / "releases" / SAMPLE / "release.md"
    page.write_text(page.read_text(encoding="utf-8").replace("。", "。 ", 1), encoding="utf-8")
    checks.clear()
    edited = _validate(cache=True)
    assert checks == [SAMPLE]
    _same(_validate(cache=False), edited)
    assert edited.renditions[(SAMPLE, "portal")].version == edited.releases[SAMPLE].version


def test_a_broken_cache_file_is_a_miss_and_the_verdict_stays_the_same(workspace, checks):
    _validate(cache=True)
    for p in (workspace / "var" / "cache" / "validation").iterdir():
        p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])  # half-written, as after a full disk
    checks.clear()
    again = _validate(cache=True)
    assert len(checks) == len(again.releases)
    _same(_validate(cache=False), again)


def test_a_changed_setting_is_a_miss(workspace, checks):
    first = _validate(cache=True, only=SAMPLE)
    config = workspace / "pressroom.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('column = "新闻发布"\nstation',
                                                                 'column = "权威发布"\nstation', 1), encoding="utf-8")
    checks.clear()
    second = _validate(cache=True, only=SAMPLE)
    assert checks == [SAMPLE]
    tv = second.renditions[(SAMPLE, "tv")].files
    assert tv != first.renditions[(SAMPLE, "tv")].files and "“权威发布”栏目" in tv[f"{SAMPLE}.txt"].decode("utf-8")
    _same(_validate(cache=False, only=SAMPLE), second)


def test_a_changed_template_is_a_miss(workspace, checks, monkeypatch, tmp_path):
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    monkeypatch.setattr(base, "TEMPLATE_DIRS", [tmp_path / "templates"])
    base.template_env.cache_clear()
    try:
        _validate(cache=True, only=SAMPLE)
        script = tmp_path / "templates" / "tv" / "script.txt"
        script.write_text(script.read_text(encoding="utf-8").replace("电视新闻稿", "电视新闻稿件", 1), encoding="utf-8")
        base.template_env.cache_clear()
        checks.clear()
        second = _validate(cache=True, only=SAMPLE)
        assert checks == [SAMPLE]
        assert "电视新闻稿件" in second.renditions[(SAMPLE, "tv")].files[f"{SAMPLE}.txt"].decode("utf-8")
        _same(_validate(cache=False, only=SAMPLE), second)
    finally:
        base.template_env.cache_clear()


def test_a_changed_font_is_a_miss(workspace, checks, monkeypatch, tmp_path):
    """A font replaced, as a package upgrade does, even by a file of the same size and time, is a miss."""
    from pressroom.text import linebreak

    installed = dict(linebreak.FONT_FILES)
    fonts = {bold: tmp_path / path.name for bold, path in installed.items()}
    for bold, path in installed.items():
        shutil.copy2(path, fonts[bold])
    monkeypatch.setattr(linebreak, "FONT_FILES", fonts)
    _validate(cache=True, only=SAMPLE)
    checks.clear()
    _validate(cache=True, only=SAMPLE)
    assert checks == []
    for bold, path in installed.items():
        fonts[bold].unlink()
        shutil.copy2(path, fonts[bold])  # same bytes, size and mtime: a new file all the same
    checks.clear()
    _validate(cache=True, only=SAMPLE)
    assert checks == [SAMPLE]


def test_a_changed_outlet_module_is_a_miss(workspace, checks, monkeypatch, tmp_path):
    """Code: an outlet registered from outside channels/ (README "Adding an outlet") and edited."""
    import channels
    from tests.test_waivers import MODULE

    pkg = tmp_path / "outlets"
    pkg.mkdir()
    module = pkg / "noticeboard.py"
    module.write_text(MODULE, encoding="utf-8")
    (tmp_path / "templates" / "noticeboard").mkdir(parents=True)
    (tmp_path / "templates" / "noticeboard" / "notice.txt").write_text("【公告】{{ title }}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(channels, "OUTLETS", [*channels.OUTLETS, "outlets.noticeboard"])
    monkeypatch.setattr(base, "TEMPLATE_DIRS", [*base.TEMPLATE_DIRS, tmp_path / "templates"])
    config = workspace / "pressroom.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('h5 = "outbox"\n', 'h5 = "outbox"\nnoticeboard = "outbox"\n', 1),
                      encoding="utf-8")
    channels.reload()
    base.template_env.cache_clear()
    try:
        first = _validate(cache=True, only=SAMPLE)
        assert (SAMPLE, "noticeboard") in first.renditions
        module.write_text(MODULE.replace('text.encode("utf-8")', '(text + "（完）").encode("utf-8")'), encoding="utf-8")
        sys.modules.pop("outlets.noticeboard", None)
        channels.reload()
        checks.clear()
        second = _validate(cache=True, only=SAMPLE)
        assert checks == [SAMPLE]
        assert second.renditions[(SAMPLE, "noticeboard")].files[f"{SAMPLE}.txt"].decode("utf-8").endswith("（完）")
    finally:
        channels.reload()
        base.template_env.cache_clear()
        sys.modules.pop("outlets.noticeboard", None)
        sys.modules.pop("outlets", None)


def test_a_waiver_added_after_the_verdict_was_kept_counts_at_once(board, checks):  # noqa: F811
    """The ledger's waivers are applied to the kept verdict on every run, never stored with it."""
    from pressroom.delivery import waivers
    from pressroom.delivery.ledger import Ledger
    from pressroom.releases import audit, catalog

    settings = _settings()
    blocked = waivers.validate(settings, cache=True, only=SAMPLE)
    assert SAMPLE not in blocked.releases
    (f,) = audit.findings(blocked.audits[SAMPLE])
    Ledger(settings.ledger_url).add_waiver(SAMPLE, blocked.audits[SAMPLE].version, f.id, f.channel,
                                           f.describe(), REASON, "王审稿")
    catalog._MEMO.clear()
    checks.clear()
    passed = waivers.validate(settings, cache=True, only=SAMPLE)
    assert SAMPLE in passed.releases and checks == []  # the kept verdict, the new waiver applied
    catalog._MEMO.clear()
    _same(waivers.validate(settings, cache=False, only=SAMPLE), passed)


def _cli(workspace, *args, cache: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PRESSROOM_CONFIG": str(workspace / "pressroom.toml")}
    if cache is not None:
        env["PRESSROOM_CACHE"] = cache
    return subprocess.run([sys.executable, "-c", "import sys; from pressroom.cli import app; sys.argv[0] = "
                           "'pressroom'; sys.exit(app())", *args], cwd=workspace, env=env, capture_output=True,
                          text=True, timeout=600)


def test_validate_on_the_command_line_says_the_same_cold_warm_and_without_the_cache(workspace):
    """Whole processes, the releases not kept checked in two processes; a failing release listed each time."""
    _break_copy(workspace, OTHER)
    off = _cli(workspace, "validate", cache="off")
    cold, warm = _cli(workspace, "validate"), _cli(workspace, "validate")
    assert off.returncode == cold.returncode == warm.returncode == 1
    assert "市卫计委" in off.stderr and "任何渠道都不会发布它们" in off.stderr
    assert (cold.stdout, cold.stderr) == (warm.stdout, warm.stderr) == (off.stdout, off.stderr)
    assert len(list((workspace / "var" / "cache" / "validation").glob("*.verdict"))) == 8
    refused = _cli(workspace, "preview", OTHER)  # what an editor previews before publishing: refused too
    assert refused.returncode == 1 and "市卫计委" in refused.stderr


def _tree(folder) -> dict:
    """Every file of a preview folder; the page's 生成于 time (the minute it was made) left out."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == "index.html":
                data = re.sub(rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", b"TIME", data)
            out[p.relative_to(folder).as_posix()] = data
    return out


def test_the_approval_page_is_the_same_from_the_cache(workspace):
    """pressroom preview of a bundle: cold, warm (views and renditions from the cache) and without it."""
    pages = {}
    for name, cache in (("off", "off"), ("cold", None), ("warm", None)):
        done = _cli(workspace, "preview", "notice-2017-78", "--out", str(workspace / name), cache=cache)
        assert done.returncode == 0, done.stderr
        pages[name] = _tree(workspace / name)
    assert list((workspace / "var" / "cache" / "validation").glob("*.views"))
    assert "notice-2017-78/wechat/wechat-article.html" in pages["off"]  # the WeChat channel's view
    assert pages["cold"] == pages["off"] and pages["warm"] == pages["off"]
