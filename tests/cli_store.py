"""A small store that has been through a whole cycle, for the command-line tests: the pools
of a 600-entity city, a plan, two tasks, a draw with a replacement, teams, results (one
corrected), a publication, and an audit log over all of it. Built in seconds (the demo takes
about a minute and a half)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner

from shuangsuiji.cli import main
from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

ADMIN = "管理员"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
T2 = Task("T2", "P", "餐饮专项", ("SCJG",), ("SCJG-01",), date(2026, 10, 1), date(2026, 11, 30))


def build_cycle_store(url: str) -> dict[str, str]:
    """Run the cycle into the empty store at ``url``; returns the IDs the tests look at."""
    now = [datetime(2026, 6, 30, 9, 0, tzinfo=UTC)]
    reg = Registry(Store.open(url, clock=lambda: now[0]))
    reg.setup_city(make_city(600, seed=8), actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "年度抽查计划", ("SCJG", "WJW")), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    reg.store.put_task(T2, actor=ADMIN)
    reg.draw("T1", actor="抽取人-李")
    first, second, third = reg.selected_ids("T1")[:3]
    replaced_by = reg.replace(
        "T1", third, "not_found_at_address", actor="抽取人-李", note="2026-07-02 实地核查：查无此户"
    )
    reg.assign_teams("T1", actor="抽取人-李")
    pair = reg.teams("T1")[first]
    now[0] = datetime(2026, 9, 26, 9, 0, tzinfo=UTC)
    when = {"inspection_start": date(2026, 9, 1), "inspection_end": date(2026, 9, 25)}
    reg.record_result("T1", first, "SCJG-01", "01", inspectors=pair, actor="录入员", **when)
    reg.record_result(
        "T1",
        first,
        "SCJG-01",
        "05",
        inspectors=pair,
        actor="录入员",
        follow_up="责令改正",
        reason="录入错误，据检查记录更正",
        **when,
    )
    second_pair = reg.teams("T1")[second]
    reg.record_result("T1", second, "SCJG-01", "01", inspectors=second_pair, actor="录入员", **when)
    now[0] = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    reg.publish("T1", first, on=date(2026, 10, 20), actor="公示员")
    reg.store.engine.dispose()
    return {"published": first, "unpublished": second, "replaced_by": replaced_by}


RUNNER = CliRunner()


def run_ok(args: list[str]) -> str:
    """The standard output of a command that must succeed."""
    result = RUNNER.invoke(main, args)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def store_copy(cycle: tuple[Path, dict[str, str]], directory: Path, name: str) -> str:
    """The URL of a copy of the cycle's store, for one test to change."""
    copy = directory / name
    shutil.copy(cycle[0], copy)
    return f"sqlite:///{copy}"
