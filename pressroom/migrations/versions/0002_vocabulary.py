"""An explicit vocabulary: ``deliveries.action`` (publish / correct / retract, part of the unique key), the
``approvals`` table (sign-offs and rejections) and ``outlet_state`` (the circuit breaker).

Every row is kept. A retraction row, stored until now as version ``retract-<v>``, becomes (version ``<v>``,
action ``retract``); a row whose ``steps`` hold a ``correction`` record becomes action ``correct``; every
other row is ``publish``. Sign-off and rejection events are copied into ``approvals``, and the newest trip or
reset of each outlet into ``outlet_state``. The events themselves stay, untouched: they are the audit trail
(``Ledger.history`` shows a decision once, from ``approvals``). SQLite changes the unique key in batch mode
(the table is rebuilt, ids kept).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The vocabulary as it is written in this revision (the application's constants may move on).
RETRACT_PREFIX = "retract-"
DECISION_OF_EVENT = {"signoff": "signoff", "rejected": "reject"}
OUTLETS_ID = "*outlets*"
STATE_OF_EVENT = {"outlet-disabled": "disabled", "outlet-enabled": "enabled"}
CHUNK = 500

deliveries = sa.table("deliveries", sa.column("id", sa.Integer), sa.column("version", sa.String),
                      sa.column("action", sa.String), sa.column("steps", sa.Text))
events = sa.table("events", sa.column("id", sa.Integer), sa.column("at", sa.DateTime(timezone=True)),
                  sa.column("release_id", sa.String), sa.column("channel", sa.String),
                  sa.column("version", sa.String), sa.column("action", sa.String), sa.column("actor", sa.String),
                  sa.column("detail", sa.Text))


def _approvals_table() -> sa.Table:
    return op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("level", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("versions", sa.Text, nullable=False),
    )


def _outlet_state_table() -> sa.Table:
    return op.create_table(
        "outlet_state",
        sa.Column("outlet", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
    )


def _decision(e) -> dict:
    """A sign-off or rejection event as an ``approvals`` row (its detail is the JSON ``approval.record``
    wrote; anything else is kept whole as the comment)."""
    try:
        d = json.loads(e.detail or "{}")
    except ValueError:
        d = None
    if not isinstance(d, dict):
        d = {"comment": e.detail or ""}
    versions = d.get("versions") if isinstance(d.get("versions"), dict) else {}
    return {"at": e.at, "release_id": e.release_id, "signature": e.version, "level": str(d.get("level") or ""),
            "decision": DECISION_OF_EVENT[e.action], "reviewer": e.actor or "", "role": str(d.get("role") or ""),
            "comment": str(d.get("comment") or ""), "run_id": str(d.get("run") or ""),
            "versions": json.dumps(versions, ensure_ascii=False)}


def _insert(conn: sa.Connection, table, rows: list[dict]) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[i:i + CHUNK])


def upgrade() -> None:
    # The key first: the withdrawn version's row and its retraction row may then share a version.
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("action", sa.String(16), nullable=False, server_default="publish"))
        batch.drop_constraint("uq_delivery", type_="unique")
        batch.create_unique_constraint("uq_delivery", ["release_id", "channel", "version", "action"])
    conn = op.get_bind()

    conn.execute(deliveries.update().where(deliveries.c.version.like(f"{RETRACT_PREFIX}%"))
                 .values(action="retract", version=sa.func.substr(deliveries.c.version, len(RETRACT_PREFIX) + 1)))

    corrections = []
    for row in conn.execute(sa.select(deliveries.c.id, deliveries.c.steps).where(
            deliveries.c.action == "publish", deliveries.c.steps.like('%"correction"%'))):
        try:
            steps = json.loads(row.steps or "{}")
        except ValueError:
            continue
        if isinstance(steps, dict) and "correction" in steps:
            corrections.append(row.id)
    for i in range(0, len(corrections), CHUNK):
        conn.execute(deliveries.update().where(deliveries.c.id.in_(corrections[i:i + CHUNK])).values(action="correct"))

    approvals = _approvals_table()
    op.create_index("ix_approvals_release_signature", "approvals", ["release_id", "signature"])
    decided = conn.execute(sa.select(events).where(events.c.action.in_(list(DECISION_OF_EVENT)))
                           .order_by(events.c.at, events.c.id)).all()
    _insert(conn, approvals, [_decision(e) for e in decided])

    outlets = _outlet_state_table()
    newest: dict[str, dict] = {}
    for e in conn.execute(sa.select(events).where(events.c.release_id == OUTLETS_ID,
                                                  events.c.action.in_(list(STATE_OF_EVENT)))
                          .order_by(events.c.at, events.c.id)):
        newest[e.channel] = {"outlet": e.channel, "state": STATE_OF_EVENT[e.action], "reason": e.detail or "",
                             "since": e.at, "actor": e.actor or ""}
    _insert(conn, outlets, list(newest.values()))


def downgrade() -> None:
    conn = op.get_bind()
    # Decisions recorded since the upgrade exist only in ``approvals``: back into the audit trail with them.
    approvals = sa.table("approvals", *(sa.column(c, t) for c, t in (
        ("at", sa.DateTime(timezone=True)), ("release_id", sa.String), ("signature", sa.String),
        ("level", sa.String), ("decision", sa.String), ("reviewer", sa.String), ("role", sa.String),
        ("comment", sa.Text), ("run_id", sa.String), ("versions", sa.Text))))
    event_of = {v: k for k, v in DECISION_OF_EVENT.items()}
    logged = {(e.release_id, e.version, e.action, e.actor, e.at) for e in conn.execute(
        sa.select(events).where(events.c.action.in_(list(DECISION_OF_EVENT))))}
    back = []
    for a in conn.execute(sa.select(approvals).order_by(approvals.c.at)):
        key = (a.release_id, a.signature, event_of[a.decision], a.reviewer, a.at)
        if key not in logged:
            detail = {"level": a.level, "role": a.role, "comment": a.comment, "run": a.run_id,
                      "versions": json.loads(a.versions or "{}")}
            back.append({"at": a.at, "release_id": a.release_id, "channel": "", "version": a.signature,
                         "action": event_of[a.decision], "actor": a.reviewer,
                         "detail": json.dumps(detail, ensure_ascii=False)})
    _insert(conn, events, back)
    op.drop_table("outlet_state")  # its every change is an event already
    op.drop_index("ix_approvals_release_signature", table_name="approvals")
    op.drop_table("approvals")

    conn.execute(deliveries.update().where(deliveries.c.action == "retract")
                 .values(version=sa.literal(RETRACT_PREFIX, sa.String) + deliveries.c.version))
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_delivery", type_="unique")
        batch.create_unique_constraint("uq_delivery", ["release_id", "channel", "version"])
        batch.drop_column("action")
