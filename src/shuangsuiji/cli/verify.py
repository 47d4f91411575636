"""``verify`` (a draw bundle, from the bundle alone) and ``verify-log`` (the audit chain)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shuangsuiji.cli.common import (
    EXIT_CHECK_FAILED,
    console,
    db_option,
    emit_json,
    existing_store,
    fail,
    handle_errors,
)

if TYPE_CHECKING:
    from shuangsuiji.bundle import VerificationReport


def _announcements(folder: Path | None) -> list[dict[str, Any]]:
    """The pre-draw announcements (``predraw-*.json``) published in ``folder``."""
    if folder is None:
        return []
    found = []
    for path in sorted(folder.glob("predraw-*.json")):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            fail(f"{path}: not a JSON announcement ({exc})", EXIT_CHECK_FAILED)
    if not found:
        fail(f"{folder}: no published pre-draw announcement (predraw-*.json) in it")
    return found


announcements_option = click.option(
    "--announcements",
    "announcements_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of the published pre-draw announcements (predraw-*.json) to check against.",
)


@click.command()
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@announcements_option
@click.option(
    "--annex",
    "annex_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The sealed staffing annex (supervising office): check it and replay the teams.",
)
@click.option(
    "--others",
    "others_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of the period's other draw bundles (draw-*.json): check what this bundle says "
    "about other tasks (exclusions for a recent inspection, alternates passed over).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def verify(
    bundle_file: Path,
    announcements_dir: Path | None,
    annex_file: Path | None,
    others_dir: Path | None,
    as_json: bool,
) -> None:
    """Re-derive a draw from its bundle alone; exit 1 naming every field that does not match.

    BUNDLE_FILE is a JSON bundle, or the JSON head of a columnar bundle (national draws): its
    Parquet files, beside it, are checked against their digests and streamed in bounded memory.

    The public bundle alone checks the entity draw, the seed and team-seed ceremonies and the
    staffing commitments; with --annex, every annex record is checked against its commitment
    and the team draw is replayed. With --announcements, the draw must also match the
    announcement published before its reveal (a draw made in a copy of the store, or
    re-rolled, fails)."""
    from shuangsuiji.bundle import BundleError, read_bundle

    try:
        bundle = read_bundle(bundle_file.read_bytes())
    except BundleError as exc:
        fail(f"{bundle_file} is not a draw bundle: {exc}", EXIT_CHECK_FAILED)
    annex = None
    if annex_file is not None:
        try:
            annex = read_bundle(annex_file.read_bytes())
        except BundleError as exc:
            fail(f"{annex_file} is not a staffing annex: {exc}", EXIT_CHECK_FAILED)
    from shuangsuiji.assign.record import verify_draw

    published = _announcements(announcements_dir)
    derive = None
    if "candidates_file" in bundle:  # a columnar bundle's head: its Parquet files are beside it
        from shuangsuiji.columnar import columnar_view

        bundle, derive = columnar_view(bundle, bundle_file.parent)
    report = verify_draw(bundle, annex=annex, announcements=published, derive=derive)
    if others_dir is not None:
        report = _with_others(report, bundle, bundle_file, others_dir)
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "problems": [str(p) for p in report.problems],
                "warnings": list(report.warnings),
            },
        )
    else:
        console().print(
            str(report)
            if not report.ok
            else f"核验通过 OK: {bundle_file} 可完全重新推导 (re-derives exactly)："
            f"抽中 {_selected_count(bundle)} 户 (selected)，"
            f"任务 task {bundle.get('task_label')}"
            + (f"；检查组已用附件重放 (teams replayed) {annex_file}" if annex is not None else "")
        )
        for warning in report.warnings:
            console(stderr=True).print(f"[yellow]注意 warning:[/] {warning}")
    if not report.ok:
        sys.exit(EXIT_CHECK_FAILED)


def _with_others(
    report: VerificationReport, bundle: Mapping[str, Any], own: Path, folder: Path
) -> VerificationReport:
    """``report`` with the problems of ``bundle``'s claims about the tasks whose bundles are
    in ``folder`` (:func:`shuangsuiji.crosscheck.cross_task_problems`)."""
    import attrs

    from shuangsuiji.bundle import BundleError, Problem, read_bundle
    from shuangsuiji.crosscheck import cross_task_problems

    others = []
    for path in sorted(folder.glob("draw-*.json")):
        if path.resolve() == own.resolve():
            continue
        try:
            others.append(read_bundle(path.read_bytes()))
        except BundleError as exc:
            fail(f"{path} is not a draw bundle: {exc}", EXIT_CHECK_FAILED)
    found = tuple(Problem("others", m) for m in cross_task_problems(bundle, others))
    return attrs.evolve(report, problems=(*report.problems, *found)) if found else report


def _selected_count(bundle: Mapping[str, Any]) -> int:
    """How many were selected, in a verified bundle: a columnar head with a picks file lists
    none in its JSON, but its strata's samples add up to them."""
    if "selected" in bundle:
        return len(bundle["selected"])
    return sum(int(e["sample"]) for e in bundle.get("strata", {}).values())


@click.command(name="verify-log")
@db_option
@announcements_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--chain-only",
    is_flag=True,
    help="Check only the hash chain, not the tables against it (faster on large pools).",
)
@handle_errors
def verify_log(
    db_url: str, announcements_dir: Path | None, as_json: bool, chain_only: bool
) -> None:
    """Check the audit log's hash chain and every records table against it (draws, candidates,
    picks, teams, replacements, results, publications, policies, categories and the pools);
    exit 1 naming every event, field, table and row that fails. With --announcements, also
    check the log against the published pre-draw announcements: a log cut back or rewritten
    below a published head, an announcement missing from the log, or a logged one never
    published, fails."""
    from rich.markup import escape

    from shuangsuiji.commitments import log_problems
    from shuangsuiji.registry import Registry

    published = _announcements(announcements_dir)
    store = existing_store(db_url)
    rows = store.audit_rows()
    problems: list[Any] = list(store.verify_log())
    if not chain_only:
        problems += Registry(store).verify_records()
    if published:
        events = [r | {"payload": json.loads(r["payload"])} for r in rows]
        problems += log_problems(events, published)
    if as_json:
        emit_json(
            {
                "events": len(rows),
                "ok": not problems,
                "records_checked": not chain_only,
                "problems": [str(p) for p in problems],
            },
        )
    elif problems:
        for problem in problems:
            console(stderr=True).print(f"[red]FAIL[/] {escape(str(problem))}")
    else:
        head = rows[-1]["hash"] if rows else "-"
        what = (
            "审计日志完整 (audit log intact)"
            if chain_only
            else "审计日志完整，记录一致 (audit log intact and the records agree)"
        )
        console().print(f"{what}：{len(rows)} 条事件 (events)，链头 head {head}")
    if problems:
        sys.exit(EXIT_CHECK_FAILED)
