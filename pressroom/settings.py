"""Settings: one TOML file (``pressroom.toml``) names the city, its outlets and where things go.

Environment variables override the paths so tests and workers can point elsewhere:
``PRESSROOM_CONFIG`` (the file), ``PRESSROOM_CONTENT``, ``PRESSROOM_OUTBOX``, ``PRESSROOM_LEDGER_URL``.
Secrets are never read from here (see ``pressroom.secrets``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"


@dataclass(frozen=True)
class Settings:
    root: Path
    city: Mapping[str, Any]
    outlets: Mapping[str, Mapping[str, Any]]
    transports: Mapping[str, str]
    content_dir: Path
    outbox_dir: Path
    ledger_url: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.city.get("timezone", "Asia/Shanghai"))

    def outlet(self, channel: str) -> Mapping[str, Any]:
        return self.outlets.get(channel, MappingProxyType({}))


def _freeze(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({k: _freeze(v) if isinstance(v, dict) else v for k, v in d.items()})


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    path = Path(path or os.environ.get("PRESSROOM_CONFIG") or PROJECT_ROOT / "pressroom.toml").resolve()
    with open(path, "rb") as f:
        data = tomllib.load(f)
    base = path.parent
    paths = data.get("paths", {})

    def resolve(env: str, key: str, default: str) -> Path:
        value = os.environ.get(env) or paths.get(key, default)
        p = Path(value)
        return p if p.is_absolute() else (base / p).resolve()

    ledger_url = os.environ.get("PRESSROOM_LEDGER_URL") or paths.get("ledger", "sqlite:///var/ledger.db")
    if ledger_url.startswith("sqlite:///") and not ledger_url.startswith("sqlite:////"):
        # A relative SQLite path is relative to the settings file, not the working directory.
        ledger_url = "sqlite:///" + str((base / ledger_url[len("sqlite:///"):]).resolve())
    known = {"city", "paths", "outlets", "transports"}
    return Settings(
        root=base,
        city=_freeze(data.get("city", {})),
        outlets=_freeze(data.get("outlets", {})),
        # channel -> transport; without the table every registered channel goes to the outbox
        # (``channels.configured``).
        transports=_freeze(data.get("transports", {})),
        content_dir=resolve("PRESSROOM_CONTENT", "content", "content"),
        outbox_dir=resolve("PRESSROOM_OUTBOX", "outbox", "outbox"),
        ledger_url=ledger_url,
        extra=_freeze({k: v for k, v in data.items() if k not in known}),
    )
