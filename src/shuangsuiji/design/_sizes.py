"""Sample sizes: estimate a violation rate within a margin, or find at least one violator.

**Margin.** To estimate a rate ``P`` within ``±d`` at confidence ``1 − α`` by simple random
sampling without replacement from ``N`` entities (Cochran, *Sampling Techniques*, 3rd ed.,
§4.4, eq. 4.2 with ``S² = N P Q / (N − 1)``)::

    n0 = z² P Q / d²          n = n0 / (1 + (n0 − 1) / N)      (then rounded up, at most N)

where ``z`` is the standard normal ``1 − α/2`` quantile. ``P = 0.5`` is the safe guess.

**Detection.** To find at least one violator with probability ``1 − β`` when ``D`` of the ``N``
entities violate, the number of violators in the sample is hypergeometric and::

    P(miss all) = C(N − D, n) / C(N, n)

decreases in ``n``; the size is the smallest integer ``n`` with ``P(miss all) ≤ β``, found by
an exact integer bisection (no binomial or Poisson approximation).
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt
from scipy.special import gammaln, ndtri

from shuangsuiji.design._strata import DesignError, FloatArray, IntArray, PerStratum, Strata
from shuangsuiji.design._strata import per_stratum as _per_stratum
from shuangsuiji.design._table import Table, Tabular

__all__ = [
    "SizeTable",
    "detection_probability",
    "margin_for_size",
    "size_for_detection",
    "size_for_margin",
    "size_for_margin_stratified",
    "sizes_for_detection",
    "sizes_for_margin",
    "z_value",
]

_ROUND_SLACK = 1e-9  # ceil(384.000000000001) should be 384, not 385
_PROBABILITY_SLACK = 1e-10


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile for ``confidence``.

    >>> round(z_value(0.95), 4)
    1.96
    """
    _check_open("confidence", confidence)
    return float(ndtri(0.5 + confidence / 2))


def _check_open(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise DesignError(f"{name} = {value!r} must be strictly between 0 and 1 (e.g. 0.95)")


def _ceil(x: FloatArray) -> IntArray:
    return np.ceil(np.asarray(x) - _ROUND_SLACK).astype(np.int64)


def _margin_sizes(
    population: npt.NDArray[np.int64] | None, p: FloatArray, margin: float, z: float
) -> tuple[IntArray, FloatArray]:
    if not 0.0 < margin < 1.0:
        raise DesignError(f"margin = {margin!r} must be strictly between 0 and 1 (e.g. 0.05)")
    if ((p < 0) | (p > 1)).any():
        raise DesignError(f"anticipated rate p must lie in [0, 1], got {p.tolist()}")
    n0 = z * z * p * (1 - p) / (margin * margin)
    if population is None:
        return _ceil(n0), n0
    big_n = population.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.where(big_n > 0, n0 / (1 + (n0 - 1) / np.maximum(big_n, 1)), 0.0)
    return np.minimum(_ceil(exact), population), exact


def size_for_margin(
    margin: float,
    *,
    p: float = 0.5,
    confidence: float = 0.95,
    population: int | None = None,
) -> int:
    """Entities to inspect to estimate a violation rate within ``±margin``.

    With ``population`` the finite population correction applies (see the module docstring).

    >>> size_for_margin(0.05)
    385
    >>> size_for_margin(0.05, population=1000)
    278
    >>> size_for_margin(0.03, p=0.1, confidence=0.9, population=500)
    176
    """
    pop = None if population is None else np.asarray([population], dtype=np.int64)
    n, _ = _margin_sizes(pop, np.asarray([p], dtype=np.float64), margin, z_value(confidence))
    return int(n[0])


def margin_for_size(
    n: int, *, p: float = 0.5, confidence: float = 0.95, population: int | None = None
) -> float:
    """The half-width a sample of ``n`` buys (the inverse of :func:`size_for_margin`).

    >>> round(margin_for_size(385), 4)
    0.0499
    """
    if n < 1:
        raise DesignError(f"n = {n} must be at least 1")
    fpc = 1.0
    if population is not None:
        if n > population:
            raise DesignError(f"n = {n} exceeds the population {population}")
        fpc = (population - n) / (population - 1) if population > 1 else 0.0
    return z_value(confidence) * float(np.sqrt(fpc * p * (1 - p) / n))


def _log_p_miss(big_n: FloatArray, d: FloatArray, n: FloatArray) -> FloatArray:
    """log C(N−D, n) / C(N, n), −inf where n > N − D."""
    ok = n <= big_n - d
    safe = np.where(ok, n, 0.0)
    value = (
        gammaln(big_n - d + 1)
        - gammaln(big_n - d - safe + 1)
        - gammaln(big_n + 1)
        + gammaln(big_n - safe + 1)
    )
    return np.where(ok, np.minimum(value, 0.0), -np.inf)


def detection_probability(
    n: npt.ArrayLike, population: npt.ArrayLike, violators: npt.ArrayLike
) -> FloatArray:
    """P(at least one of ``violators`` is among ``n`` drawn from ``population``), vectorised.

    >>> detection_probability([1, 5, 6], 10, 5).round(4).tolist()
    [0.5, 0.996, 1.0]
    """
    big_n, d, k = np.broadcast_arrays(
        np.asarray(population, dtype=np.float64),
        np.asarray(violators, dtype=np.float64),
        np.asarray(n, dtype=np.float64),
    )
    if ((d < 0) | (d > big_n) | (k < 0) | (k > big_n)).any():
        raise DesignError(
            "detection_probability: need 0 <= violators <= population, 0 <= n <= population"
        )
    return np.clip(-np.expm1(_log_p_miss(big_n, d, k)), 0.0, 1.0)


def _violators(population: IntArray, rate: FloatArray) -> IntArray:
    if ((rate <= 0) | (rate > 1)).any():
        raise DesignError(f"violation rate must be in (0, 1], got {rate.tolist()}")
    # At least one violator whenever the rate is positive: "a rate of 0.1% in 300 entities"
    # still means someone to find.
    return np.minimum(population, np.maximum(1, _ceil(rate * population)))


def _log_p_miss_exact(big_n: int, d: int, n: int) -> float:
    """log P(miss all), accurate to a few ulps: ``Π_{i<m} (1 − k/(N − i))`` with
    ``m = min(n, D)``, ``k = max(n, D)`` (both forms of C(N−D, n)/C(N, n))."""
    if n > big_n - d:
        return -math.inf
    m, k = min(n, d), max(n, d)
    return float(np.sum(np.log1p(-k / (big_n - np.arange(m, dtype=np.float64)))))


def _detection_sizes(population: IntArray, violators: IntArray, probability: float) -> IntArray:
    _check_open("probability", probability)
    # Relative slack of 1e-10 on beta: probability=0.9 means 0.9, not the binary double just
    # above it (N = 100, one violator: 90 entities miss it with probability exactly 0.1).
    log_beta = math.log1p(-probability) + _PROBABILITY_SLACK
    big_n = population.astype(np.float64)
    d = violators.astype(np.float64)
    lo = np.zeros(len(population), dtype=np.int64)  # P(miss) at lo is > beta (lo = 0: miss = 1)
    hi = np.minimum(population - violators + 1, population)  # P(miss) at hi is 0
    hi = np.where(violators > 0, hi, population)
    while True:  # vectorised bisection on the fast log-gamma form ...
        active = hi - lo > 1
        if not active.any():
            break
        mid = (lo + hi) // 2
        reached = _log_p_miss(big_n, d, mid.astype(np.float64)) <= log_beta
        hi = np.where(active & reached, mid, hi)
        lo = np.where(active & ~reached, mid, lo)
    out = np.where(population > 0, hi, 0)
    for h in range(len(out)):  # ... then settled on the exact product (log-gamma is ~1e-9)
        big, dv, n = int(population[h]), int(violators[h]), int(out[h])
        while n > 0 and _log_p_miss_exact(big, dv, n - 1) <= log_beta:
            n -= 1
        while n < big and _log_p_miss_exact(big, dv, n) > log_beta:
            n += 1
        out[h] = n
    return out


def size_for_detection(
    population: int,
    *,
    violators: int | None = None,
    rate: float | None = None,
    probability: float = 0.95,
) -> int:
    """Smallest sample that finds at least one violator with ``probability``.

    Give the number of ``violators`` or a violation ``rate`` (``ceil(rate·N)`` violators, at
    least one). The answer is exact (hypergeometric, integer search).

    >>> size_for_detection(1000, rate=0.05)
    57
    >>> size_for_detection(100, violators=1, probability=0.9)
    90
    """
    if population < 1:
        raise DesignError(f"population = {population} must be at least 1")
    pop = np.asarray([population], dtype=np.int64)
    d = _detection_violators(pop, violators, None if rate is None else np.asarray([rate]))
    return int(_detection_sizes(pop, d, probability)[0])


def _detection_violators(
    population: IntArray, violators: int | None, rate: FloatArray | None
) -> IntArray:
    if (violators is None) == (rate is None):
        raise DesignError("give exactly one of violators= or rate=")
    if violators is not None:
        if violators < 1 or (violators > population).any():
            raise DesignError(f"violators = {violators} must be between 1 and the population size")
        return np.full(len(population), violators, dtype=np.int64)
    assert rate is not None
    return _violators(population, rate)


@attrs.frozen(eq=False, repr=False)
class SizeTable(Tabular):
    """Sample sizes per stratum and overall for one criterion.

    ``n[h]`` is the size stratum ``h`` needs on its own; ``overall`` the size one simple random
    sample of the whole population needs for the same criterion. The margin criterion fills
    ``continuous`` (the sizes before rounding up); the detection criterion fills ``violators``
    (``D_h``, the violators assumed) and ``power`` (the probability ``n_h`` achieves of finding
    at least one). The others are ``None`` and absent from the frame.
    """

    strata: Strata
    n: IntArray
    overall: int
    criterion: str
    continuous: FloatArray | None = None
    violators: IntArray | None = None
    power: FloatArray | None = None

    @property
    def total(self) -> int:
        """The sum of the per-stratum sizes (what estimating every stratum separately costs)."""
        return int(self.n.sum())

    @property
    def ratios(self) -> FloatArray:
        """``n_h / N_h`` (0 for an empty stratum)."""
        sizes = self.strata.sizes
        return np.divide(self.n, sizes, out=np.zeros(len(sizes)), where=sizes > 0)

    def as_dict(self) -> dict[str, int]:
        """``{stratum label: n_h}``."""
        return dict(zip(self.strata.labels, self.n.tolist(), strict=True))

    def _table(self) -> Table:
        optional = {"continuous": self.continuous, "violators": self.violators, "power": self.power}
        return self.strata.table(
            f"sample sizes: {self.criterion}",
            {
                "n": self.n,
                "ratio": self.ratios,
                **{k: v for k, v in optional.items() if v is not None},
            },
            criterion=self.criterion,
            total=self.total,
            overall=self.overall,
        )


def sizes_for_margin(
    strata: Strata,
    margin: float,
    *,
    p: PerStratum = 0.5,
    confidence: float = 0.95,
) -> SizeTable:
    """Per-stratum sizes to estimate each stratum's rate within ``±margin`` (with FPC).

    ``overall`` is the size for the whole population at the population-weighted rate.

    >>> t = sizes_for_margin(Strata.from_sizes({"A": 5000, "D": 200}), 0.05)
    >>> t.as_dict(), t.overall
    ({'A': 357, 'D': 132}, 358)
    """
    pv = _per_stratum(p, strata, "p")
    z = z_value(confidence)
    n, continuous = _margin_sizes(strata.sizes, pv, margin, z)
    p_bar = float(np.sum(strata.weights * pv))
    overall, _ = _margin_sizes(
        np.asarray([strata.total], dtype=np.int64), np.asarray([p_bar]), margin, z
    )
    criterion = f"margin ±{margin:g} at {confidence:.0%} confidence"
    return SizeTable(strata, n, int(overall[0]), criterion, continuous=continuous)


def sizes_for_detection(
    strata: Strata, rate: PerStratum, *, probability: float = 0.95
) -> SizeTable:
    """Per-stratum sizes to find at least one violator with ``probability`` when a share
    ``rate`` violates (hypergeometric, exact). ``power`` holds the probability achieved.

    >>> t = sizes_for_detection(Strata.from_sizes({"A": 1000, "D": 50}), {"A": 0.01, "D": 0.1})
    >>> t.as_dict(), t.overall
    ({'A': 258, 'D': 22}, 189)
    """
    rv = _per_stratum(rate, strata, "rate")
    d = _violators(strata.sizes, rv)
    n = _detection_sizes(strata.sizes, d, probability)
    achieved = -np.expm1(
        [
            _log_p_miss_exact(int(a), int(b), int(c))
            for a, b, c in zip(strata.sizes, d, n, strict=True)
        ]
    )
    total = np.asarray([strata.total], dtype=np.int64)
    overall = _detection_sizes(total, np.asarray([int(d.sum())], dtype=np.int64), probability)
    criterion = f"find a violator with probability {probability:g}"
    return SizeTable(strata, n, int(overall[0]), criterion, violators=d, power=achieved)


def size_for_margin_stratified(
    strata: Strata,
    margin: float,
    *,
    p: PerStratum = 0.5,
    confidence: float = 0.95,
    allocation: str = "proportional",
) -> int:
    """Total sample for the *stratified* estimate of the overall rate to reach ``±margin``.

    Cochran §5.9 (with ``S_h² = N_h P_h Q_h / (N_h − 1)`` and ``V = (d / z)²``):
    proportional allocation ``n0 = Σ W_h S_h² / V``, ``n = n0 / (1 + n0 / N)``;
    Neyman allocation ``n = (Σ W_h S_h)² / (V + Σ W_h S_h² / N)``.
    Stratification never needs more than one simple random sample of the whole population.

    >>> s = Strata.from_sizes({"A": 5800, "B": 3000, "C": 900, "D": 300})
    >>> p = {"A": 0.02, "B": 0.05, "C": 0.15, "D": 0.4}
    >>> size_for_margin_stratified(s, 0.02, p=p), size_for_margin_stratified(
    ...     s, 0.02, p=p, allocation="neyman")
    (409, 345)
    """
    if allocation not in ("proportional", "neyman"):
        raise DesignError(f"allocation = {allocation!r}; choose 'proportional' or 'neyman'")
    if not 0.0 < margin < 1.0:
        raise DesignError(f"margin = {margin!r} must be strictly between 0 and 1")
    pv = _per_stratum(p, strata, "p")
    big_n = strata.sizes.astype(np.float64)
    s2 = np.where(big_n > 1, big_n * pv * (1 - pv) / np.maximum(big_n - 1, 1), 0.0)
    w = strata.weights
    v = (margin / z_value(confidence)) ** 2
    total = float(strata.total)
    if allocation == "proportional":
        n0 = float(np.sum(w * s2)) / v
        n = n0 / (1 + n0 / total)
    else:
        n = float(np.sum(w * np.sqrt(s2))) ** 2 / (v + float(np.sum(w * s2)) / total)
    return min(int(_ceil(np.asarray([n]))[0]), strata.total)
