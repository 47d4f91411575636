"""docs/verify_stdlib.py replays the changes of a team draw (SSJ-CHANGE-1) with the standard
library alone: the change vector of docs/teams.md in a Python that cannot import numpy or
SciPy, checked against the library too, its canonical JSON against the library's, and random
small staffings, keys and changes against the library's ``reassign``."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shuangsuiji.annex import open_annex
from shuangsuiji.assign import InfeasibleAssignment, Recusal, Staffing, assign_teams, reassign
from shuangsuiji.assign.record import staffing_from_record, team_staffing, verify_draw
from shuangsuiji.audit import canonical_json
from shuangsuiji.changes import (
    change_key,
    change_problems,
    request_digest,
    system_commitment,
    text_commitment,
)
from shuangsuiji.commitments import team_key
from shuangsuiji.seeds import Ceremony
from test_changes import WITNESS as WITNESS_PERSON
from test_changes import _drawn
from test_pairs import Small
from test_threats import DRAWER
from test_verify_stdlib_teams import NO_SCIPY, VERIFIER, _problem, _verifier, typed_case

TEAM_KEY = hashlib.sha256(b"change-vector").digest()
OFFICERS = tuple(f"P{i}" for i in range(1, 6))
ENTITIES = tuple(f"C{j}" for j in range(1, 6))  # C5 is the alternate
CONFLICTS = frozenset(
    (f"P{i}", f"C{e}") for i, e in [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (1, 4), (4, 1)]
)
WITNESS = [{"party": "纪检", "value": "5a" * 32}]
V0, V1 = bytes(range(32)), bytes(range(32, 64))
# docs/teams.md, "Test vector: two changes, replayed with the standard library alone": what
# the library gives for these inputs (the doc builds the staffing again, same rules)
DRAWN = {"C1": ["P2", "P5"], "C2": ["P1", "P4"], "C3": ["P1", "P5"], "C4": ["P2", "P5"]}
AFTER = {"C1": ["P2", "P5"], "C3": ["P2", "P5"], "C4": ["P2", "P5"], "C5": ["P1", "P3"]}
DIGESTS = (
    "dce11144a66ef4561d40c9a7e1e0239b38f11caca9e09c40535878c1352db6f4",
    "ca74aaf9da49141f5205452edf964f43418003de37dd1ccc065f373524eb4a83",
)
KEY_SHA256 = (
    "5082db93ddc048d55ce647052e3ebc34ad82474bdbc3b7c6b19c2a87f114c929",
    "09ca7351a32a40bada17c9c5f2d2f197b40f98728c41ef8e303736da9b2a90b6",
)


def _vector_staffing() -> Staffing:
    return Small(OFFICERS, ENTITIES, CONFLICTS, None, 2, 3).staffing()


def _request(index: int, entity: str, inspector: str, reason: str, value: bytes) -> dict[str, Any]:
    return {
        "spec": "SSJ-CHANGE-1",
        "task": "CHANGE-1",
        "attempt": 1,
        "index": index,
        "kind": "replacement" if reason == "replacement" else "recusal",
        "entity": entity,
        "inspector": inspector,
        "reason": reason,
        "team_key_sha256": hashlib.sha256(TEAM_KEY).hexdigest(),
        "witnesses_needed": 1,
        "requested_by": "抽取人",
        "system_commitment": system_commitment(value),
    }


def _record(request: dict[str, Any], digest: str, value: bytes) -> dict[str, Any]:
    return {
        "request": request,
        "digest": digest,
        "system_value": value.hex(),
        "witnesses": copy.deepcopy(WITNESS),
        "announcement": None,
    }


def vector_problem() -> dict[str, Any]:
    """The --teams problem of the change vector, as a bundle publishes it (texts sealed)."""
    recusal = _request(0, "C3", "P1", "illness", V0)
    recusal["text_commitment"] = text_commitment(bytes(32), "住院")
    replacement = _request(1, "C5", "", "replacement", V1) | {"replaces": "C2", "text": "注销"}
    problem = _problem(_vector_staffing().restrict(list(ENTITIES[:4])), TEAM_KEY)
    alternate = _problem(_vector_staffing(), TEAM_KEY)["eligible"]["C5"]
    changes = [
        {"entity": "C3", "inspector": "P1", "removed": ["P1"], "added": ["P2"],
         "reason": "illness", "text": "", "first_block": 0, "next_block": 1,
         "key_sha256": KEY_SHA256[0], "change": _record(recusal, DIGESTS[0], V0)},
        {"entity": "C5", "inspector": "", "removed": ["P1", "P4"], "added": ["P1", "P3"],
         "reason": "replacement", "text": "注销", "first_block": 0, "next_block": 1,
         "replaces": "C2", "key_sha256": KEY_SHA256[1],
         "change": _record(replacement, DIGESTS[1], V1)},
    ]  # fmt: skip
    return problem | {"task": "CHANGE-1", "alternates": {"C5": alternate}, "teams": AFTER,
                      "reassignments": changes}  # fmt: skip


def _run(problem: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(problem, ensure_ascii=False), encoding="utf-8")
    code = NO_SCIPY.format(path=str(VERIFIER))
    return subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
    )


def test_the_library_derives_the_change_vector() -> None:
    problem = vector_problem()
    drawn = assign_teams(_vector_staffing().restrict(list(ENTITIES[:4])), TEAM_KEY)
    assert {t.entity_id: list(t.inspector_ids) for t in drawn.teams} == DRAWN
    for i, r in enumerate(problem["reassignments"]):
        assert request_digest(r["change"]["request"]) == DIGESTS[i]
    recusals = []
    for i, r in enumerate(problem["reassignments"]):
        expected = {k: r[k] for k in ("entity", "inspector", "reason")}
        found, key = change_problems(r["change"], TEAM_KEY, expected | {"index": i})
        assert found == [] and key is not None
        assert hashlib.sha256(key).hexdigest() == KEY_SHA256[i]
        text = "住院" if i == 0 else r["text"]
        recusals.append(
            Recusal(r["entity"], r["inspector"], r["reason"], text, key, r.get("replaces", ""))
        )
    later = reassign(_vector_staffing(), drawn, TEAM_KEY, recusals)
    assert {t.entity_id: list(t.inspector_ids) for t in later.teams} == AFTER
    for mine, theirs in zip(later.reassignments, problem["reassignments"], strict=True):
        public = {k: v for k, v in theirs.items() if k not in ("change", "text")}
        assert {k: mine.to_dict()[k] for k in public} == public


def test_the_change_vector_replays_without_numpy_or_scipy(tmp_path: Path) -> None:
    ok = _run(vector_problem(), tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: the teams re-derive" in ok.stdout


def test_another_witness_value_gives_another_key_and_is_reported(tmp_path: Path) -> None:
    problem = vector_problem()
    problem["reassignments"][1]["change"]["witnesses"] = [{"party": "纪检", "value": "5b" * 32}]
    bad = _run(problem, tmp_path)
    assert bad.returncode == 1
    assert "change 1: its key differs from the recorded key_sha256" in bad.stdout


def test_an_altered_request_or_system_value_is_reported(tmp_path: Path) -> None:
    problem = vector_problem()
    problem["reassignments"][0]["change"]["request"]["requested_by"] = "别人"
    problem["reassignments"][1]["change"]["system_value"] = "00" * 32
    verifier = _verifier()
    found = verifier.verify_teams(copy.deepcopy(problem))
    # a change that does not check is not replayed, nor anything after it
    assert found == [
        "change 0: the request does not hash to its digest",
        "teams of ['C2', 'C3', 'C5']",
    ]
    problem["reassignments"][0] = vector_problem()["reassignments"][0]
    assert verifier.verify_teams(problem) == [
        "change 1: the system value does not match the request's commitment",
        "teams of ['C2', 'C5']",
    ]


def test_a_recorded_team_that_does_not_follow_from_the_key_is_reported(tmp_path: Path) -> None:
    problem = vector_problem()
    problem["reassignments"][0]["added"] = ["P4"]  # the other officer with room
    problem["teams"]["C3"] = ["P4", "P5"]
    bad = _run(problem, tmp_path)
    assert bad.returncode == 1
    assert "change 0: added ['P4'] != replayed ['P2']" in bad.stdout
    assert "teams of ['C3']" in bad.stdout


def test_a_change_without_a_change_record_or_with_an_unreadable_one_is_reported() -> None:
    verifier, problem = _verifier(), vector_problem()
    problem["reassignments"][0] |= {"change": None, "key_sha256": ""}
    assert verifier.verify_teams(problem)[0] == "change 0: no change record (SSJ-CHANGE-1)"
    problem = vector_problem()
    problem["reassignments"][1]["change"]["system_value"] = "not hex"
    assert verifier.verify_teams(problem)[0].startswith("change 1: the record is unreadable")
    problem = vector_problem()
    del problem["reassignments"][1]["change"]["witnesses"][0]["party"]
    assert verifier.verify_teams(problem)[0].startswith("change 1: the record is unreadable")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON)
def test_canonical_json_is_the_librarys(value: Any) -> None:
    assert _verifier().canonical_json(value) == canonical_json(value)


def test_canonical_json_of_the_vectors_and_its_refusals() -> None:
    verifier = _verifier()
    for r in vector_problem()["reassignments"]:
        request = r["change"]["request"]
        assert verifier.canonical_json(request) == canonical_json(request)
    odd = {"é": '\x00\x1f\x7f\u2028"\\\b\f\n\r\t', "a": [1e-05, 1e16, -0.0, 3.0, 2**53 - 1]}
    assert verifier.canonical_json(odd) == canonical_json(odd)
    for bad in (2**53, float("nan"), "\ud800", {1: 2}, b"x"):
        with pytest.raises(ValueError):
            verifier.canonical_json(bad)


def _change_record(
    rng: random.Random, task: str, index: int, rec: Recusal, key: bytes
) -> tuple[dict[str, Any], bytes]:
    """A change record as the registry publishes it, with random system and witness values."""
    value = rng.randbytes(32)
    request = _request(index, rec.entity_id, rec.inspector_id, str(rec.reason), value)
    request |= {"task": task, "team_key_sha256": hashlib.sha256(key).hexdigest()}
    request |= {"replaces": rec.replaces, "text": "注销"} if rec.replaces else {"text": "因病"}
    parties = rng.sample(["纪检", "监察", "法制科", "Zeta"], rng.randint(0, 2))
    witnesses = [{"party": p, "value": rng.randbytes(rng.randint(16, 64)).hex()} for p in parties]
    request["witnesses_needed"] = len(witnesses)
    digest = request_digest(request)
    record: dict[str, Any] = {"request": request, "digest": digest, "witnesses": witnesses}
    record["system_value"] = value.hex()
    return record, change_key(key, digest, value, witnesses)


def _next_change(rng: random.Random, teams: dict[str, list[str]], spare: list[str]) -> Recusal:
    """A recusal of a member of a team, or (while an alternate is left) a replacement."""
    entity = rng.choice(sorted(teams))
    if spare and rng.random() < 0.35:
        return Recusal(spare.pop(0), "", "replacement", "注销", replaces=entity)
    return Recusal(entity, rng.choice(teams[entity]), "illness", "因病")


def _replay_case(seed: int, typed: bool = False) -> set[str]:
    """Draw a random small staffing (``typed``: a joint or qualification task), make up to
    four changes with the library, and check that the stdlib verifier replays every one (and
    refuses where the library refuses). Returns which kinds of change occurred: recusal,
    redraw (whole team), replacement, refused."""
    rng = random.Random(seed)
    if typed:
        case = typed_case(rng)
        drawn_ids = list(case.entities)
        spare = [f"A{j}" for j in range(rng.randint(0, 2))]
        full = attrs.evolve(case, entities=case.entities + tuple(spare)).staffing()
    else:
        officers = tuple(f"I{i}" for i in range(rng.randint(4, 7)))
        drawn_ids = [f"E{j}" for j in range(rng.randint(2, 5))]
        spare = [f"A{j}" for j in range(rng.randint(0, 2))]
        pairs = [(o, e) for o in officers for e in drawn_ids + spare]
        conflicts = frozenset(rng.sample(pairs, rng.randint(0, len(pairs) // 3)))
        k = rng.choice([2, 2, 3])
        tight = -(-len(drawn_ids) * k // len(officers))
        cap = rng.choice([0, tight, tight + 1])
        full = Small(officers, tuple(drawn_ids + spare), conflicts, None, k, cap).staffing()
    key = rng.randbytes(32)
    try:
        current = assign_teams(full.restrict(drawn_ids), key)
    except ValueError:
        return set()
    task = full.needs.label
    problem = _problem(full.restrict(drawn_ids), key) | {"task": task, "reassignments": []}
    problem["alternates"] = {a: _problem(full, key)["eligible"][a] for a in spare}
    seen: set[str] = set()
    verifier = _verifier()
    for index in range(rng.randint(1, 4)):
        teams = {t.entity_id: list(t.inspector_ids) for t in current.teams}
        rec = _next_change(rng, teams, spare)
        record, ckey = _change_record(rng, task, index, rec, key)
        try:
            current = reassign(full, current, key, [attrs.evolve(rec, change_key=ckey)])
        except InfeasibleAssignment:
            refused = {"entity": rec.entity_id, "inspector": rec.inspector_id,
                       "reason": str(rec.reason), "text": record["request"]["text"],
                       "replaces": rec.replaces, "change": record,
                       "key_sha256": hashlib.sha256(ckey).hexdigest()}  # fmt: skip
            problem["reassignments"].append(refused)
            found = verifier.verify_teams(problem | {"teams": teams})
            assert found == [f"change {index}: no team for {rec.entity_id} without changing "
                             "other teams"], (seed, found)  # fmt: skip
            return seen | {"refused"}
        done = current.reassignments[-1]
        problem["reassignments"].append(done.to_dict() | {"change": record})
        seen.add(
            "replacement"
            if rec.replaces
            else "redraw"
            if done.removed != (rec.inspector_id,)
            else "recusal"
        )
    teams = {t.entity_id: list(t.inspector_ids) for t in current.teams}
    assert verifier.verify_teams(problem | {"teams": teams}) == [], seed
    return seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_random_changes_replay_as_the_library_reassigns_them(seed: int) -> None:
    _replay_case(seed)


def test_the_random_changes_reach_every_kind_of_change() -> None:
    """The generator above is not idle: recusals, replacements and refusals all occur. A whole
    team is never redrawn here: with one kind of officer, a redraw may take only the officers
    a completion could, plus the remaining members themselves, so it fails where the
    completion failed (a redraw succeeds only with covering requirements)."""
    seen = [_replay_case(seed) for seed in range(120)]
    for kind in ("recusal", "replacement", "refused"):
        assert sum(kind in s for s in seen) >= 3, kind
    assert not any("redraw" in s for s in seen)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_random_changes_of_joint_and_qualification_tasks_replay_as_the_library(seed: int) -> None:
    _replay_case(seed, typed=True)


def test_the_random_typed_changes_reach_every_kind_of_change_and_whole_team_redraws() -> None:
    """With covering requirements, a recusal whose remaining member cannot be completed (the
    officers with room who bring the missing requirement are gone) redraws the whole team."""
    seen = [_replay_case(seed, typed=True) for seed in range(300)]
    for kind in ("recusal", "replacement", "refused", "redraw"):
        assert sum(kind in s for s in seen) >= 2, kind


def _bundle_problem(bundle: dict[str, Any], annex: dict[str, Any]) -> dict[str, Any]:
    """A registry's bundle as the stdlib verifier's --teams problem: eligibility and caps from
    the opened annex (the verifier takes them as input), the rest as published."""
    record = open_annex(bundle, annex)
    staffing = staffing_from_record(record)
    frozen = bundle["team_seed"]
    key = team_key(bundle["task_label"], frozen["staffing_digest"],
                   Ceremony.from_record(frozen["ceremony"]).seed())  # fmt: skip
    problem = _problem(team_staffing(record, staffing), key)
    everyone = _problem(staffing, key)["eligible"]
    problem["alternates"] = {a: everyone[a] for a in record.get("alternates") or []}
    assignment = bundle["assignment"]
    problem["teams"] = {t["entity"]: sorted(t["inspectors"]) for t in assignment["teams"]}
    return problem | {"task": bundle["task_label"], "reassignments": assignment["reassignments"]}


def test_a_registry_bundle_with_witnessed_changes_replays_without_numpy_or_scipy(
    db_url: str, tmp_path: Path
) -> None:
    """What `shuangsuiji verify --annex` replays, the stdlib verifier replays too: two recusals
    and a replacement, each waiting for its witness, texts sealed as published."""
    reg = _drawn(db_url, independent=1)
    for value in (b"\x05", b"\x06"):
        entity, members = next(iter(reg.teams("T1").items()))
        reg.request_reassignment("T1", entity, members[0], "illness", actor=DRAWER, text="住院")
        reg.witness_change("T1", "纪检", value * 32, actor=WITNESS_PERSON)
    reg.replace("T1", reg.selected_ids("T1")[0], "not_found_at_address", actor=DRAWER,
                note="查无此户")  # fmt: skip
    reg.witness_change("T1", "纪检", b"\x07" * 32, actor=WITNESS_PERSON)
    bundle, annex = reg.bundle("T1"), reg.staffing_annex("T1")
    assert verify_draw(bundle, annex=annex).ok
    problem = _bundle_problem(bundle, annex)
    kinds = [r["change"]["request"]["kind"] for r in problem["reassignments"]]
    assert kinds == ["recusal", "recusal", "replacement"]
    ok = _run(problem, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    problem["reassignments"][2]["change"]["witnesses"][0]["value"] = "08" * 32
    bad = _run(problem, tmp_path)
    assert "change 2: its key differs from the recorded key_sha256" in bad.stdout
