"""Bad input at the store's boundary: refused the same way on SQLite and PostgreSQL, naming the
field, and nothing is stored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from shuangsuiji.cli import main
from shuangsuiji.model import Plan, Task
from shuangsuiji.policy import Policy
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store, StoreError
from shuangsuiji.synth import make_city

CITY = make_city(300, seed=5)
ADMIN = "管理员"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
HOSTILE = {"NUL": "名称\x00后半", "1 MB": "长" * 1_000_000}


def _registry(url: str) -> Registry:
    reg = Registry(Store.open(url))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    return reg


def _refused(reg: Registry, field: str, write: object) -> str:
    """The refusal of ``write``; the log gains nothing but, for a draw step, its error event."""
    before = len(reg.store.audit_events())
    with pytest.raises(StoreError) as refused:
        write()  # type: ignore[operator]
    assert {e.kind for e in reg.store.audit_events()[before:]} <= {"draw.error"}
    message = str(refused.value)
    assert field in message and "nothing was stored" in message, message
    return message


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_plan_and_task_names_are_refused_naming_the_field(db_url: str, kind: str) -> None:
    reg = _registry(db_url)
    text = HOSTILE[kind]
    _refused(
        reg, "plan name", lambda: reg.store.put_plan(Plan("P2", 2026, text, ("SCJG",)), actor=ADMIN)
    )
    task = attrs.evolve(T1, code="T2", name=text)
    _refused(reg, "task name", lambda: reg.store.put_task(task, actor=ADMIN))
    assert [p.code for p in reg.store.plans()] == ["P"]
    assert [t.code for t in reg.store.tasks()] == ["T1"]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_redraw_reasons_and_replacement_notes_are_refused(db_url: str, kind: str) -> None:
    reg = _registry(db_url)
    reg.draw("T1", actor="抽取人")
    text = HOSTILE[kind]
    message = _refused(
        reg,
        "re-draw reason text",
        lambda: reg.draw(
            "T1", actor="抽取人", reason="system_failure", text=text, approved_by="科长"
        ),
    )
    assert ("NUL character" in message) == (kind == "NUL")
    assert [d["attempt"] for d in reg.draws("T1")] == [1]
    first = reg.selected_ids("T1")[0]
    _refused(
        reg,
        "replacement note",
        lambda: reg.replace("T1", first, "other", actor="抽取人", note=text),
    )
    assert reg.selected_ids("T1")[0] == first


def test_saving_an_earlier_policy_again_makes_it_current(db_url: str) -> None:
    store = Store.open(db_url)
    first = Policy.default()
    second = attrs.evolve(first, version="2", team=attrs.evolve(first.team, size=3))
    store.save_policy(first, actor=ADMIN)
    store.save_policy(second, actor=ADMIN)
    assert store.policy().team.size == 3
    events = len(store.audit_events())
    store.save_policy(first, actor=ADMIN)
    assert store.policy().content_hash == first.content_hash
    last = store.audit_events()[-1]
    assert len(store.audit_events()) == events + 1 and last.kind == "policy.version"
    assert last.payload["hash"] == first.content_hash and last.payload["again"] is True
    store.save_policy(first, actor=ADMIN)  # already current: nothing to record
    assert len(store.audit_events()) == events + 1


def test_a_policy_file_without_its_ratios_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    path = tmp_path / "policy.toml"
    text = Policy.default().to_toml()
    path.write_text(text.split("[ratios]")[0] + "[deadline]" + text.split("[deadline]")[1])
    result = CliRunner().invoke(main, ["policy", "set", str(path), "--db", db, "--actor", ADMIN])
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "the [ratios] table with its tier ratios is missing" in output
    path.write_text(text)
    result = CliRunner().invoke(main, ["policy", "set", str(path), "--db", db, "--actor", ADMIN])
    assert result.exit_code == 0, result.output
