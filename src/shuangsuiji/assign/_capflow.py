"""A flow network in integer units, its maximum flow and its dependent rounding, to the bit.

The capped law (:mod:`shuangsuiji.assign.capped`, SSJ-ASSIGN-CAP-1) computes a *fractional*
assignment as a flow in units of ``1 / B`` and then rounds it to whole teams at random so that
every edge keeps its expected value. Both steps are specified here so that any language can
replay them; ``docs/capped.md`` has the same text with a worked example.

**The network.** Nodes are numbered ``0 .. N - 1`` (source ``S = 0``, sink ``T = N - 1``);
between two nodes there is at most one edge, in one direction. An edge ``u -> v`` with capacity
``c`` carrying ``f`` gives two *residual arcs*: ``u -> v`` with residual ``c - f`` and
``v -> u`` with residual ``f``. A node's arcs are taken in ascending order of the node at their
other end.

**Maximum flow** (Dinic's algorithm, pushing the bottleneck). Starting from the zero flow:

1. ``level[v]`` = the number of arcs with positive residual on a shortest path from ``S`` to
   ``v`` (breadth-first). If ``T`` is not reached, stop: the flow is maximum.
2. Every node gets a pointer to its first arc. Walk from ``S``: at node ``u`` look at the arc
   ``u -> v`` under ``u``'s pointer; if ``level[v] = level[u] + 1`` and its residual is
   positive, step to ``v``; otherwise move the pointer on. A node whose pointer has passed its
   last arc is a dead end: step back and move the previous node's pointer on. Reaching ``T``
   pushes the smallest residual of the walk's arcs along it; the next walk starts at ``S``
   with the pointers where they are. When ``S`` is a dead end, go back to step 1.

This is the textbook recursion ``dfs(u, f)``: at ``T`` return ``f``; while ``u``'s pointer has
arcs, try the arc with ``dfs(v, min(f, residual))``, push and return on success, else advance.

**Dependent rounding.** An edge is *whole* when its flow is a multiple of ``B``, else
*fractional*. If the flow out of ``S`` and into ``T`` is a multiple of ``B`` on every edge at
``S`` and in total at ``T``, then a node with a fractional edge has at least two (its balance
is whole), so the fractional edges contain a cycle (directions ignored). Repeat while a
fractional edge exists:

1. **Find a cycle.** Keep a walk (a list of nodes ``x_0, x_1, ...`` and the edges between
   them). When it is empty, start it at the smallest node with a fractional edge. From its
   last node take the fractional edge whose other end is smallest, leaving out the edge the
   walk arrived by. If that other end ``w = x_i`` is already on the walk, the edges from
   ``x_i`` to the end and the new edge form the cycle, traversed from ``x_i``; otherwise
   append the other end and continue.
2. **Shift.** On the cycle an edge is *forward* when traversed from its tail to its head.
   Let ``up(e) = B - (f mod B)`` and ``down(e) = f mod B``; ``alpha`` = the smallest of
   ``up`` over forward and ``down`` over backward edges, ``beta`` = the smallest of ``down``
   over forward and ``up`` over backward edges. Draw ``u = uniform(alpha + beta)``; if
   ``u < beta`` add ``alpha`` to forward edges and subtract it from backward ones, else
   subtract ``beta`` from forward and add it to backward ones. Node balances do not change,
   at least one edge becomes whole, and every edge's expected flow is unchanged
   (``alpha * beta / (alpha + beta) - beta * alpha / (alpha + beta) = 0``).
3. **Continue the walk**: with the cycle's edges in walk order ``x_i -> x_(i+1) -> ... ->
   x_i``, let ``x_j`` be the node before the first of them that became whole; keep the walk
   ``x_0 .. x_j`` (all its edges are still fractional) and continue from ``x_j``; if only
   ``x_0`` is left and it has no fractional edge, empty the walk.

Each edge ends at ``floor`` or ``ceil`` of its flow in units of ``B``, so integer bounds (an
officer's workload, a department's one member) hold, and its probability of ending at ``ceil``
is its fractional part: the rounding samples a law whose edge marginals are the flow's.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Sequence

import attrs

from shuangsuiji.errors import InvalidInputError

Coin = Callable[[int], int]
"""``uniform(n)``: a uniform integer in ``[0, n)`` (the draw's stream)."""


@attrs.define(eq=False)
class UnitNetwork:
    """Edges ``tail[e] -> head[e]`` with ``capacity[e]`` and ``flow[e]`` (integer units);
    ``adjacent[u]`` lists ``(other end, edge)`` in ascending order of the other end."""

    n_nodes: int
    tail: list[int]
    head: list[int]
    capacity: list[int]
    flow: list[int]
    adjacent: list[list[tuple[int, int]]]

    @classmethod
    def build(cls, n_nodes: int, edges: Sequence[tuple[int, int, int]]) -> UnitNetwork:
        """The network of ``edges`` ``(tail, head, capacity)``, capacities positive."""
        kept = list(edges)
        if any(c < 1 for _, _, c in kept):
            raise InvalidInputError("edges of capacity 0 are left out of the network")
        adjacent: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
        for e, (u, v, _) in enumerate(kept):
            adjacent[u].append((v, e))
            adjacent[v].append((u, e))
        for arcs in adjacent:
            arcs.sort()
        if any(a[0] == b[0] for arcs in adjacent for a, b in itertools.pairwise(arcs)):
            raise InvalidInputError("two edges between the same two nodes")
        return cls(
            n_nodes,
            [u for u, _, _ in kept],
            [v for _, v, _ in kept],
            [c for _, _, c in kept],
            [0] * len(kept),
            adjacent,
        )

    @property
    def sink(self) -> int:
        return self.n_nodes - 1

    def residual(self, u: int, e: int) -> int:
        """Residual of edge ``e``'s arc leaving ``u``."""
        return self.capacity[e] - self.flow[e] if self.tail[e] == u else self.flow[e]

    def push(self, u: int, e: int, amount: int) -> None:
        """Send ``amount`` along edge ``e``'s arc leaving ``u``."""
        self.flow[e] += amount if self.tail[e] == u else -amount

    def out_of_source(self) -> int:
        return sum(self.flow[e] for _, e in self.adjacent[0])


def _levels(net: UnitNetwork) -> list[int]:
    level = [-1] * net.n_nodes
    level[0] = 0
    queue = deque([0])
    while queue:
        u = queue.popleft()
        for v, e in net.adjacent[u]:
            if level[v] < 0 and net.residual(u, e) > 0:
                level[v] = level[u] + 1
                queue.append(v)
    return level


def _walk(net: UnitNetwork, level: list[int], pointer: list[int]) -> int:
    """One walk of step 2 from ``S``: the amount pushed (0 when ``S`` is a dead end)."""
    sink, adjacent = net.sink, net.adjacent
    nodes: list[int] = [0]
    arcs: list[int] = []  # the walk, and the edge taken out of each node but the last
    while nodes:
        u = nodes[-1]
        if u == sink:
            amount = min(net.residual(x, e) for x, e in zip(nodes, arcs, strict=False))
            for x, e in zip(nodes, arcs, strict=False):
                net.push(x, e, amount)
            return amount
        row, p = adjacent[u], pointer[u]
        while p < len(row):
            v, e = row[p]
            if level[v] == level[u] + 1 and net.residual(u, e) > 0:
                break
            p += 1
        pointer[u] = p
        if p < len(row):
            nodes.append(row[p][0])
            arcs.append(row[p][1])
            continue
        nodes.pop()  # a dead end: the node before it moves its pointer on
        if arcs:
            arcs.pop()
            pointer[nodes[-1]] += 1
    return 0


def max_flow(net: UnitNetwork) -> int:
    """Dinic's maximum flow of the module docstring, added to ``net.flow``; returns its value."""
    total = 0
    while True:
        level = _levels(net)
        if level[net.sink] < 0:
            return total
        pointer = [0] * net.n_nodes
        while pushed := _walk(net, level, pointer):
            total += pushed


@attrs.define(eq=False)
class Rounding:
    """The working state of the dependent rounding: the walk and each node's first edge that
    may still be fractional (edges never become fractional again)."""

    net: UnitNetwork
    unit: int
    nodes: list[int] = attrs.field(factory=list)
    edges: list[int] = attrs.field(factory=list)
    at: dict[int, int] = attrs.field(factory=dict)
    first: list[int] = attrs.field(init=False)
    ends: list[list[int]] = attrs.field(init=False)  # per node: other ends, ascending
    via: list[list[int]] = attrs.field(init=False)  # ... and the edges to them
    start: int = 0

    def __attrs_post_init__(self) -> None:
        self.first = [0] * self.net.n_nodes
        flow, unit = self.net.flow, self.unit  # only edges fractional now can be later
        rows = [[a for a in row if flow[a[1]] % unit] for row in self.net.adjacent]
        self.ends = [[v for v, _ in row] for row in rows]
        self.via = [[e for _, e in row] for row in rows]

    def fractional(self, e: int) -> bool:
        return self.net.flow[e] % self.unit != 0

    def _next_edge(self, u: int, arrived: int) -> tuple[int, int] | None:
        """The fractional edge at ``u`` with the smallest other end, other than ``arrived``."""
        via, ends, flow, unit = self.via[u], self.ends[u], self.net.flow, self.unit
        p = self.first[u]
        while p < len(via) and not flow[via[p]] % unit:
            p += 1
        self.first[u] = p
        if p < len(via) and via[p] == arrived:
            p += 1
            while p < len(via) and not flow[via[p]] % unit:
                del via[p], ends[p]  # whole for good: never scanned again
        return (ends[p], via[p]) if p < len(via) else None

    def _restart(self) -> bool:
        n = self.net.n_nodes
        while self.start < n and self._next_edge(self.start, -1) is None:
            self.start += 1
        if self.start == n:
            return False
        self.nodes, self.edges, self.at = [self.start], [], {self.start: 0}
        return True

    def cycle(self) -> tuple[int, list[int]] | None:
        """Step 1: the next cycle as (its first node, its edges in walk order), or None when
        every edge is whole."""
        while True:
            if not self.nodes and not self._restart():
                return None
            u = self.nodes[-1]
            step = self._next_edge(u, self.edges[-1] if self.edges else -1)
            if step is None:
                # only a lone x_0 can have none left (step 3); two nodes would break the
                # balance argument of the module docstring
                assert len(self.nodes) == 1, "a node with one fractional edge"
                self.nodes, self.edges, self.at = [], [], {}
                continue
            v, e = step
            i = self.at.get(v)
            if i is not None:
                return v, [*self.edges[i:], e]
            self.at[v] = len(self.nodes)
            self.nodes.append(v)
            self.edges.append(e)

    def amounts(self, origin: int, cycle: list[int]) -> tuple[list[int], int, int]:
        """Step 2's directions (+1 forward, -1 backward) and ``alpha``, ``beta``."""
        tail, head, flow, unit = self.net.tail, self.net.head, self.net.flow, self.unit
        signs, x, alpha, beta = [], origin, unit, unit  # every up and down is below unit
        for e in cycle:
            down = flow[e] % unit
            if tail[e] == x:  # forward: alpha takes its up, beta its down
                signs.append(1)
                x, a, b = head[e], unit - down, down
            else:
                signs.append(-1)
                x, a, b = tail[e], down, unit - down
            alpha, beta = min(alpha, a), min(beta, b)
        return signs, alpha, beta

    def shift(self, origin: int, cycle: list[int], signs: list[int], amount: int) -> None:
        """Add ``amount`` (signed) along the cycle, then cut the walk back to its first edge
        on the cycle that became whole (step 3)."""
        flow, unit = self.net.flow, self.unit
        for e, s in zip(cycle, signs, strict=True):
            flow[e] += s * amount
        i = self.at[origin]
        keep = i + next(t for t, e in enumerate(cycle) if flow[e] % unit == 0)
        for x in self.nodes[keep + 1 :]:
            del self.at[x]
        self.nodes, self.edges = self.nodes[: keep + 1], self.edges[:keep]


def cycles(net: UnitNetwork, unit: int) -> Iterator[tuple[Rounding, int, list[int]]]:
    """The rounding's cycles, one at a time; the caller shifts each (tests enumerate both
    outcomes; :func:`round_flow` draws one)."""
    state = Rounding(net, unit)
    while (found := state.cycle()) is not None:
        yield state, *found


def round_flow(net: UnitNetwork, unit: int, uniform: Coin) -> int:
    """Round ``net.flow`` to multiples of ``unit`` as the module docstring says; returns the
    number of shifts (each took one ``uniform`` draw)."""
    shifts = 0
    for state, origin, cycle in cycles(net, unit):
        signs, alpha, beta = state.amounts(origin, cycle)
        up = uniform(alpha + beta) < beta
        state.shift(origin, cycle, signs, alpha if up else -beta)
        shifts += 1
    return shifts
