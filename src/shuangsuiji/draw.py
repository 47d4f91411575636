"""SSJ-DRAW-1: the entity draw that anyone can replay from its published record.

The mathematics first. A secret or public seed and the task label give a 32-byte **key**::

    key = SHA-256( b"SSJ-DRAW-1" || 0x00 || utf8(task_label) || 0x00 || seed )

Every candidate gets a **ticket**, ``ticket(id) = SHA-256(key || utf8(id))``: 32 bytes that,
read as an unsigned big-endian number, are uniform on ``[0, 2**256)`` and independent of every
other candidate's ticket. In each stratum the ``n_s`` candidates with the smallest tickets are
selected, in ticket order, and the next ``m_s`` are the ordered **alternates**; ties (never seen
in practice) break by ``utf8(id)``. Because a ticket depends only on the key and the candidate's
own ID, the draw is *consistent* (as in Rivest's ``consistent_sampler``): it does not depend on
the order in which rows arrive, removing a candidate that was not selected changes nothing, and
removing a selected one lets the first alternate move up. Sizes come from a :class:`SizeRule`,
``n_s = min(N_s, max(min_s, ceil(r_s * N_s)))`` capped by ``max_s``, computed with exact
rationals so that ``0.07 * 100`` is 7, never 8.

The **pool digest** commits to the candidate set (IDs and strata) before the seed exists:
``SHA-256`` over the lines ``utf8(id) || 0x09 || utf8(stratum) || 0x0A`` sorted by ``utf8(id)``.

A second ticket scheme, :attr:`TicketScheme.CONSISTENT_SAMPLER`, orders candidates exactly as
Rivest's ``consistent_sampler.sampler(ids, seed=key.hex())`` does without replacement, so a draw
made in that mode can also be re-derived with that public tool. The full byte-level
specification, with worked examples, is ``docs/ssj-draw-1.md``.

Everything here is a pure function over arrays: no clock, no database, no global random state.
The one Python loop over the pool is the SHA-256 call per ticket.

>>> seed = bytes(range(32))
>>> d = draw_entities(["A1", "A2", "A3", "B1", "B2"], ["a", "a", "a", "b", "b"],
...                   SizeRule(count=1, alternates=1), task_label="demo", seed=seed)
>>> [(p.id, p.stratum) for p in d.selected]
[('A2', 'a'), ('B2', 'b')]
>>> [p.id for p in d.alternates]
['A1', 'B1']
>>> [p.id for p in d.replace("A2", ReplacementReason.DEREGISTERED_BEFORE_DRAW).active]
['B2', 'A1']
"""

from __future__ import annotations

import enum
import hashlib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.errors import InvalidInputError, RefusedError, UnknownKeyError

__all__ = [
    "DEFAULT_STRATUM",
    "MIN_SEED_BYTES",
    "SPEC",
    "Draw",
    "DrawInputError",
    "DuplicateIdError",
    "InvalidLabelError",
    "InvalidSizeRuleError",
    "MissingRuleError",
    "Pick",
    "Replacement",
    "ReplacementError",
    "ReplacementReason",
    "SizeRule",
    "Strata",
    "StratumSummary",
    "TicketScheme",
    "WeakSeedError",
    "check_label",
    "draw_entities",
    "draw_key",
    "pool_digest",
    "ratio_text",
    "seed_bytes",
    "skip_map",
    "stratum_summaries",
    "tickets",
]

SPEC = "SSJ-DRAW-1"
"""The name of this specification, recorded in every draw bundle."""

MIN_SEED_BYTES = 16
"""A seed has at least 128 bits."""

DEFAULT_STRATUM = "all"
"""The stratum label used when a draw is not stratified."""

BytesArray: TypeAlias = npt.NDArray[np.bytes_]
U8: TypeAlias = npt.NDArray[np.uint8]
U64: TypeAlias = npt.NDArray[np.uint64]
Rows: TypeAlias = npt.NDArray[np.intp]
IdsLike: TypeAlias = Sequence[str] | npt.NDArray[Any]
RatioLike: TypeAlias = Fraction | Decimal | int | float | str
FullKey: TypeAlias = Callable[[Rows], tuple[npt.NDArray[Any], ...]]

_DECIMAL_CHUNK = 10**9
_CS_DIGITS = 81  # 9 chunks of 9 decimal digits hold any 256-bit number (at most 78 digits)
_CS_MIN_DIGITS = 64  # consistent_sampler zero-pads the decimal digest to 64 digits
_CS_PREFIX_BITS = 30  # 10**9 - 1 < 2**30


class DrawInputError(InvalidInputError):
    """Bad input to a draw: the message says which value, where, and how to fix it."""


class WeakSeedError(DrawInputError):
    """The seed is shorter than :data:`MIN_SEED_BYTES` bytes or is not valid hex."""


class InvalidLabelError(DrawInputError):
    """A task label, stratum label or ID is empty or contains a control character."""


class InvalidSizeRuleError(DrawInputError):
    """A :class:`SizeRule` is inconsistent (e.g. ratio outside [0, 1], minimum above maximum)."""


class MissingRuleError(DrawInputError):
    """A stratum has candidates but no :class:`SizeRule`."""


class DuplicateIdError(DrawInputError):
    """An ID occurs more than once in a candidate set."""


class ReplacementError(RefusedError):
    """A replacement is impossible: the entity is not in the selection, or no alternate is left."""


class TicketScheme(enum.StrEnum):
    """How tickets are ordered; recorded in every bundle as ``ticket_scheme``.

    ``SSJ_DRAW_1`` (the default) orders by ``SHA-256(key || utf8(id))`` as an unsigned
    big-endian number. ``CONSISTENT_SAMPLER`` reproduces Rivest's ``consistent_sampler``
    (sampling without replacement, ``seed=key.hex()``): the digest is
    ``SHA-256(utf8(sha256_hex(utf8(key.hex()))) || utf8(id))`` and the order is that of the
    string ``reverse(decimal digits of the digest, zero-padded to 64))``.
    """

    SSJ_DRAW_1 = "ssj-draw-1"
    CONSISTENT_SAMPLER = "consistent_sampler"


class ReplacementReason(enum.StrEnum):
    """Why a selected entity is replaced by the next alternate of its stratum.

    ``OTHER`` needs an explanatory note.
    """

    DEREGISTERED_BEFORE_DRAW = "deregistered_before_draw"
    NOT_FOUND_AT_ADDRESS = "not_found_at_address"
    DUPLICATE_RECORD = "duplicate_record"
    OUTSIDE_JURISDICTION = "outside_jurisdiction"
    OTHER = "other"


def check_label(value: str, what: str) -> str:
    """Return ``value`` if it is a usable label (non-empty, no control characters).

    Labels are hashed with 0x00, 0x09 and 0x0A as separators, so those (and every other
    control character) are refused.

    >>> check_label("2025-抽查-001", "task label")
    '2025-抽查-001'
    >>> check_label("a\\tb", "label")
    Traceback (most recent call last):
    ...
    shuangsuiji.draw.InvalidLabelError: label 'a\\tb' has a control character U+0009; remove it
    """
    if not isinstance(value, str) or not value:
        raise InvalidLabelError(f"{what} must be a non-empty string, got {value!r}")
    bad = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise InvalidLabelError(
            f"{what} {value!r} has a control character U+{ord(bad):04X}; remove it"
        )
    return value


def seed_bytes(seed: bytes | str) -> bytes:
    """The seed as bytes: raw bytes, or lower/upper-case hex text; at least 16 bytes.

    >>> seed_bytes("00" * 16).hex()
    '00000000000000000000000000000000'
    >>> seed_bytes(b"short")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.draw.WeakSeedError: seed has 5 bytes, SSJ-DRAW-1 needs at least 16 (use ...)
    """
    if isinstance(seed, str):
        try:
            raw = bytes.fromhex(seed)
        except ValueError:
            raise WeakSeedError(f"seed {seed[:16]!r}... is not hexadecimal text") from None
    elif isinstance(seed, bytes | bytearray | memoryview):
        raw = bytes(seed)
    else:
        raise WeakSeedError(f"seed must be bytes or hex text, got {type(seed).__name__}")
    if len(raw) < MIN_SEED_BYTES:
        raise WeakSeedError(
            f"seed has {len(raw)} bytes, SSJ-DRAW-1 needs at least {MIN_SEED_BYTES} "
            "(use shuangsuiji.seeds.random_seed())"
        )
    return raw


def draw_key(task_label: str, seed: bytes | str) -> bytes:
    """``SHA-256(b"SSJ-DRAW-1" || 0x00 || utf8(task_label) || 0x00 || seed)``.

    >>> draw_key("demo", bytes(range(32))).hex()[:16]
    '4a25181a9d017043'
    """
    label = check_label(task_label, "task label").encode()
    return hashlib.sha256(SPEC.encode() + b"\x00" + label + b"\x00" + seed_bytes(seed)).digest()


def _ticket_prefix(key: bytes, scheme: TicketScheme) -> bytes:
    if scheme is TicketScheme.CONSISTENT_SAMPLER:
        return hashlib.sha256(key.hex().encode()).hexdigest().encode()
    return key


def id_array(ids: IdsLike) -> BytesArray:
    """IDs as a numpy ``S`` array of UTF-8 bytes, checked for empty IDs and control bytes."""
    if isinstance(ids, np.ndarray) and ids.dtype.kind == "S":
        arr = np.ascontiguousarray(ids.reshape(-1))
    else:
        values = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        encoded = [v if isinstance(v, bytes) else str(v).encode() for v in values]
        arr = np.array(encoded, dtype=bytes) if encoded else np.zeros(0, dtype="S1")
    if arr.size:
        view = arr.view(np.uint8).reshape(len(arr), arr.dtype.itemsize)
        # (byte - 1) wraps 0x00 (padding) to 0xFF, so this finds bytes 0x01-0x1F in one pass.
        control = bool(np.any((view - np.uint8(1)) < np.uint8(0x1F)))
        if control or bool(np.any(view[:, 0] == 0)):
            bad_rows = np.flatnonzero(((view > 0) & (view < 0x20)).any(axis=1) | (view[:, 0] == 0))
            row = int(bad_rows[0])
            raise InvalidLabelError(
                f"candidate ID at row {row} ({arr[row]!r}) is empty or contains a control "
                "character; canonicalise IDs with shuangsuiji.ids.canonical_id first"
            )
    return arr


def _digests(prefix: bytes, ids: BytesArray) -> U8:
    # The one Python loop over the pool. Copying a hash state that has absorbed the prefix
    # is faster than hashing prefix + id afresh.
    copy = hashlib.sha256(prefix).copy
    out: list[bytes] = []
    append = out.append
    for i in ids.tolist():
        h = copy()
        h.update(i)
        append(h.digest())
    return np.frombuffer(b"".join(out), dtype=np.uint8).reshape(-1, 32)


def tickets(key: bytes, ids: IdsLike, scheme: TicketScheme | str = TicketScheme.SSJ_DRAW_1) -> U8:
    """The 32-byte ticket of every ID, as an ``(n, 32)`` uint8 array in input order.

    ``ids`` is a sequence of ``str`` or a numpy array of ``str`` or UTF-8 ``bytes`` (``S<w>``).

    >>> key = draw_key("demo", bytes(range(32)))
    >>> t = tickets(key, ["A1", "A2"])
    >>> t.shape, t[0].tobytes() == hashlib.sha256(key + b"A1").digest()
    ((2, 32), True)
    """
    return _digests(_ticket_prefix(key, TicketScheme(scheme)), id_array(ids))


class _HasCodes(Protocol):
    @property
    def codes(self) -> npt.NDArray[Any]: ...

    @property
    def labels(self) -> tuple[str, ...]: ...


@attrs.frozen(eq=False)
class Strata:
    """Stratum membership of each candidate as integer ``codes`` into ``labels``.

    Any object with ``codes`` and ``labels`` (e.g. :class:`shuangsuiji.pools.Categorical`)
    is accepted where a :class:`Strata` is, and so is a plain per-row list of labels.

    >>> s = Strata.from_labels(["b", "a", "b"])
    >>> s.labels, s.codes.tolist()
    (('a', 'b'), [1, 0, 1])
    """

    codes: npt.NDArray[np.intp]
    labels: tuple[str, ...]

    @classmethod
    def from_labels(cls, values: Iterable[str] | npt.NDArray[Any]) -> Strata:
        """Strata from one label per row (bytes are read as UTF-8)."""
        rows = values.tolist() if isinstance(values, np.ndarray) else list(values)
        texts = [v.decode() if isinstance(v, bytes) else str(v) for v in rows]
        labels = sorted(set(texts), key=str.encode)
        index = {label: i for i, label in enumerate(labels)}
        return cls(np.fromiter((index[t] for t in texts), np.intp, len(texts)), tuple(labels))

    @classmethod
    def single(cls, n: int, label: str = DEFAULT_STRATUM) -> Strata:
        """Every one of ``n`` candidates in the one stratum ``label``."""
        return cls(np.zeros(n, dtype=np.intp), (label,))


StrataLike: TypeAlias = Strata | _HasCodes | Sequence[str] | npt.NDArray[Any] | None


def as_strata(strata: StrataLike, n: int) -> Strata:
    """Normalise to :class:`Strata` with labels sorted by UTF-8 bytes and checked."""
    if strata is None:
        s = Strata.single(n)
    elif isinstance(strata, Strata):
        s = strata
    elif hasattr(strata, "codes") and hasattr(strata, "labels"):
        s = Strata(np.asarray(strata.codes).astype(np.intp), tuple(strata.labels))
    else:
        s = Strata.from_labels(strata)
    if len(s.codes) != n:
        raise DrawInputError(
            f"{n} candidate IDs but {len(s.codes)} stratum labels; give one per ID"
        )
    for label in s.labels:
        check_label(label, "stratum label")
    if len(set(s.labels)) != len(s.labels):
        raise DrawInputError(f"stratum labels are not distinct: {s.labels}")
    if n and (int(s.codes.min()) < 0 or int(s.codes.max()) >= len(s.labels)):
        raise DrawInputError(f"stratum codes must lie in 0..{len(s.labels) - 1}")
    order = sorted(range(len(s.labels)), key=lambda i: s.labels[i].encode())
    if order == list(range(len(s.labels))):
        return s
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return Strata(rank[s.codes], tuple(s.labels[i] for i in order))


def _label_bytes(s: Strata) -> BytesArray:
    return np.array([label.encode() for label in s.labels] or [b""], dtype=bytes)


def digest_sorted_lines(lines: BytesArray) -> str:
    """SHA-256 of the concatenated lines (NUL padding of the ``S`` array removed)."""
    if lines.size == 0:
        return hashlib.sha256(b"").hexdigest()
    view = lines.view(np.uint8).reshape(len(lines), lines.dtype.itemsize)
    return hashlib.sha256(view[view != 0].tobytes()).hexdigest()


def candidate_lines(ids: BytesArray, s: Strata) -> BytesArray:
    """The pool digest's lines ``utf8(id) || 0x09 || utf8(stratum) || 0x0A``, in input order."""
    labels = _label_bytes(s)[s.codes]
    return np.strings.add(np.strings.add(np.strings.add(ids, b"\t"), labels), b"\n")


def check_no_duplicate(lines: BytesArray) -> None:
    """Raise if two adjacent sorted lines carry the same ID (the bytes before 0x09)."""
    if len(lines) < 2:
        return
    view = lines.view(np.uint8).reshape(len(lines), lines.dtype.itemsize)
    tab = np.argmax(view == 0x09, axis=1)
    before_tab = np.arange(view.shape[1]) < tab[:-1, None]
    same = (tab[1:] == tab[:-1]) & ((view[1:] == view[:-1]) | ~before_tab).all(axis=1)
    dup = np.flatnonzero(same)
    if dup.size:
        first = lines[dup[0]].split(b"\t")[0].decode()
        raise DuplicateIdError(
            f"ID {first!r} occurs more than once in the candidate set; "
            "IDs must be unique within a draw"
        )


def pool_digest(ids: IdsLike, strata: StrataLike = None) -> str:
    """The pool digest: SHA-256 over ``utf8(id) 0x09 utf8(stratum) 0x0A`` sorted by ``utf8(id)``.

    Raises :class:`DuplicateIdError` if an ID occurs twice.

    >>> pool_digest(["B", "A"], ["x", "y"]) == hashlib.sha256(b"A\\ty\\nB\\tx\\n").hexdigest()
    True
    """
    arr = id_array(ids)
    s = as_strata(strata, len(arr))
    # No ID byte is below 0x20, so sorting whole lines sorts by ID (0x09 ends the ID).
    lines = np.sort(candidate_lines(arr, s))
    check_no_duplicate(lines)
    return digest_sorted_lines(lines)


def _digest_if_sorted(ids: BytesArray, s: Strata) -> str | None:
    """The pool digest when ``ids`` are already strictly increasing, else ``None``."""
    if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
        return None
    return digest_sorted_lines(candidate_lines(ids, s))


def _to_fraction(value: RatioLike) -> Fraction:
    if isinstance(value, bool):
        raise InvalidSizeRuleError(f"ratio must be a number, got {value!r}")
    if isinstance(value, Fraction | int | Decimal):
        return Fraction(value)
    if isinstance(value, float):
        # A float means the decimal it prints as: repr(0.07) == '0.07', i.e. exactly 7/100.
        return Fraction(repr(value))
    text = str(value).strip()
    try:
        if text.endswith("%"):
            return Fraction(text[:-1].strip()) / 100
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidSizeRuleError(
            f"ratio {value!r} is not a number; write e.g. '0.05', '5%' or '1/20'"
        ) from None


def _ratio_or_none(value: RatioLike | None) -> Fraction | None:
    return None if value is None else _to_fraction(value)


def ratio_text(ratio: Fraction) -> str:
    """A ratio as exact text: a terminating decimal when there is one, else ``p/q``.

    >>> ratio_text(Fraction(7, 100)), ratio_text(Fraction(1, 3)), ratio_text(Fraction(1))
    ('0.07', '1/3', '1')
    """
    q = ratio.denominator
    twos = fives = 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    if q != 1:
        return f"{ratio.numerator}/{ratio.denominator}"
    places = max(twos, fives)
    scaled = ratio.numerator * 10**places // ratio.denominator
    if places == 0:
        return str(scaled)
    return f"{scaled // 10**places}.{scaled % 10**places:0{places}d}"


def _nonnegative(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidSizeRuleError(f"{attribute.name} must be a whole number >= 0, got {value!r}")


@attrs.frozen
class SizeRule:
    """How many to select in a stratum, and how many alternates to rank after them.

    Give either ``ratio`` (a fraction of the stratum, 0–1) or a fixed ``count``. Then
    ``n = min(N, max(minimum, ceil(ratio * N)))`` (or ``min(N, max(minimum, count))``), capped
    by ``maximum`` when given, and ``m = min(N - n, alternates)``.

    The ceiling is computed on exact rationals: the ratio is kept as a :class:`~fractions.Fraction`
    read from its decimal text (``"0.07"``, ``"7%"``, ``"7/100"``; a float is read through its
    shortest ``repr``), so floating-point error never changes a size.

    >>> SizeRule(ratio=0.07).size(100), SizeRule(ratio="0.29").size(100)
    (7, 29)
    >>> SizeRule(ratio="3%", minimum=2, maximum=10).size(1000)
    10
    >>> SizeRule(count=5, alternates=3).alternates_for(6, 5)
    1
    """

    ratio: Fraction | None = attrs.field(default=None, converter=_ratio_or_none)
    count: int | None = attrs.field(default=None, validator=_nonnegative)
    minimum: int = attrs.field(default=0, validator=_nonnegative)
    maximum: int | None = attrs.field(default=None, validator=_nonnegative)
    alternates: int = attrs.field(default=0, validator=_nonnegative)

    def __attrs_post_init__(self) -> None:
        if (self.ratio is None) == (self.count is None):
            raise InvalidSizeRuleError("a SizeRule needs exactly one of ratio= or count=")
        if self.ratio is not None and not 0 <= self.ratio <= 1:
            raise InvalidSizeRuleError(f"ratio {ratio_text(self.ratio)} is outside [0, 1]")
        if self.maximum is not None and self.maximum < self.minimum:
            raise InvalidSizeRuleError(
                f"minimum {self.minimum} is above maximum {self.maximum}; lower the minimum"
            )

    def size(self, population: int) -> int:
        """The sample size ``n`` for a stratum of ``population`` candidates."""
        if self.ratio is not None:
            base = -((-self.ratio.numerator * population) // self.ratio.denominator)
        else:
            base = int(self.count or 0)
        n = min(population, max(self.minimum, base))
        return n if self.maximum is None else min(self.maximum, n)

    def alternates_for(self, population: int, sample: int) -> int:
        """The number of alternates ``m`` ranked after the ``sample`` selected."""
        return min(population - sample, self.alternates)

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON values (the ratio as exact text).

        >>> SizeRule(ratio="5%", minimum=3).to_json()
        {'ratio': '0.05', 'count': None, 'minimum': 3, 'maximum': None, 'alternates': 0}
        """
        return {
            "ratio": None if self.ratio is None else ratio_text(self.ratio),
            "count": self.count,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "alternates": self.alternates,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SizeRule:
        """The inverse of :meth:`to_json`."""
        unknown = set(data) - {"ratio", "count", "minimum", "maximum", "alternates"}
        if unknown:
            raise InvalidSizeRuleError(f"unknown size-rule field(s) {sorted(unknown)}")
        return cls(
            ratio=data.get("ratio"),
            count=data.get("count"),
            minimum=data.get("minimum", 0),
            maximum=data.get("maximum"),
            alternates=data.get("alternates", 0),
        )


@attrs.frozen
class StratumSummary:
    """One stratum of a draw: ``size`` N_s, ``sample`` n_s, ``alternates`` m_s and its rule."""

    label: str
    size: int
    sample: int
    alternates: int
    rule: SizeRule


@attrs.frozen
class Pick:
    """One ranked candidate: its ID, stratum and ticket (lower-case hex)."""

    id: str
    stratum: str
    ticket: str

    def to_json(self) -> dict[str, str]:
        """``{"id", "stratum", "ticket"}`` as in the draw bundle."""
        return {"id": self.id, "stratum": self.stratum, "ticket": self.ticket}


def _other_needs_note(instance: Replacement, _: Any, value: str) -> None:
    if instance.reason is ReplacementReason.OTHER and not value.strip():
        raise ReplacementError("a replacement for reason 'other' needs a note saying why")


@attrs.frozen
class Replacement:
    """A selected entity ``replaced`` by the alternate ``by`` of the same stratum."""

    replaced: str
    by: str
    stratum: str
    reason: ReplacementReason = attrs.field(converter=ReplacementReason)
    note: str = attrs.field(default="", validator=_other_needs_note)
    #: Alternates passed over before ``by``, each with the other task that had selected it
    #: (``{"id": ..., "task": ...}``, in alternate order); a skipped alternate is used up.
    skipped: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The replacement as JSON values (``skipped`` only when an alternate was passed over,
        so records from before skipping existed read the same)."""
        out: dict[str, Any] = {
            "replaced": self.replaced,
            "by": self.by,
            "stratum": self.stratum,
            "reason": self.reason.value,
            "note": self.note,
        }
        if self.skipped:
            out["skipped"] = [{"id": s["id"], "task": s["task"]} for s in self.skipped]
        return out


def skip_map(skipped: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The ``skip`` argument of :meth:`Draw.replace` from a recorded ``skipped`` list
    (``[{"id", "task"}]``), so that a replay passes over the same alternates.

    >>> skip_map([{"id": "E7", "task": "T3"}])
    {'E7': 'T3'}
    """
    return {str(x["id"]): str(x["task"]) for x in skipped}


def _select(
    prefix: U64,
    prefix_bits: int,
    codes: Rows,
    counts: Rows,
    takes: Sequence[int],
    full_key: FullKey,
    ids: BytesArray,
) -> Rows:
    """Rows of the ``takes[c]`` smallest keys of each stratum ``c``, strata in code order.

    ``prefix`` is a uint64 that orders like the full ticket order wherever two prefixes differ.
    The stratum code goes into the top bits of a combined key, so one multi-kth
    ``np.partition`` finds every stratum's threshold in O(N); only the rows at or below their
    stratum's threshold (about sum(takes)) are sorted, by the combined key, and by the full
    key and the ID only if two combined keys tie.
    """
    nstrata = len(counts)
    code_bits = max(1, (nstrata - 1).bit_length())
    low_bits = 64 - code_bits
    shift = np.uint64(max(0, prefix_bits - low_bits))
    low = prefix >> shift
    combined = (codes.astype(np.uint64) << np.uint64(low_bits)) | low
    starts = np.concatenate(([0], np.cumsum(counts)))
    kth = [int(starts[c]) + k - 1 for c, k in enumerate(takes) if 0 < k < counts[c]]
    part = np.partition(combined, kth) if kth else combined
    limit = np.zeros(nstrata, dtype=np.uint64)  # row is a candidate iff low < limit[code]
    low_mask = np.uint64((1 << low_bits) - 1)
    for c, k in enumerate(takes):
        if k >= counts[c] and k > 0:
            limit[c] = np.uint64(1 << low_bits)
        elif k > 0:
            limit[c] = (part[int(starts[c]) + k - 1] & low_mask) + np.uint64(1)
    cand = np.flatnonzero(low < limit[codes])
    keys = combined[cand]
    order = np.argsort(keys)
    if bool(np.any(keys[order][1:] == keys[order][:-1])):
        order = np.lexsort((ids[cand], *full_key(cand), codes[cand]))
        ordered_ids = ids[cand[order]]
        dup = np.flatnonzero(ordered_ids[1:] == ordered_ids[:-1])
        if dup.size:
            raise DuplicateIdError(
                f"ID {ordered_ids[dup[0]].decode()!r} occurs more than once in the candidate "
                "set; IDs must be unique within a draw"
            )
    ranked = cand[order]
    bounds = np.searchsorted(codes[ranked], np.arange(nstrata))
    return np.concatenate(
        [ranked[lo : lo + k] for lo, k in zip(bounds.tolist(), takes, strict=True)] or [ranked[:0]]
    )


def _cs_prefix(limbs: U64) -> U64:
    """First 9 characters after ``0.`` of consistent_sampler's ticket string, as a number.

    Those are the 9 lowest decimal digits of the digest, least significant first.
    """
    acc = np.zeros(len(limbs), dtype=np.uint64)
    for j in range(limbs.shape[1]):
        acc = ((acc << np.uint64(32)) | limbs[:, j]) % np.uint64(_DECIMAL_CHUNK)
    rev = np.zeros_like(acc)
    for _ in range(9):
        rev = rev * np.uint64(10) + acc % np.uint64(10)
        acc //= np.uint64(10)
    return rev


def _cs_strings(limbs: U64) -> BytesArray:
    """consistent_sampler's ticket digits as ``S81`` strings that sort like its strings.

    The decimal digits of the digest, least significant first, over ``max(64, ndigits)``
    characters; shorter strings are NUL-padded, so they sort first, as Python's ``<`` does.
    """
    work = limbs.copy()
    digits = np.zeros((len(work), _CS_DIGITS), dtype=np.uint8)
    for chunk in range(_CS_DIGITS // 9):
        rem = np.zeros(len(work), dtype=np.uint64)
        for j in range(work.shape[1]):
            cur = (rem << np.uint64(32)) | work[:, j]
            work[:, j] = cur // np.uint64(_DECIMAL_CHUNK)
            rem = cur % np.uint64(_DECIMAL_CHUNK)
        for d in range(9):
            digits[:, chunk * 9 + d] = (rem % np.uint64(10)).astype(np.uint8)
            rem //= np.uint64(10)
    nonzero = digits != 0
    ndigits = np.where(nonzero.any(axis=1), _CS_DIGITS - np.argmax(nonzero[:, ::-1], axis=1), 0)
    length = np.maximum(ndigits, _CS_MIN_DIGITS)
    chars = digits + np.uint8(ord("0"))
    chars[np.arange(_CS_DIGITS) >= length[:, None]] = 0
    return np.ascontiguousarray(chars).view(f"S{_CS_DIGITS}").reshape(-1)


def _order_keys(scheme: TicketScheme, digests: U8) -> tuple[U64, int, FullKey]:
    """The uint64 prefix, its significant bits, and the full key (lexsort keys, minor first)."""
    if scheme is TicketScheme.CONSISTENT_SAMPLER:
        limbs = digests.view(">u4").astype(np.uint64)
        prefix = _cs_prefix(limbs)
        return prefix, _CS_PREFIX_BITS, lambda rows: (_cs_strings(limbs[rows]),)
    words = digests.view(">u8")
    return (
        words[:, 0].astype(np.uint64),
        64,
        lambda rows: tuple(words[rows, i] for i in (3, 2, 1, 0)),
    )


def _rules_for(rules: SizeRule | Mapping[str, SizeRule], s: Strata, counts: Rows) -> list[str]:
    """The strata of the draw: labels with candidates, plus every label a rule mapping names."""
    present = [label for label, c in zip(s.labels, counts.tolist(), strict=True) if c]
    return labels_to_draw(rules, present)


def labels_to_draw(rules: SizeRule | Mapping[str, SizeRule], present: Sequence[str]) -> list[str]:
    """The strata of a draw, in UTF-8 order: the ``present`` labels (those with candidates),
    plus every label a rule mapping names; every present label needs a rule.
    (Shared by :func:`draw_entities` and the database draw.)"""
    if isinstance(rules, SizeRule):
        return sorted(present, key=str.encode)
    missing = [label for label in present if label not in rules]
    if missing:
        raise MissingRuleError(
            f"no SizeRule for stratum/strata {missing}; add them to the rules mapping "
            "or pass one SizeRule for all strata"
        )
    for label in rules:
        check_label(label, "stratum label in rules")
    return sorted(set(present) | set(rules), key=str.encode)


def stratum_summaries(
    rules: SizeRule | Mapping[str, SizeRule], counts: Mapping[str, int]
) -> tuple[StratumSummary, ...]:
    """The strata of a draw with ``N_s``, ``n_s`` and ``m_s``, from ``N_s`` per label.

    As :func:`draw_entities` sizes them: the labels with candidates plus every label a rule
    mapping names, in UTF-8 order. For engines that count the strata where the pool lives.

    >>> [(s.label, s.size, s.sample, s.alternates)
    ...  for s in stratum_summaries(SizeRule(ratio="0.5", alternates=1), {"b": 3, "a": 0})]
    [('b', 3, 2, 1)]
    """
    out = []
    for label in labels_to_draw(rules, [label for label, n in counts.items() if n]):
        rule = rules if isinstance(rules, SizeRule) else rules[label]
        size = int(counts.get(label, 0))
        n = rule.size(size)
        out.append(StratumSummary(label, size, n, rule.alternates_for(size, n), rule))
    return tuple(out)


def draw_entities(
    ids: IdsLike,
    strata: StrataLike,
    rules: SizeRule | Mapping[str, SizeRule],
    *,
    task_label: str,
    seed: bytes | str,
    scheme: TicketScheme | str = TicketScheme.SSJ_DRAW_1,
) -> Draw:
    """Draw the entities of one task under SSJ-DRAW-1 (stratified, with ordered alternates).

    ``ids`` are canonical, unique IDs (``str`` or UTF-8 ``S<w>`` array); ``strata`` is one
    label per ID, a :class:`Strata` (codes + labels), or ``None`` for one stratum
    :data:`DEFAULT_STRATUM`; ``rules`` is one :class:`SizeRule` for every stratum or a mapping
    label → rule (a label without candidates gets ``N_s = 0``). Duplicated IDs are refused
    where they could change the result; :func:`pool_digest` refuses any duplicate.

    >>> d = draw_entities(["x", "y", "z"], None, SizeRule(ratio="0.5"), task_label="t",
    ...                   seed="ab" * 16)
    >>> [(s.label, s.size, s.sample, s.alternates) for s in d.strata]
    [('all', 3, 2, 0)]
    """
    key = draw_key(task_label, seed)
    ticket_scheme = TicketScheme(scheme)
    arr = id_array(ids)
    s = as_strata(strata, len(arr))
    digests = _digests(_ticket_prefix(key, ticket_scheme), arr)
    counts = np.bincount(s.codes, minlength=len(s.labels))
    labels = _rules_for(rules, s, counts)
    index = {label: i for i, label in enumerate(s.labels)}
    takes = [0] * len(s.labels)
    summaries = []
    for label in labels:
        rule = rules if isinstance(rules, SizeRule) else rules[label]
        code = index.get(label)
        size = int(counts[code]) if code is not None else 0
        n = rule.size(size)
        m = rule.alternates_for(size, n)
        summaries.append(StratumSummary(label, size, n, m, rule))
        if code is not None:
            takes[code] = n + m
    prefix, prefix_bits, full_key = _order_keys(ticket_scheme, digests)
    chosen = _select(prefix, prefix_bits, s.codes, counts, takes, full_key, arr)
    _check_distinct_across_strata(prefix[chosen], arr[chosen])
    return Draw(
        task_label=task_label,
        seed=seed_bytes(seed).hex(),
        scheme=ticket_scheme,
        strata=tuple(summaries),
        ranked_ids=arr[chosen],
        ranked_tickets=digests[chosen],
    )


def _check_distinct_across_strata(prefix: U64, ids: BytesArray) -> None:
    """A duplicated ID has one ticket, so it can only hide among equal ticket prefixes."""
    order = np.argsort(prefix)
    same = np.flatnonzero(prefix[order][1:] == prefix[order][:-1])
    for i in same.tolist():
        if ids[order[i]] == ids[order[i + 1]]:
            raise DuplicateIdError(
                f"ID {ids[order[i]].decode()!r} is ranked in two strata; "
                "IDs must be unique within a draw"
            )


@attrs.frozen(eq=False)
class Draw:
    """The outcome of one draw: per-stratum summary and the ranked candidates.

    Global order (for :attr:`selected`, :attr:`alternates`, bundles): strata sorted by the
    UTF-8 bytes of their labels, and ticket order within a stratum. ``ranked_ids`` and
    ``ranked_tickets`` hold, stratum after stratum, the ``sample`` selected followed by the
    ``alternates``. :meth:`replace` returns a new :class:`Draw` with the replacement recorded.
    """

    task_label: str
    seed: str
    scheme: TicketScheme
    strata: tuple[StratumSummary, ...]
    ranked_ids: BytesArray
    ranked_tickets: U8
    replacements: tuple[Replacement, ...] = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Draw):
            return NotImplemented
        return (
            (self.task_label, self.seed, self.scheme, self.strata, self.replacements)
            == (other.task_label, other.seed, other.scheme, other.strata, other.replacements)
            and np.array_equal(self.ranked_ids, other.ranked_ids)
            and np.array_equal(self.ranked_tickets, other.ranked_tickets)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def spec(self) -> str:
        """Always :data:`SPEC`."""
        return SPEC

    @property
    def key(self) -> bytes:
        """The draw key (see :func:`draw_key`)."""
        return draw_key(self.task_label, self.seed)

    def _picks(self, selected: bool) -> tuple[Pick, ...]:
        out: list[Pick] = []
        start = 0
        ids = self.ranked_ids.tolist()
        for s in self.strata:
            lo, hi = (
                (start, start + s.sample)
                if selected
                else (start + s.sample, start + s.sample + s.alternates)
            )
            out.extend(
                Pick(ids[r].decode(), s.label, self.ranked_tickets[r].tobytes().hex())
                for r in range(lo, hi)
            )
            start += s.sample + s.alternates
        return tuple(out)

    @property
    def selected(self) -> tuple[Pick, ...]:
        """The selected candidates as drawn (before replacements), in global order."""
        return self._picks(True)

    @property
    def alternates(self) -> tuple[Pick, ...]:
        """The ordered alternates, in global order."""
        return self._picks(False)

    @property
    def active(self) -> tuple[Pick, ...]:
        """The selection after replacements: drawn picks not replaced, then promoted ones."""
        replaced = {r.replaced for r in self.replacements}
        promoted = {r.by for r in self.replacements}
        kept = [p for p in self.selected if p.id not in replaced]
        by_id = {p.id: p for p in self.alternates if p.id in promoted}
        return (
            *kept,
            *(by_id[r.by] for r in self.replacements if r.by not in replaced),
        )

    def stratum(self, label: str) -> StratumSummary:
        """The summary of stratum ``label``."""
        for s in self.strata:
            if s.label == label:
                return s
        raise UnknownKeyError(f"stratum {label!r} is not in this draw")

    def replace(
        self,
        entity_id: str,
        reason: ReplacementReason | str,
        note: str = "",
        *,
        skip: Mapping[str, str] | None = None,
    ) -> Draw:
        """Replace a selected entity by the next unused alternate of its stratum.

        ``skip`` maps alternates that may not be promoted to the other task that has selected
        them (an entity in two current selections inside the exclusion window): they are
        passed over in order, recorded in :attr:`Replacement.skipped` and used up. Which
        alternate is promoted still depends on the tickets alone; ``skip`` only removes.

        Raises :class:`ReplacementError` if ``entity_id`` is not in :attr:`active` or its
        stratum has no alternate left.
        """
        current = {p.id: p for p in self.active}
        if entity_id not in current:
            raise ReplacementError(
                f"entity {entity_id!r} is not in the current selection of task "
                f"{self.task_label!r}; only selected (or promoted) entities can be replaced"
            )
        stratum = current[entity_id].stratum
        used = {r.by for r in self.replacements}
        used |= {s["id"] for r in self.replacements for s in r.skipped}
        skip = skip or {}
        skipped: list[dict[str, str]] = []
        nxt = None
        for p in self.alternates:
            if p.stratum != stratum or p.id in used:
                continue
            if p.id in skip:
                skipped.append({"id": p.id, "task": skip[p.id]})
                continue
            nxt = p
            break
        if nxt is None:
            passed = f" ({len(skipped)} passed over: selected by other tasks)" if skipped else ""
            raise ReplacementError(
                f"stratum {stratum!r} has no unused alternate left to replace {entity_id!r}"
                f"{passed}; draw again with more alternates (a re-draw needs a recorded reason)"
            )
        record = Replacement(
            entity_id, nxt.id, stratum, ReplacementReason(reason), note, tuple(skipped)
        )
        return attrs.evolve(self, replacements=(*self.replacements, record))
