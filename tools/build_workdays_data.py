"""(Re)generate ``src/shuangsuiji/data/cn_workdays.json``, the shipped working-day calendar.

The State Council's General Office publishes each year's holiday notice (国务院办公厅关于某年部分
节假日安排的通知): the days off (放假) and the weekend days that become working days (调休上班).
There is no machine-readable official source, so this script derives the notices' content from
two independently maintained transcriptions and refuses to write anything unless they agree:

- ``holidays`` (vacanza/holidays, ``holidays.China``) is the primary source: its table of
  substituted days cites the notice of every year, and its ``is_working_day`` applies them;
- ``chinesecalendar`` (``chinese_calendar``) is the cross-check.

Every day from 2004-01-01 (where chinesecalendar's data starts) to the end of the last year that
*both* transcribe from a notice is compared. A disagreement stops the script unless it is listed
in ``CORRECTIONS`` below with the notice text that settles it. Years that only one of them knows,
or that ``holidays`` merely extrapolates by rule (a year without a substituted-days entry has no
make-up working days, so it is not a transcription of a notice), are not shipped.

Each run of consecutive days off that contains a weekday off becomes one holiday period, assigned
to the notice of the year in which the period ends (the New Year break 2022-12-31..2023-01-02
belongs to the 2023 notice); each make-up working day goes to the notice of the nearest period
(2018-12-29 belongs to the 2019 notice).

Usage::

    python tools/build_workdays_data.py           # rewrite the data file
    python tools/build_workdays_data.py --check   # exit 1 if the file is not what it would write

The output is deterministic (no timestamps), so ``--check`` can run in CI.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import chinese_calendar
import holidays
from holidays.countries.china import China, ChinaStaticHolidays

OUT = Path(__file__).resolve().parents[1] / "src" / "shuangsuiji" / "data" / "cn_workdays.json"
FIRST_YEAR = 2004

CORRECTIONS: dict[date, tuple[bool, str]] = {
    date(2005, 12, 31): (
        True,
        "国务院办公厅关于2006年部分节假日安排的通知（国办发明电〔2005〕35号）, item 1: "
        "“将12月31日（星期六）、1月1日（星期日）两个公休日调至1月2日（星期一）、3日（星期二），"
        "12月31日（星期六）上班。” holidays has it as a working day; chinesecalendar 1.11.0 "
        "misses this make-up day (its data file starts with the 2006 New Year days off only).",
    ),
}
"""Days where the oracles disagree: the day, whether it is a working day, and the authority."""

AMENDMENTS: dict[int, tuple[str, ...]] = {
    2015: ("国务院关于中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日调休放假的通知",),
    2019: ("国务院办公厅关于调整2019年劳动节假期安排的通知",),
    2020: ("国务院办公厅关于延长2020年春节假期的通知",),
}
"""Later notices that changed a year's arrangement after its annual notice."""

_SUBSTITUTED = re.compile(r"^休息日（由 .* 调休）$")
_OBSERVED = "（补假）"
_REFERENCE = re.compile(r"\*\s+\[(\d{4})([^\]]*)\]\((https?://[^)\s]+)\)")


def last_notice_year() -> int:
    """The last year that both oracles transcribe from a notice."""
    cc_last = max(chinese_calendar.constants.holidays).year
    hol_last = max(ChinaStaticHolidays.special_public_holidays)
    return min(int(cc_last), int(hol_last))


def working_status(first: date, last: date) -> dict[date, bool]:
    """Whether each day is a working day, checked day by day against both oracles."""
    cn = China(years=range(first.year - 1, last.year + 2))  # type: ignore[no-untyped-call]
    status: dict[date, bool] = {}
    unexplained = []
    day = first
    while day <= last:
        primary = bool(cn.is_working_day(day))
        check = bool(chinese_calendar.is_workday(day))
        if day in CORRECTIONS:
            status[day] = CORRECTIONS[day][0]
        elif primary == check:
            status[day] = primary
        else:
            unexplained.append(f"{day}: holidays={primary} chinesecalendar={check}")
        day += timedelta(days=1)
    if unexplained:
        sys.exit(
            "the oracles disagree on days not listed in CORRECTIONS; settle each from the "
            "State Council notice and add it there:\n  " + "\n  ".join(unexplained)
        )
    return status


def period_names(days: list[date], cn: holidays.HolidayBase) -> str:
    """The festival names of a run of days off, in order, from holidays' Chinese labels."""
    names: list[str] = []
    for day in days:
        for label in cn.get_list(day):
            name = label.removesuffix(_OBSERVED)
            if not _SUBSTITUTED.match(name) and name not in names:
                names.append(name)
    if not names:
        raise SystemExit(f"no festival name for the days off {days[0]}..{days[-1]}")
    return "、".join(names)


def references() -> dict[int, list[str]]:
    """The notice URLs that holidays.China cites, by year (the archived gov.cn pages)."""
    refs: dict[int, list[str]] = {}
    for year, label, url in _REFERENCE.findall(China.__doc__ or ""):
        refs.setdefault(int(year), []).append(f"{year}{label}: {url}" if label else url)
    return refs


def build() -> dict[str, Any]:
    """The data file's content."""
    last_year = last_notice_year()
    first, last = date(FIRST_YEAR, 1, 1), date(last_year, 12, 31)
    status = working_status(first, last)
    cn = China(years=range(FIRST_YEAR - 1, last_year + 2), language="zh_CN")  # type: ignore[no-untyped-call]

    periods: list[list[date]] = []
    run: list[date] = []
    for day in sorted(status):
        if not status[day]:
            run.append(day)
            continue
        if any(d.weekday() < 5 for d in run):
            periods.append(run)
        run = []
    if any(d.weekday() < 5 for d in run):
        periods.append(run)
    makeup = [d for d, working in sorted(status.items()) if working and d.weekday() >= 5]

    notices: dict[int, dict[str, Any]] = {
        y: {"holidays": [], "workdays": []} for y in range(FIRST_YEAR, last_year + 1)
    }
    for days in periods:
        notices[days[-1].year]["holidays"].append(
            {"name": period_names(days, cn), "start": str(days[0]), "end": str(days[-1])}
        )
    for day in makeup:
        nearest = min(periods, key=lambda p: min(abs((d - day).days) for d in (p[0], p[-1])))
        notices[nearest[-1].year]["workdays"].append(str(day))

    refs = references()
    out_notices = []
    for year, content in notices.items():
        titles = (f"国务院办公厅关于{year}年部分节假日安排的通知", *AMENDMENTS.get(year, ()))
        out_notices.append(
            {
                "year": year,
                "source": "；".join(titles),
                "references": refs.get(year, []),
                "holidays": content["holidays"],
                "workdays": content["workdays"],
            }
        )
    return {
        "format": "shuangsuiji-workdays-1",
        "description": (
            "China's official working-day calendar: the days off and the make-up weekend working "
            "days (调休) of the State Council's annual holiday notices. A day is a working day if "
            "it is Monday-Friday and in no holiday period, or if it is listed in workdays."
        ),
        "covered_from": str(first),
        "covered_through": str(last),
        "generated_by": "tools/build_workdays_data.py",
        "generated_from": (
            f"holidays {version('holidays')} (holidays.China, which cites the notices below) "
            f"cross-checked day by day with chinesecalendar {version('chinesecalendar')}; "
            "both are test oracles in tests/test_workdays.py"
        ),
        "corrections": [
            {"date": str(day), "working_day": working, "authority": why}
            for day, (working, why) in sorted(CORRECTIONS.items())
        ],
        "notes": [
            "Periods are whole runs of consecutive days off, weekends included; a notice may "
            "write the same days off more briefly (e.g. '4月5日放假，与周末连休').",
            "A notice for year Y may also change the last days of December Y-1 (it did in "
            "December 2005, 2006, 2007, 2011 and 2018); those days are listed under notice Y.",
            f"Years after {last_year} are not covered: neither oracle transcribes a later notice "
            "(holidays computes later years by rule, with no make-up working days). Load the "
            "next notice with WorkCalendar.with_notice (docs/workdays.md).",
        ],
        "notices": out_notices,
    }


def render(content: dict[str, Any]) -> str:
    """JSON with one holiday period or date per line, for readable diffs."""
    text = json.dumps(content, ensure_ascii=False, indent=2) + "\n"
    text = re.sub(
        r'\{\n\s+"name": ("[^"]*"),\n\s+"start": ("[^"]*"),\n\s+"end": ("[^"]*")\n\s+\}',
        r'{"name": \1, "start": \2, "end": \3}',
        text,
    )
    return text


def main() -> int:
    """Write the data file, or with --check compare it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = render(build())
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python tools/build_workdays_data.py")
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
