"""The capped law SSJ-ASSIGN-CAP-1: no officer on an entity's team with probability above a cap.

SSJ-ASSIGN-2 draws uniformly among feasible assignments; with a narrow qualification or a small
department that can put one officer on one firm almost surely. An agency whose policy says
``[team] max_pair_probability = c`` and ``on_pair_cap = "enforce"`` draws its teams by this law
instead: its pair probabilities are at most ``c`` by construction, and the bound every pair
gets is known — exactly, from the frozen staffing — before the team seed exists. The
mathematics first (``docs/capped.md`` works an example through).

**Units.** Probabilities are counted in units of ``1 / B``, ``B = GRID = 10,000``; the cap
becomes ``C = floor(c * B)`` units. Requirements are those of SSJ-ASSIGN-2 (departments of a
joint task, then qualifications a member must bring, in that order), each seen as the set of
officer *types* that meet it. A requirement whose set contains another's is implied by it and
left out; the remaining ``r`` requirements ``1 .. r`` (in that order) must be pairwise apart —
no officer meets two of them — else the law is refused ("the requirements cross", e.g. a
qualification held in both departments of a joint task of two), and teams have ``k >= r``
members: one for each requirement and ``k - r`` free places.

**Each entity's own bound.** Entity ``e`` has ``m_e`` eligible officers, ``n_ej`` of them
meeting requirement ``j``. A team of ``k`` puts its officers on it with probabilities summing to
``k``, and the officers meeting ``j`` with probabilities summing to at least 1, so no law can
keep them all below ``L_e = max(ceil(k B / m_e), max_j ceil(B / n_ej))`` units.

**The network** ``N(t)``, capacities in units: ``S -> (e,*)`` ``(k - r) B``; ``S -> (e,j)``
``B``; ``(e,*) -> (e,j)`` ``(k - r) B``; for every eligible pair, ``(e,j) -> o`` when ``o``
meets ``j`` and ``(e,*) -> o`` when it meets none, capacity ``c_e(t) = max(L_e, t)``;
``o -> T`` ``cap_o B`` (``cap_o``: the teams ``o`` may still join). Edges of capacity 0 are left
out. A flow of value ``n k B`` (``n`` entities) is a fractional assignment ``x(e,o) = f / B``:
``k`` per entity, at least 1 per requirement, at most ``cap_o`` per officer, at most
``c_e(t) / B`` per pair.

**The level** ``t*`` is the smallest ``t`` in ``0 .. C`` for which ``N(t)`` carries ``n k B``
(a property of the staffing: the value of a maximum flow does not depend on how nodes are
numbered or which algorithm finds it). When there is none the law is refused, naming the
entities and what they lack. Every entity's bound is ``b_e = max(L_e, t*) <= C``: as low as its
own pool allows, raised only as far as officers shared under workload caps require.

**The draw.** The stream is SSJ-ASSIGN-2's with this law's own domain separator::

    block(i) = SHA-256( key || b"SSJ-ASSIGN-CAP-1" || 0x00 || u64be(i) )

with the same words and ``uniform``. (1) From block 0, a Fisher-Yates permutation of the
entities (in UTF-8 byte order of their IDs) orders them; (2) from the next fresh block one of
the officers eligible for at least one entity (in ID order) orders them. (3) Nodes are numbered
``S = 0``, then per entity in that order ``(e,*)``, ``(e,1) .. (e,r)``, then the officers in
that order, ``T`` last. (4) The maximum flow of ``N(t*)`` by the rule of
:mod:`~shuangsuiji.assign._capflow`. (5) From the next fresh block, its dependent rounding with
unit ``B``. (6) Entity ``e``'s team: the officers whose edge from ``e`` carries ``B``.

**Why the cap holds.** Given the numbering, the rounding puts ``o`` on ``e`` with probability
``f(e,o) / B <= b_e / B`` (it keeps every edge's expectation); averaged over the numberings the
probability is still at most ``b_e / B <= C / B <= c``. Workload caps, the one member per
requirement and the team size hold in every outcome because the rounding keeps every edge
between the floor and the ceiling of its flow. Re-assignments after the draw
(:func:`~shuangsuiji.assign.reassign`) are SSJ-CHANGE-1's and are not capped.

Nothing here reads a clock, a database or global random state.

>>> from fractions import Fraction
>>> cap_units(0.5), cap_units(Fraction(1, 3)), cap_units("0.34")
(5000, 3333, 3400)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Protocol

import attrs
import numpy as np

from shuangsuiji.assign._capflow import UnitNetwork, max_flow, round_flow
from shuangsuiji.assign._instance import (
    Instance,
    build_instance,
    minimal_requirements,
    requirement_sets,
)
from shuangsuiji.assign._stream import AssignStream, permutation
from shuangsuiji.assign.assignment import CAP_ALGORITHM
from shuangsuiji.assign.eligibility import Staffing
from shuangsuiji.errors import InvalidInputError, RefusedError

__all__ = [
    "CAP_ALGORITHM",
    "CAP_DOMAIN",
    "GRID",
    "CapShortfall",
    "CappedLaw",
    "PairCapRefused",
    "cap_units",
    "capped_flow",
    "capped_law",
    "draw_capped",
    "lacking_text",
    "law_for",
    "numbering",
    "officer_columns",
    "officers_lacking",
]

CAP_DOMAIN = b"SSJ-ASSIGN-CAP-1\x00"
GRID = 10_000
_SHOWN = 5


def cap_units(cap: float | Fraction | str) -> int:
    """``C = floor(c * GRID)``, the cap in units (from its decimal text, so 0.29 is 2900)."""
    value = cap if isinstance(cap, Fraction) else Fraction(str(cap))
    if not 0 < value <= 1:
        raise InvalidInputError(f"the pair cap must be in (0, 1], got {cap}")
    return math.floor(value * GRID)


@attrs.frozen
class CapShortfall:
    """Why the capped law cannot staff ``entity_ids``, and what to add (``message``)."""

    entity_ids: tuple[str, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"entities": list(self.entity_ids), "message": self.message}


class _Explained(Protocol):
    @property
    def message(self) -> str: ...


class PairCapRefused(RefusedError):
    """An officer would be on an entity's team with probability above the policy's cap:
    under ``on_pair_cap = "refuse"`` (the uniform law is above it) or ``"enforce"`` (not even
    the capped law can respect it); ``shortfalls`` name the entities and what to add."""

    def __init__(
        self, task: str, found: Sequence[_Explained], cap: float, *, enforce: bool = False
    ) -> None:
        self.shortfalls = tuple(found)
        shown = "; ".join(s.message for s in found[:5])
        more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
        what = (
            f"no team law can keep every officer's probability of inspecting an entity at or "
            f"below max_pair_probability = {cap}"
            if enforce
            else "the team draw would put an officer on an entity with probability above "
            f"max_pair_probability = {cap}"
        )
        super().__init__(
            f"task {task}: {what} ({len(found)} finding(s)): {shown}{more}; fix the staffing "
            'and freeze again, or set [team] on_pair_cap = "state" to draw the uniform law '
            "and state the shortfall"
        )


@attrs.frozen
class CappedLaw:
    """The law's parameters: ``cap`` and ``level`` (``t*``) in units, and every entity's
    bound ``b_e`` (units, in ``entity_ids`` order: canonical)."""

    cap: int
    level: int
    entity_ids: tuple[str, ...]
    bounds: tuple[int, ...]

    def maximum(self) -> tuple[str, int] | None:
        """The entity with the largest bound (first in ID order on ties) and that bound."""
        if not self.bounds:
            return None
        i = int(np.argmax(self.bounds))
        return self.entity_ids[i], self.bounds[i]


@attrs.frozen
class _Groups:
    """The requirements the network models: the minimal ones (a requirement met by every
    officer who meets another is implied and left out), each a set of officer types, pairwise
    disjoint. ``of[c]``: the group column ``c``'s officer belongs to (-1: none)."""

    names: tuple[str, ...]
    of: list[int]

    @property
    def r(self) -> int:
        return len(self.names)


def _groups(inst: Instance) -> _Groups | str:
    """The network's requirement groups (over the types of officers eligible for at least one
    entity), or why the law cannot apply."""
    present = {int(inst.col_type[c]) for c in officer_columns(inst)}
    sets = requirement_sets(inst.type_masks, len(inst.requirements), present)
    minimal = minimal_requirements(sets)
    for a, b in itertools.combinations(minimal, 2):
        if sets[a] & sets[b]:
            return (
                f"an officer meets {inst.requirements[a]} and {inst.requirements[b]}, which "
                f"others meet apart: the requirements cross, and {CAP_ALGORITHM} needs them "
                "nested or apart"
            )
    if inst.k < len(minimal):
        return f"teams of {inst.k} cannot give each of {len(minimal)} requirements a member"
    group_of_type = {t: i for i, j in enumerate(minimal) for t in sets[j]}
    of = [group_of_type.get(t, -1) for t in inst.col_type.tolist()]
    return _Groups(tuple(inst.requirements[j] for j in minimal), of)


def _own_bounds(inst: Instance, req: _Groups) -> list[int]:
    """``L_e`` per entity (units); 0 is never returned for a staffable entity."""
    r = req.r
    per_req = np.zeros((inst.n_e, r), dtype=np.int64)
    req_arr = np.asarray(req.of, dtype=np.int64)
    for j in range(r):
        per_req[:, j] = inst.E[:, req_arr == j].sum(axis=1)
    eligible = inst.E.sum(axis=1)
    out = []
    for e in range(inst.n_e):
        shares = [-(-inst.k * GRID // max(1, int(eligible[e])))]
        shares += [-(-GRID // max(1, int(n))) for n in per_req[e]]
        out.append(max(shares))
    return out


def _edges(
    inst: Instance,
    req: _Groups,
    caps: Sequence[int],
    ents: Sequence[int],
    offs: Sequence[int],
) -> tuple[int, list[tuple[int, int, int]], dict[tuple[int, int], int]]:
    """The network ``N`` with pair capacities ``caps`` in the numbering ``ents`` (entity
    rows) and ``offs`` (columns): node count, edges, and the edge index of each pair."""
    r, k = req.r, inst.k
    free = (k - r) * GRID
    first_officer = 1 + len(ents) * (r + 1)
    node_of = {c: first_officer + p for p, c in enumerate(offs)}
    sink = first_officer + len(offs)
    edges: list[tuple[int, int, int]] = []
    index: dict[tuple[int, int], int] = {}
    for q, e in enumerate(ents):
        hub = 1 + q * (r + 1)
        if free:
            edges.append((0, hub, free))
        for j in range(r):
            edges.append((0, hub + 1 + j, GRID))
            if free:
                edges.append((hub, hub + 1 + j, free))
        for c in np.flatnonzero(inst.E[e]).tolist():
            index[(e, c)] = len(edges)
            edges.append((hub + 1 + req.of[c], node_of[c], caps[e]))  # req -1: the hub (e,*)
    edges += [(node_of[c], sink, int(inst.cap[c]) * GRID) for c in offs if inst.cap[c] > 0]
    return sink + 1, edges, index


def officer_columns(inst: Instance) -> list[int]:
    """Columns of the officers eligible for at least one entity, in ID order."""
    used = np.flatnonzero(inst.E.any(axis=0))
    out: list[int] = used[np.argsort(inst.col_row[used], kind="stable")].tolist()
    return out


def _solve(inst: Instance, req: _Groups, caps: Sequence[int]) -> UnitNetwork:
    """The maximum flow of ``N`` with pair capacities ``caps``, identity numbering."""
    n_nodes, edges, _ = _edges(inst, req, caps, range(inst.n_e), officer_columns(inst))
    net = UnitNetwork.build(n_nodes, edges)
    max_flow(net)
    return net


def _full(inst: Instance, net: UnitNetwork) -> bool:
    return net.out_of_source() == inst.n_e * inst.k * GRID


def _level(inst: Instance, req: _Groups, own: Sequence[int], cap: int) -> int | None:
    """``t*``: the smallest ``t`` in ``0 .. cap`` whose network is full (binary search; the
    test is monotone in ``t``), or None."""

    def full(t: int) -> bool:
        return _full(inst, _solve(inst, req, [max(b, t) for b in own]))

    if full(0):
        return 0
    if not full(cap):
        return None
    lo, hi = 0, cap  # full(lo) is false, full(hi) true
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if full(mid) else (mid, hi)
    return hi


def _shared(
    inst: Instance, req: _Groups, own: Sequence[int], cap: int, names: _Names
) -> CapShortfall:
    """The min cut of ``N(cap)``: entities that cannot all be staffed, officers at their cap."""
    net = _solve(inst, req, [max(b, cap) for b in own])
    seen, stack = {0}, [0]
    while stack:
        u = stack.pop()
        for v, e in net.adjacent[u]:
            if v not in seen and net.residual(u, e) > 0:
                seen.add(v)
                stack.append(v)
    r = req.r
    ents = [e for e in range(inst.n_e) if any(1 + e * (r + 1) + j in seen for j in range(r + 1))]
    first_officer = 1 + inst.n_e * (r + 1)
    offs = [c for p, c in enumerate(officer_columns(inst)) if first_officer + p in seen]
    ids = tuple(names.entities[e] for e in ents)
    who = ", ".join(names.officers[c] for c in offs[:_SHOWN])
    return CapShortfall(
        ids,
        f"entities {_listed(ids)}: with no pair above {cap / GRID:g} their eligible officers "
        f"({who}{', ...' if len(offs) > _SHOWN else ''}) would exceed their workload caps "
        "(max_per_task, max_per_period); add officers, raise the caps or the pair cap",
    )


def _listed(ids: Sequence[str]) -> str:
    more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    return ", ".join(ids[:_SHOWN]) + more


@attrs.frozen
class _Names:
    entities: list[str]
    officers: list[str]  # by column


def officers_lacking(
    k: int, cap: int, eligible: int, meeting: Sequence[tuple[str, int]]
) -> list[tuple[str, int]]:
    """What a cap of ``cap`` units needs beyond an entity's officers, as ``(what, how many
    more)``: a team of ``k`` from ``m`` eligible officers puts one on it with probability at
    least ``k / m``, so ``m >= ceil(k / cap)``; a requirement met by ``n`` of them (``meeting``:
    its name and ``n``) puts one at least at ``1 / n``, so ``n >= ceil(1 / cap)``.

    >>> officers_lacking(2, 5000, 3, [("qualification 食品安全", 1)])
    [('qualified officer', 1), ('officer meeting qualification 食品安全', 1)]
    """
    need_all, need_one = math.ceil(k * GRID / cap), math.ceil(GRID / cap)
    out = [("qualified officer", need_all - eligible)] if eligible < need_all else []
    return out + [(f"officer meeting {name}", need_one - n) for name, n in meeting if n < need_one]


def lacking_text(missing: Sequence[tuple[str, int]]) -> str:
    """``"add 2 qualified officers; add 1 officer meeting …"``."""
    return "; ".join(
        f"add {n} {what if n == 1 else what.replace('officer', 'officers', 1)}"
        for what, n in missing
    )


def _too_narrow(
    inst: Instance, req: _Groups, own: Sequence[int], cap: int, names: _Names
) -> list[CapShortfall]:
    """Entities whose own bound is above the cap, each with the officers it lacks."""
    out = []
    for e in np.flatnonzero(np.asarray(own) > cap).tolist():
        cols = np.flatnonzero(inst.E[e]).tolist()
        meeting = [(name, sum(req.of[c] == j for c in cols)) for j, name in enumerate(req.names)]
        lack = lacking_text(officers_lacking(inst.k, cap, len(cols), meeting))
        out.append(
            CapShortfall(
                (names.entities[e],),
                f"entity {names.entities[e]}: {len(cols)} eligible officers for a team of "
                f"{inst.k}, so some pair has probability at least {own[e] / GRID:g} > "
                f"{cap / GRID:g}; {lack} (from another department, or set a joint inspection)",
            )
        )
    return out


def capped_law(inst: Instance, canon: Staffing, cap: int) -> CappedLaw | list[CapShortfall]:
    """The law's level and bounds for cap ``cap`` (units), or why it cannot respect the cap.

    ``inst`` is the instance of the canonical staffing ``canon`` (which names its rows and
    columns).
    """
    officers = np.strings.decode(canon.inspectors.ids, "utf-8").tolist()
    entity_ids = canon.entities.id_list()
    names = _Names(entity_ids, [officers[r] for r in inst.col_row.tolist()])
    req = _groups(inst)
    if isinstance(req, str):
        why = f'{req}; use on_pair_cap = "state" or "refuse"'
        return [CapShortfall(tuple(entity_ids), why)]
    own = _own_bounds(inst, req)
    narrow = _too_narrow(inst, req, own, cap, names)
    if narrow:
        return narrow
    level = _level(inst, req, own, cap)
    if level is None:
        return [_shared(inst, req, own, cap, names)]
    return CappedLaw(cap, level, tuple(entity_ids), tuple(max(b, level) for b in own))


def law_for(staffing: Staffing, cap: float | Fraction | str) -> CappedLaw | list[CapShortfall]:
    """:func:`capped_law` of a staffing and a cap given as a probability (e.g. ``0.5``)."""
    canon = staffing.canonical()
    return capped_law(build_instance(canon.eligibility()), canon, cap_units(cap))


def numbering(inst: Instance, stream: AssignStream) -> tuple[list[int], list[int]]:
    """Steps (1)-(2): the entity rows and officer columns in the order the stream draws."""
    ents: list[int] = permutation(stream, inst.n_e).tolist()
    stream.start_phase()
    officers = officer_columns(inst)
    return ents, [officers[i] for i in permutation(stream, len(officers)).tolist()]


def capped_flow(
    inst: Instance, law: CappedLaw, ents: Sequence[int], offs: Sequence[int]
) -> tuple[UnitNetwork, dict[tuple[int, int], int]]:
    """Steps (3)-(4): the maximum flow of ``N(t*)`` numbered by ``ents`` and ``offs``, and the
    edge of each eligible (entity row, column) pair. ``flow / GRID`` on those edges is the
    probability that the rounding puts the officer on the entity's team."""
    req = _groups(inst)
    if isinstance(req, str):
        raise InvalidInputError(f"{CAP_ALGORITHM}: {req}")
    n_nodes, edges, pairs = _edges(inst, req, law.bounds, ents, offs)
    net = UnitNetwork.build(n_nodes, edges)
    if max_flow(net) != inst.n_e * inst.k * GRID:
        raise InvalidInputError(
            f"the staffing does not carry the {CAP_ALGORITHM} law of level {law.level}: it "
            "changed since the law was computed"
        )
    return net, pairs


def draw_capped(inst: Instance, stream: AssignStream, law: CappedLaw) -> list[list[int]]:
    """Steps (1)-(6) of the module docstring: the teams (columns per canonical entity row).
    ``stream`` must carry :data:`CAP_DOMAIN`."""
    if stream.domain != CAP_DOMAIN:
        raise InvalidInputError(f"an {CAP_ALGORITHM} draw needs a stream with its own domain")
    net, pairs = capped_flow(inst, law, *numbering(inst, stream))
    stream.start_phase()
    round_flow(net, GRID, stream.uniform)
    teams: list[list[int]] = [[] for _ in range(inst.n_e)]
    for (e, c), i in pairs.items():
        if net.flow[i] == GRID:
            teams[e].append(c)
    return teams
