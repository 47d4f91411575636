"""Seeds that nobody can steer: random seeds, a multi-party ceremony, and public values.

A draw is only as fair as its seed. Whoever could choose the seed after seeing the candidate
set could try seeds until a favoured entity is (or is not) drawn. Three ways to make a seed,
all recorded in the draw bundle and checked by :func:`check_provenance` (SSJ-SEED-1, byte-level
rules in ``docs/ssj-draw-1.md``):

- :func:`random_seed`: 32 bytes from :mod:`secrets`. Simple, but the record cannot show that the
  system did not try several; use it inside a ceremony as one party's contribution.
- A **ceremony** (:class:`Ceremony`): every party (e.g. the department, the discipline
  inspector, a notary) commits to ``SHA-256("SSJ-SEED-1" 0 "commit" 0 task 0 pool_digest 0
  party 0 contribution)``; once every commitment is in, the parties reveal their
  contributions, each checked against its commitment; the seed is ``SHA-256("SSJ-SEED-1" 0
  "combine" 0 task 0 pool_digest 0 ...)`` over every ``party 0 SHA-256(contribution)``, parties
  in UTF-8 byte order. One honest party with a random contribution makes the seed
  unpredictable to all the others.
- **Public values** (:class:`PublicAnnouncement`, :class:`PublicSeed`): announce, before they
  exist, which public values will make the seed (a lottery draw, a beacon pulse) and on which
  date; the seed is a hash of the announcement digest and the values as published.

Why the record proves that the pool was frozen before the seed existed: every commitment and
every announcement hashes the pool digest, and the seed is a function of those commitments'
openings (or of the announced values). A seed made for one candidate set does not verify for
another, and a candidate set changed after the reveal no longer matches the commitments that
were published before it. The caller's timestamps (this module has no clock) are kept in the
record and must run freeze ≤ commit ≤ reveal.

>>> from datetime import datetime, timezone
>>> t = lambda minute: datetime(2025, 3, 3, 9, minute, tzinfo=timezone.utc)
>>> pool = "ab" * 32
>>> c = Ceremony(task_label="T-1", pool_digest=pool, frozen_at=t(0))
>>> a, b = bytes(16), bytes(range(16))
>>> c = c.commit("局方", party_commitment("T-1", pool, "局方", a), t(1))
>>> c = c.commit("纪检", party_commitment("T-1", pool, "纪检", b), t(2))
>>> c = c.reveal("纪检", b, t(3)).reveal("局方", a, t(4))
>>> c.seed().hex()[:16]
'b39d3f1e1d103499'
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import attrs

from shuangsuiji.draw import MIN_SEED_BYTES, check_label
from shuangsuiji.errors import IntegrityFailure, InvalidInputError, RefusedError

__all__ = [
    "SEED_SPEC",
    "Ceremony",
    "CeremonyError",
    "Commitment",
    "CommitmentsClosedError",
    "DuplicatePartyError",
    "MissingRevealError",
    "PublicAnnouncement",
    "PublicSeed",
    "PublicSeedError",
    "PublicSource",
    "Reveal",
    "RevealMismatchError",
    "SeedRecordError",
    "TimeOrderError",
    "UnknownPartyError",
    "canonical_value",
    "check_provenance",
    "combine_contributions",
    "party_commitment",
    "provenance_from_record",
    "random_seed",
    "system_ceremony",
]

SEED_SPEC = "SSJ-SEED-1"
"""The name of the seed rules, recorded in every provenance record."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class SeedRecordError(InvalidInputError):
    """A seed record is malformed (missing field, wrong type, bad hex or timestamp)."""


class CeremonyError(RefusedError):
    """A step of a seed ceremony is not allowed; the message names the party."""


class DuplicatePartyError(CeremonyError):
    """A party committed twice, or revealed twice."""


class CommitmentsClosedError(CeremonyError):
    """A commitment arrived after the first reveal (it could depend on revealed values)."""


class UnknownPartyError(CeremonyError):
    """A party revealed without having committed."""


class RevealMismatchError(CeremonyError, IntegrityFailure):
    """A revealed contribution does not hash to the party's commitment."""


class MissingRevealError(CeremonyError):
    """The seed was asked for before every committed party revealed."""


class TimeOrderError(CeremonyError):
    """Timestamps do not run freeze ≤ commit ≤ reveal (or announce < value date ≤ reveal)."""


class PublicSeedError(IntegrityFailure):
    """Public values do not match their announcement."""


def random_seed() -> bytes:
    """32 bytes from the operating system's CSPRNG (:func:`secrets.token_bytes`).

    >>> len(random_seed())
    32
    """
    return secrets.token_bytes(32)


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise TimeOrderError(
            f"{what} must be a timezone-aware datetime (e.g. with tzinfo=ZoneInfo('Asia/Shanghai'))"
        )
    return value


def _digest_hex(value: str, what: str) -> str:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise SeedRecordError(f"{what} must be 64 lower-case hex characters, got {value!r}")
    return value


def _prefix(step: str, task_label: str, pool_digest: str) -> bytes:
    """``"SSJ-SEED-1" 0x00 step 0x00 utf8(task_label) 0x00 ascii(pool_digest) 0x00``."""
    label = check_label(task_label, "task label").encode()
    digest = _digest_hex(pool_digest, "pool digest").encode()
    return b"\x00".join((SEED_SPEC.encode(), step.encode(), label, digest)) + b"\x00"


def _contribution(value: bytes, party: str) -> bytes:
    if not isinstance(value, bytes) or len(value) < MIN_SEED_BYTES:
        raise CeremonyError(
            f"party {party!r}: a contribution must be at least {MIN_SEED_BYTES} random bytes "
            "(use shuangsuiji.seeds.random_seed()), so that its commitment cannot be guessed"
        )
    return value


def party_commitment(task_label: str, pool_digest: str, party: str, contribution: bytes) -> str:
    """A party's commitment, published before any contribution is revealed.

    ``SHA-256("SSJ-SEED-1" 0x00 "commit" 0x00 utf8(task_label) 0x00 ascii(pool_digest) 0x00
    utf8(party) 0x00 contribution)`` as lower-case hex. Labels contain no 0x00, so the bytes
    parse one way only; the contribution is last and has at least 16 bytes.

    >>> party_commitment("T-1", "ab" * 32, "局方", bytes(16))[:16]
    'cf4cf610b869c344'
    """
    name = check_label(party, "party").encode()
    body = _prefix("commit", task_label, pool_digest) + name + b"\x00"
    return hashlib.sha256(body + _contribution(contribution, party)).hexdigest()


def combine_contributions(
    task_label: str, pool_digest: str, contributions: Mapping[str, bytes]
) -> bytes:
    """The ceremony seed from every party's revealed contribution.

    ``SHA-256("SSJ-SEED-1" 0x00 "combine" 0x00 utf8(task_label) 0x00 ascii(pool_digest) 0x00
    || utf8(party) 0x00 SHA-256(contribution) || ...)`` with parties in UTF-8 byte order.

    >>> combine_contributions("T-1", "ab" * 32, {"x": bytes(16)}).hex()[:16]
    'cd776cfb9e39b606'
    """
    if not contributions:
        raise MissingRevealError("a ceremony seed needs at least one party's contribution")
    body = [_prefix("combine", task_label, pool_digest)]
    for party in sorted(contributions, key=lambda p: check_label(p, "party").encode()):
        value = _contribution(contributions[party], party)
        body.append(party.encode() + b"\x00" + hashlib.sha256(value).digest())
    return hashlib.sha256(b"".join(body)).digest()


@attrs.frozen
class Commitment:
    """A party's published commitment (hex) and when it was received."""

    party: str
    digest: str
    at: datetime


@attrs.frozen
class Reveal:
    """A party's revealed contribution and when it was received."""

    party: str
    contribution: bytes
    at: datetime


def _time(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return _aware(value, what)
    try:
        return _aware(datetime.fromisoformat(value), what)
    except (TypeError, ValueError):
        raise SeedRecordError(f"{what} {value!r} is not an ISO 8601 timestamp") from None


@attrs.frozen
class Ceremony:
    """A commit–reveal seed ceremony for one task and one frozen candidate set.

    Build it step by step with :meth:`commit` and :meth:`reveal` (each returns a new value and
    refuses a step out of order), or load a record with :meth:`from_record` and list what is
    wrong with :meth:`problems`. :meth:`seed` gives the seed once every party revealed.
    """

    task_label: str
    pool_digest: str
    frozen_at: datetime
    commitments: tuple[Commitment, ...] = ()
    reveals: tuple[Reveal, ...] = ()

    def commit(self, party: str, digest: str, at: datetime) -> Ceremony:
        """Record ``party``'s commitment, received at ``at``."""
        check_label(party, "party")
        _digest_hex(digest, f"commitment of party {party!r}")
        if self.reveals:
            raise CommitmentsClosedError(
                f"party {party!r} tried to commit after {self.reveals[0].party!r} revealed; "
                "commitments close at the first reveal"
            )
        if any(c.party == party for c in self.commitments):
            raise DuplicatePartyError(f"party {party!r} has already committed")
        if _aware(at, f"commitment time of party {party!r}") < self.frozen_at:
            raise TimeOrderError(
                f"party {party!r} committed at {at.isoformat()}, before the pool was frozen "
                f"at {self.frozen_at.isoformat()}"
            )
        return attrs.evolve(self, commitments=(*self.commitments, Commitment(party, digest, at)))

    def reveal(self, party: str, contribution: bytes, at: datetime) -> Ceremony:
        """Record ``party``'s contribution, checked against its commitment."""
        committed = {c.party: c for c in self.commitments}
        if party not in committed:
            raise UnknownPartyError(
                f"party {party!r} revealed but never committed; committed parties: "
                f"{sorted(committed)}"
            )
        if any(r.party == party for r in self.reveals):
            raise DuplicatePartyError(f"party {party!r} has already revealed")
        expected = committed[party].digest
        if party_commitment(self.task_label, self.pool_digest, party, contribution) != expected:
            raise RevealMismatchError(
                f"party {party!r}: the revealed contribution does not match its commitment "
                f"{expected[:16]}... (wrong contribution, task label or pool digest)"
            )
        last = max(c.at for c in self.commitments)
        if _aware(at, f"reveal time of party {party!r}") < last:
            raise TimeOrderError(
                f"party {party!r} revealed at {at.isoformat()}, before the last commitment "
                f"at {last.isoformat()}"
            )
        return attrs.evolve(self, reveals=(*self.reveals, Reveal(party, contribution, at)))

    def seed(self) -> bytes:
        """The seed; raises :class:`MissingRevealError` naming parties yet to reveal."""
        revealed = {r.party: r.contribution for r in self.reveals}
        missing = [c.party for c in self.commitments if c.party not in revealed]
        if missing or not self.commitments:
            raise MissingRevealError(
                f"parties {missing} have not revealed; the seed exists only after every "
                "committed party revealed"
                if missing
                else "no party has committed"
            )
        return combine_contributions(self.task_label, self.pool_digest, revealed)

    def problems(self) -> list[str]:
        """Everything wrong with this record (empty if it is a valid, complete ceremony)."""
        out: list[str] = []
        replay = Ceremony(self.task_label, self.pool_digest, self.frozen_at)
        try:
            for c in self.commitments:
                replay = replay.commit(c.party, c.digest, c.at)
            for r in self.reveals:
                replay = replay.reveal(r.party, r.contribution, r.at)
            replay.seed()
        except (CeremonyError, SeedRecordError, ValueError) as exc:
            out.append(str(exc))
        return out

    def to_record(self) -> dict[str, Any]:
        """The ceremony as JSON values (``kind`` = ``"ceremony"``)."""
        return {
            "kind": "ceremony",
            "spec": SEED_SPEC,
            "task_label": self.task_label,
            "pool_digest": self.pool_digest,
            "frozen_at": self.frozen_at.isoformat(),
            "commitments": [
                {"party": c.party, "commitment": c.digest, "at": c.at.isoformat()}
                for c in self.commitments
            ],
            "reveals": [
                {"party": r.party, "contribution": r.contribution.hex(), "at": r.at.isoformat()}
                for r in self.reveals
            ],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Ceremony:
        """Load a record written by :meth:`to_record` (raises :class:`SeedRecordError`)."""
        try:
            return cls(
                task_label=str(record["task_label"]),
                pool_digest=str(record["pool_digest"]),
                frozen_at=_time(record["frozen_at"], "frozen_at"),
                commitments=tuple(
                    Commitment(str(c["party"]), str(c["commitment"]), _time(c["at"], "at"))
                    for c in record["commitments"]
                ),
                reveals=tuple(
                    Reveal(str(r["party"]), bytes.fromhex(r["contribution"]), _time(r["at"], "at"))
                    for r in record["reveals"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SeedRecordError(f"malformed ceremony record: {exc!r}") from None


def system_ceremony(
    task_label: str,
    pool_digest: str,
    *,
    frozen_at: datetime,
    committed_at: datetime,
    revealed_at: datetime,
    party: str = "system",
    contribution: bytes | None = None,
) -> Ceremony:
    """A one-party ceremony: the system commits to a :func:`random_seed` and reveals it.

    It binds the seed to the pool digest and records the order of events; it cannot show that
    the system did not try several contributions, so add independent parties where it matters.
    """
    value = random_seed() if contribution is None else contribution
    digest = party_commitment(task_label, pool_digest, party, value)
    c = Ceremony(task_label, pool_digest, _aware(frozen_at, "frozen_at"))
    return c.commit(party, digest, committed_at).reveal(party, value, revealed_at)


def canonical_value(text: str) -> str:
    """A published value as hashed: Unicode NFC, whitespace runs as one space, trimmed.

    >>> canonical_value(" 03 11  17\\t22 ")
    '03 11 17 22'
    """
    value = " ".join(unicodedata.normalize("NFC", text).split())
    return check_label(value, "public value")


@attrs.frozen
class PublicSource:
    """A public value to come: its source ``label``, which draw (``reference``), and its date.

    >>> PublicSource("中国福利彩票 双色球", "第2025061期 开奖号码", date(2025, 6, 1)).expected
    datetime.date(2025, 6, 1)
    """

    label: str = attrs.field(validator=lambda _, a, v: check_label(v, "source label"))
    reference: str = attrs.field(validator=lambda _, a, v: check_label(v, "source reference"))
    expected: date


@attrs.frozen
class PublicAnnouncement:
    """The commitment to a public-value seed, published before the values exist.

    Its :meth:`digest` is ``SHA-256("SSJ-SEED-1" 0x00 "announce" 0x00 utf8(task_label) 0x00
    ascii(pool_digest) 0x00 || utf8(label) 0x00 utf8(reference) 0x00 ascii(YYYY-MM-DD) 0x00
    || ...)`` over the sources in the announced order. Every source's date must be after the
    announcement's calendar date.
    """

    task_label: str
    pool_digest: str
    frozen_at: datetime
    announced_at: datetime
    sources: tuple[PublicSource, ...]

    def digest(self) -> str:
        """The announcement digest (lower-case hex)."""
        body = [_prefix("announce", self.task_label, self.pool_digest)]
        for s in self.sources:
            fields = (s.label, s.reference, s.expected.isoformat())
            body.append(b"".join(f.encode() + b"\x00" for f in fields))
        return hashlib.sha256(b"".join(body)).hexdigest()

    def problems(self) -> list[str]:
        """Everything wrong with the announcement (empty if it is valid)."""
        out = []
        if not self.sources:
            out.append("the announcement names no public source")
        if self.announced_at < self.frozen_at:
            out.append(
                f"announced at {self.announced_at.isoformat()}, before the pool was frozen at "
                f"{self.frozen_at.isoformat()}"
            )
        out.extend(
            f"source {s.label!r} {s.reference!r}: its date {s.expected} is not after the "
            f"announcement date {self.announced_at.date()}"
            for s in self.sources
            if s.expected <= self.announced_at.date()
        )
        return out

    def to_record(self) -> dict[str, Any]:
        """The declaration as JSON values (``kind`` = ``"public-declared"``): what a store
        keeps while the values do not exist yet; :meth:`PublicSeed.to_record` extends it."""
        return {
            "kind": "public-declared",
            "spec": SEED_SPEC,
            "task_label": self.task_label,
            "pool_digest": self.pool_digest,
            "frozen_at": self.frozen_at.isoformat(),
            "announced_at": self.announced_at.isoformat(),
            "sources": [
                {"label": s.label, "reference": s.reference, "expected": s.expected.isoformat()}
                for s in self.sources
            ],
            "announcement_digest": self.digest(),
        }

    @classmethod
    def from_record(
        cls, record: Mapping[str, Any], what: str = "public-value declaration"
    ) -> PublicAnnouncement:
        """Load the declaration part of a record of either public kind."""
        try:
            return cls(
                task_label=str(record["task_label"]),
                pool_digest=str(record["pool_digest"]),
                frozen_at=_time(record["frozen_at"], "frozen_at"),
                announced_at=_time(record["announced_at"], "announced_at"),
                sources=tuple(
                    PublicSource(
                        str(s["label"]), str(s["reference"]), date.fromisoformat(s["expected"])
                    )
                    for s in record["sources"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SeedRecordError(f"malformed {what}: {exc!r}") from None

    def resolve(self, values: Sequence[str], revealed_at: datetime) -> PublicSeed:
        """The seed record once the values are published, one per source in order."""
        record = PublicSeed(self, tuple(values), _aware(revealed_at, "revealed_at"))
        problems = record.problems()
        if problems:
            raise PublicSeedError("; ".join(problems))
        return record


@attrs.frozen
class PublicSeed:
    """Announced public values, as published, and when they were entered.

    ``seed = SHA-256("SSJ-SEED-1" 0x00 "public" 0x00 ascii(announcement digest) 0x00 ||
    utf8(canonical_value(v)) 0x00 || ...)``, values in the announced order.
    """

    announcement: PublicAnnouncement
    values: tuple[str, ...]
    revealed_at: datetime

    def seed(self) -> bytes:
        """The seed (raises :class:`PublicSeedError` if values and sources disagree)."""
        if len(self.values) != len(self.announcement.sources):
            raise PublicSeedError(
                f"{len(self.announcement.sources)} sources announced but "
                f"{len(self.values)} values given; give one value per source, in order"
            )
        head = b"\x00".join((SEED_SPEC.encode(), b"public", self.announcement.digest().encode()))
        body = b"".join(canonical_value(v).encode() + b"\x00" for v in self.values)
        return hashlib.sha256(head + b"\x00" + body).digest()

    def problems(self) -> list[str]:
        """Everything wrong with this record (empty if it is valid)."""
        out = self.announcement.problems()
        try:
            self.seed()
        except ValueError as exc:
            out.append(str(exc))
        late = [s for s in self.announcement.sources if self.revealed_at.date() < s.expected]
        out.extend(
            f"value for {s.label!r} entered on {self.revealed_at.date()}, before its date "
            f"{s.expected}"
            for s in late
        )
        return out

    def to_record(self) -> dict[str, Any]:
        """The record as JSON values (``kind`` = ``"public"``)."""
        return self.announcement.to_record() | {
            "kind": "public",
            "values": list(self.values),
            "revealed_at": self.revealed_at.isoformat(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PublicSeed:
        """Load a record written by :meth:`to_record` (raises :class:`SeedRecordError`)."""
        announcement = PublicAnnouncement.from_record(record, "public-seed record")
        try:
            return cls(
                announcement,
                tuple(str(v) for v in record["values"]),
                _time(record["revealed_at"], "revealed_at"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SeedRecordError(f"malformed public-seed record: {exc!r}") from None


def provenance_from_record(record: Mapping[str, Any]) -> Ceremony | PublicSeed:
    """Load a seed provenance record of either kind."""
    kind = record.get("kind") if isinstance(record, Mapping) else None
    if kind == "ceremony":
        return Ceremony.from_record(record)
    if kind == "public":
        return PublicSeed.from_record(record)
    raise SeedRecordError(f"unknown seed provenance kind {kind!r}; expected 'ceremony' or 'public'")


def check_provenance(
    record: Mapping[str, Any], *, seed: bytes, task_label: str, pool_digest: str
) -> list[str]:
    """Problems with a provenance record for a draw with this seed, task and pool digest."""
    try:
        prov = provenance_from_record(record)
    except ValueError as exc:
        return [str(exc)]
    out = []
    head = prov.announcement if isinstance(prov, PublicSeed) else prov
    if isinstance(head, PublicAnnouncement) and record.get("announcement_digest") != head.digest():
        out.append("announcement_digest does not match the announced sources")
    if head.task_label != task_label:
        out.append(f"it is for task {head.task_label!r}, the draw for {task_label!r}")
    if head.pool_digest != pool_digest:
        out.append(f"it commits to pool digest {head.pool_digest[:16]}..., not the draw's")
    problems = prov.problems()
    out.extend(problems)
    if not problems and prov.seed() != seed:
        out.append("the seed it yields is not the draw's seed")
    return out
