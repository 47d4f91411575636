"""Quick start: one task from plan to verified draw, in an embedded SQLite database.

    python examples/quickstart.py [--dir DIR]

1. open a store (a SQLite file) through the Registry;
2. load a synthetic city: departments, inspection items (一单), the two pools (两库), conflicts;
3. publish the year's plan (一表) with one task;
4. draw the task: freeze the candidates, commit and reveal a seed, select — each step an event;
5. export the draw bundle and re-derive it, as an auditor would.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from shuangsuiji.bundle import verify_bundle
from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.synth import make_city


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="output folder (default: temp)")
    args = parser.parse_args()
    out = args.dir or Path(tempfile.mkdtemp(prefix="ssj-quickstart-"))
    out.mkdir(parents=True, exist_ok=True)

    registry = Registry.open(f"sqlite:///{out / 'agency.db'}")
    city = make_city(5_000, seed=42)
    registry.setup_city(city, actor="系统管理员")
    registry.store.put_plan(Plan("P2026", 2026, "2026年度抽查计划", ("SCJG",)), actor="计划科")
    task = Task(
        code="P2026-01",
        plan="P2026",
        name="企业公示信息抽查",
        departments=("SCJG",),
        items=("SCJG-01",),
        start=date(2026, 7, 1),
        end=date(2026, 9, 25),
    )
    registry.store.put_task(task, actor="计划科")

    result = registry.draw(task.code, actor="抽取人-王芳")
    print(f"selected {len(result.draw.selected)} entities; first five:")
    for pick in result.draw.selected[:5]:
        print(f"  {pick.id}  stratum {pick.stratum:<22} ticket {pick.ticket[:16]}…")

    path = registry.export_bundle(task.code, out / f"draw-{task.code}.json")
    report = verify_bundle(result.bundle)
    print(f"bundle {path}: {report}")
    print(
        f"audit log: {len(registry.store.audit_events())} events, "
        f"problems: {registry.store.verify_log() or 'none'}"
    )
    if not report.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
