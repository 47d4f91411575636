"""Pair probabilities of a team draw (SSJ-PAIRS-1): how likely is officer ``o`` on entity ``e``?

A team seed is revealed only after the staffing is frozen, so the law of the team draw —
SSJ-ASSIGN-2 applied to the frozen staffing with a uniformly random key — is fixed before
anyone knows the teams. This module states, for every (officer, entity) pair, the probability
``p(o, e)`` that this law puts ``o`` on ``e``'s team, so that a record can say *before* the
reveal whether one officer is near-certain to inspect one firm (a narrow qualification, a small
department). Two methods, chosen by a rule an auditor re-applies:

**Exact** (when the proposal space ``P = prod_e T_e`` is at most ``EXACT_LIMIT`` = 100,000,
``T_e`` being the number of covering teams of entity ``e``): every feasible assignment is
enumerated (:func:`~shuangsuiji.assign.enumerate_assignments`); ``p(o, e)`` is the share of
them that put ``o`` on ``e``, a fraction with denominator ``N`` (the number of feasible
assignments). These are the probabilities of the *uniform* law on feasible assignments, which
SSJ-ASSIGN-2 samples exactly whenever a proposal round is accepted. A round is accepted with
probability ``q = N / P`` (proposals are independent uniform covering teams), so the draw falls
back to the repair phase with probability ``r = (1 - q) ** R`` (``R`` proposal rounds), and the
draw's law is within total variation ``r`` of the uniform law: every true pair probability lies
in ``p(o, e) ± r``. ``error`` records ``r`` (usually below ``1e-12``).

**Monte Carlo** (larger staffings): the team draw is replayed under ``K`` keys (default
``K = 2,000``; the replays are the real engine, repair phase included)::

    key(c) = SHA-256( b"SSJ-PAIRS-1" || 0x00 || staffing_digest || u64be(c) ),  c = 0 .. K-1

``staffing_digest`` being the 32 bytes of the frozen staffing's SSJ-STAFFING-2 digest (the
hex of the record, decoded). ``p(o, e)`` is the share of the ``K`` replays that put ``o`` on
``e``. The keys are fixed by the digest, so anyone with the staffing re-computes the same
estimate bit for bit. Treating the keys as independent uniform keys, Hoeffding's inequality
and a union bound over the ``M`` eligible pairs give, with probability at least ``1 - delta``
(``delta = 0.01``), simultaneously for every pair::

    |estimate - p(o, e)| <= error = sqrt( ln(2 M / delta) / (2 K) )

Pairs that no rule allows have ``p = 0`` exactly and are not estimated.

**The cap.** A policy's ``max_pair_probability`` (0 = off) is checked on these values: a pair
is *above the cap* when its (exact or estimated) probability exceeds it. SSJ-ASSIGN-2 is not
changed: where its law exceeds the cap, the registry refuses the team draw or states the
shortfall in the staffing record, before the seed is revealed (``on_pair_cap``).
:func:`shortfalls` names, for every entity with a pair above the cap, what the pool lacks: a
team of ``k`` from ``m`` eligible officers puts them on the team with probabilities summing to
``k``, so some officer has ``p >= k / m`` and the cap needs ``m >= ceil(k / cap)``; a
requirement (a department of a joint task, a qualification) that ``n`` eligible officers meet
puts them on the team with probabilities summing to at least 1, so it needs
``n >= ceil(1 / cap)``. An entity with enough officers on both counts can still be above the
cap (officers shared with other entities under workload caps); the shortfall says so.

Nothing here reads a clock, a database or global random state.

>>> from shuangsuiji.assign.pairs import pair_key
>>> pair_key("00" * 32, 0).hex()[:16]
'8b5b7a1dd007dd38'
"""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.assign._engine import proposal_rounds
from shuangsuiji.assign._instance import Instance, build_instance, vector_weights
from shuangsuiji.assign._replays import sample_teams
from shuangsuiji.assign.assignment import ALGORITHM, CAP_ALGORITHM
from shuangsuiji.assign.capped import (
    GRID,
    CappedLaw,
    PairCapRefused,
    cap_units,
    lacking_text,
    law_for,
    officers_lacking,
)
from shuangsuiji.assign.check import enumerate_assignments
from shuangsuiji.assign.eligibility import Staffing
from shuangsuiji.errors import InvalidInputError

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_REPLAYS",
    "EXACT_LIMIT",
    "PAIRS_SPEC",
    "Pair",
    "PairCapRefused",
    "PairProbabilities",
    "Shortfall",
    "capped_statement",
    "check_pair_cap",
    "estimate_pair_probabilities",
    "exact_pair_probabilities",
    "law_problems",
    "pair_key",
    "pair_probabilities",
    "pair_statement",
    "shortfalls",
    "statement_problems",
    "team_law",
]

PAIRS_SPEC = "SSJ-PAIRS-1"
_DOMAIN = b"SSJ-PAIRS-1\x00"
EXACT_LIMIT = 100_000
DEFAULT_REPLAYS = 2_000
DEFAULT_DELTA = 0.01
_DIGITS = 6  # probabilities in records, rounded: enough for a cap, stable in JSON
F64 = npt.NDArray[np.float64]
Method = Literal["exact", "monte_carlo"]


def pair_key(staffing_digest: str, counter: int) -> bytes:
    """``key(c)`` of the Monte Carlo estimate (see the module docstring)."""
    digest = bytes.fromhex(staffing_digest)
    if len(digest) != 32:
        raise InvalidInputError(
            f"the staffing digest must be 64 hex digits (SSJ-STAFFING-2), got {staffing_digest!r}"
        )
    if not 0 <= counter < 1 << 64:
        raise InvalidInputError(f"the counter must be in [0, 2**64), got {counter}")
    return hashlib.sha256(_DOMAIN + digest + counter.to_bytes(8, "big")).digest()


@attrs.frozen
class Pair:
    """One (entity, officer) pair and its probability of being drawn together."""

    entity_id: str
    inspector_id: str
    p: float

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity_id, "inspector": self.inspector_id, "p": _round(self.p)}


def _round(p: float) -> float:
    return round(float(p), _DIGITS)


@attrs.frozen(eq=False)
class PairProbabilities:
    """``p[e, o]``: entity row ``e`` (``entity_ids``) and officer column ``o``
    (``inspector_ids``), both in the staffing's order.

    ``method`` is ``"exact"`` (``feasible`` assignments enumerated; ``error`` the repair bound
    ``r``) or ``"monte_carlo"`` (``replays`` keys; ``error`` the Hoeffding half-width at
    ``delta``). See the module docstring.
    """

    method: Method
    entity_ids: tuple[str, ...]
    inspector_ids: tuple[str, ...]
    p: F64
    error: float
    replays: int = 0
    feasible: int = 0
    delta: float = 0.0

    def probability(self, entity_id: str, inspector_id: str) -> float:
        """``p(o, e)`` of one pair."""
        return float(
            self.p[self.entity_ids.index(entity_id), self.inspector_ids.index(inspector_id)]
        )

    def maximum(self) -> Pair | None:
        """The most likely pair (first in entity, then officer order on ties); None without
        entities."""
        if self.p.size == 0:
            return None
        e, o = np.unravel_index(int(np.argmax(self.p)), self.p.shape)
        return Pair(self.entity_ids[int(e)], self.inspector_ids[int(o)], float(self.p[e, o]))

    def above(self, cap: float) -> list[Pair]:
        """The pairs whose probability exceeds ``cap``, most likely first."""
        es, os = np.nonzero(self.p > cap)
        pairs = [
            Pair(self.entity_ids[e], self.inspector_ids[o], float(self.p[e, o]))
            for e, o in zip(es.tolist(), os.tolist(), strict=True)
        ]
        return sorted(pairs, key=lambda x: (-x.p, x.entity_id, x.inspector_id))


def _space(inst: Instance) -> int:
    """``P = prod_e T_e``: the number of proposals (covering teams for every entity)."""
    vecs = inst.vectors(inst.k, inst.full)
    total = 1
    for e in range(inst.n_e):
        total *= sum(vector_weights(inst, inst.counts[e].tolist(), vecs))
    return total


def _shape(staffing: Staffing) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(staffing.entities.id_list()), tuple(staffing.inspectors.id_list())


def exact_pair_probabilities(staffing: Staffing) -> PairProbabilities:
    """Every pair's probability under the uniform law, by enumerating the feasible
    assignments (small staffings only), with the repair bound as ``error``.

    Three officers A, B, C, teams of two, A in conflict with E1 of two entities: E1 must take
    B and C and E2 any two of three, so ``p(B, E1) = 1`` and ``p(o, E2) = 2/3``
    (``tests/test_pairs.py`` and ``docs/teams.md`` work it through).
    """
    canon = staffing.canonical()
    inst = build_instance(canon.eligibility())
    space = _space(inst)
    if space > EXACT_LIMIT:
        raise InvalidInputError(
            f"{space:,} proposals (more than {EXACT_LIMIT:,}): too many to enumerate; use "
            "estimate_pair_probabilities (or pair_probabilities, which chooses)"
        )
    ents, offs = _shape(staffing)
    col = {o: j for j, o in enumerate(offs)}
    row = {e: i for i, e in enumerate(ents)}
    counts = np.zeros((len(ents), len(offs)), dtype=np.int64)
    feasible = enumerate_assignments(staffing, limit=space)
    for assignment in feasible:
        for team in assignment:
            counts[row[team.entity_id], [col[o] for o in team.inspector_ids]] += 1
    n = len(feasible)
    if n == 0:
        raise InvalidInputError("no feasible assignment: the team draw would be refused")
    q = Fraction(n, space)
    repair = float((1 - q) ** proposal_rounds(inst.n_e, inst.k))
    return PairProbabilities("exact", ents, offs, counts / n, repair, feasible=n)


def estimate_pair_probabilities(
    staffing: Staffing,
    staffing_digest: str,
    *,
    replays: int = DEFAULT_REPLAYS,
    delta: float = DEFAULT_DELTA,
) -> PairProbabilities:
    """Every pair's probability estimated from ``replays`` replays of the team draw under
    the keys ``pair_key(staffing_digest, c)``, with the Hoeffding half-width as ``error``.
    """
    if replays < 1:
        raise InvalidInputError(f"replays must be at least 1, got {replays}")
    if not 0 < delta < 1:
        raise InvalidInputError(f"delta must be in (0, 1), got {delta}")
    ents, offs = _shape(staffing)
    n_e, n_i = len(ents), len(offs)
    flat = np.zeros(n_e * n_i, dtype=np.int64)
    keys = (pair_key(staffing_digest, c) for c in range(replays))
    at = np.arange(n_e, dtype=np.int64)[:, None] * n_i
    for teams in sample_teams(staffing, keys):
        flat += np.bincount((at + teams).ravel(), minlength=n_e * n_i)
    eligible = int(staffing.eligibility().matrix.sum())
    error = math.sqrt(math.log(2 * max(1, eligible) / delta) / (2 * replays))
    p = flat.reshape(n_e, n_i) / replays
    return PairProbabilities("monte_carlo", ents, offs, p, error, replays=replays, delta=delta)


def pair_probabilities(
    staffing: Staffing,
    staffing_digest: str,
    *,
    replays: int = DEFAULT_REPLAYS,
    delta: float = DEFAULT_DELTA,
) -> PairProbabilities:
    """Exact when the proposal space is at most :data:`EXACT_LIMIT`, else estimated (the rule
    of the module docstring, which a verifier applies the same way)."""
    if _space(build_instance(staffing.canonical().eligibility())) <= EXACT_LIMIT:
        return exact_pair_probabilities(staffing)
    return estimate_pair_probabilities(staffing, staffing_digest, replays=replays, delta=delta)


@attrs.frozen
class Shortfall:
    """An entity with a pair above the cap: its most likely pair, and what the pool lacks
    (``missing``: how many more officers, and per requirement how many more meeting it; each
    ``(what, count)`` with ``what`` in the singular, e.g. ``("qualified officer", 2)``)."""

    entity_id: str
    top: Pair
    eligible: int
    team_size: int
    missing: tuple[tuple[str, int], ...]

    @property
    def message(self) -> str:
        """What is wrong and how to fix it, in one sentence."""
        head = (
            f"entity {self.entity_id}: {self.eligible} eligible officers for a team of "
            f"{self.team_size}, {self.top.inspector_id} on it with p={self.top.p:.2f}"
        )
        if not self.missing:
            return (
                f"{head}; the pool has enough officers for this entity, but they are shared "
                "with other entities under workload caps: add officers or raise the caps"
            )
        need = lacking_text(self.missing)
        return f"{head}; {need} (from another department, or set a joint inspection)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity_id,
            "top": self.top.to_dict(),
            "eligible": self.eligible,
            "missing": [{"what": w, "count": n} for w, n in self.missing],
            "message": self.message,
        }


def _missing(inst: Instance, e: int, cap: float) -> tuple[int, tuple[tuple[str, int], ...]]:
    """Eligible officers of canonical entity ``e``, and what the cap needs beyond them."""
    eligible = int(inst.counts[e].sum())
    meeting = [
        (name, sum(int(inst.counts[e, t]) for t, m in enumerate(inst.type_masks) if m >> j & 1))
        for j, name in enumerate(inst.requirements)
    ]
    return eligible, tuple(officers_lacking(inst.k, cap_units(cap), eligible, meeting))


def shortfalls(staffing: Staffing, probs: PairProbabilities, cap: float) -> list[Shortfall]:
    """For each entity with a pair above ``cap`` (in staffing order), what the pool lacks."""
    if not 0 < cap <= 1:
        raise InvalidInputError(f"the cap must be in (0, 1], got {cap}")
    canon = staffing.canonical()
    inst = build_instance(canon.eligibility())
    canon_row = {e: i for i, e in enumerate(canon.entities.id_list())}
    out = []
    for e, eid in enumerate(probs.entity_ids):
        o = int(np.argmax(probs.p[e])) if probs.p.shape[1] else 0
        if probs.p.shape[1] and probs.p[e, o] > cap:
            top = Pair(eid, probs.inspector_ids[o], float(probs.p[e, o]))
            eligible, missing = _missing(inst, canon_row[eid], cap)
            out.append(Shortfall(eid, top, eligible, inst.k, missing))
    return out


def pair_statement(
    staffing: Staffing,
    probs: PairProbabilities,
    cap: float,
    *,
    on_cap: str = "state",
    limit: int = 200,
) -> dict[str, Any]:
    """The public statement of a staffing record: method, error, the most likely pair, the
    pairs above ``cap`` (at most ``limit``, most likely first; ``above_count`` counts all)
    and the shortfalls. Officer and entity IDs only: no personal data.
    """
    top = probs.maximum()
    above = probs.above(cap) if cap > 0 else []
    return {
        "spec": PAIRS_SPEC,
        "method": probs.method,
        "replays": probs.replays,
        "feasible": probs.feasible,
        "delta": probs.delta,
        "error": float(f"{probs.error:.6g}"),
        "max": top.to_dict() if top else None,
        "cap": cap,
        "on_cap": on_cap,
        "above_count": len(above),
        "above": [a.to_dict() for a in above[:limit]],
        "shortfalls": [s.to_dict() for s in shortfalls(staffing, probs, cap)] if above else [],
    }


def statement_problems(recorded: Any, staffing: Staffing, staffing_digest: str) -> list[str]:
    """Re-compute a recorded statement from the staffing it was frozen with, by the same rule
    and with its recorded cap, ``replays`` and ``delta`` (for a verifier holding the annex)."""
    if not isinstance(recorded, dict):
        return ["pairs: the pair statement is not an object"]
    cap, on_cap = recorded.get("cap"), recorded.get("on_cap")
    replays, delta = (
        recorded.get("replays") or DEFAULT_REPLAYS,
        recorded.get("delta") or DEFAULT_DELTA,
    )
    if not isinstance(cap, int | float) or not isinstance(on_cap, str):
        return ["pairs: the statement lacks its cap or on_cap"]
    if not isinstance(replays, int) or not isinstance(delta, int | float):
        return ["pairs: replays must be a whole number and delta a number"]
    if recorded.get("law") == CAP_ALGORITHM:
        law = law_for(staffing, cap)
        if isinstance(law, list):
            return [f"pairs: the {CAP_ALGORITHM} law cannot respect cap {cap}: {law[0].message}"]
        derived = capped_statement(law, cap)
    else:
        probs = pair_probabilities(staffing, staffing_digest, replays=replays, delta=delta)
        derived = pair_statement(staffing, probs, cap, on_cap=on_cap)
    return [
        f"pairs: {name} recorded {recorded.get(name)!r}, re-computed {derived[name]!r}"
        for name in sorted(derived)
        if recorded.get(name) != derived[name]
    ]


def capped_statement(law: CappedLaw, cap: float) -> dict[str, Any]:
    """The public statement of a staffing whose teams the capped law draws
    (:mod:`shuangsuiji.assign.capped`): ``method = "bound"``, exact and with no error — every
    pair of entity ``e`` has probability at most ``b_e / GRID`` — the level ``t*``, and the
    entity with the largest bound (``max``; its ``inspector`` is null: the bound holds for
    each of its officers). No pair is above ``cap``."""
    top = law.maximum()
    return {
        "spec": PAIRS_SPEC,
        "law": CAP_ALGORITHM,
        "method": "bound",
        "grid": GRID,
        "level": law.level / GRID,
        "replays": 0,
        "feasible": 0,
        "delta": 0.0,
        "error": 0.0,
        "max": {"entity": top[0], "inspector": None, "p": top[1] / GRID} if top else None,
        "cap": cap,
        "on_cap": "enforce",
        "above_count": 0,
        "above": [],
        "shortfalls": [],
    }


def team_law(statement: Any) -> tuple[str, float]:
    """The team-draw law a frozen pair statement promises: ``(spec, pair_cap)`` for
    :func:`~shuangsuiji.assign.assign_teams` — the capped law under ``on_pair_cap =
    "enforce"``, else SSJ-ASSIGN-2 (cap 0)."""
    if isinstance(statement, dict) and statement.get("law") == CAP_ALGORITHM:
        return CAP_ALGORITHM, float(statement["cap"])
    return ALGORITHM, 0.0


def law_problems(statement: Any, stream: Any) -> list[str]:
    """The recorded draw used the law the frozen statement promised (checked on the public
    bundle: a draw by another law, or under another cap, is named)."""
    spec, cap = team_law(statement)
    if not isinstance(stream, dict):
        return []
    used = stream.get("spec", ALGORITHM)
    used_cap = stream.get("pair_cap", 0)
    promised_cap = cap_units(cap) if cap else 0
    if (used == CAP_ALGORITHM) != (spec == CAP_ALGORITHM) or used_cap != promised_cap:
        return [
            f"teams: drawn by {used} (pair_cap {used_cap}) but the staffing was frozen for "
            f"{spec} (pair_cap {promised_cap}): the law was changed after the freeze"
        ]
    return []


def check_pair_cap(
    staffing: Staffing, staffing_digest: str, cap: float, on_cap: str
) -> dict[str, Any] | None:
    """The pair statement of a staffing being frozen (None when ``cap`` is 0: off).

    Raises :class:`PairCapRefused` when a pair is above ``cap`` and ``on_cap`` is
    ``"refuse"``; with ``"state"`` the statement carries the shortfalls. With ``"enforce"``
    the teams will be drawn by the capped law, whose statement is :func:`capped_statement`;
    refused when not even that law can respect ``cap``. Called before the team seed exists,
    so the statement cannot depend on the teams.
    """
    if cap <= 0:
        return None
    if on_cap == "enforce":
        law = law_for(staffing, cap)
        if isinstance(law, list):
            raise PairCapRefused(staffing.needs.label, law, cap, enforce=True)
        return capped_statement(law, cap)
    probs = pair_probabilities(staffing, staffing_digest)
    statement = pair_statement(staffing, probs, cap, on_cap=on_cap)
    if statement["shortfalls"] and on_cap == "refuse":
        raise PairCapRefused(staffing.needs.label, shortfalls(staffing, probs, cap), cap)
    return statement
