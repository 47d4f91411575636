"""``health``: the statistical health of the recorded draws."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from shuangsuiji.cli.common import (
    EXIT_CHECK_FAILED,
    console,
    db_option,
    emit_json,
    handle_errors,
    reading_registry,
)

if TYPE_CHECKING:
    from shuangsuiji.health import HealthReport


def _report_json(report: HealthReport) -> dict[str, Any]:
    """A report's JSON with the Chinese label of each test, its detail and each flag's
    direction beside the codes (``name_label``, ``detail_label``, ``direction_label``)."""
    from shuangsuiji.labels import direction_label, health_test_label

    data = report.to_dict()
    for row, test in zip(data["tests"], report.tests, strict=True):
        row |= {"name_label": health_test_label(test.name), "detail_label": test.detail_label}
    for row in data["flagged"]:
        row["direction_label"] = direction_label(row["direction"])
    return data


@click.command()
@click.option("--plan", "plan_code", default=None, help="One plan's tasks (default: all).")
@click.option("--task", "task_codes", multiple=True, help="Only these tasks (repeatable).")
@click.option("--alpha", default=0.01, show_default=True, help="False-alarm rate of each report.")
@click.option(
    "--inspectors", is_flag=True, help="Also check inspector loads against replays of the teams."
)
@click.option(
    "--pairs",
    "pair_group",
    type=click.Choice(["entity", "township", "county", "industry"]),
    default=None,
    help="Also check pair concentration: one officer on the same entity (or township, county, "
    "industry) again and again, against replays of the teams.",
)
@click.option(
    "--replays",
    default=800,
    show_default=True,
    help="Replays per task for --inspectors and --pairs.",
)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the tests and flags as JSON.")
@handle_errors
def health(
    plan_code: str | None,
    task_codes: tuple[str, ...],
    alpha: float,
    inspectors: bool,
    pair_group: str | None,
    replays: int,
    db_url: str,
    as_json: bool,
) -> None:
    """Draw health of a period: were entities (and inspectors) drawn as the design says?

    Compares every entity's count over the current draws of the period with its exact
    distribution (exclusion windows included) and checks the recorded tickets; with
    --inspectors, compares every inspector's team load with replays of the team draw on the
    recorded staffing; with --pairs GROUP, counts each officer × entity (or × township,
    county, industry) pair against the same replays. Exit 1 when a test rejects (a false
    alarm happens with probability at most ALPHA per report).
    """

    from shuangsuiji.labels import conduct_detail_label, conduct_label

    registry = reading_registry(db_url)
    chosen = list(task_codes) or None
    reports = [registry.draw_health(plan_code, tasks=chosen, alpha=alpha)]
    if inspectors:
        reports.append(
            registry.inspector_health(plan_code, tasks=chosen, replays=replays, alpha=alpha)
        )
    if pair_group:
        reports.append(
            registry.pair_health(
                plan_code, tasks=chosen, replays=replays, alpha=alpha, group=pair_group
            )
        )
    findings = registry.conduct(plan_code, tasks=chosen)
    if as_json:
        data = _report_json(reports[0])
        if inspectors:
            data["inspectors"] = _report_json(reports[1])
        if pair_group:
            data["pairs"] = _report_json(reports[-1])
        data["conduct"] = [
            f.to_dict()
            | {
                "kind_label": conduct_label(f.kind),
                "detail_label": conduct_detail_label(f.detail_key, f.facts),
            }
            for f in findings
        ]
        emit_json(data)
    else:
        for report in reports:
            console().print(report.summary(), markup=False)
        console().print(f"抽取过程 conduct of the draws：{len(findings)} 项待复核 (to review)")
        for f in findings:
            detail = conduct_detail_label(f.detail_key, f.facts)
            console().print(f"  {f.kind} {conduct_label(f.kind)}  {f.task}：{detail}", markup=False)
    if any(r.suspicious for r in reports):
        sys.exit(EXIT_CHECK_FAILED)
