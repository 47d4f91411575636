"""Shared fixtures: a fresh store on SQLite and, when configured, on a real PostgreSQL.

PostgreSQL tests use the server named by ``SSJ_TEST_POSTGRES_URL`` (``.ci/run`` starts one);
each test gets its own new database, dropped afterwards. When ``SSJ_REQUIRE_POSTGRES=1`` (as
in CI) a missing server is an error, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

# CI draws the same examples on every run (a red CI is reproducible and never a coin toss);
# exploration happens in "soak" (scripts/soak.sh) and "dev", which draw new examples each run.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "soak", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

PG_URL = os.environ.get("SSJ_TEST_POSTGRES_URL", "")
REQUIRE_PG = os.environ.get("SSJ_REQUIRE_POSTGRES") == "1"


def _admin_url() -> str:
    return PG_URL.rsplit("/", 1)[0] + "/postgres"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SSJ_REQUIRE_POSTGRES=1 but SSJ_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server: set SSJ_TEST_POSTGRES_URL (see .ci/run)")
    name = f"ssj_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A small store through a whole cycle (tests/cli_store.py), built once per module."""
    from cli_store import build_cycle_store

    path = tmp_path_factory.mktemp("cycle") / "cycle.db"
    return path, build_cycle_store(f"sqlite:///{path}")
