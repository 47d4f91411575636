"""The SQL of paged reads: one page of a long list and its total, without loading the rest.

The service's list endpoints (``GET /results``, ``/publications``, ``/uninspected``,
``/tasks/{task}/selection``, ``/tasks/{task}/teams``) page with ``limit`` and ``offset``.
Each list here has an order that is **total** (every row has a distinct sort key, the last
key being a unique id), so walking the pages with ``offset += limit`` meets every row exactly
once, and it is the **same order** as the registry's unpaged list of the same rows:

========================  =====================================================================
list                      order
========================  =====================================================================
results                   ``results.id`` (the order they were stored: oldest first)
publication records       plan code (database order, as :meth:`Store.plans`), then task and
                          entity in UTF-8 byte order (as :func:`~shuangsuiji.publication.
                          build_records` sorts in Python)
current selection         the drawn picks not replaced by rank, then the promoted alternates
                          by replacement id (as :attr:`Draw.active <shuangsuiji.draw.Draw.
                          active>`)
uninspected               task code (database order, as :meth:`Store.tasks`), then the
                          selection's order
teams                     entity id (database order, as the unpaged teams)
========================  =====================================================================

A page is read in the caller's session, together with its total, so both describe the same
state of the store. ``OFFSET`` still makes the database step over the skipped rows, but it
steps over index entries and narrow tuples, not over Python objects built from every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Generic, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session, aliased

from shuangsuiji.store.schema import (
    DrawPickRow,
    DrawRow,
    ReplacementRow,
    ResultRow,
    TaskRow,
    TeamMemberRow,
)

__all__ = [
    "Page",
    "byte_order",
    "count",
    "paged",
    "selection_page",
    "team_page",
    "uninspected_page",
]

_T = TypeVar("_T")
_U = TypeVar("_U")


@attrs.frozen
class Page(Generic[_T]):
    """One page of a list: its ``items``, the ``total`` of the whole list, and where it is.

    >>> p = Page(["a", "b"], total=5, offset=2, limit=2)
    >>> p.next
    4
    >>> Page(["e"], total=5, offset=4, limit=2).next is None
    True
    """

    items: list[_T]
    total: int
    offset: int
    limit: int

    @property
    def next(self) -> int | None:
        """The offset of the following page, or ``None`` after the last one."""
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    def map(self, fn: Callable[[_T], _U]) -> Page[_U]:
        """The same page with ``fn`` applied to every item."""
        return Page([fn(x) for x in self.items], self.total, self.offset, self.limit)


def byte_order(s: Session, column: Any) -> Any:
    """``column`` in UTF-8 byte order, the order of Python's ``sorted`` on text."""
    if s.get_bind().dialect.name != "postgresql":
        return column  # SQLite compares text with memcmp over its UTF-8 bytes
    encoding = s.execute(select(func.current_setting("server_encoding"))).scalar_one()
    return column.collate("C") if encoding == "UTF8" else func.convert_to(column, "UTF8")


def count(s: Session, query: Any) -> int:
    """The number of rows ``query`` (a ``Select``) gives."""
    total = s.execute(select(func.count()).select_from(query.order_by(None).subquery()))
    return int(total.scalar_one())


def paged(
    s: Session, query: Any, order: Sequence[Any], offset: int, limit: int
) -> tuple[list[Any], int]:
    """The rows of ``query`` in ``order`` from ``offset`` (at most ``limit``), and the count."""
    rows = list(s.execute(query.order_by(*order).offset(offset).limit(limit)))
    return rows, count(s, query)


# -- the current selection, the uninspected, the teams --------------------------------------


def _current_draws(task: str | None = None) -> Any:
    """Per task its current draw (the latest drawn attempt): ``draw_id``, ``task``."""
    latest = select(DrawRow.task, func.max(DrawRow.attempt).label("attempt")).where(
        DrawRow.state == "drawn"
    )
    if task is not None:
        latest = latest.where(DrawRow.task == task)
    newest = latest.group_by(DrawRow.task).subquery()
    return (
        select(DrawRow.id.label("draw_id"), DrawRow.task.label("task"))
        .join(newest, (newest.c.task == DrawRow.task) & (newest.c.attempt == DrawRow.attempt))
        .subquery()
    )


def _active(task: str | None = None) -> Any:
    """The current selection of every (or one) task: ``task``, ``entity``, and the sort keys
    ``part`` (0 drawn, 1 promoted) and ``n`` (rank, or replacement id) of ``Draw.active``."""
    current = _current_draws(task)
    gone = aliased(ReplacementRow)

    def not_replaced(draw_id: Any, entity: Any) -> Any:
        return ~sa.exists().where(gone.draw_id == draw_id, gone.entity_id == entity)

    kept = (
        select(
            current.c.task,
            DrawPickRow.entity_id.label("entity"),
            literal(0).label("part"),
            DrawPickRow.rank.label("n"),
        )
        .join(DrawPickRow, DrawPickRow.draw_id == current.c.draw_id)
        .where(DrawPickRow.role == "selected")
        .where(not_replaced(current.c.draw_id, DrawPickRow.entity_id))
    )
    promoted = (
        select(
            current.c.task,
            ReplacementRow.replaced_by.label("entity"),
            literal(1).label("part"),
            ReplacementRow.id.label("n"),
        )
        .join(ReplacementRow, ReplacementRow.draw_id == current.c.draw_id)
        .where(not_replaced(current.c.draw_id, ReplacementRow.replaced_by))
    )
    return sa.union_all(kept, promoted).subquery()


def selection_page(s: Session, task: str, offset: int, limit: int) -> Page[str]:
    """The entity ids of one page of ``task``'s current selection, in ``Draw.active`` order."""
    active = _active(task)
    query = select(active.c.entity)
    rows, total = paged(s, query, [active.c.part, active.c.n], offset, limit)
    return Page([str(r[0]) for r in rows], total, offset, limit)


def uninspected_page(
    s: Session, plan: str | None, offset: int, limit: int
) -> Page[tuple[str, str, date, str]]:
    """``(task, task name, task end, entity)`` of one page of the selected entities without a
    recorded result, in the order of :meth:`Registry.uninspected`."""
    active = _active()
    recorded = sa.exists().where(
        ResultRow.task == active.c.task, ResultRow.entity_id == active.c.entity
    )
    query = (
        select(active.c.task, TaskRow.name, TaskRow.end, active.c.entity)
        .join(TaskRow, TaskRow.code == active.c.task)
        .where(~recorded)
    )
    if plan is not None:
        query = query.where(TaskRow.plan == plan)
    rows, total = paged(s, query, [TaskRow.code, active.c.part, active.c.n], offset, limit)
    return Page([(str(t), str(n), end, str(e)) for t, n, end, e in rows], total, offset, limit)


def team_page(
    s: Session, draw_id: int, offset: int, limit: int
) -> Page[tuple[str, tuple[str, ...]]]:
    """One page of a draw's teams, ``(entity, inspector ids)``, by entity id (the order of the
    unpaged teams, :func:`shuangsuiji.store.draws.team_members`)."""
    entities = (
        select(TeamMemberRow.entity_id)
        .where(TeamMemberRow.draw_id == draw_id)
        .group_by(TeamMemberRow.entity_id)
    )
    rows, total = paged(s, entities, [TeamMemberRow.entity_id], offset, limit)
    wanted = [str(r[0]) for r in rows]
    members: dict[str, list[str]] = {e: [] for e in wanted}
    if wanted:
        query = (
            select(TeamMemberRow.entity_id, TeamMemberRow.inspector_id)
            .where(TeamMemberRow.draw_id == draw_id, TeamMemberRow.entity_id.in_(wanted))
            .order_by(TeamMemberRow.entity_id, TeamMemberRow.inspector_id)
        )
        for entity, inspector in s.execute(query):
            members[entity].append(inspector)
    return Page([(e, tuple(members[e])) for e in wanted], total, offset, limit)
