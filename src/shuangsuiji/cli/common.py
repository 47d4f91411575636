"""What the command groups share: the lazy console, the exit status of each error family,
the one place that turns the library's errors into messages, opening a store, the common
options and printing rows as a table or JSON.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from shuangsuiji.errors import (
    IntegrityFailure,
    InvalidInputError,
    NotFoundError,
    RefusedError,
    ShuangsuijiError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from shuangsuiji.registry import Registry
    from shuangsuiji.store import Store

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def console(stderr: bool = False) -> Console:
    """The console for results (stdout) or for errors and progress (stderr), made on first use:
    importing rich costs more than the rest of ``shuangsuiji --help``."""
    from rich.console import Console

    if stderr:
        return Console(stderr=True, highlight=False)
    return Console(highlight=False, soft_wrap=True)


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


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    from rich.markup import escape

    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")  # "[ratios]" is text
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
            fail(str(exc), exit_code(exc))
        return None

    return wrapper  # type: ignore[return-value]


def existing_store(db_url: str) -> Store:
    """The store at ``db_url`` for a command that only reads: it must exist and hold a
    shuangsuiji schema. Nothing is created or upgraded (opening a missing SQLite file would
    create it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from shuangsuiji.store import Store, normalise_url

    try:
        url = make_url(normalise_url(db_url))
    except ArgumentError as exc:
        fail(f"--db {db_url!r} is not a database URL ({exc})")
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).is_file():
        fail(
            f"no database at {url.database}: check --db (a command that only reads never "
            "creates one; `shuangsuiji init --db URL` does)"
        )
    store = Store.open(db_url, upgrade=False)
    try:
        revision = store.revision()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        fail(f"{db_url} cannot be read as a database ({reason})")
    if revision is None:
        fail(f"{db_url} holds no shuangsuiji store; `shuangsuiji init --db URL` creates one")
    return store


def reading_registry(db_url: str) -> Registry:
    """A registry over the existing store at ``db_url``, for a command that only reads."""
    from shuangsuiji.registry import Registry

    return Registry(existing_store(db_url))


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


def show_rows(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table(show_header=True)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console().print(table)
