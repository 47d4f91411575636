"""The store: SQLAlchemy 2 repositories over SQLite (embedded default) or PostgreSQL.

Every method that writes runs in one explicit transaction and appends its audit event
(table ``audit_events``) in that same transaction, so a change and its trace are committed
together or not at all. The schema is created and upgraded by Alembic (:meth:`Store.upgrade`).

>>> store = Store.open("sqlite://")          # in memory; a file path or URL in real use
>>> store.put_departments([Department("SCJG", "市场监督管理局")], actor="张三")
>>> print(*(d.code for d in store.departments()))
SCJG
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import sqlalchemy as sa
from sqlalchemy import Engine, String, create_engine, event, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shuangsuiji.audit import (
    AuditEvent,
    ChainProblem,
    canonical_json,
    format_utc,
    next_event,
    verify_chain,
)
from shuangsuiji.errors import NotFoundError, RefusedError
from shuangsuiji.integrity import CHANGES_LOGGED, POOL_FIELDS, Change, PoolState, changes_of
from shuangsuiji.model import (
    TIERS,
    Conflict,
    Department,
    InspectionItem,
    Plan,
    PopulationFilter,
    Task,
)
from shuangsuiji.policy import Policy
from shuangsuiji.pools import MAX_LABELS, STRING, EntityPool, InspectorPool, Labels
from shuangsuiji.store.integrity import last_logged_state, pool_state, staged_pairs, stored_rows
from shuangsuiji.store.schema import (
    AuditEventRow,
    Base,
    ConflictRow,
    DepartmentRow,
    EntityRow,
    ImportRow,
    InspectorRow,
    ItemRow,
    PlanRow,
    PolicyRow,
    ResultRow,
    TaskRow,
)

__all__ = ["DEFAULT_URL", "ImportReport", "NotStoredError", "Store", "StoreError"]

DEFAULT_URL = "sqlite:///shuangsuiji.db"
Progress = Callable[[int, int], None]
Clock = Callable[[], datetime]
_AUDIT_LOCK_KEY = 0x55A1_D17  # pg_advisory_xact_lock key that serialises audit appends
_LOAD_PARTITION = 100_000  # rows fetched at a time when loading a pool
STAGED_IMPORT_FROM = 50_000  # PostgreSQL imports of this many rows are staged outside the lock
_STAGE = "ssj_import_stage"  # the session-private TEMP table of a staged import
_WRITE_LOCK_KEY = 0x55A1_D18  # pg_advisory_xact_lock key that serialises write transactions


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEventRow):
            raise StoreError(
                f"audit event {obj.seq} cannot be changed or deleted: the log is append-only; "
                "record a correction as a new event"
            )


def check_fit(table: Any, columns: Mapping[str, Any], ids: Sequence[Any] | Any) -> None:
    """Refuse text values that the table cannot hold as given: longer than their column, or
    containing a NUL character (PostgreSQL refuses it, SQLite would store it silently).

    The error names the column, the row's ID and the limit; nothing is written.
    """
    problems: list[str] = []
    for name, values in columns.items():
        column = table.__table__.c[name]
        if not isinstance(column.type, String):
            continue
        arr = np.asarray(values, dtype=STRING) if not isinstance(values, np.ndarray) else values
        if arr.dtype.kind not in "TU" and arr.dtype != STRING:
            continue
        arr = arr.astype(STRING)
        limit = column.type.length
        too_long = np.strings.str_len(arr) > limit if limit else np.zeros(len(arr), dtype=bool)
        nul = np.fromiter(("\x00" in str(v) for v in arr.tolist()), dtype=bool, count=len(arr))
        for i in np.flatnonzero(too_long | nul)[:5].tolist():
            why = f"longer than {limit} characters" if too_long[i] else "contains a NUL character"
            problems.append(f"column {name!r} of {str(ids[i])!r}: {why}")
        if (too_long | nul).sum() > 5:
            problems.append(f"... and {int((too_long | nul).sum()) - 5} more in column {name!r}")
    if problems:
        raise StoreError("values do not fit the store, nothing was written: " + "; ".join(problems))


class StoreError(RefusedError):
    """A request the store refuses (unknown reference, duplicate, integrity); nothing changed."""


class NotStoredError(StoreError, NotFoundError):
    """The task or stored policy a request names is not in the store; nothing changed."""


def _text_problem(column: sa.Column[Any], value: str) -> str | None:
    """Why ``value`` cannot be stored in ``column`` (NUL, or longer than it may be)."""
    label = column.info.get("label", f"{column.table.name}.{column.name}")
    if "\x00" in value:
        return (
            f"{label}: contains a NUL character (U+0000) at position {value.index(chr(0)) + 1}; "
            "remove it (no database keeps it as text)"
        )
    limit = column.info.get("max_chars") or getattr(column.type, "length", None)
    if limit is not None and len(value) > limit:
        return f"{label}: {len(value):,} characters; at most {limit:,} are kept, shorten it"
    return None


@event.listens_for(Base, "before_insert", propagate=True)
@event.listens_for(Base, "before_update", propagate=True)
def _check_text(mapper: Any, connection: Connection, row: Any) -> None:
    """Refuse, the same way on SQLite and PostgreSQL, a text PostgreSQL would reject with a raw
    DataError (a NUL character, more than a ``String(n)`` holds) or that no person writes (a
    megabyte as a reason): the flush fails, so the transaction writes nothing."""
    for column in mapper.columns:
        if isinstance(column.type, String):
            value = getattr(row, mapper.get_property_by_column(column).key, None)
            problem = _text_problem(column, value) if isinstance(value, str) else None
            if problem is not None:
                raise StoreError(f"refused, nothing was stored: {problem}")


@attrs.frozen
class ImportReport:
    """What an import stored: kind, rows, mode, the content digest and the audit sequence."""

    import_id: int
    kind: str
    rows: int
    mode: str
    digest: str
    event_seq: int


def utc_now() -> datetime:
    """The adapters' default clock (the core never reads a clock)."""
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Accept a bare file path for SQLite and ``postgresql://`` for psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_immediate(engine: Engine) -> None:
    # SQLite: take the write lock when a transaction begins, so two writers queue instead of
    # failing on the audit sequence; and enforce foreign keys.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _labels_text(labels: Iterable[str]) -> str:
    return "|".join(sorted(labels))


def _split(value: str) -> list[str]:
    return [v for v in value.split("|") if v]


class Store:
    """Repositories for departments, pools, conflicts, items, plans, tasks, policies and audit.

    Open with :meth:`open` (a URL, a file path or an existing SQLAlchemy ``Engine`` that a host
    application shares). Thread-safe: each call uses its own session; audit appends are
    serialised by the database (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL).
    """

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        upgrade: bool = True,
        clock: Clock = utc_now,
    ) -> Store:
        """Open (and by default create or upgrade) the store at ``url`` or on ``engine``."""
        if engine is None:
            target = normalise_url(url or DEFAULT_URL)
            kwargs: dict[str, Any] = {}
            if target.startswith("sqlite"):
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            engine = create_engine(target, **kwargs)
            if target.startswith("sqlite"):
                _sqlite_immediate(engine)
        store = cls(engine, clock)
        if upgrade:
            store.upgrade()
        return store

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    # -- schema ---------------------------------------------------------------------------

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        location = resources.files("shuangsuiji") / "migrations"
        config.set_main_option("script_location", str(location))
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Create or upgrade the schema with Alembic (idempotent)."""
        from alembic import command

        config = self._alembic_config()
        with self._lock, self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Several processes opening a new database at once: one migrates, the others
                # wait and then find the schema at head.
                conn.execute(select(func.pg_advisory_xact_lock(_WRITE_LOCK_KEY)))
            config.attributes["connection"] = conn
            self._refuse_unknown_revision(config, conn)
            command.upgrade(config, revision)

    @staticmethod
    def _refuse_unknown_revision(config: Any, conn: Any) -> None:
        """A schema written by a newer shuangsuiji: say so, instead of Alembic's riddle."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        current = MigrationContext.configure(conn).get_current_revision()
        known = {r.revision for r in ScriptDirectory.from_config(config).walk_revisions()}
        if current is not None and current not in known:
            from shuangsuiji._version import __version__

            raise StoreError(
                f"the database's schema is at revision {current!r}, which shuangsuiji "
                f"{__version__} does not know (it knows {', '.join(sorted(known))}): it was "
                "written by a newer version. Upgrade shuangsuiji (pip install -U shuangsuiji) "
                "to open it; nothing was changed."
            )

    def revision(self) -> str | None:
        """The schema's current Alembic revision (``None`` on an empty database)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def reading(self, session: Session | None = None) -> Iterator[Session]:
        """Use the caller's session (inside its transaction) or a short-lived one for reads."""
        if session is not None:
            yield session
            return
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One explicit write transaction: commits on success, rolls back on any error.

        Writes are serialised by the database so that every check a write makes (is this task
        drawn already? is this ID stored? which alternate is next?) still holds when it
        commits: on SQLite by ``BEGIN IMMEDIATE``, on PostgreSQL by a transaction-level
        advisory lock taken first, in READ COMMITTED (whatever a host engine's default), so
        that each writer sees everything committed before it got the lock.
        """
        with self._locked(self.engine) as session:
            yield session

    @contextmanager
    def _locked(self, bind: Engine | Connection) -> Iterator[Session]:
        with Session(bind, expire_on_commit=False) as session, session.begin():
            if self.dialect == "postgresql":
                session.connection(execution_options={"isolation_level": "READ COMMITTED"})
                session.execute(text("SET LOCAL lock_timeout = '120s'"))
                session.execute(select(func.pg_advisory_xact_lock(_WRITE_LOCK_KEY)))
            yield session

    # -- audit ----------------------------------------------------------------------------

    def append_event(self, session: Session, actor: str, kind: str, payload: dict[str, Any]) -> int:
        """Append an audit event inside ``session``'s transaction; returns its sequence number."""
        if not actor or not actor.strip():
            raise StoreError("every change needs the acting person (actor): who did it?")
        if self.dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(_AUDIT_LOCK_KEY)))
        last = session.execute(
            select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(1)
        ).scalar_one_or_none()
        prev = _event_of(last) if last is not None else None
        ev = next_event(
            prev, time=format_utc(self.clock()), actor=actor, kind=kind, payload=payload
        )
        session.add(
            AuditEventRow(
                seq=ev.seq,
                time=ev.time,
                actor=ev.actor,
                kind=ev.kind,
                payload=canonical_json(ev.payload).decode("utf-8"),
                prev_hash=ev.prev_hash,
                hash=ev.hash,
            )
        )
        session.flush()
        return ev.seq

    def conflict_imports(self, *, session: Session) -> list[tuple[str, str, str, int | None]]:
        """Every declared conflict as ``(inspector, entity, relation, import_id)``."""
        rows = session.execute(
            select(
                ConflictRow.inspector_id,
                ConflictRow.entity_id,
                ConflictRow.relation,
                ConflictRow.import_id,
            ).order_by(ConflictRow.id)
        )
        return [(str(i), str(e), str(r), m) for i, e, r, m in rows]

    def statuses(self, ids: Iterable[str], *, session: Session) -> dict[str, str]:
        """The stored status of each of ``ids`` (chunked; unknown IDs are left out)."""
        wanted = sorted(set(ids))
        out: dict[str, str] = {}
        for start in range(0, len(wanted), 5_000):
            chunk = wanted[start : start + 5_000]
            query = select(EntityRow.id, EntityRow.status).where(EntityRow.id.in_(chunk))
            out |= {str(i): str(st) for i, st in session.execute(query)}
        return out

    def has_results(self, task: str, *, session: Session) -> bool:
        """Whether any inspection result of ``task`` is recorded."""
        found = session.execute(select(ResultRow.id).where(ResultRow.task == task).limit(1))
        return found.first() is not None

    def log_head(self, session: Session) -> dict[str, Any]:
        """``{seq, hash}`` of the newest audit event (``{0, ""}`` for an empty log)."""
        last = session.execute(
            select(AuditEventRow.seq, AuditEventRow.hash)
            .order_by(AuditEventRow.seq.desc())
            .limit(1)
        ).first()
        return {"seq": int(last[0]), "hash": str(last[1])} if last else {"seq": 0, "hash": ""}

    def events_of(self, kinds: Iterable[str], *, session: Session) -> list[AuditEvent]:
        """The events of the given kinds, in sequence order."""
        rows = session.execute(
            select(AuditEventRow)
            .where(AuditEventRow.kind.in_(sorted(set(kinds))))
            .order_by(AuditEventRow.seq)
        ).scalars()
        return [_event_of(r) for r in rows]

    def audit_rows(self) -> list[dict[str, Any]]:
        """The raw rows of ``audit_events`` (payload as stored text), for verification."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(AuditEventRow.__table__).order_by(AuditEventRow.seq))
            return [dict(r._mapping) for r in rows]

    def verify_log(self) -> list[ChainProblem]:
        """Check the stored audit chain; an empty list means every event is intact."""
        return verify_chain(self.audit_rows())

    def audit_events(self, after: int = 0) -> list[AuditEvent]:
        """The audit log in sequence order (from ``after + 1``)."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(AuditEventRow).where(AuditEventRow.seq > after).order_by(AuditEventRow.seq)
            ).scalars()
            return [_event_of(r) for r in rows]

    # -- departments ----------------------------------------------------------------------

    def put_departments(self, departments: Iterable[Department], *, actor: str) -> None:
        """Add or rename departments."""
        deps = list(departments)
        check_fit(DepartmentRow, {"name": [d.name for d in deps]}, [d.code for d in deps])
        with self.transaction() as s:
            for d in deps:
                s.merge(DepartmentRow(code=d.code, name=d.name))
            self.append_event(
                s, actor, "department.change", {"departments": [attrs.asdict(d) for d in deps]}
            )

    def departments(self, *, session: Session | None = None) -> list[Department]:
        """All departments by code."""
        with self.reading(session) as s:
            rows = s.execute(select(DepartmentRow).order_by(DepartmentRow.code)).scalars()
            return [Department(r.code, r.name) for r in rows]

    def _known_departments(self, s: Session) -> set[str]:
        return set(s.execute(select(DepartmentRow.code)).scalars())

    # -- pools ----------------------------------------------------------------------------

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
                for tag in _split(text)
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
            EntityRow,
            "entities",
            columns,
            len(pool),
            actor,
            source,
            mode,
            batch_size,
            progress,
            precheck=tag_room,
            staged=staged,
        )

    def _import_rows(
        self,
        table: type[EntityRow] | type[InspectorRow],
        kind: str,
        columns: dict[str, Any],
        n: int,
        actor: str,
        source: str,
        mode: str,
        batch_size: int,
        progress: Progress | None,
        precheck: Callable[[Session], None] | None = None,
        staged: bool | None = None,
    ) -> ImportReport:
        if n == 0:
            raise StoreError(f"the {kind} pool is empty: nothing to import (check the file)")
        check_fit(table, columns, columns["id"])
        names = list(columns)
        batches = _Batches(columns, n, batch_size)
        digest = _imported_state(kind, batches).hex
        if staged is None:
            staged = n >= STAGED_IMPORT_FROM
        if self.dialect == "postgresql" and staged:
            return self._import_staged(
                table,
                kind,
                batches,
                actor,
                source,
                mode,
                digest,
                progress,
                precheck,
            )
        with self.transaction() as s:
            record = self._begin_import(s, kind, n, actor, source, mode, digest, precheck)
            if mode == "add":
                self._refuse_existing(s, table, columns["id"])
            replaced = _Replaced(kind)
            for stop, rows in batches:
                if mode == "upsert":
                    replaced.note(_pairs(kind, stored_rows(s, kind, [r["id"] for r in rows]), rows))
                for row in rows:
                    row["import_id"] = record.id
                stmt = insert(table) if mode == "add" else _upsert(self.dialect, table, names)
                s.execute(stmt, rows)
                if progress is not None:
                    progress(stop, n)
            return self._log_import(s, record, actor, replaced)

    def _begin_import(
        self,
        s: Session,
        kind: str,
        n: int,
        actor: str,
        source: str,
        mode: str,
        digest: str,
        precheck: Callable[[Session], None] | None,
    ) -> ImportRow:
        """Inside the import's locked transaction: the last checks, then its ``imports`` row."""
        if precheck is not None:
            precheck(s)
        record = ImportRow(
            kind=kind,
            source=source[:500],
            mode=mode,
            rows=n,
            digest=digest,
            actor=actor,
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

    def _import_staged(
        self,
        table: type[EntityRow] | type[InspectorRow],
        kind: str,
        batches: _Batches,
        actor: str,
        source: str,
        mode: str,
        digest: str,
        progress: Progress | None,
        precheck: Callable[[Session], None] | None,
    ) -> ImportReport:
        """A large import on PostgreSQL: rows go into a session-private TEMP table first,
        without the write lock (other writers carry on); then one locked transaction checks,
        copies them with ``INSERT … SELECT`` and logs the event. A crash at any point leaves
        the store as it was: the TEMP table dies with the session."""
        names, n = batches.names, batches.n
        target = table.__table__
        stage = sa.Table(
            _STAGE,
            sa.MetaData(),
            *(sa.Column(c, target.c[c].type) for c in names),
            prefixes=["TEMPORARY"],
        )
        with self.engine.connect() as conn:
            try:
                with conn.begin():
                    stage.create(conn)
                    if self.engine.dialect.driver == "psycopg":
                        _copy_rows(conn, batches, progress)
                    else:
                        for stop, rows in batches:
                            conn.execute(insert(stage), rows)
                            if progress is not None:
                                progress(stop, n)
                with self._locked(conn) as s:
                    record = self._begin_import(s, kind, n, actor, source, mode, digest, precheck)
                    if mode == "add":
                        existing = (
                            s.execute(
                                select(stage.c.id)
                                .join(target, target.c.id == stage.c.id)
                                .order_by(stage.c.id)
                                .limit(20)
                            )
                            .scalars()
                            .all()
                        )
                        _refuse_stored(list(existing))
                    replaced = _Replaced(kind)
                    if mode == "upsert":
                        replaced.note(staged_pairs(s, kind, stage))
                    moved = select(
                        *(stage.c[c] for c in names), sa.literal(record.id).label("import_id")
                    )
                    s.execute(
                        insert(table).from_select([*names, "import_id"], moved)
                        if mode == "add"
                        else _upsert(self.dialect, table, names, moved)
                    )
                    report = self._log_import(s, record, actor, replaced)
            finally:
                with conn.begin():
                    conn.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_STAGE}"))
        return report

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
            InspectorRow,
            "inspectors",
            columns,
            len(pool),
            actor,
            source,
            mode,
            10_000,
            None,
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
                qualifications=[_split(r.qualifications) for r in rows],
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

    # -- items, plans, tasks, policies ----------------------------------------------------

    def put_item(self, item: InspectionItem, *, actor: str) -> None:
        """Add or change an inspection item (一单)."""
        self.put_items([item], actor=actor)

    def put_items(self, items: Iterable[InspectionItem], *, actor: str) -> None:
        """Add or change several items in one transaction (all or none), one event each.

        Every item of an unknown department is named, and then nothing is stored."""
        todo = list(items)
        with self.transaction() as s:
            known = self._known_departments(s)
            unknown = [f"{i.code} ({i.department!r})" for i in todo if i.department not in known]
            if unknown:
                raise StoreError(
                    f"item(s) of unknown departments: {', '.join(unknown)}; add the departments "
                    "first (shuangsuiji departments add). Nothing was stored."
                )
            for item in todo:
                data = attrs.asdict(item)
                data["required_qualifications"] = _labels_text(item.required_qualifications)
                s.merge(ItemRow(**data))
                self.append_event(s, actor, "item.change", _jsonable(attrs.asdict(item)))

    def items(self, *, session: Session | None = None) -> list[InspectionItem]:
        """The inspection item list (一单)."""
        with self.reading(session) as s:
            rows = s.execute(select(ItemRow).order_by(ItemRow.code)).scalars()
            return [
                InspectionItem(
                    code=r.code,
                    department=r.department,
                    name=r.name,
                    legal_basis=r.legal_basis,
                    target=r.target,
                    method=r.method,
                    key=r.key,
                    default_ratio=r.default_ratio,
                    frequency_per_year=r.frequency_per_year,
                    required_qualifications=_split(r.required_qualifications),
                )
                for r in rows
            ]

    def put_plan(self, plan: Plan, *, actor: str) -> None:
        """Add or change the annual plan (一表)."""
        with self.transaction() as s:
            unknown = sorted(set(plan.departments) - self._known_departments(s))
            if unknown:
                raise StoreError(f"plan {plan.code}: unknown department(s) {unknown}")
            s.merge(
                PlanRow(
                    code=plan.code,
                    year=plan.year,
                    name=plan.name,
                    departments=json.dumps(list(plan.departments)),
                )
            )
            self.append_event(s, actor, "plan.change", _jsonable(attrs.asdict(plan)))

    def plans(self, *, session: Session | None = None) -> list[Plan]:
        """All plans."""
        with self.reading(session) as s:
            rows = s.execute(select(PlanRow).order_by(PlanRow.code)).scalars()
            return [Plan(r.code, r.year, r.name, tuple(json.loads(r.departments))) for r in rows]

    def put_task(self, task: Task, *, actor: str) -> None:
        """Add a task; its plan, departments and items must exist."""
        with self.transaction() as s:
            if s.get(PlanRow, task.plan) is None:
                raise StoreError(
                    f"task {task.code}: unknown plan {task.plan!r}; add the plan first"
                )
            unknown = sorted(set(task.departments) - self._known_departments(s))
            if unknown:
                raise StoreError(f"task {task.code}: unknown department(s) {unknown}")
            known_items = set(s.execute(select(ItemRow.code)).scalars())
            missing = [i for i in task.items if i not in known_items]
            if missing:
                raise StoreError(f"task {task.code}: unknown inspection item(s) {missing}")
            existed = s.get(TaskRow, task.code) is not None
            s.merge(
                TaskRow(
                    code=task.code,
                    plan=task.plan,
                    name=task.name,
                    departments=json.dumps(list(task.departments)),
                    items=json.dumps(list(task.items)),
                    start=task.start,
                    end=task.end,
                    population=json.dumps(
                        task.population.to_dict(), ensure_ascii=False, sort_keys=True
                    ),
                    ratio=task.ratio,
                )
            )
            payload = _jsonable(
                attrs.asdict(task, recurse=False) | {"population": task.population.to_dict()}
            )
            self.append_event(s, actor, "task.change" if existed else "task.create", payload)

    def task(self, code: str, *, session: Session | None = None) -> Task:
        """One task by code; ``StoreError`` if unknown."""
        with self.reading(session) as s:
            r = s.get(TaskRow, code)
            if r is None:
                raise NotStoredError(f"no task {code!r}")
            return _task_of(r)

    def tasks(self, plan: str | None = None, *, session: Session | None = None) -> list[Task]:
        """All tasks (of one plan)."""
        query = select(TaskRow).order_by(TaskRow.code)
        if plan is not None:
            query = query.where(TaskRow.plan == plan)
        with self.reading(session) as s:
            return [_task_of(r) for r in s.execute(query).scalars()]

    def save_policy(self, policy: Policy, *, actor: str) -> str:
        """Store a policy version (一细则) and make it the current one; returns its content hash.

        Saving the current policy again changes nothing. Saving one equal to an earlier version
        (same content hash) makes that version current again: its row's ``time`` becomes now
        (the policy in force is the one saved last) and a ``policy.version`` event records the
        change, so going back to earlier rules is never silent.
        """
        with self.transaction() as s:
            row = s.get(PolicyRow, policy.content_hash)
            now = format_utc(self.clock())
            payload: dict[str, Any] = {
                "hash": policy.content_hash,
                "name": policy.name,
                "version": policy.version,
            }
            if row is None:
                s.add(
                    PolicyRow(
                        hash=policy.content_hash,
                        name=policy.name,
                        version=policy.version,
                        toml=policy.to_toml(),
                        time=now,
                    )
                )
            elif self._current_policy_hash(s) == policy.content_hash:
                return policy.content_hash
            else:
                row.time = now
                payload["again"] = True
            self.append_event(s, actor, "policy.version", payload)
        return policy.content_hash

    def _current_policy_hash(self, s: Session) -> str | None:
        latest = select(PolicyRow.hash).order_by(PolicyRow.time.desc()).limit(1)
        return s.execute(latest).scalar()

    def policy(self, content_hash: str | None = None, *, session: Session | None = None) -> Policy:
        """A stored policy by hash (default: the latest saved)."""
        with self.reading(session) as s:
            if content_hash is None:
                row = s.execute(select(PolicyRow).order_by(PolicyRow.time.desc()).limit(1)).scalar()
            else:
                row = s.get(PolicyRow, content_hash)
            if row is None:
                raise NotStoredError(
                    f"no stored policy {content_hash or ''}: save the agency's 一细则 first "
                    "(Store.save_policy or a policy.toml)"
                )
            return Policy.from_toml(row.toml, source=f"policy {row.hash[:12]}")

    def counts(self) -> dict[str, int]:
        """Rows per table (for summaries)."""
        out = {}
        with Session(self.engine) as s:
            for table in Base.metadata.sorted_tables:
                out[table.name] = int(
                    s.execute(select(func.count()).select_from(table)).scalar_one()
                )
        return out


def _event_of(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        time=row.time,
        actor=row.actor,
        kind=row.kind,
        payload=json.loads(row.payload),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


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
    distinct = Labels.from_sets(_split(str(u)) for u in uniques)
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


def _jsonable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple | frozenset | set):
        items = [_jsonable(v) for v in data]
        return sorted(items) if isinstance(data, frozenset | set) else items
    if isinstance(data, date):
        return data.isoformat()
    return data


def _task_of(r: TaskRow) -> Task:
    return Task(
        code=r.code,
        plan=r.plan,
        name=r.name,
        departments=tuple(json.loads(r.departments)),
        items=tuple(json.loads(r.items)),
        start=r.start,
        end=r.end,
        population=PopulationFilter.from_dict(json.loads(r.population)),
        ratio=r.ratio,
    )


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
