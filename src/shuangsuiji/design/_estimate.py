"""Estimation after the results are in: violation rates per stratum and overall.

Per stratum, ``x_h`` (``count``) of the ``n_h`` (``nobs``) inspected entities with a result
violated. Every function takes ``(count, nobs)`` in this order, as statsmodels'
``proportion_confint(count, nobs)`` and scipy's ``binomtest(k, n)`` do. Intervals:

- **Wilson** (score interval, no continuity correction): centre ``(x + z²/2)/(n + z²)``,
  half-width ``z √(x(n − x)/n + z²/4) / (n + z²)``.
- **Clopper–Pearson** (exact): ``Beta(α/2; x, n − x + 1)`` to ``Beta(1 − α/2; x + 1, n − x)``.

Both treat the sample as binomial, so they are slightly conservative when a large share of a
small stratum is inspected.

Overall, the stratified estimate weights each inspected entity by its **design weight**
``N_h / n_h`` (stratum size over inspections with a result, from the draw record)::

    p_st = Σ W_h p_h,    v(p_st) = Σ W_h² (1 − n_h/N_h) p_h (1 − p_h) / (n_h − 1)

(Cochran eq. 5.53). Two intervals are given: the normal (Wald) interval ``p_st ± z √v`` and
the Korn–Graubard (1998) interval, Clopper–Pearson with the effective sample size
``n* = p_st (1 − p_st) / v`` (capped at ``Σ n_h``), which keeps sensible coverage for the low
rates typical of inspections. Entities drawn but without a result (closed, unreachable if
you choose so) are left out of ``n_h``, which assumes they are missing at random within
their stratum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from scipy.special import betaincinv

from shuangsuiji.design._sizes import z_value
from shuangsuiji.design._strata import (
    DesignError,
    FloatArray,
    IntArray,
    Strata,
    is_series,
    per_stratum,
)
from shuangsuiji.design._table import Table, Tabular

__all__ = [
    "RateEstimate",
    "clopper_pearson_interval",
    "design_weights",
    "estimate_from_record",
    "estimate_rates",
    "wilson_interval",
]


def _counts(count: npt.ArrayLike, nobs: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(count, dtype=np.float64)
    n = np.asarray(nobs, dtype=np.float64)
    if ((x < 0) | (x > n) | (n < 0)).any():
        raise DesignError(
            "need 0 <= count <= nobs (count: violations, nobs: inspected with a result; "
            "in this order, as statsmodels' proportion_confint(count, nobs))"
        )
    return np.broadcast_arrays(x, n)  # type: ignore[return-value]


def wilson_interval(
    count: npt.ArrayLike, nobs: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval(s) for ``count`` violations out of ``nobs``, vectorised.

    ``nobs = 0`` gives ``(0, 1)``.

    >>> lo, hi = wilson_interval(3, 60)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0171, 0.137)
    """
    x, n = _counts(count, nobs)
    z = z_value(confidence)
    safe = np.maximum(n, 1)
    centre = (x + z * z / 2) / (safe + z * z)
    half = z * np.sqrt(x * (safe - x) / safe + z * z / 4) / (safe + z * z)
    lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    lo = np.where(x == 0, 0.0, lo)
    hi = np.where((x == n) & (n > 0), 1.0, hi)
    return lo, hi


def clopper_pearson_interval(
    count: npt.ArrayLike, nobs: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Clopper–Pearson (exact) interval(s), vectorised; ``nobs = 0`` gives ``(0, 1)``.

    >>> lo, hi = clopper_pearson_interval(0, 60)
    >>> float(lo), round(float(hi), 4)
    (0.0, 0.0596)
    """
    x, n = _counts(count, nobs)
    alpha = 1 - confidence
    z_value(confidence)  # validates confidence
    with np.errstate(invalid="ignore"):
        lo = np.where(x > 0, betaincinv(np.maximum(x, 1e-300), n - x + 1, alpha / 2), 0.0)
        hi = np.where(x < n, betaincinv(x + 1, np.maximum(n - x, 1e-300), 1 - alpha / 2), 1.0)
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


@attrs.frozen(eq=False, repr=False)
class RateEstimate(Tabular):
    """Violation rates per stratum and the stratified overall rate, with intervals.

    ``count`` counts the inspected entities that violated, ``nobs`` the inspected entities
    with a result.
    """

    strata: Strata
    count: IntArray
    nobs: IntArray
    confidence: float = 0.95

    def __attrs_post_init__(self) -> None:
        h = len(self.strata)
        if self.nobs.shape != (h,) or self.count.shape != (h,):
            raise DesignError("RateEstimate: count and nobs need one value per stratum")
        if ((self.count < 0) | (self.count > self.nobs)).any():
            raise DesignError("RateEstimate: need 0 <= count <= nobs in every stratum")
        over = self.nobs > self.strata.sizes
        if over.any():
            bad = self.strata.labels[int(np.argmax(over))]
            raise DesignError(f"stratum {bad!r}: more results than entities in the stratum")
        empty = (self.nobs == 0) & (self.strata.sizes > 0)
        if empty.any():
            names = [self.strata.labels[i] for i in np.flatnonzero(empty)[:10]]
            raise DesignError(
                f"no results in non-empty strata {names}: the overall rate cannot be "
                "estimated; collapse them into neighbouring strata or drop them from the strata"
            )

    @property
    def rates(self) -> FloatArray:
        """``p_h = x_h / n_h`` per stratum."""
        n = self.nobs
        return np.divide(self.count, n, out=np.zeros(len(n)), where=n > 0)

    @property
    def design_weights(self) -> FloatArray:
        """Design weights ``N_h / n_h`` (entities each inspected entity stands for)."""
        sizes = self.strata.sizes
        return np.divide(sizes, self.nobs, out=np.zeros(len(sizes)), where=self.nobs > 0)

    def wilson(self) -> tuple[FloatArray, FloatArray]:
        """Per-stratum Wilson intervals."""
        return wilson_interval(self.count, self.nobs, confidence=self.confidence)

    def clopper_pearson(self) -> tuple[FloatArray, FloatArray]:
        """Per-stratum Clopper–Pearson intervals."""
        return clopper_pearson_interval(self.count, self.nobs, confidence=self.confidence)

    @property
    def rate(self) -> float:
        """The stratified overall rate ``Σ W_h p_h`` (= Σ design weights · count / N)."""
        return float(np.sum(self.strata.weights * self.rates))

    @property
    def variance(self) -> float:
        """Estimated variance of :attr:`rate` with the finite population correction.

        A stratum with one result (and more entities) gives no variance estimate: ``nan``;
        collapse it with a neighbour."""
        p, n = self.rates, self.nobs.astype(np.float64)
        big_n = self.strata.sizes.astype(np.float64)
        census = n >= big_n
        if ((n < 2) & ~census).any():
            return float("nan")
        term = (1 - n / np.maximum(big_n, 1)) * p * (1 - p) / np.maximum(n - 1, 1)
        return float(np.sum(np.where(census, 0.0, self.strata.weights**2 * term)))

    @property
    def standard_error(self) -> float:
        """``√variance``."""
        return float(np.sqrt(self.variance))

    def interval(self, method: str = "korn-graubard") -> tuple[float, float]:
        """Interval for the overall rate: ``"korn-graubard"`` (default) or ``"wald"``."""
        p, v = self.rate, self.variance
        if method == "wald":
            half = z_value(self.confidence) * float(np.sqrt(v))
            return max(0.0, p - half), min(1.0, p + half)
        if method != "korn-graubard":
            raise DesignError(f"method = {method!r}; choose 'korn-graubard' or 'wald'")
        total = float(self.nobs.sum())
        n_eff = total if v <= 0 or not np.isfinite(v) else min(total, p * (1 - p) / v)
        lo, hi = clopper_pearson_interval(p * n_eff, n_eff, confidence=self.confidence)
        return float(lo), float(hi)

    def _table(self) -> Table:
        wilson_low, wilson_high = self.wilson()
        cp_low, cp_high = self.clopper_pearson()
        low, high = self.interval()
        return self.strata.table(
            f"violation rates ({self.confidence:.0%} intervals)",
            {
                "nobs": self.nobs,
                "count": self.count,
                "rate": self.rates,
                "design_weight": self.design_weights,
                "wilson_low": wilson_low,
                "wilson_high": wilson_high,
                "cp_low": cp_low,
                "cp_high": cp_high,
            },
            rate=self.rate,
            standard_error=self.standard_error,
            interval_low=low,
            interval_high=high,
        )


def estimate_rates(
    strata: Strata,
    count: npt.ArrayLike | Mapping[Any, int],
    nobs: npt.ArrayLike | Mapping[Any, int],
    *,
    confidence: float = 0.95,
) -> RateEstimate:
    """Estimate violation rates from per-stratum ``count`` (violations) and ``nobs``
    (inspected with a result): arrays in stratum order, mappings or pandas Series keyed by
    stratum (label, ``(tier, region)`` or tier letter).

    >>> s = Strata.from_sizes({"A": 5800, "B": 3000, "C": 900, "D": 300})
    >>> e = estimate_rates(s, [2, 4, 14, 41], [174, 96, 115, 115])
    >>> round(e.rate, 4), [round(b, 4) for b in e.interval()]
    (0.0408, [0.0252, 0.0621])
    """
    return RateEstimate(
        strata, _by_stratum(count, strata, "count"), _by_stratum(nobs, strata, "nobs"), confidence
    )


def _by_stratum(values: npt.ArrayLike | Mapping[Any, int], strata: Strata, name: str) -> IntArray:
    if isinstance(values, Mapping) or is_series(values):
        per = per_stratum(values, strata, name)
        if (per != np.round(per)).any():
            raise DesignError(f"{name}: give whole numbers, got {per.tolist()}")
        return per.astype(np.int64)
    arr = np.asarray(values, dtype=np.int64)
    if arr.shape != (len(strata),):
        raise DesignError(f"give one count per stratum ({len(strata)}), got shape {arr.shape}")
    return arr


def _record_strata(record: Any) -> dict[str, tuple[int, int]]:
    """``{stratum: (size, sample)}`` from a draw bundle (dict) or a draw result object."""
    raw = record.get("strata") if isinstance(record, Mapping) else getattr(record, "strata", None)
    if raw is None:
        raise DesignError("the draw record has no 'strata' (per stratum: size and sample)")
    rows: Iterable[tuple[str, Any]]
    if isinstance(raw, Mapping):
        rows = raw.items()
    else:
        rows = ((_field(r, "stratum", "name", "label"), r) for r in raw)
    out: dict[str, tuple[int, int]] = {}
    for label, row in rows:
        out[str(label)] = (int(_field(row, "size", "N")), int(_field(row, "sample", "n")))
    return out


def _field(row: Any, *names: str) -> Any:
    for name in names:
        if isinstance(row, Mapping) and name in row:
            return row[name]
        if not isinstance(row, Mapping) and hasattr(row, name):
            return getattr(row, name)
    raise DesignError(f"draw record stratum entry has none of the fields {list(names)}")


def _record_active(record: Any) -> list[tuple[str, str]]:
    """``(entity id, stratum)`` of the entities actually inspected: the selection after
    replacements (a :class:`~shuangsuiji.draw.Draw`'s ``active``, or a bundle's ``selected``
    with each ``replacements`` entry's ``replaced`` swapped for its ``by``)."""
    if not isinstance(record, Mapping) and hasattr(record, "active"):
        return [(str(p.id), str(p.stratum)) for p in record.active]
    raw = record.get("selected") if isinstance(record, Mapping) else None
    if raw is None:
        raise DesignError("the draw record has no 'selected' list")
    picks = [(str(_field(r, "id", "entity")), str(_field(r, "stratum"))) for r in raw]
    swaps = record.get("replacements") or []
    gone = {str(_field(r, "replaced")) for r in swaps}
    promoted = [(str(_field(r, "by")), str(_field(r, "stratum"))) for r in swaps]
    return [p for p in picks if p[0] not in gone] + [p for p in promoted if p[0] not in gone]


def design_weights(record: Any) -> dict[str, float]:
    """Design weight ``N_h / n_h`` of each stratum of a draw record.

    ``record`` is a draw bundle (the JSON dict, with ``strata`` mapping or listing each
    stratum's ``size`` and ``sample``) or a draw result object with the same attributes.

    >>> design_weights({"strata": {"A|1": {"size": 100, "sample": 4},
    ...                            "D|1": {"size": 10, "sample": 10}}})
    {'A|1': 25.0, 'D|1': 1.0}
    """
    return {
        label: (size / sample if sample else 0.0)
        for label, (size, sample) in _record_strata(record).items()
    }


def estimate_from_record(
    record: Any,
    results: Mapping[str, bool],
    *,
    confidence: float = 0.95,
) -> RateEstimate:
    """Estimate violation rates from a draw record and ``{entity id: violated}`` results.

    The inspected entities are the selection after replacements (a replaced entity's
    alternate stands in its stratum). Inspected entities without an entry in ``results``
    count as missing (no result); an ID in ``results`` that is not in the selection is an
    error.
    """
    sizes = _record_strata(record)
    strata = Strata.from_sizes({label: size for label, (size, _) in sizes.items()})
    selected = dict(_record_active(record))
    stray = sorted(set(results) - set(selected))
    if stray:
        raise DesignError(
            f"{len(stray)} result(s) for entities this draw did not select (after replacements), "
            f"e.g. {stray[:3]}; pass the results of this draw only"
        )
    n = np.zeros(len(strata), dtype=np.int64)
    x = np.zeros(len(strata), dtype=np.int64)
    for entity, violated in results.items():
        h = strata.index(selected[entity])
        n[h] += 1
        x[h] += bool(violated)
    return RateEstimate(strata, x, n, confidence)
