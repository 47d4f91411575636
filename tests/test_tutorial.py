"""The tutorial (docs/tutorial.md) runs as written: its ```` ```{.bash .tutorial} ```` blocks,
in order, as one bash script in an empty folder on SQLite; every step must exit 0 and the final
``verify`` and ``verify-log`` must pass."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```\{\.bash \.(tutorial|tutorial-later)\}\n(.*?)^```$", re.S | re.M)
# `tutorial-later` blocks happen days later (public values entered once their date has come):
# they run with a `shuangsuiji` whose store clock is LATER_DAYS ahead, as tests/test_cli.py does.
LATER_DAYS = 4
LATER_SHIM = """import sys
from datetime import datetime, timedelta

import shuangsuiji.store


class _Later(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + timedelta(days=%d)


shuangsuiji.store.datetime = _Later
from shuangsuiji.cli import main

sys.exit(main())
"""


def tutorial_steps() -> list[tuple[str, str]]:
    """(kind, text) of every executed block, in order."""
    return BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))


def tutorial_blocks() -> list[str]:
    return [text for _, text in tutorial_steps()]


def test_the_tutorial_has_its_steps() -> None:
    script = "\n".join(tutorial_blocks())
    for command in (
        "import entities",
        "import inspectors",
        "import conflicts",
        "items import",
        "policy set",
        "seed freeze",
        "seed contribute",
        "seed commit",
        "seed announce",
        "seed reveal",
        "seed select",
        "replace",
        "teams freeze",
        "teams draw",
        "results import",
        "publish",
        "export publications",
        "verify bundle",
        "verify-log",
        "health",
        "seed public",
        "seed values",
    ):
        assert f"shuangsuiji {command}" in script, command


@pytest.mark.skipif(shutil.which("bash") is None, reason="the tutorial is a bash script")
def test_the_tutorial_runs(tmp_path: Path) -> None:
    steps = tutorial_steps()
    later = tmp_path.parent / f"{tmp_path.name}-later-bin"
    later.mkdir()
    shim = later / "shuangsuiji"
    shim.write_text(f"#!{sys.executable}\n" + LATER_SHIM % LATER_DAYS, encoding="utf-8")
    shim.chmod(0o755)
    script = ["set -euo pipefail"]
    for n, (kind, block) in enumerate(steps, 1):
        if kind == "tutorial-later":
            script.append(f'export PATH={str(later)!r}:"$PATH"')
        script += [f"echo '::step {n}'", block]
    script.append("echo '::done'")
    env = dict(os.environ)
    # the `shuangsuiji` of the Python running the tests, and the same python3
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["COLUMNS"] = "100"
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    reached = re.findall(r"^::step (\d+)$", done.stdout, re.M)
    failed_at = reached[-1] if reached else "before the first step"
    assert done.returncode == 0, (
        f"tutorial step {failed_at} of {len(steps)} failed:\n{done.stdout[-3000:]}\n{done.stderr}"
    )
    assert done.stdout.rstrip().endswith("::done")
    # `health` may exit 1 (a statistical alarm is "review", and a fair draw raises one with
    # probability alpha); it must still have run and reported, without a crash.
    assert "draw health of entities:" in done.stdout and "Traceback" not in done.stderr
    assert (tmp_path / "shuangsuiji.db").exists()
    assert list((tmp_path / "公示").glob("publication.html"))
    # the last verify and verify-log, again, as JSON
    assert [kind for kind, _ in steps].count("tutorial-later") == 1
    assert list(tmp_path.glob("bundle-T*-SP.json")), "the public-value draw made no bundle"
    for command in (
        ["verify", next(tmp_path.glob("bundle-T*-GS.json")).name, "--json"],
        ["verify", next(tmp_path.glob("bundle-T*-SP.json")).name, "--json"],
        ["verify-log", "--json"],
    ):
        check = subprocess.run(
            ["shuangsuiji", *command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
