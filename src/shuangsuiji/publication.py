"""一公开: publication records, their deadlines and statuses, reports, and announcements.

Results are published on the national credit publicity system (国家企业信用信息公示系统) and the
agency's website **within N working days after the inspection activity ends** (default 20:
抽查活动结束后20个工作日内). A :class:`PublicationRecord` is what is published for one inspected
entity in one task — the fields the publicity system shows: plan, task, inspection type
(定向/不定向), the authority (every department of a joint task), the entity, the completion
date, the items with their result categories — plus its due date and, once published, the
publication date and who published it (谁公开).

**Due dates.** The policy's deadline rule (``[deadline]``: ``working_days``, ``after``)
counts N official working days strictly after the start: the entity's last inspection day
(``after = "inspection_end"``, the default) or the task's end (``"task_end"``), with
:class:`~shuangsuiji.workdays.WorkCalendar` for a whole batch at once (one
``searchsorted``). A start or due date beyond the calendar's coverage is refused unless
``estimate=True`` is asked for; then the record says so (``due_estimated``, ``due_basis``)
and every export labels it.

**Statuses** are computed for a ``today`` that the caller passes (no clock here):

- ``published``: published (on or before ``today``) no later than the due date;
- ``published_late``: published after the due date;
- ``overdue``: not published and ``today`` is after the due date;
- ``due_soon``: not published, ``today`` <= due, and the due date is at most
  ``due_soon_working_days`` working days after ``today`` (so the due day itself is due soon);
- ``pending``: not published and more time left.

For ``due_soon`` each record keeps ``due_soon_from``, the first day it counts as due soon —
the working day ``k`` working days before the due date, which is the ``(N - k)``-th working
day after the start — so a status needs no calendar.

>>> from datetime import date, datetime, timezone
>>> from shuangsuiji.model import Department, InspectionItem, Plan, Task
>>> from shuangsuiji.results import InspectionResult
>>> dept = Department("SCJG", "榕城市市场监督管理局")
>>> item = InspectionItem("SCJG-01", "SCJG", "企业公示信息情况检查", "《企业信息公示暂行条例》",
...                       "企业")
>>> plan = Plan("P2024", 2024, "2024年度抽查工作计划", ("SCJG",))
>>> task = Task("T2024-07", "P2024", "企业公示信息抽查", ("SCJG",), ("SCJG-01",),
...             date(2024, 9, 1), date(2024, 9, 30))
>>> result = InspectionResult(task="T2024-07", entity="91350100M000100Y43", item="SCJG-01",
...     categories="01", inspection_start=date(2024, 9, 19), inspection_end=date(2024, 9, 20),
...     inspectors="ZF01|ZF02", recorded_by="林晓",
...     recorded_at=datetime(2024, 9, 20, 8, tzinfo=timezone.utc))
>>> [record] = build_records([result], plan=plan, tasks=[task], items=[item],
...     departments=[dept], entity_names={"91350100M000100Y43": "榕城某某贸易有限公司"})
>>> record.due, record.due_soon_from
(datetime.date(2024, 10, 23), datetime.date(2024, 10, 16))
>>> [record.status(d).value for d in (date(2024, 10, 15), date(2024, 10, 23), date(2024, 10, 24))]
['pending', 'due_soon', 'overdue']
>>> record.publish(date(2024, 10, 24), by="王芳").status(date(2024, 11, 1)).label_zh
'逾期公示'
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Final

import attrs
import numpy as np

from shuangsuiji.deadlines import deadlines
from shuangsuiji.errors import InvalidInputError, RefusedError, UnknownKeyError
from shuangsuiji.model import Department, InspectionItem, Plan, Task
from shuangsuiji.policy import Policy
from shuangsuiji.publicity import (
    INSPECTION_TYPES,
    STATUS_ORDER,
    InspectionKind,
    PublicationStatus,
    department_dict,
    departments_from,
    describe_population,
    item_dict,
)
from shuangsuiji.results import InspectionResult, latest_results
from shuangsuiji.workdays import WorkCalendar

__all__ = [
    "INSPECTION_TYPES",
    "DepartmentReport",
    "ItemResult",
    "PlanAnnouncement",
    "PlannedTask",
    "PublicationError",
    "PublicationInputError",
    "PublicationRecord",
    "PublicationReport",
    "PublicationStatus",
    "ResultAnnouncement",
    "TaskAnnouncement",
    "Uninspected",
    "backdate_problems",
    "build_records",
    "describe_population",
    "plan_announcement",
    "publication_report",
    "result_announcements",
    "statuses",
    "task_announcement",
]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class PublicationError(RefusedError):
    """A publication record or announcement that breaks a rule; the message says which."""


class PublicationInputError(PublicationError, InvalidInputError):
    """Inputs that cannot make publication records; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[str], shown: int = 20) -> None:
        self.problems = list(problems)
        more = len(self.problems) - shown
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"cannot build publication records: {len(self.problems)} problem(s):\n  "
            + "\n  ".join(self.problems[:shown])
            + tail
        )


_AFTER: Final = {"inspection_end": "检查结束后", "task_end": "抽查任务结束后"}


def _day(value: Any, what: str) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PublicationError(f"{what} = {value!r} is not a date; give a datetime.date or YYYY-MM-DD")


def _strs(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _depts(values: Iterable[Department]) -> tuple[Department, ...]:
    return tuple(values)


def _items(values: Iterable[ItemResult]) -> tuple[ItemResult, ...]:
    return tuple(values)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@attrs.frozen(kw_only=True)
class ItemResult:
    """One inspected item of a publication record, with its result as published.

    ``labels`` are the categories' Chinese labels at the time the record was built (what the
    public sees); ``version`` the result version they come from.
    """

    item: str
    item_name: str
    department: str
    categories: tuple[str, ...] = attrs.field(converter=_strs)
    labels: tuple[str, ...] = attrs.field(converter=_strs)
    follow_up: str
    inspection_start: date
    inspection_end: date
    version: int = 1

    def __attrs_post_init__(self) -> None:
        if not self.categories or len(self.categories) != len(self.labels):
            raise PublicationError(
                f"item {self.item}: give one label per category code "
                f"({len(self.categories)} codes, {len(self.labels)} labels)"
            )

    @property
    def result_text(self) -> str:
        """The labels joined with ``；`` as the publicity system shows them."""
        return "；".join(self.labels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values (dates as ``YYYY-MM-DD``)."""
        return {
            "item": self.item,
            "item_name": self.item_name,
            "department": self.department,
            "categories": list(self.categories),
            "labels": list(self.labels),
            "follow_up": self.follow_up,
            "inspection_start": self.inspection_start.isoformat(),
            "inspection_end": self.inspection_end.isoformat(),
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemResult:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        for key in ("inspection_start", "inspection_end"):
            values[key] = _day(values[key], key)
        return cls(**values)


@attrs.frozen(kw_only=True)
class PublicationRecord(InspectionKind):
    """What is published for one inspected entity in one task (公示记录).

    ``departments`` are all the task's departments (a joint task is published by each);
    ``completion_date`` is the day the entity's last item was inspected; the deadline counts
    ``working_days`` working days after ``deadline_start`` (the completion date, or the task's
    end under ``after = "task_end"``) to ``due``. ``due_estimated`` is true when ``due`` rests
    on days beyond the official calendar, and ``due_basis`` says so in words.
    ``missing_items`` are the task's items without a result for this entity yet.
    ``published`` and ``published_by`` are set by :meth:`publish`.
    """

    plan: str
    plan_name: str
    task: str
    task_name: str
    directed: bool
    departments: tuple[Department, ...] = attrs.field(converter=_depts)
    entity: str
    entity_name: str
    items: tuple[ItemResult, ...] = attrs.field(converter=_items)
    missing_items: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    completion_date: date
    deadline_after: str = "inspection_end"
    deadline_start: date
    working_days: int
    due: date
    due_soon_from: date
    due_estimated: bool = False
    due_basis: str
    published: date | None = None
    published_by: str = ""

    def __attrs_post_init__(self) -> None:
        where = f"publication record {self.task} / {self.entity}"
        if not self.items:
            raise PublicationError(f"{where}: a record needs at least one item result")
        codes = [i.item for i in self.items]
        if len(set(codes)) != len(codes):
            raise PublicationError(f"{where}: an item is listed twice in {codes}")
        if not self.departments:
            raise PublicationError(f"{where}: name the task's departments (the authority)")
        if self.deadline_after not in _AFTER:
            raise PublicationError(
                f"{where}: deadline_after = {self.deadline_after!r}; choose one of {list(_AFTER)}"
            )
        if not (self.deadline_start <= self.due_soon_from <= self.due) or not (
            self.completion_date <= self.deadline_start < self.due
        ):
            raise PublicationError(
                f"{where}: dates out of order: completed {self.completion_date}, deadline "
                f"start {self.deadline_start}, due soon from {self.due_soon_from}, due {self.due}"
            )
        if self.published is None:
            if self.published_by:
                raise PublicationError(f"{where}: published_by is set but no published date")
            return
        if self.published < self.completion_date:
            raise PublicationError(
                f"{where}: published on {self.published}, before the inspection was completed "
                f"on {self.completion_date}; check the date"
            )
        if not self.published_by.strip():
            raise PublicationError(f"{where}: name who published it (谁公开) in published_by")

    @property
    def key(self) -> tuple[str, str]:
        """``(task, entity)``: one record per inspected entity per task."""
        return (self.task, self.entity)

    @property
    def authority(self) -> str:
        """The departments' names joined with ``、`` (抽查机关)."""
        return "、".join(d.name for d in self.departments)

    @property
    def deadline_rule(self) -> str:
        """The rule in words, e.g. ``检查结束后20个工作日内``."""
        return f"{_AFTER[self.deadline_after]}{self.working_days}个工作日内"

    def status(self, today: date) -> PublicationStatus:
        """The status on ``today`` (see the module docstring)."""
        return statuses([self], today)[0]

    def publish(self, on: date, *, by: str) -> PublicationRecord:
        """The record published on ``on`` by ``by``; refuses a record already published."""
        if self.published is not None:
            raise PublicationError(
                f"publication record {self.task} / {self.entity} was already published on "
                f"{self.published} by {self.published_by}; to publish a correction (更正), keep "
                "the published record, rebuild this one without its publication and publish "
                "that (see changed_items)"
            )
        return attrs.evolve(self, published=_day(on, "published"), published_by=by.strip())

    def changed_items(self, earlier: PublicationRecord) -> tuple[str, ...]:
        """Item codes whose published result differs from ``earlier`` (added, removed, changed).

        ``earlier`` is what was published for the same task and entity; a non-empty answer
        means a result was corrected since and the record must be published again (更正公示).
        """
        if earlier.key != self.key:
            raise PublicationError(f"{earlier.key} and {self.key} are different records")
        old = {i.item: i for i in earlier.items}
        new = {i.item: i for i in self.items}
        return tuple(sorted(c for c in old.keys() | new.keys() if old.get(c) != new.get(c)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values, the form a store keeps and :meth:`from_dict` reads back."""
        return {
            "plan": self.plan,
            "plan_name": self.plan_name,
            "task": self.task,
            "task_name": self.task_name,
            "directed": self.directed,
            "inspection_type": self.inspection_type,
            "departments": [department_dict(d) for d in self.departments],
            "entity": self.entity,
            "entity_name": self.entity_name,
            "items": [i.to_dict() for i in self.items],
            "missing_items": list(self.missing_items),
            "completion_date": self.completion_date.isoformat(),
            "deadline_after": self.deadline_after,
            "deadline_start": self.deadline_start.isoformat(),
            "working_days": self.working_days,
            "due": self.due.isoformat(),
            "due_soon_from": self.due_soon_from.isoformat(),
            "due_estimated": self.due_estimated,
            "due_basis": self.due_basis,
            "published": _iso(self.published),
            "published_by": self.published_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublicationRecord:
        """Inverse of :meth:`to_dict` (``inspection_type`` is derived and ignored)."""
        values = {k: v for k, v in data.items() if k != "inspection_type"}
        try:
            values["departments"] = departments_from(values["departments"])
            values["items"] = tuple(ItemResult.from_dict(i) for i in values["items"])
            for key in ("completion_date", "deadline_start", "due", "due_soon_from"):
                values[key] = _day(values[key], key)
            if values.get("published") is not None:
                values["published"] = _day(values["published"], "published")
            return cls(**values)
        except (KeyError, TypeError) as exc:
            raise PublicationError(f"not a publication record: {exc!r}") from None


@attrs.frozen
class Uninspected:
    """An entity a task's draw selected (after replacements) that has no result recorded:
    still to be inspected, or — once ``task_end`` has passed — never inspected."""

    task: str
    task_name: str
    task_end: date
    entity: str
    entity_name: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values."""
        return {
            "task": self.task,
            "task_name": self.task_name,
            "task_end": self.task_end.isoformat(),
            "entity": self.entity,
            "entity_name": self.entity_name,
        }


def backdate_problems(
    on: date, today: date, *, actor: str, reason: str = "", approver: str = ""
) -> list[str]:
    """Why ``on`` cannot be recorded as the publication date on ``today`` (empty: it can).

    The publication date is when the publication happens, so it is ``today``. An earlier date
    is a correction of the record (the results were published but not entered at the time):
    it needs the ``reason`` and a second person, ``approver``, who is not the ``actor``. A
    date after today is never accepted: it would count a publication that has not happened.

    >>> today = date(2026, 12, 2)
    >>> backdate_problems(today, today, actor="陈静")
    []
    >>> for p in backdate_problems(date(2026, 9, 10), today, actor="陈静", approver="陈静"):
    ...     print(p)  # doctest: +NORMALIZE_WHITESPACE
    the publication date 2026-09-10 is before today (2026-12-02): an earlier date is recorded
      only as a correction; give the reason (--reason)
    the correction of the publication date needs a second person to approve it
      (--approved-by, not 陈静 who enters it)
    >>> print(*backdate_problems(date(2030, 1, 1), today, actor="陈静", reason="补录",
    ...                          approver="林晓"))  # doctest: +NORMALIZE_WHITESPACE
    the publication date 2030-01-01 is after today (2026-12-02): a publication is recorded on
      the day it happens, never in advance
    """
    if on > today:
        return [
            f"the publication date {on} is after today ({today}): a publication is recorded on "
            "the day it happens, never in advance"
        ]
    if on == today:
        return []
    out = []
    if not reason.strip():
        out.append(
            f"the publication date {on} is before today ({today}): an earlier date is recorded "
            "only as a correction; give the reason (--reason)"
        )
    if not approver.strip() or approver.strip() == actor.strip():
        out.append(
            "the correction of the publication date needs a second person to approve it "
            f"(--approved-by, not {actor} who enters it)"
        )
    return out


def statuses(records: Sequence[PublicationRecord], today: date) -> list[PublicationStatus]:
    """The status of every record on ``today``, computed column-wise.

    A record published after ``today`` is not published yet on ``today``.
    """
    now = np.datetime64(_day(today, "today"), "D")
    due = np.array([r.due for r in records], dtype="datetime64[D]")
    soon = np.array([r.due_soon_from for r in records], dtype="datetime64[D]")
    published = np.array(
        [np.datetime64("NaT") if r.published is None else r.published for r in records],
        dtype="datetime64[D]",
    )
    done = published <= now  # NaT compares False
    code = np.where(
        done,
        np.where(published <= due, 4, 3),
        np.where(now > due, 2, np.where(now >= soon, 1, 0)),
    )
    return [STATUS_ORDER[i] for i in code.tolist()]


def _dict_of(values: Iterable[Any], what: str, key: str = "code") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in values:
        code = getattr(value, key)
        if code in out and out[code] != value:
            raise PublicationInputError([f"two different {what} have the code {code}"])
        out[code] = value
    return out


def build_records(
    results: Iterable[InspectionResult],
    *,
    plan: Plan,
    tasks: Iterable[Task],
    items: Iterable[InspectionItem],
    departments: Iterable[Department],
    entity_names: Mapping[str, str],
    policy: Policy | None = None,
    calendar: WorkCalendar | None = None,
    estimate: bool = False,
    published: Mapping[tuple[str, str], tuple[date, str]] | None = None,
) -> list[PublicationRecord]:
    """Publication records for the inspected entities of ``plan``'s ``tasks``, one per entity.

    Uses the latest version of every result (:func:`~shuangsuiji.results.latest_results`),
    ``items`` and ``departments`` for names, ``entity_names`` for the entities' names, and the
    policy's deadline rule (default :meth:`Policy.default`: 20 working days after the
    inspection ends) with ``calendar`` (default :meth:`WorkCalendar.official`), all due dates
    in one vectorised call. ``estimate=True`` allows due dates beyond the calendar, labelled
    as estimates. ``published`` maps ``(task, entity)`` to ``(date, by)`` for records already
    published. Every inconsistency (a result of a task outside the plan, an item not in its
    task, a missing name …) is reported at once in :class:`PublicationInputError`. Records come
    sorted by task and entity.
    """
    policy = policy or Policy.default()
    calendar = calendar or WorkCalendar.official()
    by_item = _dict_of(items, "items")
    by_department = _dict_of(departments, "departments")
    groups = _entity_groups(
        results, plan, _dict_of(tasks, "tasks"), by_item, by_department, entity_names
    )
    rule = policy.deadline
    dues = deadlines(groups, rule, calendar, estimate)
    done = published or {}
    records = []
    for k, (task, rows) in enumerate(groups):
        entity = rows[0].entity
        when, by = done.get((task.code, entity), (None, ""))
        records.append(
            PublicationRecord(
                plan=plan.code,
                plan_name=plan.name,
                task=task.code,
                task_name=task.name,
                directed=task.directed,
                departments=tuple(by_department[d] for d in task.departments),
                entity=entity,
                entity_name=entity_names[entity],
                items=tuple(_item_result(r, by_item[r.item]) for r in rows),
                missing_items=tuple(i for i in task.items if i not in {r.item for r in rows}),
                completion_date=dues.completion[k],
                deadline_after=rule.after,
                deadline_start=dues.starts[k],
                working_days=rule.working_days,
                due=dues.due[k],
                due_soon_from=dues.soon[k],
                due_estimated=dues.estimated[k],
                due_basis=dues.basis[k],
                published=when,
                published_by=by,
            )
        )
    return records


def _entity_groups(
    results: Iterable[InspectionResult],
    plan: Plan,
    by_task: Mapping[str, Task],
    by_item: Mapping[str, InspectionItem],
    by_department: Mapping[str, Department],
    entity_names: Mapping[str, str],
) -> list[tuple[Task, list[InspectionResult]]]:
    """The latest results grouped by (task, entity), in that order; every inconsistency of
    the inputs at once in :class:`PublicationInputError`."""
    problems: list[str] = []
    groups: list[tuple[Task, list[InspectionResult]]] = []
    for (task_code, _), group in itertools.groupby(
        latest_results(results), key=lambda r: (r.task, r.entity)
    ):
        rows = list(group)
        task = by_task.get(task_code)
        if task is None:
            problems.append(f"result for unknown task {task_code}; pass it in tasks")
            continue
        if task.plan != plan.code:
            problems.append(f"task {task_code} belongs to plan {task.plan}, not {plan.code}")
        problems += _group_problems(task, rows, by_item, entity_names)
        groups.append((task, rows))
    for task in by_task.values():
        problems += [
            f"task {task.code}: unknown department {d}; pass it in departments"
            for d in task.departments
            if d not in by_department
        ]
    if problems:
        raise PublicationInputError(problems)
    return groups


def _group_problems(
    task: Task,
    rows: Sequence[InspectionResult],
    by_item: Mapping[str, InspectionItem],
    entity_names: Mapping[str, str],
) -> list[str]:
    problems = []
    entity = rows[0].entity
    if not str(entity_names.get(entity, "")).strip():
        problems.append(f"task {task.code}: no name for entity {entity}; pass it in entity_names")
    for r in rows:
        if r.item not in task.items:
            problems.append(
                f"task {task.code} / {entity}: item {r.item} is not an item of the task "
                f"({', '.join(task.items)})"
            )
        elif r.item not in by_item:
            problems.append(f"item {r.item} is unknown; pass it in items")
    return problems


def _item_result(result: InspectionResult, item: InspectionItem) -> ItemResult:
    return ItemResult(
        item=item.code,
        item_name=item.name,
        department=item.department,
        categories=result.categories,
        labels=result.labels(),
        follow_up=result.follow_up,
        inspection_start=result.inspection_start,
        inspection_end=result.inspection_end,
        version=result.version,
    )


# -- reports --------------------------------------------------------------------------------------


def _summary(record: PublicationRecord, today: date) -> dict[str, Any]:
    return {
        "task": record.task,
        "task_name": record.task_name,
        "entity": record.entity,
        "entity_name": record.entity_name,
        "completion_date": record.completion_date.isoformat(),
        "due": record.due.isoformat(),
        "due_estimated": record.due_estimated,
        "days_to_due": (record.due - today).days,
    }


@attrs.frozen(kw_only=True)
class DepartmentReport:
    """One department's records on ``today``: counts by status and the lists to act on.

    ``overdue`` and ``due_soon`` are sorted by due date, the most urgent first.
    """

    department: Department
    today: date
    counts: Mapping[PublicationStatus, int]
    overdue: tuple[PublicationRecord, ...]
    due_soon: tuple[PublicationRecord, ...]

    @property
    def total(self) -> int:
        """The number of records of the department."""
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values; each listed record as a short summary with ``days_to_due``."""
        return {
            "department": department_dict(self.department),
            "today": self.today.isoformat(),
            "total": self.total,
            "counts": {s.value: self.counts.get(s, 0) for s in PublicationStatus},
            "overdue": [_summary(r, self.today) for r in self.overdue],
            "due_soon": [_summary(r, self.today) for r in self.due_soon],
        }


@attrs.frozen(kw_only=True)
class PublicationReport:
    """Overdue and due-soon reports per department on ``today`` (joint records count for each)."""

    today: date
    departments: tuple[DepartmentReport, ...]

    def __getitem__(self, code: str) -> DepartmentReport:
        for report in self.departments:
            if report.department.code == code:
                return report
        raise UnknownKeyError(f"no records for department {code!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values."""
        return {
            "today": self.today.isoformat(),
            "departments": [d.to_dict() for d in self.departments],
        }


def publication_report(records: Sequence[PublicationRecord], today: date) -> PublicationReport:
    """Counts by status and the overdue and due-soon lists of every department on ``today``.

    >>> publication_report([], date(2025, 1, 1)).departments
    ()
    """
    today = _day(today, "today")
    status = statuses(records, today)
    per: dict[str, list[int]] = {}
    names: dict[str, Department] = {}
    for k, record in enumerate(records):
        for d in record.departments:
            per.setdefault(d.code, []).append(k)
            names.setdefault(d.code, d)
    reports = []
    for code in sorted(per):
        rows = per[code]
        counts = {s: 0 for s in PublicationStatus}
        for k in rows:
            counts[status[k]] += 1

        def urgent(wanted: PublicationStatus, rows: list[int] = rows) -> tuple[Any, ...]:
            chosen = [records[k] for k in rows if status[k] is wanted]
            return tuple(sorted(chosen, key=lambda r: (r.due, r.task, r.entity)))

        reports.append(
            DepartmentReport(
                department=names[code],
                today=today,
                counts=counts,
                overdue=urgent(PublicationStatus.OVERDUE),
                due_soon=urgent(PublicationStatus.DUE_SOON),
            )
        )
    return PublicationReport(today=today, departments=tuple(reports))


# -- announcements --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PlannedTask(InspectionKind):
    """One task as announced: a row of the plan table (一表) and the head of its announcements."""

    code: str
    name: str
    departments: tuple[Department, ...]
    items: tuple[InspectionItem, ...]
    directed: bool
    population: str
    ratio: float | None
    start: date
    end: date

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values."""
        return {
            "code": self.code,
            "name": self.name,
            "inspection_type": self.inspection_type,
            "joint": self.joint,
            "departments": [department_dict(d) for d in self.departments],
            "items": [item_dict(i) for i in self.items],
            "population": self.population,
            "ratio": self.ratio,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def _planned(
    task: Task, items: Mapping[str, InspectionItem], departments: Mapping[str, Department]
) -> PlannedTask:
    missing = [f"department {d}" for d in task.departments if d not in departments]
    missing += [f"item {i}" for i in task.items if i not in items]
    if missing:
        raise PublicationInputError([f"task {task.code}: unknown {m}" for m in missing])
    return PlannedTask(
        code=task.code,
        name=task.name,
        departments=tuple(departments[d] for d in task.departments),
        items=tuple(items[i] for i in task.items),
        directed=task.directed,
        population=describe_population(task.population),
        ratio=task.ratio,
        start=task.start,
        end=task.end,
    )


@attrs.frozen(kw_only=True)
class PlanAnnouncement:
    """The annual plan announcement (抽查计划公告, 一表): the year's tasks, published in advance."""

    plan: str
    plan_name: str
    year: int
    departments: tuple[Department, ...]
    tasks: tuple[PlannedTask, ...]
    issued_on: date | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values."""
        return {
            "kind": "plan_announcement",
            "plan": self.plan,
            "plan_name": self.plan_name,
            "year": self.year,
            "departments": [department_dict(d) for d in self.departments],
            "tasks": [t.to_dict() for t in self.tasks],
            "issued_on": _iso(self.issued_on),
        }


def plan_announcement(
    plan: Plan,
    tasks: Iterable[Task],
    *,
    items: Iterable[InspectionItem],
    departments: Iterable[Department],
    issued_on: date | None = None,
) -> PlanAnnouncement:
    """The plan announcement of ``plan`` with its ``tasks`` in order of their start."""
    by_item, by_department = _dict_of(items, "items"), _dict_of(departments, "departments")
    own = sorted((t for t in tasks if t.plan == plan.code), key=lambda t: (t.start, t.code))
    return PlanAnnouncement(
        plan=plan.code,
        plan_name=plan.name,
        year=plan.year,
        departments=tuple(by_department[d] for d in plan.departments if d in by_department),
        tasks=tuple(_planned(t, by_item, by_department) for t in own),
        issued_on=issued_on,
    )


@attrs.frozen(kw_only=True)
class TaskAnnouncement:
    """The task announcement (抽查任务公告): what is inspected, how it was drawn, how many.

    ``candidates`` is the size of the frozen candidate set, ``excluded`` the entities left out
    before the draw, ``selected`` the entities to inspect (after replacements); ``pool_digest``
    and ``record_digest`` (the draw bundle's) let anyone check the published bundle against
    this announcement. ``entities`` lists ``(id, name)`` of the drawn entities when the agency
    publishes the list.
    """

    plan: str
    plan_name: str
    task: PlannedTask
    draw_date: date
    candidates: int
    excluded: int
    selected: int
    pool_digest: str
    record_digest: str
    entities: tuple[tuple[str, str], ...] = ()
    issued_on: date | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("pool_digest", "record_digest"):
            if not _HEX64.match(getattr(self, name)):
                raise PublicationError(f"{name} must be 64 lower-case hex characters (SHA-256)")
        if not 0 <= self.selected <= self.candidates or self.excluded < 0:
            raise PublicationError(
                f"task {self.task.code}: counts do not add up: {self.selected} selected of "
                f"{self.candidates} candidates, {self.excluded} excluded"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values."""
        return {
            "kind": "task_announcement",
            "plan": self.plan,
            "plan_name": self.plan_name,
            "task": self.task.to_dict(),
            "draw_date": self.draw_date.isoformat(),
            "counts": {
                "candidates": self.candidates,
                "excluded": self.excluded,
                "selected": self.selected,
            },
            "pool_digest": self.pool_digest,
            "record_digest": self.record_digest,
            "entities": [{"id": i, "name": n} for i, n in self.entities],
            "issued_on": _iso(self.issued_on),
        }


def _active_ids(bundle: Mapping[str, Any]) -> list[str]:
    """The selected IDs after replacements, in ticket order then promotion order."""
    replaced = {r["replaced"] for r in bundle.get("replacements", [])}
    ids = [p["id"] for p in bundle["selected"] if p["id"] not in replaced]
    ids += [r["by"] for r in bundle.get("replacements", []) if r["by"] not in replaced]
    return ids


def task_announcement(
    bundle: Mapping[str, Any],
    *,
    plan: Plan,
    task: Task,
    items: Iterable[InspectionItem],
    departments: Iterable[Department],
    draw_date: date,
    entity_names: Mapping[str, str] | None = None,
    issued_on: date | None = None,
) -> TaskAnnouncement:
    """The task announcement of ``task`` from its draw bundle (SSJ-DRAW-1).

    With ``entity_names`` the announcement lists the drawn entities (after replacements).
    """
    if bundle.get("task_label") != task.code:
        raise PublicationError(
            f"the bundle is for task {bundle.get('task_label')!r}, not {task.code}"
        )
    ids = _active_ids(bundle)
    entities: tuple[tuple[str, str], ...] = ()
    if entity_names is not None:
        unnamed = [i for i in ids if i not in entity_names]
        if unnamed:
            raise PublicationInputError([f"no name for drawn entity {i}" for i in unnamed])
        entities = tuple((i, entity_names[i]) for i in ids)
    return TaskAnnouncement(
        plan=plan.code,
        plan_name=plan.name,
        task=_planned(task, _dict_of(items, "items"), _dict_of(departments, "departments")),
        draw_date=_day(draw_date, "draw_date"),
        candidates=len(bundle["candidates"]),
        excluded=sum(int(e["count"]) for e in bundle.get("exclusions", [])),
        selected=len(ids),
        pool_digest=str(bundle["pool_digest"]),
        record_digest=str(bundle["record_digest"]),
        entities=entities,
        issued_on=issued_on,
    )


@attrs.frozen(kw_only=True)
class ResultAnnouncement(InspectionKind):
    """The result announcement of one task (抽查结果公告): every inspected entity's results."""

    plan: str
    plan_name: str
    task: str
    task_name: str
    directed: bool
    departments: tuple[Department, ...]
    records: tuple[PublicationRecord, ...]
    issued_on: date | None = None

    def __attrs_post_init__(self) -> None:
        strays = sorted({r.task for r in self.records} - {self.task})
        if strays:
            raise PublicationError(f"result announcement of {self.task} holds records of {strays}")

    def category_counts(self) -> dict[str, int]:
        """How many inspected items got each category code, in code order."""
        counts: dict[str, int] = {}
        for record in self.records:
            for item in record.items:
                for code in item.categories:
                    counts[code] = counts.get(code, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values."""
        return {
            "kind": "result_announcement",
            "plan": self.plan,
            "plan_name": self.plan_name,
            "task": self.task,
            "task_name": self.task_name,
            "inspection_type": INSPECTION_TYPES[self.directed],
            "departments": [department_dict(d) for d in self.departments],
            "entities": len(self.records),
            "category_counts": self.category_counts(),
            "records": [r.to_dict() for r in self.records],
            "issued_on": _iso(self.issued_on),
        }


def result_announcements(
    records: Iterable[PublicationRecord], *, issued_on: date | None = None
) -> list[ResultAnnouncement]:
    """One result announcement per task of ``records``, tasks and entities in code order."""
    ordered = sorted(records, key=lambda r: r.key)
    out = []
    for _, group in itertools.groupby(ordered, key=lambda r: r.task):
        rows = tuple(group)
        head = rows[0]
        out.append(
            ResultAnnouncement(
                plan=head.plan,
                plan_name=head.plan_name,
                task=head.task,
                task_name=head.task_name,
                directed=head.directed,
                departments=head.departments,
                records=rows,
                issued_on=issued_on,
            )
        )
    return out
