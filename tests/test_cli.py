from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from shuangsuiji.cli import main

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "city"
    result = RUNNER.invoke(main, ["demo", "--dir", str(out), "--entities", "3000", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["verified"] == len(summary["bundles"]) == 4
    return out


def test_demo_writes_the_contracted_files(demo_dir: Path) -> None:
    for name in ("shuangsuiji.db", "entities.csv", "inspectors.csv", "conflicts.csv", "policy.toml"):
        assert (demo_dir / name).exists(), name
    header = (demo_dir / "conflicts.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "inspector_id,entity_id,relation,source"
    assert len(list(demo_dir.glob("draw-*.json"))) == 4


def test_verify_passes_and_detects_tampering(demo_dir: Path, tmp_path: Path) -> None:
    bundle_path = sorted(demo_dir.glob("draw-*.json"))[0]
    ok = RUNNER.invoke(main, ["verify", str(bundle_path)])
    assert ok.exit_code == 0 and "re-derives exactly" in ok.stdout
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


def test_due_command() -> None:
    result = RUNNER.invoke(main, ["due", "2024-09-20"])
    assert result.exit_code == 0 and result.stdout.strip() == "2024-10-23"
    beyond = RUNNER.invoke(main, ["due", "2026-12-20"])
    assert beyond.exit_code == 2 and "2026-12-31" in beyond.output
    est = RUNNER.invoke(main, ["due", "2026-12-20", "--estimate"])
    assert est.exit_code == 0 and "ESTIMATE" in est.stdout


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
    assert result.exit_code == 0 and "imported 1 entities" in result.stdout
