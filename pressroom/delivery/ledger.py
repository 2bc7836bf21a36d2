"""The publish ledger: one row per (release, channel, version), the source of truth for publish status.

"At most once" rests on two things: the unique key, and ``claim``, a single conditional UPDATE that moves a
row into ``delivering`` for exactly one caller. A crashed claimer is detected (its process is gone on this
host, or its lease expired), and the next run takes the row over; the transport then looks before sending
again. Every state change is also written to ``events``, the audit trail ``pressroom history`` prints.
SQLite by default; any SQLAlchemy URL (PostgreSQL for several workers).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import event as sa_event

PENDING, RENDERED, DELIVERING, PUBLISHED, FAILED, RETRACTED, UNCONFIRMED, SKIPPED = (
    "pending", "rendered", "delivering", "published", "failed", "retracted", "unconfirmed", "skipped")
CLAIMABLE = (PENDING, RENDERED, FAILED, SKIPPED)  # skipped: its outlet was disabled, now back
STATE_LABELS = {
    PENDING: "待发布", RENDERED: "已生成", DELIVERING: "发布中", PUBLISHED: "已发布", FAILED: "失败",
    RETRACTED: "已撤稿", UNCONFIRMED: "待核实", SKIPPED: "已跳过",
}
DEFAULT_LEASE = timedelta(minutes=10)

metadata = sa.MetaData()
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, default=PENDING),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("content_hash", sa.String(64), nullable=False, default=""),
    sa.Column("external_id", sa.String(256), nullable=False, default=""),
    sa.Column("url", sa.String(1024), nullable=False, default=""),
    sa.Column("steps", sa.Text, nullable=False, default="{}"),  # per-step platform ids, for resuming
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.Column("claimed_by", sa.String(128), nullable=False, default=""),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("release_id", "channel", "version", name="uq_delivery"),
)
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("release_id", sa.String(64), nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False, default=""),
    sa.Column("version", sa.String(64), nullable=False, default=""),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False, default=""),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; everything stored is UTC.
    return dt.replace(tzinfo=timezone.utc) if dt is not None and dt.tzinfo is None else dt


@dataclass(frozen=True)
class Delivery:
    id: int
    release_id: str
    channel: str
    version: str
    state: str
    attempts: int
    content_hash: str
    external_id: str
    url: str
    steps: dict
    last_error: str
    claimed_by: str
    claimed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @classmethod
    def from_row(cls, row) -> "Delivery":
        m = dict(row._mapping)
        m["steps"] = json.loads(m["steps"] or "{}")
        for k in ("claimed_at", "created_at", "updated_at", "published_at"):
            m[k] = _aware(m[k])
        return cls(**m)


def worker_token() -> str:
    """Who claims: host and pid (to detect a dead claimer on this host) plus a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claimer_is_dead(token: str) -> bool:
    host, _, rest = token.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # our own process: a live thread may hold it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@lru_cache(maxsize=8)
def engine_for(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        eng = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa_event.listens_for(eng, "connect")
        def _pragmas(conn, _record):  # WAL lets readers and one writer work at once
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()
    else:
        eng = sa.create_engine(url, pool_pre_ping=True)
    try:
        metadata.create_all(eng)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as e:
        # Two processes opening a new ledger at once: the other one created the tables between our
        # check and our CREATE. Anything else is a real error.
        if "already exists" not in str(e):
            raise
        metadata.create_all(eng)
    return eng


class Ledger:
    def __init__(self, url: str, lease: timedelta = DEFAULT_LEASE):
        self.engine = engine_for(url)
        self.lease = lease

    # -- rows ---------------------------------------------------------------------------------

    def ensure(self, release_id: str, channel: str, version: str) -> Delivery:
        """The row for this key, created as pending if new (safe when two runs race)."""
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(
                deliveries.c.release_id == release_id, deliveries.c.channel == channel,
                deliveries.c.version == version)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(deliveries.insert().values(
                            release_id=release_id, channel=channel, version=version, state=PENDING,
                            attempts=0, content_hash="", external_id="", url="", steps="{}", last_error="",
                            claimed_by="", created_at=now, updated_at=now))
                except sa.exc.IntegrityError:
                    pass  # the other run created it first
        return self.get(release_id, channel, version)

    def get(self, release_id: str, channel: str, version: str) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(
                deliveries.c.release_id == release_id, deliveries.c.channel == channel,
                deliveries.c.version == version)).first()
        return Delivery.from_row(row) if row else None

    def rows(self, release_id: str | None = None) -> list[Delivery]:
        q = sa.select(deliveries).order_by(deliveries.c.release_id, deliveries.c.channel, deliveries.c.created_at)
        if release_id:
            q = q.where(deliveries.c.release_id == release_id)
        with self.engine.connect() as conn:
            return [Delivery.from_row(r) for r in conn.execute(q)]

    def latest(self, release_id: str) -> dict[str, Delivery]:
        """The newest version's row per channel."""
        out: dict[str, Delivery] = {}
        for d in self.rows(release_id):
            if d.channel not in out or d.created_at >= out[d.channel].created_at:
                out[d.channel] = d
        return out

    def published_ids(self, channel: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.scalars(sa.select(deliveries.c.release_id).distinct().where(
                deliveries.c.channel == channel, deliveries.c.state == PUBLISHED)))

    def published_elsewhere(self, release_id: str, channel: str, version: str) -> Delivery | None:
        """A published row of another version of the same release and channel (an edit after publishing)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(
                deliveries.c.release_id == release_id, deliveries.c.channel == channel,
                deliveries.c.version != version, deliveries.c.state == PUBLISHED)).first()
        return Delivery.from_row(row) if row else None

    # -- state changes ----------------------------------------------------------------------------

    def _update(self, d: Delivery, where: Iterable[Any] = (), **values) -> int:
        values["updated_at"] = utcnow()
        if "steps" in values and isinstance(values["steps"], dict):
            values["steps"] = json.dumps(values["steps"], ensure_ascii=False, sort_keys=True)
        with self.engine.begin() as conn:
            res = conn.execute(deliveries.update().where(deliveries.c.id == d.id, *where).values(**values))
        return res.rowcount

    def mark_rendered(self, d: Delivery, content_hash: str) -> None:
        self._update(d, [deliveries.c.state.in_((PENDING, RENDERED))], state=RENDERED, content_hash=content_hash)

    def claim(self, d: Delivery, token: str) -> Delivery | None:
        """Move the row to delivering for this caller only. None: someone else has it, or it is done."""
        now = utcnow()
        claimable = deliveries.c.state.in_(CLAIMABLE)
        current = self.get(d.release_id, d.channel, d.version)
        if current.state == DELIVERING and current.claimed_by != token and self._stale(current, now):
            # The claimer crashed: take it over (the transport looks before it sends again).
            claimable = sa.or_(claimable, sa.and_(deliveries.c.state == DELIVERING,
                                                  deliveries.c.claimed_by == current.claimed_by))
            self.log(d.release_id, d.channel, d.version, "takeover", token,
                     f"接管中断的发布（原执行者 {current.claimed_by}）")
        n = self._update(d, [claimable], state=DELIVERING, claimed_by=token, claimed_at=now,
                         attempts=deliveries.c.attempts + 1)
        return self.get(d.release_id, d.channel, d.version) if n == 1 else None

    def _stale(self, d: Delivery, now: datetime) -> bool:
        return _claimer_is_dead(d.claimed_by) or (d.claimed_at is not None and now - d.claimed_at > self.lease)

    def save_steps(self, d: Delivery, steps: dict) -> None:
        """Remember a platform step's id (draft media_id, publish_id …) the moment it exists."""
        current = self.get(d.release_id, d.channel, d.version)
        merged = {**current.steps, **steps}
        self._update(d, steps=merged)

    def mark_published(self, d: Delivery, token: str, external_id: str = "", url: str = "") -> None:
        self._update(d, [deliveries.c.claimed_by == token], state=PUBLISHED, external_id=external_id,
                     url=url, published_at=utcnow(), last_error="")
        self.log(d.release_id, d.channel, d.version, "published", token, url or external_id)

    def mark_failed(self, d: Delivery, token: str, error: str, state: str = FAILED) -> None:
        self._update(d, [deliveries.c.claimed_by == token], state=state, last_error=error[:4000])
        self.log(d.release_id, d.channel, d.version, state, token, error[:4000])

    def set_state(self, d: Delivery, state: str, detail: str = "", actor: str = "") -> None:
        self._update(d, state=state, last_error=detail if state != PUBLISHED else "")
        self.log(d.release_id, d.channel, d.version, state, actor, detail)

    def resolve(self, d: Delivery, url: str | None, actor: str) -> None:
        """An editor checked an unconfirmed delivery on the platform: published there (with its URL), or
        not (the row becomes claimable, so the next run sends it)."""
        if url:
            self._update(d, state=PUBLISHED, url=url, published_at=utcnow(), last_error="", claimed_by="")
            self.log(d.release_id, d.channel, d.version, "resolved-published", actor, url)
        else:
            self._update(d, state=FAILED, last_error="经核实未发布，可重新发送", claimed_by="")
            self.log(d.release_id, d.channel, d.version, "resolved-not-published", actor, "")

    # -- audit trail ------------------------------------------------------------------------------

    def log(self, release_id: str, channel: str, version: str, action: str, actor: str = "", detail: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(events.insert().values(at=utcnow(), release_id=release_id, channel=channel,
                                                version=version, action=action, actor=actor, detail=detail))

    def history(self, release_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(events).where(events.c.release_id == release_id)
                                .order_by(events.c.at, events.c.id))
            return [{**dict(r._mapping), "at": _aware(r.at)} for r in rows]
