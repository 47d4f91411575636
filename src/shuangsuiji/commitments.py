"""What is fixed and published before any randomness is revealed (SSJ-ANNOUNCE-1, SSJ-TEAM-1).

A lottery can be steered without touching the lottery: by trying seeds until one suits, by
changing an input once the outcome is predictable, or by repeating the draw. This module
holds the rules that close those doors; ``docs/threat-model.md`` lists each attack.

**The pre-draw announcement (抽取前公告).** Once a task's candidate set is frozen and every
seed party has committed (or the public values to come are declared), the agency publishes an
announcement before anything is revealed. It is a JSON object with the fields ``spec``
(``"SSJ-ANNOUNCE-1"``), ``task``, ``attempt``, ``pool_digest``, ``policy_hash``,
``candidates`` (how many), ``cutoff``, ``seed`` (the commitments ``[{party, commitment,
entered_by}]`` of a ceremony, or the public-value announcement digest and sources),
``independent_parties`` (how many parties other than the system, entered by distinct people
other than the drawer), ``attempts`` (the earlier attempts of the task with their reasons),
``log_head`` (``{seq, hash}`` of the audit log just before the announcement) and
``previous`` (the digest of the store's previous announcement, or ``null``). Its digest is

    announcement_digest = SHA-256( "SSJ-ANNOUNCE-1" || 0x00 || canonical_json(announcement) )

with canonical JSON as in ``docs/audit.md`` (sorted keys, no spaces, UTF-8). Because each
announcement names the previous one and the log head, the published announcements form a
chain outside the database: a draw made in a copy of the store, a re-draw that was not
announced, or a log cut back below a published head no longer matches them
(:func:`announcement_problems`, :func:`log_problems`).

**The sealed staffing (SSJ-ANNEX-1, SSJ-STAFFING-2).** The staffing record a team draw
depends on names officers' home regions, certificates, qualifications and declared relations:
personal data that is not published. It is split into records
(:mod:`shuangsuiji.annex`): a public part ``public`` (the format, the task's needs, the team
rules and the selected entities' ID, region and industry) and one record per officer, declared
conflict, past inspection and prior load. Each record ``r_i`` gets its own secret random
32-byte salt ``salt_i`` when the staffing is frozen, and its commitment is

    commitment_i = SHA-256( "SSJ-ANNEX-1" || 0x00 || salt_i || canonical_json(r_i) )

The staffing digest (SSJ-STAFFING-2) commits to the public part and the commitments in order:

    staffing_digest = SHA-256( "SSJ-STAFFING-2" || 0x00 ||
                               canonical_json({"commitments": [hex(commitment_i), ...],
                                               "public": public}) )

The bundle publishes ``public``, the commitments and the digest; the salts and records stay in
the sealed annex. Without a salt, a guess at a record (an officer's home county among a few
thousand codes) cannot be checked against its commitment; with the annex, each record is
checked against its commitment and the teams are replayed. The digest of an old staffing
record (before sealed annexes) was ``SHA-256("SSJ-STAFFING-1" || 0x00 ||
canonical_json(record))``; bundles of that format are still read (:func:`legacy_staffing_digest`).

>>> public = {"format": 1, "needs": {}, "config": {}, "entities": []}
>>> c = record_commitment(bytes(32), {"kind": "prior_load", "inspector": "I1", "count": 2})
>>> c[:16]
'd62cc2db3a2ec7da'
>>> staffing_digest(public, [c])[:16]
'48d99013a4df9fbf'

**The team key (SSJ-TEAM-1).** Teams are drawn with randomness revealed only after their own
inputs are frozen. The staffing (officers, conflicts, history, loads, the inspection date) is
frozen and sealed first, and its SSJ-STAFFING-2 digest recorded; a team seed is made by a
ceremony bound to that digest (the ceremony's ``pool_digest`` is the staffing digest), whose
commitments are published in a second announcement before any reveal (``stage: "teams"``,
with ``staffing_digest``, ``on``, ``frozen_by``, ``seed``, ``independent_parties``,
``log_head`` and ``previous``); and the key of SSJ-ASSIGN-1 is

    team_key = SHA-256( "SSJ-TEAM-1" || 0x00 || utf8(task) || 0x00 || ascii(staffing_digest)
                        || 0x00 || team_seed )

A conflict declared after the entity list is public therefore cannot be used to aim the team
draw: the key does not exist until the declarations are frozen.

When the policy caps pair probabilities, the team announcement also carries the digest of the
frozen pair statement (``team_seed.pairs``: the law the teams will be drawn by and its bounds,
or the uniform law's probabilities and shortfalls)::

    pairs_digest = SHA-256( "SSJ-PAIRS-STATEMENT-1" || 0x00 || canonical_json(statement) )

so the statement, like the commitments, is public before any team-seed reveal and cannot be
rewritten afterwards (an announcement made before this field existed has none).

>>> pairs_digest({"spec": "SSJ-PAIRS-1", "cap": 0.5})[:16]
'91c5d7343b2d149a'

>>> team_key("T-1", "ab" * 32, bytes(32)).hex()[:16]
'f5c983d348456308'
>>> a = draw_announcement({"spec": ANNOUNCE_SPEC, "task": "T-1", "attempt": 1})
>>> a["digest"] == announcement_digest(a)
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shuangsuiji.audit import canonical_json
from shuangsuiji.errors import InvalidInputError

__all__ = [
    "ANNEX_SPEC",
    "ANNOUNCE_SPEC",
    "LEGACY_STAFFING_SPEC",
    "PAIRS_STATEMENT_SPEC",
    "REDRAW_REASONS",
    "SALT_BYTES",
    "STAFFING_SPEC",
    "TEAM_SPEC",
    "announcement_digest",
    "announcement_problems",
    "draw_announcement",
    "legacy_staffing_digest",
    "log_problems",
    "pairs_digest",
    "record_commitment",
    "staffing_digest",
    "team_key",
]

ANNOUNCE_SPEC = "SSJ-ANNOUNCE-1"
ANNEX_SPEC = "SSJ-ANNEX-1"
STAFFING_SPEC = "SSJ-STAFFING-2"
LEGACY_STAFFING_SPEC = "SSJ-STAFFING-1"
SALT_BYTES = 32
TEAM_SPEC = "SSJ-TEAM-1"
PAIRS_STATEMENT_SPEC = "SSJ-PAIRS-STATEMENT-1"

REDRAW_REASONS: dict[str, str] = {
    "pool_data_error": "名录库数据错误（冻结的候选名单有误）",
    "policy_error": "适用的实施细则有误",
    "ceremony_abandoned": "随机数仪式未完成（有参与方未揭示）",
    "system_failure": "系统故障导致抽取无法完成",
    "supervisor_order": "上级机关或监督机关书面要求重新抽取",
}
"""The only reasons a task may be drawn again (code → 中文 label); each needs a text too."""


def _digest(spec: str, body: Any) -> str:
    return hashlib.sha256(spec.encode() + b"\x00" + canonical_json(body)).hexdigest()


def announcement_digest(announcement: Mapping[str, Any]) -> str:
    """The SSJ-ANNOUNCE-1 digest of an announcement (its ``digest`` field left out)."""
    return _digest(ANNOUNCE_SPEC, {k: v for k, v in announcement.items() if k != "digest"})


def draw_announcement(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The announcement with its ``digest`` field added."""
    out = dict(fields)
    out["digest"] = announcement_digest(out)
    return out


def record_commitment(salt: bytes, record: Mapping[str, Any]) -> str:
    """The SSJ-ANNEX-1 commitment (hex) of one staffing record under its secret ``salt``."""
    if len(salt) != SALT_BYTES:
        raise InvalidInputError(f"a record's salt is {SALT_BYTES} bytes, got {len(salt)}")
    body = ANNEX_SPEC.encode() + b"\x00" + salt + canonical_json(record)
    return hashlib.sha256(body).hexdigest()


def staffing_digest(public: Mapping[str, Any], commitments: Sequence[str]) -> str:
    """The SSJ-STAFFING-2 digest of a sealed staffing (what the team seed is bound to)."""
    return _digest(STAFFING_SPEC, {"commitments": list(commitments), "public": public})


def legacy_staffing_digest(record: Mapping[str, Any]) -> str:
    """The SSJ-STAFFING-1 digest of a whole staffing record (bundles before sealed annexes)."""
    return _digest(LEGACY_STAFFING_SPEC, record)


def pairs_digest(statement: Mapping[str, Any]) -> str:
    """The digest of a frozen pair statement (SSJ-PAIRS-1) that the team announcement
    carries (see the module docstring)."""
    return _digest(PAIRS_STATEMENT_SPEC, statement)


def team_key(task: str, staffing: str, team_seed: bytes) -> bytes:
    """The SSJ-ASSIGN-1 key of a team draw (see the module docstring)."""
    body = b"\x00".join((TEAM_SPEC.encode(), task.encode(), staffing.encode(), team_seed))
    return hashlib.sha256(body).digest()


def announcement_problems(
    bundle: Mapping[str, Any], published: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Problems of a draw bundle against the announcements published before its reveal.

    The bundle's own announcement must hash to its digest, be among ``published`` (the copies
    the agency put out before the reveal), and agree with the bundle: task, pool digest,
    policy hash, number of candidates, cut-off and the seed commitments.
    """
    own = bundle.get("announcement")
    if not isinstance(own, Mapping):
        return ["the bundle carries no pre-draw announcement: its seed was not committed publicly"]
    out = []
    if announcement_digest(own) != own.get("digest"):
        out.append("announcement: its digest does not match its fields")
    if published and own.get("digest") not in {a.get("digest") for a in published}:
        out.append(
            f"announcement {str(own.get('digest'))[:16]}… of task {own.get('task')} attempt "
            f"{own.get('attempt')} is not among the published announcements: the draw was not "
            "announced before its reveal (made in a copy, or re-rolled)"
        )
    checks = {
        "task": bundle.get("task_label"),
        "pool_digest": bundle.get("pool_digest"),
        "policy_hash": bundle.get("policy_hash"),
        "candidates": len(bundle.get("candidates") or []),
        "cutoff": bundle.get("cutoff"),
    }
    out += [
        f"announcement: {field} {own.get(field)!r} differs from the bundle's {value!r}"
        for field, value in checks.items()
        if own.get(field) != value
    ]
    out += _seed_problems(own.get("seed"), bundle.get("seed_provenance"))
    return out + _team_problems(bundle.get("team_seed"), published)


def _team_problems(frozen: Any, published: Sequence[Mapping[str, Any]]) -> list[str]:
    """The team announcement (stage ``teams``) against the bundle's team seed: its digest, its
    publication, the staffing digest and the commitments the team seed was revealed against."""
    if not isinstance(frozen, Mapping) or "announcement" not in frozen:
        return []
    own = frozen["announcement"]
    out = []
    if announcement_digest(own) != own.get("digest"):
        out.append("team announcement: its digest does not match its fields")
    if published and own.get("digest") not in {a.get("digest") for a in published}:
        out.append(
            f"team announcement {str(own.get('digest'))[:16]}… of task {own.get('task')} is "
            "not among the published announcements"
        )
    if own.get("staffing_digest") != frozen.get("staffing_digest"):
        out.append("team announcement: its staffing digest differs from the team seed's")
    if "pairs_digest" in own:  # announcements before the field existed have none
        statement = frozen.get("pairs")
        stated = pairs_digest(statement) if isinstance(statement, Mapping) else None
        if own["pairs_digest"] != stated:
            out.append(
                "team announcement: its pair-statement digest differs from the team seed's "
                "statement (the statement was changed after the announcement)"
            )
    out += [f"team {p}" for p in _seed_problems(own.get("seed"), frozen.get("ceremony"))]
    return out


def _seed_problems(announced: Any, provenance: Any) -> list[str]:
    if not isinstance(announced, Mapping) or not isinstance(provenance, Mapping):
        return ["announcement: no seed commitments to compare with the seed provenance"]
    if provenance.get("kind") == "public":
        if announced.get("announcement_digest") != provenance.get("announcement_digest"):
            return ["announcement: the public-value sources differ from the seed provenance"]
        return []
    said = [(c.get("party"), c.get("commitment")) for c in announced.get("commitments", [])]
    made = [(c.get("party"), c.get("commitment")) for c in provenance.get("commitments", [])]
    if sorted(said) != sorted(made):
        return [
            "announcement: the seed commitments differ from those the seed was revealed "
            "against (a commitment added or changed after the announcement)"
        ]
    return []


def log_problems(
    events: Iterable[Mapping[str, Any]], published: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Problems of an audit log (rows with ``seq``, ``hash``, ``kind``, ``payload`` as dict)
    against published announcements: each published log head must still be in the log, each
    published announcement must be logged, every logged announcement must be published, and
    the published announcements must link one to the next."""
    by_seq: dict[int, str] = {}
    logged: dict[str, Mapping[str, Any]] = {}
    for e in events:
        by_seq[int(e["seq"])] = str(e["hash"])
        if e["kind"] == "draw.announce":
            logged[str(e["payload"]["announcement"]["digest"])] = e["payload"]["announcement"]
    out = []
    digests = {str(a.get("digest")) for a in published}
    for a in published:
        name = f"announcement of task {a.get('task')} attempt {a.get('attempt')}"
        if announcement_digest(a) != a.get("digest"):
            out.append(f"{name}: its digest does not match its fields (the copy was altered)")
        head = a.get("log_head") or {}
        seq = head.get("seq")
        if isinstance(seq, int) and seq > 0 and by_seq.get(seq) != head.get("hash"):
            out.append(
                f"{name}: the log head it published (event {seq}) is "
                + ("missing: the log was cut back" if seq not in by_seq else "not in this log")
            )
        if a.get("digest") not in logged:
            out.append(f"{name}: not in the audit log (removed, or published from a copy)")
        previous = a.get("previous")
        if previous is not None and previous not in digests:
            out.append(f"{name}: the announcement before it ({str(previous)[:16]}…) is missing")
    out += [
        f"announcement of task {a.get('task')} attempt {a.get('attempt')} is in the log but "
        "was not published"
        for d, a in logged.items()
        if d not in digests
    ]
    return out
