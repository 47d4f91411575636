"""Claims a bundle makes about other tasks (an exclusion "inspected by T", an alternate passed
over "selected by T") are checked against T's own bundle: genuine ones pass, forged ones and
missing bundles are named, by the library and by ``verify --others``."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from shuangsuiji.cli import main
from shuangsuiji.crosscheck import claims, cross_task_problems
from shuangsuiji.model import Task
from shuangsuiji.registry import Registry
from test_threats import ADMIN, DRAWER, _registry


def _period(url: str) -> Registry:
    """A tiny task T0 drawn first, whose selection the main task T1 then leaves out."""
    reg = _registry(url, independent=0)
    tiny = Task(
        "T0", "P", "小范围定向抽查", ("SCJG",), ("SCJG-01",), date(2026, 6, 1), date(2026, 7, 20)
    )
    reg.store.put_task(tiny, actor=ADMIN)
    reg.draw("T0", actor=DRAWER)
    reg.draw("T1", actor=DRAWER)
    return reg


def _window(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(g for g in bundle["excluded"] if g["reason"] == "inspected_within_window")


def test_genuine_exclusions_are_borne_out_and_forged_ones_are_named(db_url: str) -> None:
    reg = _period(db_url)
    t0, t1 = reg.bundle("T0"), reg.bundle("T1")
    found = list(claims(t1))
    assert found and {c.task for c in found} == {"T0"}
    assert cross_task_problems(t1, [t0]) == []
    # a DBA shields a friend the tiny task never selected: "inspected by T0"
    forged = copy.deepcopy(t1)
    _window(forged)["ids"][0] = "91350102MA00000000"
    problems = cross_task_problems(forged, [t0])
    assert problems == [
        "excluded 91350102MA00000000: inspected_within_window by task T0, but the bundle of T0 "
        "never selected 91350102MA00000000"
    ]
    missing = cross_task_problems(t1, [])
    assert missing and all("no bundle of T0 was given" in p for p in missing)


def test_a_passed_over_alternate_must_be_selected_by_the_task_named() -> None:
    other = {"task_label": "T1", "selected": [{"id": "A"}], "replacements": [{"by": "B"}]}
    mine = {
        "task_label": "T2",
        "replacements": [{"replaced": "X", "by": "Z", "skipped": [{"id": "B", "task": "T1"}]}],
    }
    assert cross_task_problems(mine, [other]) == []  # B came into T1 as a replacement
    mine["replacements"][0]["skipped"] = [{"id": "C", "task": "T1"}]
    assert cross_task_problems(mine, [other]) == [
        "replacement 1 passed over C by task T1, but the bundle of T1 never selected C"
    ]
    columnar = dict(other, picks_file="T1.picks.parquet")
    assert "keeps its picks in a Parquet file" in cross_task_problems(mine, [columnar])[0]


def test_verify_others_checks_a_folder_of_the_period(tmp_path: Path) -> None:
    reg = _period(f"sqlite:///{tmp_path / 'store.db'}")
    folder = tmp_path / "period"
    folder.mkdir()
    for task in ("T0", "T1"):
        reg.export_bundle(task, folder / f"draw-{task}.json")
    args = ["verify", str(folder / "draw-T1.json"), "--others", str(folder)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    (folder / "draw-T0.json").unlink()
    done = CliRunner().invoke(main, [*args, "--json"])
    assert done.exit_code == 1
    problems = json.loads(done.stdout)["problems"]
    assert problems and all(p.startswith("others: excluded ") for p in problems)
    assert "add draw-T0.json to the folder" in problems[0]
