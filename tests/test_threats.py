"""The insider attacks of docs/threat-model.md, each tried against a store and refused or caught.

Every test plays an official (or a DBA) who wants a friend not inspected, or a chosen officer
on a team, and checks that the library refuses the step or that `verify` / `verify-log`
against the published announcements name it. Both engines.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import attrs
import numpy as np
import pytest
from sqlalchemy import text

from shuangsuiji.assign.record import bundle_team_checker
from shuangsuiji.bundle import verify_bundle
from shuangsuiji.commitments import log_problems, team_key
from shuangsuiji.model import Conflict, Plan, Task
from shuangsuiji.policy import DrawRules, Policy
from shuangsuiji.pools import Categorical, EntityPool
from shuangsuiji.registry import SYSTEM_PARTY, DrawRefused, Registry
from shuangsuiji.seeds import PublicSource, party_commitment
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

CITY = make_city(900, seed=12)
ADMIN, DRAWER, SUPERVISOR, APPROVER = "管理员", "抽取人-李", "纪检-周", "科长-王"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
PARTIES = {SYSTEM_PARTY: DRAWER, "派驻纪检监察组": SUPERVISOR}
WHY = {"reason": "system_failure", "text": "系统故障，抽取未完成", "approved_by": APPROVER}


def _registry(url: str, *, independent: int = 1, redraws: int = 2) -> Registry:
    reg = Registry.open(url)
    reg.setup_city(CITY, actor=ADMIN)
    rules = DrawRules(independent_parties=independent, max_redraws=redraws)
    reg.store.save_policy(attrs.evolve(Policy.default(), draw=rules), actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    return reg


def _value(party: str, salt: str) -> bytes:
    return hashlib.sha256(f"{party}/{salt}".encode()).digest()


def _commit_and_announce(reg: Registry, salt: str = "", **redraw: str) -> dict[str, object]:
    frozen = reg.freeze("T1", actor=DRAWER, **redraw)
    for party, person in PARTIES.items():
        commitment = party_commitment("T1", frozen.digest, party, _value(party, salt))
        reg.commit_seed("T1", party, commitment, actor=person)
    return reg.announce("T1", actor=DRAWER)


def _reveal_and_select(reg: Registry, salt: str = "") -> dict[str, object]:
    for party, person in PARTIES.items():
        reg.reveal_seed("T1", party, _value(party, salt), actor=person)
    return reg.select("T1", actor=DRAWER).bundle


def _events(reg: Registry) -> list[dict[str, object]]:
    return [
        {"seq": e.seq, "hash": e.hash, "kind": e.kind, "payload": e.payload}
        for e in reg.store.audit_events()
    ]


def test_a_system_seed_alone_is_refused_when_the_policy_wants_an_independent_party(
    db_url: str,
) -> None:
    """Attack 1b: the drawer computes outcomes of candidate contributions and keeps one."""
    reg = _registry(db_url)
    with pytest.raises(DrawRefused, match="independent"):
        reg.draw("T1", actor=DRAWER)
    with pytest.raises(TypeError):
        reg.draw("T1", actor=DRAWER, contribution=bytes(32))  # type: ignore[call-arg]
    assert reg.draws("T1") == []


def test_one_person_cannot_play_every_party(db_url: str) -> None:
    """Attack 8: one operator enters all the ceremony's parties and grinds them together."""
    reg = _registry(db_url)
    frozen = reg.freeze("T1", actor=DRAWER)
    for party in ("市场监管局", "纪检监察组", "公证处"):
        value = _value(party, "")
        commitment = party_commitment("T1", frozen.digest, party, value)
        reg.commit_seed("T1", party, commitment, actor=DRAWER)
    with pytest.raises(DrawRefused, match="found 0"):
        reg.announce("T1", actor=DRAWER)
    with pytest.raises(DrawRefused, match="announcement"):
        reg.reveal_seed("T1", "市场监管局", _value("市场监管局", ""), actor=DRAWER)


def test_a_draw_made_in_a_copy_of_the_store_fails_against_the_published_announcement(
    db_url: str, tmp_path: object
) -> None:
    """Attack 1a: draw, dislike the outcome, throw the attempt away and draw again in a
    fresh store; only the first announcement was published."""
    honest = _registry(db_url)
    published = _commit_and_announce(honest)
    # The insider builds a second store (a "copy") and draws there with other contributions.
    other_url = f"sqlite:///{tmp_path}/copy.db"
    copy = _registry(other_url)
    _commit_and_announce(copy, salt="ground")
    ground = _reveal_and_select(copy, salt="ground")
    report = verify_bundle(ground, announcements=[published])
    assert not report.ok
    assert any("not among the published" in str(p) for p in report.problems)
    assert any("not published" in p for p in log_problems(_events(copy), [published]))
    # The honest draw passes both checks.
    fair = _reveal_and_select(honest)
    assert verify_bundle(fair, announcements=[published]).ok
    assert log_problems(_events(honest), [published]) == []


def test_a_re_roll_after_the_announcement_is_visible_and_bounded(db_url: str) -> None:
    """Attack 6: re-draw until it suits. Each attempt needs a listed reason, a text, a second
    person, stays in the bundle, and the policy caps how many there are."""
    reg = _registry(db_url, redraws=1)
    first = _commit_and_announce(reg)
    _reveal_and_select(reg)
    for bad, message in (
        ({}, "recorded reason"),
        ({"reason": "x", "text": "xxxx", "approved_by": APPROVER}, "one of"),
        ({"reason": "system_failure", "text": "x", "approved_by": APPROVER}, "text"),
        ({"reason": "system_failure", "text": "抽取未完成", "approved_by": DRAWER}, "second"),
    ):
        with pytest.raises(DrawRefused, match=message):
            reg.freeze("T1", actor=DRAWER, **bad)
    second = _commit_and_announce(reg, salt="again", **WHY)
    bundle = _reveal_and_select(reg, salt="again")
    assert [a["attempt"] for a in bundle["attempts"]] == [1, 2]  # type: ignore[index]
    assert bundle["attempts"][0]["seed"]  # type: ignore[index]
    assert second["attempts"][0]["attempt"] == 1  # type: ignore[index]
    assert second["previous"] == first["digest"]
    # Publishing only the re-roll's announcement hides nothing: the log names the first.
    assert any("missing" in p for p in log_problems(_events(reg), [second]))
    with pytest.raises(DrawRefused, match="max_redraws"):
        reg.freeze("T1", actor=DRAWER, **WHY)


def test_truncating_the_log_below_a_published_head_is_caught(db_url: str) -> None:
    """Attack 3: delete the newest events (triggers dropped) to hide a re-draw."""
    reg = _registry(db_url)
    first = _commit_and_announce(reg)
    _reveal_and_select(reg)
    second = _commit_and_announce(reg, salt="again", **WHY)
    _reveal_and_select(reg, salt="again")
    assert log_problems(_events(reg), [first, second]) == []
    cut = int(second["log_head"]["seq"])  # type: ignore[index]
    with reg.store.engine.begin() as conn:
        if reg.store.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS ssj_audit_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM audit_events WHERE seq > :cut"), {"cut": cut - 1})
    assert reg.store.verify_log() == []  # the shorter chain is still a valid chain ...
    problems = log_problems(_events(reg), [first, second])
    assert any("cut back" in p for p in problems)  # ... but not the published one
    assert any("not in the audit log" in p for p in problems)


def test_an_abandoned_ceremony_is_a_visible_re_draw(db_url: str) -> None:
    """Attack 8: a party that never reveals blocks the task, or hides a discarded seed."""
    reg = _registry(db_url)
    _commit_and_announce(reg)
    with pytest.raises(DrawRefused, match="second person"):
        reg.abandon(
            "T1", reason="ceremony_abandoned", text="纪检未揭示", approved_by="", actor=DRAWER
        )
    reg.abandon(
        "T1",
        reason="ceremony_abandoned",
        text="纪检组未按时揭示",
        approved_by=APPROVER,
        actor=DRAWER,
    )
    with pytest.raises(DrawRefused, match="recorded reason"):
        reg.freeze("T1", actor=DRAWER)
    _commit_and_announce(reg, salt="2", **WHY | {"reason": "ceremony_abandoned"})
    bundle = _reveal_and_select(reg, salt="2")
    assert [a["state"] for a in bundle["attempts"]] == ["abandoned", "drawn"]  # type: ignore[index]


def test_the_cut_off_is_bounded_and_published(db_url: str) -> None:
    """Attack 8: `draw --cutoff` with any date moves who counts as registered or inspected."""
    reg = _registry(db_url, independent=0)
    for cutoff in (date(2026, 7, 2), date(2026, 5, 1), date(1, 1, 1)):
        with pytest.raises(DrawRefused, match="cut-off"):
            reg.draw("T1", actor=DRAWER, cutoff=cutoff)
    result = reg.draw("T1", actor=DRAWER, cutoff=date(2026, 6, 15))
    assert result.bundle["cutoff"] == "2026-06-15"
    assert result.bundle["announcement"]["cutoff"] == "2026-06-15"


def test_teams_are_keyed_by_a_seed_revealed_after_the_staffing_is_frozen(db_url: str) -> None:
    """Attack 4: conflicts declared one at a time after the entity list, aimed with the
    entity draw's (public) key. The team key does not exist until the staffing is frozen."""
    reg = _registry(db_url)
    _commit_and_announce(reg)
    _reveal_and_select(reg)
    with pytest.raises(DrawRefused, match="independent team-seed"):
        reg.assign_teams("T1", actor=DRAWER)
    with pytest.raises(DrawRefused, match="outside the task's window"):
        reg.freeze_staffing("T1", actor=DRAWER, on=date(2027, 1, 1))
    digest = reg.freeze_staffing("T1", actor=DRAWER, on=date(2026, 8, 3))
    with pytest.raises(DrawRefused, match="already frozen"):
        reg.freeze_staffing("T1", actor=DRAWER, on=date(2026, 8, 4))
    values = {p: _value(p, "teams") for p in PARTIES}
    for party, person in PARTIES.items():
        commitment = party_commitment("T1", digest, party, values[party])
        reg.commit_team_seed("T1", party, commitment, actor=person)
    with pytest.raises(DrawRefused, match="before the team announcement"):
        reg.reveal_team_seed("T1", SYSTEM_PARTY, values[SYSTEM_PARTY], actor=DRAWER)
    announced = reg.announce_teams("T1", actor=DRAWER)
    assert announced["stage"] == "teams" and announced["staffing_digest"] == digest
    with pytest.raises(DrawRefused, match="after the team announcement"):
        reg.commit_team_seed("T1", "第三方", "ab" * 32, actor="第三方")
    for party, person in PARTIES.items():
        reg.reveal_team_seed("T1", party, values[party], actor=person)
    assignment = reg.draw_teams("T1", actor=DRAWER)
    bundle = reg.bundle("T1")
    assert bundle["team_seed"]["announcement"] == announced
    published = [bundle["announcement"], announced]
    assert verify_bundle(bundle, announcements=published).ok
    hidden = verify_bundle(bundle, announcements=[bundle["announcement"]])
    assert any("team announcement" in str(p) for p in hidden.problems)
    assert log_problems(_events(reg), published) == []
    assert bundle["team_seed"]["staffing_digest"] == digest
    assert bundle["team_seed"]["on"] == "2026-08-03"
    seed = reg.store.audit_events()[-1].payload["team_seed"]
    key = team_key("T1", digest, bytes.fromhex(seed))
    assert assignment.stream.key_sha256 == hashlib.sha256(key).hexdigest()
    entity_key = reg.current_draw("T1").draw.key
    assert assignment.stream.key_sha256 != hashlib.sha256(entity_key).hexdigest()
    assert verify_bundle(bundle, team_checker=bundle_team_checker).ok
    forged = dict(bundle, team_seed=dict(bundle["team_seed"], staffing_digest="ab" * 32))
    assert any("staffing digest" in p for p in bundle_team_checker(forged))


def test_re_assignments_of_one_team_are_bounded(db_url: str) -> None:
    """Attack 8: repeated `teams reassign --reason illness` walks a team to a chosen officer."""
    reg = _registry(db_url, independent=0)
    reg.draw("T1", actor=DRAWER)
    reg.assign_teams("T1", actor=DRAWER)
    entity, members = next(iter(reg.teams("T1").items()))
    for _ in range(2):
        members = reg.reassign("T1", entity, members[0], "illness", actor=DRAWER)
    with pytest.raises(DrawRefused, match="max_reassignments"):
        reg.reassign("T1", entity, members[0], "illness", actor=DRAWER)


def test_a_small_task_that_shielded_a_friend_cannot_be_re_drawn_afterwards(db_url: str) -> None:
    """Attack 8: a tiny directed task drawn first shields its entities from the main task
    through the exclusion window, and is then changed and re-drawn (the friend is never
    inspected). Once a later draw relied on its selection, the small task keeps it."""
    reg = _registry(db_url, independent=0)
    tiny = Task(
        "T0", "P", "小范围定向抽查", ("SCJG",), ("SCJG-01",), date(2026, 6, 1), date(2026, 7, 20)
    )
    reg.store.put_task(tiny, actor=ADMIN)
    reg.draw("T0", actor=DRAWER)
    reg.draw("T1", actor=DRAWER)
    shielded = {e["reason"]: e["ids"] for e in reg.bundle("T1")["excluded"]}
    assert set(shielded["inspected_within_window"]) & set(reg.selected_ids("T0"))
    with pytest.raises(DrawRefused, match="T1 attempt 1"):
        reg.draw("T0", actor=DRAWER, **WHY)


def _visit_first_team(reg: Registry, task: str, start: date, end: date) -> str:
    """Record a result (01) for the entity of the task's first team, by that team."""
    visited, team = sorted(reg.teams(task).items())[0]
    reg.record_result(
        task,
        visited,
        "SCJG-01",
        "01",
        inspection_start=start,
        inspection_end=end,
        inspectors=team,
        actor="录入员",
    )
    return visited


def test_a_task_that_ended_without_inspecting_shields_no_one(db_url: str) -> None:
    """Attack 8, the other half: the exclusion window is credited only by inspections carried
    out (a recorded result, from its inspection date) or still possible (the task runs at the
    cut-off). A tiny task that ended before the main task's cut-off holds out only the entity
    it inspected."""
    clock = {"now": datetime(2026, 5, 20, 9, tzinfo=UTC)}
    reg = Registry(Store.open(db_url, clock=lambda: clock["now"]))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    tiny = Task(
        "T0", "P", "小范围定向抽查", ("SCJG",), ("SCJG-01",), date(2026, 6, 1), date(2026, 6, 20)
    )
    reg.store.put_task(tiny, actor=ADMIN)
    reg.draw("T0", actor=DRAWER)
    reg.assign_teams("T0", actor=DRAWER)
    clock["now"] = datetime(2026, 6, 25, 9, tzinfo=UTC)
    visited = _visit_first_team(reg, "T0", date(2026, 6, 8), date(2026, 6, 9))
    reg.draw("T1", actor=DRAWER)
    excluded = {e["reason"]: e for e in reg.bundle("T1")["excluded"]}["inspected_within_window"]
    assert excluded["ids"] == [visited]  # the others of T0 were never inspected
    assert excluded["facts"] == [{"task": "T0", "end": "2026-06-09"}]


def _with_status(index: int, status: str) -> EntityPool:
    one = CITY.entities.take(np.asarray([index]))
    return attrs.evolve(one, status=Categorical.from_values([status]))


def test_a_status_flipped_around_the_freeze_shows_in_the_conduct_report(db_url: str) -> None:
    """Attack 5 and 9: a friend set to 注销 before the freeze (excluded as deregistered) and
    back afterwards; the exclusion is published by ID and the flip is listed by `health`."""
    reg = _registry(db_url, independent=0)
    friend = next(i for i, st in enumerate(CITY.entities.status.values()) if st == "存续")
    friend_id = CITY.entities.id_list()[friend]
    reg.store.import_entities(_with_status(friend, "注销"), actor=ADMIN, mode="upsert")
    reg.draw("T1", actor=DRAWER)
    excluded = {e["reason"]: e["ids"] for e in reg.bundle("T1")["excluded"]}
    assert friend_id in excluded["deregistered_or_revoked"]
    assert not [f for f in reg.conduct() if f.kind == "status_flip"]
    reg.store.import_entities(_with_status(friend, "存续"), actor=ADMIN, mode="upsert")
    flips = [f for f in reg.conduct() if f.kind == "status_flip"]
    assert [f.task for f in flips] == ["T1"] and friend_id in flips[0].detail
    kinds = {f.kind for f in reg.conduct()}
    assert "system_seed_only" in kinds  # and the system-only seed is listed too


def test_conflicts_declared_after_the_entity_draw_are_listed(db_url: str) -> None:
    """Attack 4 and 9: every conflict declared once the names are out is in the report."""
    reg = _registry(db_url)
    _commit_and_announce(reg)
    _reveal_and_select(reg)
    entity = reg.selected_ids("T1")[0]
    officer = CITY.inspectors.id_list()[0]
    reg.store.import_conflicts(
        [Conflict(officer, entity, "近亲属任职", "名单公布后申报")], actor=ADMIN, source="申报"
    )
    late = [f for f in reg.conduct() if f.kind == "late_conflict"]
    assert len(late) == 1 and officer in late[0].detail and entity in late[0].detail
    assert "system_seed_only" not in {f.kind for f in reg.conduct()}


def test_a_seed_from_public_values_declared_before_they_exist(db_url: str) -> None:
    """Public values (a lottery draw) declared before they exist are an independent source:
    the announcement carries them, values for a date not yet come are refused."""
    clock = {"now": datetime(2026, 6, 20, 9, tzinfo=UTC)}
    store = Store.open(db_url, clock=lambda: clock["now"])
    reg = Registry(store)
    reg.setup_city(CITY, actor=ADMIN)
    rules = DrawRules(independent_parties=1)
    store.save_policy(attrs.evolve(Policy.default(), draw=rules), actor=ADMIN)
    store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    store.put_task(T1, actor=ADMIN)
    reg.freeze("T1", actor=DRAWER)
    past = PublicSource("中国福利彩票 双色球", "第2026060期", date(2026, 6, 19))
    with pytest.raises(DrawRefused, match="not after the announcement date"):
        reg.declare_public_seed("T1", [past], actor=DRAWER)
    lottery = PublicSource("中国福利彩票 双色球", "第2026072期 开奖号码", date(2026, 6, 23))
    reg.declare_public_seed("T1", [lottery], actor=DRAWER)
    announcement = reg.announce("T1", actor=DRAWER)
    assert announcement["seed"]["kind"] == "public"
    with pytest.raises(DrawRefused, match="before its date"):
        reg.reveal_public_values("T1", ["03 11 17 22 28 31 09"], actor=DRAWER)
    clock["now"] = datetime(2026, 6, 23, 22, tzinfo=UTC)
    reg.reveal_public_values("T1", ["03 11 17 22 28 31 09"], actor=DRAWER)
    bundle = reg.select("T1", actor=DRAWER).bundle
    assert bundle["seed_provenance"]["kind"] == "public"
    assert verify_bundle(bundle, announcements=[announcement]).ok


def test_a_status_flipped_by_sql_around_the_freeze_is_named(db_url: str) -> None:
    """Attack 5 by a DBA: `UPDATE entities SET status = '注销'` before the freeze and back after
    it leaves the table equal to the import log; the freeze's own pool state does not."""
    reg = _registry(db_url, independent=0)
    friend = CITY.entities.id_list()[
        next(i for i, st in enumerate(CITY.entities.status.values()) if st == "存续")
    ]
    flip = "UPDATE entities SET status = :status WHERE id = :id"
    with reg.store.engine.begin() as conn:
        conn.execute(text(flip), {"status": "注销", "id": friend})
    reg.draw("T1", actor=DRAWER)
    with reg.store.engine.begin() as conn:
        conn.execute(text(flip), {"status": "存续", "id": friend})
    problems = [str(p) for p in reg.verify_records()]
    assert any("freeze of task T1 attempt 1" in p for p in problems), problems


def test_selected_entities_never_inspected_are_listed_once_the_task_ended(db_url: str) -> None:
    """Drawn, then quietly not visited: `health` lists every selected entity of an ended task
    that has no result."""
    clock = {"now": datetime(2026, 6, 20, 9, tzinfo=UTC)}
    reg = Registry(Store.open(db_url, clock=lambda: clock["now"]))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    reg.draw("T1", actor=DRAWER)
    reg.assign_teams("T1", actor=DRAWER)
    clock["now"] = datetime(2026, 8, 10, 9, tzinfo=UTC)
    visited = _visit_first_team(reg, "T1", date(2026, 8, 3), date(2026, 8, 4))
    assert not [f for f in reg.conduct() if f.kind == "never_inspected"]  # still running
    clock["now"] = datetime(2026, 10, 9, 9, tzinfo=UTC)
    never = {f.detail.split()[0] for f in reg.conduct() if f.kind == "never_inspected"}
    assert never == set(reg.selected_ids("T1")) - {visited}
