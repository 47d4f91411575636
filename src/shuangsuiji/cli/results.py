"""Results and publication: ``results record/import``, ``publications``, ``publish``."""

from __future__ import annotations

import codecs
from datetime import date
from pathlib import Path
from typing import Any

import click

from shuangsuiji.cli.common import (
    actor_option,
    console,
    db_option,
    encoding_option,
    fail,
    handle_errors,
    json_option,
    reading_registry,
    show_rows,
    writing_registry,
)


@click.group()
def results() -> None:
    """Inspection results (检查结果)."""


@results.command(name="record")
@click.argument("task_code")
@click.argument("entity_id")
@click.argument("item")
@click.argument("categories")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--inspector", "inspectors", multiple=True, required=True)
@click.option("--follow-up", default="", help="后续处置 (required with a problem category).")
@click.option("--reason", default="", help="Required to correct a recorded result.")
@db_option
@actor_option
@handle_errors
def results_record(
    task_code: str,
    entity_id: str,
    item: str,
    categories: str,
    start: Any,
    end: Any,
    inspectors: tuple[str, ...],
    follow_up: str,
    reason: str,
    db_url: str,
    actor: str,
) -> None:
    """Record (or, with --reason, correct) one result; CATEGORIES like 05 or 05|08."""
    result = writing_registry(db_url).record_result(
        task_code,
        entity_id,
        item,
        categories,
        inspection_start=start.date(),
        inspection_end=end.date(),
        inspectors=inspectors,
        actor=actor,
        follow_up=follow_up,
        reason=reason,
    )
    console().print(
        f"已录入 recorded: 第 {result.version} 版 (version {result.version})："
        + "、".join(result.labels())
    )


@results.command(name="import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@encoding_option
@handle_errors
def results_import(csv_file: Path, db_url: str, actor: str, encoding: str) -> None:
    """Import results from CSV (task,entity_id,item,categories,...), all rows or none."""
    registry = writing_registry(db_url)
    if codecs.lookup(encoding).name == "utf-8":
        done = registry.import_results(csv_file, actor=actor)  # the reader's own BOM/GBK hints
    else:
        try:
            csv_file.read_text(encoding=encoding)
        except UnicodeDecodeError as exc:
            fail(f"{csv_file}: 不是 {encoding} 编码的文本 (not {encoding} text: {exc.reason})")
        with csv_file.open(encoding=encoding, newline="") as handle:
            done = registry.import_results(handle, actor=actor)
    console().print(f"已录入 recorded: {len(done)} 条检查结果 (results)")


@click.command()
@db_option
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Default: today.")
@click.option("--overdue", is_flag=True, help="Only overdue records.")
@click.option("--estimate", is_flag=True, help="Allow estimated due dates beyond the calendar.")
@json_option
@handle_errors
def publications(db_url: str, today: Any, overdue: bool, estimate: bool, as_json: bool) -> None:
    """Publication records with due dates and status; --overdue for what is late."""

    day = today.date() if today else date.today()
    rows = []
    for record in reading_registry(db_url).publications(estimate=estimate):
        status = record.status(day)
        if overdue and status.value != "overdue":
            continue
        rows.append(
            {
                "task": record.task,
                "entity": record.entity,
                "name": record.entity_name,
                "completed": record.completion_date.isoformat(),
                "due": record.due.isoformat(),
                "due_estimated": bool(record.due_estimated),
                "status": status.value,
                "status_label": status.label_zh,
                "published": record.published.isoformat() if record.published else None,
            }
        )
    columns = ["task", "entity", "name", "completed", "due", "status", "status_label", "published"]
    show_rows(rows, as_json, columns)


@click.command()
@click.argument("task_code")
@click.argument("entity_ids", metavar="ENTITY_ID...", nargs=-1, required=True)
@click.option(
    "--on",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Default: today. An earlier day is a correction: it needs --reason and --approved-by.",
)
@click.option("--reason", default="", help="Why the publication is entered with an earlier date.")
@click.option("--approved-by", default="", help="The second person who approves an earlier date.")
@db_option
@actor_option
@handle_errors
def publish(
    task_code: str,
    entity_ids: tuple[str, ...],
    on: Any,
    reason: str,
    approved_by: str,
    db_url: str,
    actor: str,
) -> None:
    """Record the publication (公示) of the results of ENTITY_ID... in TASK_CODE, today.

    Several entities are published together, all or nothing: if one cannot be published
    (no result, already published), nothing is stored and every problem is listed."""
    records = writing_registry(db_url).publish_many(
        [(task_code, e) for e in entity_ids],
        on=on.date() if on else None,
        reason=reason,
        approved_by=approved_by,
        actor=actor,
    )
    for record in records:
        console().print(
            f"已公示 published: {record.entity}，公示日期 {record.published}"
            f"（期限 due {record.due}）"
        )
