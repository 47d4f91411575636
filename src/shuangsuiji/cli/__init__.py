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

import click

from shuangsuiji._version import __version__
from shuangsuiji.cli import (
    demo,
    draws,
    due,
    exports,
    health,
    regions,
    results,
    store,
    teams,
    verify,
)
from shuangsuiji.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    EXIT_CODES,
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    exit_code,
    handle_errors,
)

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CHECK_FAILED",
    "EXIT_CODES",
    "EXIT_INTEGRITY",
    "EXIT_NOT_FOUND",
    "EXIT_REFUSED",
    "exit_code",
    "handle_errors",
    "main",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shuangsuiji")
def main() -> None:
    """双随机、一公开: reproducible random inspections with recusal and publication deadlines."""


for command in (
    store.init,
    store.import_group,
    store.items,
    store.departments,
    regions.regions,
    store.policy,
    store.plan,
    store.task,
    draws.draw,
    draws.seed,
    draws.replace,
    teams.teams,
    results.results,
    results.publications,
    results.publish,
    exports.export,
    demo.demo,
    verify.verify,
    verify.verify_log,
    health.health,
    due.due,
):
    main.add_command(command)


def run() -> None:  # pragma: no cover - console entry (``python -m`` uses __main__.py)
    main()
