"""Settings: one TOML file (``pressroom.toml``) names the city, its outlets and where things go.

Every table of the file is a frozen dataclass below, and every default lives here, in the field that
declares it: code reads ``settings.approval.timeout_hours`` or ``settings.outlet("portal")["base_url"]``
and never supplies a default of its own. ``load_settings`` checks the whole file first: an unknown table
or key, or a value of the wrong type, is reported (every problem at once, in Chinese, naming the file and
the key) by raising ``SettingsError``.

Environment variables override the paths so tests and workers can point elsewhere:
``PRESSROOM_CONFIG`` (the file), ``PRESSROOM_CONTENT``, ``PRESSROOM_OUTBOX``, ``PRESSROOM_LEDGER_URL``,
``PRESSROOM_CACHE`` (a folder, or ``off``).
Secrets are never read from here (see ``pressroom.secrets``).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping
from zoneinfo import ZoneInfo

from pressroom.errors import Problem, ValidationFailed

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"


# Credentials are never read from this file; these are the environment variables that hold them.
# (outlet, key) -> environment variable. Documented in README "Connecting real outlets".
ENV_NAMES: Mapping[tuple[str, str], str] = {
    ("wechat", "appid"): "PRESSROOM_WECHAT_APPID",
    ("wechat", "secret"): "PRESSROOM_WECHAT_SECRET",
    ("weibo", "token"): "PRESSROOM_WEIBO_TOKEN",
    ("smtp", "password"): "PRESSROOM_SMTP_PASSWORD",
    ("cms", "token"): "PRESSROOM_CMS_TOKEN",
}
# Not secret, but allowed in settings as a fallback (an AppID is printed in the WeChat console).
PUBLIC_KEYS = {("wechat", "appid")}


class Table(Mapping):
    """A settings table: a frozen dataclass whose fields are the table's keys, with their defaults.
    It also reads like the TOML table it came from (``table["column"]``, ``table.get("column")``).
    Lists are kept as tuples and whole numbers given for a ``float`` field as floats."""

    def __post_init__(self) -> None:
        for name, hint in _hints(type(self)).items():
            value = getattr(self, name)
            if hint is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
            elif hint == tuple[float, ...] and isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(float(x) for x in value))
            elif hint == tuple[str, ...] and isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    def __getitem__(self, key: str) -> Any:
        if key in _hints(type(self)):
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(f.name for f in fields(self))

    def __len__(self) -> int:
        return len(fields(self))


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = {f.name: typing.get_type_hints(cls)[f.name] for f in fields(cls)}
    return _HINTS[cls]


# ---------------------------------------------------------------------------------------------
# The tables of pressroom.toml, with every default


@dataclass(frozen=True)
class City(Table):
    name: str = ""
    press_office: str = ""
    timezone: str = "Asia/Shanghai"
    default_venue: str = ""  # a release without ``venue`` is held here


@dataclass(frozen=True)
class Website(Table):
    """``[site]``: what a government website states about itself on every page (国办发〔2017〕47号: the page
    meta tags and the footer). An empty value leaves its meta tag or footer line out; never fill in a number
    the site has not been given (a 网站标识码 or filing number copied from another city is worse than none)."""
    sponsor: str = ""  # 主办
    organizer: str = ""  # 承办
    domain: str = ""  # SiteDomain (empty: the host of [outlets.portal] base_url)
    id_code: str = ""  # 网站标识码 (SiteIDCode), given by the State Council's 政府网站信息报送 system
    icp: str = ""  # ICP备案号, e.g. 皖ICP备…号
    police: str = ""  # 公安机关备案号, e.g. 皖公网安备 …号


@dataclass(frozen=True)
class Paths(Table):
    """Relative to the settings file; overridden by PRESSROOM_CONTENT, PRESSROOM_OUTBOX, PRESSROOM_LEDGER_URL,
    PRESSROOM_CACHE."""
    content: str = "content"
    outbox: str = "outbox"
    ledger: str = "sqlite:///var/ledger.db"  # any SQLAlchemy URL
    # What validation made, kept for the next command (pressroom.releases.memo); "" or "off": nothing kept
    cache: str = "var/cache"


@dataclass(frozen=True)
class NewspaperOutlet(Table):
    papers: tuple[str, ...] = ()
    column: str = "权威发布"


@dataclass(frozen=True)
class TVOutlet(Table):
    programme: str = ""
    channel: str = ""
    column: str = "新闻发布"
    station: str = ""
    chars_per_minute: float = 270  # a city station's news pace (radio news reads 250–270, CCTV 290–300)
    slot_seconds: float = 90  # a 消息 with pictures runs 60–90 s


@dataclass(frozen=True)
class PortalOutlet(Table):
    sites: tuple[str, ...] = ()  # none: the city's name (Settings.site_names)
    column: str = "新闻发布"
    base_url: str = "https://example.gov.cn/xwfb/"


@dataclass(frozen=True)
class PressHallOutlet(Table):
    name: str = ""  # empty: "<city>新闻发布厅" (Settings.press_hall_name)
    base_url: str = ""  # empty: a folder under the portal's base_url


@dataclass(frozen=True)
class WeChatOutlet(Table):
    account: str = ""
    author: str = ""  # empty: the account


WEIBO_LENGTHS = ("plain", "weighted")


@dataclass(frozen=True)
class WeiboOutlet(Table):
    account: str = ""
    rip: str = ""  # also read from [transport.weibo] rip
    # How a post's 140 汉字 are counted (docs/outlets.md#weibo): "plain", every character one and URLs at full
    # length (what "不超过140个汉字" supports: never refused); "weighted", Sina's web-client count (ASCII half,
    # long URLs as a t.cn link), only where the office has confirmed its platform counts that way.
    length: str = "plain"


@dataclass(frozen=True)
class VideoOutlet(Table):
    """The micro-video (微视频): a vertical MP4 of still cards with burned-in captions (docs/outlets.md#micro-video)."""
    enabled: bool = True  # on for every release; false (or PRESSROOM_VIDEO=off) leaves the channel out
    min_seconds: float = 20  # the video's length is kept within these (platforms' short-video range)
    max_seconds: float = 60
    fps: int = 25  # 25 or 30
    caption_chars_per_second: float = 4.5  # how fast a viewer reads burned-in captions (ours)
    ffmpeg: str = "ffmpeg"  # the encoder (Debian's ffmpeg; scripts/system-deps.sh installs it)


@dataclass(frozen=True)
class Outlets(Table):
    """``[outlets.<channel>]``: the names each outlet prints (papers, programme, sites, accounts)."""
    newspaper: NewspaperOutlet = field(default_factory=NewspaperOutlet)
    tv: TVOutlet = field(default_factory=TVOutlet)
    portal: PortalOutlet = field(default_factory=PortalOutlet)
    press_hall: PressHallOutlet = field(default_factory=PressHallOutlet)
    wechat: WeChatOutlet = field(default_factory=WeChatOutlet)
    weibo: WeiboOutlet = field(default_factory=WeiboOutlet)
    video: VideoOutlet = field(default_factory=VideoOutlet)


@dataclass(frozen=True)
class Approval(Table):
    """The approval gate (三审)."""
    levels: tuple[str, ...] = ()  # in order, at most three; none: no release waits for a sign-off
    kinds: tuple[str, ...] = ()  # kinds that always need approval
    important: bool = True  # and any release marked important
    timeout_hours: float = 72  # how long a paused run waits (Prefect's default pause is 1 h)
    remind_hours: float = 4  # a sign-off waiting this long reminds that level's reviewers (`pressroom serve`)
    # Levels whose reviewer must belong to the release's own department (content/reviewers.yaml).
    own_department: tuple[str, ...] = ("部门负责人",)
    # Each reviewer's TOTP secret (RFC 6238): a file only the service account reads (0600), relative to
    # the settings file, never under content/.
    secrets_file: str = "var/reviewer-secrets.json"
    lockout_failures: int = 5  # this many wrong codes in a row lock that reviewer …
    lockout_minutes: float = 5  # … for this long


@dataclass(frozen=True)
class Corrections(Table):
    wechat_delete_old: bool = False  # delete the old WeChat article once the 【更正】 one is out


@dataclass(frozen=True)
class Publish(Table):
    retry_delays: tuple[float, ...] = (5, 30, 120)  # seconds between delivery attempts (PRESSROOM_RETRY_DELAYS)
    preflight_minutes: float = 30  # the pre-flight check of a scheduled release runs this long before


@dataclass(frozen=True)
class Notify(Table):
    """Who hears when a policy bundle or an emergency is published or fails (mailed through [transport.smtp])."""
    bundle: tuple[str, ...] = ()
    emergency: tuple[str, ...] = ()
    inspection: tuple[str, ...] = ()  # the website watchdog's alerts (a column about to go stale …)
    # The press office: a publish run that failed or crashed, an emergency with nothing out 5 h after the
    # event, a sign-off waiting too long (the automations `pressroom serve` creates).
    press_office: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compliance(Table):
    """The “2·1+N” report."""
    opinion_hours: float = 48  # an opinion case answered within this (the notice's 回应社会关切 deadline)
    interpretation_grace_minutes: float = 60  # document and interpretation "at the same time": within this


# [rate_limits]: per outlet API, false (no limit), a number (per second) or a table. What the platforms
# publish (shared/docs/channel-facts.md): WeChat answers 45011 past a per-minute frequency; Weibo allows
# 30 posts an hour per user and blacklists repeated excess.
DEFAULT_RATE_LIMITS: Mapping[str, Any] = MappingProxyType({
    "wechat": MappingProxyType({"per_second": 5, "burst": 10}),
    "weibo": MappingProxyType({"per_hour": 30, "burst": 10}),
})
RATE_LIMIT_KEYS = {"per_second": float, "per_minute": float, "per_hour": float, "burst": int}


class ChannelMap:
    """A table whose keys are channels, each value of one type (``[transports]``, ``[transport.smtp.desks]``)."""

    def __init__(self, value: Any):
        self.value = value


# [transport.<name>]: kept as mappings for the transports (their defaults are theirs), checked here.
TRANSPORT_KEYS: Mapping[str, Mapping[str, Any]] = {
    "wechat": {"base_url": str, "appid": str, "appid_block": str, "secret_block": str, "timeout": float,
               "connect_timeout": float, "poll_delays": tuple[float, ...], "push": str, "lookup_pages": int},
    "weibo": {"base_url": str, "rip": str, "uid": str | int, "timeout": float, "connect_timeout": float,
              "lookup_count": int, "token_block": str},
    "smtp": {"host": str, "port": int, "starttls": bool, "ssl": bool, "username": str, "password_block": str,
             "from": str, "cafile": str, "timeout": float, "message_id_domain": str,
             "desks": ChannelMap(tuple[str, ...])},
    "cms": {"base_url": str, "timeout": float, "connect_timeout": float, "token_block": str},
}
SECRET_KEYS = ("secret", "token", "password")  # never in the file: environment or a Prefect Secret block

# The tables of the file, in the order the README documents them.
SECTIONS: Mapping[str, Any] = {
    "city": City, "site": Website, "paths": Paths, "outlets": Outlets, "transports": ChannelMap(str), "transport": TRANSPORT_KEYS,
    "approval": Approval, "corrections": Corrections, "publish": Publish, "notify": Notify,
    "rate_limits": DEFAULT_RATE_LIMITS, "compliance": Compliance,
}


def _frozen_empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Settings:
    root: Path
    city: City
    outlets: Mapping[str, Mapping[str, Any]]
    transports: Mapping[str, str]
    content_dir: Path
    outbox_dir: Path
    ledger_url: str
    transport_tables: Mapping[str, Mapping[str, Any]] = field(default_factory=_frozen_empty)
    approval: Approval = field(default_factory=Approval)
    corrections: Corrections = field(default_factory=Corrections)
    publish: Publish = field(default_factory=Publish)
    notify: Notify = field(default_factory=Notify)
    rate_limits: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_RATE_LIMITS)
    compliance: Compliance = field(default_factory=Compliance)
    site: Website = field(default_factory=Website)
    cache_dir: Path | None = None  # ``[paths] cache`` resolved; None: validation keeps nothing between commands

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.city["timezone"])

    def outlet(self, channel: str) -> Mapping[str, Any]:
        """The ``[outlets.<channel>]`` table, every known key present (its default when not configured)."""
        table = self.outlets.get(channel)
        if isinstance(table, Table):
            return table
        cls = _hints(Outlets).get(channel)
        return MappingProxyType({**(cls() if cls else {}), **(table or {})})

    @property
    def reviewer_secrets(self) -> Path:
        """The reviewers' TOTP secrets file (``[approval] secrets_file``, relative to the settings file)."""
        p = Path(self.approval.secrets_file)
        return p if p.is_absolute() else (self.root / p).resolve()

    @property
    def site_names(self) -> tuple[str, ...]:
        """The portal's site names (``[outlets.portal] sites``), else the city's name."""
        return tuple(self.outlet("portal")["sites"]) or (self.city["name"],)

    @property
    def press_hall_name(self) -> str:
        return self.outlet("press_hall")["name"] or f"{self.city['name']}新闻发布厅"


# ---------------------------------------------------------------------------------------------
# Loading and checking


class SettingsError(ValidationFailed):
    """pressroom.toml has problems; every one is listed (file, key path, what is expected)."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path, self.file = path, _display(path)
        super().__init__(problems)

    def __str__(self) -> str:
        return f"{self.file}：{len(self.problems)} 处设置错误\n" + "\n".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class SettingProblem(Problem):
    """``field`` is the key path, e.g. ``[approval] timeout_hours``; the message names it too."""

    def __str__(self) -> str:
        return f"{self.file}：{self.message}" + (f"。{self.fix}" if self.fix else "")


_EXPECTED = {str: "文本（加英文引号）", bool: "布尔值（true 或 false）", int: "整数", float: "数字",
             str | int: "文本或整数", tuple[str, ...]: "文本列表", tuple[float, ...]: "数字列表"}
_EXAMPLES = {str: '"…"', bool: "true", int: "1", float: "1", str | int: '"…"',
             tuple[str, ...]: '["…", "…"]', tuple[float, ...]: "[1, 2]"}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is(v: Any, hint: Any) -> bool:
    if hint is str:
        return isinstance(v, str)
    if hint is bool:
        return isinstance(v, bool)
    if hint is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if hint is float:
        return _number(v)
    if hint == str | int:
        return _is(v, str) or _is(v, int)
    raise TypeError(hint)


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def _describe(v: Any) -> str:
    if isinstance(v, bool):
        return f"布尔值 {_toml(v)}"
    if isinstance(v, (int, float)):
        return f"数字 {_toml(v)}"
    if isinstance(v, str):
        return f"文本“{v}”"
    if isinstance(v, list):
        return "列表"
    if isinstance(v, dict):
        return "表"
    if isinstance(v, (datetime, date, time)):
        return f"日期时间 {v.isoformat()}"
    return type(v).__name__


def _guess(key: str, known) -> str:
    near = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return near[0] if near else ""


class _Checker:
    """Walks the parsed file against SECTIONS, collecting every problem."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, key_path: str, message: str, fix: str = "") -> None:
        self.problems.append(SettingProblem(self.file, key_path, message, fix))

    def unknown(self, where: str, key: str, known) -> None:
        guess = _guess(key, known)
        self.add(f"{where} {key}", f"{where} 中的 {key} 不是已知的设置项" + (f"（是否想写 {guess}？）" if guess else ""),
                 f"{where} 可用的设置项：{'、'.join(known)}" if known else "")

    def unknown_table(self, path: str, known_paths: list[str]) -> None:
        guess = _guess(f"[{path}]", known_paths)
        self.add(f"[{path}]", f"[{path}] 不是已知的设置表" + (f"（是否想写 {guess}？）" if guess else ""),
                 f"可用的设置表：{'、'.join(known_paths)}")

    def wrong_type(self, where: str, key: str, value: Any, hint: Any, default: Any = None, item: int = 0) -> None:
        expected = _EXPECTED[hint]
        actual = f"第 {item} 项是{_describe(value)}" if item else f"现在是{_describe(value)}"
        example = _toml(default) if default not in (None, "", ()) else _EXAMPLES[hint]
        self.add(f"{where} {key}", f"{where} 中的 {key} 应为{expected}，{actual}", f"例如：{key} = {example}")

    def not_a_table(self, where: str, key: str, path: str, value: Any) -> None:
        self.add(f"{where} {key}".strip(), f"{f'{where} 中的 ' if where else ''}{key} 应为设置表 [{path}]，"
                 f"现在是{_describe(value)}", f"请写成 [{path}] 表，其下每行一个设置项")

    # -- values --------------------------------------------------------------------------------

    def value(self, where: str, key: str, value: Any, hint: Any, default: Any = None) -> bool:
        """Whether ``value`` fits ``hint`` (a scalar type or a tuple of one); records a problem if not."""
        if hint in (tuple[str, ...], tuple[float, ...]):
            of = typing.get_args(hint)[0]
            if not isinstance(value, list):
                self.wrong_type(where, key, value, hint, default)
                return False
            bad = next((i for i, x in enumerate(value, 1) if not _is(x, of)), 0)
            if bad:
                self.wrong_type(where, key, value[bad - 1], hint, default, item=bad)
            return not bad
        if not _is(value, hint):
            self.wrong_type(where, key, value, hint, default)
            return False
        return True

    def table(self, cls: type[Table], data: Any, path: str) -> Table:
        """A Table from the TOML table at ``path`` (e.g. ``outlets.tv``); bad keys are left at their default."""
        where = f"[{path}]"
        hints, defaults = _hints(cls), cls()
        values = {}
        for key, value in data.items():
            hint = hints.get(key)
            if hint is None:
                subtables = [f"[{path}.{k}]" for k, h in hints.items() if _is_table(h)]
                if isinstance(value, dict) and subtables:
                    self.unknown_table(f"{path}.{key}", subtables)
                else:
                    self.unknown(where, key, list(hints))
            elif _is_table(hint):
                if isinstance(value, dict):
                    values[key] = self.table(hint, value, f"{path}.{key}")
                else:
                    self.not_a_table(where, key, f"{path}.{key}", value)
            elif self.value(where, key, value, hint, defaults[key]):
                values[key] = value
        return cls(**values)

    def channel_map(self, spec: ChannelMap, data: Mapping, path: str) -> Mapping[str, Any]:
        where = f"[{path}]"
        out = {}
        for key, value in data.items():
            if self.value(where, key, value, spec.value):  # the names are the registry's to check
                out[key] = value
        return _freeze(out)

    def transport_tables(self, data: Mapping) -> Mapping[str, Mapping[str, Any]]:
        out = {}
        for name, table in data.items():
            path = f"transport.{name}"
            if name not in TRANSPORT_KEYS:
                if isinstance(table, dict):
                    self.unknown_table(path, [f"[transport.{n}]" for n in TRANSPORT_KEYS])
                else:
                    self.unknown("[transport]", name, list(TRANSPORT_KEYS))
                continue
            if not isinstance(table, dict):
                self.not_a_table("[transport]", name, path, table)
                continue
            keys, where, good = TRANSPORT_KEYS[name], f"[{path}]", {}
            for key, value in table.items():
                hint = keys.get(key)
                if key in SECRET_KEYS or (hint is None and key.endswith(("secret", "token", "password"))):
                    self.secret(name, key)
                elif hint is None:
                    self.unknown(where, key, list(keys))
                elif isinstance(hint, ChannelMap):
                    if isinstance(value, dict):
                        good[key] = self.channel_map(hint, value, f"{path}.{key}")
                    else:
                        self.not_a_table(where, key, f"{path}.{key}", value)
                elif self.value(where, key, value, hint):
                    good[key] = value
            out[name] = _freeze(good)
        return _freeze(out)

    def secret(self, outlet: str, key: str) -> None:
        env = ENV_NAMES.get((outlet, key))
        self.add(f"[transport.{outlet}] {key}", f"[transport.{outlet}] 中不能写 {key}：凭据不放在 pressroom.toml 里",
                 (f"请设置环境变量 {env}，或" if env else "请") + f"用 {key}_block 指定保存它的 Prefect Secret 块")

    def rate_limits(self, data: Mapping) -> Mapping[str, Any]:
        out = {}
        for outlet, spec in data.items():
            where = f"[rate_limits] {outlet}"
            if outlet not in DEFAULT_RATE_LIMITS:
                self.unknown("[rate_limits]", outlet, list(DEFAULT_RATE_LIMITS))
            elif spec is False:
                out[outlet] = False
            elif _number(spec):
                if spec > 0:
                    out[outlet] = spec
                else:
                    self.add(where, f"[rate_limits] 中 {outlet} 的速率为 {_toml(spec)}，应大于 0", "或写 false 关闭限流")
            elif isinstance(spec, dict):
                path, good = f"rate_limits.{outlet}", {}
                for key, value in spec.items():
                    if key not in RATE_LIMIT_KEYS:
                        self.unknown(f"[{path}]", key, list(RATE_LIMIT_KEYS))
                    elif self.value(f"[{path}]", key, value, RATE_LIMIT_KEYS[key]):
                        good[key] = value
                rate = sum(float(good.get(k, 0)) / s for k, s in (("per_second", 1), ("per_minute", 60), ("per_hour", 3600)))
                if rate > 0:
                    out[outlet] = _freeze(good)
                elif len(good) == len(spec):
                    self.add(where, f"[rate_limits] 中 {outlet} 的速率应大于 0",
                             "请写 per_second / per_minute / per_hour，或写 false 关闭限流")
            else:
                self.add(where, f"[rate_limits] 中的 {outlet} 应为 false、数字（每秒次数）或表，现在是{_describe(spec)}",
                         f"例如：{outlet} = {{ per_second = 5, burst = 10 }}")
        return _freeze({**DEFAULT_RATE_LIMITS, **out})

    def city_timezone(self, city: City) -> None:
        try:
            ZoneInfo(city.timezone)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            self.add("[city] timezone", f"[city] 中的 timezone“{city.timezone}”不是已知的时区",
                     '请写 IANA 时区名，例如：timezone = "Asia/Shanghai"')


def _is_table(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Table)


def _freeze(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({k: _freeze(v) if isinstance(v, dict) else v for k, v in d.items()})


def _display(path: Path) -> str:
    """The settings file as an operator would name it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _sections(data: Mapping[str, Any], check: _Checker) -> dict[str, Any]:
    """Every table of the file, checked; what is missing or wrong is left at its default."""
    out: dict[str, Any] = {}
    known = [f"[{k}]" for k in SECTIONS]
    for key, value in data.items():
        spec = SECTIONS.get(key)
        if spec is None:
            if isinstance(value, dict):
                check.unknown_table(key, known)
            else:
                owners = [f"[{k}]" for k, s in SECTIONS.items() if _is_table(s) and key in _hints(s)]
                check.add(key, f"顶层的 {key} 不是已知的设置项" + (f"（是否应写在 {owners[0]} 之下？）" if owners else ""),
                          f"设置项须写在设置表之下，可用的设置表：{'、'.join(known)}")
        elif not isinstance(value, dict):
            check.not_a_table("", key, key, value)
        elif _is_table(spec):
            out[key] = check.table(spec, value, key)
        elif isinstance(spec, ChannelMap):
            out[key] = check.channel_map(spec, value, key)
        elif key == "transport":
            out[key] = check.transport_tables(value)
        else:
            out[key] = check.rate_limits(value)
    if "city" in out:
        check.city_timezone(out["city"])
    if "outlets" in out and out["outlets"].weibo.length not in WEIBO_LENGTHS:
        check.add("[outlets.weibo] length", f"[outlets.weibo] 中的 length“{out['outlets'].weibo.length}”不是已知的计数方式",
                  'length = "plain"（每个字符计 1，网址按全长，默认）或 "weighted"（按新浪网页端：英文半个字，长网址按短链）')
    return out


def _toml_problem(file: str, e: tomllib.TOMLDecodeError) -> Problem:
    m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
    where = f"第 {m.group(1)} 行第 {m.group(2)} 列：" if m else "文件末尾：" if "end of document" in str(e) else ""
    reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(e))
    return SettingProblem(file, "", f"不是有效的 TOML（{where}{reason}）", "请检查该处的引号、等号和方括号")


VIDEO_OFF = ("0", "off", "false", "no")


def _video_switch(outlets: Outlets) -> Outlets:
    """``PRESSROOM_VIDEO=off`` turns the micro-video off whatever the file says (tests that do not need it)."""
    if os.environ.get("PRESSROOM_VIDEO", "").strip().lower() in VIDEO_OFF:
        return replace(outlets, video=replace(outlets.video, enabled=False))
    return outlets


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read and check the settings file; raises SettingsError listing every problem."""
    path = Path(path or os.environ.get("PRESSROOM_CONFIG") or PROJECT_ROOT / "pressroom.toml").resolve()
    check = _Checker(_display(path))
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(path, [_toml_problem(check.file, e)]) from None
    sections = _sections(data, check)
    if check.problems:
        raise SettingsError(path, check.problems)
    base = path.parent
    paths: Paths = sections.get("paths", Paths())

    def resolve(env: str, value: str) -> Path:
        p = Path(os.environ.get(env) or value)
        return p if p.is_absolute() else (base / p).resolve()

    ledger_url = os.environ.get("PRESSROOM_LEDGER_URL") or paths.ledger
    if ledger_url.startswith("sqlite:///") and not ledger_url.startswith("sqlite:////"):
        # A relative SQLite path is relative to the settings file, not the working directory.
        ledger_url = "sqlite:///" + str((base / ledger_url[len("sqlite:///"):]).resolve())
    return Settings(
        root=base,
        city=sections.get("city", City()),
        outlets=_video_switch(sections.get("outlets", Outlets())),
        # channel -> transport; without the table every registered channel goes to the outbox
        # (``channels.configured``, which also refuses a name no outlet declares).
        transports=sections.get("transports", _freeze({})),
        content_dir=resolve("PRESSROOM_CONTENT", paths.content),
        outbox_dir=resolve("PRESSROOM_OUTBOX", paths.outbox),
        ledger_url=ledger_url,
        transport_tables=sections.get("transport", _frozen_empty()),
        approval=sections.get("approval", Approval()),
        corrections=sections.get("corrections", Corrections()),
        publish=sections.get("publish", Publish()),
        notify=sections.get("notify", Notify()),
        rate_limits=sections.get("rate_limits", DEFAULT_RATE_LIMITS),
        compliance=sections.get("compliance", Compliance()),
        site=sections.get("site", Website()),
        cache_dir=_cache_dir(base, paths.cache),
    )


CACHE_OFF = ("", "off", "0", "false", "no")


def _cache_dir(base: Path, value: str) -> Path | None:
    """``PRESSROOM_CACHE`` (a folder, or ``off``) over ``[paths] cache``, relative to the settings file."""
    value = os.environ.get("PRESSROOM_CACHE", value).strip()
    if value.lower() in CACHE_OFF:
        return None
    p = Path(value)
    return p if p.is_absolute() else (base / p).resolve()
