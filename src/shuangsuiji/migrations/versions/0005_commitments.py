"""Re-draw approvals, pre-draw announcements and team seeds on draws.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draws") as batch:
        batch.add_column(sa.Column("reason_text", sa.Text, nullable=False, server_default=""))
        batch.add_column(
            sa.Column("approved_by", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("announcement", sa.Text, nullable=True))
        batch.add_column(sa.Column("team_seed", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("draws") as batch:
        for column in ("team_seed", "announcement", "approved_by", "reason_text"):
            batch.drop_column(column)
