"""Changes of a team after the team draw draw from fresh committed randomness (SSJ-CHANGE-1).

Attack 4/8 of docs/threat-model.md, as it stood: once the teams were drawn, the team key was
public and a re-assignment continued its stream, so whoever asked for a change could compute
its outcome first and pick which officer to recuse. Now each change has a key of its own
from a system value committed in the request and, when the policy wants them, witnesses'
values entered afterwards. Both engines; the spec's vectors against an independent oracle.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shuangsuiji.assign.record import bundle_team_checker, verify_draw
from shuangsuiji.changes import CHANGE_SPEC, change_key, request_digest, system_commitment
from shuangsuiji.commitments import log_problems, team_key
from shuangsuiji.registry import DrawRefused, Registry
from shuangsuiji.seeds import Ceremony, party_commitment
from test_threats import (
    DRAWER,
    SUPERVISOR,
    _commit_and_announce,
    _events,
    _registry,
    _reveal_and_select,
)

WITNESS = "纪检监察室-王"


# --- the spec's formulas, written again from docs/teams.md (independent of changes.py) -----


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _oracle_key(team: bytes, digest: bytes, v: bytes, w: list[list[str]]) -> bytes:
    body = b"SSJ-CHANGE-1\x00" + team + digest + v + _canonical(sorted(w))
    return hashlib.sha256(body).digest()


@given(
    team=st.binary(min_size=32, max_size=32),
    v=st.binary(min_size=32, max_size=32),
    text=st.text(max_size=30),
    witnesses=st.dictionaries(
        st.text(min_size=1, max_size=8), st.binary(min_size=16, max_size=64), max_size=3
    ),
)
def test_the_change_key_follows_the_spec(
    team: bytes, v: bytes, text: str, witnesses: dict[str, bytes]
) -> None:
    request = {"spec": CHANGE_SPEC, "task": "T-1", "index": 2, "text": text}
    w = [{"party": p, "value": x.hex()} for p, x in witnesses.items()]
    digest = hashlib.sha256(b"SSJ-CHANGE-1\x00" + _canonical(request)).digest()
    assert request_digest(request) == digest.hex()
    got = change_key(team, digest.hex(), v, list(reversed(w)))
    assert got == _oracle_key(team, digest, v, [[p, x.hex()] for p, x in witnesses.items()])
    expected = hashlib.sha256(b"SSJ-CHANGE-1\x00system\x00" + v).hexdigest()
    assert system_commitment(v) == expected


def test_spec_vectors_of_docs_teams_md() -> None:
    """The vectors printed in docs/teams.md and the module docstring (SSJ-CHANGE-1)."""
    request = {"spec": CHANGE_SPEC, "task": "T-1", "attempt": 1, "index": 0}
    assert request_digest(request).startswith("65c58bf3a1d71ff1")
    assert system_commitment(bytes(32)).startswith("07a41727e51b17e5")
    key = _oracle_key(bytes(32), bytes(32), bytes(32), [["纪检", "11" * 16]])
    assert key.hex().startswith("e03e0410509c7202")
    assert (
        change_key(bytes(32), "00" * 32, bytes(32), [{"party": "纪检", "value": "11" * 16}]) == key
    )


# --- the registry ---------------------------------------------------------------------------


def _drawn(db_url: str, independent: int) -> Registry:
    reg = _registry(db_url, independent=independent)
    if independent:
        _commit_and_announce(reg)
        _reveal_and_select(reg)
        digest = reg.freeze_staffing("T1", actor=DRAWER)
        for party, person, value in (
            ("系统随机数", DRAWER, b"\x01" * 32),
            ("派驻纪检监察组", SUPERVISOR, b"\x02" * 32),
        ):
            reg.commit_team_seed(
                "T1", party, party_commitment("T1", digest, party, value), actor=person
            )
        reg.announce_teams("T1", actor=DRAWER)
        reg.reveal_team_seed("T1", "系统随机数", b"\x01" * 32, actor=DRAWER)
        reg.reveal_team_seed("T1", "派驻纪检监察组", b"\x02" * 32, actor=SUPERVISOR)
        reg.draw_teams("T1", actor=DRAWER)
    else:
        reg.draw("T1", actor=DRAWER)
        reg.assign_teams("T1", actor=DRAWER)
    return reg


def test_a_change_draws_from_its_own_key_and_replays(db_url: str) -> None:
    reg = _drawn(db_url, independent=0)
    teams = reg.teams("T1")
    for entity, members in list(teams.items())[:4]:
        new = reg.reassign("T1", entity, members[0], "illness", actor=DRAWER, text="住院")
        assert members[0] not in new
    bundle = reg.bundle("T1")
    frozen = bundle["team_seed"]
    seed = Ceremony.from_record(frozen["ceremony"]).seed()
    key = team_key("T1", frozen["staffing_digest"], seed)
    assert bundle["assignment"]["stream"]["key_sha256"] == hashlib.sha256(key).hexdigest()
    changes = bundle["assignment"]["reassignments"]
    assert [c["change"]["request"]["index"] for c in changes] == [0, 1, 2, 3]
    for c in changes:
        value = bytes.fromhex(c["change"]["system_value"])
        own = change_key(key, c["change"]["digest"], value, [])
        assert c["key_sha256"] == hashlib.sha256(own).hexdigest() != hashlib.sha256(key).hexdigest()
        assert c["first_block"] == 0 and c["change"]["witnesses"] == []
    annex = reg.staffing_annex("T1")
    assert bundle_team_checker(bundle, annex=annex) == []
    # Any edit of a published change record is named by the verifier.
    for field, value in (("system_value", "00" * 32), ("digest", "11" * 32)):
        forged = json.loads(json.dumps(bundle))
        forged["assignment"]["reassignments"][0]["change"][field] = value
        assert any("change 0" in p for p in bundle_team_checker(forged, annex=annex)), field
    forged = json.loads(json.dumps(bundle))
    forged["assignment"]["reassignments"][1]["change"]["request"]["text"] = "另一理由"
    assert any("change 1" in p for p in bundle_team_checker(forged, annex=annex))
    assert reg.verify_records() == []


def test_the_policy_wants_witnesses_for_a_change(db_url: str) -> None:
    reg = _drawn(db_url, independent=1)
    entity, members = next(iter(reg.teams("T1").items()))
    with pytest.raises(DrawRefused, match="witness"):
        reg.reassign("T1", entity, members[0], "illness", actor=DRAWER)
    asked = reg.request_reassignment("T1", entity, members[0], "illness", actor=DRAWER)
    assert asked["team"] is None and asked["announcement"]["stage"] == "change"
    assert asked["announcement"]["change_digest"] == asked["digest"]
    assert reg.teams("T1")[entity] == members  # nothing drawn yet
    pending = reg.pending_change("T1")
    assert pending is not None and "system_value" not in pending
    with pytest.raises(DrawRefused, match="already waiting"):
        reg.request_reassignment("T1", entity, members[1], "leave", actor=DRAWER)
    with pytest.raises(DrawRefused, match="cannot witness"):
        reg.witness_change("T1", "纪检", b"\x05" * 32, actor=DRAWER)
    new = reg.witness_change("T1", "纪检", b"\x05" * 32, actor=WITNESS)
    assert new is not None and members[0] not in new and reg.pending_change("T1") is None
    bundle = reg.bundle("T1")
    published = [bundle["announcement"], bundle["team_seed"]["announcement"], asked["announcement"]]
    assert log_problems(_events(reg), published) == []
    unpublished = log_problems(_events(reg), published[:2])
    assert any("not published" in p for p in unpublished)
    assert bundle_team_checker(bundle, annex=reg.staffing_annex("T1")) == []
    change = bundle["assignment"]["reassignments"][0]["change"]
    assert change["witnesses"] == [{"party": "纪检", "value": "05" * 32, "entered_by": WITNESS}]
    assert change["announcement"] == asked["announcement"]
    annex = reg.staffing_annex("T1")
    # A witness value shorter than the spec allows is named, even with the key recomputed.
    forged = json.loads(json.dumps(bundle))
    forged["assignment"]["reassignments"][0]["change"]["witnesses"][0]["value"] = "05"
    assert any("has 1 bytes" in p for p in bundle_team_checker(forged, annex=annex))
    # A change request of another attempt does not fit this bundle, digest recomputed or not.
    forged = json.loads(json.dumps(bundle))
    record = forged["assignment"]["reassignments"][0]["change"]
    record["request"]["attempt"] = 9
    record["digest"] = request_digest(record["request"])
    assert any("attempt=9" in p for p in bundle_team_checker(forged, annex=annex))


def test_a_withdrawn_change_is_visible_and_counts(db_url: str) -> None:
    """Withdrawing a request and asking again is no way to try for another outcome."""
    reg = _drawn(db_url, independent=1)
    entity, members = next(iter(reg.teams("T1").items()))
    reg.request_reassignment("T1", entity, members[0], "illness", actor=DRAWER)
    with pytest.raises(DrawRefused, match="say why"):
        reg.cancel_change("T1", " ", actor=DRAWER)
    reg.cancel_change("T1", "申请有误", actor=DRAWER)
    assert reg.pending_change("T1") is None
    reg.request_reassignment("T1", entity, members[1], "leave", actor=DRAWER)
    reg.cancel_change("T1", "再次撤回", actor=DRAWER)
    # The draw's policy allows two changes per team ([draw] max_reassignments = 2).
    with pytest.raises(DrawRefused, match="max_reassignments"):
        reg.request_reassignment("T1", entity, members[0], "illness", actor=DRAWER)
    withdrawn = json.loads(json.dumps(reg.bundle("T1")["team_seed"]))["withdrawn_changes"]
    assert [w["text"] for w in withdrawn] == ["申请有误", "再次撤回"]
    assert reg.verify_records() == []
    kinds = [e.kind for e in reg.store.audit_events()]
    assert kinds[-1] == "teams.change.withdraw"


def test_refused_change_requests_leave_nothing_behind(db_url: str) -> None:
    reg = _drawn(db_url, independent=0)
    entity, members = next(iter(reg.teams("T1").items()))
    before = len(reg.store.audit_events())
    with reg.store.reading() as s:
        seed_before = reg._current(s, "T1").team_seed
    for args, match in (
        ((entity, "NOBODY", "illness"), "not on the team"),
        ((entity, members[0], "other"), "explanation"),
        ((entity, members[0], "illness", "坏\x00字"), "control character"),
        ((entity, members[0], "illness", "长" * 3000), "under 2000"),
    ):
        *head, reason = args[:3]
        text = args[3] if len(args) > 3 else ""
        with pytest.raises(Exception, match=match):
            reg.reassign("T1", *head, reason, actor=DRAWER, text=text)
    with pytest.raises(DrawRefused, match="no change"):
        reg.witness_change("T1", "纪检", b"\x05" * 32, actor=WITNESS)
    assert len(reg.store.audit_events()) == before
    with reg.store.reading() as s:
        assert reg._current(s, "T1").team_seed == seed_before


def test_an_entity_replaced_after_the_team_draw_gets_a_team_of_its_own(db_url: str) -> None:
    """Issue 13: an entity found unreachable after the teams were drawn is replaced by its
    stratum's next alternate, whose team is drawn from fresh randomness and frozen inputs."""
    reg = _drawn(db_url, independent=0)
    teams = reg.teams("T1")
    gone = next(iter(teams))
    alternate = reg.replace("T1", gone, "not_found_at_address", actor=DRAWER, note="查无此户")
    after = reg.teams("T1")
    assert gone not in after and len(after[alternate]) == 2
    assert {e: t for e, t in after.items() if e != alternate} == {
        e: t for e, t in teams.items() if e != gone
    }
    assert alternate in reg.selected_ids("T1") and gone not in reg.selected_ids("T1")
    bundle = reg.bundle("T1")
    change = bundle["assignment"]["reassignments"][-1]
    assert change["replaces"] == gone and change["entity"] == alternate
    assert change["removed"] == list(teams[gone]) and change["change"]["request"]["kind"] == (
        "replacement"
    )
    assert alternate in bundle["sealed_staffing"]["public"]["alternates"]
    report = verify_draw(bundle, annex=reg.staffing_annex("T1"))
    assert report.ok, report.problems
    assert reg.verify_records() == []
    forged = json.loads(json.dumps(bundle))
    forged["assignment"]["reassignments"][-1]["change"]["request"]["replaces"] = "X"
    assert not verify_draw(forged, annex=reg.staffing_annex("T1")).ok


def test_a_replacement_after_the_team_draw_waits_for_its_witness(db_url: str) -> None:
    reg = _drawn(db_url, independent=1)
    selected = reg.selected_ids("T1")
    gone = selected[0]
    alternate = reg.replace("T1", gone, "outside_jurisdiction", actor=DRAWER, note="已迁出")
    assert reg.selected_ids("T1") == selected  # nothing lands before the witness
    assert reg.pending_change("T1")["request"]["replaces"] == gone  # type: ignore[index]
    team = reg.witness_change("T1", "纪检", b"\x07" * 32, actor=WITNESS)
    assert team is not None and reg.teams("T1")[alternate] == team
    assert alternate in reg.selected_ids("T1") and gone not in reg.selected_ids("T1")
    bundle = reg.bundle("T1")
    assert verify_draw(bundle, annex=reg.staffing_annex("T1")).ok
    assert reg.verify_records() == []


def test_the_text_of_a_recusal_is_sealed_in_the_public_bundle(db_url: str) -> None:
    """Issue 13: why an officer left a team (illness, a relation) is personal information.
    The public bundle carries only a salted commitment to the text; the sealed annex opens it,
    and verify --annex names a wrong or missing text."""
    reg = _drawn(db_url, independent=0)
    entity, members = next(iter(reg.teams("T1").items()))
    reg.reassign("T1", entity, members[0], "illness", actor=DRAWER, text="因病住院，2026-07-02 起")
    bundle = reg.bundle("T1")
    change = bundle["assignment"]["reassignments"][-1]
    assert change["text"] == "" and "text" not in change["change"]["request"]
    assert "因病住院" not in json.dumps(bundle, ensure_ascii=False)
    annex = reg.staffing_annex("T1")
    assert [t["text"] for t in annex["change_texts"]] == ["因病住院，2026-07-02 起"]
    assert verify_draw(bundle, annex=annex).ok
    wrong = {**annex, "change_texts": [{**annex["change_texts"][0], "text": "休假"}]}
    assert any("change text 0" in p for p in bundle_team_checker(bundle, annex=wrong))
    missing = {k: v for k, v in annex.items() if k != "change_texts"}
    assert any("is missing" in p for p in bundle_team_checker(bundle, annex=missing))
    assert reg.verify_records() == []
