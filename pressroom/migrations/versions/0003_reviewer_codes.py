"""The reviewers' one-time codes: ``code_uses`` (each reviewer's TOTP time step used once, so a code cannot
be replayed, on any worker) and ``reviewer_locks`` (wrong codes in a row lock a reviewer for a while).
Neither holds a secret or a code. Nothing existing changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_uses",
        sa.Column("reviewer", sa.String(128), primary_key=True),
        sa.Column("step", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.String(256), nullable=False),
    )
    op.create_table(
        "reviewer_locks",
        sa.Column("reviewer", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reviewer_locks")
    op.drop_table("code_uses")
