"""The command line's output conventions: every ``--json`` output validates against its
definition in docs/cli-json-schema.json (and every command with ``--json`` has one), tables
are plain and complete when piped, refusals speak the command line's terms, the templates
import as they are, and the renamed options keep their old names as deprecated aliases."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest

from cli_store import RUNNER, run_ok, store_copy
from shuangsuiji.cli import main
from shuangsuiji.cli.messages import in_cli_terms

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "docs" / "cli-json-schema.json").read_text(encoding="utf-8")
)
ACTOR = ["--actor", "抽取人-李"]


def _json_commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[str]:
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _json_commands(sub, (*path, name))
    elif any(p.name == "as_json" for p in command.params):
        yield " ".join(path)


def _check(command: str, output: str) -> Any:
    data = json.loads(output)
    schema = {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"]} | SCHEMA["$defs"][command]
    jsonschema.validate(data, schema, format_checker=jsonschema.FormatChecker())
    return data


@pytest.fixture
def db(cycle: tuple[Path, dict[str, str]], tmp_path: Path) -> str:
    """A copy of the cycle's store, for one test to change."""
    return store_copy(cycle, tmp_path, "copy.db")


# Each command with --json, run on the cycle's store (the demo is checked in test_cli.py).
READS = {
    "items list": ["items", "list"],
    "plan show": ["plan", "show"],
    "task show": ["task", "show", "T1"],
    "teams show": ["teams", "show", "T1"],
    "publications": ["publications", "--today", "2026-10-30"],
    "pool list": ["pool", "list"],
    "regions list": ["regions", "list"],
    "health": ["health", "--inspectors", "--pairs", "county", "--replays", "50"],
    "verify-log": ["verify-log"],
}


def test_every_command_with_json_output_has_a_schema() -> None:
    assert set(_json_commands(main)) == set(SCHEMA["$defs"])


@pytest.mark.parametrize("command", sorted(READS))
def test_the_json_of_each_read_command_matches_its_schema(command: str, db: str) -> None:
    _check(command, run_ok([*READS[command], "--db", db, "--json"]))


@pytest.mark.parametrize("which", ["entities", "inspectors", "conflicts"])
def test_pool_show_prints_the_rows_in_the_import_columns(which: str, db: str) -> None:
    rows = _check(
        "pool show", run_ok(["pool", "show", which, "--limit", "3", "--db", db, "--json"])
    )
    assert len(rows) == 3 or which == "conflicts"
    header = run_ok(["template", which]).splitlines()[0].split(",")
    assert all(list(row) == header for row in rows)


def test_lists_are_arrays_codes_and_labels_apart_and_dates_iso(
    db: str, cycle: tuple[Path, dict[str, str]]
) -> None:
    teams = _check("teams show", run_ok(["teams", "show", "T1", "--db", db, "--json"]))
    assert all(len(t["inspectors"]) == 2 for t in teams)
    records = _check(
        "publications", run_ok(["publications", "--today", "2026-10-30", "--db", db, "--json"])
    )
    by_entity = {r["entity"]: r for r in records}
    published = by_entity[cycle[1]["published"]]
    assert (published["status"], published["status_label"]) == ("published", "已公示")
    assert published["published"] == "2026-10-20"
    late = by_entity[cycle[1]["unpublished"]]
    assert (late["status"], late["status_label"], late["published"]) == (
        "overdue",
        "逾期未公示",
        None,
    )
    task = _check("task show", run_ok(["task", "show", "T1", "--db", db, "--json"]))
    assert task["start"] == "2026-07-01" and task["draws"][0]["state"] == "drawn"


def test_the_json_of_the_writing_commands_matches_its_schema(db: str, tmp_path: Path) -> None:
    who = ["--db", db, *ACTOR]
    frozen = _check("seed freeze", run_ok(["seed", "freeze", "T2", *who, "--json"]))[0]
    made = _check(
        "seed contribute",
        run_ok(
            [
                "seed",
                "contribute",
                "T2",
                "--party",
                "系统随机数",
                "--pool-digest",
                frozen["pool_digest"],
                "--json",
            ]
        ),
    )[0]
    run_ok(
        ["seed", "commit", "T2", "--party", "系统随机数", "--commitment", made["commitment"], *who]
    )
    run_ok(["seed", "announce", "T2", "--out", str(tmp_path / "predraw.json"), *who])
    run_ok(
        [
            "seed",
            "reveal",
            "T2",
            "--party",
            "系统随机数",
            "--contribution",
            made["contribution"],
            *who,
        ]
    )
    drawn = _check("seed select", run_ok(["seed", "select", "T2", *who, "--json"]))
    assert [r["rank"] for r in drawn["selected"]] == list(range(1, len(drawn["selected"]) + 1))
    teams = _check("teams assign", run_ok(["teams", "assign", "T2", *who, "--json"]))
    assert {t["entity"] for t in teams} == {r["entity"] for r in drawn["selected"]}
    bundle = tmp_path / "b.json"
    run_ok(["export", "bundle", "T2", "-o", str(bundle), "--db", db])
    assert _check("verify", run_ok(["verify", str(bundle), "--json"]))["ok"]


def test_due_prints_the_deadline_as_json() -> None:
    official = _check("due", run_ok(["due", "2026-09-25", "--json"]))
    assert official == official | {"date": "2026-10-29", "days": 20, "estimated": False}
    beyond = _check("due", run_ok(["due", "2099-12-01", "--estimate", "--json"]))
    assert beyond["estimated"] and beyond["basis"]


def test_a_system_seed_draw_prints_json_that_matches_its_schema(db: str) -> None:
    drawn = _check("draw", run_ok(["draw", "T2", "--db", db, *ACTOR, "--json"]))
    assert drawn["attempt"] == 1 and all(len(r["ticket"]) == 64 for r in drawn["selected"])


def test_a_table_piped_to_a_file_is_tab_separated_with_full_ids(db: str) -> None:
    lines = run_ok(["teams", "show", "T1", "--db", db]).splitlines()
    assert lines[0] == "entity\tinspectors"
    entity, inspectors = lines[1].split("\t")
    assert len(entity) == 18 and "…" not in lines[1]
    assert len(inspectors.split()) == 2
    rows = run_ok(["publications", "--today", "2026-10-30", "--db", db]).splitlines()
    assert rows[0].split("\t")[-2:] == ["status_label", "published"]
    assert all(len(r.split("\t")) == 8 for r in rows)


def test_refusals_name_the_command_that_fixes_them_not_the_python_call(
    db: str, tmp_path: Path
) -> None:
    early = RUNNER.invoke(
        main,
        ["seed", "reveal", "T2", "--party", "P", "--contribution", "00" * 32, "--db", db, *ACTOR],
    )
    assert early.exit_code != 0 and "()" not in early.output
    gbk = tmp_path / "entities-gbk.csv"
    gbk.write_bytes(run_ok(["template", "entities"]).encode("gb18030"))
    result = RUNNER.invoke(main, ["import", "entities", str(gbk), "--db", db, *ACTOR])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "--encoding gb18030" in output, output
    assert "encoding='" not in output
    pool = tmp_path / "entities.csv"
    run_ok(["pool", "show", "entities", "--limit", "1", "--db", db])
    pool.write_text(run_ok(["template", "entities"]), encoding="utf-8")
    run_ok(["import", "entities", str(pool), "--db", db, *ACTOR])
    again = RUNNER.invoke(main, ["import", "entities", str(pool), "--db", db, *ACTOR])
    output = " ".join(again.output.split())
    assert again.exit_code == 4 and "--upsert" in output and "mode=" not in output, output
    beyond = RUNNER.invoke(main, ["due", "2099-12-01"])
    output = " ".join(beyond.output.split())
    assert beyond.exit_code == 2 and "--notice notice-" in output and "--estimate" in output
    assert "estimate=True" not in output and "with_notice('" not in output, output


def test_every_python_hint_of_the_library_has_its_command_line_terms() -> None:
    for hint, command in (
        ("task T: freeze() first", "shuangsuiji seed freeze"),
        ("pass encoding='utf-16'.", "--encoding utf-16"),
        ("nothing was imported. Use mode='upsert' to replace stored rows.", "--upsert"),
        ("a correction must be a new version (see correct())", "--reason"),
        ("save the agency's 一细则 first (Store.save_policy or a policy.toml)", "policy set"),
        ("change the team with reassign()", "shuangsuiji teams reassign"),
        ("with calendar.with_notice('notice-2031.toml') (file", "--notice notice-2031.toml"),
        ("or pass estimate=True for a result labelled as an estimate", "--estimate"),
    ):
        said = in_cli_terms(hint)
        assert command in said and "()" not in said and "='" not in said, said


def test_each_template_imports_into_a_fresh_store_as_it_is(tmp_path: Path) -> None:
    from shuangsuiji.categories import ResultCategories
    from shuangsuiji.results import read_results_csv

    db = f"sqlite:///{tmp_path / 'new.db'}"
    run_ok(["departments", "add", "SCJG", "市场监督管理局", "--db", db, *ACTOR])
    steps = {
        "entities": ["import", "entities"],
        "inspectors": ["import", "inspectors"],
        "conflicts": ["import", "conflicts"],
        "items": ["items", "import"],
        "regions": ["regions", "import"],
    }
    for kind, command in steps.items():
        out = tmp_path / f"{kind}.csv"
        run_ok(["template", kind, "--out", str(out)])
        run_ok([*command, str(out), "--db", db, *ACTOR])
    counts = {
        r["pool"]: r["rows"] for r in json.loads(run_ok(["pool", "list", "--db", db, "--json"]))
    }
    assert counts == {"entities": 1, "inspectors": 1, "conflicts": 1}
    assert [i["code"] for i in json.loads(run_ok(["items", "list", "--db", db, "--json"]))] == [
        "SCJG-02"
    ]
    regions = json.loads(run_ok(["regions", "list", "--db", db, "--json"]))
    assert regions == [{"code": "350102", "name": "鼓楼区"}]
    # Results need a drawn task: the template is read by the same reader `results import` uses.
    from datetime import UTC, datetime

    results = read_results_csv(
        run_ok(["template", "results"]),
        ResultCategories.standard(),
        recorded_at=datetime(2026, 9, 1, tzinfo=UTC),
    )
    assert [r.item for r in results] == ["SCJG-02"]
    refused = RUNNER.invoke(main, ["template", "items", "--out", str(tmp_path / "items.csv")])
    assert refused.exit_code == 2 and "exists" in refused.output


def test_renamed_options_keep_their_old_names_as_deprecated_aliases(
    db: str, tmp_path: Path
) -> None:
    new = tmp_path / "new.html"
    old = tmp_path / "old.html"
    run_ok(
        ["export", "record", "T1", "-o", str(new), "--issuer", "榕城市市场监督管理局", "--db", db]
    )
    result = RUNNER.invoke(
        main,
        ["export", "record", "T1", "-o", str(old), "--agency", "榕城市市场监督管理局", "--db", db],
    )
    assert result.exit_code == 0 and "--issuer" in result.stderr
    assert "榕城市市场监督管理局" in old.read_text(encoding="utf-8")
    both = RUNNER.invoke(
        main,
        ["export", "record", "T1", "-o", str(old), "--agency", "A", "--issuer", "B", "--db", db],
    )
    assert both.exit_code == 2
    assert "--note" not in run_ok(["replace", "--help"]) and "--text" in run_ok(
        ["replace", "--help"]
    )


def test_help_names_the_environment_variables() -> None:
    top = " ".join(run_ok(["--help"]).split())
    assert "SHUANGSUIJI_DB" in top and "SHUANGSUIJI_ACTOR" in top
    assert "env var: SHUANGSUIJI_DB" in " ".join(run_ok(["teams", "show", "--help"]).split())


def test_every_command_a_library_message_names_exists() -> None:
    """A refusal that names a command (`shuangsuiji seed abandon`) names one that runs."""
    named = re.compile(r"[`(]shuangsuiji\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?")
    source = Path(__file__).parents[1] / "src" / "shuangsuiji"
    found = 0
    for path in source.rglob("*.py"):
        for first, second in named.findall(path.read_text(encoding="utf-8")):
            found += 1
            command = main.commands.get(first)
            assert command is not None, (path.name, first)
            if isinstance(command, click.Group):
                assert second in {"", *command.commands}, (path.name, first, second)
            else:  # an argument is upper case (TASK): a lower-case word is no subcommand
                assert not second, (path.name, first, second)
    assert found > 10


def test_a_piped_table_keeps_one_line_per_record_whatever_the_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from shuangsuiji.cli.common import show_rows

    rows = [{"id": "A1", "name": "榕城\t某店\n(分店)", "tags": ["a", "b"], "active": True}]
    show_rows(rows, False, ["id", "name", "tags", "active"])
    assert capsys.readouterr().out.splitlines() == [
        "id\tname\ttags\tactive",
        "A1\t榕城 某店 (分店)\ta b\ttrue",
    ]


@pytest.mark.parametrize("source", ["彩票|开奖号码", "彩票|开奖号码|2026-13-40", "彩票|号码|明天"])
def test_a_malformed_public_source_is_a_message_not_a_traceback(source: str, db: str) -> None:
    result = RUNNER.invoke(main, ["seed", "public", "T2", "--source", source, "--db", db, *ACTOR])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "名称|出处|YYYY-MM-DD" in output, output
    assert isinstance(result.exception, SystemExit)


def test_an_unknown_encoding_is_a_usage_error_and_items_and_results_take_gbk_files(
    db: str, tmp_path: Path, cycle: tuple[Path, dict[str, str]]
) -> None:
    items = tmp_path / "items.csv"
    items.write_bytes(run_ok(["template", "items"]).encode("gb18030"))
    bad = RUNNER.invoke(
        main, ["items", "import", str(items), "--encoding", "gkb", "--db", db, *ACTOR]
    )
    assert bad.exit_code == 2 and "unknown encoding" in bad.output
    assert isinstance(bad.exception, SystemExit)
    run_ok(["items", "import", str(items), "--encoding", "gb18030", "--db", db, *ACTOR])
    teams = json.loads(run_ok(["teams", "show", "T1", "--db", db, "--json"]))
    recorded = {cycle[1]["published"], cycle[1]["unpublished"]}
    unrecorded = next(t for t in teams if t["entity"] not in recorded)
    results = tmp_path / "results.csv"
    header = run_ok(["template", "results"]).splitlines()[0]
    row = [
        "T1",
        unrecorded["entity"],
        "SCJG-01",
        "未发现问题",
        "",
        "2026-09-01",
        "2026-09-25",
        "|".join(unrecorded["inspectors"]),
        "录入员",
    ]
    results.write_bytes(f"{header}\n{','.join(row)}\n".encode("gb18030"))
    plain = RUNNER.invoke(main, ["results", "import", str(results), "--db", db, *ACTOR])
    assert plain.exit_code == 2 and "--encoding gb18030" in " ".join(plain.output.split())
    wrong = RUNNER.invoke(
        main, ["results", "import", str(results), "--encoding", "utf-16", "--db", db, *ACTOR]
    )
    assert wrong.exit_code == 2 and "not utf-16 text" in wrong.output
    assert "已录入 recorded: 1 条检查结果 (results)" in run_ok(
        ["results", "import", str(results), "--encoding", "gb18030", "--db", db, *ACTOR]
    )
