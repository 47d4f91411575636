"""The pools in the store: imports of entities, inspectors and conflicts (all or nothing, with
their SSJ-POOL-STATE-1 digests), the staged import on PostgreSQL, and loading and counting the
stored pools as columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

import attrs
import numpy as np
import sqlalchemy as sa
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shuangsuiji.audit import (
    format_utc,
)
from shuangsuiji.integrity import CHANGES_LOGGED, POOL_FIELDS, Change, PoolState, changes_of
from shuangsuiji.model import (
    TIERS,
    Conflict,
    PopulationFilter,
)
from shuangsuiji.pools import MAX_LABELS, STRING, EntityPool, InspectorPool, Labels
from shuangsuiji.store._store import StoreCore, StoreError, check_fit, split_labels
from shuangsuiji.store.integrity import last_logged_state, pool_state, staged_pairs, stored_rows
from shuangsuiji.store.schema import (
    ConflictRow,
    EntityRow,
    ImportRow,
    InspectorRow,
)

Progress = Callable[[int, int], None]
_LOAD_PARTITION = 100_000  # rows fetched at a time when loading a pool
STAGED_IMPORT_FROM = 50_000  # PostgreSQL imports of this many rows are staged outside the lock
_STAGE = "ssj_import_stage"  # the session-private TEMP table of a staged import


@attrs.frozen
class ImportReport:
    """What an import stored: kind, rows, mode, the content digest and the audit sequence."""

    import_id: int
    kind: str
    rows: int
    mode: str
    digest: str
    event_seq: int


@attrs.frozen(kw_only=True)
class ImportJob:
    """One import of a pool's rows, as :meth:`PoolRepository._import_rows` carries it out:
    the table, the kind (``entities`` or ``inspectors``), the rows as columns, who imports
    them from where and how (``add`` or ``upsert``, the batch size, progress reporting, a
    last check inside the locked transaction, and whether to stage on PostgreSQL)."""

    table: type[EntityRow] | type[InspectorRow] = attrs.field(kw_only=False)
    kind: str = attrs.field(kw_only=False)
    columns: dict[str, Any] = attrs.field(kw_only=False)
    actor: str
    source: str
    mode: str
    batch_size: int = 10_000
    progress: Progress | None = None
    precheck: Callable[[Session], None] | None = None
    staged: bool | None = None

    @property
    def n(self) -> int:
        """How many rows the job imports."""
        return len(self.columns["id"])

    @property
    def names(self) -> list[str]:
        """The columns written, in the order of :attr:`columns`."""
        return list(self.columns)


class PoolRepository(StoreCore):
    """The pool half of :class:`~shuangsuiji.store.Store`."""

    def import_entities(
        self,
        pool: EntityPool,
        *,
        actor: str,
        source: str = "",
        mode: str = "add",
        batch_size: int = 10_000,
        progress: Progress | None = None,
        staged: bool | None = None,
    ) -> ImportReport:
        """Store a validated pool, all or nothing.

        ``mode="add"`` refuses IDs already stored (listing them); ``"upsert"`` replaces them.
        ``progress(done, total)`` is called after each batch. On PostgreSQL an import of
        :data:`STAGED_IMPORT_FROM` rows or more (or any, with ``staged=True``) is staged in a
        TEMP table without the write lock and moved in one locked transaction.
        """
        if mode not in ("add", "upsert"):
            raise StoreError(f"import mode {mode!r}: use 'add' or 'upsert'")

        def tag_room(s: Session) -> None:
            """Inside the import's transaction, so a concurrent import cannot slip past it."""
            stored_tags = {
                tag
                for text in s.execute(select(EntityRow.tags).distinct()).scalars()
                for tag in split_labels(text)
            }
            tags = stored_tags | set(pool.tags.labels)
            if len(tags) > MAX_LABELS:
                raise StoreError(
                    f"the entity pool would carry {len(tags)} distinct tags, at most "
                    f"{MAX_LABELS} are supported; new tags: "
                    f"{sorted(set(pool.tags.labels) - stored_tags)[:10]}. Tags mark lists such "
                    "as 经营异常名录; merge rare ones. Nothing was imported."
                )

        tiers = np.asarray(TIERS)[pool.tier]
        tag_text = _tag_texts(pool.tags)
        columns = {
            "id": np.strings.decode(pool.ids, "utf-8").astype(STRING),
            "name": pool.names,
            "entity_type": pool.entity_type.values(),
            "industry": np.strings.decode(pool.industry, "utf-8").astype(STRING),
            "region": np.strings.decode(pool.region, "utf-8").astype(STRING),
            "registered": pool.registered.astype(object),
            "tier": tiers,
            "status": pool.status.values(),
            "tags": tag_text,
        }
        return self._import_rows(
            ImportJob(
                EntityRow,
                "entities",
                columns,
                actor=actor,
                source=source,
                mode=mode,
                batch_size=batch_size,
                progress=progress,
                precheck=tag_room,
                staged=staged,
            )
        )

    def _import_rows(self, job: ImportJob) -> ImportReport:
        if job.n == 0:
            raise StoreError(f"the {job.kind} pool is empty: nothing to import (check the file)")
        check_fit(job.table, job.columns, job.columns["id"])
        batches = _Batches(job.columns, job.n, job.batch_size)
        digest = _imported_state(job.kind, batches).hex
        staged = job.n >= STAGED_IMPORT_FROM if job.staged is None else job.staged
        if self.dialect == "postgresql" and staged:
            return self._import_staged(job, batches, digest)
        with self.transaction() as s:
            record = self._begin_import(s, job, digest)
            if job.mode == "add":
                self._refuse_existing(s, job.table, job.columns["id"])
            replaced = _Replaced(job.kind)
            for stop, rows in batches:
                if job.mode == "upsert":
                    stored = stored_rows(s, job.kind, [r["id"] for r in rows])
                    replaced.note(_pairs(job.kind, stored, rows))
                for row in rows:
                    row["import_id"] = record.id
                s.execute(self._insert(job), rows)
                if job.progress is not None:
                    job.progress(stop, job.n)
            return self._log_import(s, record, job.actor, replaced)

    def _insert(self, job: ImportJob, rows: Any = None) -> Any:
        """The statement that writes the job's rows: a plain INSERT for ``add`` (of ``rows``, a
        SELECT, when given), an upsert for ``upsert``."""
        if job.mode == "upsert":
            return _upsert(self.dialect, job.table, job.names, rows)
        stmt = insert(job.table)
        return stmt if rows is None else stmt.from_select([*job.names, "import_id"], rows)

    def _begin_import(self, s: Session, job: ImportJob, digest: str) -> ImportRow:
        """Inside the import's locked transaction: the last checks, then its ``imports`` row."""
        if job.precheck is not None:
            job.precheck(s)
        record = ImportRow(
            kind=job.kind,
            source=job.source[:500],
            mode=job.mode,
            rows=job.n,
            digest=digest,
            actor=job.actor,
            time=format_utc(self.clock()),
        )
        s.add(record)
        s.flush()
        return record

    def _log_import(
        self, s: Session, record: ImportRow, actor: str, replaced: _Replaced
    ) -> ImportReport:
        """Log the import with the table's state after it (SSJ-POOL-STATE-1) and the changes
        it made to stored rows (see :mod:`shuangsuiji.integrity`)."""
        imported = PoolState.from_hex(record.digest)
        state, rows = _state_after(s, record.kind, imported, record.rows, replaced)
        seq = self.append_event(
            s,
            actor,
            "pool.import",
            {
                "kind": record.kind,
                "rows": record.rows,
                "mode": record.mode,
                "digest": record.digest,
                "source": record.source,
                "import_id": record.id,
                "state": state.hex,
                "state_rows": rows,
            }
            | replaced.to_json(),
        )
        return ImportReport(record.id, record.kind, record.rows, record.mode, record.digest, seq)

    def _import_staged(self, job: ImportJob, batches: _Batches, digest: str) -> ImportReport:
        """A large import on PostgreSQL: rows go into a session-private TEMP table first,
        without the write lock (other writers carry on); then one locked transaction checks,
        copies them with ``INSERT … SELECT`` and logs the event. A crash at any point leaves
        the store as it was: the TEMP table dies with the session."""
        target = job.table.__table__
        stage = sa.Table(
            _STAGE,
            sa.MetaData(),
            *(sa.Column(c, target.c[c].type) for c in job.names),
            prefixes=["TEMPORARY"],
        )
        with self.engine.connect() as conn:
            try:
                self._stage_rows(conn, stage, batches, job.progress)
                with self._locked(conn) as s:
                    return self._move_staged(s, job, stage, digest)
            finally:
                with conn.begin():
                    conn.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_STAGE}"))

    def _stage_rows(
        self, conn: Connection, stage: sa.Table, batches: _Batches, progress: Progress | None
    ) -> None:
        """Fill the TEMP stage table in a transaction of its own, without the write lock."""
        with conn.begin():
            stage.create(conn)
            if self.engine.dialect.driver == "psycopg":
                _copy_rows(conn, batches, progress)
                return
            for stop, rows in batches:
                conn.execute(insert(stage), rows)
                if progress is not None:
                    progress(stop, batches.n)

    def _move_staged(
        self, s: Session, job: ImportJob, stage: sa.Table, digest: str
    ) -> ImportReport:
        """Inside the locked transaction: check the staged rows, move them, log the import."""
        record = self._begin_import(s, job, digest)
        target = job.table.__table__
        if job.mode == "add":
            clash = select(stage.c.id).join(target, target.c.id == stage.c.id)
            _refuse_stored(list(s.execute(clash.order_by(stage.c.id).limit(20)).scalars()))
        replaced = _Replaced(job.kind)
        if job.mode == "upsert":
            replaced.note(staged_pairs(s, job.kind, stage))
        moved = select(*(stage.c[c] for c in job.names), sa.literal(record.id).label("import_id"))
        s.execute(self._insert(job, moved))
        return self._log_import(s, record, job.actor, replaced)

    def _refuse_existing(
        self, s: Session, table: type[EntityRow] | type[InspectorRow], ids: Any
    ) -> None:
        existing: list[str] = []
        id_list = [str(x) for x in ids]
        for start in range(0, len(id_list), 5_000):
            chunk = id_list[start : start + 5_000]
            existing += s.execute(select(table.id).where(table.id.in_(chunk))).scalars().all()
            if len(existing) >= 20:
                break
        _refuse_stored(existing)

    def load_entities(
        self, population: PopulationFilter | None = None, *, session: Session | None = None
    ) -> EntityPool:
        """The stored entity pool (optionally only a structured population) as columns."""
        query = select(
            EntityRow.id,
            EntityRow.name,
            EntityRow.entity_type,
            EntityRow.industry,
            EntityRow.region,
            EntityRow.registered,
            EntityRow.tier,
            EntityRow.status,
            EntityRow.tags,
        ).order_by(EntityRow.id)
        cols: list[list[Any]] = [[] for _ in range(9)]
        with self.reading(session) as s:
            # streamed in partitions into per-column lists: no row objects for the whole pool
            result = s.execute(query.execution_options(yield_per=_LOAD_PARTITION))
            for part in result.partitions():
                for column, values in zip(cols, zip(*part, strict=True), strict=True):
                    column.extend(values)
        if not cols[0]:
            return EntityPool.from_columns(
                ids=[],
                names=[],
                entity_type=[],
                industry=[],
                region=[],
                registered=[],
                tier=np.zeros(0, np.uint8),
                status=[],
                tags=[],
            )
        pool = EntityPool.from_columns(
            ids=cols[0],
            names=cols[1],
            entity_type=cols[2],
            industry=cols[3],
            region=cols[4],
            registered=cols[5],
            tier=cols[6],
            status=cols[7],
            tags=_labels_of(cols[8]),
        )
        return pool if population is None else pool.filter(population)

    def count_entities(self, *, session: Session | None = None) -> int:
        """How many entities are stored."""
        with self.reading(session) as s:
            return int(s.execute(select(func.count()).select_from(EntityRow)).scalar_one())

    def import_inspectors(
        self, pool: InspectorPool, *, actor: str, source: str = "", mode: str = "add"
    ) -> ImportReport:
        """Store an inspector pool, all or nothing; every department must be known."""
        with Session(self.engine) as s:
            known = self._known_departments(s)
        unknown = sorted(set(pool.department.labels) - known)
        if unknown:
            raise StoreError(
                f"inspectors belong to unknown department(s) {unknown}; add them first "
                f"(known: {sorted(known) or 'none'})"
            )
        columns = {
            "id": np.strings.decode(pool.ids, "utf-8").astype(STRING),
            "name": pool.names,
            "department": pool.department.values(),
            "region": np.strings.decode(pool.region, "utf-8").astype(STRING),
            "home_region": np.strings.decode(pool.home_region, "utf-8").astype(STRING),
            "certificate_no": pool.certificate_no,
            "certificate_expiry": pool.certificate_expiry.astype(object),
            "qualifications": _tag_texts(pool.qualifications),
            "active": pool.active,
        }
        return self._import_rows(
            ImportJob(InspectorRow, "inspectors", columns, actor=actor, source=source, mode=mode)
        )

    def load_inspectors(self, *, session: Session | None = None) -> InspectorPool:
        """The stored inspector pool as columns."""
        with self.reading(session) as s:
            rows = s.execute(select(InspectorRow).order_by(InspectorRow.id)).scalars().all()
            return InspectorPool.from_columns(
                ids=[r.id for r in rows],
                names=[r.name for r in rows],
                department=[r.department for r in rows],
                region=[r.region for r in rows],
                home_region=[r.home_region for r in rows],
                certificate_no=[r.certificate_no for r in rows],
                certificate_expiry=[r.certificate_expiry for r in rows],
                qualifications=[split_labels(r.qualifications) for r in rows],
                active=[r.active for r in rows],
            )

    def import_conflicts(
        self, conflicts: Sequence[Conflict], *, actor: str, source: str = ""
    ) -> ImportReport:
        """Store declared conflicts; every inspector and entity must be known."""
        rows = list(conflicts)
        with self.transaction() as s:
            insp = {c.inspector_id for c in rows}
            ent = {c.entity_id for c in rows}
            known_i = set(
                s.execute(select(InspectorRow.id).where(InspectorRow.id.in_(insp))).scalars()
            )
            known_e: set[str] = set()
            ent_list = sorted(ent)
            for start in range(0, len(ent_list), 5_000):
                chunk = ent_list[start : start + 5_000]
                known_e |= set(
                    s.execute(select(EntityRow.id).where(EntityRow.id.in_(chunk))).scalars()
                )
            bad = [c for c in rows if c.inspector_id not in known_i or c.entity_id not in known_e]
            if bad:
                c = bad[0]
                raise StoreError(
                    f"{len(bad)} conflict(s) name an unknown inspector or entity, e.g. "
                    f"{c.inspector_id} / {c.entity_id}; import the pools first. Nothing was stored."
                )
            added = PoolState.EMPTY.plus(
                "conflicts", ((c.inspector_id, c.entity_id, c.relation, c.source) for c in rows)
            )
            digest = added.hex
            record = ImportRow(
                kind="conflicts",
                source=source[:500],
                mode="add",
                rows=len(rows),
                digest=digest,
                actor=actor,
                time=format_utc(self.clock()),
            )
            s.add(record)
            s.flush()
            try:
                if rows:
                    s.execute(
                        insert(ConflictRow),
                        [attrs.asdict(c) | {"import_id": record.id} for c in rows],
                    )
            except IntegrityError as exc:
                raise StoreError(
                    "a conflict with the same inspector, entity and relation is already stored; "
                    "nothing was stored"
                ) from exc
            state, total = _state_after(s, "conflicts", added, len(rows), _Replaced("conflicts"))
            payload = {"kind": "conflicts", "rows": len(rows), "digest": digest, "source": source}
            seq = self.append_event(
                s,
                actor,
                "conflict.change",
                payload | {"import_id": record.id, "state": state.hex, "state_rows": total},
            )
            return ImportReport(record.id, "conflicts", len(rows), "add", digest, seq)

    def conflicts(self, *, session: Session | None = None) -> list[Conflict]:
        """All declared conflicts."""
        with self.reading(session) as s:
            rows = s.execute(select(ConflictRow).order_by(ConflictRow.id)).scalars()
            return [Conflict(r.inspector_id, r.entity_id, r.relation, r.source) for r in rows]


def _tag_texts(labels: Labels) -> list[str]:
    uniques, inverse = np.unique(labels.bits, return_inverse=True)
    rendered = [
        "|".join(label for i, label in enumerate(labels.labels) if int(u) >> i & 1)
        for u in uniques.tolist()
    ]
    return [rendered[i] for i in inverse.reshape(-1).tolist()]


def _labels_of(texts: list[str]) -> Labels:
    """Stored ``|``-joined label texts as a :class:`Labels` column (distinct texts parsed once)."""
    if not texts:
        return Labels(np.zeros(0, np.uint64), ())
    uniques, inverse = np.unique(np.asarray(texts, dtype=STRING), return_inverse=True)
    distinct = Labels.from_sets(split_labels(str(u)) for u in uniques)
    return Labels(distinct.bits[inverse.reshape(-1)], distinct.labels)


class _Batches:
    """The rows of an import as dicts, ``size`` at a time: columns are turned into Python
    values one batch at a time, so a ten-million-row import never holds them all at once."""

    def __init__(self, columns: Mapping[str, Any], n: int, size: int) -> None:
        self.columns, self.n, self.size = columns, n, max(1, size)
        self.names = list(columns)

    def __iter__(self) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        for stop, rows in self.tuples():
            yield stop, [dict(zip(self.names, r, strict=True)) for r in rows]

    def tuples(self) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
        """The same batches as tuples in the order of ``names``."""
        for start in range(0, self.n, self.size):
            stop = min(self.n, start + self.size)
            cols = []
            for c in self.names:
                part = self.columns[c][start:stop]
                cols.append(part.tolist() if isinstance(part, np.ndarray) else list(part))
            yield stop, list(zip(*cols, strict=True))


def _copy_rows(conn: Connection, batches: _Batches, progress: Progress | None) -> None:
    """Stream the rows into the TEMP stage table with ``COPY … FROM STDIN`` (psycopg 3)."""
    raw: Any = conn.connection.driver_connection
    columns = ", ".join(f'"{c}"' for c in batches.names)  # the table's own columns, not data
    with raw.cursor() as cur, cur.copy(f"COPY {_STAGE} ({columns}) FROM STDIN") as copy:
        for stop, rows in batches.tuples():
            for row in rows:
                copy.write_row(row)
            if progress is not None:
                progress(stop, batches.n)


def _refuse_stored(existing: Sequence[str]) -> None:
    if existing:
        raise StoreError(
            f"{len(existing)}+ ID(s) are already in the store, e.g. {list(existing[:5])}; "
            "nothing was imported. Use mode='upsert' to replace stored rows."
        )


def _upsert(
    dialect: str,
    table: type[EntityRow] | type[InspectorRow],
    names: Sequence[str],
    rows: Any = None,
) -> Any:
    """INSERT … ON CONFLICT (id) DO UPDATE of ``names`` and ``import_id``: executed once per
    batch (executemany), or, given ``rows`` (a SELECT of those columns), in one statement."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    stmt: Any = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    if rows is not None:
        stmt = stmt.from_select([*names, "import_id"], rows)
    cols = {c: stmt.excluded[c] for c in [*names, "import_id"] if c != "id"}
    return stmt.on_conflict_do_update(index_elements=["id"], set_=cols)


def _imported_state(kind: str, batches: _Batches) -> PoolState:
    """The import digest: the SSJ-POOL-STATE-1 state of the imported rows alone."""
    if tuple(batches.names) != POOL_FIELDS[kind]:
        raise AssertionError(f"{kind} columns {batches.names} are not {POOL_FIELDS[kind]}")
    state = PoolState.EMPTY
    for _, rows in batches.tuples():
        state = state.plus(kind, rows)
    return state


def _pairs(
    kind: str, stored: Sequence[Any], rows: Sequence[Mapping[str, Any]]
) -> Iterator[tuple[Any, Any]]:
    """``(stored row, imported row)`` for the rows of one batch that replace stored ones."""
    new = {r["id"]: r for r in rows}
    fields = POOL_FIELDS[kind]
    for old in stored:
        yield tuple(old), tuple(new[old[0]][f] for f in fields)


class _Replaced:
    """What an upsert replaced: the state of the stored rows it overwrote, their number and
    the field changes (the first :data:`~shuangsuiji.integrity.CHANGES_LOGGED` kept)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.removed = PoolState.EMPTY
        self.rows = 0
        self.changes: list[Change] = []
        self.count = 0
        self.digest = PoolState.EMPTY

    def note(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """Account for ``(stored row, imported row)`` pairs, a chunk at a time."""
        it = iter(pairs)
        while chunk := list(islice(it, _LOAD_PARTITION)):
            self.removed = self.removed.plus(self.kind, [old for old, _ in chunk])
            self.rows += len(chunk)
            found = [c for old, new in chunk for c in changes_of(self.kind, old, new)]
            room = CHANGES_LOGGED - len(self.changes)
            self.changes += found[: max(room, 0)]
            self.count += len(found)
            self.digest = self.digest.plus(
                "changes", [(c.id, c.field, c.before, c.after) for c in found]
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "replaced": self.rows,
            "changes": [c.to_json() for c in self.changes],
            "changes_count": self.count,
            "changes_digest": self.digest.hex,
        }


def _state_after(
    s: Session, kind: str, added: PoolState, rows: int, replaced: _Replaced
) -> tuple[PoolState, int]:
    """The table's state after an import: the last logged state plus the imported rows minus
    the stored rows they replaced; a table whose state was never logged is read whole."""
    base = last_logged_state(s, kind)
    if base is None:
        return pool_state(s, kind)
    state, count = base
    return state.combined(added).without(replaced.removed), count + rows - replaced.rows
