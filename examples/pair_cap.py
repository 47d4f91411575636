"""A cap on how likely one officer is to inspect one firm (封顶抽取, SSJ-ASSIGN-CAP-1).

    python examples/pair_cap.py

A food-safety task needs, on every team, one officer who holds the 食品安全 qualification, and
few officers hold it. Drawn uniformly, such a holder lands on the same restaurants again and
again. The policy here caps every (officer, firm) probability and enforces it: the teams are
drawn by the capped law, whose bound for every firm is computed from the frozen staffing —
and published in the team announcement — before the team seed exists. Then anyone with the
sealed annex replays the draw and recomputes the bound.
"""

from __future__ import annotations

from datetime import date

import attrs

from shuangsuiji import Plan, PopulationFilter, Registry, Task
from shuangsuiji.assign.pairs import pair_probabilities
from shuangsuiji.assign.record import verify_draw
from shuangsuiji.policy import DrawRules, Policy, TeamRules
from shuangsuiji.synth import make_city

CAP = 0.2


def main() -> None:
    registry = Registry.open("sqlite://")
    registry.setup_city(make_city(8_000, seed=7), actor="管理员")
    team = TeamRules(max_pair_probability=CAP, on_pair_cap="enforce")
    policy = attrs.evolve(Policy.default(), draw=DrawRules(independent_parties=0), team=team)
    registry.store.save_policy(policy, actor="管理员")
    registry.store.put_plan(Plan("P", 2026, "2026年度抽查计划", ("SCJG",)), actor="计划科")
    task = Task(
        code="FOOD-01",
        plan="P",
        name="餐饮服务食品安全专项抽查",
        departments=("SCJG",),
        items=("SCJG-02",),
        start=date(2026, 7, 15),
        end=date(2026, 10, 16),
        population=PopulationFilter(industry_prefixes=("H62",)),
    )
    registry.store.put_task(task, actor="计划科")
    registry.draw(task.code, actor="抽取人")
    drawn = registry.assign_teams(task.code, actor="抽取人")  # freeze, system seed, draw

    bundle = registry.bundle(task.code)
    stated = bundle["team_seed"]["pairs"]
    print(
        f"{len(drawn.teams)} restaurants drawn; teams by {drawn.stream.spec}: every officer's "
        f"probability of inspecting a given restaurant is at most {stated['max']['p']} "
        f"(cap {stated['cap']}, level {stated['level']}; stated before the team seed)"
    )
    assert stated["law"] == drawn.stream.spec == "SSJ-ASSIGN-CAP-1"
    assert 0 < stated["max"]["p"] <= CAP
    announced = bundle["team_seed"]["announcement"]["pairs_digest"]
    print(f"the team announcement carries the statement's digest {announced[:16]}…")
    uniform = pair_probabilities(registry.staffing(task.code), bundle["sealed_staffing"]["digest"])
    top = uniform.maximum()
    assert top is not None
    print(
        f"drawn uniformly instead (SSJ-ASSIGN-2), the most likely pair would have p ≈ {top.p:.3f} "
        f"(± {uniform.error:.3f}, {uniform.method}): {top.inspector_id} on {top.entity_id}"
    )
    report = verify_draw(bundle, annex=registry.staffing_annex(task.code))
    assert report.ok, report
    print("the supervising office replays the teams and recomputes the bound from the annex: OK")


if __name__ == "__main__":
    main()
