"""The pools (两库) as stored: ``pool list``, ``pool show``; and ``template``, the CSV files
the importers accept, with one example row each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shuangsuiji.cli.common import (
    console,
    db_option,
    existing_store,
    handle_errors,
    json_option,
    show_rows,
)

if TYPE_CHECKING:
    from shuangsuiji.store import Store

POOLS = {
    "entities": ("检查对象名录库", "entities"),
    "inspectors": ("执法检查人员名录库", "inspectors"),
    "conflicts": ("回避关系", "conflicts"),
}
# Columns that hold several values (``|`` in the CSV, an array in JSON) and yes/no columns.
_LISTS = {"tags", "qualifications"}
_FLAGS = {"active"}

TEMPLATES = {
    "entities": "shuangsuiji import entities",
    "inspectors": "shuangsuiji import inspectors",
    "conflicts": "shuangsuiji import conflicts",
    "items": "shuangsuiji items import",
    "results": "shuangsuiji results import",
    "regions": "shuangsuiji regions import",
}


@click.group()
def pool() -> None:
    """The stored pools (两库): entities, inspectors, and declared conflicts."""


@pool.command(name="list")
@db_option
@json_option
@handle_errors
def pool_list(db_url: str, as_json: bool) -> None:
    """How many rows each pool holds."""
    counts = existing_store(db_url).counts()
    rows = [
        {"pool": name, "label": label, "rows": counts[table]}
        for name, (label, table) in POOLS.items()
    ]
    show_rows(rows, as_json, ["pool", "label", "rows"])


@pool.command(name="show")
@click.argument("which", type=click.Choice(list(POOLS)))
@click.option("--limit", type=click.IntRange(min=0), help="At most this many rows (default: all).")
@db_option
@json_option
@handle_errors
def pool_show(which: str, limit: int | None, db_url: str, as_json: bool) -> None:
    """Print the stored rows of one pool, in the columns of its import CSV (sorted by ID)."""
    header, rows = _pool_rows(existing_store(db_url), which)
    show_rows(rows[:limit] if limit is not None else rows, as_json, header)


def _pool_rows(store: Store, which: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The pool's rows as its CSV writer writes them (one mapping: the import format)."""
    import csv
    import tempfile

    from shuangsuiji.io import write_conflicts_csv, write_entities_csv, write_inspectors_csv

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{which}.csv"
        if which == "entities":
            write_entities_csv(store.load_entities(), path)
        elif which == "inspectors":
            write_inspectors_csv(store.load_inspectors(), path)
        else:
            write_conflicts_csv(store.conflicts(), path)
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or []), [_typed(r) for r in reader]


def _typed(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    for column in _LISTS & row.keys():
        out[column] = [v for v in row[column].split("|") if v]
    for column in _FLAGS & row.keys():
        out[column] = row[column] == "true"
    return out


@click.command()
@click.argument("kind", type=click.Choice(list(TEMPLATES)))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the template to this file (UTF-8) instead of printing it.",
)
@handle_errors
def template(kind: str, out: Path | None) -> None:
    """Print (or write with --out) a template CSV: the header the importer accepts and one
    example row to overwrite (docs/cli.md lists every column)."""
    from importlib import resources

    text = (resources.files("shuangsuiji") / "templates" / f"{kind}.csv").read_text("utf-8")
    if out is None:
        click.echo(text, nl=False)
        return
    if out.exists():
        from shuangsuiji.cli.common import fail

        fail(f"{out} 已存在 (exists)：换一个文件名，或先移走它 (nothing was written)")
    out.write_text(text, encoding="utf-8")
    console().print(f"已写入 wrote: {out}；填好后导入 (fill it in, then): {TEMPLATES[kind]} {out}")
