"""Completing partial teams by maximum flow, exactly when requirements cross.

:func:`solve_flow` builds the network of a partial assignment and completes its flow with
:func:`shuangsuiji.assign._maxflow.max_flow` (Dinic, arcs in ascending order of their other
end: the flow rule of SSJ-ASSIGN-2, ``docs/teams.md`` "The flow phase, to the bit"), in named
steps: number the nodes, the small edges with the kept members as their initial flow, the group
-> inspector block, solve, read the teams back, and, when some entity stays short, find the
entities reachable from it in the residual network (they cannot all be staffed together).
:func:`solve_exact` adds the branch-and-bound over vectors that makes the completion exact
when requirements cross (see the docstring of :mod:`shuangsuiji.assign`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from shuangsuiji.assign._instance import Instance, vector_weights
from shuangsuiji.assign._maxflow import Residual, max_flow, reachable, residual
from shuangsuiji.assign._network import (
    FlowResult,
    Kept,
    Network,
    kept_members,
    number_nodes,
    owners,
)
from shuangsuiji.assign._stream import (
    BoolArray,
    IntArray,
)
from shuangsuiji.errors import InvalidInputError

FLOW_RULE = "dinic-ascending"
"""The flow rule of SSJ-ASSIGN-2 (:mod:`shuangsuiji.assign._maxflow`)."""
LEGACY_FLOW_RULE = "scipy-dinic"
"""The flow rule of SSJ-ASSIGN-1: SciPy's Dinic (:mod:`shuangsuiji.assign._flow_scipy`)."""


def _small_edges(
    inst: Instance, net: Network, kept: Kept
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Edges at the source, the hubs and the sink: (from, to, capacity, kept flow).

    A kept member fills its group's mandatory places (from the source) first, then optional
    ones (through the hub); the sink edge of an inspector carries its kept teams.
    """
    count = np.bincount(kept.loc * net.width + kept.kind, minlength=net.n * net.width)
    count = count.reshape(net.n, -1)
    via_source = np.minimum(count, net.mandatory[None, :])
    via_hub = (count - via_source).sum(axis=1)
    g_loc, g_kind, g_node = net.group_nodes()
    h_loc = net.hub_entities()
    opt = (net.hub[g_loc] >= 0) & (net.optional[g_kind] > 0)
    on_hub = (count - via_source)[g_loc, g_kind][opt]
    load = np.bincount(kept.col, minlength=net.n_c)
    parts = [
        (np.zeros_like(g_node), g_node, net.mandatory[g_kind], via_source[g_loc, g_kind]),
        (net.hub[g_loc][opt], g_node[opt], net.optional[g_kind][opt], on_hub),
        (np.zeros_like(h_loc), net.hub[h_loc], net.hub_cap[h_loc], via_hub[h_loc]),
        (net.inspector_node, np.full(net.n_c, net.sink), inst.cap, load),
    ]
    u, v, cap, f0 = (np.concatenate([p[j] for p in parts]).astype(np.int64) for j in range(4))
    used = (cap > 0) | (f0 > 0)
    return u[used], v[used], cap[used], f0[used]


def _by_rank(net: Network) -> IntArray:
    """The inspector columns in node order."""
    return np.argsort(net.inspector_node, kind="stable")


def _group_block(
    inst: Instance, net: Network, rows: Sequence[int], kept: Kept
) -> tuple[BoolArray, BoolArray]:
    """Group -> inspector edges (eligible, and of a type the group takes) and the kept flow,
    as (group node - 1, inspector node - first inspector node) matrices."""
    by_rank = _by_rank(net)
    g_loc, g_kind, g_node = net.group_nodes()
    takes = np.zeros((net.width, max(inst.n_t, 1)), dtype=bool)
    for kind, (types, _, _) in enumerate(net.kinds):
        takes[kind, sorted(types)] = True
    eligible = np.zeros((net.last_group - 1, net.n_c), dtype=bool)
    rows_arr = np.asarray(rows, dtype=np.int64)
    eligible[g_node - 1] = inst.E[rows_arr[g_loc]][:, by_rank]
    eligible[g_node - 1] &= takes[g_kind][:, inst.col_type[by_rank]]
    flow = np.zeros_like(eligible)
    first = net.sink - net.n_c
    flow[net.node[kept.loc, kept.kind] - 1, net.inspector_node[kept.col] - first] = True
    return eligible, flow


def _teams_of(net: Network, flow: BoolArray) -> list[list[int]]:
    """Each entity's team: the columns its group nodes send flow to, in ascending order."""
    g, r = np.nonzero(flow)
    loc = owners(net)[g + 1]
    col = _by_rank(net)[r]
    order = np.lexsort((col, loc))
    loc, col = loc[order], col[order]
    bounds = np.searchsorted(loc, np.arange(net.n + 1))
    cols = col.tolist()
    return [cols[bounds[x] : bounds[x + 1]] for x in range(net.n)]


def _reach_of_short(
    net: Network, rows: Sequence[int], res: Residual, short: list[int]
) -> list[set[int]]:
    """For each short entity (the first 20), the entities reachable from its nodes in the final
    residual network without the source: together they cannot all be staffed."""
    owner = owners(net)
    reach: list[set[int]] = []
    for local in short[:20]:
        seen = reachable(res, np.flatnonzero(owner == local))
        reach.append({int(rows[x]) for x in np.unique(owner[seen]) if x >= 0})
    return reach


def _legacy_solver() -> Callable[[Instance, Network, Sequence[int], Kept, bool], FlowResult]:
    """SciPy's Dinic for SSJ-ASSIGN-1 replays, or a refusal that says what to install."""
    try:
        from shuangsuiji.assign._flow_scipy import solve_scipy
    except ImportError as exc:
        raise InvalidInputError(
            "this SSJ-ASSIGN-1 team draw went through the flow phase, which used SciPy's "
            "maximum_flow (its record names the version in stream.scipy_version): install "
            "that SciPy version to replay it; SSJ-ASSIGN-2 draws do not need SciPy"
        ) from exc
    return solve_scipy


def solve_flow(
    inst: Instance,
    rows: Sequence[int],
    teams: Sequence[Sequence[int]],
    modes: Mapping[int, tuple[int, ...]],
    ins_perm: IntArray | None = None,
    ent_perm: IntArray | None = None,
    rule: str = FLOW_RULE,
) -> FlowResult:
    """Max flow completing the partial ``teams`` of entities ``rows`` (on the residual network).

    Nodes: 0 the source; group nodes kind by kind, entities in ``ent_perm`` order; one hub per
    entity with optional places; the inspector columns, column ``c`` at rank ``ins_perm[c]``;
    the sink. ``source -> group`` carries a group's mandatory places, ``source -> hub -> group``
    the optional ones, ``group -> inspector`` capacity 1, ``inspector -> sink`` the cap. An
    entity reaches each inspector through one group only, so members are distinct. The kept
    members are the initial flow; :func:`~shuangsuiji.assign._maxflow.max_flow` completes it
    (``rule`` :data:`LEGACY_FLOW_RULE` replays SSJ-ASSIGN-1 with SciPy instead).
    """
    net = number_nodes(inst, rows, modes, ins_perm, ent_perm)
    kept = kept_members(inst, net, teams)
    if rule == LEGACY_FLOW_RULE:
        return _legacy_solver()(inst, net, rows, kept, bool(modes))
    eligible, flow = _group_block(inst, net, rows, kept)
    res = residual(net.sink, net.sink - net.n_c, _small_edges(inst, net, kept), eligible, flow)
    pushed = max_flow(res)
    out_teams = _teams_of(net, res.flow)
    if pushed == net.n * net.k - len(kept.loc):
        return FlowResult(True, out_teams, [], [])
    short = [local for local in range(net.n) if len(out_teams[local]) < net.k]
    reach = _reach_of_short(net, rows, res, short)
    return FlowResult(False, out_teams, [int(rows[x]) for x in short], reach, not modes)


def solve_exact(
    inst: Instance,
    rows: Sequence[int],
    teams: Sequence[Sequence[int]],
    ins_perm: IntArray | None = None,
    ent_perm: IntArray | None = None,
    rule: str = FLOW_RULE,
) -> FlowResult:
    """Exact completion: the flow, plus branch-and-bound on vectors when requirements cross.

    Each node solves the flow with some entities fixed to a type vector and the others on the
    relaxed network. If some flow teams miss a crossing requirement, the node first *dives*:
    it fixes every such entity at once to the covering vector closest to its flow team; if that
    fails it branches on the first such entity over all its feasible vectors, closest first.
    Complete: every feasible assignment gives the branched entity one of its vectors, so some
    branch contains it; a node is pruned only when even its relaxation has no saturating flow.
    """

    def node(modes: dict[int, tuple[int, ...]], start: Sequence[Sequence[int]]) -> FlowResult:
        res = solve_flow(inst, rows, start, modes, ins_perm, ent_perm, rule)
        if not res.ok:
            return res
        bad = [
            local
            for local, team in enumerate(res.teams)
            if int(rows[local]) not in modes and inst.cover(team) != inst.full
        ]
        if not bad:
            return res
        options = {
            local: _vectors_by_closeness(inst, int(rows[local]), res.teams[local]) for local in bad
        }
        hopeless = [int(rows[x]) for x in bad if not options[x]]
        if hopeless:  # no team of its eligible inspectors covers every requirement at once
            return FlowResult(False, list(res.teams), hopeless[:1], [set(hopeless[:1])])
        if len(bad) > 1:
            dive = {**modes, **{int(rows[x]): options[x][0] for x in bad}}
            start2 = [
                _fit_vector(inst, t, options[x][0]) if x in options else t
                for x, t in enumerate(res.teams)
            ]
            child = node(dive, start2)
            if child.ok:
                return child
        local = bad[0]
        e = int(rows[local])
        for v in options[local]:
            start2 = list(res.teams)
            start2[local] = _fit_vector(inst, res.teams[local], v)
            child = node({**modes, e: v}, start2)
            if child.ok:
                return child
        return FlowResult(False, list(res.teams), [e], [{e}], certified=False)

    return node({}, teams)


def _vectors_by_closeness(inst: Instance, e: int, team: Sequence[int]) -> list[tuple[int, ...]]:
    """Entity ``e``'s feasible covering vectors, those sharing most members' types first."""
    a = inst.counts[e].tolist()
    have = [0] * inst.n_t
    for c in team:
        have[int(inst.col_type[c])] += 1
    vecs = [v for v in inst.vectors(inst.k, inst.full) if all(c <= a[t] for t, c in enumerate(v))]
    weights = vector_weights(inst, a, vecs)
    ranked = sorted(
        range(len(vecs)),
        key=lambda j: (-sum(min(c, have[t]) for t, c in enumerate(vecs[j])), -weights[j], j),
    )
    return [vecs[j] for j in ranked]


def _fit_vector(inst: Instance, team: Sequence[int], v: tuple[int, ...]) -> list[int]:
    left = list(v)
    out = []
    for c in team:
        t = int(inst.col_type[c])
        if left[t]:
            left[t] -= 1
            out.append(c)
    return out
