"""Setting up the store: ``init``, ``import`` (entities, inspectors, conflicts), ``items``,
``departments``, ``policy``, ``plan`` and ``task``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from shuangsuiji.cli.common import (
    actor_option,
    cell,
    console,
    creating_store,
    db_option,
    emit_json,
    encoding_option,
    existing_store,
    handle_errors,
    json_option,
    jsonable,
    reading_registry,
    show_rows,
    shown,
)

if TYPE_CHECKING:
    from rich.progress import Progress


def _fields(value: Any, recurse: bool = True) -> dict[str, Any]:
    """The fields of an attrs value (attrs is loaded only by the commands that print one)."""
    import attrs

    return attrs.asdict(value, recurse=recurse)


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    )


@click.command()
@db_option
@handle_errors
def init(db_url: str) -> None:
    """Create or upgrade the store's schema."""

    store = creating_store(db_url)
    console().print(
        f"数据库已就绪 store ready: {shown(db_url)}（结构版本 schema revision {store.revision()}）"
    )


@click.group(name="import")
def import_group() -> None:
    """Import the pools (两库) and declared conflicts from CSV (all rows or none)."""


@import_group.command(name="entities")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@click.option(
    "--scheme", default="uscc", show_default=True, help="ID scheme: uscc, regno15, local or a+b."
)
@encoding_option
@click.option("--upsert", is_flag=True, help="Replace entities already stored instead of refusing.")
@handle_errors
def import_entities(
    csv_file: Path, db_url: str, actor: str, scheme: str, encoding: str, upsert: bool
) -> None:
    """Import the entity pool (检查对象名录库) from CSV_FILE."""
    from shuangsuiji.io import read_entities_csv

    pool = read_entities_csv(csv_file, id_scheme=scheme, encoding=encoding)
    store = creating_store(db_url)
    with _progress() as bar:
        job = bar.add_task("正在导入 importing entities", total=len(pool))
        report = store.import_entities(
            pool,
            actor=actor,
            source=str(csv_file),
            mode="upsert" if upsert else "add",
            progress=lambda done, _total: bar.update(job, completed=done),
        )
    console().print(
        f"已导入 imported: {report.rows:,} 户检查对象 (entities)，"
        f"名录摘要 digest {report.digest[:16]}…"
    )


@import_group.command(name="inspectors")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@encoding_option
@handle_errors
def import_inspectors(csv_file: Path, db_url: str, actor: str, encoding: str) -> None:
    """Import the inspector pool (执法检查人员名录库) from CSV_FILE."""
    from shuangsuiji.io import read_inspectors_csv

    store = creating_store(db_url)
    known = [d.code for d in store.departments()]
    pool = read_inspectors_csv(csv_file, encoding=encoding, departments=known)
    report = store.import_inspectors(pool, actor=actor, source=str(csv_file))
    console().print(f"已导入 imported: {report.rows:,} 名执法检查人员 (inspectors)")


@import_group.command(name="conflicts")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@encoding_option
@handle_errors
def import_conflicts(csv_file: Path, db_url: str, actor: str, encoding: str) -> None:
    """Import declared conflicts of interest (回避) from CSV_FILE."""
    from shuangsuiji.io import read_conflicts_csv

    conflicts = read_conflicts_csv(csv_file, encoding=encoding)
    report = creating_store(db_url).import_conflicts(conflicts, actor=actor, source=str(csv_file))
    console().print(f"已导入 imported: {report.rows:,} 条利害关系申报 (declared conflicts)")


@click.group()
def items() -> None:
    """The inspection item list (一单)."""


@items.command(name="import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@encoding_option
@handle_errors
def items_import(csv_file: Path, db_url: str, actor: str, encoding: str) -> None:
    """Import items from CSV (code,department,name,legal_basis,target,method,key,...)."""
    from shuangsuiji.io import read_items_csv

    rows = read_items_csv(csv_file, encoding=encoding)
    creating_store(db_url).put_items(rows, actor=actor)
    console().print(f"已保存 stored: {len(rows)} 个抽查事项 (inspection items)")


@items.command(name="list")
@db_option
@json_option
@handle_errors
def items_list(db_url: str, as_json: bool) -> None:
    """List the inspection items."""

    rows = existing_store(db_url).items()
    data = [jsonable(_fields(i)) for i in rows]
    show_rows(data, as_json, ["code", "department", "name", "key", "default_ratio", "method"])


@click.group()
def departments() -> None:
    """Departments taking part in random inspections."""


@departments.command(name="add")
@click.argument("code")
@click.argument("name")
@db_option
@actor_option
@handle_errors
def departments_add(code: str, name: str, db_url: str, actor: str) -> None:
    """Add or rename a department."""
    from shuangsuiji.model import Department

    creating_store(db_url).put_departments([Department(code, name)], actor=actor)
    console().print(f"已保存 stored: 部门 department {code}")


@click.group()
def policy() -> None:
    """The implementation rules (一细则)."""


@policy.command(name="set")
@click.argument("toml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@handle_errors
def policy_set(toml_file: Path, db_url: str, actor: str) -> None:
    """Validate a policy TOML file and store it as the current version."""
    from shuangsuiji.policy import load_policy

    digest = creating_store(db_url).save_policy(load_policy(toml_file), actor=actor)
    console().print(f"已保存 stored: 实施细则 policy（内容哈希 content hash {digest}）")


@policy.command(name="show")
@db_option
@handle_errors
def policy_show(db_url: str) -> None:
    """Print the current policy as TOML with its hash."""

    current = existing_store(db_url).policy()
    click.echo(f"# content hash {current.content_hash}\n{current.to_toml()}")


@click.group()
def plan() -> None:
    """The annual plan (一表)."""


@plan.command(name="create")
@click.argument("code")
@click.option("--year", type=int, required=True)
@click.option("--name", required=True)
@click.option("--department", "departments_", multiple=True, required=True)
@db_option
@actor_option
@handle_errors
def plan_create(
    code: str, year: int, name: str, departments_: tuple[str, ...], db_url: str, actor: str
) -> None:
    """Create or change a plan."""
    from shuangsuiji.model import Plan

    existing_store(db_url, upgrade=True).put_plan(Plan(code, year, name, departments_), actor=actor)
    console().print(f"已保存 stored: 计划 plan {code}")


@plan.command(name="show")
@db_option
@json_option
@handle_errors
def plan_show(db_url: str, as_json: bool) -> None:
    """List plans with their tasks."""

    store = existing_store(db_url)
    data = [
        jsonable(_fields(p)) | {"tasks": [t.code for t in store.tasks(p.code)]}
        for p in store.plans()
    ]
    show_rows(data, as_json, ["code", "year", "name", "departments", "tasks"])


@click.group()
def task() -> None:
    """Inspection tasks (抽查任务)."""


@task.command(name="create")
@click.argument("code")
@click.option("--plan", "plan_code", required=True)
@click.option("--name", required=True)
@click.option(
    "--department",
    "departments_",
    multiple=True,
    required=True,
    help="Repeat for a joint task (联合抽查).",
)
@click.option("--item", "items_", multiple=True, required=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--industry", multiple=True, help="Directed: industry code prefix (repeatable).")
@click.option("--region", multiple=True, help="Directed: division code prefix (repeatable).")
@click.option("--tier", multiple=True, type=click.Choice(["A", "B", "C", "D"]))
@click.option("--tag", multiple=True, help="Directed: entities carrying this tag.")
@click.option("--ratio", type=float, help="One ratio instead of the policy's tier ratios.")
@db_option
@actor_option
@handle_errors
def task_create(
    code: str,
    plan_code: str,
    name: str,
    departments_: tuple[str, ...],
    items_: tuple[str, ...],
    start: Any,
    end: Any,
    industry: tuple[str, ...],
    region: tuple[str, ...],
    tier: tuple[str, ...],
    tag: tuple[str, ...],
    ratio: float | None,
    db_url: str,
    actor: str,
) -> None:
    """Create a task; with --industry/--region/--tier/--tag it is directed (定向)."""
    from shuangsuiji.model import PopulationFilter, Task

    population = PopulationFilter(
        industry_prefixes=industry, region_prefixes=region, tiers=tier, tags_any=tag
    )
    new = Task(
        code,
        plan_code,
        name,
        departments_,
        items_,
        start.date(),
        end.date(),
        population=population,
        ratio=ratio,
    )
    existing_store(db_url, upgrade=True).put_task(new, actor=actor)
    kind = "定向 directed" if new.directed else "不定向 undirected"
    joint = "，联合抽查 joint" if new.joint else ""
    console().print(f"已保存 stored: 任务 task {code}（{kind}{joint}）")


@task.command(name="show")
@click.argument("code")
@db_option
@json_option
@handle_errors
def task_show(code: str, db_url: str, as_json: bool) -> None:
    """Show a task and its draws."""

    registry = reading_registry(db_url)
    found = registry.store.task(code)
    data = jsonable(
        _fields(found, recurse=False)
        | {
            "directed": found.directed,
            "joint": found.joint,
            "population": found.population.to_dict(),
            "draws": registry.draws(code),
        }
    )
    if as_json:
        emit_json(data)
        return
    draws = data.pop("draws")
    for key, value in data.items():
        click.echo(f"{key}: {cell(value)}")
    show_rows(draws, False, ["attempt", "state", "reason", "candidates", "frozen", "drawn", "seed"])
