"""Tests for shuangsuiji.design: cross-checks against independent implementations and tables,
allocation properties, and the exact coverage chain against the real draw engine."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from shuangsuiji.bundle import make_bundle
from shuangsuiji.design import (
    ALLOCATION_METHODS,
    Allocation,
    DesignError,
    InfeasibleAllocation,
    Strata,
    allocate,
    allocate_budget,
    clopper_pearson_interval,
    coverage,
    design_weights,
    detection_probability,
    estimate_from_record,
    estimate_rates,
    margin_for_size,
    replicate_seed,
    round_largest_remainder,
    simulate_coverage,
    simulate_plan,
    size_for_detection,
    size_for_margin,
    size_for_margin_stratified,
    sizes_by_year,
    sizes_for_detection,
    sizes_for_margin,
    wilson_interval,
)
from shuangsuiji.draw import ReplacementReason, SizeRule, draw_entities
from shuangsuiji.draw import Strata as DrawStrata
from shuangsuiji.model import PopulationFilter, Task
from shuangsuiji.policy import Policy
from shuangsuiji.synth import make_city

TIERS4 = {"A": 5800, "B": 3000, "C": 900, "D": 300}
P4 = {"A": 0.02, "B": 0.05, "C": 0.15, "D": 0.4}


def _samplics() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # samplics warns that it is archived
        return pytest.importorskip("samplics")


# --- sample sizes -----------------------------------------------------------------------------

# Krejcie & Morgan (1970), "Determining sample size for research activities", Table 1:
# N -> s for ±5% at 95% confidence, P = 0.5. The table rounds to nearest with chi² = 3.841.
KREJCIE_MORGAN = {
    10: 10, 15: 14, 20: 19, 25: 24, 30: 28, 35: 32, 40: 36, 45: 40, 50: 44, 55: 48, 60: 52,
    65: 56, 70: 59, 75: 63, 80: 66, 85: 70, 90: 73, 95: 76, 100: 80, 110: 86, 120: 92,
    130: 97, 140: 103, 150: 108, 160: 113, 170: 118, 180: 123, 190: 127, 200: 132, 210: 136,
    220: 140, 230: 144, 240: 148, 250: 152, 260: 155, 270: 159, 280: 162, 290: 165, 300: 169,
    320: 175, 340: 181, 360: 186, 380: 191, 400: 196, 420: 201, 440: 205, 460: 210, 480: 214,
    500: 217, 550: 226, 600: 234, 650: 242, 700: 248, 750: 254, 800: 260, 850: 265, 900: 269,
    950: 274, 1000: 278, 1100: 285, 1200: 291, 1300: 297, 1400: 302, 1500: 306, 1600: 310,
    1700: 313, 1800: 317, 1900: 320, 2000: 322, 2200: 327, 2400: 331, 2600: 335, 2800: 338,
    3000: 341, 3500: 346, 4000: 351, 4500: 354, 5000: 357, 6000: 361, 7000: 364, 8000: 367,
    9000: 368, 10000: 370, 15000: 375, 20000: 377, 30000: 379, 40000: 380, 50000: 381,
    75000: 382, 1000000: 384,
}  # fmt: skip


def test_margin_sizes_match_the_krejcie_morgan_table() -> None:
    strata = Strata.from_sizes({str(n): n for n in KREJCIE_MORGAN})
    table = sizes_for_margin(strata, 0.05)
    published = np.asarray(list(KREJCIE_MORGAN.values()))
    # Unrounded sizes agree with the table's rounding (z² = 3.8415 here vs 3.841 there) ...
    assert table.continuous is not None
    assert np.abs(table.continuous - published).max() <= 0.51
    # ... and the rounded-up size is the table value or one more.
    assert ((table.n - published) >= 0).all() and ((table.n - published) <= 1).all()


def test_margin_sizes_textbook_values() -> None:
    # Cochran (1977) §4.4: n0 = z² PQ / d² = 384.1 for ±5%, 95%, P = 0.5.
    assert size_for_margin(0.05) == 385
    assert size_for_margin(0.05, population=1000) == 278
    assert size_for_margin(0.05, population=100) == 80
    assert size_for_margin(0.05, population=3) == 3  # never more than the population
    n = size_for_margin(0.03, p=0.2, population=4000)
    assert (
        margin_for_size(n, p=0.2, population=4000)
        <= 0.03
        < margin_for_size(n - 1, p=0.2, population=4000)
    )


def test_margin_sizes_match_samplics() -> None:
    samplics = _samplics()
    for p in (0.02, 0.1, 0.3, 0.5):
        for d in (0.01, 0.03, 0.05):
            for conf in (0.9, 0.95, 0.99):
                for pop in (50, 400, 3000, 250_000):
                    theirs = samplics.calculate_ss_wald_prop(
                        target=p, half_ci=d, pop_size=pop, alpha=1 - conf
                    )
                    ours = size_for_margin(d, p=p, confidence=conf, population=pop)
                    assert ours == min(theirs, pop), (p, d, conf, pop)
                assert size_for_margin(d, p=p, confidence=conf) == (
                    samplics.calculate_ss_wald_prop(target=p, half_ci=d, alpha=1 - conf)
                )
    strata = Strata.from_sizes(TIERS4)
    theirs = samplics.calculate_ss_wald_prop(
        target=P4,
        half_ci=dict.fromkeys(TIERS4, 0.04),
        pop_size=TIERS4,
        alpha=dict.fromkeys(TIERS4, 0.05),
        deff_c=dict.fromkeys(TIERS4, 1.0),
        resp_rate=dict.fromkeys(TIERS4, 1.0),
        strat=True,
    )
    assert sizes_for_margin(strata, 0.04, p=P4).as_dict() == theirs


def test_stratified_total_never_exceeds_one_simple_random_sample() -> None:
    strata = Strata.from_sizes(TIERS4)
    srs = sizes_for_margin(strata, 0.02, p=P4).overall
    prop = size_for_margin_stratified(strata, 0.02, p=P4)
    neyman = size_for_margin_stratified(strata, 0.02, p=P4, allocation="neyman")
    assert neyman <= prop <= srs
    # Proportional allocation of that total does reach the margin (Cochran eq. 5.24).
    alloc = allocate(strata, prop, method="proportional")
    assert 1.96 * math.sqrt(alloc.variance(P4)) <= 0.02 * 1.001


@pytest.mark.parametrize("population", [7, 60, 500, 4321, 200_000])
@pytest.mark.parametrize("violators", [1, 3, 40])
@pytest.mark.parametrize("probability", [0.5, 0.9, 0.95, 0.99])
def test_detection_sizes_are_the_smallest_by_scipy_hypergeom(
    population: int, violators: int, probability: float
) -> None:
    if violators > population:
        return
    n = size_for_detection(population, violators=violators, probability=probability)
    beta = 1 - probability
    # scipy's pmf is itself accurate to ~1e-11 here (N = 200,000, D = 1: P(miss) = 1/2 at n =
    # 100,000 exactly), so compare with a relative slack of 1e-9.
    assert stats.hypergeom.pmf(0, population, violators, n) <= beta * (1 + 1e-9)
    assert n == 0 or stats.hypergeom.pmf(0, population, violators, n - 1) > beta * (1 - 1e-9)


def test_detection_exact_small_cases_and_rates() -> None:
    # Exact rational P(miss) = C(N - D, n) / C(N, n).
    for big_n, d in ((20, 1), (20, 4), (37, 9)):
        for n in range(big_n + 1):
            miss = Fraction(math.comb(big_n - d, n), math.comb(big_n, n))
            assert float(detection_probability(n, big_n, d)) == pytest.approx(float(1 - miss))
    # miss = (N - n) / N for one violator: exact boundaries, where log-gamma forms slip by one
    assert size_for_detection(100, violators=1, probability=0.9) == 90
    assert size_for_detection(200_000, violators=1, probability=0.5) == 100_000
    assert size_for_detection(10**7, violators=1, probability=0.75) == 7_500_000
    # rate -> ceil(rate * N) violators, at least one
    assert size_for_detection(1000, rate=0.05) == size_for_detection(1000, violators=50)
    assert size_for_detection(300, rate=0.001) == size_for_detection(300, violators=1)
    strata = Strata.from_sizes({"A": 1000, "D": 50})
    table = sizes_for_detection(strata, {"A": 0.01, "D": 0.1})
    assert table.as_dict() == {
        "A": size_for_detection(1000, violators=10),
        "D": size_for_detection(50, violators=5),
    }
    assert table.overall == size_for_detection(1050, violators=15)
    assert table.power is not None and (table.power >= 0.95).all()
    with pytest.raises(DesignError, match="exactly one"):
        size_for_detection(100)


# --- intervals and estimation -----------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_intervals_match_scipy_binomtest(confidence: float) -> None:
    cases = [(x, n) for n in (1, 2, 7, 30, 115, 1000) for x in sorted({0, 1, n // 3, n - 1, n})]
    x, n = np.asarray(cases).T
    wl, wh = wilson_interval(x, n, confidence=confidence)
    cl, ch = clopper_pearson_interval(x, n, confidence=confidence)
    for i, (k, m) in enumerate(cases):
        result = stats.binomtest(int(k), int(m))
        w = result.proportion_ci(confidence_level=confidence, method="wilson")
        e = result.proportion_ci(confidence_level=confidence, method="exact")
        assert (wl[i], wh[i]) == pytest.approx((w.low, w.high), abs=1e-10), (k, m)
        assert (cl[i], ch[i]) == pytest.approx((e.low, e.high), abs=1e-10), (k, m)


def _units(strata: Strata, n: list[int], x: list[int]) -> tuple[np.ndarray, ...]:
    y, labels, weights = [], [], []
    for h, label in enumerate(strata.labels):
        y += [1] * x[h] + [0] * (n[h] - x[h])
        labels += [label] * n[h]
        weights += [strata.sizes[h] / n[h]] * n[h]
    return np.asarray(y), np.asarray(labels), np.asarray(weights)


def test_stratified_estimate_matches_cochran_and_samplics() -> None:
    strata = Strata.from_sizes(TIERS4)
    n, x = [174, 96, 115, 115], [2, 4, 14, 41]
    est = estimate_rates(strata, x, n)
    w = strata.sizes / strata.total
    p = np.asarray(x) / np.asarray(n)
    # Cochran eq. 5.53, by hand
    v = np.sum(w**2 * (1 - np.asarray(n) / strata.sizes) * p * (1 - p) / (np.asarray(n) - 1))
    assert est.rate == pytest.approx(float(np.sum(w * p)), rel=1e-12)
    assert est.variance == pytest.approx(float(v), rel=1e-12)
    assert est.design_weights.tolist() == pytest.approx((strata.sizes / np.asarray(n)).tolist())
    lo, hi = est.interval()
    assert lo < est.rate < hi
    samplics = _samplics()
    y, labels, weights = _units(strata, n, x)
    taylor = samplics.TaylorEstimator(samplics.PopParam.prop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        taylor.estimate(
            y=y,
            samp_weight=weights,
            stratum=labels,
            fpc={lab: 1 - n[h] / strata.sizes[h] for h, lab in enumerate(strata.labels)},
        )
    assert est.rate == pytest.approx(taylor.point_est[1], rel=1e-12)
    assert est.standard_error == pytest.approx(taylor.stderror[1], rel=1e-9)


def test_korn_graubard_interval_is_clopper_pearson_at_the_effective_size() -> None:
    # One stratum: v = (1 - n/N) p q / (n - 1), so n* = (n - 1) / (1 - n/N); the interval is
    # Clopper-Pearson at (n* p, n*), here by scipy's beta quantiles ...
    est = estimate_rates(Strata.from_sizes({"all": 10**6}), [3], [200])
    n_eff = 199 / (1 - 200 / 10**6)
    x_eff = n_eff * 3 / 200
    expected = (
        stats.beta.ppf(0.025, x_eff, n_eff - x_eff + 1),
        stats.beta.ppf(0.975, x_eff + 1, n_eff - x_eff),
    )
    assert est.interval() == pytest.approx(expected, rel=1e-9)
    # ... and n* is capped at n (a large sampling fraction must not shrink the interval below
    # the binomial one): here n* = 207 > 200, so the interval is Clopper-Pearson at (3, 200).
    capped = estimate_rates(Strata.from_sizes({"all": 5000}), [3], [200])
    lo, hi = clopper_pearson_interval(3, 200)
    assert capped.interval() == pytest.approx((float(lo), float(hi)), rel=1e-12)
    zero = estimate_rates(Strata.from_sizes({"all": 10**9}), [0], [200])
    assert zero.interval()[0] == 0.0 and zero.interval()[1] > 0.01


def test_estimate_from_a_real_draw_record() -> None:
    city = make_city(3000, seed=11)
    strata = Strata.from_pool(city.entities, region_digits=0)
    rules = {
        label: SizeRule(ratio=r) for label, r in zip("ABCD", (0.03, 0.05, 0.2, 0.6), strict=True)
    }
    assert strata.codes is not None
    draw = draw_entities(
        city.entities.ids,
        DrawStrata(strata.codes, strata.labels),
        rules,
        task_label="2026-design-test",
        seed=replicate_seed("record", 0),
    )
    weights = design_weights(draw)
    assert weights == {s.label: s.size / s.sample for s in draw.strata}
    violated = {p.id: int(p.ticket[:2], 16) < 40 for p in draw.selected}  # ~16%, test-only
    missing = draw.selected[0].id
    results = {k: v for k, v in violated.items() if k != missing}
    est = estimate_from_record(draw, results)
    by_hand_n = {s.label: s.sample for s in draw.strata}
    by_hand_n[draw.selected[0].stratum] -= 1
    assert dict(zip(est.strata.labels, est.nobs.tolist(), strict=True)) == by_hand_n
    assert est.count.sum() == sum(results.values())
    # The same record as a bundle-like dict
    bundle = {
        "strata": [{"label": s.label, "size": s.size, "sample": s.sample} for s in draw.strata],
        "selected": [p.to_json() for p in draw.selected],
    }
    assert estimate_from_record(bundle, results).rate == pytest.approx(est.rate)
    with pytest.raises(DesignError, match="did not select"):
        estimate_from_record(draw, {**results, "NOT-DRAWN": True})


def test_estimate_counts_the_selection_after_replacements() -> None:
    ids = [f"E{i:03d}" for i in range(40)]
    labels = ["A|1"] * 30 + ["D|1"] * 10
    draw = draw_entities(
        ids, labels, SizeRule(ratio="0.2", alternates=2), task_label="t", seed=bytes(range(32))
    )
    gone = draw.selected[0]
    swapped = draw.replace(gone.id, ReplacementReason.DEREGISTERED_BEFORE_DRAW)
    results = {p.id: p.stratum == "D|1" for p in swapped.active}
    est = estimate_from_record(swapped, results)
    assert est.nobs.tolist() == [6, 2] and est.count.tolist() == [0, 2]
    bundle = make_bundle(swapped, ids, labels, library_version="test")
    assert estimate_from_record(bundle, results).nobs.tolist() == [6, 2]
    with pytest.raises(DesignError, match="did not select"):
        estimate_from_record(bundle, {gone.id: False})


# --- allocation -------------------------------------------------------------------------------


def test_allocations_match_samplics_and_closed_forms() -> None:
    samplics = _samplics()
    strata = Strata.from_sizes(TIERS4)
    stddev = {"A": 0.14, "B": 0.22, "C": 0.36, "D": 0.49}
    prop = allocate(strata, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _ = samplics.allocate("propal", list(TIERS4), pop_size=TIERS4, samp_size=500)
        s_h = np.asarray(list(stddev.values()))
        rate = 500 / float(np.sum(strata.sizes * s_h))
        neyman_theirs, _ = samplics.allocate(
            "optimum_mean", list(TIERS4), pop_size=TIERS4, rate=rate, stddev=stddev
        )
    # samplics rounds each stratum up; our continuous optimum is the same before rounding.
    assert {k: math.ceil(v - 1e-9) for k, v in zip(TIERS4, prop.continuous, strict=True)} == theirs
    neyman = allocate(strata, 500, method="neyman", stddev=stddev)
    assert {
        k: math.ceil(v - 1e-9) for k, v in zip(TIERS4, neyman.continuous, strict=True)
    } == neyman_theirs
    assert prop.as_dict() == {"A": 290, "B": 150, "C": 45, "D": 15}
    assert neyman.total == 500


@pytest.mark.parametrize("method", ["neyman", "optimal"])
def test_optimal_allocations_minimise_variance_like_scipy_optimize(method: str) -> None:
    strata = Strata.from_sizes(TIERS4)
    cost = np.asarray([1.0, 1.0, 1.5, 2.5])
    budget = 600.0
    if method == "neyman":
        alloc = allocate(strata, 450, method="neyman", p=P4)
        unit, target = np.ones(4), 450.0
    else:
        alloc = allocate_budget(strata, budget, cost=cost, p=P4)
        unit, target = cost, budget
    big_n = strata.sizes.astype(float)
    p = np.asarray(list(P4.values()))
    s2 = big_n * p * (1 - p) / (big_n - 1)
    w = big_n / big_n.sum()

    def variance(n: np.ndarray) -> float:
        return float(np.sum(w**2 * (1 - n / big_n) * s2 / n))

    def scaled(n: np.ndarray) -> float:  # O(1) objective so SLSQP's tolerances bite
        return variance(n) * 1e5

    found = optimize.minimize(
        scaled,
        np.full(4, target / unit.sum()),
        method="SLSQP",
        bounds=[(1.0, float(v)) for v in big_n],
        constraints=[{"type": "eq", "fun": lambda n: float(unit @ n) - target}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    assert found.success
    assert alloc.continuous == pytest.approx(found.x, rel=1e-3)
    assert variance(alloc.continuous) <= variance(found.x) * (1 + 1e-9)


def test_rounding_tie_break_is_documented_order() -> None:
    assert round_largest_remainder(np.array([2.5, 2.5, 5.0]), 10).tolist() == [3, 2, 5]
    tied = round_largest_remainder(np.array([0.5, 0.5]), 1, priority=np.array([1.0, 2.0]))
    assert tied.tolist() == [0, 1]  # the larger weight wins a tie
    # Equal weights, equal remainders: the stratum listed first wins.
    s = Strata.from_sizes({"C": 900, "D": 900})
    assert allocate(s, 59).as_dict() == {"C": 30, "D": 29}


def test_largest_remainder_shows_the_alabama_paradox_by_at_most_one() -> None:
    s = Strata.from_sizes({"x": 1, "y": 3, "z": 3})
    assert allocate(s, 3).as_dict() == {"x": 1, "y": 1, "z": 1}
    assert allocate(s, 4).as_dict() == {"x": 0, "y": 2, "z": 2}  # x loses one unit


def test_min_ratio_per_stratum_guarantees_the_floor_per_region() -> None:
    city = make_city(4000, seed=3)
    strata = Strata.from_pool(city.entities)  # tier x county
    total = int(0.06 * strata.total)
    alloc = allocate(strata, total, method="risk", min_ratio=0.03)
    assert alloc.total == total
    for county in set(strata.region):
        rows = [h for h, j in enumerate(strata.region) if j == county]
        assert alloc.n[rows].sum() >= math.ceil(0.03 * strata.sizes[rows].sum())
    with pytest.raises(InfeasibleAllocation, match="lower bounds need"):
        allocate(strata, int(0.02 * strata.total), min_ratio=0.03)
    with pytest.raises(InfeasibleAllocation, match="upper bounds allow"):
        allocate(strata, strata.total, max_ratio=0.5)
    with pytest.raises(DesignError, match="for counts, use minimum="):
        allocate(strata, 10, min_ratio=3)
    with pytest.raises(DesignError, match="needs strata split by tier"):
        allocate(Strata.from_pool(city.entities, by_tier=False), 10, method="risk")


@dataclass(frozen=True)
class Problem:
    """A random allocation problem: strata, the method's inputs and the bounds."""

    strata: Strata
    options: dict[str, Any]  # method, p, min_ratio, minimum, max_ratio
    cost: np.ndarray
    fractions: tuple[float, float]  # where, between the bounds, two totals fall

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The documented bounds, derived independently of the implementation."""
        big_n = self.strata.sizes
        upper = np.minimum(big_n, np.floor(self.options["max_ratio"] * big_n + 1e-9))
        wanted = np.ceil(self.options["min_ratio"] * big_n - 1e-9)
        return np.minimum(np.maximum(self.options["minimum"], wanted), upper), upper


@st.composite
def _problems(draw: st.DrawFn) -> Problem:
    sizes = draw(st.lists(st.integers(0, 4000), min_size=1, max_size=10))
    labels = [f"{'ABCD'[i % 4]}|{i:03d}" for i in range(len(sizes))]
    h = len(sizes)
    f1, f2 = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    return Problem(
        Strata.from_sizes(dict(zip(labels, sizes, strict=True))),
        {
            "method": draw(st.sampled_from(ALLOCATION_METHODS)),
            "p": draw(st.lists(st.floats(0.0, 0.5), min_size=h, max_size=h)),
            "min_ratio": draw(st.sampled_from([0.0, 0.01, 0.03])),
            "minimum": draw(st.sampled_from([0, 1, 5])),
            "max_ratio": draw(st.sampled_from([1.0, 0.6, 0.2])),
        },
        np.asarray(draw(st.lists(st.floats(0.2, 4.0), min_size=h, max_size=h))),
        (f1, f2),
    )


def _check_bounds(a: Allocation, problem: Problem) -> None:
    lower, upper = problem.bounds()
    assert (a.lower == lower).all() and (a.upper == upper).all()
    assert (a.n >= lower).all() and (a.n <= upper).all()
    base = np.floor(a.continuous + 1e-9)
    assert (a.n >= base).all() and (a.n <= base + 1).all()  # ⌊q⌋ or ⌊q⌋ + 1


@settings(max_examples=150, deadline=None)
@given(_problems())
def test_allocation_properties(problem: Problem) -> None:
    strata, options = problem.strata, problem.options
    lower, _ = problem.bounds()
    probe = allocate(strata, int(lower.sum()), cost=problem.cost, **options)
    low = int(lower.sum())
    reach = int(np.where(probe.weights > 0, probe.upper, probe.lower).sum())
    f1, f2 = problem.fractions
    t1, t2 = low + int(f1 * (reach - low)), low + int(f2 * (reach - low))
    a1 = allocate(strata, t1, cost=problem.cost, **options)
    a2 = allocate(strata, t2, cost=problem.cost, **options)
    for a, t in ((a1, t1), (a2, t2)):
        assert a.total == t  # the sizes add up to the total exactly
        _check_bounds(a, problem)
    assert (a2.continuous >= a1.continuous - 1e-6).all()  # monotone before rounding ...
    assert (a2.n >= a1.n - 1).all()  # ... and at most one unit lost after (Alabama paradox)
    if low > 0:
        with pytest.raises(InfeasibleAllocation):
            allocate(strata, low - 1, cost=problem.cost, **options)
    if reach < strata.total:
        with pytest.raises(InfeasibleAllocation):
            allocate(strata, reach + 1, cost=problem.cost, **options)


@settings(max_examples=100, deadline=None)
@given(_problems())
def test_budget_allocation_properties(problem: Problem) -> None:
    strata, options, cost = problem.strata, problem.options, problem.cost
    lower, _ = problem.bounds()
    probe = allocate_budget(strata, float(cost @ lower), cost=cost, **options)
    low = float(cost @ lower)
    high = float(cost @ np.where(probe.weights > 0, probe.upper, probe.lower))
    f1, f2 = problem.fractions
    b1, b2 = low + f1 * (high - low), low + f2 * (high - low)
    a1 = allocate_budget(strata, b1, cost=cost, **options)
    a2 = allocate_budget(strata, b2, cost=cost, **options)
    for a, b in ((a1, b1), (a2, b2)):
        assert a.total_cost <= b + 1e-6  # never over budget
        _check_bounds(a, problem)
    assert (a2.continuous >= a1.continuous - 1e-6).all()
    assert (a2.n >= a1.n - 1).all()
    assert a2.total_cost >= a1.total_cost - float(cost.max()) - 1e-6


# --- coverage ---------------------------------------------------------------------------------


def test_coverage_without_window_is_binomial() -> None:
    strata = Strata.from_sizes({"A": 1000, "D": 100})
    cov = coverage(strata, {"A": 0.03, "D": 0.6}, years=6, window=0)
    assert cov.sizes.tolist() == [[30] * 6, [60] * 6]
    for h, pi in enumerate((0.03, 0.6)):
        assert cov.count_pmf[h] == pytest.approx(stats.binom.pmf(np.arange(7), 6, pi))
        assert cov.covered[h] == pytest.approx(1 - (1 - pi) ** np.arange(1, 7))
    assert cov.p_never[0] == pytest.approx(0.97**6)
    assert cov.expected_count == pytest.approx([0.18, 3.6])


def test_coverage_with_a_long_window_sweeps_the_stratum() -> None:
    # Excluded for longer than the horizon and a fixed size: sampling without replacement
    # across years, so after k years exactly k*n/N of the stratum has been covered.
    strata = Strata.from_sizes({"B": 1000})
    cov = coverage(strata, 0.1, years=12, window=20, base="stratum")
    assert cov.covered[0] == pytest.approx(np.minimum(np.arange(1, 13) * 0.1, 1.0))
    assert cov.years_to(1.0).tolist() == [10.0]
    assert cov.count_pmf[0, :2] == pytest.approx([0.0, 1.0])
    eligible, sizes = sizes_by_year(strata, 0.1, years=12, window=20, base="stratum")
    assert eligible[0, :3].tolist() == [1000, 900, 800] and sizes[0, -1] == 0


def test_coverage_uses_the_engine_size_rule() -> None:
    # 0.07 * 100 is 7 with exact rationals (8 with a naive float ceiling).
    cov = coverage(Strata.from_sizes({"A": 100}), 0.07, years=1, window=0)
    assert cov.sizes.tolist() == [[7]]


@pytest.mark.parametrize(("base", "window"), [("eligible", 1), ("stratum", 1), ("stratum", 2)])
def test_monte_carlo_with_the_real_draw_agrees_with_the_exact_chain(base: str, window: int) -> None:
    city = make_city(1500, seed=3)
    strata = Strata.from_pool(city.entities, region_digits=0)
    ratio = {"A": 0.05, "B": 0.1, "C": 0.3, "D": 0.6}
    years, reps = 5, 160
    mc = simulate_coverage(
        city.entities, strata, ratio, years=years, window=window, base=base, replicates=reps
    )
    exact = coverage(strata, ratio, years=years, window=window, base=base)
    # E_t and n_t are deterministic: the simulation must see exactly the chain's.
    assert (mc.eligible == exact.eligible).all() and (mc.sizes == exact.sizes).all()
    # Shares covered within 4 Monte Carlo standard errors (plus rounding slack).
    assert mc.standard_error is not None
    assert (np.abs(mc.covered - exact.covered) <= 4 * mc.standard_error + 1e-12).all()
    # The count distribution of one entity: binomial SE over the R·N_h entity-runs,
    # inflated 2x for within-run dependence.
    se = np.sqrt(exact.count_pmf * (1 - exact.count_pmf) / (reps * strata.sizes[:, None]))
    assert (np.abs(mc.count_pmf - exact.count_pmf) <= 8 * se + 1e-9).all()
    # The test can fail: the chain without the exclusion window is far off.
    wrong = coverage(strata, ratio, years=years, window=0, base=base)
    assert (np.abs(mc.covered - wrong.covered) > 4 * mc.standard_error + 1e-12).any()
    assert mc.all_covered is not None and mc.all_covered.shape == (4, years)


def test_simulation_is_replayable_and_needs_pool_strata() -> None:
    city = make_city(300, seed=9)
    strata = Strata.from_pool(city.entities, region_digits=0)
    a = simulate_coverage(city.entities, strata, 0.2, years=2, replicates=3, label="x")
    b = simulate_coverage(city.entities, strata, 0.2, years=2, replicates=3, label="x")
    assert (a.covered == b.covered).all() and (a.count_pmf == b.count_pmf).all()
    with pytest.raises(DesignError, match=r"Strata\.from_pool"):
        simulate_coverage(city.entities, Strata.from_sizes({"A": 300}), 0.2, years=2)


# --- plan simulation --------------------------------------------------------------------------


def _tasks() -> list[Task]:
    return [
        Task("T1", "P2026", "企业公示信息抽查", ("SCJG",), ("SCJG-01",),
             date(2026, 3, 2), date(2026, 5, 29)),
        Task("T2", "P2026", "餐饮食品与公共卫生联合抽查", ("SCJG", "WJW"), ("SCJG-02", "WJW-01"),
             date(2026, 6, 1), date(2026, 8, 31), PopulationFilter(industry_prefixes=("H",))),
    ]  # fmt: skip


def test_plan_simulation_runs_the_real_pipeline() -> None:
    from shuangsuiji.candidates import freeze_candidates

    city = make_city(2000, seed=4)
    policy = Policy.default()
    kwargs: dict[str, Any] = {
        "inspectors": city.inspectors,
        "conflicts": city.conflicts,
        "replicates": 3,
    }
    sim = simulate_plan(city.entities, _tasks(), policy, city.items, **kwargs)
    # Replicate 0's first task is exactly the draw the registry would make with that seed.
    cs = freeze_candidates(city.entities, _tasks()[0], policy, city.items, cutoff=date(2026, 3, 2))
    direct = draw_entities(
        cs.ids, cs.strata, cs.rules, task_label="plan/T1", seed=replicate_seed("plan", 0, "T1")
    )
    assert sim.selected[0, 0] == len(direct.selected)
    assert (sim.inspections.sum(axis=1) == sim.selected.sum(axis=1)).all()
    # The policy's 365-day exclusion window: nobody is inspected twice in the year ...
    assert sim.inspections.max() == 1 and sim.repeat_share == 0.0
    # ... every team has two officers, so the loads add up ...
    assert (sim.infeasible == 0).all()
    assert (sim.loads.sum(axis=1) == 2 * sim.selected.sum(axis=1)).all()
    # ... and every selected entity had at least two eligible inspectors.
    assert all(e.min() >= 2 for e in sim.eligible)
    assert sim.eligible[1].size == sim.selected[:, 1].sum()
    assert 0.0 <= sim.pressure().max() <= 1.0 and sim.load_summary()["max"] >= 1
    frame = sim.to_frame()  # one row per task, indexed by task code
    assert frame.index.name == "task" and list(frame.index) == ["T1", "T2"]
    assert frame["infeasible_runs"].tolist() == sim.infeasible.tolist()
    assert "<th>T2</th>" in sim._repr_html_()
    again = simulate_plan(city.entities, _tasks(), policy, city.items, **kwargs)
    assert (again.inspections == sim.inspections).all() and (again.loads == sim.loads).all()
    # Without the window, the two tasks overlap and some restaurants are inspected twice.
    open_policy = Policy.from_mapping({"exclusions": {"recently_inspected_days": 0}})
    repeat = simulate_plan(city.entities, _tasks(), open_policy, city.items, replicates=3)
    assert repeat.inspections.max() == 2 and repeat.loads.size == 0
