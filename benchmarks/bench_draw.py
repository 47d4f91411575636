"""The SSJ-DRAW-1 entity draw, as ratios to baselines measured in the same run.

Budgets (DESIGN.md), for 1,000,000 candidates in 4 strata, about 5% drawn:

- selection (``draw_entities``: tickets, per-stratum smallest-n, alternates) costs at most
  1.5x a bare hashlib SHA-256 loop over the same IDs (``[sha256(i).digest() for i in
  ids.tolist()]``, the IDs being the pool's ``S18`` array);
- it is at least 5x faster than Rivest's ``consistent_sampler`` taking the same number from
  each stratum (its ``sampler`` over each stratum's IDs, ``take = n + m``);
- verifying the bundle (``verify_bundle`` on the JSON-loaded bundle) costs at most 1.2x making
  it (``draw_entities`` + ``make_bundle``, which also computes the pool digest and writes the
  1,000,000 candidates).

    python benchmarks/bench_draw.py           # 1,000,000 candidates
    python benchmarks/bench_draw.py --quick   # 100,000 candidates

Timings are the best of several interleaved runs (the machine is shared and noisy);
``consistent_sampler`` is timed once, as it takes many seconds. Exits 1 if a budget is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable

import numpy as np
from consistent_sampler import sampler

from shuangsuiji.bundle import make_bundle, verify_bundle
from shuangsuiji.draw import SizeRule, Strata, TicketScheme, draw_entities, draw_key

SEED = bytes(range(32))
TASK = "2025-bench-001"
LABELS = ("A", "B", "C", "D")


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def best_interleaved(repeats: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """The fastest of ``repeats`` runs of each, interleaved so that load hits all alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], timed(run))
    return best


def main() -> int:
    """Run the benchmark, print a table of times and ratios, and check the budgets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 candidates instead of 1M")
    args = parser.parse_args()
    size, repeats = (100_000, 5) if args.quick else (1_000_000, 5)

    rng = np.random.default_rng(20250601)  # benchmark input only, never an audited path
    ids = np.array([f"91350100MA{k:08d}".encode() for k in rng.permutation(size)])
    codes = rng.choice(4, size=size, p=[0.4, 0.3, 0.2, 0.1])
    strata = Strata(codes, LABELS)
    rule = SizeRule(ratio="0.05", alternates=20)

    def ours(scheme: TicketScheme = TicketScheme.SSJ_DRAW_1) -> object:
        return draw_entities(ids, strata, rule, task_label=TASK, seed=SEED, scheme=scheme)

    sha256 = hashlib.sha256
    main_times = best_interleaved(
        repeats,
        {
            "bare": lambda: [sha256(i).digest() for i in ids.tolist()],
            "draw": ours,
            "draw_cs": lambda: ours(TicketScheme.CONSISTENT_SAMPLER),
        },
    )

    draw = draw_entities(ids, strata, rule, task_label=TASK, seed=SEED)
    bundle = json.loads(json.dumps(make_bundle(draw, ids, strata, library_version="bench")))
    bundle_times = best_interleaved(
        max(2, repeats - 2),
        {
            "make": lambda: make_bundle(ours(), ids, strata, library_version="bench"),
            "verify": lambda: verify_bundle(bundle),
        },
    )
    assert verify_bundle(bundle).ok

    key_hex = draw_key(TASK, SEED).hex()
    members = [[i.decode() for i in ids[codes == c].tolist()] for c in range(4)]
    takes = {s.label: s.sample + s.alternates for s in draw.strata}

    def rivest() -> object:
        return [
            list(sampler(m, seed=key_hex, take=takes[label], output="id"))
            for m, label in zip(members, LABELS, strict=True)
        ]

    rivest_time = timed(rivest)
    cs_draw = draw_entities(
        ids, strata, rule, task_label=TASK, seed=SEED, scheme=TicketScheme.CONSISTENT_SAMPLER
    )
    same = rivest() == [
        [p.id for p in cs_draw.selected + cs_draw.alternates if p.stratum == label]
        for label in LABELS
    ]

    bare, ssj, cs_mode = main_times["bare"], main_times["draw"], main_times["draw_cs"]
    make, verify = bundle_times["make"], bundle_times["verify"]
    drawn = sum(s.sample for s in draw.strata)
    rows = [
        ("bare hashlib SHA-256 loop", bare, 1.0, ""),
        ("draw_entities, ssj-draw-1", ssj, ssj / bare, "budget <= 1.50x bare"),
        ("draw_entities, consistent_sampler mode", cs_mode, cs_mode / bare, ""),
        ("consistent_sampler.sampler, same take", rivest_time, rivest_time / bare, ""),
        ("make: draw_entities + make_bundle", make, make / bare, ""),
        ("verify_bundle (JSON-loaded bundle)", verify, verify / bare, ""),
    ]  # fmt: skip
    print(
        f"SSJ-DRAW-1 draw: {size:,} candidates, 4 strata, ratio 0.05, "
        f"{drawn:,} selected + {len(draw.alternates)} alternates (best of {repeats})"
    )
    print(f"  {'step':42s} {'time':>10s} {'x bare':>8s}")
    for name, seconds, ratio, note in rows:
        print(f"  {name:42s} {seconds * 1e3:8.0f} ms {ratio:7.2f}x  {note}")
    checks = [
        ("selection / bare SHA-256 loop", ssj / bare, "<=", 1.5),
        ("consistent_sampler / selection", rivest_time / ssj, ">=", 5.0),
        ("verify / make", verify / make, "<=", 1.2),
    ]
    print(f"  verify / draw_entities alone: {verify / ssj:.2f}x (for information)")
    print(f"  consistent_sampler mode reproduces the package: {'yes' if same else 'NO'}")
    failed = not same
    for name, value, op, limit in checks:
        good = value <= limit if op == "<=" else value >= limit
        failed |= not good
        print(f"budget: {name} {op} {limit:.1f}x: {'within' if good else 'OVER'} ({value:.2f}x)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
