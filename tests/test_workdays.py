"""The working-day calendar: oracles day by day, known answers, coverage, estimates, notices."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import chinese_calendar
import numpy as np
import pytest
from holidays.countries.china import China, ChinaStaticHolidays
from hypothesis import given, settings
from hypothesis import strategies as st

from shuangsuiji.workdays import (
    CalendarCoverageError,
    Deadline,
    HolidayPeriod,
    Notice,
    NoticeError,
    WorkCalendar,
)

CAL = WorkCalendar.official()
FIRST, LAST = date(2004, 1, 1), date(2026, 12, 31)

# Where the two oracles disagree, and what the State Council notice says (see docs/workdays.md):
# 国办发明电〔2005〕35号 (the 2006 notice), item 1: “12月31日（星期六）上班”. holidays is right.
SETTLED = {date(2005, 12, 31): True}

# HYPOTHETICAL TEST DATA — not the State Council's 2027 notice. Neither oracle transcribes a 2027
# notice (holidays 0.109 only extrapolates 2027 by rule, with no make-up working days;
# chinesecalendar 1.11.0 stops at 2026), so this file is made up in the notice's shape.
TEST_NOTICE_2027 = """\
# HYPOTHETICAL TEST DATA: not the State Council's 2027 notice.
year = 2027
source = "TEST DATA: made-up notice in the shape of 国务院办公厅关于2027年部分节假日安排的通知"
references = ["tests/test_workdays.py"]
workdays = [2027-02-20, 2027-09-26, 2027-10-09]

[[holidays]]
name = "元旦"
start = 2027-01-01
end = 2027-01-03

[[holidays]]
name = "春节"
start = 2027-02-06
end = 2027-02-13

[[holidays]]
name = "国庆节"
start = 2027-10-01
end = 2027-10-07
"""


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def holidays_china(first: int, last: int) -> Any:
    """The holidays package's calendar for China, years first..last."""
    return China(years=range(first, last + 1))  # type: ignore[no-untyped-call]


def notice_2027(tmp_path: Path) -> Path:
    path = tmp_path / "notice-2027.toml"
    path.write_text(TEST_NOTICE_2027, encoding="utf-8")
    return path


# --- the oracles, day by day ---------------------------------------------------------------


def test_every_covered_day_matches_holidays() -> None:
    oracle = holidays_china(FIRST.year, LAST.year)
    ours = set(CAL.working_days.astype(date).tolist())
    wrong = [
        d
        for d in days(FIRST, LAST)
        if (d in ours) != bool(oracle.is_working_day(d)) or CAL.is_working_day(d) != (d in ours)
    ]
    assert wrong == []


def test_every_covered_day_matches_chinesecalendar_except_the_settled_day() -> None:
    disagree = {
        d: CAL.is_working_day(d)
        for d in days(FIRST, LAST)
        if CAL.is_working_day(d) != chinese_calendar.is_workday(d)
    }
    # chinesecalendar 1.11.0 misses the 2005-12-31 make-up day; a later fix may remove it.
    assert disagree.items() <= SETTLED.items()


def test_the_oracles_disagree_only_where_the_notice_settles_it() -> None:
    oracle = holidays_china(FIRST.year, LAST.year)
    disagree = {
        d
        for d in days(FIRST, LAST)
        if bool(oracle.is_working_day(d)) != chinese_calendar.is_workday(d)
    }
    assert disagree <= set(SETTLED)
    for day, working in SETTLED.items():
        assert CAL.is_working_day(day) is working


def test_coverage_is_what_both_oracles_transcribe_from_notices() -> None:
    cc_last = max(chinese_calendar.constants.holidays).year
    hol_last = max(ChinaStaticHolidays.special_public_holidays)
    assert CAL.covered_from == FIRST
    assert CAL.covered_through == date(min(cc_last, hol_last), 12, 31) == LAST


def test_no_oracle_knows_a_notice_beyond_coverage() -> None:
    """Fails when an oracle learns the next notice: then rerun tools/build_workdays_data.py."""
    next_year = CAL.covered_through.year + 1
    oracle = holidays_china(next_year, next_year + 1)
    assert not [d for d in oracle.weekend_workdays if d.year >= next_year]
    assert max(ChinaStaticHolidays.special_public_holidays) < next_year
    assert max(chinese_calendar.constants.holidays) <= CAL.covered_through


def test_data_file_metadata() -> None:
    path = resources.files("shuangsuiji").joinpath("data", "cn_workdays.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["covered_from"] == str(CAL.covered_from)
    assert data["covered_through"] == str(CAL.covered_through)
    assert data["generated_by"] == "tools/build_workdays_data.py"
    assert "chinesecalendar" in data["generated_from"] and "holidays" in data["generated_from"]
    assert [c["date"] for c in data["corrections"]] == [str(d) for d in SETTLED]
    assert [n["year"] for n in data["notices"]] == list(range(2004, 2027))
    assert all("部分节假日安排的通知" in n["source"] for n in data["notices"])


# --- known answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (date(2024, 9, 20), date(2024, 10, 23)),
        (date(2025, 9, 25), date(2025, 10, 29)),
        (date(2026, 9, 25), date(2026, 10, 29)),
    ],
)
def test_known_deadlines(start: date, due: date) -> None:
    deadline = CAL.working_days_after(start)
    assert deadline == Deadline(start, 20, due, False, deadline.basis)
    assert deadline.basis.startswith("official")
    assert CAL.due_dates(np.array([start], dtype="datetime64[D]")).dates[0] == np.datetime64(due)


def test_known_days() -> None:
    assert CAL.is_working_day(date(2024, 9, 29))  # Sunday, worked (调休)
    assert CAL.is_working_day(date(2024, 10, 12))  # Saturday, worked
    assert not any(CAL.is_working_day(date(2024, 10, d)) for d in range(1, 8))
    assert CAL.is_working_day(date(2024, 10, 8))
    assert not CAL.is_working_day(date(2015, 9, 3))  # 70th anniversary of the victory
    assert CAL.is_working_day(date(2015, 9, 6))  # Sunday worked for it
    assert not CAL.is_working_day(date(2020, 1, 31))  # the 2020 Spring Festival extension
    assert CAL.is_working_day(date(2018, 12, 29))  # Saturday worked, from the 2019 notice
    assert CAL.is_working_day(date(2005, 12, 31))  # Saturday worked, from the 2006 notice


def test_working_days_between() -> None:
    assert CAL.working_days_between(date(2024, 9, 30), date(2024, 10, 8)) == 1
    assert CAL.working_days_between(date(2024, 10, 8), date(2024, 9, 30)) == -1
    assert CAL.working_days_between(date(2024, 9, 20), date(2024, 10, 23)) == 20
    assert CAL.working_days_between(date(2024, 9, 20), date(2024, 9, 20)) == 0


def test_official_is_cached_and_read_only() -> None:
    assert WorkCalendar.official() is CAL
    with pytest.raises(ValueError, match="read-only"):
        CAL.working_days[0] = np.datetime64("2024-01-01")
    assert repr(CAL) == "WorkCalendar(2004-01-01..2026-12-31, 23 notices)"


# --- coverage ------------------------------------------------------------------------------


def test_deadline_beyond_coverage_is_refused() -> None:
    with pytest.raises(CalendarCoverageError) as caught:
        CAL.working_days_after(date(2026, 12, 20))
    message = str(caught.value)
    for part in ("2026-12-31", "only 9 official working days", "2027", "with_notice", "estimate"):
        assert part in message
    assert isinstance(caught.value, ValueError)
    assert caught.value.day == date(2026, 12, 20)
    assert caught.value.covered_through == LAST


@pytest.mark.parametrize(
    "call",
    [
        lambda: CAL.working_days_after(date(2027, 1, 5)),
        lambda: CAL.working_days_after(date(2003, 12, 31)),
        lambda: CAL.is_working_day(date(2027, 1, 4)),
        lambda: CAL.is_working_day(date(2003, 12, 31)),
        lambda: CAL.working_days_between(date(2026, 12, 1), date(2027, 1, 4)),
        lambda: CAL.working_days_between(date(2003, 12, 1), date(2004, 1, 4)),
        lambda: CAL.working_days_after(date(2003, 12, 31), estimate=True),
    ],
)
def test_dates_outside_coverage_are_refused(call: Any) -> None:
    with pytest.raises(CalendarCoverageError, match=r"2004-01-01|2026-12-31"):
        call()


def test_batch_refusal_names_the_record() -> None:
    starts = np.array(["2026-01-05", "2026-06-01", "2026-12-20"], dtype="datetime64[D]")
    with pytest.raises(CalendarCoverageError, match=r"starts\[2\]: the 20 working days"):
        CAL.due_dates(starts)
    with pytest.raises(CalendarCoverageError, match=r"starts\[1\]: 2027-02-01 is after"):
        CAL.due_dates(np.array(["2026-01-05", "2027-02-01"], dtype="datetime64[D]"))
    with pytest.raises(ValueError, match=r"starts\[1\]: .*NaT"):
        CAL.due_dates(np.array(["2026-01-05", "NaT"], dtype="datetime64[D]"))


# --- estimates -----------------------------------------------------------------------------


def test_estimate_is_labelled() -> None:
    deadline = CAL.working_days_after(date(2026, 12, 20), estimate=True)
    assert deadline.date == date(2027, 1, 15)  # 2027-01-01 counted: no notice says it is off
    assert deadline.estimated
    assert deadline.basis.startswith("ESTIMATE") and "2027" in deadline.basis
    inside = CAL.working_days_after(date(2024, 9, 20), estimate=True)
    assert inside == CAL.working_days_after(date(2024, 9, 20))
    assert not inside.estimated


def test_batch_estimates_are_flagged_per_record() -> None:
    starts = np.array(["2026-01-01", "2026-12-20", "2027-03-01"], dtype="datetime64[D]")
    result = CAL.due_dates(starts, estimate=True)
    expected = np.array(["2026-01-29", "2027-01-15", "2027-03-29"], dtype="datetime64[D]")
    np.testing.assert_array_equal(result.dates, expected)
    np.testing.assert_array_equal(result.estimated, [False, True, True])
    assert result.any_estimated and result.basis.startswith("ESTIMATE") and len(result) == 3
    official = CAL.due_dates(starts[:1], estimate=True)
    assert not official.any_estimated and official.basis.startswith("official")


# --- loading the next notice ---------------------------------------------------------------


def test_loading_the_next_notice_gives_the_official_answer(tmp_path: Path) -> None:
    extended = CAL.with_notice(notice_2027(tmp_path))
    deadline = extended.working_days_after(date(2026, 12, 20))
    assert deadline.date == date(2027, 1, 18) and not deadline.estimated
    assert extended.covered_through == date(2027, 12, 31)
    assert extended.is_working_day(date(2027, 2, 20)) and not extended.is_working_day(
        date(2027, 2, 8)
    )
    assert extended.notices[-1].source.startswith("TEST DATA")
    batch = extended.due_dates(np.array(["2026-12-20"], dtype="datetime64[D]"))
    assert batch.dates[0] == np.datetime64("2027-01-18") and not batch.any_estimated
    # The shipped calendar is unchanged and still refuses.
    with pytest.raises(CalendarCoverageError):
        CAL.working_days_after(date(2026, 12, 20))


def test_notice_as_json_and_mapping_equal_toml(tmp_path: Path) -> None:
    from_toml = Notice.load(notice_2027(tmp_path))
    mapping = {
        "year": 2027,
        "source": from_toml.source,
        "references": list(from_toml.references),
        "holidays": [
            {"name": p.name, "start": str(p.start), "end": str(p.end)} for p in from_toml.holidays
        ],
        "workdays": [str(d) for d in from_toml.workdays],
    }
    path = tmp_path / "notice-2027.json"
    path.write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
    assert Notice.load(path) == from_toml == Notice.from_mapping(mapping)
    assert CAL.with_notice(mapping) == CAL.with_notice(from_toml)


def test_a_notice_may_change_the_end_of_the_year_before() -> None:
    notice = {
        "year": 2027,
        "source": "TEST DATA",
        "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}],
        "workdays": ["2026-12-26"],
    }
    assert not CAL.is_working_day(date(2026, 12, 26))
    assert CAL.with_notice(notice).is_working_day(date(2026, 12, 26))


def test_single_day_period_needs_no_end() -> None:
    notice = Notice.from_mapping(
        {"year": 2027, "source": "TEST DATA", "holidays": [{"name": "元旦", "start": "2027-01-01"}]}
    )
    assert notice.holidays == (HolidayPeriod("元旦", date(2027, 1, 1), date(2027, 1, 1)),)


def _notice(**changes: Any) -> dict[str, Any]:
    notice: dict[str, Any] = {
        "year": 2027,
        "source": "TEST DATA",
        "holidays": [
            {"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"},
            {"name": "春节", "start": "2027-02-06", "end": "2027-02-13"},
        ],
        "workdays": ["2027-02-20"],
    }
    notice.update(changes)
    return notice


def _period(start: str, end: str, name: str = "春节") -> list[dict[str, str]]:
    return [{"name": name, "start": start, "end": end}]


@pytest.mark.parametrize(
    ("notice", "message"),
    [
        (_notice(holidays=_period("2027-02-30", "2027-03-01")), r"holidays\[0\]\.start .*range"),
        (_notice(holidays=_period("2027/02/06", "2027-02-13")), "write it as YYYY-MM-DD"),
        (_notice(holidays=_period("2027-02-13", "2027-02-06")), "before it starts"),
        (_notice(workdays=["2027-02-07"]), "both as a make-up working day and inside"),
        (_notice(workdays=["2027-02-22"]), "is a Monday"),
        (_notice(workdays=["2027-02-20", "2027-02-20"]), "listed twice"),
        (_notice(workdays=["2028-02-19"]), "outside 2026-12-01..2027-12-31"),
        (_notice(holidays=_period("2028-01-01", "2028-01-03")), "outside 2026-12-01"),
        (
            _notice(
                holidays=_period("2027-02-06", "2027-02-13") + _period("2027-02-10", "2027-02-20")
            ),
            "overlap",
        ),
        (_notice(holidays=[]), "holidays is empty"),
        (_notice(holidays=_period("2027-02-06", "2027-02-13", name=" ")), "non-empty"),
        (_notice(source=""), "source is empty"),
        (_notice(year="2027"), "year = '2027'"),
        (_notice(work_days=["2027-02-20"]), r"unknown key\(s\) \['work_days'\]"),
        (_notice(workdays="2027-02-20"), "workdays must be a list"),
        (_notice(references=[1]), "references must be a list of texts"),
        ({"year": 2027, "holidays": []}, r"missing key\(s\) \['source'\]"),
        (_notice(holidays=[{"name": "春节", "start": "2027-02-06", "days": 7}]), "unknown key"),
    ],
)
def test_malformed_notices_are_refused(notice: dict[str, Any], message: str) -> None:
    with pytest.raises(NoticeError, match=message):
        CAL.with_notice(notice)


@pytest.mark.parametrize(
    ("year", "message"),
    [(2025, "already holds the notice for 2025"), (2028, "load the notice for 2027 first")],
)
def test_notice_for_the_wrong_year_is_refused(year: int, message: str) -> None:
    notice = _notice(
        year=year,
        holidays=_period(f"{year}-10-01", f"{year}-10-07", "国庆节"),
        workdays=[],
    )
    with pytest.raises(NoticeError, match=message):
        CAL.with_notice(notice)


def test_notice_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "notice-2027.toml"
    bad.write_text(TEST_NOTICE_2027.replace("2027-02-20", "2027-02-22"), encoding="utf-8")
    with pytest.raises(NoticeError, match=r"notice-2027\.toml: notice for 2027: .*Monday"):
        CAL.with_notice(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("year = \n", encoding="utf-8")
    with pytest.raises(NoticeError, match=r"broken\.toml: not valid TOML"):
        Notice.load(broken)
    other = tmp_path / "notice.yaml"
    other.write_text("year: 2027\n", encoding="utf-8")
    with pytest.raises(NoticeError, match=r"use a \.toml or \.json file"):
        Notice.load(other)


def test_calendar_construction_checks_notices() -> None:
    def notice(year: int, start: str, end: str) -> Notice:
        return Notice(
            year,
            "TEST DATA",
            (HolidayPeriod("x", date.fromisoformat(start), date.fromisoformat(end)),),
        )

    with pytest.raises(NoticeError, match="arranged by both the 2030 and the 2031 notice"):
        WorkCalendar(
            (notice(2030, "2030-12-31", "2030-12-31"), notice(2031, "2030-12-31", "2031-01-01"))
        )
    with pytest.raises(NoticeError, match="consecutive years"):
        WorkCalendar(
            (notice(2030, "2030-10-01", "2030-10-07"), notice(2032, "2032-10-01", "2032-10-07"))
        )
    with pytest.raises(NoticeError, match="before 2031-01-01, where this calendar starts"):
        WorkCalendar((notice(2031, "2030-12-31", "2031-01-01"),))
    with pytest.raises(NoticeError, match="at least one notice"):
        WorkCalendar(())


# --- arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, True, 1.5])
def test_n_must_be_a_positive_integer(n: Any) -> None:
    with pytest.raises(ValueError, match="integer >= 1"):
        CAL.working_days_after(date(2024, 9, 20), n)
    with pytest.raises(ValueError, match="integer >= 1"):
        CAL.due_dates(np.array(["2024-09-20"], dtype="datetime64[D]"), n)


def test_datetimes_are_refused() -> None:
    with pytest.raises(TypeError, match=r"datetime\.date"):
        CAL.working_days_after(datetime(2024, 9, 20, 10, 0))


def test_due_dates_shapes_and_inputs() -> None:
    empty = CAL.due_dates(np.array([], dtype="datetime64[D]"))
    assert empty.dates.shape == (0,) and empty.dates.dtype == np.dtype("datetime64[D]")
    grid = np.array([["2024-09-20", "2025-09-25"], ["2026-09-25", "2024-09-20"]], "datetime64[D]")
    assert CAL.due_dates(grid).dates.shape == (2, 2)
    as_dates = CAL.due_dates([date(2024, 9, 20), date(2025, 9, 25)]).dates
    np.testing.assert_array_equal(as_dates, np.array(["2024-10-23", "2025-10-29"], "datetime64[D]"))


# --- properties ----------------------------------------------------------------------------

covered_starts = st.dates(min_value=FIRST, max_value=date(2026, 10, 1))
late_starts = st.dates(min_value=date(2026, 10, 1), max_value=date(2027, 6, 30))
counts = st.integers(min_value=1, max_value=40)


@settings(max_examples=200, deadline=None)
@given(covered_starts, counts)
def test_deadline_is_the_nth_working_day_after_start(start: date, n: int) -> None:
    due = CAL.working_days_after(start, n).date
    assert due > start
    assert CAL.is_working_day(due)
    between = [d for d in days(start + timedelta(days=1), due) if CAL.is_working_day(d)]
    assert len(between) == n == CAL.working_days_between(start, due)


@settings(max_examples=200, deadline=None)
@given(covered_starts, covered_starts, counts)
def test_deadline_is_monotone_in_start(a: date, b: date, n: int) -> None:
    a, b = min(a, b), max(a, b)
    assert CAL.working_days_after(a, n).date <= CAL.working_days_after(b, n).date


@settings(max_examples=50, deadline=None)
@given(st.lists(covered_starts, max_size=30), counts)
def test_vectorised_equals_scalar(starts: list[date], n: int) -> None:
    batch = CAL.due_dates(np.array(starts, dtype="datetime64[D]"), n)
    assert batch.dates.tolist() == [CAL.working_days_after(s, n).date for s in starts]
    assert not batch.any_estimated


@settings(max_examples=100, deadline=None)
@given(late_starts, counts)
def test_estimates_count_weekdays_beyond_coverage(start: date, n: int) -> None:
    deadline = CAL.working_days_after(start, n, estimate=True)
    official = CAL.working_days_between(start, LAST) if start <= LAST else 0
    beyond = days(max(start, LAST) + timedelta(days=1), deadline.date)
    counted = official + sum(d.weekday() < 5 for d in beyond)
    assert deadline.estimated == (deadline.date > LAST)
    if deadline.estimated:
        assert counted == n and deadline.date.weekday() < 5
    else:
        assert deadline == CAL.working_days_after(start, n)
    batch = CAL.due_dates(np.array([start], dtype="datetime64[D]"), n, estimate=True)
    assert batch.dates[0] == np.datetime64(deadline.date)
    assert bool(batch.estimated[0]) == deadline.estimated


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(covered_starts, counts), min_size=1, max_size=10))
def test_extended_calendar_agrees_with_official_inside_coverage(
    cases: list[tuple[date, int]],
) -> None:
    extended = CAL.with_notice(_notice())
    for start, n in cases:
        ours, official = extended.working_days_after(start, n), CAL.working_days_after(start, n)
        assert (ours.date, ours.estimated) == (official.date, official.estimated)
