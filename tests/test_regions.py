"""Region names on the official pages (issue 13): strata and regions printed by name."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from shuangsuiji.cli import EXIT_BAD_INPUT, main
from shuangsuiji.io import ImportValidationError, read_regions_csv
from shuangsuiji.labels import stratum_label
from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store, StoreError
from shuangsuiji.synth import make_city

CITY = make_city(800, seed=4)
ADMIN = "管理员"


def test_the_draw_record_names_the_regions_of_its_strata(db_url: str) -> None:
    reg = Registry(Store.open(db_url))
    reg.setup_city(CITY, actor=ADMIN)
    assert reg.store.regions() == CITY.districts
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    task = Task("T1", "P", "抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
    reg.store.put_task(task, actor=ADMIN)
    drawn = reg.draw("T1", actor=ADMIN)
    page = reg.draw_record("T1")
    for pick in drawn.draw.selected:
        named = stratum_label(pick.stratum, CITY.districts)
        assert any(name in named for name in CITY.districts.values()), named
        assert named in page
    assert reg.verify_records() == []


def test_bad_region_codes_are_refused_and_nothing_is_stored(db_url: str) -> None:
    store = Store.open(db_url)
    before = len(store.audit_events())
    with pytest.raises(StoreError, match="2-12 digits"):
        store.put_regions({"350102": "鼓楼区", "鼓楼": "鼓楼区"}, actor=ADMIN)
    assert store.regions() == {} and len(store.audit_events()) == before


def test_regions_csv_reports_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "regions.csv"
    path.write_text("code,name\n350102,鼓楼区\nabc,某区\n350102,又一个\n350103,\n", "utf-8")
    with pytest.raises(ImportValidationError) as refused:
        read_regions_csv(path)
    lines = sorted(e.line for e in refused.value.errors)
    assert lines == [3, 4, 5]


def test_regions_import_and_list_from_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    path = tmp_path / "regions.csv"
    path.write_text("code,name\n350102,鼓楼区\n350103,台江区\n", "utf-8")
    runner = CliRunner()
    done = runner.invoke(main, ["regions", "import", str(path), "--db", db, "--actor", ADMIN])
    assert done.exit_code == 0, done.output
    listed = runner.invoke(main, ["regions", "list", "--db", db, "--json"])
    assert '"台江区"' in listed.stdout
    path.write_text("code,name\nxx,坏\n", "utf-8")
    bad = runner.invoke(main, ["regions", "import", str(path), "--db", db, "--actor", ADMIN])
    assert bad.exit_code == EXIT_BAD_INPUT and "line 2" in bad.output


def test_the_draw_record_reads_only_its_task_from_the_log(db_url: str) -> None:
    """The record lists the task's own events (not another task's, even one whose label a
    LIKE wildcard would match) and the log head, without reading the whole log."""
    reg = Registry(Store.open(db_url))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    for code in ("T_1", "TX1", "T_10"):
        task = Task(code, "P", "抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
        reg.store.put_task(task, actor=ADMIN)
    reg.draw("T_1", actor=ADMIN)
    reg.draw("TX1", actor=ADMIN)
    mine = reg.store.task_events("T_1")
    every = reg.store.audit_events()
    assert mine == [e for e in every if e.payload.get("task") == "T_1"] and mine
    page = reg.draw_record("T_1")
    assert every[-1].hash[:16] in page  # the log head when the record was printed
