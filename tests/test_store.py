from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from shuangsuiji.audit import verify_chain
from shuangsuiji.model import Department, Plan, PopulationFilter, Task
from shuangsuiji.policy import Policy
from shuangsuiji.pools import EntityPool
from shuangsuiji.store import Store, StoreError
from shuangsuiji.store.schema import Base
from shuangsuiji.synth import make_city

CITY = make_city(1_500, seed=21)
ACTOR = "测试员"


def _seeded(url: str) -> Store:
    store = Store.open(url)
    store.put_departments(CITY.departments, actor=ACTOR)
    for item in CITY.items:
        store.put_item(item, actor=ACTOR)
    return store


def test_migrations_match_the_models(db_url: str) -> None:
    store = Store.open(db_url)
    assert store.revision() is not None
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    Store.open(db_url)  # upgrading again is a no-op


def test_pools_round_trip(db_url: str) -> None:
    store = _seeded(db_url)
    progress: list[int] = []
    report = store.import_entities(
        CITY.entities,
        actor=ACTOR,
        source="city",
        batch_size=400,
        progress=lambda done, total: progress.append(done),
    )
    assert report.rows == len(CITY.entities) and progress[-1] == len(CITY.entities)
    assert len(progress) == 4
    loaded = store.load_entities()
    order = np.argsort(CITY.entities.ids)
    assert list(loaded) == list(CITY.entities.take(order))
    store.import_inspectors(CITY.inspectors, actor=ACTOR)
    assert sorted(store.load_inspectors(), key=lambda i: i.id) == sorted(
        CITY.inspectors, key=lambda i: i.id
    )
    store.import_conflicts(CITY.conflicts, actor=ACTOR)
    assert sorted(store.conflicts(), key=str) == sorted(CITY.conflicts, key=str)
    f = PopulationFilter(tiers=("C", "D"), region_prefixes=("350102",))
    assert store.load_entities(f).id_list() == loaded.filter(f).id_list()
    assert verify_chain(store.audit_events()) == []


def test_import_is_all_or_nothing(db_url: str) -> None:
    store = _seeded(db_url)
    half = CITY.entities.take(np.arange(700))
    store.import_entities(half, actor=ACTOR)
    events_before = len(store.audit_events())
    # The second import overlaps the first: refused whole, nothing of it kept.
    with pytest.raises(StoreError, match="already in the store"):
        store.import_entities(CITY.entities, actor=ACTOR, batch_size=100)
    assert store.count_entities() == 700
    assert len(store.audit_events()) == events_before
    changed = CITY.entities.take(np.arange(650, 800))
    store.import_entities(changed, actor=ACTOR, mode="upsert")
    assert store.count_entities() == 800


def test_values_that_do_not_fit_are_refused_before_any_write(db_url: str) -> None:
    store = _seeded(db_url)
    pool = CITY.entities.take(np.arange(300))
    long_name = np.asarray(pool.names).copy()
    long_name[250] = "名" * 400  # longer than the column (300)
    columns = ("ids", "entity_type", "industry", "region", "registered", "tier", "status", "tags")
    bad = EntityPool(**{k: getattr(pool, k) for k in columns}, names=long_name)
    events = len(store.audit_events())
    with pytest.raises(StoreError, match=r"column 'name' of '.*': longer than 300"):
        store.import_entities(bad, actor=ACTOR, batch_size=100)
    assert store.count_entities() == 0 and len(store.audit_events()) == events


def test_references_are_checked(db_url: str) -> None:
    store = _seeded(db_url)
    with pytest.raises(StoreError, match="unknown plan"):
        store.put_task(
            Task("T1", "NOPE", "任务", ("SCJG",), ("SCJG-01",), date(2026, 1, 1), date(2026, 2, 1)),
            actor=ACTOR,
        )
    store.put_plan(Plan("P1", 2026, "计划", ("SCJG",)), actor=ACTOR)
    with pytest.raises(StoreError, match="unknown inspection item"):
        store.put_task(
            Task("T1", "P1", "任务", ("SCJG",), ("X-9",), date(2026, 1, 1), date(2026, 2, 1)),
            actor=ACTOR,
        )
    with pytest.raises(StoreError, match="unknown department"):
        store.put_plan(Plan("P2", 2026, "计划", ("MARS",)), actor=ACTOR)
    with pytest.raises(StoreError, match="actor"):
        store.put_departments([Department("A1", "甲")], actor=" ")
    assert [d.code for d in store.departments()] == sorted(d.code for d in CITY.departments)
    task = Task(
        "T1",
        "P1",
        "任务",
        ("SCJG", "WJW"),
        ("SCJG-01",),
        date(2026, 1, 1),
        date(2026, 2, 1),
        population=PopulationFilter(industry_prefixes=("H",)),
    )
    store.put_task(task, actor=ACTOR)
    assert store.task("T1") == task and store.tasks("P1") == [task]
    kinds = [e.kind for e in store.audit_events()]
    assert kinds[-1] == "task.create"


def test_policy_versions(db_url: str) -> None:
    store = Store.open(db_url)
    h = store.save_policy(Policy.default(), actor=ACTOR)
    assert store.save_policy(Policy.default(), actor=ACTOR) == h
    assert store.policy(h) == Policy.default()
    assert [e.kind for e in store.audit_events()] == ["policy.version"]


@settings(max_examples=15, deadline=None)
@given(
    st.text(alphabet="'\";--%_\\()*DROP TABLE entities中文", min_size=1, max_size=40).filter(
        str.strip
    )
)
def test_sql_metacharacters_are_stored_verbatim(
    tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('meta') / 's.db'}"
    store = _seeded(url)
    e = CITY.entities.entity(0)
    pool = EntityPool.from_entities([attrs.evolve(e, name=name.strip())])
    store.import_entities(pool, actor=name.strip())
    assert store.load_entities().entity(0).name == name.strip()
    assert store.audit_events()[-1].actor == name.strip()


def test_file_path_urls(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "plain.db"))
    assert store.dialect == "sqlite" and (tmp_path / "plain.db").exists()
    with store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from audit_events")).scalar() == 0


def test_audit_rows_cannot_be_changed(db_url: str) -> None:
    from sqlalchemy.orm import Session

    from shuangsuiji.store.schema import AuditEventRow

    store = _seeded(db_url)
    with pytest.raises(StoreError, match="append-only"), Session(store.engine) as s, s.begin():
        row = s.get(AuditEventRow, 1)
        assert row is not None
        row.actor = "someone else"
    # Around the library, straight SQL: the database trigger refuses it.
    for sql in ("UPDATE audit_events SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert store.verify_log() == []
    assert len(store.audit_events()) == 1 + len(CITY.items)


def _tagged_pool(prefix: str, tags: list[str], names: list[str] | None = None) -> EntityPool:
    """One entity per tag, IDs ``prefix0000``, ``prefix0001``, … (names optional)."""
    n = len(tags)
    return EntityPool.from_columns(
        ids=[f"{prefix}{j:04d}" for j in range(n)],
        names=names or ["某某公司"] * n,
        entity_type=["有限责任公司"] * n,
        industry=["F5191"] * n,
        region=["350102001"] * n,
        registered=[date(2020, 1, 1)] * n,
        tier=["B"] * n,
        status=["存续"] * n,
        tags=[(t,) for t in tags],
        id_scheme="local",
    )


def test_the_64_tag_limit_counts_stored_and_new_tags_and_leaves_the_store_unchanged(
    db_url: str,
) -> None:
    store = Store.open(db_url)
    store.import_entities(_tagged_pool("A", [f"名录{j}" for j in range(60)]), actor="管理员")
    before = store.counts()
    with pytest.raises(StoreError, match="would carry 70 distinct tags, at most 64") as info:
        store.import_entities(
            _tagged_pool("B", [f"名录{j}" for j in range(50, 70)]), actor="管理员"
        )
    assert "名录60" in str(info.value) and "Nothing was imported" in str(info.value)
    assert store.counts() == before
    store.import_entities(_tagged_pool("C", [f"名录{j}" for j in range(60, 64)]), actor="管理员")
    assert len(store.load_entities().tags.labels) == 64


def test_a_large_postgresql_import_is_staged_without_holding_the_write_lock(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows go into a TEMP table first; meanwhile another writer is not kept waiting. The
    staged import gives the same rows and event as the direct one; 'add' still refuses
    stored IDs with the store unchanged; 'upsert' replaces."""
    import threading

    import shuangsuiji.store.pools as store_module

    monkeypatch.setattr(store_module, "STAGED_IMPORT_FROM", 10)
    store = Store.open(pg_url)
    city = make_city(300, seed=9)
    other: dict[str, float] = {}

    def meanwhile() -> None:
        store.put_departments([Department("XFJ", "榕城市消防救援支队")], actor="另一人")
        other["done"] = 1.0

    def progress(done: int, total: int) -> None:
        if "started" not in other:
            other["started"] = 1.0
            writer = threading.Thread(target=meanwhile)
            writer.start()
            writer.join(timeout=20)
            other["while_staging"] = float("done" in other)

    report = store.import_entities(city.entities, actor="管理员", batch_size=100, progress=progress)
    assert other["while_staging"] == 1.0
    assert report.rows == 300
    loaded = store.load_entities()
    assert sorted(loaded.ids.tolist()) == sorted(city.entities.ids.tolist())
    assert [e["kind"] for e in store.audit_rows()][-2:] == ["department.change", "pool.import"]
    assert not store.verify_log()
    before = store.counts()
    with pytest.raises(StoreError, match="already in the store"):
        store.import_entities(city.entities, actor="管理员")
    assert store.counts() == before
    store.import_entities(city.entities, actor="管理员", mode="upsert")
    assert store.counts()["entities"] == 300
    assert store.counts()["audit_events"] == before["audit_events"] + 1


def test_a_staged_import_keeps_hostile_text_verbatim(pg_url: str) -> None:
    """The staged path streams rows with COPY: tabs, backslashes, quotes, NUL-free control
    characters and SQL fragments come back byte for byte."""
    names = ["a\tb", "back\\slash", "line\nbreak", "O'Brien; DROP TABLE entities; --", "\\N", "空"]
    n = len(names)
    pool = _tagged_pool("S", ["经营异常名录"] * n, names)
    store = Store.open(pg_url)
    store.import_entities(pool, actor="管理员", staged=True)
    loaded = store.load_entities()
    got = dict(zip(loaded.id_list(), [str(x) for x in loaded.names], strict=True))
    assert got == {f"S{j:04d}": name for j, name in enumerate(names)}
    assert all(loaded.tags[j] == frozenset({"经营异常名录"}) for j in range(n))


def test_items_are_stored_all_or_none(db_url: str) -> None:
    from shuangsuiji.synth import ITEMS

    store = Store.open(db_url)
    store.put_departments([Department("SCJG", "市场监督管理局")], actor="管理员")
    scjg = [i for i in ITEMS if i.department == "SCJG"]
    other = [i for i in ITEMS if i.department != "SCJG"]
    assert scjg and other
    before = store.counts()
    with pytest.raises(StoreError, match="unknown departments") as info:
        store.put_items([*scjg, *other], actor="管理员")
    assert other[0].code in str(info.value) and "Nothing was stored" in str(info.value)
    assert store.counts() == before and store.items() == []
    store.put_items(scjg, actor="管理员")
    assert [i.code for i in store.items()] == sorted(i.code for i in scjg)
    assert store.counts()["audit_events"] == before["audit_events"] + len(scjg)
