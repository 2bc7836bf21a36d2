"""The publish ledger: one row per (release, channel, version, action), the source of truth for publish status.

The vocabulary is explicit. A row's ``action`` says what it delivers: ``publish`` (a version published),
``correct`` (a version that corrects an older one on that channel; its ``steps["correction"]`` says which)
or ``retract`` (the withdrawal of a version: the row has the withdrawn version and ``action=retract``).
Sign-offs and rejections of the approval gate are rows of ``approvals``; the circuit breaker's state is
one row per outlet in ``outlet_state``. ``events`` stays the audit trail ``pressroom history`` prints: every
state change, each breaker trip and reset, and (from ``approvals``) every decision.

"At most once" rests on two things: the unique key, and ``claim``, a single conditional UPDATE that moves a
row into ``delivering`` for exactly one caller. A crashed claimer is detected (its process is gone on this
host, or its lease expired), and the next run takes the row over; the transport then looks before sending
again. SQLite by default; any SQLAlchemy URL (PostgreSQL for several workers).

The schema: ``engine_for`` creates the tables on an empty database (the zero-setup default), and uses a
ledger already at the code's schema as it is. It never half-creates an older ledger: one made by an earlier
version (stamped with an older Alembic revision, or unstamped with tables lacking what the code needs) is
refused with ``LedgerOutdated``, whose message tells the operator to run ``pressroom db upgrade`` (which
migrates it without losing a row, see ``pressroom.delivery.db``).
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

from pressroom.delivery import db
from pressroom.delivery.schema import (  # noqa: F401  (the vocabulary, also used through this module)
    PENDING, RENDERED, DELIVERING, PUBLISHED, FAILED, RETRACTED, UNCONFIRMED, SKIPPED, CLAIMABLE, STATE_LABELS,
    PUBLISH, CORRECT, RETRACT, ACTIONS, RETRACT_LABEL, SIGN_OFF, REJECT, DECISIONS, DECISION_EVENTS, ENABLED,
    DISABLED, OUTLETS_ID, OUTLET_EVENTS, WAITING_QUOTA, metadata, deliveries, events, approvals, outlet_state,
    code_uses, reviewer_locks, audit_waivers, AUDIT_WAIVED,
)

DEFAULT_LEASE = timedelta(minutes=10)


class LedgerOutdated(RuntimeError):
    """The ledger's tables are older than the code: ``pressroom db upgrade`` must migrate them first."""


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
    action: str = PUBLISH

    @classmethod
    def from_row(cls, row) -> "Delivery":
        m = dict(row._mapping)
        m["steps"] = json.loads(m["steps"] or "{}")
        for k in ("claimed_at", "created_at", "updated_at", "published_at"):
            m[k] = _aware(m[k])
        return cls(**m)

    @property
    def label(self) -> str:
        """The version as the audit trail names it: a retraction row's is ``retract-<version>``."""
        return f"{RETRACT_LABEL}{self.version}" if self.action == RETRACT else self.version


@dataclass(frozen=True)
class Approval:
    id: int
    at: datetime
    release_id: str
    signature: str
    level: str
    decision: str  # SIGN_OFF or REJECT
    reviewer: str
    role: str
    comment: str
    run_id: str
    versions: dict

    @classmethod
    def from_row(cls, row) -> "Approval":
        m = dict(row._mapping)
        m["versions"] = json.loads(m["versions"] or "{}")
        m["at"] = _aware(m["at"])
        return cls(**m)

    def as_event(self) -> dict:
        """The decision as an entry of the audit trail, exactly as it was logged before ``approvals``."""
        detail = json.dumps({"level": self.level, "role": self.role, "comment": self.comment, "run": self.run_id,
                             "versions": self.versions}, ensure_ascii=False)
        return {"id": self.id, "at": self.at, "release_id": self.release_id, "channel": "", "version": self.signature,
                "action": DECISION_EVENTS[self.decision], "actor": self.reviewer, "detail": detail}


@dataclass(frozen=True)
class OutletState:
    outlet: str
    state: str  # ENABLED or DISABLED
    reason: str  # why it was disabled (or enabled again)
    since: datetime
    actor: str

    @property
    def disabled(self) -> bool:
        return self.state == DISABLED

    @classmethod
    def from_row(cls, row) -> "OutletState":
        m = dict(row._mapping)
        m["since"] = _aware(m["since"])
        return cls(**m)


def waiting_until(d: Delivery) -> datetime | None:
    """When a row waiting for a quota may be sent again (None: it is not waiting)."""
    if d.state != WAITING_QUOTA or not d.steps.get("retry_at"):
        return None
    return _aware(datetime.fromisoformat(d.steps["retry_at"]))


def shown_time(d: Delivery) -> datetime | None:
    """The 发布时间 a published delivery shows (docs/requirements.md R4): the minute its pages were stamped
    with (``steps["shown_at"]``, set by the delivery engine), else — a row delivered before pages were
    stamped, or settled by ``pressroom resolve`` — when it was recorded as published."""
    if d.steps.get("shown_at"):
        return _aware(datetime.fromisoformat(d.steps["shown_at"]))
    return d.published_at


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
    _prepare(eng, url)
    return eng


def _refusal(conn: sa.Connection, shown: str) -> str | None:
    """Why the tables here cannot be used as they are (None: none yet, or at the code's schema)."""
    insp = sa.inspect(conn)
    names = set(insp.get_table_names())
    current = conn.execute(sa.text(f"SELECT version_num FROM {db.VERSION_TABLE}")).scalar() \
        if db.VERSION_TABLE in names else None
    if current is not None:  # migrated: its revision says it all
        if current not in db.revisions():
            return (f"账本数据库 {shown} 的迁移版本 {current} 比本程序新（本程序需要 {db.head()}）："
                    "请改用与之相符的 pressroom 版本。")
        if current == db.head():
            return None
        why = f"迁移版本 {current}，程序需要 {db.head()}"
    else:  # made by Ledger() itself: its tables say
        missing = [f"{t.name}.{c.name}" for t in metadata.sorted_tables if t.name in names
                   for c in t.columns if c.name not in {x["name"] for x in insp.get_columns(t.name)}]
        if not missing:
            return None
        why = f"缺少字段 {'、'.join(missing)}"
    return (f"账本数据库 {shown} 是旧版本的表结构（{why}）。请先运行 pressroom db upgrade（或 pressroom db "
            "upgrade --url …）升级账本，原有记录全部保留；升级后再重新运行。")


def _prepare(eng: sa.Engine, url: str) -> None:
    """Create the tables of a fresh ledger; refuse an older one (it must be migrated, not half-created)."""
    with eng.connect() as conn:
        refusal = _refusal(conn, sa.engine.make_url(url).render_as_string(hide_password=True))
    if refusal:
        eng.dispose()
        raise LedgerOutdated(refusal)
    try:
        metadata.create_all(eng)  # only the tables that are missing: a fresh ledger, or one created by a race
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as e:
        # Two processes opening a new ledger at once: the other one created the tables between our
        # check and our CREATE. Anything else is a real error.
        if "already exists" not in str(e):
            raise
        metadata.create_all(eng)


class Ledger:
    def __init__(self, url: str, lease: timedelta = DEFAULT_LEASE):
        self.engine = engine_for(url)
        self.lease = lease

    # -- rows ---------------------------------------------------------------------------------
    #
    # A version's own row on a channel is its publication or its correction (never both: a channel that had
    # an older version gets the new one as a correction); ``action=None`` finds it, whichever it is. A
    # retraction row is only found by asking for ``RETRACT``.

    def _key(self, release_id: str, channel: str, version: str, action: str | None) -> list:
        where = [deliveries.c.release_id == release_id, deliveries.c.channel == channel,
                 deliveries.c.version == version]
        return where + [deliveries.c.action != RETRACT if action is None else deliveries.c.action == action]

    def ensure(self, release_id: str, channel: str, version: str, action: str | None = None) -> Delivery:
        """The row for this key, created as pending if new (safe when two runs race). ``action`` None or
        PUBLISH: the version's own row, new ones are publications; CORRECT: the version's correction (an
        unsent publication row of it becomes the correction); RETRACT: the withdrawal of ``version``."""
        now = utcnow()
        own = RETRACT if action == RETRACT else None
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(*self._key(release_id, channel, version, own))
                               .order_by(deliveries.c.id)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(deliveries.insert().values(
                            release_id=release_id, channel=channel, version=version, action=action or PUBLISH,
                            state=PENDING, attempts=0, content_hash="", external_id="", url="", steps="{}",
                            last_error="", claimed_by="", created_at=now, updated_at=now))
                except sa.exc.IntegrityError:
                    pass  # the other run created it first
            elif action == CORRECT and row.action == PUBLISH and row.state != PUBLISHED:
                conn.execute(deliveries.update().where(deliveries.c.id == row.id, deliveries.c.state != PUBLISHED)
                             .values(action=CORRECT, updated_at=now))
        return self.get(release_id, channel, version, own)

    def get(self, release_id: str, channel: str, version: str, action: str | None = None) -> Delivery | None:
        """The row for this key; ``action`` None: the version's own row (its publication or correction)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(*self._key(release_id, channel, version, action))
                               .order_by(deliveries.c.id)).first()
        return Delivery.from_row(row) if row else None

    def refresh(self, d: Delivery) -> Delivery | None:
        """The row ``d`` as it is now."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == d.id)).first()
        return Delivery.from_row(row) if row else None

    def rows(self, release_id: str | None = None, action: str | None = None) -> list[Delivery]:
        """Every row (of one release; of one action), retractions included."""
        q = sa.select(deliveries).order_by(deliveries.c.release_id, deliveries.c.channel, deliveries.c.created_at)
        if release_id:
            q = q.where(deliveries.c.release_id == release_id)
        if action:
            q = q.where(deliveries.c.action == action)
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
                deliveries.c.version != version, deliveries.c.action != RETRACT,
                deliveries.c.state == PUBLISHED)).first()
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

    def claim(self, d: Delivery, token: str, as_seen: bool = False) -> Delivery | None:
        """Move the row to delivering for this caller only. None: someone else has it, or it is done.
        ``as_seen``: only if nobody claimed or settled it since ``d`` was read (same state, same number of
        attempts) — a run that read the row before another run settled it reports that outcome instead of
        sending again."""
        now = utcnow()
        claimable = deliveries.c.state.in_(CLAIMABLE)
        current = self.refresh(d)
        if as_seen and (current.state, current.attempts) != (d.state, d.attempts):
            return None
        if current.state == DELIVERING and current.claimed_by != token and self._stale(current, now):
            # The claimer crashed: take it over (the transport looks before it sends again).
            claimable = sa.or_(claimable, sa.and_(deliveries.c.state == DELIVERING,
                                                  deliveries.c.claimed_by == current.claimed_by))
            self.log(d.release_id, d.channel, d.label, "takeover", token,
                     f"接管中断的发布（原执行者 {current.claimed_by}）")
        seen = [deliveries.c.state == d.state, deliveries.c.attempts == d.attempts] if as_seen else []
        n = self._update(d, [claimable, *seen], state=DELIVERING, claimed_by=token, claimed_at=now,
                         attempts=deliveries.c.attempts + 1)
        return self.refresh(d) if n == 1 else None

    def _stale(self, d: Delivery, now: datetime) -> bool:
        return _claimer_is_dead(d.claimed_by) or (d.claimed_at is not None and now - d.claimed_at > self.lease)

    def save_steps(self, d: Delivery, steps: dict) -> None:
        """Remember a platform step's id (draft media_id, publish_id …) the moment it exists. Merged into
        what the row holds by compare-and-swap, so two writers (a delivery and a look-up, two workers)
        never lose each other's ids."""
        while True:
            with self.engine.connect() as conn:
                raw = conn.execute(sa.select(deliveries.c.steps).where(deliveries.c.id == d.id)).scalar_one()
            merged = json.dumps({**json.loads(raw or "{}"), **steps}, ensure_ascii=False, sort_keys=True)
            if self._update(d, [deliveries.c.steps == raw], steps=merged) == 1:
                return

    def mark_published(self, d: Delivery, token: str, external_id: str = "", url: str = "") -> None:
        self._update(d, [deliveries.c.claimed_by == token], state=PUBLISHED, external_id=external_id,
                     url=url, published_at=utcnow(), last_error="")
        self.log(d.release_id, d.channel, d.label, "published", token, url or external_id)

    def mark_failed(self, d: Delivery, token: str, error: str, state: str = FAILED) -> None:
        self._update(d, [deliveries.c.claimed_by == token], state=state, last_error=error[:4000])
        self.log(d.release_id, d.channel, d.label, state, token, error[:4000])

    def mark_waiting(self, d: Delivery, token: str, error: str, retry_at: datetime) -> None:
        """The outlet's quota is used up: the row waits (等待配额) until ``retry_at``, in the audit trail too."""
        self.save_steps(d, {"retry_at": retry_at.astimezone(timezone.utc).isoformat()})
        self._update(d, [deliveries.c.claimed_by == token], state=WAITING_QUOTA, last_error=error[:4000])
        self.log(d.release_id, d.channel, d.label, WAITING_QUOTA, token,
                 f"{error[:3800]}（额度恢复：{retry_at.isoformat()}）")

    def set_state(self, d: Delivery, state: str, detail: str = "", actor: str = "") -> None:
        self._update(d, state=state, last_error=detail if state != PUBLISHED else "")
        self.log(d.release_id, d.channel, d.label, state, actor, detail)

    def unsettled_reason(self, d: Delivery | None) -> str | None:
        """Why ``d`` cannot be settled by an editor (None: it can — any row not published and not being
        delivered right now: 待核实, failed, skipped, waiting for a quota, or delivering with a dead claimer)."""
        if d is None:
            return "无记录"
        if d.state == PUBLISHED:
            return "已发布"
        if d.state in (PENDING, RENDERED) and d.attempts == 0:
            return f"{STATE_LABELS[d.state]}，尚未发送过"
        if d.state == DELIVERING and not self._stale(d, utcnow()):
            return f"发布中，执行者 {d.claimed_by} 仍在运行"
        if d.state == RETRACTED:
            return "已撤稿"
        return None

    def resolve(self, d: Delivery, url: str | None, actor: str, external_id: str = "") -> bool:
        """An editor checked a delivery that is not settled on the platform: published there (with its URL
        and the outlet's id, so a retraction can delete it), or not (the row becomes claimable; the step in
        flight is cleared, and the next run looks on the outlet again before it sends). False: the row
        changed meanwhile (another run took it), nothing was recorded."""
        where = [deliveries.c.state == d.state, deliveries.c.attempts == d.attempts]
        was = STATE_LABELS.get(d.state, d.state)
        if url:
            if not self._update(d, where, state=PUBLISHED, url=url, external_id=external_id, published_at=utcnow(),
                                last_error="", claimed_by=""):
                return False
            self.log(d.release_id, d.channel, d.label, "resolved-published", actor,
                     f"{url}（平台 id {external_id or '未提供'}；原状态 {was}）")
            return True
        if not self._update(d, where, state=FAILED, last_error="经核实未发布，下次发送前会先到平台查询", claimed_by=""):
            return False
        self.save_steps(d, {"resolved": "not-published", "sending": "", "unconfirmed": ""})
        self.log(d.release_id, d.channel, d.label, "resolved-not-published", actor, f"原状态 {was}")
        return True

    # -- audit trail ------------------------------------------------------------------------------

    def log(self, release_id: str, channel: str, version: str, action: str, actor: str = "", detail: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(events.insert().values(at=utcnow(), release_id=release_id, channel=channel,
                                                version=version, action=action, actor=actor, detail=detail))

    def history(self, release_id: str) -> list[dict]:
        """The release's audit trail, oldest first: its events and its approval decisions (shown as the
        events they once were; a ledger migrated from then keeps those events too, and they are not listed
        twice)."""
        legacy = tuple(DECISION_EVENTS.values())  # decisions logged as events before ``approvals``
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(events).where(events.c.release_id == release_id,
                                                        events.c.action.not_in(legacy))
                                .order_by(events.c.at, events.c.id))
            out = [{**dict(r._mapping), "at": _aware(r.at)} for r in rows]
        out += [a.as_event() for a in self.approvals(release_id)]
        return sorted(out, key=lambda e: e["at"])  # stable: each source is already in order

    # -- approvals ----------------------------------------------------------------------------------

    def add_approval(self, release_id: str, signature: str, level: str, decision: str, reviewer: str,
                     role: str = "", comment: str = "", run_id: str = "", versions: dict | None = None) -> None:
        """Record a sign-off (SIGN_OFF) or a rejection (REJECT) of the content with this signature."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
        with self.engine.begin() as conn:
            conn.execute(approvals.insert().values(
                at=utcnow(), release_id=release_id, signature=signature, level=level, decision=decision,
                reviewer=reviewer, role=role, comment=comment, run_id=run_id,
                versions=json.dumps(versions or {}, ensure_ascii=False)))

    def approvals(self, release_id: str, signature: str | None = None) -> list[Approval]:
        """The decisions recorded with a release (for exactly this content, given its signature), oldest first."""
        q = sa.select(approvals).where(approvals.c.release_id == release_id)
        if signature is not None:
            q = q.where(approvals.c.signature == signature)
        with self.engine.connect() as conn:
            return [Approval.from_row(r) for r in conn.execute(q.order_by(approvals.c.at, approvals.c.id))]

    # -- waived findings of the fidelity audit ---------------------------------------------------------

    def add_waiver(self, release_id: str, version: str, finding: str, channel: str, fact: str, reason: str,
                   reviewer: str) -> bool:
        """Record that ``reviewer`` (verified) waived one finding of this release version, and why; the audit
        trail gets an ``audit-waived`` event. False when that finding was waived already."""
        try:
            with self.engine.begin() as conn:
                conn.execute(audit_waivers.insert().values(
                    at=utcnow(), release_id=release_id, version=version, finding=finding, channel=channel,
                    fact=fact, reason=reason, reviewer=reviewer))
                conn.execute(events.insert().values(
                    at=utcnow(), release_id=release_id, channel=channel, version=version, action=AUDIT_WAIVED,
                    actor=reviewer, detail=json.dumps({"finding": finding, "fact": fact, "reason": reason},
                                                      ensure_ascii=False)))
            return True
        except sa.exc.IntegrityError:
            return False

    def waivers(self, release_id: str | None = None) -> list[dict]:
        """The waived findings (of one release, or all), oldest first."""
        q = sa.select(audit_waivers)
        if release_id is not None:
            q = q.where(audit_waivers.c.release_id == release_id)
        with self.engine.connect() as conn:
            return [{**dict(r._mapping), "at": _aware(r.at)}
                    for r in conn.execute(q.order_by(audit_waivers.c.at, audit_waivers.c.id))]

    # -- reviewers' one-time codes (never the code or its secret: the time step, the count of wrong ones) --

    def use_code(self, reviewer: str, step: int, purpose: str = "") -> bool:
        """Mark ``reviewer``'s code of TOTP time step ``step`` used; False when it was used already (a replay),
        here or on any worker sharing the ledger."""
        try:
            with self.engine.begin() as conn:
                conn.execute(code_uses.insert().values(reviewer=reviewer, step=step, at=utcnow(), purpose=purpose[:256]))
            return True
        except sa.exc.IntegrityError:
            return False

    def code_unused(self, reviewer: str, step: int) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(code_uses.c.step).where(code_uses.c.reviewer == reviewer,
                                                                  code_uses.c.step == step)).first() is None

    def locked_until(self, reviewer: str) -> datetime | None:
        """When the reviewer's lock-out ends, if they are locked out now."""
        with self.engine.connect() as conn:
            until = conn.execute(sa.select(reviewer_locks.c.locked_until)
                                 .where(reviewer_locks.c.reviewer == reviewer)).scalar()
        until = _aware(until)
        return until if until and until > utcnow() else None

    def code_failed(self, reviewer: str, limit: int, lock_for: timedelta) -> datetime | None:
        """Count a wrong code; the ``limit``-th in a row locks the reviewer for ``lock_for`` (returned)."""
        now = utcnow()
        with self.engine.begin() as conn:
            if conn.execute(reviewer_locks.update().where(reviewer_locks.c.reviewer == reviewer).values(
                    failures=reviewer_locks.c.failures + 1, updated_at=now)).rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(reviewer_locks.insert().values(reviewer=reviewer, failures=1, updated_at=now))
                except sa.exc.IntegrityError:  # another worker counted the first one at the same moment
                    conn.execute(reviewer_locks.update().where(reviewer_locks.c.reviewer == reviewer).values(
                        failures=reviewer_locks.c.failures + 1, updated_at=now))
            if conn.execute(reviewer_locks.update().where(
                    reviewer_locks.c.reviewer == reviewer, reviewer_locks.c.failures >= limit).values(
                    failures=0, locked_until=now + lock_for)).rowcount:
                return now + lock_for
        return None

    def code_passed(self, reviewer: str) -> None:
        """A good code: the count of wrong ones starts again."""
        with self.engine.begin() as conn:
            conn.execute(reviewer_locks.update().where(reviewer_locks.c.reviewer == reviewer)
                         .values(failures=0, updated_at=utcnow()))

    # -- outlets (the circuit breaker) --------------------------------------------------------------

    def outlet_state(self, outlet: str) -> OutletState | None:
        """The breaker's state of one outlet; None when it was never disabled."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(outlet_state).where(outlet_state.c.outlet == outlet)).first()
        return OutletState.from_row(row) if row else None

    def outlet_states(self) -> dict[str, OutletState]:
        with self.engine.connect() as conn:
            return {r.outlet: OutletState.from_row(r) for r in conn.execute(sa.select(outlet_state))}

    def set_outlet_state(self, outlet: str, state: str, reason: str = "", actor: str = "") -> bool:
        """Disable or enable ``outlet``; True when this call changed it (then an event is logged too, in the
        same transaction). Concurrent callers: exactly one of them changes it."""
        if state not in OUTLET_EVENTS:
            raise ValueError(f"state must be {ENABLED!r} or {DISABLED!r}, not {state!r}")
        now = utcnow()
        values = dict(state=state, reason=reason, since=now, actor=actor)
        with self.engine.begin() as conn:
            changed = conn.execute(outlet_state.update().where(
                outlet_state.c.outlet == outlet, outlet_state.c.state != state).values(**values)).rowcount == 1
            if not changed and state == DISABLED and conn.execute(
                    sa.select(outlet_state.c.outlet).where(outlet_state.c.outlet == outlet)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(outlet_state.insert().values(outlet=outlet, **values))
                    changed = True
                except sa.exc.IntegrityError:
                    pass  # another worker disabled it at the same moment
            if changed:
                conn.execute(events.insert().values(at=now, release_id=OUTLETS_ID, channel=outlet, version="",
                                                    action=OUTLET_EVENTS[state], actor=actor, detail=reason))
        return changed
