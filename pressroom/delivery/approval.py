"""The approval gate (R3, 三审): releases that need it wait after rendering for up to three sign-offs.

Each sign-off is bound to the *signature* of what was reviewed (the content hashes of every part of the
bundle), so an edit voids earlier sign-offs and the gate asks again: what the channels receive is provably
what was signed. Decisions are rows of the ledger's ``approvals`` table, one per part of the bundle, and
``pressroom history`` lists them with the release's other events. Settings::

    [approval]
    levels = ["责任编辑", "部门负责人", "分管领导"]   # in order; at most three
    kinds = ["policy", "policy-document"]            # kinds that always need approval
    important = true                                 # and any release marked important
    timeout_hours = 72                               # how long a paused run waits (Prefect's default is 1 h)
    own_department = ["部门负责人"]                  # levels signed from the release's own department

Who may sign is the reviewer registry (``pressroom.delivery.reviewers``): each level by a different
registered reviewer allowed to sign it, proven by their one-time code (``sign``). An emergency publishes
first (``approval-deferred``) and shows as 审核待补签 until every level has signed (``awaiting``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from datetime import datetime

from pressroom.delivery import reviewers
from pressroom.delivery.ledger import DECISION_EVENTS, REJECT, SIGN_OFF, Ledger
from pressroom.model import Release
from pressroom.settings import Settings

# How a decision is named in ``decisions()`` and the audit trail.
SIGNOFF, REJECTED = DECISION_EVENTS[SIGN_OFF], DECISION_EVENTS[REJECT]
MAX_LEVELS = 3


@dataclass(frozen=True)
class Policy:
    levels: tuple[str, ...]
    kinds: frozenset[str]
    important: bool
    timeout_seconds: int


def policy(settings: Settings) -> Policy:
    cfg = settings.approval
    return Policy(cfg.levels[:MAX_LEVELS], frozenset(cfg.kinds), cfg.important, int(cfg.timeout_hours * 3600))


def needs_approval(parts: list[Release], p: Policy) -> bool:
    if not p.levels:
        return False
    return any(r.kind in p.kinds or (p.important and r.important) for r in parts)


def signature(parts: list[Release]) -> str:
    """What a reviewer signs: every part's content hash (text and images)."""
    h = hashlib.sha256()
    for r in sorted(parts, key=lambda r: r.id):
        h.update(f"{r.id}:{r.content_hash}\n".encode())
    return h.hexdigest()[:16]


def decisions(ledger: Ledger, parts: list[Release]) -> list[dict]:
    """Sign-offs and rejections recorded for exactly this content, oldest first."""
    return [{"level": a.level, "role": a.role, "comment": a.comment, "run": a.run_id, "versions": a.versions,
             "action": DECISION_EVENTS[a.decision], "reviewer": a.reviewer, "at": a.at}
            for a in ledger.approvals(parts[0].id, signature(parts))]


def next_level(ledger: Ledger, parts: list[Release], p: Policy) -> str | None:
    """The first level still unsigned for this content, or None when all have signed."""
    signed = {d.get("level") for d in decisions(ledger, parts) if d["action"] == SIGNOFF}
    return next((lvl for lvl in p.levels if lvl not in signed), None)


def record(ledger: Ledger, parts: list[Release], level: str, approve: bool, reviewer: str, role: str = "",
           comment: str = "", run_id: str = "") -> None:
    """Keep a decision with every part of the bundle, bound to the content signature."""
    sig, versions = signature(parts), {r.id: r.version for r in parts}
    for r in parts:
        ledger.add_approval(r.id, sig, level, SIGN_OFF if approve else REJECT, reviewer, role or level, comment,
                            run_id, versions)


DEFERRED, COMPLETED = "approval-deferred", "approval-completed"
AWAITING_LABEL = "审核待补签"


def signers(ledger: Ledger, parts: list[Release]) -> dict[str, str]:
    """level -> who signed it, for exactly this content."""
    return {d["level"]: d["reviewer"] for d in decisions(ledger, parts) if d["action"] == SIGNOFF}


def allowed(settings: Settings, parts: list[Release], level: str) -> list[str]:
    """Who may sign ``level`` of this bundle today (the pause form's dropdown)."""
    reg = reviewers.load_registry(settings.content_dir)
    return reg.allowed_for(level, {r.department.key for r in parts}, datetime.now(settings.tz).date(),
                           settings.approval.own_department)


def sign(settings: Settings, ledger: Ledger, parts: list[Release], approve: bool, reviewer: str, code: str,
         comment: str = "", level: str = "", run_id: str = "", given_at: datetime | None = None) -> str:
    """A verified decision at the next unsigned level (``level``, if given, must be it): the reviewer is
    registered and allowed for the level, has signed no other level of this content, and proves it with their
    one-time code. Returns the level; raises ``reviewers.Refused`` with the rule broken (a wrong code is
    recorded and counts towards the lock)."""
    p = policy(settings)
    current = next_level(ledger, parts, p)
    if current is None:
        raise reviewers.Refused("各级审核均已签署（针对当前内容），无需再签")
    if level and level != current:
        if level not in p.levels:
            raise reviewers.Refused(f"没有“{level}”这一审核级别（级别：{' → '.join(p.levels)}）")
        raise reviewers.Refused(f"审核须逐级进行：当前应由“{current}”审核（级别：{' → '.join(p.levels)}）")
    if not approve and not comment.strip():
        raise reviewers.Refused("驳回须写明理由（审核意见）")
    reg = reviewers.load_registry(settings.content_dir)
    role = reviewers.check_may_sign(settings, reg, reviewer, current, {r.department.key for r in parts},
                                    signers(ledger, parts))
    reviewers.verify(settings, ledger, reviewer, code, f"审核 {current}", parts[0].id, given_at=given_at)
    record(ledger, parts, current, approve, reviewer, role, comment, run_id)
    if approve and next_level(ledger, parts, p) is None and deferred(ledger, parts):
        ledger.log(parts[0].id, "", signature(parts), COMPLETED, reviewer, "突发事件发布后，各级审核已补签完毕")
    return current


def deferred(ledger: Ledger, parts: list[Release]) -> bool:
    """Published before its sign-offs (an emergency)."""
    return any(e["action"] == DEFERRED for e in ledger.history(parts[0].id))


def awaiting(ledger: Ledger, parts: list[Release], p: Policy) -> str | None:
    """The first level an emergency published ahead of its sign-offs still waits for (审核待补签)."""
    if not deferred(ledger, parts):
        return None
    return next_level(ledger, parts, p)
