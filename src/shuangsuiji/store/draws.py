"""The SQL of the draw stages: draw rows, frozen candidates, picks, replacements and teams.

The registry's draw and team floors (:mod:`shuangsuiji.registry`) decide; these functions
only read and write rows, inside the session (one transaction) the caller holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from shuangsuiji.store.schema import (
    AuditEventRow,
    DrawCandidateRow,
    DrawPickRow,
    DrawRow,
    EntityRow,
    ReplacementRow,
    TaskRow,
    TeamMemberRow,
)

__all__ = [
    "add_draw",
    "add_picks",
    "add_replacement",
    "candidates_of",
    "draw_rows",
    "drawn_rows",
    "drawn_tasks",
    "draws_after",
    "entity_facts",
    "entity_status",
    "last_inspected",
    "put_candidates",
    "put_team_members",
    "replacements_of",
    "selected_elsewhere",
    "step_events",
    "team_members",
    "teams_of_other_tasks",
]


_IN_CHUNK = 5_000  # IDs per IN (...) list


def draw_rows(s: Session, task: str) -> list[DrawRow]:
    """Every draw row of ``task`` (frozen, drawn, abandoned), by attempt."""
    rows = s.execute(select(DrawRow).where(DrawRow.task == task).order_by(DrawRow.attempt))
    return list(rows.scalars())


def drawn_rows(s: Session) -> list[DrawRow]:
    """Every drawn row of every task, in the order they were stored."""
    query = select(DrawRow).where(DrawRow.state == "drawn").order_by(DrawRow.id)
    return list(s.execute(query).scalars())


def drawn_tasks(s: Session) -> set[str]:
    """The codes of the tasks with at least one drawn attempt."""
    return {t for (t,) in s.execute(select(DrawRow.task).where(DrawRow.state == "drawn"))}


def draws_after(s: Session, row: DrawRow) -> list[DrawRow]:
    """The draw rows of other tasks stored after ``row``."""
    query = select(DrawRow).where(DrawRow.id > row.id, DrawRow.task != row.task)
    return list(s.execute(query).scalars())


def add_draw(s: Session, row: DrawRow) -> None:
    """Store a new draw row (its ``id`` is set on return)."""
    s.add(row)
    s.flush()


def last_inspected(s: Session, task: str) -> dict[str, date]:
    """Each entity's latest task end among the current draws of the *other* tasks.

    Only the latest drawn attempt of a task counts: the entities of a draw that was
    superseded by a re-draw are not inspected, so they are not shielded from other tasks.
    Alternates promoted by a replacement count too (they are inspected); the entities they
    replaced stay counted as drawn.
    """
    out: dict[str, date] = {}
    for entity, _, end in _selected_elsewhere(s, task):
        out[entity] = max(end, out.get(entity, end))
    return out


def selected_elsewhere(s: Session, task: str, ids: Iterable[str]) -> dict[str, tuple[str, date]]:
    """Of ``ids``, those in another task's current selection (selected or promoted), each
    with that task and its end (the latest end when several tasks have it)."""
    wanted = set(ids)
    out: dict[str, tuple[str, date]] = {}
    if not wanted:
        return out
    for entity, other, end in _selected_elsewhere(s, task, wanted):
        if entity not in out or (end, other) > (out[entity][1], out[entity][0]):
            out[entity] = (other, end)
    return out


def _selected_elsewhere(
    s: Session, task: str, ids: set[str] | None = None
) -> list[tuple[str, str, date]]:
    """(entity, task, task end) of every entity in the current selection of another task."""
    current = (
        select(DrawRow.task, func.max(DrawRow.attempt).label("attempt"))
        .where(DrawRow.state == "drawn")
        .group_by(DrawRow.task)
        .subquery()
    )

    def of_current(query: Any, draw_id: Any, entity: Any) -> Any:
        query = (
            query.join(DrawRow, DrawRow.id == draw_id)
            .join(
                current,
                (current.c.task == DrawRow.task) & (current.c.attempt == DrawRow.attempt),
            )
            .join(TaskRow, TaskRow.code == DrawRow.task)
            .where(DrawRow.task != task)
        )
        return query if ids is None else query.where(entity.in_(sorted(ids)))

    picks = of_current(
        select(DrawPickRow.entity_id, DrawRow.task, TaskRow.end),
        DrawPickRow.draw_id,
        DrawPickRow.entity_id,
    )
    promoted = of_current(
        select(ReplacementRow.replaced_by, DrawRow.task, TaskRow.end),
        ReplacementRow.draw_id,
        ReplacementRow.replaced_by,
    )
    rows = [*s.execute(picks.where(DrawPickRow.role == "selected")), *s.execute(promoted)]
    return [(str(e), str(t), end) for e, t, end in rows]


def entity_facts(s: Session, ids: Sequence[str]) -> dict[str, tuple[str, date]]:
    """The stored status and registration date of each of ``ids`` (looked up in chunks)."""
    out: dict[str, tuple[str, date]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[start : start + _IN_CHUNK])
        query = select(EntityRow.id, EntityRow.status, EntityRow.registered)
        out.update((i, (st, reg)) for i, st, reg in s.execute(query.where(EntityRow.id.in_(chunk))))
    return out


def entity_status(s: Session, entity_id: str) -> str | None:
    """The stored registration status of one entity (None if it is not in the pool)."""
    status: str | None = s.scalar(select(EntityRow.status).where(EntityRow.id == entity_id))
    return status


def put_candidates(s: Session, draw_id: int, ids: Sequence[str], strata: Sequence[str]) -> None:
    """The frozen candidates of a draw (the rows its pool digest covers)."""
    s.execute(
        insert(DrawCandidateRow),
        [
            {"draw_id": draw_id, "entity_id": i, "stratum": st}
            for i, st in zip(ids, strata, strict=True)
        ],
    )


def candidates_of(s: Session, draw_id: int) -> list[tuple[str, str]]:
    """A draw's frozen candidates as ``(entity id, stratum label)``, by entity id."""
    rows = s.execute(
        select(DrawCandidateRow.entity_id, DrawCandidateRow.stratum)
        .where(DrawCandidateRow.draw_id == draw_id)
        .order_by(DrawCandidateRow.entity_id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def add_picks(s: Session, picks: Sequence[dict[str, Any]]) -> None:
    """A draw's selected entities and alternates (``draw_picks`` rows as dicts)."""
    if picks:
        s.execute(insert(DrawPickRow), list(picks))


def replacements_of(s: Session, draw_id: int) -> list[ReplacementRow]:
    """A draw's replacements, in the order they were made."""
    query = (
        select(ReplacementRow).where(ReplacementRow.draw_id == draw_id).order_by(ReplacementRow.id)
    )
    return list(s.execute(query).scalars())


def add_replacement(s: Session, row: ReplacementRow) -> None:
    """Store one replacement of a selected entity."""
    s.add(row)


def team_members(s: Session, draw_id: int) -> list[tuple[str, str]]:
    """A draw's team members as ``(entity id, inspector id)``, sorted."""
    rows = s.execute(
        select(TeamMemberRow.entity_id, TeamMemberRow.inspector_id)
        .where(TeamMemberRow.draw_id == draw_id)
        .order_by(TeamMemberRow.entity_id, TeamMemberRow.inspector_id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def put_team_members(s: Session, draw_id: int, members: Iterable[tuple[str, str]]) -> None:
    """Replace a draw's teams by ``members`` (``(entity id, inspector id)`` pairs)."""
    s.execute(delete(TeamMemberRow).where(TeamMemberRow.draw_id == draw_id))
    rows = [{"draw_id": draw_id, "entity_id": e, "inspector_id": i} for e, i in members]
    if rows:
        s.execute(insert(TeamMemberRow), rows)


def teams_of_other_tasks(s: Session, task: str) -> list[tuple[str, str, date, date]]:
    """Every stored team membership of the other tasks' draws:
    ``(inspector id, entity id, task start, task end)``."""
    query = (
        select(TeamMemberRow.inspector_id, TeamMemberRow.entity_id, TaskRow.start, TaskRow.end)
        .join(DrawRow, DrawRow.id == TeamMemberRow.draw_id)
        .join(TaskRow, TaskRow.code == DrawRow.task)
        .where(DrawRow.task != task)
    )
    return [(r[0], r[1], r[2], r[3]) for r in s.execute(query).all()]


def step_events(s: Session, kinds: Iterable[str]) -> list[tuple[int, str, str]]:
    """``(seq, kind, payload text)`` of the audit events of the given kinds."""
    query = select(AuditEventRow.seq, AuditEventRow.kind, AuditEventRow.payload).where(
        AuditEventRow.kind.in_(sorted(kinds))
    )
    return [(int(r[0]), r[1], r[2]) for r in s.execute(query)]
