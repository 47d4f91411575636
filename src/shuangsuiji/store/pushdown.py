"""The draw pushed down into PostgreSQL: tickets and selection computed where the pool lives.

When the entity pool is in PostgreSQL and large (millions of rows), loading it into Python
only to keep 5% of it is wasteful. This module runs SSJ-DRAW-1 inside the database and
fetches only the ranked rows, with **identical results** to :func:`~shuangsuiji.draw.draw_entities`
on the same candidates:

- the candidate set is a *structured* definition — :class:`CandidateSpec` (a task's
  :class:`~shuangsuiji.model.PopulationFilter`, the policy's exclusions and the strata of
  :mod:`shuangsuiji.candidates`) over the ``entities`` table, or :class:`FrozenCandidates`
  (the ``draw_candidates`` rows of a frozen draw). Every value reaches the database as a
  bound parameter of a SQLAlchemy Core expression; no SQL text is ever built from data;
- stratum sizes ``N_s`` come from a ``GROUP BY`` in the database; ``n_s`` and ``m_s`` from the
  same :class:`~shuangsuiji.draw.SizeRule` objects in Python (exact rationals), sent back as a
  ``VALUES`` list joined to the candidates;
- the ticket is ``sha256(prefix || convert_to(id, 'UTF8'))`` (``prefix`` is the draw key, or
  the ``consistent_sampler`` seed hash), ranked per stratum with
  ``row_number() OVER (PARTITION BY stratum ORDER BY ticket, convert_to(id, 'UTF8'))``; rows with
  rank ``<= n_s + m_s`` are fetched in the global order of the draw;
- the pool digest is ``sha256(string_agg(line ORDER BY id))`` in the database while the lines
  fit in one ``bytea`` (:data:`DIGEST_IN_DATABASE_MAX_BYTES`), else the lines are streamed
  in ID order through :mod:`hashlib`.

**Pre-filter.** Sorting every row of a stratum by ticket would cost a sort of the whole pool.
Tickets are uniform, so each stratum first keeps only the rows whose ticket lies below a
threshold chosen so that about ``n_s + m_s + 8·sqrt(n_s + m_s) + 16`` rows pass; the window
then sorts only those. If fewer than ``n_s + m_s`` rows pass a threshold (probability below
1e-12) that stratum is ranked again without one. The result is exact either way: when at
least ``k`` rows have a ticket below ``T``, the ``k`` smallest tickets are all below ``T``.

Each call runs in one ``REPEATABLE READ`` snapshot when given an :class:`~sqlalchemy.Engine`
(counts, digest and selection see the same rows); given a
:class:`~sqlalchemy.engine.Connection` it runs in the caller's transaction. IDs are unique
because both tables key on them.

>>> from datetime import date
>>> from shuangsuiji.model import Task
>>> from shuangsuiji.policy import Policy
>>> task = Task("T1", "P1", "公示信息抽查", ("SCJG",), ("SCJG-01",),
...             date(2026, 7, 1), date(2026, 9, 30))
>>> spec = CandidateSpec.for_task(task, Policy.default(), cutoff=date(2026, 6, 30))
>>> spec.excluded_statuses, spec.registered_cutoff, spec.stratum_tags
(('注销', '吊销', '撤销'), datetime.date(2026, 6, 30), ('经营异常名录',))
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any, NoReturn, TypeAlias, cast

import attrs
import numpy as np
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    LargeBinary,
    Numeric,
    Select,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    column,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    values,
)
from sqlalchemy import (
    cast as cast_,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import Connection, Engine

from shuangsuiji.candidates import (
    EXCLUSION_REASONS,
    Exclusion,
    UnknownTierError,
    freeze_summary,
    stratum_rules,
    stratum_tag_order,
)
from shuangsuiji.draw import (
    Draw,
    InvalidLabelError,
    SizeRule,
    StratumSummary,
    TicketScheme,
    check_label,
    draw_key,
    labels_to_draw,
    seed_bytes,
)
from shuangsuiji.errors import IntegrityFailure, InvalidInputError, RefusedError
from shuangsuiji.model import InspectionItem, PopulationFilter, Task
from shuangsuiji.policy import Policy
from shuangsuiji.store.schema import DrawCandidateRow, EntityRow

__all__ = [
    "BYTEA_MAX_BYTES",
    "DIGEST_IN_DATABASE_MAX_BYTES",
    "CandidateSource",
    "CandidateSpec",
    "DatabaseCandidateSet",
    "FrozenCandidates",
    "PoolChangedError",
    "PushdownError",
    "UnknownTierError",
    "UnsupportedDatabaseError",
    "count_strata",
    "digest_in_database",
    "draw_in_database",
    "freeze_in_database",
    "insert_candidates",
    "stratum_rules",
    "stratum_tag_order",
]

BYTEA_MAX_BYTES = 2**30 - 1
"""PostgreSQL's hard limit for one ``bytea`` value (and one ``string_agg`` result): 1 GiB − 1."""

DIGEST_IN_DATABASE_MAX_BYTES = 512 * 2**20
"""Above this many bytes of digest lines the pool digest is streamed through hashlib.

``string_agg`` grows its buffer by doubling, so one backend briefly holds up to twice the
lines; 512 MiB keeps that near 1 GiB. With ``A|350102``-style strata a line is about 28 bytes,
so the digest stays in the database up to roughly 19 million candidates.
"""

Bind: TypeAlias = Engine | Connection

_UTF8: ColumnElement[str] = literal_column("'UTF8'")
_CONTROL_PATTERN = "[\x01-\x1f]"  # a regular expression, sent as a bound parameter
_ENTITIES = cast(Table, EntityRow.__table__)
_DRAW_CANDIDATES = cast(Table, DrawCandidateRow.__table__)
_SPACE = {TicketScheme.SSJ_DRAW_1: 2**256, TicketScheme.CONSISTENT_SAMPLER: 10**9}
# Constants of the consistent_sampler order key, written into the SQL (they are not data).
_N9: ColumnElement[int] = literal_column("9")
_N64: ColumnElement[int] = literal_column("64")  # consistent_sampler pads to 64 digits
_N256: ColumnElement[int] = literal_column("256")
_N1E9: ColumnElement[int] = literal_column("1000000000")
_EXCLUSION_CODES = {
    "deregistered_or_revoked": 1,
    "registered_after_cutoff": 2,
    "inspected_within_window": 3,
}


class PushdownError(InvalidInputError):
    """Bad input to a pushed-down draw: the message says what, where and how to fix it."""


class UnsupportedDatabaseError(PushdownError, RefusedError):
    """The connection is not PostgreSQL 11 or later (``sha256()`` appeared in 11)."""


class PoolChangedError(PushdownError, IntegrityFailure):
    """The candidates in the database no longer match the frozen counts of the draw."""


# -- candidate sources (structured, never SQL text) ------------------------------------------


def _region_digits(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
        raise PushdownError(f"{attribute.name} must be a whole number 1-12, got {value!r}")


def _strings(values: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        raise PushdownError(f"give a list of texts, not one text {values!r}")
    return tuple(str(v) for v in values)


def _optional_strings(values: Any) -> tuple[str, ...] | None:
    return None if values is None else _strings(values)


@attrs.frozen
class CandidateSpec:
    """A task's candidate set over the ``entities`` table, defined by structure alone.

    ``population`` is the task's (定向) filter. Exclusions, applied in this order as in
    :func:`shuangsuiji.candidates.freeze_candidates`: ``excluded_statuses`` (an empty tuple
    turns the rule off), ``registered_cutoff`` (entities registered after it; ``None`` = off),
    ``inspected_ids`` (entities inspected within the window; ``None`` = off, an empty tuple =
    on with nobody to exclude). Strata are ``tier|first region_digits digits of region`` plus
    ``|tag`` for the first of ``stratum_tags`` the entity carries.

    Build it with :meth:`for_task` to get exactly the candidates of
    :func:`~shuangsuiji.candidates.freeze_candidates`.
    """

    population: PopulationFilter = attrs.field(factory=PopulationFilter)
    excluded_statuses: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    registered_cutoff: date | None = None
    inspected_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_strings)
    region_digits: int = attrs.field(default=6, validator=_region_digits)
    stratum_tags: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    @classmethod
    def for_task(
        cls,
        task: Task,
        policy: Policy,
        *,
        cutoff: date,
        last_inspected: Mapping[str, date] | None = None,
    ) -> CandidateSpec:
        """The spec that :func:`~shuangsuiji.candidates.freeze_candidates` applies.

        ``last_inspected`` maps entity IDs to their last inspection date; those inspected
        after ``cutoff − recently_inspected_days`` are excluded.
        """
        e = policy.exclusions
        inspected: tuple[str, ...] | None = None
        if e.recently_inspected_days and last_inspected:
            since = cutoff - timedelta(days=e.recently_inspected_days)
            inspected = tuple(sorted(i for i, d in last_inspected.items() if d > since))
        return cls(
            population=task.population,
            excluded_statuses=tuple(e.statuses),
            registered_cutoff=cutoff if e.registered_after_cutoff else None,
            inspected_ids=inspected,
            region_digits=policy.ratios.floor_region_digits,
            stratum_tags=stratum_tag_order(policy),
        )

    def _stratum(self) -> ColumnElement[str]:
        t = _ENTITIES
        label = t.c.tier.concat(literal("|")).concat(func.substr(t.c.region, 1, self.region_digits))
        if not self.stratum_tags:
            return label
        tag = case(
            *[(_has_tag(t.c.tags, name), literal("|" + name)) for name in self.stratum_tags],
            else_=literal(""),
        )
        return label.concat(tag)

    def _in_population(self) -> list[ColumnElement[bool]]:
        t, p = _ENTITIES, self.population
        out: list[ColumnElement[bool]] = []
        if p.entity_types:
            out.append(t.c.entity_type.in_(p.entity_types))
        if p.industry_prefixes:
            out.append(or_(*(func.starts_with(t.c.industry, x) for x in p.industry_prefixes)))
        if p.region_prefixes:
            out.append(or_(*(func.starts_with(t.c.region, x) for x in p.region_prefixes)))
        if p.tiers:
            out.append(t.c.tier.in_(p.tiers))
        if p.statuses:
            out.append(t.c.status.in_(p.statuses))
        if p.tags_any:
            out.append(or_(*(_has_tag(t.c.tags, x) for x in p.tags_any)))
        if p.registered_before is not None:
            out.append(t.c.registered < p.registered_before)
        if p.registered_after is not None:
            out.append(t.c.registered > p.registered_after)
        return out

    def _exclusion_tests(self) -> list[tuple[str, ColumnElement[bool] | None]]:
        """The active exclusions in order, each with its test (``None``: nobody to exclude)."""
        t = _ENTITIES
        out: list[tuple[str, ColumnElement[bool] | None]] = []
        if self.excluded_statuses:
            out.append(("deregistered_or_revoked", t.c.status.in_(self.excluded_statuses)))
        if self.registered_cutoff is not None:
            out.append(("registered_after_cutoff", t.c.registered > self.registered_cutoff))
        if self.inspected_ids is not None:
            test = (
                t.c.id == any_(bindparam("inspected_ids", list(self.inspected_ids), ARRAY(Text)))
                if self.inspected_ids
                else None
            )
            out.append(("inspected_within_window", test))
        return out

    def _select(self) -> Select[Any]:
        """``(id, stratum)`` of every candidate."""
        kept = [not_(test) for _, test in self._exclusion_tests() if test is not None]
        return select(_ENTITIES.c.id.label("id"), self._stratum().label("stratum")).where(
            and_(true(), *self._in_population(), *kept)
        )

    def _classified(self) -> Select[Any]:
        """``(id, stratum, reason)`` of the population; reason 0 = candidate."""
        whens = [
            (test, literal(_EXCLUSION_CODES[reason]))
            for reason, test in self._exclusion_tests()
            if test is not None
        ]
        reason: ColumnElement[int] = case(*whens, else_=literal(0)) if whens else literal(0)
        return select(
            _ENTITIES.c.id.label("id"),
            self._stratum().label("stratum"),
            reason.label("reason"),
        ).where(and_(true(), *self._in_population()))


def _has_tag(tags: ColumnElement[str], name: str) -> ColumnElement[bool]:
    return literal(name, String) == any_(func.string_to_array(tags, literal("|")))


@attrs.frozen
class FrozenCandidates:
    """The candidates of a frozen draw: the ``draw_candidates`` rows of ``draw_id``."""

    draw_id: int

    def _select(self) -> Select[Any]:
        t = _DRAW_CANDIDATES
        return select(t.c.entity_id.label("id"), t.c.stratum.label("stratum")).where(
            t.c.draw_id == self.draw_id
        )


CandidateSource: TypeAlias = CandidateSpec | FrozenCandidates


@attrs.frozen(eq=False)
class DatabaseCandidateSet:
    """A task's frozen candidates that stay in the database (cf. ``CandidateSet``).

    ``counts`` is ``N_s`` per stratum (UTF-8 label order), ``rules`` the size rules,
    ``exclusions`` who was left out and why, ``digest`` the SSJ-DRAW-1 pool digest.
    """

    task_code: str
    spec: CandidateSpec
    counts: Mapping[str, int]
    rules: Mapping[str, SizeRule]
    exclusions: tuple[Exclusion, ...]
    population: Mapping[str, Any]
    cutoff: date
    digest: str

    @property
    def size(self) -> int:
        """The number of candidates."""
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        """The same summary as ``CandidateSet.to_json`` (for the audit log)."""
        return freeze_summary(self)


# -- connection handling -------------------------------------------------------------------


@contextmanager
def _connect(bind: Bind, *, readonly: bool = True) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        _check_server(bind)
        yield bind
        return
    if not isinstance(bind, Engine):
        raise UnsupportedDatabaseError(
            f"give a SQLAlchemy Engine or Connection, got {type(bind).__name__} "
            "(for a Store use store.engine, inside a Session use session.connection())"
        )
    _check_dialect(bind.dialect.name)
    options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
    if readonly:
        options["postgresql_readonly"] = True
    with bind.connect().execution_options(**options) as conn:
        _check_server(conn)
        with conn.begin():
            yield conn


def _check_dialect(name: str) -> None:
    if name != "postgresql":
        raise UnsupportedDatabaseError(
            f"the draw pushdown needs PostgreSQL 11 or later, this connection is {name}; "
            "load the pool with Store.load_entities and use draw_entities instead"
        )


def _check_server(conn: Connection) -> None:
    _check_dialect(conn.dialect.name)
    version = conn.dialect.server_version_info or (0,)
    if tuple(version) < (11,):
        raise UnsupportedDatabaseError(
            f"PostgreSQL {'.'.join(map(str, version))} has no sha256(); "
            "the draw pushdown needs PostgreSQL 11 or later"
        )


def _id_order(conn: Connection, ids: ColumnElement[str]) -> ColumnElement[Any]:
    """``ids`` in UTF-8 byte order: ``COLLATE "C"`` on a UTF8 database (fast), else bytes."""
    encoding = conn.execute(select(func.current_setting("server_encoding"))).scalar_one()
    if encoding == "UTF8":
        return ids.collate("C")
    return func.convert_to(ids, _UTF8)


# -- counts, IDs and the digest ------------------------------------------------------------


@attrs.frozen
class _Stats:
    counts: dict[str, int]
    line_bytes: int


def _line_bytes(ids: ColumnElement[str], strata: ColumnElement[str]) -> ColumnElement[int]:
    return func.octet_length(ids) + func.octet_length(strata) + 2


def _bad_id(ids: ColumnElement[str]) -> ColumnElement[bool]:
    return or_(ids == "", ids.regexp_match(_CONTROL_PATTERN))


def _raise_bad_id(conn: Connection, c: Any) -> None:
    example = conn.execute(
        select(c.c.id).where(_bad_id(c.c.id)).order_by(_id_order(conn, c.c.id)).limit(1)
    ).scalar_one()
    raise InvalidLabelError(
        f"candidate ID {example!r} in the database is empty or contains a control character; "
        "canonicalise it with shuangsuiji.ids.canonical_id and correct the stored row"
    )


def _checked_counts(rows: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label, n in rows:
        if label is None:
            raise PushdownError(
                "a candidate has no stratum (a NULL tier or region in the database); "
                "correct the stored row"
            )
        counts[check_label(label, "stratum label")] = int(n)
    return dict(sorted(counts.items(), key=lambda kv: kv[0].encode()))


def _stats(conn: Connection, source: CandidateSource) -> _Stats:
    c = source._select().subquery("c")
    rows = conn.execute(
        select(
            c.c.stratum,
            func.count(),
            func.coalesce(func.sum(_line_bytes(c.c.id, c.c.stratum)), 0),
            func.count().filter(_bad_id(c.c.id)),
        ).group_by(c.c.stratum)
    ).all()
    if any(r[3] for r in rows):
        _raise_bad_id(conn, c)
    return _Stats(_checked_counts([(r[0], r[1]) for r in rows]), sum(int(r[2]) for r in rows))


def count_strata(bind: Bind, source: CandidateSource) -> dict[str, int]:
    """``N_s``: the number of candidates per stratum label (UTF-8 label order), by GROUP BY."""
    with _connect(bind) as conn:
        return _stats(conn, source).counts


def _digest(conn: Connection, source: CandidateSource, line_bytes: int, max_bytes: int) -> str:
    c = source._select().subquery("c")
    # utf8(id) 0x09 utf8(stratum) 0x0A, converted once (10% faster than per part).
    text_line = c.c.id.concat(literal("\t")).concat(c.c.stratum).concat(literal("\n"))
    line = func.convert_to(text_line, _UTF8, type_=LargeBinary)
    order = _id_order(conn, c.c.id)
    if line_bytes <= min(max_bytes, BYTEA_MAX_BYTES):
        # string_agg(line, separator ORDER BY id): the ORDER BY follows the last argument.
        joined = func.string_agg(line, aggregate_order_by(literal(b"", LargeBinary), order))
        digest = func.sha256(func.coalesce(joined, literal(b"", LargeBinary)))
        return str(conn.execute(select(func.encode(digest, "hex"))).scalar_one())
    h = hashlib.sha256()
    result = conn.execution_options(stream_results=True, yield_per=100_000).execute(
        select(line).order_by(order)
    )
    for part in result.partitions():
        h.update(b"".join(bytes(r[0]) for r in part))
    return h.hexdigest()


def digest_in_database(
    bind: Bind,
    source: CandidateSource,
    *,
    max_bytes: int = DIGEST_IN_DATABASE_MAX_BYTES,
    work_mem: str | None = "256MB",
) -> str:
    """The SSJ-DRAW-1 pool digest of ``source``, equal to :func:`~shuangsuiji.draw.pool_digest`.

    Computed as one ``sha256(string_agg(...))`` in the database when the lines take at most
    ``max_bytes`` (never more than :data:`BYTEA_MAX_BYTES`); otherwise the lines are streamed
    in UTF-8 ID order (server-side cursor) through :mod:`hashlib`.
    """
    with _connect(bind) as conn:
        if work_mem:
            conn.execute(select(func.set_config("work_mem", work_mem, True)))
        stats = _stats(conn, source)
        return _digest(conn, source, stats.line_bytes, max_bytes)


# -- freezing ------------------------------------------------------------------------------


def freeze_in_database(
    bind: Bind,
    task: Task,
    policy: Policy,
    items: Sequence[InspectionItem],
    *,
    cutoff: date,
    last_inspected: Mapping[str, date] | None = None,
    exclusion_ids: bool = True,
    digest_max_bytes: int = DIGEST_IN_DATABASE_MAX_BYTES,
    work_mem: str | None = "256MB",
) -> DatabaseCandidateSet:
    """:func:`~shuangsuiji.candidates.freeze_candidates` without loading the pool.

    Counts (per stratum and per exclusion reason), the excluded IDs (unless
    ``exclusion_ids=False``) and the pool digest are computed in the database in one
    snapshot; the rules by :func:`stratum_rules`.
    """
    by_code = {i.code: i for i in items}
    missing = [code for code in task.items if code not in by_code]
    if missing:
        raise PushdownError(f"task {task.code}: unknown inspection item(s) {missing}")
    spec = CandidateSpec.for_task(task, policy, cutoff=cutoff, last_inspected=last_inspected)
    with _connect(bind) as conn:
        if work_mem:
            conn.execute(select(func.set_config("work_mem", work_mem, True)))
        c = spec._classified().subquery("c")
        rows = conn.execute(
            select(
                c.c.reason,
                c.c.stratum,
                func.count(),
                func.coalesce(func.sum(_line_bytes(c.c.id, c.c.stratum)), 0),
                func.count().filter(_bad_id(c.c.id)),
            ).group_by(c.c.reason, c.c.stratum)
        ).all()
        kept = [r for r in rows if r[0] == 0]
        if any(r[4] for r in kept):
            _raise_bad_id(conn, spec._select().subquery("c"))
        counts = _checked_counts([(r[1], r[2]) for r in kept])
        line_bytes = sum(int(r[3]) for r in kept)
        excluded_counts: dict[int, int] = {}
        for r in rows:
            if r[0]:
                excluded_counts[r[0]] = excluded_counts.get(r[0], 0) + int(r[2])
        excluded_ids: dict[int, list[str]] = {}
        if exclusion_ids and excluded_counts:
            for code, entity in conn.execute(
                select(c.c.reason, c.c.id)
                .where(c.c.reason != 0)
                .order_by(c.c.reason, _id_order(conn, c.c.id))
            ):
                excluded_ids.setdefault(code, []).append(entity)
        digest = _digest(conn, spec, line_bytes, digest_max_bytes)
    exclusions = tuple(
        Exclusion(
            reason,
            EXCLUSION_REASONS[reason],
            excluded_counts.get(_EXCLUSION_CODES[reason], 0),
            tuple(excluded_ids.get(_EXCLUSION_CODES[reason], ())),
        )
        for reason, _ in spec._exclusion_tests()
    )
    return DatabaseCandidateSet(
        task_code=task.code,
        spec=spec,
        counts=counts,
        rules=stratum_rules(counts, task, policy, [by_code[c] for c in task.items]),
        exclusions=exclusions,
        population=task.population.to_dict(),
        cutoff=cutoff,
        digest=digest,
    )


def insert_candidates(bind: Bind, source: CandidateSpec, draw_id: int) -> int:
    """Copy the candidates into ``draw_candidates`` for ``draw_id`` inside the database.

    Returns the number of rows inserted. The draw row must exist. With an ``Engine`` this
    commits; with a ``Connection`` it is part of the caller's transaction.
    """
    c = source._select().subquery("c")
    stmt = insert(_DRAW_CANDIDATES).from_select(
        ["draw_id", "entity_id", "stratum"],
        select(literal(draw_id, Integer), c.c.id, c.c.stratum),
    )
    with _connect(bind, readonly=False) as conn:
        return int(conn.execute(stmt, execution_options={"preserve_rowcount": True}).rowcount)


# -- the draw ------------------------------------------------------------------------------


def _ticket_prefix(key: bytes, scheme: TicketScheme) -> bytes:
    if scheme is TicketScheme.CONSISTENT_SAMPLER:
        return hashlib.sha256(key.hex().encode()).hexdigest().encode()
    return key


def _margin(take: int) -> int:
    """Rows beyond ``take`` that a stratum's pre-filter lets through on average."""
    return 8 * math.isqrt(take) + 16


def _threshold(scheme: TicketScheme, take: int, size: int, prefilter: bool) -> bytes | int | None:
    """The pre-filter bound of a stratum (``None``: no filter)."""
    want = take + _margin(take)
    if not prefilter or want >= size:
        return None
    space = _SPACE[scheme]
    bound = want * space // size + 1
    if bound >= space:
        return None
    return bound.to_bytes(32, "big") if scheme is TicketScheme.SSJ_DRAW_1 else bound


def _no_filter(scheme: TicketScheme) -> bytes | int:
    # Above every ticket: 33 bytes 0xFF sort after any 32-byte value; 10**9 after any 9 digits.
    return b"\xff" * 33 if scheme is TicketScheme.SSJ_DRAW_1 else 10**9


def _cs_low_digits(ticket: ColumnElement[bytes]) -> ColumnElement[int]:
    """The first 9 characters of consistent_sampler's order key (lowest digits, reversed)."""
    # Horner's rule modulo 10**9 over the 32 bytes, in bigint (below 2.6e11 at every step).
    acc: ColumnElement[Any] = cast_(literal_column("0"), BigInteger)
    for i in range(32):
        acc = (acc * _N256 + func.get_byte(ticket, literal_column(str(i)))) % _N1E9
    return cast_(func.reverse(func.lpad(cast_(acc, Text), _N9, "0")), BigInteger)


def _cs_order_key(ticket: ColumnElement[bytes]) -> ColumnElement[str]:
    """The decimal digits of the ticket, zero-padded to 64, reversed, in byte order."""
    acc: ColumnElement[Any] = cast_(literal_column("0"), Numeric)
    for i in range(32):
        acc = acc * _N256 + func.get_byte(ticket, literal_column(str(i)))
    digits = cast_(acc, Text)
    padded = func.lpad(digits, func.greatest(_N64, func.length(digits)), "0")
    return cast(ColumnElement[str], func.reverse(padded).collate("C"))


@attrs.frozen
class _Stratum:
    code: int
    label: str
    take: int
    size: int


def _ranked(
    conn: Connection,
    source: CandidateSource,
    strata: Sequence[_Stratum],
    prefix: bytes,
    scheme: TicketScheme,
    bounds: Mapping[int, bytes | int],
) -> dict[int, list[tuple[str, bytes, int]]]:
    """``(id, ticket, passed)`` of the ``take`` best rows of each stratum, in rank order."""
    c = source._select().subquery("c")
    threshold_type = LargeBinary if scheme is TicketScheme.SSJ_DRAW_1 else BigInteger
    sizes = values(
        column("stratum", String),
        column("code", Integer),
        column("take", BigInteger),
        column("threshold", threshold_type),
        name="sizes",
    ).data([(s.label, s.code, s.take, bounds[s.code]) for s in strata])
    id_bytes = func.convert_to(c.c.id, _UTF8)
    prefix_param = bindparam("ticket_prefix", prefix, LargeBinary)
    digest = func.sha256(
        prefix_param.op("||", return_type=LargeBinary)(id_bytes), type_=LargeBinary
    )
    joined = c.join(sizes, c.c.stratum == sizes.c.stratum)
    ticket: ColumnElement[bytes]
    if scheme is TicketScheme.SSJ_DRAW_1:
        # The filter hashes every row once; only the few rows that pass hash again for the
        # ranking and the output, which is cheaper than a per-row function scan.
        ticket = digest
        passes = ticket < sizes.c.threshold
        order: tuple[ColumnElement[Any], ...] = (ticket, id_bytes)
    else:
        # The order key reads the ticket 32 times: a LATERAL function call hashes once per row
        # (and, unlike a subquery with OFFSET 0, still runs in parallel workers).
        tickets = digest.table_valued(column("t", LargeBinary)).render_derived(name="tickets")
        ticket_fn = tickets.lateral()
        joined = joined.join(ticket_fn, true())
        ticket = ticket_fn.c.t
        passes = _cs_low_digits(ticket) < sizes.c.threshold
        order = (_cs_order_key(ticket), id_bytes)
    ranked = (
        select(
            sizes.c.code,
            sizes.c.take,
            c.c.id,
            ticket.label("ticket"),
            func.row_number().over(partition_by=sizes.c.code, order_by=order).label("rn"),
            func.count().over(partition_by=sizes.c.code).label("passed"),
        )
        .select_from(joined)
        .where(passes)
        .subquery("ranked")
    )
    query = (
        select(ranked.c.code, ranked.c.rn, ranked.c.id, ranked.c.ticket, ranked.c.passed)
        .where(ranked.c.rn <= ranked.c.take)
        .order_by(ranked.c.code, ranked.c.rn)
    )
    out: dict[int, list[tuple[str, bytes, int]]] = {s.code: [] for s in strata}
    for code, rn, entity, tk, passed in conn.execute(query):
        rows = out[code]
        if rn != len(rows) + 1:
            raise PushdownError(f"stratum rank {rn} arrived out of order; this is a bug")
        rows.append((entity, bytes(tk), int(passed)))
    return out


def _strata_of_draw(
    rules: SizeRule | Mapping[str, SizeRule], counts: Mapping[str, int]
) -> list[StratumSummary]:
    """As ``draw_entities``: strata with candidates plus every label a rule mapping names."""
    out = []
    for label in labels_to_draw(rules, [label for label, n in counts.items() if n]):
        rule = rules if isinstance(rules, SizeRule) else rules[label]
        size = counts.get(label, 0)
        n = rule.size(size)
        out.append(StratumSummary(label, size, n, rule.alternates_for(size, n), rule))
    return out


def draw_in_database(
    bind: Bind,
    candidates: DatabaseCandidateSet | CandidateSource,
    rules: SizeRule | Mapping[str, SizeRule] | None = None,
    *,
    task_label: str,
    seed: bytes | str,
    scheme: TicketScheme | str = TicketScheme.SSJ_DRAW_1,
    expect_counts: Mapping[str, int] | None = None,
    prefilter: bool = True,
    work_mem: str | None = "256MB",
) -> Draw:
    """Draw under SSJ-DRAW-1 inside PostgreSQL; the same :class:`~shuangsuiji.draw.Draw` as
    :func:`~shuangsuiji.draw.draw_entities` on the same candidates, strata and rules.

    ``candidates`` is a :class:`DatabaseCandidateSet` from :func:`freeze_in_database` (its
    rules are used unless ``rules`` is given, and its counts must still hold), a
    :class:`CandidateSpec` or :class:`FrozenCandidates`. ``expect_counts`` (``N_s`` per
    stratum at freezing time) makes the draw refuse with :class:`PoolChangedError` if the
    candidates changed since. Only the ``n_s + m_s`` ranked rows per stratum leave the
    database. ``prefilter=False`` ranks every row (slower, same result). ``work_mem`` is set
    for this transaction only.
    """
    key = draw_key(task_label, seed)
    ticket_scheme = TicketScheme(scheme)
    source, rules, expect_counts = _source_of(candidates, rules, expect_counts)
    with _connect(bind) as conn:
        if work_mem:
            conn.execute(select(func.set_config("work_mem", work_mem, True)))
        counts = _stats(conn, source).counts
        if expect_counts is not None and dict(expect_counts) != counts:
            _refuse_changed(counts, expect_counts)
        summaries = _strata_of_draw(rules, counts)
        strata = [
            _Stratum(code, s.label, s.sample + s.alternates, s.size)
            for code, s in enumerate(summaries)
            if s.sample + s.alternates > 0
        ]
        prefix = _ticket_prefix(key, ticket_scheme)
        rows = _ranked_rows(conn, source, strata, prefix, ticket_scheme, prefilter)
    ranked = [r for s in strata for r in rows[s.code]]
    ids = [r[0].encode() for r in ranked]
    return Draw(
        task_label=task_label,
        seed=seed_bytes(seed).hex(),
        scheme=ticket_scheme,
        strata=tuple(summaries),
        ranked_ids=np.array(ids, dtype=bytes) if ids else np.zeros(0, dtype="S1"),
        ranked_tickets=np.frombuffer(b"".join(r[1] for r in ranked), dtype=np.uint8).reshape(
            -1, 32
        ),
    )


def _source_of(
    candidates: DatabaseCandidateSet | CandidateSource,
    rules: SizeRule | Mapping[str, SizeRule] | None,
    expect_counts: Mapping[str, int] | None,
) -> tuple[CandidateSource, SizeRule | Mapping[str, SizeRule], Mapping[str, int] | None]:
    """What to draw from, by which rules, expecting which counts: a frozen candidate set
    brings its own rules and counts unless the caller gives them."""
    if isinstance(candidates, DatabaseCandidateSet):
        source: CandidateSource = candidates.spec
        rules = candidates.rules if rules is None else rules
        expect_counts = candidates.counts if expect_counts is None else expect_counts
    elif isinstance(candidates, CandidateSpec | FrozenCandidates):
        source = candidates
    else:
        raise PushdownError(
            "candidates must be a DatabaseCandidateSet, CandidateSpec or FrozenCandidates, "
            f"got {type(candidates).__name__}"
        )
    if rules is None:
        raise PushdownError("give the size rules: one SizeRule or a mapping stratum -> SizeRule")
    return source, rules, expect_counts


def _refuse_changed(counts: Mapping[str, int], expect_counts: Mapping[str, int]) -> NoReturn:
    changed = sorted(
        label
        for label in set(counts) | set(expect_counts)
        if counts.get(label, 0) != expect_counts.get(label, 0)
    )
    raise PoolChangedError(
        f"the candidates changed since they were frozen: stratum sizes differ in "
        f"{changed[:5]}{' …' if len(changed) > 5 else ''}; freeze again (a re-draw "
        "needs a recorded reason) or draw from the frozen draw_candidates"
    )


def _ranked_rows(
    conn: Connection,
    source: CandidateSource,
    strata: list[_Stratum],
    prefix: bytes,
    ticket_scheme: TicketScheme,
    prefilter: bool,
) -> dict[int, list[tuple[str, bytes, int]]]:
    """The ``take`` smallest-ticket rows of every stratum: first below each stratum's ticket
    threshold; a stratum the threshold left short is ranked again without it."""
    if not strata:
        return {}
    bounds = {s.code: _threshold(ticket_scheme, s.take, s.size, prefilter) for s in strata}
    plain = {c: _no_filter(ticket_scheme) if b is None else b for c, b in bounds.items()}
    rows = _ranked(conn, source, strata, prefix, ticket_scheme, plain)
    short = [s for s in strata if len(rows[s.code]) < s.take]
    if any(bounds[s.code] is None for s in short):
        raise PoolChangedError(
            "a stratum has fewer rows than its counted size: the candidates changed "
            "during the draw; run it in a REPEATABLE READ transaction"
        )
    if short:
        rows |= _ranked(
            conn,
            source,
            short,
            prefix,
            ticket_scheme,
            {s.code: _no_filter(ticket_scheme) for s in short},
        )
        if any(len(rows[s.code]) < s.take for s in short):
            raise PoolChangedError(
                "a stratum has fewer rows than its counted size: the candidates "
                "changed during the draw; run it in a REPEATABLE READ transaction"
            )
    return rows
