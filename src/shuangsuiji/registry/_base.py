"""The ground floor: opening the store, the clock, the draw rows every stage reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Self, TypeVar

import attrs
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shuangsuiji.audit import AuditEvent
from shuangsuiji.draw import (
    Draw,
)
from shuangsuiji.errors import RefusedError
from shuangsuiji.model import Plan
from shuangsuiji.policy import Policy
from shuangsuiji.store import Clock, NotStoredError, Store, utc_now
from shuangsuiji.store import draws as draws_sql
from shuangsuiji.store.schema import (
    DrawRow,
)
from shuangsuiji.synth import City

_T = TypeVar("_T")


SYSTEM_PARTY = "系统随机数"


PUSHDOWN_FROM = 1_000_000  # PostgreSQL pools this large are frozen inside the database


class DrawRefused(RefusedError):
    """A draw step the rules forbid (re-draw without reason, steps out of order)."""


@attrs.frozen(eq=False)
class DrawResult:
    """A persisted draw: its attempt number, the :class:`~shuangsuiji.draw.Draw` and bundle."""

    task: str
    attempt: int
    draw: Draw
    bundle: dict[str, Any]


class _RegistryBase:
    """The ground floor: opening the store, the clock, the draw rows every stage reads."""

    def __init__(self, store: Store, *, pushdown_from: int | None = PUSHDOWN_FROM) -> None:
        self.store = store
        self.pushdown_from = pushdown_from

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        clock: Clock = utc_now,
        pushdown_from: int | None = PUSHDOWN_FROM,
    ) -> Self:
        """Open (creating or upgrading) the store at ``url`` or on a host's ``engine``.

        On PostgreSQL, a pool of ``pushdown_from`` entities or more is frozen inside the
        database (:mod:`shuangsuiji.pushdown`): filters, exclusions, stratum counts and the
        pool digest are computed there and the candidates copied into ``draw_candidates``
        with ``INSERT … SELECT``, instead of loading the pool into Python. ``None`` never
        pushes down. The result is the same candidate set either way.
        """
        return cls(Store.open(url, engine=engine, clock=clock), pushdown_from=pushdown_from)

    def _pushdown(self, s: Session) -> bool:
        if self.store.dialect != "postgresql" or self.pushdown_from is None:
            return False
        return self.store.count_entities(session=s) >= self.pushdown_from

    @property
    def _now(self) -> datetime:
        return self.store.clock()

    def setup_city(self, city: City, *, actor: str) -> None:
        """Load a synthetic :class:`~shuangsuiji.synth.City` and the default policy."""
        self.store.save_policy(Policy.default(), actor=actor)
        self.store.put_departments(city.departments, actor=actor)
        self.store.put_regions(city.districts, actor=actor)
        self.store.put_items(city.items, actor=actor)
        self.store.import_entities(city.entities, actor=actor, source="synthetic city")
        self.store.import_inspectors(city.inspectors, actor=actor, source="synthetic city")
        self.store.import_conflicts(city.conflicts, actor=actor, source="synthetic city")

    def _draw_rows(self, s: Session, task: str) -> list[DrawRow]:
        return draws_sql.draw_rows(s, task)

    def _events_of(self, s: Session, kind: str, row: DrawRow) -> list[AuditEvent]:
        """The ``kind`` events of the draw ``row`` (its task and attempt), in log order."""
        return [
            e
            for e in self.store.events_of([kind], session=s)
            if e.payload.get("task") == row.task and e.payload.get("attempt") == row.attempt
        ]

    def _latest_drawn(self, s: Session, task: str) -> DrawRow | None:
        """The task's current draw (its latest drawn attempt), or ``None``."""
        rows = [r for r in self._draw_rows(s, task) if r.state == "drawn"]
        return rows[-1] if rows else None

    def _current(self, s: Session, task: str) -> DrawRow:
        row = self._latest_drawn(s, task)
        if row is None:
            raise DrawRefused(f"task {task} has not been drawn yet")
        return row

    def _logged_errors(
        self, task: str, step: str | None, actor: str, work: Callable[[Session], _T]
    ) -> _T:
        """Run ``work(session)`` in one transaction; on a refusal keep only a ``draw.error``
        event (naming the ``step`` unless it is the entity draw itself)."""
        try:
            with self.store.transaction() as s:
                return work(s)
        except ValueError as exc:
            payload = {"task": task} | ({"step": step} if step else {})
            with self.store.transaction() as s:
                self.store.append_event(
                    s, actor, "draw.error", payload | {"error": str(exc)[:2000]}
                )
            raise

    def _plan(self, s: Session, code: str) -> Plan:
        for plan in self.store.plans(session=s):
            if plan.code == code:
                return plan
        raise NotStoredError(f"no plan {code!r}; `shuangsuiji plan show` lists the plans")
