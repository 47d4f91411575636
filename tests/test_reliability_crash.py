"""Crash safety: ``kill -9`` at random moments of a draw, an import and a schema upgrade.

Each kill hits a child process (started from a preloaded fork server, so a kill costs a
fraction of a second) after a random delay drawn over the step's measured duration. After
every kill the store must hold either the whole step or none of it — no draw row without its
picks and bundle, no event without its rows, an entity count from before or after the import —
with a valid audit chain; the next child reruns an interrupted step and must succeed. The
figures here add up to 50 kills per run; ``tests/reliability/report.py`` runs the long version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reliability import ssj_reliability as rel

pytestmark = pytest.mark.slow

# Kills per run: PostgreSQL 12 draws + 12 imports, SQLite 13 + 13 (50), plus 4 upgrades.
KILLS = {"postgresql": 12, "sqlite": 13}


def _engine(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def test_killed_draws_leave_no_partial_draw_and_can_be_rerun(db_url: str) -> None:
    kills = KILLS[_engine(db_url)]
    result = rel.crash_draws(db_url, kills, entities=500)
    assert result.problems == []
    assert result.kills == kills
    # Kills inside the draw's transaction are what this test is about.
    assert result.mid_transaction > 0, result
    assert result.reruns == result.mid_transaction + result.before_start


def test_killed_imports_are_all_or_nothing_and_can_be_rerun(db_url: str) -> None:
    kills = KILLS[_engine(db_url)]
    result = rel.crash_imports(db_url, kills, rows=2000)
    assert result.problems == []
    assert result.kills == kills
    assert result.mid_transaction > 0, result


@pytest.mark.postgres
def test_killed_staged_imports_leave_nothing_behind(pg_url: str) -> None:
    """The staged path (TEMP table outside the lock, then one locked INSERT … SELECT)."""
    kills = KILLS["postgresql"] // 2
    result = rel.crash_imports(pg_url, kills, rows=2000, staged=True)
    assert result.problems == []
    assert result.kills == kills and result.mid_transaction > 0, result


@pytest.mark.parametrize(
    "engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_killed_schema_creation_leaves_no_half_made_schema(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "postgresql":
        request.getfixturevalue("pg_url")  # skips (or fails in CI) without a server

    @contextmanager
    def fresh() -> Iterator[str]:
        with rel.database(engine, tmp_path) as url:
            yield url

    result = rel.crash_upgrades(fresh, 2)
    assert result.problems == []
    assert result.kills == 2
