"""``shuangsuiji demo``: a whole cycle on a synthetic city, in an embedded SQLite database.

It writes into one folder the input CSVs it generated (``entities.csv``, ``inspectors.csv``,
``conflicts.csv``), the policy (``policy.toml``), the database (``shuangsuiji.db``) and, as
the library's capabilities grow, draw bundles, reports and publication exports.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from shuangsuiji.bundle import verify_bundle
from shuangsuiji.io import (
    read_conflicts_csv,
    read_entities_csv,
    read_inspectors_csv,
    write_conflicts_csv,
    write_entities_csv,
    write_inspectors_csv,
)
from shuangsuiji.model import Plan, PopulationFilter, Task
from shuangsuiji.policy import Policy
from shuangsuiji.registry import Registry
from shuangsuiji.seeds import party_commitment, random_seed
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city

__all__ = ["DEMO_ACTOR", "demo_tasks", "run_demo"]

DEMO_ACTOR = "演示-张明（录入员）"
DEMO_DRAWER = "演示-王芳（抽取人）"
PLAN_CODE = "RC-2026"


def demo_tasks() -> list[Task]:
    """The demo plan's tasks: undirected, directed by industry, joint, tiered."""
    return [
        Task(
            code="RC-2026-01",
            plan=PLAN_CODE,
            name="企业公示信息抽查（不定向）",
            departments=("SCJG",),
            items=("SCJG-01",),
            start=date(2026, 7, 1),
            end=date(2026, 9, 25),
            population=PopulationFilter(),
        ),
        Task(
            code="RC-2026-02",
            plan=PLAN_CODE,
            name="餐饮服务食品安全专项抽查（定向：餐饮业）",
            departments=("SCJG",),
            items=("SCJG-02",),
            start=date(2026, 7, 15),
            end=date(2026, 10, 16),
            population=PopulationFilter(industry_prefixes=("H62",)),
        ),
        Task(
            code="RC-2026-03",
            plan=PLAN_CODE,
            name="药品零售企业联合抽查（市场监管 + 卫健）",
            departments=("SCJG", "WJW"),
            items=("SCJG-03", "WJW-01"),
            start=date(2026, 8, 3),
            end=date(2026, 11, 13),
            population=PopulationFilter(industry_prefixes=("F5265",)),
        ),
        Task(
            code="RC-2026-04",
            plan=PLAN_CODE,
            name="制造业安全生产抽查（定向：制造业）",
            departments=("YJGL",),
            items=("YJGL-01",),
            start=date(2026, 9, 1),
            end=date(2026, 12, 11),
            population=PopulationFilter(industry_prefixes=("C",)),
        ),
    ]


def _draw_all(registry: Registry, tasks: list[Task], out: Path) -> list[Path]:
    """Draw every task; the joint task's seed comes from a ceremony of three parties."""
    paths = []
    for task in tasks:
        if task.joint:
            frozen = registry.freeze(task.code, actor=DEMO_ACTOR)
            parties = ("榕城市市场监督管理局", "榕城市卫生健康委员会", "派驻纪检监察组")
            values = {p: random_seed() for p in parties}
            for party in parties:
                digest = party_commitment(task.code, frozen.digest, party, values[party])
                registry.commit_seed(task.code, party, digest, actor=party)
            for party in parties:
                registry.reveal_seed(task.code, party, values[party], actor=party)
            registry.select(task.code, actor=DEMO_DRAWER)
        else:
            registry.draw(task.code, actor=DEMO_DRAWER)
        paths.append(registry.export_bundle(task.code, out / f"draw-{task.code}.json"))
        record = registry.draw_record(task.code, agency="榕城市市场监督管理局")
        (out / f"record-{task.code}.html").write_text(record, encoding="utf-8")
    return paths


def _draw_line(registry: Registry, task: Task) -> str:
    bundle = registry.bundle(task.code)
    excluded = sum(e["count"] for e in bundle["exclusions"])
    seed = "3-party seed ceremony" if task.joint else "system seed"
    return (
        f"drew {task.code}: {len(bundle['selected'])} of {len(bundle['candidates']):,} candidates "
        f"in {len(bundle['strata'])} strata ({excluded} excluded by policy; {seed})"
    )


def run_demo(
    out_dir: Path, *, n_entities: int = 20_000, seed: int = 2026, console: Console | None = None
) -> dict[str, Any]:
    """Build the synthetic city into ``out_dir`` and return a JSON-able summary."""
    say = console.print if console is not None else (lambda *_a, **_k: None)
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists():
        if not (out / "shuangsuiji.db").exists() and any(out.iterdir()):
            raise ValueError(
                f"{out} exists and is not an earlier demo folder; choose another --dir"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)

    city = make_city(n_entities, seed=seed)
    write_entities_csv(city.entities, out / "entities.csv")
    write_inspectors_csv(city.inspectors, out / "inspectors.csv")
    write_conflicts_csv(city.conflicts, out / "conflicts.csv")
    policy = Policy.default()
    (out / "policy.toml").write_text(policy.to_toml(), encoding="utf-8")
    say(
        f"generated {city.name}: {len(city.entities):,} entities, "
        f"{len(city.inspectors):,} inspectors"
    )

    store = Store.open(f"sqlite:///{out / 'shuangsuiji.db'}")
    store.save_policy(policy, actor=DEMO_ACTOR)
    store.put_departments(city.departments, actor=DEMO_ACTOR)
    for item in city.items:
        store.put_item(item, actor=DEMO_ACTOR)
    # Import through the CSV files, exactly as an agency would.
    entities = read_entities_csv(out / "entities.csv")
    store.import_entities(entities, actor=DEMO_ACTOR, source="entities.csv")
    inspectors = read_inspectors_csv(
        out / "inspectors.csv", departments=[d.code for d in city.departments]
    )
    store.import_inspectors(inspectors, actor=DEMO_ACTOR, source="inspectors.csv")
    store.import_conflicts(
        read_conflicts_csv(out / "conflicts.csv"), actor=DEMO_ACTOR, source="conflicts.csv"
    )
    store.put_plan(
        Plan(
            PLAN_CODE,
            2026,
            f"{city.name}2026年度双随机抽查工作计划",
            tuple(d.code for d in city.departments),
        ),
        actor=DEMO_ACTOR,
    )
    tasks = demo_tasks()
    for task in tasks:
        store.put_task(task, actor=DEMO_ACTOR)

    registry = Registry(store)
    bundles = _draw_all(registry, tasks, out)
    verified = sum(verify_bundle(json.loads(p.read_text(encoding="utf-8"))).ok for p in bundles)

    tiers = {t: int((entities.tier == i).sum()) for i, t in enumerate("ABCD")}
    counts = store.counts()
    story = [
        f"{city.name}: {len(entities):,} market entities in {len(city.districts)} districts "
        f"(credit-risk tiers A/B/C/D: {tiers['A']:,}/{tiers['B']:,}/{tiers['C']:,}/{tiers['D']:,})",
        f"{len(inspectors):,} law-enforcement officers in {len(city.departments)} departments, "
        f"{len(city.conflicts)} declared conflicts of interest (回避)",
        f"policy '{policy.name}' (hash {policy.content_hash[:12]}…): teams of {policy.team.size}, "
        f"publication within {policy.deadline.working_days} working days",
        f"plan {PLAN_CODE} with {len(tasks)} tasks: "
        + "; ".join(f"{t.code} {t.name}" for t in tasks),
        *(_draw_line(registry, t) for t in tasks),
        f"wrote {len(bundles)} draw bundles; the verifier re-derived {verified} of them exactly",
        f"audit log: {counts['audit_events']} events, each attributed to a named person",
        f"done in {time.perf_counter() - started:.1f} s",
    ]
    return {
        "title": f"shuangsuiji demo — {city.name}, written to {out}",
        "directory": str(out),
        "entities": len(entities),
        "inspectors": len(inspectors),
        "conflicts": len(city.conflicts),
        "tasks": [t.code for t in tasks],
        "policy_hash": policy.content_hash,
        "audit_events": counts["audit_events"],
        "story": story,
        "files": {
            "shuangsuiji.db": "the SQLite store (pools, plan, tasks, policy, audit_events)",
            "entities.csv": "the entity pool (检查对象名录库) that was imported",
            "inspectors.csv": "the inspector pool (执法检查人员名录库)",
            "conflicts.csv": "declared conflicts: inspector_id,entity_id,relation,source",
            "policy.toml": "the implementation rules (一细则) used",
            **{p.name: "draw bundle: re-derive it with `shuangsuiji verify`" for p in bundles},
            **{
                f"record-{t.code}.html": "printable draw record (抽取记录) for the file"
                for t in tasks[:1]
            },
        },
        "bundles": [p.name for p in bundles],
        "verified": verified,
        "next": [
            f"shuangsuiji verify {bundles[0]}",
            f"shuangsuiji verify-log --db sqlite:///{out / 'shuangsuiji.db'}",
        ],
    }
