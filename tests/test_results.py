"""Tests for result categories, inspection results, corrections and the results CSV import."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shuangsuiji.io import CsvFormatError, ImportValidationError
from shuangsuiji.model import Task
from shuangsuiji.results import (
    RESULT_COLUMNS,
    STANDARD_CATEGORIES,
    CategoryError,
    CategoryKind,
    CorrectionError,
    InspectionResult,
    InvalidResultError,
    ResultCategories,
    ResultCategory,
    ResultHistoryError,
    ResultScope,
    correct,
    latest_results,
    read_results_csv,
)

CST = timezone(timedelta(hours=8))
STANDARD = ResultCategories.standard()
ENTITY = "91350100M000100Y43"
AT = datetime(2025, 9, 26, 10, 0, tzinfo=CST)

# shared/DOMAIN.md, "Standard result categories", in order.
DOMAIN_LABELS = (
    "未发现问题",
    "未按规定公示应当公示的信息",
    "公示信息隐瞒真实情况、弄虚作假",
    "通过登记的住所（经营场所）无法联系",
    "发现问题已责令改正",
    "不配合检查情节严重",
    "未发现开展本次抽查涉及的经营活动",
    "发现问题待后续处理",
    "已关闭停业或正在组织清算",
)


def make(**changes: Any) -> InspectionResult:
    values: dict[str, Any] = {
        "task": "T2025-01",
        "entity": ENTITY,
        "item": "SCJG-01",
        "categories": ("05",),
        "follow_up": "责令限期改正",
        "inspection_start": date(2025, 9, 22),
        "inspection_end": date(2025, 9, 25),
        "inspectors": ("ZF0001", "ZF0002"),
        "recorded_by": "林晓",
        "recorded_at": AT,
    }
    values.update(changes)
    return InspectionResult(**values)


def fields_of(exc: pytest.ExceptionInfo[InvalidResultError]) -> list[str]:
    return [p.field for p in exc.value.problems]


# -- categories -----------------------------------------------------------------------------------


def test_the_nine_standard_categories_have_stable_codes_and_the_domain_labels() -> None:
    assert STANDARD.codes == tuple(f"{k:02d}" for k in range(1, 10))
    assert tuple(c.label_zh for c in STANDARD) == DOMAIN_LABELS
    assert all(c.label_en for c in STANDARD)
    kinds = {c.code: c.kind for c in STANDARD}
    assert kinds["01"] is CategoryKind.NO_PROBLEM
    assert {c for c, k in kinds.items() if k is CategoryKind.FINDING} == {"07", "09"}
    assert {c for c, k in kinds.items() if k is CategoryKind.PROBLEM} == {
        "02", "03", "04", "05", "06", "08"
    }  # fmt: skip
    assert STANDARD.label("05", "en") == "Problem found, correction ordered"


def test_agency_categories_extend_the_set_without_clashes() -> None:
    cats = STANDARD.with_category("SCJG-10", "已办理注销登记", "Deregistered", kind="finding")
    cats = cats.with_category("SCJG-11", "无照经营", "Operating without a licence")
    assert cats.codes[-2:] == ("SCJG-10", "SCJG-11") and len(cats) == 11
    assert cats["SCJG-11"].kind is CategoryKind.PROBLEM  # the safe default needs a follow-up
    assert cats.resolve("已办理注销登记") == "SCJG-10" and cats.resolve(" 05 ") == "05"
    assert "SCJG-10" not in STANDARD and len(STANDARD) == 9  # immutable
    with pytest.raises(CategoryError, match="already used by 发现问题已责令改正"):
        cats.with_category("05", "其他", "other")
    with pytest.raises(CategoryError, match="already the label of code 01"):
        cats.with_category("X1", "未发现问题", "duplicate label")
    with pytest.raises(CategoryError, match="not valid"):
        cats.with_category("a|b", "坏代码", "bad code")
    with pytest.raises(CategoryError, match="non-empty"):
        cats.with_category("X2", " ", "blank")
    with pytest.raises(KeyError, match="unknown result category 'X9'"):
        cats.resolve("X9")
    assert ResultCategories.from_dict(cats.to_dict()) == cats
    assert "SCJG-10" in repr(cats)


def test_standard_categories_cannot_be_removed_or_redefined() -> None:
    with pytest.raises(CategoryError, match="standard category 09"):
        ResultCategories(STANDARD_CATEGORIES[:-1])
    changed = attrs.evolve(STANDARD_CATEGORIES[4], kind=CategoryKind.FINDING)
    with pytest.raises(CategoryError, match="standard category 05"):
        ResultCategories((*STANDARD_CATEGORIES[:4], changed, *STANDARD_CATEGORIES[5:]))
    with pytest.raises(CategoryError, match="not a category set"):
        ResultCategories.from_dict({"codes": []})
    with pytest.raises(ValueError, match="not a valid CategoryKind"):
        ResultCategory("X1", "甲", "a", "bad kind")


# -- the consistency rules ------------------------------------------------------------------------


def test_a_valid_result_is_normalised() -> None:
    r = make(categories="08|05", entity=" 91350100m000100y43 ".upper(), inspectors="ZF0001|ZF0002")
    assert r.categories == ("05", "08") and r.entity == ENTITY
    assert r.inspectors == ("ZF0001", "ZF0002") and r.version == 1
    assert r.labels() == ("发现问题已责令改正", "发现问题待后续处理")
    assert r.labels("en")[0] == "Problem found, correction ordered"
    assert r.key == ("T2025-01", ENTITY, "SCJG-01") and r.has_problem
    assert make(categories=["05", "08"]) == make(categories=("08", "05"))


def test_no_problem_stands_alone_and_takes_no_follow_up() -> None:
    assert not make(categories="01", follow_up="").has_problem
    with pytest.raises(InvalidResultError, match="cannot be combined") as exc:
        make(categories="01|05")
    assert fields_of(exc) == ["categories"]
    with pytest.raises(InvalidResultError, match="cannot be combined"):
        make(categories="01|07", follow_up="")
    with pytest.raises(InvalidResultError, match="leave the follow-up action empty") as exc:
        make(categories="01", follow_up="无")
    assert fields_of(exc) == ["follow_up"]


def test_a_problem_needs_a_follow_up_and_a_finding_does_not() -> None:
    with pytest.raises(InvalidResultError, match=r"04 .* is a problem: give the follow-up") as exc:
        make(categories="04", follow_up="  ")
    assert fields_of(exc) == ["follow_up"]
    assert make(categories="07", follow_up="").follow_up == ""
    assert make(categories="07|09", follow_up="建议办理注销").categories == ("07", "09")
    with pytest.raises(InvalidResultError, match="is a problem"):
        make(categories="07|06", follow_up="")


def test_unknown_repeated_and_missing_categories() -> None:
    with pytest.raises(InvalidResultError, match="unknown result category 'X1'"):
        make(categories="X1")
    with pytest.raises(InvalidResultError, match="listed twice"):
        make(categories=["05", "05"])
    with pytest.raises(InvalidResultError, match="at least one result category"):
        make(categories="")
    cats = STANDARD.with_category("X1", "无照经营", "Unlicensed")
    assert make(categories="X1", catalogue=cats).labels() == ("无照经营",)
    with pytest.raises(InvalidResultError, match="is a problem"):
        make(categories="X1", follow_up="", catalogue=cats)


def test_dates_people_and_versions() -> None:
    with pytest.raises(InvalidResultError, match="before inspection_start") as exc:
        make(inspection_start=date(2025, 9, 26))
    assert fields_of(exc) == ["inspection_end"]
    with pytest.raises(InvalidResultError, match=r"must be a datetime\.date"):
        make(inspection_end=datetime(2025, 9, 25, 9, 0))
    with pytest.raises(InvalidResultError, match="timezone-aware"):
        make(recorded_at=datetime(2025, 9, 26, 10, 0))
    with pytest.raises(InvalidResultError, match="谁检查"):
        make(inspectors=())
    with pytest.raises(InvalidResultError, match="ZF0001 listed more than once"):
        make(inspectors="ZF0001|ZF0001")
    with pytest.raises(InvalidResultError, match="谁录入"):
        make(recorded_by=" ")
    with pytest.raises(InvalidResultError, match="not a valid task code"):
        make(task="任务一")
    with pytest.raises(InvalidResultError, match="empty ID"):
        make(entity="  ")
    with pytest.raises(InvalidResultError, match="has no correction reason"):
        make(correction_reason="typo")
    with pytest.raises(InvalidResultError, match="say why"):
        make(version=2)
    with pytest.raises(InvalidResultError, match="integer >= 1"):
        make(version=0)


def test_a_result_is_recorded_after_its_inspection_ends_in_china_time() -> None:
    end = date(2025, 9, 26)
    # 2025-09-25 16:30 UTC is 2025-09-26 00:30 in China: the same day as the end.
    assert make(inspection_end=end, recorded_at=datetime(2025, 9, 25, 16, 30, tzinfo=UTC))
    with pytest.raises(InvalidResultError, match=r"after the day the result was recorded"):
        make(inspection_end=end, recorded_at=datetime(2025, 9, 25, 15, 59, tzinfo=UTC))


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidResultError) as exc:
        make(categories="01|05", inspectors=(), recorded_by="", inspection_start=date(2025, 9, 27))
    assert set(fields_of(exc)) == {"categories", "inspectors", "recorded_by", "inspection_end"}
    assert str(exc.value).startswith(f"result T2025-01 / {ENTITY} / SCJG-01: ")


def rules_allow(codes: list[str], follow_up: bool) -> bool:
    """An independent statement of the rules, for the property test."""
    if not codes or len(set(codes)) != len(codes):
        return False
    if "01" in codes:
        return len(codes) == 1 and not follow_up
    problems = {"02", "03", "04", "05", "06", "08"}
    return follow_up or not problems & set(codes)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(STANDARD.codes), max_size=4), st.booleans())
def test_the_rules_accept_exactly_the_consistent_combinations(
    codes: list[str], follow_up: bool
) -> None:
    text = "责令改正" if follow_up else ""
    if rules_allow(codes, follow_up):
        assert make(categories=codes, follow_up=text).categories == tuple(sorted(codes))
    else:
        with pytest.raises(InvalidResultError):
            make(categories=codes, follow_up=text)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["01", "05|08", "07", "02|03|04"]),
    st.dates(date(2016, 1, 1), date(2030, 12, 31)),
    st.integers(0, 30),
    st.integers(0, 10**6),
    st.integers(-12, 14),
)
def test_to_dict_round_trips(
    codes: str, start: date, length: int, seconds: int, hours: int
) -> None:
    end = start + timedelta(days=length)
    zone = timezone(timedelta(hours=hours))
    at = datetime.combine(end + timedelta(days=2), datetime.min.time(), zone) + timedelta(
        seconds=seconds
    )
    r = make(
        categories=codes,
        follow_up="" if codes in ("01", "07") else "移送立案",
        inspection_start=start,
        inspection_end=end,
        recorded_at=at,
    )
    assert InspectionResult.from_dict(r.to_dict()) == r
    with pytest.raises(InvalidResultError, match="unknown field"):
        InspectionResult.from_dict({**r.to_dict(), "colour": "red"})
    with pytest.raises(InvalidResultError, match="not ISO 8601"):
        InspectionResult.from_dict({**r.to_dict(), "recorded_at": "yesterday"})


# -- corrections ----------------------------------------------------------------------------------


def test_a_correction_is_the_next_version_with_its_reason() -> None:
    first = make()
    second = correct(
        first,
        categories="05|08",
        follow_up="责令改正；移送立案调查",
        reason="复核发现需立案",
        recorded_by="陈静",
        recorded_at=AT + timedelta(days=3),
    )
    assert (second.version, second.correction_reason, second.recorded_by) == (
        2,
        "复核发现需立案",
        "陈静",
    )
    assert second.key == first.key and second.categories == ("05", "08")
    assert second.inspectors == first.inspectors and first.version == 1  # first unchanged
    third = correct(
        second, inspectors="ZF0001|ZF0003", reason="检查人员录入错误", recorded_by="陈静",
        recorded_at=AT + timedelta(days=4),
    )  # fmt: skip
    assert third.version == 3 and third.categories == second.categories
    assert latest_results([second, third, first]) == [third]


def test_a_correction_must_say_why_change_something_and_come_later() -> None:
    first = make()
    later = AT + timedelta(hours=1)
    with pytest.raises(CorrectionError, match="give the reason"):
        correct(first, follow_up="责令改正", reason=" ", recorded_by="陈静", recorded_at=later)
    with pytest.raises(CorrectionError, match="changes nothing"):
        correct(first, categories="05", reason="核对", recorded_by="陈静", recorded_at=later)
    with pytest.raises(CorrectionError, match="a correction comes after what it corrects"):
        correct(first, follow_up="x", reason="r", recorded_by="陈静", recorded_at=AT - timedelta(1))
    with pytest.raises(InvalidResultError, match="cannot be combined"):
        correct(first, categories="01|05", reason="r", recorded_by="陈静", recorded_at=later)


def test_latest_results_refuses_two_different_results_with_one_version() -> None:
    a = make()
    b = make(follow_up="另一处置")
    assert latest_results([a, a]) == [a]
    with pytest.raises(ResultHistoryError, match="claim version 1"):
        latest_results([a, b])
    other = make(item="SCJG-02")
    assert [r.item for r in latest_results([other, a])] == ["SCJG-01", "SCJG-02"]


# -- the CSV import -------------------------------------------------------------------------------

HEADER = ",".join(RESULT_COLUMNS)
TASKS = [
    Task(
        "T1", "P1", "抽查一", ("SCJG",), ("SCJG-01", "SCJG-02"), date(2025, 9, 1), date(2025, 9, 30)
    )
]
IMPORT_AT = datetime(2025, 10, 9, 9, 0, tzinfo=CST)
OTHER = "91350100M000100Y44"  # not a valid code: the check character is wrong
TEAM = frozenset({"ZF01", "ZF02"})
SCOPE = ResultScope(
    task=TASKS[0],
    selected=frozenset({ENTITY, OTHER}),
    teams={ENTITY: TEAM, OTHER: TEAM},
    teams_drawn=date(2025, 9, 2),
    recused={(ENTITY, "ZF03"): "因病"},
)


def read(text: str, **kwargs: Any) -> list[InspectionResult]:
    return read_results_csv(text, STANDARD, recorded_at=IMPORT_AT, **kwargs)


def test_a_good_file_imports_every_row() -> None:
    text = (
        f"{HEADER}\n"
        f"T1,{ENTITY.lower()},SCJG-01,05|08,责令改正,2025-09-22,2025-09-25,ZF01|ZF02,林晓\n"
        f"T1,{ENTITY},SCJG-02,未发现问题,,2025-09-22,2025-09-22,ZF01|ZF02,\n"
        f'T1,{ENTITY},SCJG-03,"07、09",,2025-09-23,2025-09-23,"ZF01,ZF02",\n'
    )
    results = read(text, recorded_by="默认录入人")
    assert [r.item for r in results] == ["SCJG-01", "SCJG-02", "SCJG-03"]
    assert results[0].entity == ENTITY and results[0].categories == ("05", "08")
    assert results[1].categories == ("01",) and results[1].recorded_by == "默认录入人"
    assert results[2].categories == ("07", "09") and results[2].inspectors == ("ZF01", "ZF02")
    assert all(r.recorded_at == IMPORT_AT and r.version == 1 for r in results)
    as_bytes = io.BytesIO(("\ufeff" + text).encode("utf-8"))
    assert (
        read_results_csv(as_bytes, STANDARD, recorded_at=IMPORT_AT, recorded_by="x")[0]
        == (results[0])
    )


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported() -> None:
    text = (
        f"{HEADER}\n"
        f"T1,{ENTITY},SCJG-01,05,责令改正,2025-09-22,2025-09-25,ZF01|ZF02,林晓\n"  # line 2: good
        f'T1,{ENTITY},SCJG-02,01|05,"多行\n处置",2025-09-26,2025-09-25,ZF01,林晓\n'  # lines 3-4
        f"T1,91350100M000100Y44,SCJG-02,99,,2025-13-01,2025-09-25,ZF01|ZF02,林晓\n"  # line 5
        f"T1,{ENTITY},SCJG-01,01,,2025-09-22,2025-10-25,ZF01|ZF01,\n"  # line 6
        "T1,x\n"  # line 7
        f"T9,{ENTITY},SCJG-09,03,,2025-09-22,2025-09-25,,林晓\n"  # line 8
    )
    with pytest.raises(ImportValidationError) as exc:
        read(text, scopes={"T1": SCOPE})
    found: dict[tuple[int, str], str] = {}
    for e in exc.value.errors:
        found[e.line, e.column] = found.get((e.line, e.column), "") + e.reason
    expected = {
        (4, "categories"): "cannot be combined",
        (4, "inspection_end"): "before inspection_start",
        (4, "inspectors"): "requires at least 2",
        (5, "entity_id"): "position 18 (check character)",
        (5, "categories"): "unknown result category '99'",
        (5, "inspection_start"): "not a date",
        (6, "inspection_end"): "after the day the result was recorded",
        (6, "inspectors"): "listed more than once",
        (6, "recorded_by"): "谁录入",
        (6, "item"): "on line 2",
        (7, "*"): "2 fields",
        (8, "task"): "unknown task; known: T1",
        (8, "follow_up"): "is a problem",
        (8, "inspectors"): "谁检查",
    }
    assert set(found) == set(expected), sorted(set(found) ^ set(expected))
    for key, words in expected.items():
        assert words in found[key], (key, found[key])
    assert "after the task's window" in found[6, "inspection_end"]
    assert "2 " not in {str(e.line) for e in exc.value.errors}  # line 2 is good
    assert str(exc.value).startswith("<text>: 15 bad value(s); nothing was imported")


def _refusal(row: str, **kwargs: Any) -> str:
    with pytest.raises(ImportValidationError) as exc:
        read(f"{HEADER}\n{row}\n", **kwargs)
    return " / ".join(f"{e.column}: {e.reason}" for e in exc.value.errors)


def test_a_result_is_checked_against_the_task_its_draw_and_its_team() -> None:
    good = f"T1,{ENTITY},SCJG-01,01,,2025-09-22,2025-09-25,ZF01|ZF02,林晓"
    assert len(read(f"{HEADER}\n{good}\n", scopes={"T1": SCOPE})) == 1
    assert "not an item of task T1" in _refusal(
        good.replace("SCJG-01", "SCJG-03"), scopes={"T1": SCOPE}
    )
    drawn_other = attrs.evolve(SCOPE, selected=frozenset({"91350100MA00000041"}))
    assert "was not drawn in task T1" in _refusal(good, scopes={"T1": drawn_other})
    undrawn = ResultScope(task=TASKS[0])
    assert "has not been drawn yet" in _refusal(good, scopes={"T1": undrawn})
    no_teams = attrs.evolve(SCOPE, teams=None, teams_drawn=None)
    assert "no inspection team has been drawn" in _refusal(good, scopes={"T1": no_teams})
    stranger = _refusal(good.replace("ZF01|ZF02", "ZF01|ZF09"), scopes={"T1": SCOPE})
    assert "ZF09 not on the entity's drawn team (ZF01, ZF02)" in stranger
    assert "shuangsuiji teams reassign T1" in stranger and "reassign()" not in stranger
    recused = _refusal(good.replace("ZF01|ZF02", "ZF01|ZF03"), scopes={"T1": SCOPE})
    assert "ZF03 was taken off this entity's team (回避: 因病)" in recused
    assert "requires at least 2" in _refusal(
        good.replace("ZF01|ZF02", "ZF01"), scopes={"T1": SCOPE}
    )
    assert "unknown task; known: T1" in _refusal(good.replace("T1,", "T9,"), scopes={"T1": SCOPE})


def test_an_inspection_lies_in_the_task_window_after_the_teams_were_drawn() -> None:
    good = f"T1,{ENTITY},SCJG-01,01,,2025-09-22,2025-09-25,ZF01|ZF02,林晓"
    early = _refusal(good.replace("2025-09-22", "2025-01-05"), scopes={"T1": SCOPE})
    assert (
        "inspection_start: 2025-01-05 is before the task's window (2025-09-01..2025-09-30)" in early
    )
    assert "amendment of the task" in early
    before_teams = _refusal(good.replace("2025-09-22", "2025-09-01"), scopes={"T1": SCOPE})
    assert "before the inspection teams were drawn (2025-09-02)" in before_teams
    late = _refusal(good.replace("2025-09-25", "2025-10-02"), scopes={"T1": SCOPE})
    assert "inspection_end: 2025-10-02 is after the task's window" in late
    future = _refusal(good.replace("2025-09-25", "2025-10-10"), scopes={"T1": SCOPE})
    assert "after the day the result was recorded (2025-10-09" in future
    backwards = _refusal(good.replace("2025-09-22", "2025-09-26"), scopes={"T1": SCOPE})
    assert "2025-09-25 is before inspection_start 2025-09-26" in backwards


def test_a_file_adds_results_and_does_not_overwrite_recorded_ones() -> None:
    good = f"T1,{ENTITY},SCJG-01,01,,2025-09-22,2025-09-25,ZF01|ZF02,林晓"
    again = _refusal(good, scopes={"T1": SCOPE}, recorded={("T1", ENTITY, "SCJG-01")})
    assert "already recorded" in again and "--reason" in again


def test_file_level_problems() -> None:
    with pytest.raises(CsvFormatError, match="missing column"):
        read("task,entity_id\nT1,x\n")
    with pytest.raises(CsvFormatError, match="no rows"):
        read(f"{HEADER}\n")
    with pytest.raises(CsvFormatError, match="empty"):
        read_results_csv(io.StringIO(""), STANDARD, recorded_at=IMPORT_AT)
    gbk = f"{HEADER}\nT1,{ENTITY},SCJG-01,01,,2025-09-22,2025-09-25,ZF01|ZF02,林晓\n"
    with pytest.raises(CsvFormatError, match="GBK/GB18030"):
        read_results_csv(io.BytesIO(gbk.encode("gb18030")), STANDARD, recorded_at=IMPORT_AT)
    with pytest.raises(ImportValidationError, match="谁录入"):
        read(gbk.replace(",林晓", ","))


def test_agency_categories_are_imported_by_code_or_label() -> None:
    cats = STANDARD.with_category("SCJG-10", "已办理注销登记", "Deregistered", kind="finding")
    text = f"{HEADER}\nT1,{ENTITY},SCJG-01,已办理注销登记,,2025-09-22,2025-09-25,ZF01|ZF02,林晓\n"
    [r] = read_results_csv(text, cats, recorded_at=IMPORT_AT)
    assert r.categories == ("SCJG-10",) and r.labels() == ("已办理注销登记",)
    with pytest.raises(ImportValidationError, match="unknown result category"):
        read(text)
