"""Inspection results: categories, recording, CSV import, one scope check for every path."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import attrs
from sqlalchemy.orm import Session

from shuangsuiji.assign import (
    Assignment,
)
from shuangsuiji.labels import recusal_label
from shuangsuiji.registry._teams import _Teams
from shuangsuiji.results import (
    CHINA_STANDARD_TIME,
    InspectionResult,
    ResultCategories,
    ResultScope,
    correct,
    read_results_csv,
    scope_problems,
)
from shuangsuiji.store import StoreError
from shuangsuiji.store import results as results_sql
from shuangsuiji.store.paging import Page
from shuangsuiji.store.schema import (
    DrawRow,
)


@attrs.frozen
class ResultEntry:
    """One result to record with :meth:`Registry.record_results` (``reason`` for corrections)."""

    task: str
    entity: str
    item: str
    categories: Sequence[str] | str
    inspection_start: date
    inspection_end: date
    inspectors: Sequence[str]
    follow_up: str = ""
    reason: str = ""


class _Results(_Teams):
    """Inspection results: categories, recording, CSV import, one scope check for every path."""

    def categories(self, *, session: Session | None = None) -> ResultCategories:
        """The standard result categories plus the agency's own."""
        with self.store.reading(session) as s:
            return results_sql.categories(s)

    def add_category(
        self, code: str, label_zh: str, label_en: str, *, actor: str, kind: str = "problem"
    ) -> None:
        """Add an agency result category (e.g. a department's violation code)."""
        with self.store.transaction() as s:
            self.categories(session=s).with_category(code, label_zh, label_en, kind=kind)
            results_sql.add_category(s, code, label_zh, label_en, kind)
            self.store.append_event(
                s,
                actor,
                "category.change",
                {"code": code, "label_zh": label_zh, "label_en": label_en, "kind": kind},
            )

    def _results(
        self, s: Session, task: str | None = None, entity: str | None = None
    ) -> list[InspectionResult]:
        return results_sql.results(s, task, entity)

    def results(self, task: str | None = None) -> list[InspectionResult]:
        """Every stored result version (of one task), oldest first."""
        with self.store.reading() as s:
            return self._results(s, task)

    def results_page(
        self, task: str | None = None, *, offset: int = 0, limit: int = 100
    ) -> Page[InspectionResult]:
        """One page of :meth:`results` (same order: oldest first, by storage id) and the total,
        read without loading the other pages."""
        with self.store.reading() as s:
            return results_sql.result_page(s, task, offset, limit)

    def results_for(self, keys: Sequence[tuple[str, str]]) -> list[InspectionResult]:
        """Every stored result version of the given ``(task, entity)`` pairs, oldest first
        (read by pair, not by loading the tasks' results)."""
        with self.store.reading() as s:
            return results_sql.results_of(s, keys)

    def _store_result(self, s: Session, result: InspectionResult, actor: str) -> None:
        results_sql.add_result(s, result)
        kind = "result.record" if result.version == 1 else "result.correct"
        self.store.append_event(s, actor, kind, result.to_dict())

    def _teams_drawn_on(self, s: Session, row: DrawRow) -> date | None:
        """The day (China time) the teams of ``row`` were drawn, from its audit event."""
        for event in self._events_of(s, "teams.assign", row):
            return datetime.fromisoformat(event.time).astimezone(CHINA_STANDARD_TIME).date()
        return None

    def _result_scopes(self, s: Session, wanted: set[str]) -> dict[str, ResultScope]:
        """What the one result check needs to know about every task (in detail: ``wanted``)."""
        size = self.store.policy(session=s).team.size
        scopes = {}
        for task in self.store.tasks(session=s):
            row = self._latest_drawn(s, task.code) if task.code in wanted else None
            if row is None:
                scopes[task.code] = ResultScope(task=task, team_size=size)
                continue
            selected = frozenset(p.id for p in self._rebuild(s, row)[0].active)
            if not row.assignment:
                scopes[task.code] = ResultScope(task=task, selected=selected, team_size=size)
                continue
            changes = Assignment.from_dict(json.loads(row.assignment)["assignment"])
            scopes[task.code] = ResultScope(
                task=task,
                selected=selected,
                teams={t["entity"]: frozenset(t["inspectors"]) for t in self._teams_of(s, row)},
                teams_drawn=self._teams_drawn_on(s, row),
                recused={
                    (r.entity_id, r.inspector_id): recusal_label(r.reason, r.text)
                    for r in changes.reassignments
                },
                team_size=size,
            )
        return scopes

    def _check_results(self, s: Session, results: Sequence[InspectionResult]) -> None:
        """The one check of every recorded result (:func:`shuangsuiji.results.scope_problems`)."""
        scopes = self._result_scopes(s, {r.task for r in results})
        problems = []
        for r in results:
            found = scope_problems(
                *r.key, r.inspectors, (r.inspection_start, r.inspection_end), scopes
            )
            problems += [f"{r.task} / {r.entity} / {r.item}: {p}" for p in found]
        if problems:
            raise StoreError(
                f"results refused, nothing recorded ({len(problems)} problem(s)): "
                + "; ".join(problems[:20])
            )

    def record_result(
        self,
        task: str,
        entity: str,
        item: str,
        categories: Sequence[str] | str,
        *,
        inspection_start: date,
        inspection_end: date,
        inspectors: Sequence[str],
        actor: str,
        follow_up: str = "",
        reason: str = "",
    ) -> InspectionResult:
        """Record the result of one inspected item; a second one is a correction (needs reason)."""
        entry = ResultEntry(
            task,
            entity,
            item,
            categories,
            inspection_start,
            inspection_end,
            inspectors,
            follow_up,
            reason,
        )
        return self.record_results([entry], actor=actor)[0]

    def record_results(
        self, entries: Sequence[ResultEntry], *, actor: str
    ) -> list[InspectionResult]:
        """Record many results in one transaction (all or none), each with its audit event.

        An entry for a task × entity × item already recorded is a correction and needs its
        ``reason``; the person recording is ``actor``.
        """
        with self.store.transaction() as s:
            catalogue = self.categories(session=s)
            latest: dict[tuple[str, str, str], InspectionResult] = {}
            for task in sorted({e.task for e in entries}):
                for r in self._results(s, task):
                    if r.key not in latest or r.version > latest[r.key].version:
                        latest[r.key] = r
            out = []
            for e in entries:
                previous = latest.get((e.task, e.entity, e.item))
                if previous is not None:
                    result = correct(
                        previous,
                        reason=e.reason,
                        recorded_by=actor,
                        recorded_at=self._now,
                        categories=e.categories,
                        follow_up=e.follow_up,
                        inspection_start=e.inspection_start,
                        inspection_end=e.inspection_end,
                        inspectors=e.inspectors,
                    )
                else:
                    result = InspectionResult(
                        task=e.task,
                        entity=e.entity,
                        item=e.item,
                        categories=e.categories,
                        inspection_start=e.inspection_start,
                        inspection_end=e.inspection_end,
                        inspectors=e.inspectors,
                        recorded_by=actor,
                        recorded_at=self._now,
                        follow_up=e.follow_up,
                        catalogue=catalogue,
                    )
                latest[result.key] = result
                out.append(result)
            self._check_results(s, out)
            for result in out:
                self._store_result(s, result, actor)
            return out

    def import_results(self, source: Any, *, actor: str) -> list[InspectionResult]:
        """Import results from CSV (``shuangsuiji.results.RESULT_COLUMNS``), all or nothing."""
        with self.store.transaction() as s:
            recorded = {r.key for r in self._results(s)}
            results = read_results_csv(
                source,
                self.categories(session=s),
                recorded_at=self._now,
                recorded_by=actor,
                scopes=self._result_scopes(s, {t.code for t in self.store.tasks(session=s)}),
                recorded=recorded,
            )
            for result in results:
                self._store_result(s, result, actor)
            return results
