"""The README's "Adding an outlet" holds: one module, one template folder, one registry entry, and the
new outlet is published, corrected and withdrawn through the delivery engine like the built-in ones."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import pytest

import channels
from channels import base
from channels.corrections import Correction, Withdrawal
from pressroom.delivery import engine
from pressroom.delivery.ledger import Ledger, worker_token
from pressroom.settings import load_settings
from tests.conftest import ROOT

MODULE = '''
"""A 公告栏 (notice board) outlet: a plain-text notice per release."""
from dataclasses import replace

from channels.base import Channel, Rendition, render_template
from channels.corrections import CORRECTED_MARK, manual_withdrawal

CHANNEL = Channel(name="noticeboard", label="社区公告栏", short="公告栏")


def render(release, ctx):
    text = render_template("noticeboard/notice.txt", title=release.title, url=ctx.url_for(release.id))
    return Rendition(channel="noticeboard", release_id=release.id, version=release.version, title=release.title,
                     files={f"{release.id}.txt": text.encode("utf-8")})


def correct(release, ctx, base, c, earlier, old):
    data = (CORRECTED_MARK + c.note + "\\n").encode("utf-8") + base.files[f"{release.id}.txt"]
    return replace(base, files={f"{release.id}.txt": data})


def withdraw(release_id, ctx, w):
    return manual_withdrawal("noticeboard", CHANNEL.label, release_id, ctx, w)
'''


@pytest.fixture
def noticeboard(tmp_path, monkeypatch):
    pkg = tmp_path / "outlets"
    pkg.mkdir()
    (pkg / "noticeboard.py").write_text(MODULE, encoding="utf-8")  # one module
    templates = tmp_path / "templates" / "noticeboard"
    templates.mkdir(parents=True)
    (templates / "notice.txt").write_text("【公告】{{ title }}\n详见：{{ url }}\n", encoding="utf-8")  # one template folder
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(channels, "OUTLETS", [*channels.OUTLETS, "outlets.noticeboard"])  # one registry entry
    monkeypatch.setattr(base, "TEMPLATE_DIRS", [*base.TEMPLATE_DIRS, tmp_path / "templates"])
    channels.reload()
    base.template_env.cache_clear()
    config = tmp_path / "pressroom.toml"
    config.write_text((ROOT / "pressroom.toml").read_text(encoding="utf-8") + '\n', encoding="utf-8")
    text = config.read_text(encoding="utf-8").replace('h5 = "outbox"\n', 'h5 = "outbox"\nnoticeboard = "outbox"\n', 1)
    config.write_text(text.replace('content = "content"', f'content = "{ROOT / "content"}"'), encoding="utf-8")
    monkeypatch.setenv("PRESSROOM_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("PRESSROOM_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    yield load_settings(config)
    channels.reload()
    base.template_env.cache_clear()
    sys.modules.pop("outlets.noticeboard", None)
    sys.modules.pop("outlets", None)


def test_a_new_outlet_is_published_corrected_and_withdrawn_through_the_engine(noticeboard, samples):
    settings = noticeboard
    assert "noticeboard" in channels.configured(settings)
    assert channels.get("noticeboard").short == "公告栏"
    release = samples["work-report-2026-q3"]
    ctx = channels.context_for(release, samples, settings)
    token = worker_token()
    ledger = Ledger(settings.ledger_url)

    first = channels.render("noticeboard", release, ctx)
    o = engine.deliver(engine.Job(release.id, "noticeboard", release.version), first, settings, token)
    assert o.state == "published"
    out = settings.outbox_dir / "noticeboard" / release.id / f"{release.id}.txt"
    assert out.read_text(encoding="utf-8").startswith(f"【公告】{release.title}")

    at = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
    c = Correction(at, release.version, "本文原稿中“一”有误，现更正为“二”。")
    fixed = channels.correct("noticeboard", release, ctx, first, c, [], None)
    o = engine.deliver(engine.Job(release.id, "noticeboard", "v2"), fixed, settings, token)
    assert o.state == "published"
    assert out.read_text(encoding="utf-8").startswith("【更正】本文原稿中“一”有误")

    w = Withdrawal(at, "v2", "内容有误", "", release.title)
    gone = channels.withdraw("noticeboard", release.id, ctx, w)
    o = engine.deliver(engine.Job(release.id, "noticeboard", gone.version), gone, settings, token)
    assert o.state == "published"
    notice = settings.outbox_dir / "noticeboard" / release.id / "noticeboard-withdrawn.txt"
    assert "社区公告栏" in notice.read_text(encoding="utf-8")
    assert [d.state for d in ledger.rows(release.id)] == ["published"] * 3


def test_an_unknown_channel_is_a_clear_error_not_a_fallback(settings):
    with pytest.raises(channels.UnknownChannel) as e:
        channels.adapter("telegram")
    assert "“telegram”不是已知的发布渠道" in str(e.value) and "portal" in str(e.value)


def test_a_module_that_breaks_the_contract_is_refused(tmp_path, monkeypatch):
    (tmp_path / "halfdone.py").write_text("def render(release, ctx):\n    return None\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(channels, "OUTLETS", [*channels.OUTLETS, "halfdone"])
    channels.reload()
    try:
        with pytest.raises(TypeError, match="halfdone lacks CHANNEL, correct, withdraw"):
            channels.names()
    finally:
        monkeypatch.undo()
        channels.reload()
        sys.modules.pop("halfdone", None)
