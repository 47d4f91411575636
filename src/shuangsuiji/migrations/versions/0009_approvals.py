"""Approvals: a second person's consent to a re-draw, an abandon or a back-dated publication,
recorded as its own row (and audit events) instead of a name the actor types.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("task", sa.String(64), sa.ForeignKey("tasks.code"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.String(40), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=True),
        sa.Column("granted_at", sa.String(40), nullable=True),
        sa.Column("closed_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_approvals_task", "approvals", ["task"])


def downgrade() -> None:
    op.drop_index("ix_approvals_task", table_name="approvals")
    op.drop_table("approvals")
