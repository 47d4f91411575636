"""The SQL of the results and publication stages: categories, result versions, publications.

The registry's result and publication floors decide; these functions only read and write
rows, inside the session (one transaction) the caller holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from shuangsuiji.canonical import canonical_text as _json
from shuangsuiji.results import InspectionResult, ResultCategories
from shuangsuiji.store.paging import Page, byte_order, paged
from shuangsuiji.store.schema import (
    EntityRow,
    InspectorRow,
    PublicationRow,
    ResultCategoryRow,
    ResultRow,
    TaskRow,
)

__all__ = [
    "add_category",
    "add_publication",
    "add_result",
    "categories",
    "entity_names",
    "inspector_names",
    "publication_keys",
    "published",
    "published_of",
    "recorded_pairs",
    "result_page",
    "results",
    "results_of",
]

_NAME_CHUNK = 5_000  # ids per IN (...) list: well under every engine's parameter limit
_PAIR_CHUNK = 500  # (task, entity) pairs per IN (...) list: 1,000 parameters


def categories(s: Session) -> ResultCategories:
    """The standard result categories plus the agency's own."""
    catalogue = ResultCategories.standard()
    query = select(ResultCategoryRow).order_by(ResultCategoryRow.code)
    for row in s.execute(query).scalars():
        catalogue = catalogue.with_category(row.code, row.label_zh, row.label_en, kind=row.kind)
    return catalogue


def add_category(s: Session, code: str, label_zh: str, label_en: str, kind: str) -> None:
    """Store an agency result category."""
    s.add(ResultCategoryRow(code=code, label_zh=label_zh, label_en=label_en, kind=kind))


def _result_of(row: ResultRow, catalogue: ResultCategories) -> InspectionResult:
    return InspectionResult(
        task=row.task,
        entity=row.entity_id,
        item=row.item,
        categories=json.loads(row.categories),
        follow_up=row.follow_up,
        inspection_start=row.inspection_start,
        inspection_end=row.inspection_end,
        inspectors=json.loads(row.inspectors),
        recorded_by=row.recorded_by,
        recorded_at=datetime.fromisoformat(row.recorded_at),
        version=row.version,
        correction_reason=row.correction_reason,
        catalogue=catalogue,
    )


def results(
    s: Session, task: str | None = None, entity: str | None = None
) -> list[InspectionResult]:
    """Every stored result version (of one task, of one entity), oldest first."""
    catalogue = categories(s)
    query = select(ResultRow).order_by(ResultRow.id)
    if task is not None:
        query = query.where(ResultRow.task == task)
    if entity is not None:
        query = query.where(ResultRow.entity_id == entity)
    return [_result_of(r, catalogue) for r in s.execute(query).scalars()]


def add_result(s: Session, result: InspectionResult) -> None:
    """Store one result version."""
    s.add(
        ResultRow(
            task=result.task,
            entity_id=result.entity,
            item=result.item,
            version=result.version,
            categories=_json(list(result.categories)),
            follow_up=result.follow_up,
            inspection_start=result.inspection_start,
            inspection_end=result.inspection_end,
            inspectors=_json(list(result.inspectors)),
            recorded_by=result.recorded_by,
            recorded_at=result.recorded_at.isoformat(),
            correction_reason=result.correction_reason,
        )
    )


def recorded_pairs(s: Session) -> set[tuple[str, str]]:
    """The ``(task, entity)`` pairs with at least one result recorded."""
    query = select(ResultRow.task, ResultRow.entity_id).distinct()
    return {(r[0], r[1]) for r in s.execute(query)}


def published(
    s: Session, task: str | None = None, entity: str | None = None
) -> dict[tuple[str, str], tuple[date, str]]:
    """``(task, entity) -> (publication date, published by)`` of the stored publications."""
    query = select(
        PublicationRow.task,
        PublicationRow.entity_id,
        PublicationRow.published,
        PublicationRow.published_by,
    ).order_by(PublicationRow.id)
    if task is not None:
        query = query.where(PublicationRow.task == task)
    if entity is not None:
        query = query.where(PublicationRow.entity_id == entity)
    return {(t, e): (d, by) for t, e, d, by in s.execute(query)}


def add_publication(s: Session, row: PublicationRow) -> None:
    """Store one publication (with its snapshot)."""
    s.add(row)


def entity_names(s: Session, ids: Iterable[str]) -> dict[str, str]:
    """The stored names of the given entity ids (looked up in chunks)."""
    return _names(s, EntityRow, ids)


def inspector_names(s: Session, ids: Iterable[str]) -> dict[str, str]:
    """The stored names of the given inspector ids (looked up in chunks)."""
    return _names(s, InspectorRow, ids)


def _names(s: Session, model: Any, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    out: dict[str, str] = {}
    for start in range(0, len(wanted), _NAME_CHUNK):
        chunk = wanted[start : start + _NAME_CHUNK]
        query = select(model.id, model.name).where(model.id.in_(chunk))
        out.update((r[0], r[1]) for r in s.execute(query))
    return out


# -- paged reads (shuangsuiji.store.paging) --------------------------------------------------------


def result_page(s: Session, task: str | None, offset: int, limit: int) -> Page[InspectionResult]:
    """Stored result versions (of one task), oldest first: ``results.id`` order."""
    query = select(ResultRow)
    if task is not None:
        query = query.where(ResultRow.task == task)
    rows, total = paged(s, query, [ResultRow.id], offset, limit)
    catalogue = categories(s)
    return Page([_result_of(r[0], catalogue) for r in rows], total, offset, limit)


def publication_keys(
    s: Session,
    offset: int,
    limit: int,
    *,
    plan: str | None = None,
    task: str | None = None,
    entity: str | None = None,
) -> Page[tuple[str, str, str]]:
    """``(plan, task, entity)`` of one page of publication records (one per task × entity
    with a recorded result), in the order of :meth:`Registry.publications`."""
    query = (
        select(TaskRow.plan, ResultRow.task, ResultRow.entity_id)
        .join(TaskRow, TaskRow.code == ResultRow.task)
        .group_by(TaskRow.plan, ResultRow.task, ResultRow.entity_id)
    )
    if plan is not None:
        query = query.where(TaskRow.plan == plan)
    if task is not None:
        query = query.where(ResultRow.task == task)
    if entity is not None:
        query = query.where(ResultRow.entity_id == entity)
    order = [TaskRow.plan, byte_order(s, ResultRow.task), byte_order(s, ResultRow.entity_id)]
    rows, total = paged(s, query, order, offset, limit)
    return Page([(str(p), str(t), str(e)) for p, t, e in rows], total, offset, limit)


def _pair_chunks(pairs: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    wanted = sorted(set(pairs))
    return [wanted[i : i + _PAIR_CHUNK] for i in range(0, len(wanted), _PAIR_CHUNK)]


def results_of(s: Session, pairs: Sequence[tuple[str, str]]) -> list[InspectionResult]:
    """Every stored result version of the given ``(task, entity)`` pairs, oldest first."""
    catalogue = categories(s)
    rows: list[ResultRow] = []
    for chunk in _pair_chunks(pairs):
        query = select(ResultRow).where(tuple_(ResultRow.task, ResultRow.entity_id).in_(chunk))
        rows += s.execute(query).scalars()
    return [_result_of(r, catalogue) for r in sorted(rows, key=lambda r: r.id)]


def published_of(
    s: Session, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[date, str]]:
    """``(task, entity) -> (publication date, published by)`` of the given pairs."""
    out: list[tuple[int, str, str, date, str]] = []
    for chunk in _pair_chunks(pairs):
        query = select(
            PublicationRow.id,
            PublicationRow.task,
            PublicationRow.entity_id,
            PublicationRow.published,
            PublicationRow.published_by,
        ).where(tuple_(PublicationRow.task, PublicationRow.entity_id).in_(chunk))
        out += [(i, t, e, d, by) for i, t, e, d, by in s.execute(query)]
    # as results.published: the last stored publication of a pair wins
    return {(t, e): (d, by) for _, t, e, d, by in sorted(out)}
