"""Reliability harness: load, races, crashes and audits of a shuangsuiji store.

The scenarios here drive a real store (SQLite file or PostgreSQL database) from several
processes and check afterwards what must hold whatever happened: no task drawn twice, no
audit event lost or duplicated, a valid gap-free hash chain, no partial draw or import.
Every scenario returns its figures and a list of ``problems`` (empty when all is well), so
that the tests (``tests/test_reliability_*.py``, small sizes) and ``report.py`` (larger
sizes, the figures of ``docs/reliability.md``) share one implementation.

Worker functions are top-level so that ``multiprocessing`` can run them in ``spawn`` and
``forkserver`` children; they open their own engine and dispose of it before returning.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from multiprocessing.context import BaseContext
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shuangsuiji.bundle import verify_bundle
from shuangsuiji.model import Department, Plan, Task
from shuangsuiji.pools import EntityPool
from shuangsuiji.registry import Registry
from shuangsuiji.seeds import party_commitment
from shuangsuiji.store import _AUDIT_LOCK_KEY, Store
from shuangsuiji.store.schema import (
    AuditEventRow,
    DrawCandidateRow,
    DrawPickRow,
    DrawRow,
    EntityRow,
    ImportRow,
)
from shuangsuiji.synth import City, make_city

ADMIN = "管理员"
START, END = date(2026, 7, 1), date(2026, 9, 30)
PG_ENV = "SSJ_TEST_POSTGRES_URL"
DRAW_KINDS = ("candidates.freeze", "seed.commit", "seed.reveal")
PRELOAD = [
    "shuangsuiji.registry",
    "shuangsuiji.io",
    "alembic.runtime.migration",
    "alembic.command",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
]


# -- databases and set-up ---------------------------------------------------------------------


@contextmanager
def database(engine: str, workdir: Path) -> Iterator[str]:
    """A new empty database: a SQLite file in ``workdir`` or a PostgreSQL database on the
    server named by ``$SSJ_TEST_POSTGRES_URL`` (dropped afterwards)."""
    name = f"ssj_rel_{uuid.uuid4().hex[:12]}"
    if engine == "sqlite":
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    server = os.environ.get(PG_ENV, "")
    if not server:
        raise SystemExit(f"set {PG_ENV} to a PostgreSQL server URL (see scripts/test.sh)")
    admin = create_engine(server.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def open_registry(url: str, clock: Callable[[], datetime] | None = None) -> Registry:
    """A registry on an already migrated store (workers never migrate)."""
    if clock is None:
        return Registry(Store.open(url, upgrade=False))
    return Registry(Store.open(url, upgrade=False, clock=clock))


def task_of(code: str) -> Task:
    """The task every scenario draws: the publicity-information inspection of one quarter."""
    return Task(code, "P", f"公示信息抽查 {code}", ("SCJG",), ("SCJG-01",), START, END)


def prepare(url: str, *, entities: int, tasks: Sequence[str], seed: int = 7) -> City:
    """Create the schema, load a synthetic city, a plan and ``tasks``; returns the city."""
    city = make_city(entities, seed=seed)
    reg = Registry.open(url)
    reg.setup_city(city, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "年度抽查计划", ("SCJG",)), actor=ADMIN)
    for code in tasks:
        reg.store.put_task(task_of(code), actor=ADMIN)
    reg.store.engine.dispose()
    return city


def snapshot(store: Store) -> dict[str, Any]:
    """Row counts of every table and the audit head: equal snapshots mean nothing changed."""
    events = store.audit_events()
    head = (events[-1].seq, events[-1].hash) if events else (0, "")
    return {"counts": store.counts(), "head": head}


def outcome(exc: BaseException | None) -> tuple[str, str]:
    """Classify how a step ended: ok; refused (the library said no with one of its
    ``ValueError`` subclasses, e.g. ``DrawRefused``, ``StoreError``); constraint (the
    database's unique constraint on (task, attempt) said no, as a raw driver error); or
    error (anything else)."""
    if exc is None:
        return "ok", ""
    message = str(exc).splitlines()[0][:300]
    if isinstance(exc, ValueError):
        return "refused", message
    if isinstance(exc, IntegrityError) and "uq_draws_task_attempt" in str(exc):
        return "constraint", message
    return "error", f"{type(exc).__name__}: {message}"


# -- concurrency: eight processes at once -------------------------------------------------------


@dataclass
class StressJob:
    """What one worker process does: ``rounds`` × (race for a shared task, draw its own task,
    import a few entities, add a department), then a re-draw race with a reason."""

    url: str
    worker: int
    shared: list[str]
    own: list[str]
    redraw: str
    imports: list[dict[str, Any]]


@dataclass
class StressLog:
    """What one worker did: every step with its outcome and the audit kinds it must have left."""

    worker: int
    actor: str
    steps: list[tuple[str, str, str, str]] = field(default_factory=list)  # op, target, outcome, msg
    drawn: list[tuple[str, int]] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    imported: int = 0
    seconds: float = 0.0


def _draw_step(reg: Registry, log: StressLog, task: str, reason: str = "") -> None:
    try:
        result = reg.draw(task, actor=log.actor, reason=reason)
    except Exception as exc:
        kind, message = outcome(exc)
        log.steps.append(("draw", task, kind, message))
        if kind == "refused":
            log.kinds["draw.error"] += 1
        return
    log.steps.append(("draw", task, "ok", ""))
    log.drawn.append((task, result.attempt))
    log.kinds.update(DRAW_KINDS)
    log.kinds["redraw" if result.attempt > 1 else "draw"] += 1


def stress_worker(job: StressJob) -> StressLog:
    """One of the concurrent processes (run by :func:`run_stress`)."""
    began = time.perf_counter()
    log = StressLog(job.worker, f"抽取人{job.worker:02d}")
    reg = open_registry(job.url)
    try:
        for r, (shared, own) in enumerate(zip(job.shared, job.own, strict=True)):
            _draw_step(reg, log, shared)
            _draw_step(reg, log, own)
            pool = EntityPool.from_columns(**job.imports[r])
            try:
                reg.store.import_entities(pool, actor=log.actor, source=f"w{job.worker}r{r}")
                log.steps.append(("import", f"r{r}", "ok", ""))
                log.kinds["pool.import"] += 1
                log.imported += len(pool)
            except Exception as exc:
                log.steps.append(("import", f"r{r}", *outcome(exc)))
            code = f"W{job.worker:02d}R{r:02d}"
            try:
                reg.store.put_departments([Department(code, f"科室{code}")], actor=log.actor)
                log.steps.append(("department", code, "ok", ""))
                log.kinds["department.change"] += 1
            except Exception as exc:
                log.steps.append(("department", code, *outcome(exc)))
        _draw_step(reg, log, job.redraw, reason=f"复核需要重新抽取（{log.actor}，经批准）")
    finally:
        reg.store.engine.dispose()
    log.seconds = time.perf_counter() - began
    return log


def _import_columns(city: City, rows: np.ndarray[Any, Any], tag: str) -> dict[str, Any]:
    """Plain columns (picklable) of some city rows under new IDs (``tag`` + the USCC)."""
    part = city.entities.take(rows)
    return {
        "ids": [f"{tag}-{i}" for i in part.id_list()],
        "names": [str(n) for n in part.names],
        "entity_type": [str(v) for v in part.entity_type.values()],
        "industry": [v.decode() for v in part.industry.tolist()],
        "region": [v.decode() for v in part.region.tolist()],
        "registered": [str(d) for d in part.registered.astype("datetime64[D]").astype(str)],
        "tier": [("A", "B", "C", "D")[t] for t in part.tier.tolist()],
        "status": [str(v) for v in part.status.values()],
        "tags": [sorted(part.tags[i]) for i in range(len(part))],
        "id_scheme": "local",
    }


@dataclass
class StressResult:
    """Figures of one concurrency run and the problems found (empty: everything held)."""

    engine: str
    workers: int
    steps: int
    committed: int
    refused: int
    constraint: int
    events: int
    draws: int
    seconds: float
    problems: list[str]


def run_stress(
    url: str,
    pool: Pool,
    *,
    workers: int = 8,
    rounds: int = 2,
    shared_tasks: int | None = None,
    entities: int = 600,
    import_rows: int = 5,
) -> StressResult:
    """Run ``workers`` processes at once against ``url`` and check every invariant."""
    shared = [f"S{r:02d}" for r in range(shared_tasks or rounds)]
    own = {k: [f"O{k:02d}R{r:02d}" for r in range(rounds)] for k in range(workers)}
    city = prepare(url, entities=entities, tasks=[*shared, *(t for v in own.values() for t in v)])
    store = Store.open(url, upgrade=False)
    before = snapshot(store)
    rng = np.random.default_rng(11)
    jobs = [
        StressJob(
            url,
            k,
            [shared[r % len(shared)] for r in range(rounds)],
            own[k],
            redraw=shared[0],
            imports=[
                _import_columns(
                    city, rng.choice(len(city.entities), import_rows, False), f"W{k}R{r}"
                )
                for r in range(rounds)
            ],
        )
        for k in range(workers)
    ]
    began = time.perf_counter()
    logs: list[StressLog] = pool.map(stress_worker, jobs, chunksize=1)
    seconds = time.perf_counter() - began
    problems = check_stress(store, before, logs, shared)
    steps = [s for log in logs for s in log.steps]
    counts = Counter(s[2] for s in steps)
    result = StressResult(
        store.dialect,
        workers,
        len(steps),
        counts["ok"],
        counts["refused"],
        counts["constraint"],
        len(store.audit_events()) - before["head"][0],
        sum(len(log.drawn) for log in logs),
        seconds,
        problems,
    )
    store.engine.dispose()
    return result


def check_stress(
    store: Store, before: dict[str, Any], logs: Sequence[StressLog], shared: Sequence[str]
) -> list[str]:
    """Everything that must hold after :func:`run_stress`; returns the violations."""
    problems = [f"worker {log.worker}: {s}" for log in logs for s in log.steps if s[2] == "error"]
    problems += [f"audit chain: {p}" for p in store.verify_log()]
    events = store.audit_events()
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"audit sequence numbers are not 1..{len(seqs)} without gaps")
    for log in logs:
        got = Counter(e.kind for e in events if e.actor == log.actor)
        if got != log.kinds:
            problems.append(
                f"worker {log.worker}: events {dict(got)} but it did {dict(log.kinds)} "
                "(an event was lost or duplicated)"
            )
    reported = [d for log in logs for d in log.drawn]
    if len(reported) != len(set(reported)):
        problems.append(f"the same (task, attempt) was reported twice: {Counter(reported)}")
    problems += check_draws(store, expected=set(reported))
    for task in shared:
        firsts = [log.worker for log in logs for d in log.drawn if d == (task, 1)]
        if len(firsts) != 1:
            problems.append(f"shared task {task}: attempt 1 drawn by workers {firsts}")
    imported = sum(log.imported for log in logs)
    if store.count_entities() != before["counts"]["entities"] + imported:
        problems.append(
            f"entities: {store.count_entities()} stored, expected "
            f"{before['counts']['entities']} + {imported} imported"
        )
    return problems


def check_draws(
    store: Store, expected: set[tuple[str, int]] | None = None, *, verify: bool = True
) -> list[str]:
    """No partial draw: every draw row is complete and matches exactly one draw event.

    ``verify`` also re-derives every bundle (:func:`~shuangsuiji.bundle.verify_bundle`)."""
    problems = []
    with Session(store.engine) as s:
        rows = s.execute(select(DrawRow).order_by(DrawRow.task, DrawRow.attempt)).scalars().all()
        picks = dict(
            s.execute(select(DrawPickRow.draw_id, func.count()).group_by(DrawPickRow.draw_id)).all()
        )
        cands = dict(
            s.execute(
                select(DrawCandidateRow.draw_id, func.count()).group_by(DrawCandidateRow.draw_id)
            ).all()
        )
    by_task: dict[str, list[int]] = {}
    for row in rows:
        by_task.setdefault(row.task, []).append(row.attempt)
        where = f"draw {row.task}#{row.attempt}"
        if row.state != "drawn" or row.bundle is None or row.seed is None:
            problems.append(f"{where}: partial (state {row.state}, bundle/seed missing)")
            continue
        bundle = json.loads(row.bundle)
        if picks.get(row.id, 0) != len(bundle["selected"]) + len(bundle["alternates"]):
            problems.append(f"{where}: {picks.get(row.id, 0)} picks stored, bundle has more/less")
        if cands.get(row.id, 0) != row.candidates:
            problems.append(f"{where}: {cands.get(row.id, 0)} of {row.candidates} candidates")
        if verify and not verify_bundle(bundle).ok:
            problems.append(f"{where}: its bundle does not verify")
    for task, attempts in by_task.items():
        if attempts != list(range(1, len(attempts) + 1)):
            problems.append(f"task {task}: attempts {attempts}, expected 1..{len(attempts)}")
    events = store.audit_events()
    drawn = {(r.task, r.attempt): r for r in rows}
    logged = [
        (e.payload["task"], e.payload["attempt"], e) for e in events if e.kind in ("draw", "redraw")
    ]
    if sorted((t, a) for t, a, _ in logged) != sorted(drawn):
        problems.append(
            f"draw events {sorted((t, a) for t, a, _ in logged)} do not match "
            f"draw rows {sorted(drawn)}"
        )
    for task, attempt, logged_event in logged:
        row = drawn.get((task, attempt))
        if row is not None and logged_event.payload["seed"] != row.seed:
            problems.append(f"draw {task}#{attempt}: the stored seed differs from the logged one")
    for kind in DRAW_KINDS:
        n = sum(e.kind == kind for e in events)
        if n != len(rows):
            problems.append(f"{n} {kind} events for {len(rows)} draw rows")
    if expected is not None and set(drawn) != expected:
        problems.append(f"draw rows {sorted(drawn)} but the workers drew {sorted(expected)}")
    return problems


# -- races held at a gate (PostgreSQL) ----------------------------------------------------------


@contextmanager
def audit_gate(url: str, waiters: int, timeout: float = 60.0) -> Iterator[Callable[[], None]]:
    """Hold the store's audit lock so that concurrent steps pile up, then let them go at once.

    Yields ``release()``: it waits until ``waiters`` other sessions of the database are
    blocked on a lock (the audit lock or a row they collide on), then releases the audit lock.
    This makes the interleaving of a race deterministic instead of a matter of luck.
    """
    engine = create_engine(url)
    conn = engine.connect()
    conn.execute(select(func.pg_advisory_lock(_AUDIT_LOCK_KEY)))
    conn.commit()

    def release() -> None:
        deadline = time.monotonic() + timeout
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        while conn.execute(query).scalar_one() < waiters:
            conn.commit()
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {waiters} sessions reached the gate in {timeout}s")
            time.sleep(0.02)
        conn.execute(select(func.pg_advisory_unlock(_AUDIT_LOCK_KEY)))
        conn.commit()

    try:
        yield release
    finally:
        conn.close()
        engine.dispose()


def gated(
    url: str, pool: Pool, fn: Callable[[Any], tuple[str, str, str]], args: Sequence[Any]
) -> list[tuple[str, str, str]]:
    """Run ``fn`` over ``args`` in the pool, all held at :func:`audit_gate` and then released."""
    with audit_gate(url, len(args)) as release:
        pending = pool.map_async(fn, args, chunksize=1)
        release()
        return list(pending.get(timeout=120))


def _step(fn: Callable[[], Any]) -> tuple[str, str, str]:
    try:
        value = fn()
    except Exception as exc:
        kind, message = outcome(exc)
        return kind, type(exc).__name__, message
    return "ok", "", str(value)


def race_draw(args: tuple[str, str, int]) -> tuple[str, str, str]:
    """Worker: draw ``task`` (for the gated race)."""
    url, task, k = args
    reg = open_registry(url)
    try:
        return _step(lambda: reg.draw(task, actor=f"抽取人{k:02d}").attempt)
    finally:
        reg.store.engine.dispose()


def race_commit(args: tuple[str, str, str, str]) -> tuple[str, str, str]:
    """Worker: commit one ceremony party's seed contribution."""
    url, task, party, commitment = args
    reg = open_registry(url)
    try:
        return _step(lambda: reg.commit_seed(task, party, commitment, actor=party))
    finally:
        reg.store.engine.dispose()


def race_replace(args: tuple[str, str, str]) -> tuple[str, str, str]:
    """Worker: replace one selected entity by its stratum's next alternate."""
    url, task, victim = args
    reg = open_registry(url)
    try:
        return _step(lambda: reg.replace(task, victim, "deregistered_before_draw", actor="抽取人"))
    finally:
        reg.store.engine.dispose()


def race_department(args: tuple[str, str, str]) -> tuple[str, str, str]:
    """Worker: add a department through a host engine with the given isolation level."""
    url, isolation, code = args
    store = Store.open(engine=create_engine(url, isolation_level=isolation), upgrade=False)
    try:
        return _step(lambda: store.put_departments([Department(code, "科室")], actor="管理员"))
    finally:
        store.engine.dispose()


RACE_IMPORT_ROWS = 200


def race_import(args: tuple[str, int]) -> tuple[str, str, str]:
    """Worker: import the same 200 entities (mode "add") as every other contender."""
    url, k = args
    store = Store.open(url, upgrade=False)
    pool = make_city(RACE_IMPORT_ROWS, seed=5).entities
    try:
        return _step(lambda: store.import_entities(pool, actor=f"导入员{k}").rows)
    finally:
        store.engine.dispose()


def seed_record(store: Store, task: str) -> str:
    """The stored seed record (ceremony) of the task's latest draw row."""
    with Session(store.engine) as s:
        row = (
            s.execute(select(DrawRow).where(DrawRow.task == task).order_by(DrawRow.attempt.desc()))
            .scalars()
            .first()
        )
        if row is None:
            raise LookupError(f"task {task} has no draw row")
        return row.seed_record


def open_fresh(url: str) -> tuple[str, str, str]:
    """Worker: open (and so create or upgrade) the store at ``url``."""

    def run() -> str | None:
        store = Store.open(url)
        store.engine.dispose()
        return store.revision()

    return _step(run)


def commitment_args(url: str, task: str, digest: str, n: int) -> list[tuple[str, str, str, str]]:
    """Arguments of :func:`race_commit` for ``n`` parties with distinct contributions."""
    parties = [f"参与方{k}" for k in range(n)]
    return [
        (url, task, p, party_commitment(task, digest, p, bytes([k + 1]) * 16))
        for k, p in enumerate(parties)
    ]


# -- crash safety: kill -9 at random points -------------------------------------------------------


def _count_begins(engine: Engine, counter: Any) -> None:
    """Count the transactions ``engine`` begins (after a kill: had the step's one begun?)."""

    @event.listens_for(engine, "begin")
    def _begin(_conn: Any) -> None:
        counter.value += 1


def crash_draw_child(url: str, task: str, ready: Any, begun: Any, finished: Any) -> None:
    """Child: connect, say ready, draw ``task`` (the parent kills it at a random moment)."""
    reg = open_registry(url)
    reg.store.revision()  # connect before the race starts
    _count_begins(reg.store.engine, begun)
    ready.set()
    reg.draw(task, actor="抽取人")
    finished.set()
    reg.store.engine.dispose()


def crash_import_child(
    url: str, columns: dict[str, Any], ready: Any, done: Any, finished: Any
) -> None:
    """Child: connect, say ready, import a pool in small batches (``done`` counts rows sent)."""
    store = Store.open(url, upgrade=False)
    pool = EntityPool.from_columns(**columns)
    store.count_entities()
    ready.set()

    def progress(sent: int, _total: int) -> None:
        done.value = sent  # rows sent to the database inside the import's transaction

    store.import_entities(pool, actor="导入员", source="crash", batch_size=200, progress=progress)
    finished.set()
    store.engine.dispose()


def crash_upgrade_child(url: str, ready: Any, _unused: Any, finished: Any) -> None:
    """Child: create the schema of an empty database (the parent kills it midway)."""
    store = Store.open(url, upgrade=False)
    store.revision()  # connect first
    ready.set()
    store.upgrade()
    finished.set()
    store.engine.dispose()


@dataclass
class CrashResult:
    """Figures of one crash run: kills, where they landed, the problems found."""

    engine: str
    scenario: str
    kills: int
    mid_transaction: int
    after_commit: int
    before_start: int
    reruns: int
    seconds: float
    problems: list[str]


def _kill_child(
    ctx: BaseContext,
    target: Callable[..., None],
    args: tuple[Any, ...],
    delay: float,
) -> tuple[bool, int]:
    """Start ``target``, wait until it is ready, sleep ``delay``, ``kill -9`` it.

    Returns (whether the child had finished its step, its progress counter)."""
    ready, finished = ctx.Event(), ctx.Event()
    progress = ctx.Value("i", 0)
    child = ctx.Process(target=target, args=(*args, ready, progress, finished), daemon=True)
    child.start()
    if not ready.wait(60):
        child.kill()
        raise RuntimeError("crash child did not start")
    time.sleep(delay)
    if child.pid is not None and child.exitcode is None:
        os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    return finished.is_set(), int(progress.value)


def _timed(ctx: BaseContext, target: Callable[..., None], args: tuple[Any, ...]) -> float:
    """How long ``target`` takes from ready to the end of its step when nobody kills it."""
    ready, finished = ctx.Event(), ctx.Event()
    progress = ctx.Value("i", 0)
    child = ctx.Process(target=target, args=(*args, ready, progress, finished), daemon=True)
    child.start()
    ready.wait(60)
    began = time.perf_counter()
    finished.wait(120)
    span = time.perf_counter() - began
    child.join(60)
    if child.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed without being killed")
    return span


def crash_context() -> BaseContext:
    """A forkserver context with the library preloaded: children start in milliseconds."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    # Installed modules only: Python 3.11's fork server does not receive the parent's sys.path
    # (each child does, and then imports this small module on top of the preloaded ones).
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def crash_draws(url: str, kills: int, *, entities: int = 800, seed: int = 3) -> CrashResult:
    """Kill draws at random moments; after each kill check the store, then draw again."""
    ctx = crash_context()
    rng = random.Random(seed)
    tasks = [f"K{i:03d}" for i in range(kills + 1)]
    prepare(url, entities=entities, tasks=tasks)
    store = Store.open(url, upgrade=False)
    began = time.perf_counter()
    span = _timed(ctx, crash_draw_child, (url, tasks[0]))
    problems = check_draws(store)
    mid = after = early = reruns = 0
    current = 1
    for _ in range(kills):
        task = tasks[current]
        finished, begun = _kill_child(
            ctx, crash_draw_child, (url, task), rng.uniform(0.0, span * 1.1)
        )
        drawn = Registry(store).draws(task)
        after += bool(drawn)
        mid += not drawn and begun > 0
        early += not drawn and begun == 0
        problems += [f"after kill on {task}: {p}" for p in check_draws(store, verify=False)]
        if finished and not drawn:
            problems.append(f"{task}: the draw returned but nothing was stored")
        if drawn:
            current += 1
        else:
            reruns += 1  # the next child draws the same task again
    # Rerunning succeeds: the task the last kill interrupted can still be drawn.
    if current < len(tasks):
        Registry(store).draw(tasks[current], actor="抽取人")
    problems += check_draws(store)
    problems += [f"audit chain: {p}" for p in store.verify_log()]
    result = CrashResult(
        store.dialect, "draw", kills, mid, after, early, reruns,
        time.perf_counter() - began, problems,
    )  # fmt: skip
    store.engine.dispose()
    return result


def crash_imports(url: str, kills: int, *, rows: int = 3000, seed: int = 5) -> CrashResult:
    """Kill imports of ``rows`` entities at random moments; each import is all or nothing."""
    ctx = crash_context()
    rng = random.Random(seed)
    city = prepare(url, entities=200, tasks=[])
    big = make_city(rows * 4, seed=seed + 100)
    store = Store.open(url, upgrade=False)
    chunks = [
        _import_columns(big, np.arange(j * rows, (j + 1) * rows) % len(big.entities), f"C{j}")
        for j in range(kills + 2)
    ]
    began = time.perf_counter()
    span = _timed(ctx, crash_import_child, (url, chunks[0]))
    problems: list[str] = []
    expected = len(city.entities) + rows
    mid = after = early = reruns = 0
    current = 1
    for _ in range(kills):
        finished, sent = _kill_child(
            ctx, crash_import_child, (url, chunks[current]), rng.uniform(0.0, span * 1.1)
        )
        count = store.count_entities()
        committed = count == expected + rows
        after += committed
        mid += not committed and sent > 0
        early += not committed and sent == 0
        if count not in (expected, expected + rows):
            problems.append(f"partial import: {count} entities, expected {expected} or +{rows}")
        problems += check_imports(store)
        if finished and not committed:
            problems.append("an import returned but its rows were not stored")
        if committed:
            expected += rows
            current += 1
        else:
            reruns += 1
    store.import_entities(EntityPool.from_columns(**chunks[current]), actor="导入员")
    if store.count_entities() != expected + rows:
        problems.append("rerunning the interrupted import did not store it")
    problems += check_imports(store)
    problems += [f"audit chain: {p}" for p in store.verify_log()]
    result = CrashResult(
        store.dialect, "import", kills, mid, after, early, reruns,
        time.perf_counter() - began, problems,
    )  # fmt: skip
    store.engine.dispose()
    return result


def check_imports(store: Store) -> list[str]:
    """Every import record has its event and exactly its rows; no row without its import."""
    problems = []
    with Session(store.engine) as s:
        imports = {
            r.id: r
            for r in s.execute(select(ImportRow).where(ImportRow.kind == "entities")).scalars()
        }
        per_import = dict(
            s.execute(select(EntityRow.import_id, func.count()).group_by(EntityRow.import_id)).all()
        )
        logged = [
            json.loads(p)["import_id"]
            for p in s.execute(
                select(AuditEventRow.payload).where(AuditEventRow.kind == "pool.import")
            ).scalars()
            if json.loads(p)["kind"] == "entities"
        ]
    if sorted(logged) != sorted(imports):
        problems.append(f"import events {sorted(logged)} but import records {sorted(imports)}")
    for import_id, count in per_import.items():
        if import_id not in imports:
            problems.append(f"{count} entities belong to no import record ({import_id})")
        elif count != imports[import_id].rows:
            problems.append(f"import {import_id}: {count} rows stored of {imports[import_id].rows}")
    return problems


def crash_upgrades(make_url: Callable[[], Any], kills: int, *, seed: int = 9) -> CrashResult:
    """Kill schema creation on empty databases; the schema is absent or whole, reopening works.

    ``make_url`` is a context-manager factory yielding a new empty database URL."""
    ctx = crash_context()
    rng = random.Random(seed)
    problems: list[str] = []
    mid = after = early = 0
    began = time.perf_counter()
    dialect = ""
    with make_url() as url:
        span = _timed(ctx, crash_upgrade_child, (url,))
    for _ in range(kills):
        with make_url() as url:
            _kill_child(ctx, crash_upgrade_child, (url,), rng.uniform(0.0, span * 1.1))
            store = Store.open(url, upgrade=False)
            dialect = store.dialect
            tables = _tables(store.engine)
            revision = store.revision() if "alembic_version" in tables else None
            if revision is None and tables - {"alembic_version"}:
                problems.append(f"half-made schema without a revision: {sorted(tables)}")
            after += revision is not None
            mid += revision is None
            store.upgrade()  # reopening finishes the job
            if store.revision() is None or store.audit_events():
                problems.append("reopening after the kill did not give a working store")
            store.engine.dispose()
    return CrashResult(
        dialect, "upgrade", kills, mid, after, early, mid, time.perf_counter() - began, problems
    )


def _tables(engine: Engine) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(engine).get_table_names())
