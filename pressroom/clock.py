"""The clock that decides publication times: when the embargo lifts and what time a delivered release
shows (docs/requirements.md R4: the time shown is the time it went out).

``now()`` is the real time unless ``PRESSROOM_CLOCK`` holds an ISO 8601 instant (``2026-11-20T10:00+08:00``;
no offset = UTC): then the clock stands still at that instant. Tests and rehearsals use it to publish "on
schedule" or "late" without waiting; nothing else (sign-off codes, leases, the audit trail) follows it.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

ENV = "PRESSROOM_CLOCK"


def now() -> datetime:
    fixed = os.environ.get(ENV, "").strip()
    if not fixed:
        return datetime.now(timezone.utc)
    at = datetime.fromisoformat(fixed)
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def minute(at: datetime) -> datetime:
    """``at`` to the minute (seconds dropped): the precision a publication time is shown with."""
    return at.replace(second=0, microsecond=0)


def shown_time(publish_at: datetime, delivered: datetime) -> tuple[datetime, int]:
    """What a release delivered at ``delivered`` shows as its 发布时间, and how many minutes late that is:
    its ``publish_at`` when it went out within that minute (on schedule), else the real minute."""
    real = minute(delivered.astimezone(publish_at.tzinfo or timezone.utc))
    if real == minute(publish_at):
        return publish_at, 0
    late = int((real - minute(publish_at)).total_seconds() // 60)
    return real, max(0, late)
