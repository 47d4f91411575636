"""The inspection teams (the second random of 双随机): ``teams ...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from shuangsuiji.cli.common import (
    actor_option,
    console,
    db_option,
    handle_errors,
    json_option,
    reading_registry,
    show_rows,
    writing_registry,
)


@click.group()
def teams() -> None:
    """Inspection teams (the second random of 双随机)."""


@teams.command(name="assign")
@click.argument("task_code")
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), help="Inspection date (certificates).")
@db_option
@actor_option
@json_option
@handle_errors
def teams_assign(task_code: str, on: Any, db_url: str, actor: str, as_json: bool) -> None:
    """Draw the teams with a team seed made by the system alone (where the policy allows it;
    otherwise: teams freeze, seed commit/reveal --teams, teams draw)."""
    registry = writing_registry(db_url)
    registry.assign_teams(task_code, actor=actor, on=on.date() if on else None)
    _show_teams(registry.teams(task_code), as_json)


@teams.command(name="freeze")
@click.argument("task_code")
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), help="Inspection date (certificates).")
@db_option
@actor_option
@handle_errors
def teams_freeze(task_code: str, on: Any, db_url: str, actor: str) -> None:
    """Freeze the staffing of TASK_CODE's team draw; prints the digest team parties commit to."""
    registry = writing_registry(db_url)
    digest = registry.freeze_staffing(task_code, actor=actor, on=on.date() if on else None)
    console().print(f"已冻结人员配备 staffing frozen: {task_code}，摘要 digest {digest}")
    statement = registry.pair_statement(task_code)
    if statement:
        console().print(pairs_line(statement))


def pairs_line(statement: dict[str, Any]) -> str:
    """One line on the frozen pair statement: the law's bound, or the largest probability and
    the pairs above the cap."""
    top = statement.get("max") or {}
    if statement.get("method") == "bound":
        return (
            f"配对概率 pair probabilities：封顶抽取 {statement.get('law')}，每对不超过 "
            f"{top.get('p')}（最高在 {top.get('entity')}；上限 cap {statement.get('cap')}）"
        )
    method = "精确 exact" if statement.get("method") == "exact" else "重放估计 Monte Carlo"
    return (
        f"配对概率 pair probabilities：最大 {top.get('p')}（{top.get('entity')} · "
        f"{top.get('inspector')}，{method}，± {statement.get('error')}）；超过上限 cap "
        f"{statement.get('cap')} 的配对 {statement.get('above_count')} 对，人手不足 shortfalls "
        f"{len(statement.get('shortfalls') or [])} 户"
    )


@teams.command(name="draw")
@click.argument("task_code")
@db_option
@actor_option
@json_option
@handle_errors
def teams_draw(task_code: str, db_url: str, actor: str, as_json: bool) -> None:
    """Draw the teams once every team-seed party revealed (`seed reveal --teams`)."""
    registry = writing_registry(db_url)
    registry.draw_teams(task_code, actor=actor)
    _show_teams(registry.teams(task_code), as_json)


@teams.command(name="show")
@click.argument("task_code")
@db_option
@json_option
@handle_errors
def teams_show(task_code: str, db_url: str, as_json: bool) -> None:
    """Show the current teams of TASK_CODE."""

    _show_teams(reading_registry(db_url).teams(task_code), as_json)


def _show_teams(current: dict[str, tuple[str, ...]], as_json: bool) -> None:
    rows = [{"entity": e, "inspectors": list(i)} for e, i in sorted(current.items())]
    show_rows(rows, as_json, ["entity", "inspectors"])


@teams.command(name="reassign")
@click.argument("task_code")
@click.argument("entity_id")
@click.argument("inspector_id")
@click.option(
    "--reason",
    required=True,
    type=click.Choice(
        ["conflict_declared", "illness", "leave", "certificate", "reassigned", "other"]
    ),
)
@click.option("--text", default="", help="Explanation (required with --reason other).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the change announcement (when witnesses are needed) to this JSON file.",
)
@db_option
@actor_option
@handle_errors
def teams_reassign(
    task_code: str,
    entity_id: str,
    inspector_id: str,
    reason: str,
    text: str,
    out: Path | None,
    db_url: str,
    actor: str,
) -> None:
    """Take INSPECTOR_ID off ENTITY_ID's team; the replacement is drawn from fresh randomness
    (SSJ-CHANGE-1). When the policy wants witnesses, this records the request and publishes
    its announcement; each witness then runs `teams witness`."""
    done = writing_registry(db_url).request_reassignment(
        task_code, entity_id, inspector_id, reason, actor=actor, text=text
    )
    if done["team"] is not None:
        console().print(f"已调整 new team: {entity_id} 的检查组为 {', '.join(done['team'])}")
        return
    needed = done["request"]["witnesses_needed"]
    if out is not None:
        out.write_text(json.dumps(done["announcement"], ensure_ascii=False, indent=1) + "\n")
    console().print(
        f"已记录并公布调整 change recorded and announced: {done['digest'][:16]}…"
        + (f"（{out}）" if out else "")
        + f"；等待 {needed} 名见证人 (witnesses)，每人须为另一人，各自运行 "
        f"`shuangsuiji teams witness {task_code} --party NAME --value HEX`"
    )


@teams.command(name="witness")
@click.argument("task_code")
@click.option("--party", required=True, help="The witness's name (e.g. 纪检监察室).")
@click.option(
    "--value",
    required=True,
    help="16-64 random bytes as hex, chosen by the witness now (e.g. secrets.token_hex(32)).",
)
@db_option
@actor_option
@handle_errors
def teams_witness(task_code: str, party: str, value: str, db_url: str, actor: str) -> None:
    """Add a witness's value to the task's pending change of a team; the last witness
    needed draws the change."""
    from shuangsuiji.changes import parse_witness_value

    team = writing_registry(db_url).witness_change(
        task_code, party, parse_witness_value(value, party), actor=actor
    )
    if team is None:
        console().print(
            f"已记录见证 witness recorded: {party}；还需要其他见证人 (more witnesses needed)"
        )
    else:
        console().print(f"已抽取调整 change drawn；新的检查组 new team: {', '.join(team)}")


@teams.command(name="withdraw")
@click.argument("task_code")
@click.option("--text", required=True, help="Why the pending change is withdrawn.")
@db_option
@actor_option
@handle_errors
def teams_withdraw(task_code: str, text: str, db_url: str, actor: str) -> None:
    """Withdraw the task's pending change of a team (recorded; it still counts against
    [draw] max_reassignments)."""
    writing_registry(db_url).cancel_change(task_code, text, actor=actor)
    console().print(f"已撤回 withdrawn: 任务 task {task_code} 待定的检查组调整 (pending change)")
