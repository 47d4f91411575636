"""Pool memory and load figures.

Budget (DESIGN.md): a 10,000,000-entity pool fits in memory in under 2 GB.
Prints the columns' own bytes and the growth of the process's resident memory while the pool
is alive (generation temporaries released), plus filter and CSV figures on the same machine.

    python benchmarks/bench_pools.py            # 10,000,000 entities
    python benchmarks/bench_pools.py --quick    # 1,000,000 entities
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np

from shuangsuiji.io import read_entities_csv, write_entities_csv
from shuangsuiji.model import PopulationFilter
from shuangsuiji.synth import make_city

GB = 1024**3


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 1_000_000 if args.quick else 10_000_000
    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    pool = make_city(n, seed=1, n_inspectors=100).entities
    build = time.perf_counter() - t0
    gc.collect()
    held = rss_bytes() - before
    print(f"pool of {n:,} entities")
    print(
        f"  columns' bytes            {pool.nbytes / GB:6.2f} GB  ({pool.nbytes / n:.0f} B/entity)"
    )
    print(f"  resident memory growth    {held / GB:6.2f} GB  (budget < 2 GB for 10M)")
    if n == 10_000_000:
        verdict = "within" if held < 2 * GB else "OVER"
        print(f"  budget: < 2 GB for 10,000,000 entities: {verdict} ({held / GB:.2f} GB)")
    else:
        # At a small size resident memory is dominated by the allocator's fixed overhead;
        # only the columns scale, so extrapolate those and judge the budget at full size.
        columns = pool.nbytes / n * 10_000_000
        print(
            f"  columns at 10,000,000     {columns / GB:6.2f} GB  "
            "(run without --quick for the resident-memory budget)"
        )
    print(f"  synthetic build time      {build:6.1f} s")
    f = PopulationFilter(
        industry_prefixes=("H62", "F52"), tiers=("C", "D"), region_prefixes=("350102",)
    )
    t0 = time.perf_counter()
    mask = pool.mask(f)
    t_filter = time.perf_counter() - t0
    t0 = time.perf_counter()
    np.sort(pool.ids[: min(n, 1_000_000)])
    t_sort = time.perf_counter() - t0
    print(
        f"  directed filter (3 fields) {t_filter:5.2f} s for {int(mask.sum()):,} rows; "
        f"ratio to sorting 1M IDs: {t_filter / t_sort:.2f}x"
    )
    m = min(n, 1_000_000)
    small = pool.take(np.arange(m))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e.csv"
        t0 = time.perf_counter()
        write_entities_csv(small, path)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        read_entities_csv(path)
        t_read = time.perf_counter() - t0
    print(
        f"  CSV of {m:,}: write {t_write:.1f} s, validate+load {t_read:.1f} s "
        f"({m / t_read:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
