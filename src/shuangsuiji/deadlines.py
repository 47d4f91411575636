"""Publication deadlines: the due date of every inspected entity's publication record.

The policy's rule (:class:`~shuangsuiji.policy.DeadlineRules`) counts N official working days
strictly after the entity's last inspection day, or after the task's end; the first due-soon
day is ``due_soon_working_days`` working days earlier. :func:`deadlines` computes them for a
whole batch in one vectorised calendar call (:mod:`shuangsuiji.publication` builds the records).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import attrs
import numpy as np

from shuangsuiji.model import Task
from shuangsuiji.policy import DeadlineRules
from shuangsuiji.results import InspectionResult
from shuangsuiji.workdays import CalendarCoverageError, WorkCalendar

__all__ = ["Deadlines", "deadlines"]


@attrs.frozen
class Deadlines:
    """Per entity group: the completion date, the day the deadline counts from, the due date,
    the first due-soon day, and whether (and on what basis) the due date is an estimate."""

    completion: list[date]
    starts: list[date]
    due: list[date]
    soon: list[date]
    estimated: list[bool]
    basis: list[str]


def deadlines(
    groups: Sequence[tuple[Task, Sequence[InspectionResult]]],
    rule: DeadlineRules,
    calendar: WorkCalendar,
    estimate: bool,
) -> Deadlines:
    """Every group's deadline in one vectorised calendar call (two with due-soon)."""
    completion = [max(r.inspection_end for r in rows) for _, rows in groups]
    # A task cannot end before its last inspection: count from the later of the two.
    starts = [
        max(task.end, end) if rule.after == "task_end" else end
        for (task, _), end in zip(groups, completion, strict=True)
    ]
    keys = [(task.code, rows[0].entity) for task, rows in groups]
    array = np.array(starts, dtype="datetime64[D]")
    try:
        due = calendar.due_dates(array, rule.working_days, estimate=estimate)
        lead = rule.working_days - rule.due_soon_working_days
        soon = calendar.due_dates(array, lead, estimate=estimate).dates if lead >= 1 else array
    except CalendarCoverageError as exc:
        raise _coverage_context(exc, keys, starts) from None
    estimated = [bool(e) for e in due.estimated.tolist()]
    official = calendar.due_dates(array[:0]).basis
    return Deadlines(
        completion=completion,
        starts=starts,
        due=due.dates.astype(object).tolist(),
        soon=np.asarray(soon).astype(object).tolist(),
        estimated=estimated,
        basis=[due.basis if e else official for e in estimated],
    )


def _coverage_context(
    exc: CalendarCoverageError, keys: Sequence[tuple[str, str]], starts: Sequence[date]
) -> CalendarCoverageError:
    """The calendar's error, naming the record whose deadline it could not compute."""
    message = str(exc)
    match = re.match(r"starts\[(\d+)\]: ", message)
    pos = int(match.group(1)) if match else 0
    rest = message[match.end() :] if match else message
    task, entity = keys[pos]
    return CalendarCoverageError(
        f"publication record {task} / {entity} (deadline counted from {starts[pos]}): {rest}",
        day=exc.day,
        covered_from=exc.covered_from,
        covered_through=exc.covered_through,
    )
