"""Concurrency: eight processes against one store, on PostgreSQL and SQLite.

The load test runs eight ``spawn`` processes that race for shared tasks, draw their own,
re-draw with reasons, import entities and add departments, and then checks that no task was
drawn twice, no audit event was lost or duplicated, the chain is valid and gap-free and no
draw is partial. The race tests hold every contender at a gate (PostgreSQL: the store's audit
lock, released once all of them are blocked in the database) so that the interleaving that
breaks a step happens every time rather than by luck. Tests marked ``xfail(strict=True)`` pin
bugs whose fix is proposed in ``docs/reliability.md``; they start failing (XPASS) once the fix
lands, and then the marker goes.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import sys
from collections import Counter
from collections.abc import Iterator
from multiprocessing.pool import Pool
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "reliability"))

import ssj_reliability as rel

from shuangsuiji.registry import Registry
from shuangsuiji.store import Store

pytestmark = pytest.mark.slow

BUG_RACE = "bug R1: concurrent draws of one task collide on uq_draws_task_attempt (raw error)"
BUG_SKEW = "bug R2: concurrent draws do not see each other's picks (exclusion window skipped)"
BUG_LOST = "bug R3: concurrent seed commitments overwrite each other (lost update)"
BUG_REPL = "bug R4: concurrent replacements take the same alternate; the record breaks"
BUG_ISO = "bug R5: a host engine's REPEATABLE READ/SERIALIZABLE default makes writers fail"
BUG_OPEN = "bug R6: processes opening a new PostgreSQL database at once collide in DDL"
BUG_IMPORT = "bug R7: concurrent imports of the same IDs end in a raw IntegrityError"
BUG_TEAMS = "bug R12: concurrent team assignments: raw IntegrityError, or assigned twice"
BUG_RESULT = "bug R13: concurrent first results collide on uq_results_version (raw error)"


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    """Eight warm ``spawn`` worker processes, shared by the tests of this module."""
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(8, initializer=importlib.import_module, initargs=(rel.__name__,)) as workers:
        workers.map(abs, range(8))
        yield workers


def _race(
    url: str, pool: Pool, fn: object, args: list[tuple[object, ...]]
) -> list[tuple[str, ...]]:
    """All contenders at once: held at the audit gate on PostgreSQL; SQLite queues them."""
    if url.startswith("postgresql"):
        return [tuple(r) for r in rel.gated(url, pool, fn, args)]
    return [tuple(r) for r in pool.map(fn, args, chunksize=1)]


def _pin(request: pytest.FixtureRequest, url: str, reason: str) -> None:
    if url.startswith("postgresql"):
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def test_eight_processes_draw_import_and_log_at_once(db_url: str, pool: Pool) -> None:
    result = rel.run_stress(db_url, pool, workers=8, rounds=2, entities=400)
    assert result.problems == []
    # Every step ended in a commit or a refusal: nothing failed in any other way.
    assert result.committed + result.refused + result.constraint == result.steps
    # Two shared tasks (one winner each), sixteen own tasks, and re-draws with reasons.
    assert result.draws >= 18
    assert result.refused + result.constraint >= 14


def test_racing_draws_one_wins_the_others_are_refused(
    db_url: str, pool: Pool, request: pytest.FixtureRequest
) -> None:
    _pin(request, db_url, BUG_RACE)
    rel.prepare(db_url, entities=300, tasks=["T1"])
    results = _race(db_url, pool, rel.race_draw, [(db_url, "T1", k) for k in range(8)])
    store = Store.open(db_url, upgrade=False)
    assert rel.check_draws(store) == []
    assert sorted(r[0] for r in results) == ["ok"] + ["refused"] * 7, results
    assert all("already drawn" in r[2] for r in results if r[0] == "refused")
    # Each refusal is on record as a draw.error event; the winner left the four draw events.
    kinds = Counter(e.kind for e in store.audit_events())
    assert kinds["draw.error"] == 7 and kinds["draw"] == 1
    assert store.verify_log() == []


def test_concurrent_draws_of_different_tasks_respect_the_exclusion_window(
    db_url: str, pool: Pool, request: pytest.FixtureRequest
) -> None:
    # Drawn one after the other, a task excludes the entities another task just selected
    # (policy: recently_inspected_days); drawn at the same moment it must do the same.
    _pin(request, db_url, BUG_SKEW)
    tasks = [f"T{k}" for k in range(8)]
    rel.prepare(db_url, entities=300, tasks=tasks)
    results = _race(db_url, pool, rel.race_draw, [(db_url, t, k) for k, t in enumerate(tasks)])
    assert [r[0] for r in results] == ["ok"] * 8
    reg = Registry(Store.open(db_url, upgrade=False))
    selected = {t: set(reg.selected_ids(t)) for t in tasks}
    twice = Counter(i for ids in selected.values() for i in ids)
    assert [i for i, n in twice.items() if n > 1] == []


def test_concurrent_seed_commitments_are_all_kept(
    db_url: str, pool: Pool, request: pytest.FixtureRequest
) -> None:
    _pin(request, db_url, BUG_LOST)
    rel.prepare(db_url, entities=300, tasks=["T1"])
    reg = Registry(Store.open(db_url, upgrade=False))
    frozen = reg.freeze("T1", actor="抽取人")
    args = rel.commitment_args(db_url, "T1", frozen.digest, 8)
    results = _race(db_url, pool, rel.race_commit, args)
    assert [r[0] for r in results] == ["ok"] * 8
    record = json.loads(rel.seed_record(reg.store, "T1"))
    logged = [e.payload["party"] for e in reg.store.audit_events() if e.kind == "seed.commit"]
    assert sorted(c["party"] for c in record["commitments"]) == sorted(logged)
    assert len(logged) == 8


def test_concurrent_replacements_take_distinct_alternates(
    db_url: str, pool: Pool, request: pytest.FixtureRequest
) -> None:
    _pin(request, db_url, BUG_REPL)
    rel.prepare(db_url, entities=1500, tasks=["T1"])
    reg = Registry(Store.open(db_url, upgrade=False))
    draw = reg.draw("T1", actor="抽取人").draw
    strata = Counter(p.stratum for p in draw.selected)
    stratum = max(strata, key=lambda s: (strata[s], s))
    victims = [p.id for p in draw.selected if p.stratum == stratum][:4]
    assert len(victims) >= 2
    results = _race(db_url, pool, rel.race_replace, [(db_url, "T1", v) for v in victims])
    by = [r[2] for r in results if r[0] == "ok"]
    assert by and len(by) == len(set(by)), results
    assert all(r[:2] == ("refused", "ReplacementError") for r in results if r[0] != "ok"), results
    # The record replays: every acknowledged replacement is in the current selection.
    current = reg.current_draw("T1")
    assert set(by) <= {p.id for p in current.draw.active}
    assert rel.check_draws(reg.store) == []


def test_racing_team_assignments_one_wins_the_others_are_refused(
    db_url: str, pool: Pool, request: pytest.FixtureRequest
) -> None:
    _pin(request, db_url, BUG_TEAMS)
    rel.prepare(db_url, entities=400, tasks=["T1"])
    reg = Registry(Store.open(db_url, upgrade=False))
    reg.draw("T1", actor="抽取人")
    results = _race(db_url, pool, rel.race_teams, [(db_url, "T1", k) for k in range(8)])
    assert sorted(r[0] for r in results) == ["ok"] + ["refused"] * 7, results
    assert all("already assigned" in r[2] for r in results if r[0] == "refused")
    assert rel.check_teams_and_results(reg.store) == [] and reg.store.verify_log() == []


def test_racing_first_results_one_is_recorded_the_others_need_a_reason(
    db_url: str, pool: Pool, request: pytest.FixtureRequest
) -> None:
    # Eight clerks record the same inspected item at once: one result is version 1; every
    # other is a correction of it and is refused without a reason (nothing overwritten).
    _pin(request, db_url, BUG_RESULT)
    rel.prepare(db_url, entities=400, tasks=["T1"])
    reg = Registry(Store.open(db_url, upgrade=False))
    reg.draw("T1", actor="抽取人")
    reg.assign_teams("T1", actor="抽取人")
    entity, team = min(reg.teams("T1").items())
    args = [(db_url, "T1", entity, team, k) for k in range(8)]
    results = _race(db_url, pool, rel.race_result, args)
    assert sorted(r[0] for r in results) == ["ok"] + ["refused"] * 7, results
    assert all("reason" in r[2] for r in results if r[0] == "refused"), results
    assert [r.version for r in reg.results("T1")] == [1]
    assert rel.check_teams_and_results(reg.store) == []


@pytest.mark.postgres
@pytest.mark.xfail(strict=True, reason=BUG_ISO)
@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_host_engine_with_stricter_isolation_still_serialises_writers(
    pg_url: str, pool: Pool, isolation: str
) -> None:
    Store.open(pg_url)
    args = [(pg_url, isolation, f"D{k}") for k in range(8)]
    results = _race(pg_url, pool, rel.race_department, args)
    store = Store.open(pg_url, upgrade=False)
    assert [r[0] for r in results] == ["ok"] * 8, results
    assert store.verify_log() == [] and len(store.audit_events()) == 8


@pytest.mark.postgres
@pytest.mark.xfail(strict=True, reason=BUG_OPEN)
def test_eight_processes_open_a_new_database_at_once(pg_url: str, pool: Pool) -> None:
    results = pool.map(rel.open_fresh, [pg_url] * 8, chunksize=1)
    assert [r[0] for r in results] == ["ok"] * 8, results
    assert Store.open(pg_url).revision() is not None


def test_concurrent_imports_of_the_same_ids_store_one_and_refuse_the_rest(
    db_url: str, pool: Pool, request: pytest.FixtureRequest
) -> None:
    _pin(request, db_url, BUG_IMPORT)
    Store.open(db_url)
    results = _race(db_url, pool, rel.race_import, [(db_url, k) for k in range(6)])
    store = Store.open(db_url, upgrade=False)
    assert sorted(r[0] for r in results) == ["ok"] + ["refused"] * 5, results
    assert all(r[1] == "StoreError" for r in results if r[0] != "ok"), results
    assert rel.check_imports(store) == [] and store.verify_log() == []
    assert store.count_entities() == rel.RACE_IMPORT_ROWS
