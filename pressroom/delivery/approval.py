"""The approval gate (R3, 三审): releases that need it wait after rendering for up to three sign-offs.

Each sign-off is bound to the *signature* of what was reviewed (the content hashes of every part of the
bundle), so an edit voids earlier sign-offs and the gate asks again: what the channels receive is provably
what was signed. Decisions are kept in the ledger's audit trail with the release. Settings::

    [approval]
    levels = ["责任编辑", "部门负责人", "分管领导"]   # in order; at most three
    kinds = ["policy", "policy-document"]            # kinds that always need approval
    important = true                                 # and any release marked important
    timeout_hours = 72                               # how long a paused run waits (Prefect's default is 1 h)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pressroom.delivery.ledger import Ledger
from pressroom.model import Release
from pressroom.settings import Settings

SIGNOFF, REJECTED, PRE_APPROVED = "signoff", "rejected", "signoff"
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
    sig = signature(parts)
    out = []
    for e in ledger.history(parts[0].id):
        if e["action"] in (SIGNOFF, REJECTED) and e["version"] == sig:
            out.append({**json.loads(e["detail"] or "{}"), "action": e["action"], "reviewer": e["actor"],
                        "at": e["at"]})
    return out


def next_level(ledger: Ledger, parts: list[Release], p: Policy) -> str | None:
    """The first level still unsigned for this content, or None when all have signed."""
    signed = {d.get("level") for d in decisions(ledger, parts) if d["action"] == SIGNOFF}
    return next((lvl for lvl in p.levels if lvl not in signed), None)


def record(ledger: Ledger, parts: list[Release], level: str, approve: bool, reviewer: str, role: str = "",
           comment: str = "", run_id: str = "") -> None:
    """Keep a decision with every part of the bundle, bound to the content signature."""
    detail = json.dumps({"level": level, "role": role or level, "comment": comment, "run": run_id,
                         "versions": {r.id: r.version for r in parts}}, ensure_ascii=False)
    for r in parts:
        ledger.log(r.id, "", signature(parts), SIGNOFF if approve else REJECTED, reviewer, detail)
