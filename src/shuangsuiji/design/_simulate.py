"""Monte Carlo with the real draw engine: coverage over the years, and a year's plan.

Every replicate runs :func:`shuangsuiji.draw.draw_entities` exactly as a real task would, with
a seed derived, not drawn: ``seed = SHA-256(b"SSJ-DESIGN-MC" || 0x00 || utf8(label) || 0x00 ||
utf8(str(replicate)) || 0x00 || utf8(part) ...)``, so a simulation replays bit for bit and
needs no random generator. Run-to-run spread gives the Monte Carlo standard errors.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from shuangsuiji.design._coverage import BASES, Coverage, size_rule
from shuangsuiji.design._strata import DesignError, IntArray, PerStratum, Strata
from shuangsuiji.design._strata import per_stratum as _per_stratum
from shuangsuiji.draw import SizeRule, draw_entities
from shuangsuiji.draw import Strata as DrawStrata
from shuangsuiji.pools import EntityPool

__all__ = ["MC_DOMAIN", "replicate_seed", "simulate_coverage"]

MC_DOMAIN = b"SSJ-DESIGN-MC"
"""Domain separator of simulation seeds: they can never collide with a real draw's key."""


def replicate_seed(label: str, replicate: int, *parts: str) -> bytes:
    """The 32-byte seed of one simulated draw (see the module docstring).

    >>> replicate_seed("plan-2026", 0, "year-1").hex()[:16]
    '9a89dce3e9f9d987'
    """
    h = hashlib.sha256(MC_DOMAIN)
    for part in (label, str(replicate), *parts):
        h.update(b"\x00" + part.encode("utf-8"))
    return h.digest()


def _rows_of(
    sorted_ids: npt.NDArray[np.bytes_], order: IntArray, ids: npt.NDArray[np.bytes_]
) -> IntArray:
    return order[np.searchsorted(sorted_ids, ids)]


def simulate_coverage(
    pool: EntityPool,
    strata: Strata,
    ratio: PerStratum,
    *,
    years: int,
    window: int = 1,
    base: str = "eligible",
    minimum: PerStratum = 0,
    replicates: int = 200,
    label: str = "coverage",
) -> Coverage:
    """Coverage by simulation: ``replicates`` runs of ``years`` yearly draws from ``pool``.

    ``strata`` must come from :meth:`Strata.from_pool` on the same pool. Each year the
    entities inspected in the last ``window`` years are left out of the candidates, and every
    stratum draws with the engine's size rule (``base="stratum"``: the ratio of the whole
    stratum, capped by the candidates). Returns a :class:`Coverage` with ``method="monte
    carlo"``, the standard error of ``covered`` and ``all_covered`` (share of runs in which the
    whole stratum had been inspected by year k). Costs ``replicates × years × N`` SHA-256 calls.
    """
    if strata.codes is None or len(strata.codes) != len(pool):
        raise DesignError(
            "simulate_coverage needs strata built from this pool: Strata.from_pool(pool, ...)"
        )
    if replicates < 2:
        raise DesignError(f"replicates = {replicates}: need at least 2 for a standard error")
    if years < 1 or window < 0 or base not in BASES:
        raise DesignError(f"need years >= 1, window >= 0 and base in {list(BASES)}")
    rules = _size_rules(strata, ratio, minimum, base)
    codes = strata.codes
    h_count = len(strata)
    big_n = np.maximum(strata.sizes, 1).astype(np.float64)
    order = np.argsort(pool.ids)
    covered = np.zeros((replicates, h_count, years))
    pmf = np.zeros((h_count, years + 1))
    eligible_sum = np.zeros((h_count, years))
    sizes_sum = np.zeros((h_count, years))
    for rep in range(replicates):
        run = _replicate(pool, strata, codes, rules, order, label, rep, years, window)
        eligible_sum += run.eligible
        sizes_sum += run.sizes
        covered[rep] = run.covered
        pmf += (
            np.stack(
                [
                    np.bincount(codes, weights=run.count == c, minlength=h_count)
                    for c in range(years + 1)
                ],
                axis=1,
            )
            / big_n[:, None]
        )
    eligible = np.rint(eligible_sum / replicates).astype(np.int64)
    sizes = np.rint(sizes_sum / replicates).astype(np.int64)
    return Coverage(
        strata,
        years,
        window,
        base,
        eligible,
        sizes,
        np.divide(sizes_sum, eligible_sum, out=np.zeros_like(sizes_sum), where=eligible_sum > 0),
        pmf / replicates,
        covered.mean(axis=0),
        covered.std(axis=0, ddof=1) / np.sqrt(replicates),
        (covered >= 1 - 1e-12).mean(axis=0),
        "monte carlo",
    )


def _size_rules(
    strata: Strata, ratio: PerStratum, minimum: PerStratum, base: str
) -> dict[str, SizeRule]:
    """The engine's size rule of every stratum: the ratio of the candidates (``eligible``),
    or of the whole stratum, capped by the engine at the candidates (``stratum``)."""
    r = _per_stratum(ratio, strata, "ratio")
    low = _per_stratum(minimum, strata, "minimum").astype(np.int64)
    rules = [size_rule(r[h], low[h]) for h in range(len(strata))]
    fixed = {  # base="stratum": the size depends on N only; the engine caps it by the candidates
        strata.labels[h]: SizeRule(count=rules[h].size(int(strata.sizes[h])))
        for h in range(len(strata))
    }
    return fixed if base == "stratum" else dict(zip(strata.labels, rules, strict=True))


class _Run:
    """One replicate: per stratum and year the candidates, the sample and the share covered
    so far (``h × years``), and how often each entity was drawn."""

    def __init__(self, h_count: int, years: int, n: int) -> None:
        self.eligible = np.zeros((h_count, years))
        self.sizes = np.zeros((h_count, years))
        self.covered = np.zeros((h_count, years))
        self.count = np.zeros(n, dtype=np.int64)


def _replicate(
    pool: EntityPool,
    strata: Strata,
    codes: IntArray,
    rules: dict[str, SizeRule],
    order: IntArray,
    label: str,
    rep: int,
    years: int,
    window: int,
) -> _Run:
    """Replicate ``rep``: ``years`` yearly draws, each leaving out the entities inspected in
    the last ``window`` years."""
    h_count, n = len(strata), len(pool)
    big_n = np.maximum(strata.sizes, 1).astype(np.float64)
    sorted_ids = pool.ids[order]
    run = _Run(h_count, years, n)
    last = np.full(n, -(10**9), dtype=np.int64)
    for t in range(years):
        rows = np.flatnonzero((t - last) > window)
        draw = draw_entities(
            pool.ids[rows],
            DrawStrata(codes[rows], strata.labels),
            rules,
            task_label=f"{label}/replicate-{rep}/year-{t + 1}",
            seed=replicate_seed(label, rep, f"year-{t + 1}"),
        )
        hit = _rows_of(sorted_ids, order, draw.ranked_ids)
        last[hit] = t
        run.count[hit] += 1
        run.eligible[:, t] = np.bincount(codes[rows], minlength=h_count)
        run.sizes[:, t] = np.bincount(codes[hit], minlength=h_count)
        run.covered[:, t] = np.bincount(codes, weights=run.count > 0, minlength=h_count) / big_n
    return run
