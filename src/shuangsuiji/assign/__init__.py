"""Random inspection teams under recusal (回避), composition and workload rules: SSJ-ASSIGN-2.

The second "random" of 双随机: every selected entity gets a team of inspectors drawn at random
from those allowed to go there. The mathematics first.

**Eligibility.** Inspector ``i`` may inspect entity ``e`` when ``i`` belongs to one of the task's
departments, is active, holds a law-enforcement certificate (执法证) valid on the inspection
date, still has workload left in the period, and no recusal rule removes the pair: declared
conflicts, attribute rules (e.g. the officer lives in the entity's township), rotation (the pair
met within ``N`` days) and any :class:`RecusalRule` an agency adds in Python. Every exclusion
keeps its rule's name and reason, so an error can say which rules removed which inspectors.

**Composition.** A team is a set of ``k`` distinct eligible inspectors (``k >= 2`` unless a legal
exception is named) that *covers* the task's requirements: in a joint task (联合抽查) at least one
member of every participating department, and at least one member holding every qualification
the task's items require (``qualification_mode="any_member"``; ``"every_member"`` instead makes
the qualification an eligibility rule). Each inspector joins at most ``max_per_task`` teams of
the task and at most ``max_per_period`` minus its prior load in the period.

**Types.** Requirements are numbered (departments of a joint task first, in task order, then
qualifications in sorted order); an inspector's *type* is the bit mask of requirements it meets.
A team covers the requirements when the OR of its members' types is full. A *vector* ``v`` counts
members per type (sum ``k``); entity ``e`` with ``a[e, t]`` eligible inspectors of type ``t`` has
``W_e(v) = prod_t C(a[e, t], v_t)`` covering teams of vector ``v``. Drawing ``v`` with probability
``W_e(v) / sum W_e`` and then ``v_t`` distinct members of each type uniformly gives a *uniform*
covering team: this is the proposal.

**The draw.** (1) Proposal rounds: every entity draws a uniform covering team independently. If
no inspector exceeds its cap, the round is accepted; conditioned on acceptance the result is
*exactly uniform* over all feasible assignments (rejection sampling). (2) When no round is
accepted, the last proposal is repaired: over-cap slots are dropped at random, holes are refilled
at random from inspectors with spare capacity, and holes that remain are filled by a maximum flow
on the residual network of the partial assignment, whose nodes are numbered in a random order;
the maximum flow is Dinic's algorithm with arcs taken in ascending order of their other end,
one unit per walk (:mod:`~shuangsuiji.assign._maxflow`; ``docs/teams.md``, "The flow phase, to
the bit"), so the flow phase too replays in any language, without SciPy. This is
**SSJ-ASSIGN-2** (recorded as ``stream.spec``); SSJ-ASSIGN-1 records, whose flow phase was
SciPy's Dinic, replay with ``assign_teams(..., spec="SSJ-ASSIGN-1")``. The flow network is
exact for departments and for any family of requirements whose minimal members are
disjoint; when requirements cross (a qualification held in two departments of a joint task) the
flow is a relaxation and a branch-and-bound over the contested entities' vectors completes it,
so **a feasible assignment is found whenever one exists**. (3) A repaired assignment is then
smoothed by Metropolis steps (pick an entity at random, propose a uniform covering team, accept
it if the caps allow), whose stationary law is uniform over feasible assignments.

**Randomness** comes only from the draw key through a SHA-256 counter stream::

    block(i) = SHA-256( key || b"SSJ-ASSIGN-1" || 0x00 || u64be(i) ),   i = 0, 1, 2, ...
    word(w)  = u64be( block(w // 4)[8 (w mod 4) : 8 (w mod 4) + 8] )

``uniform(n)`` takes ``m = max(1, ceil(bitlen(n - 1) / 64))`` words as one big-endian integer
``x`` and returns ``x mod n`` if ``x < 2^(64 m) - (2^(64 m) mod n)``, else tries the next ``m``
words (rejection: no modulo bias). Every phase starts on a fresh block. ``docs/teams.md`` gives
the byte-exact consumption order. No ``random``, no numpy ``Generator``.

**Infeasibility** raises :class:`InfeasibleAssignment` naming the smallest set of entities that
cannot all be staffed (a Hall violator found from the minimum cut) and, per entity, which rules
removed which inspectors.


The package, one concept per module: :mod:`~shuangsuiji.assign._stream` (the random stream),
:mod:`~shuangsuiji.assign.rules` (recusal and team rules, and the policy mapping),
:mod:`~shuangsuiji.assign.eligibility` (needs, staffing, eligibility),
:mod:`~shuangsuiji.assign.assignment` (the result), :mod:`~shuangsuiji.assign._instance` (the
numbered problem), :mod:`~shuangsuiji.assign._network` (the numbered flow network),
:mod:`~shuangsuiji.assign._maxflow` (the maximum flow, specified to the bit),
:mod:`~shuangsuiji.assign._flow` (completion by maximum flow, and branch-and-bound),
:mod:`~shuangsuiji.assign._flow_scipy` (the SSJ-ASSIGN-1 flow, for old records),
:mod:`~shuangsuiji.assign._engine` (the draw), :mod:`~shuangsuiji.assign._replays` (replays
under many keys), :mod:`~shuangsuiji.assign.capped` and :mod:`~shuangsuiji.assign._capflow` (the
capped law SSJ-ASSIGN-CAP-1: no pair above a policy's cap), :mod:`~shuangsuiji.assign.pairs`
(pair probabilities), :mod:`~shuangsuiji.assign.check` (checks and fairness) and
:mod:`~shuangsuiji.assign.record` (the staffing record a bundle carries, and its verifier).

>>> from datetime import date
>>> import numpy as np
>>> from shuangsuiji.synth import make_city
>>> city = make_city(300, seed=5)
>>> needs = TaskNeeds("T-2026-01", departments=("SCJG",), on=date(2026, 6, 30))
>>> staffing = Staffing(city.entities.take(np.arange(20)), city.inspectors, needs,
...                     conflicts=ConflictTable.from_rows(city.conflicts))
>>> result = assign_teams(staffing, key=bytes(32))
>>> len(result.teams), {len(t.inspector_ids) for t in result.teams}
(20, {2})
>>> check_teams(staffing, result)
[]
>>> assign_teams(staffing, key=bytes(32)).teams == result.teams
True
"""

from __future__ import annotations

from shuangsuiji.assign._engine import (
    PhaseSpan,
    assign_teams,
    reassign,
    trace_draw,
)
from shuangsuiji.assign._replays import sample_loads, sample_teams
from shuangsuiji.assign._stream import AssignStream
from shuangsuiji.assign.assignment import (
    ALGORITHM,
    Assignment,
    InfeasibleAssignment,
    Reassignment,
    Recusal,
    RecusalReason,
    StreamInfo,
    Team,
)
from shuangsuiji.assign.check import (
    FairnessReport,
    TeamProblem,
    check_teams,
    enumerate_assignments,
    fairness,
)
from shuangsuiji.assign.eligibility import Eligibility, RuleOutcome, Staffing, TaskNeeds
from shuangsuiji.assign.rules import (
    AttributeRule,
    ConflictTable,
    DeclaredConflicts,
    Exclusions,
    PastAssignments,
    RecusalRule,
    Rotation,
    RuleContext,
    TeamConfig,
)

__all__ = [
    "ALGORITHM",
    "AssignStream",
    "Assignment",
    "AttributeRule",
    "ConflictTable",
    "DeclaredConflicts",
    "Eligibility",
    "Exclusions",
    "FairnessReport",
    "InfeasibleAssignment",
    "PastAssignments",
    "PhaseSpan",
    "Reassignment",
    "Recusal",
    "RecusalReason",
    "RecusalRule",
    "Rotation",
    "RuleContext",
    "RuleOutcome",
    "Staffing",
    "StreamInfo",
    "TaskNeeds",
    "Team",
    "TeamConfig",
    "TeamProblem",
    "assign_teams",
    "check_teams",
    "enumerate_assignments",
    "fairness",
    "reassign",
    "sample_loads",
    "sample_teams",
    "trace_draw",
]
