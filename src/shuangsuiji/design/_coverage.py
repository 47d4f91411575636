"""Coverage and frequency: how often an entity is inspected over the years.

Each year (or each round of a task) stratum ``h`` draws ``n_t`` of its ``E_t`` eligible
entities; an entity inspected in the last ``w`` years (the exclusion window, "in principle
once a year") is not eligible. Sizes follow SSJ-DRAW-1, ``n_t = min(E_t, max(min,
⌈r·B_t⌉))``, with the ratio ``r`` applied either to the eligible candidates (``base=
"eligible"``, ``B_t = E_t``) or to the whole stratum (``base="stratum"``, ``B_t = N``).

**Exact.** Every inspection removes one entity from the eligible set for exactly ``w`` years,
so ``E_t = N − Σ_{j=1..w} n_{t−j}`` is known in advance. Given its eligibility, an entity is
drawn in year ``t`` with probability ``π_t = n_t / E_t`` whatever its own past, because a
draw takes the ``n_t`` smallest of fresh, exchangeable SHA-256 tickets. One entity therefore
follows a Markov chain over (years of exclusion left, inspections so far), and the chain
gives exactly: the distribution of the number of inspections over ``K`` years, the
probability of never being inspected, and the expected share covered after each year
(by linearity, the same as one entity's probability of having been inspected).

Populations are taken as fixed over the horizon (no new or deregistered entities, no tier
changes), and every entity starts eligible. :func:`simulate_coverage` checks the chain with
the real draw engine and also estimates what the chain cannot give: the chance that *every*
entity of a stratum has been inspected by year ``k``.
"""

from __future__ import annotations

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
from shuangsuiji.draw import SizeRule

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["BASES", "Coverage", "coverage", "size_rule", "sizes_by_year"]

BASES = ("eligible", "stratum")
_SLACK = 1e-9


def size_rule(ratio: float, minimum: int = 0) -> SizeRule:
    """The draw engine's :class:`~shuangsuiji.draw.SizeRule` for a design ratio.

    Sizes are the engine's own (exact rationals: a ratio of 0.07 on 100 entities is 7).

    >>> size_rule(0.07).size(100), size_rule(0.03, minimum=1).size(7)
    (7, 1)
    """
    return SizeRule(ratio=float(ratio), minimum=int(minimum))


def sizes_by_year(
    strata: Strata,
    ratio: PerStratum,
    *,
    years: int,
    window: int = 1,
    base: str = "eligible",
    minimum: PerStratum = 0,
) -> tuple[IntArray, IntArray]:
    """Eligible counts ``E_t`` and sample sizes ``n_t`` per stratum and year, shape (H, years).

    >>> s = Strata.from_sizes({"A": 100})
    >>> e, n = sizes_by_year(s, 0.3, years=4, window=2, base="stratum")
    >>> e.tolist(), n.tolist()
    ([[100, 70, 40, 40]], [[30, 30, 30, 30]])
    """
    if years < 1:
        raise DesignError(f"years = {years} must be at least 1")
    if window < 0:
        raise DesignError(f"window = {window} must be 0 (no exclusion) or more years")
    if base not in BASES:
        raise DesignError(f"base = {base!r}; choose one of {list(BASES)}")
    r = per_stratum(ratio, strata, "ratio")
    if ((r < 0) | (r > 1)).any():
        raise DesignError(f"ratio must lie in [0, 1], got {r.tolist()}")
    low = per_stratum(minimum, strata, "minimum").astype(np.int64)
    big_n = strata.sizes
    rules = [size_rule(r[h], low[h]) for h in range(len(strata))]
    eligible = np.zeros((len(strata), years), dtype=np.int64)
    sizes = np.zeros((len(strata), years), dtype=np.int64)
    for t in range(years):
        recent = sizes[:, max(0, t - window) : t].sum(axis=1) if window else 0
        eligible[:, t] = big_n - recent
        for h, rule in enumerate(rules):
            e = int(eligible[h, t])
            sizes[h, t] = rule.size(e) if base == "eligible" else min(e, rule.size(int(big_n[h])))
    return eligible, sizes


@attrs.frozen(eq=False, repr=False)
class Coverage(Tabular):
    """How often entities are inspected over ``years`` years, per stratum.

    Arrays have one row per stratum: ``eligible``/``sizes``/``inclusion`` (H, K) give ``E_t``,
    ``n_t`` and ``π_t`` per year; ``count_pmf`` (H, K+1) the distribution of the number of
    inspections of one entity over the K years; ``covered`` (H, K) the expected share of the
    stratum inspected at least once by the end of each year. :func:`simulate_coverage` fills
    ``standard_error`` (of ``covered``) and ``all_covered`` (share of runs in which every
    entity was covered by year k); they are ``None`` for the exact chain.
    """

    strata: Strata
    years: int
    window: int
    base: str
    eligible: IntArray
    sizes: IntArray
    inclusion: FloatArray
    count_pmf: FloatArray
    covered: FloatArray
    standard_error: FloatArray | None = None
    all_covered: FloatArray | None = None
    method: str = "exact"

    @property
    def p_never(self) -> FloatArray:
        """P(an entity is never inspected in the K years), per stratum."""
        return self.count_pmf[:, 0]

    @property
    def expected_count(self) -> FloatArray:
        """Expected inspections of one entity over the K years, per stratum."""
        return self.count_pmf @ np.arange(self.years + 1)

    @property
    def overall_covered(self) -> FloatArray:
        """Expected share of the whole population covered by the end of each year."""
        return self.strata.weights @ self.covered

    @property
    def overall_count_pmf(self) -> FloatArray:
        """Distribution of the number of inspections of an entity drawn at random."""
        return self.strata.weights @ self.count_pmf

    def years_to(self, share: float) -> FloatArray:
        """First year by which the expected covered share reaches ``share``, per stratum
        (``inf`` if not within the horizon)."""
        reached = self.covered >= share - _SLACK
        first = np.argmax(reached, axis=1).astype(np.float64) + 1
        return np.where(reached.any(axis=1), first, np.inf)

    def _table(self) -> Table:
        """Per stratum and year (long format): the strata's index levels, then ``year``."""
        k = self.years
        columns = {
            "N": np.repeat(self.strata.sizes, k),
            "eligible": self.eligible.ravel(),
            "n": self.sizes.ravel(),
            "inclusion": self.inclusion.ravel(),
            "covered": self.covered.ravel(),
        }
        if self.standard_error is not None:
            columns["covered_se"] = self.standard_error.ravel()
        if self.all_covered is not None:
            columns["all_covered"] = self.all_covered.ravel()
        return Table(
            f"coverage ({self.method}) over {self.years} years, exclusion window {self.window}",
            (*self.strata.levels, "year"),
            [(*key, year) for key in self.strata.keys for year in range(1, k + 1)],
            columns,
            {
                "method": self.method,
                "years": self.years,
                "window": self.window,
                "base": self.base,
                "overall_covered": float(self.overall_covered[-1]),
            },
        )

    def summary(self) -> Table:
        """One row per stratum after the K years: expected share covered, P(never inspected)
        and expected inspections per entity (what the notebook display shows)."""
        return self.strata.table(
            f"coverage ({self.method}) after {self.years} years, exclusion window {self.window}",
            {
                "covered": self.covered[:, -1],
                "p_never": self.p_never,
                "expected_count": self.expected_count,
            },
            method=self.method,
            overall_covered=float(self.overall_covered[-1]),
        )

    def _display_table(self) -> Table:
        return self.summary()

    def plot(self, ax: Axes | None = None) -> Axes:
        """Coverage curves per stratum and overall (needs matplotlib)."""
        from shuangsuiji.design._plot import plot_coverage

        return plot_coverage(self, ax=ax)


def coverage(
    strata: Strata,
    ratio: PerStratum,
    *,
    years: int,
    window: int = 1,
    base: str = "eligible",
    minimum: PerStratum = 0,
) -> Coverage:
    """Exact coverage and frequency under yearly ratios and an exclusion window (module doc).

    >>> s = Strata.from_sizes({"A": 1000, "D": 100})
    >>> c = coverage(s, {"A": 0.03, "D": 0.6}, years=5, window=1)
    >>> c.p_never.round(4).tolist(), c.years_to(0.99).tolist()
    ([0.8555, 0.0095], [inf, 5.0])
    """
    eligible, sizes = sizes_by_year(
        strata, ratio, years=years, window=window, base=base, minimum=minimum
    )
    inclusion = np.divide(
        sizes, eligible, out=np.zeros(sizes.shape, dtype=np.float64), where=eligible > 0
    )
    h = len(strata)
    # state[h, e, c]: e = 0 eligible, e = j > 0 excluded for j more years; c inspections so far
    state = np.zeros((h, window + 1, years + 1))
    state[:, 0, 0] = 1.0
    covered = np.zeros((h, years))
    for t in range(years):
        pi = inclusion[:, t][:, None]
        free = state[:, 0, :]
        hit = np.zeros_like(free)
        hit[:, 1:] = free[:, :-1] * pi
        nxt = np.zeros_like(state)
        nxt[:, 0, :] = free * (1 - pi)
        if window:
            nxt[:, 0, :] += state[:, 1, :]
            nxt[:, 1:window, :] = state[:, 2:, :]
            nxt[:, window, :] = hit
        else:
            nxt[:, 0, :] += hit
        state = nxt
        covered[:, t] = 1.0 - state[:, :, 0].sum(axis=1)
    count_pmf = state.sum(axis=1)
    return Coverage(strata, years, window, base, eligible, sizes, inclusion, count_pmf, covered)
