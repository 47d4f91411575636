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


@attrs.frozen(eq=False)
class _Checking:
    """What every check of :func:`check_teams` looks up: rows by ID, rule hits, recusals."""

    staffing: Staffing
    entity_row: dict[str, int]
    inspector_row: dict[str, int]
    hits: dict[tuple[int, int], list[RuleOutcome]]  # (entity row, inspector row) -> rules broken
    recused: dict[tuple[str, str], Reassignment]


def _rule_hits(
    staffing: Staffing,
    teams: Sequence[Team],
    entity_row: dict[str, int],
    inspector_row: dict[str, int],
) -> dict[tuple[int, int], list[RuleOutcome]]:
    """The eligibility and recusal rules each (entity, member) pair breaks, vectorised."""
    pair_e: list[int] = []
    pair_i: list[int] = []
    for team in teams:
        if team.entity_id in entity_row:
            for iid in dict.fromkeys(team.inspector_ids):
                if iid in inspector_row:
                    pair_e.append(entity_row[team.entity_id])
                    pair_i.append(inspector_row[iid])
    pe, pi = np.asarray(pair_e, dtype=np.int64), np.asarray(pair_i, dtype=np.int64)
    n_i = max(1, len(staffing.inspectors))
    hits: dict[tuple[int, int], list[RuleOutcome]] = {}
    for o in staffing.eligibility().outcomes:
        if o.name == "workload":
            continue  # checked from the counts, with the numbers (_workload_problems)
        if o.inspectors is not None:
            hit = o.inspectors[pi]
        else:
            assert o.pairs is not None
            hit = np.isin(pe * n_i + pi, o.pairs.entity_rows * n_i + o.pairs.inspector_rows)
        for j in np.flatnonzero(hit).tolist():
            hits.setdefault((int(pe[j]), int(pi[j])), []).append(o)
    return hits


def _shape_problems(team: Team, k: int, seen: set[str]) -> list[TeamProblem]:
    """A second team for the entity, the wrong size, a member listed twice."""
    eid, members = team.entity_id, list(team.inspector_ids)
    problems = []
    if eid in seen:
        problems.append(TeamProblem(eid, "", "duplicate_team", "entity has two teams"))
    if len(members) != k:
        problems.append(
            TeamProblem(eid, "", "team_size", f"team has {len(members)} members, needs {k}")
        )
    if len(set(members)) != len(members):
        problems.append(TeamProblem(eid, "", "duplicate_member", "a member is listed twice"))
    return problems


def _member_problems(c: _Checking, team: Team) -> list[TeamProblem]:
    """Members not in the pool, members a rule excludes, members recused after the draw."""
    eid, problems = team.entity_id, []
    for iid in dict.fromkeys(team.inspector_ids):
        if iid not in c.inspector_row:
            problems.append(TeamProblem(eid, iid, "unknown_inspector", "not in the pool"))
            continue
        for o in c.hits.get((c.entity_row[eid], c.inspector_row[iid]), []):
            problems.append(TeamProblem(eid, iid, o.name, o.reason))
        if (eid, iid) in c.recused:
            why = c.recused[(eid, iid)].reason
            problems.append(TeamProblem(eid, iid, "recused", f"recused after the draw ({why})"))
    return problems


def _cover_problems(c: _Checking, team: Team) -> list[TeamProblem]:
    """A department of a joint task, or a required qualification, that no member brings."""
    needs, ins = c.staffing.needs, c.staffing.inspectors
    rows = [c.inspector_row[i] for i in dict.fromkeys(team.inspector_ids) if i in c.inspector_row]
    depts = {ins.department[i] for i in rows}
    quals: set[str] = set().union(*(ins.qualifications[i] for i in rows))
    problems = []
    if needs.joint:
        problems += [
            TeamProblem(team.entity_id, "", "department_cover", f"no member of department {d}")
            for d in needs.departments
            if d not in depts
        ]
    if c.staffing.config.qualification_mode == "any_member":
        problems += [
            TeamProblem(team.entity_id, "", "qualification_cover", f"no member holds {q}")
            for q in sorted(needs.qualifications - quals)
        ]
    return problems


def _workload_problems(staffing: Staffing, teams: Sequence[Team]) -> list[TeamProblem]:
    """Inspectors over the task's cap or the period's, counting the teams of known entities."""
    known = set(staffing.entities.id_list())
    count: dict[str, int] = {}
    for team in teams:
        if team.entity_id in known:
            for iid in dict.fromkeys(team.inspector_ids):
                count[iid] = count.get(iid, 0) + 1
    cfg, problems = staffing.config, []
    for iid, n in sorted(count.items()):
        before = int(staffing.prior_load.get(iid, 0))
        if cfg.max_per_task and n > cfg.max_per_task:
            why = f"{n} teams in the task, max {cfg.max_per_task}"
            problems.append(TeamProblem("", iid, "workload_task", why))
        if cfg.max_per_period and before + n > cfg.max_per_period:
            why = f"{before} earlier + {n} teams in the period, max {cfg.max_per_period}"
            problems.append(TeamProblem("", iid, "workload_period", why))
    return problems


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
    entity_row = {e: i for i, e in enumerate(staffing.entities.id_list())}
    inspector_row = {e: i for i, e in enumerate(staffing.inspectors.id_list())}
    c = _Checking(
        staffing,
        entity_row,
        inspector_row,
        _rule_hits(staffing, teams, entity_row, inspector_row),
        {(r.entity_id, r.inspector_id): r for r in reassignments},
    )
    problems: list[TeamProblem] = []
    seen: set[str] = set()
    for team in teams:
        if team.entity_id not in entity_row:
            why = "entity is not in the task"
            problems.append(TeamProblem(team.entity_id, "", "unknown_entity", why))
            continue
        problems += _shape_problems(team, staffing.config.size, seen)
        seen.add(team.entity_id)
        problems += _member_problems(c, team) + _cover_problems(c, team)
    missing = [e for e in entity_row if e not in seen]
    problems += [TeamProblem(e, "", "missing_team", "entity has no team") for e in missing]
    return problems + _workload_problems(staffing, teams)


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
