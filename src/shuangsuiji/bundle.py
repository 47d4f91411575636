"""The draw bundle: the published record from which anyone can re-derive a draw.

A bundle is a JSON object (format in ``docs/ssj-draw-1.md``): the spec and ticket scheme, the
task label and seed, the candidate set and its pool digest, every stratum's size rule and
sizes, the selected entities and ordered alternates with their tickets, replacements, teams
with the commitments of their sealed staffing (``sealed_staffing``: no officer's personal
data; the records are in the sealed annex of :mod:`shuangsuiji.annex`), the seed's
provenance (ceremony or public values), the policy hash, the library version, a summary of
exclusions, and ``record_digest``, the SHA-256 of the canonical JSON of every other
field except ``candidates`` (which ``pool_digest`` commits to), for the audit log to anchor.

:func:`verify_bundle` re-derives the key, every ticket, the pool digest, the sizes, the
selection, the alternates and the replacements from the bundle alone, and lists every field
that does not match and why. It does the same work as making the draw, once.

>>> from shuangsuiji.draw import SizeRule, draw_entities
>>> ids, strata = ["A1", "A2", "A3", "B1"], ["A", "A", "A", "B"]
>>> d = draw_entities(ids, strata, SizeRule(count=1, alternates=1), task_label="t",
...                   seed=bytes(range(32)))
>>> b = make_bundle(d, ids, strata, library_version="0.1.0")
>>> [p.field for p in verify_bundle(b).problems]  # re-derives, but nothing shows the seed's origin
['seed_provenance']
>>> b["seed"] = "00" * 32
>>> [p.field for p in verify_bundle(b).problems]
['record_digest', 'selected', 'alternates', 'seed_provenance']
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import attrs
import numpy as np

from shuangsuiji.audit import canonical_json
from shuangsuiji.candidates import EXCLUSION_FACTS, EXCLUSION_REASONS
from shuangsuiji.commitments import announcement_problems
from shuangsuiji.draw import (
    SPEC,
    BytesArray,
    Draw,
    DrawInputError,
    IdsLike,
    MissingRuleError,
    Pick,
    ReplacementError,
    SizeRule,
    Strata,
    StrataLike,
    TicketScheme,
    as_strata,
    candidate_lines,
    check_no_duplicate,
    digest_sorted_lines,
    draw_entities,
    id_array,
    seed_bytes,
    skip_map,
)
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.exclusion_facts import fact_problem
from shuangsuiji.seeds import Ceremony, PublicSeed, check_provenance

__all__ = [
    "BUNDLE_FORMAT",
    "COLUMNAR_THRESHOLD",
    "MAX_DIGITS",
    "MAX_NESTING",
    "BundleError",
    "DrawDeriver",
    "Problem",
    "TeamChecker",
    "VerificationReport",
    "make_bundle",
    "read_bundle",
    "record_digest",
    "verify_bundle",
]

BUNDLE_FORMAT = 1
"""Version of the bundle layout, recorded as ``bundle_format``."""

COLUMNAR_THRESHOLD = 1_000_000
"""Candidates above which a bundle is exported columnar (:mod:`shuangsuiji.columnar`)."""

TeamChecker = Callable[[Mapping[str, Any]], Iterable[str]]
"""A callable that receives the bundle and returns problems with its ``teams`` (as text)."""

DrawDeriver = Callable[
    [str, bytes, TicketScheme, Mapping[str, SizeRule]], tuple[Draw | None, list["Problem"]]
]
"""Re-derives a draw whose candidates are not in the bundle's JSON (a columnar bundle's
Parquet file, :mod:`shuangsuiji.columnar`): given the task label, seed, ticket scheme and size
rules, it returns the draw (``None`` if it cannot) and the problems with the candidates and
the pool digest."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = (
    "spec",
    "bundle_format",
    "ticket_scheme",
    "task_label",
    "seed",
    "pool_digest",
    "policy_hash",
    "library_version",
    "seed_provenance",
    "exclusions",
    "strata",
    "selected",
    "alternates",
    "replacements",
    "teams",
    "staffing",
    "sealed_staffing",
    "assignment",
    "attempt",
    "attempts",
    "cutoff",
    "announcement",
    "excluded",
    "team_seed",
    "candidates",
    "candidates_file",
    "excluded_file",
    "picks_file",
    "record_digest",
)


class BundleError(InvalidInputError):
    """A bundle cannot be made from these inputs (e.g. provenance for another pool)."""


def record_digest(bundle: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``bundle`` minus ``candidates``, ``record_digest``.

    Canonical JSON is :func:`shuangsuiji.audit.canonical_json` (sorted keys, no spaces, UTF-8).
    """
    body = {k: v for k, v in bundle.items() if k not in ("candidates", "record_digest")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _exclusions(value: Mapping[str, int] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    items = (
        [{"reason": k, "count": v} for k, v in value.items()]
        if isinstance(value, Mapping)
        else [dict(e) for e in value]
    )
    for e in items:
        if set(e) != {"reason", "count"} or not isinstance(e["count"], int) or e["count"] < 0:
            raise BundleError(f"exclusion {e!r} must be {{'reason': text, 'count': int >= 0}}")
    return items


def _candidates(ids: IdsLike, strata: StrataLike) -> tuple[list[dict[str, str]], str]:
    """Candidates sorted by ``utf8(id)`` and the pool digest, from one sort of the lines."""
    arr = id_array(ids)
    lines = np.sort(candidate_lines(arr, as_strata(strata, len(arr))))
    check_no_duplicate(lines)
    out = []
    for line in lines.tolist():
        entity, stratum = line[:-1].decode().split("\t")
        out.append({"id": entity, "stratum": stratum})
    return out, digest_sorted_lines(lines)


def _provenance_of(
    draw: Draw,
    seed_provenance: Ceremony | PublicSeed | Mapping[str, Any] | None,
    digest: str,
) -> dict[str, Any] | None:
    """The seed provenance record, checked to be for this task, pool and seed."""
    if isinstance(seed_provenance, Ceremony | PublicSeed):
        provenance: dict[str, Any] | None = seed_provenance.to_record()
    else:
        provenance = None if seed_provenance is None else dict(seed_provenance)
    if provenance is not None:
        problems = check_provenance(
            provenance,
            seed=bytes.fromhex(draw.seed),
            task_label=draw.task_label,
            pool_digest=digest,
        )
        if problems:
            raise BundleError("seed provenance does not fit this draw: " + "; ".join(problems))
    return provenance


def make_bundle(
    draw: Draw,
    ids: IdsLike,
    strata: StrataLike,
    *,
    seed_provenance: Ceremony | PublicSeed | Mapping[str, Any] | None = None,
    teams: Sequence[Mapping[str, Any]] = (),
    policy_hash: str | None = None,
    exclusions: Mapping[str, int] | Sequence[Mapping[str, Any]] = (),
    library_version: str | None = None,
    staffing: Mapping[str, Any] | None = None,
    assignment: Mapping[str, Any] | None = None,
    process: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The bundle of ``draw``, made from the same candidates (``ids``, ``strata``) it drew from.

    ``teams`` is a list of ``{"entity": id, "inspectors": [id, ...]}``; ``staffing`` and
    ``assignment`` (when teams were drawn) are the records :mod:`shuangsuiji.assign.record`
    replays them from; they appear in the bundle only when given. ``process`` adds what the
    registry records around the draw (``attempt``, ``attempts``, ``cutoff``, the pre-draw
    ``announcement``, the ``excluded`` IDs by reason, the ``team_seed``, the
    ``sealed_staffing`` commitments of :mod:`shuangsuiji.annex`); ``None`` values are left out.
    A public bundle passes no ``staffing`` (it names officers' personal data): the staffing
    goes into the sealed annex. ``exclusions`` counts
    the candidates left out before the draw, by reason (``{"注销": 12}``). A provenance record
    must be for the same task, pool and seed (:class:`BundleError` otherwise).
    """
    candidates, digest = _candidates(ids, strata)
    provenance = _provenance_of(draw, seed_provenance, digest)
    if policy_hash is not None and not _HEX64.match(policy_hash):
        raise BundleError(f"policy_hash must be 64 lower-case hex characters, got {policy_hash!r}")
    if library_version is None:
        from shuangsuiji._version import __version__ as library_version
    bundle: dict[str, Any] = {
        "spec": SPEC,
        "bundle_format": BUNDLE_FORMAT,
        "ticket_scheme": draw.scheme.value,
        "task_label": draw.task_label,
        "seed": draw.seed,
        "pool_digest": digest,
        "policy_hash": policy_hash,
        "library_version": library_version,
        "seed_provenance": provenance,
        "exclusions": _exclusions(exclusions),
        "strata": {
            s.label: {
                "size": s.size,
                "sample": s.sample,
                "alternates": s.alternates,
                "rule": s.rule.to_json(),
            }
            for s in draw.strata
        },
        "selected": [p.to_json() for p in draw.selected],
        "alternates": [p.to_json() for p in draw.alternates],
        "replacements": [r.to_json() for r in draw.replacements],
        "teams": [{**t, "inspectors": list(t["inspectors"])} for t in teams],
        "candidates": candidates,
    }
    if staffing is not None:
        bundle["staffing"] = dict(staffing)
    if assignment is not None:
        bundle["assignment"] = dict(assignment)
    for field, value in (process or {}).items():
        if field not in _FIELDS:
            raise BundleError(f"process field {field!r} is not a bundle field")
        if value is not None:
            bundle[field] = value
    bundle["record_digest"] = record_digest(bundle)
    return bundle


MAX_NESTING = 64
"""A bundle's JSON is at most this deep (its deepest part, the seed provenance, needs 5)."""
MAX_DIGITS = 64
"""No number in a bundle has more digits (counts and sizes; hashes are hex text)."""


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise BundleError(
            f"it holds a number with {digits:,} digits; no number in a draw bundle has more "
            f"than {MAX_DIGITS}"
        )
    return int(text)


def _no_constant(name: str) -> Any:
    raise BundleError(f"it holds {name}, which is not a JSON number")


def _nesting(value: Any) -> int:
    """How deep ``value`` nests (without recursion, so that any input is safe)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
    return deepest


def read_bundle(text: str | bytes) -> dict[str, Any]:
    """The bundle in a file's ``text``, or :class:`BundleError` saying why it is none.

    A draw bundle is one JSON object. Refused: text that is not JSON; a JSON array, ``null``
    or other value at the top; nesting deeper than :data:`MAX_NESTING`; a number longer than
    :data:`MAX_DIGITS` digits; ``NaN`` and ``Infinity``.

    >>> read_bundle('{"spec": "SSJ-DRAW-1"}')
    {'spec': 'SSJ-DRAW-1'}
    >>> read_bundle("[]")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.bundle.BundleError: it holds a JSON array, not a draw bundle (a JSON object ...
    >>> read_bundle("[" * 10_000 + "]" * 10_000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji.bundle.BundleError: it nests more than 64 levels deep; ...
    """
    deep = BundleError(
        f"it nests more than {MAX_NESTING} levels deep; a draw bundle nests a few levels"
    )
    try:
        data = json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except RecursionError:
        raise deep from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"it is not JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise BundleError(f"it is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(data, dict):
        kind = {list: "JSON array", type(None): "JSON null"}.get(type(data), "single JSON value")
        raise BundleError(
            f"it holds a {kind}, not a draw bundle (a JSON object with spec, seed, candidates, "
            "selected, …)"
        )
    if _nesting(data) > MAX_NESTING:
        raise deep
    return data


@attrs.frozen
class Problem:
    """One thing wrong with a bundle: the ``field`` at fault and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@attrs.frozen
class VerificationReport:
    """The outcome of :func:`verify_bundle`: ``ok`` iff there are no problems.

    ``warnings`` do not make a bundle invalid (e.g. no seed provenance was recorded).
    """

    problems: tuple[Problem, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True iff the bundle re-derives exactly."""
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return "OK: the draw re-derives exactly from the bundle"
        return "\n".join(["FAILED:", *(f"  {p}" for p in self.problems)])


class _Checker:
    """Collects problems while :func:`verify_bundle` walks the bundle."""

    def __init__(self, bundle: Mapping[str, Any], derive: DrawDeriver | None = None) -> None:
        self.bundle = bundle
        self.derive = derive
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append(Problem(field, message))

    def get(self, field: str, kind: type | tuple[type, ...]) -> Any:
        value = self.bundle.get(field)
        if field not in self.bundle:
            self.add(field, "missing")
        elif not isinstance(value, kind) or isinstance(value, bool):
            self.add(field, f"has type {type(value).__name__}, expected {kind}")
        else:
            return value
        return None


def _parse_candidates(c: _Checker, cands: list[Any]) -> tuple[BytesArray, Strata] | None:
    try:
        ids = list(map(str.encode, map(itemgetter("id"), cands)))
        labels = list(map(itemgetter("stratum"), cands))
        index = {label: i for i, label in enumerate(sorted(set(labels), key=str.encode))}
        codes = np.fromiter(map(index.__getitem__, labels), np.intp, len(labels))
    except (TypeError, KeyError, AttributeError):
        c.add("candidates", "every candidate must be {'id': text, 'stratum': text}")
        return None
    arr = np.array(ids, dtype=bytes) if ids else np.zeros(0, dtype="S1")
    return arr, Strata(codes, tuple(index))


def _check_digest(c: _Checker, arr: BytesArray, strata: Strata, recorded: Any) -> None:
    lines = candidate_lines(arr, strata)
    if len(arr) > 1 and not bool(np.all(arr[1:] > arr[:-1])):
        c.add("candidates", "not listed in strictly increasing utf8(id) order (or an ID repeats)")
        lines = np.sort(lines)
    try:
        check_no_duplicate(lines)
    except DrawInputError as exc:
        c.add("candidates", str(exc))
    digest = digest_sorted_lines(lines)
    if recorded != digest:
        c.add("pool_digest", f"recorded {str(recorded)[:16]}..., candidates give {digest[:16]}...")


def _parse_strata(c: _Checker, strata: Mapping[str, Any]) -> dict[str, SizeRule] | None:
    rules = {}
    for label, entry in strata.items():
        try:
            rules[label] = SizeRule.from_json(entry["rule"])
        except (TypeError, KeyError, ValueError) as exc:
            c.add(f"strata.{label}.rule", f"not a valid size rule: {exc}")
    return rules if len(rules) == len(strata) else None


def _compare_sizes(c: _Checker, strata: Mapping[str, Any], draw: Draw) -> None:
    for s in draw.strata:
        entry = strata[s.label]
        for name, value in (("size", s.size), ("sample", s.sample), ("alternates", s.alternates)):
            if entry.get(name) != value:
                c.add(
                    f"strata.{s.label}.{name}", f"recorded {entry.get(name)!r}, re-derived {value}"
                )


def _compare_picks(c: _Checker, field: str, recorded: Any, derived: tuple[Pick, ...]) -> None:
    expected = [p.to_json() for p in derived]
    if recorded == expected:
        return
    if not isinstance(recorded, list):
        c.add(field, "must be a list of {'id', 'stratum', 'ticket'}")
        return
    first = next(
        (i for i, (a, b) in enumerate(zip(recorded, expected, strict=False)) if a != b),
        min(len(recorded), len(expected)),
    )
    got = recorded[first] if first < len(recorded) else "(nothing)"
    want = expected[first] if first < len(expected) else "(nothing)"
    c.add(
        field,
        f"{len(recorded)} recorded, {len(expected)} re-derived; first difference at "
        f"position {first}: recorded {got}, re-derived {want}",
    )


def _replay_replacements(c: _Checker, draw: Draw, recorded: list[Any]) -> Draw:
    for i, r in enumerate(recorded):
        try:
            skip = skip_map(r.get("skipped", []))
            nxt = draw.replace(r["replaced"], r["reason"], r.get("note", ""), skip=skip)
        except (ReplacementError, KeyError, TypeError, ValueError) as exc:
            c.add(f"replacements[{i}]", f"cannot be replayed: {exc}")
            return draw
        if nxt.replacements[-1].to_json() != r:
            c.add(
                f"replacements[{i}]",
                f"recorded {r}, re-derived {nxt.replacements[-1].to_json()} "
                "(the next unused alternate of the stratum)",
            )
            return draw
        draw = nxt
    return draw


def _check_teams(c: _Checker, teams: list[Any], active: tuple[Pick, ...]) -> None:
    selected = {p.id for p in active}
    seen: set[str] = set()
    for i, t in enumerate(teams):
        entity = t.get("entity") if isinstance(t, Mapping) else None
        inspectors = t.get("inspectors") if isinstance(t, Mapping) else None
        if (
            not isinstance(entity, str)
            or not isinstance(inspectors, list)
            or not all(isinstance(x, str) for x in inspectors)
        ):
            c.add(f"teams[{i}]", "must be {'entity': id, 'inspectors': [id, ...]}")
        elif entity not in selected:
            c.add(f"teams[{i}]", f"entity {entity!r} is not in the selection after replacements")
        elif entity in seen:
            c.add(f"teams[{i}]", f"entity {entity!r} has more than one team")
        else:
            seen.add(entity)
    if teams:
        for pick in active:
            if pick.id not in seen:
                c.add("teams", f"selected entity {pick.id!r} has no team")


def _check_metadata(c: _Checker, b: Mapping[str, Any]) -> None:
    if b.get("spec") != SPEC:
        c.add("spec", f"is {b.get('spec')!r}, this verifier implements {SPEC!r}")
    if b.get("bundle_format") != BUNDLE_FORMAT:
        c.add("bundle_format", f"is {b.get('bundle_format')!r}, expected {BUNDLE_FORMAT}")
    policy = b.get("policy_hash")
    if policy is not None and not (isinstance(policy, str) and _HEX64.match(policy)):
        c.add("policy_hash", "must be null or 64 lower-case hex characters")
    if not isinstance(b.get("library_version"), str) or not b.get("library_version"):
        c.add("library_version", "must be a non-empty text")
    try:
        _exclusions(b.get("exclusions", None))
    except (BundleError, TypeError, ValueError, AttributeError):
        c.add("exclusions", "must be a list of {'reason': text, 'count': int >= 0}")
    unknown = sorted(set(b) - set(_FIELDS))
    if unknown:
        c.warnings.append(f"unknown fields ignored: {unknown}")
    try:
        if b.get("record_digest") != record_digest(b):
            c.add("record_digest", "does not match the canonical JSON of the other fields")
    except ValueError as exc:
        c.add("record_digest", f"the other fields are not canonical JSON: {exc}")


def _check_excluded(c: _Checker, b: Mapping[str, Any]) -> None:
    """The published exclusions: known reasons, each ID excluded once and never a candidate
    too, and (where recorded) one fact per ID of the kind its reason needs, a registration
    "after the cut-off" really after it."""
    excluded = b.get("excluded")
    if excluded is None:
        return
    if not isinstance(excluded, list):
        c.add("excluded", "must be a list of {'reason', 'ids', 'facts'}")
        return
    candidates = {x.get("id") for x in b.get("candidates") or [] if isinstance(x, Mapping)}
    seen: dict[str, str] = {}
    for i, e in enumerate(excluded):
        where = f"excluded[{i}]"
        if not isinstance(e, Mapping) or not isinstance(e.get("ids"), list):
            c.add(where, "must be {'reason', 'ids': [id, ...], 'facts': [...]}")
            continue
        reason = str(e.get("reason"))
        if reason not in EXCLUSION_REASONS:
            c.add(where, f"reason {reason!r} is not one of {sorted(EXCLUSION_REASONS)}")
        for ident in e["ids"]:
            if ident in seen:
                c.add(where, f"{ident!r} is excluded twice ({seen[ident]}, {reason})")
            elif ident in candidates:
                c.add(where, f"{ident!r} is excluded ({reason}) and a candidate too")
            seen[str(ident)] = reason
        if "facts" in e and reason in EXCLUSION_FACTS:
            _check_facts(c, where, reason, e["ids"], e["facts"], b.get("cutoff"))


def _check_facts(
    c: _Checker, where: str, reason: str, ids: list[Any], facts: Any, cutoff: Any
) -> None:
    keys = EXCLUSION_FACTS[reason]
    if not isinstance(facts, list) or len(facts) != len(ids):
        c.add(where, f"facts must be a list with one {{{', '.join(keys)}}} per ID")
        return
    for ident, fact in zip(ids, facts, strict=True):
        problem = fact_problem(reason, fact, cutoff)
        if problem is not None:
            c.add(where, f"the fact of {ident!r} {problem.message}")
            if problem.kind == "keys":  # one malformed fact names the list's shape
                return


def _rederive(c: _Checker) -> tuple[Draw | None, bytes | None]:
    """The draw re-derived from the bundle's inputs (``None`` if unusable), and the seed."""
    task_label = c.get("task_label", str)
    seed_hex, scheme_text = c.get("seed", str), c.get("ticket_scheme", str)
    cands = c.get("candidates", list) if c.derive is None else None
    strata = c.get("strata", dict)
    seed = scheme = None
    if seed_hex is not None:
        try:
            seed = seed_bytes(seed_hex)
        except DrawInputError as exc:
            c.add("seed", str(exc))
    if scheme_text is not None:
        try:
            scheme = TicketScheme(scheme_text)
        except ValueError:
            c.add("ticket_scheme", f"unknown scheme {scheme_text!r}")
    parsed = _parse_candidates(c, cands) if cands is not None else None
    if parsed is not None:
        _check_digest(c, *parsed, c.bundle.get("pool_digest"))
    rules = _parse_strata(c, strata) if strata is not None else None
    if c.derive is not None:
        if task_label is None or seed is None or scheme is None or rules is None:
            return None, seed
        draw, problems = c.derive(task_label, seed, scheme, rules)
        c.problems += problems
        return draw, seed
    if task_label is None or seed is None or scheme is None or parsed is None or rules is None:
        return None, seed
    try:
        draw = draw_entities(*parsed, rules, task_label=task_label, seed=seed, scheme=scheme)
    except DrawInputError as exc:
        c.add("strata" if isinstance(exc, MissingRuleError) else "candidates", str(exc))
        return None, seed
    return draw, seed


def verify_bundle(
    bundle: Mapping[str, Any],
    *,
    team_checker: TeamChecker | None = None,
    announcements: Sequence[Mapping[str, Any]] = (),
    derive: DrawDeriver | None = None,
) -> VerificationReport:
    """Re-derive the draw from ``bundle`` alone; list every field that does not match.

    ``team_checker`` (e.g. from the assignment module) receives the bundle and returns
    problems with its ``teams``; without it only their shape and entities are checked.
    ``announcements`` are the pre-draw announcements as the agency published them
    (SSJ-ANNOUNCE-1): the bundle's own announcement must be among them and agree with the
    draw, so a draw made in a copy of the store or re-rolled after the announcement fails.
    ``derive`` re-derives the draw from candidates kept outside the JSON (the head of a
    columnar bundle; see :func:`shuangsuiji.columnar.verify_columnar`).
    """
    if not isinstance(bundle, Mapping):
        kind = "null" if bundle is None else type(bundle).__name__
        return VerificationReport((Problem("bundle", f"is {kind}, not a JSON object"),))
    c = _Checker(bundle, derive)
    if "announcement" in bundle or announcements:
        for message in announcement_problems(bundle, announcements):
            c.add("announcement", message)
    _check_metadata(c, bundle)
    _check_excluded(c, bundle)
    # A columnar head may keep its picks in a Parquet file that ``derive`` compares.
    picks_outside = derive is not None and "picks_file" in bundle
    selected = None if picks_outside else c.get("selected", list)
    alternates = None if picks_outside else c.get("alternates", list)
    replacements, teams = c.get("replacements", list), c.get("teams", list)
    draw, seed = _rederive(c)
    if draw is not None:
        _compare_sizes(c, bundle["strata"], draw)
        if selected is not None:
            _compare_picks(c, "selected", selected, draw.selected)
        if alternates is not None:
            _compare_picks(c, "alternates", alternates, draw.alternates)
        if replacements is not None:
            draw = _replay_replacements(c, draw, replacements)
        if teams is not None:
            _check_teams(c, teams, draw.active)
    provenance = bundle.get("seed_provenance")
    if provenance is None:
        c.add(
            "seed_provenance",
            "missing: the bundle does not show how its seed was made (the parties' "
            "commitments and reveals, or the announced public values), so nothing shows that "
            "nobody chose the seed after seeing the candidates",
        )
    elif seed is not None and isinstance(bundle.get("task_label"), str):
        for message in check_provenance(
            provenance,
            seed=seed,
            task_label=bundle["task_label"],
            pool_digest=str(bundle.get("pool_digest")),
        ):
            c.add("seed_provenance", message)
    if team_checker is not None:
        for message in team_checker(bundle):
            c.add("teams", message)
    return VerificationReport(tuple(c.problems), tuple(c.warnings))
