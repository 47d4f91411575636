"""The store's core: the engine, its transactions and locks, the audit log, and the
repositories of departments, items, plans, tasks and policies (the pools are in
:mod:`shuangsuiji.store.pools`).

Every method that writes runs in one explicit transaction and appends its audit event
(table ``audit_events``) in that same transaction, so a change and its trace are committed
together or not at all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Self

import attrs
import numpy as np
import sqlalchemy as sa
from sqlalchemy import Engine, String, create_engine, event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shuangsuiji.actors import event_actor
from shuangsuiji.audit import (
    AuditEvent,
    ChainProblem,
    canonical_json,
    format_utc,
    next_event,
    verify_chain,
)
from shuangsuiji.errors import NotFoundError, RefusedError
from shuangsuiji.model import (
    Department,
    InspectionItem,
    Plan,
    PopulationFilter,
    Task,
)
from shuangsuiji.policy import Policy
from shuangsuiji.pools import STRING
from shuangsuiji.store.schema import (
    AuditEventRow,
    Base,
    ConflictRow,
    DepartmentRow,
    EntityRow,
    ItemRow,
    PlanRow,
    PolicyRow,
    RegionRow,
    ResultRow,
    TaskRow,
)

DEFAULT_URL = "sqlite:///shuangsuiji.db"
Clock = Callable[[], datetime]
_AUDIT_LOCK_KEY = 0x55A1_D17  # pg_advisory_xact_lock key that serialises audit appends
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


def _system_clock() -> datetime:
    # Read through the package face, where the system clock lives, so that a host (or a test)
    # that moves ``shuangsuiji.store.datetime`` moves every store's default clock with it.
    from shuangsuiji.store import utc_now

    return utc_now()


def normalise_url(url: str) -> str:
    """Accept a bare file path for SQLite and ``postgresql://`` for psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# Alembic keeps its running context in module globals: two threads upgrading at once (a host
# opening a store per request thread) would tear it down under each other. One lock per
# process; other processes are serialised by the database (SQLite's write lock, PostgreSQL's
# advisory lock in :meth:`StoreCore.upgrade`).
_UPGRADE_LOCK = threading.Lock()
_SQLITE_READY = "shuangsuiji_sqlite_ready"


def _sqlite_connection(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Prepare a SQLite connection once: the driver leaves transactions to us (so that
    ``BEGIN IMMEDIATE`` is the one that starts them), foreign keys on, a 30 s busy wait."""
    if record.info.get(_SQLITE_READY):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    record.info[_SQLITE_READY] = True


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_immediate(engine: Engine) -> None:
    """SQLite: take the write lock when a transaction begins, so two writers queue instead of
    failing on the audit sequence or the draw attempt; and enforce foreign keys.

    Installed on every SQLite engine a store is opened on, the library's own or a host's, once
    per engine. Connections the host's pool already holds are prepared at their next checkout,
    so no connection is closed under the host. On a host engine every transaction (the host's
    own too) then begins with ``BEGIN IMMEDIATE``: SQLite has one writer at a time anyway,
    and this makes the wait explicit instead of a ``database is locked`` failure mid-way.
    """
    if event.contains(engine, "begin", _sqlite_begin):
        return
    # Every connection, new or already pooled, passes a checkout before its first use.
    event.listen(engine, "checkout", _sqlite_connection)
    event.listen(engine, "begin", _sqlite_begin)


def _labels_text(labels: Iterable[str]) -> str:
    return "|".join(sorted(labels))


def split_labels(value: str) -> list[str]:
    """The labels of a stored ``|``-joined label text (the inverse of ``"|".join(sorted(...))``)."""
    return [v for v in value.split("|") if v]


class StoreCore:
    """The store without its pools (:class:`~shuangsuiji.store.Store` adds them): the engine,
    transactions, the audit log, departments, items, plans, tasks and policies."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock if clock is not None else _system_clock

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        upgrade: bool = True,
        clock: Clock | None = None,
    ) -> Self:
        """Open (and by default create or upgrade) the store at ``url`` or on ``engine``; the
        clock is the system's (:func:`~shuangsuiji.store.utc_now`) unless one is given."""
        if engine is None:
            target = normalise_url(url or DEFAULT_URL)
            kwargs: dict[str, Any] = {}
            if target.startswith("sqlite"):
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            engine = create_engine(target, **kwargs)
        if engine.dialect.name == "sqlite":
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
        with _UPGRADE_LOCK, self.engine.begin() as conn:
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

    def head(self) -> str:
        """The schema revision this version of the library writes (what :meth:`upgrade`
        brings a store to)."""
        from alembic.script import ScriptDirectory

        return str(ScriptDirectory.from_config(self._alembic_config()).get_current_head())

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
        name, payload = event_actor(actor, payload)  # a structured Actor: docs/audit.md
        ev = next_event(prev, time=format_utc(self.clock()), actor=name, kind=kind, payload=payload)
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

    def audit_events(self, after: int = 0, limit: int | None = None) -> list[AuditEvent]:
        """The audit log in sequence order (from ``after + 1``; at most ``limit`` events)."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.seq > after)
                .order_by(AuditEventRow.seq)
                .limit(limit)
            ).scalars()
            return [_event_of(r) for r in rows]

    def task_events(self, task: str) -> list[AuditEvent]:
        """The events of one task (top-level ``task`` in the payload), in sequence order,
        without reading the whole log: a LIKE on the canonical payload narrows the rows, and
        the parsed payload decides."""
        needle = canonical_json({"task": task}).decode()[1:-1]  # "task":"<label>"
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with Session(self.engine) as session:
            rows = session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.payload.like(f"%{escaped}%", escape="\\"))
                .order_by(AuditEventRow.seq)
            ).scalars()
            events = [_event_of(r) for r in rows]
        return [e for e in events if e.payload.get("task") == task]

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

    def put_regions(self, names: Mapping[str, str], *, actor: str) -> None:
        """Add or rename administrative divisions (code → name), shown on official pages."""
        bad = [c for c in names if not (c.isascii() and c.isdigit() and 2 <= len(c) <= 12)]
        if bad:
            raise StoreError(
                f"region codes must be 2-12 digits (行政区划代码), got {bad[:5]}; fix the file"
            )
        check_fit(RegionRow, {"name": list(names.values())}, list(names))
        with self.transaction() as s:
            for code, name in sorted(names.items()):
                s.merge(RegionRow(code=code, name=name))
            self.append_event(s, actor, "regions.change", {"regions": dict(sorted(names.items()))})

    def regions(self, *, session: Session | None = None) -> dict[str, str]:
        """The stored region names by code."""
        with self.reading(session) as s:
            return {r.code: r.name for r in s.execute(select(RegionRow)).scalars()}

    def _known_departments(self, s: Session) -> set[str]:
        return set(s.execute(select(DepartmentRow.code)).scalars())

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
                    required_qualifications=split_labels(r.required_qualifications),
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
