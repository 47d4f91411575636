"""``demo``: a whole cycle on a synthetic city."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from shuangsuiji.cli.common import console, emit_json, handle_errors


@click.command()
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

    summary = run_demo(out_dir, n_entities=n_entities, seed=seed, console=console(stderr=True))
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    console().print(f"[bold]{summary['title']}[/]")
    for line in summary["story"]:
        console().print(f"  {line}")
    from rich.table import Table

    table = Table(title="已写入的文件 files written", show_header=True)
    table.add_column("文件 file")
    table.add_column("说明 what it is")
    for name, what in summary["files"].items():
        table.add_row(name, what)
    console().print(table)
    for line in summary.get("next", []):
        console().print(f"  {line}")
