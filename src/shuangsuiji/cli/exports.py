"""``export``: draw bundles, the audit log, publication records and announcements."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from shuangsuiji.cli.common import (
    actor_option,
    console,
    db_option,
    deprecated_alias,
    existing_store,
    handle_errors,
    reading_registry,
    writing_registry,
)


@click.group()
def export() -> None:
    """Export draw bundles, the audit log, publication records and announcements."""


@export.command(name="bundle")
@click.argument("task_code")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@db_option
@handle_errors
def export_bundle(task_code: str, out: Path, db_url: str) -> None:
    """Write the draw bundle of TASK_CODE (JSON) for `shuangsuiji verify`."""

    reading_registry(db_url).export_bundle(task_code, out)
    console().print(f"已写入 wrote: {out}")


@export.command(name="annex")
@click.argument("task_code")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--to", "recipient", default="", help="Who receives it (recorded in the log).")
@db_option
@actor_option
@handle_errors
def export_annex(task_code: str, out: Path, recipient: str, db_url: str, actor: str) -> None:
    """Write the sealed staffing annex of TASK_CODE (personal data: for the supervising office
    only, never published); `shuangsuiji verify BUNDLE --annex ANNEX` replays the teams with
    it. Writing it is logged (annex.export)."""
    writing_registry(db_url).export_staffing_annex(task_code, out, actor=actor, recipient=recipient)
    console().print(
        f"已写入 wrote: {out}（密封附件 sealed annex：仅交监督机关，不得公开 do not publish）"
    )


@export.command(name="log")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@db_option
@handle_errors
def export_log(out: Path, db_url: str) -> None:
    """Write the audit log as JSON Lines (one canonical event per line)."""
    from shuangsuiji.audit import dumps_jsonl

    store = existing_store(db_url)
    out.write_text(dumps_jsonl(store.audit_rows()), encoding="utf-8")
    console().print(f"已写入 wrote: {out}")


@export.command(name="publications")
@click.option(
    "-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True
)
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Default: today.")
@click.option("--issuer", default="", help="The publishing authority's name (发布机关).")
@db_option
@handle_errors
def export_publications(out_dir: Path, today: Any, issuer: str, db_url: str) -> None:
    """Write publication.html (public: published records only), publication-internal.html
    (内部: unpublished records, deadlines, selected entities without a result), and
    publications.csv (UTF-8 BOM) and .json (internal)."""

    day = today.date() if today else date.today()
    written = reading_registry(db_url).export_publications(out_dir, today=day, issuer=issuer)
    console().print(f"已写入 wrote: {', '.join(written)}（目录 in {out_dir}）")


@export.command(name="announcements")
@click.option(
    "-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True
)
@click.option("--plan", "plan_code", default=None, help="One plan's code (default: every plan).")
@click.option("--issued", type=click.DateTime(["%Y-%m-%d"]), help="The issue date printed on them.")
@db_option
@handle_errors
def export_announcements(out_dir: Path, plan_code: str | None, issued: Any, db_url: str) -> None:
    """Write the plan (一表), task and result announcements as CSV (UTF-8 BOM) and JSON.

    plan-CODE.csv/.json per plan, task-CODE.json per drawn task, results-CODE.json/.csv per
    task with published results.
    """

    written = reading_registry(db_url).export_announcements(
        out_dir, plan=plan_code, issued_on=issued.date() if issued else None
    )
    for name in written:
        console().print(f"已写入 wrote: {out_dir / name}")


@export.command(name="record")
@click.argument("task_code")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--issuer", default="", help="The issuing authority's name (发布机关).")
@click.option("--agency", default="", hidden=True, help="Deprecated: use --issuer.")
@db_option
@handle_errors
def export_record(task_code: str, out: Path, issuer: str, agency: str, db_url: str) -> None:
    """Write the printable HTML draw record (抽取记录) of TASK_CODE."""

    issuer = deprecated_alias("--agency", agency, "--issuer", issuer)
    out.write_text(reading_registry(db_url).draw_record(task_code, agency=issuer), encoding="utf-8")
    console().print(f"已写入 wrote: {out}")
