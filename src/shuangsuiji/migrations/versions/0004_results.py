"""Results (versioned), agency result categories, publications; team assignment records.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draws") as batch:
        batch.add_column(sa.Column("assignment", sa.Text, nullable=True))
    op.create_table(
        "result_categories",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("label_zh", sa.String(200), nullable=False),
        sa.Column("label_en", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task", sa.String(64), sa.ForeignKey("tasks.code"), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("follow_up", sa.Text, nullable=False),
        sa.Column("inspection_start", sa.Date, nullable=False),
        sa.Column("inspection_end", sa.Date, nullable=False),
        sa.Column("inspectors", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("correction_reason", sa.Text, nullable=False),
        sa.UniqueConstraint("task", "entity_id", "item", "version", name="uq_results_version"),
    )
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task", sa.String(64), sa.ForeignKey("tasks.code"), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("published", sa.Date, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("time", sa.String(40), nullable=False),
    )
    op.create_index("ix_publications_task_entity", "publications", ["task", "entity_id"])


def downgrade() -> None:
    op.drop_index("ix_publications_task_entity", "publications")
    op.drop_table("publications")
    op.drop_table("results")
    op.drop_table("result_categories")
    with op.batch_alter_table("draws") as batch:
        batch.drop_column("assignment")
