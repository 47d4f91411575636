"""A bounded load on PostgreSQL: 8 concurrent clients each walk the whole cycle over HTTP on a
task of its own (entity draw and team draw by ceremony, results, publication). Afterwards no
draw or event is lost or duplicated, and the audit log and the tables verify."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from server_helpers import CITY, Cycle, people_ring, registry_at, serving

CLIENTS = 8


def _in_parallel(work: Callable[[int], Any]) -> list[Any]:
    """``work(k)`` for k in 0..CLIENTS-1, each in its own thread; re-raises the first failure."""
    out: list[Any] = [None] * CLIENTS
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            out[k] = work(k)
        except BaseException as exc:  # collected and re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads), "a client did not finish"
    if errors:
        raise errors[0]
    return out


@pytest.mark.postgres
def test_eight_clients_run_the_whole_cycle_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    registry, clock = registry_at(pg_url)
    with serving(registry, people_ring()) as base:
        c = Cycle(base)
        c.setup(CITY, tmp_path)
        tasks = [f"L{k}" for k in range(CLIENTS)]

        def draw(k: int) -> list[dict[str, Any]]:
            c.task(tasks[k])
            c.draw(tasks[k])
            return c.teams(tasks[k])

        teams = _in_parallel(draw)
        clock.at = datetime(2026, 7, 8, 9, 0, tzinfo=UTC)

        def record(k: int) -> int:
            keys = c.results(tasks[k], teams[k])
            return len(c.call("publisher", "POST", "/publications", json={"keys": keys}))

        published = _in_parallel(record)
        assert published == [len(t) for t in teams]
        for task in tasks:
            attempts = c.call("auditor", "GET", f"/tasks/{task}/draws")
            assert [(a["attempt"], a["state"]) for a in attempts] == [(1, "drawn")]
        events = registry.store.audit_events()
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert not [e for e in events if e.kind == "draw.error"]
        per_task = {
            task: Counter(e.kind for e in events if e.payload.get("task") == task) for task in tasks
        }
        assert all(per_task[t]["draw"] == 1 for t in tasks), per_task
        kinds = {
            frozenset(k for k in counts if k != "result.record") for counts in per_task.values()
        }
        assert len(kinds) == 1, "every task has the same steps"
        for k, task in enumerate(tasks):
            assert per_task[task]["result.record"] == len(teams[k])
            assert per_task[task]["publication"] == len(teams[k])
        assert c.call("auditor", "GET", "/verify-log") == {"ok": True, "problems": []}
