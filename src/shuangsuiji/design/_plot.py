"""Plots for design results (the optional ``plot`` extra: matplotlib, imported lazily).

Each function draws on ``ax`` (a new figure when ``None``) and returns the axes, so a
notebook can restyle or save them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from shuangsuiji.design._sizes import detection_probability, z_value
from shuangsuiji.design._strata import FloatArray, IntArray, Strata

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_allocation", "plot_coverage", "plot_power"]


# What the plots read of an Allocation and a Coverage. They are protocols, not imports, because
# Allocation.plot() and Coverage.plot() call into this module: the results know their plots,
# and the plots need not know where the results are made.
class Allocated(Protocol):
    """The part of an :class:`~shuangsuiji.design.Allocation` that :func:`plot_allocation` reads."""

    @property
    def strata(self) -> Strata: ...
    @property
    def ratios(self) -> FloatArray: ...
    @property
    def floors(self) -> IntArray: ...
    @property
    def caps(self) -> IntArray: ...
    @property
    def method(self) -> str: ...
    @property
    def total(self) -> int: ...


class Covered(Protocol):
    """The part of a :class:`~shuangsuiji.design.Coverage` that :func:`plot_coverage` reads."""

    @property
    def strata(self) -> Strata: ...
    @property
    def years(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def covered(self) -> FloatArray: ...
    @property
    def overall_covered(self) -> FloatArray: ...
    @property
    def method(self) -> str: ...


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'shuangsuiji[plot]'") from exc
    _, new = plt.subplots(figsize=(8, 4.5), layout="constrained")
    return new


def plot_allocation(allocation: Allocated, ax: Axes | None = None) -> Axes:
    """Bars: the sampling ratio ``n_h / N_h`` per stratum; ticks: floors and caps."""
    ax = _axes(ax)
    s = allocation.strata
    x = np.arange(len(s))
    sizes = np.maximum(s.sizes, 1)
    ax.bar(x, allocation.ratios, color="#4477aa", label="ratio n/N")
    ax.scatter(x, allocation.floors / sizes, marker="_", s=200, color="#cc6677", label="floor")
    capped = allocation.caps < s.sizes
    if capped.any():
        ax.scatter(
            x[capped],
            (allocation.caps / sizes)[capped],
            marker="_",
            s=200,
            color="#117733",
            label="cap",
        )
    ax.set_xticks(x, s.labels, rotation=90 if len(s) > 8 else 0)
    ax.set_ylabel("sampling ratio")
    ax.set_title(f"{allocation.method} allocation: {allocation.total} inspections")
    ax.legend()
    return ax


def plot_coverage(coverage: Covered, ax: Axes | None = None, max_lines: int = 12) -> Axes:
    """Expected share inspected at least once, by year: per stratum and overall."""
    ax = _axes(ax)
    years = np.arange(0, coverage.years + 1)
    order = np.argsort(-coverage.strata.sizes)[:max_lines]
    for h in order.tolist():
        curve = np.concatenate(([0.0], coverage.covered[h]))
        ax.plot(years, curve, marker=".", alpha=0.7, label=coverage.strata.labels[h])
    ax.plot(
        years,
        np.concatenate(([0.0], coverage.overall_covered)),
        color="black",
        linewidth=2.5,
        label="all",
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("year")
    ax.set_ylabel("share inspected at least once")
    ax.set_title(f"coverage ({coverage.method}), exclusion window {coverage.window} year(s)")
    ax.legend(fontsize="small", ncol=2)
    return ax


def plot_power(
    population: int,
    rates: Sequence[float] = (0.01, 0.02, 0.05, 0.1),
    *,
    max_ratio: float = 0.3,
    ax: Axes | None = None,
) -> Axes:
    """Power curves: P(find at least one violator) against the sampling ratio, per violation
    rate (hypergeometric, exact); the right axis shows the ±margin a ratio buys at p = 0.5."""
    ax = _axes(ax)
    n = np.arange(0, int(max_ratio * population) + 1)
    x = n / population
    for rate in rates:
        violators = max(1, int(np.ceil(rate * population - 1e-9)))
        ax.plot(x, detection_probability(n, population, violators), label=f"rate {rate:.0%}")
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("sampling ratio")
    ax.set_ylabel("P(at least one violator found)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"detection power, N = {population:,}")
    margin_ax = ax.twinx()
    k = np.maximum(n, 1)
    fpc = (population - k) / max(population - 1, 1)
    m = z_value(0.95) * np.sqrt(fpc * 0.25 / k)
    margin_ax.plot(x, m, color="black", linestyle="--", linewidth=1, label="±margin (p = 0.5)")
    margin_ax.set_ylabel("95% margin at p = 0.5")
    margin_ax.set_ylim(0, min(0.5, float(m[1:].max()) if len(m) > 1 else 0.5))
    lines = [
        line
        for line in (*ax.get_lines(), *margin_ax.get_lines())
        if not str(line.get_label()).startswith("_")
    ]
    labels = [str(line.get_label()) for line in lines]
    ax.legend(lines, labels, fontsize="small", loc="center right")
    return ax
