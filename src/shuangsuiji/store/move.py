"""Moving a whole store to another database (SQLite → PostgreSQL, or to a new file).

Every table the library owns is copied row for row, in foreign-key order: departments,
pools, conflicts, items, plans, tasks, policies, the audit log, draws with their candidates,
picks, replacements and teams, results and publications. Nothing is re-computed, so the
audit chain keeps its hashes and verifies on the new side exactly as on the old.

The rules:

- the source's schema must be at the revision this library writes (``db upgrade`` it first);
- the target must hold no shuangsuiji rows (a new database, or one only ``init`` touched):
  a move never merges two stores;
- the target's schema is created or upgraded by Alembic first; the rows are then copied in
  **one transaction** on the target, which also re-checks that it is empty and that each
  table received as many rows as the source holds; any failure leaves the target without a
  single row;
- the source is read in one transaction, so a writer cannot change it half-way through (on
  SQLite it waits for the move).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs
import sqlalchemy as sa
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from shuangsuiji.store._store import StoreCore, StoreError
from shuangsuiji.store.schema import Base

__all__ = ["MoveReport", "move_store"]

_CHUNK = 5_000
Progress = Callable[[str, int], None]


@attrs.frozen
class MoveReport:
    """What a move copied: rows per table, in the order they were copied."""

    rows: dict[str, int]
    revision: str

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _stored_rows(conn: Connection) -> dict[str, int]:
    """Rows in each of the library's tables that exist on ``conn`` (none yet: ``{}``)."""
    present = set(sa.inspect(conn).get_table_names())
    return {
        t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        for t in Base.metadata.sorted_tables
        if t.name in present
    }


def _refuse_non_empty(counts: dict[str, int], where: str) -> None:
    full = {name: n for name, n in counts.items() if n}
    if full:
        listed = ", ".join(f"{name} ({n})" for name, n in full.items())
        raise StoreError(
            f"the target {where} already holds a store: {listed}. A move never merges two "
            "stores: give a new, empty database as --to (nothing was copied)"
        )


@contextmanager
def _snapshot(source: StoreCore) -> Iterator[Connection]:
    """One read transaction over the source (SQLite: it holds the write lock meanwhile)."""
    with source.engine.connect() as conn, conn.begin():
        yield conn


def _check_source(source: StoreCore, head: str) -> None:
    revision = source.revision()
    if revision is None:
        raise StoreError("the source holds no shuangsuiji store: check --from")
    if revision != head:
        raise StoreError(
            f"the source's schema is at revision {revision}, this shuangsuiji writes {head}: "
            "upgrade the source first (shuangsuiji db upgrade --db SOURCE), then move it"
        )


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL: the next generated ID of each serial column follows the copied rows."""
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True:
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence(:t, :c), "
                        f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                    ),
                    {"t": table.name, "c": column.name},
                )


def _copy_table(source: Connection, target: Connection, table: sa.Table) -> int:
    copied = 0
    query = select(table).order_by(*table.primary_key.columns)
    result = source.execute(query.execution_options(yield_per=_CHUNK))
    for part in result.partitions():
        target.execute(sa.insert(table), [row._asdict() for row in part])
        copied += len(part)
    return copied


def move_store(
    source: StoreCore, target: StoreCore, *, progress: Progress | None = None
) -> MoveReport:
    """Copy every row of ``source`` into the empty store ``target`` (see the module's rules).

    >>> from shuangsuiji.model import Department
    >>> from shuangsuiji.store import Store
    >>> old, new = Store.open("sqlite://"), Store.open("sqlite://", upgrade=False)
    >>> old.put_departments([Department("SCJG", "市场监督管理局")], actor="张三")
    >>> move_store(old, new).rows["departments"], new.verify_log()
    (1, [])
    >>> move_store(old, new)
    Traceback (most recent call last):
    ...
    shuangsuiji.store._store.StoreError: the target ... already holds a store: ...
    """
    head = source.head()
    _check_source(source, head)
    where = target.engine.url.render_as_string(hide_password=True)
    if target.revision() is not None:
        with target.engine.connect() as conn:
            _refuse_non_empty(_stored_rows(conn), where)
    target.upgrade()
    rows: dict[str, int] = {}
    with _snapshot(source) as src, target.transaction() as session:
        dst = session.connection()
        _refuse_non_empty(_stored_rows(dst), where)
        for table in Base.metadata.sorted_tables:
            rows[table.name] = _copy_table(src, dst, table)
            if progress is not None:
                progress(table.name, rows[table.name])
        if target.dialect == "postgresql":
            _reset_sequences(dst)
        expected = _stored_rows(src)
        landed = _stored_rows(dst)
        if landed != expected:  # pragma: no cover - a driver that drops rows silently
            raise StoreError(f"the copy is incomplete ({landed} of {expected}); nothing was kept")
    return MoveReport(rows=rows, revision=head)
