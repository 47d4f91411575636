"""Records integrity: every table that decides an outcome, checked against the audit log.

The hash chain (:func:`shuangsuiji.audit.verify_chain`) proves that the log was not changed.
This module proves that the *tables* were not changed around it: each stored row is compared
with the event that logged it (or with a digest an event logged), both ways, and every
difference is returned as a :class:`RecordProblem` naming the table, the row and what differs.
The functions here are pure: the store (:mod:`shuangsuiji.store.integrity`) reads the rows
and the log, this module compares them.

**SSJ-POOL-STATE-1: the pool state digest.** The pools (``entities``, ``inspectors``,
``conflicts``) are too large to log row by row, so every import event logs the *state* of the
whole table after the import, an order-independent multiset hash of its rows:

- a row's fields, in the order of :data:`POOL_FIELDS` for its table, are encoded as bytes:
  text as UTF-8 exactly as stored (no normalisation), a date as ``YYYY-MM-DD``, a boolean as
  ``1`` or ``0``, an integer in decimal;
- ``line(row) = Σ_fields ( u32be(len(bytes)) || bytes )``, each field prefixed by its length
  as 4 bytes big-endian (so no field value can imitate a separator);
- ``h(row) = SHA-256( b"SSJ-POOL-STATE-1" || 0x00 || utf8(table) || 0x00 || line(row) )``;
- ``state(table) = Σ_rows int_be(h(row)) mod 2^256``, written as 64 lower-case hex digits.
  The empty table's state is 64 zeros.

The sum does not depend on the order of the rows, so it is computed in chunks while the rows
stream from the database, and an import updates it without reading the table:
``state_after = state_before + Σ h(new rows) − Σ h(replaced rows)``. Adding a row and
removing it again gives the same state; changing any field of any row changes it (as far as
SHA-256 goes: finding a different multiset with the same sum takes about 2^128 work by the
generalised birthday bound, far beyond any insider). The import digest of a pool import
(``digest`` in its ``pool.import`` event) is the state of the imported rows alone.

>>> state = PoolState.EMPTY.plus("conflicts", [("I1", "E1", "亲属", "申报")])
>>> state.hex
'72d2b920d74c82a1833b51e54f7b95132f39fcc9f5a659c2beacd76c3e24f906'
>>> state.minus("conflicts", [("I1", "E1", "亲属", "申报")]) == PoolState.EMPTY
True

**The changes of an import.** An upsert that replaces stored rows logs how many it replaced
(``replaced``) and, per changed field, ``{"id", "field", "before", "after"}`` (values as the
text above) in ``changes``, in the order of the imported rows. All of them are counted
(``changes_count``) and digested (``changes_digest``: the SSJ-POOL-STATE-1 sum over the change
rows ``(id, field, before, after)`` with the table name ``changes``); only the first
:data:`CHANGES_LOGGED` are written out, so an event stays small when a whole pool is
re-imported with new values.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, ClassVar, Final

import attrs
import numpy as np

from shuangsuiji.audit import AuditEvent, canonical_json
from shuangsuiji.bundle import record_digest
from shuangsuiji.policy import Policy

__all__ = [
    "CHANGES_LOGGED",
    "POOL_FIELDS",
    "POOL_STATE_SPEC",
    "Change",
    "LogIndex",
    "PoolState",
    "RecordProblem",
    "RecordTables",
    "changes_of",
    "check_records",
    "field_bytes",
    "row_digest",
]

POOL_STATE_SPEC: Final = b"SSJ-POOL-STATE-1"
POOL_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "entities": (
        "id",
        "name",
        "entity_type",
        "industry",
        "region",
        "registered",
        "tier",
        "status",
        "tags",
    ),
    "inspectors": (
        "id",
        "name",
        "department",
        "region",
        "home_region",
        "certificate_no",
        "certificate_expiry",
        "qualifications",
        "active",
    ),
    "conflicts": ("inspector_id", "entity_id", "relation", "source"),
}
"""The columns of each pool table that its state digest covers, in order (all but the
surrogate keys and ``import_id``, which say where a row came from, not what it is)."""
CHANGES_LOGGED: Final = 1_000
"""At most this many field changes are written into one import event (all are counted)."""
_MOD: Final = 1 << 256


def field_bytes(value: Any) -> bytes:
    """One field as SSJ-POOL-STATE-1 bytes.

    >>> field_bytes("注销"), field_bytes(date(2024, 9, 29)), field_bytes(True), field_bytes(7)
    (b'\\xe6\\xb3\\xa8\\xe9\\x94\\x80', b'2024-09-29', b'1', b'7')
    """
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool | np.bool_):
        return b"1" if value else b"0"
    if isinstance(value, date):
        return value.isoformat().encode()
    if isinstance(value, int | np.integer):
        return str(int(value)).encode()
    raise TypeError(f"a pool field must be text, a date, a boolean or an integer: {value!r}")


def _prefix(table: str) -> hashlib._Hash:
    return hashlib.sha256(POOL_STATE_SPEC + b"\x00" + table.encode() + b"\x00")


def row_digest(table: str, row: Sequence[Any]) -> bytes:
    """``h(row)`` of SSJ-POOL-STATE-1 (32 bytes)."""
    h = _prefix(table)
    for value in row:
        b = field_bytes(value)
        h.update(len(b).to_bytes(4, "big") + b)
    return h.digest()


def _iso(value: date) -> bytes:
    return value.isoformat().encode()


def _flag(value: bool) -> bytes:
    return b"1" if value else b"0"


# field_bytes for the exact types the store returns, looked up by type (twice as fast as the
# isinstance chain in the one loop over every row); any other type goes through field_bytes.
_ENCODERS: Final[Mapping[type, Any]] = {str: str.encode, date: _iso, bool: _flag}


def _sum(table: str, rows: Iterable[Sequence[Any]]) -> tuple[int, int]:
    """``Σ int_be(h(row)) mod 2^256`` and the number of rows.

    The 32-byte digests are added as eight 32-bit limbs in 64-bit accumulators (no carry is
    lost below 2^32 rows per call), then the limbs are folded once: one SHA-256 per row is the
    only Python loop.
    """
    copy = _prefix(table).copy  # copying the prefixed state is cheaper than hashing the prefix
    encoders = _ENCODERS
    digests = []
    for row in rows:
        parts = [encoders.get(type(v), field_bytes)(v) for v in row]
        h = copy()
        h.update(b"".join([len(p).to_bytes(4, "big") + p for p in parts]))
        digests.append(h.digest())
    if not digests:
        return 0, 0
    limbs = np.frombuffer(b"".join(digests), dtype=">u4").reshape(-1, 8)
    sums = limbs.sum(axis=0, dtype=np.uint64).tolist()
    total = sum(int(v) << (32 * (7 - i)) for i, v in enumerate(sums))
    return total % _MOD, len(digests)


@attrs.frozen
class PoolState:
    """An SSJ-POOL-STATE-1 value (see the module docstring); ``plus``/``minus`` return new ones."""

    value: int = 0
    EMPTY: ClassVar[PoolState]

    @property
    def hex(self) -> str:
        """The state as 64 lower-case hex digits."""
        return f"{self.value:064x}"

    @classmethod
    def from_hex(cls, text: str) -> PoolState:
        """Read a logged state back."""
        return cls(int(text, 16) % _MOD)

    def plus(self, table: str, rows: Iterable[Sequence[Any]]) -> PoolState:
        """The state with ``rows`` of ``table`` added."""
        return PoolState((self.value + _sum(table, rows)[0]) % _MOD)

    def minus(self, table: str, rows: Iterable[Sequence[Any]]) -> PoolState:
        """The state with ``rows`` of ``table`` taken away."""
        return PoolState((self.value - _sum(table, rows)[0]) % _MOD)

    def combined(self, other: PoolState) -> PoolState:
        """The state of the union of the two row multisets."""
        return PoolState((self.value + other.value) % _MOD)

    def without(self, other: PoolState) -> PoolState:
        """The state with the rows of ``other`` (a sub-multiset) taken away."""
        return PoolState((self.value - other.value) % _MOD)


PoolState.EMPTY = PoolState(0)


@attrs.frozen
class Change:
    """One field of a stored row changed by an import: ``before`` and ``after`` as text."""

    id: str
    field: str
    before: str
    after: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "field": self.field, "before": self.before, "after": self.after}


def _text(value: Any) -> str:
    return field_bytes(value).decode("utf-8")


def changes_of(table: str, before: Sequence[Any], after: Sequence[Any]) -> list[Change]:
    """The fields of one row that differ between its stored and its imported version.

    >>> old = ("91350100M000100Y3", "某公司", "有限责任公司", "C13", "350102",
    ...        date(2020, 1, 1), "B", "存续", "")
    >>> new = old[:7] + ("注销",) + old[8:]
    >>> changes_of("entities", old, new)
    [Change(id='91350100M000100Y3', field='status', before='存续', after='注销')]
    """
    fields = POOL_FIELDS[table]
    key = _text(before[0]) if table != "conflicts" else "|".join(map(_text, before[:3]))
    return [
        Change(key, name, _text(b), _text(a))
        for name, b, a in zip(fields, before, after, strict=True)
        if field_bytes(b) != field_bytes(a)
    ]


# -- the comparison ---------------------------------------------------------------------------


@attrs.frozen
class RecordProblem:
    """A row that does not agree with the audit log: its ``table``, the row's ``key`` and what
    differs (``message``)."""

    table: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.table} [{self.key}]: {self.message}"


@attrs.frozen
class RecordTables:
    """What the store read for the check, as plain values (rows as dicts of their columns).

    ``candidate_digests`` maps a draw's id to the SSJ-DRAW-1 pool digest and count of its
    ``draw_candidates`` rows; ``pool_states`` maps a pool table to its recomputed
    :class:`PoolState` and row count. The other fields are the rows of the table of that name.
    """

    draws: Sequence[Mapping[str, Any]] = ()
    candidate_digests: Mapping[int, tuple[str, int]] = attrs.field(factory=dict)
    picks: Sequence[Mapping[str, Any]] = ()
    replacements: Sequence[Mapping[str, Any]] = ()
    team_members: Sequence[Mapping[str, Any]] = ()
    results: Sequence[Mapping[str, Any]] = ()
    publications: Sequence[Mapping[str, Any]] = ()
    policies: Sequence[Mapping[str, Any]] = ()
    categories: Sequence[Mapping[str, Any]] = ()
    tasks: Sequence[Mapping[str, Any]] = ()
    items: Sequence[Mapping[str, Any]] = ()
    imports: Sequence[Mapping[str, Any]] = ()
    pool_states: Mapping[str, tuple[PoolState, int]] = attrs.field(factory=dict)


DrawKey = tuple[str, int]


def _draw_key(payload: Mapping[str, Any]) -> DrawKey:
    return str(payload.get("task")), int(payload.get("attempt", 0) or 0)


@attrs.frozen
class LogIndex:
    """The events the records are compared with, indexed by what they are about."""

    freezes: Mapping[DrawKey, Mapping[str, Any]]
    draws: Mapping[DrawKey, Mapping[str, Any]]
    record_digests: Mapping[DrawKey, str]
    replacements: Sequence[AuditEvent]
    results: Mapping[tuple[str, str, str, int], AuditEvent]
    publications: Mapping[tuple[str, str], AuditEvent]
    policies: Mapping[str, AuditEvent]
    categories: Mapping[str, AuditEvent]
    tasks: Mapping[str, AuditEvent]
    items: Mapping[str, AuditEvent]
    imports: Mapping[int, AuditEvent]
    pool_states: Mapping[str, AuditEvent]
    frozen_pools: Sequence[tuple[AuditEvent, AuditEvent | None]] = ()

    @classmethod
    def of(cls, events: Iterable[AuditEvent]) -> LogIndex:
        """Index ``events`` (in log order: a later event of the same thing wins)."""
        freezes: dict[DrawKey, Mapping[str, Any]] = {}
        draws: dict[DrawKey, Mapping[str, Any]] = {}
        digests: dict[DrawKey, str] = {}
        replacements: list[AuditEvent] = []
        results: dict[tuple[str, str, str, int], AuditEvent] = {}
        publications: dict[tuple[str, str], AuditEvent] = {}
        policies: dict[str, AuditEvent] = {}
        categories: dict[str, AuditEvent] = {}
        codes: dict[str, dict[str, AuditEvent]] = {"task": {}, "item": {}}
        imports: dict[int, AuditEvent] = {}
        states: dict[str, AuditEvent] = {}
        frozen: list[tuple[AuditEvent, AuditEvent | None]] = []
        for e in events:
            p = e.payload
            if e.kind == "candidates.freeze":
                freezes[_draw_key(p)] = p
                if "pool_state" in p:  # the entity pool as the freeze read it
                    frozen.append((e, states.get("entities")))
            elif e.kind in ("draw", "redraw"):
                draws[_draw_key(p)] = p
            elif e.kind == "replacement":
                replacements.append(e)
            elif e.kind in ("result.record", "result.correct"):
                key = (str(p.get("task")), str(p.get("entity")), str(p.get("item")))
                results[(*key, int(p.get("version", 0) or 0))] = e
            elif e.kind == "publication":
                publications[(str(p.get("task")), str(p.get("entity")))] = e
            elif e.kind == "policy.version":
                policies[str(p.get("hash"))] = e
            elif e.kind == "category.change":
                categories[str(p.get("code"))] = e
            elif e.kind in ("task.create", "task.change", "item.change"):
                codes[e.kind.split(".")[0]][str(p.get("code"))] = e
            if e.kind in ("pool.import", "conflict.change") and "import_id" in p:
                imports[int(p["import_id"])] = e
            drawn = e.kind in ("draw", "redraw", "replacement") or e.kind.startswith("teams.")
            if drawn and "record_digest" in p:
                digests[_draw_key(p)] = str(p["record_digest"])
            if e.kind in ("pool.import", "conflict.change") and "state" in p:
                states[str(p.get("kind", "conflicts"))] = e
        return cls(
            freezes=freezes,
            draws=draws,
            record_digests=digests,
            replacements=replacements,
            results=results,
            publications=publications,
            policies=policies,
            categories=categories,
            tasks=codes["task"],
            items=codes["item"],
            imports=imports,
            pool_states=states,
            frozen_pools=frozen,
        )


def check_records(tables: RecordTables, events: Iterable[AuditEvent]) -> list[RecordProblem]:
    """Every difference between the tables and the log; an empty list means they agree."""
    log = LogIndex.of(events)
    return [
        *draw_problems(tables, log),
        *replacement_problems(tables, log),
        *result_problems(tables, log),
        *publication_problems(tables, log),
        *policy_problems(tables, log),
        *category_problems(tables, log),
        *task_problems(tables, log),
        *item_problems(tables, log),
        *import_problems(tables, log),
        *pool_problems(tables, log),
        *frozen_pool_problems(log),
    ]


def _differ(a: Any, b: Any) -> str:
    return f"the table has {a!r}, the log {b!r}"


def draw_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """``draws``, ``draw_candidates``, ``draw_picks`` and ``team_members`` against the freeze and
    draw events and the stored bundle whose record digest the latest event of the draw logged."""
    picks: dict[int, list[Mapping[str, Any]]] = {}
    for r in tables.picks:
        picks.setdefault(int(r["draw_id"]), []).append(r)
    members: dict[int, dict[str, list[str]]] = {}
    for r in tables.team_members:
        members.setdefault(int(r["draw_id"]), {}).setdefault(r["entity_id"], []).append(
            r["inspector_id"]
        )
    problems: list[RecordProblem] = []
    for row in tables.draws:
        key = (str(row["task"]), int(row["attempt"]))
        where = f"task {key[0]} attempt {key[1]}"
        problems += _freeze_problems(row, where, log.freezes.get(key))
        problems += _candidate_problems(row, where, tables.candidate_digests.get(int(row["id"])))
        if str(row["policy_hash"]) not in log.policies:
            problems.append(
                RecordProblem(
                    "draws",
                    where,
                    f"policy hash {row['policy_hash']} was never logged by a policy.version event",
                )
            )
        if row["state"] != "drawn":
            continue
        bundle, found = _bundle_problems(row, where, log)
        problems += found
        if bundle is not None:
            problems += _pick_problems(where, bundle, picks.get(int(row["id"]), []))
            problems += _team_problems(where, bundle, members.get(int(row["id"]), {}))
    return problems


def _freeze_problems(
    row: Mapping[str, Any], where: str, event: Mapping[str, Any] | None
) -> list[RecordProblem]:
    if event is None:
        return [RecordProblem("draws", where, "no candidates.freeze event in the audit log")]
    return [
        RecordProblem(
            "draws",
            where,
            f"{field} differs from its freeze event: " + _differ(row[column], event.get(field)),
        )
        for field, column in (
            ("pool_digest", "pool_digest"),
            ("candidates", "candidates"),
            ("policy_hash", "policy_hash"),
        )
        if field in event and event.get(field) != row[column]
    ]


def _candidate_problems(
    row: Mapping[str, Any], where: str, computed: tuple[str, int] | None
) -> list[RecordProblem]:
    digest, count = computed or (None, 0)
    if digest == row["pool_digest"] and count == row["candidates"]:
        return []
    return [
        RecordProblem(
            "draw_candidates",
            where,
            f"the stored candidates ({count} rows) have pool digest {digest}, but the draw "
            f"committed to {row['pool_digest']} over {row['candidates']} candidates: rows were "
            "added, deleted or changed after the freeze",
        )
    ]


def _bundle_problems(
    row: Mapping[str, Any], where: str, log: LogIndex
) -> tuple[dict[str, Any] | None, list[RecordProblem]]:
    entry = log.draws.get((str(row["task"]), int(row["attempt"])))
    if entry is None:
        return None, [RecordProblem("draws", where, "no draw event in the audit log")]
    problems = [
        RecordProblem("draws", where, f"{field} " + _differ(row[field], entry.get(field)))
        for field in ("seed", "pool_digest", "policy_hash")
        if entry.get(field) != row[field]
    ]
    try:
        bundle: dict[str, Any] = json.loads(row["bundle"] or "{}")
    except ValueError:
        problems.append(RecordProblem("draws", where, "the stored bundle is not JSON"))
        return None, problems
    logged = log.record_digests.get((str(row["task"]), int(row["attempt"])))
    if bundle.get("record_digest") != logged:
        problems.append(
            RecordProblem("draws", where, "the stored bundle is not the one the log recorded")
        )
    elif record_digest(bundle) != bundle.get("record_digest"):
        problems.append(
            RecordProblem("draws", where, "the stored bundle was changed after it was logged")
        )
    if [p.get("id") for p in bundle.get("selected", [])] != entry.get("selected"):
        problems.append(
            RecordProblem("draws", where, "the bundle's selection is not the draw event's")
        )
    return bundle, problems


def _pick_problems(
    where: str, bundle: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> list[RecordProblem]:
    expected = {
        p["id"]: (role, rank, p["stratum"], p["ticket"])
        for role, group in (("selected", "selected"), ("alternate", "alternates"))
        for rank, p in enumerate(bundle.get(group, []), start=1)
    }
    stored = {r["entity_id"]: (r["role"], r["rank"], r["stratum"], r["ticket"]) for r in rows}
    problems = []
    for entity in sorted(set(expected) | set(stored)):
        have, want = stored.get(entity), expected.get(entity)
        if have == want:
            continue
        what = (
            "missing (the logged bundle has it)"
            if have is None
            else "not in the logged bundle"
            if want is None
            else "(role, rank, stratum, ticket) " + _differ(have, want)
        )
        problems.append(RecordProblem("draw_picks", f"{where} entity {entity}", what))
    return problems


def _team_problems(
    where: str, bundle: Mapping[str, Any], members: Mapping[str, list[str]]
) -> list[RecordProblem]:
    expected = {t["entity"]: sorted(t["inspectors"]) for t in bundle.get("teams", [])}
    stored = {e: sorted(i) for e, i in members.items()}
    return [
        RecordProblem(
            "team_members",
            f"{where} entity {entity}",
            "team " + _differ(stored.get(entity, []), expected.get(entity, [])),
        )
        for entity in sorted(set(expected) | set(stored))
        if stored.get(entity) != expected.get(entity)
    ]


def replacement_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """Every ``replacements`` row has its ``replacement`` event and every event its row."""
    keys = {int(r["id"]): (str(r["task"]), int(r["attempt"])) for r in tables.draws}

    def what(
        task: str, attempt: int, e: Any, by: Any, reason: Any, note: Any, actor: Any, skip: Any
    ) -> Any:
        return (task, attempt, str(e), str(by), str(reason), str(note), str(actor), skip)

    rows = Counter(
        what(
            *keys.get(int(r["draw_id"]), ("?", 0)),
            r["entity_id"],
            r["replaced_by"],
            r["reason"],
            r["note"],
            r["actor"],
            _skipped(r.get("skipped") or "[]"),
        )
        for r in tables.replacements
    )
    logged = Counter(
        what(
            *_draw_key(e.payload),
            e.payload.get("entity"),
            e.payload.get("by"),
            e.payload.get("reason"),
            e.payload.get("note", ""),
            e.actor,
            _skipped(e.payload.get("skipped", [])),
        )
        for e in log.replacements
    )
    problems = []
    for (task, attempt, entity, by, reason, *_), n in sorted((rows - logged).items()):
        problems.append(
            RecordProblem(
                "replacements",
                f"task {task} attempt {attempt} entity {entity}",
                f"{n} row(s) replacing it by {by} ({reason}) that no replacement event logged",
            )
        )
    for (task, attempt, entity, by, reason, *_), n in sorted((logged - rows).items()):
        problems.append(
            RecordProblem(
                "replacements",
                f"task {task} attempt {attempt} entity {entity}",
                f"{n} logged replacement(s) by {by} ({reason}) missing from the table",
            )
        )
    return problems


def _skipped(value: Any) -> str:
    """The passed-over alternates of a replacement, stored (JSON text) or logged, as one text."""
    try:
        items = json.loads(value) if isinstance(value, str) else value
        return ",".join(f"{x['id']}@{x['task']}" for x in items)
    except (TypeError, KeyError, ValueError):
        return f"unreadable: {str(value)[:80]}"


def _result_dict(r: Mapping[str, Any]) -> dict[str, Any]:
    def day(v: Any) -> str:
        return v.isoformat() if isinstance(v, date) else str(v)

    return {
        "task": r["task"],
        "entity": r["entity_id"],
        "item": r["item"],
        "categories": _loads(r["categories"]),
        "follow_up": r["follow_up"],
        "inspection_start": day(r["inspection_start"]),
        "inspection_end": day(r["inspection_end"]),
        "inspectors": _loads(r["inspectors"]),
        "recorded_by": r["recorded_by"],
        "recorded_at": r["recorded_at"],
        "version": r["version"],
        "correction_reason": r["correction_reason"],
    }


def _loads(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def result_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """Every ``results`` row equals the payload of its ``result.record``/``result.correct``
    event (field by field), and every such event has its row."""

    def compare(name: str, r: Mapping[str, Any], event: AuditEvent) -> list[RecordProblem]:
        return _field_problems("results", name, _result_dict(r), event)

    def key_of(r: Mapping[str, Any]) -> tuple[str, str, str, int]:
        return str(r["task"]), str(r["entity_id"]), str(r["item"]), int(r["version"])

    return _both_ways("results", tables.results, log.results, key_of, _result_key, compare)


def _result_key(k: tuple[str, str, str, int]) -> str:
    return f"task {k[0]} entity {k[1]} item {k[2]} version {k[3]}"


def _missing_rows(
    table: str, logged: Mapping[Any, AuditEvent], seen: set[Any], name: Any = str
) -> list[RecordProblem]:
    """A problem for every logged key that has no row in ``table`` (``name`` renders a key)."""
    return [
        RecordProblem(table, name(key), f"logged by event {event.seq}, missing from the table")
        for key, event in logged.items()
        if key not in seen
    ]


Compare = Callable[[str, Mapping[str, Any], AuditEvent], list[RecordProblem]]


def _both_ways(
    table: str,
    rows: Iterable[Mapping[str, Any]],
    logged: Mapping[Any, AuditEvent],
    key_of: Callable[[Mapping[str, Any]], Any],
    name_of: Callable[[Any], str],
    compare: Compare,
) -> list[RecordProblem]:
    """Each row against the event logged for its key (``compare``), a row no event logged,
    and a logged key without its row: the shape of every row-by-row check here."""
    problems, seen = [], set()
    for r in rows:
        key = key_of(r)
        seen.add(key)
        event = logged.get(key)
        if event is None:
            problems.append(RecordProblem(table, name_of(key), "no event logged this row"))
        else:
            problems += compare(name_of(key), r, event)
    return problems + _missing_rows(table, logged, seen, name_of)


def publication_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """``publications`` rows against ``publication`` events both ways (date, person, due
    date), and each published snapshot's items against the logged result versions."""

    def compare(name: str, r: Mapping[str, Any], event: AuditEvent) -> list[RecordProblem]:
        snapshot = _loads(r["snapshot"])
        snapshot = snapshot if isinstance(snapshot, dict) else {}
        stored = {
            "published": _day(r["published"]),
            "published_by": r["published_by"],
            "due": snapshot.get("due"),
        }
        logged = {
            "published": event.payload.get("published"),
            "published_by": event.actor,
            "due": event.payload.get("due"),
        }
        key = (str(r["task"]), str(r["entity_id"]))
        return [
            RecordProblem("publications", name, f"{f} " + _differ(stored[f], logged[f]))
            for f in stored
            if stored[f] != logged[f]
        ] + _snapshot_problems(name, key, snapshot, log)

    def key_of(r: Mapping[str, Any]) -> tuple[str, str]:
        return str(r["task"]), str(r["entity_id"])

    def name_of(k: tuple[str, str]) -> str:
        return f"task {k[0]} entity {k[1]}"

    return _both_ways(
        "publications", tables.publications, log.publications, key_of, name_of, compare
    )


def _snapshot_problems(
    name: str, key: tuple[str, str], snapshot: Mapping[str, Any], log: LogIndex
) -> list[RecordProblem]:
    problems = []
    for item in snapshot.get("items", []):
        event = log.results.get((*key, str(item.get("item")), int(item.get("version", 0) or 0)))
        if event is None:
            problems.append(
                RecordProblem(
                    "publications",
                    name,
                    f"published item {item.get('item')} version {item.get('version')} "
                    "has no result event",
                )
            )
            continue
        for field in ("categories", "follow_up", "inspection_start", "inspection_end"):
            if canonical_json(item.get(field)) != canonical_json(event.payload.get(field)):
                problems.append(
                    RecordProblem(
                        "publications",
                        name,
                        f"published {field} of item {item.get('item')} "
                        + _differ(item.get(field), event.payload.get(field)),
                    )
                )
    return problems


def policy_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """Each ``policies`` row: its TOML re-hashes to its key, a ``policy.version`` event logged
    that hash (with the same name and version); each such event has its row."""

    def compare(name: str, r: Mapping[str, Any], event: AuditEvent) -> list[RecordProblem]:
        fields: dict[str, Any] = {f: r[f] for f in ("name", "version") if f in event.payload}
        return _field_problems("policies", name, fields, event)

    problems = [_rehash_problem(r) for r in tables.policies]
    return [p for p in problems if p is not None] + _both_ways(
        "policies", tables.policies, log.policies, lambda r: str(r["hash"]), str, compare
    )


def _rehash_problem(r: Mapping[str, Any]) -> RecordProblem | None:
    key = str(r["hash"])
    try:
        computed = Policy.from_toml(r["toml"], source=f"policy {key[:12]}").content_hash
    except ValueError as exc:
        computed = f"(not a policy: {str(exc)[:200]})"
    if computed == key:
        return None
    return RecordProblem(
        "policies",
        key,
        f"the stored TOML hashes to {computed}, not to its key: the policy text was changed "
        "after it was saved",
    )


def category_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """``result_categories`` rows against ``category.change`` events, both ways."""

    def compare(name: str, r: Mapping[str, Any], event: AuditEvent) -> list[RecordProblem]:
        fields = {f: r[f] for f in ("label_zh", "label_en", "kind")}
        return _field_problems("result_categories", name, fields, event)

    return _both_ways("result_categories", tables.categories, log.categories, _code, str, compare)


def _code(r: Mapping[str, Any]) -> str:
    return str(r["code"])


def _field_problems(
    table: str, key: str, stored: Mapping[str, Any], event: AuditEvent
) -> list[RecordProblem]:
    """A problem per field of ``stored`` whose canonical JSON differs from the event's."""
    return [
        RecordProblem(
            table,
            key,
            f"{field} " + _differ(value, event.payload.get(field)) + f" (event {event.seq})",
        )
        for field, value in stored.items()
        if canonical_json(value) != canonical_json(event.payload.get(field))
    ]


def _day(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def task_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """Each ``tasks`` row (population, dates, ratio, items…) equals its latest
    ``task.create``/``task.change`` event; each logged task has its row."""

    def compare(name: str, r: Mapping[str, Any], event: AuditEvent) -> list[RecordProblem]:
        stored = {
            "code": r["code"],
            "plan": r["plan"],
            "name": r["name"],
            "departments": _loads(r["departments"]),
            "items": _loads(r["items"]),
            "start": _day(r["start"]),
            "end": _day(r["end"]),
            "population": _loads(r["population"]),
            "ratio": r["ratio"],
        }
        return _field_problems("tasks", name, stored, event)

    return _both_ways("tasks", tables.tasks, log.tasks, _code, str, compare)


def item_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """Each ``items`` row (一单: key item, default ratio, frequency…) equals its latest
    ``item.change`` event; each logged item has its row."""

    def compare(name: str, r: Mapping[str, Any], event: AuditEvent) -> list[RecordProblem]:
        stored = {k: v for k, v in r.items() if k != "required_qualifications"}
        problems = _field_problems("items", name, stored, event)
        wanted = sorted(q for q in str(r["required_qualifications"]).split("|") if q)
        logged = sorted(event.payload.get("required_qualifications") or [])
        if wanted != logged:
            what = "required_qualifications " + _differ(wanted, logged)
            problems.append(RecordProblem("items", name, what))
        return problems

    return _both_ways("items", tables.items, log.items, _code, str, compare)


def import_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """Each ``imports`` row (what was imported, how many rows, its digest) equals its import
    event; each import event has its row."""

    def compare(name: str, r: Mapping[str, Any], event: AuditEvent) -> list[RecordProblem]:
        p = event.payload
        logged = {
            "kind": p.get("kind", "conflicts"),
            "rows": p.get("rows"),
            "mode": p.get("mode", "add"),
            "digest": p.get("digest"),
            "source": str(p.get("source", ""))[:500],
            "actor": event.actor,
        }
        return [
            RecordProblem("imports", name, f"{f} " + _differ(r[f], logged[f]))
            for f in logged
            if r[f] != logged[f]
        ]

    return _both_ways("imports", tables.imports, log.imports, lambda r: int(r["id"]), str, compare)


def frozen_pool_problems(log: LogIndex) -> list[RecordProblem]:
    """Each freeze's entity pool against the state the imports before it left: a status set by
    SQL before a freeze and set back after it leaves the table matching the log again, but not
    the freeze's own record of the pool it read."""
    problems = []
    for freeze, last in log.frozen_pools:
        p = freeze.payload
        logged = last.payload.get("state") if last is not None else None
        if logged is not None and p["pool_state"] != logged:
            problems.append(
                RecordProblem(
                    "entities",
                    f"freeze of task {p.get('task')} attempt {p.get('attempt')}",
                    f"the pool the freeze read (state {str(p['pool_state'])[:16]}…) is not the "
                    f"pool the imports before it left (event {last.seq if last else 0}): "
                    "entities were changed outside the library around the freeze",
                )
            )
    return problems


def pool_problems(tables: RecordTables, log: LogIndex) -> list[RecordProblem]:
    """Each pool table's recomputed SSJ-POOL-STATE-1 against the state its last import logged."""
    problems = []
    for table, (state, rows) in sorted(tables.pool_states.items()):
        event = log.pool_states.get(table)
        if event is None:
            if rows:
                problems.append(
                    RecordProblem(
                        table,
                        "whole table",
                        f"{rows} rows, but no import event logs the table's state (it was "
                        "written by a version without pool state digests, or outside the "
                        "library); re-import the pool to put its state on record",
                    )
                )
            continue
        logged, logged_rows = event.payload.get("state"), event.payload.get("state_rows")
        if state.hex != logged or rows != logged_rows:
            problems.append(
                RecordProblem(
                    table,
                    "whole table",
                    f"state {state.hex} over {rows} rows, but the last import (event "
                    f"{event.seq}) left {logged} over {logged_rows} rows: rows were inserted, "
                    "deleted or changed outside the library",
                )
            )
    return problems
