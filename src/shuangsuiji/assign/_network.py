"""The numbered flow network of a partial assignment (see ``docs/teams.md``, "The flow phase").

The nodes, the group kinds and the kept members, shared by the flow rule of SSJ-ASSIGN-2
(:mod:`shuangsuiji.assign._flow`) and the SciPy replay of SSJ-ASSIGN-1
(:mod:`shuangsuiji.assign._flow_scipy`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from shuangsuiji.assign._instance import Instance
from shuangsuiji.assign._stream import BoolArray, IntArray


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


def number_nodes(
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


def kept_members(inst: Instance, net: Network, teams: Sequence[Sequence[int]]) -> Kept:
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
