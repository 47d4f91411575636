"""Migrations: from the first Alembic revision to head on a populated database, both engines.

A store is created at revision 0001 and filled through the API (policy, departments, items,
pools, conflicts, a plan and tasks); then it is upgraded one revision at a time. After every
step the data is unchanged and the audit chain valid; at head the schema equals the models,
the audit triggers are in place and the cycle (a draw, a re-draw) runs on the old data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from shuangsuiji.bundle import verify_bundle
from shuangsuiji.model import Plan, PopulationFilter, Task
from shuangsuiji.policy import Policy
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store, StoreError
from shuangsuiji.store.schema import AuditEventRow, Base
from shuangsuiji.synth import make_city

CITY = make_city(600, seed=44)
ADMIN = "管理员"
FIRST = "0001"
START, END = date(2026, 7, 1), date(2026, 9, 30)


def _revisions(store: Store) -> list[str]:
    """Every revision from the first to head, oldest first."""
    script = ScriptDirectory.from_config(store._alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _triggers(store: Store) -> set[str]:
    query = (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        if store.dialect == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    )
    with store.engine.connect() as conn:
        return set(conn.execute(text(query)).scalars())


def _data(store: Store) -> dict[str, Any]:
    """Everything the first revision's tables hold, as comparable values."""
    return {
        "entities": list(store.load_entities()),
        "inspectors": sorted(store.load_inspectors(), key=lambda i: i.id),
        "conflicts": sorted(store.conflicts(), key=str),
        "departments": store.departments(),
        "items": store.items(),
        "plans": store.plans(),
        "tasks": store.tasks(),
        "policy": store.policy(),
        "audit": store.audit_rows(),
    }


@pytest.fixture
def old_store(db_url: str) -> Iterator[Store]:
    """A store at the first revision, populated through the API."""
    store = Store.open(db_url, upgrade=False)
    store.upgrade(FIRST)
    assert store.revision() == FIRST
    # setup_city without the region names: the regions table is younger than FIRST
    store.save_policy(Policy.default(), actor=ADMIN)
    store.put_departments(CITY.departments, actor=ADMIN)
    store.put_items(CITY.items, actor=ADMIN)
    store.import_entities(CITY.entities, actor=ADMIN, source="synthetic city")
    store.import_inspectors(CITY.inspectors, actor=ADMIN, source="synthetic city")
    store.import_conflicts(CITY.conflicts, actor=ADMIN, source="synthetic city")
    store.put_plan(Plan("P", 2026, "年度计划", ("SCJG", "WJW")), actor=ADMIN)
    store.put_task(
        Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), START, END), actor=ADMIN
    )
    store.put_task(
        Task(
            "T2",
            "P",
            "联合抽查",
            ("SCJG", "WJW"),
            ("SCJG-02", "WJW-01"),
            START,
            END,
            population=PopulationFilter(industry_prefixes=("H62",), tiers=("C", "D")),
        ),
        actor=ADMIN,
    )
    yield store
    store.engine.dispose()


def test_upgrade_from_the_first_revision_keeps_the_data(old_store: Store) -> None:
    store = old_store
    revisions = _revisions(store)
    assert revisions[0] == FIRST and len(revisions) >= 3
    before = _data(store)
    assert len(before["entities"]) == len(CITY.entities) and store.verify_log() == []
    assert _triggers(store) == set()  # 0001 predates the append-only triggers
    for revision in revisions[1:]:
        store.upgrade(revision)
        assert store.revision() == revision
        assert _data(store) == before, f"data changed by revision {revision}"
        assert store.verify_log() == []
    assert {"ssj_audit_no_update"} <= _triggers(store)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    # The old data works with the new schema: draws, a re-draw, and the log still refuses edits.
    reg = Registry(store)
    first = reg.draw("T1", actor="抽取人")
    joint = reg.draw("T2", actor="抽取人")
    again = reg.draw(
        "T2", actor="抽取人", reason="system_failure", text="迁移后复核", approved_by="科长"
    )
    assert again.attempt == 2 and all(verify_bundle(r.bundle).ok for r in (first, joint, again))
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'x' WHERE seq = 1"))
    assert store.verify_log() == []
    assert _data(store)["entities"] == before["entities"]


def test_upgrade_to_head_in_one_step_and_again_is_a_no_op(old_store: Store) -> None:
    before = _data(old_store)
    old_store.upgrade()
    head = old_store.revision()
    assert head == _revisions(old_store)[-1]
    reopened = Store.open(str(old_store.engine.url.render_as_string(hide_password=False)))
    assert reopened.revision() == head and _data(reopened) == before
    reopened.engine.dispose()


def test_every_revision_downgrades_and_upgrades_again(db_url: str) -> None:
    store = Store.open(db_url)
    config = store._alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    assert _triggers(store) == set()
    store.upgrade()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert conn.execute(select(AuditEventRow.seq)).first() is None


def test_a_database_from_a_newer_library_is_refused_clearly(db_url: str) -> None:
    store = Store.open(db_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"revision '9999'.*newer version") as info:
        Store.open(db_url)
    assert "pip install -U shuangsuiji" in str(info.value)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999"
