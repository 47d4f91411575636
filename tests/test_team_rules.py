"""One mapping from the policy (一细则) to the team rules, used by the draw and the simulation."""

from __future__ import annotations

from datetime import date

import attrs
import numpy as np
import pytest

from shuangsuiji.assign import Staffing, TaskNeeds, TeamConfig
from shuangsuiji.assign.record import staffing_record
from shuangsuiji.assign.rules import team_config
from shuangsuiji.design._plan import _Teams
from shuangsuiji.policy import Policy
from shuangsuiji.synth import make_city

CITY = make_city(200, seed=11)


def _policy(digits: int) -> Policy:
    base = Policy()
    return attrs.evolve(base, recusal=attrs.evolve(base.recusal, same_home_region_digits=digits))


@pytest.mark.parametrize("digits", [0, 2, 4, 6, 9, 12])
def test_the_draw_and_the_plan_simulation_take_the_same_team_rules_from_the_policy(
    digits: int,
) -> None:
    policy = _policy(digits)
    drawn = team_config(policy)  # what Registry.assign_teams uses and the bundle records
    simulated = _Teams(CITY.inspectors, policy, CITY.conflicts).config
    assert simulated == drawn
    assert TeamConfig.from_policy(policy) == drawn


@pytest.mark.parametrize("digits", [2, 4, 6, 9, 12])
def test_the_recorded_home_region_rule_is_named_for_its_digits(digits: int) -> None:
    config = team_config(_policy(digits))
    needs = TaskNeeds("T-1", ("SCJG",), date(2026, 6, 30))
    staffing = Staffing(CITY.entities.take(np.arange(5)), CITY.inspectors, needs, config=config)
    (rule,) = staffing_record(staffing)["config"]["attribute_rules"]
    assert rule["digits"] == digits
    if digits == 9:
        assert rule["name"] == "same_township" and "township" in rule["reason"]
    else:
        assert rule["name"] == f"same_region_{digits}"
        assert "township" not in rule["name"] + rule["reason"]
        assert f"first {digits} digits" in rule["reason"]


def test_no_home_region_rule_when_the_policy_switches_it_off() -> None:
    assert team_config(_policy(0)).attribute_rules == ()
