"""Plots for design results (the optional ``plot`` extra: matplotlib, imported lazily).

Each function draws on ``ax`` (a new figure when ``None``) and returns the axes, so a
notebook can restyle or save them.

**Chinese labels.** Titles, axis labels, legends and tick labels are set in the first font of
:data:`CJK_FONTS` that matplotlib knows (Noto Sans CJK SC first: Debian's and Ubuntu's
``fonts-noto-cjk``), with DejaVu Sans (matplotlib's own) as the per-glyph fallback. The font is
set on the texts of the plot itself, so the global ``rcParams`` are left alone. When none of
the fonts is installed, the labels are written in English instead, quietly: a missing font
never makes a plot warn about missing glyphs (stratum labels in Chinese still need a CJK font).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from shuangsuiji.design._sizes import detection_probability, size_for_detection, z_value
from shuangsuiji.design._strata import FloatArray, IntArray, Strata

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CJK_FONTS",
    "cjk_font",
    "plot_allocation",
    "plot_coverage",
    "plot_power",
    "power_range",
]

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
)
"""Fonts for Chinese labels, in order of preference (the first one installed is used)."""

_FALLBACK = "DejaVu Sans"

_LABELS = {  # key: (Chinese, English)
    "ratio": ("抽查比例 n/N", "sampling ratio n/N"),
    "lower": ("下限", "lower bound"),
    "upper": ("上限", "upper bound"),
    "allocation": ("{method}分配：{total:,} 户", "{method} allocation: {total:,} inspections"),
    "year": ("年", "year"),
    "covered": ("至少检查过一次的比例", "share inspected at least once"),
    "all": ("全部", "all"),
    "coverage": (
        "覆盖率（{method}），排除期 {window} 年",
        "coverage ({method}), exclusion window {window} year(s)",
    ),
    "power_x": ("抽查比例（对数坐标）", "sampling ratio (log scale)"),
    "power_y": ("发现至少一户违法者的概率", "P(at least one violator found)"),
    "rate": ("违法率 {rate:.1%}", "rate {rate:.1%}"),
    "margin": ("±误差（p = 0.5）", "±margin (p = 0.5)"),
    "margin_y": ("95% 置信度的误差（p = 0.5）", "95% margin at p = 0.5"),
    "power": ("检验力，N = {population:,}", "detection power, N = {population:,}"),
}
_METHODS = {  # the Chinese names of allocation and coverage methods
    "proportional": "按比例",
    "neyman": "Neyman ",
    "optimal": "成本最优",
    "risk": "按风险分类",
    "exact": "精确",
    "monte carlo": "蒙特卡洛",
}


def cjk_font() -> str | None:
    """The first of :data:`CJK_FONTS` that matplotlib knows, or ``None`` (needs matplotlib).

    Fonts installed after matplotlib built its font cache appear once the cache is rebuilt
    (``matplotlib.font_manager.fontManager = matplotlib.font_manager.FontManager()``).
    """
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in known), None)


class _Style:
    """The labels and font of one plot: Chinese in a CJK font, or English without one."""

    def __init__(self) -> None:
        font = cjk_font()
        self.chinese = font is not None
        self.family = [font, _FALLBACK] if font is not None else [_FALLBACK]

    def text(self, key: str, **values: object) -> str:
        zh, en = _LABELS[key]
        return (zh if self.chinese else en).format(**values)

    def method(self, name: str) -> str:
        return _METHODS.get(name, name) if self.chinese else name

    def finish(self, *axes: Axes, title: str, legend: Axes | None = None, **legend_kw: Any) -> None:
        """Set the font on every text of ``axes`` and draw the legend on ``legend``."""
        for ax in axes:
            ax.tick_params(labelfontfamily=self.family)
            for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
                text.set_fontfamily(self.family)
        axes[0].set_title(title, fontfamily=self.family)
        if legend is not None:
            handles, labels = [], []
            for ax in axes:
                h, lab = ax.get_legend_handles_labels()
                handles += h
                labels += lab
            prop = {"family": self.family, "size": "small"}
            legend.legend(handles, labels, prop=prop, **legend_kw)


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
    def lower(self) -> IntArray: ...
    @property
    def upper(self) -> IntArray: ...
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
    """Bars: the sampling ratio ``n_h / N_h`` per stratum; ticks: the lower and upper bounds."""
    ax = _axes(ax)
    style = _Style()
    s = allocation.strata
    x = np.arange(len(s))
    sizes = np.maximum(s.sizes, 1)
    ax.bar(x, allocation.ratios, color="#4477aa", label=style.text("ratio"))
    ax.scatter(
        x, allocation.lower / sizes, marker="_", s=200, color="#cc6677", label=style.text("lower")
    )
    capped = allocation.upper < s.sizes
    if capped.any():
        ax.scatter(
            x[capped],
            (allocation.upper / sizes)[capped],
            marker="_",
            s=200,
            color="#117733",
            label=style.text("upper"),
        )
    ax.set_xticks(x, s.labels, rotation=90 if len(s) > 8 else 0)
    ax.set_ylabel(style.text("ratio"))
    title = style.text("allocation", method=style.method(allocation.method), total=allocation.total)
    style.finish(ax, title=title, legend=ax)
    return ax


def plot_coverage(coverage: Covered, ax: Axes | None = None, max_lines: int = 12) -> Axes:
    """Expected share inspected at least once, by year: per stratum (the ``max_lines``
    largest) and overall."""
    ax = _axes(ax)
    style = _Style()
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
        label=style.text("all"),
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(style.text("year"))
    ax.set_ylabel(style.text("covered"))
    title = style.text("coverage", method=style.method(coverage.method), window=coverage.window)
    style.finish(ax, title=title, legend=ax, ncol=2)
    return ax


def power_range(population: int, rates: Sequence[float], max_ratio: float | None = None) -> int:
    """The largest sample :func:`plot_power` shows: ``max_ratio · N`` when given, else 1.5 times
    what finds a violator with probability 0.999 at the lowest rate (at most ``N``), so every
    curve rises within the plot whatever the population.

    >>> power_range(50_000, [0.01, 0.1]), power_range(200, [0.01])
    (1025, 200)
    """
    if max_ratio is not None:
        return max(1, min(population, int(max_ratio * population)))
    needed = size_for_detection(population, rate=min(rates), probability=0.999)
    return max(1, min(population, int(np.ceil(1.5 * needed))))


def plot_power(
    population: int,
    rates: Sequence[float] = (0.01, 0.02, 0.05, 0.1),
    *,
    max_ratio: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Power curves: P(find at least one violator) against the sampling ratio, per violation
    rate (hypergeometric, exact); the right axis shows the ±margin a ratio buys at p = 0.5.

    The ratio axis is logarithmic from one entity (``1/N``) to :func:`power_range`, so the
    curves rise inside the plot for N = 200 as for N = 50,000 (a linear axis to 30% shows
    them saturated below 1% for a large population).
    """
    from matplotlib.ticker import FuncFormatter

    ax = _axes(ax)
    style = _Style()
    top = power_range(population, rates, max_ratio)
    n = np.unique(np.rint(np.geomspace(1, top, 400)).astype(np.int64))
    x = n / population
    for rate in rates:
        violators = max(1, int(np.ceil(rate * population - 1e-9)))
        power = detection_probability(n, population, violators)
        ax.plot(x, power, label=style.text("rate", rate=rate))
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:g}%"))
    ax.set_xlabel(style.text("power_x"))
    ax.set_ylabel(style.text("power_y"))
    ax.set_ylim(0, 1.02)
    margin_ax = ax.twinx()
    fpc = (population - n) / max(population - 1, 1)
    margin = z_value(0.95) * np.sqrt(fpc * 0.25 / n)
    margin_ax.plot(
        x, margin, color="black", linestyle="--", linewidth=1, label=style.text("margin")
    )
    margin_ax.set_ylabel(style.text("margin_y"))
    margin_ax.set_ylim(0, 0.5)
    title = style.text("power", population=population)
    style.finish(ax, margin_ax, title=title, legend=ax, loc="center right")
    return ax
