from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from shuangsuiji.bundle import verify_bundle
from shuangsuiji.draw import ReplacementError
from shuangsuiji.model import Plan, PopulationFilter, Task
from shuangsuiji.registry import PUSHDOWN_FROM, SYSTEM_PARTY, DrawRefused, DrawResult, Registry
from shuangsuiji.seeds import party_commitment
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

CITY = make_city(1_200, seed=8)
ADMIN = "管理员"
DRAWER = "抽取人-李"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
T2 = Task(
    "T2",
    "P",
    "餐饮食品安全",
    ("SCJG",),
    ("SCJG-02",),
    date(2026, 10, 1),
    date(2026, 11, 30),
    population=PopulationFilter(industry_prefixes=("H62",)),
)


APPROVER = "科长-王"
EVIDENCE = "2026-07-03 核查：与另一户为同一主体的重复登记"
WHY = {
    "reason": "system_failure",
    "text": "抽取记录未打印，经批准重新抽取",
    "approved_by": APPROVER,
}


def _fixed_draw(reg: Registry, task: str, value: bytes, **redraw: str) -> DrawResult:
    """A draw whose one seed party contributes ``value`` (tests need reproducible draws)."""
    frozen = reg.freeze(task, actor=DRAWER, **redraw)
    commitment = party_commitment(task, frozen.digest, SYSTEM_PARTY, value)
    reg.commit_seed(task, SYSTEM_PARTY, commitment, actor=DRAWER)
    reg.announce(task, actor=DRAWER)
    reg.reveal_seed(task, SYSTEM_PARTY, value, actor=DRAWER)
    return reg.select(task, actor=DRAWER)


def _still() -> datetime:
    """A clock that never moves (every record gets the same time)."""
    return datetime(2026, 6, 30, 9, 0, tzinfo=UTC)


def _registry(
    url: str,
    clock: Callable[[], datetime] | None = None,
    pushdown_from: int | None = PUSHDOWN_FROM,
) -> Registry:
    store = Store.open(url) if clock is None else Store.open(url, clock=clock)
    reg = Registry(store, pushdown_from=pushdown_from)
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG", "WJW")), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    reg.store.put_task(T2, actor=ADMIN)
    return reg


def test_draw_persists_and_verifies(db_url: str) -> None:
    reg = _registry(db_url)
    result = reg.draw("T1", actor=DRAWER)
    assert verify_bundle(result.bundle).ok
    assert reg.bundle("T1") == result.bundle
    assert reg.selected_ids("T1") == [p.id for p in result.draw.selected]
    kinds = [e.kind for e in reg.store.audit_events()]
    assert kinds[-5:] == [
        "candidates.freeze",
        "seed.commit",
        "draw.announce",
        "seed.reveal",
        "draw",
    ]
    assert reg.store.verify_log() == []
    # Every stratum meets the floor and its tier's ratio; deregistered entities are excluded.
    bundle = result.bundle
    assert all(s["sample"] >= -(-3 * s["size"] // 100) for s in bundle["strata"].values())
    excluded = {e["reason"]: e["count"] for e in bundle["exclusions"]}
    assert excluded["deregistered_or_revoked"] > 0


def test_redraw_needs_a_reason_and_keeps_the_first(db_url: str) -> None:
    reg = _registry(db_url)
    first = reg.draw("T1", actor=DRAWER)
    with pytest.raises(DrawRefused, match="needs a recorded reason"):
        reg.draw("T1", actor=DRAWER)
    second = reg.draw("T1", actor=DRAWER, **WHY)
    assert second.attempt == 2
    history = reg.draws("T1")
    assert [h["attempt"] for h in history] == [1, 2]
    assert reg.bundle("T1", attempt=1) == first.bundle
    last = reg.store.audit_events()[-1]
    assert last.kind == "redraw" and last.payload["reason"] == "system_failure"
    assert last.payload["approved_by"] == APPROVER and "经批准" in last.payload["reason_text"]
    assert [a["attempt"] for a in second.bundle["attempts"]] == [1, 2]


def test_replacement_takes_the_next_alternate(db_url: str) -> None:
    reg = _registry(db_url)
    result = reg.draw("T1", actor=DRAWER)
    victim = result.draw.selected[0]
    expected = next(p.id for p in result.draw.alternates if p.stratum == victim.stratum)
    by = reg.replace("T1", victim.id, "duplicate_record", actor=DRAWER, note=EVIDENCE)
    assert by == expected
    assert victim.id not in reg.selected_ids("T1") and expected in reg.selected_ids("T1")
    bundle = reg.bundle("T1")
    assert verify_bundle(bundle).ok and bundle["replacements"][0]["by"] == expected
    with pytest.raises(ReplacementError):
        reg.replace("T1", victim.id, "other", actor=DRAWER, note="again")


def test_ceremony_with_two_parties(db_url: str) -> None:
    reg = _registry(db_url)
    frozen = reg.freeze("T2", actor=DRAWER)
    parties = {"市场监管局": b"\x01" * 16, "纪检监察组": b"\x02" * 16}
    for party, value in parties.items():
        reg.commit_seed(
            "T2", party, party_commitment("T2", frozen.digest, party, value), actor=party
        )
    with pytest.raises(DrawRefused, match="frozen draw"):
        reg.draw("T2", actor=DRAWER)
    with pytest.raises(DrawRefused, match="before the pre-draw announcement"):
        reg.reveal_seed("T2", "市场监管局", b"\x01" * 16, actor="市场监管局")
    announcement = reg.announce("T2", actor=DRAWER)
    assert announcement["independent_parties"] == 2
    with pytest.raises(DrawRefused, match="announcement is out"):
        reg.commit_seed("T2", "第三方", "ab" * 32, actor="第三方")
    with pytest.raises(ValueError, match="commit"):
        reg.reveal_seed("T2", "市场监管局", b"\x09" * 16, actor="市场监管局")
    for party, value in parties.items():
        reg.reveal_seed("T2", party, value, actor=party)
    result = reg.select("T2", actor=DRAWER)
    assert verify_bundle(result.bundle).ok
    assert result.bundle["pool_digest"] == frozen.digest
    assert len(result.bundle["seed_provenance"]["reveals"]) == 2
    assert result.bundle["announcement"] == announcement
    assert verify_bundle(result.bundle, announcements=[announcement]).ok


def test_recently_drawn_entities_are_excluded_from_later_tasks(db_url: str) -> None:
    reg = _registry(db_url)
    reg.draw("T1", actor=DRAWER)
    t1 = set(reg.selected_ids("T1"))
    reg.draw("T2", actor=DRAWER)
    bundle = reg.bundle("T2")
    excluded = {e["reason"]: e["count"] for e in bundle["exclusions"]}
    candidates = {c["id"] for c in bundle["candidates"]}
    assert not (t1 & candidates)
    restaurants_in_t1 = {i for i in t1 if i in set(CITY.entities.filter(T2.population).id_list())}
    assert excluded.get("inspected_within_window", 0) == len(restaurants_in_t1)


def test_a_superseded_draw_does_not_shield_its_entities_from_later_tasks(db_url: str) -> None:
    """A re-draw replaces the first draw: entities only the first one selected were never
    inspected, so the exclusion window of a later task must not leave them out."""
    reg = _registry(db_url)
    seed = b"a fixed contribution for this test "
    _fixed_draw(reg, "T1", seed + b"1")
    first = set(reg.selected_ids("T1"))
    _fixed_draw(reg, "T1", seed + b"2", **WHY)
    second = set(reg.selected_ids("T1"))
    _fixed_draw(reg, "T2", seed + b"3")
    candidates = {c["id"] for c in reg.bundle("T2")["candidates"]}
    restaurants = set(CITY.entities.filter(T2.population).id_list())
    only_first = (first - second) & restaurants
    assert only_first and only_first <= candidates
    assert not (second & candidates)


def test_promoted_alternates_count_as_inspected_for_later_tasks(db_url: str) -> None:
    reg = _registry(db_url)
    _fixed_draw(reg, "T1", b"a fixed contribution for this test")
    restaurants = set(CITY.entities.filter(T2.population).id_list())
    promoted: set[str] = set()
    for entity in reg.selected_ids("T1"):
        try:
            promoted.add(
                reg.replace("T1", entity, "not_found_at_address", actor=DRAWER, note=EVIDENCE)
            )
        except ReplacementError:
            continue  # that stratum has no alternate left
        if promoted & restaurants:
            break
    assert promoted & restaurants
    _fixed_draw(reg, "T2", b"another fixed contribution, T2")
    candidates = {c["id"] for c in reg.bundle("T2")["candidates"]}
    assert not (promoted & candidates)


def test_a_failed_draw_leaves_only_its_error_event(db_url: str) -> None:
    reg = _registry(db_url)
    empty = Task(
        "T3",
        "P",
        "空任务",
        ("SCJG",),
        ("SCJG-01",),
        date(2026, 7, 1),
        date(2026, 7, 2),
        population=PopulationFilter(industry_prefixes=("A01",)),
    )
    reg.store.put_task(empty, actor=ADMIN)
    for task, kwargs, message in (
        ("T3", {}, "no candidates"),
        ("T1", {"cutoff": date(2026, 7, 2)}, "cut-off 2026-07-02 is outside"),
        ("T1", {"cutoff": date(1, 1, 1)}, "at most 31 days"),
    ):
        before = len(reg.store.audit_events())
        with pytest.raises(ValueError, match=message):
            reg.draw(task, actor=DRAWER, **kwargs)
        assert reg.draws(task) == []
        events = reg.store.audit_events()
        assert len(events) == before + 1
        assert events[-1].kind == "draw.error" and events[-1].payload["task"] == task
    assert reg.store.verify_log() == []
    reg.draw("T1", actor=DRAWER)  # and the task can still be drawn


def test_printable_draw_record(db_url: str) -> None:
    reg = _registry(db_url)
    reg.draw("T1", actor=DRAWER)
    html = reg.draw_record("T1", agency="榕城市市场监督管理局")
    first = reg.selected_ids("T1")[0]
    name = str(CITY.entities.names[CITY.entities.index_of([first])[0]])
    assert "抽取记录" in html and first in html and name in html
    assert reg.bundle("T1")["pool_digest"] in html
    assert reg.store.audit_events()[-1].hash in html  # the log's head, printed as an anchor


def test_results_corrections_and_publication(db_url: str) -> None:
    from shuangsuiji.publication import PublicationStatus
    from shuangsuiji.store import StoreError

    now = [datetime(2026, 6, 30, 9, 0, tzinfo=UTC)]
    reg = _registry(db_url, clock=lambda: now[0])
    reg.draw("T1", actor=DRAWER)
    reg.assign_teams("T1", actor=DRAWER)
    first, second = reg.selected_ids("T1")[:2]
    pair = reg.teams("T1")[first]
    now[0] = datetime(2026, 9, 26, 9, 0, tzinfo=UTC)
    when = {"inspection_start": date(2026, 9, 1), "inspection_end": date(2026, 9, 25)}
    reg.record_result("T1", first, "SCJG-01", "01", inspectors=pair, actor="录入员", **when)
    with pytest.raises(ValueError, match="reason"):
        reg.record_result(
            "T1",
            first,
            "SCJG-01",
            "05",
            inspectors=pair,
            actor="录入员",
            follow_up="责令改正",
            **when,
        )
    fixed = reg.record_result(
        "T1",
        first,
        "SCJG-01",
        "05",
        inspectors=pair,
        actor="录入员",
        follow_up="责令改正",
        reason="录入错误，据检查记录更正",
        **when,
    )
    assert fixed.version == 2
    with pytest.raises(StoreError, match="was not drawn"):
        reg.record_result(
            "T1", "91350100M000100Y43", "SCJG-01", "01", inspectors=pair, actor="录入员", **when
        )
    with pytest.raises(StoreError, match="inspector"):
        reg.record_result(
            "T1", second, "SCJG-01", "01", inspectors=pair[:1], actor="录入员", **when
        )
    now[0] = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    records = reg.publications()
    assert [r.entity for r in records] == [first]
    record = records[0]
    assert record.due.isoformat() == "2026-10-29"  # 20 working days after 2026-09-25
    assert record.status(date(2026, 10, 28)) == PublicationStatus.DUE_SOON
    assert record.status(date(2026, 10, 30)) == PublicationStatus.OVERDUE
    done = reg.publish("T1", first, on=date(2026, 10, 20), actor="公示员")
    assert done.status(date(2026, 10, 30)) == PublicationStatus.PUBLISHED
    with pytest.raises(ValueError, match="already published"):
        reg.publish("T1", first, actor="公示员")
    kinds = [e.kind for e in reg.store.audit_events()]
    assert kinds.count("result.record") == 1 and kinds.count("result.correct") == 1
    assert kinds[-1] == "publication"
    assert reg.store.verify_log() == []


def test_teams_are_drawn_checked_replayed_and_reassigned(db_url: str) -> None:
    from shuangsuiji.assign.record import bundle_team_checker
    from shuangsuiji.bundle import verify_bundle

    reg = _registry(db_url)
    reg.draw("T1", actor=DRAWER)
    assignment = reg.assign_teams("T1", actor=DRAWER)
    teams = reg.teams("T1")
    assert set(teams) == set(reg.selected_ids("T1"))
    assert all(len(members) == 2 for members in teams.values())
    bundle = reg.bundle("T1")
    assert verify_bundle(bundle, team_checker=bundle_team_checker).ok
    # No team contains a declared conflict.
    declared = {(c.inspector_id, c.entity_id) for c in CITY.conflicts}
    assert not any((i, e) in declared for e, members in teams.items() for i in members)
    with pytest.raises(DrawRefused, match="already drawn"):
        reg.assign_teams("T1", actor=DRAWER)
    entity, members = next(iter(teams.items()))
    new_team = reg.reassign("T1", entity, members[0], "illness", actor=DRAWER)
    assert members[0] not in new_team and members[1] in new_team
    after = reg.teams("T1")
    assert {e: t for e, t in after.items() if e != entity} == {
        e: t for e, t in teams.items() if e != entity
    }
    bundle = reg.bundle("T1")
    assert verify_bundle(bundle, team_checker=bundle_team_checker).ok
    forged = dict(bundle)
    forged["teams"] = [dict(t) for t in bundle["teams"]]
    forged["teams"][0]["inspectors"] = list(reversed(CITY.inspectors.id_list()[-2:]))
    assert bundle_team_checker(forged) == []  # the public bundle alone cannot replay teams
    problems = bundle_team_checker(forged, annex=reg.staffing_annex("T1"))
    assert problems and any("replayed" in p or "breaks" in p for p in problems)
    assert assignment.stream.key_sha256
    kinds = [e.kind for e in reg.store.audit_events()]
    assert [k for k in kinds if k.startswith("teams")] == [
        "teams.freeze",
        "teams.seed.commit",
        "teams.seed.reveal",
        "teams.assign",
        "teams.change.request",
        "teams.reassign",
    ]
    assert kinds[-3] == "draw.error"  # the refused second assignment is on record too
    # After the team draw an entity is still replaced: its alternate gets a team of its own.
    alternate = reg.replace("T1", entity, "duplicate_record", actor=DRAWER, note=EVIDENCE)
    assert entity not in reg.teams("T1") and len(reg.teams("T1")[alternate]) == 2


def test_draw_records_agree_with_the_log_until_someone_edits_a_table(db_url: str) -> None:
    from sqlalchemy import text

    reg = _registry(db_url)
    reg.draw("T1", actor=DRAWER)
    reg.replace("T1", reg.selected_ids("T1")[0], "duplicate_record", actor=DRAWER, note=EVIDENCE)
    reg.assign_teams("T1", actor=DRAWER)
    assert reg.verify_records() == []
    bundle = reg.bundle("T1")
    bundle["selected"] = bundle["selected"][1:]  # someone drops an entity from the record
    import json as _json

    with reg.store.engine.begin() as conn:
        conn.execute(text("UPDATE draws SET bundle = :b"), {"b": _json.dumps(bundle)})
    problems = [str(p) for p in reg.verify_records()]
    assert any("changed after it was logged" in p for p in problems), problems


@pytest.mark.postgres
def test_a_large_pool_is_frozen_inside_postgresql_with_the_same_result(
    pg_url: str, tmp_path: Path
) -> None:
    """The same city, tasks and seeds: frozen in Python on SQLite and inside PostgreSQL
    (``pushdown_from=0``), the bundles are identical — candidates, exclusions with the
    window, strata, selection, seed record and record digest."""
    bundles = []
    for url, pushdown in ((f"sqlite:///{tmp_path / 'a.db'}", None), (pg_url, 0)):
        reg = _registry(url, _still, pushdown)
        _fixed_draw(reg, "T1", b"seed one, sixteen bytes or more")
        _fixed_draw(reg, "T2", b"seed two, sixteen bytes or more")
        reg.replace(
            "T2", reg.selected_ids("T2")[0], "not_found_at_address", actor=DRAWER, note=EVIDENCE
        )
        bundles.append([reg.bundle("T1"), reg.bundle("T2")])
        freezes = [e["payload"] for e in reg.store.audit_rows() if e["kind"] == "candidates.freeze"]
        bundles[-1].append(freezes)
    in_python, in_database = bundles
    assert in_python == in_database
    t2 = in_database[1]
    assert any(e["reason"] == "inspected_within_window" and e["count"] for e in t2["exclusions"])
    assert verify_bundle(t2).ok


def test_draw_health_links_the_window_even_when_timestamps_tie(tmp_path: Path) -> None:
    """With a clock that never moves, the audit order still says T1 was drawn before T2 was
    frozen: a T1 restaurant left out of T2 has a (blocked) trial there."""
    reg = _registry(f"sqlite:///{tmp_path / 'h.db'}", _still)
    _fixed_draw(reg, "T1", b"a fixed contribution for health")
    _fixed_draw(reg, "T2", b"a second fixed contribution, T2")
    restaurants = set(CITY.entities.filter(T2.population).id_list())
    left_out = sorted(set(reg.selected_ids("T1")) & restaurants)
    assert left_out
    report = reg.draw_health("P")
    trials = dict(zip(report.units.ids, report.units.trials.tolist(), strict=True))
    assert all(trials[e] == 2 for e in left_out)
