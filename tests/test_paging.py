"""Paged reads (``shuangsuiji.store.paging``, ``Registry.*_page``): walking every page of a list
meets each row exactly once and in the order of the unpaged list, on SQLite and PostgreSQL,
with replacements (a promoted alternate replaced again), a re-draw, result corrections,
publications and two plans in the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pytest

from cli_store import build_cycle_store
from shuangsuiji.model import Plan, Task
from shuangsuiji.policy import Policy
from shuangsuiji.registry import DrawRefused, Registry
from shuangsuiji.store import Store
from shuangsuiji.store.paging import Page

_T = TypeVar("_T")

DRAWER = "抽取人-李"
T3 = Task("T3", "P2", "专项抽查", ("SCJG",), ("SCJG-01",), date(2026, 11, 2), date(2026, 11, 30))
REDRAW = {
    "reason": "system_failure",
    "text": "抽取记录未打印，经批准重新抽取",
    "approved_by": "科长-王",
}
LIMITS = (1, 2, 3, 7, 1000)


def _store(url: str) -> Registry:
    """The CLI tests' cycle (T1 drawn, one replacement, teams, results with a correction, one
    publication) plus: T2 drawn twice (the second attempt current) with a replacement of a
    promoted alternate, and a second plan whose task T3 has teams, results and a publication."""
    build_cycle_store(url)
    now = [datetime(2026, 10, 21, 9, 0, tzinfo=UTC)]  # the cycle ends on 2026-10-20
    reg = Registry(Store.open(url, clock=lambda: now[0]))
    # as many alternates as selected, so that a promoted alternate can be replaced in turn
    reg.store.save_policy(Policy.from_toml("[ratios]\nalternates = 1.0\n"), actor="管理员")
    reg.draw("T2", actor=DRAWER)
    reg.draw("T2", actor=DRAWER, **REDRAW)
    drawn = reg.current_draw("T2").draw
    spare = [p.stratum for p in drawn.alternates]
    first = next(p.id for p in drawn.selected if spare.count(p.stratum) >= 2)
    by = reg.replace("T2", first, "not_found_at_address", actor=DRAWER, note="查无此户")
    reg.replace("T2", by, "not_found_at_address", actor=DRAWER, note="也查无此户")
    reg.store.put_plan(Plan("P2", 2026, "专项计划", ("SCJG",)), actor="管理员")
    reg.store.put_task(T3, actor="管理员")
    reg.draw("T3", actor=DRAWER)
    reg.assign_teams("T3", actor=DRAWER)
    now[0] = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    when = {"inspection_start": date(2026, 11, 10), "inspection_end": date(2026, 11, 19)}
    teams = list(reg.teams("T3").items())[:4]
    for entity, team in teams:
        reg.record_result("T3", entity, "SCJG-01", "01", inspectors=team, actor="录入员", **when)
    reg.publish("T3", teams[0][0], actor="公示员")
    return reg


def _walk(read: Callable[[int, int], Page[_T]], limit: int) -> list[_T]:
    """Every item of every page, following ``next`` from offset 0; each page's total agrees."""
    out: list[_T] = []
    offset: int | None = 0
    totals = set()
    while offset is not None:
        page = read(offset, limit)
        assert len(page.items) == min(limit, page.total - offset)
        totals.add(page.total)
        out += page.items
        offset = page.next
    assert totals == {len(out)}
    return out


def test_walking_every_page_gives_the_unpaged_lists(db_url: str) -> None:
    reg = _store(db_url)
    lists: dict[str, tuple[list[Any], Callable[[int, int], Page[Any]]]] = {}
    for task in (None, "T1", "T3"):
        lists[f"results {task}"] = (
            reg.results(task),
            lambda o, n, t=task: reg.results_page(t, offset=o, limit=n),
        )
    for plan, task, entity in (
        (None, None, None),
        ("P", None, None),
        ("P2", None, None),
        (None, "T3", None),
        (None, None, reg.results("T1")[0].entity),
    ):
        lists[f"publications {plan} {task} {entity}"] = (
            reg.publications(plan, task=task, entity=entity),
            lambda o, n, p=plan, t=task, e=entity: reg.publications_page(
                p, task=t, entity=e, offset=o, limit=n
            ),
        )
    for plan in (None, "P", "P2"):
        lists[f"uninspected {plan}"] = (
            reg.uninspected(plan),
            lambda o, n, p=plan: reg.uninspected_page(p, offset=o, limit=n),
        )
    for task in ("T1", "T2", "T3"):
        lists[f"selection {task}"] = (
            reg.selected_ids(task),
            lambda o, n, t=task: reg.selection_page(t, offset=o, limit=n),
        )
    for task in ("T1", "T3"):
        lists[f"teams {task}"] = (
            list(reg.teams(task).items()),
            lambda o, n, t=task: reg.teams_page(t, offset=o, limit=n),
        )
    for name, (unpaged, read) in lists.items():
        assert unpaged, name
        for limit in LIMITS:
            assert _walk(read, limit) == unpaged, (name, limit)
    # Results read by (task, entity) pair: the same versions, in the same order.
    pairs = sorted({(r.task, r.entity) for r in reg.results()})[::2]
    wanted = [r for r in reg.results() if (r.task, r.entity) in set(pairs)]
    assert wanted and reg.results_for(pairs) == wanted
    # The store really has what the walk must get right.
    assert {p.plan for p in reg.publications()} == {"P", "P2"}
    assert sum(p.published is not None for p in reg.publications()) == 2
    assert len(reg.results("T1")) > len({r.key for r in reg.results("T1")})
    assert [d["attempt"] for d in reg.draws("T2")] == [1, 2]
    assert len(reg.bundle("T2")["replacements"]) == 2


def test_a_page_past_the_end_is_empty_and_a_task_not_drawn_is_refused(db_url: str) -> None:
    build_cycle_store(db_url)
    reg = Registry.open(db_url)
    total = len(reg.results())
    past = reg.results_page(offset=total + 5, limit=10)
    assert past.items == [] and past.total == total and past.next is None
    with pytest.raises(DrawRefused, match="T2 has not been drawn"):
        reg.selection_page("T2")
    with pytest.raises(DrawRefused, match="T2 has not been drawn"):
        reg.teams_page("T2")
    assert reg.uninspected_page("P").total == len(reg.uninspected("P"))
