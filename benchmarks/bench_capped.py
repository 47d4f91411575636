"""The capped law (SSJ-ASSIGN-CAP-1): its cost against the uniform draw and one SciPy max flow.

For each size, on one synthetic city (teams of 2, one department, the city's conflicts, a
workload cap), measured in the same run:

- ``uniform``: ``assign_teams`` (SSJ-ASSIGN-2), the draw an agency makes without a cap;
- ``state``: the SSJ-PAIRS-1 statement that ``on_pair_cap = "state"`` computes at the freeze
  (exact or 2,000 Monte Carlo replays);
- ``law``: what ``"enforce"`` computes at the freeze instead (the level ``t*`` by bisection);
- ``capped``: ``assign_teams(spec="SSJ-ASSIGN-CAP-1")``, law included: the pure-Python
  maximum flow in units and the dependent rounding;
- ``scipy``: one ``scipy.sparse.csgraph.maximum_flow`` on the same capped network (the
  baseline: what a C max flow costs on it; it is not bit-specified, so the draw cannot use it).

Every capped draw is checked (``check_teams``) and its bound printed.

    python benchmarks/bench_capped.py            # up to 2,000 entities x 300 officers
    python benchmarks/bench_capped.py --quick    # up to 900 entities x 104 officers
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from datetime import date
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

import shuangsuiji.assign.capped as C  # white-box: the network of the law
from shuangsuiji.assign import (
    ConflictTable,
    Staffing,
    TaskNeeds,
    TeamConfig,
    assign_teams,
    check_teams,
)
from shuangsuiji.assign._instance import build_instance
from shuangsuiji.assign.pairs import pair_probabilities
from shuangsuiji.synth import make_city

T = TypeVar("T")
CAP = 0.5


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def staffing(n_entities: int, n_officers: int) -> Staffing:
    city = make_city(max(100, n_entities * 4), seed=11, n_inspectors=n_officers)
    needs = TaskNeeds("BENCH-CAP", ("SCJG",), date(2026, 6, 30))
    in_dept = int(city.inspectors.in_departments(["SCJG"]).sum())
    per = max(4, -(-3 * n_entities // max(1, in_dept)))  # 1.5 places per team place
    return Staffing(
        city.entities.take(np.arange(n_entities)),
        city.inspectors,
        needs,
        TeamConfig(size=2, max_per_task=per),
        conflicts=ConflictTable.from_rows(city.conflicts),
    )


def scipy_flow(s: Staffing, law: C.CappedLaw) -> float:
    """One SciPy maximum flow on the capped network (identity numbering)."""
    canon = s.canonical()
    inst = build_instance(canon.eligibility())
    groups = C._groups(inst)
    assert not isinstance(groups, str)
    n_nodes, edges, _ = C._edges(inst, groups, law.bounds, range(inst.n_e), C.officer_columns(inst))
    u, v, cap = (np.asarray(x, dtype=np.int32) for x in zip(*edges, strict=True))
    graph = sp.csr_matrix((cap, (u, v)), shape=(n_nodes, n_nodes))
    result, seconds = timed(lambda: maximum_flow(graph, 0, n_nodes - 1))
    assert result.flow_value == inst.n_e * inst.k * C.GRID
    return seconds


def one(n_entities: int, n_officers: int) -> None:
    s = staffing(n_entities, n_officers)
    key = hashlib.sha256(f"bench-capped/{n_entities}".encode()).digest()
    pairs = int(s.eligibility().matrix.sum())
    _, uniform = timed(lambda: assign_teams(s, key))
    stated, state = timed(lambda: pair_probabilities(s, key.hex()))
    law, law_time = timed(lambda: C.law_for(s, CAP))
    if isinstance(law, list):
        print(f"{n_entities:>6} x {n_officers:<5} refused: {law[0].message}")
        return
    drawn, capped = timed(lambda: assign_teams(s, key, spec=C.CAP_ALGORITHM, pair_cap=CAP))
    assert check_teams(s, drawn) == [], "an invalid capped draw"
    flow = scipy_flow(s, law)
    top = law.maximum()
    print(
        f"{n_entities:>6} x {n_officers:<5} {pairs:>9,} pairs | uniform {uniform:7.3f} s | "
        f"state {state:6.2f} s ({stated.method}, max {stated.p.max():.3f}) | law {law_time:6.2f} s "
        f"(bound {top[1] / C.GRID if top else 0:.3f}) | capped {capped:6.2f} s | "
        f"scipy flow {flow:6.3f} s || capped/uniform {capped / uniform:8.1f}x, "
        f"capped/scipy {capped / flow:6.1f}x, enforce freeze/state freeze "
        f"{law_time / state:5.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    args = parser.parse_args()
    sizes = [(300, 60), (900, 104)] + ([] if args.quick else [(2000, 300)])
    for n_entities, n_officers in sizes:
        one(n_entities, n_officers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
