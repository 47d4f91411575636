"""Tests for publication records, deadlines and statuses, reports, announcements and exports.

The HTML notice is checked as text (content, escaping, self-containment, print CSS) and
rendered in headless Chromium to ``test-artifacts/publication.png`` for a person to look at.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chromium import ARTIFACTS, needs_chromium, png_size, screenshot
from htmlpage import parse
from shuangsuiji.bundle import make_bundle
from shuangsuiji.draw import SizeRule, draw_entities
from shuangsuiji.exports import (
    PLAN_COLUMNS,
    RECORD_COLUMNS,
    internal_publication_html,
    plan_csv,
    publication_html,
    records_csv,
    to_json,
    write_text,
)
from shuangsuiji.ids import uscc_check_char
from shuangsuiji.model import Department, InspectionItem, Plan, PopulationFilter, Task
from shuangsuiji.policy import Policy
from shuangsuiji.publication import (
    PublicationError,
    PublicationInputError,
    PublicationRecord,
    PublicationStatus,
    Uninspected,
    build_records,
    describe_population,
    plan_announcement,
    publication_report,
    result_announcements,
    statuses,
    task_announcement,
)
from shuangsuiji.results import InspectionResult, correct
from shuangsuiji.workdays import CalendarCoverageError, WorkCalendar

CST = timezone(timedelta(hours=8))
CAL = WorkCalendar.official()
EVIL = "<script>alert('x')</script>餐饮店 & \"q\""
S = PublicationStatus


def uscc(n: int) -> str:
    body = f"91350100MA{n:07d}"
    return body + uscc_check_char(body)


DEPARTMENTS = [
    Department("SCJG", "榕城市市场监督管理局"),
    Department("WJW", "榕城市卫生健康委员会"),
]
ITEMS = [
    InspectionItem(
        "SCJG-01", "SCJG", "企业公示信息情况检查", "《企业信息公示暂行条例》第十四条", "企业"
    ),
    InspectionItem(
        "SCJG-02", "SCJG", "食品经营者经营条件检查", "《食品安全法》第一百一十条", "食品经营者"
    ),
    InspectionItem("WJW-01", "WJW", "公共场所卫生检查", "《公共场所卫生管理条例》", "公共场所"),
]
PLAN = Plan("P2024", 2024, "榕城市2024年度双随机抽查工作计划", ("SCJG", "WJW"))
SINGLE = Task(
    "T2024-07", "P2024", "2024年企业公示信息抽查", ("SCJG",), ("SCJG-01",),
    date(2024, 9, 1), date(2024, 9, 30),
)  # fmt: skip
JOINT = Task(
    "T2024-09", "P2024", "2024年餐饮场所食品安全与卫生联合抽查", ("SCJG", "WJW"),
    ("SCJG-02", "WJW-01"), date(2024, 9, 1), date(2024, 10, 31),
    population=PopulationFilter(industry_prefixes=("H62",), tiers=("C", "D")),
)  # fmt: skip
TASKS = [SINGLE, JOINT]
NAMES = {
    uscc(0): "榕城鑫源贸易有限公司",
    uscc(1): "榕城恒昌科技有限公司",
    uscc(2): EVIL,
    uscc(3): "榕城福瑞餐饮管理有限公司",
    uscc(4): '=HYPERLINK("http://x")大酒店',
    uscc(5): "榕城锦程小吃店",
}
AT = datetime(2024, 11, 1, 9, 0, tzinfo=CST)


def result(
    task: str, n: int, item: str, codes: str, end: date, follow_up: str = "", **kw: Any
) -> InspectionResult:
    return InspectionResult(
        task=task, entity=uscc(n), item=item, categories=codes, follow_up=follow_up,
        inspection_start=end - timedelta(days=1), inspection_end=end,
        inspectors="ZF0001|ZF0002", recorded_by="林晓", recorded_at=kw.pop("at", AT), **kw,
    )  # fmt: skip


RESULTS = [
    result("T2024-07", 0, "SCJG-01", "01", date(2024, 9, 20)),
    result("T2024-07", 1, "SCJG-01", "02", date(2024, 9, 20), "责令限期公示"),
    result("T2024-07", 2, "SCJG-01", "04", date(2024, 9, 24), "列入经营异常名录"),
    result("T2024-09", 3, "SCJG-02", "05", date(2024, 10, 9), "责令限期改正"),
    result("T2024-09", 3, "WJW-01", "01", date(2024, 10, 10)),
    result("T2024-09", 4, "SCJG-02", "05|08", date(2024, 10, 15), "责令改正；移送立案调查"),
    result("T2024-09", 4, "WJW-01", "01", date(2024, 10, 15)),
    result("T2024-09", 5, "SCJG-02", "07", date(2024, 10, 21)),
]
PUBLISHED = {
    ("T2024-07", uscc(0)): (date(2024, 10, 12), "王芳"),
    ("T2024-07", uscc(1)): (date(2024, 10, 25), "王芳"),
}
TODAY = date(2024, 11, 1)


def build(results: list[InspectionResult] | None = None, **kw: Any) -> list[PublicationRecord]:
    args: dict[str, Any] = {
        "plan": PLAN,
        "tasks": TASKS,
        "items": ITEMS,
        "departments": DEPARTMENTS,
        "entity_names": NAMES,
        "published": PUBLISHED,
    }
    args.update(kw)
    return build_records(RESULTS if results is None else results, **args)


RECORDS = build()


def by_entity(records: list[PublicationRecord], n: int) -> PublicationRecord:
    return next(r for r in records if r.entity == uscc(n))


# -- records and due dates ------------------------------------------------------------------------


def test_one_record_per_inspected_entity_per_task() -> None:
    assert [r.key for r in RECORDS] == [(t, uscc(n)) for t, n in (
        ("T2024-07", 0), ("T2024-07", 1), ("T2024-07", 2),
        ("T2024-09", 3), ("T2024-09", 4), ("T2024-09", 5),
    )]  # fmt: skip
    joint = by_entity(RECORDS, 4)
    assert joint.joint and joint.authority == "榕城市市场监督管理局、榕城市卫生健康委员会"
    assert joint.inspection_type == "定向" and by_entity(RECORDS, 0).inspection_type == "不定向"
    assert [i.item for i in joint.items] == ["SCJG-02", "WJW-01"]
    assert joint.items[0].labels == ("发现问题已责令改正", "发现问题待后续处理")
    assert joint.items[0].item_name == "食品经营者经营条件检查"
    assert joint.completion_date == date(2024, 10, 15)  # the later of the two items
    assert by_entity(RECORDS, 5).missing_items == ("WJW-01",)
    assert joint.plan_name == PLAN.name and joint.task_name == JOINT.name
    assert joint.deadline_rule == "检查结束后20个工作日内"


def test_due_dates_follow_the_official_calendar() -> None:
    first = by_entity(RECORDS, 0)
    assert (first.completion_date, first.due) == (date(2024, 9, 20), date(2024, 10, 23))
    assert not first.due_estimated and first.due_basis.startswith("official")
    for record in RECORDS:
        assert record.due == CAL.working_days_after(record.completion_date, 20).date
        assert CAL.working_days_between(record.due_soon_from, record.due) == 5
        assert CAL.is_working_day(record.due_soon_from)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.dates(date(2016, 1, 1), date(2026, 11, 1)), min_size=1, max_size=8),
    st.integers(1, 30),
    st.integers(0, 30),
)
def test_batch_due_dates_match_the_calendar_one_by_one(
    ends: list[date], working_days: int, soon: int
) -> None:
    soon = min(soon, working_days)
    policy = Policy.from_mapping(
        {"deadline": {"working_days": working_days, "due_soon_working_days": soon}}
    )
    results = [
        result("T2024-07", k, "SCJG-01", "01", end, at=datetime(2026, 12, 1, tzinfo=CST))
        for k, end in enumerate(ends)
    ]
    records = build_records(
        results, plan=PLAN, tasks=TASKS, items=ITEMS, departments=DEPARTMENTS,
        entity_names={uscc(k): f"主体{k}" for k in range(len(ends))}, policy=policy,
    )  # fmt: skip
    for record, end in zip(records, ends, strict=True):
        assert record.due == CAL.working_days_after(end, working_days).date
        assert record.working_days == working_days
        if soon < working_days:
            assert CAL.working_days_between(record.due_soon_from, record.due) == soon
        else:
            assert record.due_soon_from == end
        # The last day before due_soon_from is pending, due_soon_from is due soon.
        day_before = record.due_soon_from - timedelta(days=1)
        if day_before >= end:
            assert record.status(day_before) is S.PENDING
        assert record.status(record.due_soon_from) is S.DUE_SOON


def test_the_deadline_can_count_from_the_task_end() -> None:
    policy = Policy.from_mapping({"deadline": {"after": "task_end", "working_days": 7}})
    records = build(policy=policy, published={})
    single = by_entity(records, 0)
    assert single.deadline_start == date(2024, 9, 30) and single.deadline_after == "task_end"
    assert single.due == CAL.working_days_after(date(2024, 9, 30), 7).date == date(2024, 10, 15)
    assert single.deadline_rule == "抽查任务结束后7个工作日内"
    late = Task(
        "T2024-07", "P2024", SINGLE.name, ("SCJG",), ("SCJG-01",),
        date(2024, 9, 1), date(2024, 9, 10),
    )  # fmt: skip
    [record] = build([RESULTS[0]], tasks=[late], policy=policy, published={})
    assert record.deadline_start == date(2024, 9, 20)  # inspected after the task's planned end


def test_the_latest_version_of_each_result_is_published() -> None:
    fixed = correct(
        RESULTS[5], categories="05", follow_up="责令改正", reason="复核：无需立案",
        recorded_by="陈静", recorded_at=AT + timedelta(days=1),
    )  # fmt: skip
    record = by_entity(build([*RESULTS, fixed]), 4)
    assert record.items[0].labels == ("发现问题已责令改正",) and record.items[0].version == 2
    published = by_entity(RECORDS, 4).publish(date(2024, 11, 1), by="王芳")
    assert record.changed_items(published) == ("SCJG-02",)
    assert published.changed_items(by_entity(RECORDS, 4)) == ()
    with pytest.raises(PublicationError, match="different records"):
        record.changed_items(by_entity(RECORDS, 3))


# -- statuses at the boundaries -------------------------------------------------------------------


def test_statuses_at_the_boundary_dates() -> None:
    [record] = build([RESULTS[0]], published={})
    due = record.due  # 2024-10-23, a Wednesday
    assert record.status(due + timedelta(days=1)) is S.OVERDUE
    assert record.status(due) is S.DUE_SOON  # due today
    assert record.status(due - timedelta(days=1)) is S.DUE_SOON  # due tomorrow
    assert record.status(date(2024, 10, 16)) is S.DUE_SOON  # 5 working days ahead
    assert record.status(date(2024, 10, 15)) is S.PENDING  # 6 working days ahead
    assert record.status(record.completion_date) is S.PENDING
    on_time = record.publish(due, by="王芳")
    assert on_time.status(due) is S.PUBLISHED and on_time.status(date(2025, 6, 1)) is S.PUBLISHED
    late = record.publish(due + timedelta(days=1), by="王芳")
    assert late.status(due + timedelta(days=1)) is S.PUBLISHED_LATE
    assert late.status(due) is S.DUE_SOON  # not yet published on the due day
    early = record.publish(date(2024, 9, 20), by="王芳")
    assert early.status(date(2024, 9, 20)) is S.PUBLISHED
    assert [s.label_zh for s in S] == ["待公示", "即将到期", "逾期未公示", "逾期公示", "已公示"]


def test_due_soon_spans_a_holiday() -> None:
    # Completed Friday 2024-09-06: due Friday 2024-10-11. Five working days before it are
    # 10-10, 10-09, 10-08, then (over the National Day holiday 10-01..07) 09-30 and Sunday
    # 09-29, a make-up working day (调休): the record is due soon from that Sunday on.
    [record] = build([result("T2024-07", 0, "SCJG-01", "01", date(2024, 9, 6))], published={})
    assert record.due == date(2024, 10, 11) and record.due_soon_from == date(2024, 9, 29)
    assert record.status(date(2024, 9, 28)) is S.PENDING
    assert record.status(date(2024, 9, 29)) is S.DUE_SOON
    assert record.status(date(2024, 10, 3)) is S.DUE_SOON


def test_vectorised_statuses_equal_the_scalar_ones() -> None:
    days = [date(2024, 9, 20) + timedelta(days=k) for k in range(0, 60, 3)]
    for today in days:
        assert statuses(RECORDS, today) == [r.status(today) for r in RECORDS]
    assert statuses([], TODAY) == []


def test_publishing_rules() -> None:
    record = by_entity(RECORDS, 3)
    done = record.publish(date(2024, 11, 5), by="王芳")
    assert (done.published, done.published_by) == (date(2024, 11, 5), "王芳")
    with pytest.raises(PublicationError, match="already published on 2024-11-05"):
        done.publish(date(2024, 11, 6), by="王芳")
    with pytest.raises(PublicationError, match="before the inspection was completed"):
        record.publish(date(2024, 10, 1), by="王芳")
    with pytest.raises(PublicationError, match="谁公开"):
        record.publish(date(2024, 11, 5), by=" ")


def test_records_round_trip_through_to_dict_and_json() -> None:
    for record in RECORDS:
        assert PublicationRecord.from_dict(record.to_dict()) == record
        assert PublicationRecord.from_dict(json.loads(to_json(record))) == record
    with pytest.raises(PublicationError, match="not a publication record"):
        PublicationRecord.from_dict({"task": "T1"})


# -- coverage and estimates -----------------------------------------------------------------------

DEC_25 = datetime(2026, 12, 25, tzinfo=CST)
LATE = [
    result("T2026-12", 0, "SCJG-01", "01", date(2026, 12, 1), at=DEC_25),
    result("T2026-12", 1, "SCJG-01", "01", date(2026, 12, 20), at=DEC_25),
]
PLAN_2026 = Plan("P2026", 2026, "2026年度抽查工作计划", ("SCJG",))
TASK_2026 = Task(
    "T2026-12", "P2026", "年末抽查", ("SCJG",), ("SCJG-01",), date(2026, 12, 1), date(2026, 12, 31)
)


def build_late(**kw: Any) -> list[PublicationRecord]:
    return build_records(
        LATE, plan=PLAN_2026, tasks=[TASK_2026], items=ITEMS, departments=DEPARTMENTS,
        entity_names=NAMES, **kw,
    )  # fmt: skip


def test_a_due_date_beyond_the_calendar_is_refused_naming_the_record() -> None:
    with pytest.raises(CalendarCoverageError) as exc:
        build_late()
    message = str(exc.value)
    assert f"T2026-12 / {uscc(1)}" in message and "2026-12-20" in message
    assert "with_notice" in message and "estimate=True" in message
    assert exc.value.covered_through == date(2026, 12, 31)


def test_estimate_mode_is_labelled_in_the_record_and_every_export() -> None:
    inside, beyond = build_late(estimate=True)
    assert (inside.due, inside.due_estimated) == (date(2026, 12, 29), False)
    assert inside.due_basis.startswith("official")
    assert (beyond.due, beyond.due_estimated) == (date(2027, 1, 15), True)
    assert beyond.due_basis.startswith("ESTIMATE") and "2027" in beyond.due_basis
    assert beyond.to_dict()["due_estimated"] is True
    rows = list(csv.DictReader(io.StringIO(records_csv([inside, beyond], today=TODAY)[1:])))
    assert rows[0]["截止日期依据"] == "依据国务院办公厅2004—2026年节假日安排"
    assert rows[1]["截止日期依据"].startswith("预计：2026-12-31 之后的节假日安排尚未公布")
    assert not any(c.isascii() and c.isalpha() for r in rows for c in r["截止日期依据"])
    page = internal_publication_html([inside, beyond], today=date(2027, 1, 4))
    assert page.count('class="est"') == 1 and "标注“预计”的截止日期" in page
    assert "预计" not in internal_publication_html([inside], today=date(2027, 1, 4))


def test_loading_the_next_notice_gives_the_official_answer() -> None:
    notice = {
        "year": 2027,
        "source": "TEST DATA: a made-up notice, not the State Council's",
        "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}],
    }
    _, beyond = build_late(calendar=CAL.with_notice(notice))
    assert (beyond.due, beyond.due_estimated) == (date(2027, 1, 18), False)
    assert beyond.due_basis == "official: State Council holiday notices 2004-2027"


# -- input problems -------------------------------------------------------------------------------


def test_every_input_problem_is_reported_at_once() -> None:
    stray = result("T2024-99", 0, "SCJG-01", "01", date(2024, 9, 20))
    other_plan = Task(
        "T2025-01", "P2025", "另一计划的任务", ("SCJG", "XX"), ("SCJG-01",),
        date(2025, 1, 1), date(2025, 1, 31),
    )  # fmt: skip
    bad = [
        stray,
        result("T2024-07", 0, "SCJG-02", "01", date(2024, 9, 20)),
        result("T2024-09", 9, "SCJG-02", "01", date(2024, 10, 9)),
        result("T2025-01", 0, "SCJG-01", "01", date(2024, 10, 9)),
    ]
    with pytest.raises(PublicationInputError) as exc:
        build(bad, tasks=[*TASKS, other_plan])
    text = "\n".join(exc.value.problems)
    assert len(exc.value.problems) == 5, text
    for words in (
        "unknown task T2024-99",
        "item SCJG-02 is not an item of the task",
        f"no name for entity {uscc(9)}",
        "task T2025-01 belongs to plan P2025, not P2024",
        "unknown department XX",
    ):
        assert words in text


# -- reports per department -----------------------------------------------------------------------


def test_overdue_and_due_soon_reports_per_department() -> None:
    report = publication_report(RECORDS, TODAY)
    assert [d.department.code for d in report.departments] == ["SCJG", "WJW"]
    scjg, wjw = report["SCJG"], report["WJW"]
    assert scjg.total == 6 and wjw.total == 3  # joint records count for both
    assert scjg.counts == {
        S.PENDING: 2, S.DUE_SOON: 1, S.OVERDUE: 1, S.PUBLISHED_LATE: 1, S.PUBLISHED: 1
    }  # fmt: skip
    assert [r.entity for r in scjg.overdue] == [uscc(2)]
    assert [r.entity for r in scjg.due_soon] == [uscc(3)] == [r.entity for r in wjw.due_soon]
    data = report.to_dict()
    assert (
        data["departments"][0]["overdue"][0]["days_to_due"]
        == (TODAY - date(2024, 10, 25)).days * -1
    )
    assert data["departments"][1]["counts"]["pending"] == 2
    later = publication_report(RECORDS, date(2024, 12, 31))["SCJG"]
    assert [r.entity for r in later.overdue] == [uscc(2), uscc(3), uscc(4), uscc(5)]  # by due
    with pytest.raises(KeyError, match="no records for department 'XX'"):
        report["XX"]


# -- announcements --------------------------------------------------------------------------------


def test_plan_announcement_lists_the_years_tasks() -> None:
    later = Task(
        "T2024-01", "P2024", "最早的任务", ("WJW",), ("WJW-01",), date(2024, 3, 1),
        date(2024, 3, 31), ratio=0.05,
    )  # fmt: skip
    foreign = Task(
        "X1", "P1999", "别的计划", ("WJW",), ("WJW-01",), date(2024, 1, 1), date(2024, 1, 2)
    )
    a = plan_announcement(
        PLAN, [*TASKS, later, foreign], items=ITEMS, departments=DEPARTMENTS,
        issued_on=date(2024, 2, 1),
    )  # fmt: skip
    data = a.to_dict()
    assert data["kind"] == "plan_announcement" and data["year"] == 2024
    assert [t["code"] for t in data["tasks"]] == ["T2024-01", "T2024-07", "T2024-09"]
    joint = data["tasks"][2]
    assert joint["inspection_type"] == "定向" and joint["joint"] is True
    assert joint["population"] == "定向：行业代码以 H62 开头；信用风险分类为 C、D 类"
    assert [d["name"] for d in joint["departments"]] == [d.name for d in DEPARTMENTS]
    rows = list(csv.reader(io.StringIO(plan_csv(a).removeprefix("\ufeff"))))
    assert tuple(rows[0]) == PLAN_COLUMNS and len(rows) == 4
    assert rows[1][9] == "5%" and rows[2][9] == "按信用风险分类确定" and rows[3][4] == "是"
    with pytest.raises(PublicationInputError, match="unknown item"):
        plan_announcement(PLAN, TASKS, items=ITEMS[:1], departments=DEPARTMENTS)


def test_describe_population() -> None:
    assert describe_population(PopulationFilter()) == "不定向：检查对象名录库内全部检查对象"
    text = describe_population(
        PopulationFilter(
            entity_types=("有限责任公司",), region_prefixes=("3501",), statuses=("存续",),
            tags_any=("经营异常名录", "投诉举报较多"), registered_after=date(2020, 1, 1),
            registered_before=date(2024, 1, 1),
        )
    )  # fmt: skip
    assert text == (
        "定向：主体类型为有限责任公司；行政区划代码以 3501 开头；登记状态为存续；"
        "标注经营异常名录或投诉举报较多；成立日期晚于 2020-01-01；成立日期早于 2024-01-01"
    )


def test_task_announcement_from_a_draw_bundle() -> None:
    ids = [uscc(k) for k in range(40)]
    strata = ["A" if k % 2 else "B" for k in range(40)]
    draw = draw_entities(
        ids, strata, SizeRule(count=3, alternates=2), task_label="T2024-09", seed=bytes(range(32))
    )
    first = draw.selected[0].id
    draw = draw.replace(first, "deregistered_before_draw")
    bundle = make_bundle(draw, ids, strata, exclusions={"注销": 7}, library_version="0.1.0")
    names = {i: f"主体{i[-4:]}" for i in ids}
    a = task_announcement(
        bundle, plan=PLAN, task=JOINT, items=ITEMS, departments=DEPARTMENTS,
        draw_date=date(2024, 9, 2), entity_names=names,
    )  # fmt: skip
    assert (a.candidates, a.excluded, a.selected) == (40, 7, 6)
    assert a.record_digest == bundle["record_digest"] and a.pool_digest == bundle["pool_digest"]
    drawn = [i for i, _ in a.entities]
    assert first not in drawn and draw.replacements[0].by in drawn
    assert drawn == [p.id for p in draw.active]
    data = a.to_dict()
    assert data["kind"] == "task_announcement" and data["counts"]["selected"] == 6
    assert data["task"]["population"].startswith("定向") and data["draw_date"] == "2024-09-02"
    with pytest.raises(PublicationError, match="the bundle is for task 'T2024-09', not T2024-07"):
        task_announcement(
            bundle, plan=PLAN, task=SINGLE, items=ITEMS, departments=DEPARTMENTS,
            draw_date=date(2024, 9, 2),
        )  # fmt: skip
    with pytest.raises(PublicationInputError, match="no name for drawn entity"):
        task_announcement(
            bundle, plan=PLAN, task=JOINT, items=ITEMS, departments=DEPARTMENTS,
            draw_date=date(2024, 9, 2), entity_names={},
        )  # fmt: skip
    page = internal_publication_html(RECORDS, today=TODAY, task_announcements=[a])
    assert bundle["record_digest"] in page and "候选 40 户，抽中 6 户（排除 7 户）" in page


def test_result_announcements_per_task() -> None:
    single, joint = result_announcements(reversed(RECORDS), issued_on=date(2024, 11, 2))
    assert (single.task, len(single.records), joint.task, len(joint.records)) == (
        "T2024-07", 3, "T2024-09", 3
    )  # fmt: skip
    assert joint.category_counts() == {"01": 2, "05": 2, "07": 1, "08": 1}
    data = joint.to_dict()
    assert data["kind"] == "result_announcement" and data["entities"] == 3
    assert data["records"][0]["entity"] == uscc(3) and data["issued_on"] == "2024-11-02"
    assert json.loads(to_json([single, joint]))[1]["task"] == "T2024-09"


# -- exports --------------------------------------------------------------------------------------


def test_records_csv_has_a_bom_chinese_headers_and_round_trips(tmp_path: Path) -> None:
    path = write_text(records_csv(RECORDS, today=TODAY), tmp_path / "records.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf\xe8\xae\xa1")  # BOM, then 计
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == RECORD_COLUMNS
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(table) == sum(len(r.items) for r in RECORDS) == 8
    expected = [
        (r, i, s) for r, s in zip(RECORDS, statuses(RECORDS, TODAY), strict=True) for i in r.items
    ]
    for row, (record, item, status) in zip(table, expected, strict=True):
        assert row["任务编号"] == record.task and row["统一社会信用代码"] == record.entity
        assert row["检查事项编码"] == item.item and row["检查结果代码"] == "|".join(item.categories)
        assert row["检查结果"] == "；".join(item.labels) and row["后续处置"] == item.follow_up
        assert row["公示截止日期"] == record.due.isoformat()
        assert row["公示状态"] == status.label_zh and row["抽查类型"] == record.inspection_type
        assert row["公示日期"] == (record.published.isoformat() if record.published else "")
        name = row["市场主体名称"]
        assert name == record.entity_name or name == "'" + record.entity_name  # formula guard
    hostile = next(row for row in table if row["统一社会信用代码"] == uscc(4))
    assert hostile["市场主体名称"].startswith("'=HYPERLINK")
    assert next(row for row in table if row["统一社会信用代码"] == uscc(2))["市场主体名称"] == EVIL


def test_json_export_keeps_chinese_as_is(tmp_path: Path) -> None:
    text = to_json(RECORDS)
    assert "榕城鑫源贸易有限公司" in text and "\\u" not in text
    path = write_text(text, tmp_path / "records.json")
    data = json.loads(path.read_bytes().decode("utf-8"))
    assert [PublicationRecord.from_dict(d) for d in data] == RECORDS
    assert json.loads(to_json(publication_report(RECORDS, TODAY)))["today"] == "2024-11-01"


PAGE = publication_html(RECORDS, today=TODAY, issuer="榕城市市场监督管理局")
NEVER = Uninspected("T2024-09", JOINT.name, JOINT.end, uscc(6), "榕城未检餐馆")
INTERNAL = internal_publication_html(
    RECORDS, today=TODAY, issuer="榕城市市场监督管理局", uninspected=[NEVER]
)


@pytest.mark.parametrize("page", [PAGE, INTERNAL], ids=["public", "internal"])
def test_the_page_is_well_formed_self_contained_and_printable(page: str) -> None:
    doc = parse(page)
    assert doc.errors == [] and doc.stack == []
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert "script" not in doc.tags and "img" not in doc.tags
    for external in ("http://", "https://", "src=", "<link", "@import", "url("):
        assert external not in page.replace("HYPERLINK(&quot;http://x", "")
    for rule in ("@page", "size: A4", "@media print", "display: table-header-group",
                 "break-inside: avoid", "print-color-adjust: exact"):  # fmt: skip
        assert rule in page
    assert doc.attr_names <= {"lang", "charset", "name", "content", "class", "rowspan", "colspan",
                         "style", "title"}  # fmt: skip


def test_every_value_on_the_page_is_escaped() -> None:
    doc = parse(INTERNAL)
    text = "".join(doc.text)
    assert EVIL in text and "<script>" not in INTERNAL
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;餐饮店 &amp; &quot;q&quot;" in INTERNAL
    hostile = [
        PublicationRecord.from_dict(
            {
                **RECORDS[0].to_dict(),
                "task_name": '"><img src=x onerror=alert(1)>',
                "plan_name": "</style><script>",
                "departments": [{"code": "SCJG", "name": "<b>局</b>"}],
            }
        )
    ]
    page = publication_html(hostile, today=TODAY, issuer="<i>x</i>", title="</title><script>")
    doc = parse(page)
    assert doc.errors == [] and {"img", "script", "b", "i"}.isdisjoint(doc.tags)
    assert '"><img src=x onerror=alert(1)>' in "".join(doc.text)
    assert page.count("<style>") == 1 and page.count("</style>") == 1


def test_the_public_page_shows_only_published_records() -> None:
    text = "".join(parse(PAGE).text)
    for words in ("抽查结果公示", "榕城市市场监督管理局", PLAN.name, SINGLE.name, "共 2 户",
                  "公示截至 2024-11-01", NAMES[uscc(0)], "2024-10-12", "2024-10-25"):  # fmt: skip
        assert words in text, words
    for n in (2, 3, 4, 5):
        assert uscc(n) not in PAGE
    for internal in (
        "内部",
        "逾期",
        "待公示",
        "即将到期",
        "公示截止",
        "状态",
        "未录入",
        JOINT.name,
    ):
        assert internal not in text, internal
    assert 'class="badge' not in PAGE
    assert "暂无已公示的抽查结果" in publication_html(RECORDS, today=date(2024, 10, 11))


def test_the_internal_page_lists_what_is_not_yet_published_and_who_was_never_inspected() -> None:
    text = "".join(parse(INTERNAL).text)
    assert "<title>抽查结果公示工作情况（内部）</title>" in INTERNAL
    for words in ("榕城市市场监督管理局", SINGLE.name, JOINT.name, "定向、联合抽查",
                  "检查结束后20个工作日内", "共 6 户", "状态截至 2024-11-01", "不得对外公开",
                  "尚有 1 个检查事项未录入结果", "责令改正；移送立案调查", "榕城未检餐馆",
                  "已抽中、尚无检查结果的市场主体", "任务已结束，未检查"):  # fmt: skip
        assert words in text, words
    unpublished = [r for r in RECORDS if r.published is None]
    for record, status in zip(RECORDS, statuses(RECORDS, TODAY), strict=True):
        if record in unpublished:
            assert record.entity in text and record.due.isoformat() in text
            assert f'class="badge st-{status.value}"' in INTERNAL
        else:
            assert record.entity not in text
    assert "没有待公示的记录" in internal_publication_html(RECORDS[:2], today=TODAY)


def test_bidi_controls_in_names_are_shown_not_obeyed() -> None:
    name = "榕城\u202e司公限有\u2066甲\u2069"
    spoofed = PublicationRecord.from_dict({**RECORDS[0].to_dict(), "entity_name": name})
    never = Uninspected("T2024-09", JOINT.name, JOINT.end, uscc(6), name)
    for page in (
        publication_html([spoofed], today=TODAY),
        internal_publication_html([], today=TODAY, uninspected=[never]),
    ):
        assert not any(c in page for c in "\u202e\u2066\u2069")
        assert "榕城[U+202E]司公限有[U+2066]甲[U+2069]" in page


def test_official_pages_are_in_chinese_unless_asked_for_english() -> None:
    for page in (PAGE, INTERNAL):
        assert "Random inspection" not in page and 'class="en"' not in page
        assert "Entity" not in "".join(parse(page).text)
    bilingual = publication_html(RECORDS, today=TODAY, bilingual=True)
    assert "Random inspection results" in bilingual and "Published" in bilingual


@needs_chromium
def test_the_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    write_text(INTERNAL, ARTIFACTS / "publication-internal.html")
    # The public page lists published records only: publish every record for a full page.
    every = [r if r.published else r.publish(TODAY, by="公示员") for r in RECORDS]
    full = publication_html(every, today=TODAY, issuer="榕城市市场监督管理局")
    assert len(parse(full).text) > len(parse(PAGE).text)
    page = write_text(full, ARTIFACTS / "publication.html")
    png = screenshot(page, ARTIFACTS / "publication.png", profile=tmp_path / "profile")
    assert png_size(png) == (1240, 1754)
    assert png.stat().st_size > 50_000  # a blank page compresses to a few kB
    empty = write_text(publication_html([], today=TODAY), tmp_path / "empty.html")
    blank = screenshot(empty, tmp_path / "empty.png", profile=tmp_path / "profile")
    assert png.stat().st_size > 3 * blank.stat().st_size  # tables and text, not a bare page
