"""The ``shuangsuiji`` command line.

Exit codes: 0 success; 1 a check failed (``verify``, ``verify-log``); 2 bad input or usage
(invalid file, unknown reference) — the message says what and where; 3 an unexpected error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shuangsuiji import __version__

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn the library's input errors into a clear message and exit code 2."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, KeyError, FileNotFoundError) as exc:
            _fail(str(exc))
        return None

    return wrapper  # type: ignore[return-value]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shuangsuiji")
def main() -> None:
    """双随机、一公开: reproducible random inspections with recusal and publication deadlines."""


db_option = click.option(
    "--db",
    "db_url",
    default="sqlite:///shuangsuiji.db",
    show_default=True,
    envvar="SHUANGSUIJI_DB",
    help="Store URL: a SQLite file (default) or postgresql+psycopg://user@host/db.",
)
actor_option = click.option(
    "--actor",
    required=True,
    envvar="SHUANGSUIJI_ACTOR",
    help="Who is acting (recorded in the audit log).",
)


@main.command()
@db_option
@handle_errors
def init(db_url: str) -> None:
    """Create or upgrade the store's schema."""
    from shuangsuiji.store import Store

    store = Store.open(db_url)
    console.print(f"store ready at {db_url} (schema revision {store.revision()})")


@main.group(name="import")
def import_group() -> None:
    """Import the pools (两库) and declared conflicts from CSV (all rows or none)."""


@import_group.command(name="entities")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@click.option(
    "--scheme", default="uscc", show_default=True, help="ID scheme: uscc, regno15, local or a+b."
)
@click.option("--encoding", default="utf-8", show_default=True)
@click.option("--upsert", is_flag=True, help="Replace entities already stored instead of refusing.")
@handle_errors
def import_entities(
    csv_file: Path, db_url: str, actor: str, scheme: str, encoding: str, upsert: bool
) -> None:
    """Import the entity pool (检查对象名录库) from CSV_FILE."""
    from shuangsuiji.io import read_entities_csv
    from shuangsuiji.store import Store

    pool = read_entities_csv(csv_file, id_scheme=scheme, encoding=encoding)
    store = Store.open(db_url)
    with _progress() as bar:
        job = bar.add_task("importing entities", total=len(pool))
        report = store.import_entities(
            pool,
            actor=actor,
            source=str(csv_file),
            mode="upsert" if upsert else "add",
            progress=lambda done, _total: bar.update(job, completed=done),
        )
    console.print(f"imported {report.rows:,} entities (digest {report.digest[:16]}…)")


@import_group.command(name="inspectors")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@click.option("--encoding", default="utf-8", show_default=True)
@handle_errors
def import_inspectors(csv_file: Path, db_url: str, actor: str, encoding: str) -> None:
    """Import the inspector pool (执法检查人员名录库) from CSV_FILE."""
    from shuangsuiji.io import read_inspectors_csv
    from shuangsuiji.store import Store

    store = Store.open(db_url)
    known = [d.code for d in store.departments()]
    pool = read_inspectors_csv(csv_file, encoding=encoding, departments=known)
    report = store.import_inspectors(pool, actor=actor, source=str(csv_file))
    console.print(f"imported {report.rows:,} inspectors")


@import_group.command(name="conflicts")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@click.option("--encoding", default="utf-8", show_default=True)
@handle_errors
def import_conflicts(csv_file: Path, db_url: str, actor: str, encoding: str) -> None:
    """Import declared conflicts of interest (回避) from CSV_FILE."""
    from shuangsuiji.io import read_conflicts_csv
    from shuangsuiji.store import Store

    conflicts = read_conflicts_csv(csv_file, encoding=encoding)
    report = Store.open(db_url).import_conflicts(conflicts, actor=actor, source=str(csv_file))
    console.print(f"imported {report.rows:,} declared conflicts")


@main.command()
@click.option(
    "--dir",
    "out_dir",
    default="shuangsuiji-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the database, CSVs and reports (replaced if it holds an earlier demo).",
)
@click.option("--entities", "n_entities", default=20_000, show_default=True, help="City size.")
@click.option("--seed", default=2026, show_default=True, help="Seed of the synthetic city.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handle_errors
def demo(out_dir: Path, n_entities: int, seed: int, as_json: bool) -> None:
    """Run a whole cycle on a synthetic city in an embedded SQLite database."""
    from shuangsuiji.demo import run_demo

    summary = run_demo(out_dir, n_entities=n_entities, seed=seed, console=err_console)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    console.print(f"[bold]{summary['title']}[/]")
    for line in summary["story"]:
        console.print(f"  {line}")
    table = Table(title="Files written", show_header=True)
    table.add_column("file")
    table.add_column("what it is")
    for name, what in summary["files"].items():
        table.add_row(name, what)
    console.print(table)
    for line in summary.get("next", []):
        console.print(f"  {line}")


@main.command()
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def verify(bundle_file: Path, as_json: bool) -> None:
    """Re-derive a draw from its bundle alone; exit 1 naming every field that does not match."""
    from shuangsuiji.bundle import verify_bundle

    try:
        bundle = json.loads(bundle_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"{bundle_file}: not a JSON draw bundle ({exc})", EXIT_CHECK_FAILED)
    report = verify_bundle(bundle)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "problems": [str(p) for p in report.problems],
                    "warnings": list(report.warnings),
                },
                ensure_ascii=False,
            )
        )
    else:
        console.print(
            str(report)
            if not report.ok
            else f"OK: {bundle_file} re-derives exactly "
            f"({len(bundle.get('selected', []))} selected, task {bundle.get('task_label')})"
        )
        for warning in report.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}")
    if not report.ok:
        sys.exit(EXIT_CHECK_FAILED)


@main.command(name="verify-log")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def verify_log(db_url: str, as_json: bool) -> None:
    """Check the audit log's hash chain; exit 1 naming every event and field that fails."""
    from shuangsuiji.store import Store

    store = Store.open(db_url, upgrade=False)
    rows = store.audit_rows()
    problems = store.verify_log()
    if as_json:
        click.echo(
            json.dumps(
                {"events": len(rows), "ok": not problems, "problems": [str(p) for p in problems]},
                ensure_ascii=False,
            )
        )
    elif problems:
        for problem in problems:
            err_console.print(f"[red]FAIL[/] {problem}")
    else:
        head = rows[-1]["hash"] if rows else "-"
        console.print(f"audit log intact: {len(rows)} events, head {head}")
    if problems:
        sys.exit(EXIT_CHECK_FAILED)


@main.command()
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
@handle_errors
def due(day: Any, days: int, estimate: bool, notice: tuple[Path, ...]) -> None:
    """Print the DAYS-th working day strictly after DAY (default 20: the publication deadline)."""
    from shuangsuiji.workdays import WorkCalendar

    calendar = WorkCalendar.official()
    for path in notice:
        calendar = calendar.with_notice(path)
    result = calendar.working_days_after(
        date(day.year, day.month, day.day), days, estimate=estimate
    )
    label = f"  (ESTIMATE: {result.basis})" if result.estimated else ""
    console.print(f"{result.date.isoformat()}{label}")


def run() -> None:  # pragma: no cover - console entry for python -m
    main()


if __name__ == "__main__":  # pragma: no cover
    main()
