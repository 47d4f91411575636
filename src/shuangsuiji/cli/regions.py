"""``shuangsuiji regions``: the names of administrative divisions, for the official pages."""

from __future__ import annotations

from pathlib import Path

import click

from shuangsuiji.cli.common import (
    actor_option,
    console,
    creating_store,
    db_option,
    encoding_option,
    existing_store,
    handle_errors,
    json_option,
    show_rows,
)


@click.group()
def regions() -> None:
    """区划名称 (region names): printed instead of codes on draw records and public pages."""


@regions.command(name="import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@encoding_option
@db_option
@actor_option
@handle_errors
def regions_import(csv_file: Path, encoding: str, db_url: str, actor: str) -> None:
    """Import region names from CSV (code,name: 行政区划代码,名称), all or nothing."""
    from shuangsuiji.io import read_regions_csv

    names = read_regions_csv(csv_file, encoding=encoding)
    creating_store(db_url).put_regions(names, actor=actor)
    console().print(f"已保存 stored: {len(names)} 个区划名称 (region names)")


@regions.command(name="list")
@db_option
@json_option
@handle_errors
def regions_list(db_url: str, as_json: bool) -> None:
    """List the stored region names."""
    rows = [{"code": c, "name": n} for c, n in sorted(existing_store(db_url).regions().items())]
    show_rows(rows, as_json, ["code", "name"])
