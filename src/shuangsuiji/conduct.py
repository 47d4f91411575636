"""How a period's draws were conducted: the acts around the lottery that a supervisor reviews.

The draw-health tests (:mod:`shuangsuiji.health`) ask whether the outcomes look like the
lottery the design describes. Steering can also hide in legitimate-looking acts around the
draw, each recorded but easy to miss one by one; this module lists them per task from the draw
bundles and the store's facts, so that ``shuangsuiji health`` shows them together:

- ``system_seed_only`` — the entity draw's seed rested on the system alone (no independent
  party, no public values), or the draw has no pre-draw announcement;
- ``redraw`` / ``abandoned`` — earlier attempts of the task, with reason and approver;
- ``reassigned`` — teams changed after the team draw, with reasons;
- ``late_conflict`` — a conflict of interest declared after the entity list was drawn, for an
  entity on that list (回避申报 after seeing the names: legitimate, and the classic lever for
  aiming a team);
- ``status_flip`` — an entity excluded from a draw for its status whose status changed again
  afterwards (e.g. set to 注销 before the freeze and back after it);
- ``never_inspected`` — an entity the draw selected, of a task that has ended, with no result
  (drawn, then quietly not visited).

Each kind's Chinese label, which ``health`` prints next to the code, is in
:data:`shuangsuiji.labels.CONDUCT_LABELS`, and the Chinese wording of each detail in
:data:`shuangsuiji.labels.CONDUCT_DETAIL_LABELS` (the English one is :data:`DETAILS`).

>>> bundle = {"task_label": "T1", "attempts": [
...     {"attempt": 1, "state": "abandoned", "reason": "ceremony_abandoned",
...      "reason_text": "纪检组未揭示", "approved_by": "科长"},
...     {"attempt": 2, "state": "drawn", "reason": "ceremony_abandoned",
...      "reason_text": "重新举行仪式", "approved_by": "科长"}],
...     "announcement": {"independent_parties": 1}}
>>> [f.kind for f in conduct_findings([bundle])]
['abandoned', 'redraw']
>>> conduct_findings([bundle])[1].detail
'attempt 2, ceremony_abandoned: 重新举行仪式 (approved by 科长)'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

__all__ = ["DETAILS", "Finding", "conduct_findings"]

DETAILS: Final[Mapping[str, str]] = {
    "no_announcement": "no pre-draw announcement in the record",
    "system_alone": "the seed rested on the system alone",
    "abandoned": "attempt {attempt} abandoned, {reason}: {reason_text} (approved by {approved_by})",
    "redraw": "attempt {attempt}, {reason}: {reason_text} (approved by {approved_by})",
    "reassigned": "{entity}: {inspector} taken off ({reason})",
    "late_conflict": "{inspector} declared {relation} with {entity} after the entity draw",
    "status_flip": "{entity} excluded as {before}, now {now}",
    "never_inspected": "{entity} was selected; the task ended without a result",
}
"""The English wording of each finding's detail, by key, filled with the finding's facts (the
``detail`` of ``health --json``); the Chinese wording of the same keys is
:data:`shuangsuiji.labels.CONDUCT_DETAIL_LABELS`."""


@attrs.frozen
class Finding:
    """One act around a draw for the supervisor to review: its ``kind``, task and detail.

    The detail is kept as facts (IDs, codes, dates, as text) and the key of its wording, so
    that it reads the same in English (:attr:`detail`) and in Chinese
    (:func:`shuangsuiji.labels.conduct_detail_label`).
    """

    kind: str
    task: str
    detail_key: str
    facts: Mapping[str, str] = attrs.field(factory=dict, hash=False)

    @property
    def detail(self) -> str:
        """The detail in English."""
        return DETAILS[self.detail_key].format_map(self.facts)

    def to_dict(self) -> dict[str, str]:
        """The finding as JSON values."""
        return {"kind": self.kind, "task": self.task, "detail": self.detail}


def _texts(**facts: object) -> dict[str, str]:
    return {k: str(v) for k, v in facts.items()}


def _seed(bundle: Mapping[str, Any]) -> list[Finding]:
    task = str(bundle.get("task_label"))
    announced = bundle.get("announcement")
    if not isinstance(announced, Mapping):
        return [Finding("system_seed_only", task, "no_announcement")]
    if not announced.get("independent_parties"):
        return [Finding("system_seed_only", task, "system_alone")]
    return []


def _attempts(bundle: Mapping[str, Any]) -> list[Finding]:
    task = str(bundle.get("task_label"))
    out = []
    for a in bundle.get("attempts") or []:
        facts = _texts(
            attempt=a.get("attempt"),
            reason=a.get("reason"),
            reason_text=a.get("reason_text"),
            approved_by=a.get("approved_by"),
        )
        if a.get("state") == "abandoned":
            out.append(Finding("abandoned", task, "abandoned", facts))
        elif int(a.get("attempt", 1)) > 1:
            out.append(Finding("redraw", task, "redraw", facts))
    return out


def _reassigned(bundle: Mapping[str, Any]) -> list[Finding]:
    task = str(bundle.get("task_label"))
    changes = (bundle.get("assignment") or {}).get("reassignments") or []
    return [
        Finding(
            "reassigned",
            task,
            "reassigned",
            _texts(entity=c.get("entity"), inspector=c.get("inspector"), reason=c.get("reason")),
        )
        for c in changes
    ]


def conduct_findings(
    bundles: Iterable[Mapping[str, Any]],
    *,
    late_conflicts: Mapping[str, Sequence[tuple[str, str, str]]] | None = None,
    status_flips: Mapping[str, Sequence[tuple[str, str, str]]] | None = None,
    never_inspected: Mapping[str, Sequence[str]] | None = None,
) -> list[Finding]:
    """Every finding of the current draws (their bundles), plus the store's facts:
    ``late_conflicts`` (task → ``(inspector, entity, relation)``), ``status_flips``
    (task → ``(entity, status at the freeze, status now)``) and ``never_inspected`` (task →
    selected entities without a result once the task has ended)."""
    out: list[Finding] = []
    for bundle in bundles:
        task = str(bundle.get("task_label"))
        out += _seed(bundle) + _attempts(bundle) + _reassigned(bundle)
        out += [
            Finding(
                "late_conflict", task, "late_conflict", _texts(inspector=i, entity=e, relation=r)
            )
            for i, e, r in (late_conflicts or {}).get(task, ())
        ]
        out += [
            Finding("status_flip", task, "status_flip", _texts(entity=e, before=b, now=now))
            for e, b, now in (status_flips or {}).get(task, ())
        ]
        out += [
            Finding("never_inspected", task, "never_inspected", _texts(entity=e))
            for e in (never_inspected or {}).get(task, ())
        ]
    return out
