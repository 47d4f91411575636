"""What logging the pool state costs a freeze on PostgreSQL, now that every freeze logs it.

Every freeze logs the SSJ-POOL-STATE-1 state of the entity pool it read (issue 12: a status
flipped by SQL before a freeze and back after it). On PostgreSQL the server sums it
(``sha256()`` per row, limb sums); this script times, on one store in one run:

- the in-database state (what the freeze now pays),
- the same state streamed through Python (the reference; what it would cost otherwise),
- a whole freeze of a task over the pool (in-database pushdown above PUSHDOWN_FROM),

and prints the ratios. Uses the PostgreSQL server of ``SSJ_TEST_POSTGRES_URL`` or ``--url``,
else starts a throw-away one (``scripts/pg-throwaway.sh``, as ``bench_pushdown.py`` does).

    python benchmarks/bench_pool_state.py              # 1,000,000 entities
    python benchmarks/bench_pool_state.py --quick      # 100,000 entities
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import date

from bench_pushdown import server
from sqlalchemy import create_engine, text

from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.store.integrity import pool_state, python_pool_state
from shuangsuiji.synth import make_city


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fresh_database(url: str) -> str:
    """A new empty database on the server of ``url`` (dropped first if it exists)."""
    base, _, _ = url.rpartition("/")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text("DROP DATABASE IF EXISTS ssj_bench_pool_state"))
        c.execute(text("CREATE DATABASE ssj_bench_pool_state"))
    admin.dispose()
    return f"{base}/ssj_bench_pool_state"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--url", default=os.environ.get("SSJ_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    if args.url:
        run(args.url, 100_000 if args.quick else 1_000_000)
        return
    with server() as base:  # a throw-away server, as bench_pushdown.py starts one
        run(f"{base}/postgres", 100_000 if args.quick else 1_000_000)


def run(url: str, n: int) -> None:
    """Import ``n`` entities into a fresh database on ``url``'s server and time the states."""
    reg = Registry(Store.open(fresh_database(url)))
    build, _ = timed(lambda: reg.setup_city(make_city(n, seed=5), actor="bench"))
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor="bench")
    task = Task("T", "P", "抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
    reg.store.put_task(task, actor="bench")
    with reg.store.reading() as s:
        in_sql, state = timed(lambda: pool_state(s, "entities"))
        in_python, reference = timed(lambda: python_pool_state(s, "entities"))
    assert state == reference, "the server's state differs from the Python reference"
    freeze, _ = timed(lambda: reg.freeze("T", actor="bench"))
    print(f"PostgreSQL, {n:,} entities (imported in {build:.1f} s)")
    print(f"  pool state in the server : {in_sql:7.2f} s")
    print(
        f"  pool state through Python: {in_python:7.2f} s  ({in_python / in_sql:.1f}x the server)"
    )
    print(f"  whole freeze (logs state): {freeze:7.2f} s  (state = {in_sql / freeze:.0%} of it)")


if __name__ == "__main__":
    main()
