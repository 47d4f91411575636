"""Draw health (抽查健康度): do a period's draws look like the lotteries they claim to be?

A draw that follows SSJ-DRAW-1 can be re-derived from its record, but a record alone cannot
show that nobody steered *which* draws were kept, re-drawn or replaced, or how teams were
really formed. Over a period (a quarter, a year) the draws leave a statistical trace: each
entity and each inspector is drawn about as often as the design says. This module compares
the two and tests whether the difference is larger than chance.

**The model.** Every draw is a :class:`Lottery`: candidates, each with its inclusion
probability ``π``, and the selected ones. In an entity draw stratum ``s`` selects ``n_s`` of
``N_s`` candidates, so ``π = n_s / N_s``; in team assignment an entity's team of ``k`` comes
from its eligible inspectors (after recusal), ``π = k / |eligible|`` (per department for joint
teams). Draws use independent seeds, so a unit's count over the period,
``X = Σ Bernoulli(π_d)``, is **Poisson-binomial** with mean ``E = Σ π_d`` and variance
``V = Σ π_d (1 - π_d)``. Its exact distribution is computed for every unit by a vectorised
dynamic programme over the draws (counts above ``max(x, E + 10 sd + 10)`` share one cell,
which leaves every tail used below exact).

**Three tests**, each at level ``alpha / (number of tests)`` so that an honest period raises
a false alarm with probability at most ``alpha``:

1. ``units`` — every unit's one-sided exact tails ``P(X ≤ x)`` ("too rarely") and
   ``P(X ≥ x)`` ("too often"), each direction a family at half the test's level with
   Tarone's correction for discrete tests: units that could not reach the threshold even in
   the most extreme outcome (an entity of a 3% stratum is never drawn in 12 draws with
   probability 0.69) do not dilute it. It names the high-risk entity that was never drawn, or
   the inspector who joined far too many teams. Entities with small inclusion probabilities
   cannot be flagged one by one; groups of them are the next test's job.
2. ``spread`` — each unit's mid-p value ``P(X < x) + P(X = x)/2`` places its count on the
   scale of its own distribution. Their histogram (10 bins, merged until each expects at
   least 5) is compared with the histogram the design implies, computed exactly from every
   unit's distribution, by a Wald chi-square with the histogram's exact covariance. Too many
   units at the bottom (never or rarely drawn) or at the top (drawn again and again) — a
   favoured group, a harassed one — shows here, and so do counts that are *too even* (a
   rotation passed off as a lottery). The covariance treats units as independent; within a
   fixed-size draw they are slightly negatively dependent, which makes the test conservative
   (fewer false alarms than ``alpha``). Workload caps in team assignment even counts out
   too: read an inspector-side ``spread`` alarm with that in mind.
3. ``tickets`` (when the draws' tickets are given) — in a stratum of ``N`` candidates the
   selected and alternate tickets ``u_1 < u_2 < …`` (as fractions of ``2**256``) are the
   smallest of ``N`` independent uniforms, so ``1 - ((1 - u_k) / (1 - u_{k-1}))**(N - k + 1)``
   are independent uniforms (Rényi's representation). A Kolmogorov–Smirnov test on them
   checks that the recorded tickets behave like SSJ-DRAW-1 tickets of the recorded pool: it
   flags tickets not made by SHA-256 and candidates removed after their tickets were known.

Each test's ``p_value`` is compared with its share of ``alpha``; the report is
:attr:`HealthReport.suspicious` when any test rejects. The tests use plain arithmetic and
``scipy.stats``; nothing here draws random numbers.

>>> draws = [Lottery.stratified(f"T{i}", ["A", "B", "C", "D"], ["x", "x", "y", "y"],
...                             selected=["A", "C"]) for i in range(20)]
>>> report = draw_health(draws, alpha=0.01)
>>> [(f.id, f.direction) for f in report.flagged]
[('A', 'too often'), ('B', 'too rarely'), ('C', 'too often'), ('D', 'too rarely')]
>>> report.suspicious
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
import numpy as np
import numpy.typing as npt
from scipy import stats

from shuangsuiji.errors import UnknownKeyError
from shuangsuiji.labels import (
    direction_label,
    health_detail_label,
    health_subject_label,
    health_test_label,
)
from shuangsuiji.lottery import F64, HealthInputError, Lottery, StratumTickets

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DETAILS",
    "TOO_FEW",
    "CheckResult",
    "HealthInputError",
    "HealthReport",
    "Lottery",
    "StratumTickets",
    "UnitFlag",
    "UnitStats",
    "check_alpha",
    "draw_health",
    "ticket_uniformity",
]

I64 = npt.NDArray[np.int64]

Direction = Literal["too often", "too rarely"]

_SPREAD_BINS = 10
_MIN_EXPECTED = 5.0
_CHUNK_UNITS = 2048
_TAIL_SIGMAS = 10.0
TOO_FEW = ("too_few_replays",)
"""The detail key a replay test adds when it has too few replays to reject."""

DETAILS: Final[Mapping[str, str]] = {
    "units": (
        "{units} units; one-sided exact tails, Tarone-Bonferroni divisors {low} (too rarely) "
        "and {high} (too often); {flagged} flagged"
    ),
    "spread": (
        "{units} units in {bins} bins of mid-p; lowest bin {lowest:.0f} vs {lowest_expected:.1f} "
        "expected, highest {highest:.0f} vs {highest_expected:.1f}"
    ),
    "spread_too_few": "too few units for a histogram (each bin needs ≥ 5)",
    "tickets": "{tickets} tickets from {strata} strata; mean {mean:.3f} (0.5)",
    "replay_units": (
        "{units} units, largest z {z_max:.2f} and smallest {z_min:.2f} against {replays} "
        "replays (max-T); {flagged} flagged"
    ),
    "replay_spread": (
        "sum of z² {total:.1f}, replays {median:.1f} median ({q_low:.1f}–{q_high:.1f}); two-sided"
    ),
    "too_few_replays": ("; too few replays to reject at this level (need {need} null replays)"),
}
"""The English wording of each test's detail, by key, filled with the test's facts (the
``detail`` of :meth:`HealthReport.to_dict`); the Chinese wording of the same keys is
:data:`shuangsuiji.labels.HEALTH_DETAIL_LABELS`."""


@attrs.frozen
class CheckResult:
    """One test of the period: its statistic, p-value and verdict at its share of alpha.

    For ``units`` the statistic is the smallest two-sided p-value and ``p_value`` its
    Bonferroni adjustment (so ``rejected`` exactly when Holm's procedure flags a unit); for
    ``spread`` Pearson's chi-square with ``dof``; for ``tickets`` the KS distance.
    """

    name: str
    statistic: float
    p_value: float
    level: float
    dof: int | None = None
    detail: str = ""
    #: The keys of the detail's wording (:data:`DETAILS`) and the facts that fill it, so that
    #: it can be said in Chinese too (:func:`shuangsuiji.labels.health_detail_label`).
    detail_keys: tuple[str, ...] = ()
    facts: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    @classmethod
    def worded(
        cls,
        name: str,
        statistic: float,
        p_value: float,
        level: float,
        dof: int | None,
        keys: tuple[str, ...],
        **facts: Any,
    ) -> CheckResult:
        """A result whose ``detail`` is :data:`DETAILS`' wording of ``keys`` with ``facts``."""
        detail = "".join(DETAILS[k].format_map(facts) for k in keys)
        return cls(name, statistic, p_value, level, dof, detail, keys, facts)

    @property
    def rejected(self) -> bool:
        """True when the p-value is at or below the test's level."""
        return self.p_value <= self.level

    @property
    def detail_label(self) -> str:
        """The detail in Chinese (the English ``detail`` when it has no worded keys)."""
        return health_detail_label(self.detail_keys, self.facts, self.detail)


@attrs.frozen
class UnitFlag:
    """A unit whose count is implausible under the design (Holm-corrected)."""

    id: str
    observed: int
    expected: float
    p_value: float
    direction: Direction

    def __str__(self) -> str:
        return (
            f"{self.id}: drawn {self.observed} times, expected {self.expected:.2f} "
            f"({self.direction}, p = {self.p_value:.2g})"
        )


@attrs.frozen(eq=False)
class UnitStats:
    """Per-unit columns (numpy arrays, one entry per unit, sorted by ID)."""

    ids: tuple[str, ...]
    trials: I64
    observed: I64
    expected: F64
    variance: F64
    p_low: F64
    p_high: F64
    mid_p: F64

    @property
    def z(self) -> F64:
        """``(observed - expected) / sqrt(variance)``; NaN where the count cannot vary."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out: F64 = (self.observed - self.expected) / np.sqrt(self.variance)
        return np.where(self.variance > 0, out, np.nan)

    @property
    def p_value(self) -> F64:
        """Two-sided exact tail: ``min(1, 2 min(P(X ≤ x), P(X ≥ x)))``."""
        out: F64 = np.minimum(1.0, 2 * np.minimum(self.p_low, self.p_high))
        return out


def _chinese_first(label: str, term: str) -> str:
    return term if label == term else f"{label} {term}"


_NOT_IN_JSON = (
    attrs.fields(CheckResult).dof,
    attrs.fields(CheckResult).detail_keys,
    attrs.fields(CheckResult).facts,
)


@attrs.frozen(eq=False)
class HealthReport:
    """The health of a period's draws for one kind of unit (entities or inspectors)."""

    subject: str
    lotteries: int
    alpha: float
    units: UnitStats
    flagged: tuple[UnitFlag, ...]
    tests: tuple[CheckResult, ...]

    @property
    def suspicious(self) -> bool:
        """True when any test rejects at its share of ``alpha``."""
        return any(t.rejected for t in self.tests)

    def test(self, name: str) -> CheckResult:
        """The test called ``name`` (``units``, ``spread`` or ``tickets``)."""
        for t in self.tests:
            if t.name == name:
                return t
        raise UnknownKeyError(
            f"no test {name!r} in this report; have {[t.name for t in self.tests]}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The verdict, the tests and the flagged units as JSON-able values (for scripts)."""
        return {
            "suspicious": self.suspicious,
            "draws": self.lotteries,
            "units": len(self.units.ids),
            "alpha": self.alpha,
            "tests": [
                attrs.asdict(t, filter=attrs.filters.exclude(*_NOT_IN_JSON))
                | {"rejected": t.rejected}
                for t in self.tests
            ],
            "flagged": [attrs.asdict(f) for f in self.flagged],
        }

    def summary(self) -> str:
        """A few lines for a log or a terminal, Chinese first with the English term.

        >>> lot = Lottery.stratified("T1", ["A", "B"], ["x", "x"], selected=["A"])
        >>> head, *tests = draw_health([lot]).summary().splitlines()
        >>> for part in head.split("："):
        ...     print(part)
        检查对象抽查健康度 draw health of entities
        1 次抽取 (draws)，2 个单位 (units)，α 0.01
        未见异常 no alarm
        >>> [t.split("：")[0] for t in tests]
        ['  逐个单位检验 units', '  分布检验 spread']
        """
        verdict = "可疑 SUSPICIOUS" if self.suspicious else "未见异常 no alarm"
        subject = health_subject_label(self.subject)
        whose = "" if subject == self.subject else subject
        lines = [
            f"{whose}抽查健康度 draw health of {self.subject}："
            f"{self.lotteries} 次抽取 (draws)，{len(self.units.ids)} 个单位 (units)，"
            f"α {self.alpha:g}：{verdict}"
        ]
        for t in self.tests:
            mark = "异常 REJECT" if t.rejected else "通过 ok"
            dof = f"，自由度 {t.dof}" if t.dof is not None else ""
            lines.append(
                f"  {_chinese_first(health_test_label(t.name), t.name)}："
                f"统计量 {t.statistic:.4g}{dof}，"
                f"p = {t.p_value:.3g}（检验水平 {t.level:.3g}）{mark}。{t.detail_label}"
            )
        lines.extend(
            f"  标记 flagged：{f.id} 抽中 {f.observed} 次，期望 {f.expected:.2f}"
            f"（{direction_label(f.direction)} {f.direction}，p = {f.p_value:.2g}）"
            for f in self.flagged
        )
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The per-unit table as a pandas DataFrame (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - exercised only without pandas
            raise ImportError(
                "HealthReport.to_frame needs pandas: pip install 'shuangsuiji[pandas]'"
            ) from None
        u = self.units
        flagged = {f.id for f in self.flagged}
        return pd.DataFrame(
            {
                "id": list(u.ids),
                "trials": u.trials,
                "expected": u.expected,
                "observed": u.observed,
                "z": u.z,
                "p_low": u.p_low,
                "p_high": u.p_high,
                "p_value": u.p_value,
                "flagged": [i in flagged for i in u.ids],
            }
        )


# -- Poisson-binomial distributions ---------------------------------------------------------


@attrs.frozen(eq=False)
class _Trials:
    """All Bernoulli trials of a period, grouped by unit (``start[j]`` … ``start[j] + K_j``)."""

    ids: tuple[str, ...]
    p: F64
    start: I64
    count: I64
    observed: I64


def _collect(lotteries: Sequence[Lottery]) -> _Trials:
    if not lotteries:
        raise HealthInputError("no draws given: pass at least one Lottery")
    ids = np.concatenate([np.asarray(lot.candidates, dtype=str) for lot in lotteries])
    p = np.concatenate([lot.probabilities for lot in lotteries])
    hit = np.concatenate([lot.hits for lot in lotteries])
    names, unit = np.unique(ids, return_inverse=True)
    n = len(names)
    observed = np.bincount(unit, weights=hit, minlength=n).astype(np.int64)
    keep = p > 0
    unit, p = unit[keep], p[keep]
    order = np.argsort(unit, kind="stable")
    count = np.bincount(unit, minlength=n).astype(np.int64)
    start = np.concatenate(([0], np.cumsum(count)[:-1])).astype(np.int64)
    return _Trials(tuple(names.tolist()), p[order], start, count, observed)


def _fast_chunks(trials: _Trials) -> tuple[F64, F64, Iterator[tuple[I64, F64]]]:
    """Per-unit mean and variance, and the pmf of every unit in chunks (independent trials)."""
    n = len(trials.ids)
    unit = np.repeat(np.arange(n), trials.count)
    mean = np.bincount(unit, weights=trials.p, minlength=n).astype(np.float64)
    var = np.bincount(unit, weights=trials.p * (1 - trials.p), minlength=n).astype(np.float64)
    reach = np.ceil(mean + _TAIL_SIGMAS * np.sqrt(var) + _TAIL_SIGMAS).astype(np.int64)
    cap = np.minimum(trials.count, np.maximum(trials.observed + 1, reach))
    order = np.argsort(-trials.count, kind="stable")

    def chunks() -> Iterator[tuple[I64, F64]]:
        for first in range(0, n, _CHUNK_UNITS):
            units = order[first : first + _CHUNK_UNITS]
            yield units, _pmf_chunk(trials, units, int(cap[units].max()))

    return mean, var, chunks()


def _distributions(
    chunks: Iterable[tuple[I64, F64]], observed: I64, var: F64, bins: int
) -> tuple[F64, F64, F64, F64, F64]:
    """Exact tails and mid-p per unit, and the expected histogram of mid-p values."""
    n = len(observed)
    p_low, p_high, mid = np.ones(n), np.ones(n), np.full(n, 0.5)
    expected_bins = np.zeros(bins)
    gram = np.zeros((bins, bins))
    for units, pmf in chunks:
        x = observed[units][:, None]
        cdf = np.cumsum(pmf, axis=1)
        sf = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
        p_low[units] = np.take_along_axis(cdf, x, axis=1)[:, 0]
        p_high[units] = np.take_along_axis(sf, x, axis=1)[:, 0]
        mids = cdf - pmf / 2
        mid[units] = np.take_along_axis(mids, x, axis=1)[:, 0]
        varying = var[units] > 0
        cells = np.minimum((mids[varying] * bins).astype(np.int64), bins - 1)
        rows = np.repeat(np.arange(cells.shape[0]), cells.shape[1])
        share = np.bincount(
            rows * bins + cells.ravel(),
            weights=pmf[varying].ravel(),
            minlength=cells.shape[0] * bins,
        ).reshape(-1, bins)
        expected_bins += share.sum(axis=0)
        gram += share.T @ share
    return np.minimum(p_low, 1.0), np.minimum(p_high, 1.0), mid, expected_bins, gram


# -- draws linked by an exclusion window ------------------------------------------------------


@attrs.frozen(eq=False)
class _Linked:
    """Units of a period whose draws exclude earlier draws' selections: exact pmfs."""

    ids: tuple[str, ...]
    trials: I64
    observed: I64
    mean: F64
    var: F64
    low_min: F64
    high_min: F64
    pmf: F64  # one row per unit, counts 0 .. most trials


def _sequence_pmf(
    lots: Sequence[int], probs: Sequence[float], blockers: Sequence[frozenset[int]]
) -> list[float]:
    """The count distribution of one unit's trials, in draw order, ``lots[t]`` the draw of
    trial ``t``: a trial is skipped when an earlier trial of a draw in ``blockers[lots[t]]``
    hit. The state is the count and the hits that can still block a later trial."""
    m = len(lots)
    block = [frozenset(u for u in range(t) if lots[u] in blockers[lots[t]]) for t in range(m)]
    later = [frozenset().union(*block[t + 1 :]) for t in range(m)]
    states: dict[tuple[int, frozenset[int]], float] = {(0, frozenset()): 1.0}
    for t in range(m):
        step: dict[tuple[int, frozenset[int]], float] = {}
        for (count, hits), pr in states.items():
            keep = (count, hits & later[t])
            if hits & block[t]:
                step[keep] = step.get(keep, 0.0) + pr
                continue
            hit = (count + 1, (hits | {t}) & later[t])
            step[keep] = step.get(keep, 0.0) + pr * (1 - probs[t])
            step[hit] = step.get(hit, 0.0) + pr * probs[t]
        states = step
    pmf = [0.0] * (m + 1)
    for (count, _), pr in states.items():
        pmf[count] += pr
    return pmf


def _check_links(draws: Sequence[Lottery]) -> list[frozenset[int]]:
    """Each draw's blockers as indices of earlier draws; the blocked units must be exactly the
    earlier selections that the window removed (none of them may still be a candidate)."""
    index: dict[str, int] = {}
    out: list[frozenset[int]] = []
    for i, lot in enumerate(draws):
        if lot.label in index:
            raise HealthInputError(
                f"lottery {lot.label!r} appears twice; draws linked by an exclusion window "
                "need distinct labels"
            )
        missing = sorted(lot.blocked_by.difference(index))
        if missing:
            raise HealthInputError(
                f"lottery {lot.label!r} is blocked by {missing}, which are not earlier draws "
                "of the period; give the lotteries in the order they were drawn"
            )
        blockers = frozenset(index[b] for b in lot.blocked_by)
        hit = frozenset().union(*(draws[j].selected for j in blockers))
        stray = sorted(set(lot.blocked).difference(hit))
        if stray:
            raise HealthInputError(
                f"lottery {lot.label!r}: blocked units {stray[:5]} were not selected by any "
                f"of {sorted(lot.blocked_by)}"
            )
        again = sorted(hit.intersection(lot.candidates))
        if again:
            raise HealthInputError(
                f"lottery {lot.label!r}: candidates {again[:5]} were selected by "
                f"{sorted(lot.blocked_by)}, which should have excluded them"
            )
        index[lot.label] = i
        out.append(blockers)
    return out


def _linked(draws: Sequence[Lottery]) -> _Linked:
    """Exact per-unit distributions when some draws exclude earlier draws' selections.

    Units with the same sequence of (draw, probability) share one distribution: the small
    dynamic programme of :func:`_sequence_pmf` runs once per distinct sequence.
    """
    blockers = _check_links(draws)
    ids = np.concatenate([np.asarray([*lot.candidates, *lot.blocked], dtype=str) for lot in draws])
    p = np.concatenate(
        [np.concatenate([lot.probabilities, lot.blocked_probabilities]) for lot in draws]
    )
    lot_of = np.concatenate(
        [np.full(len(lot.candidates) + len(lot.blocked), i) for i, lot in enumerate(draws)]
    )
    hit = np.concatenate([np.r_[lot.hits, np.zeros(len(lot.blocked), dtype=bool)] for lot in draws])
    names, unit = np.unique(ids, return_inverse=True)
    n = len(names)
    observed = np.bincount(unit, weights=hit, minlength=n).astype(np.int64)
    order = np.lexsort((lot_of, unit))
    unit, p, lot_of = unit[order], p[order], lot_of[order]
    count = np.bincount(unit, minlength=n)
    width = int(count.max(initial=0))
    pos = np.arange(len(unit)) - np.repeat(np.cumsum(count) - count, count)
    lots = np.full((n, width), -1, dtype=np.int64)
    probs = np.zeros((n, width))
    lots[unit, pos] = lot_of
    probs[unit, pos] = p
    signatures, inverse = np.unique(
        np.concatenate([lots.astype(np.float64), probs], axis=1), axis=0, return_inverse=True
    )
    table = np.zeros((len(signatures), width + 1))
    for g, row in enumerate(signatures):
        size = int(np.count_nonzero(row[:width] >= 0))
        table[g, : size + 1] = _sequence_pmf(
            row[:size].astype(np.int64).tolist(), row[width : width + size].tolist(), blockers
        )
    pmf = table[inverse.reshape(-1)]
    x = np.arange(width + 1)
    mean = pmf @ x
    var = np.maximum(pmf @ x**2 - mean**2, 0.0)
    support = pmf > 0
    first = np.argmax(support, axis=1)
    last = width - np.argmax(support[:, ::-1], axis=1)
    rows = np.arange(n)
    return _Linked(
        tuple(names.tolist()),
        count.astype(np.int64),
        observed,
        mean,
        var,
        pmf[rows, first],
        pmf[rows, last],
        pmf,
    )


def _pmf_chunk(trials: _Trials, units: I64, cap: int) -> F64:
    """Poisson-binomial pmf of each unit on 0..cap, the last cell holding P(X >= cap).

    ``units`` are ordered by decreasing trial count, so at step ``t`` the units that still
    have a t-th trial are a prefix of the rows.
    """
    counts = trials.count[units]
    starts = trials.start[units]
    pmf = np.zeros((len(units), cap + 1))
    pmf[:, 0] = 1.0
    for t in range(int(counts.max(initial=0))):
        active = int(np.searchsorted(-counts, -t, side="left"))
        q = trials.p[starts[:active] + t][:, None]
        hi = min(t + 1, cap)
        block = pmf[:active, : hi + 1]
        moved = block[:, :hi] * q
        top = block[:, hi].copy()
        block *= 1 - q
        block[:, 1:] += moved
        if t + 1 > cap:  # the last cell is absorbing: X >= cap stays so
            block[:, hi] += top * q[:, 0]
    return pmf


# -- tests ----------------------------------------------------------------------------------


def _tarone(p: F64, attainable: F64, level: float) -> tuple[npt.NDArray[np.bool_], int]:
    """Tarone's Bonferroni correction for discrete tests: rejections and the divisor ``K``.

    A unit whose smallest attainable p-value exceeds ``level / K`` can never be rejected at
    that threshold, so it need not count: ``K`` is the smallest number with at most ``K``
    units able to reach ``level / K``. The family-wise error stays at most ``level``.
    """
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool), 1
    divisors = np.arange(1, m + 1)
    able = np.searchsorted(np.sort(attainable), level / divisors, side="right")
    k = int(divisors[np.argmax(able <= divisors)])
    return (p <= level / k) & (attainable <= level / k), k


def _merge_groups(expected: F64) -> list[list[int]]:
    """Adjacent bins merged left to right until each group expects at least 5 units."""
    groups: list[list[int]] = [[]]
    total = 0.0
    for b, e in enumerate(expected):
        groups[-1].append(b)
        total += e
        if total >= _MIN_EXPECTED:
            groups.append([])
            total = 0.0
    if not groups[-1]:
        groups.pop()
    elif len(groups) > 1:
        groups[-2].extend(groups.pop())
    return groups


def _spread_test(mid: F64, expected_bins: F64, gram: F64, level: float, bins: int) -> CheckResult:
    """Wald chi-square of the mid-p histogram against its exact mean and covariance.

    Unit ``j`` falls in bin ``b`` with probability ``P_jb``; the histogram has mean
    ``Σ_j P_j`` and covariance ``diag(Σ_j P_j) - Σ_j P_j P_jᵀ`` (units independent). Pearson's
    statistic would assume a common ``P`` and be conservative for a mixed population.
    """
    observed = np.bincount(np.minimum((mid * bins).astype(np.int64), bins - 1), minlength=bins)
    groups = _merge_groups(expected_bins)
    if len(groups) < 2:
        return CheckResult.worded("spread", 0.0, 1.0, level, 0, ("spread_too_few",))
    merge = np.zeros((bins, len(groups)))
    for g, members in enumerate(groups):
        merge[members, g] = 1.0
    o, e = observed @ merge, expected_bins @ merge
    cov = np.diag(e) - merge.T @ gram @ merge
    dof = int(np.linalg.matrix_rank(cov, tol=1e-9 * float(e.sum())))
    wald = float((o - e) @ np.linalg.pinv(cov, rcond=1e-9, hermitian=True) @ (o - e))
    return CheckResult.worded(
        "spread",
        wald,
        float(stats.chi2.sf(wald, dof)),
        level,
        dof,
        ("spread",),
        units=len(mid),
        bins=len(e),
        lowest=float(o[0]),
        lowest_expected=float(e[0]),
        highest=float(o[-1]),
        highest_expected=float(e[-1]),
    )


def ticket_uniformity(strata: Iterable[StratumTickets], *, level: float = 0.01) -> CheckResult:
    """Kolmogorov–Smirnov test that recorded tickets are the smallest of N uniform tickets.

    >>> import hashlib
    >>> ids = [f"E{i}" for i in range(500)]
    >>> t = sorted(hashlib.sha256(b"k" + i.encode()).hexdigest() for i in ids)[:40]
    >>> ticket_uniformity([StratumTickets("demo", 500, t)]).rejected
    False
    >>> ticket_uniformity([StratumTickets("demo", 5000, t)]).rejected  # pool was not 5000
    True
    """
    items = list(strata)
    if not items:
        raise HealthInputError("no strata given: pass the tickets of at least one stratum")
    values = np.concatenate([s.uniforms() for s in items])
    result = stats.kstest(values, "uniform")
    return CheckResult.worded(
        "tickets",
        float(result.statistic),
        float(result.pvalue),
        level,
        None,
        ("tickets",),
        tickets=int(values.size),
        strata=len(items),
        mean=float(values.mean()),
    )


def _attainable(trials: _Trials) -> tuple[F64, F64]:
    """Per unit the smallest possible P(X <= x) and P(X >= x): P(X = min) and P(X = max)."""
    n = len(trials.ids)
    unit = np.repeat(np.arange(n), trials.count)
    certain = trials.p >= 1
    never = np.bincount(unit[~certain], np.log1p(-trials.p[~certain]), minlength=n)
    always = np.bincount(unit, np.log(trials.p), minlength=n)
    return np.exp(never).astype(np.float64), np.exp(always).astype(np.float64)


def _unit_test(
    units: UnitStats, low_min: F64, high_min: F64, varying: I64, level: float
) -> tuple[CheckResult, tuple[UnitFlag, ...]]:
    """One-sided exact tails in each direction, each family at ``level / 2`` (Tarone)."""
    flags: list[UnitFlag] = []
    adjusted = 1.0
    smallest = 1.0
    divisors = []
    families: tuple[tuple[Direction, F64, F64], ...] = (
        ("too rarely", units.p_low, low_min),
        ("too often", units.p_high, high_min),
    )
    for direction, p, floor in families:
        rejected, k = _tarone(p[varying], floor[varying], level / 2)
        divisors.append(k)
        if varying.size:
            candidates = floor[varying] <= level / 2 / k
            if candidates.any():
                best = float(p[varying][candidates].min())
                adjusted = min(adjusted, 2 * k * best)
            smallest = min(smallest, float(p[varying].min()))
        flags.extend(
            UnitFlag(
                units.ids[j],
                int(units.observed[j]),
                float(units.expected[j]),
                float(p[j]),
                direction,
            )
            for j in varying[rejected]
        )
    flags.sort(key=lambda f: (f.p_value, f.id))
    result = CheckResult.worded(
        "units",
        smallest,
        min(1.0, adjusted),
        level,
        None,
        ("units",),
        units=int(varying.size),
        low=divisors[0],
        high=divisors[1],
        flagged=len(flags),
    )
    return result, tuple(flags)


def check_alpha(alpha: float) -> None:
    """Refuse an ``alpha`` outside (0, 1) (the report's false-alarm rate)."""
    if not 0 < alpha < 1:
        raise HealthInputError(f"alpha must be between 0 and 1, got {alpha}")


def draw_health(
    lotteries: Iterable[Lottery],
    *,
    subject: str = "entities",
    alpha: float = 0.01,
    tickets: Iterable[StratumTickets] = (),
) -> HealthReport:
    """Compare how often each unit was drawn in a period with what the design expects.

    ``lotteries`` are the period's entity draws or its team assignments (one lottery per
    entity); ``tickets`` optionally the recorded tickets for the ``tickets`` test. ``alpha``
    is the false-alarm rate of the whole report, split equally between the tests.

    >>> import hashlib
    >>> def draw(i):
    ...     ids = [f"E{j:03d}" for j in range(200)]
    ...     t = {e: hashlib.sha256(f"seed{i}|{e}".encode()).digest() for e in ids}
    ...     return Lottery.stratified(f"T{i}", ids, ["all"] * 200, sorted(ids, key=t.get)[:20])
    >>> report = draw_health([draw(i) for i in range(12)])
    >>> report.suspicious, round(float(report.units.expected[0]), 2)
    (False, 1.2)
    """
    draws = list(lotteries)
    check_alpha(alpha)
    strata = list(tickets)
    level = alpha / (3 if strata else 2)
    if any(lot.blocked_by for lot in draws):
        linked = _linked(draws)
        ids, observed, expected, variance = linked.ids, linked.observed, linked.mean, linked.var
        low_min, high_min = linked.low_min, linked.high_min
        trial_counts = linked.trials
        n = len(ids)
        chunks: Iterable[tuple[I64, F64]] = (
            (np.arange(a, min(a + _CHUNK_UNITS, n)), linked.pmf[a : a + _CHUNK_UNITS])
            for a in range(0, n, _CHUNK_UNITS)
        )
    else:
        trials = _collect(draws)
        ids, observed, trial_counts = trials.ids, trials.observed, trials.count
        expected, variance, chunks = _fast_chunks(trials)
        low_min, high_min = _attainable(trials)
    p_low, p_high, mid, expected_bins, gram = _distributions(
        chunks, observed, variance, _SPREAD_BINS
    )
    units = UnitStats(ids, trial_counts, observed, expected, variance, p_low, p_high, mid)
    varying = np.flatnonzero(variance > 0)
    unit_test, flagged = _unit_test(units, low_min, high_min, varying, level)
    tests = [unit_test, _spread_test(mid[variance > 0], expected_bins, gram, level, _SPREAD_BINS)]
    if strata:
        tests.append(ticket_uniformity(strata, level=level))
    return HealthReport(subject, len(draws), alpha, units, flagged, tuple(tests))
