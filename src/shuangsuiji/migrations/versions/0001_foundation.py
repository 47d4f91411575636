"""Foundation: departments, pools, conflicts, items, plans, tasks, policies, audit events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
    )
    op.create_table(
        "entities",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("industry", sa.String(8), nullable=False),
        sa.Column("region", sa.String(12), nullable=False),
        sa.Column("registered", sa.Date, nullable=False),
        sa.Column("tier", sa.String(1), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
    )
    op.create_index("ix_entities_region", "entities", ["region"])
    op.create_index("ix_entities_industry", "entities", ["industry"])
    op.create_index("ix_entities_tier", "entities", ["tier"])
    op.create_table(
        "inspectors",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("department", sa.String(64), sa.ForeignKey("departments.code"), nullable=False),
        sa.Column("region", sa.String(12), nullable=False),
        sa.Column("home_region", sa.String(12), nullable=False),
        sa.Column("certificate_no", sa.String(64), nullable=False),
        sa.Column("certificate_expiry", sa.Date, nullable=False),
        sa.Column("qualifications", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
    )
    op.create_index("ix_inspectors_department", "inspectors", ["department"])
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("inspector_id", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("relation", sa.String(100), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
        sa.UniqueConstraint("inspector_id", "entity_id", "relation", name="uq_conflicts_pair"),
    )
    op.create_index("ix_conflicts_entity", "conflicts", ["entity_id"])
    op.create_table(
        "items",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("department", sa.String(64), sa.ForeignKey("departments.code"), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("key", sa.Boolean, nullable=False),
        sa.Column("default_ratio", sa.Float, nullable=True),
        sa.Column("frequency_per_year", sa.Integer, nullable=False),
        sa.Column("required_qualifications", sa.Text, nullable=False),
    )
    op.create_table(
        "plans",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("departments", sa.Text, nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("plan", sa.String(64), sa.ForeignKey("plans.code"), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("departments", sa.Text, nullable=False),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date, nullable=False),
        sa.Column("population", sa.Text, nullable=False),
        sa.Column("ratio", sa.Float, nullable=True),
    )
    op.create_table(
        "policies",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("toml", sa.Text, nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )


def downgrade() -> None:
    for table in (
        "audit_events",
        "policies",
        "tasks",
        "plans",
        "items",
        "conflicts",
        "inspectors",
        "entities",
        "imports",
        "departments",
    ):
        op.drop_table(table)
