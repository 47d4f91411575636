"""The cost of checking the records against the audit log (``verify-log`` without
``--chain-only``), as a ratio to checking the hash chain alone.

A store on SQLite with a synthetic city of 100,000 entities (``--quick``: 20,000), one drawn
task with its teams. The records check reads every pool row (the SSJ-POOL-STATE-1 sums), every
candidate of every draw (the pool digests) and the other records tables; the chain check reads
and re-hashes every event. Both are timed on the same store, best of three, and so is
``Store.load_entities`` (the read every in-memory freeze makes), for scale.

    python benchmarks/bench_records.py
    python benchmarks/bench_records.py --quick
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.synth import make_city


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 20_000 if args.quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry(Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        t0 = time.perf_counter()
        reg.setup_city(make_city(n, seed=3), actor="bench")
        reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor="bench")
        task = Task("T", "P", "抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))
        reg.store.put_task(task, actor="bench")
        result = reg.draw("T", actor="bench")
        reg.assign_teams("T", actor="bench")
        build = time.perf_counter() - t0
        events = len(reg.store.audit_rows())
        assert reg.store.verify_log() == [] and reg.verify_records() == []
        chain = best_of(3, reg.store.verify_log)
        records = best_of(3, reg.verify_records)
        load = best_of(3, reg.store.load_entities)
    print(
        f"store: {n:,} entities, {len(result.bundle['candidates']):,} candidates, "
        f"{len(result.draw.selected):,} selected, {events} events (built in {build:.1f} s)"
    )
    print(f"  chain check (verify_log)        {chain * 1000:9.1f} ms")
    print(f"  records check (verify_records)  {records * 1000:9.1f} ms")
    print(f"  records / chain                 {records / chain:9.1f}x")
    print(f"  both (verify-log default) / chain {(records + chain) / chain:7.1f}x")
    # The chain of a fresh store is a few dozen events, so the first ratio mostly measures the
    # pool: loading the entity pool (what every in-memory freeze does) is the fairer yardstick.
    print(f"  load_entities (a freeze's read)  {load * 1000:9.1f} ms")
    print(f"  records / load_entities         {records / load:9.1f}x")


if __name__ == "__main__":
    main()
