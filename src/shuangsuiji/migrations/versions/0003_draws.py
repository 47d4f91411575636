"""Draws: frozen candidates, selections and alternates, replacements, team members.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
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
        "draws",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task", sa.String(64), sa.ForeignKey("tasks.code"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cutoff", sa.Date, nullable=False),
        sa.Column("policy_hash", sa.String(64), nullable=False),
        sa.Column("pool_digest", sa.String(64), nullable=False),
        sa.Column("candidates", sa.Integer, nullable=False),
        sa.Column("ticket_scheme", sa.String(32), nullable=False),
        sa.Column("strata", sa.Text, nullable=False),
        sa.Column("exclusions", sa.Text, nullable=False),
        sa.Column("seed_record", sa.Text, nullable=False),
        sa.Column("seed", sa.String(128), nullable=True),
        sa.Column("bundle", sa.Text, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("frozen_time", sa.String(32), nullable=False),
        sa.Column("drawn_time", sa.String(32), nullable=True),
        sa.UniqueConstraint("task", "attempt", name="uq_draws_task_attempt"),
    )
    op.create_table(
        "draw_candidates",
        sa.Column("draw_id", sa.Integer, sa.ForeignKey("draws.id"), primary_key=True),
        sa.Column("entity_id", sa.String(64), primary_key=True),
        sa.Column("stratum", sa.String(200), nullable=False),
    )
    op.create_table(
        "draw_picks",
        sa.Column("draw_id", sa.Integer, sa.ForeignKey("draws.id"), primary_key=True),
        sa.Column("entity_id", sa.String(64), primary_key=True),
        sa.Column("stratum", sa.String(200), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
    )
    op.create_index("ix_draw_picks_entity", "draw_picks", ["entity_id"])
    op.create_table(
        "replacements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("draw_id", sa.Integer, sa.ForeignKey("draws.id"), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("replaced_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column("draw_id", sa.Integer, sa.ForeignKey("draws.id"), primary_key=True),
        sa.Column("entity_id", sa.String(64), primary_key=True),
        sa.Column("inspector_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_team_members_inspector", "team_members", ["inspector_id"])


def downgrade() -> None:
    op.drop_index("ix_team_members_inspector", "team_members")
    op.drop_table("team_members")
    op.drop_table("replacements")
    op.drop_index("ix_draw_picks_entity", "draw_picks")
    op.drop_table("draw_picks")
    op.drop_table("draw_candidates")
    op.drop_table("draws")
