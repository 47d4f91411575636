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

import itertools
from collections.abc import Callable, Mapping, Sequence

import attrs
import numpy as np

from shuangsuiji.assign._instance import Instance, vector_weights
from shuangsuiji.assign._maxflow import Residual, max_flow, reachable, residual
from shuangsuiji.assign._stream import (
    BoolArray,
    IntArray,
)
from shuangsuiji.errors import InvalidInputError


@attrs.frozen(eq=False)
class FlowResult:
    ok: bool
    teams: list[list[int]]
    short: list[int]  # entities left short (when not ok)
    reach: list[set[int]]  # per short entity: entities reachable in the residual graph
    certified: bool = True  # ``reach`` sets are proven violators (relaxation failed, or no vector)


def _groups(inst: Instance, mode: tuple[int, ...] | None) -> list[tuple[frozenset[int], int, int]]:
    """Groups (types, mandatory, optional) of one entity: relaxed tree or a fixed vector."""
    k = inst.k
    if mode is not None:
        return [(frozenset([t]), c, 0) for t, c in enumerate(mode) if c]
    p = len(inst.disjoint)
    out = [(g, 1, k - p) for g in inst.disjoint]
    rest = frozenset(range(inst.n_t)) - frozenset().union(*inst.disjoint)
    if rest and k - p > 0:
        out.append((rest, 0, k - p))
    return out


@attrs.frozen(eq=False)
class Network:
    """The node numbering of one flow network (see :func:`solve_flow`).

    ``kinds`` are the distinct groups (types, mandatory places, optional places) over the
    templates: template 0 is the relaxed tree, template ``1 + j`` the ``j``-th fixed vector in
    use. ``node[x, kind]`` is the group node of local entity ``x`` (-1 if its template has no
    such group), ``hub[x]`` its hub (-1 without optional places), ``inspector_node[c]`` the
    node of inspector column ``c``. Group nodes are ``1 .. last_group - 1``.
    """

    k: int
    n: int
    n_c: int
    order: IntArray  # local entities in node order
    kinds: list[tuple[frozenset[int], int, int]]
    has: BoolArray  # (templates, kinds): the template has a group of this kind
    type_kind: IntArray  # (templates, types): the kind that takes an inspector of this type
    mandatory: IntArray  # per kind
    optional: IntArray  # per kind
    template: IntArray  # per local entity
    node: IntArray
    last_group: int
    hub: IntArray
    hub_cap: IntArray  # per local entity
    inspector_node: IntArray
    sink: int

    @property
    def n_nodes(self) -> int:
        return self.sink + 1

    @property
    def width(self) -> int:
        """Columns of the per-kind tables (at least one, so that empty tables keep a shape)."""
        return max(len(self.kinds), 1)

    def group_nodes(self) -> tuple[IntArray, IntArray, IntArray]:
        """Every group node as (local entity, kind, node), entity-major."""
        g_loc, g_kind = np.nonzero(self.node >= 0)
        return g_loc, g_kind, self.node[g_loc, g_kind]

    def hub_entities(self) -> IntArray:
        """The local entities that have a hub."""
        return np.flatnonzero(self.hub >= 0)


@attrs.frozen(eq=False)
class Kept:
    """The members kept from the partial teams that fit a group: local entity, column, kind."""

    loc: IntArray
    col: IntArray
    kind: IntArray


def _kinds(
    inst: Instance, vectors: Sequence[tuple[int, ...]]
) -> tuple[list[tuple[frozenset[int], int, int]], BoolArray, IntArray]:
    """The group kinds of the templates, which template has which, and the kind of each type."""
    templates = [_groups(inst, None)] + [_groups(inst, v) for v in vectors]
    kinds = sorted({g for gs in templates for g in gs}, key=lambda g: (sorted(g[0]), g[1], g[2]))
    kind_index = {g: i for i, g in enumerate(kinds)}
    has = np.zeros((len(templates), max(len(kinds), 1)), dtype=bool)
    type_kind = np.full((len(templates), max(inst.n_t, 1)), -1, dtype=np.int64)
    for j, gs in enumerate(templates):
        for g in gs:
            has[j, kind_index[g]] = True
            type_kind[j, sorted(g[0])] = kind_index[g]
    return kinds, has, type_kind


def _templates(
    rows: Sequence[int], modes: Mapping[int, tuple[int, ...]], vectors: list[tuple[int, ...]]
) -> IntArray:
    """The template of each local entity: 0 (relaxed) or ``1 +`` the index of its vector."""
    template = np.zeros(len(rows), dtype=np.int64)
    if modes:
        local_of = {int(r): x for x, r in enumerate(rows)}
        for r, v in modes.items():
            if r in local_of:
                template[local_of[r]] = 1 + vectors.index(v)
    return template


def _number_groups(
    order: IntArray, has: BoolArray, template: IntArray, n_kinds: int
) -> tuple[IntArray, int]:
    """Group nodes from 1, kind by kind, entities in ``order``; returns them and the next node."""
    node = np.full((len(order), max(n_kinds, 1)), -1, dtype=np.int64)
    next_node = 1
    for kind in range(n_kinds):
        who = order[has[template[order], kind]]
        node[who, kind] = np.arange(next_node, next_node + len(who))
        next_node += len(who)
    return node, next_node


def _number_nodes(
    inst: Instance,
    rows: Sequence[int],
    modes: Mapping[int, tuple[int, ...]],
    ins_perm: IntArray | None,
    ent_perm: IntArray | None,
) -> Network:
    """Number the nodes: source 0, group nodes kind by kind, hubs, inspectors, sink."""
    n, n_c = len(rows), int(inst.E.shape[1])
    order = np.arange(n) if ent_perm is None else np.asarray(ent_perm, dtype=np.int64)
    rank = np.arange(n_c) if ins_perm is None else np.asarray(ins_perm, dtype=np.int64)
    vectors = sorted(set(modes.values()))
    kinds, has, type_kind = _kinds(inst, vectors)
    mandatory = np.asarray([g[1] for g in kinds] or [0], dtype=np.int64)
    template = _templates(rows, modes, vectors)
    node, last_group = _number_groups(order, has, template, len(kinds))
    hub_cap = (inst.k - (has * mandatory[None, :]).sum(axis=1))[template]
    hub = np.full(n, -1, dtype=np.int64)
    with_hub = order[hub_cap[order] > 0]
    hub[with_hub] = np.arange(last_group, last_group + len(with_hub))
    first_inspector = last_group + len(with_hub)
    return Network(
        k=inst.k,
        n=n,
        n_c=n_c,
        order=order,
        kinds=kinds,
        has=has,
        type_kind=type_kind,
        mandatory=mandatory,
        optional=np.asarray([g[2] for g in kinds] or [0], dtype=np.int64),
        template=template,
        node=node,
        last_group=last_group,
        hub=hub,
        hub_cap=hub_cap,
        inspector_node=first_inspector + rank,
        sink=first_inspector + n_c,
    )


def _kept_members(inst: Instance, net: Network, teams: Sequence[Sequence[int]]) -> Kept:
    """The kept members of the partial teams, each in the group of its type (others dropped)."""
    lengths = np.asarray([len(t) for t in teams], dtype=np.int64)
    loc = np.repeat(np.arange(net.n, dtype=np.int64), lengths)
    col = np.fromiter(itertools.chain.from_iterable(teams), dtype=np.int64, count=len(loc))
    kind = net.type_kind[net.template[loc], inst.col_type[col]] if len(loc) else loc
    keep = kind >= 0
    return Kept(loc[keep], col[keep], kind[keep])


def owners(net: Network) -> IntArray:
    """The local entity of each group and hub node (-1 for the other nodes)."""
    owner = np.full(net.n_nodes, -1, dtype=np.int64)
    g_loc, _, g_node = net.group_nodes()
    owner[g_node] = g_loc
    h_loc = net.hub_entities()
    owner[net.hub[h_loc]] = h_loc
    return owner


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
    net = _number_nodes(inst, rows, modes, ins_perm, ent_perm)
    kept = _kept_members(inst, net, teams)
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
