"""A joint inspection (联合抽查): two departments, one draw, one visit, mixed teams.

    python examples/joint_inspection.py

The market regulator and the health commission inspect pharmacies together
("进一次门、查多项事"): one draw selects the pharmacies for both departments, so each is visited
once, and every team holds at least one officer of each department and one who holds the
药品 qualification the pharmacy item requires. The seed comes from a ceremony of both
departments and the discipline-inspection office.
"""

from __future__ import annotations

from datetime import date

from shuangsuiji import Plan, PopulationFilter, Registry, Task, party_commitment, random_seed
from shuangsuiji.assign.record import bundle_team_checker
from shuangsuiji.bundle import verify_bundle
from shuangsuiji.synth import make_city


def main() -> None:
    registry = Registry.open("sqlite://")
    city = make_city(8_000, seed=3)
    registry.setup_city(city, actor="管理员")
    registry.store.put_plan(
        Plan("P", 2026, "2026年度联合抽查计划", ("SCJG", "WJW")), actor="计划科"
    )
    task = Task(
        code="JOINT-01",
        plan="P",
        name="药品零售企业联合抽查",
        departments=("SCJG", "WJW"),
        items=("SCJG-03", "WJW-01"),
        start=date(2026, 8, 3),
        end=date(2026, 11, 13),
        population=PopulationFilter(industry_prefixes=("F5265",)),
    )
    registry.store.put_task(task, actor="计划科")

    frozen = registry.freeze(task.code, actor="抽取人")
    print(f"{frozen.size} pharmacies are candidates (pool digest {frozen.digest[:16]}…)")
    parties = {name: random_seed() for name in ("市场监管局", "卫健委", "纪检监察组")}
    for name, value in parties.items():
        registry.commit_seed(
            task.code, name, party_commitment(task.code, frozen.digest, name, value), actor=name
        )
    announcement = registry.announce(task.code, actor="抽取人")  # publish it, then reveal
    print(f"pre-draw announcement {announcement['digest'][:16]}… published")
    for name, value in parties.items():
        registry.reveal_seed(task.code, name, value, actor=name)
    result = registry.select(task.code, actor="抽取人")
    registry.assign_teams(task.code, actor="抽取人")

    departments = dict(
        zip(city.inspectors.id_list(), city.inspectors.department.values(), strict=True)
    )
    qualified = {i.id for i in city.inspectors if "药品" in i.qualifications}
    teams = registry.teams(task.code)
    print(f"{len(result.draw.selected)} pharmacies drawn once for both departments; teams:")
    for entity, members in list(teams.items())[:5]:
        print(f"  {entity}: " + ", ".join(f"{m} ({departments[m]})" for m in members))
    mixed = all({departments[m] for m in members} == {"SCJG", "WJW"} for members in teams.values())
    holds = all(set(members) & qualified for members in teams.values())
    report = verify_bundle(registry.bundle(task.code), team_checker=bundle_team_checker)
    print(f"every team has both departments: {mixed}; a 药品-qualified officer: {holds}")
    print(f"bundle: {report}")
    if not (mixed and holds and report.ok):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
