"""Every example in examples/ runs to completion (they check their own results)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ARGS = {
    "web_app.py": ["--self-test"],
}


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(script: str, tmp_path: Path) -> None:
    args = list(ARGS.get(script, []))
    if script == "design_annual_plan.py":
        args += ["--out", str(tmp_path)]
    if script == "quickstart.py":
        args += ["--dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.strip(), "an example should say what it did"
