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
:data:`shuangsuiji.labels.CONDUCT_LABELS`.

>>> bundle = {"task_label": "T1", "attempts": [
...     {"attempt": 1, "state": "abandoned", "reason": "ceremony_abandoned",
...      "reason_text": "纪检组未揭示", "approved_by": "科长"},
...     {"attempt": 2, "state": "drawn", "reason": "ceremony_abandoned",
...      "reason_text": "重新举行仪式", "approved_by": "科长"}],
...     "announcement": {"independent_parties": 1}}
>>> [f.kind for f in conduct_findings([bundle])]
['abandoned', 'redraw']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

__all__ = ["Finding", "conduct_findings"]


@attrs.frozen
class Finding:
    """One act around a draw for the supervisor to review: its ``kind``, task and detail."""

    kind: str
    task: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        """The finding as JSON values."""
        return attrs.asdict(self)


def _seed(bundle: Mapping[str, Any]) -> list[Finding]:
    task = str(bundle.get("task_label"))
    announced = bundle.get("announcement")
    if not isinstance(announced, Mapping):
        return [Finding("system_seed_only", task, "no pre-draw announcement in the record")]
    if not announced.get("independent_parties"):
        return [Finding("system_seed_only", task, "the seed rested on the system alone")]
    return []


def _attempts(bundle: Mapping[str, Any]) -> list[Finding]:
    task = str(bundle.get("task_label"))
    out = []
    for a in bundle.get("attempts") or []:
        why = f"{a.get('reason')}: {a.get('reason_text')} (approved by {a.get('approved_by')})"
        if a.get("state") == "abandoned":
            out.append(Finding("abandoned", task, f"attempt {a.get('attempt')} abandoned, {why}"))
        elif int(a.get("attempt", 1)) > 1:
            out.append(Finding("redraw", task, f"attempt {a.get('attempt')}, {why}"))
    return out


def _reassigned(bundle: Mapping[str, Any]) -> list[Finding]:
    task = str(bundle.get("task_label"))
    changes = (bundle.get("assignment") or {}).get("reassignments") or []
    return [
        Finding(
            "reassigned",
            task,
            f"{c.get('entity')}: {c.get('inspector')} taken off ({c.get('reason')})",
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
            Finding("late_conflict", task, f"{i} declared {r} with {e} after the entity draw")
            for i, e, r in (late_conflicts or {}).get(task, ())
        ]
        out += [
            Finding("status_flip", task, f"{e} excluded as {before}, now {now}")
            for e, before, now in (status_flips or {}).get(task, ())
        ]
        out += [
            Finding("never_inspected", task, f"{e} was selected; the task ended without a result")
            for e in (never_inspected or {}).get(task, ())
        ]
    return out
