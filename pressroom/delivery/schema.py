"""The ledger's vocabulary and tables: row states, actions, decisions, outlet states, and the four tables
(``deliveries``, ``events``, ``approvals``, ``outlet_state``, the reviewers' one-time codes: ``code_uses``,
``reviewer_locks``, and the waived findings of the fidelity audit: ``audit_waivers``). Alembic migrations (``pressroom/migrations``)
take a ledger of any earlier version to exactly these."""

from __future__ import annotations

import sqlalchemy as sa

PENDING, RENDERED, DELIVERING, PUBLISHED, FAILED, RETRACTED, UNCONFIRMED, SKIPPED = (
    "pending", "rendered", "delivering", "published", "failed", "retracted", "unconfirmed", "skipped")
# The outlet's quota is used up (WeChat's daily 45009, Weibo's hourly limit): nothing was sent; the row
# waits until the reset, kept in ``steps["retry_at"]`` (ISO 8601), and is claimed again only after it.
WAITING_QUOTA = "waiting-quota"
CLAIMABLE = (PENDING, RENDERED, FAILED, SKIPPED, WAITING_QUOTA)  # skipped: its outlet was disabled, now back
STATE_LABELS = {
    PENDING: "待发布", RENDERED: "已生成", DELIVERING: "发布中", PUBLISHED: "已发布", FAILED: "失败",
    RETRACTED: "已撤稿", UNCONFIRMED: "待核实", SKIPPED: "已跳过", WAITING_QUOTA: "等待配额",
}

# What a delivery row delivers (``deliveries.action``).
PUBLISH, CORRECT, RETRACT = "publish", "correct", "retract"
ACTIONS = (PUBLISH, CORRECT, RETRACT)
# How the audit trail names a retraction row's version: ``retract-<withdrawn version>``, as it always has
# (events are never rewritten, so old and new entries read alike), and the version of its renditions.
RETRACT_LABEL = "retract-"

# Decisions of the approval gate (``approvals.decision``), and the audit trail's names for them.
SIGN_OFF, REJECT = "signoff", "reject"
DECISIONS = (SIGN_OFF, REJECT)
DECISION_EVENTS = {SIGN_OFF: "signoff", REJECT: "rejected"}

# The circuit breaker (``outlet_state.state``); its trips and resets are also events of the pseudo release
# ``OUTLETS_ID``, so ``pressroom history '*outlets*'`` lists them.
ENABLED, DISABLED = "enabled", "disabled"
OUTLETS_ID = "*outlets*"
OUTLET_EVENTS = {DISABLED: "outlet-disabled", ENABLED: "outlet-enabled"}

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
    sa.Column("action", sa.String(16), nullable=False, default=PUBLISH, server_default=PUBLISH),
    sa.UniqueConstraint("release_id", "channel", "version", "action", name="uq_delivery"),
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
approvals = sa.Table(
    "approvals", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("release_id", sa.String(64), nullable=False),  # one row per part of the bundle signed
    sa.Column("signature", sa.String(64), nullable=False),  # of the whole bundle's content
    sa.Column("level", sa.String(64), nullable=False, default=""),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reviewer", sa.String(128), nullable=False, default=""),
    sa.Column("role", sa.String(64), nullable=False, default=""),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("run_id", sa.String(64), nullable=False, default=""),
    sa.Column("versions", sa.Text, nullable=False, default="{}"),  # JSON: release id -> version signed
    sa.Index("ix_approvals_release_signature", "release_id", "signature"),
)
outlet_state = sa.Table(
    "outlet_state", metadata,
    sa.Column("outlet", sa.String(32), primary_key=True),  # a transport name: "wechat", "smtp" …
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False, default=""),
)

# The reviewers' one-time codes (TOTP, RFC 6238), shared by every worker: a code's time step is used once
# per reviewer (the primary key refuses a replay), and wrong codes in a row lock that reviewer for a while.
# Neither the secret nor the code is ever stored: only the step number.
code_uses = sa.Table(
    "code_uses", metadata,
    sa.Column("reviewer", sa.String(128), primary_key=True),
    sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("purpose", sa.String(256), nullable=False, default=""),
)
reviewer_locks = sa.Table(
    "reviewer_locks", metadata,
    sa.Column("reviewer", sa.String(128), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),  # wrong codes since the last good one
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# A finding of the fidelity audit (a fact a full-text channel drops, or one any channel adds) waived by a
# verified reviewer with a reason: for that release version only (an edit makes a new version, audited
# afresh). The event ``audit-waived`` puts it in ``pressroom history``.
AUDIT_WAIVED = "audit-waived"
audit_waivers = sa.Table(
    "audit_waivers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("release_id", sa.String(64), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("finding", sa.String(16), nullable=False),  # the audit's id of the finding
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("fact", sa.Text, nullable=False),  # what the finding says, as the reviewer saw it
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reviewer", sa.String(128), nullable=False),
    sa.UniqueConstraint("release_id", "version", "finding", name="uq_audit_waiver"),
)
