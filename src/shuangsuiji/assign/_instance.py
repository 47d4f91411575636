"""The numbered problem the draw works on: types, vectors, eligibility matrix and caps.

:func:`build_instance` turns an :class:`~shuangsuiji.assign.Eligibility` into an
:class:`Instance`: requirements numbered, inspectors typed by the requirements they meet, the
covering vectors listed (see the docstring of :mod:`shuangsuiji.assign`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from shuangsuiji.assign._stream import (
    BoolArray,
    IntArray,
)
from shuangsuiji.assign.eligibility import Eligibility
from shuangsuiji.errors import InvalidInputError

_MAX_VECTORS = 200_000


@attrs.frozen(eq=False)
class Instance:
    """The assignment problem in columns sorted by (type, canonical inspector order)."""

    k: int
    E: BoolArray
    col_row: IntArray  # column -> inspector row in the (canonical) pool
    col_type: IntArray
    type_masks: tuple[int, ...]
    type_start: IntArray  # columns of type t are type_start[t] .. type_start[t + 1] - 1
    cap: IntArray
    full: int
    requirements: tuple[str, ...]
    disjoint: tuple[frozenset[int], ...]  # requirement groups modelled exactly by the flow
    counts: IntArray  # (n_e, T) eligible per type
    vec_cache: dict[tuple[int, int], list[tuple[int, ...]]] = attrs.field(factory=dict)
    cache: dict[str, Any] = attrs.field(factory=dict)

    @property
    def n_e(self) -> int:
        return int(self.E.shape[0])

    @property
    def n_t(self) -> int:
        return len(self.type_masks)

    def vectors(self, r: int, residual: int) -> list[tuple[int, ...]]:
        """Count vectors over types with sum ``r`` covering ``residual``, lexicographic order."""
        cached = self.vec_cache.get((r, residual))
        if cached is not None:
            return cached
        n_t = self.n_t
        if math.comb(r + n_t - 1, max(0, n_t - 1)) > _MAX_VECTORS:
            raise InvalidInputError(
                f"{math.comb(r + n_t - 1, n_t - 1):,} composition patterns for teams of {r}: "
                "too many requirements (departments and qualifications) for this team size"
            )
        out: list[tuple[int, ...]] = []

        def rec(prefix: list[int], left: int) -> None:
            if len(prefix) == n_t - 1:
                v = (*prefix, left)
                cover = 0
                for t, c in enumerate(v):
                    if c:
                        cover |= self.type_masks[t]
                if cover & residual == residual:
                    out.append(v)
                return
            for c in range(left + 1):
                prefix.append(c)
                rec(prefix, left - c)
                prefix.pop()

        if n_t:
            rec([], r)
        self.vec_cache[(r, residual)] = out
        return out

    def cover(self, cols: Iterable[int]) -> int:
        m = 0
        for c in cols:
            m |= self.type_masks[int(self.col_type[c])]
        return m


def requirement_sets(
    type_masks: Sequence[int], n_requirements: int, types: Iterable[int] | None = None
) -> list[frozenset[int]]:
    """Requirement ``j`` as the set of types (indices into ``type_masks``, among ``types`` when
    given) that meet it."""
    among = range(len(type_masks)) if types is None else types
    return [frozenset(t for t in among if type_masks[t] >> j & 1) for j in range(n_requirements)]


def minimal_requirements(sets: Sequence[frozenset[int]]) -> list[int]:
    """The requirements not implied by another: no other's set is strictly inside theirs (of
    two equal sets the first is kept), in requirement order."""
    return [
        j
        for j, g in enumerate(sets)
        if not any(h < g or (h == g and i < j) for i, h in enumerate(sets) if i != j)
    ]


def build_instance(elig: Eligibility) -> Instance:
    s = elig.staffing
    needs, cfg = s.needs, s.config
    ins = s.inspectors
    cand = elig.candidates
    masks: list[BoolArray] = []
    names: list[str] = []
    if needs.joint:
        for d in needs.departments:
            masks.append(ins.in_departments([d])[cand])
            names.append(f"department {d}")
    if cfg.qualification_mode == "any_member":
        for q in sorted(needs.qualifications):
            masks.append(ins.holding(q)[cand])
            names.append(f"qualification {q}")
    bits = np.zeros(len(cand), dtype=np.int64)
    for j, m in enumerate(masks):
        bits |= m.astype(np.int64) << j
    types, col_type = np.unique(bits, return_inverse=True)
    col_type = col_type.reshape(-1).astype(np.int64)
    order = np.lexsort((np.arange(len(cand)), col_type))
    col_type = col_type[order]
    type_start = np.searchsorted(col_type, np.arange(len(types) + 1)).astype(np.int64)
    E = np.ascontiguousarray(elig.matrix[:, order])
    counts = (
        np.stack(
            [E[:, type_start[t] : type_start[t + 1]].sum(axis=1) for t in range(len(types))],
            axis=1,
        ).astype(np.int64)
        if len(types)
        else np.zeros((E.shape[0], 0), dtype=np.int64)
    )
    type_masks = tuple(int(t) for t in types)
    full = (1 << len(masks)) - 1
    # Requirement groups as sets of types; drop implied ones (a superset of another), then keep
    # a disjoint family for the flow network; the rest cross and are left to branch-and-bound.
    groups = requirement_sets(type_masks, len(masks))
    minimal = [groups[j] for j in minimal_requirements(groups)]
    disjoint: list[frozenset[int]] = []
    for g in minimal:
        if all(not (g & h) for h in disjoint):
            disjoint.append(g)
    return Instance(
        k=cfg.size,
        E=E,
        col_row=cand[order],
        col_type=col_type,
        type_masks=type_masks,
        type_start=type_start,
        cap=elig.capacity[order].astype(np.int64),
        full=full,
        requirements=tuple(names),
        disjoint=tuple(disjoint),
        counts=counts,
    )


def vector_weights(inst: Instance, a: Sequence[int], vecs: Sequence[tuple[int, ...]]) -> list[int]:
    out = []
    for v in vecs:
        w = 1
        for t, c in enumerate(v):
            if c:
                w *= math.comb(int(a[t]), c)
        out.append(w)
    return out
