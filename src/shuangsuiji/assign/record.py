"""Teams in the draw record: a replayable staffing record, and the checks a verifier runs.

:mod:`shuangsuiji.assign` draws teams from a :class:`~shuangsuiji.assign.Staffing` (the selected
entities, the inspector pool, conflicts, history, workload) and the draw's key. This module
connects it to the rest of the record:

- :func:`staffing_record` / :func:`staffing_from_record` write and read the part of a staffing
  that the rules look at — for the selected entities: ID, region, industry; for the inspectors
  of the task's departments: department, regions, qualifications, certificate expiry, active;
  the declared conflicts, past inspections and prior workloads that touch them — so that the
  draw bundle (its public commitments) and the sealed annex (its records) carry everything
  needed to re-check and replay the teams;
- :func:`bundle_team_checker` re-checks every rule on a bundle's teams and replays the draw of
  the teams (and their recorded re-assignments) from the bundle's key and the staffing opened
  from its sealed annex (:mod:`shuangsuiji.annex`); :func:`verify_draw` is the whole check of
  a bundle, with or without the annex: ``shuangsuiji verify`` uses it. Agency rules written
  in Python (:class:`~shuangsuiji.assign.RecusalRule`) are not in the record; a verifier
  passes them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from fractions import Fraction
from typing import Any

import attrs
import numpy as np

from shuangsuiji.annex import annex_problems, open_annex, section_problems
from shuangsuiji.assign._engine import assign_teams, reassign
from shuangsuiji.assign.assignment import Assignment, Recusal, Team
from shuangsuiji.assign.capped import GRID
from shuangsuiji.assign.check import check_teams
from shuangsuiji.assign.eligibility import Staffing, TaskNeeds
from shuangsuiji.assign.pairs import law_problems, statement_problems
from shuangsuiji.assign.rules import (
    AttributeRule,
    ConflictTable,
    PastAssignments,
    RecusalRule,
    TeamConfig,
)
from shuangsuiji.bundle import DrawDeriver, VerificationReport, verify_bundle
from shuangsuiji.changes import change_problems, change_text_problems
from shuangsuiji.commitments import legacy_staffing_digest, team_key
from shuangsuiji.draw import draw_key
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.model import Conflict
from shuangsuiji.pools import EntityPool, InspectorPool
from shuangsuiji.seeds import Ceremony

__all__ = [
    "bundle_team_checker",
    "staffing_from_record",
    "staffing_record",
    "verify_draw",
]

RECORD_FORMAT = 1


def _decode(values: np.ndarray[Any, Any]) -> list[str]:
    return [v.decode() for v in values.tolist()]


def staffing_record(staffing: Staffing, alternates: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON record of what the team rules of ``staffing`` look at (see module docstring).

    ``alternates`` names the entities of ``staffing`` that are the draw's alternates, not
    selected: their facts are frozen with the rest so that an alternate promoted after the
    team draw gets a team from frozen inputs; the team draw itself covers the others
    (:func:`team_staffing`). The record has the key ``alternates`` only when there are some.
    """
    ents, insp = staffing.entities, staffing.inspectors
    keep = insp.in_departments(staffing.needs.departments)
    insp = insp.take(keep)
    selected = set(ents.id_list())
    known = set(insp.id_list())
    c = staffing.conflicts
    conflicts = [
        [i, e, r, s]
        for i, e, r, s in zip(
            _decode(c.inspector_ids), _decode(c.entity_ids), c.relation, c.source, strict=True
        )
        if e in selected and i in known
    ]
    h = staffing.history
    history = [
        [i, e, str(d)]
        for i, e, d in zip(
            _decode(h.inspector_ids), _decode(h.entity_ids), h.dates.tolist(), strict=True
        )
        if e in selected and i in known
    ]
    cfg = staffing.config
    return {
        "format": RECORD_FORMAT,
        "needs": {
            "label": staffing.needs.label,
            "departments": list(staffing.needs.departments),
            "on": staffing.needs.on.isoformat(),
            "qualifications": sorted(staffing.needs.qualifications),
        },
        "config": {
            "size": cfg.size,
            "legal_exception": cfg.legal_exception,
            "qualification_mode": cfg.qualification_mode,
            "max_per_task": cfg.max_per_task,
            "max_per_period": cfg.max_per_period,
            "rotation_days": cfg.rotation_days,
            "attribute_rules": [
                {
                    "name": r.name,
                    "inspector_field": r.inspector_field,
                    "entity_field": r.entity_field,
                    "digits": r.digits,
                    "reason": r.reason,
                }
                for r in cfg.attribute_rules
            ],
            "declared_conflicts": cfg.declared_conflicts,
        },
        "entities": [
            [i, r, n]
            for i, r, n in zip(
                ents.id_list(), _decode(ents.region), _decode(ents.industry), strict=True
            )
        ],
        "inspectors": [
            {
                "id": insp.ids[k].decode(),
                "department": insp.department[k],
                "region": insp.region[k].decode(),
                "home_region": insp.home_region[k].decode(),
                "qualifications": sorted(insp.qualifications[k]),
                "certificate_expiry": str(insp.certificate_expiry[k]),
                "active": bool(insp.active[k]),
            }
            for k in range(len(insp))
        ],
        "conflicts": conflicts,
        "history": history,
        "prior_load": {k: v for k, v in sorted(staffing.prior_load.items()) if k in known},
    } | ({"alternates": list(alternates)} if alternates else {})


def team_staffing(record: Mapping[str, Any], staffing: Staffing) -> Staffing:
    """``staffing`` (rebuilt from ``record``) without the record's alternates: what the team
    draw itself covers."""
    alternates = set(record.get("alternates") or ())
    if not alternates:
        return staffing
    return staffing.restrict([i for i in staffing.entities.id_list() if i not in alternates])


def staffing_from_record(
    record: Mapping[str, Any], extra_rules: Sequence[RecusalRule] = ()
) -> Staffing:
    """Rebuild a :class:`Staffing` from :func:`staffing_record` (plus any agency rules)."""
    if record.get("format") != RECORD_FORMAT:
        raise InvalidInputError(f"staffing record format {record.get('format')!r} is not supported")
    ents = record["entities"]
    n = len(ents)
    entities = EntityPool.from_columns(
        ids=[e[0] for e in ents],
        names=[e[0] for e in ents],
        entity_type=["-"] * n,
        industry=[e[2] for e in ents],
        region=[e[1] for e in ents],
        registered=np.zeros(n, dtype="datetime64[D]"),
        tier=np.zeros(n, dtype=np.uint8),
        status=["存续"] * n,
        tags=[()] * n,
    )
    rows = record["inspectors"]
    inspectors = InspectorPool.from_columns(
        ids=[r["id"] for r in rows],
        names=[r["id"] for r in rows],
        department=[r["department"] for r in rows],
        region=[r["region"] for r in rows],
        home_region=[r["home_region"] for r in rows],
        certificate_no=["-"] * len(rows),
        certificate_expiry=[date.fromisoformat(r["certificate_expiry"]) for r in rows],
        qualifications=[r["qualifications"] for r in rows],
        active=[r["active"] for r in rows],
    )
    needs = record["needs"]
    cfg = dict(record["config"])
    cfg["attribute_rules"] = tuple(AttributeRule(**r) for r in cfg["attribute_rules"])
    return Staffing(
        entities=entities,
        inspectors=inspectors,
        needs=TaskNeeds(
            needs["label"],
            tuple(needs["departments"]),
            date.fromisoformat(needs["on"]),
            frozenset(needs["qualifications"]),
        ),
        config=TeamConfig(**cfg),
        conflicts=ConflictTable.from_rows([tuple(c) for c in record["conflicts"]]),
        history=PastAssignments.from_rows(
            [(h[0], h[1], date.fromisoformat(h[2])) for h in record["history"]]
        ),
        prior_load=dict(record["prior_load"]),
        extra_rules=tuple(extra_rules),
    )


def conflict_table(conflicts: Iterable[Conflict]) -> ConflictTable:
    """Declared conflicts as the assignment's column table."""
    return ConflictTable.from_rows(
        [(c.inspector_id, c.entity_id, c.relation, c.source) for c in conflicts]
    )


def bundle_team_checker(
    bundle: Mapping[str, Any],
    extra_rules: Sequence[RecusalRule] = (),
    annex: Mapping[str, Any] | None = None,
) -> list[str]:
    """Problems with a bundle's teams: every rule re-checked, the team draw replayed.

    A public bundle carries the staffing sealed (``sealed_staffing``, :mod:`shuangsuiji.annex`):
    without the ``annex`` only its commitments, its digest and the team seed's ceremony are
    checked; with it, every annex record is checked against its commitment and the teams are
    replayed. A bundle of the format before sealed annexes carries its ``staffing`` record
    itself (SSJ-STAFFING-1) and is replayed from it. A bundle without teams has nothing to
    check; teams without either are reported.
    """
    teams = bundle.get("teams") or []
    if "sealed_staffing" in bundle:
        return _sealed_problems(bundle, extra_rules, annex)
    record = bundle.get("staffing")
    if not teams and record is None:
        return []
    if record is None:
        return ["teams: the bundle has teams but no staffing record to check them against"]
    try:
        key = _team_key(bundle, legacy_staffing_digest(record))
    except (KeyError, TypeError, ValueError) as exc:
        key, problem = None, f"team_seed: {exc}"
    problems = _replay_problems(bundle, record, key, extra_rules)
    return problems if key is not None else [*problems, problem]


def _sealed_problems(
    bundle: Mapping[str, Any], extra_rules: Sequence[RecusalRule], annex: Mapping[str, Any] | None
) -> list[str]:
    problems = section_problems(bundle)
    if problems:
        return problems
    if not isinstance(bundle.get("team_seed"), Mapping):
        return ["team_seed: missing; a sealed staffing is bound to a team seed"]
    try:
        key = _team_key(bundle, bundle["sealed_staffing"]["digest"])
    except (KeyError, TypeError, ValueError) as exc:
        return [f"team_seed: {exc}"]
    assignment = bundle.get("assignment")
    problems = law_problems(
        bundle["team_seed"].get("pairs"),
        assignment.get("stream") if isinstance(assignment, Mapping) else None,
    )
    if annex is None or problems:
        return problems
    problems = annex_problems(bundle, annex) + change_text_problems(bundle, annex)
    if problems:
        return problems
    record = open_annex(bundle, annex)
    return _replay_problems(bundle, record, key, extra_rules) + _pair_problems(bundle, record)


def _pair_problems(bundle: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    """The pair statement of the team seed (SSJ-PAIRS-1), when there is one, re-computed from
    the opened staffing: it is a function of what was frozen, so it cannot fit the outcome."""
    stated = bundle["team_seed"].get("pairs")
    if stated is None:
        return []
    try:
        staffing = team_staffing(record, staffing_from_record(record))
    except (KeyError, TypeError, ValueError) as exc:
        return [f"pairs: staffing unreadable ({exc})"]
    return statement_problems(stated, staffing, bundle["sealed_staffing"]["digest"])


def _replay_problems(
    bundle: Mapping[str, Any],
    record: Mapping[str, Any],
    key: bytes | None,
    extra_rules: Sequence[RecusalRule],
) -> list[str]:
    """Every rule re-checked on the bundle's teams, and (given the ``key``) the team draw and
    its re-assignments replayed from ``record``."""
    teams = _teams_of(bundle.get("teams") or [])
    try:
        staffing = staffing_from_record(record, extra_rules)
        recorded = Assignment.from_dict(bundle["assignment"])
    except (KeyError, TypeError, ValueError) as exc:
        return [f"staffing/assignment: unreadable ({exc})"]
    problems = [
        f"teams: {p.entity_id} {p.inspector_id or ''} breaks {p.rule}: {p.message}".replace(
            "  ", " "
        )
        for p in check_teams(_current_staffing(record, staffing, recorded), teams)
    ]
    if key is None:
        return problems
    cap = Fraction(recorded.stream.pair_cap, GRID)
    replay = assign_teams(
        team_staffing(record, staffing), key, spec=recorded.stream.spec, pair_cap=cap
    )
    if recorded.reassignments:
        attempt = bundle.get("attempt")
        recusals, change_problems = _recusals(
            recorded, key, attempt if isinstance(attempt, int) else None
        )
        if change_problems:
            return problems + change_problems
        replay = reassign(staffing, replay, key, recusals)
    derived = {t.entity_id: sorted(t.inspector_ids) for t in replay.teams}
    given = {t.entity_id: sorted(t.inspector_ids) for t in teams}
    if derived != given:
        wrong = sorted(e for e in set(derived) | set(given) if derived.get(e) != given.get(e))
        problems.append(
            f"teams: {len(wrong)} team(s) differ from the replayed {recorded.stream.spec} draw, "
            f"e.g. {wrong[0]}: recorded {given.get(wrong[0])}, replayed {derived.get(wrong[0])}"
        )
    return problems


def _current_staffing(
    record: Mapping[str, Any], staffing: Staffing, recorded: Assignment
) -> Staffing:
    """The staffing of the entities that have teams now: the team draw's, each alternate
    promoted after it in the place of the entity it replaced."""
    ids = team_staffing(record, staffing).entities.id_list()
    for r in recorded.reassignments:
        if r.replaces:
            ids = [r.entity_id if i == r.replaces else i for i in ids]
    return staffing if ids == staffing.entities.id_list() else staffing.restrict(ids)


def _recusals(
    recorded: Assignment, key: bytes, attempt: int | None = None
) -> tuple[list[Recusal], list[str]]:
    """The recorded re-assignments as recusals to replay, each with the key of its change
    (SSJ-CHANGE-1) derived from its published change record and checked against it (and
    against the bundle's ``attempt``: a change of another attempt's teams does not fit)."""
    recusals, problems = [], []
    for index, r in enumerate(recorded.reassignments):
        change = None
        if r.key_sha256 or r.change is not None:
            expected = {
                "task": recorded.task_label,
                "index": index,
            }
            expected |= {"attempt": attempt} if attempt is not None else {}
            expected |= {
                "kind": "replacement" if r.replaces else "recusal",
                "entity": r.entity_id,
                "inspector": r.inspector_id,
                "reason": str(r.reason),
            }
            # a sealed text (recusals) is public only as the request's text_commitment
            sealed = "text_commitment" in ((r.change or {}).get("request") or {})
            expected |= {} if sealed else {"text": r.text}
            expected |= {"replaces": r.replaces} if r.replaces else {}
            found, change = change_problems(r.change or {}, key, expected)
            problems += found
            if change is not None and hashlib.sha256(change).hexdigest() != r.key_sha256:
                problems.append(f"change {index}: its key differs from the recorded key_sha256")
        recusals.append(Recusal(r.entity_id, r.inspector_id, r.reason, r.text, change, r.replaces))
    return recusals, problems


def verify_draw(
    bundle: Mapping[str, Any],
    *,
    annex: Mapping[str, Any] | None = None,
    announcements: Sequence[Mapping[str, Any]] = (),
    extra_rules: Sequence[RecusalRule] = (),
    derive: DrawDeriver | None = None,
) -> VerificationReport:
    """:func:`~shuangsuiji.bundle.verify_bundle` with the teams checked too: the entity draw,
    the seed and team-seed ceremonies and the staffing commitments from the public bundle
    alone; given the sealed ``annex``, every annex record against its commitment and the team
    draw replayed. Without the annex a bundle with teams gets a warning that its teams were
    not replayed. ``derive`` is for a columnar bundle's head (see
    :func:`~shuangsuiji.bundle.verify_bundle`)."""
    report = verify_bundle(
        bundle,
        team_checker=lambda b: bundle_team_checker(b, extra_rules, annex),
        announcements=announcements,
        derive=derive,
    )
    if annex is None and isinstance(bundle, Mapping) and bundle.get("sealed_staffing"):
        note = (
            "teams: checked against the staffing commitments only, not replayed; the staffing "
            "is in the sealed annex held by the supervising office (verify BUNDLE --annex ANNEX)"
        )
        return attrs.evolve(report, warnings=(*report.warnings, note))
    return report


def _team_key(bundle: Mapping[str, Any], digest: str) -> bytes:
    """The key the teams were drawn with: SSJ-TEAM-1 from the bundle's ``team_seed`` (bound to
    the staffing ``digest``, its ceremony checked), or the entity draw's key for older
    bundles."""
    frozen = bundle.get("team_seed")
    task = str(bundle["task_label"])
    if frozen is None:
        return draw_key(task, str(bundle["seed"]))
    if frozen["staffing_digest"] != digest:
        raise ValueError("the staffing record does not hash to the committed staffing digest")
    ceremony = Ceremony.from_record(frozen["ceremony"])
    if ceremony.pool_digest != digest or ceremony.task_label != task:
        raise ValueError("the team-seed ceremony is bound to another staffing or task")
    problems = ceremony.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return team_key(task, digest, ceremony.seed())


def _teams_of(teams: Iterable[Mapping[str, Any]]) -> list[Any]:
    return [Team(str(t["entity"]), tuple(t["inspectors"])) for t in teams]
