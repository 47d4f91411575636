"""One error hierarchy: every refusal derives from ShuangsuijiError, in a family a host can map."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import shuangsuiji
from shuangsuiji import errors
from shuangsuiji.cli import (
    EXIT_BAD_INPUT,
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    exit_code,
    main,
)
from shuangsuiji.draw import DuplicateIdError
from shuangsuiji.policy import PolicyError
from shuangsuiji.registry import DrawRefused
from shuangsuiji.seeds import RevealMismatchError
from shuangsuiji.store import NotStoredError, StoreError
from shuangsuiji.store.pushdown import PoolChangedError

RUNNER = CliRunner()
FAMILIES = (
    errors.InvalidInputError,
    errors.NotFoundError,
    errors.RefusedError,
    errors.IntegrityFailure,
)


def _library_errors() -> list[type[BaseException]]:
    """Every public exception class the library's modules define."""
    found = []
    for info in pkgutil.walk_packages(shuangsuiji.__path__, "shuangsuiji."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and not name.startswith("_")
            ):
                found.append(value)
    return found


def test_every_public_library_error_is_a_shuangsuiji_error_in_one_of_the_families() -> None:
    found = _library_errors()
    assert len(found) > 40
    for cls in found:
        assert issubclass(cls, errors.ShuangsuijiError), cls
        if cls is not errors.ShuangsuijiError:
            assert issubclass(cls, FAMILIES), cls


def test_the_errors_that_were_value_errors_still_are() -> None:
    lookups = (errors.NotFoundError, errors.UnknownKeyError, errors.ShuangsuijiError)
    for cls in _library_errors():
        if cls not in lookups:
            assert issubclass(cls, ValueError), cls
    assert issubclass(errors.UnknownKeyError, KeyError)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PolicyError("team size is missing"), EXIT_BAD_INPUT),
        (DuplicateIdError("E1 twice"), EXIT_BAD_INPUT),
        (NotStoredError("no task 'T9'"), EXIT_NOT_FOUND),
        (errors.UnknownKeyError("no stratum 'X'"), EXIT_NOT_FOUND),
        (StoreError("already stored"), EXIT_REFUSED),
        (DrawRefused("drawn already; give a reason"), EXIT_REFUSED),
        (RevealMismatchError("party A revealed another value"), EXIT_INTEGRITY),
        (PoolChangedError("the pool changed"), EXIT_INTEGRITY),
    ],
)
def test_each_family_has_its_own_exit_status(error: errors.ShuangsuijiError, code: int) -> None:
    assert exit_code(error) == code
    assert len({EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_INTEGRITY, 0, 1}) == 6


def test_a_task_that_is_not_there_exits_3_with_a_message(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert RUNNER.invoke(main, ["init", "--db", db]).exit_code == 0  # reading creates no store
    result = RUNNER.invoke(main, ["task", "show", "NOPE", "--db", db])
    assert result.exit_code == EXIT_NOT_FOUND
    assert "no task 'NOPE'" in result.output


def test_invalid_input_exits_2_with_a_message() -> None:
    result = RUNNER.invoke(main, ["due", "2026-12-20"])
    assert result.exit_code == EXIT_BAD_INPUT and "error:" in result.output


def test_a_bug_is_not_turned_into_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from shuangsuiji.workdays import WorkCalendar

    def broken() -> WorkCalendar:
        raise KeyError("a programming error")

    monkeypatch.setattr(WorkCalendar, "official", broken)
    result = RUNNER.invoke(main, ["due", "2024-09-20"])
    assert isinstance(result.exception, KeyError)
    assert "error:" not in result.output
