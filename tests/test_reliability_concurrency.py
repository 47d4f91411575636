"""Concurrency: eight processes against one store, on PostgreSQL and SQLite.

The load test runs eight ``spawn`` processes that race for shared tasks, draw their own,
assign the teams and record a result of what they drew, re-draw with reasons, import entities
and add departments, and then checks that no task was drawn twice, no audit event was lost or
duplicated (per process, against what it did), the chain is valid and gap-free, and no draw,
team or result is partial. The race tests hold every contender at a gate (PostgreSQL: the store's audit
lock, released once all of them are blocked in the database) so that the interleaving that
breaks a step happens every time rather than by luck. Tests marked ``xfail(strict=True)`` pin
bugs whose fix is proposed in ``docs/reliability.md``; they start failing (XPASS) once the fix
lands, and then the marker goes.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "reliability"))

import ssj_reliability as rel

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


def _pin(request: pytest.FixtureRequest, url: str, reason: str) -> None:
    if url.startswith("postgresql"):
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def test_eight_processes_draw_assign_record_and_import_at_once(db_url: str, pool: Pool) -> None:
    result = rel.run_stress(db_url, pool, workers=8, rounds=2, entities=400)
    assert result.problems == []
    # Every step ended in a commit or a refusal: nothing failed in any other way.
    assert result.committed + result.refused + result.constraint == result.steps
    # Two shared tasks (one winner each), sixteen own tasks, and re-draws with reasons.
    assert result.draws >= 18
    assert result.refused + result.constraint >= 14


RACES: dict[str, tuple[Callable[[str, Pool], rel.RaceResult], str]] = {
    "one task, eight drawers": (rel.race_same_task, BUG_RACE),
    "eight tasks, one exclusion window": (rel.race_exclusion_window, BUG_SKEW),
    "eight seed commitments": (rel.race_commitments, BUG_LOST),
    "four replacements in one stratum": (rel.race_replacements, BUG_REPL),
    "eight team assignments": (rel.race_team_assignments, BUG_TEAMS),
    "eight first results": (rel.race_first_results, BUG_RESULT),
    "six imports of the same IDs": (rel.race_same_imports, BUG_IMPORT),
}


@pytest.mark.parametrize("race", sorted(RACES))
def test_races_end_with_one_winner_and_clear_refusals(
    db_url: str, pool: Pool, race: str, request: pytest.FixtureRequest
) -> None:
    scenario, bug = RACES[race]
    _pin(request, db_url, bug)
    result = scenario(db_url, pool)
    assert result.problems == []


@pytest.mark.postgres
@pytest.mark.xfail(strict=True, reason=BUG_ISO)
@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_host_engine_with_stricter_isolation_still_serialises_writers(
    pg_url: str, pool: Pool, isolation: str
) -> None:
    assert rel.race_host_isolation(pg_url, pool, isolation).problems == []


@pytest.mark.postgres
@pytest.mark.xfail(strict=True, reason=BUG_OPEN)
def test_eight_processes_open_a_new_database_at_once(pg_url: str, pool: Pool) -> None:
    assert rel.race_first_open(pg_url, pool).problems == []
    assert Store.open(pg_url).revision() is not None
