"""Replays of a team draw under many keys (draw health, pair probabilities, plan simulation):
the eligibility and, for the capped law, the law are computed once for all keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction

import numpy as np

from shuangsuiji.assign._engine import check_inputs, draw_or_explain, flow_rule
from shuangsuiji.assign._instance import Instance, build_instance
from shuangsuiji.assign._stream import AssignStream, IntArray
from shuangsuiji.assign.assignment import ALGORITHM, CAP_ALGORITHM
from shuangsuiji.assign.capped import (
    CAP_DOMAIN,
    GRID,
    PairCapRefused,
    cap_units,
    capped_law,
    draw_capped,
)
from shuangsuiji.assign.eligibility import Eligibility, Staffing

__all__ = ["sample_loads", "sample_teams"]


def sample_teams(
    staffing: Staffing,
    keys: Iterable[bytes],
    *,
    spec: str = ALGORITHM,
    pair_cap: float | Fraction | str = 0,
) -> Iterator[IntArray]:
    """The teams ``assign_teams(staffing, key)`` draws under each key, with the eligibility
    computed once: per key an ``(entities, k)`` array of inspector rows, rows in the order of
    ``staffing.entities`` and inspector rows in the order of ``staffing.inspectors``.

    For replays of a draw (draw health, pair probabilities, plan simulation). Raises
    :class:`InfeasibleAssignment` as :func:`assign_teams` does. ``spec`` and ``pair_cap``
    choose the law as for :func:`assign_teams` (the capped law is computed once).
    """
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = build_instance(elig)
    n_e = inst.n_e
    if n_e == 0:
        for _ in keys:
            yield np.zeros((0, inst.k), dtype=np.int64)
        return
    check_inputs(inst, canon, elig)
    # canonical rows -> rows in the caller's order (canonical() sorts by ID)
    owner = np.argsort(staffing.inspectors.ids, kind="stable")[inst.col_row]
    entity_at = np.argsort(np.argsort(staffing.entities.ids, kind="stable"), kind="stable")
    draw = _sampler(inst, canon, elig, spec, pair_cap)
    for key in keys:
        teams = draw(key)
        yield owner[np.asarray(teams, dtype=np.int64).reshape(n_e, inst.k)[entity_at]]


def _sampler(
    inst: Instance, canon: Staffing, elig: Eligibility, spec: str, pair_cap: float | Fraction | str
) -> Callable[[bytes], list[list[int]]]:
    """The draw of one key under law ``spec`` (teams as columns per canonical entity)."""
    if spec != CAP_ALGORITHM:
        flow_rule(spec)
        return lambda key: draw_or_explain(inst, canon, elig, AssignStream(key), spec)[0]
    units = cap_units(pair_cap)
    law = capped_law(inst, canon, units)
    if isinstance(law, list):
        raise PairCapRefused(canon.needs.label, law, units / GRID, enforce=True)
    return lambda key: draw_capped(inst, AssignStream(key, domain=CAP_DOMAIN), law)


def sample_loads(
    staffing: Staffing,
    keys: Iterable[bytes],
    *,
    spec: str = ALGORITHM,
    pair_cap: float | Fraction | str = 0,
) -> IntArray:
    """Each inspector's number of teams under each key, exactly as
    ``assign_teams(staffing, key).load()`` would give it (from :func:`sample_teams`).

    Rows follow ``keys``, columns ``staffing.inspectors`` in its order. For replays of a draw
    (draw health, plan simulation): many keys cost one eligibility and one draw each.
    Raises :class:`InfeasibleAssignment` as :func:`assign_teams` does.

    >>> from shuangsuiji.synth import make_city
    >>> from shuangsuiji.assign import TaskNeeds, TeamConfig, assign_teams
    >>> from datetime import date
    >>> city = make_city(400, seed=3)
    >>> s = Staffing(city.entities.take(np.arange(30)), city.inspectors,
    ...              TaskNeeds("T", ("SCJG",), date(2026, 7, 1)), TeamConfig(size=2))
    >>> keys = [bytes([i]) * 32 for i in range(3)]
    >>> loads = sample_loads(s, keys)
    >>> loads.sum(axis=1).tolist()
    [60, 60, 60]
    >>> ids = [i.decode() for i in city.inspectors.ids.tolist()]
    >>> got = assign_teams(s, keys[1]).load()
    >>> all(loads[1, j] == got.get(i, 0) for j, i in enumerate(ids))
    True
    """
    n_i = len(staffing.inspectors)
    teams = sample_teams(staffing, keys, spec=spec, pair_cap=pair_cap)
    rows = [np.bincount(t.ravel(), minlength=n_i) for t in teams]
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), n_i)
