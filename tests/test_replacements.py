"""Replacements in the field (issue 13): evidence, checked claims, and alternates that another
task has meanwhile selected."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import attrs
import numpy as np
import pytest

from shuangsuiji.bundle import record_digest, verify_bundle
from shuangsuiji.draw import Draw, ReplacementError, SizeRule, draw_entities
from shuangsuiji.model import Plan, Task
from shuangsuiji.policy import Policy
from shuangsuiji.pools import Categorical, EntityPool
from shuangsuiji.registry import SYSTEM_PARTY, DrawRefused, Registry
from shuangsuiji.seeds import party_commitment
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

CITY = make_city(1_200, seed=8)
ADMIN = "管理员"
DRAWER = "抽取人-李"
EVIDENCE = "2026-07-03 实地核查：登记住所已无该企业"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
# The same population, a little later: its freeze cannot exclude T1's alternates (they were
# not inspected), so it selects some of them.
T3 = Task("T3", "P", "广告抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 15), date(2026, 10, 30))


# Many alternates for T1, and a T3 that selects about half of what is left, so that some
# stratum's first alternate is taken by T3 and a later one is not.
MANY_ALTERNATES = """[ratios]
tier = { A = 0.1, B = 0.1, C = 0.2, D = 0.3 }
floor = 0.03
alternates = 1.0
"""
HALF = """[ratios]
tier = { A = 0.5, B = 0.5, C = 0.5, D = 0.5 }
floor = 0.03
"""


def _fixed_draw(reg: Registry, task: str, value: bytes) -> Draw:
    """A draw on one seed party's ``value`` (reproducible)."""
    frozen = reg.freeze(task, actor=DRAWER)
    reg.commit_seed(
        task, SYSTEM_PARTY, party_commitment(task, frozen.digest, SYSTEM_PARTY, value), actor=DRAWER
    )
    reg.announce(task, actor=DRAWER)
    reg.reveal_seed(task, SYSTEM_PARTY, value, actor=DRAWER)
    return reg.select(task, actor=DRAWER).draw


def _two_tasks(url: str) -> tuple[Registry, Draw, set[str]]:
    """T1 drawn with many alternates, then T3 over the same population."""
    reg = _registry(url)
    reg.store.save_policy(Policy.from_toml(MANY_ALTERNATES), actor=ADMIN)
    first = _fixed_draw(reg, "T1", b"\x11" * 32)
    reg.store.save_policy(Policy.from_toml(HALF), actor=ADMIN)
    return reg, first, {p.id for p in _fixed_draw(reg, "T3", b"\x33" * 32).selected}


def _registry(url: str) -> Registry:
    reg = Registry(Store.open(url))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    reg.store.put_task(T3, actor=ADMIN)
    return reg


def _with_status(pool: EntityPool, status: str) -> EntityPool:
    return attrs.evolve(pool, status=Categorical.from_values([status] * len(pool)))


def test_a_replacement_without_evidence_is_refused_and_changes_nothing(db_url: str) -> None:
    reg = _registry(db_url)
    first = reg.draw("T1", actor=DRAWER).draw.selected[0].id
    before = len(reg.store.audit_events())
    for note in ("", "   "):
        with pytest.raises(DrawRefused, match="needs the evidence as a note"):
            reg.replace("T1", first, "not_found_at_address", actor=DRAWER, note=note)
    with pytest.raises(DrawRefused, match="is not one of"):
        reg.replace("T1", first, "because", actor=DRAWER, note=EVIDENCE)
    assert len(reg.store.audit_events()) == before and first in reg.selected_ids("T1")


def test_deregistered_before_the_draw_is_checked_against_the_pool(db_url: str) -> None:
    """The claim the store can check is checked: an entity the pool records as 存续 is not
    replaced as "deregistered"; once the registry's status is imported (a logged change with
    before and after values) it is."""
    reg = _registry(db_url)
    first = reg.draw("T1", actor=DRAWER).draw.selected[0].id
    before = len(reg.store.audit_events())
    with pytest.raises(DrawRefused, match="in the entity pool, not as one of 注销") as refused:
        reg.replace("T1", first, "deregistered_before_draw", actor=DRAWER, note=EVIDENCE)
    assert "pool import" in str(refused.value)
    assert len(reg.store.audit_events()) == before
    row = int(np.flatnonzero(CITY.entities.ids == first.encode())[0])
    gone = _with_status(CITY.entities.take(np.array([row])), "注销")
    reg.store.import_entities(gone, actor=ADMIN, mode="upsert", source="登记机关推送")
    by = reg.replace("T1", first, "deregistered_before_draw", actor=DRAWER, note=EVIDENCE)
    assert by in reg.selected_ids("T1") and first not in reg.selected_ids("T1")
    assert reg.verify_records() == []


def _unused(draw: Draw, stratum: str) -> list[str]:
    used = {r.by for r in draw.replacements}
    return [p.id for p in draw.alternates if p.stratum == stratum and p.id not in used]


def test_an_alternate_another_task_selected_is_passed_over_with_a_record(db_url: str) -> None:
    """Issue 13: a promoted alternate must not end up in two current selections inside the
    exclusion window. The replacement passes over the alternates T3 has selected, records
    which and why, and verify replays it from the bundle alone."""
    reg, first, taken = _two_tasks(db_url)
    victim, expected_skips, expected_by = next(
        (p.id, alts[: alts.index(free)], free)
        for p in first.selected
        for alts in [_unused(first, p.stratum)]
        for free in [next((a for a in alts if a not in taken), None)]
        if free is not None and alts[0] in taken
    )
    by = reg.replace("T1", victim, "not_found_at_address", actor=DRAWER, note=EVIDENCE)
    assert by == expected_by and by not in taken
    bundle = reg.bundle("T1")
    skipped = bundle["replacements"][-1]["skipped"]
    assert skipped == [{"id": e, "task": "T3"} for e in expected_skips]
    assert verify_bundle(bundle).ok
    assert reg.current_draw("T1").draw.replacements[-1].by == by  # rebuilt from the rows
    assert reg.store.audit_events()[-1].payload["skipped"] == skipped
    assert reg.verify_records() == []
    forged = {**bundle, "replacements": [{**bundle["replacements"][-1], "skipped": []}]}
    assert not verify_bundle(forged).ok  # dropping the record of a skip is caught


def test_a_stratum_whose_alternates_are_all_taken_refuses_and_says_so(db_url: str) -> None:
    reg, first, taken = _two_tasks(db_url)
    victim = next(
        p.id for p in first.selected if all(a in taken for a in _unused(first, p.stratum))
    )
    before = len(reg.store.audit_events())
    with pytest.raises(ReplacementError, match="passed over: selected by other tasks"):
        reg.replace("T1", victim, "not_found_at_address", actor=DRAWER, note=EVIDENCE)
    assert len(reg.store.audit_events()) == before and victim in reg.selected_ids("T1")


def test_skipping_only_removes_it_never_reorders() -> None:
    """The promoted alternate is still the first by ticket among those not passed over."""
    ids = [f"E{i:03d}" for i in range(40)]
    d = draw_entities(
        ids, ["s"] * 40, SizeRule(ratio="0.1", alternates=5), task_label="T", seed=bytes(range(32))
    )
    alts = [p.id for p in d.alternates]
    after = d.replace(d.selected[0].id, "other", "x", skip={alts[0]: "T9", alts[2]: "T9"})
    assert after.replacements[-1].by == alts[1]
    assert [s["id"] for s in after.replacements[-1].skipped] == [alts[0]]
    again = after.replace(d.selected[1].id, "other", "y", skip={alts[2]: "T9"})
    assert again.replacements[-1].by == alts[3]  # alts[0] stays used up
    plain = d.replace(d.selected[0].id, "other", "x")
    assert "skipped" not in plain.replacements[-1].to_json()


def test_every_exclusion_is_published_with_the_fact_that_decided_it(db_url: str) -> None:
    """Issue 12: the freeze records each excluded entity's deciding fact, so an auditor can
    check "deregistered" against the public registry and "inspected within the window"
    against the other task's bundle."""
    reg, first, _ = _two_tasks(db_url)
    excluded = {e["reason"]: e for e in reg.bundle("T3")["excluded"]}
    window = excluded["inspected_within_window"]
    assert set(window["ids"]) == {p.id for p in first.selected}
    assert window["facts"] == [{"task": "T1", "end": "2026-09-30"}] * len(window["ids"])
    gone = excluded["deregistered_or_revoked"]
    statuses = dict(zip(CITY.entities.id_list(), CITY.entities.status.values(), strict=True))
    assert gone["ids"] and [f["status"] for f in gone["facts"]] == [
        statuses[i] for i in gone["ids"]
    ]
    assert {f["status"] for f in gone["facts"]} <= {"注销", "吊销", "撤销"}


def test_verify_checks_the_published_exclusions(db_url: str) -> None:
    """A forged `excluded` list is named even with the record digest recomputed: an unknown
    reason, an entity both excluded and a candidate, a fact of the wrong kind, or a
    registration "after the cut-off" that is not."""
    reg, _, _ = _two_tasks(db_url)
    bundle = reg.bundle("T3")
    assert verify_bundle(bundle).ok

    def forged(edit: Callable[[dict[str, Any]], None]) -> list[str]:
        copy = json.loads(json.dumps(bundle))
        edit(copy)
        copy["record_digest"] = record_digest(copy)
        return [str(p) for p in verify_bundle(copy).problems]

    def by_reason(b: dict[str, Any], reason: str) -> dict[str, Any]:
        return next(e for e in b["excluded"] if e["reason"] == reason)

    def rename(b: dict[str, Any]) -> None:
        by_reason(b, "deregistered_or_revoked")["reason"] = "注销"

    def also_candidate(b: dict[str, Any]) -> None:
        by_reason(b, "inspected_within_window")["ids"][0] = b["candidates"][0]["id"]

    def wrong_fact(b: dict[str, Any]) -> None:
        by_reason(b, "deregistered_or_revoked")["facts"][0] = {"task": "T1"}

    def early(b: dict[str, Any]) -> None:
        e = by_reason(b, "registered_after_cutoff")
        e["ids"], e["facts"] = ["91350100MA00000000"], [{"registered": "2020-01-01"}]

    assert any("is not one of" in p for p in forged(rename))
    assert any("and a candidate too" in p for p in forged(also_candidate))
    assert any("must have exactly ['status']" in p for p in forged(wrong_fact))
    assert any("not after the cut-off 2026-07-15" in p for p in forged(early))
