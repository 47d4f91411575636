"""``due``: the Nth working day after a date."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from shuangsuiji.cli.common import console, emit_json, handle_errors, json_option


@click.command()
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--days", default=20, show_default=True, help="Working days after DAY.")
@click.option(
    "--estimate", is_flag=True, help="Beyond the official calendar, count weekends only (labelled)."
)
@click.option(
    "--notice",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="A holiday notice file for a year not yet shipped.",
)
@json_option
@handle_errors
def due(day: Any, days: int, estimate: bool, notice: tuple[Path, ...], as_json: bool) -> None:
    """Print the DAYS-th working day strictly after DAY (default 20: the publication deadline)."""
    from shuangsuiji.workdays import WorkCalendar

    calendar = WorkCalendar.official()
    for path in notice:
        calendar = calendar.with_notice(path)
    start = date(day.year, day.month, day.day)
    result = calendar.working_days_after(start, days, estimate=estimate)
    if as_json:
        emit_json(
            {
                "start": start.isoformat(),
                "days": days,
                "date": result.date.isoformat(),
                "estimated": result.estimated,
                "basis": result.basis,
            }
        )
        return
    from shuangsuiji.labels import due_basis_label

    basis = due_basis_label(result.basis, estimated=result.estimated)
    label = f"  （{basis} (ESTIMATE)）" if result.estimated else ""
    console().print(f"{result.date.isoformat()}{label}")
