"""Allocation of a total sample, or of an inspector-day budget, across strata.

Every method gives stratum ``h`` a share proportional to a weight ``w_h``:

============== ===================================== =======================================
method         weight ``w_h``                         optimal for
============== ===================================== =======================================
proportional   ``N_h``                                equal ratios everywhere
neyman         ``N_h S_h``                            least variance for a fixed total
optimal        ``N_h S_h / √c_h``                     least variance for a fixed cost
risk           ``N_h m_tier``                         credit-risk tiers (A/B/C/D multipliers)
============== ===================================== =======================================

with ``S_h² = N_h P_h Q_h / (N_h − 1)`` for an anticipated violation rate ``P_h`` (or given
``stddev``) and ``c_h`` the inspector-days one inspection costs in the stratum (Cochran §5.5).

**Bounds.** Each stratum must get at least ``f_h = min(u_h, max(minimum,
⌈min_ratio·N_h⌉))`` (e.g. the legal 3% floor per region) and at most ``u_h = min(N_h,
⌊max_ratio·N_h⌋, maximum)``: ``min_ratio``/``max_ratio`` are ratios, ``minimum``/``maximum``
counts, and the result keeps the count bounds as ``lower``/``upper``. The continuous optimum
under these bounds is ``q_h = clip(λ w_h, f_h, u_h)`` with the one ``λ`` that spends the total
(or the budget); it is found by bisection and then solved exactly on the strata strictly
between their bounds.

**Rounding (largest remainder, Hamilton's method).** Each stratum first gets ``⌊q_h⌋``; the
units still missing from the total go, one each, to the strata with the largest fractional
parts ``q_h − ⌊q_h⌋`` (compared to 9 decimals). Ties go to the larger weight ``w_h``, then to
the stratum listed first. So every stratum gets ``⌊q_h⌋`` or ``⌊q_h⌋ + 1``, the bounds
hold, and the sizes add up to the total exactly. For a budget, the leftover inspector-days are
spent in the same order, one unit per stratum while they last, so the cost never exceeds it.

Because ``q_h`` never decreases when the total or budget grows, no stratum ever loses more than
one unit when the total grows; it can lose one (the "Alabama paradox" of largest-remainder
rounding), as the test suite shows on an example.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs
import numpy as np

from shuangsuiji.design._strata import (
    DesignError,
    FloatArray,
    IntArray,
    PerStratum,
    Strata,
    per_stratum,
)
from shuangsuiji.design._table import Table, Tabular
from shuangsuiji.model import TIERS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "ALLOCATION_METHODS",
    "Allocation",
    "InfeasibleAllocation",
    "allocate",
    "allocate_budget",
    "round_largest_remainder",
]

ALLOCATION_METHODS = ("proportional", "neyman", "optimal", "risk")
_SLACK = 1e-9
_TIE_DECIMALS = 9


class InfeasibleAllocation(DesignError):
    """The lower bounds need more than the total (or budget), or the upper bounds allow less."""


@attrs.frozen(eq=False, repr=False)
class Allocation(Tabular):
    """Integer sample sizes ``n`` per stratum, with the ``continuous`` optimum they round.

    ``lower``/``upper`` are the count bounds that applied, ``weights`` the method's ``w_h``,
    ``cost`` the inspector-days per inspection, ``budget`` the budget when one was allocated.
    """

    strata: Strata
    n: IntArray
    continuous: FloatArray
    lower: IntArray
    upper: IntArray
    weights: FloatArray
    cost: FloatArray
    method: str
    budget: float | None = None

    @property
    def total(self) -> int:
        """Entities to inspect in all."""
        return int(self.n.sum())

    @property
    def total_cost(self) -> float:
        """Inspector-days the allocation costs (``Σ c_h n_h``)."""
        return float(np.sum(self.cost * self.n))

    @property
    def ratios(self) -> FloatArray:
        """``n_h / N_h`` (0 for an empty stratum)."""
        sizes = self.strata.sizes
        return np.divide(self.n, sizes, out=np.zeros(len(sizes)), where=sizes > 0)

    def as_dict(self) -> dict[str, int]:
        """``{stratum label: n_h}``."""
        return dict(zip(self.strata.labels, self.n.tolist(), strict=True))

    def variance(self, p: PerStratum) -> float:
        """Variance of the stratified rate estimate under this allocation, for anticipated
        rates ``p`` (``Σ W_h² (1 − f_h) S_h² / n_h``); infinite if a stratum with ``N_h > 1``
        gets fewer than one inspection."""
        pv = per_stratum(p, self.strata, "p")
        return _variance(self.strata, pv, self.n.astype(np.float64))

    def _table(self) -> Table:
        budget = {} if self.budget is None else {"budget": self.budget}
        return self.strata.table(
            f"{self.method} allocation: {self.total:,} inspections",
            {
                "n": self.n,
                "ratio": self.ratios,
                "continuous": self.continuous,
                "lower": self.lower,
                "upper": self.upper,
                "cost": self.cost,
                "days": self.cost * self.n,
            },
            method=self.method,
            total=self.total,
            total_cost=self.total_cost,
            **budget,
        )

    def plot(self, ax: Axes | None = None) -> Axes:
        """Bar chart of the ratio per stratum with its lower and upper bounds (needs matplotlib)."""
        from shuangsuiji.design._plot import plot_allocation

        return plot_allocation(self, ax=ax)


def _variance(strata: Strata, p: FloatArray, n: FloatArray) -> float:
    big_n = strata.sizes.astype(np.float64)
    s2 = np.where(big_n > 1, big_n * p * (1 - p) / np.maximum(big_n - 1, 1), 0.0)
    needs = (s2 > 0) & (n < 1)
    if needs.any():
        return float("inf")
    safe_n = np.maximum(n, 1)
    term = strata.weights**2 * (1 - safe_n / np.maximum(big_n, 1)) * s2 / safe_n
    return float(np.sum(np.where(s2 > 0, term, 0.0)))


def _weights(
    strata: Strata,
    method: str,
    p: PerStratum,
    stddev: PerStratum | None,
    cost: FloatArray,
    multipliers: Mapping[str, float] | None,
) -> FloatArray:
    big_n = strata.sizes.astype(np.float64)
    if method == "proportional":
        return big_n
    if method == "risk":
        return big_n * _tier_multipliers(strata, multipliers)
    if method not in ("neyman", "optimal"):
        raise DesignError(f"method = {method!r}; choose one of {list(ALLOCATION_METHODS)}")
    if stddev is not None:
        s = per_stratum(stddev, strata, "stddev")
    else:
        pv = per_stratum(p, strata, "p")
        if ((pv < 0) | (pv > 1)).any():
            raise DesignError(f"p must lie in [0, 1], got {pv.tolist()}")
        s = np.sqrt(np.where(big_n > 1, big_n * pv * (1 - pv) / np.maximum(big_n - 1, 1), 0.0))
    if (s < 0).any():
        raise DesignError("stddev must not be negative")
    return big_n * s if method == "neyman" else big_n * s / np.sqrt(cost)


def _tier_multipliers(strata: Strata, multipliers: Mapping[str, float] | None) -> FloatArray:
    if multipliers is None:
        from shuangsuiji.policy import Policy

        multipliers = Policy.default().ratios.tier
    if (strata.tier < 0).any():
        bad = strata.labels[int(np.argmin(strata.tier))]
        raise DesignError(
            f"method='risk' needs strata split by tier; stratum {bad!r} has no tier "
            "(build the strata with Strata.from_pool(pool, by_tier=True))"
        )
    missing = [t for t in TIERS if t not in multipliers]
    if missing:
        raise DesignError(f"multipliers: give a multiplier for every tier; missing {missing}")
    if any(multipliers[t] < 0 for t in TIERS):
        raise DesignError("multipliers must not be negative")
    return np.asarray([multipliers[TIERS[t]] for t in strata.tier.tolist()], dtype=np.float64)


def _bounds(
    strata: Strata,
    min_ratio: float,
    minimum: int,
    max_ratio: float,
    maximum: PerStratum | None,
) -> tuple[IntArray, IntArray]:
    if not 0.0 <= min_ratio <= 1.0 or not 0.0 <= max_ratio <= 1.0:
        raise DesignError(
            f"min_ratio = {min_ratio} and max_ratio = {max_ratio} must be ratios in [0, 1] "
            "(for counts, use minimum= and maximum=)"
        )
    if min_ratio > max_ratio:
        raise DesignError(
            f"min_ratio = {min_ratio} is above max_ratio = {max_ratio}: no allocation can "
            "satisfy both; lower min_ratio or raise max_ratio"
        )
    if minimum < 0:
        raise DesignError(f"minimum = {minimum} must not be negative")
    big_n = strata.sizes
    upper = np.minimum(big_n, np.floor(max_ratio * big_n + _SLACK).astype(np.int64))
    if maximum is not None:
        upper = np.minimum(upper, per_stratum(maximum, strata, "maximum").astype(np.int64))
    lower = np.maximum(minimum, np.ceil(min_ratio * big_n - _SLACK).astype(np.int64))
    return np.minimum(lower, upper), upper


def _solve(
    weights: FloatArray, lower: IntArray, upper: IntArray, unit: FloatArray, target: float
) -> FloatArray:
    """The continuous allocation ``clip(λ w, lower, upper)`` whose ``Σ unit·q`` is ``target``.

    ``g(λ) = Σ unit·clip(λ w, lower, upper)`` is piecewise linear and non-decreasing with
    breakpoints ``lower/w`` and ``upper/w``. A bisection over the sorted breakpoints finds the
    segment holding ``target`` (``g`` evaluated directly, so weights spanning hundreds of
    orders of magnitude do not cancel), and ``λ`` is solved exactly on that segment.
    """
    lo_f, up_f = lower.astype(np.float64), upper.astype(np.float64)
    live = weights > 0
    fixed = float(np.sum(unit[~live] * lo_f[~live]))
    w, a, f, u = weights[live], unit[live], lo_f[live], up_f[live]
    if len(w) == 0 or target <= fixed + float(a @ f):
        return lo_f.copy()
    left, right = f / w, u / w

    def g(lam: float) -> float:
        return fixed + float(a @ np.clip(lam * w, f, u))

    points = np.unique(np.concatenate((left, right)))
    lo, hi = 0, len(points)  # smallest k with g(points[k]) >= target
    while lo < hi:
        mid = (lo + hi) // 2
        if g(float(points[mid])) < target:
            lo = mid + 1
        else:
            hi = mid
    if lo == 0 or lo == len(points) or g(float(points[lo])) == target:
        lam = float(points[min(lo, len(points) - 1)])
    else:
        middle_of_segment = (float(points[lo - 1]) + float(points[lo])) / 2
        below, above = left > middle_of_segment, right < middle_of_segment
        free = ~below & ~above
        settled = float(a[below] @ f[below]) + float(a[above] @ u[above])
        lam = (target - fixed - settled) / float(a[free] @ w[free])
    q = lo_f.copy()
    q[live] = np.clip(lam * w, f, u)
    return q


def _order(q: FloatArray, base: IntArray, weights: FloatArray) -> IntArray:
    frac = np.round(np.maximum(q - base, 0.0), _TIE_DECIMALS)
    index = np.arange(len(q))
    # np.lexsort sorts by the last key first: fractional part, then weight, then position.
    return np.lexsort((index, -weights, -frac)).astype(np.int64)


def round_largest_remainder(
    values: FloatArray,
    total: int,
    *,
    lower: IntArray | None = None,
    upper: IntArray | None = None,
    priority: FloatArray | None = None,
) -> IntArray:
    """Round non-negative ``values`` (summing to ``total``) to integers summing to ``total``.

    Largest remainder: ``⌊v⌋`` each, then one more to the largest fractional parts; ties go to
    the larger ``priority`` (default: the value itself), then to the earlier position.
    ``lower``/``upper`` bounds are respected (``values`` must lie within them).

    >>> round_largest_remainder(np.array([2.5, 2.5, 5.0]), 10).tolist()
    [3, 2, 5]
    >>> round_largest_remainder(np.array([1/3, 1/3, 1/3]), 1).tolist()
    [1, 0, 0]
    """
    q = np.asarray(values, dtype=np.float64)
    low = np.zeros(len(q), dtype=np.int64) if lower is None else np.asarray(lower, np.int64)
    high = np.full(len(q), np.iinfo(np.int64).max) if upper is None else np.asarray(upper, np.int64)
    base = np.clip(np.floor(q + _SLACK).astype(np.int64), low, high)
    missing = total - int(base.sum())
    order = _order(q, base, q if priority is None else np.asarray(priority, np.float64))
    room = order[base[order] < high[order]]
    if missing < 0 or missing > len(room):
        raise InfeasibleAllocation(
            f"cannot round {q.round(6).tolist()} to a total of {total} within the bounds"
        )
    base[room[:missing]] += 1
    return base


def _check_target(name: str, target: float, low: float, high: float, strata: Strata) -> None:
    if target < low - _SLACK:
        raise InfeasibleAllocation(
            f"{name} = {target:g} is below what the lower bounds need ({low:g}) across "
            f"{len(strata)} strata; raise the {name} or lower min_ratio/minimum"
        )
    if target > high + _SLACK:
        raise InfeasibleAllocation(
            f"{name} = {target:g} is above what the upper bounds allow ({high:g}); lower the "
            f"{name}, raise max_ratio/maximum, or give weight to strata that have none "
            "(e.g. p = 0 under Neyman)"
        )


def allocate(
    strata: Strata,
    total: int,
    *,
    method: str = "proportional",
    p: PerStratum = 0.5,
    stddev: PerStratum | None = None,
    cost: PerStratum = 1.0,
    multipliers: Mapping[str, float] | None = None,
    min_ratio: float = 0.0,
    minimum: int = 0,
    max_ratio: float = 1.0,
    maximum: PerStratum | None = None,
) -> Allocation:
    """Allocate ``total`` inspections across ``strata``; the sizes add up to ``total`` exactly.

    ``method`` is one of :data:`ALLOCATION_METHODS` (see the module docstring); ``p`` or
    ``stddev`` feed Neyman and cost-optimal weights, ``cost`` (inspector-days per inspection)
    the cost-optimal weights, ``multipliers`` (per tier letter; default: the default policy's
    tier ratios) the risk weights. ``min_ratio``/``minimum`` and ``max_ratio``/``maximum``
    bound each stratum (ratios and counts); see the module docstring for the rounding.

    >>> s = Strata.from_sizes({"A": 5800, "B": 3000, "C": 900, "D": 300})
    >>> allocate(s, 500).as_dict()
    {'A': 290, 'B': 150, 'C': 45, 'D': 15}
    >>> allocate(s, 500, method="risk", min_ratio=0.03).as_dict()
    {'A': 174, 'B': 96, 'C': 115, 'D': 115}
    """
    if total < 0 or int(total) != total:
        raise DesignError(f"total = {total!r} must be a non-negative whole number")
    c = _cost(cost, strata)
    w = _weights(strata, method, p, stddev, c, multipliers)
    lower, upper = _bounds(strata, min_ratio, minimum, max_ratio, maximum)
    reach = np.where(w > 0, upper, lower)
    _check_target("total", total, float(lower.sum()), float(reach.sum()), strata)
    q = _solve(w, lower, upper, np.ones(len(strata)), float(total))
    n = round_largest_remainder(q, int(total), lower=lower, upper=upper, priority=w)
    return Allocation(strata, n, q, lower, upper, w, c, method)


def allocate_budget(
    strata: Strata,
    budget: float,
    *,
    cost: PerStratum,
    method: str = "optimal",
    p: PerStratum = 0.5,
    stddev: PerStratum | None = None,
    multipliers: Mapping[str, float] | None = None,
    min_ratio: float = 0.0,
    minimum: int = 0,
    max_ratio: float = 1.0,
    maximum: PerStratum | None = None,
) -> Allocation:
    """Allocate an inspector-day ``budget`` when one inspection in stratum ``h`` costs
    ``cost[h]`` inspector-days (e.g. 2 officers × 0.5 day = 1.0); bounds as in :func:`allocate`.

    The cost never exceeds the budget; each stratum gets ``⌊q_h⌋`` or ``⌊q_h⌋ + 1`` of the
    continuous optimum (see the module docstring).

    >>> s = Strata.from_sizes({"A": 5800, "B": 3000, "C": 900, "D": 300})
    >>> a = allocate_budget(s, 600.0, cost={"A": 1, "B": 1, "C": 1.5, "D": 2},
    ...                     p={"A": 0.02, "B": 0.05, "C": 0.15, "D": 0.4})
    >>> a.as_dict(), a.total_cost
    ({'A': 236, 'B': 190, 'C': 76, 'D': 30}, 600.0)
    """
    if not np.isfinite(budget) or budget < 0:
        raise DesignError(f"budget = {budget!r} must be a non-negative number of inspector-days")
    c = _cost(cost, strata)
    w = _weights(strata, method, p, stddev, c, multipliers)
    lower, upper = _bounds(strata, min_ratio, minimum, max_ratio, maximum)
    reach = np.where(w > 0, upper, lower)
    _check_target("budget", budget, float(c @ lower), float(c @ reach), strata)
    q = _solve(w, lower, upper, c, float(budget))
    n = np.clip(np.floor(q + _SLACK).astype(np.int64), lower, upper)
    left = float(budget) - float(c @ n)
    for h in _order(q, n, w).tolist():
        if n[h] < upper[h] and q[h] > n[h] + _SLACK and c[h] <= left + _SLACK:
            n[h] += 1
            left -= float(c[h])
    return Allocation(strata, n, q, lower, upper, w, c, method, float(budget))


def _cost(cost: PerStratum, strata: Strata) -> FloatArray:
    c = per_stratum(cost, strata, "cost")
    if (c <= 0).any() or not np.isfinite(c).all():
        raise DesignError(f"cost must be positive inspector-days per inspection, got {c.tolist()}")
    return c
