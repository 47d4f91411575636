"""Draw bundles: make, verify, the stdlib verifier agrees, and every tampering is detected."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shuangsuiji.bundle import BundleError, make_bundle, record_digest, verify_bundle
from shuangsuiji.draw import DuplicateIdError, SizeRule, TicketScheme, draw_entities
from shuangsuiji.seeds import Ceremony, party_commitment

STDLIB_VERIFIER = Path(__file__).resolve().parents[1] / "docs" / "verify_stdlib.py"
CST = timezone(timedelta(hours=8))
TASK = "2025-榕城-抽查-007"
IDS = [f"9135010{k:04d}X" for k in range(60)]
STRATA = ["A" if k % 3 == 0 else "C/350102" if k % 3 == 1 else "D" for k in range(60)]
RULES = {
    "A": SizeRule(ratio="0.1", minimum=1, alternates=2),
    "C/350102": SizeRule(ratio="0.25", alternates=3),
    "D": SizeRule(count=4, alternates=2),
    "甲": SizeRule(count=1),  # a stratum without candidates
}


def at(minute: int) -> datetime:
    return datetime(2025, 6, 1, 9, tzinfo=CST) + timedelta(minutes=minute)


def ceremony_for(pool: str) -> Ceremony:
    parties = {"市场监管局": bytes([7]) * 32, "纪检监察组": bytes([9]) * 32}
    c = Ceremony(TASK, pool, frozen_at=at(0))
    for k, (p, v) in enumerate(parties.items()):
        c = c.commit(p, party_commitment(TASK, pool, p, v), at(1 + k))
    for k, (p, v) in enumerate(parties.items()):
        c = c.reveal(p, v, at(10 + k))
    return c


def full_bundle(scheme: TicketScheme = TicketScheme.SSJ_DRAW_1) -> dict[str, Any]:
    from shuangsuiji.draw import pool_digest

    c = ceremony_for(pool_digest(IDS, STRATA))
    d = draw_entities(IDS, STRATA, RULES, task_label=TASK, seed=c.seed(), scheme=scheme)
    first_a = next(p.id for p in d.selected if p.stratum == "A")
    d = d.replace(first_a, "deregistered_before_draw")
    d = d.replace(d.active[-1].id, "other", note="登记住所已拆迁")
    teams = [{"entity": p.id, "inspectors": ["I001", "I002"]} for p in d.active]
    return make_bundle(
        d,
        IDS,
        STRATA,
        seed_provenance=c,
        teams=teams,
        policy_hash="5e" * 32,
        exclusions={"注销": 4, "一年内已检查": 11},
        library_version="0.1.0",
    )


_DRIVER = """
import json, runpy, sys
codes = []
for path in sys.argv[2:]:
    sys.argv = [sys.argv[1], path]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
        codes.append(0)
    except SystemExit as done:
        codes.append(done.code)
    except Exception:  # a malformed bundle may crash it: a failure, as when run alone
        codes.append(1)
print(json.dumps(codes))
"""


def stdlib_verdicts(bundles: list[Mapping[str, Any]], tmp_path: Path) -> list[bool]:
    """Run docs/verify_stdlib.py on each bundle (one subprocess for all); True = exit 0."""
    paths = []
    for k, bundle in enumerate(bundles):
        path = tmp_path / f"bundle-{k}.json"
        path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
        paths.append(str(path))
    run = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(STDLIB_VERIFIER), *paths],
        capture_output=True,
        text=True,
    )
    codes = json.loads(run.stdout.splitlines()[-1])
    assert all(code in (0, 1) for code in codes), run.stdout + run.stderr
    return [code == 0 for code in codes]


def stdlib_ok(bundle: Mapping[str, Any], tmp_path: Path) -> bool:
    return stdlib_verdicts([bundle], tmp_path)[0]


@pytest.mark.parametrize("scheme", list(TicketScheme))
def test_a_bundle_verifies_after_a_json_round_trip(scheme: TicketScheme, tmp_path: Path) -> None:
    bundle = full_bundle(scheme)
    loaded = json.loads(json.dumps(bundle, ensure_ascii=False))
    report = verify_bundle(loaded)
    assert report.ok, str(report)
    assert report.warnings == ()
    assert str(report).startswith("OK")
    assert stdlib_ok(loaded, tmp_path)
    assert loaded["ticket_scheme"] == scheme.value
    assert [c["id"] for c in loaded["candidates"]] == sorted(IDS)
    assert loaded["strata"]["甲"] == {
        "size": 0,
        "sample": 0,
        "alternates": 0,
        "rule": RULES["甲"].to_json(),
    }
    assert loaded["record_digest"] == record_digest(loaded)


ids_strategy = st.lists(
    st.text(
        alphabet=st.characters(codec="utf-8", categories=("L", "N", "P")), min_size=1, max_size=6
    ),
    unique=True,
    max_size=40,
)


@settings(max_examples=12)
@given(
    ids=ids_strategy,
    data=st.data(),
    ratio=st.fractions(min_value=0, max_value=1, max_denominator=50),
    alternates=st.integers(0, 3),
    scheme=st.sampled_from(list(TicketScheme)),
    seed=st.binary(min_size=16, max_size=32),
)
def test_stdlib_verifier_agrees_on_generated_bundles(
    ids: list[str],
    data: st.DataObject,
    ratio: Any,
    alternates: int,
    scheme: TicketScheme,
    seed: bytes,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    strata = [data.draw(st.sampled_from(["A", "B", "乙"])) for _ in ids]
    rule = SizeRule(ratio=ratio, alternates=alternates)
    d = draw_entities(ids, strata, rule, task_label="t", seed=seed, scheme=scheme)
    with_alternates = {p.stratum for p in d.alternates}
    target = next((p for p in d.selected if p.stratum in with_alternates), None)
    if target is not None:
        d = d.replace(target.id, "outside_jurisdiction")
    bundle = json.loads(json.dumps(make_bundle(d, ids, strata, library_version="x")))
    forged = copy.deepcopy(bundle)
    if forged["selected"]:
        forged["selected"][0]["ticket"] = "00" * 32
    else:
        forged["pool_digest"] = "00" * 32
    forged["record_digest"] = record_digest(forged)
    verdicts = stdlib_verdicts([bundle, forged], tmp_path_factory.mktemp("b"))
    # The stdlib verifier re-derives the draw only; these bundles carry no seed provenance,
    # which verify_bundle reports on its own.
    derivation = [
        not [p for p in verify_bundle(b).problems if p.field != "seed_provenance"]
        for b in (bundle, forged)
    ]
    assert verdicts == derivation == [True, False]
    assert [p.field for p in verify_bundle(bundle).problems] == ["seed_provenance"]


Tamper = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Tamper:
    def tamper(b: dict[str, Any]) -> None:
        *head, last = path.split(".")
        target: Any = b
        for part in head:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return tamper


def _swap_selected(b: dict[str, Any]) -> None:
    b["selected"][0], b["selected"][1] = b["selected"][1], b["selected"][0]


def _drop_candidate(b: dict[str, Any]) -> None:
    del b["candidates"][5]


def _move_candidate(b: dict[str, Any]) -> None:
    b["candidates"][5]["stratum"] = "A" if b["candidates"][5]["stratum"] != "A" else "D"


def _reorder_candidates(b: dict[str, Any]) -> None:
    b["candidates"].reverse()


def _promote_wrong_alternate(b: dict[str, Any]) -> None:
    b["replacements"][0]["by"] = [a for a in b["alternates"] if a["stratum"] == "A"][1]["id"]


def _team_for_unselected(b: dict[str, Any]) -> None:
    b["teams"][0]["entity"] = b["alternates"][-1]["id"]


def _forge_reveal(b: dict[str, Any]) -> None:
    b["seed_provenance"]["reveals"][0]["contribution"] = "00" * 32


def _drop_field(name: str) -> Tamper:
    return lambda b: b.pop(name)


TAMPERS: list[tuple[str, Tamper, str]] = [
    ("spec", _set("spec", "SSJ-DRAW-2"), "spec"),
    ("bundle_format", _set("bundle_format", 2), "bundle_format"),
    ("ticket_scheme", _set("ticket_scheme", "consistent_sampler"), "selected"),
    ("unknown scheme", _set("ticket_scheme", "md5"), "ticket_scheme"),
    ("task_label", _set("task_label", "2025-榕城-抽查-008"), "selected"),
    ("seed", _set("seed", "11" * 32), "selected"),
    ("short seed", _set("seed", "11" * 8), "seed"),
    ("pool_digest", _set("pool_digest", "00" * 32), "pool_digest"),
    ("policy_hash", _set("policy_hash", "6f" * 32), "record_digest"),
    ("bad policy_hash", _set("policy_hash", "not-a-hash"), "policy_hash"),
    ("library_version", _set("library_version", "9.9"), "record_digest"),
    ("exclusions", _set("exclusions.0.count", 3), "record_digest"),
    ("bad exclusions", _set("exclusions", [{"reason": "x"}]), "exclusions"),
    ("rule text", _set("strata.A.rule.ratio", "0.11"), "record_digest"),
    ("rule size", _set("strata.D.rule.count", 5), "strata.D.sample"),
    ("sample", _set("strata.A.sample", 9), "strata.A.sample"),
    ("size", _set("strata.D.size", 21), "strata.D.size"),
    ("alternates count", _set("strata.D.alternates", 1), "strata.D.alternates"),
    ("drop stratum", lambda b: b["strata"].pop("A"), "strata"),
    ("selected id", _set("selected.0.id", "91350100000000X"), "selected"),
    ("selected ticket", _set("selected.0.ticket", "ab" * 32), "selected"),
    ("selected order", _swap_selected, "selected"),
    ("alternate stratum", _set("alternates.0.stratum", "甲"), "alternates"),
    ("drop alternate", lambda b: b["alternates"].pop(), "alternates"),
    ("candidate removed", _drop_candidate, "pool_digest"),
    ("candidate stratum", _move_candidate, "pool_digest"),
    ("candidate order", _reorder_candidates, "candidates"),
    ("replacement", _promote_wrong_alternate, "replacements[0]"),
    ("replacement reason", _set("replacements.1.reason", "lazy"), "replacements[1]"),
    ("replacement note", _set("replacements.1.note", ""), "replacements[1]"),
    ("drop replacement", lambda b: b["replacements"].pop(0), "record_digest"),
    ("team entity", _team_for_unselected, "teams[0]"),
    ("team inspectors", _set("teams.1.inspectors", "I001"), "teams[1]"),
    ("provenance reveal", _forge_reveal, "seed_provenance"),
    (
        "provenance time",
        _set("seed_provenance.frozen_at", "2025-06-01T09:05:00+08:00"),
        "seed_provenance",
    ),
    ("record_digest", _set("record_digest", "00" * 32), "record_digest"),
    ("missing seed", _drop_field("seed"), "seed"),
    ("missing candidates", _drop_field("candidates"), "candidates"),
    ("missing selected", _drop_field("selected"), "selected"),
]

# Fields the stdlib verifier does not re-derive; it still sees the edit via record_digest
# unless the forger recomputes it.
STDLIB_BLIND = {"teams", "seed_provenance", "spec", "bundle_format", "policy_hash", "exclusions"}


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return json.loads(json.dumps(full_bundle(), ensure_ascii=False))


@pytest.fixture(scope="module")
def forgeries(
    bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[dict[str, Any], dict[str, Any], bool, bool]]:
    """For each tampering: the forged bundle, the same with record_digest recomputed (a forger
    who knows the rule), and the stdlib verifier's verdict on each."""
    pairs = []
    for name, tamper, _ in TAMPERS:
        forged = copy.deepcopy(bundle)
        tamper(forged)
        clever = copy.deepcopy(forged)
        clever["record_digest"] = record_digest(clever) if "record_digest" in clever else None
        pairs.append((name, forged, clever))
    runnable = [(n, f, c) for n, f, c in pairs if {"candidates", "selected", "seed"} <= set(f)]
    verdicts = stdlib_verdicts(
        [x for _, f, c in runnable for x in (f, c)], tmp_path_factory.mktemp("forged")
    )
    out = {name: (f, c, True, True) for name, f, c in pairs}
    for k, (name, f, c) in enumerate(runnable):
        out[name] = (f, c, verdicts[2 * k], verdicts[2 * k + 1])
    return out


@pytest.mark.parametrize(
    ("name", "field"), [(t[0], t[2]) for t in TAMPERS], ids=[t[0] for t in TAMPERS]
)
def test_tampering_with_any_field_is_detected(
    name: str,
    field: str,
    forgeries: dict[str, tuple[dict[str, Any], dict[str, Any], bool, bool]],
) -> None:
    forged, clever, stdlib_forged_ok, stdlib_clever_ok = forgeries[name]
    report = verify_bundle(forged)
    assert field in [p.field for p in report.problems], str(report)
    if {"candidates", "selected", "seed"} <= set(forged):
        assert not stdlib_forged_ok
    if field == "record_digest":
        return
    # A forger who also recomputes record_digest is still caught wherever the draw re-derives.
    again = verify_bundle(clever)
    assert field in [p.field for p in again.problems], str(again)
    blind = field.split(".")[0].split("[")[0] in STDLIB_BLIND
    if not blind and {"candidates", "selected", "seed"} <= set(clever):
        assert not stdlib_clever_ok


def test_team_checker_hook_reports_into_teams(bundle: dict[str, Any]) -> None:
    seen: list[Mapping[str, Any]] = []

    def checker(b: Mapping[str, Any]) -> list[str]:
        seen.append(b)
        return ["I002 is recused from this entity (亲属)"]

    report = verify_bundle(bundle, team_checker=checker)
    assert seen == [bundle]
    assert [(p.field, p.message) for p in report.problems] == [
        ("teams", "I002 is recused from this entity (亲属)")
    ]
    assert verify_bundle(bundle, team_checker=lambda b: []).ok


def test_a_bundle_without_seed_provenance_fails() -> None:
    d = draw_entities(IDS, STRATA, RULES, task_label=TASK, seed=bytes(32))
    report = verify_bundle(make_bundle(d, IDS, STRATA, library_version="x"))
    assert not report.ok
    [problem] = report.problems
    assert problem.field == "seed_provenance" and "how its seed was made" in problem.message


def test_a_selected_entity_without_a_team_fails(bundle: dict[str, Any]) -> None:
    missing = bundle["teams"][0]["entity"]
    bundle["teams"] = bundle["teams"][1:]
    bundle["record_digest"] = record_digest(bundle)
    report = verify_bundle(bundle)
    assert [str(p) for p in report.problems] == [f"teams: selected entity {missing!r} has no team"]


def test_make_bundle_refuses_inconsistent_inputs() -> None:
    from shuangsuiji.draw import pool_digest

    c = ceremony_for(pool_digest(IDS, STRATA))
    d = draw_entities(IDS, STRATA, RULES, task_label=TASK, seed=c.seed())
    with pytest.raises(BundleError, match="pool digest"):
        make_bundle(d, IDS[:-1], STRATA[:-1], seed_provenance=c)
    other = draw_entities(IDS, STRATA, RULES, task_label=TASK, seed=bytes(32))
    with pytest.raises(BundleError, match="not the draw's seed"):
        make_bundle(other, IDS, STRATA, seed_provenance=c)
    with pytest.raises(BundleError, match="policy_hash"):
        make_bundle(d, IDS, STRATA, policy_hash="abc")
    with pytest.raises(BundleError, match="exclusion"):
        make_bundle(d, IDS, STRATA, exclusions={"注销": -1})
    with pytest.raises(DuplicateIdError):
        make_bundle(d, [*IDS, IDS[0]], [*STRATA, "A"])


def test_report_names_every_failing_field(bundle: dict[str, Any]) -> None:
    forged = copy.deepcopy(bundle)
    forged["seed"] = "22" * 32
    forged["strata"]["D"]["sample"] = 3
    text = str(verify_bundle(forged))
    assert text.startswith("FAILED:")
    assert "strata.D.sample: recorded 3, re-derived 4" in text
    assert "selected: " in text and "first difference at position 0" in text
    assert "seed_provenance: the seed it yields is not the draw's seed" in text
