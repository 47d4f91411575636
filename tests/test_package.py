"""The package face: every public name is there, and importing the core stays light."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import shuangsuiji

HEAVY = ("sqlalchemy", "alembic", "scipy")
FACE = Path(shuangsuiji.__file__)


def _loaded_after(statement: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running ``statement``."""
    code = (
        f"import sys, json; {statement}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return list(json.loads(out.stdout))


@pytest.mark.parametrize(
    "statement",
    [
        "import shuangsuiji.draw",
        "import shuangsuiji",
        "from shuangsuiji import validate_uscc, draw_entities, EntityPool, __version__",
        "import shuangsuiji.cli",
    ],
)
def test_importing_the_core_or_the_face_loads_no_sqlalchemy_alembic_or_scipy(
    statement: str,
) -> None:
    assert _loaded_after(statement) == []


def test_the_first_use_of_registry_loads_the_store_and_the_sql_toolkit() -> None:
    # The check above would pass trivially if the subprocess could not see the heavy modules.
    assert "sqlalchemy" in _loaded_after("from shuangsuiji import Registry")


def test_every_public_name_resolves_to_the_object_its_module_defines() -> None:
    for name in shuangsuiji.__all__:
        if name == "__version__":
            continue
        home = importlib.import_module(shuangsuiji._HOME[name])
        assert getattr(shuangsuiji, name) is getattr(home, name), name


def test_an_unknown_name_is_an_attribute_error_and_dir_lists_the_public_names() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nonesuch'"):
        _ = shuangsuiji.Nonesuch  # type: ignore[attr-defined]
    assert set(shuangsuiji.__all__) <= set(dir(shuangsuiji))


def test_the_type_checking_imports_the_lazy_table_and_all_name_the_same_things() -> None:
    tree = ast.parse(FACE.read_text(encoding="utf-8"))
    guarded = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    for_type_checkers = {
        alias.name: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert for_type_checkers == shuangsuiji._HOME
    assert set(shuangsuiji.__all__) == {*shuangsuiji._HOME, "__version__"}
