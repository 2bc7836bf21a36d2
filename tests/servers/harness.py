"""Fixtures for transport tests: the four outlet doubles running, settings pointing every API channel at
them (a copy of the project's pressroom.toml plus ``[transport.*]``), fake credentials in the environment,
and ``publish`` — the flow's own ``deliver_one`` with the flow's retry loop, so lookups before re-sending
happen exactly as in production.

Import the fixture into a test module: ``from tests.servers.harness import outlets  # noqa: F401``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

from tests.servers.cms import CMSServer
from tests.servers.smtp import SMTPServer
from tests.servers.wechat import WeChatServer
from tests.servers.weibo import WeiboServer

# Distinctive fake credentials: the secrets test greps for them everywhere.
CREDENTIALS = {
    "PRESSROOM_WECHAT_APPID": "wx5ec1e7a9pp1d0001",
    "PRESSROOM_WECHAT_SECRET": "wechat-SECRET-7f3a9c1e5b",
    "PRESSROOM_WEIBO_TOKEN": "2.00weiboTOKEN8d41bb9e",
    "PRESSROOM_SMTP_PASSWORD": "smtp-PASS-c0ffee42",
    "PRESSROOM_CMS_TOKEN": "cms-TOKEN-9e8d7c6b5a",
}
RIP = "203.0.113.7"
DESKS = {"newspaper": ["copy@hnrb.example.cn", "copy@hhzb.example.cn"], "tv": ["news@hntv.example.cn"]}
API_CHANNELS = {"wechat": "wechat", "weibo": "weibo", "portal": "cms", "newspaper": "smtp", "tv": "smtp"}


def transport_toml(o: "Outlets", **overrides) -> str:
    """The ``[transport.*]`` sections for the running doubles; ``overrides`` replace single keys,
    e.g. ``wechat_poll_delays="[0]"``."""
    values = {
        "wechat_base_url": f'"{o.wechat.url}"', "wechat_timeout": "0.5", "wechat_connect_timeout": "0.5",
        "wechat_poll_delays": "[0, 0.01, 0.02, 0.05, 0.1]", "wechat_push": '"never"',
        "weibo_base_url": f'"{o.weibo.url}"', "weibo_rip": f'"{RIP}"', "weibo_timeout": "0.5",
        "smtp_host": '"127.0.0.1"', "smtp_port": str(o.smtp.port), "smtp_starttls": "true",
        "smtp_username": f'"{o.smtp.username}"', "smtp_from": '"淮南市政府新闻办 <pressroom@huainan.example.cn>"',
        "smtp_cafile": f'"{o.smtp.cert}"', "smtp_timeout": "2",
        "cms_base_url": f'"{o.cms.url}"', "cms_timeout": "0.5",
    }
    values.update({k: v for k, v in overrides.items()})
    out = []
    for outlet in ("wechat", "weibo", "smtp", "cms"):
        out.append(f"\n[transport.{outlet}]")
        out += [f"{k[len(outlet) + 1:]} = {v}" for k, v in values.items() if k.startswith(outlet + "_")]
    out.append("\n[transport.smtp.desks]")
    out += [f"{ch} = [{', '.join(repr(a).replace(chr(39), chr(34)) for a in addrs)}]" for ch, addrs in DESKS.items()]
    return "\n".join(out) + "\n"


def settings_text(root: Path, o: "Outlets", transports: dict[str, str], **overrides) -> str:
    text = (ROOT / "pressroom.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^ledger = .*$', f'ledger = "sqlite:///{root}/ledger.db"', text)
    text = re.sub(r'(?m)^content = .*$', f'content = "{ROOT / "content"}"', text)
    text = re.sub(r'(?m)^outbox = .*$', f'outbox = "{root / "outbox"}"', text)
    for ch, name in transports.items():
        text = re.sub(rf'(?m)^{ch} = ".*"$', f'{ch} = "{name}"', text)
    text = re.sub(r'(?m)^levels = .*$', "levels = []", text)
    return text + transport_toml(o, **overrides)


@dataclass
class Outlets:
    root: Path
    wechat: WeChatServer
    weibo: WeiboServer
    cms: CMSServer
    smtp: SMTPServer
    settings: object = None

    def configure(self, transports: dict[str, str] | None = None, **overrides):
        """(Re)write the settings file and load it; returns the Settings."""
        from pressroom.settings import load_settings

        path = self.root / "pressroom.toml"
        path.write_text(settings_text(self.root, self, transports or API_CHANNELS, **overrides), encoding="utf-8")
        self.settings = load_settings(path)
        return self.settings

    def ledger(self):
        from pressroom.delivery.ledger import Ledger

        return Ledger(self.settings.ledger_url)

    def transport(self, channel: str):
        from pressroom.transports import transport_for

        return transport_for(self.settings, channel)

    def row(self, release_id: str, channel: str, version: str):
        return self.ledger().get(release_id, channel, version)


@pytest.fixture
def outlets(tmp_path, monkeypatch):
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    wechat = WeChatServer(appid=CREDENTIALS["PRESSROOM_WECHAT_APPID"], secret=CREDENTIALS["PRESSROOM_WECHAT_SECRET"])
    weibo = WeiboServer(token=CREDENTIALS["PRESSROOM_WEIBO_TOKEN"])
    cms = CMSServer(token=CREDENTIALS["PRESSROOM_CMS_TOKEN"])
    smtp = SMTPServer(tmp_path / "tls", password=CREDENTIALS["PRESSROOM_SMTP_PASSWORD"])
    for s in (wechat, weibo, cms, smtp):
        s.start()
    o = Outlets(tmp_path, wechat, weibo, cms, smtp)
    monkeypatch.setenv("PRESSROOM_CONFIG", str(tmp_path / "pressroom.toml"))
    o.configure()
    try:
        yield o
    finally:
        for s in (wechat, weibo, cms, smtp):
            s.stop()


TOKEN = "testhost:1:transport-tests"


def publish(o: Outlets, release, rendition, channel: str | None = None, attempts: int = 4, token: str = TOKEN):
    """Deliver as the flows do (the delivery engine), retrying a TransientError like Prefect's task
    retries would. Returns the final Outcome."""
    from pressroom.delivery import engine
    from pressroom.transports import TransientError

    job = engine.Job(release.id, channel or rendition.channel, release.version, publish_at=release.publish_at)
    logger = logging.getLogger("tests.publish")
    for _ in range(attempts):
        try:
            return engine.deliver(job, rendition, o.settings, token, logger)
        except TransientError:
            continue
    return engine.outcome(o.ledger(), job)
