"""The relational schema (SQLAlchemy 2 typed declarative models).

The Alembic revisions under ``shuangsuiji/migrations`` create exactly these tables; a test
compares them, so the two cannot drift apart. Set-valued columns (tags, qualifications,
department lists) are stored as ``|``-separated text or canonical JSON so that a host
system's DBA can read them without the library.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApprovalRow",
    "AuditEventRow",
    "Base",
    "ConflictRow",
    "DepartmentRow",
    "EntityRow",
    "ImportRow",
    "InspectorRow",
    "ItemRow",
    "PlanRow",
    "PolicyRow",
    "TaskRow",
]

ID = String(64)
CODE = String(64)
HASH = String(64)
TEXT_LIMIT = 4_000
"""Most characters of a free text a person writes (a reason, a note); the store refuses more."""


class Base(DeclarativeBase):
    """Declarative base of every table the library owns."""


class DepartmentRow(Base):
    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class RegionRow(Base):
    """The name of an administrative division (行政区划代码 → 名称), for official pages only:
    strata and regions are printed by name. Decides nothing about who is drawn."""

    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class ImportRow(Base):
    """One pool import: what, from where, how many rows, the digest of what was stored."""

    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(500))
    mode: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(HASH)
    actor: Mapped[str] = mapped_column(String(200))
    time: Mapped[str] = mapped_column(String(32))


class EntityRow(Base):
    __tablename__ = "entities"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    entity_type: Mapped[str] = mapped_column(String(64))
    industry: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(12))
    registered: Mapped[date] = mapped_column(Date)
    tier: Mapped[str] = mapped_column(String(1))
    status: Mapped[str] = mapped_column(String(16))
    tags: Mapped[str] = mapped_column(Text, default="")
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"), nullable=True)
    __table_args__ = (
        Index("ix_entities_region", "region"),
        Index("ix_entities_industry", "industry"),
        Index("ix_entities_tier", "tier"),
    )


class InspectorRow(Base):
    __tablename__ = "inspectors"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    region: Mapped[str] = mapped_column(String(12))
    home_region: Mapped[str] = mapped_column(String(12), default="")
    certificate_no: Mapped[str] = mapped_column(String(64))
    certificate_expiry: Mapped[date] = mapped_column(Date)
    qualifications: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"), nullable=True)
    __table_args__ = (Index("ix_inspectors_department", "department"),)


class ConflictRow(Base):
    """A declared conflict of interest (回避)."""

    __tablename__ = "conflicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspector_id: Mapped[str] = mapped_column(ID)
    entity_id: Mapped[str] = mapped_column(ID)
    relation: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id"), nullable=True)
    __table_args__ = (
        UniqueConstraint("inspector_id", "entity_id", "relation", name="uq_conflicts_pair"),
        Index("ix_conflicts_entity", "entity_id"),
    )


class ItemRow(Base):
    """One line of the inspection item list (一单)."""

    __tablename__ = "items"
    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    name: Mapped[str] = mapped_column(String(300))
    legal_basis: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(32))
    key: Mapped[bool] = mapped_column(Boolean)
    default_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    frequency_per_year: Mapped[int] = mapped_column(Integer)
    required_qualifications: Mapped[str] = mapped_column(Text, default="")


class PlanRow(Base):
    """The annual sampling plan (一表)."""

    __tablename__ = "plans"
    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300), info={"label": "plan name"})
    departments: Mapped[str] = mapped_column(Text)


class TaskRow(Base):
    """One inspection task (抽查任务)."""

    __tablename__ = "tasks"
    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    plan: Mapped[str] = mapped_column(ForeignKey("plans.code"))
    name: Mapped[str] = mapped_column(String(300), info={"label": "task name"})
    departments: Mapped[str] = mapped_column(Text)
    items: Mapped[str] = mapped_column(Text)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    population: Mapped[str] = mapped_column(Text)
    ratio: Mapped[float | None] = mapped_column(Float, nullable=True)


class PolicyRow(Base):
    """A policy version (一细则), keyed by its content hash."""

    __tablename__ = "policies"
    hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[str] = mapped_column(String(64))
    toml: Mapped[str] = mapped_column(Text)
    time: Mapped[str] = mapped_column(String(32))


class AuditEventRow(Base):
    """One event of the append-only, hash-chained audit log."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(HASH)
    hash: Mapped[str] = mapped_column(HASH, unique=True)


class DrawRow(Base):
    """One draw of a task (attempt 1, or a re-draw with its reason); the first stays on record.

    ``state`` runs frozen → drawn, or frozen → abandoned. A re-draw has a listed ``reason``
    code, its ``reason_text`` and the second person who ``approved_by`` it. ``seed_record`` is
    the seed's provenance (ceremony commitments and reveals, or the public-value announcement)
    as canonical JSON; ``announcement`` the pre-draw announcement (SSJ-ANNOUNCE-1);
    ``team_seed`` the frozen staffing and its team-seed ceremony; ``bundle`` the full draw
    bundle once drawn.
    """

    __tablename__ = "draws"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.code"))
    attempt: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(
        Text, default="", info={"label": "re-draw reason", "max_chars": TEXT_LIMIT}
    )
    reason_text: Mapped[str] = mapped_column(
        Text,
        default="",
        server_default="",
        info={"label": "re-draw reason text", "max_chars": TEXT_LIMIT},
    )
    approved_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    state: Mapped[str] = mapped_column(String(16))
    cutoff: Mapped[date] = mapped_column(Date)
    policy_hash: Mapped[str] = mapped_column(HASH)
    pool_digest: Mapped[str] = mapped_column(HASH)
    candidates: Mapped[int] = mapped_column(Integer)
    ticket_scheme: Mapped[str] = mapped_column(String(32))
    strata: Mapped[str] = mapped_column(Text)
    exclusions: Mapped[str] = mapped_column(Text)
    seed_record: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[str | None] = mapped_column(String(128), nullable=True)
    bundle: Mapped[str | None] = mapped_column(Text, nullable=True)
    assignment: Mapped[str | None] = mapped_column(Text, nullable=True)
    announcement: Mapped[str | None] = mapped_column(Text, nullable=True)
    team_seed: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    frozen_time: Mapped[str] = mapped_column(String(32))
    drawn_time: Mapped[str | None] = mapped_column(String(32), nullable=True)
    __table_args__ = (UniqueConstraint("task", "attempt", name="uq_draws_task_attempt"),)


class DrawCandidateRow(Base):
    """A frozen candidate of a draw and its stratum (the set the pool digest commits to)."""

    __tablename__ = "draw_candidates"
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), primary_key=True)
    entity_id: Mapped[str] = mapped_column(ID, primary_key=True)
    stratum: Mapped[str] = mapped_column(String(200))


class DrawPickRow(Base):
    """A selected entity or an ordered alternate of a draw, with its ticket."""

    __tablename__ = "draw_picks"
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), primary_key=True)
    entity_id: Mapped[str] = mapped_column(ID, primary_key=True)
    stratum: Mapped[str] = mapped_column(String(200))
    rank: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    ticket: Mapped[str] = mapped_column(HASH)
    __table_args__ = (Index("ix_draw_picks_entity", "entity_id"),)


class ReplacementRow(Base):
    """A selected entity replaced by its stratum's next alternate, with the reason."""

    __tablename__ = "replacements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"))
    entity_id: Mapped[str] = mapped_column(ID)
    replaced_by: Mapped[str] = mapped_column(ID)
    reason: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(
        Text, default="", info={"label": "replacement note", "max_chars": TEXT_LIMIT}
    )
    actor: Mapped[str] = mapped_column(String(200))
    time: Mapped[str] = mapped_column(String(32))
    #: Alternates passed over (selected by another task inside the exclusion window), as
    #: canonical JSON ``[{"id": ..., "task": ...}]``.
    skipped: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")


class TeamMemberRow(Base):
    """One inspector of the team sent to one selected entity (current assignment)."""

    __tablename__ = "team_members"
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), primary_key=True)
    entity_id: Mapped[str] = mapped_column(ID, primary_key=True)
    inspector_id: Mapped[str] = mapped_column(ID, primary_key=True)
    __table_args__ = (Index("ix_team_members_inspector", "inspector_id"),)


class ResultCategoryRow(Base):
    """An agency-defined result category (the nine standard ones are built in)."""

    __tablename__ = "result_categories"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))


class ResultRow(Base):
    """One version of an inspection result (corrections are new versions)."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.code"))
    entity_id: Mapped[str] = mapped_column(ID)
    item: Mapped[str] = mapped_column(CODE)
    version: Mapped[int] = mapped_column(Integer)
    categories: Mapped[str] = mapped_column(Text)
    follow_up: Mapped[str] = mapped_column(Text, default="")
    inspection_start: Mapped[date] = mapped_column(Date)
    inspection_end: Mapped[date] = mapped_column(Date)
    inspectors: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[str] = mapped_column(String(40))
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        UniqueConstraint("task", "entity_id", "item", "version", name="uq_results_version"),
        Index("ix_results_task_id", "task", "id"),  # a task's results, page by page
    )


class PublicationRow(Base):
    """A publication (公示) of one entity's results in one task, with what was published."""

    __tablename__ = "publications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.code"))
    entity_id: Mapped[str] = mapped_column(ID)
    published: Mapped[date] = mapped_column(Date)
    published_by: Mapped[str] = mapped_column(String(200))
    snapshot: Mapped[str] = mapped_column(Text)
    time: Mapped[str] = mapped_column(String(40))
    __table_args__ = (Index("ix_publications_task_entity", "task", "entity_id"),)


class ApprovalRow(Base):
    """A request for a second person's approval (re-draw, abandon, back-dated publication),
    and what became of it: granted by someone else, withdrawn, or used by one action.

    ``state`` moves only forward: ``requested`` → ``granted`` → ``used``, or ``requested`` /
    ``granted`` → ``withdrawn``. Each step is also an audit event, and the records check
    compares the two.
    """

    __tablename__ = "approvals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.code"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[str] = mapped_column(String(40))
    granted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    granted_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    closed_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    __table_args__ = (Index("ix_approvals_task", "task"),)
