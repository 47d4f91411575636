"""The sealed staffing annex: the team draw stays verifiable, the officers' data stays unpublished.

A team draw depends on a staffing record (:func:`shuangsuiji.assign.record.staffing_record`):
the officers' departments, home regions, qualifications and certificate expiry, the conflicts
they declared (with the relation, e.g. 近亲属任职), their past inspections and loads. That is
personal information (个人信息保护法) and does not belong in a public draw bundle. This module
splits the record, seals each personal part under its own salt and opens it again:

- the **public part** ``public = {"format", "needs", "config", "entities"}``: the record format,
  the task's needs, the team rules and the selected entities (ID, region, industry — facts of
  market entities, already public);
- the **records**, in this order: one ``{"kind": "inspector", "id", "department", "region",
  "home_region", "qualifications", "certificate_expiry", "active"}`` per officer of the task's
  departments, one ``{"kind": "conflict", "inspector", "entity", "relation", "source"}`` per
  declared conflict, one ``{"kind": "history", "inspector", "entity", "date"}`` per past
  inspection and one ``{"kind": "prior_load", "inspector", "count"}`` per prior load;
- a secret 32-byte **salt** per record from the operating system's CSPRNG, made when the
  staffing is frozen and kept with the frozen staffing in the store, never published.

Record ``i`` is committed as ``commitment_i = SHA-256("SSJ-ANNEX-1" || 0x00 || salt_i ||
canonical_json(record_i))`` and the staffing digest the team seed is bound to is
``SHA-256("SSJ-STAFFING-2" || 0x00 || canonical_json({"commitments": [...], "public":
public}))`` (both in :mod:`shuangsuiji.commitments`).

The **public section** of a bundle (field ``sealed_staffing``) is ``{"spec": "SSJ-STAFFING-2",
"public", "commitments", "digest"}``. The **annex** (a JSON object, for the supervising office
only) is ``{"spec": "SSJ-ANNEX-1", "annex_format": 1, "notice", "task_label", "attempt",
"staffing_digest", "public", "records": [{"index", "salt", "record"}, ...]}``.

Why a flat list of commitments and not a Merkle root: the public bundle is published whole, so
a verifier holds every commitment anyway and a Merkle path would save nothing; a list keeps the
rule a single hash per record that any language re-computes, and disclosing one record (to show
the supervising office one officer's entry) needs only that record, its salt and its index
(:func:`disclose`, :func:`disclosure_problems`). The list shows how many records there are, not
of which kind: the kind is inside the committed record.

>>> record = {"format": 1, "needs": {}, "config": {}, "entities": [], "inspectors": [],
...           "conflicts": [["I1", "E1", "近亲属任职", "declared"]], "history": [],
...           "prior_load": {"I1": 2}}
>>> sealed = seal_staffing(record, [bytes(32), bytes([1]) * 32])
>>> [r["kind"] for r in sealed.records]
['conflict', 'prior_load']
>>> sealed.record() == record
True
>>> annex = sealed.annex("T-1", 1)
>>> bundle = {"task_label": "T-1", "sealed_staffing": sealed.section()}
>>> annex_problems(bundle, annex)
[]
>>> annex["records"][0]["record"]["relation"] = "同学"
>>> annex_problems(bundle, annex)  # doctest: +ELLIPSIS
['annex record 0 (conflict I1 – E1): its salt and fields do not hash to commitment 0 ...']
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from shuangsuiji.commitments import (
    ANNEX_SPEC,
    SALT_BYTES,
    STAFFING_SPEC,
    record_commitment,
    staffing_digest,
)
from shuangsuiji.errors import IntegrityFailure, InvalidInputError

__all__ = [
    "ANNEX_FORMAT",
    "ANNEX_NOTICE",
    "AnnexError",
    "SealedStaffing",
    "annex_problems",
    "disclose",
    "disclosure_problems",
    "fresh_salts",
    "join_staffing",
    "open_annex",
    "seal_staffing",
    "section_problems",
    "split_staffing",
]

ANNEX_FORMAT = 1
ANNEX_NOTICE = (
    "内部：检查人员附件（含个人信息），仅交监督机关用于核验检查组抽取，不得公开。"
    "Sealed staffing annex with personal data: for the supervising office only, "
    "not for publication."
)
_PUBLIC = ("format", "needs", "config", "entities")
_HEX = re.compile(r"^[0-9a-f]*$")


class AnnexError(IntegrityFailure):
    """An annex that does not open against its bundle (altered, incomplete or another draw's)."""


def split_staffing(record: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The public part and the records of a staffing record (order in the module docstring)."""
    public = {k: record[k] for k in _PUBLIC}
    if record.get("alternates"):
        public["alternates"] = record["alternates"]
    records: list[dict[str, Any]] = [{"kind": "inspector", **r} for r in record["inspectors"]]
    records += [
        {"kind": "conflict", "inspector": i, "entity": e, "relation": r, "source": s}
        for i, e, r, s in record["conflicts"]
    ]
    records += [
        {"kind": "history", "inspector": i, "entity": e, "date": d} for i, e, d in record["history"]
    ]
    records += [
        {"kind": "prior_load", "inspector": i, "count": n} for i, n in record["prior_load"].items()
    ]
    return public, records


def join_staffing(
    public: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The staffing record again from its public part and records (inverse of
    :func:`split_staffing`); :class:`AnnexError` for a record of unknown kind."""
    out: dict[str, Any] = {k: public[k] for k in _PUBLIC}
    if public.get("alternates"):
        out["alternates"] = list(public["alternates"])
    out |= {"inspectors": [], "conflicts": [], "history": [], "prior_load": {}}
    for i, r in enumerate(records):
        kind = r.get("kind")
        if kind == "inspector":
            out["inspectors"].append({k: v for k, v in r.items() if k != "kind"})
        elif kind == "conflict":
            out["conflicts"].append([r["inspector"], r["entity"], r["relation"], r["source"]])
        elif kind == "history":
            out["history"].append([r["inspector"], r["entity"], r["date"]])
        elif kind == "prior_load":
            out["prior_load"][r["inspector"]] = r["count"]
        else:
            raise AnnexError(f"annex record {i}: unknown kind {kind!r}")
    return out


def fresh_salts(record: Mapping[str, Any]) -> list[bytes]:
    """One secret salt per record of ``record`` (32 bytes each, :func:`secrets.token_bytes`)."""
    return [secrets.token_bytes(SALT_BYTES) for _ in split_staffing(record)[1]]


@attrs.frozen
class SealedStaffing:
    """A staffing record split into its public part and records, each record with its salt."""

    public: dict[str, Any]
    records: tuple[dict[str, Any], ...]
    salts: tuple[bytes, ...]

    @property
    def commitments(self) -> list[str]:
        """The SSJ-ANNEX-1 commitment of every record, in order."""
        return [record_commitment(s, r) for s, r in zip(self.salts, self.records, strict=True)]

    @property
    def digest(self) -> str:
        """The SSJ-STAFFING-2 digest: what the team seed is bound to."""
        return staffing_digest(self.public, self.commitments)

    def record(self) -> dict[str, Any]:
        """The whole staffing record (what the team draw replays from)."""
        return join_staffing(self.public, self.records)

    def section(self) -> dict[str, Any]:
        """The public section of a bundle (``sealed_staffing``): no salt, no record."""
        commitments = self.commitments
        return {
            "spec": STAFFING_SPEC,
            "public": self.public,
            "commitments": commitments,
            "digest": staffing_digest(self.public, commitments),
        }

    def annex(self, task_label: str, attempt: int) -> dict[str, Any]:
        """The sealed annex for the supervising office: every record with its salt."""
        return {
            "spec": ANNEX_SPEC,
            "annex_format": ANNEX_FORMAT,
            "notice": ANNEX_NOTICE,
            "task_label": task_label,
            "attempt": attempt,
            "staffing_digest": self.digest,
            "public": self.public,
            "records": [
                {"index": i, "salt": s.hex(), "record": r}
                for i, (s, r) in enumerate(zip(self.salts, self.records, strict=True))
            ],
        }


def seal_staffing(record: Mapping[str, Any], salts: Sequence[bytes]) -> SealedStaffing:
    """Seal ``record`` with one salt per record (:func:`fresh_salts` at freeze time; the
    stored salts when the bundle or annex is made again)."""
    public, records = split_staffing(record)
    if len(salts) != len(records):
        raise InvalidInputError(
            f"the staffing has {len(records)} records but {len(salts)} salts were given"
        )
    return SealedStaffing(public, tuple(records), tuple(salts))


def _name(record: Any) -> str:
    if not isinstance(record, Mapping):
        return "?"
    kind = record.get("kind")
    who = record.get("id") or record.get("inspector")
    entity = record.get("entity")
    return " ".join(str(x) for x in (kind, who) if x) + (f" – {entity}" if entity else "")


def section_problems(bundle: Mapping[str, Any]) -> list[str]:
    """Problems of a bundle's ``sealed_staffing`` that show without the annex: its digest
    over its public part and commitments, the team seed bound to that digest, and its
    entities against the teams."""
    section = bundle.get("sealed_staffing")
    if not isinstance(section, Mapping):
        return ["sealed_staffing: missing or not a JSON object"]
    commitments, public = section.get("commitments"), section.get("public")
    if section.get("spec") != STAFFING_SPEC:
        return [f"sealed_staffing: spec {section.get('spec')!r}, expected {STAFFING_SPEC!r}"]
    if not isinstance(public, Mapping) or not isinstance(commitments, list):
        return ["sealed_staffing: needs a 'public' object and a 'commitments' list"]
    out = []
    if staffing_digest(public, commitments) != section.get("digest"):
        out.append("sealed_staffing: the commitments and public part do not hash to its digest")
    frozen = bundle.get("team_seed")
    if isinstance(frozen, Mapping) and frozen.get("staffing_digest") != section.get("digest"):
        out.append(
            "sealed_staffing: its digest is not the staffing digest the team seed is bound to"
        )
    teams = {t.get("entity") for t in bundle.get("teams") or [] if isinstance(t, Mapping)}
    staffed = {e[0] for e in public.get("entities") or [] if isinstance(e, list) and e}
    staffed -= set(public.get("alternates") or ())
    # An alternate promoted after the team draw takes the replaced entity's place.
    for change in (bundle.get("assignment") or {}).get("reassignments") or []:
        if isinstance(change, Mapping) and change.get("replaces"):
            staffed = (staffed - {change["replaces"]}) | {change.get("entity")}
    if teams and teams != staffed:
        out.append(
            f"sealed_staffing: the staffing was frozen for {len(staffed)} entities, the teams "
            f"are for {len(teams)} (e.g. {sorted(str(e) for e in teams ^ staffed)[0]})"
        )
    return out


def _other_draw(bundle: Mapping[str, Any], annex: Mapping[str, Any]) -> str | None:
    section = bundle.get("sealed_staffing") or {}
    if (annex.get("task_label"), annex.get("staffing_digest")) == (
        bundle.get("task_label"),
        section.get("digest"),
    ):
        return None
    return (
        f"annex: it is the annex of task {annex.get('task_label')!r} attempt "
        f"{annex.get('attempt')!r} (staffing digest {str(annex.get('staffing_digest'))[:16]}…), "
        f"not of this bundle (task {bundle.get('task_label')!r}, staffing digest "
        f"{str(section.get('digest'))[:16]}…); ask the agency for the annex exported with this "
        "bundle (shuangsuiji export annex TASK)"
    )


def _record_problem(index: int, entry: Any, commitment: str) -> str | None:
    """Why annex entry ``entry`` does not open commitment ``index``, or ``None``."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("record"), Mapping):
        return f"annex record {index}: must be {{'index', 'salt', 'record'}}"
    salt = entry.get("salt")
    if not isinstance(salt, str) or len(salt) != 2 * SALT_BYTES or not _HEX.match(salt):
        return f"annex record {index}: its salt must be {2 * SALT_BYTES} lower-case hex characters"
    if record_commitment(bytes.fromhex(salt), entry["record"]) == commitment:
        return None
    return (
        f"annex record {index} ({_name(entry['record'])}): its salt and fields do not hash to "
        f"commitment {index} ({commitment[:16]}…) of the bundle: the record was altered after "
        "the freeze; ask the agency for an unaltered copy of the annex exported for this bundle"
    )


def annex_problems(bundle: Mapping[str, Any], annex: Mapping[str, Any]) -> list[str]:
    """Every reason the ``annex`` does not open the bundle's ``sealed_staffing`` (an empty
    list: every record matches its commitment, and nothing is missing or extra)."""
    if not isinstance(annex, Mapping) or annex.get("spec") != ANNEX_SPEC:
        return [f"annex: not an {ANNEX_SPEC} annex (its 'spec' must be {ANNEX_SPEC!r})"]
    other = _other_draw(bundle, annex)
    if other:
        return [other]
    section = bundle["sealed_staffing"]
    commitments: list[str] = list(section["commitments"])
    entries = annex.get("records")
    if not isinstance(entries, list):
        return ["annex: 'records' must be a list of {'index', 'salt', 'record'}"]
    by_index = {
        e["index"]: e for e in entries if isinstance(e, Mapping) and isinstance(e.get("index"), int)
    }
    out = [] if annex.get("public") == section["public"] else ["annex: its public part differs"]
    for i, commitment in enumerate(commitments):
        if i not in by_index:
            out.append(
                f"annex record {i} (commitment {commitment[:16]}…) is missing: an annex holds "
                "every record the bundle commits to; ask the agency for the whole annex"
            )
            continue
        problem = _record_problem(i, by_index[i], commitment)
        if problem:
            out.append(problem)
    extra = sorted(k for k in by_index if not 0 <= k < len(commitments))
    if extra:
        out.append(f"annex: records {extra} are not committed in the bundle; remove them")
    if len(by_index) != len(entries):
        out.append(
            f"annex: {len(entries) - len(by_index)} entries are repeated or have no integer "
            "'index'; an annex lists each record once"
        )
    return out


def open_annex(bundle: Mapping[str, Any], annex: Mapping[str, Any]) -> dict[str, Any]:
    """The staffing record in ``annex``, each record checked against the bundle's commitment;
    :class:`AnnexError` listing every problem (:func:`annex_problems`) otherwise."""
    problems = annex_problems(bundle, annex)
    if problems:
        raise AnnexError("; ".join(problems))
    ordered = sorted(annex["records"], key=lambda e: int(e["index"]))
    return join_staffing(bundle["sealed_staffing"]["public"], [e["record"] for e in ordered])


def disclose(annex: Mapping[str, Any], index: int) -> dict[str, Any]:
    """One record of ``annex`` with its salt, to show without the rest of the annex (e.g. one
    officer's entry); :func:`disclosure_problems` checks it against the public bundle."""
    entry = next((e for e in annex["records"] if e.get("index") == index), None)
    if entry is None:
        raise AnnexError(f"annex has no record {index}")
    return {
        "spec": ANNEX_SPEC,
        "task_label": annex["task_label"],
        "staffing_digest": annex["staffing_digest"],
        "index": index,
        "salt": entry["salt"],
        "record": entry["record"],
    }


def disclosure_problems(bundle: Mapping[str, Any], disclosure: Mapping[str, Any]) -> list[str]:
    """Why a disclosed record (:func:`disclose`) is not record ``index`` of the public bundle
    (an empty list: it is, and the bundle's commitments hash to its staffing digest)."""
    out = section_problems(bundle)
    other = _other_draw(bundle, disclosure)
    if other:
        return [*out, other]
    commitments = bundle["sealed_staffing"]["commitments"]
    index = disclosure.get("index")
    if not isinstance(index, int) or not 0 <= index < len(commitments):
        return [*out, f"disclosure: the bundle commits to no record {index!r}"]
    problem = _record_problem(index, disclosure, commitments[index])
    return [*out, problem] if problem else out
