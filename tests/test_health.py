"""Tests for draw-health statistics.

Honest draws are simulated with SHA-256 tickets straight from :mod:`hashlib` (the SSJ-DRAW-1
rule: the smallest tickets of each stratum win), independent of the draw module. The
false-alarm rate of a report is at most its ``alpha``, split between the tests; the test
below runs honest periods at ``alpha = 0.05`` and bounds the number of alarms, and the
manipulation tests show what the statistics catch.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import shuangsuiji.health as H
from shuangsuiji import conduct
from shuangsuiji.health import (
    HealthInputError,
    Lottery,
    StratumTickets,
    draw_health,
    ticket_uniformity,
)
from shuangsuiji.health_replays import ReplayedTask, replay_health
from shuangsuiji.labels import (
    CONDUCT_DETAIL_LABELS,
    HEALTH_DETAIL_LABELS,
    conduct_detail_label,
)

RATIOS = {"A": 0.03, "B": 0.05, "C": 0.2, "D": 0.6}
POOL = [f"E{j:05d}" for j in range(1000)]
TIERS = [("A" * 50 + "B" * 30 + "C" * 15 + "D" * 5)[j % 100] for j in range(len(POOL))]
INSPECTORS = [f"I{j:03d}" for j in range(60)]


def ticket_map(label: str, ids: Sequence[str]) -> dict[str, str]:
    key = hashlib.sha256(b"SSJ-DRAW-1\x00" + label.encode() + b"\x00" + bytes(32)).digest()
    return {i: hashlib.sha256(key + i.encode()).hexdigest() for i in ids}


def entity_draw(
    label: str, skip: frozenset[str] = frozenset(), extra: int = 5
) -> tuple[Lottery, list[StratumTickets], dict[str, Any]]:
    """One stratified draw; entities in ``skip`` are passed over (the manipulation)."""
    t = ticket_map(label, POOL)
    selected: list[str] = []
    strata: list[StratumTickets] = []
    bundle: dict[str, Any] = {
        "spec": "SSJ-DRAW-1",
        "task_label": label,
        "candidates": [{"id": i, "stratum": s} for i, s in zip(POOL, TIERS, strict=True)],
        "selected": [],
        "alternates": [],
    }
    for tier, ratio in RATIOS.items():
        members = [i for i, s in zip(POOL, TIERS, strict=True) if s == tier]
        n = math.ceil(ratio * len(members))
        ranked = sorted((i for i in members if i not in skip), key=t.__getitem__)
        selected += ranked[:n]
        recorded = sorted(ranked[: n + extra], key=lambda i: int(t[i], 16))
        strata.append(StratumTickets(f"{label}/{tier}", len(members), [t[i] for i in recorded]))
        bundle["selected"] += [{"id": i, "stratum": tier, "ticket": t[i]} for i in ranked[:n]]
        bundle["alternates"] += [
            {"id": i, "stratum": tier, "ticket": t[i]} for i in ranked[n : n + extra]
        ]
    return Lottery.stratified(label, POOL, TIERS, selected), strata, bundle


def entity_period(name: str, draws: int = 12, skip: frozenset[str] = frozenset()) -> Any:
    made = [entity_draw(f"{name}-T{d}", skip) for d in range(draws)]
    return [m[0] for m in made], [s for m in made for s in m[1]]


def team_period(
    name: str, entities: int = 300, favoured: str | None = None, boost: float = 1.0
) -> list[Lottery]:
    """Teams of 2 from 15..30 eligible inspectors; ``favoured`` gets ``boost``-fold chances."""
    lotteries = []
    for e in range(entities):
        h = hashlib.sha256(f"{name}|eligible|{e}".encode()).digest()
        eligible = sorted(INSPECTORS, key=lambda i: hashlib.sha256(h + i.encode()).digest())
        eligible = eligible[: 15 + h[0] % 16]
        t = ticket_map(f"{name}|team|{e}", eligible)
        chosen = sorted(eligible, key=t.__getitem__)[:2]
        lucky = favoured in t and int(t[favoured], 16) / 2**256 < boost * 2 / len(eligible)
        if lucky and favoured not in chosen:
            chosen = [str(favoured), chosen[0]]
        lotteries.append(Lottery.team(f"{name}|E{e}", eligible, chosen))
    return lotteries


# -- the distributions are exact ----------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.integers(0, 6), st.booleans()), min_size=1, max_size=15
    )
)
def test_tails_match_brute_force_convolution(spec: list[tuple[int, int, bool]]) -> None:
    lotteries = []
    probabilities = []
    observed = 0
    for d, (size, take, hit) in enumerate(spec):
        take = min(take, size)
        hit = (hit and take > 0) or take == size
        others = [f"o{d}-{i}" for i in range(size - 1)]
        chosen = (["U"] if hit else []) + others[: take - hit]
        lotteries.append(Lottery.stratified(f"T{d}", ["U", *others], ["s"] * size, chosen))
        probabilities.append(take / size)
        observed += hit
    pmf = np.array([1.0])
    for p in probabilities:
        pmf = np.convolve(pmf, [1 - p, p])
    report = draw_health(lotteries)
    j = report.units.ids.index("U")
    assert report.units.observed[j] == observed
    assert report.units.p_low[j] == pytest.approx(pmf[: observed + 1].sum(), rel=1e-9, abs=1e-15)
    assert report.units.p_high[j] == pytest.approx(pmf[observed:].sum(), rel=1e-9, abs=1e-15)
    assert report.units.expected[j] == pytest.approx(sum(probabilities))


def test_long_series_are_exact_binomial_tails() -> None:
    """3,000 trials at π = 1/4 with the upper counts lumped: tails equal scipy's binomial."""
    lotteries = []
    for d in range(3000):
        chosen = ["U"] if d % 5 == 0 else ["x"]  # 600 hits, expected 750
        lotteries.append(Lottery.team(f"E{d}", ["U", "x", "y", "z"], chosen))
    report = draw_health(lotteries, subject="inspectors")
    j = report.units.ids.index("U")
    assert report.units.p_low[j] == pytest.approx(stats.binom.cdf(600, 3000, 0.25), rel=1e-7)
    assert report.units.p_high[j] == pytest.approx(stats.binom.sf(599, 3000, 0.25), rel=1e-9)
    assert report.units.z[j] == pytest.approx((600 - 750) / math.sqrt(3000 * 0.25 * 0.75))
    assert ("U", "too rarely") in [(f.id, f.direction) for f in report.flagged]


# -- honest draws ---------------------------------------------------------------------------


def test_honest_periods_rarely_raise_an_alarm() -> None:
    """40 honest entity periods and 40 honest team periods at alpha = 0.05.

    The bound on alarms is ≤ 7 of 40 each (P < 0.01 for a fair 5% coin); with these fixed
    seeds the count is deterministic. A longer run (see the module report) measured 0.3% on
    the entity side and 1.3% on the team side at alpha = 0.01.
    """
    entity_alarms = 0
    for r in range(40):
        lotteries, strata = entity_period(f"honest{r}")
        report = draw_health(lotteries, alpha=0.05, tickets=strata)
        entity_alarms += report.suspicious
    team_alarms = sum(
        draw_health(team_period(f"honest{r}"), subject="inspectors", alpha=0.05).suspicious
        for r in range(40)
    )
    assert entity_alarms <= 7 and team_alarms <= 7


def test_honest_tickets_give_uniform_transformed_values() -> None:
    _, strata = entity_period("uniform", draws=24)
    values = np.concatenate([s.uniforms() for s in strata])
    assert values.size == 24 * (15 + 15 + 30 + 30 + 4 * 5)  # selected + 5 alternates
    assert stats.kstest(values, "uniform").pvalue > 0.01
    assert not ticket_uniformity(strata).rejected


# -- manipulations are caught -------------------------------------------------------------


def test_a_high_risk_entity_never_drawn_is_flagged() -> None:
    """A D-tier entity (π = 0.6) passed over in all 12 draws: P(never) = 0.4**12 = 1.7e-5."""
    favoured = next(i for i, t in zip(POOL, TIERS, strict=True) if t == "D")
    lotteries, _ = entity_period("favour", skip=frozenset({favoured}))
    report = draw_health(lotteries, alpha=0.05)
    assert report.suspicious
    assert [(f.id, f.observed, f.direction) for f in report.flagged] == [
        (favoured, 0, "too rarely")
    ]
    assert report.flagged[0].p_value == pytest.approx(0.4**12)
    honest, _ = entity_period("favour")
    assert not draw_health(honest, alpha=0.05).flagged


def test_a_favoured_group_never_drawn_is_caught_by_the_spread_test() -> None:
    """40 C-tier entities (4% of the pool, π = 0.2 each) are never drawn in 12 draws."""
    group = frozenset([i for i, t in zip(POOL, TIERS, strict=True) if t == "C"][:40])
    lotteries, strata = entity_period("group", skip=group)
    report = draw_health(lotteries, alpha=0.01, tickets=strata)
    assert report.test("spread").rejected
    assert report.test("tickets").rejected  # passed-over tickets leave holes in the record
    assert not report.flagged  # no single one of them is implausible on its own
    assert "spread" in report.summary() and "REJECT" in report.summary()


def test_a_harassed_entity_is_flagged() -> None:
    """A low-risk entity (π = 0.03) drawn in 6 of 12 draws: P(X >= 6) = 5.8e-7."""
    lotteries, _ = entity_period("harass")
    target = next(i for i, t in zip(POOL, TIERS, strict=True) if t == "A")
    rigged = []
    for d, lot in enumerate(lotteries):
        chosen = set(lot.selected)
        if d < 6 and target not in chosen:
            victim = sorted(c for c in chosen if c.startswith("E") and TIERS[int(c[1:])] == "A")
            chosen = (chosen - {victim[0]}) | {target}
        rigged.append(Lottery(lot.label, lot.candidates, lot.probabilities, chosen))
    flags = draw_health(rigged).flagged
    assert [(f.id, f.direction) for f in flags] == [(target, "too often")]


@pytest.mark.parametrize(("boost", "flagged"), [(1.0, False), (3.0, True)])
def test_an_inspector_chosen_far_too_often_is_flagged(boost: float, flagged: bool) -> None:
    report = draw_health(
        team_period("insp", favoured="I007", boost=boost), subject="inspectors", alpha=0.01
    )
    assert report.suspicious is flagged
    assert [f.id for f in report.flagged] == (["I007"] if flagged else [])
    if flagged:
        assert report.flagged[0].direction == "too often"
        assert report.flagged[0].observed > 2 * report.flagged[0].expected


def test_a_rotation_passed_off_as_a_lottery_is_too_even() -> None:
    """Teams formed by strict rotation over the eligible list: counts far too even."""
    lotteries = []
    turn = 0
    for e in range(600):
        eligible = INSPECTORS[e % 7 : e % 7 + 20]
        chosen = [eligible[turn % 20], eligible[(turn + 1) % 20]]
        turn += 2
        lotteries.append(Lottery.team(f"E{e}", eligible, chosen))
    report = draw_health(lotteries, subject="inspectors")
    spread = report.test("spread")
    assert spread.rejected and not report.flagged


def test_recorded_tickets_that_are_not_the_smallest_of_the_pool_are_caught() -> None:
    _, strata = entity_period("tickets", draws=6)
    inflated = [StratumTickets(s.label, s.size * 3, s.tickets) for s in strata]
    assert ticket_uniformity(inflated).rejected
    t = ticket_map("hand-picked", POOL)
    picked = sorted(t.values(), key=lambda h: int(h, 16))[::10][:60]  # every 10th ticket
    assert ticket_uniformity([StratumTickets("hand", len(POOL), picked)]).rejected


# -- bundles, tables, errors ----------------------------------------------------------------


def test_lottery_and_tickets_from_a_bundle() -> None:
    lottery, strata, bundle = entity_draw("bundle")
    from_bundle = Lottery.from_bundle(bundle)
    assert from_bundle.candidates == lottery.candidates
    assert from_bundle.selected == lottery.selected
    np.testing.assert_allclose(from_bundle.probabilities, lottery.probabilities)
    tickets = StratumTickets.from_bundle(bundle)
    assert [(s.size, s.tickets) for s in tickets] == [(s.size, s.tickets) for s in strata]
    with pytest.raises(HealthInputError, match="ticket_scheme"):
        StratumTickets.from_bundle({**bundle, "ticket_scheme": "consistent_sampler"})
    with pytest.raises(HealthInputError, match="needs candidates"):
        Lottery.from_bundle({"task_label": "x", "selected": []})


def test_joint_teams_are_drawn_per_department() -> None:
    departments = {"I1": "市场监管", "I2": "市场监管", "I3": "税务", "I4": "税务", "I5": "税务"}
    lot = Lottery.team("E1", list(departments), ["I1", "I4"], departments)
    assert lot.probabilities.tolist() == pytest.approx([0.5, 0.5, 1 / 3, 1 / 3, 1 / 3])


def test_to_frame_and_summary() -> None:
    pd = pytest.importorskip("pandas")
    lotteries, _ = entity_period("frame", draws=3)
    report = draw_health(lotteries)
    frame = report.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "id",
        "trials",
        "expected",
        "observed",
        "z",
        "p_low",
        "p_high",
        "p_value",
        "flagged",
    ]
    assert len(frame) == len(POOL) and frame["observed"].sum() == sum(
        len(lot.selected) for lot in lotteries
    )
    assert "no alarm" in report.summary()
    with pytest.raises(KeyError, match="tickets"):
        report.test("tickets")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"probabilities": [0.5, 0.5]}, "3 candidates but 2 probabilities"),
        ({"candidates": ["a", "a", "b"]}, "appears twice"),
        ({"probabilities": [1.5, 0.0, -0.5]}, "must lie in [0, 1]"),
        ({"selected": ["z"]}, "not among the candidates"),
        ({"probabilities": [0.05, 0.05, 0.05]}, "sum to 0.15 but 1 were selected"),
    ],
)
def test_lottery_validation(kwargs: dict[str, Any], fragment: str) -> None:
    base: dict[str, Any] = {
        "label": "T1",
        "candidates": ["a", "b", "c"],
        "probabilities": [1 / 3] * 3,
        "selected": ["a"],
    }
    with pytest.raises(HealthInputError) as info:
        Lottery(**{**base, **kwargs})
    assert fragment in str(info.value) and "'T1'" in str(info.value)


def test_other_input_errors() -> None:
    with pytest.raises(HealthInputError, match="no draws"):
        draw_health([])
    lot = Lottery.team("E1", ["a", "b"], ["a"])
    with pytest.raises(HealthInputError, match="alpha"):
        draw_health([lot], alpha=1.5)
    with pytest.raises(HealthInputError, match="ascending"):
        StratumTickets("s", 10, ["f" * 64, "0" * 64])
    with pytest.raises(HealthInputError, match="3 tickets for 2"):
        StratumTickets("s", 2, ["0" * 64] * 3)
    with pytest.raises(HealthInputError, match="stratum labels"):
        Lottery.stratified("T", ["a", "b"], ["s"], ["a"])


# -- exclusion windows: draws that leave out earlier draws' selections -----------------------


def windowed_period(
    name: str, draws: int = 8, window: int = 2, skip: frozenset[str] = frozenset()
) -> tuple[list[Lottery], list[Lottery]]:
    """Each draw leaves out the entities selected by the ``window`` draws before it.

    Returns the period described with its links (blocked units and their counterfactual
    π = ceil(r (N + 1)) / (N + 1)) and the same draws without them (the naive model).
    """
    tier_of = dict(zip(POOL, TIERS, strict=True))
    hits: list[set[str]] = []
    linked, naive = [], []
    for d in range(draws):
        label = f"{name}-T{d}"
        recent = set().union(*hits[max(0, d - window) : d])
        candidates = [i for i in POOL if i not in recent]
        t = ticket_map(label, candidates)
        selected: list[str] = []
        pi: dict[str, tuple[float, float]] = {}
        for tier, ratio in RATIOS.items():
            members = [i for i in candidates if tier_of[i] == tier]
            n = math.ceil(ratio * len(members))
            ranked = sorted((i for i in members if i not in skip), key=t.__getitem__)
            selected += ranked[:n]
            size = len(members)
            pi[tier] = (n / size, math.ceil(ratio * (size + 1)) / (size + 1))
        probabilities = [pi[tier_of[i]][0] for i in candidates]
        blocked = sorted(recent)
        linked.append(
            Lottery(
                label,
                candidates,
                probabilities,
                selected,
                blocked=blocked,
                blocked_probabilities=[pi[tier_of[i]][1] for i in blocked],
                blocked_by=[f"{name}-T{j}" for j in range(max(0, d - window), d)] if d else [],
            )
        )
        naive.append(Lottery(label, candidates, probabilities, selected))
        hits.append(set(selected))
    return linked, naive


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=6),
    st.lists(st.integers(0, 2**15 - 1), min_size=6, max_size=6),
)
def test_the_sequence_distribution_matches_every_outcome_enumerated(
    probs: list[float], masks: list[int]
) -> None:
    """Trial ``t`` is skipped when an earlier trial in its blocker set hit: enumerate all."""
    m = len(probs)
    blockers = [frozenset(u for u in range(t) if masks[t] >> u & 1) for t in range(m)]
    oracle = [0.0] * (m + 1)
    for outcome in itertools.product((0, 1), repeat=m):
        pr, count, hit = 1.0, 0, set()
        for t in range(m):
            if hit & blockers[t]:
                if outcome[t]:
                    pr = 0.0  # a skipped trial cannot hit
                continue
            pr *= probs[t] if outcome[t] else 1 - probs[t]
            if outcome[t]:
                count += 1
                hit.add(t)
        oracle[count] += pr
    got = H._sequence_pmf(list(range(m)), probs, blockers)
    assert got == pytest.approx(oracle, abs=1e-12)


def test_windowed_honest_periods_rarely_alarm_where_the_naive_model_always_does() -> None:
    """40 honest periods of 8 draws, each leaving out the last 2 draws' selections.

    With the links the alarms stay under the bound for alpha = 0.05 (≤ 7 of 40); without
    them, the counts look too even (nobody is drawn twice in a row) and every period alarms.
    """
    periods = [windowed_period(f"win{r}") for r in range(40)]
    linked = sum(draw_health(lk, alpha=0.05).suspicious for lk, _ in periods)
    naive = sum(draw_health(nv, alpha=0.05).suspicious for _, nv in periods)
    assert linked <= 7 and naive >= 30
    lotteries = periods[0][0]
    report = draw_health(lotteries, alpha=0.05)
    drawn_twice_in_a_row = set(lotteries[0].selected) & set(lotteries[1].selected)
    assert not drawn_twice_in_a_row and report.units.trials.max() == 8


def test_windowed_manipulations_are_still_caught() -> None:
    group = frozenset([i for i, t in zip(POOL, TIERS, strict=True) if t == "C"][:40])
    grouped, _ = windowed_period("wgroup", draws=12, skip=group)
    assert draw_health(grouped, alpha=0.01).test("spread").rejected
    favoured = next(i for i, t in zip(POOL, TIERS, strict=True) if t == "D")
    lone, _ = windowed_period("wlone", draws=12, skip=frozenset({favoured}))
    report = draw_health(lone, alpha=0.01)
    assert [(f.id, f.observed, f.direction) for f in report.flagged] == [
        (favoured, 0, "too rarely")
    ]


def test_links_must_match_the_earlier_selections() -> None:
    first = Lottery("T1", ["a", "b", "c", "d"], [0.5] * 4, ["a", "b"])
    ok = Lottery(
        "T2",
        ["c", "d"],
        [0.5, 0.5],
        ["c"],
        blocked=["a"],
        blocked_probabilities=[0.4],
        blocked_by=["T1"],
    )
    report = draw_health([first, ok])
    by_id = dict(zip(report.units.ids, report.units.expected.tolist(), strict=True))
    assert by_id["a"] == pytest.approx(0.5 + 0.5 * 0.4)  # hit in T1, or else in T2 (π' = 0.4)
    assert by_id["c"] == pytest.approx(0.5 + 0.5 * 0.5)  # its T2 trial happens only if T1 missed
    cases = [
        ({"blocked": ["c"], "candidates": ["a", "d"]}, "selected by"),
        ({"blocked": ["z"]}, "were not selected by any"),
        ({"blocked_by": ["T9"]}, "not earlier draws"),
    ]
    for change, fragment in cases:
        values = {
            "candidates": ["c", "d"],
            "blocked": ["a"],
            "blocked_by": ["T1"],
        } | change
        bad = Lottery(
            "T2",
            values["candidates"],
            [0.5, 0.5],
            [values["candidates"][1]],
            blocked=values["blocked"],
            blocked_probabilities=[0.4],
            blocked_by=values["blocked_by"],
        )
        with pytest.raises(HealthInputError, match=fragment):
            draw_health([first, bad])
    with pytest.raises(HealthInputError, match="appears twice"):
        draw_health([first, ok, ok])
    with pytest.raises(HealthInputError, match="need blocked_by"):
        Lottery("T2", ["c"], [1.0], ["c"], blocked=["a"], blocked_probabilities=[0.4])
    with pytest.raises(HealthInputError, match="both blocked and a candidate"):
        Lottery(
            "T2",
            ["a"],
            [1.0],
            ["a"],
            blocked=["a"],
            blocked_probabilities=[0.4],
            blocked_by=["T1"],
        )


# -- team loads against replays of the engine ---------------------------------------------


def random_loads(rng: np.random.Generator, units: int = 30, teams: int = 20, k: int = 2) -> Any:
    """Loads of ``teams`` random ``k``-subsets of ``units`` (the simple design)."""
    picks = np.argsort(rng.random((teams, units)), axis=1)[:, :k]
    return np.bincount(picks.ravel(), minlength=units)


def replayed_period(
    seed: int, tasks: int = 6, replays: int = 800, rig: Any = None
) -> list[ReplayedTask]:
    rng = np.random.default_rng(seed)  # test data: simulated loads, not an audited draw
    units = [f"I{j:02d}" for j in range(30)]
    out = []
    for t in range(tasks):
        observed = random_loads(rng) if rig is None else rig(rng)
        sims = np.stack([random_loads(rng) for _ in range(replays)])
        out.append(ReplayedTask(f"T{t}", units, observed, sims))
    return out


def test_honest_team_loads_rarely_alarm() -> None:
    alarms = sum(replay_health(replayed_period(seed), alpha=0.05).suspicious for seed in range(40))
    assert alarms <= 7


def test_an_inspector_put_on_extra_teams_is_flagged() -> None:
    def rig(rng: np.random.Generator) -> Any:
        loads = random_loads(rng)
        loads[7] += 3  # three more teams than the lottery gave, every task
        return loads

    report = replay_health(replayed_period(1, rig=rig), alpha=0.01)
    assert report.suspicious
    assert [(f.id, f.direction) for f in report.flagged] == [("I07", "too often")]
    assert report.flagged[0].observed > report.flagged[0].expected + 12


def test_a_rota_passed_off_as_a_lottery_is_too_even_for_the_replays() -> None:
    def rota(rng: np.random.Generator) -> Any:
        loads = np.ones(30, dtype=np.int64)
        loads[rng.permutation(30)[:10]] += 1  # 40 places spread as evenly as possible
        return loads

    report = replay_health(replayed_period(2, rig=rota), alpha=0.01)
    spread = report.test("spread")
    assert spread.rejected and spread.statistic < 0.5 * spread.dof  # Σ z² far below its mean
    assert not report.flagged


def test_replay_health_input_errors() -> None:
    with pytest.raises(HealthInputError, match="no tasks"):
        replay_health([])
    with pytest.raises(HealthInputError, match="one load per unit"):
        ReplayedTask("T", ["a", "b"], [1], np.zeros((50, 2)))
    with pytest.raises(HealthInputError, match="appears twice"):
        ReplayedTask("T", ["a", "a"], [1, 1], np.zeros((50, 2)))
    with pytest.raises(HealthInputError, match="too few"):
        replay_health([ReplayedTask("T", ["a", "b"], [1, 1], np.ones((10, 2)))])


# -- the users' language: Chinese first, the English term beside it ---------------------------


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_detail_has_a_chinese_wording_with_the_same_facts() -> None:
    """One wording per language for each key: the Chinese uses exactly the facts the English
    does, so a test cannot say one thing in English and another in Chinese."""
    assert set(H.DETAILS) == set(HEALTH_DETAIL_LABELS)
    for key, english in H.DETAILS.items():
        assert _fields(HEALTH_DETAIL_LABELS[key]) == _fields(english), key
    assert set(conduct.DETAILS) == set(CONDUCT_DETAIL_LABELS)
    for key, english in conduct.DETAILS.items():
        assert _fields(CONDUCT_DETAIL_LABELS[key]) == _fields(english), key


def test_the_summary_is_chinese_first_and_names_every_unit_verbatim() -> None:
    draws = [
        Lottery.stratified(f"T{i}", ["A", "B", "C", "D"], ["x", "x", "y", "y"], selected=["A", "C"])
        for i in range(20)
    ]
    report = draw_health(draws, alpha=0.01)
    head, units, spread, *flags = report.summary().splitlines()
    assert head == (
        "检查对象抽查健康度 draw health of entities：20 次抽取 (draws)，4 个单位 (units)，"
        "α 0.01：可疑 SUSPICIOUS"
    )
    assert units.startswith("  逐个单位检验 units：统计量 ") and "异常 REJECT。4 个单位；" in units
    assert spread.endswith("通过 ok。单位太少，无法作直方图（每组至少需要 5 个单位）")
    assert flags[0] == "  标记 flagged：A 抽中 20 次，期望 10.00（抽中过多 too often，p = 9.5e-07）"
    assert [f.split("：")[1].split()[0] for f in flags] == ["A", "B", "C", "D"]
    # The English detail stays what scripts read in --json.
    assert report.to_dict()["tests"][0]["detail"] == (
        "4 units; one-sided exact tails, Tarone-Bonferroni divisors 4 (too rarely) and 4 "
        "(too often); 4 flagged"
    )


def test_a_replay_report_says_in_both_languages_when_it_has_too_few_replays() -> None:
    report = replay_health(replayed_period(3, replays=60), alpha=0.01)
    units = report.test("units")
    assert units.detail.endswith(
        "; too few replays to reject at this level (need 400 null replays)"
    )
    assert units.detail_label.endswith(
        "；重放次数太少，在此检验水平上不能拒绝（需要 400 次零假设重放）"
    )
    assert "执法检查人员抽查健康度 draw health of inspectors：" in report.summary()


def test_a_check_result_made_without_a_wording_keeps_its_own_detail() -> None:
    result = H.CheckResult("custom", 1.0, 0.5, 0.01, None, "an agency's own test")
    assert result.detail_label == "an agency's own test"
    units = draw_health([Lottery.stratified("T", ["A"], ["x"], ["A"])]).units
    report = H.HealthReport("shops", 1, 0.01, units, (), (result,))
    assert report.summary().splitlines() == [
        "抽查健康度 draw health of shops：1 次抽取 (draws)，1 个单位 (units)，α 0.01："
        "未见异常 no alarm",
        "  custom：统计量 1，p = 0.5（检验水平 0.01）通过 ok。an agency's own test",
    ]


def test_conduct_details_name_ids_and_codes_verbatim_in_chinese() -> None:
    bundle = {
        "task_label": "T1",
        "attempts": [
            {
                "attempt": 2,
                "state": "drawn",
                "reason": "ceremony_abandoned",
                "reason_text": "重新举行仪式",
                "approved_by": "科长",
            },
        ],
        "announcement": {"independent_parties": 0},
        "assignment": {"reassignments": [{"entity": "E1", "inspector": "ZF01", "reason": "x1"}]},
    }
    found = conduct.conduct_findings([bundle], status_flips={"T1": [("E9", "注销", "存续")]})
    assert [(f.kind, conduct_detail_label(f.detail_key, f.facts)) for f in found] == [
        ("system_seed_only", "种子只来自系统（没有独立参与方或公开数值）"),
        (
            "redraw",
            "第 2 次抽取，原因：ceremony_abandoned 随机数仪式未完成（有参与方未揭示），"
            "说明：重新举行仪式，批准人 科长",
        ),
        ("reassigned", "E1：执法人员 ZF01 被调出（x1）"),  # an agency's own code, as it is
        ("status_flip", "E9 因状态“注销”被排除，现在的状态为“存续”"),
    ]
    assert found[1].to_dict() == {
        "kind": "redraw",
        "task": "T1",
        "detail": "attempt 2, ceremony_abandoned: 重新举行仪式 (approved by 科长)",
    }
