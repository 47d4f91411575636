"""The audit trail (全程留痕): an append-only, hash-chained log of events.

Every step of the regime — importing a pool, changing a plan, committing to a seed, drawing,
assigning teams, recording and publishing results — is recorded as an :class:`AuditEvent`
attributable to a person (谁检查、谁录入、谁公开). Each event carries the hash of the one before
it, so changing, deleting, inserting or reordering an event breaks the chain at a place that
:func:`verify_chain` names. An outsider can re-check an exported log with nothing but SHA-256 and
a JSON parser; the rules below, with canonical JSON, are the whole specification.

Events are hashed and exported as canonical JSON (:mod:`shuangsuiji.canonical`).

**The chain.** Event ``seq`` (1, 2, 3, … without gaps) has::

    hash = lower-hex SHA-256( canonical_json({"seq": seq, "time": time, "actor": actor,
                                              "kind": kind, "payload": payload,
                                              "prev_hash": prev_hash}) )

where ``prev_hash`` is the ``hash`` of event ``seq - 1``, and for the first event the genesis
value :data:`GENESIS_HASH`, 64 zeros. ``time`` is an ISO-8601 UTC timestamp ending in ``Z``
(``2025-03-01T09:30:00Z``, optionally with 1–6 fraction digits) supplied by the caller — this
module never reads a clock — and must not go backwards along the chain. ``kind`` is one of
:data:`EVENT_KINDS` or an agency-defined kind starting with ``x.`` (``x.training``).

>>> e1 = next_event(None, time="2025-03-01T09:30:00Z", actor="张三", kind="pool.import",
...                 payload={"pool": "entities", "digest": "ab" * 32, "rows": 1200})
>>> e2 = next_event(e1, time="2025-03-01T09:31:00Z", actor="李四", kind="seed.commit",
...                 payload={"task": "T2025-01", "commitment": "cd" * 32})
>>> e2.seq, e2.prev_hash == e1.hash
(2, True)
>>> verify_chain([e1, e2])
[]
>>> forged = {**e2.to_dict(), "actor": "王五"}
>>> [p.code for p in verify_chain([e1, forged])]
['bad_hash']

**JSON Lines export** (:func:`dumps_jsonl`): one event per line, each line the canonical JSON
of the object ``{actor, hash, kind, payload, prev_hash, seq, time}`` (payload as a nested
object), lines ending in ``\\n``. The store keeps the same fields in the table
``audit_events``, with ``payload`` as its canonical JSON text.

**What a chain proves.** The hashes make any single change detectable, but someone able to
rewrite the whole log can recompute every hash after the event they changed, and deleting the
newest events leaves a valid shorter chain. Publish or print the head (the last ``seq`` and its
``hash``, as the HTML draw record does) and pass such anchors to :func:`verify_chain` as
``checkpoints``: a rewritten or truncated log no longer contains them.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import attrs

from shuangsuiji.canonical import (
    MAX_SAFE_INTEGER,
    AuditError,
    CanonicalJsonError,
    canonical_json,
    parse_json,
)

__all__ = [
    "EVENT_KINDS",
    "GENESIS_HASH",
    "MAX_SAFE_INTEGER",
    "AuditError",
    "AuditEvent",
    "CanonicalJsonError",
    "ChainProblem",
    "InvalidEvent",
    "JsonlSyntaxError",
    "ProblemCode",
    "canonical_json",
    "dumps_jsonl",
    "event_hash",
    "format_utc",
    "loads_jsonl",
    "next_event",
    "verify_chain",
    "verify_jsonl",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event of a chain: 64 zeros."""

EVENT_KINDS: Mapping[str, str] = {
    "department.change": "部门变更 a department taking part in inspections was added or renamed",
    "regions.change": "区划名称变更 region names shown on official pages were added or renamed",
    "pool.import": "导入名录库 a pool (entities, inspectors) was imported; payload has its digest",
    "pool.change": "名录库变更 single entities or inspectors were added, changed or deactivated",
    "conflict.change": "回避关系变更 declared conflicts of interest were added or withdrawn",
    "item.change": "抽查事项清单变更 an inspection item (一单) was created or changed",
    "plan.change": "抽查计划变更 the annual plan (一表) was created or changed",
    "task.create": "创建抽查任务 an inspection task was created",
    "task.change": "抽查任务变更 a task's items, population, ratios or dates changed",
    "policy.version": "实施细则版本 a policy (一细则) version and its content hash",
    "seed.commit": "种子承诺 the hash of the seed, or the public source it will come from",
    "seed.reveal": "种子公开 the seed itself (or the public values it was formed from)",
    "seed.public.declare": "公告公开随机源 the public values to come (lottery, beacon) and dates",
    "seed.public.values": "录入公开随机值 the declared public values, as published",
    "candidates.freeze": "冻结候选名单 the candidate set, its pool digest and exclusions",
    "draw.announce": "抽取前公告 the commitments, pool digest and log head, before any reveal",
    "draw.abandon": "放弃本次抽取 a frozen attempt abandoned with reason and approval",
    "draw": "抽取 entities selected, with alternates",
    "draw.error": "抽取失败 a draw was attempted and refused; only this event records it",
    "redraw": "重新抽取 a second draw of a task, with its recorded reason",
    "replacement": "替补 a selected entity replaced by its stratum's next alternate, with reason",
    "teams.freeze": "冻结检查人员条件 the staffing of the team draw and its digest",
    "teams.seed.commit": "检查组种子承诺 a team-seed party's commitment",
    "teams.seed.reveal": "检查组种子公开 a team-seed party's contribution",
    "teams.assign": "分配检查组 inspectors assigned to the selected entities",
    "teams.change.request": "检查组变更申请 a change of a team asked for; the system commits",
    "teams.change.witness": "检查组变更见证 a witness's value for a pending change of a team",
    "teams.change.withdraw": "撤回检查组变更 a pending change withdrawn, with reason",
    "teams.reassign": "调整检查组 a team changed after assignment, with reason",
    "annex.export": "导出检查人员附件 the sealed staffing annex (personal data) was handed out",
    "approval.request": "申请批准 approval asked of a second person (redraw, abandon, backdate)",
    "approval.grant": "批准 an approval request granted by someone other than the requester",
    "approval.withdraw": "撤回批准申请 an approval request withdrawn before it was used",
    "category.change": "结果类别变更 an agency result category was added",
    "result.record": "录入检查结果 an inspection result was recorded",
    "result.correct": "更正检查结果 a recorded result was corrected, with reason",
    "publication": "公示 a plan, task or result announcement was published",
    "correction": "更正 a correction to an earlier event (which stays in the log), with reason",
}
"""The standard event kinds and what each records (Chinese term, then English).

Agencies add their own kinds with the prefix ``x.`` followed by lower-case letters, digits,
``_``, ``-`` or ``.`` (``x.training``, ``x.leader-approval``), at most 64 characters.
"""

_AGENCY_KIND_RE = re.compile(r"^x\.[a-z0-9][a-z0-9_.\-]{0,61}$")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_FIELDS = ("seq", "time", "actor", "kind", "payload", "prev_hash", "hash")
_MAX_ACTOR = 200

ProblemCode = Literal[
    "malformed",
    "unknown_kind",
    "bad_hash",
    "broken_link",
    "seq_gap",
    "seq_duplicate",
    "seq_order",
    "time_backwards",
    "checkpoint",
    "not_canonical",
]
"""What :func:`verify_chain` found wrong (see :class:`ChainProblem`)."""


class InvalidEvent(AuditError):
    """An event field is malformed, or an event would break its chain; names the field."""


class JsonlSyntaxError(AuditError):
    """A JSON Lines log could not be parsed; ``line`` is the 1-based line number at fault."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


# -- events -----------------------------------------------------------------------------------


def format_utc(moment: datetime) -> str:
    """Format an aware datetime as the audit timestamp: ISO-8601, UTC, ``Z`` suffix.

    Microseconds are written (six digits) only when non-zero.

    >>> from datetime import timedelta, timezone
    >>> format_utc(datetime(2025, 3, 1, 17, 30, tzinfo=timezone(timedelta(hours=8))))
    '2025-03-01T09:30:00Z'
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidEvent(
            f"time {moment.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. datetime.now(timezone.utc)) so the log records an unambiguous instant"
        )
    utc = moment.astimezone(UTC)
    spec = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(spec)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value[:-1] + "+00:00")


def _seq_problem(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"must be an integer, got {type(value).__name__} {value!r}"
    if not 1 <= value <= MAX_SAFE_INTEGER:
        return f"must be between 1 and 2**53 - 1, got {value}"
    return None


def _time_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not _TIME_RE.match(value):
        return (
            f"must be an ISO-8601 UTC timestamp like '2025-03-01T09:30:00Z' "
            f"(optionally .ffffff before the Z), got {value!r}"
        )
    try:
        _parse_time(value)
    except ValueError as exc:
        return f"{value!r} is not a real instant: {exc}"
    return None


def _actor_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"must name the responsible person (non-empty text), got {value!r}"
    if value != value.strip() or len(value) > _MAX_ACTOR:
        return f"must have no surrounding whitespace and at most {_MAX_ACTOR} characters"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"contains a control character: {value!r}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"contains a lone surrogate: {value!r}"
    return None


def _kind_problem(value: Any) -> str | None:
    if isinstance(value, str) and (value in EVENT_KINDS or _AGENCY_KIND_RE.match(value)):
        return None
    return (
        f"{value!r} is not a known event kind; use one of {', '.join(EVENT_KINDS)} "
        "or an agency kind starting with 'x.' (lower-case letters, digits, _ - .)"
    )


def _payload_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"must be a JSON object (dict), got {type(value).__name__}"
    try:
        canonical_json(value)
    except CanonicalJsonError as exc:
        return str(exc)
    return None


def _hash_problem(value: Any) -> str | None:
    if isinstance(value, str) and _HEX64_RE.match(value):
        return None
    return f"must be 64 lower-case hex digits (a SHA-256), got {value!r}"


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "seq": _seq_problem,
    "time": _time_problem,
    "actor": _actor_problem,
    "kind": _kind_problem,
    "payload": _payload_problem,
    "prev_hash": _hash_problem,
    "hash": _hash_problem,
}


def _validator(name: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    check = _CHECKS[name]

    def validate(_: Any, __: attrs.Attribute[Any], value: Any) -> None:
        problem = check(value)
        if problem is not None:
            raise InvalidEvent(f"audit event field {name!r} {problem}")

    return validate


def _own_payload(value: Any) -> Any:
    """A private deep copy, so later changes to the caller's dict cannot alter the event."""
    if not isinstance(value, dict):
        return value
    try:
        return parse_json(canonical_json(value).decode("utf-8"))
    except CanonicalJsonError as exc:
        raise InvalidEvent(f"audit event field 'payload': {exc}") from None


def event_hash(
    *, seq: int, time: str, actor: str, kind: str, payload: Mapping[str, Any], prev_hash: str
) -> str:
    """The hash of an event's content: lower-hex SHA-256 of its canonical JSON.

    >>> event_hash(seq=1, time="2025-03-01T09:30:00Z", actor="张三", kind="x.test",
    ...            payload={}, prev_hash=GENESIS_HASH)[:16]
    '11310fc38ea842cd'
    """
    content = {
        "seq": seq,
        "time": time,
        "actor": actor,
        "kind": kind,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(content)).hexdigest()


@attrs.frozen
class AuditEvent:
    """One event of the audit trail; every field is validated at construction.

    Make new events with :func:`next_event`, which sets ``seq``, ``prev_hash`` and ``hash``.
    Construction checks the form of each field but not the hash, so that events read back
    from a store or a file can be examined; :func:`verify_chain` checks hashes and links.
    ``payload`` is the event's own copy: treat it as read-only (a changed payload no longer
    matches ``hash``, and :func:`verify_chain` says so).

    >>> e = next_event(None, time="2025-03-01T09:30:00Z", actor="张三", kind="x.test",
    ...                payload={"note": "试运行"})
    >>> AuditEvent.from_dict(e.to_dict()) == e
    True
    >>> e.payload_json
    '{"note":"试运行"}'
    """

    seq: int = attrs.field(validator=_validator("seq"))
    time: str = attrs.field(validator=_validator("time"))
    actor: str = attrs.field(validator=_validator("actor"))
    kind: str = attrs.field(validator=_validator("kind"))
    payload: dict[str, Any] = attrs.field(
        converter=_own_payload, validator=_validator("payload"), hash=False
    )
    prev_hash: str = attrs.field(validator=_validator("prev_hash"))
    hash: str = attrs.field(validator=_validator("hash"))

    @property
    def payload_json(self) -> str:
        """The payload's canonical JSON text (the ``audit_events.payload`` column)."""
        return canonical_json(self.payload).decode("utf-8")

    def computed_hash(self) -> str:
        """The hash this event's content should carry (compare with :attr:`hash`)."""
        return event_hash(
            seq=self.seq,
            time=self.time,
            actor=self.actor,
            kind=self.kind,
            payload=self.payload,
            prev_hash=self.prev_hash,
        )

    def to_dict(self) -> dict[str, Any]:
        """The event as a plain dict with the seven fields (payload as a nested dict)."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> AuditEvent:
        """Build an event from a mapping with exactly the seven fields.

        ``payload`` may be a dict or its JSON text (as stored in ``audit_events.payload``).
        Raises :class:`InvalidEvent` naming a missing, unexpected or malformed field.
        """
        problems = _row_problems(row)
        if problems:
            field, message = problems[0]
            raise InvalidEvent(f"audit event field {field!r} {message}")
        return cls(
            **{
                name: _payload_value(row[name]) if name == "payload" else row[name]
                for name in _FIELDS
            }
        )


def _payload_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return parse_json(value)
        except ValueError:
            return value
    return value


def _row_problems(row: Any) -> list[tuple[str, str]]:
    """(field, message) for every structural problem of one row; [] if it is well-formed."""
    if not isinstance(row, Mapping):
        return [("", f"is not an object with the fields {', '.join(_FIELDS)}")]
    problems: list[tuple[str, str]] = []
    for name in _FIELDS:
        if name not in row:
            problems.append((name, "is missing"))
            continue
        value = row[name]
        if name == "payload" and isinstance(value, str):
            try:
                value = parse_json(value)
            except ValueError as exc:
                problems.append((name, f"text is not valid JSON: {exc}"))
                continue
        problem = _CHECKS[name](value)
        if problem is not None:
            problems.append((name, problem))
    problems.extend(
        (str(extra), "is not an audit event field (only the seven hashed fields may appear)")
        for extra in row
        if extra not in _FIELDS
    )
    return problems


def next_event(
    prev: AuditEvent | None,
    *,
    time: str,
    actor: str,
    kind: str,
    payload: Mapping[str, Any],
) -> AuditEvent:
    """The event that follows ``prev`` (or the first event of a chain when ``prev`` is None).

    Raises :class:`InvalidEvent` if a field is malformed or ``time`` is earlier than
    ``prev.time`` (the caller passes the time; this module never reads a clock).

    >>> first = next_event(None, time="2025-03-01T09:30:00Z", actor="张三",
    ...                    kind="task.create", payload={"task": "T1"})
    >>> first.seq, first.prev_hash == GENESIS_HASH
    (1, True)
    >>> next_event(first, time="2025-03-01T09:00:00Z", actor="张三", kind="draw",
    ...            payload={})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.audit.InvalidEvent: audit event field 'time' 2025-03-01T09:00:00Z is earlier ...
    """
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS_HASH if prev is None else prev.hash
    for name, value in (("time", time), ("actor", actor), ("kind", kind)):
        problem = _CHECKS[name](value)
        if problem is not None:
            raise InvalidEvent(f"audit event field {name!r} {problem}")
    if prev is not None and _parse_time(time) < _parse_time(prev.time):
        raise InvalidEvent(
            f"audit event field 'time' {time} is earlier than the previous event's "
            f"{prev.time} (seq {prev.seq}); pass the current UTC time"
        )
    own = _own_payload(dict(payload) if isinstance(payload, Mapping) else payload)
    problem = _payload_problem(own)
    if problem is not None:
        raise InvalidEvent(f"audit event field 'payload' {problem}")
    return AuditEvent(
        seq=seq,
        time=time,
        actor=actor,
        kind=kind,
        payload=own,
        prev_hash=prev_hash,
        hash=event_hash(
            seq=seq, time=time, actor=actor, kind=kind, payload=own, prev_hash=prev_hash
        ),
    )


# -- verification -------------------------------------------------------------------------------


@attrs.frozen
class ChainProblem:
    """One thing :func:`verify_chain` found wrong.

    ``index`` is the 0-based position of the row in the input (the number of rows for a
    missing checkpoint), ``line`` its 1-based line in a JSON Lines file (when verified from
    one), ``seq`` the row's sequence number when readable,
    ``field`` the field at fault (``""`` for the row as a whole) and ``code`` one of:

    - ``malformed``: a field is missing, unexpected or of the wrong form, or a line is not JSON;
    - ``unknown_kind``: ``kind`` is neither a standard kind nor an ``x.`` agency kind;
    - ``bad_hash``: ``hash`` is not the SHA-256 of the event's content (the content or the
      hash was changed after the event was written);
    - ``broken_link``: ``prev_hash`` is not the previous row's ``hash`` (an event was
      deleted, inserted or moved, or ``prev_hash`` was changed);
    - ``seq_gap`` / ``seq_duplicate`` / ``seq_order``: sequence numbers missing, repeated or
      not ascending;
    - ``time_backwards``: ``time`` is earlier than the previous row's;
    - ``checkpoint``: a published anchor ``(seq, hash)`` is missing or differs;
    - ``not_canonical``: a JSON Lines row is valid but not byte-for-byte canonical JSON.
    """

    index: int
    seq: int | None
    field: str
    code: ProblemCode
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"row {self.index}"
        if self.seq is not None:
            where += f" (seq {self.seq})"
        if self.field:
            where += f", field {self.field!r}"
        return f"{where}: {self.code}: {self.message}"


@attrs.frozen
class _Row:
    """What verification needs from one readable row (None where a field is malformed)."""

    index: int
    line: int | None
    seq: int | None
    time: datetime | None
    prev_hash: str | None
    stored_hash: str | None
    computed_hash: str | None

    def problem(self, field: str, code: ProblemCode, message: str) -> ChainProblem:
        return ChainProblem(self.index, self.seq, field, code, message, self.line)


_UNREADABLE: Any = object()
"""Stands for a JSON Lines row that could not be parsed (already reported by the caller)."""


def _content_hash(row: Mapping[str, Any]) -> str | None:
    """The hash of a row's content when all of it is present and JSON-encodable, else None."""
    if any(name not in row for name in _FIELDS[:-1]):
        return None
    content = {name: row[name] for name in _FIELDS[:-1]}
    content["payload"] = _payload_value(content["payload"])
    try:
        return event_hash(**content)
    except CanonicalJsonError:
        return None


def _examine(index: int, raw: Any, line: int | None) -> tuple[_Row | None, list[ChainProblem]]:
    if raw is _UNREADABLE:
        return None, []
    row = raw.to_dict() if isinstance(raw, AuditEvent) else raw
    problems = _row_problems(row)
    if problems and problems[0][0] == "":
        return None, [ChainProblem(index, None, "", "malformed", problems[0][1], line)]
    bad = {field for field, _ in problems}
    parsed = _Row(
        index=index,
        line=line,
        seq=row["seq"] if "seq" not in bad else None,
        time=_parse_time(row["time"]) if "time" not in bad else None,
        prev_hash=row["prev_hash"] if "prev_hash" not in bad else None,
        stored_hash=row["hash"] if "hash" not in bad else None,
        computed_hash=_content_hash(row),
    )
    found = [
        parsed.problem(field, "unknown_kind" if field == "kind" else "malformed", message)
        for field, message in problems
    ]
    return parsed, found


def verify_chain(
    events: Iterable[AuditEvent | Mapping[str, Any]],
    *,
    after: AuditEvent | Mapping[str, Any] | None = None,
    checkpoints: Iterable[tuple[int, str]] = (),
) -> list[ChainProblem]:
    """Check a chain of events; return every problem found (an empty list means it is intact).

    ``events`` are :class:`AuditEvent` values or mappings with the seven fields (``payload``
    as a dict or as its JSON text, as read from ``audit_events``), in log order. ``after`` is a
    trusted event the given events continue from (to verify the tail of a long log); without
    it the chain must start at seq 1 with :data:`GENESIS_HASH`. ``checkpoints`` are published
    anchors ``(seq, hash)`` that must appear unchanged, which catches a log rewritten or
    truncated after they were published.

    >>> a = next_event(None, time="2025-03-01T09:30:00Z", actor="张三", kind="x.a", payload={})
    >>> b = next_event(a, time="2025-03-01T09:31:00Z", actor="张三", kind="x.b", payload={})
    >>> c = next_event(b, time="2025-03-01T09:32:00Z", actor="张三", kind="x.c", payload={})
    >>> for problem in verify_chain([a, c]):
    ...     print(problem.seq, problem.field, problem.code)
    3 seq seq_gap
    3 prev_hash broken_link
    """
    return _sorted(_verify(list(events), None, after, checkpoints))


def _verify(
    raws: Sequence[Any],
    lines: Sequence[int | None] | None,
    after: AuditEvent | Mapping[str, Any] | None,
    checkpoints: Iterable[tuple[int, str]],
) -> list[ChainProblem]:
    rows: list[_Row | None] = []
    problems: list[ChainProblem] = []
    for index, raw in enumerate(raws):
        row, found = _examine(index, raw, lines[index] if lines is not None else None)
        rows.append(row)
        problems.extend(found)
    first = _Row(-1, None, 0, None, None, GENESIS_HASH, None)
    if after is not None:
        anchor = after if isinstance(after, AuditEvent) else AuditEvent.from_dict(after)
        first = _Row(-1, None, anchor.seq, _parse_time(anchor.time), None, anchor.hash, None)
    readable = [row for row in rows if row is not None]
    problems.extend(_sequence_problems(rows, first))
    problems.extend(_hash_problems(rows))
    problems.extend(_link_problems([first, *rows]))
    problems.extend(_checkpoint_problems(readable, checkpoints, len(rows)))
    return problems


def _sorted(problems: list[ChainProblem]) -> list[ChainProblem]:
    order = {name: i for i, name in enumerate(("", *_FIELDS))}
    return sorted(problems, key=lambda p: (p.index, order.get(p.field, len(order)), p.code))


def _sequence_problems(rows: Sequence[_Row | None], first: _Row) -> list[ChainProblem]:
    """Duplicates and descents in log order, then gaps in the set of seq numbers.

    A gap is not reported when as many unreadable rows (already reported as malformed) sit in
    the log where the missing events would be.
    """
    problems: list[ChainProblem] = []
    seen: dict[int, _Row] = {}
    unreadable = [i for i, row in enumerate(rows) if row is None or row.seq is None]
    last_seq: int | None = None
    for row in rows:
        if row is None or row.seq is None:
            continue
        if row.seq in seen:
            message = f"seq {row.seq} already appears at row {seen[row.seq].index}"
            problems.append(row.problem("seq", "seq_duplicate", message + ": duplicated?"))
        elif last_seq is not None and row.seq < last_seq:
            message = f"seq {row.seq} comes after seq {last_seq}: events were reordered"
            problems.append(row.problem("seq", "seq_order", message))
        seen.setdefault(row.seq, row)
        last_seq = row.seq
    assert first.seq is not None
    previous, previous_index = first.seq, -1
    for seq in sorted(seen):
        row = seen[seq]
        if seq <= first.seq:
            message = f"seq {seq} is not after the anchor event's seq {first.seq}"
            problems.append(row.problem("seq", "seq_gap", message))
            continue
        hidden = bisect.bisect_left(unreadable, row.index) - bisect.bisect_right(
            unreadable, previous_index
        )
        if seq - previous - 1 > max(hidden, 0):
            missing = (
                f"seq {previous + 1}" if seq == previous + 2 else (f"seq {previous + 1}..{seq - 1}")
            )
            message = f"event {missing} missing before seq {seq} (deleted?)"
            problems.append(row.problem("seq", "seq_gap", message))
        previous, previous_index = max(previous, seq), row.index
    return problems


def _short(value: str) -> str:
    return value[:12] + "…"


def _hash_problems(rows: Sequence[_Row | None]) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    for row, following in zip(rows, [*rows[1:], None][: len(rows)], strict=True):
        if row is None or row.stored_hash is None or row.computed_hash is None:
            continue
        if row.stored_hash == row.computed_hash:
            continue
        if following is not None and following.prev_hash == row.computed_hash:
            culprit = "the hash field itself was changed (the next event links to the true hash)"
        else:
            culprit = "a field of this event or its hash was changed after it was written"
        message = (
            f"stored hash {_short(row.stored_hash)} is not the SHA-256 of the event's content "
            f"({_short(row.computed_hash)}): {culprit}"
        )
        problems.append(row.problem("hash", "bad_hash", message))
    return problems


def _link_problems(rows: Sequence[_Row | None]) -> list[ChainProblem]:
    """prev_hash and time against the previous row; rows[0] is the genesis or anchor."""
    problems: list[ChainProblem] = []
    for before, row in itertools.pairwise(rows):
        if before is None or row is None:
            continue
        what = "the anchor" if before.index < 0 else "the previous row"
        if before.index < 0 and before.stored_hash == GENESIS_HASH:
            what = "the genesis value (64 zeros)"
        if (
            row.prev_hash is not None
            and before.stored_hash is not None
            and (row.prev_hash != before.stored_hash)
        ):
            message = (
                f"prev_hash {_short(row.prev_hash)} is not the hash of {what} "
                f"({_short(before.stored_hash)}): an event was deleted, inserted or moved "
                "here, or prev_hash was changed"
            )
            problems.append(row.problem("prev_hash", "broken_link", message))
        if row.time is not None and before.time is not None and row.time < before.time:
            message = f"{row.time.isoformat()} is earlier than {what}'s {before.time.isoformat()}"
            problems.append(row.problem("time", "time_backwards", message))
    return problems


def _checkpoint_problems(
    rows: Sequence[_Row], checkpoints: Iterable[tuple[int, str]], n_rows: int
) -> list[ChainProblem]:
    by_seq = {row.seq: row for row in rows if row.seq is not None}
    problems: list[ChainProblem] = []
    for seq, expected in checkpoints:
        row = by_seq.get(seq)
        if row is None:
            message = (
                f"the published checkpoint seq {seq} (hash {_short(expected)}) is not in the "
                "log: the log was truncated or rewritten"
            )
            problems.append(ChainProblem(n_rows, seq, "seq", "checkpoint", message))
        elif row.stored_hash != expected:
            message = (
                f"hash differs from the published checkpoint {_short(expected)}: the log up "
                "to here was rewritten after the checkpoint was published"
            )
            problems.append(row.problem("hash", "checkpoint", message))
    return problems


# -- JSON Lines ---------------------------------------------------------------------------------


def dumps_jsonl(events: Iterable[AuditEvent | Mapping[str, Any]]) -> str:
    """Export events as JSON Lines: one canonical JSON object per line, each ending in ``\\n``.

    Mappings (rows read from ``audit_events``, payload as JSON text) are written as they are
    stored, without validation, so that a damaged log can still be exported and
    :func:`verify_jsonl` can say what is wrong with it.

    >>> e = next_event(None, time="2025-03-01T09:30:00Z", actor="张三", kind="x.a", payload={})
    >>> dumps_jsonl([e]).startswith('{"actor":"张三","hash":"')
    True
    """
    lines = []
    for event in events:
        if isinstance(event, AuditEvent):
            row = event.to_dict()
        else:
            row = dict(event)
            if "payload" in row:
                row["payload"] = _payload_value(row["payload"])
        lines.append(canonical_json(row).decode("utf-8") + "\n")
    return "".join(lines)


def _decode(raw: bytes) -> tuple[str | None, str]:
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        return None, f"byte {exc.start + 1} of the line is not valid UTF-8"


def _split_lines(text: str | bytes) -> list[tuple[int, str | None, str]]:
    """(line number, text or None if undecodable, decode error) for each non-blank line."""
    if isinstance(text, bytes):
        pieces = [_decode(raw) for raw in text.split(b"\n")]
    else:
        pieces = [(raw, "") for raw in text.split("\n")]
    return [
        (number, line, error)
        for number, (line, error) in enumerate(pieces, start=1)
        if line is None or line.strip()
    ]


def loads_jsonl(text: str | bytes) -> list[dict[str, Any]]:
    """Parse a JSON Lines audit log into one dict per event (blank lines are skipped).

    Parsing is strict: duplicate keys, NaN and Infinity are refused. Raises
    :class:`JsonlSyntaxError` with the line number of the first bad line. The rows are not
    checked as events; pass them to :func:`verify_chain` (or use :func:`verify_jsonl`).

    >>> loads_jsonl('{"seq":1}\\n\\n{"seq":2}\\n')
    [{'seq': 1}, {'seq': 2}]
    >>> loads_jsonl('{"seq":1}\\n{"seq":2,}\\n')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.audit.JsonlSyntaxError: line 2: not valid JSON: ...
    """
    rows: list[dict[str, Any]] = []
    for number, line, error in _split_lines(text):
        if line is None:
            raise JsonlSyntaxError(number, error)
        rows.append(_parse_line(number, line))
    return rows


def _parse_line(number: int, line: str) -> dict[str, Any]:
    try:
        value = parse_json(line)
    except ValueError as exc:
        raise JsonlSyntaxError(number, f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise JsonlSyntaxError(number, f"expected a JSON object, got {type(value).__name__}")
    return value


def verify_jsonl(
    text: str | bytes,
    *,
    canonical: bool = True,
    after: AuditEvent | Mapping[str, Any] | None = None,
    checkpoints: Iterable[tuple[int, str]] = (),
) -> list[ChainProblem]:
    """Verify an exported JSON Lines log; problems carry the line number.

    A line that cannot be parsed is reported (``malformed``) and the other lines are still
    checked. With ``canonical=True`` (the default) every line must also be exactly the
    canonical JSON :func:`dumps_jsonl` writes (``not_canonical`` otherwise), so that *any*
    change to the file is reported — even one that leaves every value the same, such as
    ``1e+16`` rewritten as ``1E+16``, which cannot affect a hash. Pass ``canonical=False`` to
    accept a log re-serialised by another JSON writer.

    >>> a = next_event(None, time="2025-03-01T09:30:00Z", actor="张三", kind="x.a", payload={})
    >>> verify_jsonl(dumps_jsonl([a]))
    []
    >>> [(p.line, p.code) for p in verify_jsonl(dumps_jsonl([a]).replace(":", ": ", 1))]
    [(1, 'not_canonical')]
    """
    rows: list[Any] = []
    lines: list[int | None] = []
    problems: list[ChainProblem] = []
    for number, line, error in _split_lines(text):
        index = len(rows)
        lines.append(number)
        rows.append(_UNREADABLE)
        if line is None:
            problems.append(ChainProblem(index, None, "", "malformed", error, number))
            continue
        try:
            rows[index] = row = _parse_line(number, line)
        except JsonlSyntaxError as exc:
            problems.append(ChainProblem(index, None, "", "malformed", exc.reason, number))
            continue
        if canonical and not _is_canonical_line(row, line):
            seq = row.get("seq") if _seq_problem(row.get("seq")) is None else None
            message = (
                "the line is valid JSON but not canonical (the exporter writes it "
                "differently): was the file edited or re-serialised?"
            )
            problems.append(ChainProblem(index, seq, "", "not_canonical", message, number))
    return _sorted(problems + _verify(rows, lines, after, checkpoints))


def _is_canonical_line(row: dict[str, Any], line: str) -> bool:
    try:
        return canonical_json(row).decode("utf-8") == line
    except CanonicalJsonError:
        return False
