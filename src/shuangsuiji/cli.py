"""The ``shuangsuiji`` command line.

Exit codes (the families are those of :mod:`shuangsuiji.errors`):

- 0 success;
- 1 a check failed (``verify``, ``verify-log``, ``health``);
- 2 invalid input or usage (a bad file, ID, policy or option) — the message says what and where;
- 3 not found (a task, plan or stored policy the command names);
- 4 refused by the rules or the current state (a second draw without a reason, a duplicate);
- 5 an integrity failure (records that must agree do not).

Any other exception is a bug: it is not turned into a message, and Python prints its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from shuangsuiji._version import __version__
from shuangsuiji.errors import (
    IntegrityFailure,
    InvalidInputError,
    NotFoundError,
    RefusedError,
    ShuangsuijiError,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

if TYPE_CHECKING:
    from shuangsuiji.registry import Registry
    from shuangsuiji.store import Store

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def _console(stderr: bool = False) -> Console:
    """The console for results (stdout) or for errors and progress (stderr), made on first use:
    importing rich costs more than the rest of ``shuangsuiji --help``."""
    from rich.console import Console

    if stderr:
        return Console(stderr=True, highlight=False)
    return Console(highlight=False, soft_wrap=True)


def _fields(value: Any, recurse: bool = True) -> dict[str, Any]:
    """The fields of an attrs value (attrs is loaded only by the commands that print one)."""
    import attrs

    return attrs.asdict(value, recurse=recurse)


EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_FOUND = 3
EXIT_REFUSED = 4
EXIT_INTEGRITY = 5

# The exit status of each error family; the first family an error belongs to decides, so a
# ``NotStoredError`` (a refusal that is a not-found) exits 3.
EXIT_CODES: tuple[tuple[type[ShuangsuijiError], int], ...] = (
    (IntegrityFailure, EXIT_INTEGRITY),
    (NotFoundError, EXIT_NOT_FOUND),
    (InvalidInputError, EXIT_BAD_INPUT),
    (RefusedError, EXIT_REFUSED),
)


def exit_code(error: ShuangsuijiError) -> int:
    """The CLI's exit status for one of the library's errors.

    >>> from shuangsuiji.store import NotStoredError
    >>> exit_code(NotStoredError("no task 'T9'")), exit_code(InvalidInputError("bad ID"))
    (3, 2)
    """
    return next((code for family, code in EXIT_CODES if isinstance(error, family)), EXIT_BAD_INPUT)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    from rich.markup import escape

    _console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")  # "[ratios]" is text
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn the library's errors into a clear message and the exit status of their family.

    Only :class:`~shuangsuiji.errors.ShuangsuijiError` is caught: a ``KeyError`` or a
    ``TypeError`` is a bug, and hiding it behind a one-line message would hide the bug.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ShuangsuijiError as exc:
            _fail(str(exc), exit_code(exc))
        return None

    return wrapper  # type: ignore[return-value]


def _existing(db_url: str) -> Store:
    """The store at ``db_url`` for a command that only reads: it must exist and hold a
    shuangsuiji schema. Nothing is created or upgraded (opening a missing SQLite file would
    create it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from shuangsuiji.store import Store, normalise_url

    try:
        url = make_url(normalise_url(db_url))
    except ArgumentError as exc:
        _fail(f"--db {db_url!r} is not a database URL ({exc})")
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).is_file():
        _fail(
            f"no database at {url.database}: check --db (a command that only reads never "
            "creates one; `shuangsuiji init --db URL` does)"
        )
    store = Store.open(db_url, upgrade=False)
    try:
        revision = store.revision()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(f"{db_url} cannot be read as a database ({reason})")
    if revision is None:
        _fail(f"{db_url} holds no shuangsuiji store; `shuangsuiji init --db URL` creates one")
    return store


def _reading(db_url: str) -> Registry:
    """A registry over the existing store at ``db_url``, for a command that only reads."""
    from shuangsuiji.registry import Registry

    return Registry(_existing(db_url))


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
        console=_console(stderr=True),
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
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
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
    _console().print(f"store ready at {db_url} (schema revision {store.revision()})")


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
    _console().print(f"imported {report.rows:,} entities (digest {report.digest[:16]}…)")


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
    _console().print(f"imported {report.rows:,} inspectors")


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
    _console().print(f"imported {report.rows:,} declared conflicts")


@main.group()
def items() -> None:
    """The inspection item list (一单)."""


@items.command(name="import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@handle_errors
def items_import(csv_file: Path, db_url: str, actor: str) -> None:
    """Import items from CSV (code,department,name,legal_basis,target,method,key,...)."""
    from shuangsuiji.io import read_items_csv
    from shuangsuiji.store import Store

    rows = read_items_csv(csv_file)
    Store.open(db_url).put_items(rows, actor=actor)
    _console().print(f"stored {len(rows)} inspection items")


@items.command(name="list")
@db_option
@json_option
@handle_errors
def items_list(db_url: str, as_json: bool) -> None:
    """List the inspection items."""

    rows = _existing(db_url).items()
    data = [_plain(_fields(i)) for i in rows]
    _output(data, as_json, ["code", "department", "name", "key", "default_ratio", "method"])


@main.group()
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
    from shuangsuiji.store import Store

    Store.open(db_url).put_departments([Department(code, name)], actor=actor)
    _console().print(f"department {code} stored")


@main.group()
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
    from shuangsuiji.store import Store

    digest = Store.open(db_url).save_policy(load_policy(toml_file), actor=actor)
    _console().print(f"policy stored (content hash {digest})")


@policy.command(name="show")
@db_option
@handle_errors
def policy_show(db_url: str) -> None:
    """Print the current policy as TOML with its hash."""

    current = _existing(db_url).policy()
    click.echo(f"# content hash {current.content_hash}\n{current.to_toml()}")


@main.group()
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
    from shuangsuiji.store import Store

    Store.open(db_url).put_plan(Plan(code, year, name, departments_), actor=actor)
    _console().print(f"plan {code} stored")


@plan.command(name="show")
@db_option
@json_option
@handle_errors
def plan_show(db_url: str, as_json: bool) -> None:
    """List plans with their tasks."""

    store = _existing(db_url)
    data = [
        _plain(_fields(p)) | {"tasks": [t.code for t in store.tasks(p.code)]} for p in store.plans()
    ]
    _output(data, as_json, ["code", "year", "name", "departments", "tasks"])


@main.group()
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
    from shuangsuiji.store import Store

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
    Store.open(db_url).put_task(new, actor=actor)
    kind = "directed" if new.directed else "undirected"
    _console().print(f"task {code} stored ({kind}{', joint' if new.joint else ''})")


@task.command(name="show")
@click.argument("code")
@db_option
@json_option
@handle_errors
def task_show(code: str, db_url: str, as_json: bool) -> None:
    """Show a task and its draws."""

    registry = _reading(db_url)
    found = registry.store.task(code)
    data = _plain(_fields(found, recurse=False)) | {
        "population": found.population.to_dict(),
        "draws": registry.draws(code),
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for key, value in data.items():
        _console().print(f"[bold]{key}[/]: {value}")


REDRAW_CHOICES = click.Choice(
    [
        "pool_data_error",
        "policy_error",
        "ceremony_abandoned",
        "system_failure",
        "supervisor_order",
    ]
)
redraw_options = [
    click.option(
        "--reason",
        default="",
        type=click.Choice(["", *REDRAW_CHOICES.choices]),
        help="Re-draws only: why (重新抽取原因), one of the listed codes.",
    ),
    click.option("--text", default="", help="Re-draws only: what happened (说明)."),
    click.option(
        "--approved-by", default="", help="Re-draws only: the second person who approved it."
    ),
]


def _redraw(func: F) -> F:
    for option in reversed(redraw_options):
        func = option(func)
    return func


@main.command()
@click.argument("task_code")
@db_option
@actor_option
@_redraw
@click.option("--cutoff", type=click.DateTime(["%Y-%m-%d"]), help="Default: the task's start.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the bundle.")
@json_option
@handle_errors
def draw(
    task_code: str,
    db_url: str,
    actor: str,
    reason: str,
    text: str,
    approved_by: str,
    cutoff: Any,
    out: Path | None,
    as_json: bool,
) -> None:
    """Draw TASK_CODE with a seed made by the system alone (only where the policy allows it;
    otherwise run the ceremony: `shuangsuiji seed --help`)."""
    from shuangsuiji._tabular import MAX_DATE, MIN_DATE
    from shuangsuiji.registry import Registry

    if cutoff is not None and not MIN_DATE <= cutoff.date() <= MAX_DATE:
        _fail(
            f"--cutoff {cutoff.date()} is out of range: give the day the candidate set is taken "
            f"on, between {MIN_DATE} and {MAX_DATE} (default: the task's start)"
        )
    registry = Registry.open(db_url)
    result = registry.draw(
        task_code,
        actor=actor,
        reason=reason,
        text=text,
        approved_by=approved_by,
        cutoff=cutoff.date() if cutoff else None,
    )
    _show_draw(registry, result, task_code, out, as_json)


def _show_draw(registry: Any, result: Any, task_code: str, out: Path | None, as_json: bool) -> None:
    if out is not None:
        registry.export_bundle(task_code, out)
    rows = [
        {"rank": i, "entity": p.id, "stratum": p.stratum, "ticket": p.ticket[:16]}
        for i, p in enumerate(result.draw.selected, start=1)
    ]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "task": task_code,
                    "attempt": result.attempt,
                    "seed": result.draw.seed,
                    "selected": rows,
                },
                ensure_ascii=False,
            )
        )
        return
    _console().print(
        f"task {task_code}, attempt {result.attempt}: {len(rows)} selected, seed {result.draw.seed}"
    )
    _output(rows[:20], False, ["rank", "entity", "stratum", "ticket"])
    if len(rows) > 20:
        _console().print(f"… and {len(rows) - 20} more (use --json or --out)")


@main.group()
def seed() -> None:
    """The seed ceremony (随机数仪式): freeze, commit, announce, reveal, select.

    \b
    1. seed freeze TASK                    the drawer freezes the candidates
    2. seed contribute TASK --party P      each party makes its secret and commitment
    3. seed commit TASK --party P --commitment HEX      (entered by that party)
       or: seed public TASK --source "label|reference|YYYY-MM-DD" ...
    4. seed announce TASK --out FILE       publish FILE before anything is revealed
    5. seed reveal TASK --party P --contribution HEX    (each party)
       or: seed values TASK VALUE ...      once the public values are out
    6. seed select TASK                    the draw, from the combined seed
    A party that never reveals: seed abandon TASK (a recorded, approved re-draw).
    """


@seed.command(name="freeze")
@click.argument("task_code")
@db_option
@actor_option
@_redraw
@click.option("--cutoff", type=click.DateTime(["%Y-%m-%d"]), help="Default: the task's start.")
@json_option
@handle_errors
def seed_freeze(
    task_code: str,
    db_url: str,
    actor: str,
    reason: str,
    text: str,
    approved_by: str,
    cutoff: Any,
    as_json: bool,
) -> None:
    """Freeze TASK_CODE's candidates and print the pool digest the parties commit to."""
    from shuangsuiji.registry import Registry

    frozen = Registry.open(db_url).freeze(
        task_code,
        actor=actor,
        reason=reason,
        text=text,
        approved_by=approved_by,
        cutoff=cutoff.date() if cutoff else None,
    )
    data = {"task": task_code, "pool_digest": frozen.digest, "candidates": frozen.size}
    _output([data], as_json, ["task", "pool_digest", "candidates"])


@seed.command(name="contribute")
@click.argument("task_code")
@click.option("--party", required=True, help="The party's name, as it will commit.")
@click.option("--pool-digest", required=True, help="From `seed freeze` (or the staffing digest).")
@json_option
@handle_errors
def seed_contribute(task_code: str, party: str, pool_digest: str, as_json: bool) -> None:
    """Make a party's secret contribution and its commitment (offline; nothing is stored).

    Keep the contribution secret until the reveal; give the commitment to the drawer."""
    from shuangsuiji.seeds import party_commitment, random_seed

    value = random_seed()
    data = {
        "party": party,
        "contribution": value.hex(),
        "commitment": party_commitment(task_code, pool_digest, party, value),
    }
    _output([data], as_json, ["party", "contribution", "commitment"])


@seed.command(name="commit")
@click.argument("task_code")
@click.option("--party", required=True)
@click.option("--commitment", required=True, help="64 hex characters from `seed contribute`.")
@click.option("--teams", is_flag=True, help="Commit to the team seed (after `teams freeze`).")
@db_option
@actor_option
@handle_errors
def seed_commit(
    task_code: str, party: str, commitment: str, teams: bool, db_url: str, actor: str
) -> None:
    """Record PARTY's commitment (the person entering it is --actor)."""
    from shuangsuiji.registry import Registry

    registry = Registry.open(db_url)
    step = registry.commit_team_seed if teams else registry.commit_seed
    step(task_code, party, commitment, actor=actor)
    _console().print(
        f"{party} committed to {'the team seed' if teams else 'the seed'} of {task_code}"
    )


@seed.command(name="public")
@click.argument("task_code")
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    help='A public value to come: "label|reference|YYYY-MM-DD" (e.g. a lottery draw).',
)
@db_option
@actor_option
@handle_errors
def seed_public(task_code: str, sources: tuple[str, ...], db_url: str, actor: str) -> None:
    """Declare public values that will make the seed; their dates must be after today."""
    from shuangsuiji.registry import Registry
    from shuangsuiji.seeds import PublicSource

    parsed = []
    for text in sources:
        parts = text.split("|")
        if len(parts) != 3:
            _fail(f'--source {text!r}: write "label|reference|YYYY-MM-DD"')
        parsed.append(PublicSource(parts[0], parts[1], date.fromisoformat(parts[2])))
    digest = Registry.open(db_url).declare_public_seed(task_code, parsed, actor=actor)
    _console().print(f"public values declared for {task_code}: digest {digest}")


@seed.command(name="announce")
@click.argument("task_code")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--teams", is_flag=True, help="Announce the team seed (after `teams freeze`).")
@db_option
@actor_option
@handle_errors
def seed_announce(task_code: str, out: Path, teams: bool, db_url: str, actor: str) -> None:
    """Issue the pre-draw announcement and write it to OUT: publish it before any reveal."""
    from shuangsuiji.exports import to_json, write_text
    from shuangsuiji.registry import Registry

    registry = Registry.open(db_url)
    step = registry.announce_teams if teams else registry.announce
    announcement = step(task_code, actor=actor)
    write_text(to_json(announcement), out)
    _console().print(
        f"pre-draw announcement of {task_code}: {out} (digest {announcement['digest']})"
    )


@seed.command(name="reveal")
@click.argument("task_code")
@click.option("--party", required=True)
@click.option("--contribution", required=True, help="The hex contribution from `seed contribute`.")
@click.option("--teams", is_flag=True, help="Reveal to the team seed instead.")
@db_option
@actor_option
@handle_errors
def seed_reveal(
    task_code: str, party: str, contribution: str, teams: bool, db_url: str, actor: str
) -> None:
    """Reveal PARTY's contribution (checked against its commitment)."""
    from shuangsuiji.registry import Registry

    try:
        value = bytes.fromhex(contribution)
    except ValueError:
        _fail(f"--contribution must be hex (from `seed contribute`), got {contribution[:20]!r}")
    registry = Registry.open(db_url)
    step = registry.reveal_team_seed if teams else registry.reveal_seed
    step(task_code, party, value, actor=actor)
    _console().print(f"{party} revealed for {task_code}")


@seed.command(name="values")
@click.argument("task_code")
@click.argument("values", nargs=-1, required=True)
@db_option
@actor_option
@handle_errors
def seed_values(task_code: str, values: tuple[str, ...], db_url: str, actor: str) -> None:
    """Enter the declared public values as published, one per source, in order."""
    from shuangsuiji.registry import Registry

    Registry.open(db_url).reveal_public_values(task_code, list(values), actor=actor)
    _console().print(f"public values entered for {task_code}")


@seed.command(name="select")
@click.argument("task_code")
@db_option
@actor_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the bundle.")
@json_option
@handle_errors
def seed_select(task_code: str, db_url: str, actor: str, out: Path | None, as_json: bool) -> None:
    """Draw TASK_CODE from the combined seed once every party revealed."""
    from shuangsuiji.registry import Registry

    registry = Registry.open(db_url)
    _show_draw(registry, registry.select(task_code, actor=actor), task_code, out, as_json)


@seed.command(name="abandon")
@click.argument("task_code")
@click.option("--reason", required=True, type=REDRAW_CHOICES)
@click.option("--text", required=True, help="What happened (说明).")
@click.option("--approved-by", required=True, help="The second person who approved it.")
@db_option
@actor_option
@handle_errors
def seed_abandon(
    task_code: str, reason: str, text: str, approved_by: str, db_url: str, actor: str
) -> None:
    """Abandon TASK_CODE's frozen attempt (e.g. a party never revealed); it counts as a draw."""
    from shuangsuiji.registry import Registry

    Registry.open(db_url).abandon(
        task_code, reason=reason, text=text, approved_by=approved_by, actor=actor
    )
    _console().print(f"attempt of {task_code} abandoned ({reason}); the next draw is a re-draw")


@main.command()
@click.argument("task_code")
@click.argument("entity_id")
@click.option(
    "--reason",
    required=True,
    type=click.Choice(
        [
            "deregistered_before_draw",
            "not_found_at_address",
            "duplicate_record",
            "outside_jurisdiction",
            "other",
        ]
    ),
)
@click.option("--note", default="", help="Explanation (required with --reason other).")
@db_option
@actor_option
@handle_errors
def replace(
    task_code: str, entity_id: str, reason: str, note: str, db_url: str, actor: str
) -> None:
    """Replace a selected entity by the next alternate of its stratum (recorded)."""
    from shuangsuiji.registry import Registry

    by = Registry.open(db_url).replace(task_code, entity_id, reason, actor=actor, note=note)
    _console().print(f"{entity_id} replaced by {by} ({reason})")


@main.group()
def teams() -> None:
    """Inspection teams (the second random of 双随机)."""


@teams.command(name="assign")
@click.argument("task_code")
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), help="Inspection date (certificates).")
@db_option
@actor_option
@json_option
@handle_errors
def teams_assign(task_code: str, on: Any, db_url: str, actor: str, as_json: bool) -> None:
    """Draw the teams with a team seed made by the system alone (where the policy allows it;
    otherwise: teams freeze, seed commit/reveal --teams, teams draw)."""
    from shuangsuiji.registry import Registry

    registry = Registry.open(db_url)
    registry.assign_teams(task_code, actor=actor, on=on.date() if on else None)
    _show_teams(registry.teams(task_code), as_json)


@teams.command(name="freeze")
@click.argument("task_code")
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), help="Inspection date (certificates).")
@db_option
@actor_option
@handle_errors
def teams_freeze(task_code: str, on: Any, db_url: str, actor: str) -> None:
    """Freeze the staffing of TASK_CODE's team draw; prints the digest team parties commit to."""
    from shuangsuiji.registry import Registry

    digest = Registry.open(db_url).freeze_staffing(
        task_code, actor=actor, on=on.date() if on else None
    )
    _console().print(f"staffing of {task_code} frozen: digest {digest}")


@teams.command(name="draw")
@click.argument("task_code")
@db_option
@actor_option
@json_option
@handle_errors
def teams_draw(task_code: str, db_url: str, actor: str, as_json: bool) -> None:
    """Draw the teams once every team-seed party revealed (`seed reveal --teams`)."""
    from shuangsuiji.registry import Registry

    registry = Registry.open(db_url)
    registry.draw_teams(task_code, actor=actor)
    _show_teams(registry.teams(task_code), as_json)


@teams.command(name="show")
@click.argument("task_code")
@db_option
@json_option
@handle_errors
def teams_show(task_code: str, db_url: str, as_json: bool) -> None:
    """Show the current teams of TASK_CODE."""

    _show_teams(_reading(db_url).teams(task_code), as_json)


def _show_teams(current: dict[str, tuple[str, ...]], as_json: bool) -> None:
    rows = [{"entity": e, "inspectors": " ".join(i)} for e, i in sorted(current.items())]
    _output(rows, as_json, ["entity", "inspectors"])


@teams.command(name="reassign")
@click.argument("task_code")
@click.argument("entity_id")
@click.argument("inspector_id")
@click.option(
    "--reason",
    required=True,
    type=click.Choice(
        ["conflict_declared", "illness", "leave", "certificate", "reassigned", "other"]
    ),
)
@click.option("--text", default="", help="Explanation (required with --reason other).")
@db_option
@actor_option
@handle_errors
def teams_reassign(
    task_code: str,
    entity_id: str,
    inspector_id: str,
    reason: str,
    text: str,
    db_url: str,
    actor: str,
) -> None:
    """Take INSPECTOR_ID off ENTITY_ID's team and draw a replacement (recorded)."""
    from shuangsuiji.registry import Registry

    team = Registry.open(db_url).reassign(
        task_code, entity_id, inspector_id, reason, actor=actor, text=text
    )
    _console().print(f"new team of {entity_id}: {', '.join(team)}")


@main.group()
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
    from shuangsuiji.registry import Registry

    result = Registry.open(db_url).record_result(
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
    _console().print(f"recorded version {result.version}: {'、'.join(result.labels())}")


@results.command(name="import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@actor_option
@handle_errors
def results_import(csv_file: Path, db_url: str, actor: str) -> None:
    """Import results from CSV (task,entity_id,item,categories,...), all rows or none."""
    from shuangsuiji.registry import Registry

    done = Registry.open(db_url).import_results(csv_file, actor=actor)
    _console().print(f"recorded {len(done)} results")


@main.command()
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
    for record in _reading(db_url).publications(estimate=estimate):
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
                "status": f"{status.value} {status.label_zh}",
                "published": record.published.isoformat() if record.published else "",
            }
        )
    _output(rows, as_json, ["task", "entity", "name", "completed", "due", "status", "published"])


@main.command()
@click.argument("task_code")
@click.argument("entity_id")
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
    entity_id: str,
    on: Any,
    reason: str,
    approved_by: str,
    db_url: str,
    actor: str,
) -> None:
    """Record the publication (公示) of ENTITY_ID's results in TASK_CODE, today."""
    from shuangsuiji.registry import Registry

    record = Registry.open(db_url).publish(
        task_code,
        entity_id,
        on=on.date() if on else None,
        reason=reason,
        approved_by=approved_by,
        actor=actor,
    )
    _console().print(f"published {entity_id} on {record.published} (due {record.due})")


@main.group()
def export() -> None:
    """Export draw bundles, the audit log, publication records and announcements."""


@export.command(name="bundle")
@click.argument("task_code")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@db_option
@handle_errors
def export_bundle(task_code: str, out: Path, db_url: str) -> None:
    """Write the draw bundle of TASK_CODE (JSON) for `shuangsuiji verify`."""

    _reading(db_url).export_bundle(task_code, out)
    _console().print(f"wrote {out}")


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
    from shuangsuiji.registry import Registry

    Registry.open(db_url).export_staffing_annex(task_code, out, actor=actor, recipient=recipient)
    _console().print(f"wrote {out} (sealed annex: supervising office only, do not publish)")


@export.command(name="log")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@db_option
@handle_errors
def export_log(out: Path, db_url: str) -> None:
    """Write the audit log as JSON Lines (one canonical event per line)."""
    from shuangsuiji.audit import dumps_jsonl

    store = _existing(db_url)
    out.write_text(dumps_jsonl(store.audit_rows()), encoding="utf-8")
    _console().print(f"wrote {out}")


@export.command(name="publications")
@click.option(
    "-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True
)
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Default: today.")
@click.option("--issuer", default="", help="The publishing authority's name.")
@db_option
@handle_errors
def export_publications(out_dir: Path, today: Any, issuer: str, db_url: str) -> None:
    """Write publication.html (public: published records only), publication-internal.html
    (内部: unpublished records, deadlines, selected entities without a result), and
    publications.csv (UTF-8 BOM) and .json (internal)."""

    day = today.date() if today else date.today()
    written = _reading(db_url).export_publications(out_dir, today=day, issuer=issuer)
    _console().print(f"wrote {', '.join(written)} to {out_dir}")


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

    written = _reading(db_url).export_announcements(
        out_dir, plan=plan_code, issued_on=issued.date() if issued else None
    )
    for name in written:
        _console().print(f"wrote {out_dir / name}")


@export.command(name="record")
@click.argument("task_code")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--agency", default="", help="The issuing authority's name.")
@db_option
@handle_errors
def export_record(task_code: str, out: Path, agency: str, db_url: str) -> None:
    """Write the printable HTML draw record (抽取记录) of TASK_CODE."""

    out.write_text(_reading(db_url).draw_record(task_code, agency=agency), encoding="utf-8")
    _console().print(f"wrote {out}")


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if isinstance(value, frozenset | set):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, date):
            value = value.isoformat()
        out[key] = value
    return out


def _output(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table(show_header=True)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    _console().print(table)


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

    summary = run_demo(out_dir, n_entities=n_entities, seed=seed, console=_console(stderr=True))
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    _console().print(f"[bold]{summary['title']}[/]")
    for line in summary["story"]:
        _console().print(f"  {line}")
    from rich.table import Table

    table = Table(title="Files written", show_header=True)
    table.add_column("file")
    table.add_column("what it is")
    for name, what in summary["files"].items():
        table.add_row(name, what)
    _console().print(table)
    for line in summary.get("next", []):
        _console().print(f"  {line}")


def _announcements(folder: Path | None) -> list[dict[str, Any]]:
    """The pre-draw announcements (``predraw-*.json``) published in ``folder``."""
    if folder is None:
        return []
    found = []
    for path in sorted(folder.glob("predraw-*.json")):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            _fail(f"{path}: not a JSON announcement ({exc})", EXIT_CHECK_FAILED)
    if not found:
        _fail(f"{folder}: no published pre-draw announcement (predraw-*.json) in it")
    return found


announcements_option = click.option(
    "--announcements",
    "announcements_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of the published pre-draw announcements (predraw-*.json) to check against.",
)


@main.command()
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@announcements_option
@click.option(
    "--annex",
    "annex_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The sealed staffing annex (supervising office): check it and replay the teams.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def verify(
    bundle_file: Path, announcements_dir: Path | None, annex_file: Path | None, as_json: bool
) -> None:
    """Re-derive a draw from its bundle alone; exit 1 naming every field that does not match.

    The public bundle alone checks the entity draw, the seed and team-seed ceremonies and the
    staffing commitments; with --annex, every annex record is checked against its commitment
    and the team draw is replayed. With --announcements, the draw must also match the
    announcement published before its reveal (a draw made in a copy of the store, or
    re-rolled, fails)."""
    from shuangsuiji.bundle import BundleError, read_bundle

    try:
        bundle = read_bundle(bundle_file.read_bytes())
    except BundleError as exc:
        _fail(f"{bundle_file} is not a draw bundle: {exc}", EXIT_CHECK_FAILED)
    annex = None
    if annex_file is not None:
        try:
            annex = read_bundle(annex_file.read_bytes())
        except BundleError as exc:
            _fail(f"{annex_file} is not a staffing annex: {exc}", EXIT_CHECK_FAILED)
    from shuangsuiji.assign.record import verify_draw

    published = _announcements(announcements_dir)
    report = verify_draw(bundle, annex=annex, announcements=published)
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
        _console().print(
            str(report)
            if not report.ok
            else f"OK: {bundle_file} re-derives exactly "
            f"({len(bundle.get('selected', []))} selected, task {bundle.get('task_label')})"
            + (f"; teams replayed with the annex {annex_file}" if annex is not None else "")
        )
        for warning in report.warnings:
            _console(stderr=True).print(f"[yellow]warning:[/] {warning}")
    if not report.ok:
        sys.exit(EXIT_CHECK_FAILED)


@main.command(name="verify-log")
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
    store = _existing(db_url)
    rows = store.audit_rows()
    problems: list[Any] = list(store.verify_log())
    if not chain_only:
        problems += Registry(store).verify_records()
    if published:
        events = [r | {"payload": json.loads(r["payload"])} for r in rows]
        problems += log_problems(events, published)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "events": len(rows),
                    "ok": not problems,
                    "records_checked": not chain_only,
                    "problems": [str(p) for p in problems],
                },
                ensure_ascii=False,
            )
        )
    elif problems:
        for problem in problems:
            _console(stderr=True).print(f"[red]FAIL[/] {escape(str(problem))}")
    else:
        head = rows[-1]["hash"] if rows else "-"
        what = "audit log intact" if chain_only else "audit log intact and the records agree"
        _console().print(f"{what}: {len(rows)} events, head {head}")
    if problems:
        sys.exit(EXIT_CHECK_FAILED)


@main.command()
@click.option("--plan", "plan_code", default=None, help="One plan's tasks (default: all).")
@click.option("--task", "task_codes", multiple=True, help="Only these tasks (repeatable).")
@click.option("--alpha", default=0.01, show_default=True, help="False-alarm rate of each report.")
@click.option(
    "--inspectors", is_flag=True, help="Also check inspector loads against replays of the teams."
)
@click.option(
    "--replays", default=800, show_default=True, help="Replays per task for --inspectors."
)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the tests and flags as JSON.")
@handle_errors
def health(
    plan_code: str | None,
    task_codes: tuple[str, ...],
    alpha: float,
    inspectors: bool,
    replays: int,
    db_url: str,
    as_json: bool,
) -> None:
    """Draw health of a period: were entities (and inspectors) drawn as the design says?

    Compares every entity's count over the current draws of the period with its exact
    distribution (exclusion windows included) and checks the recorded tickets; with
    --inspectors, compares every inspector's team load with replays of SSJ-ASSIGN-1 on the
    recorded staffing. Exit 1 when a test rejects (a false alarm happens with probability at
    most ALPHA per report).
    """

    registry = _reading(db_url)
    chosen = list(task_codes) or None
    reports = [registry.draw_health(plan_code, tasks=chosen, alpha=alpha)]
    if inspectors:
        reports.append(
            registry.inspector_health(plan_code, tasks=chosen, replays=replays, alpha=alpha)
        )
    findings = registry.conduct(plan_code, tasks=chosen)
    if as_json:
        data = reports[0].to_dict()
        if inspectors:
            data["inspectors"] = reports[1].to_dict()
        data["conduct"] = [f.to_dict() for f in findings]
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for report in reports:
            _console().print(report.summary(), markup=False)
        _console().print(f"conduct of the draws (抽取过程): {len(findings)} act(s) to review")
        for f in findings:
            _console().print(f"  {f.kind:<17} {f.task}: {f.detail}", markup=False)
    if any(r.suspicious for r in reports):
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
    _console().print(f"{result.date.isoformat()}{label}")


def run() -> None:  # pragma: no cover - console entry for python -m
    main()


if __name__ == "__main__":  # pragma: no cover
    main()
