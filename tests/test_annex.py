"""The sealed staffing annex: the public bundle names no officer's personal data, the annex
replays the teams, and an altered, incomplete or foreign annex is refused by name."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shuangsuiji.annex import (
    AnnexError,
    disclose,
    disclosure_problems,
    join_staffing,
    open_annex,
    seal_staffing,
    split_staffing,
)
from shuangsuiji.assign.record import verify_draw
from shuangsuiji.commitments import record_commitment, staffing_digest
from shuangsuiji.errors import IntegrityFailure
from shuangsuiji.model import Conflict, Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

CITY = make_city(1_200, seed=8)
ADMIN, DRAWER, OFFICE = "管理员", "抽取人-李", "纪检监察室"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
LATE_RELATIONS = ("配偶在该企业任财务负责人", "本人曾在该企业兼职")
T2 = Task("T2", "P", "广告抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))


def _drawn(url: str) -> Registry:
    reg = Registry(Store.open(url))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG", "WJW")), actor=ADMIN)
    for task in (T1, T2):
        reg.store.put_task(task, actor=ADMIN)
        reg.draw(task.code, actor=DRAWER)
    scjg = CITY.inspectors.take(CITY.inspectors.in_departments(("SCJG",))).id_list()
    declared = [
        Conflict(scjg[n], entity, LATE_RELATIONS[n % 2], "任务公布后本人申报")
        for task in (T1, T2)
        for n, entity in enumerate(reg.selected_ids(task.code)[:3])
    ]
    reg.store.import_conflicts(declared, actor=ADMIN, source="回避申报")
    for task in (T1, T2):
        reg.assign_teams(task.code, actor=DRAWER)
    return reg


@pytest.fixture
def reg(db_url: str) -> Registry:
    return _drawn(db_url)


def _personal_values() -> dict[str, list[str]]:
    """Every personal value of the fixture's officers (of any department) and conflicts."""
    insp = CITY.inspectors
    needed = {q for t in (T1, T2) for q in ("食品安全", "药品")}  # task vocabulary, not personal
    return {
        "home_region": sorted({h.decode() for h in insp.home_region.tolist()}),
        "certificate_expiry": sorted({str(d) for d in insp.certificate_expiry.tolist()}),
        "certificate_no": sorted({str(c) for c in insp.certificate_no.tolist()}),
        "name": sorted({str(n) for n in insp.names.tolist() if len(str(n)) >= 2}),
        "qualification": sorted(set(insp.qualifications.labels) - needed),
        "relation": sorted({c.relation for c in CITY.conflicts} | set(LATE_RELATIONS)),
    }


def _leaks(text: str) -> dict[str, list[str]]:
    """The personal values found in ``text`` (a code or date only where no hex digit or other
    digit touches it, so that a ticket's hex cannot match by chance)."""
    found: dict[str, list[str]] = {}
    for kind, values in _personal_values().items():
        hits = [
            v
            for v in values
            if re.search(rf"(?<![0-9a-f]){re.escape(v)}(?![0-9a-f])", text) is not None
        ]
        if hits:
            found[kind] = hits
    return found


def _keys(value: Any, path: str = "") -> set[tuple[str, str]]:
    """Every (path, key) of the objects in ``value`` (lists add no path step)."""
    if isinstance(value, list):
        return set().union(*(_keys(v, path) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    out = {(path, k) for k in value}
    for k, v in value.items():
        out |= _keys(v, f"{path}.{k}" if path else k)
    return out


def test_the_public_bundle_carries_no_officer_personal_data_and_the_annex_does(
    reg: Registry,
) -> None:
    bundle = reg.bundle("T1")
    text = json.dumps(bundle, ensure_ascii=False)
    assert _leaks(text).keys() <= {"home_region"}
    # Entities are registered by township too, so their codes may equal an officer's home:
    # without the entity facts (strata, candidates, picks, the entities staffed), no code is left.
    scrubbed = copy.deepcopy(bundle)
    for field in ("strata", "candidates", "selected", "alternates", "excluded"):
        scrubbed.pop(field, None)
    scrubbed["sealed_staffing"]["public"].pop("entities")
    assert _leaks(json.dumps(scrubbed, ensure_ascii=False)) == {}
    personal = {"home_region", "certificate_expiry", "certificate_no", "relation", "staffing"}
    keys = _keys(bundle)
    assert not personal & {k for _, k in keys}
    assert {p for p, k in keys if k == "qualifications"} == {"sealed_staffing.public.needs"}
    assert bundle["sealed_staffing"]["digest"] == bundle["team_seed"]["staffing_digest"]
    annex = json.dumps(reg.staffing_annex("T1"), ensure_ascii=False)
    leaked = _leaks(annex)  # the scanner finds them where they are
    assert {"home_region", "certificate_expiry", "relation"} <= set(leaked)
    assert "salt" not in json.dumps(bundle["team_seed"]) and '"salt"' not in text


def test_a_public_bundle_verifies_alone_and_its_teams_replay_with_the_annex(reg: Registry) -> None:
    bundle, annex = reg.bundle("T1"), reg.staffing_annex("T1")
    alone = verify_draw(bundle)
    assert alone.ok, alone
    assert any("not replayed" in w for w in alone.warnings)
    both = verify_draw(bundle, annex=annex)
    assert both.ok and not any("not replayed" in w for w in both.warnings)
    forged = copy.deepcopy(bundle)
    entity = forged["teams"][0]["entity"]
    other = next(i for i in CITY.inspectors.id_list() if i not in forged["teams"][0]["inspectors"])
    forged["teams"][0]["inspectors"][0] = other
    from shuangsuiji.bundle import record_digest

    forged["record_digest"] = record_digest(forged)
    assert verify_draw(forged).ok  # without the annex a team swap is not visible ...
    caught = verify_draw(forged, annex=annex)  # ... with it, the replay catches it
    assert not caught.ok and any(entity in str(p) for p in caught.problems)


def test_an_altered_record_a_missing_record_and_another_draws_annex_are_refused_by_name(
    reg: Registry,
) -> None:
    bundle, annex = reg.bundle("T1"), reg.staffing_annex("T1")
    conflict = next(e for e in annex["records"] if e["record"]["kind"] == "conflict")
    altered = copy.deepcopy(annex)
    altered["records"][conflict["index"]]["record"]["relation"] = "无"
    problems = [str(p) for p in verify_draw(bundle, annex=altered).problems]
    assert len(problems) == 1 and f"annex record {conflict['index']} (conflict " in problems[0]
    assert "ask the agency" in problems[0]
    missing = copy.deepcopy(annex)
    del missing["records"][3]
    problems = [str(p) for p in verify_draw(bundle, annex=missing).problems]
    assert len(problems) == 1 and "annex record 3 (commitment" in problems[0]
    assert "is missing" in problems[0]
    foreign = reg.staffing_annex("T2")
    problems = [str(p) for p in verify_draw(bundle, annex=foreign).problems]
    assert len(problems) == 1 and "annex of task 'T2'" in problems[0]
    with pytest.raises(AnnexError, match="annex of task 'T2'") as refused:
        open_annex(bundle, foreign)
    assert isinstance(refused.value, IntegrityFailure)
    salted = copy.deepcopy(annex)
    salted["records"][0]["salt"] = "00" * 32
    assert "annex record 0 (inspector " in str(verify_draw(bundle, annex=salted).problems[0])


def test_exporting_the_annex_is_logged_with_its_recipient(reg: Registry, tmp_path: Any) -> None:
    path = reg.export_staffing_annex(
        "T1", tmp_path / "annex-T1.json", actor=DRAWER, recipient=OFFICE
    )
    annex = json.loads(path.read_text(encoding="utf-8"))
    assert annex == reg.staffing_annex("T1")
    assert "supervising office only" in annex["notice"]
    event = reg.store.audit_events()[-1]
    assert event.kind == "annex.export" and event.actor == DRAWER
    assert event.payload["recipient"] == OFFICE
    assert event.payload["staffing_digest"] == reg.bundle("T1")["sealed_staffing"]["digest"]
    assert reg.store.verify_log() == [] and reg.verify_records() == []


def test_one_record_is_disclosed_and_checked_against_the_public_bundle(reg: Registry) -> None:
    bundle, annex = reg.bundle("T1"), reg.staffing_annex("T1")
    shown = disclose(annex, 2)
    assert disclosure_problems(bundle, shown) == []
    assert disclosure_problems(reg.bundle("T2"), shown) != []
    shown["record"]["active"] = not shown["record"]["active"]
    assert "annex record 2" in disclosure_problems(bundle, shown)[0]


def test_splitting_and_joining_gives_back_the_frozen_staffing_record(reg: Registry) -> None:
    from shuangsuiji.assign.record import staffing_record

    record = staffing_record(reg.staffing("T1"))
    public, records = split_staffing(record)
    assert join_staffing(public, records) == record
    assert {r["kind"] for r in records} == {"inspector", "conflict", "history", "prior_load"} - (
        set() if record["history"] else {"history"}
    ) - (set() if record["prior_load"] else {"prior_load"})


# -- the commitment scheme, from its spec text --------------------------------------------

SALT = bytes(range(32))
RECORD = {
    "kind": "conflict",
    "inspector": "ZF350100001",
    "entity": "E1",
    "relation": "持有股份",
    "source": "declared",
}


def test_the_record_commitment_and_staffing_digest_follow_their_spec_text() -> None:
    canonical = (
        '{"entity":"E1","inspector":"ZF350100001","kind":"conflict","relation":"持有股份",'
        '"source":"declared"}'
    ).encode()
    expected = hashlib.sha256(b"SSJ-ANNEX-1\x00" + SALT + canonical).hexdigest()
    assert record_commitment(SALT, RECORD) == expected
    assert expected == "50820a33916ac798c2ed45ff8dde86c8ac811150c731751308fdd16c825bcf9b"
    public = {"format": 1, "needs": {}, "config": {}, "entities": [["E1", "350102", "F52"]]}
    body = (
        '{"commitments":["'
        + expected
        + '"],"public":'
        + json.dumps(public, sort_keys=True, separators=(",", ":"))
        + "}"
    )
    digest = hashlib.sha256(b"SSJ-STAFFING-2\x00" + body.encode()).hexdigest()
    assert staffing_digest(public, [expected]) == digest
    assert digest == "1c2f79d2685900a16f61623fccee6f2b64622507f488f8304ae20d4f9afcdf76"


_scalars = st.one_of(
    st.text(max_size=12), st.integers(-(2**53) + 1, 2**53 - 1), st.booleans(), st.none()
)
_records = st.dictionaries(st.text(min_size=1, max_size=8), _scalars, min_size=1, max_size=6)


@given(record=_records, data=st.data())
def test_changing_any_one_field_of_a_record_changes_its_commitment(
    record: dict[str, Any], data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from(sorted(record)))
    value = data.draw(
        _scalars.filter(lambda v: v != record[field] or type(v) is not type(record[field]))
    )
    changed = dict(record, **{field: value})
    assert record_commitment(SALT, changed) != record_commitment(SALT, record)
    renamed = {(k + "x" if k == field else k): v for k, v in record.items()}
    assert record_commitment(SALT, renamed) != record_commitment(SALT, record)
    other = bytes([SALT[0] ^ 1]) + SALT[1:]
    assert record_commitment(other, record) != record_commitment(SALT, record)


def test_sealing_needs_one_32_byte_salt_per_record() -> None:
    record = {
        "format": 1,
        "needs": {},
        "config": {},
        "entities": [],
        "inspectors": [],
        "conflicts": [["I1", "E1", "曾任职", "declared"]],
        "history": [],
        "prior_load": {},
    }
    with pytest.raises(ValueError, match="1 records but 0 salts"):
        seal_staffing(record, [])
    with pytest.raises(ValueError, match="32 bytes"):
        seal_staffing(record, [bytes(16)]).section()


# -- canonical JSON against RFC 8785 (JCS), implemented here from the RFC text ---------------


def _jcs(value: Any) -> str:
    """RFC 8785 for null, booleans, safe integers, strings, arrays and objects: strings as
    ECMAScript JSON.stringify writes them, members sorted by their UTF-16 code units."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
        short["\t"] = "\\t"
        out = [short.get(c, f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in value]
        return '"' + "".join(out) + '"'
    if isinstance(value, list):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    members = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
    return "{" + ",".join(f"{_jcs(k)}:{_jcs(v)}" for k, v in members) + "}"


_bmp_keys = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=6)
_json_values = st.recursive(
    _scalars | st.text(st.characters(exclude_categories=("Cs",))),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_bmp_keys, inner, max_size=4),
    max_leaves=20,
)


@given(value=_json_values)
def test_canonical_json_is_rfc_8785_for_the_value_types_we_emit(value: Any) -> None:
    from shuangsuiji.audit import canonical_json

    assert canonical_json(value) == _jcs(value).encode("utf-8")


def test_canonical_json_differs_from_rfc_8785_only_in_the_documented_key_order() -> None:
    from shuangsuiji.audit import canonical_json

    value = {"\U00020000": 1, "\uff01": 2}  # a surrogate pair sorts below U+FF01 in UTF-16
    assert canonical_json(value) != _jcs(value).encode("utf-8")
    assert canonical_json(value).decode().startswith('{"\uff01"')  # by code point
    assert _jcs(value).startswith('{"\U00020000"')  # by UTF-16 code unit


def test_real_bundles_and_annexes_are_rfc_8785_canonical(reg: Registry) -> None:
    from shuangsuiji.audit import canonical_json

    for value in (reg.bundle("T1"), reg.staffing_annex("T1")):
        assert canonical_json(value) == _jcs(value).encode("utf-8")


def test_a_bundle_of_the_format_before_sealed_annexes_is_still_replayed(reg: Registry) -> None:
    """Older bundles carry the staffing record in the clear (``staffing``) and, before team
    seeds, drew their teams with the entity draw's key: verify still replays them."""
    from shuangsuiji.assign import assign_teams
    from shuangsuiji.assign.record import staffing_from_record, staffing_record
    from shuangsuiji.bundle import make_bundle

    public, draw = reg.bundle("T1"), reg.current_draw("T1").draw
    record = staffing_record(reg.staffing("T1"))
    drawn = assign_teams(staffing_from_record(record), draw.key)
    cands = public["candidates"]
    legacy = make_bundle(
        draw,
        [c["id"] for c in cands],
        [c["stratum"] for c in cands],
        seed_provenance=public["seed_provenance"],
        teams=[t.to_dict() for t in drawn.teams],
        staffing=record,
        assignment=drawn.to_dict(),
    )
    report = verify_draw(legacy)
    assert report.ok and not any("not replayed" in w for w in report.warnings)
    from shuangsuiji.bundle import record_digest

    legacy["teams"][0]["inspectors"] = list(reversed(CITY.inspectors.id_list()[-2:]))
    legacy["record_digest"] = record_digest(legacy)
    problems = [str(p) for p in verify_draw(legacy).problems]
    assert problems and all(p.startswith("teams:") for p in problems)
    assert any("replayed" in p or "breaks" in p for p in problems)


def test_an_annex_with_a_record_too_many_or_twice_is_refused() -> None:
    from shuangsuiji.annex import annex_problems

    record = {
        "format": 1,
        "needs": {},
        "config": {},
        "entities": [],
        "inspectors": [],
        "conflicts": [["I1", "E1", "曾任职", "declared"]],
        "history": [],
        "prior_load": {"I1": 1},
    }
    sealed = seal_staffing(record, [bytes(32), bytes([7]) * 32])
    bundle = {"task_label": "T", "sealed_staffing": sealed.section()}
    annex = sealed.annex("T", 1)
    assert annex_problems(bundle, annex) == []
    extra = copy.deepcopy(annex)
    extra["records"].append(dict(annex["records"][0], index=2))
    assert annex_problems(bundle, extra) == [
        "annex: records [2] are not committed in the bundle; remove them"
    ]
    twice = copy.deepcopy(annex)
    twice["records"].append(annex["records"][1])
    assert "repeated" in annex_problems(bundle, twice)[0]
    assert open_annex(bundle, annex) == record
