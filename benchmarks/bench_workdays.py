"""Due dates for a batch of records, as a ratio to the bare ``np.searchsorted`` lookup.

Budget (DESIGN.md): ``WorkCalendar.due_dates`` for 1,000,000 records costs at most 3x one bare
``np.searchsorted`` over the same working-day array, measured in the same run. The bare lookup
only counts working days; ``due_dates`` also checks coverage, offsets, gathers the dates and
returns the per-record estimate flags.

    python benchmarks/bench_workdays.py           # 1,000,000 records
    python benchmarks/bench_workdays.py --quick   # 100,000 records

Also printed, for information: the estimate mode with 10% of the records beyond coverage, and
one scalar ``working_days_after`` call. Exits 1 if the budget is exceeded.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date

import numpy as np

from shuangsuiji.workdays import WorkCalendar

BUDGET = 3.0


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeats`` timed runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    """Run the benchmark and print absolute times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 records instead of 1M")
    args = parser.parse_args()
    size, repeats = (100_000, 5) if args.quick else (1_000_000, 7)

    calendar = WorkCalendar.official()
    working = calendar.working_days.view(np.int64)
    rng = np.random.default_rng(20241023)  # benchmark input only, never an audited path
    low = np.datetime64("2015-01-01").astype(np.int64)
    high = np.datetime64("2026-10-01").astype(np.int64)
    starts = rng.integers(low, high, size=size).astype("datetime64[D]")
    numbers = starts.view(np.int64)

    bare = best_of(repeats, lambda: np.searchsorted(working, numbers, side="right"))
    ours = best_of(repeats, lambda: calendar.due_dates(starts, 20))
    ratio = ours / bare

    mixed = starts.copy()
    mixed[: size // 10] += np.timedelta64(400, "D")  # beyond 2026-12-31 for most of them
    estimate = best_of(repeats, lambda: calendar.due_dates(mixed, 20, estimate=True))
    scalar = best_of(repeats, lambda: calendar.working_days_after(date(2024, 9, 20)))

    print(f"working-day due dates for {size:,} records ({len(working):,} working days known)")
    print(f"  bare np.searchsorted            {bare * 1e3:9.2f} ms")
    print(f"  WorkCalendar.due_dates          {ours * 1e3:9.2f} ms   ratio {ratio:.2f}x")
    print(
        f"  due_dates, estimate, 10% beyond {estimate * 1e3:9.2f} ms   ratio {estimate / bare:.2f}x"
    )
    print(f"  one working_days_after call     {scalar * 1e6:9.2f} us")
    verdict = "within" if ratio <= BUDGET else "OVER"
    print(f"budget: due_dates <= {BUDGET:.0f}x bare searchsorted: {verdict} ({ratio:.2f}x)")
    return 0 if ratio <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
