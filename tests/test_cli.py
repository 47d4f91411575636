from __future__ import annotations

import inspect
import json
import re
import sqlite3
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from shuangsuiji import conduct
from shuangsuiji.cli import EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_REFUSED, main
from shuangsuiji.labels import CONDUCT_LABELS
from shuangsuiji.registry import Registry

RUNNER = CliRunner()


class StoreTime:
    """The time the command line's store reads (it takes the system clock, ``datetime.now``):
    a test sets the day on which each step happens, as in an agency's calendar."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime(2026, 6, 30, 9, tzinfo=UTC)
        clock = self

        class _Now(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> Any:
                return clock.now.astimezone(tz)

        monkeypatch.setattr("shuangsuiji.store.datetime", _Now)

    def on(self, day: str) -> None:
        self.now = datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


@pytest.fixture
def store_time(monkeypatch: pytest.MonkeyPatch) -> StoreTime:
    return StoreTime(monkeypatch)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "city"
    result = RUNNER.invoke(main, ["demo", "--dir", str(out), "--entities", "3000", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["verified"] == len(summary["bundles"]) == 4
    schema = json.loads(
        (Path(__file__).parents[1] / "docs" / "cli-json-schema.json").read_text(encoding="utf-8")
    )
    jsonschema.validate(summary, schema["$defs"]["demo"])  # docs/cli.md: the --json convention
    return out


def test_demo_writes_the_contracted_files(demo_dir: Path) -> None:
    for name in (
        "shuangsuiji.db",
        "entities.csv",
        "inspectors.csv",
        "conflicts.csv",
        "policy.toml",
    ):
        assert (demo_dir / name).exists(), name
    header = (demo_dir / "conflicts.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "inspector_id,entity_id,relation,source"
    assert len(list(demo_dir.glob("draw-*.json"))) == 4


def test_the_demo_summary_lists_the_files_written_chinese_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from shuangsuiji.cli.demo import _print_summary

    summary = {"title": "榕城", "story": [], "files": {"shuangsuiji.db": "the store"}}
    _print_summary(summary)
    out = capsys.readouterr().out
    assert "已写入的文件 files written" in out and "说明 what it is" in out
    assert "shuangsuiji.db" in out


def test_announcements_agree_with_the_bundles_and_the_published_records(
    demo_dir: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{demo_dir / 'shuangsuiji.db'}"
    out = tmp_path / "ann"
    args = ["export", "announcements", "-o", str(out), "--issued", "2026-12-04", "--db", db]
    assert RUNNER.invoke(main, args).exit_code == 0
    raw = (out / "plan-RC-2026.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    plan_rows = raw.decode("utf-8-sig").splitlines()
    assert plan_rows[0].startswith("序号,任务编号") and len(plan_rows) == 1 + 4
    names = dict(
        line.split(",")[:2]
        for line in (demo_dir / "entities.csv").read_text(encoding="utf-8").splitlines()[1:]
    )
    records = json.loads((demo_dir / "publications.json").read_text(encoding="utf-8"))
    for bundle_path in sorted(demo_dir.glob("draw-*.json")):
        bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
        task = bundle["task_label"]
        ann = json.loads((out / f"task-{task}.json").read_text(encoding="utf-8"))
        assert ann["record_digest"] == bundle["record_digest"]
        assert ann["pool_digest"] == bundle["pool_digest"]
        assert ann["counts"]["candidates"] == len(bundle["candidates"])
        assert ann["issued_on"] == "2026-12-04"
        listed = [(e["id"], e["name"]) for e in ann["entities"]]
        assert sorted(i for i, _ in listed) == sorted(t["entity"] for t in bundle["teams"])
        assert all(names[i] == n for i, n in listed)
        published = [r for r in records if r["task"] == task and r["published"]]
        path = out / f"results-{task}.json"
        assert path.exists() == bool(published)
        if published:
            result = json.loads(path.read_text(encoding="utf-8"))
            assert result["entities"] == len(published)
            assert {r["entity"] for r in result["records"]} == {r["entity"] for r in published}
    missing = RUNNER.invoke(
        main, ["export", "announcements", "-o", str(out), "--plan", "NO", *args[-2:]]
    )
    # The registry reports an unknown plan as a StoreError, a refusal (status 4).
    assert missing.exit_code == EXIT_NOT_FOUND and "no plan 'NO'" in missing.output
    assert RUNNER.invoke(main, ["init", "--db", f"sqlite:///{out / 'e.db'}"]).exit_code == 0
    empty = RUNNER.invoke(
        main, ["export", "announcements", "-o", str(out), "--db", f"sqlite:///{out / 'e.db'}"]
    )
    assert empty.exit_code == EXIT_REFUSED and "nothing to announce" in empty.output


def test_health_of_the_demo_period_raises_no_alarm(demo_dir: Path) -> None:
    """Tasks 2 to 4 leave out the entities task 1 selected (the exclusion window): the
    report models that (those entities have a blocked trial in the later draws), and every
    bundle's tickets are tested. The demo draws with fresh seeds, so the honest period is
    checked at alpha = 1e-6: a false alarm here would be a one-in-a-million event."""
    db = f"sqlite:///{demo_dir / 'shuangsuiji.db'}"
    strict = ["--alpha", "1e-6"]
    result = RUNNER.invoke(main, ["health", "--db", db, "--json", *strict])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["draws"] == 4 and not report["suspicious"]
    assert [t["name"] for t in report["tests"]] == ["units", "spread", "tickets"]
    bundles = [json.loads(p.read_text("utf-8")) for p in demo_dir.glob("draw-*.json")]
    assert report["units"] == len({c["id"] for b in bundles for c in b["candidates"]})
    excluded = sum(
        e["count"]
        for b in bundles
        for e in b.get("exclusions", [])
        if e["reason"] == "inspected_within_window"
    )
    assert excluded > 0
    appearances: dict[str, int] = {}
    for b in bundles:
        for c in b["candidates"]:
            appearances[c["id"]] = appearances.get(c["id"], 0) + 1
    units = Registry.open(db).draw_health().units
    trials = dict(zip(units.ids, units.trials.tolist(), strict=True))
    blocked = sum(t - appearances[u] for u, t in trials.items())
    assert blocked == excluded  # every entity the window left out has its blocked trial
    one = RUNNER.invoke(main, ["health", "--db", db, "--task", "RC-2026-02", *strict])
    assert one.exit_code == 0 and "1 次抽取 (draws)" in one.stdout
    both = RUNNER.invoke(
        main, ["health", "--db", db, "--inspectors", "--replays", "100", "--json", *strict]
    )
    assert both.exit_code == 0, both.output
    teams = json.loads(both.stdout)["inspectors"]
    assert teams["draws"] == 4 and [t["name"] for t in teams["tests"]] == ["units", "spread"]
    assert "too few replays" in teams["tests"][0]["detail"]  # 50 null replays cannot reject


def test_health_shows_each_conduct_finding_by_code_and_chinese_label(demo_dir: Path) -> None:
    db = f"sqlite:///{demo_dir / 'shuangsuiji.db'}"
    strict = ["--alpha", "1e-6"]
    findings = json.loads(_ok(["health", "--db", db, "--json", *strict]))["conduct"]
    assert findings, "the demo declares late conflicts and leaves selected entities uninspected"
    assert all(f["kind_label"] == CONDUCT_LABELS[f["kind"]] for f in findings)
    text = _ok(["health", "--db", db, *strict])
    assert f"抽取过程 conduct of the draws：{len(findings)} 项待复核 (to review)" in text
    for f in findings:
        assert f"  {f['kind']} {f['kind_label']}  {f['task']}：{f['detail_label']}\n" in text


def test_every_kind_of_conduct_finding_has_a_chinese_label() -> None:
    source = inspect.getsource(conduct)
    kinds = set(re.findall(r'Finding\(\s*"(\w+)"', source))
    assert kinds == set(CONDUCT_LABELS), "conduct.py and labels.CONDUCT_LABELS disagree"
    assert all(f"``{kind}``" in (conduct.__doc__ or "") for kind in kinds)


def test_the_cli_guide_lists_every_conduct_kind_with_its_label() -> None:
    guide = (Path(__file__).parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|`]+?) \|", guide, re.M))
    assert {kind: rows.get(kind) for kind in CONDUCT_LABELS} == dict(CONDUCT_LABELS)


def test_verify_passes_and_detects_tampering(demo_dir: Path, tmp_path: Path) -> None:
    bundle_path = sorted(demo_dir.glob("draw-*.json"))[0]
    ok = RUNNER.invoke(main, ["verify", str(bundle_path)])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith(f"核验通过 OK: {bundle_path} 可完全重新推导 (re-derives exactly)")
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    bundle["selected"][0], bundle["alternates"][0] = bundle["alternates"][0], bundle["selected"][0]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bundle), encoding="utf-8")
    result = RUNNER.invoke(main, ["verify", str(bad), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert not report["ok"] and any("selected" in p for p in report["problems"])
    junk = tmp_path / "junk.json"
    junk.write_text("{not json", encoding="utf-8")
    assert RUNNER.invoke(main, ["verify", str(junk)]).exit_code == 1


def test_verify_replays_the_teams_only_with_the_sealed_annex_and_names_a_bad_record(
    demo_dir: Path, tmp_path: Path
) -> None:
    bundle_path = sorted(demo_dir.glob("draw-*.json"))[0]
    task = json.loads(bundle_path.read_text(encoding="utf-8"))["task_label"]
    annex_path = demo_dir / "sealed" / f"annex-{task}.json"
    assert not list(demo_dir.glob("annex-*.json"))  # annexes live apart from the bundles
    alone = RUNNER.invoke(main, ["verify", str(bundle_path)])
    assert alone.exit_code == 0 and "not replayed" in " ".join(alone.output.split())
    both = RUNNER.invoke(main, ["verify", str(bundle_path), "--annex", str(annex_path)])
    assert both.exit_code == 0 and "teams replayed" in " ".join(both.stdout.split())
    annex = json.loads(annex_path.read_text(encoding="utf-8"))
    target = next(e for e in annex["records"] if e["record"]["kind"] == "conflict")
    target["record"]["relation"] = "无利害关系"
    bad = tmp_path / "bad-annex.json"
    bad.write_text(json.dumps(annex, ensure_ascii=False), encoding="utf-8")
    result = RUNNER.invoke(main, ["verify", str(bundle_path), "--annex", str(bad), "--json"])
    assert result.exit_code == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert f"annex record {target['index']} (conflict" in problem and "ask the agency" in problem
    other = next(p for p in sorted((demo_dir / "sealed").glob("annex-*.json")) if p != annex_path)
    foreign = RUNNER.invoke(main, ["verify", str(bundle_path), "--annex", str(other)])
    assert foreign.exit_code == 1 and "not of this bundle" in " ".join(foreign.output.split())


def test_the_demo_publishes_no_officer_personal_data(demo_dir: Path) -> None:
    import csv

    with (demo_dir / "inspectors.csv").open(encoding="utf-8-sig") as f:
        officers = list(csv.DictReader(f))
    with (demo_dir / "conflicts.csv").open(encoding="utf-8-sig") as f:
        relations = {row["relation"] for row in csv.DictReader(f)}
    assert officers and relations
    names = {row["name"] for row in officers} | {row["certificate_no"] for row in officers}
    expiries = {row["certificate_expiry"] for row in officers}
    # Whole JSON strings only: a task's dates may equal some officer's certificate expiry, and
    # entities are registered in the same townships the officers live in.
    public = [*demo_dir.glob("draw-*.json"), *(demo_dir / "announcements").glob("*.json")]
    for path in public:
        text = path.read_text(encoding="utf-8")
        for value in (*relations, *names):
            assert f'"{value}"' not in text, (path.name, value)
        for key in ("home_region", "certificate_expiry", "certificate_no", "relation"):
            assert f'"{key}":' not in text, (path.name, key)
    sealed = "".join(p.read_text(encoding="utf-8") for p in (demo_dir / "sealed").glob("*.json"))
    assert any(r in sealed for r in relations) and any(e in sealed for e in expiries)


def test_verify_log_passes_then_names_a_tampered_event(demo_dir: Path, tmp_path: Path) -> None:
    db = demo_dir / "shuangsuiji.db"
    ok = RUNNER.invoke(main, ["verify-log", "--db", f"sqlite:///{db}"])
    assert ok.exit_code == 0 and "intact" in ok.stdout
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    with sqlite3.connect(copy) as conn:  # an outsider with write access, around the library
        conn.execute("DROP TRIGGER ssj_audit_no_update")
        conn.execute("UPDATE audit_events SET actor = '某人' WHERE seq = 3")
    result = RUNNER.invoke(main, ["verify-log", "--db", f"sqlite:///{copy}", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert any("seq 3" in p or "row 2" in p for p in report["problems"]), report


def test_verify_log_catches_a_seed_changed_in_the_tables(demo_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "seed.db"
    copy.write_bytes((demo_dir / "shuangsuiji.db").read_bytes())
    with sqlite3.connect(copy) as conn:  # the log is untouched, the draws table is not
        conn.execute(
            "UPDATE draws SET seed = ? WHERE attempt = 1 AND task = ?", ("00" * 32, "RC-2026-01")
        )
    result = RUNNER.invoke(main, ["verify-log", "--db", f"sqlite:///{copy}", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert any("RC-2026-01" in p and "seed" in p for p in report["problems"]), report


def test_due_command() -> None:
    result = RUNNER.invoke(main, ["due", "2024-09-20"])
    assert result.exit_code == 0 and result.stdout.strip() == "2024-10-23"
    beyond = RUNNER.invoke(main, ["due", "2026-12-20"])
    assert beyond.exit_code == EXIT_BAD_INPUT and "2026-12-31" in beyond.output
    est = RUNNER.invoke(main, ["due", "2026-12-20", "--estimate"])
    assert est.exit_code == 0 and est.stdout.startswith("2027-")
    assert "（预计：" in est.stdout and "(ESTIMATE)）" in est.stdout


def test_import_reports_bad_rows_and_keeps_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    csv = tmp_path / "e.csv"
    csv.write_text(
        "id,name,entity_type,industry,region,registered,tier\n"
        "91350100M000100Y43,甲,有限责任公司,F5191,350102,2019-01-01,A\n"
        "91350100M000100Y44,乙,有限责任公司,F5191,350102,2019-01-01,A\n",
        encoding="utf-8",
    )
    result = RUNNER.invoke(main, ["import", "entities", str(csv), "--db", db, "--actor", "张三"])
    assert result.exit_code == 2
    assert "line 3" in result.output and "position 18" in result.output
    csv.write_text(csv.read_text(encoding="utf-8").rsplit("\n", 2)[0] + "\n", encoding="utf-8")
    result = RUNNER.invoke(main, ["import", "entities", str(csv), "--db", db, "--actor", "张三"])
    assert result.exit_code == 0
    assert result.stdout.startswith("已导入 imported: 1 户检查对象 (entities)，名录摘要 digest ")


PARTIES = {"系统随机数": "抽取人-李", "派驻纪检监察组": "纪检-周"}


def _ok(args: list[str]) -> str:
    result = RUNNER.invoke(main, args)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _contributions(task: str, digest: str) -> dict[str, dict[str, str]]:
    """Each party makes its secret and commitment offline (`seed contribute`)."""
    return {
        party: json.loads(
            _ok(["seed", "contribute", task, "--party", party, "--pool-digest", digest, "--json"])
        )[0]
        for party in PARTIES
    }


def _ceremony(db: str, task: str, published: Path, out: Path) -> None:
    """freeze → each party commits → the announcement is published → reveals → select."""
    drawer = ["--db", db, "--actor", PARTIES["系统随机数"]]
    frozen = json.loads(_ok(["seed", "freeze", task, *drawer, "--json"]))[0]
    made = _contributions(task, frozen["pool_digest"])
    for party, person in PARTIES.items():
        who = ["--db", db, "--actor", person]
        _ok(
            [
                "seed",
                "commit",
                task,
                "--party",
                party,
                "--commitment",
                made[party]["commitment"],
                *who,
            ]
        )
    published.mkdir(exist_ok=True)
    _ok(["seed", "announce", task, "--out", str(published / f"predraw-{task}-1.json"), *drawer])
    early = RUNNER.invoke(main, ["seed", "select", task, *drawer])
    assert early.exit_code == EXIT_REFUSED and "not revealed" in early.output
    for party, person in PARTIES.items():
        who = ["--db", db, "--actor", person]
        _ok(
            [
                "seed",
                "reveal",
                task,
                "--party",
                party,
                "--contribution",
                made[party]["contribution"],
                *who,
            ]
        )
    _ok(["seed", "select", task, "--out", str(out), *drawer])


def _team_ceremony(db: str, task: str, published: Path) -> list[dict[str, str]]:
    """The staffing is frozen, the team seed committed, announced (published), revealed."""
    drawer = ["--db", db, "--actor", PARTIES["系统随机数"]]
    digest = _ok(["teams", "freeze", task, *drawer]).split()[-1]
    made = _contributions(task, digest)
    for step, field in (("commit", "commitment"), ("reveal", "contribution")):
        if step == "reveal":
            out = str(published / f"predraw-{task}-teams-1.json")
            _ok(["seed", "announce", task, "--teams", "--out", out, *drawer])
        for party, person in PARTIES.items():
            who = ["--db", db, "--actor", person]
            value = made[party][field]
            _ok(["seed", step, task, "--teams", "--party", party, f"--{field}", value, *who])
    shown: list[dict[str, str]] = json.loads(_ok(["teams", "draw", task, *drawer, "--json"]))
    return shown


def test_the_whole_cycle_from_the_command_line(
    demo_dir: Path, tmp_path: Path, store_time: StoreTime
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    who = ["--db", db, "--actor", "李科长"]
    items = tmp_path / "items.csv"
    items.write_text(
        "code,department,name,legal_basis,target,method,key,default_ratio,required_qualifications\n"
        "SCJG-01,SCJG,企业公示信息情况检查,《企业信息公示暂行条例》第十四条,企业,书面检查,false,0.03,\n"
        "SCJG-02,SCJG,食品经营者检查,《食品安全法》第一百一十条,食品经营者,现场检查,true,0.05,食品安全\n",
        encoding="utf-8",
    )
    steps = [
        ["init", "--db", db],
        ["departments", "add", "SCJG", "榕城市市场监督管理局", *who],
        ["departments", "add", "WJW", "榕城市卫生健康委员会", *who],
        ["departments", "add", "STHJ", "榕城市生态环境局", *who],
        ["departments", "add", "YJGL", "榕城市应急管理局", *who],
        ["policy", "set", str(demo_dir / "policy.toml"), *who],
        ["items", "import", str(items), *who],
        ["import", "entities", str(demo_dir / "entities.csv"), *who],
        ["import", "inspectors", str(demo_dir / "inspectors.csv"), *who],
        ["import", "conflicts", str(demo_dir / "conflicts.csv"), *who],
        [
            "plan",
            "create",
            "P",
            "--year",
            "2026",
            "--name",
            "年度计划",
            "--department",
            "SCJG",
            *who,
        ],
        [
            "task",
            "create",
            "T-food",
            "--plan",
            "P",
            "--name",
            "餐饮专项",
            "--department",
            "SCJG",
            "--item",
            "SCJG-02",
            "--start",
            "2026-07-01",
            "--end",
            "2026-09-30",
            "--industry",
            "H62",
            *who,
        ],
    ]
    for args in steps:
        result = RUNNER.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
    # The policy wants an independent seed party: a system-only draw is refused ...
    alone = RUNNER.invoke(main, ["draw", "T-food", *who])
    assert alone.exit_code == EXIT_REFUSED and "independent" in alone.output
    # ... so the drawer and the supervising office run the ceremony from the command line.
    published = tmp_path / "announcements"
    _ceremony(db, "T-food", published, tmp_path / "b.json")
    for args in (
        ["verify", str(tmp_path / "b.json"), "--announcements", str(published)],
        ["export", "log", "-o", str(tmp_path / "log.jsonl"), "--db", db],
        ["verify-log", "--db", db, "--announcements", str(published)],
    ):
        result = RUNNER.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
    again = RUNNER.invoke(main, ["seed", "freeze", "T-food", *who])
    assert again.exit_code == EXIT_REFUSED and "reason" in again.output
    shown = json.loads(RUNNER.invoke(main, ["task", "show", "T-food", "--db", db, "--json"]).stdout)
    assert [d["attempt"] for d in shown["draws"]] == [1]
    bundle = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    first = bundle["selected"][0]["id"]
    result = RUNNER.invoke(
        main,
        [
            "replace",
            "T-food",
            first,
            "--reason",
            "not_found_at_address",
            "--text",
            "查无此户",
            *who,
        ],
    )
    assert result.exit_code == 0, result.output
    stratum = bundle["selected"][0]["stratum"]
    by = next(a["id"] for a in bundle["alternates"] if a["stratum"] == stratum)
    assert result.stdout.strip() == (
        f"已更换 replaced: {first} → {by}（not_found_at_address 通过登记的住所无法联系）"
    )
    second = bundle["selected"][1]["id"]
    store_time.on("2026-07-01")
    team = _team_ceremony(db, "T-food", published)
    members = {t["entity"]: list(t["inspectors"]) for t in team}
    assert all(len(m) == 2 for m in members.values()) and first not in members
    # A change of a team draws from fresh randomness; the policy wants a witness for it.
    change = str(published / "change-T-food-0.json")
    gone = members[second][0]
    reassign = ["teams", "reassign", "T-food", second, gone, "--reason", "illness"]
    reassigned = RUNNER.invoke(main, [*reassign, "--out", change, *who])
    assert reassigned.exit_code == 0, reassigned.output
    assert reassigned.output.startswith("已记录并公布调整 change recorded and announced: ")
    assert "等待 1 名见证人 (witnesses)" in reassigned.output
    assert "`shuangsuiji teams witness T-food --party NAME --value HEX`" in reassigned.output
    by_self = ["teams", "witness", "T-food", "--party", "纪检", "--value", "ab" * 32, *who]
    assert RUNNER.invoke(main, by_self).exit_code == EXIT_REFUSED
    witness = [*by_self[:-4], "--db", db, "--actor", "纪检监察室-王"]
    witnessed = RUNNER.invoke(main, witness)
    assert witnessed.exit_code == 0, witnessed.output
    assert witnessed.output.startswith("已抽取调整 change drawn；新的检查组 new team: ")
    members = {
        t["entity"]: list(t["inspectors"])
        for t in json.loads(
            RUNNER.invoke(main, ["teams", "show", "T-food", "--db", db, "--json"]).stdout
        )
    }
    insp = [arg for m in members[second] for arg in ("--inspector", m)]
    dates = ["--start", "2026-09-20", "--end", "2026-09-25"]
    store_time.on("2026-09-26")
    ok = RUNNER.invoke(
        main,
        [
            "results",
            "record",
            "T-food",
            second,
            "SCJG-02",
            "05",
            "--follow-up",
            "责令改正",
            *dates,
            *insp,
            *who,
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("已录入 recorded: 第 1 版 (version 1)："), ok.stdout
    wrong = RUNNER.invoke(
        main, ["results", "record", "T-food", second, "SCJG-02", "05", *dates, *insp, *who]
    )
    assert wrong.exit_code == EXIT_REFUSED  # already recorded: a correction needs a reason
    late = RUNNER.invoke(
        main, ["publications", "--db", db, "--today", "2026-11-02", "--overdue", "--json"]
    )
    rows = json.loads(late.stdout)
    assert [(r["entity"], r["due"]) for r in rows] == [(second, "2026-10-29")]
    store_time.on("2026-10-28")
    ahead = RUNNER.invoke(main, ["publish", "T-food", second, "--on", "2030-01-01", *who])
    assert ahead.exit_code == EXIT_REFUSED and "never in advance" in " ".join(ahead.output.split())
    backdated = RUNNER.invoke(main, ["publish", "T-food", second, "--on", "2026-10-20", *who])
    assert backdated.exit_code == EXIT_REFUSED
    assert "--approved-by" in " ".join(backdated.output.split())
    unrecorded = next(e for e in members if e != second)
    both = RUNNER.invoke(main, ["publish", "T-food", second, unrecorded, *who])
    assert both.exit_code == EXIT_REFUSED  # all or nothing: one entity has no result
    assert f"no results recorded for {unrecorded}" in " ".join(both.output.split())
    pub = RUNNER.invoke(main, ["publish", "T-food", second, *who])
    assert pub.exit_code == 0, pub.output
    assert (
        pub.stdout.strip()
        == f"已公示 published: {second}，公示日期 2026-10-28（期限 due 2026-10-29）"
    )
    assert (
        json.loads(
            RUNNER.invoke(
                main, ["publications", "--db", db, "--today", "2026-11-02", "--overdue", "--json"]
            ).stdout
        )
        == []
    )
    exported = RUNNER.invoke(
        main,
        [
            "export",
            "publications",
            "-o",
            str(tmp_path / "pub"),
            "--today",
            "2026-11-02",
            "--db",
            db,
        ],
    )
    assert exported.exit_code == 0
    assert (tmp_path / "pub" / "publications.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    record = RUNNER.invoke(
        main, ["export", "record", "T-food", "-o", str(tmp_path / "r.html"), "--db", db]
    )
    assert record.exit_code == 0 and "抽取记录" in (tmp_path / "r.html").read_text("utf-8")
    assert (
        RUNNER.invoke(
            main, ["export", "bundle", "T-food", "-o", str(tmp_path / "b2.json"), "--db", db]
        ).exit_code
        == 0
    )
    assert RUNNER.invoke(main, ["verify", str(tmp_path / "b2.json")]).exit_code == 0
    lines = (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) > 10 and json.loads(lines[0])["seq"] == 1
    listed = json.loads(RUNNER.invoke(main, ["items", "list", "--db", db, "--json"]).stdout)
    assert [i["code"] for i in listed] == ["SCJG-01", "SCJG-02"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[]", "holds a JSON array, not a draw bundle"),
        ("null", "holds a JSON null, not a draw bundle"),
        ("[" * 10_000 + "]" * 10_000, "nests more than 64 levels deep"),
        ('{"seed": ' + "9" * 5_000 + "}", "a number with 5,000 digits"),
        ('{"seed": NaN}', "NaN, which is not a JSON number"),
        ("{", "is not JSON"),
    ],
    ids=["array", "null", "deep", "long-number", "nan", "broken"],
)
def test_verify_refuses_what_is_not_a_bundle_with_a_clear_error(
    tmp_path: Path, content: str, words: str
) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(content, encoding="utf-8")
    result = RUNNER.invoke(main, ["verify", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    output = " ".join(result.output.split())
    assert "is not a draw bundle" in output and words in output, output
    assert "Traceback" not in output


def test_read_commands_never_create_a_database_and_refuse_what_is_not_one(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.db"
    text = tmp_path / "notes.db"
    text.write_text("not a database\n", encoding="utf-8")
    for command in (["verify-log"], ["publications"], ["export", "log", "-o", "x.jsonl"]):
        result = RUNNER.invoke(main, [*command, "--db", f"sqlite:///{missing}"])
        assert result.exit_code == 2 and "no database at" in result.output, result.output
        assert not missing.exists()
        result = RUNNER.invoke(main, [*command, "--db", f"sqlite:///{text}"])
        output = " ".join(result.output.split())
        assert result.exit_code == 2 and "cannot be read as a database" in output, output
        assert isinstance(result.exception, SystemExit)


def test_draw_refuses_a_cutoff_out_of_range(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    result = RUNNER.invoke(
        main, ["draw", "T1", "--cutoff", "0001-01-01", "--db", db, "--actor", "张三"]
    )
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "--cutoff 0001-01-01 is out of range" in output, output
    assert not (tmp_path / "s.db").exists()
