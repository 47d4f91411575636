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
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing.context import ForkServerContext
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shuangsuiji.bundle import verify_bundle
from shuangsuiji.model import Conflict, Department, InspectionItem, Plan, Task
from shuangsuiji.policy import DrawRules
from shuangsuiji.pools import EntityPool, InspectorPool
from shuangsuiji.registry import Registry
from shuangsuiji.seeds import party_commitment
from shuangsuiji.store import Store
from shuangsuiji.store._store import _AUDIT_LOCK_KEY
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
DRAW_KINDS = ("candidates.freeze", "seed.commit", "draw.announce", "seed.reveal")
TEAM_KINDS = (
    "teams.freeze",
    "teams.seed.commit",
    "draw.announce",
    "teams.seed.reveal",
    "teams.assign",
)
REDRAW = {"reason": "system_failure", "approved_by": "复核人-赵"}
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


_REAL_EPOCH = datetime(2026, 12, 1, tzinfo=UTC)
_SLOWER = 1_000


def inspection_day() -> datetime:
    """The workers' clock: 2026-09-01 (a day inside the tasks' window), whatever the real date,
    so that a result dated that day is recorded after its team was drawn and never in the
    future. It still moves — one microsecond per real millisecond since a fixed epoch, the same
    in every process — so events keep their order and two saves of a policy their times. (It
    stays on 2026-09-01, China time, until about 2028-08.)"""
    elapsed = datetime.now(UTC) - _REAL_EPOCH
    return datetime(2026, 9, 1, 1, 0, tzinfo=UTC) + elapsed / _SLOWER


def open_registry(url: str, clock: Callable[[], datetime] | None = None) -> Registry:
    """A registry on an already migrated store (workers never migrate)."""
    return Registry(Store.open(url, upgrade=False, clock=clock or inspection_day))


def task_of(code: str) -> Task:
    """The task every scenario draws: the publicity-information inspection of one quarter."""
    return Task(code, "P", f"公示信息抽查 {code}", ("SCJG",), ("SCJG-01",), START, END)


def prepare(
    url: str, *, entities: int, tasks: Sequence[str], seed: int = 7, window: bool = True
) -> City:
    """Create the schema, load a synthetic city, a plan and ``tasks``; returns the city.

    The policy lifts the re-draw cap (the stress run re-draws one task from every worker);
    ``window=False`` also turns the exclusion window (and rotation) off, because the library
    refuses to re-draw a task on whose selection a later draw's window relied
    (tests/test_threats.py), and without the window the tasks select the same entities again.
    """
    city = make_city(entities, seed=seed)
    reg = Registry.open(url, clock=inspection_day)
    reg.setup_city(city, actor=ADMIN)
    policy = attrs.evolve(reg.store.policy(), draw=DrawRules(max_redraws=99))
    if not window:
        policy = attrs.evolve(
            policy,
            exclusions=attrs.evolve(policy.exclusions, recently_inspected_days=0),
            recusal=attrs.evolve(policy.recusal, rotation_days=0),
        )
    reg.store.save_policy(policy, actor=ADMIN)
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


UNIQUE_VIOLATIONS = ("duplicate key value", "UNIQUE constraint failed")


def outcome(exc: BaseException | None) -> tuple[str, str]:
    """Classify how a step ended: ok; refused (the library said no with one of its
    ``ValueError`` subclasses, e.g. ``DrawRefused``, ``StoreError``); constraint (a unique
    constraint of the database said no, as a raw driver error: a race the library did not
    serialise, caught by the schema); or error (anything else)."""
    if exc is None:
        return "ok", ""
    message = str(exc).splitlines()[0][:300]
    if isinstance(exc, ValueError):
        return "refused", message
    if isinstance(exc, IntegrityError) and any(u in str(exc) for u in UNIQUE_VIOLATIONS):
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


def _draw_step(reg: Registry, log: StressLog, task: str, **redraw: str) -> bool:
    try:
        result = reg.draw(task, actor=log.actor, **redraw)
    except Exception as exc:
        kind, message = outcome(exc)
        log.steps.append(("draw", task, kind, message))
        if kind == "refused":
            log.kinds["draw.error"] += 1
        return False
    log.steps.append(("draw", task, "ok", ""))
    log.drawn.append((task, result.attempt))
    log.kinds.update(DRAW_KINDS)
    log.kinds["redraw" if result.attempt > 1 else "draw"] += 1
    return True


def _teams_step(reg: Registry, log: StressLog, task: str) -> None:
    try:
        reg.assign_teams(task, actor=log.actor)
    except Exception as exc:
        kind, message = outcome(exc)
        log.steps.append(("teams", task, kind, message))
        if kind == "refused":
            log.kinds["draw.error"] += 1  # assign_teams records a refusal like draw() does
        return
    log.steps.append(("teams", task, "ok", ""))
    log.kinds.update(TEAM_KINDS)


def _result_step(reg: Registry, log: StressLog, task: str) -> None:
    try:
        teams = reg.teams(task)
        if not teams:  # another worker re-drew the task since (its new draw has no teams yet)
            log.steps.append(("result", task, "refused", "the current draw has no teams yet"))
            return
        entity = min(teams)
        reg.record_result(
            task,
            entity,
            "SCJG-01",
            "01",
            inspection_start=date(2026, 9, 1),
            inspection_end=date(2026, 9, 1),
            inspectors=teams[entity],
            actor=log.actor,
        )
    except Exception as exc:
        log.steps.append(("result", task, *outcome(exc)))
        return
    log.steps.append(("result", task, "ok", ""))
    log.kinds["result.record"] += 1


def stress_worker(job: StressJob) -> StressLog:
    """One of the concurrent processes (run by :func:`run_stress`)."""
    began = time.perf_counter()
    log = StressLog(job.worker, f"抽取人{job.worker:02d}")
    reg = open_registry(job.url)
    try:
        for r, (shared, own) in enumerate(zip(job.shared, job.own, strict=True)):
            # Every worker races for the shared task; whoever draws a task staffs it and
            # records a result (races for teams and results: see the gated tests).
            for task in (shared, own):
                if _draw_step(reg, log, task):
                    _teams_step(reg, log, task)
                    if task != job.redraw:  # a task with results may not be re-drawn
                        _result_step(reg, log, task)
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
        _draw_step(reg, log, job.redraw, text=f"复核需要重新抽取（{log.actor}，经批准）", **REDRAW)
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
    refusals: list[str] = field(default_factory=list)  # "op target: message" of each refusal


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
    every = [*shared, *(t for v in own.values() for t in v)]
    city = prepare(url, entities=entities, tasks=every, window=False)
    store = Store.open(url, upgrade=False, clock=inspection_day)
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
        [f"{s[0]} {s[1]}: {s[3]}" for s in steps if s[2] == "refused"],
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
    problems += check_teams_and_results(store)
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
        match = drawn.get((task, attempt))
        if match is not None and logged_event.payload["seed"] != match.seed:
            problems.append(f"draw {task}#{attempt}: the stored seed differs from the logged one")
    for kind in DRAW_KINDS:
        # one event of each kind per draw row; the team stage announces too (stage "teams")
        n = sum(e.kind == kind and "stage" not in e.payload.get("announcement", {}) for e in events)
        if n != len(rows):
            problems.append(f"{n} {kind} events for {len(rows)} draw rows")
    if expected is not None and set(drawn) != expected:
        problems.append(f"draw rows {sorted(drawn)} but the workers drew {sorted(expected)}")
    return problems


def check_teams_and_results(store: Store) -> list[str]:
    """Teams are whole and assigned once per draw; results once per version; all logged."""
    from shuangsuiji.store.schema import ResultRow, TeamMemberRow

    problems = []
    with Session(store.engine) as s:
        rows = s.execute(select(DrawRow)).scalars().all()
        members = dict(
            s.execute(
                select(TeamMemberRow.draw_id, func.count()).group_by(TeamMemberRow.draw_id)
            ).all()
        )
        versions = s.execute(select(ResultRow.version)).scalars().all()
    events = store.audit_events()
    for row in rows:
        where = f"draw {row.task}#{row.attempt}"
        if row.assignment is None:
            if members.get(row.id):
                problems.append(f"{where}: {members[row.id]} team members but no assignment")
            continue
        teams = json.loads(row.assignment)["assignment"]["teams"]
        if members.get(row.id, 0) != sum(len(t["inspectors"]) for t in teams):
            problems.append(f"{where}: team members stored do not match its assignment")
    assigned = Counter(
        (e.payload["task"], e.payload["attempt"]) for e in events if e.kind == "teams.assign"
    )
    with_teams = {(r.task, r.attempt) for r in rows if r.assignment is not None}
    if set(assigned) != with_teams or any(n > 1 for n in assigned.values()):
        problems.append(f"teams.assign events {dict(assigned)} vs draws with teams {with_teams}")
    recorded = sum(e.kind == "result.record" for e in events)
    corrected = sum(e.kind == "result.correct" for e in events)
    if (recorded, corrected) != (versions.count(1), len(versions) - versions.count(1)):
        problems.append(
            f"{recorded} result.record and {corrected} result.correct events for result "
            f"versions {sorted(versions)}"
        )
    return problems


# -- races held at a gate (PostgreSQL) ----------------------------------------------------------


def _wait_for_waiters(conn: Any, waiters: int, timeout: float) -> None:
    """Wait until ``waiters`` other sessions of the database are blocked on a lock."""
    deadline = time.monotonic() + timeout
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    # A separate connection: ``conn`` may be inside the transaction that holds the gate.
    engine = create_engine(conn.engine.url)
    try:
        with engine.connect() as probe:
            while probe.execute(query).scalar_one() < waiters:
                probe.commit()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"fewer than {waiters} sessions reached the gate")
                time.sleep(0.02)
    finally:
        engine.dispose()


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
        _wait_for_waiters(conn, waiters, timeout)
        conn.commit()
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
        return [tuple(r) for r in pending.get(timeout=120)]  # type: ignore[misc]


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
        return _step(
            lambda: reg.replace(task, victim, "duplicate_record", actor="抽取人", note="重复登记")
        )
    finally:
        reg.store.engine.dispose()


def race_department(args: tuple[str, str, str]) -> tuple[str, str, str]:
    """Worker: add a department through a host engine with the given isolation level."""
    url, isolation, code = args
    store = Store.open(
        engine=create_engine(url, isolation_level=isolation), upgrade=False, clock=inspection_day
    )
    try:
        return _step(lambda: store.put_departments([Department(code, "科室")], actor="管理员"))
    finally:
        store.engine.dispose()


RACE_IMPORT_ROWS = 200


def race_import(args: tuple[str, int]) -> tuple[str, str, str]:
    """Worker: import the same 200 entities (mode "add") as every other contender."""
    url, k = args
    store = Store.open(url, upgrade=False, clock=inspection_day)
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


def race_teams(args: tuple[str, str, int]) -> tuple[str, str, str]:
    """Worker: assign the teams of a drawn task."""
    url, task, k = args
    reg = open_registry(url)
    try:
        return _step(lambda: len(reg.assign_teams(task, actor=f"抽取人{k:02d}").teams))
    finally:
        reg.store.engine.dispose()


def race_result(args: tuple[str, str, str, tuple[str, ...], int]) -> tuple[str, str, str]:
    """Worker: record the first result of one entity and item (no correction reason)."""
    url, task, entity, team, k = args
    reg = open_registry(url)
    try:
        return _step(
            lambda: (
                reg.record_result(
                    task,
                    entity,
                    "SCJG-01",
                    "01" if k % 2 else "05",
                    inspection_start=date(2026, 9, 1),
                    inspection_end=date(2026, 9, 1),
                    inspectors=team,
                    follow_up="" if k % 2 else "责令改正",
                    actor=f"录入员{k:02d}",
                ).version
            )
        )
    finally:
        reg.store.engine.dispose()


def open_fresh(url: str) -> tuple[str, str, str]:
    """Worker: open (and so create or upgrade) the store at ``url``."""

    def run() -> str | None:
        store = Store.open(url, clock=inspection_day)
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
    url: str, columns: dict[str, Any], staged: bool, ready: Any, done: Any, finished: Any
) -> None:
    """Child: connect, say ready, import a pool in small batches (``done`` counts rows sent)."""
    store = Store.open(url, upgrade=False, clock=inspection_day)
    pool = EntityPool.from_columns(**columns)
    store.count_entities()
    ready.set()

    def progress(sent: int, _total: int) -> None:
        done.value = sent  # rows sent to the database inside the import's transaction

    store.import_entities(
        pool, actor="导入员", source="crash", batch_size=200, progress=progress, staged=staged
    )
    finished.set()
    store.engine.dispose()


def crash_upgrade_child(url: str, ready: Any, _unused: Any, finished: Any) -> None:
    """Child: create the schema of an empty database (the parent kills it midway)."""
    store = Store.open(url, upgrade=False, clock=inspection_day)
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
    ctx: ForkServerContext,
    target: Callable[..., None],
    args: tuple[Any, ...],
    delay: float,
    after: int = 0,
) -> tuple[bool, int]:
    """Start ``target``, wait until it is ready and its progress counter reaches ``after``,
    sleep ``delay``, then ``kill -9`` it.

    Returns (whether the child had finished its step, its progress counter)."""
    ready, finished = ctx.Event(), ctx.Event()
    # No lock: the child dies by SIGKILL at any moment, and a lock it held would stay held
    # and block the parent's next read forever. One writer, one reader, one C int.
    progress = ctx.Value("i", 0, lock=False)
    child = ctx.Process(target=target, args=(*args, ready, progress, finished), daemon=True)
    child.start()
    if not ready.wait(60):
        child.kill()
        raise RuntimeError("crash child did not start")
    deadline = time.monotonic() + 60
    while progress.value < after and not finished.is_set() and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    child.kill()  # SIGKILL; a child that already ended on its own is left alone
    child.join(30)
    return finished.is_set(), int(progress.value)


def _timed(ctx: ForkServerContext, target: Callable[..., None], args: tuple[Any, ...]) -> float:
    """How long ``target`` takes from ready to the end of its step when nobody kills it."""
    ready, finished = ctx.Event(), ctx.Event()
    progress = ctx.Value("i", 0, lock=False)
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


def crash_context() -> ForkServerContext:
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
    store = Store.open(url, upgrade=False, clock=inspection_day)
    began = time.perf_counter()
    span = _timed(ctx, crash_draw_child, (url, tasks[0]))
    problems = check_draws(store)
    mid = after = early = reruns = 0
    current = 1
    for _ in range(kills):
        task = tasks[current]
        # Half the kills anywhere in the step, half once its transaction has begun.
        finished, begun = _kill_child(
            ctx, crash_draw_child, (url, task), rng.uniform(0.0, span * 1.1), rng.randint(0, 1)
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


def crash_imports(
    url: str, kills: int, *, rows: int = 3000, seed: int = 5, staged: bool = False
) -> CrashResult:
    """Kill imports of ``rows`` entities at random moments; each import is all or nothing.

    ``staged``: on PostgreSQL, the imports stage their rows in a TEMP table first."""
    ctx = crash_context()
    rng = random.Random(seed)
    city = prepare(url, entities=200, tasks=[])
    big = make_city(rows * 4, seed=seed + 100)
    store = Store.open(url, upgrade=False, clock=inspection_day)
    chunks = [
        _import_columns(big, np.arange(j * rows, (j + 1) * rows) % len(big.entities), f"C{j}")
        for j in range(kills + 2)
    ]
    began = time.perf_counter()
    span = _timed(ctx, crash_import_child, (url, chunks[0], staged))
    problems: list[str] = []
    expected = len(city.entities) + rows
    mid = after = early = reruns = 0
    current = 1
    for _ in range(kills):
        # Half the kills anywhere in the import, half after a random number of rows were sent.
        if rng.random() < 0.5:
            delay, after = rng.uniform(0.0, span * 1.1), 0
        else:
            delay, after = 0.0, rng.randrange(1, rows)
        finished, sent = _kill_child(
            ctx, crash_import_child, (url, chunks[current], staged), delay, after
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
            store = Store.open(url, upgrade=False, clock=inspection_day)
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


# -- bad input: generated CSV files and policies ---------------------------------------------


REQUIRED_ENTITY_COLUMNS = ("id", "name", "entity_type", "industry", "region", "registered", "tier")
FILE_FAULTS = (
    "none",
    "bom",
    "crlf",
    "gb18030",
    "utf16",
    "missing_column",
    "duplicate_header",
    "empty",
    "header_only",
)
ROW_FAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # fault: (column, replacement values; "{id}" variants are computed from the row's ID)
    "check_character": ("id", ("{check}",)),
    "forbidden_character": ("id", ("{forbidden}",)),
    "short_id": ("id", ("{short}",)),
    "duplicate_id": ("id", ("{first}",)),
    "empty_name": ("name", ("",)),
    "empty_entity_type": ("entity_type", ("",)),
    "bad_industry": ("industry", ("Z99", "F51911", "5191", "")),
    "bad_region": ("region", ("35A102", "", "1", "3501020011112")),
    "date_out_of_range": ("registered", ("1900-01-01", "2101-01-01", "0001-01-01")),
    "bad_date": ("registered", ("2024-02-30", "2024-1-1", "", "2024/01/01", "01/02/2024")),
    "bad_tier": ("tier", ("E", "", "AB", "1")),
    "bad_status": ("status", ("倒闭", "closed")),
    "short_row": ("*", ("",)),
}


@dataclass(frozen=True)
class BadFile:
    """A generated entity CSV: its bytes, how it was damaged and what must be reported."""

    data: bytes
    file_fault: str
    row_faults: tuple[tuple[int, str, str], ...]  # (file line, column, fault)
    missing: str = ""

    @property
    def valid(self) -> bool:
        return self.file_fault in ("none", "bom", "crlf") and not self.row_faults


def _damaged_id(uscc: str, how: str, first: str, pick: int) -> str:
    from shuangsuiji.ids import USCC_ALPHABET

    if how == "{check}":
        return uscc[:17] + next(c for c in USCC_ALPHABET[pick % 31 :] + "0" if c != uscc[17])
    if how == "{forbidden}":
        pos = pick % 17
        return uscc[:pos] + "IOZSV"[pick % 5] + uscc[pos + 1 :]
    if how == "{short}":
        return uscc[:17]
    return first


def entity_file_cases(base: str) -> Any:
    """A hypothesis strategy of damaged (or, sometimes, valid) versions of the CSV ``base``."""
    from hypothesis import strategies as st

    lines = base.strip("\n").split("\n")
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]

    @st.composite
    def cases(draw: Any) -> BadFile:
        fault = draw(st.sampled_from(FILE_FAULTS))
        chosen = draw(
            st.lists(st.integers(1, len(rows) - 1), unique=True, max_size=min(4, len(rows) - 1))
        )
        table = [list(r) for r in rows]
        expected = []
        for row in chosen:
            name = draw(st.sampled_from(sorted(ROW_FAULTS)))
            column, values = ROW_FAULTS[name]
            value = draw(st.sampled_from(values))
            if column == "*":
                table[row] = table[row][:-1]
            elif column == "id":
                table[row][0] = _damaged_id(
                    rows[row][0], value, rows[0][0], draw(st.integers(0, 99))
                )
            else:
                table[row][header.index(column)] = value
            expected.append((row + 2, column, name))
        head = list(header)
        missing = ""
        if fault == "missing_column":
            missing = draw(st.sampled_from(REQUIRED_ENTITY_COLUMNS))
            index = head.index(missing)
            head.pop(index)
            table = [r[:index] + r[index + 1 :] if len(r) > index else r for r in table]
        if fault == "duplicate_header":
            head[-1] = draw(st.sampled_from(REQUIRED_ENTITY_COLUMNS))
        body = [",".join(head)] + [",".join(r) for r in table]
        if fault == "empty":
            body = []
        elif fault == "header_only":
            body = body[:1]
        newline = "\r\n" if fault == "crlf" else "\n"
        text_ = newline.join(body) + (newline if body else "")
        if fault == "bom":
            text_ = "\ufeff" + text_
        encoding = {"gb18030": "gb18030", "utf16": "utf-16"}.get(fault, "utf-8")
        return BadFile(text_.encode(encoding), fault, tuple(expected), missing)

    return cases()


def check_entity_file(case: BadFile, store: Store, base: EntityPool) -> list[str]:
    """Read ``case``; the error must name what and where; the store must not change."""
    import io as _io

    from shuangsuiji.io import CsvFormatError, ImportValidationError, read_entities_csv
    from shuangsuiji.store import StoreError

    before = snapshot(store)
    problems: list[str] = []
    where = f"{case.file_fault} {list(case.row_faults)}"
    try:
        pool = read_entities_csv(_io.BytesIO(case.data))
    except CsvFormatError as exc:
        message = str(exc)
        hints = {
            "gb18030": "GBK/GB18030",
            "utf16": "cannot be decoded",
            "missing_column": f"missing column(s) ['{case.missing}']",
            "duplicate_header": "more than once",
            "empty": "empty",
            "header_only": "no rows",
        }
        hint = hints.get(case.file_fault)
        if hint is None or hint not in message:
            problems.append(f"{where}: CsvFormatError {message!r} does not say {hint!r}")
        if case.file_fault == "gb18030" and not case.row_faults:
            again = read_entities_csv(_io.BytesIO(case.data), encoding="gb18030")
            if again.id_list() != base.id_list():
                problems.append(f"{where}: following the hint did not read the file")
    except ImportValidationError as exc:
        reported = {(e.line, e.column) for e in exc.errors}
        for line, column, name in case.row_faults:
            if (line, column) not in reported:
                problems.append(f"{where}: {name} at line {line} not reported ({exc.errors})")
            elif f"line {line}, column {column!r}" not in str(exc):
                problems.append(f"{where}: the message does not show line {line} {column!r}")
        if case.valid or case.file_fault not in ("none", "bom", "crlf"):
            problems.append(f"{where}: unexpected row errors {exc.errors}")
        if "nothing was imported" not in str(exc):
            problems.append(f"{where}: the message does not say that nothing was imported")
    except Exception as exc:
        problems.append(f"{where}: {type(exc).__name__}: {exc}")
    else:
        if not case.valid:
            problems.append(f"{where}: accepted a damaged file")
        elif pool.id_list() != base.id_list() or list(pool) != list(base):
            problems.append(f"{where}: a valid file read back differently")
        else:
            try:  # the same IDs again: the store refuses them, all of them
                store.import_entities(pool, actor=ADMIN, source="again")
                problems.append(f"{where}: stored the same IDs twice")
            except StoreError as exc:
                if "already in the store" not in str(exc):
                    problems.append(f"{where}: unclear refusal {exc}")
    if snapshot(store) != before:
        problems.append(f"{where}: the store changed")
    return problems


def policy_cases() -> Any:
    """A hypothesis strategy of (mapping, table the error must name) for invalid policies."""
    from hypothesis import strategies as st

    not_ratio = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not 0.0 <= x <= 1.0),
        st.text(alphabet="abc中文 0.5%-", max_size=5),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    )
    ratio = st.floats(0.0, 1.0)
    ratio_keys = st.sampled_from(
        ["tier.A", "tier.D", "tags.经营异常名录", "general_item_cap", "floor", "alternates"]
    )
    int_keys = st.sampled_from(
        [
            ("team", "size", 1, 20),
            ("team", "period_days", 1, 3660),
            ("recusal", "rotation_days", 0, 3660),
            ("ratios", "floor_region_digits", 2, 12),
            ("deadline", "working_days", 1, 250),
            ("exclusions", "recently_inspected_days", 0, 3660),
        ]
    )

    def set_ratio(key: str, value: Any) -> tuple[dict[str, Any], str]:
        if "." in key:
            group, name = key.split(".")
            tiers = {"A": 0.03, "B": 0.05, "C": 0.2, "D": 0.6} if group == "tier" else {}
            return {"ratios": {group: {**tiers, name: value}}}, "[ratios]"
        return {"ratios": {key: value}}, "[ratios]"

    def set_int(spec: tuple[str, str, int, int], value: Any) -> tuple[dict[str, Any], str]:
        return {spec[0]: {spec[1]: value}}, f"[{spec[0]}]"

    bad_int = st.one_of(
        st.integers(-(10**6), 10**7), st.floats(), st.text(alphabet="12a天", max_size=3)
    )
    decreasing = st.lists(ratio, min_size=4, max_size=4).filter(lambda v: v != sorted(v))
    return st.one_of(
        st.builds(set_ratio, ratio_keys, not_ratio),
        st.tuples(int_keys, bad_int)
        .filter(lambda s: not (isinstance(s[1], int) and s[0][2] <= s[1] <= s[0][3]))
        .map(lambda s: set_int(*s)),
        decreasing.map(
            lambda v: ({"ratios": {"tier": dict(zip("ABCD", v, strict=True))}}, "[ratios] tier")
        ),
        st.tuples(ratio, ratio)
        .filter(lambda fc: fc[0] > fc[1])
        .map(
            lambda fc: (
                {"ratios": {"floor": fc[0], "general_item_cap": fc[1]}},
                "[ratios] floor",
            )
        ),
        st.tuples(st.integers(1, 100), st.integers(1, 100))
        .filter(lambda wd: wd[1] > wd[0])
        .map(
            lambda wd: (
                {"deadline": {"working_days": wd[0], "due_soon_working_days": wd[1]}},
                "[deadline]",
            )
        ),
        st.just(({"team": {"size": 1}}, "[team] size")),
        st.sampled_from(["team", "ratios", "recusal"]).map(
            lambda t: ({t: {"sizee": 2}}, f"[{t}] has unknown key")
        ),
        st.just(({"teams": {"size": 2}}, "unknown table")),
    )


def toml_text(mapping: dict[str, Any]) -> str:
    """A policy mapping as TOML (``nan``/``inf`` included), for the file-reading path."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and v != v:
            return "nan"
        if isinstance(v, float) and v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v, ensure_ascii=False)

    out = []
    for table, keys in mapping.items():
        out.append(f"[{table}]")
        out += [f"{json.dumps(k, ensure_ascii=False)} = {value(v)}" for k, v in keys.items()]
    return "\n".join(out) + "\n"


def check_policy(mapping: dict[str, Any], where: str) -> list[str]:
    """The invalid policy is refused by both paths with a message naming ``where``."""
    from shuangsuiji.policy import Policy, PolicyError

    problems = []
    loaders: list[tuple[str, Callable[[], Policy]]] = [
        ("mapping", lambda: Policy.from_mapping(mapping)),
        ("toml", lambda: Policy.from_toml(toml_text(mapping), source="细则.toml")),
    ]
    for path, load in loaders:
        try:
            load()
        except PolicyError as exc:
            if where not in str(exc) or (path == "toml" and "细则.toml" not in str(exc)):
                problems.append(f"{path} {mapping}: message {str(exc)!r} lacks {where!r}")
        except Exception as exc:
            problems.append(f"{path} {mapping}: {type(exc).__name__}: {exc}")
        else:
            problems.append(f"{path} {mapping}: accepted")
    return problems


# -- race scenarios (shared by the tests and report.py) ------------------------------------------

Outcome = tuple[str, str, str]


@dataclass
class RaceResult:
    """How the contenders of one race ended, and what broke (empty: the property held)."""

    name: str
    outcomes: Counter[str]
    problems: list[str]


def contend(
    url: str, pool: Pool, fn: Callable[[Any], Outcome], args: Sequence[Any]
) -> list[Outcome]:
    """All contenders at once: held at the audit gate on PostgreSQL; SQLite queues them."""
    if url.startswith("postgresql"):
        return gated(url, pool, fn, args)
    return [tuple(r) for r in pool.map(fn, args, chunksize=1)]  # type: ignore[misc]


def _expect(results: Sequence[Outcome], ok: int, refused: int, says: str) -> list[str]:
    """Exactly ``ok`` successes and ``refused`` clear refusals whose message says ``says``."""
    got = sorted(r[0] for r in results)
    problems = []
    if got != sorted(["ok"] * ok + ["refused"] * refused):
        problems.append(f"outcomes {Counter(got)}; expected {ok} ok, {refused} refused: {results}")
    unclear = [r for r in results if r[0] == "refused" and says not in r[2]]
    if unclear:
        problems.append(f"refusals that do not say {says!r}: {unclear}")
    return problems


def race_same_task(url: str, pool: Pool, n: int = 8) -> RaceResult:
    """``n`` processes draw the same task: one draws it, the others are refused clearly."""
    prepare(url, entities=300, tasks=["T1"])
    results = contend(url, pool, race_draw, [(url, "T1", k) for k in range(n)])
    store = Store.open(url, upgrade=False, clock=inspection_day)
    problems = _expect(results, 1, n - 1, "already drawn") + check_draws(store)
    kinds = Counter(e.kind for e in store.audit_events())
    if (kinds["draw"], kinds["draw.error"]) != (1, n - 1):
        problems.append(f"{kinds['draw']} draw and {kinds['draw.error']} draw.error events")
    problems += [f"audit chain: {p}" for p in store.verify_log()]
    store.engine.dispose()
    return RaceResult("one task, many drawers", Counter(r[0] for r in results), problems)


def race_exclusion_window(url: str, pool: Pool, n: int = 8) -> RaceResult:
    """``n`` tasks drawn at once exclude each other's picks, as when drawn one by one."""
    tasks = [f"T{k}" for k in range(n)]
    prepare(url, entities=300, tasks=tasks)
    results = contend(url, pool, race_draw, [(url, t, k) for k, t in enumerate(tasks)])
    problems = _expect(results, n, 0, "")
    reg = Registry(Store.open(url, upgrade=False, clock=inspection_day))
    picks = Counter(i for t in tasks for i in (reg.selected_ids(t) if reg.draws(t) else []))
    twice = sorted(i for i, c in picks.items() if c > 1)
    if twice:
        problems.append(f"{len(twice)} entities selected by two tasks at once, e.g. {twice[:3]}")
    reg.store.engine.dispose()
    return RaceResult("exclusion window across tasks", Counter(r[0] for r in results), problems)


def race_commitments(url: str, pool: Pool, n: int = 8) -> RaceResult:
    """``n`` ceremony parties commit at once: every commitment is kept in the draw record."""
    prepare(url, entities=300, tasks=["T1"])
    reg = Registry(Store.open(url, upgrade=False, clock=inspection_day))
    frozen = reg.freeze("T1", actor="抽取人")
    results = contend(url, pool, race_commit, commitment_args(url, "T1", frozen.digest, n))
    problems = _expect(results, n, 0, "")
    kept = sorted(c["party"] for c in json.loads(seed_record(reg.store, "T1"))["commitments"])
    logged = sorted(e.payload["party"] for e in reg.store.audit_events() if e.kind == "seed.commit")
    if kept != logged:
        problems.append(f"{len(logged)} commitments logged, {len(kept)} kept in the record")
    reg.store.engine.dispose()
    return RaceResult("seed commitments", Counter(r[0] for r in results), problems)


def race_replacements(url: str, pool: Pool, n: int = 4) -> RaceResult:
    """Replacements of ``n`` entities of one stratum at once take distinct alternates."""
    prepare(url, entities=1500, tasks=["T1"])
    reg = Registry(Store.open(url, upgrade=False, clock=inspection_day))
    draw = reg.draw("T1", actor="抽取人").draw
    strata = Counter(p.stratum for p in draw.selected)
    stratum = max(strata, key=lambda s: (strata[s], s))
    victims = [p.id for p in draw.selected if p.stratum == stratum][:n]
    results = contend(url, pool, race_replace, [(url, "T1", v) for v in victims])
    by = [r[2] for r in results if r[0] == "ok"]
    problems = []
    if not by or len(by) != len(set(by)):
        problems.append(f"alternates taken: {by} (each must be taken once)")
    if any(r[:2] != ("refused", "ReplacementError") for r in results if r[0] != "ok"):
        problems.append(f"failures other than 'no alternate left': {results}")
    try:
        active = {p.id for p in reg.current_draw("T1").draw.active}
        if not set(by) <= active:
            problems.append("an acknowledged replacement is not in the current selection")
    except ValueError as exc:
        problems.append(f"the draw record no longer replays: {exc}")
    problems += check_draws(reg.store)
    reg.store.engine.dispose()
    return RaceResult("replacements", Counter(r[0] for r in results), problems)


def race_team_assignments(url: str, pool: Pool, n: int = 8) -> RaceResult:
    """``n`` processes assign the teams of one draw: one does, the others are refused."""
    prepare(url, entities=400, tasks=["T1"])
    reg = Registry(Store.open(url, upgrade=False, clock=inspection_day))
    reg.draw("T1", actor="抽取人")
    results = contend(url, pool, race_teams, [(url, "T1", k) for k in range(n)])
    problems = _expect(results, 1, n - 1, "already drawn")
    problems += check_teams_and_results(reg.store)
    problems += [f"audit chain: {p}" for p in reg.store.verify_log()]
    reg.store.engine.dispose()
    return RaceResult("team assignment", Counter(r[0] for r in results), problems)


def race_first_results(url: str, pool: Pool, n: int = 8) -> RaceResult:
    """``n`` clerks record the same item at once: one version 1, the rest need a reason."""
    prepare(url, entities=400, tasks=["T1"])
    reg = Registry(Store.open(url, upgrade=False, clock=inspection_day))
    reg.draw("T1", actor="抽取人")
    reg.assign_teams("T1", actor="抽取人")
    entity, team = min(reg.teams("T1").items())
    args = [(url, "T1", entity, team, k) for k in range(n)]
    results = contend(url, pool, race_result, args)
    problems = _expect(results, 1, n - 1, "reason")
    if [r.version for r in reg.results("T1")] != [1]:
        problems.append(f"result versions {[r.version for r in reg.results('T1')]}")
    problems += check_teams_and_results(reg.store)
    reg.store.engine.dispose()
    return RaceResult("first results", Counter(r[0] for r in results), problems)


def race_same_imports(url: str, pool: Pool, n: int = 6) -> RaceResult:
    """``n`` imports of the same IDs at once: one is stored, the others refused clearly."""
    Store.open(url).engine.dispose()
    results = contend(url, pool, race_import, [(url, k) for k in range(n)])
    store = Store.open(url, upgrade=False, clock=inspection_day)
    problems = _expect(results, 1, n - 1, "")
    problems += [f"not a StoreError: {r}" for r in results if r[0] != "ok" and r[1] != "StoreError"]
    problems += check_imports(store) + [f"audit chain: {p}" for p in store.verify_log()]
    if store.count_entities() != RACE_IMPORT_ROWS:
        problems.append(f"{store.count_entities()} entities stored, expected {RACE_IMPORT_ROWS}")
    store.engine.dispose()
    return RaceResult("imports of the same IDs", Counter(r[0] for r in results), problems)


def race_host_isolation(url: str, pool: Pool, isolation: str, n: int = 8) -> RaceResult:
    """PostgreSQL: writers through a host engine at ``isolation`` all succeed, in order."""
    Store.open(url).engine.dispose()
    args = [(url, isolation, f"D{k}") for k in range(n)]
    results = contend(url, pool, race_department, args)
    store = Store.open(url, upgrade=False, clock=inspection_day)
    problems = _expect(results, n, 0, "")
    problems += [f"audit chain: {p}" for p in store.verify_log()]
    if len(store.audit_events()) != n:
        problems.append(f"{len(store.audit_events())} events for {n} changes")
    store.engine.dispose()
    return RaceResult(f"host engine at {isolation}", Counter(r[0] for r in results), problems)


def race_first_open(url: str, pool: Pool, n: int = 8) -> RaceResult:
    """PostgreSQL: ``n`` processes open (and so create) a new, empty database at once.

    The gate: an uncommitted ``alembic_version`` table of our own makes every schema creator
    wait in the database; once ``n`` sessions wait it is rolled back and all go at once."""
    engine = create_engine(url)
    conn = engine.connect()
    conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    try:
        pending = pool.map_async(open_fresh, [url] * n, chunksize=1)
        _wait_for_waiters(conn, n, 60.0)
        conn.rollback()
        results = [tuple(r) for r in pending.get(timeout=120)]
    finally:
        conn.close()
        engine.dispose()
    problems = _expect(results, n, 0, "")  # type: ignore[arg-type]
    return RaceResult("first open of a new database", Counter(r[0] for r in results), problems)


# -- bad input: wrong API arguments ------------------------------------------------------------


def _task(**changes: Any) -> Task:
    return attrs.evolve(task_of("T9"), **changes)


def api_cases(reg: Registry, city: City) -> list[tuple[str, Callable[[], object], str, bool]]:
    """Wrong API arguments on :func:`api_store`'s registry: (label, call, what the message
    must say, whether a draw.error event records the attempt)."""
    s = reg.store
    not_selected = next(i for i in city.entities.id_list() if i not in reg.selected_ids("T2"))
    unknown = [Conflict("ZF-NOBODY", city.entities.id_list()[0], "近亲属任职", "本人申报")]
    stored = [s.conflicts()[0]]
    officer = attrs.evolve(city.inspectors.inspector(0), id="ZF-NEW", department="MARS")
    martian = InspectorPool.from_inspectors([officer])
    return [
        ("task: unknown department", lambda: s.put_task(_task(departments=("MARS",)), actor=ADMIN), "unknown department", False),  # noqa: E501
        ("task: unknown item", lambda: s.put_task(_task(items=("X-9",)), actor=ADMIN), "unknown inspection item", False),  # noqa: E501
        ("task: unknown plan", lambda: s.put_task(_task(plan="NOPE"), actor=ADMIN), "unknown plan", False),  # noqa: E501
        ("plan: unknown department", lambda: s.put_plan(Plan("P2", 2026, "计划", ("MARS",)), actor=ADMIN), "unknown department", False),  # noqa: E501
        ("item: unknown department", lambda: s.put_item(InspectionItem("M-1", "MARS", "检查", "依据", "对象"), actor=ADMIN), "unknown department", False),  # noqa: E501
        ("import: unknown mode", lambda: s.import_entities(city.entities, actor=ADMIN, mode="replace"), "'add' or 'upsert'", False),  # noqa: E501
        ("import: IDs already stored", lambda: s.import_entities(city.entities, actor=ADMIN), "already in the store", False),  # noqa: E501
        ("inspectors: unknown department", lambda: s.import_inspectors(martian, actor=ADMIN), "unknown department", False),  # noqa: E501
        ("conflicts: unknown inspector", lambda: s.import_conflicts(unknown, actor=ADMIN), "ZF-NOBODY", False),  # noqa: E501
        ("conflicts: already stored", lambda: s.import_conflicts(stored, actor=ADMIN), "already stored", False),  # noqa: E501
        ("actor: blank", lambda: s.put_departments([Department("A1", "甲")], actor="  "), "actor", False),  # noqa: E501
        ("actor: too long", lambda: s.put_departments([Department("A1", "甲")], actor="张" * 201), "at most 200", False),  # noqa: E501
        ("actor: control character", lambda: s.put_departments([Department("A1", "甲")], actor="张\x00三"), "control character", False),  # noqa: E501
        ("draw: unknown task", lambda: reg.draw("NOPE", actor="抽取人"), "no task 'NOPE'", True),
        ("draw: cut-off after the start", lambda: reg.draw("T1", actor="抽取人", cutoff=date(2026, 7, 5)), "is outside", True),  # noqa: E501
        ("draw: cut-off long before", lambda: reg.draw("T1", actor="抽取人", cutoff=date(1990, 1, 1)), "cutoff_lead_days", True),  # noqa: E501
        ("draw: re-draw approved by the drawer", lambda: reg.draw("T2", actor="抽取人", reason="system_failure", text="记录丢失", approved_by="抽取人"), "second person", True),  # noqa: E501
        ("draw: re-draw with an unlisted reason", lambda: reg.draw("T2", actor="抽取人", reason="x", text="xxxx", approved_by="科长"), "one of", True),  # noqa: E501
        ("draw: blank actor", lambda: reg.draw("T1", actor=""), "actor", False),
        ("draw: again without reason", lambda: reg.draw("T2", actor="抽取人"), "needs a recorded reason", True),  # noqa: E501
        ("draw: during a ceremony", lambda: reg.draw("T3", actor="抽取人"), "frozen draw", True),
        ("freeze: again without reason", lambda: reg.freeze("T2", actor="抽取人"), "needs a recorded reason", False),  # noqa: E501
        ("seed: malformed commitment", lambda: reg.commit_seed("T3", "甲", "xyz", actor="甲"), "commitment", False),  # noqa: E501
        ("seed: commit to a task not frozen", lambda: reg.commit_seed("T1", "甲", "ab" * 32, actor="甲"), "no frozen draw", False),  # noqa: E501
        ("seed: reveal before the announcement", lambda: reg.reveal_seed("T3", "乙", bytes(16), actor="乙"), "announcement", False),  # noqa: E501
        ("seed: select before the announcement", lambda: reg.select("T3", actor="抽取人"), "announcement", False),  # noqa: E501
        ("seed: announce with no party committed", lambda: reg.announce("T3", actor="抽取人"), "no seed party", False),  # noqa: E501
        ("replace: entity not selected", lambda: reg.replace("T2", not_selected, "other", actor="抽取人", note="?"), not_selected, False),  # noqa: E501
        ("replace: unknown reason", lambda: reg.replace("T2", reg.selected_ids("T2")[0], "because", actor="抽取人", note="?"), "because", False),  # noqa: E501
        ("replace: task not drawn", lambda: reg.replace("T1", not_selected, "other", actor="抽取人", note="?"), "not been drawn", False),  # noqa: E501
    ]  # fmt: skip


def api_store(url: str, city: City) -> Registry:
    """A city, a plan, task T1 (not drawn), T2 (drawn) and T3 (frozen, waiting for seeds)."""
    reg = Registry.open(url, clock=inspection_day)
    reg.setup_city(city, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    for code in ("T1", "T2", "T3"):
        reg.store.put_task(task_of(code), actor=ADMIN)
    reg.draw("T2", actor="抽取人")
    reg.freeze("T3", actor="抽取人")
    return reg


def check_api_cases(reg: Registry, city: City) -> tuple[int, list[str]]:
    """Run every :func:`api_cases` call: each is refused saying what is wrong, and the store
    is unchanged (but for the draw.error event of a refused draw). Returns (cases, problems)."""
    failures = []
    cases = api_cases(reg, city)
    for label, call, fragment, error_event in cases:
        before = snapshot(reg.store)
        try:
            call()
        except ValueError as exc:
            if fragment not in str(exc):
                failures.append(f"{label}: {type(exc).__name__}: {exc} (expected {fragment!r})")
        except Exception as exc:
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{label}: accepted")
        after = snapshot(reg.store)
        if error_event:
            last = reg.store.audit_events()[-1]
            grew = after["counts"]["audit_events"] == before["counts"]["audit_events"] + 1
            if not (grew and last.kind == "draw.error" and fragment in last.payload["error"]):
                failures.append(f"{label}: the attempt is not on record as one draw.error event")
            after["counts"]["audit_events"] -= 1
            after["head"] = before["head"]
        if after != before:
            failures.append(f"{label}: the store changed")
    failures += [f"audit chain: {p}" for p in reg.store.verify_log()]
    return len(cases), failures
