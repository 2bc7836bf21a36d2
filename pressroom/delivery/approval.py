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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
