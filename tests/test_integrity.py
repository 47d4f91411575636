"""Every table that decides an outcome is covered by the audit log (issue 12, attacks 2, 5, 7).

Each attack is what an insider with SQL access to the application's tables can do (the
append-only triggers guard only ``audit_events``): it is run as raw SQL against a store that
went through a whole cycle, and the records check must name the table and the row. On the main
branch before this check, ``verify_log()`` and ``verify_records()`` stayed silent for each.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import attrs
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from shuangsuiji.cli import main
from shuangsuiji.integrity import PoolState, RecordProblem, row_digest
from shuangsuiji.model import Plan, Task
from shuangsuiji.policy import Policy
from shuangsuiji.pools import Categorical, EntityPool
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

CITY = make_city(600, seed=12)
ADMIN = "管理员"
DRAWER = "抽取人-李"
CLERK = "录入员-王"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
T2 = Task("T2", "P", "第二次抽查", ("SCJG",), ("SCJG-01",), date(2026, 10, 1), date(2026, 11, 30))


class _Calendar:
    """The store's clock: a second passes at each reading; ``on`` moves on to a later day
    (results are recorded after the teams are drawn, publications dated when they happen)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 30, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def on(self, day: date) -> None:
        self.now = max(self.now, datetime(day.year, day.month, day.day, 1, tzinfo=UTC))


def _cycle(url: str) -> Registry:
    """A whole cycle: pools, a draw with a replacement, teams, results (one corrected), a
    publication and an agency result category."""
    calendar = _Calendar()
    reg = Registry(Store.open(url, clock=calendar))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    reg.store.put_task(T2, actor=ADMIN)
    reg.add_category("S01", "未按规定建立台账", "No ledger kept", actor=ADMIN)
    reg.draw("T1", actor=DRAWER)
    reg.replace("T1", reg.selected_ids("T1")[0], "duplicate_record", actor=DRAWER, note="重复登记")
    reg.assign_teams("T1", actor=DRAWER)
    teams = reg.teams("T1")
    first, second = reg.selected_ids("T1")[:2]
    day = date(2026, 7, 10)
    calendar.on(day)
    for entity, categories in ((first, "05"), (second, "01")):
        reg.record_result(
            "T1", entity, "SCJG-01", categories, inspection_start=day, inspection_end=day,
            inspectors=teams[entity], actor=CLERK,
            follow_up="责令限期改正" if categories == "05" else "",
        )  # fmt: skip
    reg.record_result(
        "T1", first, "SCJG-01", "05|08", inspection_start=day, inspection_end=day,
        inspectors=teams[first], actor=CLERK, follow_up="责令限期改正，移交稽查",
        reason="复核后补充",
    )  # fmt: skip
    calendar.on(date(2026, 7, 20))
    reg.publish("T1", first, on=date(2026, 7, 20), actor=CLERK)
    reg.publish("T1", second, on=date(2026, 7, 20), actor=CLERK)
    return reg


@pytest.fixture
def reg(db_url: str) -> Registry:
    return _cycle(db_url)


def _sql(reg: Registry, statement: str, **params: object) -> None:
    with reg.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _named(reg: Registry, table: str, key: str = "") -> list[RecordProblem]:
    """The problems naming ``table`` (and ``key`` in the row's key), after checking that the
    chain itself is intact: the tamper touched the tables only."""
    assert reg.store.verify_log() == []
    problems = reg.verify_records()
    found = [p for p in problems if p.table == table and key in p.key]
    assert found, f"nothing named {table} {key}: {[str(p) for p in problems]}"
    return found


def test_an_untouched_store_after_a_whole_cycle_has_no_problem(reg: Registry) -> None:
    assert reg.verify_records() == []
    assert reg.store.verify_log() == []


def test_results_all_set_to_no_problem_found_are_named(reg: Registry) -> None:
    _sql(reg, """UPDATE results SET categories = '["01"]', follow_up = ''""")
    found = _named(reg, "results")
    assert any("categories" in p.message and "05" in p.message for p in found)
    assert len({p.key for p in found}) == 2  # the first version and the correction


def test_a_result_row_deleted_is_named(reg: Registry) -> None:
    _sql(reg, "DELETE FROM results WHERE version = 2")
    [problem] = _named(reg, "results", "version 2")
    assert "missing from the table" in problem.message


def test_every_publication_deleted_is_named(reg: Registry) -> None:
    _sql(reg, "DELETE FROM publications")
    found = _named(reg, "publications")
    assert len(found) == 2 and all("missing from the table" in p.message for p in found)


def test_a_published_snapshot_rewritten_is_named(reg: Registry) -> None:
    [(pid, snapshot)] = _query(reg, "SELECT id, snapshot FROM publications WHERE id = 1")
    data = json.loads(str(snapshot))
    data["items"][0]["categories"] = ["01"]
    _sql(reg, "UPDATE publications SET snapshot = :s WHERE id = :i", s=json.dumps(data), i=pid)
    found = _named(reg, "publications")
    assert any("published categories" in p.message for p in found)


def _query(reg: Registry, statement: str) -> list[tuple[object, ...]]:
    with reg.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(statement))]


def test_policy_text_lowered_under_an_untouched_hash_is_named_and_so_is_the_next_freeze(
    reg: Registry,
) -> None:
    [(key, toml)] = _query(reg, "SELECT hash, toml FROM policies")
    lowered = str(toml).replace('"C" = 0.2, "D" = 0.6', '"C" = 0.05, "D" = 0.05')
    assert lowered != toml
    _sql(reg, "UPDATE policies SET toml = :t", t=lowered)
    # The next freeze sizes its strata with the lowered ratios and records their hash.
    reg.freeze("T2", actor=DRAWER)
    [problem] = _named(reg, "policies", str(key))
    assert "changed after it was saved" in problem.message
    [drawn] = _named(reg, "draws", "task T2")
    assert "never logged by a policy.version event" in drawn.message


def test_a_selected_entitys_candidate_row_deleted_is_named(reg: Registry) -> None:
    entity = reg.selected_ids("T1")[1]
    _sql(reg, "DELETE FROM draw_candidates WHERE entity_id = :e", e=entity)
    [problem] = _named(reg, "draw_candidates", "task T1 attempt 1")
    assert "pool digest" in problem.message


def test_a_pick_row_changed_is_named(reg: Registry) -> None:
    entity = reg.selected_ids("T1")[1]
    _sql(reg, "UPDATE draw_picks SET role = 'alternate' WHERE entity_id = :e", e=entity)
    _named(reg, "draw_picks", entity)


def test_a_team_member_changed_to_a_friendly_officer_is_named(reg: Registry) -> None:
    entity, team = next(iter(reg.teams("T1").items()))
    friend = next(i for i in CITY.inspectors.ids.astype(str) if i not in team)
    _sql(
        reg,
        "UPDATE team_members SET inspector_id = :f WHERE entity_id = :e AND inspector_id = :i",
        f=friend,
        e=entity,
        i=team[0],
    )
    [problem] = _named(reg, "team_members", entity)
    assert friend in problem.message


def test_a_replacement_row_deleted_is_named(reg: Registry) -> None:
    _sql(reg, "DELETE FROM replacements")
    [problem] = _named(reg, "replacements")
    assert "missing from the table" in problem.message


def test_a_result_category_relabelled_is_named(reg: Registry) -> None:
    _sql(reg, "UPDATE result_categories SET kind = 'no_problem' WHERE code = 'S01'")
    _named(reg, "result_categories", "S01")


def test_a_task_population_or_an_item_ratio_changed_before_a_freeze_is_named(
    reg: Registry,
) -> None:
    """The task (population filter, ratio) and the item list decide who is a candidate and
    how many are drawn: a change in SQL before the freeze is named."""
    population = json.dumps({"region_prefixes": ["350102"]}, ensure_ascii=False)
    _sql(reg, "UPDATE tasks SET population = :p, ratio = 0.01 WHERE code = 'T2'", p=population)
    _sql(reg, "UPDATE items SET default_ratio = 0.01 WHERE code = 'SCJG-01'")
    found = _named(reg, "tasks", "T2")
    assert {p.message.split()[0] for p in found} == {"population", "ratio"}
    [item] = _named(reg, "items", "SCJG-01")
    assert item.message.startswith("default_ratio")


def test_an_import_record_rewritten_is_named(reg: Registry) -> None:
    _sql(reg, "UPDATE imports SET rows = 1, source = '' WHERE kind = 'entities'")
    found = _named(reg, "imports")
    assert {p.message.split()[0] for p in found} == {"rows", "source"}


def test_an_entity_status_flipped_in_sql_is_named(reg: Registry) -> None:
    friend = str(CITY.entities.ids[5].decode())
    _sql(reg, "UPDATE entities SET status = '注销' WHERE id = :e", e=friend)
    [problem] = _named(reg, "entities", "whole table")
    assert "outside the library" in problem.message


def test_a_flip_is_not_laundered_by_a_later_import(reg: Registry) -> None:
    """The state is carried forward from the log, not re-read: a table changed in SQL before an
    import still differs from what that import logged."""
    _sql(reg, "DELETE FROM conflicts WHERE id = (SELECT min(id) FROM conflicts)")
    pool = make_city(30, seed=99).entities
    reg.store.import_entities(pool, actor=ADMIN, mode="upsert")
    _named(reg, "conflicts", "whole table")
    assert not [p for p in reg.verify_records() if p.table == "entities"]


def test_an_inspector_reactivated_and_a_conflict_deleted_are_named(reg: Registry) -> None:
    _sql(reg, "UPDATE inspectors SET active = NOT active WHERE id = :i", i=_first_inspector())
    _sql(reg, "DELETE FROM conflicts WHERE id = (SELECT min(id) FROM conflicts)")
    _named(reg, "inspectors", "whole table")
    _named(reg, "conflicts", "whole table")


def _first_inspector() -> str:
    return str(CITY.inspectors.ids[0].decode())


def test_an_upserted_status_flip_is_logged_with_before_and_after(db_url: str) -> None:
    """Attack 5 through the API: a one-row upsert deregisters a friend and a second one brings
    it back. The import digests now differ (status is covered), each change is on record with
    its before and after values, and the table agrees with the state the log carried."""
    store = Store.open(db_url)
    reg = Registry(store)
    reg.setup_city(CITY, actor=ADMIN)
    i = int(np.flatnonzero(CITY.entities.status.values() == "存续")[0])
    friend = CITY.entities.take(np.array([i]))
    flipped = _with_status(friend, "注销")
    one = store.import_entities(friend, actor=ADMIN, mode="upsert")
    two = store.import_entities(flipped, actor=ADMIN, mode="upsert")
    back = store.import_entities(friend, actor=ADMIN, mode="upsert")
    assert one.digest != two.digest and back.digest == one.digest
    events = [e.payload for e in store.audit_events() if e.kind == "pool.import"]
    fid = friend.ids[0].decode()
    assert events[-2]["changes"] == [
        {"id": fid, "field": "status", "before": "存续", "after": "注销"}
    ]
    assert events[-1]["changes"] == [
        {"id": fid, "field": "status", "before": "注销", "after": "存续"}
    ]
    assert events[-2]["replaced"] == 1 and events[-2]["changes_count"] == 1
    assert events[-3]["replaced"] == 1 and events[-3]["changes"] == []
    assert events[-1]["state"] == events[-3]["state"] != events[-2]["state"]
    assert reg.verify_records() == []


def _with_status(pool: EntityPool, status: str) -> EntityPool:
    return attrs.evolve(pool, status=Categorical.from_values([status] * len(pool)))


def test_a_long_change_list_is_cut_but_counted_and_digested(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shuangsuiji.store.pools.CHANGES_LOGGED", 5)
    store = Store.open(db_url)
    store.put_departments(CITY.departments, actor=ADMIN)
    store.import_entities(CITY.entities, actor=ADMIN)
    store.import_entities(_with_status(CITY.entities, "吊销"), actor=ADMIN, mode="upsert")
    event = store.audit_events()[-1].payload
    before = CITY.entities.status.values()
    changed = [
        (i.decode(), "status", str(b), "吊销")
        for i, b in zip(CITY.entities.ids.tolist(), before.tolist(), strict=True)
        if b != "吊销"
    ]
    assert event["replaced"] == len(CITY.entities)
    assert event["changes_count"] == len(changed) > 5 and len(event["changes"]) == 5
    assert event["changes_digest"] == PoolState.EMPTY.plus("changes", changed).hex
    assert Registry(store).verify_records() == []


@pytest.mark.postgres
def test_a_staged_upsert_on_postgresql_logs_its_changes_and_state(pg_url: str) -> None:
    store = Store.open(pg_url)
    reg = Registry(store)
    reg.setup_city(CITY, actor=ADMIN)
    pool = CITY.entities.take(np.arange(3))
    store.import_entities(_with_status(pool, "吊销"), actor=ADMIN, mode="upsert", staged=True)
    event = store.audit_events()[-1]
    assert event.payload["replaced"] == 3
    assert {c["field"] for c in event.payload["changes"]} <= {"status"}
    assert reg.verify_records() == []


@pytest.mark.postgres
def test_a_draw_frozen_inside_postgresql_agrees_with_its_records(pg_url: str) -> None:
    """The pushdown writes the candidates with SQL; their digest is the one the draw logged."""
    reg = Registry(Store.open(pg_url), pushdown_from=0)
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    reg.draw("T1", actor=DRAWER)
    assert reg.verify_records() == []
    _sql(reg, "UPDATE draw_candidates SET stratum = 'A|000000' WHERE entity_id = :e",
         e=reg.selected_ids("T1")[0])  # fmt: skip
    _named(reg, "draw_candidates", "task T1 attempt 1")


def test_a_table_no_import_ever_logged_is_named_until_an_import_logs_its_state(
    db_url: str,
) -> None:
    """A store written before state digests (here: a conflict row put in by SQL before any
    conflict import) is named as not covered; the next import reads the table whole and puts
    its state on record (so it adopts what was there: docs/audit.md says so)."""
    store = Store.open(db_url)
    store.save_policy(Policy.default(), actor=ADMIN)
    store.put_departments(CITY.departments, actor=ADMIN)
    store.import_entities(CITY.entities, actor=ADMIN)
    store.import_inspectors(CITY.inspectors, actor=ADMIN)
    conflict = CITY.conflicts[0]
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conflicts (inspector_id, entity_id, relation, source) "
                "VALUES (:i, :e, '亲属', '口头')"
            ),
            {"i": conflict.inspector_id, "e": conflict.entity_id},
        )
    [problem] = Registry(store).verify_records()
    assert problem.table == "conflicts" and "no import event logs" in problem.message
    store.import_conflicts(CITY.conflicts, actor=ADMIN)
    assert Registry(store).verify_records() == []
    assert store.audit_events()[-1].payload["state_rows"] == len(CITY.conflicts) + 1


def test_verify_log_names_every_problem_and_chain_only_skips_the_tables(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    reg = _cycle(url)
    runner = CliRunner()
    assert runner.invoke(main, ["verify-log", "--db", url]).exit_code == 0
    _sql(reg, "DELETE FROM publications")
    _sql(reg, "UPDATE entities SET tier = 'A'")
    result = runner.invoke(main, ["verify-log", "--db", url, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["records_checked"] and len(report["problems"]) == 3
    assert any(p.startswith("entities [whole table]") for p in report["problems"])
    plain = runner.invoke(main, ["verify-log", "--db", url])
    assert plain.exit_code == 1 and "publications [task T1 entity" in plain.stderr
    assert runner.invoke(main, ["verify-log", "--db", url, "--chain-only"]).exit_code == 0


# -- SSJ-POOL-STATE-1 -------------------------------------------------------------------------


def _oracle(table: str, rows: list[tuple[str, ...]]) -> str:
    """The state digest written from the spec text alone."""
    total = 0
    for row in rows:
        line = b"".join(len(v.encode()).to_bytes(4, "big") + v.encode() for v in row)
        h = hashlib.sha256(b"SSJ-POOL-STATE-1\x00" + table.encode() + b"\x00" + line).digest()
        total += int.from_bytes(h, "big")
    return f"{total % 2**256:064x}"


ROWS = st.lists(
    st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=4), st.text(max_size=4)),
    max_size=40,
)


@given(ROWS, st.randoms(use_true_random=False))
def test_the_pool_state_is_the_spec_and_does_not_depend_on_row_order(
    rows: list[tuple[str, ...]], rnd: object
) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    state = PoolState.EMPTY.plus("conflicts", rows)
    assert state.hex == _oracle("conflicts", rows)
    assert PoolState.EMPTY.plus("conflicts", shuffled) == state
    half = len(rows) // 2
    assert (
        PoolState.EMPTY.plus("conflicts", rows[:half]).combined(
            PoolState.EMPTY.plus("conflicts", rows[half:])
        )
        == state
    )


@given(ROWS, st.tuples(st.text(), st.text(), st.text(), st.text()))
def test_adding_then_removing_a_row_gives_the_same_state(
    rows: list[tuple[str, ...]], row: tuple[str, ...]
) -> None:
    state = PoolState.EMPTY.plus("conflicts", rows)
    assert state.plus("conflicts", [row]) != state
    assert state.plus("conflicts", [row]).minus("conflicts", [row]) == state


def test_the_state_separates_fields_and_tables() -> None:
    """Length prefixes: moving a character across a field boundary changes the state."""
    assert row_digest("conflicts", ("ab", "c")) != row_digest("conflicts", ("a", "bc"))
    assert row_digest("conflicts", ("a",)) != row_digest("entities", ("a",))
    assert PoolState.EMPTY.hex == "0" * 64


def test_postgresql_sums_the_pool_state_exactly_as_the_spec(pg_url: str) -> None:
    """Issue 12: freezes of pools of any size log the pool state. PostgreSQL computes it in the
    server (sha256 per row, limb sums); it must equal the Python reference on every pool table,
    with non-ASCII text, empty fields, dates and booleans, before and after a status flip."""
    from shuangsuiji.store.integrity import POOL_TABLES, pool_state, python_pool_state

    store = Store.open(pg_url)
    reg = Registry(store)
    reg.setup_city(CITY, actor=ADMIN)
    odd = attrs.evolve(
        CITY.entities.take(np.array([0])),
        names=np.array(["𠀀有限公司 😀 «ü»"], dtype=object),
    )
    store.import_entities(odd, actor=ADMIN, mode="upsert")
    store.import_entities(
        _with_status(CITY.entities.take(np.array([1])), "注销"), actor=ADMIN, mode="upsert"
    )
    with store.reading() as s:
        for table in POOL_TABLES:
            in_sql, reference = pool_state(s, table), python_pool_state(s, table)
            assert in_sql == reference and reference[1] > 0, table


def test_every_freeze_logs_the_pool_state_it_read(db_url: str) -> None:
    reg = Registry(Store.open(db_url))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(
        Task("T1", "P", "抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30)),
        actor=ADMIN,
    )
    reg.freeze("T1", actor=ADMIN)
    freeze = next(e for e in reversed(reg.store.audit_events()) if e.kind == "candidates.freeze")
    logged = next(
        e
        for e in reversed(reg.store.audit_events())
        if e.kind == "pool.import" and e.payload.get("kind") == "entities"
    )
    assert freeze.payload["pool_state"] == logged.payload["state"]
