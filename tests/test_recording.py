"""Recording results in the store: one guarded path for a single result, many, and a CSV file.

Every refusal leaves the store as it was, names the rule and says how to fix it in the terms of
the command line, not of Python.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from shuangsuiji.io import ImportValidationError
from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry, ResultEntry
from shuangsuiji.results import RESULT_COLUMNS
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

CST = timezone(timedelta(hours=8))
CITY = make_city(600, seed=13)
ADMIN = "管理员"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 3, 2), date(2026, 6, 30))
PYTHON_WORDS = ("reassign()", "reason=", "record_result(", "Registry", "Traceback")


class Clock:
    """The store's clock, moved forward by the test (never back: the audit log checks that)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, tzinfo=CST)

    def __call__(self) -> datetime:
        return self.now

    def on(self, day: date, hour: int = 9) -> None:
        self.now = max(self.now, datetime(day.year, day.month, day.day, hour, tzinfo=CST))


def _registry(url: str, clock: Clock) -> Registry:
    reg = Registry(Store.open(url, clock=clock))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    return reg


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def drawn(db_url: str, clock: Clock) -> Registry:
    """T1 drawn on 2026-03-01, its teams drawn on 2026-03-02, today 2026-04-10."""
    reg = _registry(db_url, clock)
    reg.draw("T1", actor="抽取人")
    clock.on(date(2026, 3, 2))
    reg.assign_teams("T1", actor="抽取人")
    clock.on(date(2026, 4, 10))
    return reg


def _entry(reg: Registry, n: int = 0, **changes: Any) -> ResultEntry:
    entity, team = sorted(reg.teams("T1").items())[n]
    values: dict[str, Any] = {
        "task": "T1",
        "entity": entity,
        "item": "SCJG-01",
        "categories": "01",
        "inspection_start": date(2026, 3, 16),
        "inspection_end": date(2026, 3, 17),
        "inspectors": team,
    }
    return ResultEntry(**(values | changes))


def _csv(tmp_path: Path, entries: list[ResultEntry]) -> Path:
    lines = [",".join(RESULT_COLUMNS)]
    for e in entries:
        cells = [e.task, e.entity, e.item, str(e.categories), e.follow_up]
        cells += [e.inspection_start.isoformat(), e.inspection_end.isoformat()]
        lines.append(",".join([*cells, "|".join(e.inspectors), "录入员"]))
    path = tmp_path / "results.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _state(reg: Registry) -> tuple[int, int]:
    return len(reg.results()), len(reg.store.audit_events())


def _refused_on_both_paths(reg: Registry, entry: ResultEntry, tmp_path: Path) -> tuple[str, str]:
    """The refusal of ``entry`` by ``record_results`` and by a CSV import; neither changes
    anything."""
    before = _state(reg)
    with pytest.raises(ValueError) as one:  # StoreError, or InvalidResultError for the dates
        reg.record_results([entry], actor="录入员")
    with pytest.raises(ImportValidationError) as imported:
        reg.import_results(_csv(tmp_path, [entry]), actor="录入员")
    assert _state(reg) == before
    for message in (str(one.value), str(imported.value)):
        assert not any(word in message for word in PYTHON_WORDS), message
    return str(one.value), str(imported.value)


def test_a_result_signed_by_someone_off_the_drawn_team_is_refused_on_every_path(
    drawn: Registry, tmp_path: Path
) -> None:
    entry = _entry(drawn)
    outsider = next(i for i in CITY.inspectors.id_list() if i not in entry.inspectors)
    signed = entry.inspectors[0], outsider
    for message in _refused_on_both_paths(drawn, _entry(drawn, inspectors=signed), tmp_path):
        assert f"{outsider} not on the entity's drawn team" in message
        assert "shuangsuiji teams reassign T1" in message


def test_an_officer_taken_off_a_team_may_no_longer_sign_its_result(
    drawn: Registry, tmp_path: Path
) -> None:
    entry = _entry(drawn)
    gone = entry.inspectors[0]
    drawn.reassign("T1", entry.entity, gone, "illness", actor="抽取人")
    new_team = drawn.teams("T1")[entry.entity]
    for message in _refused_on_both_paths(drawn, entry, tmp_path):
        assert f"{gone} was taken off this entity's team (回避: 因病)" in message
    assert drawn.record_results([_entry(drawn, inspectors=new_team)], actor="录入员")


def test_a_result_before_any_team_is_drawn_is_refused(
    db_url: str, clock: Clock, tmp_path: Path
) -> None:
    reg = _registry(db_url, clock)
    reg.draw("T1", actor="抽取人")
    clock.on(date(2026, 4, 10))
    picked = CITY.inspectors.id_list()[:2]
    entry = ResultEntry(
        "T1",
        reg.selected_ids("T1")[0],
        "SCJG-01",
        "01",
        date(2026, 3, 16),
        date(2026, 3, 17),
        picked,
    )
    for message in _refused_on_both_paths(reg, entry, tmp_path):
        assert "no inspection team has been drawn for task T1" in message
        assert "shuangsuiji teams assign T1" in message


def test_inspection_dates_outside_the_window_before_the_teams_or_in_the_future_are_refused(
    drawn: Registry, tmp_path: Path
) -> None:
    cases = {
        "is before the task's window (2026-03-02..2026-06-30)": {
            "inspection_start": date(2025, 1, 5),
            "inspection_end": date(2025, 1, 5),
        },
        "is after the day the result was recorded (2026-04-10": {
            "inspection_start": date(2026, 4, 11),
            "inspection_end": date(2026, 4, 12),
        },
        "is before inspection_start": {
            "inspection_start": date(2026, 3, 20),
            "inspection_end": date(2026, 3, 19),
        },
    }
    for rule, dates in cases.items():
        for message in _refused_on_both_paths(drawn, _entry(drawn, **dates), tmp_path):
            assert rule in message


def test_an_inspection_before_the_teams_were_drawn_is_refused(
    db_url: str, clock: Clock, tmp_path: Path
) -> None:
    reg = _registry(db_url, clock)
    reg.draw("T1", actor="抽取人")
    clock.on(date(2026, 3, 20))
    reg.assign_teams("T1", actor="抽取人")
    clock.on(date(2026, 4, 10))
    for message in _refused_on_both_paths(reg, _entry(reg), tmp_path):
        assert "2026-03-16 is before the inspection teams were drawn (2026-03-20)" in message


def test_a_refused_import_reports_every_bad_row_with_its_line_and_changes_nothing(
    drawn: Registry, tmp_path: Path
) -> None:
    good = [_entry(drawn, n) for n in range(3)]
    bad_item = _entry(drawn, 3, item="SCJG-02")
    too_early = _entry(drawn, 4, inspection_start=date(2025, 1, 5))
    path = _csv(tmp_path, [good[0], bad_item, good[1], too_early, good[2]])
    before = _state(drawn)
    with pytest.raises(ImportValidationError) as exc:
        drawn.import_results(path, actor="录入员")
    assert {(e.line, e.column) for e in exc.value.errors} == {
        (3, "item"),
        (5, "inspection_start"),
    }
    assert _state(drawn) == before
    assert len(drawn.import_results(_csv(tmp_path, good), actor="录入员")) == 3
    with pytest.raises(ImportValidationError) as again:
        drawn.import_results(_csv(tmp_path, good[:1]), actor="录入员")
    assert "already recorded" in str(again.value)
    assert "shuangsuiji results record" in str(again.value)


def test_a_good_result_is_recorded_the_same_way_on_both_paths(
    drawn: Registry, tmp_path: Path
) -> None:
    [one] = drawn.record_results([_entry(drawn, 0)], actor="录入员")
    [two] = drawn.import_results(_csv(tmp_path, [_entry(drawn, 1)]), actor="录入员")
    assert (one.version, two.version) == (1, 1)
    assert [e.kind for e in drawn.store.audit_events()[-2:]] == ["result.record"] * 2


# -- publication dates ----------------------------------------------------------------------------


def _inspected(drawn: Registry) -> str:
    entry = _entry(drawn)
    drawn.record_results([entry], actor="录入员")
    return entry.entity


def test_a_publication_is_dated_the_day_it_is_recorded(drawn: Registry, clock: Clock) -> None:
    entity = _inspected(drawn)
    clock.on(date(2026, 4, 14))
    record = drawn.publish("T1", entity, actor="公示员")
    assert record.published == date(2026, 4, 14)
    event = drawn.store.audit_events()[-1]
    assert event.payload["published"] == "2026-04-14" and "correction" not in event.payload


def test_a_publication_date_in_the_future_is_refused_and_changes_nothing(
    drawn: Registry, clock: Clock
) -> None:
    entity = _inspected(drawn)
    before = len(drawn.store.audit_events())
    for day in (date(2026, 4, 11), date(2030, 1, 1)):
        with pytest.raises(
            ValueError, match=r"after today \(2026-04-10\): a publication is recorded"
        ):
            drawn.publish("T1", entity, on=day, actor="公示员", reason="x", approved_by="科长")
    assert len(drawn.store.audit_events()) == before
    assert drawn.publications()[0].published is None


def test_an_earlier_publication_date_is_a_correction_with_reason_and_a_second_person(
    drawn: Registry, clock: Clock
) -> None:
    entity = _inspected(drawn)
    clock.on(date(2026, 6, 1))
    before = len(drawn.store.audit_events())
    earlier = date(2026, 4, 14)
    with pytest.raises(ValueError) as refused:
        drawn.publish("T1", entity, on=earlier, actor="公示员")
    assert "give the reason (--reason)" in str(refused.value)
    assert "second person" in str(refused.value)
    with pytest.raises(ValueError, match="second person"):
        drawn.publish("T1", entity, on=earlier, actor="公示员", reason="漏录", approved_by="公示员")
    assert len(drawn.store.audit_events()) == before
    record = drawn.publish(
        "T1", entity, on=earlier, actor="公示员", reason="当日已公示，漏录", approved_by="科长"
    )
    assert record.published == earlier
    event = drawn.store.audit_events()[-1].payload
    assert event["entered_on"] == "2026-06-01"
    assert event["correction"] == {"reason": "当日已公示，漏录", "approved_by": "科长"}


def test_publishing_several_is_all_or_nothing_and_names_every_problem(
    drawn: Registry, clock: Clock
) -> None:
    first, second = _entry(drawn, 0), _entry(drawn, 1)
    drawn.record_results([first, second], actor="录入员")
    clock.on(date(2026, 4, 14))
    drawn.publish("T1", first.entity, actor="公示员")
    before = len(drawn.store.audit_events())
    never = sorted(set(drawn.selected_ids("T1")) - {first.entity, second.entity})[0]
    keys = [("T1", second.entity), ("T1", first.entity), ("T1", never)]
    with pytest.raises(ValueError) as refused:
        drawn.publish_many(keys, actor="公示员")
    assert f"{first.entity} in task T1 is already published" in str(refused.value)
    assert f"no results recorded for {never} in task T1" in str(refused.value)
    assert len(drawn.store.audit_events()) == before
    assert {r.entity for r in drawn.publications() if r.published} == {first.entity}
    done = drawn.publish_many([("T1", second.entity)] * 2, actor="公示员")
    assert [r.published for r in done] == [date(2026, 4, 14)]
    assert [e.kind for e in drawn.store.audit_events()[before:]] == ["publication"]


# -- what is public and what is not --------------------------------------------------------------


def test_the_public_page_has_only_published_records_and_the_internal_one_the_rest(
    drawn: Registry, clock: Clock, tmp_path: Path
) -> None:
    published, pending = _entry(drawn, 0), _entry(drawn, 1)
    drawn.record_results([published, pending], actor="录入员")
    clock.on(date(2026, 4, 14))
    drawn.publish("T1", published.entity, actor="公示员")
    never = set(drawn.selected_ids("T1")) - {published.entity, pending.entity}
    assert {u.entity for u in drawn.uninspected()} == never
    files = drawn.export_publications(tmp_path, today=date(2026, 7, 1), issuer="榕城市局")
    public = files["publication.html"].read_text(encoding="utf-8")
    internal = files["publication-internal.html"].read_text(encoding="utf-8")
    assert published.entity in public and pending.entity not in public
    assert not any(e in public for e in never) and "内部" not in public
    assert "<title>抽查结果公示工作情况（内部）</title>" in internal
    assert pending.entity in internal and published.entity not in internal
    assert all(e in internal for e in never) and "任务已结束，未检查" in internal


def test_a_backdated_publication_may_rest_on_a_granted_approval_used_once(
    drawn: Registry, clock: Clock
) -> None:
    entity = _inspected(drawn)
    clock.on(date(2026, 6, 1))
    earlier, why = date(2026, 4, 14), "当日已公示，漏录"
    rid = drawn.request_approval(
        "T1", "backdate", reason=why, text="4月14日已公示，漏录系统", actor="公示员"
    )
    before = (len(drawn.store.audit_events()), [r.state for r in drawn.approvals()])
    with pytest.raises(ValueError, match="not granted"):  # asked, not yet granted
        drawn.publish("T1", entity, on=earlier, actor="公示员", reason=why, approval=rid)
    drawn.approve(rid, actor="科长")
    with pytest.raises(ValueError, match="not 'x'"):  # another reason than the approved one
        drawn.publish("T1", entity, on=earlier, actor="公示员", reason="x", approval=rid)
    assert [r.state for r in drawn.approvals()] == ["granted"]
    assert len(drawn.store.audit_events()) == before[0] + 1  # only the grant
    record = drawn.publish("T1", entity, on=earlier, actor="公示员", reason=why, approval=rid)
    assert record.published == earlier
    event = drawn.store.audit_events()[-1].payload
    assert event["correction"] == {"reason": why, "approved_by": "科长", "approval": rid}
    assert [r.state for r in drawn.approvals()] == ["used"]
