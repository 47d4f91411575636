"""The draw of SSJ-ASSIGN-2: proposal rounds, repair by maximum flow, smoothing, re-assignment.

The mathematics is in the docstring of :mod:`shuangsuiji.assign`; this module implements it
step by step. The public entry points (:func:`~shuangsuiji.assign.assign_teams`,
:func:`~shuangsuiji.assign.reassign`) are re-exported by the package; replays under many keys
are in :mod:`~shuangsuiji.assign._replays`, the capped law in :mod:`~shuangsuiji.assign.capped`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any, NoReturn, cast

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.assign._flow import (
    FLOW_RULE,
    LEGACY_FLOW_RULE,
    solve_exact,
    solve_flow,
)
from shuangsuiji.assign._instance import (
    Instance,
    build_instance,
    requirement_sets,
    vector_weights,
)
from shuangsuiji.assign._network import FlowResult
from shuangsuiji.assign._stream import (
    WORDS_PER_BLOCK,
    AssignStream,
    BoolArray,
    BytesArray,
    IntArray,
    below_bounds,
    permutation,
)
from shuangsuiji.assign.assignment import (
    ALGORITHM,
    CAP_ALGORITHM,
    LEGACY_ALGORITHM,
    Assignment,
    InfeasibleAssignment,
    Reassignment,
    Recusal,
    StreamInfo,
    Team,
)
from shuangsuiji.assign.capped import (
    CAP_DOMAIN,
    GRID,
    PairCapRefused,
    cap_units,
    capped_law,
    draw_capped,
)
from shuangsuiji.assign.eligibility import Eligibility, Staffing
from shuangsuiji.errors import InvalidInputError

_ROUND_WORD_BUDGET = 1 << 16
_MAX_ROUNDS = 64
_EXACT_MINIMUM_UP_TO = 12
_SHRINK_UP_TO = 200


def _draw_team(
    inst: Instance,
    stream: AssignStream,
    e: int,
    r: int,
    kept: Sequence[int] = (),
    allowed: BoolArray | None = None,
) -> list[int] | None:
    """Complete ``kept`` with ``r`` members drawn uniformly among covering completions.

    The reference definition of a team draw: candidates are the entity's eligible columns (and
    ``allowed`` ones) not in ``kept``; a vector is drawn by ``uniform(W)`` over the covering
    vectors in lexicographic order, then its members type by type. Returns None (consuming no
    words) when no covering completion exists.
    """
    row = inst.E[e] if allowed is None else inst.E[e] & allowed
    if kept:
        row = row.copy()
        row[list(kept)] = False
    if r == 0:
        return list(kept) if inst.cover(kept) == inst.full else None
    cols = np.flatnonzero(row)
    ct = inst.col_type[cols]
    a = np.bincount(ct, minlength=inst.n_t).tolist()
    residual = inst.full & ~inst.cover(kept)
    vecs = inst.vectors(r, residual)
    weights = vector_weights(inst, a, vecs)
    total = sum(weights)
    if total == 0:
        return None
    u = stream.uniform(total)
    v = vecs[-1]
    for v_, w in zip(vecs, weights, strict=True):
        if u < w:
            v = v_
            break
        u -= w
    new: list[int] = []
    for t, c in enumerate(v):
        if not c:
            continue
        pool_t = cols[ct == t]
        chosen: list[int] = []
        for j in range(c):
            pos = stream.uniform(len(pool_t) - j)
            for taken in sorted(chosen):
                if taken <= pos:
                    pos += 1
            chosen.append(pos)
        new.extend(int(x) for x in pool_t[chosen])
    return [*kept, *new]


def _weight_matrix(inst: Instance) -> IntArray | None:
    """``W[e, v]`` for every entity and covering vector, or None if it could overflow int64."""
    cached = inst.cache.get("weights")
    if cached is not None or "weights" in inst.cache:
        return cast(IntArray | None, cached)
    k, n_c = inst.k, int(inst.E.shape[1])
    V = np.asarray(inst.vectors(k, inst.full), dtype=np.int64).reshape(-1, inst.n_t)
    bound = max(math.comb(n_c, j) for j in range(k + 1)) * max(n_c, 1)
    W: IntArray | None = None
    if bound < (1 << 62):
        A = inst.counts
        W = np.ones((inst.n_e, len(V)), dtype=np.int64)
        for t in range(inst.n_t):
            for c in range(1, k + 1):
                use = V[:, t] == c
                if use.any():
                    comb = np.ones(inst.n_e, dtype=np.int64)
                    for j in range(c):
                        comb = comb * np.maximum(A[:, t] - j, 0) // (j + 1)
                    W[:, use] *= comb[:, None]
    inst.cache["weights"] = W
    return W


def _eligible_lists(inst: Instance) -> tuple[IntArray, npt.NDArray[np.int32], IntArray]:
    """Each entity's eligible columns (CSR: ``indptr``, ``indices``) and per-type offsets."""
    cached = inst.cache.get("lists")
    if cached is None:
        flat = np.flatnonzero(inst.E)
        n_c = max(1, int(inst.E.shape[1]))
        indices = (flat % n_c).astype(np.int32)
        per_row = inst.counts.sum(axis=1)
        indptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
        offset = np.zeros((inst.n_e, inst.n_t + 1), dtype=np.int64)
        offset[:, 1:] = np.cumsum(inst.counts, axis=1)
        cached = (indptr, indices, offset)
        inst.cache["lists"] = cached
    return cast(tuple[IntArray, npt.NDArray[np.int32], IntArray], cached)


def _draw_vectorised(
    inst: Instance, ents: IntArray, words: npt.NDArray[np.uint64]
) -> IntArray | None:
    """Teams for entities ``ents`` from ``k + 1`` words each, as :func:`_draw_team` would.

    Returns None when a word would be rejected or weights may overflow (use the reference).
    """
    k = inst.k
    W = _weight_matrix(inst)
    if W is None or W.shape[1] == 0:
        return None
    V = np.asarray(inst.vectors(k, inst.full), dtype=np.int64)
    cum = np.cumsum(W[ents], axis=1)
    total = cum[:, -1].astype(np.uint64)
    ok = below_bounds(words[:, 0], total)
    u0 = (words[:, 0] % total).astype(np.int64)
    vi = np.argmax(cum > u0[:, None], axis=1)
    slot_type = np.zeros((len(V), k), dtype=np.int64)
    slot_j = np.zeros((len(V), k), dtype=np.int64)
    for i, v in enumerate(V.tolist()):
        s = 0
        for t, c in enumerate(v):
            for j in range(c):
                slot_type[i, s], slot_j[i, s] = t, j
                s += 1
    st, sj = slot_type[vi], slot_j[vi]
    counts = inst.counts[ents]
    rows = np.arange(len(ents))
    ranks = np.zeros((len(ents), k), dtype=np.int64)
    for s in range(k):
        bound = (counts[rows, st[:, s]] - sj[:, s]).astype(np.uint64)
        x = words[:, 1 + s]
        ok &= below_bounds(x, bound)
        pos = (x % bound).astype(np.int64)
        if s:
            same = st[:, :s] == st[:, s : s + 1]
            prev = np.sort(np.where(same, ranks[:, :s], np.iinfo(np.int64).max), axis=1)
            for c in range(s):
                pos += prev[:, c] <= pos
        ranks[:, s] = pos
    if not ok.all():
        return None
    indptr, indices, offset = _eligible_lists(inst)
    at = indptr[ents][:, None] + offset[ents[:, None], st] + ranks
    out: IntArray = indices[at].astype(np.int64)
    return out


def _propose_round(inst: Instance, stream: AssignStream) -> IntArray:
    """One proposal round: a uniform covering team per entity, in canonical entity order.

    Vectorised; identical to calling :func:`_draw_team` for every entity in order, which it
    falls back to when a word is rejected.
    """
    start = stream.start_phase() * WORDS_PER_BLOCK
    n_e, k = inst.n_e, inst.k
    words = stream.words(start, n_e * (k + 1)).reshape(n_e, k + 1)
    out = _draw_vectorised(inst, np.arange(n_e), words)
    if out is not None:
        stream.position = start + n_e * (k + 1)
        return out
    rows = []
    for e in range(n_e):
        team = _draw_team(inst, stream, e, k)
        assert team is not None
        rows.append(team)
    return np.asarray(rows, dtype=np.int64).reshape(n_e, k)


def _rounds(n_e: int, k: int) -> int:
    """Proposal rounds: as many as fit in 2**16 words, between 1 and 64."""
    return max(1, min(_MAX_ROUNDS, _ROUND_WORD_BUDGET // max(1, n_e * (k + 1))))


def proposal_rounds(n_e: int, k: int) -> int:
    """The proposal rounds of a draw of ``n_e`` teams of ``k`` (see :func:`_rounds`). A draw
    that accepts none is repaired; :mod:`~shuangsuiji.assign.pairs` bounds the weight of that
    case by ``(1 - q) ** proposal_rounds(n_e, k)``."""
    return _rounds(n_e, k)


def _smoothing_steps(n_e: int) -> int:
    """Metropolis steps after a repair: ``4 * n + 64`` for ``n`` entities."""
    return 4 * n_e + 64


def check_inputs(inst: Instance, staffing: Staffing, elig: Eligibility) -> None:
    """Raise for requirements no team can meet and for entities without any covering team."""
    k, needs = inst.k, staffing.needs
    if inst.E.shape[1] == 0:
        ins = staffing.inspectors
        in_dept = ins.in_departments(needs.departments)
        counts = [
            (int((o.inspectors & in_dept).sum()), o.reason)
            for o in elig.outcomes
            if o.inspectors is not None and o.name != "department"
        ]
        why = [f"{n} {reason}" for n, reason in counts if n]
        raise InfeasibleAssignment(
            f"task {needs.label}: no inspector can be drawn at all: the pool has "
            f"{int(in_dept.sum())} inspectors of {'/'.join(needs.departments)}"
            + (f" ({'; '.join(why)})" if why else "")
            + "; add or re-certify inspectors, or check the task's departments and date",
            [],
            {},
        )
    if needs.joint and k < len(needs.departments):
        raise InfeasibleAssignment(
            f"task {needs.label}: a team of {k} cannot hold one inspector of each of the "
            f"{len(needs.departments)} departments {', '.join(needs.departments)}; raise the team "
            "size in the policy ([team] size) or split the joint task",
            [],
            {},
        )
    present = 0
    for m in inst.type_masks:
        present |= m
    missing = [inst.requirements[j] for j in range(len(inst.requirements)) if not present >> j & 1]
    if missing:
        raise InfeasibleAssignment(
            f"task {needs.label}: no eligible inspector at all for {', '.join(missing)} "
            f"(certified and active on {needs.on}); add or re-certify such inspectors, or "
            "change the task's items or departments",
            [],
            {},
        )
    if not inst.vectors(k, inst.full):
        raise InfeasibleAssignment(
            f"task {needs.label}: no team of {k} can cover {', '.join(inst.requirements)}; "
            "raise the team size",
            [],
            {},
        )
    W = _weight_matrix(inst)
    if W is not None:
        empty = np.flatnonzero(W.sum(axis=1) == 0)
    else:
        vecs = inst.vectors(k, inst.full)
        empty = np.asarray(
            [e for e in range(inst.n_e) if not any(vector_weights(inst, inst.counts[e], vecs))]
        )
    if len(empty):
        _raise_infeasible(inst, staffing, elig, [int(empty[0])])
    short = _short_requirement(inst)
    if short is not None:
        _raise_infeasible(inst, staffing, elig, short)


def _short_requirement(inst: Instance) -> list[int] | None:
    """When requirements cross: every entity, if a requirement's eligible holders cannot take
    one place per entity within their workload caps; else None.

    A necessary condition checked before any search: the flow does not model a crossing
    requirement, so without it the branch-and-bound can search for minutes before it finds no
    assignment. (When requirements do not cross, the flow itself finds the smallest set.)
    """
    sets = requirement_sets(inst.type_masks, len(inst.requirements))
    if all(any(g <= s for g in inst.disjoint) for s in sets):
        return None
    deg = inst.E.sum(axis=0)
    supply = np.minimum(inst.cap, deg)
    for j in range(len(inst.requirements)):
        holders = np.asarray([inst.type_masks[int(t)] >> j & 1 for t in inst.col_type], bool)
        if int(supply[holders].sum()) < inst.n_e:
            return list(range(inst.n_e))
    return None


def _hall_numbers(inst: Instance, group: Sequence[int], ids: BytesArray) -> str:
    """Demand and supply of a set of entities, per requirement and in total, with names."""
    k = inst.k
    deg = inst.E[list(group)].sum(axis=0)
    supply = np.minimum(inst.cap, deg)

    def who(cols: BoolArray) -> str:
        named = [ids[inst.col_row[c]].decode() for c in np.flatnonzero(cols & (deg > 0))]
        return ", ".join(named[:8]) + (", …" if len(named) > 8 else "")

    lines = []
    for j, name in enumerate(inst.requirements):
        cols = np.asarray([bool(inst.type_masks[int(t)] >> j & 1) for t in inst.col_type])
        have = int(supply[cols].sum()) if len(cols) else 0
        if have < len(group):
            lines.append(
                f"they need {len(group)} place{'s' if len(group) > 1 else ''} for {name} but "
                "the eligible such inspectors "
                f"({who(cols) or 'none'}) can take only {have}"
            )
    total = int(supply.sum())
    if total < k * len(group):
        everyone = np.ones(len(deg), dtype=bool)
        lines.append(
            f"they need {k * len(group)} inspector places in all but their eligible inspectors "
            f"({who(everyone) or 'none'}) can take only {total}"
        )
    if not lines:
        lines.append(
            "each requirement could be met on its own, but not all of them together within the "
            "workload caps"
        )
    return "; ".join(lines)


def _raise_infeasible(
    inst: Instance, staffing: Staffing, elig: Eligibility, group: Sequence[int]
) -> None:
    ids = [staffing.entities.ids[e].decode() for e in group]
    details = {ids[j]: elig.explain(e) for j, e in enumerate(group)}
    cfg = staffing.config
    caps = []
    if cfg.max_per_task:
        caps.append(f"max_per_task = {cfg.max_per_task}")
    if cfg.max_per_period:
        caps.append(f"max_per_period = {cfg.max_per_period}")
    cap_text = f" (workload caps: {', '.join(caps)})" if caps else ""
    lines = [
        f"task {staffing.needs.label}: cannot staff {len(group)} entit"
        f"{'y' if len(group) == 1 else 'ies'} with teams of {inst.k}{cap_text}. "
        f"These entities cannot all be staffed even if no other entity needed inspectors: "
        f"{_hall_numbers(inst, group, staffing.inspectors.ids)}.",
    ]
    for i in ids:
        lines.append(f"  - {i}: {details[i]}")
    lines.append(
        "To fix: add or re-certify inspectors of the departments named, raise the workload caps "
        "in the policy, review the recusal rules and conflicts listed above, or take these "
        "entities out of the task with a recorded reason."
    )
    raise InfeasibleAssignment("\n".join(lines), ids, details)


def _feasible_subset(inst: Instance, group: Sequence[int], exact: bool = True) -> bool:
    """Can these entities alone be staffed? (``exact=False``: the flow relaxation only.)"""
    empty: list[list[int]] = [[] for _ in group]
    if exact:
        return solve_exact(inst, list(group), empty).ok
    return solve_flow(inst, list(group), empty, {}).ok


def _violator(inst: Instance, res: FlowResult) -> list[int]:
    """The entities to name when no assignment exists.

    With at most 12 entities in play, the smallest unstaffable set (exhaustive, by size).
    Otherwise, when the flow relaxation failed, the smallest of the residual-reachable sets of
    the entities left short (Hall violators: demand above the capacity of their eligible
    inspectors) after removing, one by one, every entity whose removal keeps the flow
    infeasible, so no entity can be dropped from the set named. When only the branch-and-bound
    failed (crossing requirements), all entities.
    """
    pool = list(range(inst.n_e))
    if res.certified and inst.n_e > _EXACT_MINIMUM_UP_TO:
        pool = sorted(set().union(*res.reach)) if res.reach else sorted(res.short)
    if len(pool) <= _EXACT_MINIMUM_UP_TO:
        for size in range(1, len(pool) + 1):
            for combo in itertools.combinations(pool, size):
                if not _feasible_subset(inst, combo):
                    return list(combo)
    if not res.certified:
        return list(range(inst.n_e))
    best: list[int] | None = None
    for cand in sorted(res.reach or [{e} for e in res.short], key=len)[:3]:
        group = sorted(cand)
        if len(group) <= _SHRINK_UP_TO:
            for e in list(group):
                trial = [x for x in group if x != e]
                if trial and not _feasible_subset(inst, trial, exact=False):
                    group = trial
        if best is None or len(group) < len(best):
            best = group
    assert best is not None
    return best


@attrs.frozen
class PhaseSpan:
    """One phase of a draw: its name, the stream blocks it used (``first_block`` up to, not
    including, ``next_block``), what it did, and the teams after it (inspector IDs, sorted, in
    entity ID order)."""

    name: str
    first_block: int
    next_block: int
    detail: str
    teams: tuple[tuple[str, ...], ...]


@attrs.define
class _Tracer:
    """The phases of one draw, as :func:`trace_draw` reports them."""

    names: list[str]  # inspector ID of each column
    spans: list[PhaseSpan] = attrs.field(factory=list)


Trace = _Tracer | None


def _note(
    trace: Trace, name: str, first: int, stream: AssignStream, detail: str, teams: Iterable[Any]
) -> None:
    """Append a phase to ``trace`` (when one is kept)."""
    if trace is not None:
        ids = tuple(tuple(sorted(trace.names[int(c)] for c in t)) for t in teams)
        trace.spans.append(PhaseSpan(name, first, stream.next_block, detail, ids))


def _drop(inst: Instance, stream: AssignStream, teams: list[list[int]], load: IntArray) -> int:
    """For each over-cap inspector in ID order, drop it from ``load - cap`` of its teams, drawn
    uniformly (the ``u``-th not yet dropped, in entity order). Returns the slots dropped."""
    stream.start_phase()
    over = np.flatnonzero(load > inst.cap)
    over = over[np.argsort(inst.col_row[over], kind="stable")]
    holders: dict[int, list[int]] = {}
    for e, team in enumerate(teams):
        for c in team:
            if load[c] > inst.cap[c]:
                holders.setdefault(c, []).append(e)
    dropped = 0
    for c in over.tolist():
        have = holders[c]
        chosen: list[int] = []
        for j in range(int(load[c] - inst.cap[c])):
            pos = stream.uniform(len(have) - j)
            for taken in sorted(chosen):
                if taken <= pos:
                    pos += 1
            chosen.append(pos)
        for pos in chosen:
            teams[have[pos]].remove(c)
            dropped += 1
        load[c] = inst.cap[c]
    return dropped


def _refill(inst: Instance, stream: AssignStream, teams: list[list[int]], load: IntArray) -> int:
    """Entity by entity, a uniform covering completion among inspectors with spare capacity.
    Returns the places filled."""
    stream.start_phase()
    filled = 0
    for e in range(inst.n_e):
        if len(teams[e]) == inst.k:
            continue
        allowed = load < inst.cap
        new = _draw_team(inst, stream, e, inst.k - len(teams[e]), teams[e], allowed)
        if new is not None:
            for c in new[len(teams[e]) :]:
                load[c] += 1
            filled += len(new) - len(teams[e])
            teams[e] = new
    return filled


def _repair(
    inst: Instance, stream: AssignStream, prop: IntArray, rule: str, trace: Trace = None
) -> tuple[list[list[int]], int, bool]:
    """Drop over-cap slots at random, refill at random, then by max flow. Returns teams."""
    teams = [list(map(int, row)) for row in prop]
    load = np.bincount(prop.ravel(), minlength=inst.E.shape[1]).astype(np.int64)
    first = stream.next_block
    dropped = _drop(inst, stream, teams, load)
    _note(trace, "drop", first, stream, f"{dropped} slots dropped", teams)
    first = stream.next_block
    filled = _refill(inst, stream, teams, load)
    holes = sum(inst.k - len(t) for t in teams)
    _note(trace, "refill", first, stream, f"{filled} places filled, {holes} left", teams)
    if not holes:
        return teams, dropped, False
    first = stream.start_phase()
    ins_perm = permutation(stream, inst.E.shape[1])
    ent_perm = permutation(stream, inst.n_e)
    res = solve_exact(inst, list(range(inst.n_e)), teams, ins_perm, ent_perm, rule)
    if not res.ok:
        raise _Infeasible(res)
    perms = f"ins_perm {ins_perm.tolist()}, ent_perm {ent_perm.tolist()}"
    _note(trace, "flow", first, stream, perms, res.teams)
    return res.teams, dropped, True


class _Infeasible(Exception):
    def __init__(self, res: FlowResult) -> None:
        super().__init__("infeasible")
        self.res = res


def _smooth(inst: Instance, stream: AssignStream, teams: list[list[int]], steps: int) -> None:
    """Metropolis steps: ``e = uniform(n)``, a uniform covering team for ``e``, accepted when
    no new member is at its cap. Proposals do not depend on the state, so they are drawn
    vectorised (``k + 2`` words per step) and only the acceptance runs step by step.
    """
    start = stream.start_phase() * WORDS_PER_BLOCK
    n_e, k = inst.n_e, inst.k
    words = stream.words(start, steps * (k + 2)).reshape(steps, k + 2)
    n = np.uint64(n_e)
    ents = (words[:, 0] % n).astype(np.int64)
    props = _draw_vectorised(inst, ents, words[:, 1:])
    if props is not None and below_bounds(words[:, 0], np.full(steps, n)).all():
        stream.position = start + steps * (k + 2)
        proposals = [(int(e), p) for e, p in zip(ents.tolist(), props.tolist(), strict=True)]
    else:
        stream.position = start
        proposals = []
        for _ in range(steps):
            e = stream.uniform(n_e)
            new = _draw_team(inst, stream, e, k)
            assert new is not None
            proposals.append((e, new))
    load = np.zeros(inst.E.shape[1], dtype=np.int64)
    for t in teams:
        load[t] += 1
    spare = (inst.cap - load).tolist()
    for e, new in proposals:
        old = teams[e]
        if all(c in old or spare[c] > 0 for c in new):
            for c in old:
                spare[c] += 1
            for c in new:
                spare[c] -= 1
            teams[e] = new


def flow_rule(spec: str) -> str:
    """The flow rule of an algorithm name (SSJ-ASSIGN-1 replays SciPy's Dinic)."""
    if spec == ALGORITHM:
        return FLOW_RULE
    if spec == LEGACY_ALGORITHM:
        return LEGACY_FLOW_RULE
    raise InvalidInputError(
        f"unknown team-assignment algorithm {spec!r}: this library draws {ALGORITHM} and "
        f"replays {LEGACY_ALGORITHM}; use the library version that wrote the record"
    )


def _scipy_version() -> str:
    """SciPy's version, recorded by SSJ-ASSIGN-1 replays whose flow phase ran it."""
    import scipy

    return str(scipy.__version__)


def _draw(
    inst: Instance, stream: AssignStream, spec: str = ALGORITHM, trace: Trace = None
) -> tuple[list[list[int]], StreamInfo]:
    n_e, k = inst.n_e, inst.k
    rounds = _rounds(n_e, k)
    key_hash = hashlib.sha256(stream.key).hexdigest()
    prop = np.zeros((n_e, k), dtype=np.int64)
    for r in range(rounds):
        first = stream.next_block
        prop = _propose_round(inst, stream)
        load = np.bincount(prop.ravel(), minlength=inst.E.shape[1])
        over = int((load > inst.cap).sum())
        verdict = f"{over} inspectors over their cap" if over else "accepted"
        _note(trace, f"round {r}", first, stream, verdict, prop.tolist())
        if not over:
            info = StreamInfo(key_hash, stream.next_block, r + 1, r, spec=spec)
            return [list(map(int, row)) for row in prop], info
    teams, dropped, used_flow = _repair(inst, stream, prop, flow_rule(spec), trace)
    steps = _smoothing_steps(n_e)
    first = stream.next_block
    _smooth(inst, stream, teams, steps)
    _note(trace, "smoothing", first, stream, f"{steps} steps", teams)
    info = StreamInfo(
        key_hash,
        stream.next_block,
        rounds,
        None,
        repaired_slots=dropped,
        flow=used_flow,
        smoothing_steps=steps,
        scipy_version=_scipy_version() if used_flow and spec == LEGACY_ALGORITHM else "",
        spec=spec,
    )
    return teams, info


def assign_teams(
    staffing: Staffing,
    key: bytes,
    *,
    spec: str = ALGORITHM,
    pair_cap: float | Fraction | str = 0,
) -> Assignment:
    """Draw a team for every entity of ``staffing`` from the draw ``key`` (SSJ-ASSIGN-2).

    ``key`` is the 32-byte key of the task's team draw. The result depends only on the key and
    the inputs (not on row order); teams follow the order of ``staffing.entities``. Raises
    :class:`InfeasibleAssignment` when no assignment satisfies every rule. A verifier replaying
    a record passes its ``stream.spec``: ``"SSJ-ASSIGN-1"`` replays the earlier algorithm
    (SciPy's Dinic in the flow phase; the same draw whenever the flow phase did not run).
    ``spec="SSJ-ASSIGN-CAP-1"`` with ``pair_cap`` (a probability, e.g. ``0.5``) draws the
    capped law of :mod:`shuangsuiji.assign.capped` (raising
    :class:`~shuangsuiji.assign.capped.PairCapRefused` when it cannot respect the cap).
    """
    if spec == CAP_ALGORITHM:
        return _assign_capped(staffing, key, pair_cap)
    flow_rule(spec)
    stream = AssignStream(key)
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = build_instance(elig)
    if inst.n_e == 0:
        info = StreamInfo(hashlib.sha256(key).hexdigest(), 0, 0, None, spec=spec)
        return _result(canon, staffing, elig, inst, [], info)
    check_inputs(inst, canon, elig)
    teams, info = draw_or_explain(inst, canon, elig, stream, spec)
    return _result(canon, staffing, elig, inst, teams, info)


def _assign_capped(staffing: Staffing, key: bytes, pair_cap: float | Fraction | str) -> Assignment:
    units = cap_units(pair_cap)
    stream = AssignStream(key, domain=CAP_DOMAIN)
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = build_instance(elig)
    key_hash = hashlib.sha256(key).hexdigest()
    if inst.n_e == 0:
        info = StreamInfo(key_hash, 0, 0, None, spec=CAP_ALGORITHM, pair_cap=units)
        return _result(canon, staffing, elig, inst, [], info)
    check_inputs(inst, canon, elig)
    law = capped_law(inst, canon, units)
    if isinstance(law, list):
        raise PairCapRefused(canon.needs.label, law, units / GRID, enforce=True)
    teams = draw_capped(inst, stream, law)
    info = StreamInfo(
        key_hash, stream.next_block, 0, None, flow=True, spec=CAP_ALGORITHM, pair_cap=units
    )
    return _result(canon, staffing, elig, inst, teams, info)


def trace_draw(staffing: Staffing, key: bytes) -> tuple[Assignment, list[PhaseSpan]]:
    """:func:`assign_teams`, with the phases it went through (for test vectors and audits):
    every proposal round, then drop, refill, flow and smoothing when it repaired."""
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = build_instance(elig)
    names = np.strings.decode(canon.inspectors.ids, "utf-8").tolist()
    tracer = _Tracer([names[r] for r in inst.col_row.tolist()])
    if inst.n_e == 0:
        return assign_teams(staffing, key), []
    check_inputs(inst, canon, elig)
    teams, info = draw_or_explain(inst, canon, elig, AssignStream(key), ALGORITHM, tracer)
    return _result(canon, staffing, elig, inst, teams, info), tracer.spans


def draw_or_explain(
    inst: Instance,
    canon: Staffing,
    elig: Eligibility,
    stream: AssignStream,
    spec: str = ALGORITHM,
    trace: Trace = None,
) -> tuple[list[list[int]], StreamInfo]:
    """:func:`_draw`, turning a failure into the officer's :class:`InfeasibleAssignment`."""
    try:
        return _draw(inst, stream, spec, trace)
    except _Infeasible as exc:
        _raise_infeasible(inst, canon, elig, _violator(inst, exc.res))
        raise AssertionError("unreachable") from exc


def _result(
    canon: Staffing,
    original: Staffing,
    elig: Eligibility,
    inst: Instance,
    teams: Sequence[Sequence[int]],
    info: StreamInfo,
    reassignments: Sequence[Reassignment] = (),
) -> Assignment:
    names = np.strings.decode(canon.inspectors.ids, "utf-8").tolist()
    col_name = [names[r] for r in inst.col_row.tolist()]
    ent_ids = canon.entities.id_list()
    by_id = {
        ent_ids[e]: Team(ent_ids[e], sorted([col_name[c] for c in teams[e]]))
        for e in range(len(ent_ids))
    }
    counts = elig.eligible_counts()
    return Assignment(
        task_label=canon.needs.label,
        team_size=inst.k,
        teams=[by_id[i] for i in original.entities.id_list()],
        stream=info,
        eligible_counts=dict(zip(ent_ids, np.asarray(counts).tolist(), strict=True)),
        exclusion_counts=elig.exclusion_counts(),
        reassignments=reassignments,
    )


class _Reassigning:
    """The working state of :func:`reassign`: the teams as columns of the instance, the loads,
    the (entity, inspector) pairs no longer allowed, and the stream that continues the draw's."""

    def __init__(self, staffing: Staffing, assignment: Assignment, key: bytes) -> None:
        self.assignment = assignment
        self.canon = staffing.canonical()
        self.elig = self.canon.eligibility()
        self.inst = build_instance(self.elig)
        self.ins_ids = self.canon.inspectors.ids
        ent_ids = self.canon.entities.id_list()
        self.row_of = {e: i for i, e in enumerate(ent_ids)}
        self.col_of = {
            self.ins_ids[int(r)].decode(): c for c, r in enumerate(self.inst.col_row.tolist())
        }
        self.teams: list[list[int]] = [[] for _ in ent_ids]
        for team in assignment.teams:
            e = self.row_of.get(team.entity_id)
            if e is None:
                raise InvalidInputError(
                    f"assignment has a team for {team.entity_id!r}, not in the staffing"
                )
            self.teams[e] = [self.col_of[i] for i in team.inspector_ids if i in self.col_of]
        self.banned: set[tuple[int, int]] = set()
        for past in assignment.reassignments:
            if past.entity_id in self.row_of and past.inspector_id in self.col_of:
                self.banned.add((self.row_of[past.entity_id], self.col_of[past.inspector_id]))
        self.stream = AssignStream(key, assignment.stream.next_block)
        self.load = np.zeros(self.inst.E.shape[1], dtype=np.int64)
        for t in self.teams:
            self.load[t] += 1

    def name(self, c: int) -> str:
        return str(self.ins_ids[self.inst.col_row[c]].decode())

    def allowed(self, e: int) -> BoolArray:
        """Inspectors with spare capacity that ``e`` has not recused."""
        allowed = self.load < self.inst.cap
        for be, bc in self.banned:
            if be == e:
                allowed[bc] = False
        return allowed

    def replacement(self, e: int, remaining: list[int]) -> list[int] | None:
        """Complete the remaining members; failing that, a whole new team (loads adjusted)."""
        inst = self.inst
        new = _draw_team(inst, self.stream, e, inst.k - len(remaining), remaining, self.allowed(e))
        if new is not None:
            return new
        self.load[remaining] -= 1
        new = _draw_team(inst, self.stream, e, inst.k, (), self.allowed(e))
        if new is None:
            self.load[remaining] += 1
        return new

    def why_none(self, e: int, remaining: list[int]) -> str:
        """Why no inspector can take the place: their caps, or the rules."""
        inst = self.inst
        fits = [
            c
            for c in np.flatnonzero(inst.E[e]).tolist()
            if (e, c) not in self.banned
            and c not in remaining
            and inst.cover([*remaining, c]) == inst.full
        ]
        full = [self.name(c) for c in fits if self.load[c] >= inst.cap[c]]
        if not full:
            return f"no eligible inspector can take the place ({self.elig.explain(e)})"
        return (
            f"the {len(full)} eligible inspector(s) who could take the place "
            f"({', '.join(full[:8])}{', …' if len(full) > 8 else ''}) have reached "
            "their workload cap"
        )

    def _stream_for(self, rec: Recusal) -> AssignStream:
        """The stream a change draws from: its own key from block 0 (SSJ-CHANGE-1), or the
        team stream continued (changes recorded before change keys)."""
        return AssignStream(rec.change_key) if rec.change_key is not None else self.stream

    def _recorded(
        self, rec: Recusal, stream: AssignStream, first: int, old: list[int], new: list[int]
    ) -> Reassignment:
        if rec.change_key is None:
            self.stream = stream
        return Reassignment(
            rec.entity_id,
            rec.inspector_id,
            sorted(self.name(c) for c in old if c not in new),
            sorted(self.name(c) for c in new if c not in old),
            rec.reason,
            rec.text,
            first,
            stream.next_block,
            hashlib.sha256(rec.change_key).hexdigest() if rec.change_key is not None else "",
            replaces=rec.replaces,
        )

    def _no_team(self, rec: Recusal, e: int, remaining: list[int], what: str) -> NoReturn:
        why = self.why_none(e, remaining)
        raise InfeasibleAssignment(
            f"task {self.canon.needs.label}: {what} without changing other teams: {why}. Re-draw "
            "the task's teams with a recorded reason, or raise the workload caps.",
            [rec.entity_id],
            {rec.entity_id: why},
        )

    def recuse(self, rec: Recusal) -> Reassignment:
        """Take ``rec.inspector_id`` off the team of ``rec.entity_id`` and draw the replacement."""
        e = self.row_of.get(rec.entity_id)
        if e is None:
            raise InvalidInputError(f"recusal names entity {rec.entity_id!r}, which has no team")
        team_ids = self.assignment.team_of(rec.entity_id).inspector_ids
        current = [self.name(c) for c in self.teams[e]]
        if rec.inspector_id not in current:
            raise InvalidInputError(
                f"inspector {rec.inspector_id!r} is not on the team of {rec.entity_id!r} "
                f"(team: {', '.join(current) or ', '.join(team_ids)})"
            )
        gone = self.col_of[rec.inspector_id]
        self.banned.add((e, gone))
        stream, team_stream = self._stream_for(rec), self.stream
        self.stream = stream
        try:
            first = stream.start_phase()
            remaining = [c for c in self.teams[e] if c != gone]
            self.load[gone] -= 1
            new = self.replacement(e, remaining)
        finally:
            self.stream = team_stream
        if new is None:
            self._no_team(
                rec, e, remaining, f"no replacement for {rec.inspector_id} on {rec.entity_id}"
            )
        self.load[new] += 1
        old, self.teams[e] = self.teams[e], new
        return self._recorded(rec, stream, first, old, new)

    def add_team(self, rec: Recusal) -> Reassignment:
        """Draw a whole team for ``rec.entity_id``, an alternate that took the place of
        ``rec.replaces`` (whose team is gone and whose officers' places are free again)."""
        e = self.row_of[rec.entity_id]
        stream = self._stream_for(rec)
        first = stream.start_phase()
        new = _draw_team(self.inst, stream, e, self.inst.k, (), self.allowed(e))
        if new is None:
            self._no_team(rec, e, [], f"no team for the alternate {rec.entity_id}")
        self.load[new] += 1
        self.teams[e] = new
        return self._recorded(rec, stream, first, [], new)


def _change(staffing: Staffing, current: Assignment, key: bytes, rec: Recusal) -> Assignment:
    """One change of :func:`reassign`, on the entities that have teams now (an alternate in
    the place of the entity it replaces)."""
    ids = [t.entity_id for t in current.teams]
    base = current
    if rec.replaces:
        if rec.replaces not in ids:
            raise InvalidInputError(
                f"the alternate {rec.entity_id!r} replaces {rec.replaces!r}, which has no team"
            )
        if rec.entity_id in ids:
            raise InvalidInputError(f"entity {rec.entity_id!r} has a team already")
        ids = [rec.entity_id if i == rec.replaces else i for i in ids]
        base = attrs.evolve(
            current, teams=[t for t in current.teams if t.entity_id != rec.replaces]
        )
    own = staffing if ids == staffing.entities.id_list() else staffing.restrict(ids)
    state = _Reassigning(own, base, key)
    done = state.add_team(rec) if rec.replaces else state.recuse(rec)
    if rec.replaces:
        done = attrs.evolve(done, removed=current.team_of(rec.replaces).inspector_ids)
    info = attrs.evolve(current.stream, next_block=state.stream.next_block)
    changes = [*current.reassignments, done]
    return _result(state.canon, own, state.elig, state.inst, state.teams, info, changes)


def reassign(
    staffing: Staffing, assignment: Assignment, key: bytes, recusals: Sequence[Recusal]
) -> Assignment:
    """Take inspectors off teams after the draw and draw their replacements.

    Recusals are handled in order. A recusal with a ``change_key`` (SSJ-CHANGE-1, how every
    change is made now: :mod:`shuangsuiji.changes`) draws from a stream of that key, from
    block 0; one without (re-assignments recorded before change keys) starts a fresh phase
    of the team stream at the assignment's ``stream.next_block``. The replacement for
    ``inspector_id`` is drawn uniformly among the entity's eligible inspectors with spare
    capacity that keep the team covering (one ``_draw_team`` completion of the remaining
    members); if there is none, the whole team is redrawn under the same conditions. Only
    the affected teams change. Earlier recusals stay excluded. Raises
    :class:`InfeasibleAssignment` when even a new team cannot be found without changing
    other teams (then re-draw the task with a recorded reason).
    """
    if hashlib.sha256(key).hexdigest() != assignment.stream.key_sha256:
        raise InvalidInputError(
            "this key is not the one the assignment was drawn with (key_sha256 differs); "
            "a re-assignment builds on the team key (its own key derives from it)"
        )
    current = assignment
    for rec in recusals:
        current = _change(staffing, current, key, rec)
    return current
