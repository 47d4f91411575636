"""The row readers of the records check (:mod:`shuangsuiji.integrity` compares what they read).

Every read of the check runs in one snapshot (:func:`read_records`): on PostgreSQL a
REPEATABLE READ transaction, on SQLite the store's ``BEGIN IMMEDIATE`` transaction, so that a
write committed while the check runs cannot show up as a difference. The pools are read in
chunks of :data:`CHUNK` rows and folded into their SSJ-POOL-STATE-1 sum as they arrive, so a
ten-million-row table is never held in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shuangsuiji.audit import AuditEvent
from shuangsuiji.integrity import POOL_FIELDS, POOL_STATE_SPEC, PoolState, RecordTables
from shuangsuiji.store.schema import (
    AuditEventRow,
    ConflictRow,
    DrawCandidateRow,
    DrawPickRow,
    DrawRow,
    EntityRow,
    ImportRow,
    InspectorRow,
    ItemRow,
    PolicyRow,
    PublicationRow,
    ReplacementRow,
    ResultCategoryRow,
    ResultRow,
    TaskRow,
    TeamMemberRow,
)

__all__ = [
    "CHUNK",
    "POOL_TABLES",
    "last_logged_state",
    "pool_state",
    "python_pool_state",
    "read_records",
    "snapshot",
    "staged_pairs",
    "stored_rows",
]

CHUNK = 50_000  # rows fetched at a time while a pool's state is summed
_IN_CHUNK = 5_000  # IDs per IN (...) list
POOL_TABLES: dict[str, Any] = {
    "entities": EntityRow,
    "inspectors": InspectorRow,
    "conflicts": ConflictRow,
}
_POOL_EVENTS = ("pool.import", "conflict.change")


def _columns(table: str, source: Any = None) -> list[Any]:
    cols = (source if source is not None else POOL_TABLES[table].__table__).c
    return [cols[name] for name in POOL_FIELDS[table]]


def pool_state(s: Session, table: str) -> tuple[PoolState, int]:
    """The SSJ-POOL-STATE-1 state of a pool table and its number of rows: computed by the
    server on PostgreSQL (:func:`_pool_state_in_database`), streamed through Python on SQLite."""
    if s.get_bind().dialect.name == "postgresql":
        return _pool_state_in_database(s, table)
    return python_pool_state(s, table)


def _field_sql(column: Any) -> str:
    """SQL for one field's SSJ-POOL-STATE-1 bytes, ``u32be(len) || bytes`` (integrity.py):
    text as stored in UTF-8, a date as YYYY-MM-DD, a boolean as 1/0, an integer in decimal."""
    name = column.name
    if isinstance(column.type, sa.Boolean):
        value = f"convert_to(CASE WHEN {name} THEN '1' ELSE '0' END, 'UTF8')"
    elif isinstance(column.type, sa.Date):
        value = f"convert_to(to_char({name}, 'YYYY-MM-DD'), 'UTF8')"
    elif isinstance(column.type, sa.Integer):
        value = f"convert_to({name}::text, 'UTF8')"
    else:
        value = f"convert_to({name}, 'UTF8')"
    return f"int4send(octet_length({value})) || {value}"


def _pool_state_in_database(s: Session, table: str) -> tuple[PoolState, int]:
    """The state summed by PostgreSQL: ``h(row)`` with its ``sha256()``, then the digests'
    eight big-endian 32-bit limbs summed separately (exact ``numeric`` sums) and folded here
    into ``Σ int_be(h(row)) mod 2^256``. No row crosses the wire, so a freeze of ten million
    entities logs its pool state for about the cost of one scan (benchmarks/bench_pool_state.py)."""
    line = " || ".join(_field_sql(c) for c in _columns(table))
    limb = (
        "sum(((get_byte(d, {0})::bigint << 24) | (get_byte(d, {1}) << 16) "
        "| (get_byte(d, {2}) << 8) | get_byte(d, {3}))::numeric)"
    )
    limbs = ", ".join(limb.format(4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3) for i in range(8))
    # OFFSET 0 keeps the planner from inlining the subquery, which would hash each row once
    # per get_byte (32 times) instead of once.
    query = sa.text(
        f"SELECT {limbs}, count(*) FROM (SELECT sha256(:prefix || {line}) AS d "
        f"FROM {POOL_TABLES[table].__tablename__} OFFSET 0) AS h"
    )
    prefix = POOL_STATE_SPEC + b"\x00" + table.encode() + b"\x00"
    *sums, rows = s.execute(query, {"prefix": prefix}).one()
    total = sum(int(v or 0) << (32 * (7 - i)) for i, v in enumerate(sums))
    return PoolState(total % 2**256), int(rows)


def python_pool_state(s: Session, table: str) -> tuple[PoolState, int]:
    """The state streamed through Python on any engine (the reference the SQL must equal)."""
    state, rows = PoolState.EMPTY, 0
    # Core rows through the session's connection: the ORM's per-chunk machinery costs more
    # than the hashing. (Options on the statement: on the connection they would outlive it.)
    query = select(*_columns(table)).execution_options(yield_per=CHUNK)
    for part in s.connection().execute(query).partitions():
        state = state.plus(table, part)
        rows += len(part)
    return state, rows


def last_logged_state(s: Session, table: str) -> tuple[PoolState, int] | None:
    """The state and row count the newest import event of ``table`` logged; ``None`` when that
    event logged none (a store written before pool state digests) or there is none."""
    query = (
        select(AuditEventRow.payload)
        .where(AuditEventRow.kind.in_(_POOL_EVENTS))
        .order_by(AuditEventRow.seq.desc())
        .execution_options(yield_per=100)
    )
    for text in s.execute(query).scalars():
        payload = json.loads(text)
        if payload.get("kind", "conflicts") != table:
            continue
        if "state" not in payload:
            return None
        return PoolState.from_hex(payload["state"]), int(payload["state_rows"])
    return None


def stored_rows(s: Session, table: str, ids: Sequence[str]) -> list[Any]:
    """The stored rows (as :data:`~shuangsuiji.integrity.POOL_FIELDS` tuples) of these IDs."""
    model = POOL_TABLES[table]
    out: list[Any] = []
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[start : start + _IN_CHUNK])
        out += s.execute(select(*_columns(table)).where(model.id.in_(chunk))).all()
    return out


def staged_pairs(s: Session, table: str, stage: sa.Table) -> Iterator[tuple[Any, Any]]:
    """``(stored row, staged row)`` for every staged ID already stored, streamed."""
    target = POOL_TABLES[table].__table__
    old, new = _columns(table), _columns(table, stage)
    n = len(old)
    query = select(*old, *new).join(stage, stage.c.id == target.c.id)
    result = s.execute(query.execution_options(yield_per=CHUNK))
    for part in result.partitions():
        for row in part:
            yield tuple(row[:n]), tuple(row[n:])


def _byte_order(s: Session, column: Any) -> Any:
    """``column`` in UTF-8 byte order (the order of the SSJ-DRAW-1 pool digest's lines)."""
    if s.get_bind().dialect.name != "postgresql":
        return column  # SQLite compares text with memcmp over its UTF-8 bytes
    encoding = s.execute(select(sa.func.current_setting("server_encoding"))).scalar_one()
    return column.collate("C") if encoding == "UTF8" else sa.func.convert_to(column, "UTF8")


def _candidate_digests(s: Session) -> dict[int, tuple[str, int]]:
    """Per draw: the SSJ-DRAW-1 pool digest of its ``draw_candidates`` rows, and their count."""
    out = {}
    for draw_id in s.execute(select(DrawRow.id)).scalars():
        h, n = hashlib.sha256(), 0
        query = (
            select(DrawCandidateRow.entity_id, DrawCandidateRow.stratum)
            .where(DrawCandidateRow.draw_id == draw_id)
            .order_by(_byte_order(s, DrawCandidateRow.entity_id))
            .execution_options(yield_per=CHUNK)
        )
        for part in s.execute(query).partitions():
            h.update("".join(f"{i}\t{stratum}\n" for i, stratum in part).encode("utf-8"))
            n += len(part)
        out[int(draw_id)] = (h.hexdigest(), n)
    return out


def _rows(s: Session, model: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in s.execute(select(model.__table__))]


@contextmanager
def snapshot(engine: Engine) -> Iterator[Session]:
    """A session that sees one state of the database for all its reads; its transaction is
    rolled back when the session closes (nothing it did is kept)."""
    with Session(engine) as s:
        if engine.dialect.name == "postgresql":
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield s


def read_records(s: Session) -> tuple[RecordTables, list[AuditEvent]]:
    """Everything the records check compares, read in ``s`` (use :func:`snapshot`)."""
    draw_columns = [
        DrawRow.id,
        DrawRow.task,
        DrawRow.attempt,
        DrawRow.state,
        DrawRow.seed,
        DrawRow.pool_digest,
        DrawRow.policy_hash,
        DrawRow.candidates,
        DrawRow.bundle,
    ]
    tables = RecordTables(
        draws=[dict(r._mapping) for r in s.execute(select(*draw_columns))],
        candidate_digests=_candidate_digests(s),
        picks=_rows(s, DrawPickRow),
        replacements=_rows(s, ReplacementRow),
        team_members=_rows(s, TeamMemberRow),
        results=_rows(s, ResultRow),
        publications=_rows(s, PublicationRow),
        policies=_rows(s, PolicyRow),
        categories=_rows(s, ResultCategoryRow),
        tasks=_rows(s, TaskRow),
        items=_rows(s, ItemRow),
        imports=_rows(s, ImportRow),
        pool_states={table: pool_state(s, table) for table in POOL_TABLES},
    )
    rows = s.execute(select(AuditEventRow.__table__).order_by(AuditEventRow.seq))
    return tables, [e for e in (_event(dict(r._mapping)) for r in rows) if e is not None]


def _event(row: dict[str, Any]) -> AuditEvent | None:
    """The event of a row; ``None`` for a row that is not one (the chain check names it)."""
    try:
        return AuditEvent.from_dict(row)
    except ValueError:
        return None
