"""Inspection results (抽查结果): result categories as data, validated results, corrections.

**Categories** (:mod:`shuangsuiji.categories`): the standard ones and an agency's own, each
with the kind that decides the consistency rules.

**Results.** An :class:`InspectionResult` is one inspected item of one entity in one task:
its categories, follow-up action, inspection dates, the inspectors who did it, who recorded
it and when (passed in: no clock here). An invalid result cannot exist: construction checks
every rule and raises :class:`InvalidResultError` listing every problem by field.

**Corrections.** A result is never edited: :func:`correct` returns the next version, with a
reason, a named person and a time no earlier than the previous version's; both versions are
kept (全程留痕), and :func:`latest_results` picks the current one of each entity × item.

>>> from datetime import date, datetime, timedelta, timezone
>>> cst = timezone(timedelta(hours=8))
>>> r = InspectionResult(task="T2025-01", entity="91350100M000100Y43", item="SCJG-01",
...     categories=["05"], follow_up="责令限期改正", inspection_start=date(2025, 9, 22),
...     inspection_end=date(2025, 9, 25), inspectors=["SCJG0001", "SCJG0002"],
...     recorded_by="林晓", recorded_at=datetime(2025, 9, 26, 10, 0, tzinfo=cst))
>>> r.labels()
('发现问题已责令改正',)
>>> r2 = correct(r, categories=["05", "08"], follow_up="责令改正；移送立案调查",
...              reason="复核发现需立案", recorded_by="陈静",
...              recorded_at=datetime(2025, 9, 29, 9, 0, tzinfo=cst))
>>> r2.version, r2.categories
(2, ('05', '08'))
>>> InspectionResult(task="T2025-01", entity="91350100M000100Y43", item="SCJG-01",
...     categories=["01", "05"], follow_up="", inspection_start=date(2025, 9, 22),
...     inspection_end=date(2025, 9, 25), inspectors=["SCJG0001"], recorded_by="林晓",
...     recorded_at=datetime(2025, 9, 26, 10, 0, tzinfo=cst))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shuangsuiji.results.InvalidResultError: result T2025-01 / 91350100M000100Y43 / SCJG-01: ...
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

import attrs

from shuangsuiji._tabular import (
    MAX_DATE,
    MIN_DATE,
    CsvFormatError,
    ImportValidationError,
    RowError,
    Source,
    canonical_ids,
    check_unique_values,
    parse_dates,
    read_columns,
)
from shuangsuiji.categories import (
    STANDARD_CATEGORIES,
    CategoryError,
    CategoryKind,
    ResultCategories,
    ResultCategory,
    ResultProblem,
)
from shuangsuiji.errors import IntegrityFailure, InvalidInputError, RefusedError
from shuangsuiji.ids import IdScheme, canonical_id, scheme_by_name
from shuangsuiji.model import CODE_RE, Task

__all__ = [
    "CHINA_STANDARD_TIME",
    "RESULT_COLUMNS",
    "STANDARD_CATEGORIES",
    "CategoryError",
    "CategoryKind",
    "CorrectionError",
    "InspectionResult",
    "InvalidResultError",
    "ResultCategories",
    "ResultCategory",
    "ResultHistoryError",
    "ResultProblem",
    "ResultScope",
    "correct",
    "latest_results",
    "read_results_csv",
    "scope_problems",
]

CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
"""UTC+8, the time zone in which a recording time's calendar day is taken."""

_SPLIT = re.compile(r"[|;,，；、]")


class InvalidResultError(InvalidInputError):
    """A result that breaks the rules; ``problems`` lists every :class:`ResultProblem`."""

    def __init__(self, where: str, problems: Sequence[ResultProblem]) -> None:
        self.problems = list(problems)
        super().__init__(f"{where}: " + "; ".join(str(p) for p in self.problems))


class CorrectionError(RefusedError):
    """A correction that cannot be made (no reason, nothing changed, time going backwards)."""


class ResultHistoryError(IntegrityFailure):
    """Two different results claim the same task, entity, item and version."""


def _codes(value: Any) -> tuple[str, ...]:
    """Categories as a sorted tuple of codes; a text is split on ``|``, ``;``, ``,`` or ``、``."""
    if isinstance(value, str):
        value = _SPLIT.split(value)
    if not isinstance(value, Iterable):
        return (repr(value),)
    return tuple(sorted(str(v).strip() for v in value if str(v).strip()))


def _ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = _SPLIT.split(value)
    if not isinstance(value, Iterable):
        return (repr(value),)
    return tuple(_id_or_raw(v) for v in value if not isinstance(v, str) or v.strip())


def _id_or_raw(value: Any) -> str:
    """The canonical ID, or the value unchanged when it is not one (reported by the checks)."""
    try:
        return canonical_id(value)
    except (ValueError, TypeError):
        return value  # type: ignore[no-any-return]


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _is_date(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _check_code(value: Any, field: str, what: str, out: list[ResultProblem]) -> None:
    if not isinstance(value, str) or not CODE_RE.match(value):
        out.append(
            ResultProblem(
                field,
                f"{value!r} is not a valid {what} code: use 1-64 ASCII letters, digits, '.', "
                "'_' or '-'",
            )
        )


def _check_id(value: Any, field: str, out: list[ResultProblem]) -> None:
    try:
        canonical_id(value)
    except (ValueError, TypeError, AttributeError) as exc:
        out.append(ResultProblem(field, str(exc)))


@attrs.frozen(kw_only=True)
class InspectionResult:
    """The result of one inspected item (检查事项) of one entity in one task.

    ``categories`` are codes of :attr:`catalogue` (a text such as ``"05|08"`` is split), kept
    sorted. ``follow_up`` is the follow-up action (后续处置), required with a ``problem``
    category. ``inspection_start``/``inspection_end`` are the days the inspection of this item
    began and ended (end >= start; the end is the day the deadline counts from).
    ``inspectors`` are the IDs of the team that inspected (at least one; the policy's team
    size is checked where the policy is known, see :func:`read_results_csv`). ``recorded_by``
    names who entered the result, ``recorded_at`` when (timezone-aware; its day in UTC+8 may
    not be before ``inspection_end``). ``version`` 1 is the first record; a correction
    (:func:`correct`) is the next version and carries its ``correction_reason``.

    ``catalogue`` is the :class:`ResultCategories` the codes are checked against (default:
    the standard set); it is not part of equality or of :meth:`to_dict`.
    """

    task: str = attrs.field(converter=_text)
    entity: str = attrs.field(converter=_id_or_raw)
    item: str = attrs.field(converter=_text)
    categories: tuple[str, ...] = attrs.field(converter=_codes)
    inspection_start: date
    inspection_end: date
    inspectors: tuple[str, ...] = attrs.field(converter=_ids)
    recorded_by: str = attrs.field(converter=_text)
    recorded_at: datetime
    follow_up: str = attrs.field(default="", converter=_text)
    version: int = 1
    correction_reason: str = attrs.field(default="", converter=_text)
    catalogue: ResultCategories = attrs.field(
        default=ResultCategories.standard(),
        eq=False,
        repr=False,
        validator=attrs.validators.instance_of(ResultCategories),
    )

    def __attrs_post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise InvalidResultError(f"result {self._where()}", problems)

    def _where(self) -> str:
        return f"{self.task} / {self.entity} / {self.item}"

    def _problems(self) -> list[ResultProblem]:
        out: list[ResultProblem] = []
        _check_code(self.task, "task", "task", out)
        _check_id(self.entity, "entity", out)
        _check_code(self.item, "item", "inspection item", out)
        follow_up = self.follow_up if isinstance(self.follow_up, str) else ""
        if not isinstance(self.follow_up, str):
            out.append(ResultProblem("follow_up", "must be a text (empty when not needed)"))
        out += self.catalogue.problems(self.categories, follow_up)
        self._check_dates(out)
        self._check_people(out)
        self._check_version(out)
        return out

    def _check_dates(self, out: list[ResultProblem]) -> None:
        dates_ok = True
        for field in ("inspection_start", "inspection_end"):
            value = getattr(self, field)
            if not _is_date(value):
                out.append(ResultProblem(field, f"must be a datetime.date, got {value!r}"))
                dates_ok = False
            elif not MIN_DATE <= value <= MAX_DATE:
                out.append(
                    ResultProblem(field, f"{value} is out of range ({MIN_DATE}..{MAX_DATE})")
                )
                dates_ok = False
        if dates_ok and self.inspection_end < self.inspection_start:
            out.append(
                ResultProblem(
                    "inspection_end",
                    f"{self.inspection_end} is before inspection_start {self.inspection_start}",
                )
            )
        at = self.recorded_at
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            out.append(
                ResultProblem(
                    "recorded_at",
                    f"must be a timezone-aware datetime (e.g. tzinfo=ZoneInfo('Asia/Shanghai')), "
                    f"got {at!r}",
                )
            )
        elif dates_ok:
            day = at.astimezone(CHINA_STANDARD_TIME).date()
            if self.inspection_end > day:
                out.append(
                    ResultProblem(
                        "inspection_end",
                        f"{self.inspection_end} is after the day the result was recorded ({day}, "
                        "China time): a result is recorded once its inspection has ended; check "
                        "the date",
                    )
                )

    def _check_people(self, out: list[ResultProblem]) -> None:
        if not self.inspectors:
            out.append(
                ResultProblem("inspectors", "name the inspectors who did the inspection (谁检查)")
            )
        for inspector in self.inspectors:
            _check_id(inspector, "inspectors", out)
        repeated = sorted({i for i in self.inspectors if self.inspectors.count(i) > 1})
        if repeated:
            out.append(ResultProblem("inspectors", f"{', '.join(repeated)} listed more than once"))
        if not isinstance(self.recorded_by, str) or not self.recorded_by:
            out.append(
                ResultProblem("recorded_by", "name the person who recorded the result (谁录入)")
            )

    def _check_version(self, out: list[ResultProblem]) -> None:
        version = self.version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            out.append(ResultProblem("version", f"must be an integer >= 1, got {version!r}"))
            return
        reason = self.correction_reason
        if not isinstance(reason, str):
            out.append(ResultProblem("correction_reason", "must be a text"))
        elif version == 1 and reason:
            out.append(
                ResultProblem(
                    "correction_reason",
                    "version 1 is the first record and has no correction reason",
                )
            )
        elif version > 1 and not reason:
            out.append(
                ResultProblem(
                    "correction_reason",
                    f"version {version} is a correction: say why the result was corrected",
                )
            )

    @property
    def key(self) -> tuple[str, str, str]:
        """``(task, entity, item)``: what the result is about; versions share it."""
        return (self.task, self.entity, self.item)

    @property
    def has_problem(self) -> bool:
        """Whether any category is of kind ``problem``."""
        return any(self.catalogue[c].kind is CategoryKind.PROBLEM for c in self.categories)

    def labels(self, language: str = "zh") -> tuple[str, ...]:
        """The categories' labels (Chinese by default, ``"en"`` for English), in code order."""
        return tuple(self.catalogue.label(c, language) for c in self.categories)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values: dates as ``YYYY-MM-DD``, ``recorded_at`` as ISO 8601 with offset."""
        return {
            "task": self.task,
            "entity": self.entity,
            "item": self.item,
            "categories": list(self.categories),
            "follow_up": self.follow_up,
            "inspection_start": self.inspection_start.isoformat(),
            "inspection_end": self.inspection_end.isoformat(),
            "inspectors": list(self.inspectors),
            "recorded_by": self.recorded_by,
            "recorded_at": self.recorded_at.isoformat(),
            "version": self.version,
            "correction_reason": self.correction_reason,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], catalogue: ResultCategories | None = None
    ) -> InspectionResult:
        """Inverse of :meth:`to_dict`, checking the codes against ``catalogue`` (default standard).

        >>> from datetime import datetime, timezone
        >>> r = InspectionResult(task="T1", entity="E1", item="I1", categories="01",
        ...     inspection_start=date(2025, 3, 3), inspection_end=date(2025, 3, 3),
        ...     inspectors="A1|A2", recorded_by="王芳",
        ...     recorded_at=datetime(2025, 3, 4, 1, 0, tzinfo=timezone.utc))
        >>> InspectionResult.from_dict(r.to_dict()) == r
        True
        """
        known = {f.name for f in attrs.fields(cls)} - {"catalogue"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidResultError(
                "result record", [ResultProblem(k, "unknown field") for k in unknown]
            )
        values = dict(data)
        try:
            for field in ("inspection_start", "inspection_end"):
                values[field] = date.fromisoformat(values[field])
            values["recorded_at"] = datetime.fromisoformat(values["recorded_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidResultError(
                "result record", [ResultProblem("dates", f"missing or not ISO 8601: {exc}")]
            ) from None
        return cls(**values, catalogue=catalogue or ResultCategories.standard())


_UNCHANGED: Any = object()


def correct(
    previous: InspectionResult,
    *,
    reason: str,
    recorded_by: str,
    recorded_at: datetime,
    categories: Iterable[str] | str = _UNCHANGED,
    follow_up: str = _UNCHANGED,
    inspection_start: date = _UNCHANGED,
    inspection_end: date = _UNCHANGED,
    inspectors: Iterable[str] | str = _UNCHANGED,
) -> InspectionResult:
    """The next version of ``previous`` with the given fields changed, ``reason`` recorded.

    The task, entity and item cannot change (that would be another result). ``recorded_at``
    may not be earlier than the previous version's, and something must change. Raises
    :class:`CorrectionError`, or :class:`InvalidResultError` when the new version breaks a rule.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise CorrectionError(
            f"correction of {previous._where()} v{previous.version}: give the reason for it"
        )
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "categories": categories,
            "follow_up": follow_up,
            "inspection_start": inspection_start,
            "inspection_end": inspection_end,
            "inspectors": inspectors,
        }.items()
        if v is not _UNCHANGED
    }
    corrected = attrs.evolve(
        previous,
        **changes,
        recorded_by=recorded_by,
        recorded_at=recorded_at,
        version=previous.version + 1,
        correction_reason=reason,
    )
    if corrected.recorded_at < previous.recorded_at:
        raise CorrectionError(
            f"correction of {previous._where()}: recorded_at {corrected.recorded_at.isoformat()} "
            f"is before version {previous.version} was recorded "
            f"({previous.recorded_at.isoformat()}); a correction comes after what it corrects"
        )
    fields = ("categories", "follow_up", "inspection_start", "inspection_end", "inspectors")
    if all(getattr(corrected, f) == getattr(previous, f) for f in fields):
        raise CorrectionError(
            f"correction of {previous._where()} v{previous.version} changes nothing; give the "
            "corrected categories, follow-up action, dates or inspectors"
        )
    return corrected


def latest_results(results: Iterable[InspectionResult]) -> list[InspectionResult]:
    """The highest version of each ``(task, entity, item)``, sorted by that key.

    Passing the same version twice is fine if it is the same result; two different results
    with the same key and version raise :class:`ResultHistoryError`.
    """
    latest: dict[tuple[str, str, str], InspectionResult] = {}
    for result in results:
        current = latest.get(result.key)
        if current is None or result.version > current.version:
            latest[result.key] = result
        elif result.version == current.version and result != current:
            raise ResultHistoryError(
                f"two different results for {result._where()} claim version {result.version}; "
                "a correction must be a new version (see correct())"
            )
    return [latest[k] for k in sorted(latest)]


RESULT_COLUMNS: Final = (
    "task",
    "entity_id",
    "item",
    "categories",
    "follow_up",
    "inspection_start",
    "inspection_end",
    "inspectors",
    "recorded_by",
)
"""Columns of a results CSV; ``follow_up`` and ``recorded_by`` may be absent."""

_OPTIONAL = ("follow_up", "recorded_by")
_COLUMN_OF = {
    "task": "task",
    "entity": "entity_id",
    "item": "item",
    "categories": "categories",
    "follow_up": "follow_up",
    "inspection_start": "inspection_start",
    "inspection_end": "inspection_end",
    "inspectors": "inspectors",
    "recorded_by": "recorded_by",
}


def _resolve_cells(
    values: list[str],
    categories: ResultCategories,
    lines: list[int],
    errors: list[RowError],
) -> list[tuple[str, ...] | None]:
    """Resolve each distinct categories cell (codes or Chinese labels) once."""
    resolved: dict[str, tuple[str, ...] | None] = {}

    def check(cell: str) -> str | None:
        tokens = [t.strip() for t in _SPLIT.split(cell) if t.strip()]
        if not tokens:
            resolved[cell] = None
            return "give at least one result category code, e.g. 01 (several: 05|08)"
        try:
            resolved[cell] = tuple(categories.resolve(t) for t in tokens)
        except KeyError as exc:
            resolved[cell] = None
            return str(exc.args[0])
        return None

    check_unique_values(values, "categories", lines, errors, check)
    return [resolved[v] for v in values]


def read_results_csv(
    source: Source,
    categories: ResultCategories,
    *,
    recorded_at: datetime,
    recorded_by: str = "",
    id_scheme: str | IdScheme = "uscc",
    scopes: Mapping[str, ResultScope] | None = None,
    recorded: Collection[tuple[str, str, str]] = (),
    encoding: str = "utf-8",
) -> list[InspectionResult]:
    """Read and validate a results CSV into version-1 results, all rows or none.

    Columns (:data:`RESULT_COLUMNS`): ``task,entity_id,item,categories,follow_up,
    inspection_start,inspection_end,inspectors,recorded_by``. ``categories`` holds codes or
    Chinese labels separated by ``|`` (``05|08``), ``inspectors`` IDs separated by ``|``.
    ``recorded_by`` falls back to the argument for rows that leave it empty; ``recorded_at``
    (the import time) applies to every row.

    Optional checks against what the store knows: ``scopes`` (task code ->
    :class:`ResultScope`; every row goes through :func:`scope_problems`, the check every way
    of recording a result shares) and ``recorded`` (the task, entity and item keys already
    recorded: a file adds new results; a correction is made one by one, with its reason).
    A task, entity and item may appear only once.

    Every bad value is reported at once in an :class:`~shuangsuiji.io.ImportValidationError`
    (file line, column, value, reason); nothing is returned unless every row is good.

    >>> from datetime import datetime, timezone
    >>> text = ("task,entity_id,item,categories,follow_up,inspection_start,inspection_end,"
    ...         "inspectors,recorded_by\\n"
    ...         "T1,91350100M000100Y43,SCJG-01,05,责令改正,2025-09-22,2025-09-25,A1|A2,林晓\\n"
    ...         "T1,91350100M000100Y43,SCJG-02,01|05,,2025-09-26,2025-09-25,A1,林晓\\n")
    >>> read_results_csv(text, ResultCategories.standard(),
    ...     recorded_at=datetime(2025, 10, 9, tzinfo=timezone.utc))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shuangsuiji._tabular.ImportValidationError: <text>: 3 bad value(s); nothing was imported. ...
    """
    table = read_columns(source, RESULT_COLUMNS, _OPTIONAL, encoding)
    name, lines, cols, errors = table.name, table.lines, table.cols, list(table.errors)
    if not lines and not errors:
        raise CsvFormatError(f"{name}: no rows; a results file needs at least one result")
    scheme = scheme_by_name(id_scheme) if isinstance(id_scheme, str) else id_scheme
    entities = canonical_ids(cols["entity_id"], scheme, lines, errors, column="entity_id")
    codes = _resolve_cells(cols["categories"], categories, lines, errors)
    starts = parse_dates(cols["inspection_start"], "inspection_start", lines, errors)
    ends = parse_dates(cols["inspection_end"], "inspection_end", lines, errors)
    failed: dict[int, set[str]] = {}
    for error in errors:
        failed.setdefault(error.line, set()).add(error.column)
    done = set(recorded)
    start_days = starts.astype(object).tolist()
    end_days = ends.astype(object).tolist()
    seen: dict[tuple[str, str, str], int] = {}
    out: list[InspectionResult] = []
    for i, line in enumerate(lines):
        bad = failed.get(line, set())
        values: dict[str, Any] = {
            "task": cols["task"][i],
            "entity": entities[i],
            "item": cols["item"][i],
            "categories": codes[i] or (),
            "follow_up": cols["follow_up"][i],
            "inspection_start": start_days[i] if "inspection_start" not in bad else None,
            "inspection_end": end_days[i] if "inspection_end" not in bad else None,
            "inspectors": cols["inspectors"][i],
            "recorded_by": cols["recorded_by"][i] or recorded_by,
        }
        result, row_errors = _try_build(values, categories, recorded_at, bad)
        row_errors += _key_problems(values, scopes, done, seen, line)
        for field, reason in row_errors:
            column = _COLUMN_OF.get(field, "*")
            raw = cols[column][i] if column in cols else ""
            errors.append(RowError(line, column, raw, reason))
        if result is not None and not row_errors and not bad:
            out.append(result)
    if errors:
        raise ImportValidationError(name, errors)
    return out


def _key_problems(
    values: Mapping[str, Any],
    scopes: Mapping[str, ResultScope] | None,
    done: Collection[tuple[str, str, str]],
    seen: dict[tuple[str, str, str], int],
    line: int,
) -> list[tuple[str, str]]:
    """What the task scopes, the results already recorded and the earlier lines of the file
    say against a row's task, entity and item (``seen`` notes the row's line)."""
    key = (values["task"], values["entity"], values["item"])
    out: list[tuple[str, str]] = []
    if scopes is not None:
        dates = (values["inspection_start"], values["inspection_end"])
        found = scope_problems(*key, _ids(values["inspectors"]), dates, scopes)
        out += [(p.field, p.reason) for p in found]
    if key in done:
        out.append(
            (
                "item",
                "a result of this task, entity and item is already recorded; correct it "
                "with `shuangsuiji results record ... --reason` (a file adds new results)",
            )
        )
    if key in seen:
        out.append(("item", f"the same task, entity and item is on line {seen[key]}"))
    seen.setdefault(key, line)
    return out


def _try_build(
    values: Mapping[str, Any],
    categories: ResultCategories,
    recorded_at: datetime,
    bad: set[str],
) -> tuple[InspectionResult | None, list[tuple[str, str]]]:
    """The result of one row, or the rules it breaks (minus columns already reported)."""
    try:
        return InspectionResult(**values, recorded_at=recorded_at, catalogue=categories), []
    except InvalidResultError as exc:
        problems = [
            (p.field, p.reason) for p in exc.problems if _COLUMN_OF.get(p.field, "*") not in bad
        ]
        return None, problems


def scope_problems(
    task: str,
    entity: str,
    item: str,
    inspectors: Sequence[str],
    dates: tuple[date | None, date | None],
    scopes: Mapping[str, ResultScope],
) -> list[ResultProblem]:
    """What is wrong with recording a result of ``task`` × ``entity`` × ``item`` signed by
    ``inspectors`` for an inspection on ``dates`` (start, end), given what the store knows.

    This is the one check every way of recording a result goes through (one result, many, a
    CSV file). A date that could not be read is ``None`` and is not checked again.

    >>> t = Task("T1", "P", "抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
    >>> scope = ResultScope(task=t, selected=frozenset({"E1"}), teams={"E1": frozenset({"A", "B"})},
    ...                     teams_drawn=date(2026, 7, 3), recused={("E1", "C"): "illness"})
    >>> for p in scope_problems("T1", "E1", "SCJG-01", ["A", "C"],
    ...                         (date(2026, 7, 2), date(2026, 7, 2)), {"T1": scope}):
    ...     print(p)  # doctest: +NORMALIZE_WHITESPACE
    inspectors: C was taken off this entity's team (回避: illness) and may not sign its result
    inspection_start: 2026-07-02 is before the inspection teams were drawn (2026-07-03): an
      inspection is done by a drawn team; check the date
    """
    scope = scopes.get(task)
    if scope is None:
        known = ", ".join(sorted(scopes)) or "none"
        return [ResultProblem("task", f"unknown task; known: {known}")]
    out = scope.item_problems(item)
    if scope.selected is None:
        out.append(
            ResultProblem(
                "task",
                f"task {task} has not been drawn yet: draw it (`shuangsuiji draw {task}`) and "
                f"its teams (`shuangsuiji teams assign {task}`) before recording results",
            )
        )
        return out
    if entity not in scope.selected:
        out.append(
            ResultProblem(
                "entity",
                f"was not drawn in task {task}: results are recorded only for the entities "
                "currently selected (after replacements)",
            )
        )
    out += scope.team_problems(entity, inspectors)
    out += scope.date_problems(*dates)
    return out


@attrs.frozen(kw_only=True)
class ResultScope:
    """What the store knows about one task when a result of it is recorded.

    ``task`` gives the items and the window; ``selected`` the entities currently selected
    (``None``: not drawn yet); ``teams`` each selected entity's current team, after
    re-assignments (``None``: no teams drawn yet); ``teams_drawn`` the day the teams were
    drawn (China time); ``recused`` the officers taken off a team, ``(entity, inspector) ->
    reason``; ``team_size`` the policy's minimum number of inspectors (行政处罚法 art. 42).
    """

    task: Task
    selected: frozenset[str] | None = None
    teams: Mapping[str, frozenset[str]] | None = None
    teams_drawn: date | None = None
    recused: Mapping[tuple[str, str], str] = attrs.field(factory=dict)
    team_size: int = 2

    def item_problems(self, item: str) -> list[ResultProblem]:
        """The item must be one of the task's items."""
        if item in self.task.items:
            return []
        items = ", ".join(self.task.items)
        return [ResultProblem("item", f"not an item of task {self.task.code}; its items: {items}")]

    def team_problems(self, entity: str, inspectors: Sequence[str]) -> list[ResultProblem]:
        """The inspectors must be the entity's drawn team (at least ``team_size`` of them)."""
        code = self.task.code
        if self.teams is None:
            return [
                ResultProblem(
                    "inspectors",
                    f"no inspection team has been drawn for task {code} yet: draw the teams "
                    f"(`shuangsuiji teams assign {code}`) first; results signed by officers "
                    "chosen by hand are not accepted",
                )
            ]
        out = []
        team = self.teams.get(entity, frozenset())
        recused = [i for i in inspectors if (entity, i) in self.recused]
        out += [
            ResultProblem(
                "inspectors",
                f"{i} was taken off this entity's team (回避: {self.recused[entity, i]}) and "
                "may not sign its result",
            )
            for i in recused
        ]
        strangers = sorted(set(inspectors) - team - set(recused))
        if strangers and team:
            out.append(
                ResultProblem(
                    "inspectors",
                    f"{', '.join(strangers)} not on the entity's drawn team "
                    f"({', '.join(sorted(team))}); if an officer had to be changed, take them "
                    f"off the team first (`shuangsuiji teams reassign {code}`)",
                )
            )
        elif strangers:
            out.append(ResultProblem("inspectors", f"the entity has no drawn team in task {code}"))
        if inspectors and len(inspectors) < self.team_size:
            out.append(
                ResultProblem(
                    "inspectors",
                    f"{len(inspectors)} inspector(s); the policy requires at least "
                    f"{self.team_size} (行政处罚法 art. 42: 执法人员不得少于两人)",
                )
            )
        return out

    def date_problems(self, start: date | None, end: date | None) -> list[ResultProblem]:
        """The inspection lies in the task's window, and not before its team was drawn."""
        task = self.task
        window = f"{task.start}..{task.end}"
        amend = (
            "correct the date; if the task's window was really changed, record that amendment "
            f"of the task first (`shuangsuiji task create {task.code}` with the new dates)"
        )
        out = []
        if start is not None and start < task.start:
            out.append(
                ResultProblem(
                    "inspection_start",
                    f"{start} is before the task's window ({window}): {amend}",
                )
            )
        elif start is not None and self.teams_drawn is not None and start < self.teams_drawn:
            out.append(
                ResultProblem(
                    "inspection_start",
                    f"{start} is before the inspection teams were drawn ({self.teams_drawn}): "
                    "an inspection is done by a drawn team; check the date",
                )
            )
        if end is not None and end > task.end:
            out.append(
                ResultProblem(
                    "inspection_end", f"{end} is after the task's window ({window}): {amend}"
                )
            )
        return out
