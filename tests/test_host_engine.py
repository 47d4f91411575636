"""A host application's own engine: the library makes it safe for concurrent writers.

A host that passes ``Registry.open(engine=...)`` keeps its pool and its settings; the store
installs its SQLite write serialisation (``BEGIN IMMEDIATE``, foreign keys, a busy timeout) on
that engine, so the same concurrent load that is clean through ``Registry.open(url)`` is
clean through a host engine too. Before this, 24 threads drawing 12 tasks through a host's
SQLite engine lost draws to ``UNIQUE constraint failed: draws.task, draws.attempt``.
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from shuangsuiji.errors import RefusedError
from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

ADMIN = "管理员"
TASKS = [
    Task(f"H{n:02d}", "P", f"任务{n}", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
    for n in range(12)
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def host_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """An engine made the way a host makes its own: plain ``create_engine``, default pool."""
    if request.param == "sqlite":
        return create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    url = str(request.getfixturevalue("pg_url"))
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _set_up(engine: Engine) -> Registry:
    reg = Registry.open(engine=engine)
    reg.setup_city(make_city(600, seed=3), actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    for task in TASKS:
        reg.store.put_task(task, actor=ADMIN)
    return reg


@pytest.mark.parametrize("opened", ["once", "per thread"])
def test_concurrent_draws_through_a_host_engine_lose_nothing(
    host_engine: Engine, opened: str
) -> None:
    reg = _set_up(host_engine)
    before = len(reg.store.audit_events())
    gate = threading.Barrier(24, timeout=120)
    outcomes: list[str] = []
    lock = threading.Lock()

    def draw(task: str) -> None:
        # A host shares one registry, or opens one per request thread.
        own = reg if opened == "once" else Registry.open(engine=host_engine)
        gate.wait()
        try:
            own.draw(task, actor=f"抽取人-{threading.get_ident()}")
            outcome = "drawn"
        except RefusedError as exc:
            outcome = "refused" if "already drawn" in str(exc) else f"other refusal: {exc}"
        except Exception as exc:  # the point is to see any raw database error
            outcome = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=draw, args=(t.code,)) for t in TASKS for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["drawn"] * 12 + ["refused"] * 12, outcomes
    assert all(len(reg.draws(t.code)) == 1 for t in TASKS)
    events = reg.store.audit_events()
    kinds = [e.kind for e in events[before:]]
    assert kinds.count("draw") == 12 and kinds.count("draw.error") == 12
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert reg.store.verify_log() == []


def test_a_host_sqlite_engine_gets_foreign_keys_and_the_immediate_lock(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    with engine.connect() as conn:  # a connection the host made before handing the engine over
        conn.execute(text("SELECT 1"))
    Store.open(engine=engine)
    Store.open(engine=engine)  # opening twice installs the listeners once
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 30_000
    with engine.begin() as conn:
        # BEGIN IMMEDIATE holds the write lock from the start of every transaction.
        other = create_engine(f"sqlite:///{tmp_path / 'host.db'}", connect_args={"timeout": 0})
        with other.connect() as probe, pytest.raises(Exception, match="locked"):
            probe.execute(text("INSERT INTO departments (code, name) VALUES ('X', 'x')"))
            probe.commit()
        conn.execute(text("SELECT 1"))
