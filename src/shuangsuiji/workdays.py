"""China's official working-day calendar (工作日) and deadline arithmetic.

Results of a random inspection are published within 20 working days after the inspection
activity ends (抽查活动结束后20个工作日内). A **working day** is a Monday to Friday that the
State Council's annual holiday notice (国务院办公厅关于某年部分节假日安排的通知) does not
give off (放假), or a weekend day that the notice turns into a working day (调休上班):
2024-09-29 was a Sunday and a working day; 2024-10-01..07 were days off.

**The rule.** The deadline is the *n*-th working day strictly after the start date::

    due(s, n) = the earliest day d with #{working days w : s < w <= d} = n

**The computation.** With the covered years' working days as one sorted array ``W`` of day
numbers (days since 1970-01-01, i.e. ``datetime64[D]`` integers), ``i = searchsorted(W, s,
side="right")`` counts the working days up to and including ``s``, so ``W[i + n - 1]`` is the
deadline: one binary search per record, vectorised over a batch. The working days between two
dates are a difference of two such counts.

**Coverage.** The calendar knows only the years whose notice it holds: the shipped data
(``data/cn_workdays.json``, 2004 through the latest published notice) ends at
:attr:`WorkCalendar.covered_through`. A date beyond it is refused with
:class:`CalendarCoverageError` instead of being guessed: load the next notice with
:meth:`WorkCalendar.with_notice`, or ask explicitly for an estimate (``estimate=True``:
Monday to Friday only beyond coverage), whose every result is labelled as one.

>>> from datetime import date
>>> cal = WorkCalendar.official()
>>> cal.working_days_after(date(2024, 9, 20)).date
datetime.date(2024, 10, 23)
>>> cal.is_working_day(date(2024, 9, 29)), cal.is_working_day(date(2024, 10, 4))
(True, False)
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.errors import InvalidInputError

__all__ = [
    "DEFAULT_WORKING_DAYS",
    "CalendarCoverageError",
    "Deadline",
    "DueDates",
    "HolidayPeriod",
    "Notice",
    "NoticeError",
    "WorkCalendar",
]

DEFAULT_WORKING_DAYS: Final = 20
"""Results are published within 20 working days after the inspection activity ends (e.g.
鄂政发〔2018〕28号, item 9: 抽查活动结束后20个工作日内在平台和部门网站公开)."""

DATA_FILE: Final = "cn_workdays.json"
DOCS: Final = "docs/workdays.md"

DayNumbers = npt.NDArray[np.int64]
_EPOCH: Final = dt.date(1970, 1, 1).toordinal()
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NOTICE_KEYS: Final = frozenset({"year", "source", "references", "holidays", "workdays"})
_PERIOD_KEYS: Final = frozenset({"name", "start", "end"})


class CalendarCoverageError(InvalidInputError):
    """A date outside the years whose State Council holiday notice the calendar holds.

    ``day`` is the offending date, ``covered_from`` and ``covered_through`` the calendar's
    range. Fix it by loading the next notice (:meth:`WorkCalendar.with_notice`) or, for a
    labelled estimate, by passing ``estimate=True``.
    """

    def __init__(
        self, message: str, *, day: dt.date, covered_from: dt.date, covered_through: dt.date
    ) -> None:
        super().__init__(message)
        self.day = day
        self.covered_from = covered_from
        self.covered_through = covered_through


class NoticeError(InvalidInputError):
    """A holiday notice that is malformed or does not fit the calendar it is added to."""


def _day_number(day: dt.date, what: str = "date") -> int:
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(
            f"{what} must be a datetime.date (the calendar day in China), got "
            f"{type(day).__name__} {day!r}; for a datetime use .date() in Asia/Shanghai time"
        )
    return day.toordinal() - _EPOCH


def _from_number(number: int) -> dt.date:
    return dt.date.fromordinal(number + _EPOCH)


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InvalidInputError(f"n = {n!r}: the number of working days must be an integer >= 1")


def _period_name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise NoticeError(f"{attribute.name} must be a non-empty text such as '国庆节'")


@attrs.frozen
class HolidayPeriod:
    """A run of consecutive days off (放假) from ``start`` to ``end``, both included.

    Weekend days inside the run may be listed or not: they are days off either way.

    >>> from datetime import date
    >>> HolidayPeriod("国庆节", date(2024, 10, 1), date(2024, 10, 7)).days
    7
    """

    name: str = attrs.field(validator=_period_name)
    start: dt.date
    end: dt.date

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise NoticeError(
                f"holiday period {self.name} ends on {self.end}, before it starts on "
                f"{self.start}; give start <= end"
            )

    @property
    def days(self) -> int:
        """The number of days in the period."""
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


def _check_notice(notice: Notice) -> None:
    """Raise NoticeError unless the notice is internally consistent."""
    year = notice.year
    if isinstance(year, bool) or not isinstance(year, int) or not 1950 <= year <= 9999:
        raise NoticeError(f"year = {year!r}: give the notice's year as an integer, e.g. 2027")
    where = f"notice for {year}"
    if not isinstance(notice.source, str) or not notice.source.strip():
        raise NoticeError(
            f"{where}: source is empty; cite the notice, e.g. "
            f"'国务院办公厅关于{year}年部分节假日安排的通知（国办发明电〔…〕…号）'"
        )
    if not notice.holidays:
        raise NoticeError(f"{where}: holidays is empty; list the notice's holiday periods")
    first, last = dt.date(year - 1, 12, 1), dt.date(year, 12, 31)
    periods = sorted(notice.holidays, key=lambda p: p.start)
    for period in periods:
        if period.start < first or period.end > last:
            raise NoticeError(
                f"{where}: holiday period {period.name} {period.start}..{period.end} is outside "
                f"{first}..{last}; a notice covers its own year (and may change the last days "
                "of the year before); check the year of the dates"
            )
    for before, after in itertools.pairwise(periods):
        if after.start <= before.end:
            raise NoticeError(
                f"{where}: holiday periods {before.name} {before.start}..{before.end} and "
                f"{after.name} {after.start}..{after.end} overlap; merge them into one period"
            )
    seen: set[dt.date] = set()
    for day in notice.workdays:
        if not first <= day <= last:
            raise NoticeError(
                f"{where}: make-up working day {day} is outside {first}..{last}; check its year"
            )
        if day.weekday() < 5:
            raise NoticeError(
                f"{where}: make-up working day {day} is a {day:%A}; list only the Saturdays and "
                "Sundays that become working days (调休上班), weekdays are working days already"
            )
        if day in seen:
            raise NoticeError(f"{where}: make-up working day {day} is listed twice")
        seen.add(day)
        for period in periods:
            if day in period:
                raise NoticeError(
                    f"{where}: {day} is listed both as a make-up working day and inside the "
                    f"holiday period {period.name} {period.start}..{period.end}; a day is "
                    "either off or worked: correct one of them"
                )


def _parse_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise NoticeError(f"{where} = {value!r} is not a date: {exc}") from None
    raise NoticeError(f"{where} = {value!r} is not a date; write it as YYYY-MM-DD")


def _check_keys(data: Any, allowed: frozenset[str], required: set[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise NoticeError(f"{where} must be a table (mapping), got {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise NoticeError(f"{where}: unknown key(s) {unknown}; the keys are {sorted(allowed)}")
    missing = sorted(required - set(data))
    if missing:
        raise NoticeError(f"{where}: missing key(s) {missing}")


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise NoticeError(f"{key} must be a list, got {type(value).__name__}")
    return value


@attrs.frozen
class Notice:
    """One year's State Council holiday notice: its days off and make-up working days.

    ``year`` is the year the notice arranges; its dates lie in that year or, for a New Year
    break, in December of the year before. ``holidays`` are the periods of days off,
    ``workdays`` the Saturdays and Sundays worked instead (调休上班), ``source`` the citation
    (title and document number) and ``references`` where to read it. A notice is checked at
    construction: a malformed one raises :class:`NoticeError`.

    >>> notice = Notice.from_mapping({
    ...     "year": 2024, "source": "国务院办公厅关于2024年部分节假日安排的通知",
    ...     "holidays": [{"name": "国庆节", "start": "2024-10-01", "end": "2024-10-07"}],
    ...     "workdays": ["2024-09-29", "2024-10-12"]})
    >>> notice.workdays[0].strftime("%A")
    'Sunday'
    """

    year: int
    source: str
    holidays: tuple[HolidayPeriod, ...]
    workdays: tuple[dt.date, ...] = ()
    references: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        _check_notice(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, origin: str = "notice") -> Notice:
        """Read a notice from parsed TOML or JSON (the format of ``docs/workdays.md``).

        Dates are ``YYYY-MM-DD`` strings or ``datetime.date`` values (TOML dates). ``origin``
        names the input in error messages.
        """
        try:
            _check_keys(data, _NOTICE_KEYS, {"year", "source", "holidays"}, "the notice")
            periods = []
            for i, item in enumerate(_list(data, "holidays")):
                where = f"holidays[{i}]"
                _check_keys(item, _PERIOD_KEYS, {"name", "start"}, where)
                start = _parse_date(item["start"], f"{where}.start")
                end = _parse_date(item.get("end", item["start"]), f"{where}.end")
                periods.append(HolidayPeriod(item["name"], start, end))
            workdays = tuple(
                _parse_date(value, f"workdays[{i}]")
                for i, value in enumerate(_list(data, "workdays"))
            )
            references = _list(data, "references")
            if not all(isinstance(ref, str) for ref in references):
                raise NoticeError("references must be a list of texts (URLs or citations)")
            return cls(data["year"], data["source"], tuple(periods), workdays, tuple(references))
        except NoticeError as exc:
            raise NoticeError(f"{origin}: {exc}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Notice:
        """Read a notice file: TOML (``.toml``) or JSON (``.json``), see ``docs/workdays.md``."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".toml":
                data: Any = tomllib.loads(text)
            elif path.suffix == ".json":
                data = json.loads(text)
            else:
                raise NoticeError(
                    f"{path}: unknown notice format {path.suffix!r}; use a .toml or .json file"
                )
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise NoticeError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
        return cls.from_mapping(data, origin=str(path))


@attrs.frozen
class Deadline:
    """A deadline: the ``n``-th working day strictly after ``start``.

    ``estimated`` is true when the result relies on days beyond the official calendar (counted
    Monday to Friday only, because ``estimate=True`` was asked for); ``basis`` says in words
    what the date rests on. Record both with the date.

    >>> from datetime import date
    >>> d = WorkCalendar.official().working_days_after(date(2025, 9, 25))
    >>> d.date, d.estimated
    (datetime.date(2025, 10, 29), False)
    """

    start: dt.date
    n: int
    date: dt.date
    estimated: bool
    basis: str


@attrs.frozen(eq=False)
class DueDates:
    """Deadlines for a batch: ``dates`` (``datetime64[D]``) and the per-record ``estimated`` flag.

    ``basis`` describes the whole batch: official, or an estimate for the flagged records.
    """

    dates: npt.NDArray[np.datetime64]
    estimated: npt.NDArray[np.bool_]
    basis: str

    @property
    def any_estimated(self) -> bool:
        """Whether any record's deadline is an estimate."""
        return bool(self.estimated.any())

    def __len__(self) -> int:
        return len(self.dates)


def _notice_arg(notice: Notice | Mapping[str, Any] | str | os.PathLike[str]) -> Notice:
    if isinstance(notice, Notice):
        return notice
    if isinstance(notice, Mapping):
        return Notice.from_mapping(notice)
    return Notice.load(notice)


@attrs.frozen(repr=False)
class WorkCalendar:
    """The official working-day calendar: consecutive years of State Council notices.

    Immutable: :meth:`with_notice` returns a new calendar. :meth:`official` is the shipped
    calendar (2004 through the latest published notice). Nothing here reads a clock.

    >>> from datetime import date
    >>> cal = WorkCalendar.official()
    >>> cal.covered_from
    datetime.date(2004, 1, 1)
    >>> cal.working_days_between(date(2024, 9, 30), date(2024, 10, 8))
    1
    """

    notices: tuple[Notice, ...]
    _days: DayNumbers = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        notices = self.notices
        if not notices:
            raise NoticeError("a calendar needs at least one notice")
        for before, after in itertools.pairwise(notices):
            if after.year != before.year + 1:
                raise NoticeError(
                    f"notices must be for consecutive years: {before.year} is followed by "
                    f"{after.year}; add the notice for {before.year + 1}"
                )
        owner: dict[dt.date, int] = {}
        for notice in notices:
            for period in notice.holidays:
                for k in range(period.days):
                    self._claim(owner, period.start + dt.timedelta(days=k), notice)
            for day in notice.workdays:
                self._claim(owner, day, notice)
        object.__setattr__(self, "_days", self._working_days())

    def _claim(self, owner: dict[dt.date, int], day: dt.date, notice: Notice) -> None:
        if day < self.covered_from:
            raise NoticeError(
                f"notice for {notice.year}: {day} is before {self.covered_from}, where this "
                "calendar starts; start the calendar with the notice for the year before"
            )
        if day in owner:
            raise NoticeError(
                f"{day} is arranged by both the {owner[day]} and the {notice.year} notice; "
                f"remove it from one of them"
            )
        owner[day] = notice.year

    def _working_days(self) -> DayNumbers:
        first = _day_number(self.covered_from)
        days = np.arange(first, _day_number(self.covered_through) + 1, dtype=np.int64)
        working = (days + 3) % 7 < 5  # 1970-01-01 was a Thursday; Monday is 0
        for notice in self.notices:
            for period in notice.holidays:
                start = _day_number(period.start) - first
                working[start : start + period.days] = False
            for day in notice.workdays:
                working[_day_number(day) - first] = True
        result = days[working]
        result.flags.writeable = False
        return result

    def __repr__(self) -> str:
        return (
            f"WorkCalendar({self.covered_from}..{self.covered_through}, "
            f"{len(self.notices)} notices)"
        )

    @classmethod
    def official(cls) -> WorkCalendar:
        """The shipped calendar, read once from ``shuangsuiji/data/cn_workdays.json``."""
        return _official()

    def with_notice(
        self, notice: Notice | Mapping[str, Any] | str | os.PathLike[str]
    ) -> WorkCalendar:
        """A new calendar extended by the next year's notice (a file path, mapping or Notice).

        The notice must be for the year after :attr:`covered_through`; its December dates of
        the year before may change days the calendar already covers (as New Year breaks have).
        """
        notice = _notice_arg(notice)
        expected = self.covered_through.year + 1
        if notice.year < expected:
            raise NoticeError(
                f"the calendar already holds the notice for {notice.year}; with_notice adds "
                f"the next year's notice, which is {expected}"
            )
        if notice.year > expected:
            raise NoticeError(
                f"the notice is for {notice.year} but the calendar covers through "
                f"{self.covered_through}: load the notice for {expected} first"
            )
        return WorkCalendar((*self.notices, notice))

    @property
    def covered_from(self) -> dt.date:
        """The first day the calendar covers (1 January of its first notice's year)."""
        return dt.date(self.notices[0].year, 1, 1)

    @property
    def covered_through(self) -> dt.date:
        """The last day the calendar covers (31 December of its last notice's year)."""
        return dt.date(self.notices[-1].year, 12, 31)

    @property
    def working_days(self) -> npt.NDArray[np.datetime64]:
        """Every covered working day, sorted, as a read-only ``datetime64[D]`` array."""
        return self._days.view("datetime64[D]")

    def is_working_day(self, day: dt.date) -> bool:
        """Whether ``day`` is an official working day (refuses days outside coverage)."""
        number = _day_number(day, "day")
        self._check_covered(day)
        i = int(np.searchsorted(self._days, number))
        return i < len(self._days) and int(self._days[i]) == number

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """The number of working days ``w`` with ``start < w <= end`` (negative if end < start).

        So ``working_days_between(s, working_days_after(s, n).date) == n``.
        """
        a, b = _day_number(start, "start"), _day_number(end, "end")
        self._check_covered(start)
        self._check_covered(end)
        count = np.searchsorted(self._days, np.array([a, b], dtype=np.int64), side="right")
        return int(count[1] - count[0])

    def working_days_after(
        self, start: dt.date, n: int = DEFAULT_WORKING_DAYS, *, estimate: bool = False
    ) -> Deadline:
        """The ``n``-th working day strictly after ``start`` (default 20), as a :class:`Deadline`.

        Raises :class:`CalendarCoverageError` if ``start`` or the deadline lies beyond the
        calendar, unless ``estimate=True``: then days beyond it count Monday to Friday only and
        the result is labelled ``estimated``.
        """
        number = _day_number(start, "start")
        _check_n(n)
        due, estimated = self._due(np.array([number], dtype=np.int64), int(n), estimate)
        return Deadline(
            start=start,
            n=int(n),
            date=_from_number(int(due[0])),
            estimated=bool(estimated[0]),
            basis=self._basis(bool(estimated[0])),
        )

    def due_dates(
        self,
        starts: npt.ArrayLike | Sequence[dt.date],
        n: int = DEFAULT_WORKING_DAYS,
        *,
        estimate: bool = False,
    ) -> DueDates:
        """Vectorised :meth:`working_days_after` for an array of start dates (``datetime64[D]``).

        Returns :class:`DueDates` of the same shape; with ``estimate=True`` each record beyond
        coverage is flagged in ``estimated``.

        >>> starts = np.array(["2024-09-20", "2026-09-25"], dtype="datetime64[D]")
        >>> WorkCalendar.official().due_dates(starts).dates
        array(['2024-10-23', '2026-10-29'], dtype='datetime64[D]')
        """
        _check_n(n)
        numbers = np.asarray(starts, dtype="datetime64[D]").view(np.int64)
        due, estimated = self._due(numbers, int(n), estimate)
        basis = self._basis(bool(estimated.any()))
        return DueDates(dates=due.view("datetime64[D]"), estimated=estimated, basis=basis)

    def _due(
        self, starts: DayNumbers, n: int, estimate: bool
    ) -> tuple[DayNumbers, npt.NDArray[np.bool_]]:
        days = self._days
        if starts.size == 0:
            return starts.copy(), np.zeros(starts.shape, dtype=bool)
        lowest, highest = int(starts.min()), int(starts.max())
        first, last = _day_number(self.covered_from), _day_number(self.covered_through)
        if lowest < first:
            self._refuse_early(starts, first)
        if highest > last and not estimate:
            pos = int(np.flatnonzero(starts > last)[0])
            self._refuse(_from_number(int(starts.flat[pos])), n, None, pos, starts)
        index = np.searchsorted(days, starts, side="right")
        index += n - 1
        top = len(days)
        # searchsorted is monotone, so the latest start tells whether every deadline is covered.
        if int(np.searchsorted(days, highest, side="right")) + n - 1 < top:
            return days[index], np.zeros(starts.shape, dtype=bool)
        beyond = index >= top
        if not estimate:
            pos = int(np.flatnonzero(beyond)[0])
            remaining = top - int(index.flat[pos]) + n - 1
            self._refuse(_from_number(int(starts.flat[pos])), n, remaining, pos, starts)
        due = np.empty_like(starts)
        inside = ~beyond
        due[inside] = days[index[inside]]
        # The r-th Monday-to-Friday after the later of the start and the coverage's end.
        base = np.maximum(starts[beyond], last).view("datetime64[D]")
        extra = index[beyond] - top + 1
        due[beyond] = np.busday_offset(base, extra, roll="backward").view(np.int64)
        return due, beyond

    def _basis(self, estimated: bool) -> str:
        first, last = self.notices[0].year, self.notices[-1].year
        if not estimated:
            return f"official: State Council holiday notices {first}-{last}"
        return (
            f"ESTIMATE: official working days through {self.covered_through}, then Monday to "
            f"Friday only because the State Council notice for {last + 1} is not loaded; "
            "recompute once it is"
        )

    def _how_to_extend(self) -> str:
        year = self.covered_through.year + 1
        return (
            f"Load the State Council notice for {year} with "
            f"calendar.with_notice('notice-{year}.toml') (file format: {DOCS}), or pass "
            f"estimate=True for a result labelled as an estimate that counts Monday to Friday "
            f"only after {self.covered_through}."
        )

    def _coverage_error(self, message: str, day: dt.date) -> CalendarCoverageError:
        return CalendarCoverageError(
            message,
            day=day,
            covered_from=self.covered_from,
            covered_through=self.covered_through,
        )

    def _check_covered(self, day: dt.date) -> None:
        if day < self.covered_from:
            raise self._coverage_error(
                f"{day} is before {self.covered_from}, where the working-day calendar starts; "
                "earlier days cannot be checked",
                day,
            )
        if day > self.covered_through:
            raise self._coverage_error(
                f"{day} is after {self.covered_through}, the last day the working-day "
                f"calendar covers. {self._how_to_extend()}",
                day,
            )

    def _refuse_early(self, starts: DayNumbers, first: int) -> None:
        pos = int(np.flatnonzero(starts < first)[0])
        where = f"starts[{pos}]: " if starts.size > 1 else ""
        if np.isnat(starts.view("datetime64[D]").flat[pos]):
            raise InvalidInputError(
                f"{where}the start date is missing (NaT); give every record a date"
            )
        day = _from_number(int(starts.flat[pos]))
        raise self._coverage_error(
            f"{where}{day} is before {self.covered_from}, where the working-day calendar "
            "starts; earlier deadlines cannot be computed (estimate mode extends forward only)",
            day,
        )

    def _refuse(
        self, start: dt.date, n: int, remaining: int | None, pos: int, starts: DayNumbers
    ) -> None:
        where = f"starts[{pos}]: " if starts.size > 1 else ""
        if remaining is None:
            what = (
                f"{start} is after {self.covered_through}, the last day the working-day "
                "calendar covers"
            )
        else:
            what = (
                f"the {n} working days after {start} run past {self.covered_through}, the last "
                f"day the working-day calendar covers: only {remaining} official working days "
                "follow that start"
            )
        raise self._coverage_error(f"{where}{what}. {self._how_to_extend()}", start)


@functools.cache
def _official() -> WorkCalendar:
    text = resources.files("shuangsuiji").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    notices: Sequence[Mapping[str, Any]] = data["notices"]
    calendar = WorkCalendar(
        tuple(
            Notice.from_mapping(item, origin=f"{DATA_FILE} notices[{i}]")
            for i, item in enumerate(notices)
        )
    )
    if str(calendar.covered_through) != data["covered_through"]:
        raise RuntimeError(
            f"{DATA_FILE} says covered_through {data['covered_through']} but its notices end "
            f"{calendar.covered_through}; rebuild it with tools/build_workdays_data.py"
        )
    return calendar
