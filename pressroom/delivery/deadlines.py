"""Event clocks (R4): an emergency must have authoritative information out within 5 hours of the event and a
press conference within 24 hours; a public-opinion case must be answered within 48 hours. The clocks run
from the event's ``event_at``; an event is its first release plus every ``follow_up_of`` update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pressroom.releases.catalog import Catalog
from pressroom.delivery.ledger import PUBLISHED, Ledger
from pressroom.model import Release

# (kind, rule, hours, what satisfies it)
RULES = (
    ("emergency", "首发权威信息", 5, "any"),
    ("emergency", "召开新闻发布会", 24, "conference"),
    ("opinion", "回应社会关切", 48, "any"),
)
WARN_BEFORE = timedelta(hours=1)  # an open clock this close to its deadline is flagged

MET, LATE, OPEN, WARNING, BREACHED = "met", "late", "open", "warning", "breached"
STATUS_LABELS = {MET: "按时完成", LATE: "超时完成", OPEN: "进行中", WARNING: "即将超时", BREACHED: "已超时"}


@dataclass(frozen=True)
class Clock:
    event_id: str
    title: str
    department: str
    rule: str
    due: datetime
    met_at: datetime | None
    status: str

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def events(catalog: Catalog) -> dict[str, list[Release]]:
    """First release id -> the event's releases (first, then updates in publishing order)."""
    out: dict[str, list[Release]] = {}
    for r in catalog.releases.values():
        if r.kind in ("emergency", "opinion") and not r.follow_up_of:
            out.setdefault(r.id, []).insert(0, r)
    for r in catalog.releases.values():
        if r.follow_up_of in out:
            out[r.follow_up_of].append(r)
    return {k: [v[0], *sorted(v[1:], key=lambda x: x.publish_at)] for k, v in out.items()}


def _first_published(ledger: Ledger, releases: list[Release]) -> datetime | None:
    times = [d.published_at for r in releases for d in ledger.rows(r.id) if d.state == PUBLISHED and d.published_at]
    return min(times) if times else None


def clocks(catalog: Catalog, ledger: Ledger, now: datetime) -> list[Clock]:
    out = []
    for event_id, members in sorted(events(catalog).items()):
        first = members[0]
        start = first.event_at or first.publish_at
        for kind, rule, hours, need in RULES:
            if first.kind != kind:
                continue
            due = start + timedelta(hours=hours)
            relevant = [m for m in members if need == "any" or m.press_conference]
            met_at = _first_published(ledger, relevant)
            if met_at is not None:
                status = MET if met_at <= due else LATE
            elif now >= due:
                status = BREACHED
            else:
                status = WARNING if due - now <= WARN_BEFORE else OPEN
            out.append(Clock(event_id, first.title, first.department.name, rule, due, met_at, status))
    return out
