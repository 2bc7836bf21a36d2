"""Who may sign (R3, 三审), and proof that it was them: the reviewer registry and each reviewer's one-time code.

The registry is ``content/reviewers.yaml`` (like the spokesperson registry): each reviewer's department and
the levels they may sign, and dated delegations (a stand-in for an absent reviewer)::

    reviewers:
      李主任: {department: 市委宣传部, levels: [责任编辑, 部门负责人]}
    delegations:
      - {absent: 李主任, stand_in: 吴副主任, from: 2026-12-01, to: 2026-12-07}   # levels: all of 李主任's

The second factor is TOTP (RFC 6238): the six-digit codes of common authenticator apps (腾讯身份验证器,
Microsoft/Google Authenticator), so a sign-off works offline on one machine. Each reviewer's secret is in
``settings.reviewer_secrets`` (``[approval] secrets_file``), a file only the service account reads (0600),
outside ``content/``; never in the ledger, a log or an artifact. The ledger keeps what every worker must
share: which time step of a reviewer's code was used (a code works once) and wrong codes in a row (five lock
that reviewer for five minutes, ``[approval] lockout_failures`` / ``lockout_minutes``). Every refusal is an
event of the audit trail, without the code.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pyotp
import yaml

from pressroom.settings import Settings
from pressroom.text import yamlparse

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is the caller's: `validate` reads the list without loading it
    from pressroom.delivery.ledger import Ledger

REGISTRY_FILE = "reviewers.yaml"
REVIEWERS_ID = "*reviewers*"  # the pseudo release of enrolment events: ``pressroom history '*reviewers*'``
CODE = re.compile(r"^\d{6}$")
ISSUER = "pressroom"


class Refused(Exception):
    """A sign-off or an action refused; the message (Chinese) names the rule broken."""


@dataclass(frozen=True)
class Reviewer:
    name: str
    department: str  # a key of content/departments.yaml
    levels: tuple[str, ...]
    email: str = ""  # optional: where a reminder of a waiting sign-off is mailed


@dataclass(frozen=True)
class Delegation:
    absent: str
    stand_in: str
    start: date
    end: date  # inclusive
    levels: tuple[str, ...]  # empty: every level of the absent reviewer

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Registry:
    reviewers: dict[str, Reviewer]
    delegations: tuple[Delegation, ...] = ()

    def allowed_for(self, level: str, departments: set[str], day: date, own: tuple[str, ...]) -> list[str]:
        """Everyone who may sign ``level`` on ``day`` for a release of these departments (the dropdown):
        registered reviewers and today's stand-ins."""
        names = list(self.reviewers) + [d.stand_in for d in self.delegations if d.stand_in not in self.reviewers]
        return [n for n in dict.fromkeys(names) if _grant(self, n, level, departments, day, own)[0] is not None]


def _date(value, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Refused(f"{REGISTRY_FILE}：{where} 的日期“{value}”无效，请写成 2026-12-01") from None


def load_registry(content_dir: Path) -> Registry:
    """The registry; a broken file is refused with what to fix."""
    path = content_dir / REGISTRY_FILE
    if not path.is_file():
        return Registry({})
    try:
        raw = yamlparse.load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise Refused(f"{REGISTRY_FILE} 不是有效的 YAML：{e}") from None
    people: dict[str, Reviewer] = {}
    for name, entry in (raw.get("reviewers") or {}).items():
        entry = entry if isinstance(entry, dict) else {}
        levels = entry.get("levels") or []
        if not entry.get("department") or not isinstance(levels, list) or not levels:
            raise Refused(f"{REGISTRY_FILE}：审核人“{name}”须写明 department 和 levels（可签署的审核级别）")
        people[str(name)] = Reviewer(str(name), str(entry["department"]), tuple(map(str, levels)),
                                     str(entry.get("email") or ""))
    delegations = []
    for i, d in enumerate(raw.get("delegations") or [], 1):
        if not isinstance(d, dict) or str(d.get("absent")) not in people or str(d.get("stand_in")) not in people:
            raise Refused(f"{REGISTRY_FILE}：第 {i} 条委托须写明 absent（缺席的审核人）和 stand_in（代签人），"
                          "两人都须已登记")
        delegations.append(Delegation(str(d["absent"]), str(d["stand_in"]), _date(d.get("from"), f"第 {i} 条委托"),
                                      _date(d.get("to"), f"第 {i} 条委托"), tuple(map(str, d.get("levels") or ()))))
    return Registry(people, tuple(delegations))


def registry_problems(settings: Settings, departments: set[str]) -> tuple[list[str], list[str]]:
    """What is wrong with content/reviewers.yaml (unreadable, an unknown department or level), and warnings
    (a level nobody may sign): ``pressroom validate`` prints both, and fails on the first."""
    try:
        reg = load_registry(settings.content_dir)
    except Refused as e:
        return [str(e)], []
    out = [f"{REGISTRY_FILE}：审核人“{r.name}”的部门“{r.department}”不在 departments.yaml 中"
           for r in reg.reviewers.values() if r.department not in departments]
    levels = settings.approval.levels
    out += [f"{REGISTRY_FILE}：审核人“{r.name}”的级别“{lvl}”不是设置中的审核级别（{'、'.join(levels)}）"
            for r in reg.reviewers.values() for lvl in r.levels if levels and lvl not in levels]
    warnings = [f"{REGISTRY_FILE}：没有人可以签署“{lvl}”，需要审核的稿件将无法发布"
                for lvl in levels if not any(lvl in r.levels for r in reg.reviewers.values())]
    return out, warnings


def _grant(reg: Registry, name: str, level: str, departments: set[str], day: date,
           own: tuple[str, ...] = ("部门负责人",)) -> tuple[str | None, str]:
    """(the role under which ``name`` may sign ``level``, why not): their own grant, else a delegation."""
    me = reg.reviewers.get(name)
    stand_in = any(d.stand_in == name for d in reg.delegations)
    if me is None and not stand_in:
        return None, f"“{name}”不在审核人名单（content/{REGISTRY_FILE}）中，不能签署"
    why = (f"审核人“{name}”不能签署“{level}”（可签署：{'、'.join(me.levels)}）" if me
           else f"“{name}”今天没有代签“{level}”的有效委托")
    if me and level in me.levels:
        if level not in own or me.department in departments:
            return level, ""
        why = f"“{level}”须由稿件所属部门（{'、'.join(sorted(departments))}）的审核人签署，“{name}”属于{me.department}"
    for d in reg.delegations:
        absent = reg.reviewers[d.absent]
        if d.stand_in == name and d.covers(day) and level in (d.levels or absent.levels) and level in absent.levels \
                and (level not in own or absent.department in departments):
            return f"{level}（代 {d.absent}，委托 {d.start:%m-%d}至{d.end:%m-%d}）", ""
    return None, why


def check_may_sign(settings: Settings, reg: Registry, name: str, level: str, departments: set[str],
                   signed_by_others: dict[str, str], day: date | None = None) -> str:
    """The role to record when ``name`` signs ``level``; else Refused naming the rule.
    ``signed_by_others``: level -> who signed it already for this content."""
    role, why = _grant(reg, name, level, departments, day or datetime.now(settings.tz).date(),
                       settings.approval.own_department)
    if role is None:
        raise Refused(why)
    other = next((lvl for lvl, who in signed_by_others.items() if who == name and lvl != level), None)
    if other:
        raise Refused(f"同一人不能签署两个审核级别：“{name}”已签署“{other}”，“{level}”须由另一位审核人签署")
    return role


# -- secrets (the 0600 file) ------------------------------------------------------------------------------


def _read_secrets(settings: Settings) -> dict[str, str]:
    path = settings.reviewer_secrets
    if not path.exists():
        return {}
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise Refused(f"审核人口令文件 {path} 的权限是 {mode:o}，其他用户可读：请改为 600（chmod 600）后重试")
    return json.loads(path.read_text(encoding="utf-8") or "{}")


def _write_secrets(settings: Settings, secrets: dict[str, str]) -> None:
    path = settings.reviewer_secrets
    if settings.content_dir.resolve() in path.resolve().parents:
        raise Refused(f"审核人口令文件不能放在 content/ 下（{path}）：请在 [approval] secrets_file 中改到 var/ 等处")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(secrets, f, ensure_ascii=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def enroll(settings: Settings, ledger: Ledger, name: str, again: bool = False) -> str:
    """A new secret for a registered reviewer; returns the otpauth:// URI their app scans (shown once)."""
    reg = load_registry(settings.content_dir)
    if name not in reg.reviewers:
        raise Refused(f"“{name}”不在审核人名单（content/{REGISTRY_FILE}）中：请先登记再开通动态口令")
    secrets = _read_secrets(settings)
    if name in secrets and not again:
        raise Refused(f"“{name}”已开通动态口令；手机丢失或更换时用 --again 重新开通（旧口令随即失效）")
    had = name in secrets
    secrets[name] = pyotp.random_base32()
    _write_secrets(settings, secrets)
    ledger.log(REVIEWERS_ID, "", "", "reviewer-reenrolled" if had else "reviewer-enrolled", name, "")
    return pyotp.TOTP(secrets[name]).provisioning_uri(name=name, issuer_name=f"{ISSUER} {settings.city['name']}")


def revoke(settings: Settings, ledger: Ledger, name: str, actor: str) -> bool:
    secrets = _read_secrets(settings)
    if secrets.pop(name, None) is None:
        return False
    _write_secrets(settings, secrets)
    ledger.log(REVIEWERS_ID, "", "", "reviewer-revoked", actor, f"已停用 {name} 的动态口令")
    return True


def enrolled(settings: Settings) -> set[str]:
    return set(_read_secrets(settings))


def current_code(settings: Settings, ledger: Ledger, name: str) -> str:
    """A code ``name``'s app shows within 30 s of now that was not used yet, for the demo and the tests,
    which have no phone: the next step's first, which stays acceptable longest (a slow command start
    checks it up to a minute later). Whoever can read the secrets file can do this; hence 0600."""
    totp, now = pyotp.TOTP(_read_secrets(settings)[name]), datetime.now(timezone.utc)
    for k in (1, 0, -1):
        at = now + timedelta(seconds=30 * k)
        if ledger.code_unused(name, totp.timecode(at)):
            return totp.at(at)
    raise Refused(f"{name} 最近的三个动态口令都已用过，请 30 秒后再试")


# -- verification ---------------------------------------------------------------------------------------------


def _refuse(settings: Settings, ledger: Ledger, name: str, why: str, release_id: str, purpose: str,
            count: bool = True) -> None:
    locked = ledger.code_failed(name, settings.approval.lockout_failures,
                                timedelta(minutes=settings.approval.lockout_minutes)) if count else None
    if locked:
        why += f"；连续 {settings.approval.lockout_failures} 次错误，{name} 已被锁定至 {locked.astimezone(settings.tz):%H:%M:%S}"
    ledger.log(release_id or REVIEWERS_ID, "", "", "code-refused", name, f"{purpose}：{why}")
    raise Refused(why)


GIVEN_AT_LIMIT = timedelta(minutes=10)  # a code checked against when it was given, if no longer ago than this


def verify(settings: Settings, ledger: Ledger, name: str, code: str, purpose: str, release_id: str = "",
           given_at: datetime | None = None) -> str:
    """Check ``name``'s one-time code (once, within ±30 s of ``given_at``, when the server received it, or of
    now) and return the name; else record and refuse. A code typed into a run's form is read by the run when it
    resumes, which can be a minute later; it is checked against the time it was typed, never longer ago than
    GIVEN_AT_LIMIT."""
    code = (code or "").strip().replace(" ", "")
    until = ledger.locked_until(name)
    if until:
        _refuse(settings, ledger, name, f"{name} 因连续输错动态口令已被锁定至 {until.astimezone(settings.tz):%H:%M:%S}，"
                "请稍后再试", release_id, purpose, count=False)
    secret = _read_secrets(settings).get(name)
    if secret is None:
        _refuse(settings, ledger, name, f"“{name}”尚未开通动态口令：请运行 pressroom reviewer enroll {name}",
                release_id, purpose, count=False)
    if not CODE.match(code):
        _refuse(settings, ledger, name, "动态口令应为 6 位数字", release_id, purpose)
    totp, now = pyotp.TOTP(secret), datetime.now(timezone.utc)
    if given_at is not None and timedelta(0) <= now - given_at <= GIVEN_AT_LIMIT:
        now = given_at
    step = next((totp.timecode(now + timedelta(seconds=30 * k)) for k in (0, -1, 1)
                 if totp.at(now + timedelta(seconds=30 * k)) == code), None)
    if step is None:
        _refuse(settings, ledger, name, f"{name} 的动态口令不正确或已过期", release_id, purpose)
    if not ledger.use_code(name, step, purpose):
        _refuse(settings, ledger, name, f"该动态口令已经使用过（一个口令只能用一次），请等待 {name} 的下一个口令",
                release_id, purpose)
    ledger.code_passed(name)
    return name


def verified_person(settings: Settings, ledger: Ledger, name: str, code: str, purpose: str,
                    release_id: str = "") -> str:
    """A registered reviewer proven by their code: who an action that changes what the public sees names."""
    if not name:
        raise Refused("此操作会改变公众看到的内容，须由已登记的审核人用 --reviewer 姓名 --code 动态口令 确认")
    if name not in load_registry(settings.content_dir).reviewers:
        raise Refused(f"“{name}”不在审核人名单（content/{REGISTRY_FILE}）中，不能确认此操作")
    return verify(settings, ledger, name, code, purpose, release_id)
