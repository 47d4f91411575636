"""The maximum flow of the repair phase, specified to the bit (flow rule ``dinic-ascending``).

The network of :mod:`shuangsuiji.assign._flow` has numbered nodes (source ``S = 0``, group
nodes, hubs, inspector nodes, sink ``T``) and at most one edge between two nodes. An edge
``u -> v`` of capacity ``c`` carrying ``f`` gives two *residual arcs*: ``u -> v`` with residual
``c - f`` and ``v -> u`` with residual ``f``. The arcs of a node are taken in ascending order of
the node at their other end. Starting from the initial flow (the kept members):

1. **Levels.** ``level[v]`` = the number of arcs with positive residual on a shortest path
   from ``S`` to ``v`` (breadth-first search). If ``T`` is not reached, stop: the flow is
   maximum.
2. **Blocking flow.** Every node has a pointer to its first arc. Repeat: walk from ``S``; at
   node ``u`` look at the arc ``u -> v`` under ``u``'s pointer; if ``level[v] = level[u] + 1``
   and its residual is positive, step to ``v``; otherwise move the pointer to the next arc. A
   node whose pointer has passed its last arc is a dead end: step back to the node before it
   and move *that* node's pointer on. Reaching ``T`` pushes one unit along the walk (each arc's
   residual down by one, its reverse up by one) and the next walk starts at ``S`` again, with
   the pointers where they are. When ``S`` itself is a dead end, go back to step 1.

This is Dinic's algorithm with a fixed arc order (in the recursive form of most textbooks:
``dfs(u)`` returns true at ``T``; otherwise while ``u``'s pointer has arcs, it tries the arc and
``dfs(v)``, pushes on success, else advances the pointer). Every ``S -> T`` path crosses a group
-> inspector edge of capacity 1, so each walk pushes exactly one unit, which is what pushing the
path's bottleneck would do.

The implementation keeps the one large part, the group -> inspector edges, as two dense boolean
matrices (``forward[g, r]``: eligible and not in the flow; ``flow[g, r]``: in the flow) and does
the searches level by level with numpy. Before each blocking flow it keeps only the arcs
``u -> v`` with ``level[v] = level[u] + 1``, positive residual, and ``v`` able to reach ``T`` by
such arcs: the walks of step 2 enter any other node only to find it a dead end, so leaving them
out changes no push (residuals on level arcs only go down during a blocking flow). The test
``tests/test_maxflow.py`` checks this against a textbook implementation written from the
paragraphs above.
"""

from __future__ import annotations

import attrs
import numpy as np

from shuangsuiji.assign._stream import BoolArray, IntArray


@attrs.define(eq=False)
class Residual:
    """The residual network: the small edges as arcs, the group -> inspector block as matrices.

    Small arcs (``tail``, ``head``, ``res``; ``rev`` the index of the reverse arc) are sorted by
    (tail, head). Group nodes are ``1 .. n_groups``; inspector nodes ``first_inspector ..
    first_inspector + n_ins - 1``; ``forward[g - 1, v - first_inspector]`` is the residual of the
    group -> inspector arc, ``flow[...]`` the residual of its reverse.
    """

    sink: int
    first_inspector: int
    tail: IntArray
    head: IntArray
    res: IntArray
    rev: IntArray
    forward: BoolArray
    flow: BoolArray

    @property
    def n_nodes(self) -> int:
        return self.sink + 1

    @property
    def n_groups(self) -> int:
        return int(self.forward.shape[0])


def residual(
    sink: int,
    first_inspector: int,
    edges: tuple[IntArray, IntArray, IntArray, IntArray],
    eligible: BoolArray,
    flow: BoolArray,
) -> Residual:
    """The residual network of small ``edges`` (from, to, capacity, initial flow) and the
    group -> inspector block (``eligible`` edges, ``flow`` on them)."""
    u, v, cap, f0 = (np.asarray(e, dtype=np.int64) for e in edges)
    if ((f0 < 0) | (f0 > cap)).any() or (flow & ~eligible).any():
        raise ValueError("the initial flow breaks a capacity")
    tail = np.concatenate([u, v])
    head = np.concatenate([v, u])
    res = np.concatenate([cap - f0, f0])
    order = np.lexsort((head, tail))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    m = len(u)
    partner = np.concatenate([np.arange(m, 2 * m), np.arange(m)])
    rev = position[partner[order]]
    return Residual(
        sink, first_inspector, tail[order], head[order], res[order], rev, eligible & ~flow, flow
    )


def _step(net: Residual, frontier: BoolArray, open_: BoolArray) -> BoolArray:
    """The nodes in ``open_`` that an arc with positive residual reaches from ``frontier``."""
    out = np.zeros(net.n_nodes, dtype=bool)
    arcs = frontier[net.tail] & (net.res > 0)
    out[net.head[arcs]] = True
    g = slice(1, 1 + net.n_groups)
    ins = slice(net.first_inspector, net.first_inspector + net.forward.shape[1])
    groups = np.flatnonzero(frontier[g])
    if len(groups):
        out[ins] |= net.forward[groups].any(axis=0)
    inspectors = np.flatnonzero(frontier[ins])
    if len(inspectors):
        out[g] |= net.flow[:, inspectors].any(axis=1)
    return out & open_


def levels(net: Residual) -> IntArray:
    """Breadth-first levels from ``S`` up to the level of ``T`` (-1: not reached by then)."""
    level = np.full(net.n_nodes, -1, dtype=np.int64)
    level[0] = 0
    frontier = level == 0
    d = 0
    while frontier.any() and level[net.sink] < 0:
        d += 1
        frontier = _step(net, frontier, level < 0)
        level[frontier] = d
    return level


def reachable(net: Residual, starts: IntArray) -> BoolArray:
    """Nodes reachable from ``starts`` by arcs with positive residual, never entering ``S``."""
    seen = np.zeros(net.n_nodes, dtype=bool)
    seen[starts] = True
    frontier = seen.copy()
    while frontier.any():
        open_ = ~seen
        open_[0] = False
        frontier = _step(net, frontier, open_)
        seen |= frontier
    return seen


@attrs.frozen(eq=False)
class _LevelGraph:
    """Arcs that can carry a walk of the blocking flow, per tail in ascending head order.

    ``kind`` 0: small arc ``ref``; 1: group -> inspector (``ref = (g - 1) * n_ins + r``); 2: its
    reverse, inspector -> group.
    """

    indptr: list[int]
    head: list[int]
    res: list[int]
    kind: IntArray
    ref: IntArray
    tail_is_source: BoolArray


def _useful(net: Residual, level: IntArray) -> BoolArray:
    """Nodes from which ``T`` is reached by arcs going one level up with positive residual."""
    useful = np.zeros(net.n_nodes, dtype=bool)
    useful[net.sink] = True
    g0, i0, n_ins = 1, net.first_inspector, net.forward.shape[1]
    g_level, i_level = level[g0 : g0 + net.n_groups], level[i0 : i0 + n_ins]
    for d in range(int(level[net.sink]) - 1, -1, -1):
        arcs = (net.res > 0) & (level[net.tail] == d) & (level[net.head] == d + 1)
        useful[net.tail[arcs & useful[net.head]]] = True
        up_ins = np.flatnonzero((i_level == d + 1) & useful[i0 : i0 + n_ins])
        here = np.flatnonzero(g_level == d)
        if len(up_ins) and len(here):
            useful[g0 + here] |= net.forward[np.ix_(here, up_ins)].any(axis=1)
        up_groups = np.flatnonzero((g_level == d + 1) & useful[g0 : g0 + net.n_groups])
        here = np.flatnonzero(i_level == d)
        if len(up_groups) and len(here):
            useful[i0 + here] |= net.flow[np.ix_(up_groups, here)].any(axis=0)
    return useful


def _bulk_arcs(
    net: Residual, level: IntArray, useful: BoolArray, up: bool
) -> tuple[IntArray, IntArray, IntArray]:
    """Level arcs of the group/inspector block: (tail, head, ref); ``up``: group -> inspector
    (from ``forward``), else inspector -> group (from ``flow``). Level by level."""
    g0, i0, n_ins = 1, net.first_inspector, net.forward.shape[1]
    g_level = np.where(useful[g0 : g0 + net.n_groups], level[g0 : g0 + net.n_groups], -1)
    i_level = np.where(useful[i0 : i0 + n_ins], level[i0 : i0 + n_ins], -1)
    parts: list[tuple[IntArray, IntArray]] = []
    for d in range(int(level[net.sink])):
        gs = np.flatnonzero(g_level == (d if up else d + 1))
        rs = np.flatnonzero(i_level == (d + 1 if up else d))
        if len(gs) and len(rs):
            rows, cols = np.nonzero((net.forward if up else net.flow)[np.ix_(gs, rs)])
            parts.append((gs[rows], rs[cols]))
    g = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    r = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    ref = g * n_ins + r
    return (g0 + g, i0 + r, ref) if up else (i0 + r, g0 + g, ref)


def _level_graph(net: Residual, level: IntArray) -> _LevelGraph:
    """The arcs the walks of one blocking flow can use (see the module docstring)."""
    useful = _useful(net, level)
    small = (
        (net.res > 0)
        & (level[net.head] == level[net.tail] + 1)
        & (level[net.tail] >= 0)
        & useful[net.tail]
        & useful[net.head]
    )
    s_idx = np.flatnonzero(small)
    fwd = _bulk_arcs(net, level, useful, up=True)
    back = _bulk_arcs(net, level, useful, up=False)
    tail = np.concatenate([net.tail[s_idx], fwd[0], back[0]])
    head = np.concatenate([net.head[s_idx], fwd[1], back[1]])
    kind = np.repeat([0, 1, 2], [len(s_idx), len(fwd[0]), len(back[0])])
    ref = np.concatenate([s_idx, fwd[2], back[2]])
    order = np.lexsort((head, tail))
    res = np.ones(len(order), dtype=np.int64)
    res[kind[order] == 0] = net.res[ref[order][kind[order] == 0]]
    indptr = np.searchsorted(tail[order], np.arange(net.n_nodes + 1))
    return _LevelGraph(
        indptr.tolist(),
        head[order].tolist(),
        res.tolist(),
        kind[order],
        ref[order],
        tail[order] == 0,
    )


def _blocking_flow(graph: _LevelGraph, sink: int) -> list[int]:
    """Step 2 of the module docstring: walks from ``S`` with pointers; units pushed per arc."""
    indptr, head, res = graph.indptr, graph.head, graph.res
    ptr = indptr[:-1]
    pushed = [0] * len(head)
    arcs: list[int] = []  # the walk so far, and the nodes it left from
    nodes: list[int] = []
    u = 0
    while True:
        if u == sink:
            for a in arcs:
                res[a] -= 1
                pushed[a] += 1
            arcs, nodes, u = [], [], 0
            continue
        a, end = ptr[u], indptr[u + 1]
        while a < end and res[a] == 0:
            a += 1
        ptr[u] = a
        if a < end:
            arcs.append(a)
            nodes.append(u)
            u = head[a]
        elif not arcs:
            return pushed
        else:  # a dead end: back to the node before it, whose pointer moves on
            u = nodes.pop()
            ptr[u] = arcs.pop() + 1


def _apply(net: Residual, graph: _LevelGraph, pushed: list[int]) -> int:
    """Write the pushes of one blocking flow into the residual network; returns the units that
    left the source."""
    units = np.asarray(pushed, dtype=np.int64)
    used = np.flatnonzero(units)
    kind, ref, p = graph.kind[used], graph.ref[used], units[used]
    small = kind == 0
    np.subtract.at(net.res, ref[small], p[small])
    np.add.at(net.res, net.rev[ref[small]], p[small])
    n_ins = net.forward.shape[1]
    for k, gain in ((1, True), (2, False)):
        g, r = np.divmod(ref[kind == k], n_ins)
        net.flow[g, r] = gain
        net.forward[g, r] = not gain
    return int(p[graph.tail_is_source[used]].sum())


def max_flow(net: Residual) -> int:
    """Run the procedure of the module docstring on ``net`` (in place); returns units pushed."""
    total = 0
    while True:
        level = levels(net)
        if level[net.sink] < 0:
            return total
        graph = _level_graph(net, level)
        total += _apply(net, graph, _blocking_flow(graph, net.sink))
