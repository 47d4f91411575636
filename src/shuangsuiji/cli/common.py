"""What the command groups share: the lazy console, the exit status of each error family,
the one place that turns the library's errors into messages, opening a store, the common
options and printing rows as a table, plain text or JSON.

The JSON convention (docs/cli.md, schemas in ``docs/cli-json-schema.json``): a command that
lists prints a JSON array of objects, one that shows one thing prints one object; a list
inside is an array, never a joined string; a coded value is its ``code`` and a separate
``..._label``; dates are ISO 8601 (``2026-07-01``), an absent value is ``null``.
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

    # soft_wrap: a message or a row is never cut into lines at 80 columns under cron
    if stderr:
        return Console(stderr=True, highlight=False, soft_wrap=True)
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

    from shuangsuiji.cli.messages import in_cli_terms

    text = escape(in_cli_terms(message))  # "[ratios]" is text, not markup
    console(stderr=True).print(f"[bold red]错误 error:[/] {text}")
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


def existing_store(db_url: str, *, upgrade: bool = False) -> Store:
    """The store at ``db_url``, which must exist and hold a shuangsuiji schema: nothing is
    created (opening a missing SQLite file would create it). A command that only reads never
    migrates; one that writes (``upgrade=True``) brings an older schema up to date first, as
    ``shuangsuiji db upgrade`` does."""
    file = _sqlite_file(db_url)
    if file is not None and not file.is_file():
        fail(
            f"{file} 处没有数据库 (no database at {file})：请检查 --db 或 SHUANGSUIJI_DB；"
            "这个命令只用已有的数据库，从不新建 (never creates one)；新建用 "
            "`shuangsuiji init --db URL` (init)"
        )
    store, revision = connected_store(db_url)
    if revision is None:
        fail(
            f"{shown(db_url)} 中没有 shuangsuiji 数据库结构 (holds no shuangsuiji store)："
            "请检查 --db；新建用 `shuangsuiji init --db URL` (init)"
        )
    if upgrade:
        store.upgrade()
    elif revision != store.head():
        fail(
            f"{shown(db_url)} 的数据库结构版本是 {revision}，本版本的 shuangsuiji 读写 "
            f"{store.head()} (schema revision differs)：数据库较旧时先运行 "
            f"`shuangsuiji db upgrade --db {shown(db_url)}` (upgrade)，较新时升级 shuangsuiji "
            "(pip install -U shuangsuiji)；只读的命令不改动数据库"
        )
    return store


def creating_store(db_url: str) -> Store:
    """The store at ``db_url`` for a command that sets one up (``init``, the imports): a new
    database gets the schema, an older schema is upgraded."""
    store, _revision = connected_store(db_url)
    store.upgrade()
    return store


def connected_store(db_url: str) -> tuple[Store, str | None]:
    """The store at ``db_url`` (not upgraded) and its schema revision, once a connection
    worked: a server that cannot be reached or a file that is not a database is a clear
    error, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from shuangsuiji.store import Store

    _sqlite_file(db_url)  # a URL that cannot be parsed fails here, with its reason
    store = Store.open(db_url, upgrade=False)
    try:
        return store, store.revision()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        fail(f"无法读取数据库 {shown(db_url)} (cannot be read as a database: {reason})；{_DB_HELP}")


def _sqlite_file(db_url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for a server or an in-memory database)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from shuangsuiji.store import normalise_url

    try:
        url = make_url(normalise_url(db_url))
    except ArgumentError as exc:
        fail(f"--db {db_url!r} 不是数据库地址 (not a database URL: {exc})；{_DB_HELP}")
    file = url.database if url.get_backend_name() == "sqlite" else None
    return None if file in (None, "", ":memory:") else Path(str(file))


def shown(db_url: str) -> str:
    """``db_url`` as it may be printed: a password in it is masked (cron mails, logs)."""
    from sqlalchemy.engine import make_url

    from shuangsuiji.store import normalise_url

    return make_url(normalise_url(db_url)).render_as_string(hide_password=True)


_DB_HELP = "请检查 --db 或环境变量 SHUANGSUIJI_DB (SQLite 文件路径或 postgresql://用户@主机/库名)"


def reading_registry(db_url: str) -> Registry:
    """A registry over the existing store at ``db_url``, for a command that only reads."""
    from shuangsuiji.registry import Registry

    return Registry(existing_store(db_url))


def writing_registry(db_url: str) -> Registry:
    """A registry over the existing store at ``db_url`` (upgraded if older), for a command
    that works on records already stored: a mistyped --db is an error, not a new store."""
    from shuangsuiji.registry import Registry

    return Registry(existing_store(db_url, upgrade=True))


db_option = click.option(
    "--db",
    "db_url",
    default="sqlite:///shuangsuiji.db",
    show_default=True,
    envvar="SHUANGSUIJI_DB",
    show_envvar=True,
    help="Store URL: a SQLite file (default) or postgresql+psycopg://user@host/db.",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable JSON output (docs/cli.md)."
)


def _known_encoding(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(
            f"{value!r} 不是已知的编码 (unknown encoding): utf-8, gb18030 (GBK), utf-16 …"
        ) from None
    return value


encoding_option = click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    callback=_known_encoding,
    help="The file's encoding: utf-8 (with or without BOM), gb18030 for GBK files from Excel.",
)
actor_option = click.option(
    "--actor",
    required=True,
    envvar="SHUANGSUIJI_ACTOR",
    show_envvar=True,
    help="Who is acting (recorded in the audit log).",
)


def deprecated_alias(old: str, old_value: str, new: str, new_value: str) -> str:
    """The value of option ``new``, or of its deprecated spelling ``old`` (with a warning);
    both at once is a usage error."""
    if not old_value:
        return new_value
    if new_value:
        fail(f"{old} 与 {new} 不能同时使用 (give only {new}; {old} is its old name)")
    console(stderr=True).print(
        f"[yellow]注意 (deprecated):[/] {old} 已改名为 {new}，请改用 {new} (use {new})"
    )
    return old_value


def emit_json(data: Any) -> None:
    """Print ``data`` as the one JSON document of a command's ``--json`` output."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def jsonable(value: Any) -> Any:
    """``value`` in the JSON convention: tuples and sets as arrays (sets sorted), dates ISO."""
    from datetime import date, datetime

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def cell(value: Any) -> str:
    """One value as table text: a list joined by spaces, ``None`` as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return " ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _field(text: str) -> str:
    """A tab-separated field: a tab or a line break inside a value becomes a space, so that
    every record stays one line of exactly one field per column."""
    return " ".join(text.replace("\t", " ").splitlines()) if "\t" in text or "\n" in text else text


def to_terminal() -> bool:
    return sys.stdout.isatty()


def show_rows(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    """Rows as a JSON array, a table on a terminal, or tab-separated lines with a header
    when stdout is a pipe or a file (cron): full values, nothing cut to a column width."""
    if as_json:
        emit_json(rows)
        return
    if not to_terminal():
        lines = ["\t".join(columns)]
        lines += ["\t".join(_field(cell(row.get(c))) for c in columns) for row in rows]
        click.echo("\n".join(lines))
        return
    from rich.table import Table

    table = Table(show_header=True)
    for column in columns:
        table.add_column(column, overflow="fold")  # an ID wraps, never ends in "…"
    for row in rows:
        table.add_row(*(cell(row.get(c)) for c in columns))
    console().print(table)
