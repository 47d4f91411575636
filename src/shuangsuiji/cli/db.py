"""The store itself: ``db upgrade`` (the schema migrations, run explicitly) and ``db move``
(a whole store to another database, e.g. SQLite → PostgreSQL)."""

from __future__ import annotations

import sys

import click

from shuangsuiji.cli.common import (
    EXIT_INTEGRITY,
    connected_store,
    console,
    db_option,
    emit_json,
    existing_store,
    fail,
    handle_errors,
    json_option,
    shown,
)


@click.group()
def db() -> None:
    """The store's database: upgrade its schema, move it to another database."""


@db.command(name="upgrade")
@db_option
@handle_errors
def db_upgrade(db_url: str) -> None:
    """Run the schema migrations on the store at --db (creates the schema of a new database).

    Commands that only read never migrate a store; commands that write create the schema of
    a new, empty database and bring an older one up to date, as this command does."""
    store, before = connected_store(db_url)
    store.upgrade()
    after = store.revision()
    if before == after:
        console().print(f"数据库结构已是最新 (schema up to date): revision {after}")
    else:
        console().print(f"数据库结构已升级 (schema upgraded): {before or '(new)'} → {after}")


@db.command(name="move")
@click.option("--from", "source_url", required=True, help="The store to copy (e.g. a SQLite file).")
@click.option(
    "--to", "target_url", required=True, help="An empty database, e.g. postgresql://user@host/db."
)
@json_option
@handle_errors
def db_move(source_url: str, target_url: str, as_json: bool) -> None:
    """Copy a whole store (pools, plans, tasks, draws, teams, results, publications and the
    audit log) into an empty database, in one transaction; then check the audit chain and the
    records on the new side. The source is not changed."""
    from rich.markup import escape

    from shuangsuiji.registry import Registry
    from shuangsuiji.store import normalise_url
    from shuangsuiji.store.move import move_store

    if normalise_url(source_url) == normalise_url(target_url):
        fail("--from 与 --to 是同一个数据库 (the same database): give a new, empty one as --to")
    source = existing_store(source_url)
    target, _revision = connected_store(target_url)
    report = move_store(source, target)
    problems = [str(p) for p in target.verify_log()] + [
        str(p) for p in Registry(target).verify_records()
    ]
    if as_json:
        emit_json(
            {
                "revision": report.revision,
                "rows": report.rows,
                "total": report.total,
                "verified": not problems,
                "problems": problems,
            }
        )
    else:
        for table, n in report.rows.items():
            click.echo(f"{table}\t{n}")
        console().print(
            f"已迁移 (moved) {report.total:,} 行 (rows) 到 {shown(target_url)}；"
            + ("审计链与记录核验通过 (verify-log clean)" if not problems else "核验失败 (FAIL)")
        )
    for problem in problems:
        console(stderr=True).print(f"[red]FAIL[/] {escape(problem)}")
    if problems:
        sys.exit(EXIT_INTEGRITY)
