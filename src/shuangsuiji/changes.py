"""Fresh committed randomness for every change of a team after the team draw (SSJ-CHANGE-1).

Once the teams are drawn, the team key is public (its seed is in the bundle). If a change of
a team after the draw (an officer who recuses, an alternate entity that needs a team) drew its
replacement from the team key's stream, whoever asks for the change would know the outcome in
advance: declaring "conflicts" one at a time, an insider could walk a chosen officer onto (or
off) an entity's team. So every change draws from a key of its own, made of randomness that
does not exist when the change is asked for.

**The request (变更申请).** A change is first recorded as a request, a JSON object with the
fields ``spec`` (``"SSJ-CHANGE-1"``), ``task``, ``attempt``, ``index`` (0 for the first change
of the assignment, then 1, 2, ...), ``kind`` (``"recusal"``), ``entity``, ``inspector``,
``reason``, ``text``, ``team_key_sha256`` (hex SHA-256 of the team key the change builds on),
``witnesses_needed`` (how many witnesses the policy asks for), ``requested_by`` and
``system_commitment``. The system draws a fresh 32-byte value ``v`` and commits to it:

    system_commitment = SHA-256( "SSJ-CHANGE-1" || 0x00 || "system" || 0x00 || v )

and the request's digest is

    request_digest = SHA-256( "SSJ-CHANGE-1" || 0x00 || canonical_json(request) )

with canonical JSON as in ``docs/audit.md``. When the policy asks for witnesses
(``[draw] independent_parties`` above 0) the request is published as an announcement
(SSJ-ANNOUNCE-1, ``stage: "change"``, linked into the announcement chain) before any witness
speaks.

**The text is sealed (recusals).** Why an officer leaves a team ("因病", a relation declared
with the entity) is personal information. A recusal's request therefore carries no ``text``
but a salted commitment to it, with a fresh secret 32-byte ``salt``:

    text_commitment = SHA-256( "SSJ-CHANGE-1" || 0x00 || "text" || 0x00 || salt || utf8(text) )

The public bundle shows the re-assignment's ``text`` as ``""``; the sealed staffing annex
(SSJ-ANNEX-1) lists ``change_texts`` (``[{"index", "text", "salt"}]``), and ``verify --annex``
checks each against its request. The reason code stays public. A replacement's text (the
evidence for replacing an entity, not about an officer) stays in its request as ``text``.

**The witnesses (见证人).** Each witness, a person other than the requester, enters a value of
16 to 64 bytes (hex) after the request is fixed. The system value is bound by its commitment
before any witness value exists, and the witness values come after the request: neither the
requester (nor a DBA who can read ``v``) nor a witness alone can choose the outcome.

**The change key.** With the witnesses ``w`` sorted by party, as ``[[party, hex(value)], ...]``:

    change_key = SHA-256( "SSJ-CHANGE-1" || 0x00 || team_key || request_digest (32 bytes)
                          || v || canonical_json(w) )

The change is drawn as SSJ-ASSIGN-2's re-assignment step from a stream of its own on
``change_key``, from block 0 (``docs/teams.md``). The bundle publishes, in each re-assignment,
the change record ``{"request", "digest", "system_value", "witnesses", "announcement"}``: a
verifier checks ``v`` against the commitment, the request against the re-assignment, and
replays it.

>>> request = {"spec": CHANGE_SPEC, "task": "T-1", "attempt": 1, "index": 0}
>>> request_digest(request)[:16]
'65c58bf3a1d71ff1'
>>> system_commitment(bytes(32))[:16]
'07a41727e51b17e5'
>>> text_commitment(bytes(32), "因病住院")[:16]
'8761ba1d35b15f42'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from shuangsuiji.audit import canonical_json
from shuangsuiji.errors import InvalidInputError

__all__ = [
    "CHANGE_SPEC",
    "change_key",
    "change_problems",
    "change_text_problems",
    "parse_witness_value",
    "public_assignment",
    "request_digest",
    "system_commitment",
    "text_commitment",
]

CHANGE_SPEC = "SSJ-CHANGE-1"
_PREFIX = CHANGE_SPEC.encode() + b"\x00"


def request_digest(request: Mapping[str, Any]) -> str:
    """The hex SHA-256 digest of a change request (see the module docstring)."""
    return hashlib.sha256(_PREFIX + canonical_json(request)).hexdigest()


def system_commitment(value: bytes) -> str:
    """The system's commitment to its 32-byte change value."""
    return hashlib.sha256(_PREFIX + b"system\x00" + value).hexdigest()


def text_commitment(salt: bytes, text: str) -> str:
    """The salted commitment to a recusal's text (see the module docstring)."""
    return hashlib.sha256(_PREFIX + b"text\x00" + salt + text.encode("utf-8")).hexdigest()


def _sealed_text(reassignment: Mapping[str, Any]) -> str | None:
    """The text commitment of a re-assignment's change request, if its text is sealed."""
    change = reassignment.get("change")
    request = change.get("request") if isinstance(change, Mapping) else None
    value = request.get("text_commitment") if isinstance(request, Mapping) else None
    return str(value) if value is not None else None


def public_assignment(assignment: Mapping[str, Any]) -> dict[str, Any]:
    """The assignment as published: each re-assignment whose text is sealed shows ``""``."""
    out = dict(assignment)
    out["reassignments"] = [
        {**r, "text": ""} if _sealed_text(r) is not None else dict(r)
        for r in assignment.get("reassignments") or []
    ]
    return out


def change_text_problems(bundle: Mapping[str, Any], annex: Mapping[str, Any]) -> list[str]:
    """Every sealed change text of the bundle opened by the annex's ``change_texts`` (an empty
    list: each text matches its commitment, none is missing or extra)."""
    assignment = bundle.get("assignment")
    listed = assignment.get("reassignments") if isinstance(assignment, Mapping) else None
    sealed = {
        i: c
        for i, r in enumerate(listed or [])
        if isinstance(r, Mapping) and (c := _sealed_text(r)) is not None
    }
    entries = annex.get("change_texts") or []
    if not isinstance(entries, list):
        return ["annex: 'change_texts' must be a list of {'index', 'text', 'salt'}"]
    given = {e.get("index"): e for e in entries if isinstance(e, Mapping)}
    out = []
    for i, commitment in sorted(sealed.items()):
        entry = given.get(i)
        if entry is None:
            out.append(f"annex: the sealed text of change {i} is missing (change_texts)")
            continue
        try:
            opened = text_commitment(bytes.fromhex(str(entry["salt"])), str(entry["text"]))
        except (KeyError, ValueError) as exc:
            out.append(f"annex: change text {i} unreadable ({exc})")
            continue
        if opened != commitment:
            out.append(f"annex: change text {i} does not match the request's text_commitment")
    extra = sorted(str(k) for k in given if k not in sealed)
    if extra:
        out.append(f"annex: change_texts {', '.join(extra)} are not sealed in the bundle")
    return out


def parse_witness_value(text: str, party: str) -> bytes:
    """A witness value given as hex: 16 to 64 bytes, or a clear refusal naming the party."""
    try:
        value = bytes.fromhex(text.strip())
    except ValueError:
        raise InvalidInputError(
            f"witness {party!r}: the value must be hexadecimal (e.g. 32 random bytes as 64 hex "
            'digits, from `python -c "import secrets; print(secrets.token_hex(32))"`)'
        ) from None
    if not 16 <= len(value) <= 64:
        raise InvalidInputError(
            f"witness {party!r}: the value has {len(value)} bytes; give 16 to 64 bytes "
            "(32 to 128 hex digits)"
        )
    return value


def change_key(
    team_key: bytes, digest: str, value: bytes, witnesses: Sequence[Mapping[str, Any]]
) -> bytes:
    """The key a change is drawn from (see the module docstring).

    >>> witnesses = [{"party": "纪检", "value": "11" * 16}]
    >>> change_key(bytes(32), "00" * 32, bytes(32), witnesses).hex()[:16]
    'e03e0410509c7202'
    """
    pairs = sorted([str(w["party"]), str(w["value"])] for w in witnesses)
    body = team_key + bytes.fromhex(digest) + value + canonical_json(pairs)
    return hashlib.sha256(_PREFIX + body).digest()


def change_problems(
    record: Mapping[str, Any], team_key: bytes, expected: Mapping[str, Any]
) -> tuple[list[str], bytes | None]:
    """Check a published change record; return its problems and, when it is sound, its key.

    ``expected`` holds what the re-assignment itself says (``task``, ``attempt``, ``index``,
    ``kind``, ``entity``, ``inspector``, ``reason``, ``text``); the request must say the same.
    """
    try:
        request = record["request"]
        value = bytes.fromhex(str(record["system_value"]))
        witnesses = list(record.get("witnesses") or [])
        digest = str(record["digest"])
    except (KeyError, TypeError, ValueError) as exc:
        return [f"change record unreadable ({exc})"], None
    where = f"change {expected.get('index')}"
    out = []
    if request_digest(request) != digest:
        out.append(f"{where}: the request does not hash to its digest")
    if request.get("spec") != CHANGE_SPEC:
        out.append(f"{where}: spec {request.get('spec')!r} is not {CHANGE_SPEC}")
    if system_commitment(value) != request.get("system_commitment"):
        out.append(f"{where}: the system value does not match the request's commitment")
    if hashlib.sha256(team_key).hexdigest() != request.get("team_key_sha256"):
        out.append(f"{where}: the request builds on another team key")
    for name, want in expected.items():
        if request.get(name) != want:
            out.append(
                f"{where}: the request says {name}={request.get(name)!r}, the record {want!r}"
            )
    if len({str(w.get("party")) for w in witnesses}) != len(witnesses):
        out.append(f"{where}: a witness party appears twice")
    for w in witnesses:
        try:
            parse_witness_value(str(w.get("value")), str(w.get("party")))
        except InvalidInputError as exc:
            out.append(f"{where}: {exc}")
    needed = request.get("witnesses_needed", 0)
    if isinstance(needed, int) and len(witnesses) < needed:
        out.append(f"{where}: {len(witnesses)} witness(es), the request needs {needed}")
    if out:
        return out, None
    try:
        return [], change_key(team_key, digest, value, witnesses)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"{where}: witness values unreadable ({exc})"], None
