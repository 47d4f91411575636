"""``shuangsuiji demo``: a whole cycle on a synthetic city, in an embedded SQLite database.

It writes into one folder the input CSVs it generated (``entities.csv``, ``inspectors.csv``,
``conflicts.csv``), the policy (``policy.toml``), the database (``shuangsuiji.db``) and, as
the library's capabilities grow, draw bundles, reports and publication exports.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console

from shuangsuiji.assign import ConflictTable, assign_teams
from shuangsuiji.assign.record import verify_draw
from shuangsuiji.commitments import log_problems
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.exports import to_json, write_text
from shuangsuiji.io import (
    read_conflicts_csv,
    read_entities_csv,
    read_inspectors_csv,
    write_conflicts_csv,
    write_entities_csv,
    write_inspectors_csv,
)
from shuangsuiji.model import Conflict, Plan, PopulationFilter, Task
from shuangsuiji.policy import DrawRules, Policy
from shuangsuiji.pools import EntityPool, InspectorPool
from shuangsuiji.publication import publication_report, statuses
from shuangsuiji.registry import SYSTEM_PARTY, Registry, ResultEntry
from shuangsuiji.seeds import party_commitment, random_seed
from shuangsuiji.store import Store
from shuangsuiji.synth import City, make_city

__all__ = ["DEMO_ACTOR", "demo_tasks", "run_demo"]

DEMO_ACTOR = "演示-张明（录入员）"
DEMO_DRAWER = "演示-王芳（抽取人）"
PLAN_CODE = "RC-2026"
CHINA = timezone(timedelta(hours=8))
DEMO_TODAY = date(2026, 12, 4)
"""The demo simulates the year 2026 up to this day on its own clock."""


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
            end=date(2026, 11, 20),
            population=PopulationFilter(industry_prefixes=("C",)),
        ),
    ]


SUPERVISOR = "派驻纪检监察组"
"""The independent seed party of every demo draw: the discipline-inspection office."""


def _ceremony_parties(task: Task | None = None) -> dict[str, str]:
    """Seed parties → the person who enters each; the supervisor is never the drawer. The
    joint task's entity seed has the other department as a third party."""
    parties = {SYSTEM_PARTY: DEMO_DRAWER, SUPERVISOR: "纪检监察员-周"}
    if task is not None and task.joint:
        parties["榕城市卫生健康委员会"] = "卫健委-吴"
    return parties


def _draw_all(registry: Registry, tasks: list[Task], out: Path) -> list[Path]:
    """Draw every task by a ceremony: the system and the supervising office (and, for the joint
    task, the other department) commit; the pre-draw announcement is written out before any
    party reveals (``announcements/predraw-TASK-1.json``)."""
    paths = []
    published = out / "announcements"
    published.mkdir(exist_ok=True)
    for task in tasks:
        frozen = registry.freeze(task.code, actor=DEMO_DRAWER)
        parties = _ceremony_parties(task)
        values = {p: random_seed() for p in parties}
        for party, person in parties.items():
            digest = party_commitment(task.code, frozen.digest, party, values[party])
            registry.commit_seed(task.code, party, digest, actor=person)
        announcement = registry.announce(task.code, actor=DEMO_DRAWER)
        write_text(to_json(announcement), published / f"predraw-{task.code}-1.json")
        for party, person in parties.items():
            registry.reveal_seed(task.code, party, values[party], actor=person)
        registry.select(task.code, actor=DEMO_DRAWER)
        paths.append(out / f"draw-{task.code}.json")
    return paths


SEALED_DIR = "sealed"
"""Where the demo writes the sealed staffing annexes, apart from the public bundles."""


def _export_annexes(registry: Registry, tasks: list[Task], folder: Path) -> list[Path]:
    """Each task's sealed staffing annex as ``sealed/annex-TASK.json``, handed to the
    supervising office (each export is an ``annex.export`` audit event)."""
    folder.mkdir(exist_ok=True)
    return [
        registry.export_staffing_annex(
            t.code, folder / f"annex-{t.code}.json", actor=DEMO_DRAWER, recipient=SUPERVISOR
        )
        for t in tasks
    ]


def _draw_teams(registry: Registry, task: Task, published: Path) -> None:
    """The team ceremony: the staffing frozen (late conflicts included), the team-seed
    commitments announced (``announcements/predraw-TASK-teams-1.json``), then the reveals."""
    digest = registry.freeze_staffing(task.code, actor=DEMO_DRAWER)
    parties = _ceremony_parties()
    values = {p: random_seed() for p in parties}
    for party, person in parties.items():
        commitment = party_commitment(task.code, digest, party, values[party])
        registry.commit_team_seed(task.code, party, commitment, actor=person)
    announcement = registry.announce_teams(task.code, actor=DEMO_DRAWER)
    write_text(to_json(announcement), published / f"predraw-{task.code}-teams-1.json")
    for party, person in parties.items():
        registry.reveal_team_seed(task.code, party, values[party], actor=person)
    registry.draw_teams(task.code, actor=DEMO_DRAWER)


def _declare_conflicts(registry: Registry, tasks: list[Task]) -> list[Conflict]:
    """Conflicts that officers declare once the entity list is out (回避申报).

    A dry run of the team draw *without* them shows whom the lottery would send where; for a
    few selected entities, the officer it would send declares a conflict (a relative works
    there, a former employer), so the real team draw must route around it.
    """
    declared: list[Conflict] = []
    relations = ("近亲属任职", "曾任职", "持有股份")
    for task in tasks:
        staffing = registry.staffing(task.code)
        dry = assign_teams(
            attrs.evolve(staffing, conflicts=ConflictTable.from_rows(())),
            registry.current_draw(task.code).draw.key,
        )
        for n, team in enumerate(dry.teams[:3]):
            declared.append(
                Conflict(
                    team.inspector_ids[0], team.entity_id, relations[n % 3], "任务公布后本人申报"
                )
            )
    registry.store.import_conflicts(declared, actor=DEMO_ACTOR, source="回避申报")
    return declared


def _hash_of(text: str) -> int:
    """A stable pseudo-random number for the simulation (not an audited path)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


class DemoClock:
    """The demo's simulated clock: it starts on a given day and moves one second per reading,
    or jumps forward when the story moves on (it never goes back: the audit log checks that)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def jump(self, day: date, hour: int) -> None:
        target = datetime(day.year, day.month, day.day, hour, tzinfo=CHINA)
        self.now = max(self.now, target)


def _publications_before(registry: Registry, day: date) -> list[tuple[date, str, str]]:
    """The simulated publications of recorded results that happen before ``day``, in order:
    most on time, some late, some never (left overdue)."""
    actions = []
    for record in registry.publications():
        h = _hash_of(record.task + record.entity)
        if record.published is not None or h % 10 >= 8:
            continue
        on = record.due - timedelta(days=h % 6) if h % 10 < 7 else record.due + timedelta(days=3)
        on = max(on, record.completion_date + timedelta(days=1))
        if on < day and on <= DEMO_TODAY:
            actions.append((on, record.task, record.entity))
    return sorted(actions)


def _publish_until(registry: Registry, clock: DemoClock, day: date) -> int:
    """The publications due before ``day``, entered day by day (one batch per day)."""
    by_day: dict[date, list[tuple[str, str]]] = {}
    for on, task_code, entity in _publications_before(registry, day):
        by_day.setdefault(on, []).append((task_code, entity))
    for on, keys in sorted(by_day.items()):
        clock.jump(on, 15)
        registry.publish_many(keys, actor="公示员-陈静")
    return sum(len(keys) for keys in by_day.values())


def _results_and_publication(
    registry: Registry, tasks: list[Task], out: Path, clock: DemoClock
) -> dict[str, Any]:
    """Simulated inspection results, publications on time, late and outstanding, exports."""
    outcomes = [("01",), ("01",), ("01",), ("05",), ("02",), ("04",), ("08",), ("09",)]
    plan: list[tuple[date, int, str, Any]] = []
    for task in sorted(tasks, key=lambda t: t.end):
        entries = []
        for entity, members in registry.teams(task.code).items():
            h = _hash_of(task.code + entity)
            if task.code == tasks[-1].code and h % 3 == 0:
                continue  # the last task is still under way: some inspections not done
            for item in task.items:
                codes = outcomes[(h + _hash_of(item)) % len(outcomes)]
                entries.append(
                    ResultEntry(
                        task.code,
                        entity,
                        item,
                        codes,
                        inspection_start=task.end - timedelta(days=h % 20 + 1),
                        inspection_end=task.end,
                        inspectors=members,
                        follow_up="责令限期改正" if codes[0] in ("05", "02", "04", "08") else "",
                    )
                )
        plan.append((task.end + timedelta(days=1), 10, "results", entries))
    recorded = sum(len(p[3]) for p in plan)
    published = 0
    # A publication is dated the day it is entered, so the story runs in calendar order:
    # each task's results, then the publications that follow them, day by day.
    for day, hour, _, entries in plan:
        published += _publish_until(registry, clock, day)
        clock.jump(day, hour)
        registry.record_results(entries, actor="录入员-刘洋")
    published += _publish_until(registry, clock, DEMO_TODAY + timedelta(days=1))
    clock.jump(DEMO_TODAY, 18)
    records = registry.publications()
    report = publication_report(records, DEMO_TODAY)
    registry.export_publications(out, today=DEMO_TODAY, issuer="榕城市市场监督管理局")
    announced = registry.export_announcements(out / "announcements", issued_on=DEMO_TODAY)
    counts: dict[str, int] = {}
    for status in statuses(records, DEMO_TODAY):
        counts[status.label_zh] = counts.get(status.label_zh, 0) + 1
    overdue = {d.department.name: len(d.overdue) for d in report.departments if d.overdue}
    return {
        "story": [
            f"检查后录入 {recorded} 项事项结果 item results；{len(records)} 条公示记录 "
            "publication records，各自在检查结束后 20 个工作日内到期",
            f"截至 {DEMO_TODAY}（模拟的“今天” simulated today）：已公示 {published} 条 published；"
            + "，".join(f"{k} {v}" for k, v in counts.items())
            + (
                "；各部门逾期 overdue by department："
                + "，".join(f"{name} {n}" for name, n in overdue.items())
                if overdue
                else ""
            ),
        ],
        "files": {
            "publications.csv": "internal: publication records with their status (UTF-8 "
            "with BOM, opens in Excel)",
            "publications.json": "internal: the same records as JSON",
            "publication.html": "the public results page (抽查结果公示): published records only",
            "publication-internal.html": "internal work page (内部): records not yet published, "
            "their deadlines, and selected entities without a result",
            "announcements/": f"{len(announced)} plan (一表), task and result announcements "
            "(CSV with BOM and JSON)",
        },
    }


def _draw_line(registry: Registry, task: Task) -> str:
    bundle = registry.bundle(task.code)
    excluded = sum(e["count"] for e in bundle["exclusions"])
    parties = [c["party"] for c in bundle["seed_provenance"]["commitments"]]
    seed = f"{len(parties)} 方种子仪式 seed ceremony：{' + '.join(parties)}"
    return (
        f"已抽取 drew {task.code}：从 {len(bundle['candidates']):,} 户候选中抽中 "
        f"{len(bundle['selected'])} 户，{len(bundle['strata'])} 个分层 strata（按细则排除 "
        f"{excluded} 户 excluded by policy；{seed}）"
    )


def _fresh_dir(out: Path) -> None:
    """An empty demo folder (an earlier demo's folder is replaced, anything else refused)."""
    if out.exists():
        if not (out / "shuangsuiji.db").exists() and any(out.iterdir()):
            raise InvalidInputError(
                f"{out} exists and is not an earlier demo folder; choose another --dir"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


@attrs.frozen(eq=False)
class _Setup:
    """The demo's store as an agency sets it up: pools imported from CSV, policy, plan, tasks."""

    store: Store
    entities: EntityPool
    inspectors: InspectorPool
    tasks: list[Task]


def _set_up(city: City, policy: Policy, out: Path, clock: DemoClock) -> _Setup:
    """Write the city's CSV files and import them (exactly as an agency would), with the
    policy, the plan and its tasks."""
    write_entities_csv(city.entities, out / "entities.csv")
    write_inspectors_csv(city.inspectors, out / "inspectors.csv")
    write_conflicts_csv(city.conflicts, out / "conflicts.csv")
    (out / "policy.toml").write_text(policy.to_toml(), encoding="utf-8")
    store = Store.open(f"sqlite:///{out / 'shuangsuiji.db'}", clock=clock)
    store.save_policy(policy, actor=DEMO_ACTOR)
    store.put_departments(city.departments, actor=DEMO_ACTOR)
    store.put_regions(city.districts, actor=DEMO_ACTOR)
    store.put_items(city.items, actor=DEMO_ACTOR)
    entities = read_entities_csv(out / "entities.csv")
    store.import_entities(entities, actor=DEMO_ACTOR, source="entities.csv")
    inspectors = read_inspectors_csv(
        out / "inspectors.csv", departments=[d.code for d in city.departments]
    )
    store.import_inspectors(inspectors, actor=DEMO_ACTOR, source="inspectors.csv")
    store.import_conflicts(
        read_conflicts_csv(out / "conflicts.csv"), actor=DEMO_ACTOR, source="conflicts.csv"
    )
    departments = tuple(d.code for d in city.departments)
    plan = Plan(PLAN_CODE, 2026, f"{city.name}2026年度双随机抽查工作计划", departments)
    store.put_plan(plan, actor=DEMO_ACTOR)
    tasks = demo_tasks()
    for task in tasks:
        store.put_task(task, actor=DEMO_ACTOR)
    return _Setup(store, entities, inspectors, tasks)


@attrs.frozen(eq=False)
class _Checked:
    """What the demo's own verifier found: announcements, annexes, bundles re-derived, log."""

    published: list[dict[str, Any]]
    annexes: list[Path]
    verified: int
    log_problems: list[str]


def _check_outputs(
    registry: Registry, tasks: list[Task], bundles: list[Path], out: Path
) -> _Checked:
    """Export the annexes, re-derive every public bundle with its annex against the published
    announcements, and check the audit log against those announcements."""
    published = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((out / "announcements").glob("predraw-*.json"))
    ]
    annexes = _export_annexes(registry, tasks, out / SEALED_DIR)
    verified = sum(
        verify_draw(
            json.loads(p.read_text(encoding="utf-8")),
            annex=json.loads(a.read_text(encoding="utf-8")),
            announcements=published,
        ).ok
        for p, a in zip(bundles, annexes, strict=True)
    )
    events = (
        {"seq": e.seq, "hash": e.hash, "kind": e.kind, "payload": e.payload}
        for e in registry.store.audit_events()
    )
    return _Checked(published, annexes, verified, log_problems(events, published))


def _story(
    city: City,
    policy: Policy,
    setup: _Setup,
    registry: Registry,
    facts: dict[str, Any],
) -> list[str]:
    """The demo's printed story, one line per step, every figure from the store."""
    entities, tasks, checked = setup.entities, setup.tasks, facts["checked"]
    health = registry.draw_health(PLAN_CODE)
    tiers = {t: int((entities.tier == i).sum()) for i, t in enumerate("ABCD")}
    return [
        f"{city.name}：{len(entities):,} 户市场主体 market entities，{len(city.districts)} 个辖区"
        f"（信用风险等级 credit-risk tiers A/B/C/D："
        f"{tiers['A']:,}/{tiers['B']:,}/{tiers['C']:,}/{tiers['D']:,}）",
        f"{len(setup.inspectors):,} 名执法人员 officers，{len(city.departments)} 个部门，"
        f"已申报利害关系 {len(city.conflicts)} 条（回避 declared conflicts）",
        f"抽查细则 policy“{policy.name}”（哈希 {policy.content_hash[:12]}…）：检查组 "
        f"{policy.team.size} 人，{policy.deadline.working_days} 个工作日内公示",
        f"年度计划 plan {PLAN_CODE}，{len(tasks)} 项任务："
        + "；".join(f"{t.code} {t.name}" for t in tasks),
        *(_draw_line(registry, t) for t in tasks),
        f"每户抽中对象按回避规则随机抽取 {policy.team.size} 人检查组 teams；名单公布后申报的 "
        f"{facts['late']} 条利害关系本可能让人员进入不应加入的检查组——最终在组内的 "
        f"{facts['hit']} 条",
        *facts["outcome"]["story"],
        f"每个种子都与监督机关（{SUPERVISOR}）以种子仪式共同产生；揭示前已将 "
        f"{len(checked.published)} 份抽取前公告 announcements 写入 announcements/",
        f"写出 {len(facts['bundles'])} 份公开抽取包 draw bundles（draw-*.json，不含执法人员个人"
        f"信息）及密封人员附件 sealed annexes（{SEALED_DIR}/，仅供监督机关）；验证程序重算 "
        f"{checked.verified} 份完全一致（抽中对象，及凭附件重放的检查组），且均与已发布公告一致",
        "审计日志与已发布公告对照 audit log vs announcements："
        + ("一致 consistent" if not checked.log_problems else "；".join(checked.log_problems)),
        f"{health.lotteries} 次抽取的抽查健康度 draw health："
        + ("可疑 SUSPICIOUS" if health.suspicious else "未见异常 no alarm")
        + "（"
        + "，".join(f"{t.name} p = {t.p_value:.2g}" for t in health.tests)
        + "；已考虑排除期 exclusion windows）",
        f"审计日志 audit log：{facts['events']} 条事件，每条都记录到具名的操作人",
    ]


def _files(
    bundles: list[Path], annexes: list[Path], tasks: list[Task], outcome: dict[str, Any]
) -> dict[str, str]:
    """What each file the demo wrote is for."""
    return {
        "shuangsuiji.db": "the SQLite store (pools, plan, tasks, policy, audit_events)",
        "entities.csv": "the entity pool (检查对象名录库) that was imported",
        "inspectors.csv": "the inspector pool (执法检查人员名录库)",
        "conflicts.csv": "declared conflicts: inspector_id,entity_id,relation,source",
        "policy.toml": "the implementation rules (一细则) used",
        **{p.name: "public draw bundle: re-derive it with `shuangsuiji verify`" for p in bundles},
        **{
            f"{SEALED_DIR}/{a.name}": "sealed staffing annex (内部, personal data): for the "
            "supervising office only, never published; `verify --annex` replays the teams"
            for a in annexes
        },
        **{
            f"record-{t.code}.html": "printable draw record (抽取记录) for the file"
            for t in tasks[:1]
        },
        **outcome["files"],
    }


def run_demo(
    out_dir: Path, *, n_entities: int = 20_000, seed: int = 2026, console: Console | None = None
) -> dict[str, Any]:
    """Build the synthetic city into ``out_dir`` and return a JSON-able summary."""
    say = console.print if console is not None else (lambda *_a, **_k: None)
    started = time.perf_counter()
    out = Path(out_dir)
    _fresh_dir(out)
    city = make_city(n_entities, seed=seed)
    policy = attrs.evolve(Policy.default(), draw=DrawRules(independent_parties=1))
    say(
        f"已生成 generated {city.name}：{len(city.entities):,} 户市场主体，"
        f"{len(city.inspectors):,} 名执法人员"
    )
    clock = DemoClock(datetime(2026, 6, 20, 9, tzinfo=CHINA))
    setup = _set_up(city, policy, out, clock)
    store, tasks = setup.store, setup.tasks
    registry = Registry(store)
    clock.jump(date(2026, 6, 30), 9)
    bundles = _draw_all(registry, tasks, out)
    late_conflicts = _declare_conflicts(registry, tasks)
    write_conflicts_csv(store.conflicts(), out / "conflicts.csv")
    for task in tasks:
        _draw_teams(registry, task, out / "announcements")
    hit = sum(
        c.inspector_id in registry.teams(t.code).get(c.entity_id, ())
        for t in tasks
        for c in late_conflicts
    )
    outcome = _results_and_publication(registry, tasks, out, clock)
    for task, path in zip(tasks, bundles, strict=True):
        registry.export_bundle(task.code, path)
        record = registry.draw_record(task.code, agency="榕城市市场监督管理局")
        (out / f"record-{task.code}.html").write_text(record, encoding="utf-8")
    checked = _check_outputs(registry, tasks, bundles, out)
    events = store.counts()["audit_events"]
    facts = {
        "checked": checked,
        "late": len(late_conflicts),
        "hit": hit,
        "outcome": outcome,
        "bundles": bundles,
        "events": events,
    }
    story = _story(city, policy, setup, registry, facts)
    story.append(f"用时 done in {time.perf_counter() - started:.1f} 秒")
    return {
        "title": f"shuangsuiji demo — {city.name}，写入 written to {out}",
        "directory": str(out),
        "entities": len(setup.entities),
        "inspectors": len(setup.inspectors),
        "conflicts": len(city.conflicts),
        "tasks": [t.code for t in tasks],
        "policy_hash": policy.content_hash,
        "audit_events": events,
        "story": story,
        "files": _files(bundles, checked.annexes, tasks, outcome),
        "bundles": [p.name for p in bundles],
        "verified": checked.verified,
        "next": [
            f"shuangsuiji verify {bundles[0]} --announcements {out / 'announcements'}",
            f"shuangsuiji verify {bundles[0]} --annex {checked.annexes[0]}",
            f"shuangsuiji verify-log --db sqlite:///{out / 'shuangsuiji.db'} "
            f"--announcements {out / 'announcements'}",
            f"shuangsuiji health --db sqlite:///{out / 'shuangsuiji.db'}",
        ],
    }
