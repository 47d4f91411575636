"""An index on results (task, id): a task's results page by page without sorting them all.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_results_task_id", "results", ["task", "id"])


def downgrade() -> None:
    op.drop_index("ix_results_task_id", table_name="results")
