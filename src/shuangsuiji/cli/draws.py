"""The entity draw: ``draw``, the seed ceremony (``seed freeze/commit/announce/reveal/select...``)
and ``replace``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from shuangsuiji.cli.common import (
    actor_option,
    console,
    db_option,
    deprecated_alias,
    emit_json,
    fail,
    handle_errors,
    json_option,
    show_rows,
    to_terminal,
    writing_registry,
)

F = TypeVar("F", bound=Callable[..., Any])


REDRAW_CHOICES = click.Choice(
    [
        "pool_data_error",
        "policy_error",
        "ceremony_abandoned",
        "system_failure",
        "supervisor_order",
    ]
)
redraw_options = [
    click.option(
        "--reason",
        default="",
        type=click.Choice(["", *REDRAW_CHOICES.choices]),
        help="Re-draws only: why (重新抽取原因), one of the listed codes.",
    ),
    click.option("--text", default="", help="Re-draws only: what happened (说明)."),
    click.option(
        "--approved-by", default="", help="Re-draws only: the second person who approved it."
    ),
]


def _redraw(func: F) -> F:
    for option in reversed(redraw_options):
        func = option(func)
    return func


@click.command()
@click.argument("task_code")
@db_option
@actor_option
@_redraw
@click.option("--cutoff", type=click.DateTime(["%Y-%m-%d"]), help="Default: the task's start.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the bundle.")
@json_option
@handle_errors
def draw(
    task_code: str,
    db_url: str,
    actor: str,
    reason: str,
    text: str,
    approved_by: str,
    cutoff: Any,
    out: Path | None,
    as_json: bool,
) -> None:
    """Draw TASK_CODE with a seed made by the system alone (only where the policy allows it;
    otherwise run the ceremony: `shuangsuiji seed --help`)."""
    from shuangsuiji._tabular import MAX_DATE, MIN_DATE

    if cutoff is not None and not MIN_DATE <= cutoff.date() <= MAX_DATE:
        fail(
            f"--cutoff {cutoff.date()} is out of range: give the day the candidate set is taken "
            f"on, between {MIN_DATE} and {MAX_DATE} (default: the task's start)"
        )
    registry = writing_registry(db_url)
    result = registry.draw(
        task_code,
        actor=actor,
        reason=reason,
        text=text,
        approved_by=approved_by,
        cutoff=cutoff.date() if cutoff else None,
    )
    _show_draw(registry, result, task_code, out, as_json)


def _show_draw(registry: Any, result: Any, task_code: str, out: Path | None, as_json: bool) -> None:
    if out is not None:
        registry.export_bundle(task_code, out)
    rows = [
        {"rank": i, "entity": p.id, "stratum": p.stratum, "ticket": p.ticket}
        for i, p in enumerate(result.draw.selected, start=1)
    ]
    if as_json:
        emit_json(
            {
                "task": task_code,
                "attempt": result.attempt,
                "seed": result.draw.seed,
                "selected": rows,
            }
        )
        return
    click.echo(
        f"已抽取 drawn: 任务 task {task_code}，第 {result.attempt} 次 (attempt {result.attempt})，"
        f"抽中 {len(rows)} 户 (selected)，种子 seed {result.draw.seed}"
    )
    # a terminal shows the first 20; a pipe or a file (cron) gets every row
    shown = rows[:20] if to_terminal() else rows
    show_rows(shown, False, ["rank", "entity", "stratum", "ticket"])
    if len(shown) < len(rows):
        console().print(f"… 另有 {len(rows) - 20} 户未列出 (more)：全部见 --json 或 --out")


@click.group()
def seed() -> None:
    """The seed ceremony (随机数仪式): freeze, commit, announce, reveal, select.

    \b
    1. seed freeze TASK                    the drawer freezes the candidates
    2. seed contribute TASK --party P      each party makes its secret and commitment
    3. seed commit TASK --party P --commitment HEX      (entered by that party)
       or: seed public TASK --source "label|reference|YYYY-MM-DD" ...
    4. seed announce TASK --out FILE       publish FILE before anything is revealed
    5. seed reveal TASK --party P --contribution HEX    (each party)
       or: seed values TASK VALUE ...      once the public values are out
    6. seed select TASK                    the draw, from the combined seed
    A party that never reveals: seed abandon TASK (a recorded, approved re-draw).
    """


@seed.command(name="freeze")
@click.argument("task_code")
@db_option
@actor_option
@_redraw
@click.option("--cutoff", type=click.DateTime(["%Y-%m-%d"]), help="Default: the task's start.")
@json_option
@handle_errors
def seed_freeze(
    task_code: str,
    db_url: str,
    actor: str,
    reason: str,
    text: str,
    approved_by: str,
    cutoff: Any,
    as_json: bool,
) -> None:
    """Freeze TASK_CODE's candidates and print the pool digest the parties commit to."""
    frozen = writing_registry(db_url).freeze(
        task_code,
        actor=actor,
        reason=reason,
        text=text,
        approved_by=approved_by,
        cutoff=cutoff.date() if cutoff else None,
    )
    data = {"task": task_code, "pool_digest": frozen.digest, "candidates": frozen.size}
    show_rows([data], as_json, ["task", "pool_digest", "candidates"])


@seed.command(name="contribute")
@click.argument("task_code")
@click.option("--party", required=True, help="The party's name, as it will commit.")
@click.option("--pool-digest", required=True, help="From `seed freeze` (or the staffing digest).")
@json_option
@handle_errors
def seed_contribute(task_code: str, party: str, pool_digest: str, as_json: bool) -> None:
    """Make a party's secret contribution and its commitment (offline; nothing is stored).

    Keep the contribution secret until the reveal; give the commitment to the drawer."""
    from shuangsuiji.seeds import party_commitment, random_seed

    value = random_seed()
    data = {
        "party": party,
        "contribution": value.hex(),
        "commitment": party_commitment(task_code, pool_digest, party, value),
    }
    show_rows([data], as_json, ["party", "contribution", "commitment"])


@seed.command(name="commit")
@click.argument("task_code")
@click.option("--party", required=True)
@click.option("--commitment", required=True, help="64 hex characters from `seed contribute`.")
@click.option("--teams", is_flag=True, help="Commit to the team seed (after `teams freeze`).")
@db_option
@actor_option
@handle_errors
def seed_commit(
    task_code: str, party: str, commitment: str, teams: bool, db_url: str, actor: str
) -> None:
    """Record PARTY's commitment (the person entering it is --actor)."""
    registry = writing_registry(db_url)
    step = registry.commit_team_seed if teams else registry.commit_seed
    step(task_code, party, commitment, actor=actor)
    seed_of = "检查组种子 team seed" if teams else "种子 seed"
    console().print(f"已提交承诺 committed: {party} → {task_code} 的{seed_of}")


@seed.command(name="public")
@click.argument("task_code")
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    help='A public value to come: "label|reference|YYYY-MM-DD" (e.g. a lottery draw).',
)
@db_option
@actor_option
@handle_errors
def seed_public(task_code: str, sources: tuple[str, ...], db_url: str, actor: str) -> None:
    """Declare public values that will make the seed; their dates must be after today."""
    from shuangsuiji.seeds import PublicSource

    parsed = []
    for text in sources:
        parts = text.split("|")
        try:
            day = date.fromisoformat(parts[2]) if len(parts) == 3 else None
        except ValueError:
            day = None
        if day is None:
            fail(
                f'--source {text!r}：请写成 "名称|出处|YYYY-MM-DD" (write "label|reference|'
                'YYYY-MM-DD"), e.g. "中国福利彩票双色球|开奖号码|2026-07-02"'
            )
        parsed.append(PublicSource(parts[0], parts[1], day))
    digest = writing_registry(db_url).declare_public_seed(task_code, parsed, actor=actor)
    console().print(f"已声明公开数值 public values declared: {task_code}，摘要 digest {digest}")


@seed.command(name="announce")
@click.argument("task_code")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--teams", is_flag=True, help="Announce the team seed (after `teams freeze`).")
@db_option
@actor_option
@handle_errors
def seed_announce(task_code: str, out: Path, teams: bool, db_url: str, actor: str) -> None:
    """Issue the pre-draw announcement and write it to OUT: publish it before any reveal."""
    from shuangsuiji.exports import to_json, write_text

    registry = writing_registry(db_url)
    step = registry.announce_teams if teams else registry.announce
    announcement = step(task_code, actor=actor)
    write_text(to_json(announcement), out)
    console().print(
        f"已生成抽取前公告 pre-draw announcement: {task_code} → {out}"
        f"（摘要 digest {announcement['digest']}；揭示之前先公布 publish it before any reveal）"
    )


@seed.command(name="reveal")
@click.argument("task_code")
@click.option("--party", required=True)
@click.option("--contribution", required=True, help="The hex contribution from `seed contribute`.")
@click.option("--teams", is_flag=True, help="Reveal to the team seed instead.")
@db_option
@actor_option
@handle_errors
def seed_reveal(
    task_code: str, party: str, contribution: str, teams: bool, db_url: str, actor: str
) -> None:
    """Reveal PARTY's contribution (checked against its commitment)."""
    try:
        value = bytes.fromhex(contribution)
    except ValueError:
        fail(
            f"--contribution 须为十六进制 (must be hex)，即 `shuangsuiji seed contribute` 输出的 "
            f"contribution，收到 (got) {contribution[:20]!r}"
        )
    registry = writing_registry(db_url)
    step = registry.reveal_team_seed if teams else registry.reveal_seed
    step(task_code, party, value, actor=actor)
    console().print(f"已揭示 revealed: {party} → {task_code}")


@seed.command(name="values")
@click.argument("task_code")
@click.argument("values", nargs=-1, required=True)
@db_option
@actor_option
@handle_errors
def seed_values(task_code: str, values: tuple[str, ...], db_url: str, actor: str) -> None:
    """Enter the declared public values as published, one per source, in order."""
    writing_registry(db_url).reveal_public_values(task_code, list(values), actor=actor)
    console().print(f"已录入公开数值 public values entered: {task_code}")


@seed.command(name="select")
@click.argument("task_code")
@db_option
@actor_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the bundle.")
@json_option
@handle_errors
def seed_select(task_code: str, db_url: str, actor: str, out: Path | None, as_json: bool) -> None:
    """Draw TASK_CODE from the combined seed once every party revealed."""
    registry = writing_registry(db_url)
    _show_draw(registry, registry.select(task_code, actor=actor), task_code, out, as_json)


@seed.command(name="abandon")
@click.argument("task_code")
@click.option("--reason", required=True, type=REDRAW_CHOICES)
@click.option("--text", required=True, help="What happened (说明).")
@click.option("--approved-by", required=True, help="The second person who approved it.")
@db_option
@actor_option
@handle_errors
def seed_abandon(
    task_code: str, reason: str, text: str, approved_by: str, db_url: str, actor: str
) -> None:
    """Abandon TASK_CODE's frozen attempt (e.g. a party never revealed); it counts as a draw."""
    from shuangsuiji.labels import redraw_label

    writing_registry(db_url).abandon(
        task_code, reason=reason, text=text, approved_by=approved_by, actor=actor
    )
    console().print(
        f"已放弃 abandoned: {task_code} 的本次抽取（{reason} {redraw_label(reason)}）；"
        "下一次抽取是重新抽取 (re-draw)"
    )


@click.command()
@click.argument("task_code")
@click.argument("entity_id")
@click.option(
    "--reason",
    required=True,
    type=click.Choice(
        [
            "deregistered_before_draw",
            "not_found_at_address",
            "duplicate_record",
            "outside_jurisdiction",
            "other",
        ]
    ),
)
@click.option(
    "--text",
    default="",
    help="证据说明，必填 (evidence: who found what, where, when); published with the replacement.",
)
@click.option("--note", default="", hidden=True, help="Deprecated: use --text.")
@db_option
@actor_option
@handle_errors
def replace(
    task_code: str, entity_id: str, reason: str, text: str, note: str, db_url: str, actor: str
) -> None:
    """Replace a selected entity by the next alternate of its stratum (recorded)."""
    from shuangsuiji.labels import replacement_label

    text = deprecated_alias("--note", note, "--text", text)
    by = writing_registry(db_url).replace(task_code, entity_id, reason, actor=actor, note=text)
    console().print(f"已更换 replaced: {entity_id} → {by}（{reason} {replacement_label(reason)}）")
