"""Pair probabilities (SSJ-PAIRS-1): known answers by hand, an independent brute-force oracle,
the Monte Carlo estimate within its stated error, the cap and its shortfalls."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections import Counter
from datetime import date
from fractions import Fraction
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shuangsuiji.assign import ConflictTable, Staffing, TaskNeeds, TeamConfig, sample_teams
from shuangsuiji.assign.pairs import (
    EXACT_LIMIT,
    PairCapRefused,
    check_pair_cap,
    estimate_pair_probabilities,
    exact_pair_probabilities,
    pair_key,
    pair_probabilities,
    pair_statement,
    shortfalls,
)
from shuangsuiji.assign.record import bundle_team_checker, verify_draw
from shuangsuiji.cli import main
from shuangsuiji.health_replays import ReplayedTask, pair_task, replay_health
from shuangsuiji.policy import DrawRules, Policy, TeamRules
from shuangsuiji.pools import EntityPool, InspectorPool
from shuangsuiji.registry import DrawRefused, Registry
from test_threats import ADMIN, DRAWER, _registry

ON = date(2026, 6, 30)
DIGEST = hashlib.sha256(b"a frozen staffing").hexdigest()


@attrs.frozen
class Small:
    """A small staffing in plain values: officers, entities, conflicts, who holds 食品安全."""

    officers: tuple[str, ...]
    entities: tuple[str, ...]
    conflicts: frozenset[tuple[str, str]] = frozenset()
    holders: frozenset[str] | None = None  # None: the task needs no qualification
    k: int = 2
    max_per_task: int = 0

    def staffing(self) -> Staffing:
        n, m = len(self.entities), len(self.officers)
        ents = EntityPool.from_columns(
            ids=list(self.entities),
            names=["某某公司"] * n,
            entity_type=["有限责任公司"] * n,
            industry=["F5191"] * n,
            region=["350102001"] * n,
            registered=[date(2020, 1, 1)] * n,
            tier=["B"] * n,
            status=["存续"] * n,
            tags=[()] * n,
        )
        held = self.holders or frozenset()
        ins = InspectorPool.from_columns(
            ids=list(self.officers),
            names=["检查员"] * m,
            department=["SCJG"] * m,
            region=["350102"] * m,
            home_region=[""] * m,
            certificate_no=["闽执0001"] * m,
            certificate_expiry=[date(2030, 1, 1)] * m,
            qualifications=[
                frozenset({"食品安全"}) if o in held else frozenset() for o in self.officers
            ],
            active=[True] * m,
        )
        quals = ("食品安全",) if self.holders is not None else ()
        return Staffing(
            ents,
            ins,
            TaskNeeds("T-PAIRS", ("SCJG",), ON, quals),
            TeamConfig(size=self.k, max_per_task=self.max_per_task, rotation_days=0),
            conflicts=ConflictTable.from_rows(
                (o, e, "近亲属任职", "本人申报") for o, e in sorted(self.conflicts)
            ),
        )

    def oracle_counts(self) -> list[tuple[tuple[str, ...], ...]]:
        """Every feasible assignment, from the rules alone (teams in entity order)."""
        cap = self.max_per_task or len(self.entities)

        def options(e: str) -> list[tuple[str, ...]]:
            ok = [o for o in self.officers if (o, e) not in self.conflicts]
            teams = itertools.combinations(ok, self.k)
            return [t for t in teams if self.holders is None or set(t) & self.holders]

        return [
            a
            for a in itertools.product(*(options(e) for e in self.entities))
            if all(sum(o in t for t in a) <= cap for o in self.officers)
        ]

    def oracle(self) -> dict[tuple[str, str], Fraction]:
        """``p(o, e)`` under the uniform law on feasible assignments."""
        feasible = self.oracle_counts()
        return {
            (o, e): Fraction(sum(o in a[j] for a in feasible), len(feasible))
            for j, e in enumerate(self.entities)
            for o in self.officers
        }


@st.composite
def smalls(draw: st.DrawFn) -> Small:
    officers = tuple(f"I{i}" for i in range(draw(st.integers(3, 6))))
    entities = tuple(f"E{j}" for j in range(draw(st.integers(1, 3))))
    pairs = list(itertools.product(officers, entities))
    conflicts = frozenset(draw(st.sets(st.sampled_from(pairs), max_size=3)))
    holders = draw(st.one_of(st.none(), st.frozensets(st.sampled_from(officers), min_size=1)))
    case = Small(officers, entities, conflicts, holders, 2, draw(st.sampled_from([0, 0, 1, 2])))
    assume(any(case.oracle_counts()))  # an infeasible staffing is refused at the team draw
    return case


def _values(case: Small) -> dict[tuple[str, str], float]:
    probs = exact_pair_probabilities(case.staffing())
    return {(o, e): probs.probability(e, o) for e in case.entities for o in case.officers}


# --------------------------------------------------------------------------- known answers


def test_three_officers_teams_of_two_one_conflict_by_hand() -> None:
    # A may not inspect E1, so E1 gets B and C; E2 gets any two of A, B, C.
    case = Small(("A", "B", "C"), ("E1", "E2"), frozenset({("A", "E1")}))
    probs = exact_pair_probabilities(case.staffing())
    assert probs.method == "exact" and probs.feasible == 3
    assert probs.p.tolist() == [[0.0, 1.0, 1.0], [2 / 3, 2 / 3, 2 / 3]]
    assert probs.error == 0.0  # every proposal is feasible: q = 1
    top = probs.maximum()
    assert top is not None and (top.entity_id, top.inspector_id, top.p) == ("E1", "B", 1.0)


def test_workload_cap_couples_entities_and_the_repair_bound_is_stated() -> None:
    # Each officer on one team: E1 takes two of B, C, D; E2 the other one and A.
    case = Small(("A", "B", "C", "D"), ("E1", "E2"), frozenset({("A", "E1")}), max_per_task=1)
    probs = exact_pair_probabilities(case.staffing())
    assert probs.feasible == 3
    assert probs.probability("E2", "A") == 1.0
    assert probs.probability("E1", "B") == pytest.approx(2 / 3)
    assert probs.probability("E2", "B") == pytest.approx(1 / 3)
    # 3 feasible of 3 * 6 proposals: q = 1/6, 64 rounds
    assert probs.error == pytest.approx((5 / 6) ** 64)


def test_a_lone_qualified_officer_is_on_every_team() -> None:
    case = Small(("A", "B", "C", "D"), ("E1", "E2"), holders=frozenset({"A"}))
    probs = exact_pair_probabilities(case.staffing())
    assert probs.probability("E1", "A") == probs.probability("E2", "A") == 1.0
    assert probs.probability("E1", "B") == pytest.approx(1 / 3)


def test_the_pair_key_is_the_documented_hash() -> None:
    digest = "ab" * 32
    expected = hashlib.sha256(b"SSJ-PAIRS-1\x00" + bytes.fromhex(digest) + (7).to_bytes(8, "big"))
    assert pair_key(digest, 7) == expected.digest()
    with pytest.raises(ValueError, match="64 hex digits"):
        pair_key("ab", 0)


# --------------------------------------------------------------------------- against an oracle


@settings(max_examples=150, deadline=None)
@given(smalls())
def test_exact_values_are_the_brute_force_shares_of_feasible_assignments(case: Small) -> None:
    got = _values(case)
    for pair, p in case.oracle().items():
        assert got[pair] == pytest.approx(float(p), abs=1e-12), pair


@settings(max_examples=25, deadline=None)
@given(smalls(), st.integers(0, 2**16))
def test_the_estimate_lies_within_its_stated_error_of_the_exact_value(
    case: Small, salt: int
) -> None:
    staffing = case.staffing()
    exact = exact_pair_probabilities(staffing)
    digest = hashlib.sha256(salt.to_bytes(4, "big")).hexdigest()
    est = estimate_pair_probabilities(staffing, digest, replays=600)
    assert est.method == "monte_carlo" and est.replays == 600
    eligible = int(staffing.eligibility().matrix.sum())
    assert est.error == pytest.approx(math.sqrt(math.log(2 * eligible / 0.01) / 1200))
    # the estimate measures the real draw, within error of it; the draw is within the
    # repair bound of the uniform law the exact values describe
    assert abs(est.p - exact.p).max() <= est.error + exact.error
    assert (est.p[exact.p == 0] == 0).all()  # no rule-excluded pair ever drawn


# --------------------------------------------------------------------------- the cap


@settings(max_examples=150, deadline=None)
@given(smalls(), st.sampled_from([0.34, 0.5, 0.67, 0.9, 1.0]))
def test_shortfalls_name_exactly_the_entities_above_the_cap(case: Small, cap: float) -> None:
    staffing = case.staffing()
    probs = exact_pair_probabilities(staffing)
    found = shortfalls(staffing, probs, cap)
    above = {e for (o, e), p in case.oracle().items() if p > cap}
    assert [s.entity_id for s in found] == [e for e in case.entities if e in above]
    for s in found:
        assert s.top.p > cap and s.entity_id in s.message
        eligible = sum((o, s.entity_id) not in case.conflicts for o in case.officers)
        lacking = dict(s.missing).get("qualified officer", 0)
        # k of m officers: some officer has p >= k / m, so the cap needs ceil(k / cap)
        assert lacking == max(0, math.ceil(2 / cap - 1e-9) - eligible)
    statement = pair_statement(staffing, probs, cap)
    assert statement["above_count"] == sum(p > cap for p in case.oracle().values())
    assert bool(statement["shortfalls"]) == bool(above)


@settings(max_examples=100, deadline=None)
@given(smalls(), st.sampled_from([0.34, 0.5, 0.67, 0.9, 1.0]), st.sampled_from(["state", "refuse"]))
def test_refusal_or_statement_happens_exactly_when_the_law_exceeds_the_cap(
    case: Small, cap: float, on_cap: str
) -> None:
    exceeds = any(p > cap for p in case.oracle().values())
    if on_cap == "refuse" and exceeds:
        with pytest.raises(PairCapRefused) as refused:
            check_pair_cap(case.staffing(), DIGEST, cap, on_cap)
        assert refused.value.shortfalls and "freeze again" in str(refused.value)
        return
    statement = check_pair_cap(case.staffing(), DIGEST, cap, on_cap)
    assert statement is not None and bool(statement["shortfalls"]) == exceeds
    assert statement["max"]["p"] == pytest.approx(float(max(case.oracle().values())), abs=1e-6)
    assert check_pair_cap(case.staffing(), DIGEST, 0.0, on_cap) is None  # 0: off


def test_the_shortfall_says_what_to_add() -> None:
    case = Small(("A", "B", "C", "D"), ("E1",), frozenset({("C", "E1"), ("D", "E1")}))
    (s,) = shortfalls(case.staffing(), exact_pair_probabilities(case.staffing()), 0.5)
    assert s.missing == (("qualified officer", 2),)
    assert s.message == (
        "entity E1: 2 eligible officers for a team of 2, A on it with p=1.00; add 2 qualified "
        "officers (from another department, or set a joint inspection)"
    )
    lone = Small(("A", "B", "C", "D"), ("E1",), holders=frozenset({"A"}))
    (q,) = shortfalls(lone.staffing(), exact_pair_probabilities(lone.staffing()), 0.5)
    assert q.missing == (("officer meeting qualification 食品安全", 1),)
    assert q.message.endswith(
        "add 1 officer meeting qualification 食品安全 (from another "
        "department, or set a joint inspection)"
    )


def test_the_statement_is_public_ids_and_numbers_only() -> None:
    case = Small(("A", "B", "C"), ("E1", "E2"), frozenset({("A", "E1")}))
    staffing = case.staffing()
    statement = pair_statement(staffing, exact_pair_probabilities(staffing), 0.9)
    assert statement["max"] == {"entity": "E1", "inspector": "B", "p": 1.0}
    assert statement["above"] == [
        {"entity": "E1", "inspector": "B", "p": 1.0},
        {"entity": "E1", "inspector": "C", "p": 1.0},
    ]
    assert statement["method"] == "exact" and statement["spec"] == "SSJ-PAIRS-1"
    assert "检查员" not in repr(statement) and "350102" not in repr(statement)


def test_large_staffings_are_estimated_and_the_estimate_replays() -> None:
    officers = tuple(f"I{i:02d}" for i in range(12))
    case = Small(officers, tuple(f"E{j}" for j in range(4)))  # 66**4 proposals
    staffing = case.staffing()
    probs = pair_probabilities(staffing, DIGEST, replays=200)
    assert EXACT_LIMIT < 66**4 and probs.method == "monte_carlo"
    again = pair_probabilities(staffing, DIGEST, replays=200)
    assert (probs.p == again.p).all()
    assert (probs.p * 200).round().sum(axis=1).tolist() == [400.0] * 4  # two per team


# --------------------------------------------------------------------------- the registry


def _capped(url: str, cap: float, on_cap: str) -> Registry:
    reg = _registry(url, independent=0)
    team = TeamRules(max_pair_probability=cap, on_pair_cap=on_cap)
    policy = attrs.evolve(Policy.default(), draw=DrawRules(independent_parties=0), team=team)
    reg.store.save_policy(policy, actor=ADMIN)
    reg.draw("T1", actor=DRAWER)
    return reg


def test_the_statement_is_frozen_with_the_staffing_published_and_re_computed(db_url: str) -> None:
    # 2 of some 30 eligible officers: every officer is on a team with p near 1/15 > 0.05
    reg = _capped(db_url, 0.05, "state")
    reg.assign_teams("T1", actor=DRAWER)
    bundle, annex = reg.bundle("T1"), reg.staffing_annex("T1")
    stated = bundle["team_seed"]["pairs"]
    assert stated["method"] == "monte_carlo" and stated["replays"] == 2000
    assert stated["above_count"] > 0 and stated["shortfalls"]
    assert all("add" in s["message"] for s in stated["shortfalls"])
    assert stated["max"]["p"] >= stated["above"][0]["p"] > 0.05
    # a function of the frozen staffing and its digest only: the auditor gets the same
    assert verify_draw(bundle, annex=annex).ok
    tampered = dict(stated, max=dict(stated["max"], p=0.01))
    forged = dict(bundle, team_seed=dict(bundle["team_seed"], pairs=tampered))
    assert any(p.startswith("pairs: max") for p in bundle_team_checker(forged, annex=annex))


def test_a_staffing_above_the_cap_is_refused_before_any_team_seed(db_url: str) -> None:
    reg = _capped(db_url, 0.05, "refuse")
    for _ in range(2):  # nothing was frozen: the second attempt is refused the same way
        with pytest.raises(PairCapRefused, match=r"entity \S+: \d+ eligible officers.*add \d"):
            reg.freeze_staffing("T1", actor=DRAWER)
    assert not [e for e in reg.store.audit_events() if e.kind == "teams.freeze"]


def test_a_cap_the_pool_allows_is_stated_without_shortfalls(db_url: str) -> None:
    reg = _capped(db_url, 0.9, "refuse")
    reg.assign_teams("T1", actor=DRAWER)
    stated = reg.bundle("T1")["team_seed"]["pairs"]
    assert stated["above"] == [] and stated["shortfalls"] == [] and stated["max"]["p"] < 0.9


# --------------------------------------------------------------------------- pair concentration


def _period(rigged: bool) -> list[ReplayedTask]:
    """Twelve tasks of the same small staffing; when ``rigged``, officer I0 is put on E0's
    team every time (the other member and the other teams as the lottery drew them)."""
    case = Small(tuple(f"I{i}" for i in range(6)), ("E0", "E1", "E2"))
    staffing = case.staffing()
    out = []
    for t in range(12):
        keys = [hashlib.sha256(f"period/{t}/{r}".encode()).digest() for r in range(801)]
        teams = sample_teams(staffing, keys)
        observed = next(teams).copy()
        if rigged and 0 not in observed[0]:
            observed[0, 0] = 0
        out.append(pair_task(f"T{t}", case.officers, case.entities, observed, teams))
    return out


def test_an_officer_kept_on_one_entity_is_flagged_and_an_honest_period_is_not() -> None:
    rigged = replay_health(_period(True), subject="pairs", alpha=0.01)
    assert rigged.suspicious
    assert [(f.id, f.direction, f.observed) for f in rigged.flagged] == [
        ("I0 × E0", "too often", 12)
    ]
    assert rigged.test("units").p_value <= 0.005
    honest = replay_health(_period(False), subject="pairs", alpha=0.01)
    assert not honest.flagged


def test_pair_health_of_a_registry_period(db_url: str) -> None:
    reg = _capped(db_url, 0.9, "state")
    reg.assign_teams("T1", actor=DRAWER)
    report = reg.pair_health(replays=80, group="township")
    assert report.subject == "pairs (officer × township)" and report.lotteries == 1
    staffing = reg.staffing("T1")
    towns = Counter(r.decode()[:9] for r in staffing.entities.region.tolist())
    teams = reg.teams("T1")
    # units: officer × township, for townships with two or more entities (else it cannot recur)
    shared = sum(len(m) for e, m in teams.items() if towns[_town(staffing, e)] >= 2)
    assert sum(report.units.observed) == shared > 0
    assert all(towns[u.split(" × ")[1]] >= 2 for u in report.units.ids)
    with pytest.raises(DrawRefused, match="choose one of"):
        reg.pair_health(group="street")
    with pytest.raises(DrawRefused, match="no entity is in two or more"):
        reg.pair_health(replays=80, group="entity")  # one task: no entity can recur


def _town(staffing: Staffing, entity: str) -> str:
    row = staffing.entities.id_list().index(entity)
    return str(staffing.entities.region[row].decode()[:9])


def test_the_health_command_reports_pair_concentration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _capped(url, 0.9, "state").assign_teams("T1", actor=DRAWER)
    args = ["health", "--db", url, "--pairs", "county", "--replays", "60", "--alpha", "1e-6"]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    pairs = json.loads(result.stdout)["pairs"]
    assert [t["name"] for t in pairs["tests"]] == ["units", "spread"] and pairs["units"] > 0
    text = CliRunner().invoke(main, args)
    assert "draw health of pairs (officer × county)" in text.stdout
