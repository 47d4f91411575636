"""The examples that call the service from outside Python (curl, Node) run against a real
service; each is skipped where its runtime is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_helpers import CITY, PEOPLE, people_ring, registry_at, serving
from shuangsuiji.model import Plan

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    reg, _ = registry_at(f"sqlite:///{tmp_path_factory.mktemp('ex') / 'ssj.db'}")
    reg.setup_city(CITY, actor="管理员-赵")
    reg.store.put_plan(Plan("P", 2026, "年度计划", ("SCJG",)), actor="管理员-赵")
    with serving(reg, people_ring()) as base:
        keys = {f"SSJ_KEY_{role.upper()}": key for role, (_, _, key) in PEOPLE.items()}
        yield {**os.environ, "SSJ_URL": base, **keys}


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_example_draws_and_verifies(service: dict[str, str]) -> None:
    out = _run(["bash", str(EXAMPLES / "server_curl.sh")], service | {"SSJ_TASK": "CURL-1"})
    assert "bundle re-derives" in out and "audit log and tables verify" in out


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_client_runs_the_ceremony(service: dict[str, str]) -> None:
    out = _run(["node", str(EXAMPLES / "server_client.mjs")], service | {"SSJ_TASK": "NODE-1"})
    assert "verified;" in out and "drawer, supervisor" in out
