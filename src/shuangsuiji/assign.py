"""Random inspection teams under recusal (回避), composition and workload rules: SSJ-ASSIGN-1.

The second "random" of 双随机: every selected entity gets a team of inspectors drawn at random
from those allowed to go there. The mathematics first.

**Eligibility.** Inspector ``i`` may inspect entity ``e`` when ``i`` belongs to one of the task's
departments, is active, holds a law-enforcement certificate (执法证) valid on the inspection
date, still has workload left in the period, and no recusal rule removes the pair: declared
conflicts, attribute rules (e.g. the officer lives in the entity's township), rotation (the pair
met within ``N`` days) and any :class:`RecusalRule` an agency adds in Python. Every exclusion
keeps its rule's name and reason, so an error can say which rules removed which inspectors.

**Composition.** A team is a set of ``k`` distinct eligible inspectors (``k >= 2`` unless a legal
exception is named) that *covers* the task's requirements: in a joint task (联合抽查) at least one
member of every participating department, and at least one member holding every qualification
the task's items require (``qualification_mode="any_member"``; ``"every_member"`` instead makes
the qualification an eligibility rule). Each inspector joins at most ``max_per_task`` teams of
the task and at most ``max_per_period`` minus its prior load in the period.

**Types.** Requirements are numbered (departments of a joint task first, in task order, then
qualifications in sorted order); an inspector's *type* is the bit mask of requirements it meets.
A team covers the requirements when the OR of its members' types is full. A *vector* ``v`` counts
members per type (sum ``k``); entity ``e`` with ``a[e, t]`` eligible inspectors of type ``t`` has
``W_e(v) = prod_t C(a[e, t], v_t)`` covering teams of vector ``v``. Drawing ``v`` with probability
``W_e(v) / sum W_e`` and then ``v_t`` distinct members of each type uniformly gives a *uniform*
covering team: this is the proposal.

**The draw.** (1) Proposal rounds: every entity draws a uniform covering team independently. If
no inspector exceeds its cap, the round is accepted; conditioned on acceptance the result is
*exactly uniform* over all feasible assignments (rejection sampling). (2) When no round is
accepted, the last proposal is repaired: over-cap slots are dropped at random, holes are refilled
at random from inspectors with spare capacity, and holes that remain are filled by a maximum flow
(``scipy.sparse.csgraph.maximum_flow``) on the residual network of the partial assignment, whose
nodes are numbered in a random order. The flow network is exact for departments and for any
family of requirements whose minimal members are disjoint; when requirements cross (a
qualification held in two departments of a joint task) the flow is a relaxation and a
branch-and-bound over the contested entities' vectors completes it, so **a feasible assignment is
found whenever one exists**. (3) A repaired assignment is then smoothed by Metropolis steps
(pick an entity at random, propose a uniform covering team, accept it if the caps allow), whose
stationary law is uniform over feasible assignments.

**Randomness** comes only from the draw key through a SHA-256 counter stream::

    block(i) = SHA-256( key || b"SSJ-ASSIGN-1" || 0x00 || u64be(i) ),   i = 0, 1, 2, ...
    word(w)  = u64be( block(w // 4)[8 (w mod 4) : 8 (w mod 4) + 8] )

``uniform(n)`` takes ``m = max(1, ceil(bitlen(n - 1) / 64))`` words as one big-endian integer
``x`` and returns ``x mod n`` if ``x < 2^(64 m) - (2^(64 m) mod n)``, else tries the next ``m``
words (rejection: no modulo bias). Every phase starts on a fresh block. ``docs/teams.md`` gives
the byte-exact consumption order. No ``random``, no numpy ``Generator``.

**Infeasibility** raises :class:`InfeasibleAssignment` naming the smallest set of entities that
cannot all be staffed (a Hall violator found from the minimum cut) and, per entity, which rules
removed which inspectors.

>>> from datetime import date
>>> from shuangsuiji.synth import make_city
>>> city = make_city(300, seed=5)
>>> needs = TaskNeeds("T-2026-01", departments=("SCJG",), on=date(2026, 6, 30))
>>> staffing = Staffing(city.entities.take(np.arange(20)), city.inspectors, needs,
...                     conflicts=ConflictTable.from_rows(city.conflicts))
>>> result = assign_teams(staffing, key=bytes(32))
>>> len(result.teams), {len(t.inspector_ids) for t in result.teams}
(20, {2})
>>> check_teams(staffing, result)
[]
>>> assign_teams(staffing, key=bytes(32)).teams == result.teams
True
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Literal, Protocol, TypeAlias, cast, runtime_checkable

import attrs
import numpy as np
import numpy.typing as npt
import scipy
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from shuangsuiji.errors import InvalidInputError, RefusedError, UnknownKeyError
from shuangsuiji.model import InspectionItem, Task
from shuangsuiji.pools import EntityPool, InspectorPool

__all__ = [
    "ALGORITHM",
    "AssignStream",
    "Assignment",
    "AttributeRule",
    "ConflictTable",
    "DeclaredConflicts",
    "Eligibility",
    "Exclusions",
    "FairnessReport",
    "InfeasibleAssignment",
    "PastAssignments",
    "Reassignment",
    "Recusal",
    "RecusalReason",
    "RecusalRule",
    "Rotation",
    "RuleContext",
    "RuleOutcome",
    "Staffing",
    "StreamInfo",
    "TaskNeeds",
    "Team",
    "TeamConfig",
    "TeamProblem",
    "assign_teams",
    "check_teams",
    "enumerate_assignments",
    "fairness",
    "reassign",
    "sample_loads",
]

ALGORITHM = "SSJ-ASSIGN-1"
"""Name of the team-assignment algorithm and of its random stream (recorded in every result)."""

_DOMAIN = b"SSJ-ASSIGN-1\x00"
_WORDS_PER_BLOCK = 4
_TWO64 = 1 << 64
_U64_MAX = np.uint64(_TWO64 - 1)
_ROUND_WORD_BUDGET = 1 << 16
_MAX_ROUNDS = 64
_MAX_VECTORS = 200_000
_EXACT_MINIMUM_UP_TO = 12
_SHRINK_UP_TO = 200

IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
BytesArray: TypeAlias = npt.NDArray[np.bytes_]


# --------------------------------------------------------------------------- the stream


def _blocks(key: bytes, first: int, count: int) -> bytes:
    prefix = hashlib.sha256(key + _DOMAIN)
    out = []
    for i in range(first, first + count):
        h = prefix.copy()
        h.update(i.to_bytes(8, "big"))
        out.append(h.digest())
    return b"".join(out)


class AssignStream:
    """The SSJ-ASSIGN-1 counter stream: 64-bit words from SHA-256 blocks of the draw key.

    ``block(i) = SHA-256(key || b"SSJ-ASSIGN-1" || 0x00 || u64be(i))``; each block gives four
    big-endian 64-bit words. :meth:`uniform` draws an integer in ``[0, n)`` without modulo bias.

    >>> s = AssignStream(bytes(32))
    >>> s.block(0) == hashlib.sha256(bytes(32) + b"SSJ-ASSIGN-1\\x00" + bytes(8)).digest()
    True
    >>> [s.uniform(6) for _ in range(5)]
    [2, 4, 4, 0, 5]
    >>> s.position, s.start_phase(), s.position
    (5, 2, 8)
    """

    def __init__(self, key: bytes, start_block: int = 0) -> None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise InvalidInputError(
                "the draw key must be bytes of at least 16 (normally 32) bytes, as made by "
                "shuangsuiji.draw.draw_key(task_label, seed)"
            )
        if start_block < 0:
            raise InvalidInputError(f"start_block must be >= 0, got {start_block}")
        self.key = key
        self.position = start_block * _WORDS_PER_BLOCK
        self._buf_start = 0
        self._buf: list[int] = []

    def block(self, i: int) -> bytes:
        """Block ``i`` of the stream (32 bytes)."""
        return _blocks(self.key, i, 1)

    def words(self, start: int, count: int) -> npt.NDArray[np.uint64]:
        """Words ``start .. start + count - 1`` as an array (does not move the position)."""
        if count <= 0:
            return np.zeros(0, dtype=np.uint64)
        first = start // _WORDS_PER_BLOCK
        last = (start + count - 1) // _WORDS_PER_BLOCK
        raw = np.frombuffer(_blocks(self.key, first, last - first + 1), dtype=">u8")
        off = start - first * _WORDS_PER_BLOCK
        return raw[off : off + count].astype(np.uint64)

    def next_word(self) -> int:
        """The word at the current position, advancing it by one."""
        i = self.position - self._buf_start
        if not 0 <= i < len(self._buf):
            self._buf_start = self.position - self.position % _WORDS_PER_BLOCK
            self._buf = self.words(self._buf_start, 256 * _WORDS_PER_BLOCK).tolist()
            i = self.position - self._buf_start
        self.position += 1
        return int(self._buf[i])

    def uniform(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` by rejection sampling (see the module docstring)."""
        if n < 1:
            raise InvalidInputError(f"uniform(n) needs n >= 1, got {n}")
        m = max(1, -(-(n - 1).bit_length() // 64))
        span = 1 << (64 * m)
        limit = span - span % n
        while True:
            x = 0
            for _ in range(m):
                x = (x << 64) | self.next_word()
            if x < limit:
                return x % n

    def start_phase(self) -> int:
        """Move to the start of the next unused block and return that block's counter."""
        block = -(-self.position // _WORDS_PER_BLOCK)
        self.position = block * _WORDS_PER_BLOCK
        return block

    @property
    def next_block(self) -> int:
        """The first block none of whose words has been used."""
        return -(-self.position // _WORDS_PER_BLOCK)


def _accept(words: npt.NDArray[np.uint64], bounds: npt.NDArray[np.uint64]) -> BoolArray:
    """Vectorised acceptance test of ``uniform`` for bounds below 2**64 (one word each)."""
    rem = (np.uint64(0) - bounds) % bounds  # 2**64 mod n, in wrapping uint64 arithmetic
    return np.asarray(words <= _U64_MAX - rem)


# --------------------------------------------------------------------------- inputs


def _ids_bytes(values: Iterable[str] | npt.NDArray[Any]) -> BytesArray:
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values))
    if arr.dtype.kind == "S":
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype="S1")
    return np.asarray(np.strings.encode(arr.astype(str), "utf-8"))


def _hash64(values: BytesArray, width: int) -> npt.NDArray[np.uint64]:
    """FNV-1a over the bytes of fixed-width IDs (zero padded), vectorised by byte column."""
    raw = np.frombuffer(values.astype(f"S{width}").tobytes(), dtype=np.uint8)
    cols = raw.reshape(len(values), width)
    h = np.full(len(values), 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    for j in range(width):
        h = (h ^ cols[:, j]) * prime
    return h


def _lookup(ids: BytesArray, wanted: BytesArray) -> IntArray:
    """Row of each wanted ID in ``ids`` (unique), or -1.

    Matches 64-bit hashes of the IDs (byte-string comparisons are slow) and then confirms
    every match byte for byte; falls back to sorting the IDs themselves if two pool IDs share
    a hash.
    """
    if len(ids) == 0 or len(wanted) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    width = max(ids.dtype.itemsize, wanted.dtype.itemsize, 1)
    hi, hw = _hash64(ids, width), _hash64(wanted, width)
    order = np.argsort(hi, kind="stable")
    sorted_h = hi[order]
    if len(sorted_h) > 1 and bool((sorted_h[1:] == sorted_h[:-1]).any()):
        order = np.argsort(ids, kind="stable")
        pos = np.minimum(np.searchsorted(ids, wanted, sorter=order), len(ids) - 1)
    else:
        pos = np.minimum(np.searchsorted(sorted_h, hw), len(ids) - 1)
    rows = order[pos].astype(np.int64)
    return np.where(ids[rows] == wanted, rows, -1)


class _Details(Sequence[str]):
    """Per-pair detail texts computed on demand (a rule may exclude millions of pairs)."""

    def __init__(self, index: IntArray, text: Any) -> None:
        self._index = index
        self._text = text

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, j: Any) -> Any:
        if isinstance(j, slice):
            return [self._text(int(x)) for x in self._index[j]]
        return self._text(int(self._index[j]))


class _ConflictLike(Protocol):
    @property
    def inspector_id(self) -> str: ...
    @property
    def entity_id(self) -> str: ...
    @property
    def relation(self) -> str: ...
    @property
    def source(self) -> str: ...


@attrs.frozen(eq=False)
class ConflictTable:
    """Declared conflicts of interest, column by column (``conflicts.csv``).

    Columns ``inspector_id, entity_id, relation, source``, e.g. ``近亲属任职`` declared by
    ``本人申报``. Build from objects with those attributes or 4-tuples with :meth:`from_rows`.

    >>> t = ConflictTable.from_rows([("ZF01", "E1", "近亲属任职", "本人申报")])
    >>> len(t), t.relation[0]
    (1, '近亲属任职')
    """

    inspector_ids: BytesArray
    entity_ids: BytesArray
    relation: tuple[str, ...]
    source: tuple[str, ...]

    def __attrs_post_init__(self) -> None:
        n = len(self.inspector_ids)
        if not len(self.entity_ids) == len(self.relation) == len(self.source) == n:
            raise InvalidInputError("ConflictTable: columns differ in length")

    @classmethod
    def from_rows(cls, rows: Iterable[_ConflictLike | tuple[str, str, str, str]]) -> ConflictTable:
        """From objects with ``inspector_id, entity_id, relation, source`` or 4-tuples."""
        cols: list[tuple[str, str, str, str]] = []
        for row in rows:
            if isinstance(row, tuple):
                cols.append((str(row[0]), str(row[1]), str(row[2]), str(row[3])))
            else:
                cols.append((row.inspector_id, row.entity_id, row.relation, row.source))
        return cls(
            inspector_ids=_ids_bytes([c[0] for c in cols]),
            entity_ids=_ids_bytes([c[1] for c in cols]),
            relation=tuple(c[2] for c in cols),
            source=tuple(c[3] for c in cols),
        )

    def __len__(self) -> int:
        return len(self.inspector_ids)


@attrs.frozen(eq=False)
class PastAssignments:
    """Earlier inspections, one row per (inspector, entity, date), for the rotation rule.

    >>> p = PastAssignments.from_rows([("ZF01", "E1", date(2026, 1, 5))])
    >>> len(p)
    1
    """

    inspector_ids: BytesArray
    entity_ids: BytesArray
    dates: npt.NDArray[np.datetime64]

    def __attrs_post_init__(self) -> None:
        if not len(self.inspector_ids) == len(self.entity_ids) == len(self.dates):
            raise InvalidInputError("PastAssignments: columns differ in length")

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, date]]) -> PastAssignments:
        """From ``(inspector_id, entity_id, date)`` tuples."""
        items = list(rows)
        return cls(
            inspector_ids=_ids_bytes([r[0] for r in items]),
            entity_ids=_ids_bytes([r[1] for r in items]),
            dates=np.asarray([r[2] for r in items], dtype="datetime64[D]"),
        )

    def __len__(self) -> int:
        return len(self.inspector_ids)


def _qualification_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(str(v) for v in values)


def _strs(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _int_rows(values: npt.ArrayLike) -> IntArray:
    return np.asarray(values, dtype=np.int64)


@attrs.frozen
class TaskNeeds:
    """What one task asks of its teams: departments, qualifications, inspection date.

    ``label`` is the task label of the draw. Several departments make a joint task (联合抽查).
    Build it from a :class:`~shuangsuiji.model.Task` and the item list with :meth:`from_task`.
    """

    label: str
    departments: tuple[str, ...] = attrs.field(converter=_strs)
    on: date
    qualifications: frozenset[str] = attrs.field(factory=frozenset, converter=_qualification_set)

    def __attrs_post_init__(self) -> None:
        if not self.departments:
            raise InvalidInputError(f"task {self.label}: name at least one department")
        if len(set(self.departments)) != len(self.departments):
            raise InvalidInputError(f"task {self.label}: a department is listed twice")

    @property
    def joint(self) -> bool:
        """True when several departments take part (联合抽查)."""
        return len(self.departments) > 1

    @classmethod
    def from_task(
        cls, task: Task, items: Iterable[InspectionItem], on: date | None = None
    ) -> TaskNeeds:
        """The needs of ``task``: its departments and its items' required qualifications.

        ``on`` (the inspection date, for certificate validity) defaults to the task's start.
        """
        by_code = {item.code: item for item in items}
        missing = [code for code in task.items if code not in by_code]
        if missing:
            raise InvalidInputError(
                f"task {task.code}: item(s) {missing} are not in the item list (一单); "
                "pass the list that defines them"
            )
        quals: set[str] = set()
        for code in task.items:
            quals |= by_code[code].required_qualifications
        return cls(task.code, task.departments, on or task.start, frozenset(quals))


@attrs.frozen
class AttributeRule:
    """A recusal rule comparing an inspector's attribute with the entity's (data, not code).

    The pair is excluded when the first ``digits`` characters of both are equal; a value shorter
    than ``digits`` (e.g. an undeclared home region) never matches. The default is the township
    rule: the officer lives in the entity's township.

    >>> AttributeRule().name, AttributeRule(digits=6, name="same_county").digits
    ('same_township', 6)
    """

    name: str = "same_township"
    inspector_field: Literal["home_region", "region"] = "home_region"
    entity_field: Literal["region", "industry"] = "region"
    digits: int = attrs.field(default=9, validator=[attrs.validators.ge(1)])
    reason: str = "inspector lives in the entity's township (住所地回避)"

    def exclude(
        self, entities: EntityPool, inspectors: InspectorPool, context: RuleContext
    ) -> Exclusions:
        """Pairs whose attribute prefixes are equal (a sort-merge join, no matrix)."""
        ent = np.asarray(getattr(entities, self.entity_field))
        ins = np.asarray(getattr(inspectors, self.inspector_field))
        width = f"S{self.digits}"
        ent_ok = np.strings.str_len(ent) >= self.digits
        ins_ok = np.strings.str_len(ins) >= self.digits
        ins_rows = np.flatnonzero(ins_ok)
        ins_key = ins[ins_rows].astype(width)
        order = np.argsort(ins_key, kind="stable")
        sorted_key = ins_key[order]
        ent_key = ent.astype(width)
        lo = np.searchsorted(sorted_key, ent_key, "left")
        hi = np.searchsorted(sorted_key, ent_key, "right")
        count = np.where(ent_ok, hi - lo, 0).astype(np.int64)
        rows = np.repeat(np.arange(len(ent), dtype=np.int64), count)
        starts = np.repeat(lo.astype(np.int64), count)
        offsets = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(count) - count, count
        )
        cols = ins_rows[order[starts + offsets]].astype(np.int64)
        return Exclusions(rows, cols)


def _attribute_rules(values: Iterable[AttributeRule]) -> tuple[AttributeRule, ...]:
    return tuple(values)


@attrs.frozen
class TeamConfig:
    """The team rules of the agency's policy (一细则), as plain values.

    - ``size``: inspectors per team; at least 2 (行政处罚法 art. 42) unless ``legal_exception``
      names the provision that permits fewer.
    - ``qualification_mode``: ``"any_member"`` (default: at least one member holds each required
      qualification) or ``"every_member"`` (every member must hold all of them).
    - ``max_per_task``: teams one inspector may join in this task; ``0`` = no cap.
    - ``max_per_period``: teams per inspector in the period, counting ``Staffing.prior_load``;
      ``0`` = no cap.
    - ``rotation_days``: the same inspector may not inspect the same entity again within this
      many days (needs ``Staffing.history``); ``0`` = off.
    - ``attribute_rules``: :class:`AttributeRule` values, e.g. the township rule.
    - ``declared_conflicts``: apply ``Staffing.conflicts``.

    >>> TeamConfig().size
    2
    >>> TeamConfig(size=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.errors.InvalidInputError: team size 1: at least two inspectors are required ...
    """

    size: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    legal_exception: str = ""
    qualification_mode: Literal["any_member", "every_member"] = attrs.field(
        default="any_member", validator=attrs.validators.in_(("any_member", "every_member"))
    )
    max_per_task: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    max_per_period: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    rotation_days: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    attribute_rules: tuple[AttributeRule, ...] = attrs.field(
        factory=lambda: (AttributeRule(),), converter=_attribute_rules
    )
    declared_conflicts: bool = True

    def __attrs_post_init__(self) -> None:
        if self.size < 2 and not self.legal_exception.strip():
            raise InvalidInputError(
                f"team size {self.size}: at least two inspectors are required (行政处罚法 "
                "art. 42); name the provision that permits fewer in legal_exception"
            )

    @classmethod
    def from_policy(cls, policy: Any) -> TeamConfig:
        """Map a :class:`shuangsuiji.policy.Policy` (its ``team`` and ``recusal`` tables)."""
        team, recusal = policy.team, policy.recusal
        digits = int(recusal.same_home_region_digits)
        rules = (AttributeRule(digits=digits),) if digits else ()
        if digits and digits != 9:
            rules = (
                AttributeRule(
                    name=f"same_region_{digits}",
                    digits=digits,
                    reason=f"inspector's home region shares the entity's first {digits} digits",
                ),
            )
        return cls(
            size=int(team.size),
            legal_exception=str(team.legal_exception),
            max_per_task=int(team.max_per_task),
            max_per_period=int(team.max_per_period),
            rotation_days=int(recusal.rotation_days),
            attribute_rules=rules,
            declared_conflicts=bool(recusal.declared_conflicts),
        )


# --------------------------------------------------------------------------- rules


@attrs.frozen
class RuleContext:
    """What a recusal rule may look at besides the two pools."""

    on: date
    task_label: str
    departments: tuple[str, ...]


@attrs.frozen(eq=False)
class Exclusions:
    """Pairs removed by a rule: entity rows, inspector rows, optional detail text per pair."""

    entity_rows: IntArray = attrs.field(converter=_int_rows)
    inspector_rows: IntArray = attrs.field(converter=_int_rows)
    details: Sequence[str] | None = None

    def __attrs_post_init__(self) -> None:
        if len(self.entity_rows) != len(self.inspector_rows):
            raise InvalidInputError("Exclusions: entity_rows and inspector_rows differ in length")
        if self.details is not None and len(self.details) != len(self.entity_rows):
            raise InvalidInputError("Exclusions: one detail per pair, or none")


@runtime_checkable
class RecusalRule(Protocol):
    """A recusal rule an agency can add in Python (no code strings from configuration).

    ``name`` is a stable identifier (used in counts, errors and ``check_teams``); ``reason`` is
    the human reason shown to officers; ``exclude`` returns the excluded pairs as a boolean
    matrix of shape ``(len(entities), len(inspectors))``, a pair of row arrays, or
    :class:`Exclusions`. It must be vectorised and must not depend on row order.

    >>> class SameSurnameAsLegalRep:
    ...     name = "legal_rep_relative"
    ...     reason = "inspector shares the legal representative's family (近亲属)"
    ...     def exclude(self, entities, inspectors, context):
    ...         return np.zeros((len(entities), len(inspectors)), dtype=bool)
    >>> isinstance(SameSurnameAsLegalRep(), RecusalRule)
    True
    """

    @property
    def name(self) -> str: ...

    @property
    def reason(self) -> str: ...

    def exclude(
        self, entities: EntityPool, inspectors: InspectorPool, context: RuleContext
    ) -> Exclusions | BoolArray | tuple[npt.ArrayLike, npt.ArrayLike]: ...


@attrs.frozen(eq=False)
class DeclaredConflicts:
    """Declared conflicts (relatives, former employer, shareholding…) as a recusal rule."""

    table: ConflictTable
    name: str = "declared_conflict"
    reason: str = "declared conflict of interest (申报的利害关系)"

    def exclude(
        self, entities: EntityPool, inspectors: InspectorPool, context: RuleContext
    ) -> Exclusions:
        """Pairs of the table whose entity and inspector are both in the pools."""
        e = _lookup(entities.ids, self.table.entity_ids)
        i = _lookup(inspectors.ids, self.table.inspector_ids)
        keep = np.flatnonzero((e >= 0) & (i >= 0))
        t = self.table
        return Exclusions(
            e[keep], i[keep], _Details(keep, lambda j: f"{t.relation[j]}（{t.source[j]}）")
        )


@attrs.frozen(eq=False)
class Rotation:
    """The same inspector may not inspect the same entity within ``days`` of an earlier visit.

    Every recorded inspection dated after ``on - days`` excludes the pair (later dates too).
    """

    days: int
    history: PastAssignments
    name: str = "rotation"
    reason: str = "inspected this entity recently (轮换回避)"

    def exclude(
        self, entities: EntityPool, inspectors: InspectorPool, context: RuleContext
    ) -> Exclusions:
        """Pairs met after ``context.on - days``."""
        h = self.history
        recent = h.dates > np.datetime64(context.on, "D") - np.timedelta64(self.days, "D")
        e = _lookup(entities.ids, h.entity_ids[recent])
        i = _lookup(inspectors.ids, h.inspector_ids[recent])
        keep = np.flatnonzero((e >= 0) & (i >= 0))
        when = h.dates[recent][keep]
        return Exclusions(
            e[keep], i[keep], _Details(np.arange(len(keep)), lambda j: f"inspected on {when[j]}")
        )


def _normalise(result: Any, n_e: int, n_i: int, name: str) -> Exclusions:
    if isinstance(result, Exclusions):
        out = result
    elif isinstance(result, np.ndarray) and result.dtype == bool:
        if result.shape != (n_e, n_i):
            raise InvalidInputError(
                f"rule {name!r} returned a matrix of shape {result.shape}; "
                f"expected ({n_e}, {n_i}) = (entities, inspectors)"
            )
        rows, cols = np.nonzero(result)
        out = Exclusions(rows, cols)
    elif isinstance(result, tuple) and len(result) == 2:
        out = Exclusions(np.asarray(result[0]), np.asarray(result[1]))
    else:
        raise TypeError(
            f"rule {name!r} must return Exclusions, a boolean matrix or (entity_rows, "
            f"inspector_rows), got {type(result).__name__}"
        )
    bad = (
        (out.entity_rows < 0)
        | (out.entity_rows >= n_e)
        | (out.inspector_rows < 0)
        | (out.inspector_rows >= n_i)
    )
    if bad.any():
        raise InvalidInputError(f"rule {name!r} returned rows outside the pools")
    return out


# --------------------------------------------------------------------------- eligibility


@attrs.frozen(eq=False)
class RuleOutcome:
    """What one rule removed: inspectors (inspector-level rules) or pairs (recusal rules)."""

    name: str
    reason: str
    inspectors: BoolArray | None = None
    pairs: Exclusions | None = None
    first_pairs: int = 0
    """Pairs this rule removed that no earlier rule had removed (they add up over rules)."""


def _rules(values: Iterable[RecusalRule]) -> tuple[RecusalRule, ...]:
    return tuple(values)


@attrs.frozen(eq=False)
class Staffing:
    """Everything a team draw depends on except the key.

    ``entities`` are the selected entities; ``inspectors`` the inspector pool; ``needs`` the
    task's departments, qualifications and date; ``config`` the policy's team rules;
    ``conflicts``, ``history`` and ``prior_load`` the data for declared conflicts, rotation
    and the period workload cap; ``extra_rules`` the agency's own :class:`RecusalRule` values.
    """

    entities: EntityPool
    inspectors: InspectorPool
    needs: TaskNeeds
    config: TeamConfig = attrs.field(factory=TeamConfig)
    conflicts: ConflictTable = attrs.field(factory=lambda: ConflictTable.from_rows(()))
    history: PastAssignments = attrs.field(factory=lambda: PastAssignments.from_rows(()))
    prior_load: Mapping[str, int] = attrs.field(factory=dict)
    extra_rules: tuple[RecusalRule, ...] = attrs.field(factory=tuple, converter=_rules)

    def recusal_rules(self) -> tuple[RecusalRule, ...]:
        """The pair rules in the order they are applied."""
        rules: list[RecusalRule] = []
        if self.config.declared_conflicts:
            rules.append(DeclaredConflicts(self.conflicts))
        rules.extend(self.config.attribute_rules)
        if self.config.rotation_days:
            rules.append(Rotation(self.config.rotation_days, self.history))
        rules.extend(self.extra_rules)
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"recusal rule names must be unique, got {names}")
        return tuple(rules)

    def canonical(self) -> Staffing:
        """The same staffing with both pools sorted by ID bytes (results never depend on order)."""
        return attrs.evolve(
            self,
            entities=self.entities.take(np.argsort(self.entities.ids, kind="stable")),
            inspectors=self.inspectors.take(np.argsort(self.inspectors.ids, kind="stable")),
        )

    def capacity(self) -> IntArray:
        """Teams each inspector may still join in this task (workload caps)."""
        cfg = self.config
        n_e = len(self.entities)
        cap = np.full(len(self.inspectors), n_e, dtype=np.int64)
        if cfg.max_per_task:
            cap = np.minimum(cap, cfg.max_per_task)
        if cfg.max_per_period:
            cap = np.minimum(cap, cfg.max_per_period - self._prior())
        return np.maximum(cap, 0)

    def _prior(self) -> IntArray:
        prior = np.zeros(len(self.inspectors), dtype=np.int64)
        if self.prior_load:
            rows = _lookup(self.inspectors.ids, _ids_bytes(list(self.prior_load)))
            counts = np.asarray(list(self.prior_load.values()), dtype=np.int64)
            prior[rows[rows >= 0]] = counts[rows >= 0]
        return prior

    def eligibility(self) -> Eligibility:
        """Who may inspect whom, with the reason for every exclusion."""
        return _eligibility(self)


@attrs.frozen(eq=False)
class Eligibility:
    """The (entity × inspector) eligibility of a staffing, with every exclusion's reason.

    ``candidates`` are the inspector rows that pass the inspector-level rules (department,
    active, certificate, qualification in ``every_member`` mode, period workload); ``matrix``
    has one row per entity and one column per candidate (True = may inspect); ``capacity``
    the teams each candidate may still join; ``outcomes`` what each rule removed, in order.
    """

    staffing: Staffing
    candidates: IntArray
    matrix: BoolArray
    capacity: IntArray
    outcomes: tuple[RuleOutcome, ...]

    def eligible_counts(self) -> IntArray:
        """Eligible inspectors per entity."""
        return np.asarray(self.matrix.sum(axis=1), dtype=np.int64)

    def exclusion_counts(self) -> dict[str, int]:
        """(entity, inspector) pairs removed per rule, each pair counted under its first rule."""
        return {o.name: o.first_pairs for o in self.outcomes}

    def explain(self, row: int, limit: int = 5) -> str:
        """Which rules removed which inspectors for entity ``row``, in words.

        >>> from shuangsuiji.synth import make_city
        >>> city = make_city(200, seed=2)
        >>> s = Staffing(city.entities.take([0]), city.inspectors,
        ...              TaskNeeds("T", ("WJW",), date(2026, 6, 30)))
        >>> print(s.eligibility().explain(0))  # doctest: +NORMALIZE_WHITESPACE
        2 of the 4 inspectors of WJW are eligible [ZF350100028, ZF350100031]; removed —
        law-enforcement certificate (执法证) not valid on 2026-06-30: 2 (ZF350100006, ZF350100039)
        """
        s = self.staffing
        ins = s.inspectors
        in_dept = ins.in_departments(s.needs.departments)
        parts = []
        for o in self.outcomes:
            if o.name == "department":
                continue
            sel = np.zeros(0, dtype=np.int64)
            if o.inspectors is not None:
                hit = np.flatnonzero(o.inspectors & in_dept)
            else:
                assert o.pairs is not None
                sel = np.flatnonzero(o.pairs.entity_rows == row)
                hit = np.unique(o.pairs.inspector_rows[sel])
                hit = hit[in_dept[hit]]
            if len(hit) == 0:
                continue
            names = []
            for i in hit[:limit].tolist():
                text = ins.ids[i].decode()
                if o.pairs is not None and o.pairs.details is not None:
                    j = sel[np.flatnonzero(o.pairs.inspector_rows[sel] == i)[0]]
                    text += f" {o.pairs.details[int(j)]}"
                names.append(text)
            more = ", …" if len(hit) > limit else ""
            parts.append(f"{o.reason}: {len(hit)} ({', '.join(names)}{more})")
        eligible = self.candidates[self.matrix[row]]
        depts = s.needs.departments
        text = (
            f"{len(eligible)} of the {int(in_dept.sum())} inspectors of {'/'.join(depts)} "
            "are eligible"
        )
        if len(depts) > 1:
            per = [f"{d} {int(ins.in_departments([d])[eligible].sum())}" for d in depts]
            text += f" ({', '.join(per)})"
        if 0 < len(eligible) <= limit:
            text += f" [{', '.join(ins.ids[i].decode() for i in eligible.tolist())}]"
        return text + ("; removed — " + "; ".join(parts) if parts else "; no rule removed any")


def _eligibility(s: Staffing) -> Eligibility:
    ents, ins, needs, cfg = s.entities, s.inspectors, s.needs, s.config
    n_e, n_i = len(ents), len(ins)
    on = needs.on
    cap = s.capacity()
    level: list[tuple[str, str, BoolArray]] = [
        (
            "department",
            f"not in the task's department(s) {'/'.join(needs.departments)}",
            ~ins.in_departments(needs.departments),
        ),
        ("inactive", "not active (停用/离岗)", ~ins.active),
        (
            "certificate",
            f"law-enforcement certificate (执法证) not valid on {on}",
            ins.certificate_expiry < np.datetime64(on, "D"),
        ),
    ]
    if cfg.qualification_mode == "every_member" and needs.qualifications:
        level.append(
            (
                "qualification",
                f"lacks a required qualification ({'/'.join(sorted(needs.qualifications))})",
                ~ins.qualifications.all_of(needs.qualifications),
            )
        )
    if cfg.max_per_period:
        level.append(
            (
                "workload",
                f"period workload cap reached (max {cfg.max_per_period} teams per period)",
                (cap <= 0) & (s._prior() > 0),
            )
        )
    outcomes: list[RuleOutcome] = []
    out = np.zeros(n_i, dtype=bool)
    for name, reason, mask in level:
        first = int((mask & ~out).sum()) * n_e
        out |= mask
        outcomes.append(RuleOutcome(name, reason, inspectors=mask, first_pairs=first))
    out |= cap <= 0
    candidates = np.flatnonzero(~out).astype(np.int64)
    col_of = np.full(n_i, -1, dtype=np.int64)
    col_of[candidates] = np.arange(len(candidates))
    matrix = np.ones((n_e, len(candidates)), dtype=bool)
    context = RuleContext(on, needs.label, needs.departments)
    for rule in s.recusal_rules():
        ex = _normalise(rule.exclude(ents, ins, context), n_e, n_i, rule.name)
        cols = col_of[ex.inspector_rows]
        ok = cols >= 0
        before = np.count_nonzero(matrix)
        matrix[ex.entity_rows[ok], cols[ok]] = False
        first = int(before - np.count_nonzero(matrix))
        outcomes.append(RuleOutcome(rule.name, rule.reason, pairs=ex, first_pairs=first))
    return Eligibility(s, candidates, matrix, cap[candidates], tuple(outcomes))


# --------------------------------------------------------------------------- composition


@attrs.frozen(eq=False)
class _Instance:
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


def _build_instance(elig: Eligibility) -> _Instance:
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
    groups = [
        frozenset(t for t, m in enumerate(type_masks) if m >> j & 1) for j in range(len(masks))
    ]
    minimal = [
        g
        for j, g in enumerate(groups)
        if not any((h < g) or (h == g and i < j) for i, h in enumerate(groups) if i != j)
    ]
    disjoint: list[frozenset[int]] = []
    for g in minimal:
        if all(not (g & h) for h in disjoint):
            disjoint.append(g)
    return _Instance(
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


def _weights(inst: _Instance, a: Sequence[int], vecs: Sequence[tuple[int, ...]]) -> list[int]:
    out = []
    for v in vecs:
        w = 1
        for t, c in enumerate(v):
            if c:
                w *= math.comb(int(a[t]), c)
        out.append(w)
    return out


def _draw_team(
    inst: _Instance,
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
    weights = _weights(inst, a, vecs)
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


def _weight_matrix(inst: _Instance) -> IntArray | None:
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


def _eligible_lists(inst: _Instance) -> tuple[IntArray, npt.NDArray[np.int32], IntArray]:
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
    inst: _Instance, ents: IntArray, words: npt.NDArray[np.uint64]
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
    ok = _accept(words[:, 0], total)
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
        ok &= _accept(x, bound)
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


def _propose_round(inst: _Instance, stream: AssignStream) -> IntArray:
    """One proposal round: a uniform covering team per entity, in canonical entity order.

    Vectorised; identical to calling :func:`_draw_team` for every entity in order, which it
    falls back to when a word is rejected.
    """
    start = stream.start_phase() * _WORDS_PER_BLOCK
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


# --------------------------------------------------------------------------- the flow


@attrs.frozen(eq=False)
class _FlowResult:
    ok: bool
    teams: list[list[int]]
    short: list[int]  # entities left short (when not ok)
    reach: list[set[int]]  # per short entity: entities reachable in the residual graph
    certified: bool = True  # ``reach`` sets are proven violators (relaxation failed, or no vector)


def _groups(inst: _Instance, mode: tuple[int, ...] | None) -> list[tuple[frozenset[int], int, int]]:
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


def _solve_flow(
    inst: _Instance,
    rows: Sequence[int],
    teams: Sequence[Sequence[int]],
    modes: Mapping[int, tuple[int, ...]],
    ins_perm: IntArray | None = None,
    ent_perm: IntArray | None = None,
) -> _FlowResult:
    """Max flow completing the partial ``teams`` of entities ``rows`` (on the residual network).

    Nodes: 0 the source; group nodes kind by kind, entities in ``ent_perm`` order; one hub per
    entity with optional places; the inspector columns, column ``c`` at rank ``ins_perm[c]``;
    the sink. ``source -> group`` carries a group's mandatory places, ``source -> hub -> group``
    the optional ones, ``group -> inspector`` capacity 1, ``inspector -> sink`` the cap. An
    entity reaches each inspector through one group only, so members are distinct. The kept
    members are the initial flow: the network given to SciPy is its residual graph.
    """
    k, n_c, n, n_t = inst.k, int(inst.E.shape[1]), len(rows), inst.n_t
    order = np.arange(n) if ent_perm is None else np.asarray(ent_perm, dtype=np.int64)
    rank = np.arange(n_c) if ins_perm is None else np.asarray(ins_perm, dtype=np.int64)
    # templates: 0 = the relaxed tree, then one per fixed vector in use
    vectors = sorted(set(modes.values()))
    templates = [_groups(inst, None)] + [_groups(inst, v) for v in vectors]
    kinds = sorted({g for gs in templates for g in gs}, key=lambda g: (sorted(g[0]), g[1], g[2]))
    kind_index = {g: i for i, g in enumerate(kinds)}
    n_k = len(kinds)
    has = np.zeros((len(templates), max(n_k, 1)), dtype=bool)
    type_kind = np.full((len(templates), max(n_t, 1)), -1, dtype=np.int64)
    for j, gs in enumerate(templates):
        for g in gs:
            has[j, kind_index[g]] = True
            type_kind[j, sorted(g[0])] = kind_index[g]
    mand = np.asarray([g[1] for g in kinds] or [0], dtype=np.int64)
    opt = np.asarray([g[2] for g in kinds] or [0], dtype=np.int64)
    hub_caps = k - (has * mand[None, :]).sum(axis=1)
    tmpl = np.zeros(n, dtype=np.int64)
    if modes:
        local_of = {int(r): x for x, r in enumerate(rows)}
        for r, v in modes.items():
            if r in local_of:
                tmpl[local_of[r]] = 1 + vectors.index(v)
    node = np.full((n, max(n_k, 1)), -1, dtype=np.int64)
    nxt = 1
    for ki in range(n_k):
        who = order[has[tmpl[order], ki]]
        node[who, ki] = np.arange(nxt, nxt + len(who))
        nxt += len(who)
    last_group = nxt
    hub_cap = hub_caps[tmpl]
    hub = np.full(n, -1, dtype=np.int64)
    with_hub = order[hub_cap[order] > 0]
    hub[with_hub] = np.arange(nxt, nxt + len(with_hub))
    nxt += len(with_hub)
    ins_base = nxt
    sink = ins_base + n_c
    n_nodes = sink + 1
    inode_of = ins_base + rank
    # the kept members are the initial flow f0: every edge enters the residual network with
    # capacity cap - f0, its reverse with f0
    lengths = np.asarray([len(t) for t in teams], dtype=np.int64)
    k_loc = np.repeat(np.arange(n, dtype=np.int64), lengths)
    k_col = np.fromiter(itertools.chain.from_iterable(teams), dtype=np.int64, count=len(k_loc))
    k_kind = type_kind[tmpl[k_loc], inst.col_type[k_col]] if len(k_loc) else k_loc
    keep = k_kind >= 0
    k_loc, k_col, k_kind = k_loc[keep], k_col[keep], k_kind[keep]
    cnt = np.bincount(k_loc * max(n_k, 1) + k_kind, minlength=n * max(n_k, 1)).reshape(n, -1)
    via_src = np.minimum(cnt, mand[None, :])
    via_hub = cnt - via_src
    hub_used = via_hub.sum(axis=1)
    load = np.bincount(k_col, minlength=n_c)
    g_loc, g_kind = np.nonzero(node >= 0)
    g_node = node[g_loc, g_kind]
    h_loc = np.flatnonzero(hub >= 0)
    with_opt = (hub[g_loc] >= 0) & (opt[g_kind] > 0)
    parts = [
        (np.zeros_like(g_node), g_node, mand[g_kind] - via_src[g_loc, g_kind]),
        (g_node, np.zeros_like(g_node), via_src[g_loc, g_kind]),
        (hub[g_loc][with_opt], g_node[with_opt], (opt[g_kind] - via_hub[g_loc, g_kind])[with_opt]),
        (g_node[with_opt], hub[g_loc][with_opt], via_hub[g_loc, g_kind][with_opt]),
        (np.zeros_like(h_loc), hub[h_loc], hub_cap[h_loc] - hub_used[h_loc]),
        (hub[h_loc], np.zeros_like(h_loc), hub_used[h_loc]),
        (inode_of[k_col], node[k_loc, k_kind], np.ones_like(k_col)),
        (inode_of, np.full(n_c, sink), inst.cap - load),
        (np.full(n_c, sink), inode_of, load),
    ]
    sr = np.concatenate([p[0] for p in parts]).astype(np.int64)
    sc = np.concatenate([p[1] for p in parts]).astype(np.int64)
    sv = np.concatenate([p[2] for p in parts]).astype(np.int64)
    pos_cap = sv > 0
    sr, sc, sv = sr[pos_cap], sc[pos_cap], sv[pos_cap]
    kept_keys = node[k_loc, k_kind] * n_nodes + inode_of[k_col]
    demand = n * k - len(k_loc)
    # bulk: group -> inspector, capacity 1 (0 where kept), rows ascending, columns ascending
    by_node = np.argsort(rank, kind="stable")
    rows_arr = np.asarray(rows, dtype=np.int64)
    main_r: list[IntArray] = []
    main_c: list[IntArray] = []
    for ki, (types, _, _) in enumerate(kinds):
        cols = by_node[np.isin(inst.col_type[by_node], sorted(types))]
        who = order[has[tmpl[order], ki]]
        if not len(who) or not len(cols):
            continue
        flat = np.flatnonzero(inst.E[rows_arr[who]][:, cols])
        width = len(cols)
        main_r.append(node[who[0], ki] + flat // width)
        main_c.append(inode_of[cols][flat % width])
    mr = np.concatenate(main_r) if main_r else np.zeros(0, dtype=np.int64)
    mc = np.concatenate(main_c) if main_c else np.zeros(0, dtype=np.int64)
    mv = np.ones(len(mr), dtype=np.int32)
    if len(kept_keys):
        mv[np.searchsorted(mr * n_nodes + mc, kept_keys)] = 0
    so = np.lexsort((sc, sr))
    sr, sc, sv = sr[so], sc[so], sv[so]
    small_n = np.bincount(sr, minlength=n_nodes)
    main_n = np.bincount(mr, minlength=n_nodes)
    indptr = np.concatenate([[0], np.cumsum(small_n + main_n)]).astype(np.int64)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    data = np.empty(int(indptr[-1]), dtype=np.int32)
    small_first = np.concatenate([[0], np.cumsum(small_n)])
    pos = indptr[sr] + np.arange(len(sr)) - small_first[sr]
    indices[pos], data[pos] = sc, sv
    main_first = np.concatenate([[0], np.cumsum(main_n)])
    shift = indptr[:-1] + small_n - main_first[:-1]
    pos = np.arange(len(mr)) + np.repeat(shift, main_n)
    indices[pos], data[pos] = mc, mv
    residual = sp.csr_array((data, indices, indptr), shape=(n_nodes, n_nodes))
    result = maximum_flow(residual, 0, sink, method="dinic")
    flow = sp.csr_array(result.flow)
    # teams: kept members, minus flow taken back, plus flow added, on group -> inspector edges
    col_at = np.full(n_nodes, -1, dtype=np.int64)
    col_at[inode_of] = np.arange(n_c)
    owner = np.full(n_nodes, -1, dtype=np.int64)
    owner[g_node] = g_loc
    owner[hub[h_loc]] = h_loc
    lo, hi = int(flow.indptr[1]), int(flow.indptr[last_group])
    nz = lo + np.flatnonzero(flow.data[lo:hi])
    f_col = col_at[flow.indices[nz]]
    is_ins = f_col >= 0
    f_loc = owner[np.searchsorted(flow.indptr, nz[is_ins], "right") - 1]
    all_loc = np.concatenate([k_loc, f_loc])
    all_col = np.concatenate([k_col, f_col[is_ins]])
    all_f = np.concatenate([np.ones(len(k_loc), dtype=np.int64), flow.data[nz][is_ins]])
    key = all_loc * n_c + all_col
    uniq, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv.reshape(-1), weights=all_f, minlength=len(uniq))
    member = uniq[total > 0]
    m_loc, m_col = np.divmod(member, max(n_c, 1))
    bounds = np.searchsorted(m_loc, np.arange(n + 1))
    cols_list = m_col.tolist()
    out_teams = [cols_list[bounds[x] : bounds[x + 1]] for x in range(n)]
    if int(result.flow_value) == demand:
        return _FlowResult(True, out_teams, [], [])
    # infeasible: entities reachable from each short entity in the residual graph (no source)
    res_graph = (residual.astype(np.int64) - flow.astype(np.int64)).tocoo()
    keep = (res_graph.data > 0) & (res_graph.row != 0) & (res_graph.col != 0)
    res_csr = sp.csr_array(
        (res_graph.data[keep], (res_graph.row[keep], res_graph.col[keep])), shape=(n_nodes, n_nodes)
    )
    entity_nodes: dict[int, list[int]] = {}
    for nd in np.flatnonzero(owner >= 0).tolist():
        entity_nodes.setdefault(int(owner[nd]), []).append(nd)
    short = [local for local in range(n) if len(out_teams[local]) < k]
    reach: list[set[int]] = []
    for local in short[:20]:
        seen: set[int] = set()
        for nd in entity_nodes[local]:
            visited = breadth_first_order(res_csr, nd, directed=True, return_predecessors=False)
            seen |= {int(x) for x in owner[visited] if x >= 0}
        reach.append({int(rows[x]) for x in seen})
    return _FlowResult(False, out_teams, [int(rows[x]) for x in short], reach, not modes)


def _solve_exact(
    inst: _Instance,
    rows: Sequence[int],
    teams: Sequence[Sequence[int]],
    ins_perm: IntArray | None = None,
    ent_perm: IntArray | None = None,
) -> _FlowResult:
    """Exact completion: the flow, plus branch-and-bound on vectors when requirements cross.

    Each node solves the flow with some entities fixed to a type vector and the others on the
    relaxed network. If some flow teams miss a crossing requirement, the node first *dives*:
    it fixes every such entity at once to the covering vector closest to its flow team; if that
    fails it branches on the first such entity over all its feasible vectors, closest first.
    Complete: every feasible assignment gives the branched entity one of its vectors, so some
    branch contains it; a node is pruned only when even its relaxation has no saturating flow.
    """

    def node(modes: dict[int, tuple[int, ...]], start: Sequence[Sequence[int]]) -> _FlowResult:
        res = _solve_flow(inst, rows, start, modes, ins_perm, ent_perm)
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
            return _FlowResult(False, list(res.teams), hopeless[:1], [set(hopeless[:1])])
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
        return _FlowResult(False, list(res.teams), [e], [{e}], certified=False)

    return node({}, teams)


def _vectors_by_closeness(inst: _Instance, e: int, team: Sequence[int]) -> list[tuple[int, ...]]:
    """Entity ``e``'s feasible covering vectors, those sharing most members' types first."""
    a = inst.counts[e].tolist()
    have = [0] * inst.n_t
    for c in team:
        have[int(inst.col_type[c])] += 1
    vecs = [v for v in inst.vectors(inst.k, inst.full) if all(c <= a[t] for t, c in enumerate(v))]
    weights = _weights(inst, a, vecs)
    ranked = sorted(
        range(len(vecs)),
        key=lambda j: (-sum(min(c, have[t]) for t, c in enumerate(vecs[j])), -weights[j], j),
    )
    return [vecs[j] for j in ranked]


def _fit_vector(inst: _Instance, team: Sequence[int], v: tuple[int, ...]) -> list[int]:
    left = list(v)
    out = []
    for c in team:
        t = int(inst.col_type[c])
        if left[t]:
            left[t] -= 1
            out.append(c)
    return out


# --------------------------------------------------------------------------- results


@attrs.frozen
class Team:
    """One inspected entity and the inspectors drawn for it (IDs in sorted order)."""

    entity_id: str
    inspector_ids: tuple[str, ...] = attrs.field(converter=_strs)

    def to_dict(self) -> dict[str, Any]:
        """``{"entity": id, "inspectors": [ids]}`` (the draw bundle's ``teams`` entries)."""
        return {"entity": self.entity_id, "inspectors": list(self.inspector_ids)}


@attrs.frozen
class StreamInfo:
    """How the stream was used: enough to replay the draw and to continue it.

    ``key_sha256`` identifies the key without revealing more than the published seed does;
    ``next_block`` is where a later :func:`reassign` continues; ``accepted_round`` is the
    proposal round accepted as is (an exactly uniform draw), or None when the proposal was
    repaired (``repaired_slots`` slots, ``flow`` when the max flow was needed) and smoothed by
    ``smoothing_steps`` Metropolis steps.
    """

    key_sha256: str
    next_block: int
    rounds: int
    accepted_round: int | None
    repaired_slots: int = 0
    flow: bool = False
    smoothing_steps: int = 0
    scipy_version: str = ""
    spec: str = ALGORITHM


class RecusalReason(enum.StrEnum):
    """Why an inspector leaves a team after the draw (a fixed list; explain in ``text``)."""

    CONFLICT_DECLARED = "conflict_declared"
    """新申报利害关系: a conflict of interest declared after the draw."""
    ILLNESS = "illness"
    """因病: illness."""
    LEAVE = "leave"
    """休假或公出: leave or official travel."""
    CERTIFICATE = "certificate"
    """执法证失效: the law-enforcement certificate is no longer valid."""
    REASSIGNED = "reassigned"
    """岗位调整: moved to another post."""
    OTHER = "other"
    """其他: another reason, stated in ``text``."""


@attrs.frozen
class Recusal:
    """A request to take ``inspector_id`` off ``entity_id``'s team, with its reason."""

    entity_id: str
    inspector_id: str
    reason: RecusalReason = attrs.field(converter=RecusalReason)
    text: str = ""

    def __attrs_post_init__(self) -> None:
        if self.reason is RecusalReason.OTHER and not self.text.strip():
            raise InvalidInputError("recusal reason 'other' needs an explanation in text")


@attrs.frozen
class Reassignment:
    """A recorded change of one team after the draw: who left, who came, why, which blocks.

    ``inspector_id`` is the inspector who recused; ``removed`` everyone who left the team
    (just that inspector, unless the whole team had to be redrawn) and ``added`` who came.
    The replacement used stream blocks ``first_block .. next_block - 1``.
    """

    entity_id: str
    inspector_id: str
    removed: tuple[str, ...] = attrs.field(converter=_strs)
    added: tuple[str, ...] = attrs.field(converter=_strs)
    reason: RecusalReason = attrs.field(converter=RecusalReason)
    text: str
    first_block: int
    next_block: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "entity": self.entity_id,
            "inspector": self.inspector_id,
            "removed": list(self.removed),
            "added": list(self.added),
            "reason": str(self.reason),
            "text": self.text,
            "first_block": self.first_block,
            "next_block": self.next_block,
        }


def _teams(values: Iterable[Team]) -> tuple[Team, ...]:
    return tuple(values)


def _reassignments(values: Iterable[Reassignment]) -> tuple[Reassignment, ...]:
    return tuple(values)


@attrs.frozen
class Assignment:
    """The teams of a task with the stream record and the eligibility figures.

    ``teams`` follow the order of the entity pool given; ``eligible_counts`` is the number of
    eligible inspectors per entity; ``exclusion_counts`` the (entity, inspector) pairs each rule
    removed (each pair under its first rule); ``reassignments`` the changes made afterwards.
    """

    task_label: str
    team_size: int
    teams: tuple[Team, ...] = attrs.field(converter=_teams)
    stream: StreamInfo
    eligible_counts: Mapping[str, int]
    exclusion_counts: Mapping[str, int]
    reassignments: tuple[Reassignment, ...] = attrs.field(default=(), converter=_reassignments)

    def team_of(self, entity_id: str) -> Team:
        """The team of one entity (``KeyError`` if it has none)."""
        for team in self.teams:
            if team.entity_id == entity_id:
                return team
        raise UnknownKeyError(f"no team for entity {entity_id!r}")

    def load(self) -> dict[str, int]:
        """Teams per inspector in this task."""
        out: dict[str, int] = {}
        for team in self.teams:
            for i in team.inspector_ids:
                out[i] = out.get(i, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``teams`` has the draw bundle's ``{entity, inspectors}`` form."""
        return {
            "spec": ALGORITHM,
            "task_label": self.task_label,
            "team_size": self.team_size,
            "teams": [t.to_dict() for t in self.teams],
            "stream": attrs.asdict(self.stream),
            "eligible_counts": dict(self.eligible_counts),
            "exclusion_counts": dict(self.exclusion_counts),
            "reassignments": [r.to_dict() for r in self.reassignments],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assignment:
        """Inverse of :meth:`to_dict` (e.g. from a draw bundle)."""
        if data.get("spec", ALGORITHM) != ALGORITHM:
            raise InvalidInputError(f"not an {ALGORITHM} assignment: spec {data.get('spec')!r}")
        return cls(
            task_label=str(data["task_label"]),
            team_size=int(data["team_size"]),
            teams=[Team(t["entity"], t["inspectors"]) for t in data["teams"]],
            stream=StreamInfo(**data["stream"]),
            eligible_counts=dict(data.get("eligible_counts", {})),
            exclusion_counts=dict(data.get("exclusion_counts", {})),
            reassignments=[
                Reassignment(
                    r["entity"],
                    r["inspector"],
                    r["removed"],
                    r["added"],
                    r["reason"],
                    r["text"],
                    r["first_block"],
                    r["next_block"],
                )
                for r in data.get("reassignments", [])
            ],
        )


class InfeasibleAssignment(RefusedError):
    """No assignment satisfies every rule.

    ``entity_ids`` is the smallest set of entities that cannot all be staffed (a Hall violator:
    even with no other entity in the task they cannot be); ``details`` says per entity which
    rules removed which inspectors. The message is written for the officer who must fix it.
    """

    def __init__(self, message: str, entity_ids: Sequence[str], details: Mapping[str, str]):
        super().__init__(message)
        self.entity_ids = tuple(entity_ids)
        self.details = dict(details)


# --------------------------------------------------------------------------- the draw


def _rounds(n_e: int, k: int) -> int:
    """Proposal rounds: as many as fit in 2**16 words, between 1 and 64."""
    return max(1, min(_MAX_ROUNDS, _ROUND_WORD_BUDGET // max(1, n_e * (k + 1))))


def _smoothing_steps(n_e: int) -> int:
    """Metropolis steps after a repair: ``4 * n + 64`` for ``n`` entities."""
    return 4 * n_e + 64


def _check_inputs(inst: _Instance, staffing: Staffing, elig: Eligibility) -> None:
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
            [e for e in range(inst.n_e) if not any(_weights(inst, inst.counts[e], vecs))]
        )
    if len(empty):
        _raise_infeasible(inst, staffing, elig, [int(empty[0])])


def _hall_numbers(inst: _Instance, group: Sequence[int], ids: BytesArray) -> str:
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
    inst: _Instance, staffing: Staffing, elig: Eligibility, group: Sequence[int]
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


def _feasible_subset(inst: _Instance, group: Sequence[int], exact: bool = True) -> bool:
    """Can these entities alone be staffed? (``exact=False``: the flow relaxation only.)"""
    empty: list[list[int]] = [[] for _ in group]
    if exact:
        return _solve_exact(inst, list(group), empty).ok
    return _solve_flow(inst, list(group), empty, {}).ok


def _violator(inst: _Instance, res: _FlowResult) -> list[int]:
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


def _repair(
    inst: _Instance, stream: AssignStream, prop: IntArray
) -> tuple[list[list[int]], int, bool]:
    """Drop over-cap slots at random, refill at random, then by max flow. Returns teams."""
    n_e, k = inst.n_e, inst.k
    teams = [list(map(int, row)) for row in prop]
    load = np.bincount(prop.ravel(), minlength=inst.E.shape[1]).astype(np.int64)
    stream.start_phase()
    over = np.flatnonzero(load > inst.cap)
    over = over[np.argsort(inst.col_row[over], kind="stable")]
    holders: dict[int, list[int]] = {}
    for e in range(n_e):
        for c in teams[e]:
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
    stream.start_phase()
    for e in range(n_e):
        if len(teams[e]) == k:
            continue
        allowed = load < inst.cap
        new = _draw_team(inst, stream, e, k - len(teams[e]), teams[e], allowed)
        if new is not None:
            for c in new[len(teams[e]) :]:
                load[c] += 1
            teams[e] = new
    if all(len(t) == k for t in teams):
        return teams, dropped, False
    stream.start_phase()
    ins_perm = _permutation(stream, inst.E.shape[1])
    ent_perm = _permutation(stream, n_e)
    res = _solve_exact(inst, list(range(n_e)), teams, ins_perm, ent_perm)
    if not res.ok:
        raise _Infeasible(res)
    return res.teams, dropped, True


class _Infeasible(Exception):
    def __init__(self, res: _FlowResult) -> None:
        super().__init__("infeasible")
        self.res = res


def _permutation(stream: AssignStream, n: int) -> IntArray:
    """Fisher-Yates from the stream: for j = n-1 .. 1 swap p[j] with p[uniform(j + 1)]."""
    p = list(range(n))
    for j in range(n - 1, 0, -1):
        r = stream.uniform(j + 1)
        p[j], p[r] = p[r], p[j]
    return np.asarray(p, dtype=np.int64)


def _smooth(inst: _Instance, stream: AssignStream, teams: list[list[int]], steps: int) -> None:
    """Metropolis steps: ``e = uniform(n)``, a uniform covering team for ``e``, accepted when
    no new member is at its cap. Proposals do not depend on the state, so they are drawn
    vectorised (``k + 2`` words per step) and only the acceptance runs step by step.
    """
    start = stream.start_phase() * _WORDS_PER_BLOCK
    n_e, k = inst.n_e, inst.k
    words = stream.words(start, steps * (k + 2)).reshape(steps, k + 2)
    n = np.uint64(n_e)
    ents = (words[:, 0] % n).astype(np.int64)
    props = _draw_vectorised(inst, ents, words[:, 1:])
    if props is not None and _accept(words[:, 0], np.full(steps, n)).all():
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


def _draw(inst: _Instance, stream: AssignStream) -> tuple[list[list[int]], StreamInfo]:
    n_e, k = inst.n_e, inst.k
    rounds = _rounds(n_e, k)
    key_hash = hashlib.sha256(stream.key).hexdigest()
    prop = np.zeros((n_e, k), dtype=np.int64)
    for r in range(rounds):
        prop = _propose_round(inst, stream)
        load = np.bincount(prop.ravel(), minlength=inst.E.shape[1])
        if (load <= inst.cap).all():
            info = StreamInfo(key_hash, stream.next_block, r + 1, r)
            return [list(map(int, row)) for row in prop], info
    teams, dropped, used_flow = _repair(inst, stream, prop)
    steps = _smoothing_steps(n_e)
    _smooth(inst, stream, teams, steps)
    info = StreamInfo(
        key_hash,
        stream.next_block,
        rounds,
        None,
        repaired_slots=dropped,
        flow=used_flow,
        smoothing_steps=steps,
        scipy_version=scipy.__version__ if used_flow else "",
    )
    return teams, info


def assign_teams(staffing: Staffing, key: bytes) -> Assignment:
    """Draw a team for every entity of ``staffing`` from the draw ``key`` (SSJ-ASSIGN-1).

    ``key`` is the 32-byte SSJ-DRAW-1 key of the task's draw. The result depends only on the
    key and the inputs (not on row order); teams follow the order of ``staffing.entities``.
    Raises :class:`InfeasibleAssignment` when no assignment satisfies every rule.
    """
    stream = AssignStream(key)
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = _build_instance(elig)
    if inst.n_e == 0:
        info = StreamInfo(hashlib.sha256(key).hexdigest(), 0, 0, None)
        return _result(canon, staffing, elig, inst, [], info)
    _check_inputs(inst, canon, elig)
    teams, info = _draw_or_explain(inst, canon, elig, stream)
    return _result(canon, staffing, elig, inst, teams, info)


def _draw_or_explain(
    inst: _Instance, canon: Staffing, elig: Eligibility, stream: AssignStream
) -> tuple[list[list[int]], StreamInfo]:
    """:func:`_draw`, turning a failure into the officer's :class:`InfeasibleAssignment`."""
    try:
        return _draw(inst, stream)
    except _Infeasible as exc:
        _raise_infeasible(inst, canon, elig, _violator(inst, exc.res))
        raise AssertionError("unreachable") from exc


def sample_loads(staffing: Staffing, keys: Iterable[bytes]) -> IntArray:
    """Each inspector's number of teams under each key, exactly as
    ``assign_teams(staffing, key).load()`` would give it, with the eligibility computed once.

    Rows follow ``keys``, columns ``staffing.inspectors`` in its order. For replays of a draw
    (draw health, plan simulation): many keys cost one eligibility and one draw each.
    Raises :class:`InfeasibleAssignment` as :func:`assign_teams` does.

    >>> from shuangsuiji.synth import make_city
    >>> from datetime import date
    >>> city = make_city(400, seed=3)
    >>> s = Staffing(city.entities.take(np.arange(30)), city.inspectors,
    ...              TaskNeeds("T", ("SCJG",), date(2026, 7, 1)), TeamConfig(size=2))
    >>> keys = [bytes([i]) * 32 for i in range(3)]
    >>> loads = sample_loads(s, keys)
    >>> loads.sum(axis=1).tolist()
    [60, 60, 60]
    >>> ids = [i.decode() for i in city.inspectors.ids.tolist()]
    >>> got = assign_teams(s, keys[1]).load()
    >>> all(loads[1, j] == got.get(i, 0) for j, i in enumerate(ids))
    True
    """
    wanted = list(keys)
    out = np.zeros((len(wanted), len(staffing.inspectors)), dtype=np.int64)
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = _build_instance(elig)
    if inst.n_e == 0 or not wanted:
        return out
    _check_inputs(inst, canon, elig)
    # canonical inspector row -> row in the caller's order (canonical() sorts by ID)
    owner = np.argsort(staffing.inspectors.ids, kind="stable")[inst.col_row]
    for r, key in enumerate(wanted):
        teams, _ = _draw_or_explain(inst, canon, elig, AssignStream(key))
        members = np.fromiter(itertools.chain.from_iterable(teams), dtype=np.int64)
        out[r] = np.bincount(owner[members], minlength=out.shape[1])
    return out


def _result(
    canon: Staffing,
    original: Staffing,
    elig: Eligibility,
    inst: _Instance,
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


# --------------------------------------------------------------------------- re-assignment


def reassign(
    staffing: Staffing, assignment: Assignment, key: bytes, recusals: Sequence[Recusal]
) -> Assignment:
    """Take inspectors off teams after the draw and draw replacements from the same stream.

    Recusals are handled in order; each starts a fresh phase at the assignment's
    ``stream.next_block``. The replacement for ``inspector_id`` is drawn uniformly among the
    entity's eligible inspectors with spare capacity that keep the team covering (one
    ``_draw_team`` completion of the remaining members); if there is none, the whole team is
    redrawn under the same conditions. Only the affected teams change. Earlier recusals stay
    excluded. Raises :class:`InfeasibleAssignment` when even a new team cannot be found without
    changing other teams (then re-draw the task with a recorded reason).
    """
    if hashlib.sha256(key).hexdigest() != assignment.stream.key_sha256:
        raise InvalidInputError(
            "this key is not the one the assignment was drawn with (key_sha256 differs); "
            "re-assignment must continue the same stream"
        )
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = _build_instance(elig)
    ent_ids = canon.entities.id_list()
    ins_ids = canon.inspectors.ids
    row_of = {e: i for i, e in enumerate(ent_ids)}
    col_of = {ins_ids[int(r)].decode(): c for c, r in enumerate(inst.col_row.tolist())}
    teams: list[list[int]] = [[] for _ in ent_ids]
    for team in assignment.teams:
        e = row_of.get(team.entity_id)
        if e is None:
            raise InvalidInputError(
                f"assignment has a team for {team.entity_id!r}, not in the staffing"
            )
        teams[e] = [col_of[i] for i in team.inspector_ids if i in col_of]
    banned: set[tuple[int, int]] = set()
    for past in assignment.reassignments:
        if past.entity_id in row_of and past.inspector_id in col_of:
            banned.add((row_of[past.entity_id], col_of[past.inspector_id]))
    stream = AssignStream(key, assignment.stream.next_block)
    load = np.zeros(inst.E.shape[1], dtype=np.int64)
    for t in teams:
        load[t] += 1
    done = list(assignment.reassignments)
    for rec in recusals:
        e = row_of.get(rec.entity_id)
        if e is None:
            raise InvalidInputError(f"recusal names entity {rec.entity_id!r}, which has no team")
        team_ids = assignment.team_of(rec.entity_id).inspector_ids
        current = [ins_ids[inst.col_row[c]].decode() for c in teams[e]]
        if rec.inspector_id not in current:
            raise InvalidInputError(
                f"inspector {rec.inspector_id!r} is not on the team of {rec.entity_id!r} "
                f"(team: {', '.join(current) or ', '.join(team_ids)})"
            )
        gone = col_of[rec.inspector_id]
        banned.add((e, gone))
        first = stream.start_phase()
        remaining = [c for c in teams[e] if c != gone]
        load[gone] -= 1
        allowed = load < inst.cap
        for be, bc in banned:
            if be == e:
                allowed[bc] = False
        new = _draw_team(inst, stream, e, inst.k - len(remaining), remaining, allowed)
        if new is None:
            load[remaining] -= 1
            allowed = load < inst.cap
            for be, bc in banned:
                if be == e:
                    allowed[bc] = False
            new = _draw_team(inst, stream, e, inst.k, (), allowed)
            if new is None:
                load[remaining] += 1
                fits = [
                    c
                    for c in np.flatnonzero(inst.E[e]).tolist()
                    if (e, c) not in banned
                    and c not in remaining
                    and inst.cover([*remaining, c]) == inst.full
                ]
                full = [ins_ids[inst.col_row[c]].decode() for c in fits if load[c] >= inst.cap[c]]
                why = (
                    f"the {len(full)} eligible inspector(s) who could take the place "
                    f"({', '.join(full[:8])}{', …' if len(full) > 8 else ''}) have reached "
                    "their workload cap"
                    if full
                    else f"no eligible inspector can take the place ({elig.explain(e)})"
                )
                raise InfeasibleAssignment(
                    f"task {canon.needs.label}: no replacement for {rec.inspector_id} on "
                    f"{rec.entity_id} without changing other teams: {why}. Re-draw the task's "
                    "teams with a recorded reason, or raise the workload caps.",
                    [rec.entity_id],
                    {rec.entity_id: why},
                )
        load[new] += 1
        name = {c: ins_ids[inst.col_row[c]].decode() for c in [*teams[e], *new]}
        removed = sorted(name[c] for c in teams[e] if c not in new)
        added = sorted(name[c] for c in new if c not in teams[e])
        teams[e] = new
        done.append(
            Reassignment(
                rec.entity_id,
                rec.inspector_id,
                removed,
                added,
                rec.reason,
                rec.text,
                first,
                stream.next_block,
            )
        )
    info = attrs.evolve(assignment.stream, next_block=stream.next_block)
    return _result(canon, staffing, elig, inst, teams, info, done)


# --------------------------------------------------------------------------- checking


@attrs.frozen
class TeamProblem:
    """One rule a team breaks: the entity, the inspector (or ``""``), the rule and why."""

    entity_id: str
    inspector_id: str
    rule: str
    message: str


def check_teams(staffing: Staffing, teams: Assignment | Sequence[Team]) -> list[TeamProblem]:
    """Re-check every rule on given teams (for ``verify`` on draw bundles).

    Checks one team per entity and no other, team size, distinct known members, every
    eligibility and recusal rule (and the recusals recorded in an :class:`Assignment`), the
    department and qualification composition, and the workload caps. Returns the problems in
    team order, an empty list when the teams are valid. Vectorised over all members.
    """
    reassignments: Sequence[Reassignment] = ()
    if isinstance(teams, Assignment):
        reassignments = teams.reassignments
        teams = teams.teams
    s = staffing
    elig = s.eligibility()
    k, needs, cfg = s.config.size, s.needs, s.config
    ins = s.inspectors
    ent_row = {e: i for i, e in enumerate(s.entities.id_list())}
    ins_row = {e: i for i, e in enumerate(ins.id_list())}
    recused = {(r.entity_id, r.inspector_id): r for r in reassignments}
    pair_e: list[int] = []
    pair_i: list[int] = []
    for team in teams:
        if team.entity_id in ent_row:
            for iid in dict.fromkeys(team.inspector_ids):
                if iid in ins_row:
                    pair_e.append(ent_row[team.entity_id])
                    pair_i.append(ins_row[iid])
    pe, pi = np.asarray(pair_e, dtype=np.int64), np.asarray(pair_i, dtype=np.int64)
    n_i = max(1, len(ins))
    hits: dict[tuple[int, int], list[RuleOutcome]] = {}
    for o in elig.outcomes:
        if o.name == "workload":
            continue  # checked below from the counts, with the numbers
        if o.inspectors is not None:
            hit = o.inspectors[pi]
        else:
            assert o.pairs is not None
            hit = np.isin(pe * n_i + pi, o.pairs.entity_rows * n_i + o.pairs.inspector_rows)
        for j in np.flatnonzero(hit).tolist():
            hits.setdefault((int(pe[j]), int(pi[j])), []).append(o)
    problems: list[TeamProblem] = []
    seen: set[str] = set()
    count: dict[str, int] = {}
    for team in teams:
        eid = team.entity_id
        if eid not in ent_row:
            problems.append(TeamProblem(eid, "", "unknown_entity", "entity is not in the task"))
            continue
        if eid in seen:
            problems.append(TeamProblem(eid, "", "duplicate_team", "entity has two teams"))
        seen.add(eid)
        members = list(team.inspector_ids)
        if len(members) != k:
            problems.append(
                TeamProblem(eid, "", "team_size", f"team has {len(members)} members, needs {k}")
            )
        if len(set(members)) != len(members):
            problems.append(TeamProblem(eid, "", "duplicate_member", "a member is listed twice"))
        depts: set[str] = set()
        quals: set[str] = set()
        for iid in dict.fromkeys(members):
            count[iid] = count.get(iid, 0) + 1
            if iid not in ins_row:
                problems.append(TeamProblem(eid, iid, "unknown_inspector", "not in the pool"))
                continue
            i = ins_row[iid]
            for o in hits.get((ent_row[eid], i), []):
                problems.append(TeamProblem(eid, iid, o.name, o.reason))
            if (eid, iid) in recused:
                why = recused[(eid, iid)].reason
                problems.append(TeamProblem(eid, iid, "recused", f"recused after the draw ({why})"))
            depts.add(ins.department[i])
            quals |= ins.qualifications[i]
        if needs.joint:
            for d in needs.departments:
                if d not in depts:
                    problems.append(
                        TeamProblem(eid, "", "department_cover", f"no member of department {d}")
                    )
        if cfg.qualification_mode == "any_member":
            for q in sorted(needs.qualifications - quals):
                problems.append(TeamProblem(eid, "", "qualification_cover", f"no member holds {q}"))
    for eid in ent_row:
        if eid not in seen:
            problems.append(TeamProblem(eid, "", "missing_team", "entity has no team"))
    for iid, n in sorted(count.items()):
        before = int(s.prior_load.get(iid, 0))
        if cfg.max_per_task and n > cfg.max_per_task:
            problems.append(
                TeamProblem(
                    "", iid, "workload_task", f"{n} teams in the task, max {cfg.max_per_task}"
                )
            )
        if cfg.max_per_period and before + n > cfg.max_per_period:
            problems.append(
                TeamProblem(
                    "",
                    iid,
                    "workload_period",
                    f"{before} earlier + {n} teams in the period, max {cfg.max_per_period}",
                )
            )
    return problems


# --------------------------------------------------------------------------- fairness


def enumerate_assignments(staffing: Staffing, limit: int = 200_000) -> list[tuple[Team, ...]]:
    """Every feasible assignment of a small staffing, by brute force (for tests and fairness).

    Teams are in the staffing's entity order. Raises ``ValueError`` past ``limit`` assignments.
    """
    canon = staffing.canonical()
    elig = canon.eligibility()
    inst = _build_instance(elig)
    k = inst.k
    options: list[list[tuple[int, ...]]] = []
    for e in range(inst.n_e):
        cols = np.flatnonzero(inst.E[e]).tolist()
        options.append([c for c in itertools.combinations(cols, k) if inst.cover(c) == inst.full])
    load = np.zeros(inst.E.shape[1], dtype=np.int64)
    out: list[list[tuple[int, ...]]] = []
    chosen: list[tuple[int, ...]] = []

    def rec(e: int) -> None:
        if e == inst.n_e:
            out.append(list(chosen))
            if len(out) > limit:
                raise InvalidInputError(
                    f"more than {limit} feasible assignments; use a smaller case"
                )
            return
        for team in options[e]:
            if all(load[c] < inst.cap[c] for c in team):
                load[list(team)] += 1
                chosen.append(team)
                rec(e + 1)
                chosen.pop()
                load[list(team)] -= 1

    rec(0)
    ins_ids = canon.inspectors.ids
    ent_ids = canon.entities.id_list()
    order = {e: i for i, e in enumerate(ent_ids)}
    wanted = [order[e] for e in staffing.entities.id_list()]
    return [
        tuple(
            Team(ent_ids[e], sorted(ins_ids[inst.col_row[c]].decode() for c in a[e]))
            for e in wanted
        )
        for a in out
    ]


@attrs.frozen
class FairnessReport:
    """Distribution of drawn assignments over many keys against the uniform distribution.

    ``tv`` is the total-variation distance between the empirical distribution of the
    ``n_keys`` results and the uniform distribution over the ``n_feasible`` feasible
    assignments; ``noise_tv`` the expected TV of ``n_keys`` exactly uniform draws (sampling noise
    alone); ``accepted`` how many draws were accepted proposals (exactly uniform) rather than
    repaired ones.
    """

    n_keys: int
    n_feasible: int
    tv: float
    noise_tv: float
    accepted: int

    @property
    def excess(self) -> float:
        """``tv - noise_tv``: the part of the distance not explained by sampling noise."""
        return self.tv - self.noise_tv

    @property
    def bound(self) -> float:
        """The documented bound ``noise_tv + 1.2 / sqrt(n_keys)`` (about four standard
        deviations of the TV of an exactly uniform sampler above its mean)."""
        return self.noise_tv + 1.2 / math.sqrt(self.n_keys)

    @property
    def within_bound(self) -> bool:
        """True when ``tv <= bound``."""
        return self.tv <= self.bound


def _expected_noise_tv(n: int, states: int) -> float:
    """E[TV] of the empirical law of ``n`` uniform draws over ``states`` states (exact)."""
    from scipy.stats import binom

    x = np.arange(n + 1)
    pmf = binom.pmf(x, n, 1.0 / states)
    mad = float(np.sum(pmf * np.abs(x - n / states)))
    return states * mad / (2 * n)


def fairness(staffing: Staffing, keys: Sequence[bytes]) -> FairnessReport:
    """Total-variation distance of :func:`assign_teams` over ``keys`` from exact uniformity.

    Enumerates every feasible assignment (small staffings only), draws one assignment per key
    and compares. The documented bound (docs/teams.md) is :attr:`FairnessReport.bound`.
    """
    feasible = enumerate_assignments(staffing)
    index = {a: i for i, a in enumerate(feasible)}
    counts = np.zeros(len(feasible), dtype=np.int64)
    accepted = 0
    for key in keys:
        result = assign_teams(staffing, key)
        a = tuple(result.teams)
        if a not in index:
            raise AssertionError(
                f"assign_teams returned an infeasible assignment for key {key.hex()}"
            )
        counts[index[a]] += 1
        accepted += result.stream.accepted_round is not None
    n = len(keys)
    tv = 0.5 * float(np.abs(counts / n - 1.0 / len(feasible)).sum())
    return FairnessReport(n, len(feasible), tv, _expected_noise_tv(n, len(feasible)), accepted)
