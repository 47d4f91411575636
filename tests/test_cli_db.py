"""The store from the command line: ``db move`` copies a whole store, ``db upgrade`` migrates
explicitly, and commands that only read never create a store."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cli_store import RUNNER, run_ok, store_copy
from shuangsuiji.cli import EXIT_BAD_INPUT, EXIT_REFUSED, main
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.store import move as move_module


@pytest.fixture
def source(cycle: tuple[Path, dict[str, str]], tmp_path: Path) -> str:
    return store_copy(cycle, tmp_path, "source.db")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    return str(request.getfixturevalue("pg_url"))


def _same_records(source: str, target: str) -> None:
    """Everything a user reads back from the store is the same on both sides."""
    for args in (
        ["task", "show", "T1"],
        ["teams", "show", "T1"],
        ["publications", "--today", "2026-10-30"],
        ["plan", "show"],
        ["items", "list"],
        ["pool", "list"],
        ["pool", "show", "entities"],
        ["pool", "show", "inspectors"],
        ["pool", "show", "conflicts"],
        ["regions", "list"],
    ):
        assert run_ok([*args, "--db", source, "--json"]) == run_ok(
            [*args, "--db", target, "--json"]
        )
    old, new = Registry(Store.open(source, upgrade=False)), Registry(Store.open(target))
    assert old.bundle("T1") == new.bundle("T1")
    assert old.store.audit_rows() == new.store.audit_rows()
    assert old.store.counts() == new.store.counts()


def test_db_move_copies_a_whole_cycle_and_the_log_verifies_on_the_new_side(
    source: str, target: str, cycle: tuple[Path, dict[str, str]]
) -> None:
    moved = json.loads(run_ok(["db", "move", "--from", source, "--to", target, "--json"]))
    assert moved["verified"] and moved["problems"] == []
    for table in ("entities", "regions", "audit_events", "draws", "replacements", "team_members"):
        assert moved["rows"][table] > 0, table
    assert moved["rows"]["publications"] == 1 and moved["rows"]["results"] == 3
    _same_records(source, target)
    checked = run_ok(["verify-log", "--db", target])
    assert checked.startswith("审计日志完整，记录一致 (audit log intact and the records agree)：")
    # The new side takes new records after the copied ones (PostgreSQL: the ID sequences).
    reg = Registry(Store.open(target))
    reg.publish("T1", cycle[1]["unpublished"], on=date.today(), actor="公示员")
    assert json.loads(run_ok(["verify-log", "--db", target, "--json"]))["ok"]


def test_db_move_refuses_a_target_that_holds_a_store_and_changes_nothing(
    source: str, target: str
) -> None:
    run_ok(["db", "move", "--from", source, "--to", target])
    before = Store.open(target).counts()
    again = RUNNER.invoke(main, ["db", "move", "--from", source, "--to", target])
    output = " ".join(again.output.split())
    assert again.exit_code == EXIT_REFUSED and "already holds a store" in output, output
    assert "empty database" in output and "Traceback" not in output
    assert Store.open(target).counts() == before


def test_db_move_is_one_transaction_on_the_target(
    source: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = move_module._copy_table
    done: list[str] = []

    def failing(src: object, dst: object, table: object) -> int:
        if len(done) == 8:
            raise move_module.StoreError("the network went down (test)")
        done.append(str(table))
        return copy(src, dst, table)  # type: ignore[arg-type]

    monkeypatch.setattr(move_module, "_copy_table", failing)
    failed = RUNNER.invoke(main, ["db", "move", "--from", source, "--to", target])
    assert failed.exit_code == EXIT_REFUSED and "network went down" in failed.output
    assert set(Store.open(target).counts().values()) == {0}
    monkeypatch.setattr(move_module, "_copy_table", copy)
    run_ok(["db", "move", "--from", source, "--to", target])  # the empty target takes a retry
    _same_records(source, target)


def test_db_move_refuses_a_missing_source_and_the_same_database(
    source: str, tmp_path: Path
) -> None:
    missing = tmp_path / "typo.db"
    result = RUNNER.invoke(
        main, ["db", "move", "--from", f"sqlite:///{missing}", "--to", f"sqlite:///{tmp_path}/t.db"]
    )
    assert result.exit_code == EXIT_BAD_INPUT and "no database at" in result.output
    assert not missing.exists() and not (tmp_path / "t.db").exists()
    same = RUNNER.invoke(main, ["db", "move", "--from", source, "--to", source])
    assert same.exit_code == EXIT_BAD_INPUT and "same database" in same.output


READ_COMMANDS = [
    ["verify-log"],
    ["health"],
    ["publications"],
    ["pool", "list"],
    ["pool", "show", "entities"],
    ["items", "list"],
    ["plan", "show"],
    ["policy", "show"],
    ["task", "show", "T1"],
    ["teams", "show", "T1"],
    ["export", "log", "-o", "x.jsonl"],
    ["export", "bundle", "T1", "-o", "b.json"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_read_command_on_a_mistyped_db_creates_nothing_and_says_how_to_fix_it(
    command: list[str], tmp_path: Path
) -> None:
    typo = tmp_path / "shuangsuij.db"
    result = RUNNER.invoke(main, [*command, "--db", f"sqlite:///{typo}"])
    output = " ".join(result.output.split())
    assert result.exit_code == EXIT_BAD_INPUT, output
    assert f"no database at {typo}" in output and "--db" in output and "init" in output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in output
    assert not typo.exists()


def test_db_upgrade_creates_the_schema_and_a_read_command_then_finds_the_store(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    empty = RUNNER.invoke(main, ["pool", "list", "--db", db])
    assert empty.exit_code == EXIT_BAD_INPUT
    assert "schema upgraded" in run_ok(["db", "upgrade", "--db", db])
    assert "schema up to date" in run_ok(["db", "upgrade", "--db", db])
    rows = json.loads(run_ok(["pool", "list", "--db", db, "--json"]))
    assert [r["rows"] for r in rows] == [0, 0, 0]


WRITE_COMMANDS = [
    ["draw", "T1"],
    ["seed", "freeze", "T1"],
    ["seed", "commit", "T1", "--party", "P", "--commitment", "ab" * 32],
    ["replace", "T1", "91350100M000100Y43", "--reason", "duplicate_record"],
    ["teams", "assign", "T1"],
    ["teams", "freeze", "T1"],
    ["publish", "T1", "91350100M000100Y43"],
    ["plan", "create", "P", "--year", "2026", "--name", "计划", "--department", "SCJG"],
    ["export", "annex", "T1", "-o", "annex.json"],
]


@pytest.mark.parametrize("command", WRITE_COMMANDS, ids=" ".join)
def test_a_command_on_stored_records_does_not_create_a_store_at_a_mistyped_db(
    command: list[str], tmp_path: Path
) -> None:
    typo = tmp_path / "agncy.db"
    result = RUNNER.invoke(main, [*command, "--db", f"sqlite:///{typo}", "--actor", "李科长"])
    output = " ".join(result.output.split())
    assert result.exit_code == EXIT_BAD_INPUT and f"no database at {typo}" in output, output
    assert not typo.exists()


UNREACHABLE = "postgresql://ssj:s3cret-pw@127.0.0.1:1/nowhere"


@pytest.mark.parametrize(
    "command",
    [
        ["init", "--db", UNREACHABLE],
        ["db", "upgrade", "--db", UNREACHABLE],
        ["departments", "add", "SCJG", "市场监管局", "--db", UNREACHABLE, "--actor", "李"],
        ["teams", "show", "T1", "--db", UNREACHABLE],
        ["db", "move", "--from", "SOURCE", "--to", UNREACHABLE],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_database_server_that_cannot_be_reached_is_a_message_not_a_traceback(
    command: list[str], source: str
) -> None:
    result = RUNNER.invoke(main, [source if a == "SOURCE" else a for a in command])
    output = " ".join(result.output.split())
    assert result.exit_code == EXIT_BAD_INPUT, output
    assert "cannot be read as a database" in output and "127.0.0.1" in output
    assert "s3cret-pw" not in output  # a password never reaches the terminal or cron's mail
    assert isinstance(result.exception, SystemExit)


def test_a_read_command_on_an_older_schema_says_to_upgrade_and_a_write_command_upgrades(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'old.db'}"
    old = Store.open(db, upgrade=False)
    old.upgrade("0005")
    result = RUNNER.invoke(main, ["pool", "list", "--db", db])
    output = " ".join(result.output.split())
    assert result.exit_code == EXIT_BAD_INPUT and "shuangsuiji db upgrade" in output, output
    assert old.revision() == "0005"  # reading changed nothing
    run_ok(["departments", "add", "SCJG", "市场监督管理局", "--db", db, "--actor", "李科长"])
    assert old.revision() == old.head()
    assert json.loads(run_ok(["pool", "list", "--db", db, "--json"]))[0]["rows"] == 0
