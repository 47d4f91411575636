"""Concurrency: eight processes against one store, on PostgreSQL and SQLite.

The load test runs eight ``spawn`` processes that race for shared tasks, draw their own,
assign the teams and record a result of what they drew, re-draw with reasons, import entities
and add departments, and then checks that no task was drawn twice, no audit event was lost or
duplicated (per process, against what it did), the chain is valid and gap-free, and no draw,
team or result is partial. The race tests hold every contender at a gate (PostgreSQL: the
store's audit lock, released once all of them are blocked in the database) so that the
interleaving that breaks a step happens every time rather than by luck; they found bugs R1-R7,
R12 and R13 of ``docs/reliability.md`` (now fixed).
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool

import pytest

from reliability import ssj_reliability as rel
from shuangsuiji.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    """Eight warm ``spawn`` worker processes, shared by the tests of this module."""
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(8, initializer=importlib.import_module, initargs=(rel.__name__,)) as workers:
        workers.map(abs, range(8))
        yield workers


def test_eight_processes_draw_assign_record_and_import_at_once(db_url: str, pool: Pool) -> None:
    result = rel.run_stress(db_url, pool, workers=8, rounds=2, entities=400)
    assert result.problems == []
    # Every step ended in a commit or a clear refusal: no raw database error, nothing else.
    assert result.committed + result.refused == result.steps and result.constraint == 0
    # Two shared tasks (one winner each, seven refused), sixteen own tasks, eight re-draws.
    assert result.draws == 2 + 16 + 8
    draws_refused = [r for r in result.refusals if r.startswith("draw ")]
    assert len(draws_refused) == 14 and all("already drawn" in r for r in draws_refused)
    # The eight re-draws of S00 may land between a winner's teams and its result: that
    # result is then refused (its entity is no longer drawn, or the new draw has no teams).
    others = [r for r in result.refusals if not r.startswith("draw ")]
    assert all(r.startswith("result S00: ") for r in others), others


# Each race pinned a PostgreSQL bug until the store serialised its writers (docs/reliability.md,
# R1-R4, R7, R12, R13); SQLite's BEGIN IMMEDIATE held from the start.
RACES: dict[str, Callable[[str, Pool], rel.RaceResult]] = {
    "one task, eight drawers": rel.race_same_task,
    "eight tasks, one exclusion window": rel.race_exclusion_window,
    "eight seed commitments": rel.race_commitments,
    "four replacements in one stratum": rel.race_replacements,
    "eight team assignments": rel.race_team_assignments,
    "eight first results": rel.race_first_results,
    "six imports of the same IDs": rel.race_same_imports,
}


@pytest.mark.parametrize("race", sorted(RACES))
def test_races_end_with_one_winner_and_clear_refusals(db_url: str, pool: Pool, race: str) -> None:
    result = RACES[race](db_url, pool)
    assert result.problems == []


@pytest.mark.postgres
@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_host_engine_with_stricter_isolation_still_serialises_writers(
    pg_url: str, pool: Pool, isolation: str
) -> None:
    assert rel.race_host_isolation(pg_url, pool, isolation).problems == []


@pytest.mark.postgres
def test_eight_processes_open_a_new_database_at_once(pg_url: str, pool: Pool) -> None:
    assert rel.race_first_open(pg_url, pool).problems == []
    assert Store.open(pg_url).revision() is not None
