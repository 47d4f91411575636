"""Checks of drawn teams: every rule re-checked, small cases enumerated, fairness measured.

:func:`check_teams` is what a verifier runs on a published assignment;
:func:`enumerate_assignments` and :func:`fairness` compare the draw with the exactly uniform
distribution on small cases.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import attrs
import numpy as np

from shuangsuiji.assign._engine import assign_teams
from shuangsuiji.assign._instance import build_instance
from shuangsuiji.assign.assignment import Assignment, Reassignment, Team
from shuangsuiji.assign.eligibility import RuleOutcome, Staffing
from shuangsuiji.errors import InvalidInputError


@attrs.frozen
class TeamProblem:
    """One rule a team breaks: the entity, the inspector (or ``""``), the rule and why."""

    entity_id: str
    inspector_id: str
    rule: str
    message: str


def check_teams(staffing: Staffing, teams: Assignment | Sequence[Team]) -> list[TeamProblem]:
    """Re-check every rule on given teams (for ``verify`` on draw bundles).

    Checks one team per entity and no other, team size, distinct known members, every
    eligibility and recusal rule (and the recusals recorded in an :class:`Assignment`), the
    department and qualification composition, and the workload caps. Returns the problems in
    team order, an empty list when the teams are valid. Vectorised over all members.
    """
    reassignments: Sequence[Reassignment] = ()
    if isinstance(teams, Assignment):
        reassignments = teams.reassignments
        teams = teams.teams
    s = staffing
    elig = s.eligibility()
    k, needs, cfg = s.config.size, s.needs, s.config
    ins = s.inspectors
    ent_row = {e: i for i, e in enumerate(s.entities.id_list())}
    ins_row = {e: i for i, e in enumerate(ins.id_list())}
    recused = {(r.entity_id, r.inspector_id): r for r in reassignments}
    pair_e: list[int] = []
    pair_i: list[int] = []
    for team in teams:
        if team.entity_id in ent_row:
            for iid in dict.fromkeys(team.inspector_ids):
                if iid in ins_row:
                    pair_e.append(ent_row[team.entity_id])
                    pair_i.append(ins_row[iid])
    pe, pi = np.asarray(pair_e, dtype=np.int64), np.asarray(pair_i, dtype=np.int64)
    n_i = max(1, len(ins))
    hits: dict[tuple[int, int], list[RuleOutcome]] = {}
    for o in elig.outcomes:
        if o.name == "workload":
            continue  # checked below from the counts, with the numbers
        if o.inspectors is not None:
            hit = o.inspectors[pi]
        else:
            assert o.pairs is not None
            hit = np.isin(pe * n_i + pi, o.pairs.entity_rows * n_i + o.pairs.inspector_rows)
        for j in np.flatnonzero(hit).tolist():
            hits.setdefault((int(pe[j]), int(pi[j])), []).append(o)
    problems: list[TeamProblem] = []
    seen: set[str] = set()
    count: dict[str, int] = {}
    for team in teams:
        eid = team.entity_id
        if eid not in ent_row:
            problems.append(TeamProblem(eid, "", "unknown_entity", "entity is not in the task"))
            continue
        if eid in seen:
            problems.append(TeamProblem(eid, "", "duplicate_team", "entity has two teams"))
        seen.add(eid)
        members = list(team.inspector_ids)
        if len(members) != k:
            problems.append(
                TeamProblem(eid, "", "team_size", f"team has {len(members)} members, needs {k}")
            )
        if len(set(members)) != len(members):
            problems.append(TeamProblem(eid, "", "duplicate_member", "a member is listed twice"))
        depts: set[str] = set()
        quals: set[str] = set()
        for iid in dict.fromkeys(members):
            count[iid] = count.get(iid, 0) + 1
            if iid not in ins_row:
                problems.append(TeamProblem(eid, iid, "unknown_inspector", "not in the pool"))
                continue
            i = ins_row[iid]
            for o in hits.get((ent_row[eid], i), []):
                problems.append(TeamProblem(eid, iid, o.name, o.reason))
            if (eid, iid) in recused:
                why = recused[(eid, iid)].reason
                problems.append(TeamProblem(eid, iid, "recused", f"recused after the draw ({why})"))
            depts.add(ins.department[i])
            quals |= ins.qualifications[i]
        if needs.joint:
            for d in needs.departments:
                if d not in depts:
                    problems.append(
                        TeamProblem(eid, "", "department_cover", f"no member of department {d}")
                    )
        if cfg.qualification_mode == "any_member":
            for q in sorted(needs.qualifications - quals):
                problems.append(TeamProblem(eid, "", "qualification_cover", f"no member holds {q}"))
    for eid in ent_row:
        if eid not in seen:
            problems.append(TeamProblem(eid, "", "missing_team", "entity has no team"))
    for iid, n in sorted(count.items()):
        before = int(s.prior_load.get(iid, 0))
        if cfg.max_per_task and n > cfg.max_per_task:
            problems.append(
                TeamProblem(
                    "", iid, "workload_task", f"{n} teams in the task, max {cfg.max_per_task}"
                )
            )
        if cfg.max_per_period and before + n > cfg.max_per_period:
            problems.append(
                TeamProblem(
                    "",
                    iid,
                    "workload_period",
                    f"{before} earlier + {n} teams in the period, max {cfg.max_per_period}",
                )
            )
    return problems


def enumerate_assignments(staffing: Staffing, limit: int = 200_000) -> list[tuple[Team, ...]]:
    """Every feasible assignment of a small staffing, by brute force (for tests and fairness).

    Teams are in the staffing's entity order. Raises ``ValueError`` past ``limit`` assignments.
    """
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = build_instance(elig)
    k = inst.k
    options: list[list[tuple[int, ...]]] = []
    for e in range(inst.n_e):
        cols = np.flatnonzero(inst.E[e]).tolist()
        options.append([c for c in itertools.combinations(cols, k) if inst.cover(c) == inst.full])
    load = np.zeros(inst.E.shape[1], dtype=np.int64)
    out: list[list[tuple[int, ...]]] = []
    chosen: list[tuple[int, ...]] = []

    def rec(e: int) -> None:
        if e == inst.n_e:
            out.append(list(chosen))
            if len(out) > limit:
                raise InvalidInputError(
                    f"more than {limit} feasible assignments; use a smaller case"
                )
            return
        for team in options[e]:
            if all(load[c] < inst.cap[c] for c in team):
                load[list(team)] += 1
                chosen.append(team)
                rec(e + 1)
                chosen.pop()
                load[list(team)] -= 1

    rec(0)
    ins_ids = canon.inspectors.ids
    ent_ids = canon.entities.id_list()
    order = {e: i for i, e in enumerate(ent_ids)}
    wanted = [order[e] for e in staffing.entities.id_list()]
    return [
        tuple(
            Team(ent_ids[e], sorted(ins_ids[inst.col_row[c]].decode() for c in a[e]))
            for e in wanted
        )
        for a in out
    ]


@attrs.frozen
class FairnessReport:
    """Distribution of drawn assignments over many keys against the uniform distribution.

    ``tv`` is the total-variation distance between the empirical distribution of the
    ``n_keys`` results and the uniform distribution over the ``n_feasible`` feasible
    assignments; ``noise_tv`` the expected TV of ``n_keys`` exactly uniform draws (sampling noise
    alone); ``accepted`` how many draws were accepted proposals (exactly uniform) rather than
    repaired ones.
    """

    n_keys: int
    n_feasible: int
    tv: float
    noise_tv: float
    accepted: int

    @property
    def excess(self) -> float:
        """``tv - noise_tv``: the part of the distance not explained by sampling noise."""
        return self.tv - self.noise_tv

    @property
    def bound(self) -> float:
        """The documented bound ``noise_tv + 1.2 / sqrt(n_keys)`` (about four standard
        deviations of the TV of an exactly uniform sampler above its mean)."""
        return self.noise_tv + 1.2 / math.sqrt(self.n_keys)

    @property
    def within_bound(self) -> bool:
        """True when ``tv <= bound``."""
        return self.tv <= self.bound


def _expected_noise_tv(n: int, states: int) -> float:
    """E[TV] of the empirical law of ``n`` uniform draws over ``states`` states (exact)."""
    from scipy.stats import binom

    x = np.arange(n + 1)
    pmf = binom.pmf(x, n, 1.0 / states)
    mad = float(np.sum(pmf * np.abs(x - n / states)))
    return states * mad / (2 * n)


def fairness(staffing: Staffing, keys: Sequence[bytes]) -> FairnessReport:
    """Total-variation distance of :func:`assign_teams` over ``keys`` from exact uniformity.

    Enumerates every feasible assignment (small staffings only), draws one assignment per key
    and compares. The documented bound (docs/teams.md) is :attr:`FairnessReport.bound`.
    """
    feasible = enumerate_assignments(staffing)
    index = {a: i for i, a in enumerate(feasible)}
    counts = np.zeros(len(feasible), dtype=np.int64)
    accepted = 0
    for key in keys:
        result = assign_teams(staffing, key)
        a = tuple(result.teams)
        if a not in index:
            raise AssertionError(
                f"assign_teams returned an infeasible assignment for key {key.hex()}"
            )
        counts[index[a]] += 1
        accepted += result.stream.accepted_round is not None
    n = len(keys)
    tv = 0.5 * float(np.abs(counts / n - 1.0 / len(feasible)).sum())
    return FairnessReport(n, len(feasible), tv, _expected_noise_tv(n, len(feasible)), accepted)
