"""The example notebook in docs/ runs from top to bottom in a fresh kernel, without an error
or a warning, and the outputs stored in it are the ones the code gives today."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "design-notebook.ipynb"


def _text_outputs(nb: Any) -> list[list[str]]:
    """Per code cell, its printed text and the plain text of its results (not images)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for o in cell.outputs:
            if o.output_type == "stream":
                texts.append(f"{o.name}: {o.text}")
            elif o.output_type in ("execute_result", "display_data"):
                texts.append(o.data.get("text/plain", ""))
            elif o.output_type == "error":
                texts.append(f"error: {o.ename}: {o.evalue}")
        out.append(texts)
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    stored = nbformat.read(NOTEBOOK, as_version=4)
    fresh = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        fresh,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("notebook"))}},
    )
    client.execute()  # raises CellExecutionError on the first cell that fails
    return stored, fresh


def test_the_notebook_runs_without_errors_or_warnings(executed: tuple[Any, Any]) -> None:
    _, fresh = executed
    for texts in _text_outputs(fresh):
        assert not [t for t in texts if t.startswith(("stderr:", "error:"))], texts


def test_the_stored_outputs_are_what_the_code_gives(executed: tuple[Any, Any]) -> None:
    stored, fresh = executed
    assert _text_outputs(stored) == _text_outputs(fresh), (
        "docs/design-notebook.ipynb is out of date: re-execute it and save the outputs "
        "(jupyter nbconvert --to notebook --execute --inplace docs/design-notebook.ipynb)"
    )
    # The notebook shows its results as tables and its plots as images.
    kinds = {k for cell in fresh.cells for o in cell.get("outputs", []) for k in o.get("data", {})}
    assert {"text/html", "image/png"} <= kinds
