"""Draw health against replays of the real engine (team assignment): loads and pairs.

For team assignment, workload caps, recusal and composition make an inspector's chance differ
from ``k / |eligible|``; the replays of the real team draw on the same staffing record, with
other keys, *are* the design. :func:`replay_health` compares a period's observed loads (or
officer × group counts, :func:`pair_task`) with those replays: max-T tests over the units and
a spread test, reported as a :class:`~shuangsuiji.health.HealthReport` (the statistics of
draws with known inclusion probabilities are in :mod:`shuangsuiji.health`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.health import (
    TOO_FEW,
    CheckResult,
    HealthReport,
    UnitFlag,
    UnitStats,
    check_alpha,
)
from shuangsuiji.lottery import F64, HealthInputError, ids_of

__all__ = ["ReplayedTask", "pair_task", "replay_health"]

I64 = npt.NDArray[np.int64]


def _loads(value: Any) -> I64:
    return np.asarray(value, dtype=np.int64)


@attrs.frozen(eq=False)
class ReplayedTask:
    """One task's loads: how many teams each unit joined (``observed``) and how many it joined
    in replays of the same draw with other keys (``replays``, one row per replay).

    For team assignment, where workload caps, recusal and composition rules make the chance of
    an inspector differ from ``k / |eligible|``, the replays of the real engine *are* the
    design. ``units`` lists every unit that could be drawn (loads of 0 included).
    """

    label: str
    units: tuple[str, ...] = attrs.field(converter=ids_of)
    observed: I64 = attrs.field(converter=_loads)
    replays: I64 = attrs.field(converter=_loads)

    def __attrs_post_init__(self) -> None:
        n = len(self.units)
        if self.observed.shape != (n,) or self.replays.ndim != 2 or self.replays.shape[1] != n:
            raise HealthInputError(
                f"task {self.label!r}: {n} units, observed {self.observed.shape}, replays "
                f"{self.replays.shape}; give one load per unit and one row per replay"
            )
        if len(set(self.units)) != n:
            raise HealthInputError(f"task {self.label!r}: a unit appears twice")


def _period_loads(tasks: Sequence[ReplayedTask]) -> tuple[tuple[str, ...], I64, I64, I64]:
    """Unit IDs, the number of tasks each could join, observed period loads, and period loads
    per replay (row ``r`` of every task), for as many replays as every task has."""
    names = np.unique(np.concatenate([np.asarray(t.units, dtype=str) for t in tasks]))
    trials = np.zeros(len(names), dtype=np.int64)
    observed = np.zeros(len(names), dtype=np.int64)
    count = min(t.replays.shape[0] for t in tasks)
    period = np.zeros((count, len(names)), dtype=np.int64)
    for t in tasks:
        at = np.searchsorted(names, np.asarray(t.units, dtype=str))
        trials[at] += 1
        observed[at] += t.observed
        period[:, at] += t.replays[:count]
    return tuple(names.tolist()), trials, observed, period


def replay_health(
    tasks: Iterable[ReplayedTask], *, subject: str = "inspectors", alpha: float = 0.01
) -> HealthReport:
    """Compare a period's loads with replays of the same draws (a Monte Carlo test).

    Tasks are independent (their keys are), so replay ``r`` of the period is row ``r`` of
    every task. The first half of the replays estimates each unit's mean ``E`` and variance
    ``V``; the second half, independent of it, is the null distribution of two statistics of
    ``z = (X - E) / sqrt(V)``, each at ``alpha / 2``:

    1. ``units`` — the largest and the smallest ``z`` (Westfall–Young max-T, each direction
       at half the level): units beyond the critical value are flagged "too often" or
       "too rarely". The p-values are ``(1 + #{replays at least as extreme}) / (R + 1)``.
    2. ``spread`` — ``Σ z²``, two-sided: loads spread too wide (favoured and avoided
       inspectors) or too even (a rota passed off as a lottery).

    With ``R`` null replays a test can only reject when ``alpha / 4 ≥ 1 / (R + 1)``: give at
    least ``2 · (4 / alpha)`` replays in all (800 for ``alpha = 0.01``).
    """
    todo = list(tasks)
    if not todo:
        raise HealthInputError("no tasks given: pass at least one ReplayedTask")
    check_alpha(alpha)
    ids, trials, observed, period = _period_loads(todo)
    total = period.shape[0]
    if total < 40:
        raise HealthInputError(f"{total} replays are too few: give at least 40 (800 for 0.01)")
    rep = _Replays.split(observed, period)
    level = alpha / 2
    # A test that cannot reject with this many replays says so in its detail.
    blind: dict[str, Any] = {"need": math.ceil(4 / alpha)} if 1 / (rep.r + 1) > level / 2 else {}
    units_test, flags = _replay_units(rep, ids, level, blind)
    spread_test = _replay_spread(rep, level, blind)
    per_high = (1 + (rep.null >= observed).sum(axis=0)) / (rep.r + 1)
    per_low = (1 + (rep.null <= observed).sum(axis=0)) / (rep.r + 1)
    units = UnitStats(
        ids,
        trials,
        observed,
        rep.mean.astype(np.float64),
        rep.var.astype(np.float64),
        per_low.astype(np.float64),
        per_high.astype(np.float64),
        ((per_low + 1 - per_high) / 2).astype(np.float64),
    )
    return HealthReport(subject, len(todo), alpha, units, tuple(flags), (units_test, spread_test))


@attrs.frozen(eq=False)
class _Replays:
    """A period's loads standardised by the first half of its replays: the mean and variance
    of each unit, and ``z = (X - E) / sqrt(V)`` of the observed loads and of every replay of
    the second half (the null replays)."""

    observed: I64
    null: I64
    mean: F64
    var: F64
    varying: npt.NDArray[np.bool_]
    z_obs: F64
    z_null: F64

    @classmethod
    def split(cls, observed: I64, period: I64) -> _Replays:
        """Fit on the first half of ``period``'s rows, standardise with it."""
        total = period.shape[0]
        fit, null = period[: total // 2], period[total // 2 :]
        mean = fit.mean(axis=0)
        var = fit.var(axis=0, ddof=1)
        varying = var > 0
        scale = np.sqrt(np.where(varying, var, 1.0))
        z_obs = np.where(varying, (observed - mean) / scale, 0.0)
        z_null = np.where(varying, (null - mean) / scale, 0.0)
        return cls(observed, null, mean, var, varying, z_obs, z_null)

    @property
    def r(self) -> int:
        """The number of null replays."""
        return int(self.null.shape[0])

    def p(self, extreme: npt.NDArray[np.bool_]) -> float:
        """The Monte Carlo p-value ``(1 + #{extreme replays}) / (R + 1)``."""
        return float((1 + np.count_nonzero(extreme)) / (self.r + 1))


def _replay_units(
    rep: _Replays, ids: tuple[str, ...], level: float, blind: Mapping[str, Any]
) -> tuple[CheckResult, list[UnitFlag]]:
    """The max-T test of the largest and smallest ``z``, and the units beyond it."""
    z_obs, observed, mean, varying = rep.z_obs, rep.observed, rep.mean, rep.varying
    hi_null, lo_null = rep.z_null.max(axis=1), rep.z_null.min(axis=1)
    p_hi = rep.p(hi_null >= z_obs.max())
    p_lo = rep.p(lo_null <= z_obs.min())
    crit_hi = float(np.quantile(hi_null, 1 - level / 2))
    crit_lo = float(np.quantile(lo_null, level / 2))
    flags = [
        UnitFlag(ids[j], int(observed[j]), float(mean[j]), rep.p(hi_null >= z_obs[j]), "too often")
        for j in np.flatnonzero(varying & (z_obs > crit_hi) & (p_hi <= level / 2))
    ] + [
        UnitFlag(ids[j], int(observed[j]), float(mean[j]), rep.p(lo_null <= z_obs[j]), "too rarely")
        for j in np.flatnonzero(varying & (z_obs < crit_lo) & (p_lo <= level / 2))
    ]
    flags.sort(key=lambda f: (f.p_value, f.id))
    test = CheckResult.worded(
        "units",
        float(np.abs(z_obs).max(initial=0.0)),
        min(1.0, 2 * min(p_hi, p_lo)),
        level,
        None,
        ("replay_units", *TOO_FEW[: bool(blind)]),
        units=int(varying.sum()),
        z_max=float(z_obs.max(initial=0)),
        z_min=float(z_obs.min(initial=0)),
        replays=rep.r,
        flagged=len(flags),
        **blind,
    )
    return test, flags


def _replay_spread(rep: _Replays, level: float, blind: Mapping[str, Any]) -> CheckResult:
    """The two-sided test of ``Σ z²``: loads spread too wide, or too even."""
    t_obs = float((rep.z_obs[rep.varying] ** 2).sum())
    t_null = (rep.z_null[:, rep.varying] ** 2).sum(axis=1)
    p_spread = min(1.0, 2 * min(rep.p(t_null >= t_obs), rep.p(t_null <= t_obs)))
    return CheckResult.worded(
        "spread",
        t_obs,
        p_spread,
        level,
        int(rep.varying.sum()),
        ("replay_spread", *TOO_FEW[: bool(blind)]),
        total=t_obs,
        median=float(np.median(t_null)),
        q_low=float(np.quantile(t_null, 0.025)),
        q_high=float(np.quantile(t_null, 0.975)),
        **blind,
    )


def pair_task(
    label: str,
    officers: Sequence[str],
    groups: Sequence[str],
    observed: I64,
    replays: Iterable[I64],
    only: Collection[str] | None = None,
) -> ReplayedTask:
    """One task's *pair* loads, for :func:`replay_health` with ``subject="pairs"``: how often
    each officer joined the team of an entity of each group (``groups[e]`` of entity row
    ``e``: the entity itself, its township, its industry...), in the draw and in each replay.

    ``observed`` and every replay are ``(entities, k)`` arrays of officer rows (as
    :func:`~shuangsuiji.assign.sample_teams` gives them). A unit is ``"officer × group"``;
    units that no team ever touches (the draw's or a replay's) are left out, since a count
    that cannot vary tests nothing, and so are the groups not in ``only`` (when given: the
    registry keeps the groups with two or more entities over the period, since a unit that
    can be drawn once at most cannot come up again and again). Over a period,
    :func:`replay_health` then flags the officer who lands on the same entity — or the same
    small group — far more often than the lottery makes likely, with the Monte Carlo p-value
    of its max-T test.

    >>> obs = np.array([[0, 1], [0, 2]])
    >>> reps = [np.array([[1, 2], [0, 1]]), np.array([[0, 2], [1, 2]])]
    >>> t = pair_task("T1", ["A", "B", "C"], ["x", "x"], obs, reps)
    >>> t.units, t.observed.tolist(), t.replays.tolist()
    (('A × x', 'B × x', 'C × x'), [2, 1, 1], [[1, 2, 1], [1, 1, 2]])
    """
    names, codes = np.unique(np.asarray(list(groups), dtype=str), return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    n_g = max(1, len(names))
    size = len(officers) * n_g

    def loads(teams: I64) -> I64:
        cells = np.asarray(teams, dtype=np.int64) * n_g + codes[:, None]
        return np.bincount(cells.ravel(), minlength=size).astype(np.int64)

    obs = loads(observed)
    reps = np.asarray([loads(t) for t in replays], dtype=np.int64).reshape(-1, size)
    touched = (obs > 0) | reps.any(axis=0)
    if only is not None:
        kept = np.isin(names, np.asarray(list(only), dtype=str))
        touched &= np.tile(kept, len(officers))
    used = np.flatnonzero(touched)
    units = [f"{officers[u // n_g]} × {names[u % n_g]}" for u in used.tolist()]
    return ReplayedTask(label, units, obs[used], reps[:, used])
