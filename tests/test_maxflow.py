"""The flow rule of SSJ-ASSIGN-2 against a textbook Dinic written from the spec text alone.

``textbook_dinic`` below is the procedure of ``docs/teams.md`` ("The flow phase") in its plain
recursive form, on explicit arcs: breadth-first levels, then ``dfs`` with one pointer per node
over its arcs in ascending order of the other end. The engine
(:mod:`shuangsuiji.assign._maxflow`) keeps the group -> inspector block as matrices and prunes
dead ends; on random small networks of the engine's shape it must choose the same flow, edge by
edge, and find the same residual reachability.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import maximum_flow

from shuangsuiji.assign._maxflow import max_flow, reachable, residual

Edge = tuple[int, int]


def _residuals(cap: dict[Edge, int], flow: dict[Edge, int]) -> dict[Edge, int]:
    """Edge u -> v gives arc u -> v with residual cap - flow and arc v -> u with flow."""
    r: dict[Edge, int] = {}
    for (u, v), c in cap.items():
        r[(u, v)] = c - flow[(u, v)]
        r[(v, u)] = flow[(u, v)]
    return r


def _levels(arcs: dict[int, list[int]], r: dict[Edge, int]) -> dict[int, int]:
    """Breadth-first levels from node 0 over arcs with positive residual."""
    level = {0: 0}
    queue = deque([0])
    while queue:
        u = queue.popleft()
        for v in arcs[u]:
            if r[(u, v)] > 0 and v not in level:
                level[v] = level[u] + 1
                queue.append(v)
    return level


def _dfs(
    u: int,
    sink: int,
    arcs: dict[int, list[int]],
    r: dict[Edge, int],
    level: dict[int, int],
    ptr: dict[int, int],
) -> bool:
    if u == sink:
        return True
    while ptr[u] < len(arcs[u]):
        v = arcs[u][ptr[u]]
        if level.get(v) == level[u] + 1 and r[(u, v)] > 0 and _dfs(v, sink, arcs, r, level, ptr):
            r[(u, v)] -= 1
            r[(v, u)] += 1
            return True
        ptr[u] += 1
    return False


def textbook_dinic(n: int, cap: dict[Edge, int], flow: dict[Edge, int]) -> dict[Edge, int]:
    """Dinic from node 0 to node n - 1, arcs in ascending order of the other end, one unit per
    walk; returns the final flow of every edge (``flow`` is the initial flow)."""
    r = _residuals(cap, flow)
    arcs = {u: sorted(v for (a, v) in r if a == u) for u in range(n)}
    while True:
        level = _levels(arcs, r)
        if n - 1 not in level:
            return {e: cap[e] - r[e] for e in cap}
        ptr = dict.fromkeys(range(n), 0)
        while _dfs(0, n - 1, arcs, r, level, ptr):
            pass


def textbook_reach(cap: dict[Edge, int], flow: dict[Edge, int], starts: list[int]) -> set[int]:
    """Nodes reachable from ``starts`` by arcs with positive residual, never entering node 0."""
    r = _residuals(cap, flow)
    seen, todo = set(starts), list(starts)
    while todo:
        u = todo.pop()
        for (a, v), left in r.items():
            if a == u and left > 0 and v != 0 and v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


@st.composite
def networks(draw: st.DrawFn) -> dict[str, Any]:
    """The engine's shape: source, groups, hubs, inspectors, sink; a valid initial flow."""
    n_g, n_h, n_i = draw(st.integers(1, 6)), draw(st.integers(0, 2)), draw(st.integers(1, 6))
    first_i = 1 + n_g + n_h
    sink = first_i + n_i
    cap: dict[Edge, int] = {}
    for g in range(1, 1 + n_g):
        cap[(0, g)] = draw(st.integers(0, 2))
    for h in range(1 + n_g, first_i):
        cap[(0, h)] = draw(st.integers(0, 3))
        for g in draw(st.sets(st.integers(1, n_g))):
            cap[(h, g)] = draw(st.integers(1, 2))
    eligible = np.zeros((n_g, n_i), dtype=bool)
    for g in range(n_g):
        for i in range(n_i):
            eligible[g, i] = draw(st.booleans())
            if eligible[g, i]:
                cap[(1 + g, first_i + i)] = 1
    for i in range(n_i):
        cap[(first_i + i, sink)] = draw(st.integers(0, 3))
    flow = dict.fromkeys(cap, 0)
    for g, i in draw(st.lists(st.tuples(st.integers(1, n_g), st.integers(0, n_i - 1)))):
        _push_kept(cap, flow, g, first_i + i, sink)
    return {"sink": sink, "first_i": first_i, "cap": cap, "flow": flow, "eligible": eligible}


def _push_kept(cap: dict[Edge, int], flow: dict[Edge, int], g: int, i: int, sink: int) -> None:
    """Put one kept member (g, i) into the initial flow when every capacity allows it."""

    def spare(e: Edge) -> bool:
        return e in cap and flow[e] < cap[e]

    if not (spare((g, i)) and spare((i, sink))):
        return
    if spare((0, g)):
        path = [(0, g)]
    else:
        hubs = [h for (h, x) in cap if x == g and h != 0 and spare((h, g)) and spare((0, h))]
        if not hubs:
            return
        path = [(0, hubs[0]), (hubs[0], g)]
    for e in [*path, (g, i), (i, sink)]:
        flow[e] += 1


def _in_block(net: dict[str, Any], e: Edge) -> bool:
    """A group -> inspector edge (kept by the engine as a matrix)."""
    return 0 < e[0] <= len(net["eligible"]) and net["first_i"] <= e[1] < net["sink"]


def engine_flow(net: dict[str, Any]) -> tuple[int, Any]:
    cap, flow, first_i = net["cap"], net["flow"], net["first_i"]
    small = [e for e in cap if not _in_block(net, e)]
    block = np.zeros_like(net["eligible"])
    for (u, v), f in flow.items():
        if f and _in_block(net, (u, v)):
            block[u - 1, v - first_i] = True
    columns = [[u for u, _ in small], [v for _, v in small], [cap[e] for e in small]]
    columns.append([flow[e] for e in small])
    edges = tuple(np.asarray(c, dtype=np.int64) for c in columns)
    res = residual(net["sink"], first_i, edges, net["eligible"], block)  # type: ignore[arg-type]
    return max_flow(res), res


def engine_edge_flows(net: dict[str, Any], res: Any) -> dict[Edge, int]:
    first_i = net["first_i"]
    out: dict[Edge, int] = {}
    for u, v in net["cap"]:
        if _in_block(net, (u, v)):
            out[(u, v)] = int(res.flow[u - 1, v - first_i])
        else:
            arc = np.flatnonzero((res.tail == v) & (res.head == u))
            out[(u, v)] = int(res.res[arc[0]])  # the reverse arc's residual is the flow
    return out


@settings(max_examples=300, deadline=None)
@given(networks())
def test_the_engine_chooses_the_flow_the_spec_rule_gives(net: dict[str, Any]) -> None:
    n = net["sink"] + 1
    expected = textbook_dinic(n, net["cap"], net["flow"])
    pushed, res = engine_flow(net)
    assert engine_edge_flows(net, res) == expected
    out_of_source = sum(f for (u, _), f in expected.items() if u == 0)
    assert pushed == out_of_source - sum(f for (u, _), f in net["flow"].items() if u == 0)
    # the value is the maximum (SciPy's solver, on the network with no initial flow)
    rows, cols = zip(*net["cap"], strict=True)
    dense = sp.csr_array((list(net["cap"].values()), (rows, cols)), shape=(n, n), dtype=np.int32)
    assert out_of_source == maximum_flow(dense, 0, n - 1).flow_value
    starts = [1, n - 2] if n > 3 else [1]
    seen = reachable(res, np.asarray(starts, dtype=np.int64))
    assert set(np.flatnonzero(seen).tolist()) == textbook_reach(net["cap"], expected, starts)


def test_the_textbook_oracle_on_a_network_worked_by_hand() -> None:
    """S=0, groups 1, 2; inspectors 3, 4 (cap 1 each); T=5. Group 1 may take 3 or 4, group 2
    only 3. Dinic, ascending arcs: level 1 = {1, 2}, level 2 = {3, 4}; the first walk is
    0-1-3-5, the second finds 0-2-3 blocked at 3 -> 5 (used) and stops: flow 1. The second
    phase goes 0-2-3-1-4-5 (through the reverse arc 3 -> 1): group 1 ends with 4, group 2
    with 3."""
    cap = {(0, 1): 1, (0, 2): 1, (1, 3): 1, (1, 4): 1, (2, 3): 1, (3, 5): 1, (4, 5): 1}
    got = textbook_dinic(6, cap, dict.fromkeys(cap, 0))
    assert {e for e, f in got.items() if f} == {(0, 1), (0, 2), (1, 4), (2, 3), (3, 5), (4, 5)}
    net = {
        "sink": 5,
        "first_i": 3,
        "cap": cap,
        "flow": dict.fromkeys(cap, 0),
        "eligible": np.asarray([[True, True], [True, False]]),
    }
    pushed, res = engine_flow(net)
    assert pushed == 2 and engine_edge_flows(net, res) == got
