"""The capped law SSJ-ASSIGN-CAP-1: known answers by full enumeration, the rounding keeps every
edge's expectation exactly, the cap holds, and it is refused only where no law at all could
respect the cap (a linear-programming oracle over every feasible assignment)."""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Iterator
from datetime import date
from fractions import Fraction
from pathlib import Path

import attrs
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from shuangsuiji.assign import (
    Staffing,
    TaskNeeds,
    TeamConfig,
    assign_teams,
    check_teams,
    sample_teams,
)
from shuangsuiji.assign._capflow import Rounding, UnitNetwork, cycles, max_flow, round_flow
from shuangsuiji.assign._instance import Instance, build_instance
from shuangsuiji.assign._stream import AssignStream
from shuangsuiji.assign.capped import (
    CAP_ALGORITHM,
    CAP_DOMAIN,
    GRID,
    CappedLaw,
    CapShortfall,
    PairCapRefused,
    cap_units,
    capped_flow,
    capped_law,
    law_for,
    numbering,
    officer_columns,
)
from shuangsuiji.assign.record import bundle_team_checker, verify_draw
from shuangsuiji.cli import main
from shuangsuiji.commitments import announcement_problems, pairs_digest
from shuangsuiji.policy import TeamRules
from shuangsuiji.pools import InspectorPool
from test_pairs import ON, Small, _capped
from test_threats import DRAWER

CAP = CAP_ALGORITHM


def _instance(staffing: Staffing) -> tuple[Instance, Staffing]:
    canon = staffing.canonical()
    return build_instance(canon.eligibility()), canon


def _law(case: Small, cap: float) -> tuple[Instance, Staffing, CappedLaw]:
    inst, canon = _instance(case.staffing())
    law = capped_law(inst, canon, cap_units(cap))
    assert isinstance(law, CappedLaw), law
    return inst, canon, law


def exact_law(case: Small, cap: float) -> dict[tuple[str, str], Fraction]:
    """P(officer on entity) of the capped law, exactly: the flow's share averaged over every
    numbering (the rounding keeps each edge's expectation: tested below on its own)."""
    inst, canon, law = _law(case, cap)
    ents, offs = list(range(inst.n_e)), officer_columns(inst)
    names = canon.inspectors.id_list()
    total: dict[tuple[str, str], Fraction] = {}
    orders = list(itertools.product(itertools.permutations(ents), itertools.permutations(offs)))
    for e_order, o_order in orders:
        net, pairs = capped_flow(inst, law, e_order, o_order)
        for (e, c), i in pairs.items():
            pair = (canon.entities.id_list()[e], names[int(inst.col_row[c])])
            total[pair] = total.get(pair, Fraction(0)) + Fraction(net.flow[i], GRID)
    return {p: v / len(orders) for p, v in total.items() if v}


def test_a_narrow_qualification_is_capped_at_one_half_with_known_answers() -> None:
    # One entity, six officers, two of them (A, B) hold the qualification a member must bring.
    # The uniform law puts A on the team with p = 5/9 (5 of the 9 covering teams hold A);
    # the capped law gives A and B 1/2 each (one of them is the qualified member) and the
    # other place to C..F with 1/4 each.
    case = Small(tuple("ABCDEF"), ("E1",), holders=frozenset("AB"))
    law = exact_law(case, 0.5)
    assert law == {("E1", o): Fraction(1, 2) for o in "AB"} | {
        ("E1", o): Fraction(1, 4) for o in "CDEF"
    }
    _, _, capped = _law(case, 0.5)
    assert capped.level == 0 and capped.bounds == (5000,)


def test_workload_caps_raise_the_level_only_as_far_as_they_must() -> None:
    # Four entities, eight officers with one team each: every officer is used once. E1 may not
    # have A or B, so its six officers share two places (own bound 1/3); the others 1/4 —
    # but A and B must then go to E2..E4, and the level rises to what that needs.
    case = Small(
        tuple("ABCDEFGH"),
        ("E1", "E2", "E3", "E4"),
        conflicts=frozenset({("A", "E1"), ("B", "E1")}),
        max_per_task=1,
    )
    inst, _, law = _law(case, 0.5)
    assert law.bounds[0] == max(3334, law.level) and law.level > 0
    assert all(b == max(2500, law.level) for b in law.bounds[1:])
    # one unit below the level is infeasible: the level is the smallest that works
    below = capped_law(inst, _instance(case.staffing())[1], law.level - 1)
    assert not isinstance(below, CappedLaw)
    exact = exact_law(Small(tuple("ABCDEF"), ("E1", "E2"), max_per_task=1), 0.5)
    assert max(exact.values()) <= Fraction(1, 2)
    assert sum(exact.values()) == 4  # two teams of two


def _outcomes(state: Rounding, p: Fraction) -> Iterator[tuple[tuple[int, ...], Fraction]]:
    """Every outcome of the rounding from ``state``, with its exact probability."""
    found = state.cycle()
    if found is None:
        yield tuple(state.net.flow), p
        return
    origin, cycle = found
    signs, alpha, beta = state.amounts(origin, cycle)
    for amount, q in (
        (alpha, Fraction(beta, alpha + beta)),
        (-beta, Fraction(alpha, alpha + beta)),
    ):
        branch = copy.deepcopy(state)
        branch.shift(origin, cycle, signs, amount)
        yield from _outcomes(branch, p * q)


def _rounding_law(net: UnitNetwork, unit: int = GRID) -> list[tuple[tuple[int, ...], Fraction]]:
    return list(_outcomes(Rounding(copy.deepcopy(net), unit), Fraction(1)))


small_cases = st.builds(
    Small,
    officers=st.just(tuple("ABCDE")),
    entities=st.sampled_from([("E1",), ("E1", "E2")]),
    conflicts=st.frozensets(
        st.tuples(st.sampled_from("ABCDE"), st.sampled_from(["E1", "E2"])), max_size=3
    ),
    holders=st.sampled_from([None, frozenset("A"), frozenset("AB"), frozenset("BCD")]),
    k=st.sampled_from([2, 3]),
    max_per_task=st.sampled_from([0, 1, 2]),
)


@settings(max_examples=40, deadline=None)
@given(case=small_cases, cap=st.sampled_from([0.5, 0.6, 0.75, 0.9, 1.0]), seed=st.integers(0, 99))
def test_the_rounding_keeps_every_edge_expectation_and_every_outcome_is_a_valid_assignment(
    case: Small, cap: float, seed: int
) -> None:
    inst, canon = _instance(case.staffing())
    law = capped_law(inst, canon, cap_units(cap)) if inst.E.any(axis=1).all() else None
    if not isinstance(law, CappedLaw):
        return
    rng = np.random.default_rng(seed)  # test-side choice of a numbering only
    ents = rng.permutation(inst.n_e).tolist()
    offs = [officer_columns(inst)[i] for i in rng.permutation(len(officer_columns(inst)))]
    net, pairs = capped_flow(inst, law, ents, offs)
    assert all(net.flow[i] <= law.bounds[e] for (e, _), i in pairs.items())  # the cap
    outcomes = _rounding_law(net)
    assert sum(p for _, p in outcomes) == 1
    for i in range(len(net.flow)):
        mean = sum(p * flow[i] for flow, p in outcomes)
        assert mean == net.flow[i]  # exact: the rounding is unbiased on every edge
    for flow, _ in outcomes:
        assert all(f % GRID == 0 for f in flow)
        teams = [[c for (e2, c), i in pairs.items() if e2 == e and flow[i] == GRID] for e in ents]
        assert all(len(t) == inst.k for t in teams)
        assert inst.cover(teams[0]) == inst.full or not inst.requirements


def _lp_feasible(case: Small, cap: Fraction) -> bool:
    """Is there any law over feasible assignments with every pair at most ``cap``?"""
    assignments = case.oracle_counts()
    if not assignments:
        return False
    pairs = [(e, o) for e in case.entities for o in case.officers]
    a_ub = [[float(o in a[case.entities.index(e)]) for a in assignments] for e, o in pairs]
    res = linprog(
        np.zeros(len(assignments)),
        A_ub=np.asarray(a_ub),
        b_ub=np.full(len(pairs), float(cap)),
        A_eq=np.ones((1, len(assignments))),
        b_eq=[1.0],
        bounds=(0, None),
        method="highs",
    )
    return bool(res.status == 0)


@settings(max_examples=60, deadline=None)
@given(case=small_cases, cap=st.sampled_from([0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 1.0]))
def test_the_law_is_refused_only_where_no_law_can_respect_the_cap(case: Small, cap: float) -> None:
    law = law_for(case.staffing(), cap) if _staffable(case) else None
    if law is None:
        return
    if _lp_feasible(case, Fraction(str(cap)) - Fraction(1, GRID)):
        assert isinstance(law, CappedLaw), law
    if not _lp_feasible(case, Fraction(str(cap))):
        assert isinstance(law, list) and all(isinstance(s, CapShortfall) for s in law)
        assert all("add" in s.message for s in law)


def _staffable(case: Small) -> bool:
    inst, _ = _instance(case.staffing())
    return bool(inst.n_e) and bool(case.oracle_counts())


@settings(max_examples=25, deadline=None)
@given(
    case=small_cases, cap=st.sampled_from([0.5, 0.75, 1.0]), key=st.binary(min_size=32, max_size=32)
)
def test_every_capped_draw_is_valid_and_replays(case: Small, cap: float, key: bytes) -> None:
    if not _staffable(case) or not isinstance(law_for(case.staffing(), cap), CappedLaw):
        return
    staffing = case.staffing()
    a = assign_teams(staffing, key, spec=CAP, pair_cap=cap)
    assert check_teams(staffing, a) == []
    assert a.stream.spec == CAP and a.stream.pair_cap == cap_units(cap)
    assert assign_teams(staffing, key, spec=CAP, pair_cap=cap).teams == a.teams


def test_the_sampled_frequencies_match_the_exact_law() -> None:
    case = Small(tuple("ABCDEF"), ("E1", "E2"), holders=frozenset("AB"), max_per_task=1)
    exact = exact_law(case, 0.5)
    n = 1500
    counts: dict[tuple[str, str], int] = {}
    for i in range(n):
        key = hashlib.sha256(f"freq/{i}".encode()).digest()
        for t in assign_teams(case.staffing(), key, spec=CAP, pair_cap=0.5).teams:
            for o in t.inspector_ids:
                counts[(t.entity_id, o)] = counts.get((t.entity_id, o), 0) + 1
    assert set(counts) <= set(exact)
    # 5 standard errors of a frequency with p <= 1/2 over n draws: about 0.065
    assert all(
        abs(counts.get(p, 0) / n - float(v)) < 5 * (0.25 / n) ** 0.5 for p, v in exact.items()
    )


def test_refusals_name_the_entity_and_what_to_add() -> None:
    case = Small(tuple("ABC"), ("E1", "E2"), conflicts=frozenset({("A", "E1")}))
    with pytest.raises(
        PairCapRefused, match=r"entity E1: 2 eligible officers.*add 2 qualified officers"
    ):
        assign_teams(case.staffing(), bytes(32), spec=CAP, pair_cap=0.5)
    narrow = law_for(Small(tuple("ABCDEF"), ("E1",), holders=frozenset("A")).staffing(), 0.5)
    assert isinstance(narrow, list)
    assert "add 1 officer meeting qualification 食品安全" in narrow[0].message
    # enough officers for every entity alone, but shared under workload caps
    shared = Small(tuple("ABCD"), ("E1", "E2"), max_per_task=1)
    found = law_for(shared.staffing(), 0.5)
    assert isinstance(found, CappedLaw)  # each officer on one team: p = 1/2 each works
    # E and F may inspect only E3 and every officer joins one team: E3 must take both of them
    # (p = 1), though each entity alone has officers enough for p <= 1/2
    out = {(o, e) for o in "EF" for e in ("E1", "E2")}
    tight = Small(tuple("ABCDEF"), ("E1", "E2", "E3"), conflicts=frozenset(out), max_per_task=1)
    tight_law = law_for(tight.staffing(), 0.5)
    assert isinstance(tight_law, list) and len(tight_law) == 1
    # the cut: E3 gets half a place from each of E and F, the rest must come from A..D,
    # whom E1 and E2 already fill
    assert tight_law[0].entity_ids == ("E1", "E2", "E3")
    assert "(A, B, C, D) would exceed their workload caps" in tight_law[0].message


def test_cap_units_floor_the_decimal_cap() -> None:
    assert [cap_units(c) for c in (0.5, "0.3333", 1, 0.00015)] == [5000, 3333, 10000, 1]
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        cap_units(0)


def test_round_flow_on_a_hand_made_network() -> None:
    # S -> a, b (one unit each); a, b -> x, y (half a unit each); x, y -> T (one unit each)
    unit = 10
    edges = [(0, 1, 10), (0, 2, 10), (1, 3, 5), (1, 4, 5), (2, 3, 5), (2, 4, 5), (3, 5, 10)]
    net = UnitNetwork.build(6, [*edges, (4, 5, 10)])
    assert max_flow(net) == 20
    law = _rounding_law(net, unit)
    assert sorted(p for _, p in law) == [Fraction(1, 2)] * 2  # a perfect matching, either one
    draws = iter([0])
    assert round_flow(net, unit, lambda n: next(draws)) == 1
    assert all(f % unit == 0 for f in net.flow)
    assert list(cycles(UnitNetwork.build(2, [(0, 1, 3)]), unit)) == []  # zero flow: whole


# --------------------------------------------------------------------------- the registry


def test_an_enforced_cap_is_frozen_drawn_published_and_replayed(db_url: str) -> None:
    reg = _capped(db_url, 0.15, "enforce")
    reg.assign_teams("T1", actor=DRAWER)
    bundle, annex = reg.bundle("T1"), reg.staffing_annex("T1")
    stated = bundle["team_seed"]["pairs"]
    assert (stated["law"], stated["method"], stated["error"]) == (CAP, "bound", 0.0)
    assert (
        0.1 < stated["max"]["p"] <= 0.15 and stated["above"] == [] and stated["on_cap"] == "enforce"
    )
    stream = bundle["assignment"]["stream"]
    assert (stream["spec"], stream["pair_cap"]) == (CAP, 1500)
    assert verify_draw(bundle, annex=annex).ok
    # the statement is a function of the frozen staffing: a lower bound is named
    lowered = dict(stated, max=dict(stated["max"], p=0.01))
    forged = dict(bundle, team_seed=dict(bundle["team_seed"], pairs=lowered))
    assert any(p.startswith("pairs: max") for p in bundle_team_checker(forged, annex=annex))
    # ... and, without the annex, by the team announcement, which carries its digest
    announced = bundle["team_seed"]["announcement"]
    assert announced["pairs_digest"] == pairs_digest(stated)
    assert announcement_problems(bundle, []) == []
    assert any("pair-statement digest" in p for p in announcement_problems(forged, []))
    # teams drawn by another law than the one frozen before the seed: named without the annex
    uniform = dict(bundle["assignment"], stream={**stream, "spec": "SSJ-ASSIGN-2", "pair_cap": 0})
    swapped = dict(bundle, assignment=uniform)
    assert any("the law was changed after the freeze" in p for p in bundle_team_checker(swapped))


def test_an_enforced_cap_the_pool_cannot_meet_is_refused_and_nothing_is_frozen(
    db_url: str,
) -> None:
    reg = _capped(db_url, 0.05, "enforce")
    before = len(reg.store.audit_events())
    for _ in range(2):
        with pytest.raises(PairCapRefused, match=r"no team law can keep.*eligible officers.*add"):
            reg.freeze_staffing("T1", actor=DRAWER)
    assert len(reg.store.audit_events()) == before
    with pytest.raises(Exception, match="needs a cap"):
        TeamRules(on_pair_cap="enforce")


# --------------------------------------------------------------------------- joint tasks


@attrs.frozen
class Joint:
    """A joint task (联合抽查) of departments SCJG and WJW: officers with their department and
    whether they hold 药品, which the task may also require of one member."""

    officers: tuple[tuple[str, str, bool], ...]  # (id, department, holds 药品)
    entities: tuple[str, ...]
    conflicts: frozenset[tuple[str, str]] = frozenset()
    qualification: bool = False
    k: int = 2
    max_per_task: int = 0

    def staffing(self) -> Staffing:
        base = Small(tuple(o for o, _, _ in self.officers), self.entities, self.conflicts)
        s = base.staffing()
        held = [frozenset({"药品"}) if q else frozenset() for _, _, q in self.officers]
        ins = InspectorPool.from_columns(
            ids=[o for o, _, _ in self.officers],
            names=["检查员"] * len(held),
            department=[d for _, d, _ in self.officers],
            region=["350102"] * len(held),
            home_region=[""] * len(held),
            certificate_no=["闽执0001"] * len(held),
            certificate_expiry=[date(2030, 1, 1)] * len(held),
            qualifications=held,
            active=[True] * len(held),
        )
        quals = ("药品",) if self.qualification else ()
        return attrs.evolve(
            s,
            inspectors=ins,
            needs=TaskNeeds("T-JOINT", ("SCJG", "WJW"), ON, quals),
            config=TeamConfig(size=self.k, max_per_task=self.max_per_task, rotation_days=0),
        )

    def assignments(self) -> list[tuple[tuple[str, ...], ...]]:
        dept = {o: d for o, d, _ in self.officers}
        holds = {o for o, _, q in self.officers if q}
        cap = self.max_per_task or len(self.entities)

        def covers(team: tuple[str, ...]) -> bool:
            ok = {dept[o] for o in team} == {"SCJG", "WJW"}
            return ok and (not self.qualification or bool(set(team) & holds))

        def options(e: str) -> list[tuple[str, ...]]:
            ok = [o for o, _, _ in self.officers if (o, e) not in self.conflicts]
            return [t for t in itertools.combinations(ok, self.k) if covers(t)]

        return [
            a
            for a in itertools.product(*(options(e) for e in self.entities))
            if all(sum(o in t for t in a) <= cap for o, _, _ in self.officers)
        ]


joint_cases = st.builds(
    Joint,
    officers=st.lists(
        st.tuples(st.sampled_from(["SCJG", "WJW"]), st.booleans()), min_size=4, max_size=6
    ).map(lambda rows: tuple((f"O{i}", d, q) for i, (d, q) in enumerate(rows))),
    entities=st.sampled_from([("E1",), ("E1", "E2")]),
    conflicts=st.frozensets(
        st.tuples(st.sampled_from([f"O{i}" for i in range(6)]), st.sampled_from(["E1", "E2"])),
        max_size=2,
    ),
    qualification=st.booleans(),
    k=st.sampled_from([2, 3]),
    max_per_task=st.sampled_from([0, 1]),
)


@settings(max_examples=60, deadline=None)
@given(case=joint_cases, cap=st.sampled_from([0.5, 0.6, 0.75, 1.0]))
def test_joint_tasks_get_the_capped_law_unless_requirements_cross(case: Joint, cap: float) -> None:
    feasible = case.assignments()
    if not feasible:
        return
    law = law_for(case.staffing(), cap)
    holders = {d for _, d, q in case.officers if q}
    crossing = case.qualification and holders and any(not q for _, _, q in case.officers)
    if isinstance(law, list) and "cross" in law[0].message:
        assert crossing
        return
    pairs = [(e, o) for e in case.entities for o, _, _ in case.officers]

    def lp(bound: Fraction) -> bool:
        a_ub = [[float(o in a[case.entities.index(e)]) for a in feasible] for e, o in pairs]
        res = linprog(
            np.zeros(len(feasible)),
            A_ub=np.asarray(a_ub),
            b_ub=np.full(len(pairs), float(bound)),
            A_eq=np.ones((1, len(feasible))),
            b_eq=[1.0],
            bounds=(0, None),
            method="highs",
        )
        return bool(res.status == 0)

    if lp(Fraction(str(cap)) - Fraction(1, GRID)):
        assert isinstance(law, CappedLaw), law
    if isinstance(law, CappedLaw):
        assert lp(Fraction(str(cap)))
        staffing = case.staffing()
        for i in range(3):
            a = assign_teams(staffing, bytes([i]) * 32, spec=CAP, pair_cap=cap)
            assert check_teams(staffing, a) == []


VECTOR = Small(
    tuple("ABCDEFG"),
    ("E1", "E2", "E3"),
    conflicts=frozenset({("B", "E1"), ("C", "E2"), ("D", "E3")}),
    holders=frozenset("ABC"),
    max_per_task=1,
)
VECTOR_KEY = hashlib.sha256(b"SSJ-ASSIGN-CAP-1 vector").digest()


def test_the_vector_of_docs_capped_md() -> None:
    inst, canon = _instance(VECTOR.staffing())
    law = capped_law(inst, canon, 5000)
    assert isinstance(law, CappedLaw) and (law.level, law.bounds) == (5000, (5000,) * 3)
    assert VECTOR_KEY.hex().startswith("2dbda0902fa56998")
    stream = AssignStream(VECTOR_KEY, domain=CAP_DOMAIN)
    ents, offs = numbering(inst, stream)
    names = canon.inspectors.id_list()
    assert [canon.entities.id_list()[e] for e in ents] == ["E2", "E3", "E1"]
    assert [names[int(inst.col_row[c])] for c in offs] == list("GFECDBA")
    net, pairs = capped_flow(inst, law, ents, offs)
    flows = {
        (canon.entities.id_list()[e], names[int(inst.col_row[c])]): net.flow[i]
        for (e, c), i in pairs.items()
    }
    table = {"E1": "A C D E", "E2": "A B F G", "E3": "B C F G"}  # 5000 each, the rest 0
    assert flows == {(e, o): 5000 if o in table[e].split() else 0 for e, o in flows}
    stream.start_phase()
    assert round_flow(net, GRID, stream.uniform) == 3 and stream.next_block == 4
    drawn = assign_teams(VECTOR.staffing(), VECTOR_KEY, spec=CAP, pair_cap=0.5)
    assert [(t.entity_id, t.inspector_ids) for t in drawn.teams] == [
        ("E1", ("A", "E")),
        ("E2", ("B", "G")),
        ("E3", ("C", "F")),
    ]
    assert drawn.stream.next_block == 4


def test_health_replays_a_capped_task_by_its_own_law_and_the_record_names_it(
    db_url: str,
) -> None:
    reg = _capped(db_url, 0.15, "enforce")
    drawn = reg.assign_teams("T1", actor=DRAWER)
    report = reg.inspector_health(replays=40, alpha=0.05)
    loads = drawn.load()
    observed = dict(zip(report.units.ids, report.units.observed.tolist(), strict=True))
    assert {i: n for i, n in observed.items() if n} == loads  # the draw as made, not SSJ-ASSIGN-2
    record = reg.draw_record("T1")
    assert "检查组抽取规则与配对概率" in record and CAP in record and "上限 bound" in record


def test_sample_teams_under_the_capped_law_are_the_capped_draws() -> None:
    staffing = VECTOR.staffing()
    keys = [hashlib.sha256(f"sample/{i}".encode()).digest() for i in range(4)]
    sampled = list(sample_teams(staffing, keys, spec=CAP, pair_cap=0.5))
    ids = staffing.inspectors.id_list()
    for key, rows in zip(keys, sampled, strict=True):
        drawn = assign_teams(staffing, key, spec=CAP, pair_cap=0.5)
        assert [sorted(ids[i] for i in row) for row in rows.tolist()] == [
            list(t.inspector_ids) for t in drawn.teams
        ]


def test_the_freeze_command_states_the_bound(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _capped(url, 0.15, "enforce")
    done = CliRunner().invoke(main, ["teams", "freeze", "T1", "--db", url, "--actor", DRAWER])
    assert done.exit_code == 0, done.output
    assert "封顶抽取 SSJ-ASSIGN-CAP-1，每对不超过 0.1" in done.stdout
    assert "上限 cap 0.15" in done.stdout
