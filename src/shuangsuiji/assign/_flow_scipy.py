"""The flow phase of SSJ-ASSIGN-1 (before the flow rule was specified): SciPy's Dinic.

Draws recorded as ``SSJ-ASSIGN-1`` that went through the flow phase chose among maximum flows
by ``scipy.sparse.csgraph.maximum_flow(method="dinic")`` on the residual network below (their
record names the SciPy version in ``stream.scipy_version``). This module replays them; it is
imported only then, so a current draw (SSJ-ASSIGN-2, :mod:`shuangsuiji.assign._maxflow`) never
needs SciPy. The code is the SSJ-ASSIGN-1 code, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from shuangsuiji.assign._instance import Instance
from shuangsuiji.assign._network import FlowResult, Kept, Network, owners
from shuangsuiji.assign._stream import IntArray


def _terminal_edges(inst: Instance, net: Network, kept: Kept) -> list[IntArray]:
    """Residual edges at the source, the hubs and the sink, with the kept members as flow.

    Every edge enters the residual network with capacity ``cap - f0`` and its reverse with
    ``f0``; edges without residual capacity are left out. Returns rows, columns, capacities.
    """
    count = np.bincount(kept.loc * net.width + kept.kind, minlength=net.n * net.width)
    count = count.reshape(net.n, -1)
    via_source = np.minimum(count, net.mandatory[None, :])
    via_hub = count - via_source
    hub_used = via_hub.sum(axis=1)
    load = np.bincount(kept.col, minlength=net.n_c)
    g_loc, g_kind, g_node = net.group_nodes()
    h_loc = net.hub_entities()
    hub, sink, ins = net.hub, net.sink, net.inspector_node
    opt = (hub[g_loc] >= 0) & (net.optional[g_kind] > 0)
    on_hub = via_hub[g_loc, g_kind][opt]
    parts = [
        (np.zeros_like(g_node), g_node, net.mandatory[g_kind] - via_source[g_loc, g_kind]),
        (g_node, np.zeros_like(g_node), via_source[g_loc, g_kind]),
        (hub[g_loc][opt], g_node[opt], net.optional[g_kind][opt] - on_hub),
        (g_node[opt], hub[g_loc][opt], on_hub),
        (np.zeros_like(h_loc), hub[h_loc], net.hub_cap[h_loc] - hub_used[h_loc]),
        (hub[h_loc], np.zeros_like(h_loc), hub_used[h_loc]),
        (ins[kept.col], net.node[kept.loc, kept.kind], np.ones_like(kept.col)),
        (ins, np.full(net.n_c, sink), inst.cap - load),
        (np.full(net.n_c, sink), ins, load),
    ]
    edges = [np.concatenate([p[j] for p in parts]).astype(np.int64) for j in range(3)]
    positive = edges[2] > 0
    return [e[positive] for e in edges]


def _group_edges(
    inst: Instance, net: Network, rows: Sequence[int], kept: Kept
) -> tuple[IntArray, IntArray, npt.NDArray[np.int32]]:
    """The bulk: group -> eligible inspector, capacity 1 (0 where kept), rows then columns up."""
    by_node = np.argsort(net.inspector_node, kind="stable")
    rows_arr = np.asarray(rows, dtype=np.int64)
    starts: list[IntArray] = []
    ends: list[IntArray] = []
    for kind, (types, _, _) in enumerate(net.kinds):
        cols = by_node[np.isin(inst.col_type[by_node], sorted(types))]
        who = net.order[net.has[net.template[net.order], kind]]
        if not len(who) or not len(cols):
            continue
        flat = np.flatnonzero(inst.E[rows_arr[who]][:, cols])
        starts.append(net.node[who[0], kind] + flat // len(cols))
        ends.append(net.inspector_node[cols][flat % len(cols)])
    start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    end = np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)
    capacity = np.ones(len(start), dtype=np.int32)
    kept_keys = net.node[kept.loc, kept.kind] * net.n_nodes + net.inspector_node[kept.col]
    if len(kept_keys):
        capacity[np.searchsorted(start * net.n_nodes + end, kept_keys)] = 0
    return start, end, capacity


def _residual_matrix(
    net: Network,
    terminal: list[IntArray],
    bulk: tuple[IntArray, IntArray, npt.NDArray[np.int32]],
) -> sp.csr_array:
    """The residual network as one CSR matrix: per row, the terminal edges (sorted) first, then
    the bulk edges, written in place without a general sort of the bulk."""
    order = np.lexsort((terminal[1], terminal[0]))
    t_row, t_col, t_cap = (e[order] for e in terminal)
    b_row, b_col, b_cap = bulk
    n_nodes = net.n_nodes
    t_count = np.bincount(t_row, minlength=n_nodes)
    b_count = np.bincount(b_row, minlength=n_nodes)
    indptr = np.concatenate([[0], np.cumsum(t_count + b_count)]).astype(np.int64)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    data = np.empty(int(indptr[-1]), dtype=np.int32)
    t_first = np.concatenate([[0], np.cumsum(t_count)])
    pos = indptr[t_row] + np.arange(len(t_row)) - t_first[t_row]
    indices[pos], data[pos] = t_col, t_cap
    b_first = np.concatenate([[0], np.cumsum(b_count)])
    shift = indptr[:-1] + t_count - b_first[:-1]
    pos = np.arange(len(b_row)) + np.repeat(shift, b_count)
    indices[pos], data[pos] = b_col, b_cap
    return sp.csr_array((data, indices, indptr), shape=(n_nodes, n_nodes))


def _read_teams(net: Network, kept: Kept, flow: sp.csr_array) -> list[list[int]]:
    """The teams: kept members, minus flow taken back, plus flow added on group -> inspector."""
    col_at = np.full(net.n_nodes, -1, dtype=np.int64)
    col_at[net.inspector_node] = np.arange(net.n_c)
    lo, hi = int(flow.indptr[1]), int(flow.indptr[net.last_group])
    nz = lo + np.flatnonzero(flow.data[lo:hi])
    f_col = col_at[flow.indices[nz]]
    to_inspector = f_col >= 0
    f_loc = owners(net)[np.searchsorted(flow.indptr, nz[to_inspector], "right") - 1]
    loc = np.concatenate([kept.loc, f_loc])
    col = np.concatenate([kept.col, f_col[to_inspector]])
    units = np.concatenate([np.ones(len(kept.loc), dtype=np.int64), flow.data[nz][to_inspector]])
    pairs, inverse = np.unique(loc * net.n_c + col, return_inverse=True)
    total = np.bincount(inverse.reshape(-1), weights=units, minlength=len(pairs))
    m_loc, m_col = np.divmod(pairs[total > 0], max(net.n_c, 1))
    bounds = np.searchsorted(m_loc, np.arange(net.n + 1))
    cols = m_col.tolist()
    return [cols[bounds[x] : bounds[x + 1]] for x in range(net.n)]


def _reach_of_short(
    net: Network,
    rows: Sequence[int],
    residual: sp.csr_array,
    flow: sp.csr_array,
    short: list[int],
) -> list[set[int]]:
    """For each short entity (the first 20), the entities reachable from its nodes in the final
    residual graph without the source: together they cannot all be staffed."""
    left = (residual.astype(np.int64) - flow.astype(np.int64)).tocoo()
    keep = (left.data > 0) & (left.row != 0) & (left.col != 0)
    graph = sp.csr_array(
        (left.data[keep], (left.row[keep], left.col[keep])), shape=(net.n_nodes, net.n_nodes)
    )
    owner = owners(net)
    nodes_of: dict[int, list[int]] = {}
    for nd in np.flatnonzero(owner >= 0).tolist():
        nodes_of.setdefault(int(owner[nd]), []).append(nd)
    reach: list[set[int]] = []
    for local in short[:20]:
        seen: set[int] = set()
        for nd in nodes_of[local]:
            visited = breadth_first_order(graph, nd, directed=True, return_predecessors=False)
            seen |= {int(x) for x in owner[visited] if x >= 0}
        reach.append({int(rows[x]) for x in seen})
    return reach


def solve_scipy(
    inst: Instance, net: Network, rows: Sequence[int], kept: Kept, modes_given: bool
) -> FlowResult:
    """The SSJ-ASSIGN-1 flow: SciPy's Dinic on the residual network of the kept members."""
    residual = _residual_matrix(
        net, _terminal_edges(inst, net, kept), _group_edges(inst, net, rows, kept)
    )
    result = maximum_flow(residual, 0, net.sink, method="dinic")
    flow = sp.csr_array(result.flow)
    out_teams = _read_teams(net, kept, flow)
    if int(result.flow_value) == net.n * net.k - len(kept.loc):
        return FlowResult(True, out_teams, [], [])
    short = [local for local in range(net.n) if len(out_teams[local]) < net.k]
    reach = _reach_of_short(net, rows, residual, flow, short)
    return FlowResult(False, out_teams, [int(rows[x]) for x in short], reach, not modes_given)
