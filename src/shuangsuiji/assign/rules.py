"""The recusal (回避) and team rules: who may not go where, and how teams are made.

Input tables (declared conflicts, past assignments), the rules that exclude inspector-entity
pairs (declared conflicts, attribute rules such as the township rule, rotation, and any
:class:`RecusalRule` an agency writes in Python), the team rules (:class:`TeamConfig`) and the one
mapping from the policy (一细则) to them, :func:`team_config`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.assign._stream import BoolArray, BytesArray, IntArray
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.pools import EntityPool, InspectorPool

if TYPE_CHECKING:
    from shuangsuiji.policy import Policy


def ids_bytes(values: Iterable[str] | npt.NDArray[Any]) -> BytesArray:
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


def lookup_rows(ids: BytesArray, wanted: BytesArray) -> IntArray:
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
            inspector_ids=ids_bytes([c[0] for c in cols]),
            entity_ids=ids_bytes([c[1] for c in cols]),
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
            inspector_ids=ids_bytes([r[0] for r in items]),
            entity_ids=ids_bytes([r[1] for r in items]),
            dates=np.asarray([r[2] for r in items], dtype="datetime64[D]"),
        )

    def __len__(self) -> int:
        return len(self.inspector_ids)


def _int_rows(values: npt.ArrayLike) -> IntArray:
    return np.asarray(values, dtype=np.int64)


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
    def from_policy(cls, policy: Policy) -> TeamConfig:
        """The team rules of ``policy``: :func:`team_config`, the one mapping, as a constructor."""
        return team_config(policy)


def home_region_rule(digits: int) -> AttributeRule:
    """The home-region recusal rule (住所地回避) on the first ``digits`` of the division code.

    Nine digits is the township rule, the default; any other length is named after its digits,
    so that the published record says which rule ran.

    >>> home_region_rule(9).name, home_region_rule(6).name, home_region_rule(6).digits
    ('same_township', 'same_region_6', 6)
    """
    if digits == AttributeRule().digits:
        return AttributeRule()
    return AttributeRule(
        name=f"same_region_{digits}",
        digits=digits,
        reason=f"inspector's home region shares the entity's first {digits} digits (住所地回避)",
    )


def team_config(policy: Policy) -> TeamConfig:
    """The assignment rules of ``policy`` (一细则): size, caps, rotation, home region, conflicts.

    The one mapping from a policy to :class:`TeamConfig`: the team draw, its replay from a bundle
    and the plan simulation all use it.

    >>> from shuangsuiji.policy import Policy
    >>> config = team_config(Policy())
    >>> config.size, [rule.name for rule in config.attribute_rules]
    (2, ['same_township'])
    """
    team, recusal = policy.team, policy.recusal
    digits = recusal.same_home_region_digits
    return TeamConfig(
        size=team.size,
        legal_exception=team.legal_exception,
        max_per_task=team.max_per_task,
        max_per_period=team.max_per_period,
        rotation_days=recusal.rotation_days,
        attribute_rules=(home_region_rule(digits),) if digits else (),
        declared_conflicts=recusal.declared_conflicts,
    )


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
        e = lookup_rows(entities.ids, self.table.entity_ids)
        i = lookup_rows(inspectors.ids, self.table.inspector_ids)
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
        e = lookup_rows(entities.ids, h.entity_ids[recent])
        i = lookup_rows(inspectors.ids, h.inspector_ids[recent])
        keep = np.flatnonzero((e >= 0) & (i >= 0))
        when = h.dates[recent][keep]
        return Exclusions(
            e[keep], i[keep], _Details(np.arange(len(keep)), lambda j: f"inspected on {when[j]}")
        )


def normalise_exclusions(result: Any, n_e: int, n_i: int, name: str) -> Exclusions:
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
