"""Audit log is append-only: database triggers refuse UPDATE and DELETE on audit_events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MESSAGE = "audit_events is append-only: record a correction as a new event"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION ssj_audit_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER ssj_audit_no_update BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION ssj_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER ssj_audit_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION ssj_audit_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ssj_audit_no_{verb.lower()} BEFORE {verb} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ssj_audit_no_truncate ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS ssj_audit_no_update ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS ssj_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS ssj_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS ssj_audit_no_delete")
